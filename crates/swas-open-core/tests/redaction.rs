//! The AccessKey secret never appears in any formatted output: credentials, signers, signed
//! requests (V1 and V3), validation errors, verification errors, chain errors.

use swas_open_core::{
    ClientBuilder, Config, Credentials, CredentialsProvider, DeleteCustomImage, Endpoint,
    EndpointKind, Exchange, Nonce, Readings, SignatureVersion, Signer, SigningContext, Step,
    Timestamp,
};

const SECRET: &str = "Sup3rS3cretValue";
const TOKEN: &str = "StsTokenValue123";

fn formatted<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?} {v:#?}")
}

#[test]
fn secret_never_formatted() {
    let creds = Credentials::new("AKID", SECRET)
        .unwrap()
        .with_security_token(TOKEN)
        .unwrap();
    let secret = swas_open_core::Secret::access_key_secret(SECRET).unwrap();
    let mut outputs = vec![formatted(&creds), formatted(&secret), secret.to_string()];
    let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
    let ctx = SigningContext::new(
        Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1)).unwrap(),
        Nonce::new("n").unwrap(),
    );
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let signer = Signer::new(creds.clone()).with_signature_version(version);
        outputs.push(formatted(&signer));
        let req = signer.sign(
            &op,
            &Endpoint::for_region(op.region_id(), EndpointKind::Public),
            &ctx,
        );
        outputs.push(formatted(&req));
        if version == SignatureVersion::V3 {
            // The token travels in a header marked sensitive, so debug output hides it.
            assert!(!formatted(&req).contains(TOKEN));
        }
        #[cfg(feature = "verify")]
        {
            use swas_open_core::{verify_request, Secret};
            let err =
                verify_request(&req, |_| Secret::access_key_secret("other").ok()).unwrap_err();
            outputs.push(formatted(&err));
            outputs.push(err.to_string());
        }
    }
    let bad = Credentials::new("AKID", format!("{SECRET}\u{1}")).unwrap_err();
    outputs.push(formatted(&bad));
    outputs.push(bad.to_string());
    let text = format!(
        r#"{{"current":"p","profiles":[{{"name":"p","mode":"AK","access_key_id":"a b","access_key_secret":"{SECRET}"}}]}}"#
    );
    let provider = CredentialsProvider::from_environment(
        None,
        |k| match k {
            "ALIBABA_CLOUD_CONFIG_FILE" => Some("c.json".to_owned()),
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED" => Some("true".to_owned()),
            _ => None,
        },
        move |_| Ok(text.clone()),
    );
    let config = ClientBuilder::<Config>::default()
        .credentials(provider)
        .build()
        .unwrap();
    // The start of virtual time: nothing is measured from it, the steps below take it as is.
    let (now, wall) = (std::time::Instant::now(), std::time::SystemTime::now());
    let mut signer = config.current_signer(Readings::new([0; 32], now, wall));
    let Step::Detach(mut fetch) = signer.next(now) else {
        panic!("expected a fetch")
    };
    assert!(matches!(fetch.next(now), Step::Done(())));
    let Step::Done(Err(chain)) = signer.next(now) else {
        panic!("expected the chain's error")
    };
    outputs.push(formatted(&chain));
    outputs.push(chain.to_string());
    for out in outputs {
        assert!(!out.contains(SECRET), "secret leaked in: {out}");
    }
}
