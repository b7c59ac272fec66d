//! Reading requests: bounded bodies, and the few values read before authentication.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::Uri;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};

/// How long a client may take to send a request body.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body read within the size limit, or the fact that it was over it.
pub(crate) enum Body {
    Complete(Bytes),
    /// Over the limit. `drained`: the rest was read and discarded, so the connection can
    /// carry another request; otherwise it must be closed after the answer.
    TooLarge {
        drained: bool,
    },
}

impl Body {
    pub(crate) fn must_close(&self) -> bool {
        matches!(self, Body::TooLarge { drained: false })
    }
}

/// Reads at most `keep` bytes of `body`. A longer body is read on and discarded up to
/// `drain_cap` bytes so that the connection stays usable; past that it is left unread.
/// `Err` means the client broke off or was too slow.
pub(crate) async fn read_body(body: Incoming, keep: usize, drain_cap: usize) -> Result<Body, ()> {
    tokio::time::timeout(BODY_TIMEOUT, read_bounded(body, keep, drain_cap))
        .await
        .map_err(|_| ())?
}

async fn read_bounded(mut body: Incoming, keep: usize, drain_cap: usize) -> Result<Body, ()> {
    let declared = body.size_hint().lower();
    if declared > drain_cap as u64 {
        return Ok(Body::TooLarge { drained: false });
    }
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| ())?.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total <= keep {
            buf.extend_from_slice(&data);
        } else if total > drain_cap {
            return Ok(Body::TooLarge { drained: false });
        }
    }
    Ok(if total > keep {
        Body::TooLarge { drained: true }
    } else {
        Body::Complete(buf.freeze())
    })
}

/// The size of the request line and headers, as counted against the request size limit.
pub(crate) fn head_size(parts: &Parts) -> usize {
    let target = parts.uri.path_and_query().map_or(1, |p| p.as_str().len());
    let headers: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    parts.method.as_str().len() + target + 12 + headers
}

/// The first value of query parameter `name`, decoded (an undecodable escape stays as it
/// is).
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The action a request names (`x-acs-action`, else the `Action` query parameter) if it is a
/// plain name, else `-`: the log's action column, never a secret.
pub(crate) fn claimed_action(parts: &Parts) -> String {
    parts
        .headers
        .get("x-acs-action")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query_param(&parts.uri, "Action"))
        .filter(|a| {
            !a.is_empty()
                && a.len() <= 64
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::builder()
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn action_from_query_or_header() {
        assert_eq!(
            claimed_action(&parts("/?a=1&Action=DeleteCustomImage")),
            "DeleteCustomImage"
        );
        assert_eq!(claimed_action(&parts("/?Action=a%20b")), "-");
        assert_eq!(claimed_action(&parts("/?Action=%ZZ")), "-");
        assert_eq!(claimed_action(&parts("/")), "-");
        let mut p = parts("/?Action=X");
        p.headers
            .insert("x-acs-action", "DeleteCustomImage".parse().unwrap());
        assert_eq!(claimed_action(&p), "DeleteCustomImage");
    }

    #[test]
    fn query_params_decode() {
        let uri: Uri = "/?RegionId=cn%2Dhangzhou&Empty&x=1".parse().unwrap();
        assert_eq!(
            query_param(&uri, "RegionId").as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(query_param(&uri, "Empty").as_deref(), Some(""));
        assert_eq!(query_param(&uri, "Missing"), None);
    }
}
