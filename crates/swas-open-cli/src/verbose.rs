//! `--verbose`: the client's `tracing` span and events as compact lines on stderr.
//!
//! Each call runs in a `delete_custom_image` span (region, image, server, ClientToken) and
//! ends every attempt with a `debug` event `attempt finished` (attempt number, HTTP status,
//! RequestId, error type, retry delay, outcome). The `fmt` layer prints each event on one
//! line with its span's fields; neither carries a secret, an STS token or a signature, and a
//! service message past 1,000 characters is cut there (the JSON on stderr keeps it whole).

use std::io::IsTerminal as _;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;

/// The crates whose events are shown, at `debug` and above: the core (the call), the
/// blocking client, and this binary.
const TARGETS: [&str; 3] = ["swas_open_core", "swas_open_ureq", "swas"];

/// Prints `debug` events of the swas crates on stderr, colored only on a terminal.
pub fn install() {
    // Fails only if a subscriber is already installed, which then keeps printing.
    let _ = tracing::subscriber::set_global_default(subscriber(
        std::io::stderr().is_terminal(),
        std::io::stderr,
    ));
}

/// The subscriber `install` sets: a compact `fmt` layer writing to `writer`.
fn subscriber<W>(ansi: bool, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = TARGETS.iter().fold(Targets::new(), |f, target| {
        f.with_target(*target, LevelFilter::DEBUG)
    });
    let layer = tracing_subscriber::fmt::layer()
        .compact()
        .without_time()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    tracing_subscriber::registry().with(layer).with(filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What the subscriber prints for `emit`.
    fn printed(emit: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(false, move || writer.clone());
        tracing::subscriber::with_default(subscriber, emit);
        buffer.text()
    }

    #[test]
    fn events_show_their_span_fields_without_color() {
        // This test's module is in the `swas` binary, a shown target.
        let text = printed(|| {
            let span = tracing::info_span!(
                "delete_custom_image",
                cloud.region = "cn-hangzhou",
                swas.image_id = "m-1"
            );
            let _entered = span.enter();
            tracing::debug!(
                attempt = 1,
                http.response.status_code = 503,
                error.type = "ServiceUnavailable",
                retry.delay_ms = 42,
                outcome = "retry",
                "attempt finished"
            );
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        for field in [
            "DEBUG",
            "delete_custom_image",
            "attempt finished",
            "attempt=1",
            "http.response.status_code=503",
            "error.type=\"ServiceUnavailable\"",
            "retry.delay_ms=42",
            "outcome=\"retry\"",
            "cloud.region=\"cn-hangzhou\"",
            "swas.image_id=\"m-1\"",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        assert!(!text.contains('\x1b'), "{text:?}");
    }

    #[test]
    fn trace_level_and_other_crates_are_not_shown() {
        let text = printed(|| {
            tracing::trace!("too fine");
            tracing::debug!(target: "ureq", "someone else's");
            tracing::debug!(target: "swas_open_ureq::transport", "shown");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("shown"), "{text}");
    }
}
