//! What a call records with `tracing`: one span, one event per attempt, no secret.

mod common;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use swas_open_emulator::Fault;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span or event of this crate: its name (or message) and fields, as text.
#[derive(Debug, Clone)]
struct Entry {
    kind: &'static str,
    name: String,
    fields: Vec<(String, String)>,
}

impl Entry {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// Records everything the SDK emits.
#[derive(Clone, Default)]
struct Recorder {
    entries: Arc<Mutex<Vec<Entry>>>,
    next_id: Arc<AtomicU64>,
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("swas_open")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        self.entries.lock().unwrap().push(Entry {
            kind: "span",
            name: span.metadata().name().to_owned(),
            fields,
        });
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let name = fields
            .iter()
            .find(|(n, _)| n == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.entries.lock().unwrap().push(Entry {
            kind: "event",
            name,
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn one_span_per_call_and_one_event_per_attempt() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let emu = emulator(&["m-1"]).await;
    let client = builder(&emu)
        .credentials(temporary_credentials())
        .build()
        .unwrap();

    emu.inject(Fault::error(503, "ServiceUnavailable").times(2));
    let out = delete(&client, "m-1").await.unwrap();
    delete(&client, "m-absent").await.unwrap_err();

    let entries = recorder.entries.lock().unwrap().clone();
    let spans: Vec<_> = entries.iter().filter(|e| e.kind == "span").collect();
    assert_eq!(spans.len(), 2, "{entries:#?}");
    assert!(spans.iter().all(|s| s.name == "delete_custom_image"));
    assert_eq!(spans[0].field("cloud.region"), Some("\"cn-hangzhou\""));
    assert_eq!(spans[0].field("swas.image_id"), Some("\"m-1\""));
    assert_eq!(spans[0].field("rpc.system"), Some("\"alibaba_cloud\""));
    assert_eq!(spans[0].field("rpc.method"), Some("\"DeleteCustomImage\""));
    assert_eq!(spans[0].field("server.address"), Some("\"127.0.0.1\""));

    let attempts: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "event" && e.name == "attempt finished")
        .collect();
    assert_eq!(attempts.len(), 4, "{entries:#?}");
    let outcomes: Vec<_> = attempts.iter().map(|e| e.field("outcome")).collect();
    assert_eq!(
        outcomes,
        [
            Some("\"retry\""),
            Some("\"retry\""),
            Some("\"done\""),
            Some("\"fail\"")
        ]
    );
    assert_eq!(attempts[0].field("http.response.status_code"), Some("503"));
    assert_eq!(
        attempts[0].field("error.type"),
        Some("\"ServiceUnavailable\"")
    );
    assert!(
        attempts[0].field("retry.delay_ms").is_some(),
        "{entries:#?}"
    );
    assert_eq!(
        attempts[2].field("alibaba_cloud.request_id"),
        Some(format!("{:?}", out.request_id).as_str())
    );
    assert_eq!(
        attempts[3].field("error.type"),
        Some("\"InvalidImageId.NotFound\"")
    );

    let everything = format!("{entries:?}");
    for secret in [STS_SECRET, STS_TOKEN] {
        assert!(!everything.contains(secret), "{secret} recorded");
    }
}
