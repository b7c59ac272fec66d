//! A `tracing` subscriber that records what the SDK emits, as text.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span or event of the SDK: its name (an event's message) and fields, as text.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `"span"` or `"event"`.
    pub kind: &'static str,
    /// The span's name, or the event's message.
    pub name: String,
    /// Every field with its `Debug` text (strings quoted).
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// The `Debug` text of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find_map(|(n, v)| (n == name).then_some(v.as_str()))
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// What the SDK emits on this thread while `f` runs: every span and event whose target is
/// one of this SDK's crates, in order, and `f`'s result.
///
/// The subscriber is the process's global default, installed on first use and recording only
/// on threads inside `capture`: a scoped default (`tracing::subscriber::with_default`) loses
/// events when other tests of the same process register the same callsites at the same time.
/// A call is captured in full when it runs on the calling thread, as the blocking client's
/// does and as an async call does under `block_on`.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Entry>) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Recorder::default())
            .expect("no other global subscriber in a test process");
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let result = f();
    let entries = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (result, entries)
}

thread_local! {
    /// The entries of the `capture` running on this thread, if any.
    static CAPTURED: RefCell<Option<Vec<Entry>>> = const { RefCell::new(None) };
}

/// Hands every span and event of this SDK's crates to the capture of the thread it happens on.
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
}

impl Recorder {
    fn push(&self, entry: Entry) {
        CAPTURED.with(|c| {
            if let Some(entries) = c.borrow_mut().as_mut() {
                entries.push(entry);
            }
        });
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("swas_open")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        self.push(Entry {
            kind: "span",
            name: span.metadata().name().to_owned(),
            fields,
        });
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = Vec::new();
        values.record(&mut Fields(&mut fields));
        self.push(Entry {
            kind: "record",
            name: String::new(),
            fields,
        });
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let name = fields
            .iter()
            .find(|(n, _)| n == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.push(Entry {
            kind: "event",
            name,
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
