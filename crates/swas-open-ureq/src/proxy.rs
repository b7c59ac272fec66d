//! Which proxy a request goes through. The decision is hyper-util's [`Matcher`] (curl's
//! `NO_PROXY` rules) fed the settings the core resolved, exactly as in the async client;
//! ureq's own proxy support then carries the request through a `CONNECT` tunnel.

use http::Uri;
use hyper_util::client::proxy::matcher::Matcher;
use swas_open_core::{Error, ErrorKind};

/// The proxies of a client, when it has any.
pub(crate) struct Proxies {
    matcher: Matcher,
    http: Option<ureq::Proxy>,
    https: Option<ureq::Proxy>,
}

impl Proxies {
    /// `None` when no request of the client can go through a proxy.
    pub(crate) fn new(settings: &swas_open_core::Proxies) -> Result<Option<Self>, Error> {
        if settings.http.is_none() && settings.https.is_none() {
            return Ok(None);
        }
        let proxy = |url: &Option<String>, which: &str| {
            url.as_deref()
                .map(ureq::Proxy::new)
                .transpose()
                .map_err(|e| Error::from(ErrorKind::Config(format!("the {which} proxy: {e}"))))
        };
        let mut matcher = Matcher::builder();
        if let Some(url) = &settings.http {
            matcher = matcher.http(url.as_str());
        }
        if let Some(url) = &settings.https {
            matcher = matcher.https(url.as_str());
        }
        if let Some(list) = &settings.no_proxy {
            matcher = matcher.no(list.as_str());
        }
        Ok(Some(Self {
            matcher: matcher.build(),
            http: proxy(&settings.http, "HTTP")?,
            https: proxy(&settings.https, "HTTPS")?,
        }))
    }

    /// The proxy for a request to `uri`, unless its host is on the no-proxy list.
    pub(crate) fn for_uri(&self, uri: &Uri) -> Option<&ureq::Proxy> {
        self.matcher.intercept(uri)?;
        match uri.scheme_str() {
            Some("https") => self.https.as_ref(),
            _ => self.http.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(http: Option<&str>, https: Option<&str>, no: Option<&str>) -> Option<Proxies> {
        let mut settings = swas_open_core::Proxies::default();
        settings.http = http.map(str::to_owned);
        settings.https = https.map(str::to_owned);
        settings.no_proxy = no.map(str::to_owned);
        Proxies::new(&settings).unwrap()
    }

    fn host_of(p: &Proxies, uri: &str) -> Option<String> {
        p.for_uri(&uri.parse().unwrap())
            .map(|p| p.host().to_owned())
    }

    #[test]
    fn none_without_proxies() {
        assert!(proxies(None, None, Some("*")).is_none());
    }

    #[test]
    fn scheme_and_no_proxy_decide() {
        let p = proxies(
            Some("http://plain:3128"),
            Some("http://user:pw@tunnel:3128"),
            Some("internal.example, 10.0.0.0/8"),
        )
        .unwrap();
        assert_eq!(
            host_of(&p, "https://swas.cn-hangzhou.aliyuncs.com").as_deref(),
            Some("tunnel")
        );
        assert_eq!(
            host_of(&p, "http://127.0.0.1:8080").as_deref(),
            Some("plain")
        );
        assert_eq!(host_of(&p, "https://swas.internal.example"), None);
        assert_eq!(host_of(&p, "https://internal.example:8443"), None);
        assert_eq!(host_of(&p, "https://10.1.2.3"), None);
        assert_eq!(
            host_of(&p, "https://notinternal.example").as_deref(),
            Some("tunnel")
        );
        let https = p.for_uri(&"https://x".parse().unwrap()).unwrap();
        assert_eq!(
            (https.username(), https.password()),
            (Some("user"), Some("pw"))
        );
    }
}
