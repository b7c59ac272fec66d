//! The admin routes under `/__emulator/`: inspection and fault injection over HTTP, for tools
//! that drive the emulator from outside the process. See the crate docs for the routes.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};

use crate::fault::{Fault, Service};
use crate::state::Shared;
use crate::Stats;

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
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request too large".to_owned(),
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
                if let Err(full) = shared.inject(faults) {
                    return error(StatusCode::TOO_MANY_REQUESTS, full.to_string());
                }
                let pending_faults = shared.pending_faults();
                reply(
                    StatusCode::OK,
                    &Queued {
                        queued,
                        pending_faults,
                    },
                )
            }
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        },
        (&Method::DELETE, "faults") => {
            let cleared = shared.clear_faults();
            reply(StatusCode::OK, &Cleared { cleared })
        }
        (&Method::POST, "images") => match parse_image(body) {
            Ok(image) => {
                shared.add_image(&image.region, &image.image_id, image.shared);
                reply(StatusCode::OK, &image)
            }
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        },
        (_, "state" | "faults" | "images") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed".to_owned(),
        ),
        _ => error(StatusCode::NOT_FOUND, "unknown admin route".to_owned()),
    }
}

fn reply(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(value).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, error: String) -> Response<Full<Bytes>> {
    reply(status, &ErrorBody { error })
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

#[derive(Serialize)]
struct Queued {
    queued: usize,
    pending_faults: usize,
}

#[derive(Serialize)]
struct Cleared {
    cleared: usize,
}

/// `GET /__emulator/state`.
#[derive(Serialize)]
struct State {
    images: BTreeMap<String, Vec<ImageEntry>>,
    stats: Stats,
    pending_faults: usize,
}

#[derive(Serialize)]
struct ImageEntry {
    image_id: String,
    shared: bool,
}

fn state(shared: &Shared) -> State {
    let images = shared
        .all_images()
        .into_iter()
        .map(|(region, images)| {
            let list = images
                .into_iter()
                .map(|(image_id, shared)| ImageEntry { image_id, shared })
                .collect();
            (region, list)
        })
        .collect();
    State {
        images,
        stats: shared.stats(),
        pending_faults: shared.pending_faults(),
    }
}

/// One fault object of `POST /__emulator/faults`.
#[derive(Deserialize)]
struct FaultBody {
    #[serde(flatten)]
    kind: KindBody,
    #[serde(default = "one")]
    times: usize,
    #[serde(default)]
    service: ServiceBody,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KindBody {
    Error {
        status: u16,
        code: String,
    },
    Throttling {
        #[serde(default = "default_retry_after")]
        retry_after_ms: u64,
    },
    Delay {
        ms: u64,
    },
    DropAfterCommit,
    Html {
        #[serde(default = "default_html_status")]
        status: u16,
    },
    Truncated,
    ExpiresIn {
        secs: u64,
    },
}

fn default_retry_after() -> u64 {
    1000
}

fn default_html_status() -> u16 {
    502
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ServiceBody {
    #[default]
    Swas,
    Sts,
    Imds,
    CredentialsUri,
}

impl From<ServiceBody> for Service {
    fn from(s: ServiceBody) -> Service {
        match s {
            ServiceBody::Swas => Service::Swas,
            ServiceBody::Sts => Service::Sts,
            ServiceBody::Imds => Service::Imds,
            ServiceBody::CredentialsUri => Service::CredentialsUri,
        }
    }
}

fn status(status: u16) -> Result<u16, String> {
    if (200..=599).contains(&status) {
        Ok(status)
    } else {
        Err("\"status\" must be in 200..=599".to_owned())
    }
}

impl TryFrom<FaultBody> for Fault {
    type Error = String;

    fn try_from(body: FaultBody) -> Result<Fault, String> {
        let fault = match body.kind {
            KindBody::Error { status: s, code } => {
                if code.is_empty() {
                    return Err("an error fault needs a non-empty \"code\"".to_owned());
                }
                Fault::error(status(s)?, code)
            }
            KindBody::Throttling { retry_after_ms } => Fault::throttling(retry_after_ms),
            KindBody::Delay { ms } => Fault::delay(Duration::from_millis(ms)),
            KindBody::DropAfterCommit => Fault::drop_after_commit(),
            KindBody::Html { status: s } => Fault::html(status(s)?),
            KindBody::Truncated => Fault::truncated(),
            KindBody::ExpiresIn { secs } => {
                if matches!(body.service, ServiceBody::Swas) {
                    return Err(
                        "an expires_in fault needs a \"service\" that issues credentials"
                            .to_owned(),
                    );
                }
                Fault::expires_in(Duration::from_secs(secs))
            }
        };
        Ok(fault.on(body.service.into()).times(body.times))
    }
}

/// One fault object, or an array of them.
fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    let invalid = |e: serde_json::Error| format!("invalid fault: {e}");
    let bodies = if body.trim_ascii_start().starts_with(b"[") {
        serde_json::from_slice::<Vec<FaultBody>>(body).map_err(invalid)?
    } else {
        vec![serde_json::from_slice::<FaultBody>(body).map_err(invalid)?]
    };
    bodies.into_iter().map(Fault::try_from).collect()
}

/// `POST /__emulator/images`, also its answer.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Image {
    region: String,
    image_id: String,
    #[serde(default)]
    shared: bool,
}

fn parse_image(body: &[u8]) -> Result<Image, String> {
    let image: Image = serde_json::from_slice(body).map_err(|e| format!("invalid image: {e}"))?;
    if image.region.is_empty() || image.image_id.is_empty() {
        return Err("\"region\" and \"image_id\" must be non-empty".to_owned());
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;
    use swas_open_core::ErrorCode;

    #[test]
    fn fault_bodies() {
        let f =
            parse_faults(br#"{"kind":"error","status":503,"code":"ServiceUnavailable","times":2}"#)
                .unwrap();
        assert_eq!(
            f,
            vec![Fault::error(503, ErrorCode::ServiceUnavailable).times(2)]
        );
        let f = parse_faults(br#" [{"kind":"throttling","retry_after_ms":250},{"kind":"delay","ms":5},{"kind":"drop_after_commit"},{"kind":"html"},{"kind":"truncated","service":"imds"},{"kind":"expires_in","secs":3,"service":"credentials_uri"},{"kind":"throttling"}]"#).unwrap();
        assert_eq!(
            f[0].kind(),
            &FaultKind::Throttling {
                retry_after_ms: 250
            }
        );
        assert_eq!(f[1].kind(), &FaultKind::Delay(Duration::from_millis(5)));
        assert_eq!(f[3].kind(), &FaultKind::Html { status: 502 });
        assert_eq!(f[4].service(), Service::Imds);
        assert_eq!(f[5].kind(), &FaultKind::ExpiresIn(Duration::from_secs(3)));
        assert_eq!(f[5].service(), Service::CredentialsUri);
        assert_eq!(
            f[6].kind(),
            &FaultKind::Throttling {
                retry_after_ms: 1000
            }
        );
        let custom =
            parse_faults(br#"{"kind":"error","status":418,"code":"Teapot.Custom"}"#).unwrap();
        assert!(
            matches!(custom[0].kind(), FaultKind::Error { code: ErrorCode::Other(c), .. } if c == "Teapot.Custom")
        );
        for bad in [
            &b"nope"[..],
            br#"{"kind":"error","status":503}"#,
            br#"{"kind":"error","status":503,"code":""}"#,
            br#"{"kind":"error","status":99,"code":"X"}"#,
            br#"{"kind":"delay"}"#,
            br#"{"kind":"teleport"}"#,
            br#"{"kind":"truncated","times":-1}"#,
            br#"{"kind":"truncated","service":"ftp"}"#,
            br#"{"kind":"expires_in","secs":1}"#,
            br#"[{"kind":"truncated"},{"kind":"html","status":700}]"#,
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
            Image {
                region: "r".to_owned(),
                image_id: "m".to_owned(),
                shared: true
            }
        );
        assert!(
            !parse_image(br#"{"region":"r","image_id":"m"}"#)
                .unwrap()
                .shared
        );
        assert!(parse_image(br#"{"region":"r"}"#).is_err());
        assert!(parse_image(br#"{"region":"","image_id":"m"}"#).is_err());
        assert!(parse_image(br#"{"region":"r","image_id":"m","shared":"yes"}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_answered_without_panicking(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_faults(&body);
            let _ = parse_image(&body);
        }

        #[test]
        fn json_like_fault_bodies_never_panic(
            kind in "(error|throttling|delay|drop_after_commit|html|truncated|expires_in|x)",
            status in proptest::num::i64::ANY,
            times in proptest::num::i64::ANY,
            service in "(swas|sts|imds|credentials_uri|)",
        ) {
            let body = format!(
                r#"{{"kind":"{kind}","status":{status},"code":"C","ms":{times},"secs":{times},"times":{times},"service":"{service}"}}"#
            );
            if let Ok(faults) = parse_faults(body.as_bytes()) {
                proptest::prop_assert_eq!(faults.len(), 1);
                proptest::prop_assert_eq!(faults[0].remaining() as i64, times);
            }
        }
    }
}
