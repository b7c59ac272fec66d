//! Images listed in a file (see
//! [`EmulatorBuilder::images_from`](crate::EmulatorBuilder::images_from)), read with bounds:
//! a regular file only, a size limit, a line limit, and errors naming the line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use swas_open_core::{ImageId, RegionId};

/// The largest images file read.
const MAX_FILE_BYTES: u64 = 64 << 20;
/// The longest line accepted, its newline excluded.
const MAX_LINE_BYTES: usize = 1024;

/// One image: region, image id, shared.
pub(crate) type ImageSpec = (String, String, bool);

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("images file {}: {what}", path.display()),
    )
}

/// Parses `REGION:IMAGE_ID` or `REGION:IMAGE_ID:shared`; the message never repeats the
/// line (which may be long), only what is wrong with it.
pub(crate) fn parse_line(line: &str) -> Result<ImageSpec, String> {
    const FORM: &str = "expected REGION:IMAGE_ID or REGION:IMAGE_ID:shared";
    let mut parts = line.split(':');
    let (Some(region), Some(image)) = (parts.next(), parts.next()) else {
        return Err(FORM.to_owned());
    };
    let shared = match (parts.next(), parts.next()) {
        (None, _) => false,
        (Some("shared"), None) => true,
        _ => return Err(FORM.to_owned()),
    };
    RegionId::new(region).map_err(|e| e.to_string())?;
    ImageId::new(image).map_err(|e| e.to_string())?;
    Ok((region.to_owned(), image.to_owned(), shared))
}

/// Reads every image of the file at `path`.
pub(crate) fn read(path: &Path) -> io::Result<Vec<ImageSpec>> {
    // Checked before opening: opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(|e| invalid(path, e))?;
    if !meta.is_file() {
        return Err(invalid(path, "not a regular file"));
    }
    let file = File::open(path).map_err(|e| invalid(path, e))?;
    if file.metadata().map_err(|e| invalid(path, e))?.len() > MAX_FILE_BYTES {
        return Err(invalid(path, format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    parse(BufReader::new(file.take(MAX_FILE_BYTES + 1)), path)
}

fn parse(mut reader: impl BufRead, path: &Path) -> io::Result<Vec<ImageSpec>> {
    let mut images = Vec::new();
    let mut line = Vec::new();
    let mut total: u64 = 0;
    for number in 1u64.. {
        line.clear();
        // One byte past the limit tells a long line from a full one.
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|e| invalid(path, e))?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if total > MAX_FILE_BYTES {
            return Err(invalid(path, format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let at = |what: &dyn std::fmt::Display| invalid(path, format!("line {number}: {what}"));
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.len() > MAX_LINE_BYTES || (!line.ends_with(b"\n") && read > MAX_LINE_BYTES) {
            return Err(at(&format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(content).map_err(|_| at(&"not UTF-8"))?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        images.push(parse_line(text).map_err(|e| at(&e))?);
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> io::Result<Vec<ImageSpec>> {
        parse(s.as_bytes(), Path::new("images.txt"))
    }

    #[test]
    fn lines() {
        let images = parse_str(
            "# fixtures\ncn-hangzhou:m-1\r\n\n  cn-beijing:m-2:shared  \ncn-hangzhou:m-3",
        )
        .unwrap();
        assert_eq!(
            images,
            vec![
                ("cn-hangzhou".into(), "m-1".into(), false),
                ("cn-beijing".into(), "m-2".into(), true),
                ("cn-hangzhou".into(), "m-3".into(), false),
            ]
        );
        assert!(parse_str("").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line) in [
            ("cn-hangzhou:m-1\ncn-hangzhou\n", 2),
            ("cn-hangzhou:m-1:public", 1),
            ("\n\nCN:m-1", 3),
            ("r:m 1", 1),
            ("r:m:shared:x", 1),
        ] {
            let e = parse_str(text).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("images file images.txt: line {line}: ")),
                "{shown}"
            );
        }
        let long = format!("cn-hangzhou:{}\n", "m".repeat(5000));
        let shown = parse_str(&long).unwrap_err().to_string();
        assert!(shown.contains("line 1: longer than 1024 bytes"), "{shown}");
        assert!(!shown.contains("mmmm"), "{shown}");
        let e = parse(&b"cn-hangzhou:m-\xff\n"[..], Path::new("f")).unwrap_err();
        assert!(e.to_string().contains("line 1: not UTF-8"), "{e}");
    }

    #[test]
    fn only_regular_files() {
        let dir = std::env::temp_dir();
        let e = read(&dir).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let missing = dir.join("swas-emulator-no-such-images-file");
        assert_eq!(
            read(&missing).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        #[cfg(unix)]
        {
            let e = read(Path::new("/dev/zero")).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
}
