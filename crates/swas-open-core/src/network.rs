//! What a transport needs to reach the service through a network: the proxies, resolved
//! from the builder and the environment as curl reads it, and the extra TLS roots. Only
//! strings and bytes live here; the transports parse them with their own TLS and proxy
//! code, so both clients take the same decisions from the same settings.

use std::fmt;
use std::path::Path;

use crate::error::Error;

/// The TLS crypto provider of both clients: rustls with *ring*, chosen explicitly (never the
/// process default). *ring* builds with a plain C compiler where aws-lc-rs needs more, and
/// serves every TLS 1.2 and 1.3 suite the service offers; it has no post-quantum key
/// exchange, which is why rustls 0.23.48 deprecates its constructor. The choice lives here
/// alone.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of `root_certificates` (PEM bundles) and, with `native_roots`, the
/// operating system's store: the body of
/// [`extra_root_certificates`](crate::extra_root_certificates).
#[cfg(feature = "tls")]
pub(crate) fn trusted_roots(
    root_certificates: &[Vec<u8>],
    native_roots: bool,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, Error> {
    use rustls::RootCertStore;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let config_error = |m: String| -> Error { crate::ErrorKind::Config(m).into() };
    let mut roots = Vec::new();
    let mut check = RootCertStore::empty();
    for (i, pem) in root_certificates.iter().enumerate() {
        let n = i + 1;
        let mut problem = None;
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert
                .map_err(|e| config_error(format!("root certificate bundle {n}: bad PEM: {e}")))?;
            match check.add(cert.clone()) {
                Ok(()) => roots.push(cert),
                Err(e) => {
                    tracing::warn!(bundle = n, error = %e, "skipping an unusable root certificate");
                    problem.get_or_insert(e);
                }
            }
        }
        if roots.len() == before {
            return Err(config_error(match problem {
                Some(e) => format!("root certificate bundle {n}: no usable certificate ({e})"),
                None => format!("root certificate bundle {n}: no PEM CERTIFICATE block"),
            }));
        }
    }
    if native_roots {
        let native = rustls_native_certs::load_native_certs();
        if native.certs.is_empty() {
            if let Some(e) = native.errors.first() {
                return Err(config_error(format!(
                    "the operating system's certificate store cannot be read: {e}"
                )));
            }
        }
        let (added, skipped) = check.add_parsable_certificates(native.certs.iter().cloned());
        tracing::debug!(added, skipped, "operating system roots");
        roots.extend(native.certs);
    }
    Ok(roots)
}

/// `SSL_CERT_FILE`: a PEM file of certificates to trust besides the built-in roots.
pub(crate) const ENV_SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// The proxies a client's connections go through, resolved once when the client is built.
///
/// A transport sends a request to an `https://` endpoint through a `CONNECT` tunnel to
/// [`https`](Self::https), and a request to an `http://` endpoint in absolute form to
/// [`http`](Self::http), unless the endpoint's host matches
/// [`no_proxy`](Self::no_proxy). Proxy URLs may carry Basic credentials
/// (`http://user:password@host:port`), which are sent as `Proxy-Authorization` and never
/// shown: the `Debug` form replaces them with `***`.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Proxies {
    /// The proxy for `http://` endpoints: an `http://[user:password@]host[:port]` URL.
    pub http: Option<String>,
    /// The proxy for `https://` endpoints: an `http://[user:password@]host[:port]` URL.
    pub https: Option<String>,
    /// The hosts reached directly, in curl's `NO_PROXY` syntax: a comma-separated list of
    /// host names (each also matching its subdomains; a leading dot is ignored), IP
    /// addresses, CIDR blocks, or `*` for every host.
    pub no_proxy: Option<String>,
}

impl fmt::Debug for Proxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxies")
            .field("http", &self.http.as_deref().map(redact))
            .field("https", &self.https.as_deref().map(redact))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// What the builder says about proxies.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum ProxyChoice {
    /// Read `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` (the default).
    #[default]
    Environment,
    /// This proxy for every endpoint.
    Url(String),
}

impl fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyChoice::Environment => f.write_str("Environment"),
            ProxyChoice::Url(url) => f.debug_tuple("Url").field(&redact(url)).finish(),
        }
    }
}

/// The first non-empty value among `names`, lowercase names first as curl reads them.
fn first(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|name| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| ((*name).to_owned(), v.trim().to_owned()))
    })
}

impl Proxies {
    /// Resolves the builder's choice against the environment `env`.
    ///
    /// Each builder option replaces its own variables: [`ProxyChoice::Url`] the proxy
    /// variables, `no_proxy` the `NO_PROXY` variable. The
    /// variables are read as curl reads them, the lowercase name before the uppercase one:
    /// `https_proxy`/`HTTPS_PROXY` for HTTPS endpoints, `http_proxy`/`HTTP_PROXY` for HTTP
    /// endpoints, `all_proxy`/`ALL_PROXY` for either when its own is unset, and
    /// `no_proxy`/`NO_PROXY`. Like curl, `HTTP_PROXY` in upper case is ignored in a CGI
    /// program (when `REQUEST_METHOD` is set), where a request's `Proxy:` header arrives
    /// under that name. Empty values count as unset.
    pub(crate) fn resolve(
        choice: &ProxyChoice,
        no_proxy: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let no_proxy = match no_proxy {
            Some(list) => Some(list.trim().to_owned()),
            None => first(env, &["no_proxy", "NO_PROXY"]).map(|(_, v)| v),
        }
        .filter(|list| !list.is_empty());
        // `*` matches every host, IP addresses included, as in curl: no proxy at all, and
        // the proxy variables are not even read.
        let everything = no_proxy
            .as_deref()
            .is_some_and(|list| list.split(',').any(|entry| entry.trim() == "*"));
        let (http, https) = match choice {
            ProxyChoice::Url(url) => {
                let url = checked("the proxy", url.trim())?;
                (Some(url.clone()), Some(url))
            }
            ProxyChoice::Environment if everything => (None, None),
            ProxyChoice::Environment => {
                let cgi = env("REQUEST_METHOD").is_some();
                let http_names: &[&str] = if cgi {
                    &["http_proxy"]
                } else {
                    &["http_proxy", "HTTP_PROXY"]
                };
                let all = first(env, &["all_proxy", "ALL_PROXY"]);
                let http = first(env, http_names).or_else(|| all.clone());
                let https = first(env, &["https_proxy", "HTTPS_PROXY"]).or(all);
                let check = |found: Option<(String, String)>| {
                    found
                        .map(|(name, url)| checked(&format!("${name}"), &url))
                        .transpose()
                };
                (check(http)?, check(https)?)
            }
        };
        let (http, https) = if everything {
            (None, None)
        } else {
            (http, https)
        };
        Ok(Proxies {
            http,
            https,
            no_proxy,
        })
    }
}

/// `url` when it is an `http://` proxy URL with a host (a URL without a scheme is taken as
/// `http://`); otherwise a configuration error naming `what`, the URL's credentials
/// redacted.
fn checked(what: &str, url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::config(format!("{what} {:?} {why}", redact(url)));
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|_| bad("is not a valid proxy URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(
            "is not supported: only http:// proxies are (HTTPS through a CONNECT tunnel)",
        ));
    }
    let host_missing = uri.authority().is_none_or(|a| {
        let host = a.as_str().rsplit_once('@').map_or(a.as_str(), |(_, h)| h);
        host.is_empty() || host.starts_with(':')
    });
    if host_missing {
        return Err(bad("has no host"));
    }
    Ok(with_scheme)
}

/// `url` with the credentials of its user-info part replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((_, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match scheme {
        Some(scheme) => format!("{scheme}://***@{host}{tail}"),
        None => format!("***@{host}{tail}"),
    }
}

/// The PEM bundles to trust besides the built-in roots: `added`, the `files`, then the file
/// named by `SSL_CERT_FILE` in `env`, the files read by `read`. An unreadable file is a
/// configuration error, as in curl and OpenSSL.
pub(crate) fn root_certificates(
    added: &[Vec<u8>],
    files: &[std::path::PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, Error> {
    let mut roots = added.to_vec();
    for path in files {
        let pem = read(path).map_err(|e| {
            Error::config(format!(
                "certificate file {} cannot be read: {e}",
                path.display()
            ))
        })?;
        roots.push(pem);
    }
    if let Some(path) = env(ENV_SSL_CERT_FILE).filter(|p| !p.is_empty()) {
        let pem = read(Path::new(&path)).map_err(|e| {
            Error::config(format!("{ENV_SSL_CERT_FILE} {path:?} cannot be read: {e}"))
        })?;
        roots.push(pem);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn from_env(pairs: &[(&str, &str)]) -> Proxies {
        Proxies::resolve(&ProxyChoice::Environment, None, &env_of(pairs)).unwrap()
    }

    #[test]
    fn environment_as_curl_reads_it() {
        assert_eq!(from_env(&[]), Proxies::default());
        let p = from_env(&[("HTTPS_PROXY", "http://up:1"), ("https_proxy", "low:2")]);
        assert_eq!(p.https.as_deref(), Some("http://low:2"));
        assert_eq!(p.http, None);
        let p = from_env(&[("ALL_PROXY", "http://all:3"), ("HTTP_PROXY", "http://h:4")]);
        assert_eq!(p.https.as_deref(), Some("http://all:3"));
        assert_eq!(p.http.as_deref(), Some("http://h:4"));
        let p = from_env(&[("all_proxy", " "), ("https_proxy", "")]);
        assert_eq!(p, Proxies::default());
        let p = from_env(&[("NO_PROXY", "a.example"), ("no_proxy", "b.example")]);
        assert_eq!(p.no_proxy.as_deref(), Some("b.example"));
        // The CGI guard: only the lowercase name counts there.
        let cgi = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
        assert_eq!(from_env(&cgi).http, None);
        let cgi = [("REQUEST_METHOD", "GET"), ("http_proxy", "http://ok:1")];
        assert_eq!(from_env(&cgi).http.as_deref(), Some("http://ok:1"));
    }

    #[test]
    fn builder_options_override_their_variables() {
        let env = env_of(&[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "env.example")]);
        let url = ProxyChoice::Url("http://mine:8080".into());
        let p = Proxies::resolve(&url, None, &env).unwrap();
        assert_eq!(p.https.as_deref(), Some("http://mine:8080"));
        assert_eq!(p.http.as_deref(), Some("http://mine:8080"));
        assert_eq!(p.no_proxy.as_deref(), Some("env.example"));
        let p = Proxies::resolve(&ProxyChoice::Environment, Some("mine.example"), &env).unwrap();
        assert_eq!(p.https.as_deref(), Some("http://env:1"));
        assert_eq!(p.no_proxy.as_deref(), Some("mine.example"));
        let p = Proxies::resolve(&ProxyChoice::Environment, Some("*"), &env).unwrap();
        assert_eq!((p.http, p.https), (None, None));
        let p = Proxies::resolve(&ProxyChoice::Environment, Some(""), &env).unwrap();
        assert_eq!(p.no_proxy, None);
        let p = Proxies::resolve(&url, Some("example.com, *"), &env).unwrap();
        assert_eq!((p.http, p.https), (None, None));
    }

    #[test]
    fn unusable_proxies_are_refused_without_their_secrets() {
        let refused = |url: &str| {
            Proxies::resolve(&ProxyChoice::Url(url.into()), None, &env_of(&[]))
                .unwrap_err()
                .to_string()
        };
        let m = refused("socks5://user:hunter2@proxy:1080");
        assert!(m.contains("only http://"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        assert!(refused("https://proxy:443").contains("not supported"));
        assert!(refused("http://").contains("proxy"));
        assert!(refused("http://user:pw@:80").contains("no host"));
        let env = env_of(&[("HTTPS_PROXY", "http://a b")]);
        let m = Proxies::resolve(&ProxyChoice::Environment, None, &env)
            .unwrap_err()
            .to_string();
        assert!(m.contains("$HTTPS_PROXY"), "{m}");
    }

    #[test]
    fn debug_redacts_credentials() {
        let p = Proxies {
            http: Some("http://user:hunter2@proxy:3128".into()),
            https: Some("user:hunter2@proxy:3128/path".into()),
            no_proxy: None,
        };
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("user"),
            "{shown}"
        );
        assert!(shown.contains("http://***@proxy:3128"), "{shown}");
        let choice = format!("{:?}", ProxyChoice::Url("http://u:hunter2@p:1".into()));
        assert!(!choice.contains("hunter2"), "{choice}");
        assert_eq!(redact("http://proxy:1/a@b"), "http://proxy:1/a@b");
    }

    #[test]
    fn ssl_cert_file_is_added_and_must_be_readable() {
        let read_ok = |_: &Path| Ok(b"PEM".to_vec());
        let roots = root_certificates(&[b"A".to_vec()], &[], &env_of(&[]), &read_ok).unwrap();
        assert_eq!(roots, vec![b"A".to_vec()]);
        let env = env_of(&[("SSL_CERT_FILE", "/ca.pem")]);
        let roots = root_certificates(&[], &[], &env, &read_ok).unwrap();
        assert_eq!(roots, vec![b"PEM".to_vec()]);
        let missing = |_: &Path| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let m = root_certificates(&[], &[], &env, &missing)
            .unwrap_err()
            .to_string();
        assert!(m.contains("SSL_CERT_FILE") && m.contains("/ca.pem"), "{m}");
    }

    proptest! {
        /// Whatever the URL, its password never shows in the redacted form or in the
        /// error that refuses it.
        #[test]
        fn passwords_never_show(
            scheme in prop::sample::select(vec!["http://", "https://", "socks5://", ""]),
            user in "[a-z]{1,8}",
            password in "[A-Za-z0-9]{12,20}",
            host in "[a-z]{0,8}(:[0-9]{1,5})?",
            tail in "(/[a-z@]{0,5})?",
        ) {
            let url = format!("{scheme}{user}:{password}@{host}{tail}");
            prop_assert!(!redact(&url).contains(&password));
            let result = Proxies::resolve(&ProxyChoice::Url(url.clone()), None, &env_of(&[]));
            let shown = match result {
                Ok(p) => format!("{:?}", p),
                Err(e) => format!("{} {:?}", e, e),
            };
            prop_assert!(!shown.contains(&password), "{}", shown);
        }
    }
}

#[cfg(all(test, feature = "tls"))]
mod tls_tests {
    use crate::{ClientBuilder, Config, Credentials, ErrorKind};

    #[test]
    fn garbage_roots_are_refused_with_their_bundle_number() {
        for (pem, why) in [
            (&b"not a certificate"[..], "no PEM CERTIFICATE block"),
            (
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                "bad PEM",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "no usable certificate",
            ),
        ] {
            let config = ClientBuilder::<Config>::default()
                .credentials(Credentials::new("id", "secret").unwrap())
                .add_root_certificate(pem)
                .build()
                .unwrap();
            let e = crate::extra_root_certificates(&config).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
            assert!(m.contains("bundle 1") && m.contains(why), "{m}");
        }
    }
}
