//! Writing to the terminal without panicking when a pipe closes early.

use std::io::Write;

/// Writes `text` (and a newline unless it ends with one) to stdout and flushes it. A closed
/// stdout (e.g. `| head -1`) is not an error worth a panic: the output is dropped.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let _ = write!(out, "{text}{newline}").and_then(|()| out.flush());
}

/// One `swas: ...` line on stderr, for `--verbose` notes and warnings.
pub fn note(text: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "swas: {}",
        crate::exit::one_line(text)
    );
}
