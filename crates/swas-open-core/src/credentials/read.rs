//! Bounded reads of local files: a config file, an OIDC token, a certificate file is read only
//! if it is a regular file (checked before opening it: opening a FIFO blocks), and only up to
//! a size limit.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// Reads a file (the process's, or a test's stand-in).
pub(crate) type ReadFn = Arc<dyn Fn(&Path) -> io::Result<String> + Send + Sync>;

/// The largest config file, ini file or certificate file read.
pub(crate) const MAX_FILE: u64 = 1 << 20;
/// The largest OIDC token file read.
pub(crate) const MAX_TOKEN_FILE: u64 = 64 << 10;

/// The bytes of `path` if it is a regular file (or a link to one) of at most `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let kind = std::fs::metadata(path)?;
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if kind.len() > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`read_regular`] of a text file.
pub(crate) fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than the limit of {limit} bytes"),
    )
}

/// The process's files, bounded to [`MAX_FILE`].
pub(crate) fn process_files() -> ReadFn {
    Arc::new(|p: &Path| read_text(p, MAX_FILE))
}

/// `read` of `path`, refused past `limit` bytes (a reader given in code may read more).
pub(crate) fn read_bounded(read: &ReadFn, path: &Path, limit: u64) -> io::Result<String> {
    let text = read(path)?;
    if text.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = std::env::temp_dir().join(format!("swas-open-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("small");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_text(&file, 5).unwrap(), "hello");
        let e = read_text(&file, 4).unwrap_err();
        assert!(e.to_string().contains("limit of 4 bytes"), "{e}");
        // A directory, and a device that never ends: refused before a byte is read.
        for path in [dir.as_path(), Path::new("/dev/zero")] {
            let e = read_text(path, MAX_FILE).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
