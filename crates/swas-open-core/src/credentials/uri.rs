//! A credentials URI: one `GET` that answers the credentials document
//! (`{"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}`).

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};

use super::machine::{spent, Next};
use super::service::{
    base_uri, credentials_of, failed_status, json, received, request, Document, Fetched, Reply,
};
use super::CredentialsError;

const URI_TIMEOUTS: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(10));
pub(crate) const LABEL: &str = "credentials URI";

enum Stage {
    Start,
    Sent(Option<Reply>),
    Over,
}

/// One fetch from a credentials URI.
pub(crate) struct UriFetch {
    uri: Arc<str>,
    stage: Stage,
}

impl UriFetch {
    pub(crate) fn new(uri: &Arc<str>) -> Self {
        Self {
            uri: uri.clone(),
            stage: Stage::Start,
        }
    }

    pub(crate) fn next(&mut self) -> Next {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Start => match self.send() {
                Ok(o) => {
                    self.stage = Stage::Sent(None);
                    Next::Send(o)
                }
                Err(e) => Next::Done(Err(e)),
            },
            Stage::Sent(Some(reply)) => Next::Done(parse(reply)),
            _ => Next::Done(Err(spent())),
        }
    }

    pub(crate) fn receive(&mut self, reply: Reply) {
        if let Stage::Sent(slot @ None) = &mut self.stage {
            *slot = Some(reply);
        }
    }

    fn send(&self) -> Result<crate::transport::Outgoing, CredentialsError> {
        // The URI is the request's, path and query included.
        let uri = base_uri(LABEL, &self.uri)?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let base = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str())
        );
        let base = base_uri(LABEL, &base)?;
        request(Method::GET, &base, path, URI_TIMEOUTS)
            .map_err(|e| CredentialsError::provider(LABEL, e))
    }
}

fn parse(reply: Reply) -> Result<Fetched, CredentialsError> {
    let answer = received(LABEL, reply)?;
    if answer.status != StatusCode::OK {
        return Err(failed_status(
            LABEL,
            "the credentials URI",
            &answer,
            None,
            None,
            None,
        ));
    }
    let document: Document = json(LABEL, answer.status, "the credentials URI", &answer.body)?;
    if let Some(code) = document.code.as_deref().filter(|c| *c != "Success") {
        return Err(CredentialsError::unavailable(
            LABEL,
            Some(answer.status.as_u16()),
            format!("the credentials URI's Code is {code:?}, not \"Success\""),
        ));
    }
    credentials_of(LABEL, document, answer.date)
}
