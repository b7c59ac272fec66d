//! What a call records with `tracing`: a span per call, an event per attempt, no secret.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swas_open_emulator::{Emulator, Fault};
use swas_open_ureq::{Client, Credentials, DeleteCustomImage, RetryPolicy};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const SECRET: &str = "Trace-S3cret-Value-0808";
const TOKEN: &str = "Trace-Token-Value-0909";

/// Records every span and event as a line of `name field=value ...`.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<AtomicU64>,
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = Line(format!("span {}", span.metadata().name()));
        span.record(&mut line);
        self.lines.lock().unwrap().push(line.0);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = Line("record".into());
        values.record(&mut line);
        self.lines.lock().unwrap().push(line.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("event {}", event.metadata().level()));
        event.record(&mut line);
        self.lines.lock().unwrap().push(line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn a_span_per_call_and_an_event_per_attempt() {
    let emu = Emulator::builder()
        .sts_access_key("STS.trace", SECRET, TOKEN)
        .image("cn-hangzhou", "m-1")
        .start_blocking()
        .unwrap();
    emu.inject(Fault::error(503, "ServiceUnavailable"));
    let client = Client::builder()
        .credentials(
            Credentials::new("STS.trace", SECRET)
                .unwrap()
                .with_security_token(TOKEN)
                .unwrap(),
        )
        .endpoint(&emu.url())
        .retry_policy(RetryPolicy::new(3).with_base_delay(Duration::from_millis(5)))
        .build()
        .unwrap();
    let recorder = Recorder::default();
    let out = tracing::subscriber::with_default(recorder.clone(), || {
        client.delete_custom_image(&DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap())
    })
    .unwrap();

    let lines = recorder.lines.lock().unwrap().clone();
    let text = lines.join("\n");
    let spans: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("span delete_custom_image"))
        .collect();
    assert_eq!(spans.len(), 1, "{text}");
    for field in [
        "rpc.system=\"alibaba_cloud\"",
        "rpc.service=\"swas-open\"",
        "rpc.method=\"DeleteCustomImage\"",
        "cloud.region=\"cn-hangzhou\"",
        "server.address=\"127.0.0.1\"",
        "swas.image_id=\"m-1\"",
    ] {
        assert!(spans[0].contains(field), "{field} missing: {text}");
    }
    let attempts: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("attempt finished"))
        .collect();
    assert_eq!(attempts.len(), 2, "{text}");
    assert!(attempts[0].contains("attempt=1"), "{text}");
    assert!(
        attempts[0].contains("http.response.status_code=503"),
        "{text}"
    );
    assert!(
        attempts[0].contains("error.type=\"ServiceUnavailable\""),
        "{text}"
    );
    assert!(attempts[1].contains("attempt=2"), "{text}");
    assert!(
        attempts[1].contains("http.response.status_code=200"),
        "{text}"
    );
    assert!(attempts[1].contains(&out.request_id), "{text}");
    for secret in [SECRET, TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
