//! The one-line-per-request log on stderr: `<METHOD> <action or -> <code or OK> <status> <ms>ms`.

use std::io::Write;
use std::time::Duration;

/// Writes the line; a closed or full stderr is ignored.
pub(crate) fn line(method: &str, action: &str, outcome: &str, status: &str, latency: Duration) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{method} {action} {outcome} {status} {}ms",
        latency.as_millis()
    );
}
