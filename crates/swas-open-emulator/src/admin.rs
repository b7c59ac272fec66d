//! The admin routes under `/__emulator/`: inspection and fault injection over HTTP, for tools
//! that drive the emulator from outside the process. See the crate docs for the routes.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::fault::Fault;
use crate::state::Shared;

/// The path prefix of the admin routes.
pub(crate) const PREFIX: &str = "/__emulator/";

pub(crate) fn is_admin(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// Answers an admin request whose body (if any) was read within the size limit; `None` for a
/// body over the limit.
pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: Option<&[u8]>,
) -> Response<Full<Bytes>> {
    let Some(body) = body else {
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": "request too large"}),
        );
    };
    let route = path
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .trim_end_matches('/');
    match (method, route) {
        (&Method::GET, "state") => reply(StatusCode::OK, &state(shared)),
        (&Method::POST, "faults") => match parse_faults(body) {
            Ok(faults) => {
                let queued = faults.len();
                faults.into_iter().for_each(|f| shared.inject(f));
                let pending = shared.pending_faults();
                reply(
                    StatusCode::OK,
                    &json!({"queued": queued, "pending_faults": pending}),
                )
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, &json!({ "error": e })),
        },
        (&Method::DELETE, "faults") => {
            let cleared = shared.clear_faults();
            reply(StatusCode::OK, &json!({ "cleared": cleared }))
        }
        (&Method::POST, "images") => match parse_image(body) {
            Ok((region, image, is_shared)) => {
                shared.add_image(&region, &image, is_shared);
                reply(
                    StatusCode::OK,
                    &json!({"region": region, "image_id": image, "shared": is_shared}),
                )
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, &json!({ "error": e })),
        },
        (_, "state" | "faults" | "images") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "method not allowed"}),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown admin route"}),
        ),
    }
}

fn reply(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn state(shared: &Shared) -> Value {
    let images: serde_json::Map<String, Value> = shared
        .all_images()
        .into_iter()
        .map(|(region, images)| {
            let list = images
                .into_iter()
                .map(|(id, is_shared)| json!({"image_id": id, "shared": is_shared}))
                .collect();
            (region, Value::Array(list))
        })
        .collect();
    let stats = shared.stats();
    json!({
        "images": images,
        "stats": {
            "requests": stats.requests,
            "connections": stats.connections,
            "deletes": stats.deletes,
        },
        "pending_faults": shared.pending_faults(),
    })
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))
}

/// One fault object, or an array of them.
fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    match parse_json(body)? {
        Value::Array(items) => items.iter().map(parse_fault).collect(),
        item => parse_fault(&item).map(|f| vec![f]),
    }
}

fn parse_fault(v: &Value) -> Result<Fault, String> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("a fault needs a string \"kind\"")?;
    let uint = |name: &str| -> Result<Option<u64>, String> {
        match v.get(name) {
            None => Ok(None),
            Some(n) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("\"{name}\" must be a non-negative integer")),
        }
    };
    let status = |default: Option<u16>| -> Result<u16, String> {
        match uint("status")? {
            Some(s) => u16::try_from(s)
                .ok()
                .filter(|s| (200..=599).contains(s))
                .ok_or_else(|| "\"status\" must be in 200..=599".to_owned()),
            None => default.ok_or_else(|| "\"status\" is required".to_owned()),
        }
    };
    let fault = match kind {
        "error" => {
            let code = v
                .get("code")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .ok_or("an error fault needs a string \"code\"")?;
            Fault::error(status(None)?, code)
        }
        "throttling" => Fault::throttling(uint("retry_after_ms")?.unwrap_or(1000)),
        "delay" => Fault::delay(Duration::from_millis(
            uint("ms")?.ok_or("a delay fault needs \"ms\"")?,
        )),
        "drop_after_commit" => Fault::drop_after_commit(),
        "html" => Fault::html(status(Some(502))?),
        "truncated" => Fault::truncated(),
        other => return Err(format!("unknown fault kind {other:?}")),
    };
    let times = uint("times")?.unwrap_or(1);
    Ok(fault.times(usize::try_from(times).unwrap_or(usize::MAX)))
}

fn parse_image(body: &[u8]) -> Result<(String, String, bool), String> {
    let v = parse_json(body)?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("\"{name}\" must be a non-empty string"))
    };
    let is_shared = match v.get("shared") {
        None => false,
        Some(b) => b.as_bool().ok_or("\"shared\" must be a boolean")?,
    };
    Ok((field("region")?, field("image_id")?, is_shared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;

    #[test]
    fn fault_bodies() {
        let f =
            parse_faults(br#"{"kind":"error","status":503,"code":"ServiceUnavailable","times":2}"#)
                .unwrap();
        assert_eq!(f, vec![Fault::error(503, "ServiceUnavailable").times(2)]);
        let f = parse_faults(br#"[{"kind":"throttling","retry_after_ms":250},{"kind":"delay","ms":5},{"kind":"drop_after_commit"},{"kind":"html"},{"kind":"truncated"}]"#).unwrap();
        assert_eq!(
            f[0].kind(),
            &FaultKind::Throttling {
                retry_after_ms: 250
            }
        );
        assert_eq!(f[1].kind(), &FaultKind::Delay(Duration::from_millis(5)));
        assert_eq!(f[3].kind(), &FaultKind::Html { status: 502 });
        for bad in [
            &b"nope"[..],
            br#"{"kind":"error","status":503}"#,
            br#"{"kind":"error","status":99,"code":"X"}"#,
            br#"{"kind":"delay"}"#,
            br#"{"kind":"teleport"}"#,
            br#"{"kind":"truncated","times":-1}"#,
        ] {
            assert!(
                parse_faults(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn image_bodies() {
        assert_eq!(
            parse_image(br#"{"region":"r","image_id":"m","shared":true}"#).unwrap(),
            ("r".to_owned(), "m".to_owned(), true)
        );
        assert!(parse_image(br#"{"region":"r"}"#).is_err());
    }
}
