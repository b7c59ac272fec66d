//! Every published known-answer vector, stage by stage where the vector gives the stage:
//! percent-encoding, raw HMAC-SHA1, V1 (canonical query, string to sign, signature) and V3
//! (hashed canonical request, signature, Authorization). The DeleteCustomImage vectors are
//! also checked through the fast signer and through the verifier.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use swas_open_core::encode::percent_encode;
use swas_open_core::sign::{canonical_query, v1, v3};
use swas_open_core::{
    verify_request, Credentials, DeleteCustomImage, Endpoint, Nonce, Secret, SignatureVersion,
    Signer, SigningContext, Timestamp,
};

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/signing.json")).expect("fixture is JSON")
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string field")
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.as_str(), s(v)))
        .collect()
}

#[test]
fn percent_encode_vectors() {
    let f = fixtures();
    let cases = f["percent_encode"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(
            percent_encode(s(&c["input"])),
            s(&c["output"]),
            "{}",
            c["source"]
        );
    }
}

#[test]
fn hmac_sha1_raw_vectors() {
    let f = fixtures();
    for c in f["hmac_sha1_raw"].as_array().unwrap() {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(s(&c["key"]).as_bytes()).unwrap();
        mac.update(s(&c["message"]).as_bytes());
        assert_eq!(
            STANDARD.encode(mac.finalize().into_bytes()),
            s(&c["base64"]),
            "{}",
            c["source"]
        );
    }
}

#[test]
fn v1_vectors_stage_by_stage() {
    let f = fixtures();
    let cases = f["v1_rpc_hmac_sha1"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for c in cases {
        let params = pairs(&c["params"]);
        let query = v1::canonical_query(params.iter().copied());
        if let Some(expected) = c.get("canonical_query") {
            assert_eq!(query, s(expected), "{}", c["source"]);
        }
        let sts = v1::string_to_sign(s(&c["method"]), &query);
        if let Some(expected) = c.get("string_to_sign") {
            assert_eq!(sts, s(expected), "{}", c["source"]);
        }
        assert_eq!(
            v1::signature(s(&c["secret"]), &sts),
            s(&c["signature"]),
            "{}",
            c["source"]
        );
    }
}

/// Inputs of the DeleteCustomImage vectors, as the fast signer takes them.
fn delete_vector_inputs(c: &Value) -> (Signer, DeleteCustomImage, SigningContext) {
    let p = &c["params"];
    let mut creds = Credentials::new(s(&p["AccessKeyId"]), s(&c["secret"])).unwrap();
    if let Some(token) = p.get("SecurityToken") {
        creds = creds.with_security_token(s(token)).unwrap();
    }
    let op = DeleteCustomImage::new(s(&p["RegionId"]), s(&p["ImageId"]))
        .unwrap()
        .with_client_token(s(&p["ClientToken"]))
        .unwrap();
    let ctx = SigningContext::new(
        Timestamp::parse(s(&p["Timestamp"])).unwrap(),
        Nonce::new(s(&p["SignatureNonce"])).unwrap(),
    );
    (Signer::new(creds), op, ctx)
}

#[test]
fn v1_fast_signer_matches_delete_custom_image_vectors() {
    let f = fixtures();
    let mut checked = 0;
    for c in f["v1_rpc_hmac_sha1"].as_array().unwrap() {
        if c["params"]["Action"] != "DeleteCustomImage" || c["method"] != "POST" {
            continue;
        }
        let (signer, op, ctx) = delete_vector_inputs(c);
        let endpoint = Endpoint::for_region(op.region_id());
        let req = signer.sign(&op, &endpoint, &ctx);
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().path(), "/");
        assert_eq!(req.uri().host(), Some("swas.cn-hangzhou.aliyuncs.com"));
        assert!(req.body().is_empty());
        let query = req.uri().query().unwrap();
        let (unsigned, signature) = query.rsplit_once("&Signature=").unwrap();
        if let Some(expected) = c.get("canonical_query") {
            assert_eq!(unsigned, s(expected));
        }
        assert_eq!(signature, percent_encode(s(&c["signature"])));
        for h in ["host", "user-agent", "x-acs-action", "x-acs-version"] {
            assert!(req.headers().contains_key(h), "{h}");
        }
        assert_eq!(req.headers()["x-acs-action"], "DeleteCustomImage");
        assert_eq!(req.headers()["x-acs-version"], "2020-06-01");

        // The verifier accepts it with the right secret and reports the same string to sign.
        let secret = s(&c["secret"]).to_owned();
        let ok = verify_request(&req, |_| Secret::access_key_secret(&*secret).ok()).unwrap();
        assert_eq!(ok.version, SignatureVersion::V1);
        if let Some(expected) = c.get("string_to_sign") {
            assert_eq!(ok.string_to_sign, s(expected));
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn v3_vectors_stage_by_stage() {
    let f = fixtures();
    let cases = f["v3_acs3_hmac_sha256"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let query = canonical_query(pairs(&c["query"]));
        let header_pairs: Vec<(&str, &str)> = match c.get("headers") {
            Some(h) => pairs(h),
            None => c["headers_multi"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (s(&p[0]), s(&p[1])))
                .collect(),
        };
        let headers = v3::canonical_headers(header_pairs);
        let hashed_payload = c
            .get("hashed_payload")
            .map(s)
            .unwrap_or(v3::EMPTY_PAYLOAD_SHA256);
        let request = v3::canonical_request(
            s(&c["method"]),
            s(&c["canonical_uri"]),
            &query,
            &headers,
            hashed_payload,
        );
        let hashed = v3::sha256_hex(request.as_bytes());
        if let Some(expected) = c.get("hashed_canonical_request") {
            assert_eq!(hashed, s(expected), "{}", c["source"]);
        }
        let signature = v3::signature(s(&c["secret"]), &v3::string_to_sign(&hashed));
        if let Some(expected) = c.get("signature") {
            assert_eq!(signature, s(expected), "{}", c["source"]);
        }
        if let Some(expected) = c.get("authorization") {
            let auth = v3::authorization(s(&c["access_key_id"]), &headers.signed, &signature);
            assert_eq!(auth, s(expected), "{}", c["source"]);
        }
    }
}

#[test]
fn v3_fast_signer_matches_delete_custom_image_vector() {
    let f = fixtures();
    let c = f["v3_acs3_hmac_sha256"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["headers"]["x-acs-action"] == "DeleteCustomImage")
        .unwrap();
    let q = &c["query"];
    let h = &c["headers"];
    let signer = Signer::new(Credentials::new(s(&c["access_key_id"]), s(&c["secret"])).unwrap())
        .with_signature_version(SignatureVersion::V3);
    let op = DeleteCustomImage::new(s(&q["RegionId"]), s(&q["ImageId"]))
        .unwrap()
        .with_client_token(s(&q["ClientToken"]))
        .unwrap();
    let ctx = SigningContext::new(
        Timestamp::parse(s(&h["x-acs-date"])).unwrap(),
        Nonce::new(s(&h["x-acs-signature-nonce"])).unwrap(),
    );
    let endpoint = Endpoint::parse(s(&h["host"])).unwrap();
    let req = signer.sign(&op, &endpoint, &ctx);
    let auth = req.headers()["authorization"].to_str().unwrap();
    assert_eq!(
        auth,
        format!(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={}",
            s(&c["signature"])
        )
    );
    for (name, value) in h.as_object().unwrap() {
        assert_eq!(req.headers()[name.as_str()], s(value), "{name}");
    }
    assert_eq!(
        req.uri().query(),
        Some("ClientToken=123e4567-e89b-12d3-a456-426655440000&ImageId=m-2zehv38jjmwva1ee%2A%2A%2A%2A&RegionId=cn-hangzhou")
    );
    let secret = s(&c["secret"]).to_owned();
    let ok = verify_request(&req, |_| Secret::access_key_secret(&*secret).ok()).unwrap();
    assert_eq!(ok.version, SignatureVersion::V3);
    assert_eq!(
        ok.string_to_sign,
        format!("ACS3-HMAC-SHA256\n{}", s(&c["hashed_canonical_request"]))
    );
}

#[test]
fn verifier_accepts_old_sdk_v1_with_empty_signature_type() {
    // Build the request the way the old SDKs do: GET, `SignatureType=` signed, lowercase json.
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
    let ok = verify_request(&req, |_| Secret::access_key_secret("testsecret").ok()).unwrap();
    assert_eq!(ok.param("SignatureType"), Some(""));
    assert_eq!(ok.action.as_deref(), Some("DeleteCustomImage"));
}
