//! What every credentials service shares: the request a fetch sends, the answer it gets back,
//! what the answer means (credentials, a refusal, or no usable answer), and the credentials
//! document that the metadata service, a credentials URI and STS all return.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{HOST, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use serde::Deserialize;

use super::{Credentials, CredentialsError};
use crate::credentials_error::Refusal;
use crate::error::Error;
use crate::sign::default_user_agent;
use crate::time::Timestamp;
use crate::transport::BoxError;
use crate::transport::Outgoing;

/// The largest answer a credential service may send.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// An answer of a credentials service.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// The service's clock (its `Date` header), if it said.
    pub(crate) date: Option<SystemTime>,
    pub(crate) body: Vec<u8>,
}

/// Why no answer came: the transport's error, on one line and kept as the source.
#[derive(Debug, Clone)]
pub(crate) struct NoAnswer {
    text: String,
    source: Arc<BoxError>,
}

impl NoAnswer {
    pub(crate) fn new(error: Error) -> Self {
        Self {
            text: describe(&error),
            source: Arc::new(Box::new(error)),
        }
    }

    #[cfg(test)]
    pub(crate) fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            source: Arc::new(text.into()),
        }
    }

    pub(crate) fn into_error(self, provider: &str) -> CredentialsError {
        CredentialsError::Unavailable {
            provider: provider.to_owned(),
            status: None,
            reason: self.text,
            source: Some(self.source),
        }
    }
}

/// What a fetch's request came back with.
pub(crate) type Reply = Result<Answer, NoAnswer>;

/// An error and its sources on one line.
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A service's base URL (`http://host[:port]` or `https://...`), checked before anything is
/// sent: a URL that is not one is the configuration's fault.
pub(crate) fn base_uri(provider: &str, url: &str) -> Result<Uri, CredentialsError> {
    let bad = |why: &str| CredentialsError::provider(provider, format!("{url:?} {why}"));
    let uri: Uri = url.parse().map_err(|_| bad("is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("is neither http:// nor https://"));
    }
    if uri.authority().is_none() {
        return Err(bad("has no host"));
    }
    Ok(uri)
}

/// A request of `method` to `path` (with its query) on `base`.
pub(crate) fn request(
    method: Method,
    base: &Uri,
    path: &str,
    timeouts: (Duration, Duration),
) -> Result<Outgoing, String> {
    let authority = base.authority().map_or("", |a| a.as_str());
    let scheme = base.scheme_str().unwrap_or("http");
    let prefix = base.path().trim_end_matches('/');
    let uri: Uri = format!("{scheme}://{authority}{prefix}{path}")
        .parse()
        .map_err(|_| format!("{path:?} does not make a URL"))?;
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(HOST, authority)
        .header(USER_AGENT, default_user_agent())
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    Ok(Outgoing {
        request,
        connect_timeout: timeouts.0,
        read_timeout: timeouts.1,
        deadline: None,
        direct: false,
    })
}

/// At most 200 characters of a service's message, on one line.
pub(crate) fn short(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// The answer, when one came and is not too large.
pub(crate) fn received(provider: &str, reply: Reply) -> Result<Answer, CredentialsError> {
    let answer = reply.map_err(|e| e.into_error(provider))?;
    if answer.body.len() > MAX_BODY {
        return Err(CredentialsError::unavailable(
            provider,
            Some(answer.status.as_u16()),
            format!("the answer is over {MAX_BODY} bytes"),
        ));
    }
    Ok(answer)
}

/// Whether a status is worth another try: a server error, or throttling.
pub(crate) fn transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// The error of an answer that is not a success: transient or refused.
pub(crate) fn failed_status(
    provider: &str,
    what: &'static str,
    answer: &Answer,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
) -> CredentialsError {
    let status = answer.status;
    let throttled = code.as_deref().is_some_and(|c| c.starts_with("Throttling"));
    if transient_status(status) || throttled {
        let mut reason = format!("{what} answered HTTP {}", status.as_u16());
        for part in [code, message].into_iter().flatten() {
            reason.push(' ');
            reason.push_str(&part);
        }
        return CredentialsError::unavailable(provider, Some(status.as_u16()), reason);
    }
    CredentialsError::Refused {
        provider: provider.to_owned(),
        what,
        refusal: Box::new(Refusal {
            status: status.as_u16(),
            code,
            message: message.map(|m| short(&m)),
            request_id,
            date: answer.date,
        }),
    }
}

/// The credentials document: the fields STS puts under `Credentials`, and the metadata
/// service and a credentials URI at the top level (with `Code` and `Message`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Document {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) access_key_secret: Option<String>,
    pub(crate) security_token: Option<String>,
    pub(crate) expiration: Option<String>,
}

/// Parses JSON of type `T`, with a message that names the field or place at fault but never
/// quotes a value (a secret may sit in the wrong field).
pub(crate) fn json<'a, T: Deserialize<'a>>(
    provider: &str,
    status: StatusCode,
    what: &str,
    body: &'a [u8],
) -> Result<T, CredentialsError> {
    serde_json::from_slice(body).map_err(|e| {
        let place = format!("line {} column {}", e.line(), e.column());
        let why = match e.classify() {
            serde_json::error::Category::Data => "a field has the wrong type",
            serde_json::error::Category::Eof => "it ends too soon",
            _ => "it is not JSON",
        };
        CredentialsError::unavailable(
            provider,
            Some(status.as_u16()),
            format!("{what} answered with unreadable credentials ({why}, at {place})"),
        )
    })
}

/// Credentials obtained, with their expiration (none: they do not expire), the service's
/// clock when they were issued (if it said), and their source.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) credentials: Credentials,
    pub(crate) expiration: Option<SystemTime>,
    pub(crate) date: Option<SystemTime>,
    pub(crate) source: String,
}

/// The credentials of a document, which must have every field: the services that answer
/// this way only ever issue temporary credentials.
pub(crate) fn credentials_of(
    provider: &str,
    doc: Document,
    date: Option<SystemTime>,
) -> Result<Fetched, CredentialsError> {
    let field = |v: Option<String>, name: &str| {
        v.filter(|v| !v.is_empty()).ok_or_else(|| {
            CredentialsError::unavailable(provider, None, format!("the answer has no {name}"))
        })
    };
    let id = field(doc.access_key_id, "AccessKeyId")?;
    let secret = field(doc.access_key_secret, "AccessKeySecret")?;
    let token = field(doc.security_token, "SecurityToken")?;
    let expiration = field(doc.expiration, "Expiration")?;
    let invalid = |error| CredentialsError::Invalid {
        origin: provider.to_owned(),
        error,
    };
    let credentials = Credentials::new(id, secret)
        .and_then(|c| c.with_security_token(token))
        .map_err(invalid)?;
    let expiration = expiration.parse::<Timestamp>().map_err(|_| {
        CredentialsError::unavailable(provider, None, "the answer's Expiration is not a time")
    })?;
    Ok(Fetched {
        credentials,
        expiration: Some(SystemTime::from(expiration)),
        date,
        source: provider.to_owned(),
    })
}

/// Canned replies, for the providers' tests.
#[cfg(test)]
pub(crate) mod test_replies {
    use super::*;

    pub(crate) fn ok(body: &str) -> Reply {
        status(200, body)
    }

    pub(crate) fn status(code: u16, body: &str) -> Reply {
        Ok(Answer {
            status: StatusCode::from_u16(code).unwrap(),
            date: None,
            body: body.as_bytes().to_vec(),
        })
    }
}
