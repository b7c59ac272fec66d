//! `--verbose`: the client's `tracing` events (one per attempt) as plain lines on stderr.
//!
//! A few lines of [`Subscriber`] instead of a formatting library: the client emits a handful
//! of flat events (attempt number, status, request id, error code, outcome) and never a
//! secret, so printing each event's fields on one line is all that is needed.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Prints events up to `DEBUG` on stderr; spans are ignored.
pub fn install() {
    // Fails only if a subscriber is already installed, which then keeps printing.
    let _ = tracing::subscriber::set_global_default(StderrEvents { max: Level::DEBUG });
}

struct StderrEvents {
    max: Level,
}

impl Subscriber for StderrEvents {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Never called for a disabled span; any non-zero id will do.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let _ = writeln!(
            std::io::stderr().lock(),
            "swas: {level}: {}{}",
            line.message,
            line.fields
        );
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's message and ` name=value` fields.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn push(&mut self, field: &Field, value: &str) {
        let value = crate::exit::one_line(value);
        if field.name() == "message" {
            self.message = value;
        } else if value.is_empty() || value.contains(char::is_whitespace) {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}
