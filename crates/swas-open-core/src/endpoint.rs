//! Where requests go: the regional endpoint table, or an explicit URL.

use std::fmt;
use std::str::FromStr;

use http::uri::{Authority, Scheme as UriScheme};
use http::HeaderValue;

use crate::input::RegionId;

/// Regions with a public endpoint `swas.<region>.aliyuncs.com`.
const PUBLIC_REGIONS: &[&str] = &[
    "us-west-1",
    "us-east-1",
    "me-central-1",
    "eu-west-1",
    "eu-central-1",
    "cn-zhangjiakou",
    "cn-wulanchabu",
    "cn-wuhan-lr",
    "cn-shenzhen",
    "cn-shanghai",
    "cn-qingdao",
    "cn-nanjing",
    "cn-huhehaote",
    "cn-hongkong",
    "cn-heyuan",
    "cn-hangzhou",
    "cn-guangzhou",
    "cn-fuzhou",
    "cn-chengdu",
    "cn-beijing",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
];

/// Regions with a VPC endpoint `swas-vpc.<region>.aliyuncs.com`.
const VPC_REGIONS: &[&str] = &[
    "us-west-1",
    "us-east-1",
    "eu-west-1",
    "eu-central-1",
    "cn-zhangjiakou",
    "cn-shenzhen",
    "cn-shanghai",
    "cn-qingdao",
    "cn-huhehaote",
    "cn-hongkong",
    "cn-hangzhou",
    "cn-beijing",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-northeast-1",
];

/// Which network the regional endpoint is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EndpointKind {
    /// `swas.<region>.aliyuncs.com`.
    #[default]
    Public,
    /// `swas-vpc.<region>.aliyuncs.com`, reachable from inside a VPC.
    Vpc,
}

impl EndpointKind {
    /// Whether the published table lists `region` for this kind. Regions appear over time, so
    /// an unlisted region still resolves by the pattern; callers may warn. (Feature
    /// `workspace-internals`: for the CLI, not covered by semver.)
    #[cfg(feature = "workspace-internals")]
    #[doc(hidden)]
    pub fn is_listed(self, region: &RegionId) -> bool {
        self.lists(region)
    }

    /// Whether the published table lists `region` for this kind.
    pub(crate) fn lists(self, region: &RegionId) -> bool {
        let table = match self {
            EndpointKind::Public => PUBLIC_REGIONS,
            EndpointKind::Vpc => VPC_REGIONS,
        };
        table.contains(&region.as_str())
    }
}

/// `https` (the default) or `http` (only when an explicit endpoint URL says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    /// TLS.
    Https,
    /// Plain text, e.g. for a local emulator.
    Http,
}

impl Scheme {
    /// `"https"` or `"http"`.
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// An endpoint URL that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The scheme is neither `https` nor `http`.
    #[error("endpoint {0:?}: scheme must be https or http")]
    Scheme(String),
    /// The host or port does not parse.
    #[error("endpoint {0:?}: not a valid host[:port]")]
    Authority(String),
    /// The URL has a path, query, fragment or user info, which an RPC endpoint never has.
    #[error("endpoint {0:?}: must be only scheme://host[:port] (no path, query or user info)")]
    Extra(String),
}

/// A resolved endpoint: scheme, host and optional port. It prints as its URL.
///
/// ```
/// use swas_open::sans_io::RegionId;
/// use swas_open::{Endpoint, EndpointKind};
/// let region = RegionId::new("cn-hangzhou")?;
/// assert_eq!(Endpoint::for_region(&region, EndpointKind::Public).to_string(), "https://swas.cn-hangzhou.aliyuncs.com");
/// assert_eq!(
///     Endpoint::for_region(&region, EndpointKind::Vpc).host(),
///     "swas-vpc.cn-hangzhou.aliyuncs.com"
/// );
/// let local: Endpoint = "http://127.0.0.1:8080/".parse()?;
/// assert_eq!(local.to_string(), "http://127.0.0.1:8080");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    host_header: HeaderValue,
}

impl Endpoint {
    /// The public or VPC endpoint of `region`, by the published pattern
    /// (`swas.<region>.aliyuncs.com` or `swas-vpc.<region>.aliyuncs.com`); this is the one
    /// place that pattern is written.
    pub fn for_region(region: &RegionId, kind: EndpointKind) -> Self {
        let prefix = match kind {
            EndpointKind::Public => "swas",
            EndpointKind::Vpc => "swas-vpc",
        };
        let host = format!("{prefix}.{}.aliyuncs.com", region.as_str());
        // A RegionId holds only [a-z0-9-], so the host always parses.
        Endpoint::from_parts(Scheme::Https, &host).expect("region hosts are valid authorities")
    }

    fn from_parts(scheme: Scheme, authority: &str) -> Option<Self> {
        let authority: Authority = authority.parse().ok()?;
        // `Authority` accepts any digits after `:`; a port must also fit in 16 bits.
        let bad_port = authority.as_str() != authority.host() && authority.port_u16().is_none();
        if authority.host().is_empty() || authority.as_str().ends_with(':') || bad_port {
            return None;
        }
        let host_header = HeaderValue::from_str(authority.as_str()).ok()?;
        Some(Self {
            scheme,
            authority,
            host_header,
        })
    }

    /// The scheme.
    #[cfg(test)]
    fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, without the port.
    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// `host[:port]`, the value of the `host` header.
    #[cfg(test)]
    pub(crate) fn authority(&self) -> &str {
        self.authority.as_str()
    }

    pub(crate) fn uri_scheme(&self) -> UriScheme {
        match self.scheme {
            Scheme::Https => UriScheme::HTTPS,
            Scheme::Http => UriScheme::HTTP,
        }
    }

    pub(crate) fn uri_authority(&self) -> &Authority {
        &self.authority
    }

    pub(crate) fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    /// Parses `https://host[:port]`, `http://host[:port]` or a bare `host[:port]` (HTTPS).
    /// A single trailing `/` is accepted.
    fn from_str(url: &str) -> Result<Self, EndpointError> {
        let (scheme, rest) = match url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some(_) => return Err(EndpointError::Scheme(url.to_owned())),
            None => (Scheme::Https, url),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(EndpointError::Extra(url.to_owned()));
        }
        Endpoint::from_parts(scheme, rest).ok_or_else(|| EndpointError::Authority(url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let e = Endpoint::from_str("swas.cn-beijing.aliyuncs.com").unwrap();
        assert_eq!(e.scheme(), Scheme::Https);
        assert_eq!(e.authority(), "swas.cn-beijing.aliyuncs.com");
        let e = Endpoint::from_str("HTTP://localhost:9000/").unwrap();
        assert_eq!((e.scheme(), e.host()), (Scheme::Http, "localhost"));
        assert_eq!(e.authority(), "localhost:9000");
        assert_eq!(e.to_string(), "http://localhost:9000");
        let e = Endpoint::from_str("http://[::1]:9000").unwrap();
        assert_eq!(e.authority(), "[::1]:9000");
        for bad in [
            "ftp://x",
            "https://",
            "https://x/path",
            "https://u@x",
            "https://x?q",
            "https://x:99999",
            "https://x:",
            "",
        ] {
            assert!(Endpoint::from_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_membership() {
        let r = RegionId::new("me-central-1").unwrap();
        assert!(EndpointKind::Public.lists(&r));
        assert!(!EndpointKind::Vpc.lists(&r));
        let new = RegionId::new("xx-new-9").unwrap();
        assert_eq!(
            Endpoint::for_region(&new, EndpointKind::Public).host(),
            "swas.xx-new-9.aliyuncs.com"
        );
    }
}
