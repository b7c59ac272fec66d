//! Property tests of the response parser and the retry policy.
//!
//! The parser is checked against a model written with `serde_json::Value`, whose objects
//! keep the last value of a repeated key: the documented rules (either casing, PascalCase
//! first, wrong JSON types count as absent) applied to that value must give the same answer.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use swas_open_core::{parse_delete_custom_image, AnswerError, ParseErrorKind, MAX_RESPONSE_BODY};
#[cfg(feature = "workspace-internals")]
use swas_open_core::{ErrorCode, ServiceError};

fn response(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body)
        .expect("valid status")
}

/// Bodies that look like answers, to reach deeper than random bytes.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        Just("RequestId"),
        Just("requestId"),
        Just("Code"),
        Just("code"),
        Just("Message"),
        Just("message"),
        Just("HostId"),
        Just("hostId"),
        Just("Recommend"),
        Just("recommend"),
        Just("AccessDeniedDetail"),
        Just("accessDeniedDetail"),
        Just("Other"),
    ];
    let value = prop_oneof![
        "[a-zA-Z0-9.\\- ]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[1,{\"a\":[]}]".to_owned()),
        Just("{\"k\":\"v\"}".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"esc\\u0041\\n\"".to_owned()),
    ];
    (
        prop::collection::vec((key, value), 0..6),
        any::<bool>(),
        0usize..8,
    )
        .prop_map(|(pairs, truncate, cut)| {
            let fields: Vec<String> = pairs
                .into_iter()
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect();
            let mut body = format!("{{{}}}", fields.join(",")).into_bytes();
            if truncate {
                body.truncate(body.len().saturating_sub(cut));
            }
            body
        })
}

// `ServiceError::to_json_body` is behind the feature for the emulator.
#[cfg(feature = "workspace-internals")]
fn code() -> impl Strategy<Value = ErrorCode> {
    // Known codes, retryable and not, at 4xx and 5xx statuses; the unit tests go through
    // the whole table.
    let known = vec![
        ErrorCode::Throttling,
        ErrorCode::ThrottlingUser,
        ErrorCode::SignatureNonceUsed,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalError,
        ErrorCode::InvalidImageIdNotFound,
        ErrorCode::CustomImageInShare,
        ErrorCode::ForbiddenRam,
        ErrorCode::IdempotentParameterMismatch,
    ];
    prop_oneof![
        prop::sample::select(known),
        // Parsing normalises an `Other` that spells a known code.
        "[A-Za-z][A-Za-z0-9.]{0,20}".prop_map(|s| ErrorCode::from(s.as_str())),
    ]
}

#[cfg(feature = "workspace-internals")]
fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

#[cfg(feature = "workspace-internals")]
fn service_error() -> impl Strategy<Value = ServiceError> {
    (
        400u16..=599,
        code(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(status, code, message, request_id, host_id, recommend)| {
            let status = http::StatusCode::from_u16(status).expect("valid status");
            let mut e = ServiceError::new(status, code, message);
            e.request_id = request_id;
            e.host_id = host_id;
            e.recommend = recommend;
            e
        })
}

/// What the parser answered, in a comparable form.
#[derive(Debug, PartialEq)]
enum Answer {
    Ok(String),
    Service {
        code: String,
        message: String,
        request_id: Option<String>,
        host_id: Option<String>,
        recommend: Option<String>,
        access_denied_detail: Option<Value>,
    },
    Parse(ParseErrorKind),
}

/// The documented rules, applied to the body parsed as a `serde_json::Value`.
fn model(status: u16, body: &[u8]) -> Answer {
    if body.len() > MAX_RESPONSE_BODY {
        return Answer::Parse(ParseErrorKind::TooLarge);
    }
    // A redirect is never followed, whatever its body (no `Location` here).
    if (300..400).contains(&status) {
        return Answer::Parse(ParseErrorKind::Redirect(None));
    }
    // An unreadable body that starts with gzip's magic bytes says so.
    let unreadable = |kind| {
        if body.starts_with(&[0x1f, 0x8b]) {
            Answer::Parse(ParseErrorKind::Compressed("gzip".into()))
        } else {
            Answer::Parse(kind)
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return unreadable(ParseErrorKind::EmptyBody);
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return unreadable(ParseErrorKind::NotJson);
    };
    let object = value.as_object();
    let text = |pascal: &str, camel: &str| {
        let get = |k: &str| object?.get(k)?.as_str().map(str::to_owned);
        get(pascal).or_else(|| get(camel))
    };
    if (200..300).contains(&status) {
        return match text("RequestId", "requestId") {
            Some(id) if !id.is_empty() => Answer::Ok(id),
            _ => Answer::Parse(ParseErrorKind::MissingField("RequestId")),
        };
    }
    let code = match text("Code", "code") {
        Some(code) if !code.is_empty() => code,
        _ => return Answer::Parse(ParseErrorKind::MissingField("Code")),
    };
    let detail = |k: &str| object?.get(k).filter(|v| !v.is_null()).cloned();
    Answer::Service {
        code,
        message: text("Message", "message").unwrap_or_default(),
        request_id: text("RequestId", "requestId"),
        host_id: text("HostId", "hostId"),
        recommend: text("Recommend", "recommend"),
        access_denied_detail: detail("AccessDeniedDetail").or_else(|| detail("accessDeniedDetail")),
    }
}

proptest! {
    #[test]
    fn parser_never_panics_on_bytes(status in 100u16..=599, body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_delete_custom_image(&response(status, body));
    }

    #[test]
    fn parser_never_panics_on_json_like(status in 100u16..=599, body in json_like()) {
        match parse_delete_custom_image(&response(status, body.clone())) {
            Ok(out) => {
                prop_assert!((200..300).contains(&status) && !out.is_empty());
            }
            Err(AnswerError::Service(e)) => {
                prop_assert!(!(200..300).contains(&status));
                prop_assert!(!e.code.as_str().is_empty());
                let _ = e.to_string();
            }
            Err(AnswerError::Parse(e)) => {
                prop_assert!(e.snippet.chars().count() <= 128);
                prop_assert!(!e.snippet.chars().any(char::is_control));
                let _ = e.to_string();
            }
            Err(e) => prop_assert!(false, "unexpected variant {e:?}"),
        }
    }

    #[test]
    fn parser_follows_the_model(status in 100u16..=599, body in json_like()) {
        let got = match parse_delete_custom_image(&response(status, body.clone())) {
            Ok(out) => Answer::Ok(out),
            Err(AnswerError::Service(e)) => Answer::Service {
                code: e.code.as_str().to_owned(),
                message: e.message,
                request_id: e.request_id,
                host_id: e.host_id,
                recommend: e.recommend,
                access_denied_detail: e.access_denied_detail,
            },
            Err(AnswerError::Parse(e)) => Answer::Parse(e.kind),
            Err(e) => return Err(TestCaseError::fail(format!("unexpected variant {e:?}"))),
        };
        prop_assert_eq!(got, model(status, &body), "{}", String::from_utf8_lossy(&body));
    }

    #[cfg(feature = "workspace-internals")]
    #[test]
    fn error_body_round_trips(e in service_error()) {
        let body = e.to_json_body();
        prop_assert!(body.len() <= MAX_RESPONSE_BODY);
        match parse_delete_custom_image(&response(e.status.as_u16(), body)) {
            Err(AnswerError::Service(back)) => {
                prop_assert_eq!(&back.code, &e.code);
                prop_assert_eq!(&back.message, &e.message);
                prop_assert_eq!(&back.request_id, &e.request_id);
                prop_assert_eq!(&back.host_id, &e.host_id);
                prop_assert_eq!(&back.recommend, &e.recommend);
                prop_assert_eq!(back.status, e.status);
            }
            other => prop_assert!(false, "expected a service error, got {other:?}"),
        }
    }
}
