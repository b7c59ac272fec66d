//! STS over real sockets: AssumeRole (signed) and AssumeRoleWithOIDC (unsigned), their errors,
//! and the temporary credentials they issue, which the SWAS half accepts until they expire.

mod support;

use std::time::Duration;

use support::*;
use swas_open_core::{ErrorCode, SignatureVersion};
use swas_open_emulator::{Emulator, EmulatorBuilder, Fault, Role, Service};

const ROLE: &str = "acs:ram::1234567890123456:role/deployer";
const GUARDED: &str = "acs:ram::1234567890123456:role/guarded";
const LONG: &str = "acs:ram::1234567890123456:role/long";
const OIDC_ROLE: &str = "acs:ram::1234567890123456:role/pod-role";
const PROVIDER: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb2QifQ.c2lnbmF0dXJl";
const EXTERNAL: &str = "ext-4711";

fn builder(clock: &TestClock) -> EmulatorBuilder {
    Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .role(Role::new(ROLE))
        .role(Role::new(GUARDED).external_id(EXTERNAL))
        .role(Role::new(LONG).max_session_duration(Duration::from_secs(43_200)))
        .oidc_token(OIDC_ROLE, PROVIDER, JWT)
        .clock(clock.source())
}

/// An emulator of [`builder`] on a test clock at [`CLOCK`], and that clock.
async fn start() -> (TestClock, Emulator) {
    let clock = TestClock::at(CLOCK);
    let emu = builder(&clock).start().await.expect("emulator starts");
    (clock, emu)
}

/// AssumeRole parameters for `role`, signed by the test key at the clock's time.
fn assume_role(clock: &TestClock, role: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = sts_common("AssumeRole", AK, &clock.timestamp());
    set(&mut p, "RoleArn", role);
    set(&mut p, "RoleSessionName", "ci-session");
    for (n, v) in extra {
        set(&mut p, n, v);
    }
    p
}

/// Sends V1 `params` signed with `secret`, all in the query of a `method` request.
async fn sts(emu: &Emulator, method: &str, params: &[(String, String)], secret: &str) -> Resp {
    send(emu.addr(), &v1_raw(emu, method, params, secret))
        .await
        .expect("an answer")
}

/// AssumeRoleWithOIDC, unsigned, as a form POST.
async fn oidc(emu: &Emulator, params: &[(&str, &str)]) -> Resp {
    let mut all = vec![
        ("Action", "AssumeRoleWithOIDC"),
        ("Version", "2015-04-01"),
        ("Format", "JSON"),
        // `CLOCK`, the emulator's time in these tests.
        ("Timestamp", "2023-11-14T22:13:20Z"),
    ];
    all.extend_from_slice(params);
    let body = canonical_query(all);
    request(
        emu,
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await
}

const CLOCK: u64 = 1_700_000_000;

#[tokio::test]
async fn assume_role_issues_credentials_that_swas_accepts() {
    let (clock, emu) = start().await;
    let resp = sts(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["RequestId"].as_str().unwrap().len(), 36);
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "acs:ram::1234567890123456:assumed-role/deployer/ci-session"
    );
    let role_id = v["AssumedRoleUser"]["AssumedRoleId"].as_str().unwrap();
    assert!(role_id.ends_with(":ci-session"), "{role_id}");
    let creds = TempCreds::from_json(&v["Credentials"]);
    assert!(creds.id.starts_with("STS."), "{}", creds.id);
    // Default DurationSeconds: an hour after the emulator's clock.
    assert_eq!(creds.expiration, "2023-11-14T23:13:20Z");
    let stats = emu.stats();
    assert_eq!((stats.sts_requests, stats.credentials_issued), (1, 1));
    assert_eq!(stats.requests, 0, "STS calls are not SWAS requests");

    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-2")] {
        let request = delete_at(&emu, &creds.signer(version), image, clock.timestamp());
        send(emu.addr(), &request).await.unwrap().assert_ok();
    }
    assert_eq!(emu.stats().deletes, 2);
}

#[tokio::test]
async fn assume_role_by_get_and_as_a_split_form_post() {
    let (clock, emu) = start().await;
    sts(&emu, "GET", &assume_role(&clock, ROLE, &[]), SECRET)
        .await
        .assert_ok();
    // As the Go SDK sends it: signature parameters in the query, the rest in a form body,
    // both signed.
    let params = assume_role(&clock, ROLE, &[("DurationSeconds", "900")]);
    let signed = v1_signed_query("POST", &params, SECRET);
    let (query, body): (Vec<&str>, Vec<&str>) = signed.split('&').partition(|p| {
        ["AccessKeyId=", "Signature", "Timestamp="]
            .iter()
            .any(|s| p.starts_with(s))
    });
    let body = body.join("&");
    let raw = format!(
        "POST /?{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        query.join("&"),
        emu.addr(),
        body.len()
    );
    let resp = send(emu.addr(), raw.as_bytes()).await.unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        TempCreds::from_json(&resp.json()["Credentials"]).expiration,
        "2023-11-14T22:28:20Z"
    );
}

#[tokio::test]
async fn assume_role_authentication_errors() {
    let (clock, emu) = start().await;
    let params = assume_role(&clock, ROLE, &[]);
    let resp = sts(&emu, "POST", &params, "wrong-secret").await;
    resp.assert_error(400, "SignatureDoesNotMatch");
    assert!(resp.json()["Recommend"]
        .as_str()
        .unwrap()
        .ends_with("q=SignatureDoesNotMatch&product=Sts"));
    let mut unknown = assume_role(&clock, ROLE, &[]);
    set(&mut unknown, "AccessKeyId", "nobody");
    sts(&emu, "POST", &unknown, SECRET)
        .await
        .assert_error(404, "InvalidAccessKeyId.NotFound");
    // A replayed nonce, and a timestamp outside the window of the emulator's clock.
    sts(&emu, "POST", &params, SECRET).await.assert_ok();
    sts(&emu, "POST", &params, SECRET)
        .await
        .assert_error(400, "SignatureNonceUsed");
    clock.advance(16 * 60);
    sts(
        &emu,
        "POST",
        &assume_role(&TestClock::at(CLOCK), ROLE, &[]),
        SECRET,
    )
    .await
    .assert_error(400, "InvalidTimeStamp.Expired");
    assert_eq!(emu.stats().credentials_issued, 1);
}

#[tokio::test]
async fn assume_role_parameter_errors_in_order() {
    let (clock, emu) = start().await;
    let duration = |seconds| [("DurationSeconds", seconds)];
    // The role, the parameters set, the one left out, and the error expected.
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        u16,
        &'a str,
    );
    let cases: [Case; 11] = [
        (ROLE, &[], Some("RoleArn"), 400, "MissingParameter"),
        (
            "acs:ram::12:user/alice",
            &[],
            None,
            400,
            "InvalidParameter.RoleArn",
        ),
        (ROLE, &[], Some("RoleSessionName"), 400, "MissingParameter"),
        (
            ROLE,
            &[("RoleSessionName", "a*b")],
            None,
            400,
            "InvalidParameter.RoleSessionName",
        ),
        (
            ROLE,
            &[("Policy", "{not json")],
            None,
            400,
            "InvalidParameter.PolicyGrammar",
        ),
        (
            "acs:ram::1234567890123456:role/nobody",
            &[],
            None,
            404,
            "EntityNotExist.Role",
        ),
        (
            ROLE,
            &duration("899"),
            None,
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            ROLE,
            &duration("3601"),
            None,
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            ROLE,
            &duration("an hour"),
            None,
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (GUARDED, &[], None, 403, "NoPermission"),
        (
            GUARDED,
            &[("ExternalId", "ext-0000")],
            None,
            403,
            "NoPermission",
        ),
    ];
    for (role, set, left_out, status, code) in cases {
        let mut params = assume_role(&clock, role, set);
        params.retain(|(n, _)| Some(n.as_str()) != left_out);
        sts(&emu, "POST", &params, SECRET)
            .await
            .assert_error(status, code);
    }
    assert_eq!(emu.stats().credentials_issued, 0);
    // The same calls, right.
    let ok = [
        assume_role(&clock, GUARDED, &[("ExternalId", EXTERNAL)]),
        assume_role(&clock, LONG, &[("DurationSeconds", "43200")]),
        assume_role(
            &clock,
            ROLE,
            &[("Policy", r#"{"Version":"1","Statement":[]}"#)],
        ),
    ];
    for params in ok {
        sts(&emu, "POST", &params, SECRET).await.assert_ok();
    }
    assert_eq!(emu.stats().credentials_issued, 3);
}

#[tokio::test]
async fn issued_credentials_expire_and_keep_their_own_token() {
    let (clock, emu) = start().await;
    let resp = sts(
        &emu,
        "POST",
        &assume_role(&clock, ROLE, &[("DurationSeconds", "900")]),
        SECRET,
    )
    .await;
    let creds = TempCreds::from_json(&resp.json()["Credentials"]);
    let delete = |creds: &TempCreds, image: &str| {
        delete_at(
            &emu,
            &creds.signer(SignatureVersion::V1),
            image,
            clock.timestamp(),
        )
    };
    // Another credential's token, or none, is a mismatch.
    let mut stolen = creds.clone();
    stolen.token = "CAISsomebody-else".to_owned();
    refused(
        &emu,
        &delete(&stolen, "m-1"),
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    .await;
    let unsigned_token = signer(&creds.id, &creds.secret, None, SignatureVersion::V1);
    let request = delete_at(&emu, &unsigned_token, "m-1", clock.timestamp());
    refused(
        &emu,
        &request,
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    .await;

    clock.advance(899);
    send(emu.addr(), &delete(&creds, "m-1"))
        .await
        .unwrap()
        .assert_ok();
    clock.advance(1);
    let resp = send(emu.addr(), &delete(&creds, "m-2")).await.unwrap();
    resp.assert_error(400, "InvalidSecurityToken.Expired");
    assert!(emu.has_image(REGION, "m-2"));
    assert!(!resp.text().contains(&creds.secret) && !resp.text().contains(&creds.token));
}

#[tokio::test]
async fn temporary_credentials_can_assume_a_role_again() {
    let (clock, emu) = start().await;
    let first = sts(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET).await;
    let creds = TempCreds::from_json(&first.json()["Credentials"]);
    let mut params = sts_common("AssumeRole", &creds.id, &clock.timestamp());
    set(&mut params, "RoleArn", LONG);
    set(&mut params, "RoleSessionName", "chained");
    set(&mut params, "SecurityToken", &creds.token);
    let second = sts(&emu, "POST", &params, &creds.secret).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_ne!(
        TempCreds::from_json(&second.json()["Credentials"]).id,
        creds.id
    );
    // Without its token, the temporary key is refused.
    let mut params = sts_common("AssumeRole", &creds.id, &clock.timestamp());
    set(&mut params, "RoleArn", LONG);
    set(&mut params, "RoleSessionName", "chained");
    sts(&emu, "POST", &params, &creds.secret)
        .await
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
}

#[tokio::test]
async fn credential_lifetime_overrides_the_duration() {
    let clock = TestClock::at(CLOCK);
    let emu = builder(&clock)
        .credential_lifetime(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let resp = sts(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET).await;
    assert_eq!(
        TempCreds::from_json(&resp.json()["Credentials"]).expiration,
        "2023-11-14T22:13:25Z"
    );
    // DurationSeconds is still checked.
    sts(
        &emu,
        "POST",
        &assume_role(&clock, ROLE, &[("DurationSeconds", "60")]),
        SECRET,
    )
    .await
    .assert_error(400, "InvalidParameter.DurationSeconds");
}

#[tokio::test]
async fn oidc_issues_credentials_for_the_registered_token_only() {
    let (clock, emu) = start().await;
    let base = [
        ("RoleArn", OIDC_ROLE),
        ("OIDCProviderArn", PROVIDER),
        ("OIDCToken", JWT),
        ("RoleSessionName", "pod-session"),
    ];
    let resp = oidc(&emu, &base).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "acs:ram::1234567890123456:assumed-role/pod-role/pod-session"
    );
    let creds = TempCreds::from_json(&v["Credentials"]);
    let request = delete_at(
        &emu,
        &creds.signer(SignatureVersion::V3),
        "m-1",
        clock.timestamp(),
    );
    send(emu.addr(), &request).await.unwrap().assert_ok();

    let with = |name: &'static str, value: &'static str| {
        let mut p: Vec<(&str, &str)> = base.iter().copied().filter(|(n, _)| *n != name).collect();
        if !value.is_empty() {
            p.push((name, value));
        }
        p
    };
    let cases = [
        (
            with("OIDCToken", "eyJ.other.token"),
            401,
            "AuthenticationFail.OIDCToken.Invalid",
        ),
        (
            with(
                "OIDCProviderArn",
                "acs:ram::1234567890123456:oidc-provider/other",
            ),
            401,
            "AuthenticationFail.NoPermission",
        ),
        (
            with(
                "OIDCProviderArn",
                "acs:ram::1234567890123456:role/not-a-provider",
            ),
            400,
            "InvalidParameter.OIDCProviderArn",
        ),
        (
            with("RoleArn", "acs:ram::1234567890123456:role/unknown"),
            404,
            "EntityNotExist.Role",
        ),
        (with("OIDCToken", ""), 400, "MissingParameter"),
        (with("RoleArn", ""), 400, "MissingParameter"),
        (
            with("RoleSessionName", "x"),
            400,
            "InvalidParameter.RoleSessionName",
        ),
    ];
    for (params, status, code) in cases {
        let resp = oidc(&emu, &params).await;
        resp.assert_error(status, code);
        assert!(!resp.text().contains(JWT), "{}", resp.text());
    }
    // The session name is required for OIDC too; a duration over the hour is refused.
    oidc(&emu, &with("RoleSessionName", ""))
        .await
        .assert_error(400, "MissingParameter");
    let mut long = base.to_vec();
    long.push(("DurationSeconds", "7200"));
    oidc(&emu, &long)
        .await
        .assert_error(400, "InvalidParameter.DurationSeconds");
    assert_eq!(emu.stats().sts_requests, 10);
    assert_eq!(emu.stats().credentials_issued, 1);
}

#[tokio::test]
async fn sts_routing_needs_its_version() {
    let (clock, emu) = start().await;
    let mut params = assume_role(&clock, ROLE, &[]);
    set(&mut params, "Version", "2020-06-01");
    sts(&emu, "POST", &params, SECRET)
        .await
        .assert_error(404, "InvalidAction.NotFound");
    let stats = emu.stats();
    assert_eq!((stats.requests, stats.sts_requests), (1, 0));
}

#[tokio::test]
async fn faults_on_sts() {
    let (clock, emu) = start().await;
    emu.inject(Fault::error(503, ErrorCode::ServiceUnavailable).on(Service::Sts));
    emu.inject(Fault::drop_after_commit().on(Service::Sts));
    // A SWAS fault stays for SWAS.
    emu.inject(Fault::html(502));

    let resp = sts(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET).await;
    resp.assert_error(503, "ServiceUnavailable");
    assert!(resp.json()["Recommend"]
        .as_str()
        .unwrap()
        .contains("product=Sts"));
    assert!(send(
        emu.addr(),
        &v1_raw(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET)
    )
    .await
    .is_err());
    assert_eq!(emu.stats().credentials_issued, 1, "issued, then dropped");
    emu.inject(Fault::expires_in(Duration::from_secs(7)));
    // An error answer issues nothing, so the expiry fault waits for a success.
    let bad = assume_role(&clock, ROLE, &[("DurationSeconds", "1")]);
    sts(&emu, "POST", &bad, SECRET)
        .await
        .assert_error(400, "InvalidParameter.DurationSeconds");
    let resp = sts(&emu, "POST", &assume_role(&clock, ROLE, &[]), SECRET).await;
    assert_eq!(
        TempCreds::from_json(&resp.json()["Credentials"]).expiration,
        "2023-11-14T22:13:27Z"
    );
    assert_eq!(emu.stats().sts_requests, 4);
    let r = send_signed_at(&emu, "m-1", &clock).await;
    assert_eq!(r.status, 502);
    assert_eq!(emu.stats().requests, 1);
}

async fn send_signed_at(emu: &Emulator, image: &str, clock: &TestClock) -> Resp {
    let request = delete_at(emu, &v1(), image, clock.timestamp());
    send(emu.addr(), &request).await.unwrap()
}

/// A JWT-shaped token with these claims (the signature part is not checked).
fn jwt(claims: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
    format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn oidc_tokens_are_held_to_their_claims() {
    const ISSUER: &str = "https://oidc.example";
    let clock = TestClock::at(CLOCK);
    let exp = CLOCK + 60;
    let good = jwt(&format!(
        r#"{{"iss":"{ISSUER}","aud":["sts.aliyuncs.com"],"exp":{exp}}}"#
    ));
    let expired = jwt(&format!(
        r#"{{"iss":"{ISSUER}","aud":"sts.aliyuncs.com","exp":{CLOCK}}}"#
    ));
    let wrong_issuer = jwt(r#"{"iss":"https://evil.example","aud":"sts.aliyuncs.com"}"#);
    let wrong_audience = jwt(&format!(r#"{{"iss":"{ISSUER}","aud":"someone-else"}}"#));
    let tokens = [&good, &expired, &wrong_issuer, &wrong_audience];
    let emu = tokens
        .iter()
        .fold(builder(&clock), |b, token| {
            b.oidc_token(OIDC_ROLE, PROVIDER, token)
        })
        .oidc_provider(PROVIDER, Some(ISSUER), &["sts.aliyuncs.com"])
        .start()
        .await
        .unwrap();
    let with_token = |token: &str| {
        let params = [
            ("RoleArn", OIDC_ROLE),
            ("OIDCProviderArn", PROVIDER),
            ("RoleSessionName", "pod"),
        ];
        let mut p: Vec<(String, String)> = params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        p.push(("OIDCToken".to_owned(), token.to_owned()));
        p
    };
    let call = |token: String| {
        let emu = emu.clone();
        async move {
            let p = with_token(&token);
            let borrowed: Vec<(&str, &str)> =
                p.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            oidc(&emu, &borrowed).await
        }
    };
    call(good.clone()).await.assert_ok();
    for (token, status, code) in [
        (&expired, 401, "AuthenticationFail.OIDCToken.Expired"),
        (&wrong_issuer, 401, "AuthenticationFail.OIDCToken.Invalid"),
        (
            &wrong_audience,
            401,
            "AuthenticationFail.OIDCToken.AudienceNotMatch",
        ),
    ] {
        let resp = call(token.clone()).await;
        resp.assert_error(status, code);
        assert!(!resp.text().contains(token.as_str()), "{}", resp.text());
    }
    // The good token expires with the clock, as a pod's projected token does.
    clock.advance(60);
    call(good)
        .await
        .assert_error(401, "AuthenticationFail.OIDCToken.Expired");
}

#[tokio::test]
async fn oidc_requests_need_a_timestamp_in_the_window() {
    let (_clock, emu) = start().await;
    let form = |timestamp: Option<&str>| {
        let mut p = vec![
            ("Action", "AssumeRoleWithOIDC"),
            ("Version", "2015-04-01"),
            ("RoleArn", OIDC_ROLE),
            ("OIDCProviderArn", PROVIDER),
            ("OIDCToken", JWT),
            ("RoleSessionName", "pod"),
        ];
        if let Some(t) = timestamp {
            p.push(("Timestamp", t));
        }
        canonical_query(p)
    };
    let post = |body: String| {
        let emu = emu.clone();
        async move {
            request(
                &emu,
                "POST",
                "/",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
            )
            .await
        }
    };
    post(form(None)).await.assert_error(400, "MissingParameter");
    post(form(Some("yesterday")))
        .await
        .assert_error(400, "IllegalTimestamp");
    // 15 minutes either way are accepted, a second more is not.
    post(form(Some("2023-11-14T22:28:20Z"))).await.assert_ok();
    post(form(Some("2023-11-14T21:58:20Z"))).await.assert_ok();
    post(form(Some("2023-11-14T22:28:21Z")))
        .await
        .assert_error(400, "InvalidTimeStamp.Expired");
    post(form(Some("2023-11-14T21:58:19Z")))
        .await
        .assert_error(400, "InvalidTimeStamp.Expired");
}

#[tokio::test]
async fn format_xml_is_answered_in_xml() {
    let (clock, emu) = start().await;
    let mut params = assume_role(&clock, ROLE, &[]);
    set(&mut params, "Format", "XML");
    let resp = sts(&emu, "POST", &params, SECRET).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.header("content-type").unwrap().starts_with("text/xml"));
    let body = resp.text();
    assert!(
        body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><AssumeRoleResponse>"#),
        "{body}"
    );
    for part in [
        "<AccessKeyId>STS.",
        "<SecurityToken>CAIS",
        "<Arn>acs:ram::1234567890123456:assumed-role/deployer/ci-session</Arn>",
        "</AssumeRoleResponse>",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    // Errors too, authentication's included.
    let mut bad = assume_role(&clock, "acs:ram::1234567890123456:role/none", &[]);
    set(&mut bad, "Format", "xml");
    let resp = sts(&emu, "POST", &bad, SECRET).await;
    assert_eq!(resp.status, 404);
    assert!(
        resp.text().contains("<Error><RequestId>")
            && resp.text().contains("<Code>EntityNotExist.Role</Code>"),
        "{}",
        resp.text()
    );
    emu.inject(Fault::throttling(250).on(Service::Sts));
    let resp = sts(&emu, "POST", &bad, SECRET).await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.text().contains("<Code>Throttling</Code>"),
        "{}",
        resp.text()
    );
    let mut unsigned = assume_role(&clock, ROLE, &[]);
    set(&mut unsigned, "Format", "XML");
    let resp = sts(&emu, "POST", &unsigned, "wrong-secret").await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.text().contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        resp.text()
    );
}
