//! The ECS instance metadata service's RAM role routes (IMDS), with v2 session tokens, and the
//! credentials URI route.

use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;

use crate::fault::Service;
use crate::issued::{iso8601, Issued};
use crate::reply::{Answer, Ctx, TEXT};
use crate::state::{Shared, DEFAULT_LIFETIME};

/// The path prefix IMDS serves.
pub(crate) const PREFIX: &str = "/latest/";
const TOKEN_PATH: &str = "/latest/api/token";
const CREDENTIALS_PATH: &str = "/latest/meta-data/ram/security-credentials/";
/// The header of a token request: the token's lifetime in seconds.
const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
/// The header carrying a session token.
const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
/// The longest token lifetime, in seconds.
const MAX_TTL_SECS: u64 = 21_600;

/// What an IMDS request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `PUT /latest/api/token`.
    Token,
    /// `GET .../security-credentials/`: the role name.
    RoleName,
    /// `GET .../security-credentials/ROLE`.
    Credentials(String),
    /// Another method on a known path.
    MethodNotAllowed,
    NotFound,
}

impl Route {
    pub(crate) fn of(method: &Method, path: &str) -> Self {
        let get = method == Method::GET;
        if path == TOKEN_PATH {
            return if method == Method::PUT {
                Route::Token
            } else {
                Route::MethodNotAllowed
            };
        }
        match path.strip_prefix(CREDENTIALS_PATH) {
            Some(_) if !get => Route::MethodNotAllowed,
            Some("") => Route::RoleName,
            Some(role) if !role.contains('/') => Route::Credentials(role.to_owned()),
            _ => Route::NotFound,
        }
    }

    /// The log's action column.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Route::Token => "ImdsToken",
            Route::RoleName => "ImdsRoleName",
            Route::Credentials(_) => "ImdsCredentials",
            Route::MethodNotAllowed | Route::NotFound => "Imds",
        }
    }
}

fn text(status: StatusCode, body: &str, code: Option<&str>) -> Answer {
    Answer::plain(status, TEXT, body.to_owned(), code)
}

/// The credentials document IMDS answers.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsCredentials<'a> {
    #[serde(flatten)]
    issued: &'a Issued,
    last_updated: String,
    code: &'static str,
}

/// Answers an IMDS request.
pub(crate) fn handle(shared: &Shared, ctx: &Ctx, route: &Route, headers: &HeaderMap) -> Answer {
    match route {
        Route::Token => {
            let ttl = headers
                .get(TTL_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ttl| (1..=MAX_TTL_SECS).contains(ttl));
            return match ttl {
                Some(ttl) => text(StatusCode::OK, &shared.new_imds_token(ttl), None),
                None => text(
                    StatusCode::BAD_REQUEST,
                    "Missing or Invalid Parameters",
                    Some("InvalidTokenTtl"),
                ),
            };
        }
        Route::MethodNotAllowed => {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
                Some("MethodNotAllowed"),
            )
        }
        Route::NotFound => return not_found(),
        Route::RoleName | Route::Credentials(_) => {}
    }
    match headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) {
        Some(token) if !shared.imds_token_valid(token) => {
            return text(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                Some("InvalidToken"),
            )
        }
        None if shared.config.imds_v2_only => {
            return text(StatusCode::FORBIDDEN, "Forbidden", Some("TokenRequired"))
        }
        _ => {}
    }
    let Some(role) = shared.config.instance_role.as_deref() else {
        return not_found();
    };
    match route {
        Route::RoleName => text(StatusCode::OK, role, None),
        Route::Credentials(asked) if asked == role => {
            let issued = shared.issue(
                Service::Imds,
                DEFAULT_LIFETIME,
                shared.config.account.as_deref(),
            );
            let body = ImdsCredentials {
                issued: &issued,
                last_updated: iso8601(shared.now_unix()),
                code: "Success",
            };
            Answer::json(ctx, &body)
        }
        _ => not_found(),
    }
}

pub(crate) fn not_found() -> Answer {
    text(StatusCode::NOT_FOUND, "404 - Not Found", Some("NotFound"))
}

/// The credentials document a credentials URI answers.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UriCredentials<'a> {
    code: &'static str,
    #[serde(flatten)]
    issued: &'a Issued,
}

/// Answers the credentials URI route.
pub(crate) fn credentials_uri(shared: &Shared, ctx: &Ctx, method: &Method) -> Answer {
    if method != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            Some("MethodNotAllowed"),
        );
    }
    let issued = shared.issue(
        Service::CredentialsUri,
        DEFAULT_LIFETIME,
        shared.config.account.as_deref(),
    );
    Answer::json(
        ctx,
        &UriCredentials {
            code: "Success",
            issued: &issued,
        },
    )
}

/// An injected error in the form each metadata service answers errors: IMDS plain text, a
/// credentials URI `{"Code","Message"}`.
pub(crate) fn error(status: StatusCode, code: &str, json: bool) -> Answer {
    if json {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct ErrorBody<'a> {
            code: &'a str,
            message: &'a str,
        }
        let body = ErrorBody {
            code,
            message: "injected fault",
        };
        Answer::plain(
            status,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
            Some(code),
        )
    } else {
        text(status, code, Some(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::of(&Method::PUT, TOKEN_PATH), Route::Token);
        assert_eq!(Route::of(&Method::GET, TOKEN_PATH), Route::MethodNotAllowed);
        assert_eq!(Route::of(&Method::GET, CREDENTIALS_PATH), Route::RoleName);
        assert_eq!(
            Route::of(
                &Method::GET,
                "/latest/meta-data/ram/security-credentials/r1"
            ),
            Route::Credentials("r1".into())
        );
        assert_eq!(
            Route::of(
                &Method::GET,
                "/latest/meta-data/ram/security-credentials/r1/x"
            ),
            Route::NotFound
        );
        assert_eq!(
            Route::of(&Method::GET, "/latest/meta-data/instance-id"),
            Route::NotFound
        );
    }
}
