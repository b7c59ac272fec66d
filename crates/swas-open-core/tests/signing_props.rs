//! The signing and validation rules, said in general, through the public API. (The rules
//! over the building blocks are tested inside the crate.)

use proptest::prelude::*;
#[cfg(feature = "verify")]
use swas_open_core::{verify_request, Secret, VerifyError};
use swas_open_core::{
    ClientToken, DeleteCustomImage, Endpoint, EndpointKind, Nonce, SignatureVersion,
    SigningContext, Timestamp,
};

fn token_ok(s: &str) -> bool {
    let n = s.chars().count();
    (1..=64).contains(&n) && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
}

mod support {
    pub(crate) use swas_open_core::{
        Credentials, DeleteCustomImage, Nonce, SignatureVersion, Signer, SigningContext, Timestamp,
    };
    pub(crate) mod signing_inputs;
}
use support::signing_inputs::valid_inputs;

#[cfg(feature = "verify")]
fn lookup(secret: &str) -> impl FnOnce(&str) -> Option<Secret> + '_ {
    move |_| Secret::access_key_secret(secret).ok()
}

proptest! {
    #[test]
    fn client_token_accepted_iff_ascii_no_control_1_to_64(s in "\\PC{0,70}|[ -~]{0,70}|[\\x00-\\x7f]{0,70}") {
        prop_assert_eq!(ClientToken::new(s.clone()).is_ok(), token_ok(&s), "{:?}", s);
    }

}

#[cfg(feature = "verify")]
proptest! {
    #[test]
    fn sign_then_verify_succeeds_and_tampering_fails(
        (signer, op, ctx, secret, version, sts) in valid_inputs(),
        which in 0usize..4,
    ) {
        let endpoint = "http://127.0.0.1:8080".parse::<Endpoint>().unwrap();
        let req = signer.sign(&op, &endpoint, &ctx);
        let ok = verify_request(&req, lookup(&secret)).unwrap();
        prop_assert_eq!(ok.param("ImageId"), Some(op.image_id().as_str()));
        prop_assert_eq!(ok.param("RegionId"), Some(op.region_id().as_str()));
        prop_assert_eq!(ok.timestamp, ctx.timestamp);
        prop_assert_eq!(ok.nonce.as_str(), ctx.nonce.as_str());
        prop_assert_eq!(ok.security_token.as_deref(), sts.as_deref());

        // Tamper with one signed part: a parameter, the nonce, the secret, or the method.
        let mut bad = req.clone();
        let err = match which {
            0 => {
                let q = req.uri().query().unwrap().replacen("RegionId=", "RegionId=x", 1);
                *bad.uri_mut() = format!("http://127.0.0.1:8080/?{q}").parse().unwrap();
                verify_request(&bad, lookup(&secret)).unwrap_err()
            }
            1 => {
                if version == SignatureVersion::V1 {
                    let q = req.uri().query().unwrap().replacen("SignatureNonce=", "SignatureNonce=0", 1);
                    *bad.uri_mut() = format!("http://127.0.0.1:8080/?{q}").parse().unwrap();
                } else {
                    let n = format!("0{}", ctx.nonce.as_str());
                    bad.headers_mut().insert("x-acs-signature-nonce", n.parse().unwrap());
                }
                verify_request(&bad, lookup(&secret)).unwrap_err()
            }
            2 => verify_request(&req, lookup(&format!("{secret}x"))).unwrap_err(),
            _ => {
                *bad.method_mut() = http::Method::GET;
                verify_request(&bad, lookup(&secret)).unwrap_err()
            }
        };
        let is_mismatch = matches!(err, VerifyError::SignatureMismatch { .. });
        prop_assert!(is_mismatch, "{:?}", err);
    }
}

proptest! {
    #[test]
    fn signature_changes_when_any_signed_input_changes(
        (signer, op, ctx, _secret, version, _sts) in valid_inputs(),
        which in 0usize..4,
    ) {
        let endpoint = Endpoint::for_region(op.region_id(), EndpointKind::Public);
        let sig = |r: &http::Request<Vec<u8>>| match version {
            SignatureVersion::V1 => r.uri().query().unwrap().rsplit_once("&Signature=").unwrap().1.to_owned(),
            _ => r.headers()["authorization"].to_str().unwrap().to_owned(),
        };
        let before = sig(&signer.sign(&op, &endpoint, &ctx));
        let after = match which {
            0 => {
                let op2 = DeleteCustomImage::new(op.region_id().as_str(), format!("{}x", op.image_id())).unwrap();
                let op2 = match op.client_token() { Some(t) => op2.with_client_token(t.clone()).unwrap(), None => op2 };
                sig(&signer.sign(&op2, &endpoint, &ctx))
            }
            1 => {
                let ts = Timestamp::try_from(std::time::SystemTime::from(ctx.timestamp) + std::time::Duration::from_secs(1)).unwrap();
                sig(&signer.sign(&op, &endpoint, &SigningContext::new(ts, ctx.nonce.clone())))
            }
            2 => {
                let nonce = Nonce::new(format!("{}a", &ctx.nonce.as_str()[..ctx.nonce.as_str().len().min(63)])).unwrap();
                let nonce = if nonce == ctx.nonce { Nonce::new("b").unwrap() } else { nonce };
                sig(&signer.sign(&op, &endpoint, &SigningContext::new(ctx.timestamp, nonce)))
            }
            _ => {
                let old = op.client_token().map_or("", |t| t.as_str());
                // At most 64 characters: a 64-character token ending in `z` would come back
                // unchanged from cut-and-append, so append another letter then.
                let mut token = format!("{}z", &old[..old.len().min(63)]);
                if token == old {
                    token = format!("{}y", &old[..63]);
                }
                sig(&signer.sign(&op.clone().with_client_token(token).unwrap(), &endpoint, &ctx))
            }
        };
        prop_assert_ne!(before, after);
    }
}

#[cfg(feature = "verify")]
proptest! {
    /// The verifier never panics on what a client may send: any query, any `Authorization`,
    /// any `x-acs-*` headers, any body.
    #[test]
    fn verifier_never_panics_on_untrusted_requests(
        query in "[A-Za-z0-9%&=+._~*:-]{0,200}",
        auth in proptest::option::of("[ -~]{0,120}"),
        date in proptest::option::of("[0-9TZ:-]{0,24}"),
        nonce in proptest::option::of("[ -~]{0,40}"),
        sha in proptest::option::of("[0-9a-fA-F]{0,70}"),
        signed in proptest::option::of("[a-z;-]{0,60}"),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        form in any::<bool>(),
    ) {
        let mut builder = http::Request::post(format!("http://127.0.0.1/?{query}"));
        if let Some(auth) = auth {
            let auth = match signed {
                Some(list) => format!("ACS3-HMAC-SHA256 Credential=id,SignedHeaders={list},Signature={auth}"),
                None => auth,
            };
            builder = builder.header("authorization", auth);
        }
        for (name, value) in [("x-acs-date", date), ("x-acs-signature-nonce", nonce), ("x-acs-content-sha256", sha)] {
            if let Some(value) = value {
                builder = builder.header(name, value);
            }
        }
        if form {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        if let Ok(request) = builder.body(body) {
            let _ = verify_request(&request, |_| Secret::access_key_secret("s").ok());
        }
    }
}
