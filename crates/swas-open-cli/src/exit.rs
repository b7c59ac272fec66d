//! How a failure reaches the shell: what goes on stderr, and the exit status.
//!
//! | status | meaning | stderr |
//! |---|---|---|
//! | 1 | the service answered with an error | its fields as one line of JSON |
//! | 2 | invalid input, configuration or usage, or credentials refused by their service | one line: the reason |
//! | 3 | the outcome is unknown (no answer, or one that cannot be read), a credentials service gave no usable answer, or a local failure to run | one line: the reason, and the `--client-token` to repeat with when the image may be deleted |

use std::io::Write;

use serde::ser::{Serialize, SerializeMap, Serializer};
use swas_open_core::{CredentialsError, EndpointError, Error, ErrorKind, InputError, ServiceError};

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The service answered with an error (exit 1).
    Service(Box<ServiceError>),
    /// The input, configuration or command line is wrong, or a credentials service refused
    /// (exit 2): trying again changes nothing until the user fixes something.
    Usage(String),
    /// No usable answer came (from the service, or from a credentials service), or something
    /// local failed (exit 3): trying again may well succeed.
    NoAnswer(String),
    /// What went wrong is on stdout and stderr already; exit with this status.
    Reported(u8),
}

impl Failure {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Service(_) => 1,
            Failure::Usage(_) => 2,
            Failure::NoAnswer(_) => 3,
            Failure::Reported(code) => *code,
        }
    }

    /// Writes the failure to stderr: JSON for a service error, else one line.
    pub fn report(&self) {
        let line = match self {
            Failure::Service(e) => service_error_json(e),
            Failure::Usage(reason) | Failure::NoAnswer(reason) => {
                format!("swas: {}", one_line(reason))
            }
            Failure::Reported(_) => return,
        };
        // Nothing more can be done if stderr itself is gone.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Puts `context: ` before a one-line reason (a service error is left as the service sent
    /// it).
    pub fn with_context(self, context: &str) -> Self {
        match self {
            Failure::Usage(reason) => Failure::Usage(format!("{context}: {reason}")),
            Failure::NoAnswer(reason) => Failure::NoAnswer(format!("{context}: {reason}")),
            service => service,
        }
    }

    /// Adds a sentence to a one-line reason (a service error is left as the service sent it).
    pub fn with_hint(self, hint: &str) -> Self {
        match self {
            Failure::Usage(reason) => Failure::Usage(format!("{reason}; {hint}")),
            Failure::NoAnswer(reason) => Failure::NoAnswer(format!("{reason}; {hint}")),
            service => service,
        }
    }
}

/// The exit status of a call that failed with `e` (see the table above): 1 when the service
/// answered with an error; 3 when the outcome is unknown or a credentials service gave no
/// usable answer (unreachable, a 5xx, throttling, credentials arriving expired: nothing
/// was sent, trying again later may work); 2 for what the user must fix first (input,
/// configuration, credentials refused by their service).
pub fn exit_code(e: &Error) -> u8 {
    if e.outcome_unknown() {
        // However the attempt ended, the image may be deleted.
        return 3;
    }
    match e.kind() {
        ErrorKind::Service(_) => 1,
        ErrorKind::Credentials(c) if c.is_transient() => 3,
        ErrorKind::InvalidInput(_)
        | ErrorKind::Endpoint(_)
        | ErrorKind::Credentials(_)
        | ErrorKind::Config(_) => 2,
        // Kinds added later: the call did not succeed and the service's answer, if any, is
        // not known to be an error body.
        _ => 3,
    }
}

impl From<Error> for Failure {
    /// A failure with no answer names its causes too (`transport error (Tls): ...: invalid
    /// peer certificate: UnknownIssuer`): the error's own message leaves them to its source.
    fn from(e: Error) -> Self {
        let code = exit_code(&e);
        let mut message = e.to_string();
        if code == 3 {
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(": ");
                message.push_str(&c.to_string());
                cause = c.source();
            }
        }
        match e.into_kind() {
            ErrorKind::Service(e) if code == 1 => Failure::Service(e),
            _ if code == 2 => Failure::Usage(message),
            _ => Failure::NoAnswer(message),
        }
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<EndpointError> for Failure {
    fn from(e: EndpointError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<CredentialsError> for Failure {
    fn from(e: CredentialsError) -> Self {
        Failure::from(Error::from(e))
    }
}

/// The error fields the service sent, `Code` and `Message` first, then the optional ones it
/// sent, then the HTTP status: the CLI's report of a service error.
pub struct ErrorReport<'a>(pub &'a ServiceError);

impl Serialize for ErrorReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let optional = [
            ("RequestId", e.request_id.as_deref()),
            ("HostId", e.host_id.as_deref()),
            ("Recommend", e.recommend.as_deref()),
        ];
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Code", e.code.as_str())?;
        map.serialize_entry("Message", &e.message)?;
        for (name, value) in optional {
            if let Some(value) = value {
                map.serialize_entry(name, value)?;
            }
        }
        if let Some(detail) = &e.access_denied_detail {
            map.serialize_entry("AccessDeniedDetail", detail)?;
        }
        map.serialize_entry("HttpStatus", &e.status.as_u16())?;
        map.end()
    }
}

/// `{"Code":..,"Message":..,"RequestId":..,"HostId":..,"Recommend":..,"HttpStatus":..}`;
/// fields the service did not send are left out.
pub fn service_error_json(e: &ServiceError) -> String {
    // Strings, a number and a JSON value always serialize.
    serde_json::to_string(&ErrorReport(e))
        .unwrap_or_else(|_| format!("{{\"Code\":{:?}}}", e.code.as_str()))
}

/// Keeps a message on one line whatever a lower layer put in it.
pub fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use swas_open_core::ErrorCode;

    /// The service's answer for an image that does not exist, with this RequestId.
    pub(crate) fn not_found(request_id: &str) -> ServiceError {
        let mut e = ServiceError::new(
            http::StatusCode::NOT_FOUND,
            ErrorCode::InvalidImageIdNotFound,
            "The specified ImageId does not exist.",
        );
        e.request_id = Some(request_id.into());
        e
    }

    #[test]
    fn service_error_keeps_every_field_in_order() {
        let mut e = not_found("R1");
        e.host_id = Some("swas.cn-hangzhou.aliyuncs.com".into());
        e.recommend = Some("https://example.invalid/r".into());
        assert_eq!(
            service_error_json(&e),
            r#"{"Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","RequestId":"R1","HostId":"swas.cn-hangzhou.aliyuncs.com","Recommend":"https://example.invalid/r","HttpStatus":404}"#
        );
    }

    #[test]
    fn exit_codes() {
        let input = swas_open_core::RegionId::new("CN").unwrap_err();
        assert_eq!(Failure::from(Error::from(input)).exit_code(), 2);
        let timeout = Error::timeout(
            swas_open_core::TimeoutKind::Read,
            std::time::Duration::from_secs(1),
        );
        assert_eq!(Failure::from(timeout).exit_code(), 3);
        let service = ServiceError::new(
            http::StatusCode::BAD_REQUEST,
            ErrorCode::SignatureDoesNotMatch,
            "m",
        );
        assert_eq!(
            Failure::from(Error::from(ErrorKind::Service(Box::new(service)))).exit_code(),
            1
        );
    }

    #[test]
    fn a_credentials_outage_exits_3_and_bad_configuration_2() {
        let outage = || CredentialsError::Unavailable {
            provider: "RAM role r (AssumeRole)".into(),
            status: Some(503),
            reason: "HTTP 503 ServiceUnavailable".into(),
            source: None,
        };
        let expired = CredentialsError::ExpiredOnArrival {
            provider: "credentials URI".into(),
            left: std::time::Duration::ZERO,
        };
        let unset = CredentialsError::IncompleteEnvironment {
            set: "ALIBABA_CLOUD_ACCESS_KEY_ID",
            missing: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        };
        assert_eq!(Failure::from(Error::from(outage())).exit_code(), 3);
        assert_eq!(Failure::from(outage()).exit_code(), 3);
        assert_eq!(Failure::from(Error::from(expired)).exit_code(), 3);
        assert_eq!(Failure::from(Error::from(unset)).exit_code(), 2);
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
    }
}
