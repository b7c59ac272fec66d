//! Property tests of the response parser and the retry policy.

use proptest::prelude::*;
use swas_open_core::response::{
    parse_delete_custom_image, ErrorCode, ResponseError, ServiceError, MAX_RESPONSE_BODY,
};

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
        Just("Recommend"),
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

fn code() -> impl Strategy<Value = ErrorCode> {
    let known: Vec<ErrorCode> = ErrorCode::known().cloned().collect();
    prop_oneof![
        prop::sample::select(known),
        // Parsing normalises an `Other` that spells a known code.
        "[A-Za-z][A-Za-z0-9.]{0,20}".prop_map(|s| ErrorCode::parse(&s)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

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
            if let Some(id) = request_id {
                e = e.with_request_id(id);
            }
            if let Some(h) = host_id {
                e = e.with_host_id(h);
            }
            if let Some(r) = recommend {
                e = e.with_recommend(r);
            }
            e
        })
}

proptest! {
    #[test]
    fn parser_never_panics_on_bytes(status in 100u16..=599, body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_delete_custom_image(&response(status, body));
    }

    #[test]
    fn parser_never_panics_on_json_like(status in 100u16..=599, body in json_like()) {
        match parse_delete_custom_image(&response(status, body.clone())) {
            Ok(out) => prop_assert!((200..300).contains(&status) && !out.request_id.is_empty()),
            Err(ResponseError::Service(e)) => {
                prop_assert!(!(200..300).contains(&status));
                prop_assert!(!e.code.as_str().is_empty());
                let _ = e.to_string();
            }
            Err(ResponseError::Parse(e)) => {
                prop_assert!(e.snippet.chars().count() <= 128);
                prop_assert!(!e.snippet.chars().any(char::is_control));
                let _ = e.to_string();
            }
            Err(e) => prop_assert!(false, "unexpected variant {e:?}"),
        }
    }

    #[test]
    fn error_body_round_trips(e in service_error()) {
        let body = e.to_json_body();
        prop_assert!(body.len() <= MAX_RESPONSE_BODY);
        match parse_delete_custom_image(&response(e.status.as_u16(), body)) {
            Err(ResponseError::Service(back)) => {
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
