//! Authentication outcomes, in the service's order, over real sockets.

mod support;

use std::time::{Duration, SystemTime};

use support::*;
use swas_open_core::{SignatureVersion, Signer, Timestamp};
use swas_open_emulator::Emulator;

#[tokio::test]
async fn missing_signature_parts() {
    let emu = emulator(&["m-1"]).await;
    let mut p = v1_delete("m-1");
    // No signature at all.
    let unsigned = format!(
        "POST /?RegionId={REGION}&ImageId=m-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    );
    refused(&emu, unsigned.as_bytes(), 400, "MissingParameter").await;
    // V1 without a nonce.
    p.retain(|(n, _)| n != "SignatureNonce");
    let resp = post_v1(&emu, &p).await;
    resp.assert_error(400, "MissingParameter");
    assert!(resp.json()["Message"]
        .as_str()
        .unwrap()
        .contains("SignatureNonce"));
    // V1 with a method other than HMAC-SHA1.
    let mut p = v1_common("DeleteCustomImage");
    set(&mut p, "SignatureMethod", "HMAC-SHA256");
    post_v1(&emu, &p)
        .await
        .assert_error(400, "IncompleteSignature");
    // V3 with a malformed Authorization header.
    let request = signed(&emu, &v3(), "m-1", None);
    let text = String::from_utf8(raw(&request)).unwrap();
    let broken = text.replace("ACS3-HMAC-SHA256 Credential=", "ACS3-HMAC-SHA256 Cred=");
    refused(&emu, broken.as_bytes(), 400, "IncompleteSignature").await;
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn unknown_access_key() {
    let emu = emulator(&["m-1"]).await;
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let s = signer("nobody", SECRET, None, version);
        send_signed(&emu, &s, "m-1", None)
            .await
            .assert_error(404, "InvalidAccessKeyId.NotFound");
    }
}

#[tokio::test]
async fn wrong_secret_v1_tells_the_server_string_to_sign() {
    let emu = emulator(&["m-1"]).await;
    let p = v1_delete("m-1");
    let resp = send(emu.addr(), &v1_raw(&emu, "POST", &p, "wrong-secret"))
        .await
        .unwrap();
    resp.assert_error(400, "SignatureDoesNotMatch");
    let message = resp.json()["Message"].as_str().unwrap().to_owned();
    let expected = format!("server string to sign is:{}", v1_string_to_sign("POST", &p));
    assert!(message.ends_with(&expected), "{message}");
    assert!(!message.contains(SECRET));
}

#[tokio::test]
async fn wrong_secret_v3() {
    let emu = emulator(&["m-1"]).await;
    let s = signer(AK, "wrong-secret", None, SignatureVersion::V3);
    send_signed(&emu, &s, "m-1", None)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    // A tampered parameter breaks a good signature too.
    let request = signed(&emu, &v3(), "m-1", None);
    let tampered = String::from_utf8(raw(&request))
        .unwrap()
        .replace("ImageId=m-1", "ImageId=m-2");
    refused(&emu, tampered.as_bytes(), 400, "SignatureDoesNotMatch").await;
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn key_is_checked_before_signature_and_signature_before_time() {
    let emu = emulator(&["m-1"]).await;
    let old =
        Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000))
            .unwrap();
    // The delete of m-1, signed by `s` at `old`.
    let signed_long_ago = |s: &Signer| delete_at(&emu, s, "m-1", old);
    let s = signer("nobody", "x", None, SignatureVersion::V1);
    refused(
        &emu,
        &signed_long_ago(&s),
        404,
        "InvalidAccessKeyId.NotFound",
    )
    .await;
    let s = signer(AK, "wrong", None, SignatureVersion::V1);
    refused(&emu, &signed_long_ago(&s), 400, "SignatureDoesNotMatch").await;
    refused(
        &emu,
        &signed_long_ago(&v1()),
        400,
        "InvalidTimeStamp.Expired",
    )
    .await;
}

#[tokio::test]
async fn timestamps_outside_fifteen_minutes_of_the_emulator_clock() {
    let skew = Duration::from_secs(20 * 60);
    for clock in [
        Box::new(move || SystemTime::now() + skew) as Box<dyn Fn() -> SystemTime + Send + Sync>,
        Box::new(move || SystemTime::now() - skew),
    ] {
        let emu = Emulator::builder()
            .access_key(AK, SECRET)
            .image(REGION, "m-1")
            .clock(clock)
            .start()
            .await
            .unwrap();
        for s in [v1(), v3()] {
            let resp = send_signed(&emu, &s, "m-1", None).await;
            resp.assert_error(400, "InvalidTimeStamp.Expired");
        }
        assert!(emu.has_image(REGION, "m-1"));
    }
    // Ten minutes off is inside the window.
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .clock(|| SystemTime::now() + Duration::from_secs(10 * 60))
        .start()
        .await
        .unwrap();
    send_v1(&emu, "m-1").await.assert_ok();
}

#[tokio::test]
async fn malformed_timestamp() {
    let emu = emulator(&[]).await;
    let mut p = v1_common("DeleteCustomImage");
    set(&mut p, "Timestamp", "2024-01-01 00:00:00");
    post_v1(&emu, &p)
        .await
        .assert_error(400, "IllegalTimestamp");
}

#[tokio::test]
async fn replayed_nonce() {
    let emu = emulator(&["m-1", "m-2"]).await;
    for s in [v1(), v3()] {
        let n = nonce();
        let first = signed_at(&emu, &s, REGION, "m-1", None, now(), n.clone());
        let resp = send(emu.addr(), &raw(&first)).await.unwrap();
        assert_ne!(resp.code(), "SignatureNonceUsed");
        // The very same request again, then the same nonce on another request.
        refused(&emu, &raw(&first), 400, "SignatureNonceUsed").await;
        let other = signed_at(&emu, &s, REGION, "m-2", None, now(), n);
        refused(&emu, &raw(&other), 400, "SignatureNonceUsed").await;
    }
    assert!(emu.has_image(REGION, "m-2"));
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn nonces_are_scoped_per_access_key() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .access_key("ak-2", "secret-2")
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .start()
        .await
        .unwrap();
    let n = nonce();
    send(
        emu.addr(),
        &raw(&signed_at(
            &emu,
            &v1(),
            REGION,
            "m-1",
            None,
            now(),
            n.clone(),
        )),
    )
    .await
    .unwrap()
    .assert_ok();
    let s2 = signer("ak-2", "secret-2", None, SignatureVersion::V1);
    send(
        emu.addr(),
        &raw(&signed_at(&emu, &s2, REGION, "m-2", None, now(), n)),
    )
    .await
    .unwrap()
    .assert_ok();
}

#[tokio::test]
async fn sts_token_must_match_its_key() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .sts_access_key("STS.ak", "sts-secret", "the-token")
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .start()
        .await
        .unwrap();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        for (id, secret, token) in [
            ("STS.ak", "sts-secret", Some("another-token")),
            ("STS.ak", "sts-secret", None),
            (AK, SECRET, Some("the-token")),
        ] {
            let s = signer(id, secret, token, version);
            send_signed(&emu, &s, "m-1", None)
                .await
                .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
        }
    }
    assert_eq!(emu.images(REGION), ["m-1", "m-2"]);
    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-2")] {
        let s = signer("STS.ak", "sts-secret", Some("the-token"), version);
        send_signed(&emu, &s, image, None).await.assert_ok();
    }
}

#[tokio::test]
async fn wrong_path_or_method_is_not_an_action() {
    let emu = emulator(&["m-1"]).await;
    let request = String::from_utf8(raw(&signed(&emu, &v1(), "m-1", None))).unwrap();
    let other_path = request.replacen("POST /?", "POST /v2/?", 1);
    refused(&emu, other_path.as_bytes(), 404, "InvalidAction.NotFound").await;
    let put = request.replacen("POST /?", "PUT /?", 1);
    refused(&emu, put.as_bytes(), 404, "InvalidAction.NotFound").await;
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn invalid_start_configuration_is_rejected() {
    let err = Emulator::builder()
        .access_key(AK, "")
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
