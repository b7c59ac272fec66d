//! Answers: request ids, the JSON bodies of successes and errors, and their HTTP form.

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use swas_open_core::{Endpoint, EndpointKind, ErrorCode, RegionId, ServiceError, PRODUCT};

const JSON: &str = "application/json;charset=utf-8";
const HTML: &str = "text/html";
const XML: &str = "text/xml;charset=utf-8";
pub(crate) const TEXT: &str = "text/plain";
/// The header carrying a throttled request's retry hint, in milliseconds.
const RETRY_AFTER: &str = "x-acs-retry-after";

/// What one request is answered with; cloned whole when an idempotent request is replayed.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// The error code, or `None` for a success (also the log's outcome column).
    pub(crate) code: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after_ms: Option<u64>,
    pub(crate) content_type: &'static str,
    /// Close the connection after answering (the request body was not read in full).
    pub(crate) close: bool,
}

/// Per-request values every answer needs.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) request_id: String,
    pub(crate) host_id: String,
    /// The product code of the troubleshooting link.
    product: &'static str,
}

impl Ctx {
    /// For SWAS: `HostId` is the `Host` received, else the region's public endpoint.
    pub(crate) fn new(headers: &http::HeaderMap, region: Option<&RegionId>) -> Self {
        let fallback = match region {
            Some(r) => Endpoint::for_region(r, EndpointKind::Public)
                .host()
                .to_owned(),
            None => "swas.aliyuncs.com".to_owned(),
        };
        Self::with(headers, fallback, PRODUCT)
    }

    /// For STS: `HostId` is the `Host` received, else STS's central endpoint.
    pub(crate) fn sts(headers: &http::HeaderMap) -> Self {
        Self::with(headers, "sts.aliyuncs.com".to_owned(), "Sts")
    }

    fn with(headers: &http::HeaderMap, fallback: String, product: &'static str) -> Self {
        let host_id = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .map_or(fallback, str::to_owned);
        Self {
            request_id: new_request_id(),
            host_id,
            product,
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

/// What RFC 3986 query values escape: everything but the unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The troubleshooting link of `code`.
fn recommend(code: &str, product: &str) -> String {
    let code = percent_encoding::utf8_percent_encode(code, QUERY_VALUE);
    format!("https://api.alibabacloud.com/troubleshoot?q={code}&product={product}")
}

/// `{"RequestId": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SuccessBody<'a> {
    request_id: &'a str,
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
        ErrorCode::InvalidSecurityTokenExpired => "The security token you provided has expired.",
        _ => "The request could not be processed.",
    }
}

impl Answer {
    /// `{"RequestId": ...}` with 200.
    pub(crate) fn success(ctx: &Ctx) -> Self {
        Self::json(
            ctx,
            &SuccessBody {
                request_id: &ctx.request_id,
            },
        )
    }

    /// `body` as JSON with 200.
    pub(crate) fn json(ctx: &Ctx, body: &impl Serialize) -> Self {
        Self {
            status: StatusCode::OK,
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
            code: None,
            request_id: Some(ctx.request_id.clone()),
            retry_after_ms: None,
            content_type: JSON,
            close: false,
        }
    }

    /// A bare answer: `status`, `content_type` and `body`, logged as `code` (or `OK`).
    pub(crate) fn plain(
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<Bytes>,
        code: Option<&str>,
    ) -> Self {
        Self {
            status,
            body: body.into(),
            code: code.map(str::to_owned),
            request_id: None,
            retry_after_ms: None,
            content_type,
            close: false,
        }
    }

    /// A JSON error body with every field the service (and STS) sends: `RequestId`,
    /// `HostId`, `Code`, `Message`, `Recommend`, written by the core's [`ServiceError`].
    pub(crate) fn error(ctx: &Ctx, status: StatusCode, code: ErrorCode, message: &str) -> Self {
        let wire_code = code.as_str().to_owned();
        let mut error = ServiceError::new(status, code, message);
        error.request_id = Some(ctx.request_id.clone());
        error.host_id = Some(ctx.host_id.clone());
        error.recommend = Some(recommend(&wire_code, ctx.product));
        Self {
            status,
            body: Bytes::from(error.to_json_body()),
            code: Some(wire_code),
            request_id: error.request_id,
            retry_after_ms: None,
            content_type: JSON,
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
        Self::plain(status, HTML, body, Some("Html"))
    }

    /// The same answer, 200, with only the first half of its body.
    pub(crate) fn truncated(mut self) -> Self {
        let keep = (self.body.len() / 2).max(1).min(self.body.len());
        self.body = self.body.slice(..keep);
        self.status = StatusCode::OK;
        self.code = Some("Truncated".to_owned());
        self
    }

    /// The same answer with its JSON object body written as XML under `root`, as the RPC
    /// services answer `Format=XML` (`<root><Field>value</Field>...</root>`, fields in the
    /// order of the JSON, nested objects as nested elements, arrays as repeated elements). A
    /// body that is not a JSON object is left as it is.
    pub(crate) fn into_xml(mut self, root: &str) -> Self {
        let Ok(fields @ Node::Fields(_)) = serde_json::from_slice::<Node>(&self.body) else {
            return self;
        };
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        fields.write_xml(&mut xml, root);
        self.body = Bytes::from(xml);
        self.content_type = XML;
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
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(id) = self
            .request_id
            .and_then(|id| HeaderValue::try_from(id).ok())
        {
            headers.insert("x-acs-request-id", id);
        }
        if let Some(ms) = self.retry_after_ms {
            headers.insert(RETRY_AFTER, HeaderValue::from(ms));
        }
        if self.close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A JSON value with its object's fields in the order they were written (which
/// `serde_json::Value` does not keep), for [`Answer::into_xml`].
enum Node {
    Fields(Vec<(String, Node)>),
    Items(Vec<Node>),
    Text(String),
    Null,
}

impl Node {
    /// Appends `<name>value</name>`, objects as nested elements, arrays as repeated elements.
    fn write_xml(&self, out: &mut String, name: &str) {
        if let Node::Items(items) = self {
            items.iter().for_each(|item| item.write_xml(out, name));
            return;
        }
        out.push('<');
        out.push_str(name);
        out.push('>');
        match self {
            Node::Fields(fields) => fields.iter().for_each(|(n, v)| v.write_xml(out, n)),
            Node::Text(text) => escape_xml(out, text),
            Node::Items(_) | Node::Null => {}
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Text(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(Node::Fields(fields))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

fn escape_xml(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_bodies() {
        let ctx = Ctx::sts(&http::HeaderMap::new());
        let a = Answer::error(
            &ctx,
            StatusCode::FORBIDDEN,
            ErrorCode::from("NoPermission"),
            "a <b> & 'c' \"d\"",
        )
        .into_xml("Error");
        let body = std::str::from_utf8(&a.body).unwrap();
        assert!(
            body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>"),
            "{body}"
        );
        assert!(body.contains("<Code>NoPermission</Code>"), "{body}");
        assert!(
            body.contains("<Message>a &lt;b&gt; &amp; &apos;c&apos; &quot;d&quot;</Message>"),
            "{body}"
        );
        assert!(body.ends_with("</Error>"), "{body}");
        assert_eq!(a.content_type, XML);
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let nested = Answer::json(&ctx, &serde_json::json!({"A": {"B": 1, "C": [true, null]}}))
            .into_xml("R");
        assert!(std::str::from_utf8(&nested.body)
            .unwrap()
            .ends_with("<R><A><B>1</B><C>true</C><C></C></A></R>"));
        // Fields keep the order written: the service's error order.
        let body = std::str::from_utf8(&a.body).unwrap();
        let at = |tag: &str| body.find(tag).unwrap();
        assert!(at("<RequestId>") < at("<HostId>") && at("<HostId>") < at("<Code>"));
        assert!(at("<Code>") < at("<Message>") && at("<Message>") < at("<Recommend>"));
        let html = Answer::html(StatusCode::BAD_GATEWAY);
        assert_eq!(html.clone().into_xml("R").body, html.body);
    }

    #[test]
    fn error_body_has_every_field() {
        let region = RegionId::new("cn-hangzhou").unwrap();
        let ctx = Ctx::new(&http::HeaderMap::new(), Some(&region));
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
    fn error_body_fields_are_in_the_service_order() {
        let mut headers = http::HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let ctx = Ctx::sts(&headers);
        let a = Answer::error(
            &ctx,
            StatusCode::FORBIDDEN,
            ErrorCode::from("NoPermission"),
            "no",
        );
        let expected = format!(
            r#"{{"RequestId":"{}","HostId":"127.0.0.1:8080","Code":"NoPermission","Message":"no","Recommend":"https://api.alibabacloud.com/troubleshoot?q=NoPermission&product=Sts"}}"#,
            ctx.request_id
        );
        assert_eq!(std::str::from_utf8(&a.body).unwrap(), expected);
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(a.outcome(), "NoPermission");
        assert_eq!(a.request_id.as_deref(), Some(ctx.request_id.as_str()));
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
