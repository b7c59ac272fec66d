//! The ECS (and Simple Application Server) instance RAM role, from the metadata service:
//! an IMDSv2 token first, the role's name if it was not given, then its credentials; IMDSv1
//! (no token) when no token comes, unless it is disabled.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode};

use super::machine::{spent, Next};
use super::service::{
    base_uri, credentials_of, failed_status, json, received, request, short, Document, Fetched,
    Reply,
};
use super::CredentialsError;
use crate::transport::Outgoing;

const IMDS_TIMEOUTS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(1));
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";
const TOKEN_TTL: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN: &str = "x-aliyun-ecs-metadata-token";

/// The instance RAM role over the metadata service.
pub(crate) struct EcsSpec {
    pub(crate) role: Option<String>,
    /// The metadata service's base URL.
    pub(crate) endpoint: String,
    pub(crate) v1_disabled: bool,
    pub(crate) label: String,
}

/// Where a metadata fetch stands: each request's stage holds its reply once it came.
enum Stage {
    Start,
    Token(Option<Reply>),
    Roles(Option<Reply>),
    Document(Option<Reply>),
    Over,
}

/// One fetch of the instance's credentials.
pub(crate) struct ImdsFetch {
    spec: Arc<EcsSpec>,
    token: Option<HeaderValue>,
    role: Option<String>,
    stage: Stage,
}

impl ImdsFetch {
    pub(crate) fn new(spec: &Arc<EcsSpec>) -> Self {
        Self {
            role: spec.role.clone(),
            spec: spec.clone(),
            token: None,
            stage: Stage::Start,
        }
    }

    pub(crate) fn receive(&mut self, reply: Reply) {
        if let Stage::Token(slot @ None)
        | Stage::Roles(slot @ None)
        | Stage::Document(slot @ None) = &mut self.stage
        {
            *slot = Some(reply);
        }
    }

    fn fail(&mut self, error: CredentialsError) -> Next {
        self.stage = Stage::Over;
        Next::Done(Err(error))
    }

    fn refused(&mut self, what: &str, reason: impl Into<String>) -> Next {
        let error =
            CredentialsError::provider(&self.spec.label, format!("{what}: {}", reason.into()));
        self.fail(error)
    }

    fn send(&mut self, method: Method, path: &str) -> Result<Outgoing, CredentialsError> {
        let label = &self.spec.label;
        let base = base_uri(label, &self.spec.endpoint)?;
        let mut outgoing = request(method.clone(), &base, path, IMDS_TIMEOUTS)
            .map_err(|e| CredentialsError::provider(label, e))?;
        // Never through a proxy: the credentials must not leave the instance.
        outgoing.direct = true;
        let headers = outgoing.request.headers_mut();
        if method == Method::PUT {
            headers.insert(TOKEN_TTL, HeaderValue::from_static("21600"));
        }
        if let Some(token) = &self.token {
            headers.insert(TOKEN, token.clone());
        }
        Ok(outgoing)
    }

    /// The next read once the token is settled: the role's name, or its credentials.
    fn read(&mut self) -> Next {
        let (stage, path) = match &self.role {
            Some(role) => (Stage::Document(None), format!("{ROLES_PATH}{role}")),
            None => (Stage::Roles(None), ROLES_PATH.to_owned()),
        };
        match self.send(Method::GET, &path) {
            Ok(o) => {
                self.stage = stage;
                Next::Send(o)
            }
            Err(e) => self.fail(e),
        }
    }

    /// After a read with the token failed: the same read once more without it (IMDSv1),
    /// unless v1 is disabled; the official Python SDK does the same, for metadata services
    /// that hand out tokens they then refuse.
    fn read_without_token(&mut self, reply: &Reply) -> Option<Next> {
        let failed = !matches!(reply, Ok(a) if a.status == StatusCode::OK);
        if !failed || self.spec.v1_disabled || self.token.is_none() {
            return None;
        }
        tracing::debug!("a metadata read with the IMDSv2 token failed; retrying with IMDSv1");
        self.token = None;
        Some(self.read())
    }

    pub(crate) fn next(&mut self) -> Next {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Start => match self.send(Method::PUT, TOKEN_PATH) {
                Ok(o) => {
                    self.stage = Stage::Token(None);
                    Next::Send(o)
                }
                Err(e) => self.fail(e),
            },
            Stage::Token(Some(reply)) => self.on_token(reply),
            Stage::Roles(Some(reply)) => match self.read_without_token(&reply) {
                Some(next) => next,
                None => self.on_roles(reply),
            },
            Stage::Document(Some(reply)) => match self.read_without_token(&reply) {
                Some(next) => next,
                None => {
                    self.stage = Stage::Over;
                    Next::Done(self.document(reply))
                }
            },
            _ => Next::Done(Err(spent())),
        }
    }

    fn on_token(&mut self, reply: Reply) -> Next {
        let why = match reply {
            Ok(answer) if answer.status == StatusCode::OK => {
                let token = String::from_utf8_lossy(&answer.body).trim().to_owned();
                match HeaderValue::try_from(token) {
                    Ok(token) if !token.is_empty() => {
                        self.token = Some(token);
                        return self.read();
                    }
                    _ => "the token is empty or not a header value".to_owned(),
                }
            }
            Ok(answer) => format!("HTTP {}", answer.status.as_u16()),
            Err(e) => e.into_error(&self.spec.label).to_string(),
        };
        if self.spec.v1_disabled {
            return self.refused("no IMDSv2 token", format!("{why}, and IMDSv1 is disabled"));
        }
        tracing::debug!(reason = %why, "no IMDSv2 token; falling back to IMDSv1");
        self.read()
    }

    fn on_roles(&mut self, reply: Reply) -> Next {
        let label = self.spec.label.clone();
        let answer = match received(&label, reply) {
            Ok(answer) => answer,
            Err(e) => return self.fail(e),
        };
        if answer.status != StatusCode::OK {
            let what = "role discovery (is a RAM role attached to the instance?)";
            let e = failed_status(&label, what, &answer, None, None, None);
            return self.fail(e);
        }
        let Ok(list) = std::str::from_utf8(&answer.body) else {
            return self.refused("role discovery", "the role list is not UTF-8 text");
        };
        let role = list.lines().next().unwrap_or("").trim();
        if role.is_empty() {
            return self.refused(
                "role discovery",
                "the role list is empty: no RAM role is attached",
            );
        }
        if let Some(c) = role
            .chars()
            .find(|c| matches!(c, '/' | '?' | '#' | ' ') || c.is_control())
        {
            let role = short(role);
            return self.refused(
                "role discovery",
                format!("{role:?} is not a role name (it has {c:?})"),
            );
        }
        self.role = Some(role.to_owned());
        self.read()
    }

    fn document(&self, reply: Reply) -> Result<Fetched, CredentialsError> {
        let label = &self.spec.label;
        let role = self.role.as_deref().unwrap_or_default();
        let answer = received(label, reply)?;
        if answer.status != StatusCode::OK {
            let what = "the metadata service";
            let why = Some(format!("no credentials for RAM role {role:?}"));
            return Err(failed_status(label, what, &answer, None, why, None));
        }
        let document: Document = json(label, answer.status, "the metadata service", &answer.body)?;
        if document.code.as_deref() != Some("Success") {
            return Err(CredentialsError::unavailable(
                label,
                Some(answer.status.as_u16()),
                format!(
                    "the metadata service's Code is {:?}, not \"Success\": {}",
                    document.code.as_deref().unwrap_or(""),
                    short(document.message.as_deref().unwrap_or(""))
                ),
            ));
        }
        credentials_of(label, document, answer.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::machine::{run_with, ProviderSpec};
    use crate::credentials::service::test_replies::{ok, status};
    use std::time::{Duration, SystemTime};

    const WALL: u64 = 1_700_000_000;

    fn wall() -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(WALL)
    }

    const FLAT: &str = r#"{"Code":"Success","AccessKeyId":"STS.imds","AccessKeySecret":"imds-secret","SecurityToken":"imds-token","Expiration":"2033-05-18T03:33:20Z","LastUpdated":"2023-01-01T00:00:00Z"}"#;

    fn ecs(v1_disabled: bool, role: Option<&str>) -> ProviderSpec {
        ProviderSpec::Ecs(Arc::new(EcsSpec {
            role: role.map(str::to_owned),
            endpoint: "http://127.0.0.1:9".into(),
            v1_disabled,
            label: "ECS RAM role (IMDS)".into(),
        }))
    }

    #[test]
    fn imds_v2_discovers_the_role_then_reads_it() {
        let (r, sent) = run_with(&ecs(true, None), wall(), |o| {
            match (o.request.method().as_str(), o.request.uri().path()) {
                ("PUT", "/latest/api/token") => ok("tok-1"),
                ("GET", "/latest/meta-data/ram/security-credentials/") => ok("web\n"),
                ("GET", "/latest/meta-data/ram/security-credentials/web") => ok(FLAT),
                other => panic!("{other:?}"),
            }
        });
        let f = r.unwrap();
        assert_eq!(f.credentials.access_key_id(), "STS.imds");
        assert_eq!(
            f.expiration,
            Some(std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
        );
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[0].request.headers()["x-aliyun-ecs-metadata-token-ttl-seconds"],
            "21600"
        );
        assert!(sent.iter().all(|o| o.direct));
        for o in &sent[1..] {
            assert_eq!(o.request.headers()["x-aliyun-ecs-metadata-token"], "tok-1");
            assert_eq!(o.connect_timeout, Duration::from_secs(1));
        }
    }

    #[test]
    fn imds_v1_fallback_unless_disabled() {
        let answer = |o: &Outgoing| match o.request.method().as_str() {
            "PUT" => status(StatusCode::FORBIDDEN.as_u16(), ""),
            _ => {
                assert!(!o
                    .request
                    .headers()
                    .contains_key("x-aliyun-ecs-metadata-token"));
                ok(FLAT)
            }
        };
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), answer);
        assert!(r.is_ok());
        assert_eq!(sent.len(), 2);
        let (r, sent) = run_with(&ecs(true, Some("web")), wall(), answer);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("IMDSv1 is disabled"), "{e}");
        assert_eq!(sent.len(), 1);
        let (r, _) = run_with(&ecs(false, Some("web")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("t"),
                _ => ok(&FLAT.replace("Success", "Failed")),
            }
        });
        assert!(r.unwrap_err().to_string().contains("not \"Success\""));
    }

    #[test]
    fn imds_read_refused_with_the_token_is_retried_without_it() {
        let answer = |o: &Outgoing| match (
            o.request.method().as_str(),
            o.request
                .headers()
                .contains_key("x-aliyun-ecs-metadata-token"),
        ) {
            ("PUT", _) => ok("tok-1"),
            ("GET", true) => status(StatusCode::UNAUTHORIZED.as_u16(), ""),
            ("GET", false) => ok(FLAT),
            other => panic!("{other:?}"),
        };
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), answer);
        assert_eq!(r.unwrap().credentials.access_key_id(), "STS.imds");
        assert_eq!(sent.len(), 3, "token, read with it, read without it");
        // Only once, and never with v1 disabled.
        let (r, sent) = run_with(&ecs(true, Some("web")), wall(), answer);
        assert!(r.is_err());
        assert_eq!(sent.len(), 2);
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("tok-1"),
                _ => status(StatusCode::NOT_FOUND.as_u16(), ""),
            }
        });
        assert!(r.is_err());
        assert_eq!(sent.len(), 3);
    }

    #[test]
    fn a_wrong_role_is_named_and_a_bad_role_list_is_explained() {
        let (r, _) = run_with(&ecs(true, Some("nosuch")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("t"),
                _ => status(404, ""),
            }
        });
        let e = r.unwrap_err();
        assert!(
            matches!(&e, CredentialsError::Refused { refusal, .. } if refusal.status == 404),
            "{e:?}"
        );
        assert!(e.to_string().contains("\"nosuch\""), "{e}");
        let (r, _) = run_with(&ecs(true, None), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("t"),
                _ => ok("a/b\n"),
            }
        });
        let e = r.unwrap_err().to_string();
        assert!(e.contains("is not a role name"), "{e}");
        let (r, _) = run_with(&ecs(true, Some("web")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("t"),
                _ => ok(r#"{"Code":"Success","AccessKeyId":1}"#),
            }
        });
        let e = r.unwrap_err().to_string();
        assert!(e.contains("wrong type") && e.contains("column"), "{e}");
    }
}
