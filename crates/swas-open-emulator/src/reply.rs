//! Answers: request ids, the JSON bodies of successes and errors, and their HTTP form.

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use http::{Response, StatusCode};
use http_body_util::Full;
use swas_open_core::response::RETRY_AFTER_HEADER;
use swas_open_core::{ErrorCode, ServiceError, PRODUCT};

const JSON: &str = "application/json;charset=utf-8";
const HTML: &str = "text/html";

/// What one request is answered with; cloned whole when an idempotent request is replayed.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// The error code, or `None` for a success (also the log's outcome column).
    pub(crate) code: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after_ms: Option<u64>,
    pub(crate) html: bool,
    /// Close the connection after answering (the request body was not read in full).
    pub(crate) close: bool,
}

/// Per-request values every answer needs.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) request_id: String,
    pub(crate) host_id: String,
}

impl Ctx {
    /// `HostId` is the `Host` received, else the region's public endpoint.
    pub(crate) fn new(headers: &http::HeaderMap, region: Option<&str>) -> Self {
        let host_id = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| match region {
                Some(r) => format!("swas.{r}.aliyuncs.com"),
                None => "swas.aliyuncs.com".to_owned(),
            });
        Self {
            request_id: new_request_id(),
            host_id,
        }
    }
}

/// An uppercase UUID v4, as the service sends.
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The troubleshooting link of `code`.
pub(crate) fn recommend(code: &str) -> String {
    format!(
        "https://api.alibabacloud.com/troubleshoot?q={}&product={PRODUCT}",
        percent_encoding::utf8_percent_encode(code, QUERY_VALUE)
    )
}

/// The service's usual message for `code`.
pub(crate) fn message_for(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::CustomImageInShare => {
            "The custom image is being shared. Please disable sharing first and then delete it."
        }
        ErrorCode::InvalidImageIdNotFound => "The specified ImageId does not exist.",
        ErrorCode::InternalError => "An error occurred while processing your request.",
        ErrorCode::UnknownError => "The request processing has failed due to some unknown error.",
        ErrorCode::ServiceUnavailable => {
            "The request has failed due to a temporary failure of the server."
        }
        ErrorCode::Throttling | ErrorCode::ThrottlingUser | ErrorCode::ThrottlingApi => {
            "Request was denied due to request throttling."
        }
        ErrorCode::InvalidTimeStampExpired => "Specified time stamp or date value is expired.",
        ErrorCode::SignatureNonceUsed => "Specified signature nonce was used already.",
        ErrorCode::InvalidSecurityTokenMismatchWithAccessKey => {
            "The security token you provided does not match the AccessKey."
        }
        ErrorCode::InvalidActionNotFound => {
            "Specified api is not found, please check your url and method."
        }
        ErrorCode::InvalidVersion => "Specified parameter Version is not valid.",
        ErrorCode::IdempotentParameterMismatch => {
            "The request uses the same client token as a previous, but non-identical request."
        }
        ErrorCode::Forbidden | ErrorCode::ForbiddenRam => {
            "User not authorized to operate on the specified resource."
        }
        ErrorCode::ForbiddenRiskControl => "This operation is forbidden by risk control.",
        ErrorCode::InvalidAccessKeyIdNotFound => "Specified access key is not found.",
        ErrorCode::InvalidAccessKeyIdInactive => "Specified access key is disabled.",
        _ => "The request could not be processed.",
    }
}

impl Answer {
    /// `{"RequestId": ...}` with 200.
    pub(crate) fn success(ctx: &Ctx) -> Self {
        let body = serde_json::json!({ "RequestId": ctx.request_id }).to_string();
        Self {
            status: StatusCode::OK,
            body: Bytes::from(body),
            code: None,
            request_id: Some(ctx.request_id.clone()),
            retry_after_ms: None,
            html: false,
            close: false,
        }
    }

    /// A JSON error body with every field the service sends.
    pub(crate) fn error(
        ctx: &Ctx,
        status: StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        let recommend = recommend(code.as_str());
        let wire = code.as_str().to_owned();
        let body = ServiceError::new(status, code, message)
            .with_request_id(&ctx.request_id)
            .with_host_id(&ctx.host_id)
            .with_recommend(recommend)
            .to_json_body();
        Self {
            status,
            body: Bytes::from(body),
            code: Some(wire),
            request_id: Some(ctx.request_id.clone()),
            retry_after_ms: None,
            html: false,
            close: false,
        }
    }

    /// `code` with its usual status and message.
    pub(crate) fn coded(ctx: &Ctx, code: ErrorCode) -> Self {
        let message = message_for(&code);
        Self::error(ctx, code.status(), code, message)
    }

    /// A proxy's HTML error page.
    pub(crate) fn html(status: StatusCode) -> Self {
        let line = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        let body = format!(
            "<!DOCTYPE html>\n<html>\n<head><title>{line}</title></head>\n<body>\n\
             <center><h1>{line}</h1></center>\n<hr><center>Tengine</center>\n</body>\n</html>\n"
        );
        Self {
            status,
            body: Bytes::from(body),
            code: Some("Html".to_owned()),
            request_id: None,
            retry_after_ms: None,
            html: true,
            close: false,
        }
    }

    /// The same answer, 200, with only the first half of its body.
    pub(crate) fn truncated(mut self) -> Self {
        let keep = (self.body.len() / 2).max(1).min(self.body.len());
        self.body = self.body.slice(..keep);
        self.status = StatusCode::OK;
        self.code = Some("Truncated".to_owned());
        self
    }

    /// The log's outcome column.
    pub(crate) fn outcome(&self) -> &str {
        self.code.as_deref().unwrap_or("OK")
    }

    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        let content_type = if self.html { HTML } else { JSON };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(id) = self
            .request_id
            .and_then(|id| HeaderValue::try_from(id).ok())
        {
            headers.insert("x-acs-request-id", id);
        }
        if let Some(ms) = self.retry_after_ms {
            headers.insert(RETRY_AFTER_HEADER, HeaderValue::from(ms));
        }
        if self.close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_every_field() {
        let ctx = Ctx::new(&http::HeaderMap::new(), Some("cn-hangzhou"));
        let a = Answer::coded(&ctx, ErrorCode::InvalidImageIdNotFound);
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["RequestId"], ctx.request_id.as_str());
        assert_eq!(v["HostId"], "swas.cn-hangzhou.aliyuncs.com");
        assert_eq!(v["Code"], "InvalidImageId.NotFound");
        assert_eq!(v["Message"], "The specified ImageId does not exist.");
        assert_eq!(
            v["Recommend"],
            "https://api.alibabacloud.com/troubleshoot?q=InvalidImageId.NotFound&product=swas-open"
        );
    }

    #[test]
    fn request_ids_are_uppercase_v4() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_ascii_uppercase());
        assert_eq!(id.as_bytes()[14], b'4');
    }

    #[test]
    fn truncation_keeps_half() {
        let ctx = Ctx::new(&http::HeaderMap::new(), None);
        let a = Answer::success(&ctx).truncated();
        assert!(a.body.starts_with(b"{\"RequestId\":\""));
        assert!(serde_json::from_slice::<serde_json::Value>(&a.body).is_err());
    }
}
