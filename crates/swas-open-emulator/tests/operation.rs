//! DeleteCustomImage outcomes and idempotency, over real sockets, V1 and V3.

use swas_open_emulator::Emulator;

mod support;

use support::*;

#[tokio::test]
async fn v1_post_deletes_the_image() {
    let emu = emulator(&["m-1", "m-2"]).await;
    let resp = send_v1(&emu, "m-1").await;
    resp.assert_ok();
    assert_eq!(
        resp.header("x-acs-request-id"),
        Some(resp.request_id().as_str())
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(resp.json().as_object().map(|o| o.len()), Some(1));
    assert_eq!(emu.images(REGION), ["m-2"]);
    let stats = emu.stats();
    assert_eq!(
        (stats.requests, stats.connections, stats.deletes),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn v3_deletes_the_image() {
    let emu = emulator(&["m-1"]).await;
    send_signed(&emu, &v3(), "m-1", None).await.assert_ok();
    assert!(!emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn absent_image_is_404_with_a_full_error_body() {
    let emu = emulator(&["m-1"]).await;
    emu.add_image("cn-beijing", "m-9", false);
    for image in ["m-2", "m-9"] {
        let resp = send_signed(&emu, &v1(), image, None).await;
        resp.assert_error(404, "InvalidImageId.NotFound");
        let body = resp.json();
        assert_eq!(body["Message"], "The specified ImageId does not exist.");
        assert_eq!(body["HostId"], emu.addr().to_string());
        assert_eq!(
            body["Recommend"],
            "https://api.alibabacloud.com/troubleshoot?q=InvalidImageId.NotFound&product=swas-open"
        );
        assert_eq!(resp.request_id().len(), 36);
    }
    assert_eq!(emu.stats().deletes, 0);
    assert!(emu.has_image("cn-beijing", "m-9"));
}

#[tokio::test]
async fn shared_image_is_not_deleted() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .shared_image(REGION, "m-shared")
        .start()
        .await
        .unwrap();
    let resp = send_signed(&emu, &v3(), "m-shared", None).await;
    resp.assert_error(400, "CustomImageInShare");
    assert!(emu.has_image(REGION, "m-shared"));
    emu.add_image(REGION, "m-shared", false);
    send_signed(&emu, &v3(), "m-shared", None).await.assert_ok();
}

#[tokio::test]
async fn unknown_action_and_wrong_version() {
    let emu = emulator(&["m-1"]).await;
    let mut p = v1_common("DescribeImages");
    set(&mut p, "RegionId", REGION);
    let resp = post_v1(&emu, &p).await;
    resp.assert_error(404, "InvalidAction.NotFound");

    let mut p = v1_delete("m-1");
    set(&mut p, "Version", "2017-05-05");
    let resp = post_v1(&emu, &p).await;
    resp.assert_error(400, "InvalidVersion");

    let mut p = v1_delete("m-1");
    p.retain(|(n, _)| n != "Version");
    let resp = post_v1(&emu, &p).await;
    resp.assert_error(400, "MissingParameter");
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn missing_and_invalid_parameters() {
    let emu = emulator(&["m-1"]).await;
    /// Parameters, expected code, and a word the message names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 5] = [
        (&[("ImageId", "m-1")], "MissingParameter", "\"RegionId\""),
        (&[("RegionId", REGION)], "MissingParameter", "\"ImageId\""),
        (
            &[
                ("RegionId", REGION),
                ("ImageId", "m-1"),
                ("ClientToken", &"x".repeat(65)),
            ],
            "InvalidParameter",
            "ClientToken",
        ),
        (
            &[
                ("RegionId", REGION),
                ("ImageId", "m-1"),
                ("ClientToken", "tökén"),
            ],
            "InvalidParameter",
            "ClientToken",
        ),
        (
            &[("RegionId", "CN_HZ"), ("ImageId", "m-1")],
            "InvalidParameter",
            "RegionId",
        ),
    ];
    for (params, code, mentions) in cases {
        let mut p = v1_common("DeleteCustomImage");
        for (n, v) in params {
            set(&mut p, n, v);
        }
        let resp = post_v1(&emu, &p).await;
        resp.assert_error(400, code);
        let message = resp.json()["Message"].as_str().unwrap_or("").to_owned();
        assert!(message.contains(mentions), "{message}");
    }
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn empty_client_token_counts_as_absent() {
    let emu = emulator(&["m-1"]).await;
    let mut p = v1_delete("m-1");
    set(&mut p, "ClientToken", "");
    post_v1(&emu, &p).await.assert_ok();
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_answer() {
    let emu = emulator(&["m-1"]).await;
    let token = "123e4567-e89b-12d3-a456-426655440000";
    let first = send_signed(&emu, &v1(), "m-1", Some(token)).await;
    first.assert_ok();
    // A retry re-signs (new nonce and timestamp) with the same token, by V1 or V3.
    for signer in [v1(), v3()] {
        let again = send_signed(&emu, &signer, "m-1", Some(token)).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body);
        assert_eq!(again.request_id(), first.request_id());
    }
    assert_eq!(emu.stats().deletes, 1);
    assert_eq!(emu.stats().requests, 3);
}

#[tokio::test]
async fn idempotent_replay_of_an_error_answer() {
    let emu = emulator(&[]).await;
    let first = send_signed(&emu, &v3(), "m-1", Some("tok-err")).await;
    first.assert_error(404, "InvalidImageId.NotFound");
    emu.add_image(REGION, "m-1", false);
    let again = send_signed(&emu, &v3(), "m-1", Some("tok-err")).await;
    assert_eq!((again.status, &again.body), (404, &first.body));
    assert!(emu.has_image(REGION, "m-1"), "a replay does not act");
}

#[tokio::test]
async fn client_token_with_other_parameters_is_a_mismatch() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .access_key("same-account-ak", "same-account-secret")
        .access_key("other-ak", "other-secret")
        .key_account("other-ak", "222")
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .start()
        .await
        .unwrap();
    send_signed(&emu, &v1(), "m-1", Some("tok"))
        .await
        .assert_ok();
    send_signed(&emu, &v1(), "m-2", Some("tok"))
        .await
        .assert_error(400, "IdempotentParameterMismatch");
    assert!(emu.has_image(REGION, "m-2"));
    // Tokens are scoped per account: another key of the same (default) account is the same
    // caller, a key of another account a new one.
    let key = |id, secret| signer(id, secret, None, swas_open_core::SignatureVersion::V1);
    send_signed(
        &emu,
        &key("same-account-ak", "same-account-secret"),
        "m-2",
        Some("tok"),
    )
    .await
    .assert_error(400, "IdempotentParameterMismatch");
    send_signed(&emu, &key("other-ak", "other-secret"), "m-2", Some("tok"))
        .await
        .assert_ok();
    assert_eq!(emu.stats().deletes, 2);
}

#[tokio::test]
async fn v1_as_old_sdks_send_it_lowercase_format_and_empty_signature_type() {
    let emu = emulator(&["m-1", "m-2"]).await;
    let mut p = v1_delete("m-1");
    set(&mut p, "Format", "json");
    post_v1(&emu, &p).await.assert_ok();

    let mut p = v1_delete("m-2");
    set(&mut p, "SignatureType", "");
    post_v1(&emu, &p).await.assert_ok();
    assert!(emu.images(REGION).is_empty());
}

#[tokio::test]
async fn v1_by_get_and_by_form_body() {
    let emu = emulator(&["m-get", "m-form"]).await;
    let p = v1_delete("m-get");
    send(emu.addr(), &v1_raw(&emu, "GET", &p, SECRET))
        .await
        .unwrap()
        .assert_ok();

    let p = v1_delete("m-form");
    send(emu.addr(), &v1_form(&emu, &p, SECRET))
        .await
        .unwrap()
        .assert_ok();
    assert!(emu.images(REGION).is_empty());
}

#[tokio::test]
async fn v1_signature_over_the_method_used() {
    // Signed for GET, sent as POST: the server signs what it received.
    let emu = emulator(&["m-1"]).await;
    let p = v1_delete("m-1");
    let get = v1_raw(&emu, "GET", &p, SECRET);
    let post = [b"POST".as_slice(), &get[3..]].concat();
    refused(&emu, &post, 400, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn any_equivalent_percent_encoding_of_the_query() {
    let emu = emulator(&["m-2ze****"]).await;
    let p = v1_delete("m-2ze****");
    let mut request = String::from_utf8(v1_raw(&emu, "POST", &p, SECRET)).unwrap();
    // Lowercase hex and needless escapes decode to the same parameters.
    request = request.replacen("%2A", "%2a", 2).replacen(
        "RegionId=cn-hangzhou",
        "RegionId=cn%2Dhangzhou",
        1,
    );
    assert!(request.contains("%2a") && request.contains("cn%2D"));
    send(emu.addr(), request.as_bytes())
        .await
        .unwrap()
        .assert_ok();
}

#[tokio::test]
async fn v3_with_mixed_case_header_names() {
    let emu = emulator(&["m-1"]).await;
    let request = signed(&emu, &v3(), "m-1", None);
    let bytes = raw_with(&request, title_case);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("X-Acs-Signature-Nonce: "), "{text}");
    assert!(text.contains("Authorization: ACS3-HMAC-SHA256"), "{text}");
    send(emu.addr(), &bytes).await.unwrap().assert_ok();
}

#[tokio::test]
async fn v3_hand_built_with_a_form_body_and_unusual_casing() {
    let emu = emulator(&["m-1"]).await;
    let host = emu.addr().to_string();
    let (date, nonce) = (now().to_string(), nonce());
    let body = b"Extra=1";
    let sha = sha256_hex(body);
    let headers = [
        ("Host", host.as_str()),
        ("X-ACS-Action", "DeleteCustomImage"),
        ("x-acs-VERSION", "2020-06-01"),
        ("X-Acs-Date", date.as_str()),
        ("X-Acs-Signature-Nonce", nonce.as_str()),
        ("X-Acs-Content-Sha256", sha.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let query = [("RegionId", REGION), ("ImageId", "m-1")];
    let auth = v3_authorization("POST", &query, &headers, body, SECRET);
    let mut raw = String::from("POST /?RegionId=cn-hangzhou&ImageId=m-1 HTTP/1.1\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!(
        "AUTHORIZATION: {auth}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    send(emu.addr(), &bytes).await.unwrap().assert_ok();
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn with(contents: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "swas-emulator-images-{}.txt",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn images_load_from_a_file() {
    let mut text = String::from("# fixtures\n");
    for i in 0..2_000 {
        text.push_str(&format!("{REGION}:m-{i}\n"));
    }
    text.push_str("cn-beijing:m-shared:shared\n");
    let file = TempFile::with(&text);
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-extra")
        .image_spec("cn-beijing:m-spec:shared")
        .images_from(&file.0)
        .start()
        .await
        .unwrap();
    assert_eq!(emu.images(REGION).len(), 2_001);
    send_v1(&emu, "m-1999").await.assert_ok();
    let shared = signed_at(&emu, &v1(), "cn-beijing", "m-shared", None, now(), nonce());
    send(emu.addr(), &raw(&shared))
        .await
        .unwrap()
        .assert_error(400, "CustomImageInShare");

    let bad = TempFile::with(&format!("{REGION}:m-1\n\n{REGION}:m 2\n"));
    let e = Emulator::builder()
        .access_key(AK, SECRET)
        .images_from(&bad.0)
        .start()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains(": line 3: "), "{e}");
    assert_eq!(emu.images("cn-beijing"), ["m-shared", "m-spec"]);
    let e = Emulator::builder()
        .image_spec("cn-hangzhou:m-1:public")
        .start()
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("image \"cn-hangzhou:m-1:public\": "),
        "{e}"
    );
    let e = Emulator::builder()
        .access_key(AK, SECRET)
        .images_from(std::env::temp_dir())
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}
