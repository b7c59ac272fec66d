//! The signing building blocks against every published known-answer vector, stage by stage
//! where the vector gives the stage (percent-encoding, raw HMAC-SHA1, V1 canonical query,
//! string to sign and signature, V3 hashed canonical request, signature and Authorization);
//! the fast DeleteCustomImage paths against the generic construction; and, with the
//! `verify` feature, the verifier against requests captured from the official SDKs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use sha1::Sha1;

use super::{canonical_query, v1, v3, Nonce, SignatureVersion, Signer, SigningContext};
use crate::encode::{form_decode, percent_encode};
use crate::{Credentials, DeleteCustomImage, Endpoint, EndpointKind, Timestamp};

#[path = "../../tests/support/signing_vectors.rs"]
mod signing_vectors;
use signing_vectors::{Signing, V1Vector};

/// The vectors of one kind, checked to be all that were published.
fn published<'a, T>(cases: &'a [T], kind: &str, count: usize) -> &'a [T] {
    assert_eq!(cases.len(), count, "{kind}");
    cases
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The headers the spec says this crate's V3 signer signs: `host` and every `x-acs-*`.
fn signed_by_this_crate(name: &str) -> bool {
    name == "host" || name.starts_with("x-acs-")
}

#[test]
fn percent_encode_vectors() {
    let f = Signing::load();
    for c in published(&f.percent_encode, "percent_encode", 3) {
        assert_eq!(percent_encode(&c.input), c.output, "{}", c.source);
        let mut table = Vec::new();
        crate::encode::percent_encode_into_sink(&mut table, c.input.as_bytes());
        assert_eq!(table.as_slice(), c.output.as_bytes());
    }
}

#[test]
fn hmac_sha1_raw_vectors() {
    let f = Signing::load();
    for c in published(&f.hmac_sha1_raw, "hmac_sha1_raw", 2) {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(c.key.as_bytes()).unwrap();
        mac.update(c.message.as_bytes());
        assert_eq!(
            STANDARD.encode(mac.finalize().into_bytes()),
            c.base64,
            "{}",
            c.source
        );
    }
}

#[test]
fn v1_vectors_stage_by_stage() {
    let f = Signing::load();
    for c in published(&f.v1_rpc_hmac_sha1, "v1_rpc_hmac_sha1", 9) {
        let params = pairs(&c.params);
        let query = v1::canonical_query(params.iter().copied());
        if let Some(expected) = &c.canonical_query {
            assert_eq!(&query, expected, "{}", c.source);
        }
        let sts = v1::string_to_sign(&c.method, &query);
        if let Some(expected) = &c.string_to_sign {
            assert_eq!(&sts, expected, "{}", c.source);
        }
        assert_eq!(v1::signature(&c.secret, &sts), c.signature, "{}", c.source);
    }
}

/// Inputs of the DeleteCustomImage vectors, as the fast signer takes them.
fn delete_vector_inputs(c: &V1Vector) -> (Signer, DeleteCustomImage, SigningContext) {
    let p = &c.params;
    let mut creds = Credentials::new(&p["AccessKeyId"], &c.secret).unwrap();
    if let Some(token) = p.get("SecurityToken") {
        creds = creds.with_security_token(token).unwrap();
    }
    let (op, ctx) = delete_vector_request(p, &p["Timestamp"], &p["SignatureNonce"]);
    (Signer::new(creds), op, ctx)
}

/// A vector's DeleteCustomImage input (from its query parameters) and signing context.
fn delete_vector_request(
    query: &std::collections::BTreeMap<String, String>,
    timestamp: &str,
    nonce: &str,
) -> (DeleteCustomImage, SigningContext) {
    let op = DeleteCustomImage::new(&query["RegionId"], &query["ImageId"])
        .unwrap()
        .with_client_token(query["ClientToken"].as_str())
        .unwrap();
    let ctx = SigningContext::new(
        timestamp.parse::<Timestamp>().unwrap(),
        Nonce::new(nonce).unwrap(),
    );
    (op, ctx)
}

#[test]
fn v1_fast_signer_matches_delete_custom_image_vectors() {
    let f = Signing::load();
    let mut checked = 0;
    for c in &f.v1_rpc_hmac_sha1 {
        let action = c.params.get("Action").map(String::as_str);
        if action != Some("DeleteCustomImage") || c.method != "POST" {
            continue;
        }
        let (signer, op, ctx) = delete_vector_inputs(c);
        let endpoint = Endpoint::for_region(op.region_id(), EndpointKind::Public);
        let req = signer.sign(&op, &endpoint, &ctx);
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().path(), "/");
        assert_eq!(req.uri().host(), Some("swas.cn-hangzhou.aliyuncs.com"));
        assert!(req.body().is_empty());
        let query = req.uri().query().unwrap();
        let (unsigned, signature) = query.rsplit_once("&Signature=").unwrap();
        if let Some(expected) = &c.canonical_query {
            assert_eq!(unsigned, expected);
        }
        assert_eq!(signature, percent_encode(&c.signature));
        for h in ["host", "user-agent", "x-acs-action", "x-acs-version"] {
            assert!(req.headers().contains_key(h), "{h}");
        }
        assert_eq!(req.headers()["content-length"], "0");
        assert_eq!(req.headers()["x-acs-action"], "DeleteCustomImage");
        assert_eq!(req.headers()["x-acs-version"], "2020-06-01");

        // The verifier accepts it with the right secret and reports the same string to sign.
        #[cfg(feature = "verify")]
        {
            let secret = c.secret.clone();
            let ok =
                crate::verify_request(&req, |_| crate::Secret::access_key_secret(&*secret).ok())
                    .unwrap();
            assert_eq!(ok.version, SignatureVersion::V1);
            if let Some(expected) = &c.string_to_sign {
                assert_eq!(&ok.string_to_sign, expected);
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn v3_vectors_stage_by_stage() {
    let f = Signing::load();
    for c in published(&f.v3_acs3_hmac_sha256, "v3_acs3_hmac_sha256", 4) {
        let query = canonical_query(pairs(&c.query));
        let headers = v3::canonical_headers(c.header_pairs());
        let hashed_payload = c
            .hashed_payload
            .as_deref()
            .unwrap_or(v3::EMPTY_PAYLOAD_SHA256);
        let request = v3::canonical_request(
            &c.method,
            &c.canonical_uri,
            &query,
            &headers,
            hashed_payload,
        );
        let hashed = v3::sha256_hex(request.as_bytes());
        if let Some(expected) = &c.hashed_canonical_request {
            assert_eq!(&hashed, expected, "{}", c.source);
        }
        let signature = v3::signature(&c.secret, &v3::string_to_sign(&hashed));
        if let Some(expected) = &c.signature {
            assert_eq!(&signature, expected, "{}", c.source);
        }
        if let Some(expected) = &c.authorization {
            let auth = v3::authorization(&c.access_key_id, &headers.signed, &signature);
            assert_eq!(&auth, expected, "{}", c.source);
        }
    }
}

#[test]
fn v3_fast_signer_matches_delete_custom_image_vector() {
    let f = Signing::load();
    let (c, h) = f
        .v3_acs3_hmac_sha256
        .iter()
        .find_map(|c| {
            let h = c.headers.as_ref()?;
            (h.get("x-acs-action")? == "DeleteCustomImage").then_some((c, h))
        })
        .unwrap();
    let signer = Signer::new(Credentials::new(&c.access_key_id, &c.secret).unwrap())
        .with_signature_version(SignatureVersion::V3);
    let (op, ctx) = delete_vector_request(&c.query, &h["x-acs-date"], &h["x-acs-signature-nonce"]);
    let endpoint = h["host"].parse::<Endpoint>().unwrap();
    let req = signer.sign(&op, &endpoint, &ctx);
    let auth = req.headers()["authorization"].to_str().unwrap();
    assert_eq!(
        auth,
        format!(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={}",
            c.signature.as_deref().unwrap()
        )
    );
    for (name, value) in h {
        assert_eq!(req.headers()[name.as_str()], value.as_str(), "{name}");
    }
    assert_eq!(
        req.uri().query(),
        Some("ClientToken=123e4567-e89b-12d3-a456-426655440000&ImageId=m-2zehv38jjmwva1ee%2A%2A%2A%2A&RegionId=cn-hangzhou")
    );
    #[cfg(feature = "verify")]
    {
        let secret = c.secret.clone();
        let ok = crate::verify_request(&req, |_| crate::Secret::access_key_secret(&*secret).ok())
            .unwrap();
        assert_eq!(ok.version, SignatureVersion::V3);
        assert_eq!(
            ok.string_to_sign,
            format!(
                "ACS3-HMAC-SHA256\n{}",
                c.hashed_canonical_request.as_deref().unwrap()
            )
        );
    }
}

/// The V3 signer's headers: `SignedHeaders` names exactly the `host` and `x-acs-*` headers
/// sent, in canonical order, with and without an STS token; nothing else is signed.
#[test]
fn v3_signed_headers_are_the_headers_sent() {
    let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
    let ctx = SigningContext::new(
        Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(0)).unwrap(),
        Nonce::new("n").unwrap(),
    );
    let plain = Credentials::new("id", "secret").unwrap();
    let sts = plain.clone().with_security_token("token").unwrap();
    for creds in [plain, sts] {
        let signer = Signer::new(creds).with_signature_version(SignatureVersion::V3);
        let req = signer.sign(
            &op,
            &Endpoint::for_region(op.region_id(), EndpointKind::Public),
            &ctx,
        );
        let auth = req.headers()["authorization"].to_str().unwrap();
        let list = auth
            .split_once("SignedHeaders=")
            .unwrap()
            .1
            .split_once(',')
            .unwrap()
            .0;
        let mut sent: Vec<&str> = req
            .headers()
            .keys()
            .map(|n| n.as_str())
            .filter(|n| signed_by_this_crate(n))
            .collect();
        sent.sort_unstable();
        assert_eq!(list, sent.join(";"));
        let expected_len = if signer.credentials().security_token().is_some() {
            8
        } else {
            6
        };
        assert_eq!(sent.len(), expected_len, "{list}");
        assert!(!list.contains("user-agent"));
        assert_eq!(req.headers()["content-length"], "0");
    }
}

#[path = "../../tests/support/signing_inputs.rs"]
mod signing_inputs;
use signing_inputs::valid_inputs;

proptest! {
    #[test]
    fn canonical_query_is_sorted_by_raw_name_whatever_the_order(
        mut params in proptest::collection::vec(("[A-Za-z_=&%. -]{1,6}", "\\PC{0,6}"), 0..12),
        seed in any::<u64>(),
    ) {
        let sorted_once = canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        // A deterministic shuffle.
        let mut x = seed | 1;
        for i in (1..params.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            params.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let shuffled = canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        prop_assert_eq!(&sorted_once, &shuffled);
        let mut raw: Vec<_> = params.clone();
        raw.sort();
        let names: Vec<String> = sorted_once
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| form_decode(p.split_once('=').unwrap().0).unwrap())
            .collect();
        let expected: Vec<String> = raw.into_iter().map(|(n, _)| n).collect();
        if !params.is_empty() {
            prop_assert_eq!(names, expected);
        }
    }

    #[test]
    fn fast_signer_agrees_with_the_generic_construction((signer, op, ctx, secret, _, _) in valid_inputs()) {
        let endpoint = Endpoint::for_region(op.region_id(), EndpointKind::Public);
        let req = signer.sign(&op, &endpoint, &ctx);
        let query = req.uri().query().unwrap();
        match signer.signature_version() {
            SignatureVersion::V1 => {
                let (unsigned, sig) = query.rsplit_once("&Signature=").unwrap();
                let params: Vec<(String, String)> = unsigned
                    .split('&')
                    .map(|p| {
                        let (n, v) = p.split_once('=').unwrap();
                        (n.to_owned(), form_decode(v).unwrap())
                    })
                    .collect();
                let generic = v1::canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                prop_assert_eq!(unsigned, generic.as_str());
                let expected = v1::signature(&secret, &v1::string_to_sign("POST", &generic));
                prop_assert_eq!(form_decode(sig).unwrap(), expected);
            }
            _ => {
                let headers: Vec<(&str, &str)> = req
                    .headers()
                    .iter()
                    .filter(|(n, _)| signed_by_this_crate(n.as_str()))
                    .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
                    .collect();
                let canonical = v3::canonical_headers(headers);
                let cr = v3::canonical_request("POST", "/", query, &canonical, v3::EMPTY_PAYLOAD_SHA256);
                let sig = v3::signature(&secret, &v3::string_to_sign(&v3::sha256_hex(cr.as_bytes())));
                let auth = v3::authorization(signer.credentials().access_key_id(), &canonical.signed, &sig);
                prop_assert_eq!(req.headers()["authorization"].to_str().unwrap(), auth);
            }
        }
    }
}

#[cfg(feature = "verify")]
#[path = "../../tests/support/official_requests.rs"]
mod official_requests;

#[cfg(feature = "verify")]
mod verify {
    //! The verifier against what clients other than this crate send.

    use super::official_requests::{Official, OfficialRequest};
    use super::*;
    use crate::{verify_request, Secret, VerifyError};

    /// A captured request as the `http` types hold it on the server side.
    fn request(c: &OfficialRequest, raw_query: &str) -> http::Request<Vec<u8>> {
        let mut b = http::Request::builder()
            .method(c.method.as_str())
            .uri(format!("{}?{raw_query}", c.path));
        for (name, value) in &c.headers {
            b = b.header(name, value);
        }
        b.body(c.body.as_bytes().to_vec()).unwrap()
    }

    fn key(secret: &str) -> impl FnOnce(&str) -> Option<Secret> + '_ {
        move |_| Secret::access_key_secret(secret).ok()
    }

    /// The signature the request carries: V3's hex from `Authorization`, V1's `Signature`.
    fn carried_signature(req: &http::Request<Vec<u8>>) -> String {
        match req.headers().get("authorization") {
            Some(auth) => auth
                .to_str()
                .unwrap()
                .rsplit_once("Signature=")
                .unwrap()
                .1
                .to_owned(),
            None => req
                .uri()
                .query()
                .unwrap()
                .split('&')
                .find_map(|p| p.strip_prefix("Signature="))
                .map(|v| form_decode(v).unwrap())
                .unwrap(),
        }
    }

    /// Flips the lowest bit of byte `i`: the decoded value always changes (`%5E` becomes
    /// `%5D` or `$5E`, `+` becomes `*`, `&` becomes `'`), so no flip is an equivalent
    /// encoding of the same request.
    fn flipped(text: &str, i: usize) -> Option<String> {
        let mut bytes = text.as_bytes().to_vec();
        bytes[i] ^= 1;
        String::from_utf8(bytes).ok()
    }

    #[test]
    fn official_sdk_requests_verify_and_reproduce_their_signatures() {
        let f = Official::load();
        let requests = published(&f.requests, "requests", 6);
        let mut sdks: Vec<&str> = requests.iter().map(|c| c.sdk.as_str()).collect();
        sdks.dedup();
        assert_eq!(sdks, ["tea-v3", "tea-v1", "legacy-v1"]);
        for c in requests {
            let sdk = c.sdk.as_str();
            let secret = c.access_key_secret.as_str();
            let req = request(c, &c.raw_query);
            let ok = verify_request(&req, key(secret)).unwrap_or_else(|e| panic!("{sdk}: {e}"));

            let expected_version = if sdk == "tea-v3" {
                SignatureVersion::V3
            } else {
                SignatureVersion::V1
            };
            assert_eq!(ok.version, expected_version, "{sdk}");
            assert_eq!(ok.access_key_id, c.access_key_id);
            assert_eq!(
                ok.security_token.as_deref(),
                c.security_token.as_deref(),
                "{sdk}"
            );
            assert_eq!(ok.action.as_deref(), Some("DeleteCustomImage"));
            assert_eq!(ok.api_version.as_deref(), Some("2020-06-01"));
            // The clock a caller checks the window with is the request's own.
            assert_eq!(
                ok.timestamp,
                "2026-11-28T21:55:41Z".parse::<Timestamp>().unwrap()
            );
            let carried = c.header("x-acs-date").or_else(|| c.param("Timestamp"));
            assert_eq!(Some(ok.timestamp), carried.and_then(|t| t.parse().ok()));
            // The decoded query of the fixture is its raw query's.
            let decoded: Vec<(String, String)> = c
                .raw_query
                .split('&')
                .map(|p| p.split_once('=').unwrap())
                .map(|(n, v)| (form_decode(n).unwrap(), form_decode(v).unwrap()))
                .collect();
            assert_eq!(decoded, c.query, "{sdk}");
            if sdk == "legacy-v1" {
                assert_eq!(ok.param("SignatureType"), Some(""));
            }
            for (name, field) in [
                ("RegionId", &c.region_id),
                ("ImageId", &c.image_id),
                ("ClientToken", &c.client_token),
            ] {
                assert_eq!(ok.param(name), Some(field.as_str()), "{sdk} {name}");
            }

            // The verifier's string to sign, signed with the key, is the signature sent.
            let reproduced = match ok.version {
                SignatureVersion::V1 => v1::signature(secret, &ok.string_to_sign),
                _ => v3::signature(secret, &ok.string_to_sign),
            };
            assert_eq!(reproduced, carried_signature(&req), "{sdk}");

            // Another secret fails: one byte of it flipped.
            for i in 0..secret.len() {
                let other = flipped(secret, i).unwrap();
                let err = verify_request(&req, key(&other)).unwrap_err();
                assert!(
                    matches!(err, VerifyError::SignatureMismatch { .. }),
                    "{sdk}: {err:?}"
                );
            }
            // Any byte of the query flipped fails.
            let raw = c.raw_query.as_str();
            for i in 0..raw.len() {
                let Some(q) = flipped(raw, i) else { continue };
                let Ok(uri) = format!("/?{q}").parse::<http::Uri>() else {
                    continue;
                };
                let mut bad = req.clone();
                *bad.uri_mut() = uri;
                assert!(
                    verify_request(&bad, key(secret)).is_err(),
                    "{sdk}: query byte {i} of {raw}"
                );
            }
            // Any byte of a signed header's value flipped fails; unsigned headers are free.
            let signed = ok.version == SignatureVersion::V3;
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            let list = auth.as_deref().map_or("", |a| {
                a.split_once("SignedHeaders=")
                    .unwrap()
                    .1
                    .split(',')
                    .next()
                    .unwrap()
            });
            for (name, value) in &c.headers {
                let (name, value) = (name.as_str(), value.as_str());
                if name == "authorization" {
                    continue;
                }
                let is_signed = signed && list.split(';').any(|n| n == name);
                for i in 0..value.len() {
                    let Some(v) = flipped(value, i) else { continue };
                    let Ok(v) = http::HeaderValue::from_str(&v) else {
                        continue;
                    };
                    let mut bad = req.clone();
                    bad.headers_mut()
                        .insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
                    let result = verify_request(&bad, key(secret));
                    if is_signed {
                        assert!(result.is_err(), "{sdk}: signed header {name} byte {i}");
                    } else {
                        assert!(
                            result.is_ok(),
                            "{sdk}: unsigned header {name} byte {i}: {result:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn old_sdk_v1_get_with_empty_signature_type() {
        // Built the way the old SDKs do: GET, `SignatureType=` signed, lowercase json.
        let params = [
            ("AccessKeyId", "testid"),
            ("Action", "DeleteCustomImage"),
            ("Format", "json"),
            ("ImageId", "m-1"),
            ("RegionId", "cn-hangzhou"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "abc"),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-01-01T00:00:00Z"),
            ("Version", "2020-06-01"),
        ];
        let query = v1::canonical_query(params);
        let sig = v1::signature("testsecret", &v1::string_to_sign("GET", &query));
        let uri = format!(
            "http://127.0.0.1/?{query}&Signature={}",
            percent_encode(&sig)
        );
        let req = http::Request::get(uri).body(Vec::new()).unwrap();
        let ok = verify_request(&req, key("testsecret")).unwrap();
        assert_eq!(ok.param("SignatureType"), Some(""));
        assert_eq!(ok.action.as_deref(), Some("DeleteCustomImage"));
    }

    /// The official V3 SDK signs `accept` and `user-agent`: dropping either one from the
    /// request (or adding an `x-acs-*` header it did not sign) fails.
    #[test]
    fn official_v3_signed_set_is_enforced() {
        let f = Official::load();
        let c = &f.requests[0];
        let secret = c.access_key_secret.as_str();
        let req = request(c, &c.raw_query);
        for name in ["accept", "user-agent", "host", "x-acs-credentials-provider"] {
            let mut bad = req.clone();
            bad.headers_mut().remove(name);
            let err = verify_request(&bad, key(secret)).unwrap_err();
            assert!(
                matches!(err, VerifyError::IncompleteSignature(_)),
                "{name}: {err:?}"
            );
        }
        let mut bad = req.clone();
        bad.headers_mut()
            .insert("x-acs-extra", http::HeaderValue::from_static("1"));
        let err = verify_request(&bad, key(secret)).unwrap_err();
        assert!(
            matches!(err, VerifyError::IncompleteSignature(_)),
            "{err:?}"
        );
    }

    proptest! {
        /// V1 is verified over exactly the parameters received: whatever parameters a
        /// client sends (names and values of any characters, empty values, repeated names),
        /// split between the query and a form body, encoded with `%20` or `+` for a space,
        /// by GET or POST, signed with the generic construction, verify; and changing,
        /// dropping or adding any parameter fails.
        #[test]
        fn any_v1_parameter_set_verifies(
            extra in proptest::collection::vec(("[A-Za-z][A-Za-z0-9_.]{0,8}", "\\PC{0,10}"), 0..6),
            in_body in proptest::collection::vec(any::<bool>(), 16),
            plus_for_space in any::<bool>(),
            get in any::<bool>(),
            secret in "[!-~]{1,24}",
            tamper in any::<proptest::sample::Index>(),
        ) {
            let method = if get { "GET" } else { "POST" };
            let mut params: Vec<(String, String)> = [
                ("AccessKeyId", "id"),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureNonce", "n-1"),
                ("SignatureVersion", "1.0"),
                ("Timestamp", "2026-11-28T21:55:41Z"),
            ]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
            params.extend(extra.into_iter().filter(|(n, _)| n != "Signature"));
            let signature = |params: &[(String, String)]| {
                let q = v1::canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                v1::signature(&secret, &v1::string_to_sign(method, &q))
            };
            let build = |params: &[(String, String)], sig: &str| {
                let encode = |s: &str| {
                    let e = percent_encode(s);
                    if plus_for_space { e.replace("%20", "+") } else { e }
                };
                let (mut query, mut body) = (Vec::new(), Vec::new());
                let with_sig = params.iter().cloned().chain([("Signature".to_owned(), sig.to_owned())]);
                for (i, (n, v)) in with_sig.enumerate() {
                    let pair = format!("{}={}", encode(&n), encode(&v));
                    // A GET has no body; the fixed parameters stay in the query.
                    if !get && i >= 5 && in_body[i % in_body.len()] { body.push(pair) } else { query.push(pair) }
                }
                let mut b = http::Request::builder().method(method).uri(format!("/?{}", query.join("&")));
                if !body.is_empty() {
                    b = b.header("content-type", "application/x-www-form-urlencoded; charset=UTF-8");
                }
                b.body(body.join("&").into_bytes()).unwrap()
            };
            let sig = signature(&params);
            let ok = verify_request(&build(&params, &sig), key(&secret));
            prop_assert!(ok.is_ok(), "{:?}", ok);
            prop_assert_eq!(ok.unwrap().params.len(), params.len() + 1);

            let i = tamper.index(params.len());
            let mut changed = params.clone();
            changed[i].1.push('x');
            prop_assert!(verify_request(&build(&changed, &sig), key(&secret)).is_err());
            if i >= 5 {
                let mut dropped = params.clone();
                dropped.remove(i);
                prop_assert!(verify_request(&build(&dropped, &sig), key(&secret)).is_err());
            }
            let mut added = params.clone();
            added.push(("Added".into(), String::new()));
            prop_assert!(verify_request(&build(&added, &sig), key(&secret)).is_err());
        }
    }

    /// A header a client chose to sign, for the property below.
    #[derive(Debug, Clone)]
    struct Extra {
        name: String,
        values: Vec<String>,
        sign: bool,
    }

    fn extra() -> impl Strategy<Value = Extra> {
        (
            prop_oneof![
                Just("accept".to_owned()),
                Just("user-agent".to_owned()),
                Just("content-type".to_owned()),
                "x-acs-[a-z0-9-]{1,12}",
                "x-[a-z]{1,8}",
            ],
            proptest::collection::vec(" {0,2}[!-~]([ -~]{0,12}[!-~])? {0,2}", 1..4),
            any::<bool>(),
        )
            .prop_filter("the fixed headers are not extras", |(name, _, _)| {
                ![
                    "x-acs-date",
                    "x-acs-signature-nonce",
                    "x-acs-content-sha256",
                ]
                .contains(&name.as_str())
            })
            .prop_map(|(name, values, sign)| Extra {
                sign: sign || name.starts_with("x-acs-"),
                name,
                values,
            })
    }

    /// `name` with each letter's case chosen by `mask`.
    fn cased(name: &str, mask: u64) -> String {
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    proptest! {
        /// Whatever headers a client chooses to sign (host and every `x-acs-*` header
        /// included), in any casing, repeated or not, with untrimmed values, signed with the
        /// generic construction, the verifier accepts; and tampering with any signed value,
        /// or leaving a signed header out, fails.
        #[test]
        fn any_header_set_a_client_chooses_to_sign_verifies(
            extras in proptest::collection::vec(extra(), 0..6),
            query in proptest::collection::vec(("[A-Za-z]{1,8}", "\\PC{0,8}"), 0..4),
            masks in proptest::collection::vec(any::<u64>(), 10),
            plus_for_space in any::<bool>(),
            secret in "[!-~]{1,24}",
            tamper in any::<proptest::sample::Index>(),
        ) {
            let mut extras = extras;
            // One header name, one entry: duplicates become repeated values.
            extras.sort_by(|a, b| a.name.cmp(&b.name));
            extras.dedup_by(|b, a| {
                if a.name == b.name {
                    a.values.append(&mut b.values);
                    a.sign |= b.sign;
                    true
                } else {
                    false
                }
            });
            let mut headers: Vec<(String, String, bool)> = vec![
                ("host".into(), "127.0.0.1:8080".into(), true),
                ("x-acs-date".into(), "2026-11-28T21:55:41Z".into(), true),
                ("x-acs-signature-nonce".into(), "n-1".into(), true),
                ("x-acs-content-sha256".into(), v3::EMPTY_PAYLOAD_SHA256.into(), true),
            ];
            for e in &extras {
                for v in &e.values {
                    headers.push((e.name.clone(), v.clone(), e.sign));
                }
            }
            // The client's view: its own casing of each name.
            let client: Vec<(String, &str)> = headers
                .iter()
                .enumerate()
                .filter(|(_, h)| h.2)
                .map(|(i, h)| (cased(&h.0, masks[i % masks.len()]), h.1.as_str()))
                .collect();
            let canonical = v3::canonical_headers(client.iter().map(|(n, v)| (n.as_str(), *v)));
            let cq = canonical_query(query.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let cr = v3::canonical_request("POST", "/", &cq, &canonical, v3::EMPTY_PAYLOAD_SHA256);
            let sig = v3::signature(&secret, &v3::string_to_sign(&v3::sha256_hex(cr.as_bytes())));
            let auth = v3::authorization("id", &canonical.signed, &sig);

            // On the wire: the query as an SDK might encode it, headers in any order.
            let raw_query: Vec<String> = query
                .iter()
                .map(|(n, v)| {
                    let v = percent_encode(v);
                    let v = if plus_for_space { v.replace("%20", "+") } else { v };
                    format!("{n}={v}")
                })
                .collect();
            let build = |headers: &[(String, String, bool)]| {
                let mut b = http::Request::post(format!("/?{}", raw_query.join("&")))
                    .header("authorization", auth.as_str());
                for (n, v, _) in headers.iter().rev() {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.body(Vec::new()).unwrap()
            };
            let ok = verify_request(&build(&headers), key(&secret));
            prop_assert!(ok.is_ok(), "{:?}\n{}", ok, cr);

            let signed: Vec<usize> = (0..headers.len()).filter(|&i| headers[i].2).collect();
            let i = signed[tamper.index(signed.len())];
            let mut changed = headers.clone();
            changed[i].1.push('x');
            prop_assert!(verify_request(&build(&changed), key(&secret)).is_err());
            let mut dropped = headers.clone();
            let name = dropped[i].0.clone();
            dropped.retain(|h| h.0 != name);
            prop_assert!(verify_request(&build(&dropped), key(&secret)).is_err());
            // Unsigned headers change freely.
            let mut free = headers.clone();
            free.push(("x-unsigned".into(), "anything".into(), false));
            for h in free.iter_mut().filter(|h| !h.2) {
                h.1.push('!');
            }
            prop_assert!(verify_request(&build(&free), key(&secret)).is_ok());
        }
    }
}

/// The user agent built at compile time names the platform and the crate's version, and is
/// what both schemes send.
#[test]
fn default_user_agent_is_sent_by_both_schemes() {
    let expected = format!(
        "AlibabaCloud ({}; {}) Rust swas-open/{} TeaDSL/2",
        std::env::consts::OS,
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(super::default_user_agent(), expected);
    let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
    let ctx = SigningContext::new(
        Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(0)).unwrap(),
        Nonce::new("n").unwrap(),
    );
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let signer =
            Signer::new(Credentials::new("id", "secret").unwrap()).with_signature_version(version);
        let req = signer.sign(
            &op,
            &Endpoint::for_region(op.region_id(), EndpointKind::Public),
            &ctx,
        );
        assert_eq!(req.headers()["user-agent"], expected.as_str(), "{version}");
    }
}
