//! Hostile answers over real sockets: what a server says about time is bounded, and no
//! secret it echoes is printed. The exact time rules are tested in virtual time in the
//! core's `call` tests; these check that both clients keep them on a socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::{ClientBuilder, ErrorCode, RetryPolicy, Timestamp};

use crate::{
    builder_for, capture, input, temporary_credentials, Driver, Loopback, STS_SECRET, STS_TOKEN,
};

/// The scenarios of this module.
pub(crate) fn list<D: Driver>() -> Vec<crate::Scenario<D>> {
    crate::scenario_list![
        a_retry_hint_past_the_cap_ends_the_call,
        an_absurd_date_never_bricks_the_client,
        echoed_secrets_are_absent_from_every_output,
    ]
}

/// What a [`hostile`] server answers a request: given the request head (request line and
/// headers), the full HTTP answer.
type Answer = dyn Fn(&str) -> String + Send + Sync;

/// A loopback server that answers each request as `answer` says, one request per
/// connection. Asked for a `CONNECT` tunnel (as a proxy), it opens one and answers the
/// request inside it.
fn hostile(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> Loopback {
    let answer: Arc<Answer> = Arc::new(answer);
    Loopback::start(move |mut stream: TcpStream| {
        while let Some(head) = read_head(&mut stream) {
            if head.starts_with("CONNECT ") {
                let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                continue;
            }
            let _ = stream.write_all(answer(&head).as_bytes());
            let _ = stream.flush();
            return;
        }
    })
}

/// One request head, or `None` when the client closed first.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    // A byte at a time: nothing past the head is taken from the stream (a tunnel's TLS, if
    // any, starts right after it).
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// An answer of `status` with `headers` and a JSON `body`, closing the connection.
fn answer(status: &str, headers: &[String], body: &str) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

/// A throttling answer asking for an hour (and for `u64::MAX` ms) ends the call at once,
/// with the throttling error saying why, instead of putting the client to sleep.
fn a_retry_hint_past_the_cap_ends_the_call<D: Driver>(d: &D) {
    for hint in ["3600000", "18446744073709551615"] {
        let requests = Arc::new(Mutex::new(0u32));
        let seen = requests.clone();
        let server = hostile(move |_| {
            *seen.lock().expect("count lock") += 1;
            answer(
                "400 Bad Request",
                &[format!("x-acs-retry-after: {hint}")],
                r#"{"Code":"Throttling.User","Message":"slow down"}"#,
            )
        });
        let client: D::Client = builder_for(&server.url())
            .retry_policy(RetryPolicy::new(5))
            .build()
            .expect("client builds");
        // socket: the transport must not sleep the hint; the cap itself is a virtual-time
        // test of the call machine.
        let started = Instant::now();
        let e = d
            .delete(&client, &input("m-1"))
            .expect_err("throttled throughout");
        // socket: the default policy's cap is 20 s; the call must not wait at all,
        // and this bound is wide enough never to flake.
        assert!(started.elapsed() < Duration::from_secs(10), "{hint}");
        assert_eq!(e.code(), Some(&ErrorCode::ThrottlingUser));
        assert_eq!(e.attempts(), 1);
        assert_eq!(*requests.lock().expect("count lock"), 1);
        assert!(
            e.to_string()
                .contains("no retry: the service asked to wait"),
            "{e}"
        );
    }
}

/// One refusal dated `Fri, 31 Dec 9999` leaves the client signing with its own clock: no
/// later request is signed in year 9999, and a later refusal with a sane `Date` still
/// corrects the clock.
fn an_absurd_date_never_bricks_the_client<D: Driver>(d: &D) {
    let stamps = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = stamps.clone();
    // Requests 1 and 3 are refused (dated 9999, then 10 minutes ahead); the others succeed.
    let server = hostile(move |head| {
        let mut stamps = seen.lock().expect("stamps lock");
        stamps.push(timestamp_of(head));
        let refused = |date: String| {
            answer(
                "400 Bad Request",
                &[format!("Date: {date}")],
                r#"{"Code":"InvalidTimeStamp.Expired","Message":"expired"}"#,
            )
        };
        match stamps.len() {
            1 => refused("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
            3 => refused(httpdate::fmt_http_date(
                SystemTime::now() + Duration::from_secs(600),
            )),
            n => answer("200 OK", &[], &format!(r#"{{"RequestId":"R{n}"}}"#)),
        }
    });
    let client: D::Client = ClientBuilder::default()
        .credentials(temporary_credentials())
        .endpoint(&server.url())
        .retry_policy(RetryPolicy::new(2))
        .build()
        .expect("client builds");
    let e = d
        .delete(&client, &input("m-1"))
        .expect_err("the refusal is returned");
    assert_eq!(e.code(), Some(&ErrorCode::InvalidTimeStampExpired));
    assert_eq!(d.clock_offset(&client), 0);
    d.delete(&client, &input("m-2"))
        .expect("signed with this machine's clock");
    let corrected = d.delete(&client, &input("m-3")).expect("corrected");
    assert_eq!(corrected.attempts, 2);
    // socket: the offset is a real server's Date (whole seconds) less the request's real
    // signing time, so the time the exchange took shows in it; 10 s of slack keeps it far
    // from both 0 and the year 9999. The correction rule is checked in virtual time.
    assert!((d.clock_offset(&client) - 600).abs() <= 10);
    // socket: the stamps were signed by this machine's clock moments ago; 100 s of slack.
    let now = SystemTime::now();
    let stamps = stamps.lock().expect("stamps lock");
    assert_eq!(stamps.len(), 4, "{stamps:?}");
    for stamp in stamps.iter() {
        let signed = SystemTime::from(stamp.parse::<Timestamp>().expect("a timestamp"));
        let apart = signed
            .duration_since(now)
            .or_else(|_| now.duration_since(signed))
            .unwrap_or(Duration::MAX);
        // Signed by this machine's clock, or corrected by 10 minutes: never year 9999.
        assert!(apart <= Duration::from_secs(700), "{stamp}: {stamps:?}");
    }
}

/// The `Timestamp` a request head was signed with (signature V1: in the query), decoded.
fn timestamp_of(head: &str) -> String {
    head.split_whitespace()
        .nth(1)
        .and_then(|target| {
            target
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("Timestamp="))
        })
        .map(|t| t.replace("%3A", ":"))
        .unwrap_or_default()
}

/// The proxy password of [`echoed_secrets_are_absent_from_every_output`].
const PROXY_PASSWORD: &str = "kit-proxy-pw-1618";

/// What the signer leaves unencoded: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encoding as the signer does.
fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A server (and proxy) echoing the STS secret and token and the proxy's credentials, raw,
/// percent-encoded once and twice, and as Basic, in every field of its error (and in an
/// unreadable body): none of them shows in the error's `Display` or `Debug`, or in the
/// call's spans and events.
fn echoed_secrets_are_absent_from_every_output<D: Driver>(d: &D) {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PROXY_PASSWORD}"));
    let mut forms = Vec::new();
    for secret in [STS_SECRET, STS_TOKEN, PROXY_PASSWORD, basic.as_str()] {
        forms.extend([
            secret.to_owned(),
            percent(secret),
            percent(&percent(secret)),
        ]);
    }
    let all = forms.join(" ");
    let body = serde_json::json!({
        "Code": "Forbidden.RAM", "Message": all, "RequestId": all, "HostId": all,
        "Recommend": all, "AccessDeniedDetail": {"Echo": [all], "Nested": {"Deep": all}},
    })
    .to_string();
    let service = hostile(move |_| answer("403 Forbidden", &[], &body));
    let unreadable_body = format!("<html>{all}");
    let unreadable = hostile(move |_| answer("502 Bad Gateway", &[], &unreadable_body));
    let proxy = format!("http://alice:{PROXY_PASSWORD}@{}", service.addr());
    let clients: [D::Client; 2] = [
        // Through the echoing proxy (which is the service too).
        ClientBuilder::default()
            .credentials(temporary_credentials())
            .endpoint("http://127.0.0.1:9")
            .proxy(&proxy)
            .retry_policy(RetryPolicy::new(1))
            .build()
            .expect("client builds"),
        ClientBuilder::default()
            .credentials(temporary_credentials())
            .endpoint(&unreadable.url())
            .proxy(&proxy)
            .no_proxy("127.0.0.1")
            .retry_policy(RetryPolicy::new(1))
            .build()
            .expect("client builds"),
    ];
    for (n, client) in clients.iter().enumerate() {
        let (result, entries) = capture(|| d.delete(client, &input("m-1")));
        let e = result.expect_err("refused");
        match n {
            0 => assert_eq!(e.code(), Some(&ErrorCode::ForbiddenRam), "{e:?}"),
            _ => assert!(e.outcome_unknown(), "{e:?}"),
        }
        let printed = format!("{e}\n{e:?}\n{:?}\n{entries:?}", e.kind());
        assert!(printed.contains("***"), "{printed}");
        for form in &forms {
            assert!(!printed.contains(form.as_str()), "{form} shown: {printed}");
        }
        // The span names the ClientToken: it is not a secret, and apps match it.
        let token = e.client_token().expect("a call's error has its token");
        let span = entries
            .iter()
            .find(|entry| entry.kind == "span")
            .expect("the call's span");
        assert_eq!(
            span.field("swas.client_token"),
            Some(format!("{:?}", token.as_str()).as_str())
        );
    }
}
