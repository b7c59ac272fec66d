//! The instance metadata service (IMDS) and the credentials URI over real sockets: tokens,
//! v1 and v2-only modes, the credentials documents, faults and counters.

mod support;

use std::time::Duration;

use support::*;
use swas_open_core::{ErrorCode, SignatureVersion};
use swas_open_emulator::{Emulator, Fault, Service};

const ROLE_NAME: &str = "EcsRamRoleTest";
const CREDS: &str = "/latest/meta-data/ram/security-credentials/";
const TTL: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN: &str = "X-aliyun-ecs-metadata-token";
const CLOCK: u64 = 1_700_000_000;

/// [`start`] on a test clock at [`CLOCK`].
async fn started(v2_only: bool) -> (TestClock, Emulator) {
    let clock = TestClock::at(CLOCK);
    let emu = start(&clock, v2_only).await;
    (clock, emu)
}

async fn start(clock: &TestClock, v2_only: bool) -> Emulator {
    Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .instance_role(ROLE_NAME)
        .imds_v2_only(v2_only)
        .credentials_uri("/credentials")
        .clock(clock.source())
        .start()
        .await
        .expect("emulator starts")
}

async fn token(emu: &Emulator, ttl: &str) -> Resp {
    request(emu, "PUT", "/latest/api/token", &[(TTL, ttl)], b"").await
}

/// Deletes `image` with `creds`, signed at the clock's time.
async fn delete_with(emu: &Emulator, creds: &TempCreds, image: &str, clock: &TestClock) -> Resp {
    let request = delete_at(
        emu,
        &creds.signer(SignatureVersion::V1),
        image,
        clock.timestamp(),
    );
    send(emu.addr(), &request).await.unwrap()
}

#[tokio::test]
async fn v2_token_then_role_then_credentials() {
    let (clock, emu) = started(true).await;
    let t = token(&emu, "21600").await;
    assert_eq!(t.status, 200);
    assert!(t.header("content-type").unwrap().starts_with("text/plain"));
    let t = t.text();
    assert!(t.len() >= 32, "{t}");

    let role = get(&emu, CREDS, &[(TOKEN, &t)]).await;
    assert_eq!((role.status, role.text().as_str()), (200, ROLE_NAME));

    let resp = get(&emu, &format!("{CREDS}{ROLE_NAME}"), &[(TOKEN, &t)]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["Code"], "Success");
    assert_eq!(v["LastUpdated"], "2023-11-14T22:13:20Z");
    let creds = TempCreds::from_json(&v);
    assert_eq!(creds.expiration, "2023-11-15T04:13:20Z", "six hours");
    assert!(creds.id.starts_with("STS."));
    assert_eq!(v.as_object().unwrap().len(), 6, "{v}");

    delete_with(&emu, &creds, "m-1", &clock).await.assert_ok();
    let stats = emu.stats();
    assert_eq!(
        (
            stats.imds_requests,
            stats.credentials_issued,
            stats.requests
        ),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn v2_only_refuses_reads_without_a_token_and_any_mode_refuses_bad_tokens() {
    let clock = TestClock::at(CLOCK);
    let strict = start(&clock, true).await;
    assert_eq!(get(&strict, CREDS, &[]).await.status, 403);
    assert_eq!(
        get(&strict, &format!("{CREDS}{ROLE_NAME}"), &[])
            .await
            .status,
        403
    );

    let lenient = start(&clock, false).await;
    let role = get(&lenient, CREDS, &[]).await;
    assert_eq!((role.status, role.text().as_str()), (200, ROLE_NAME));
    let v1 = get(&lenient, &format!("{CREDS}{ROLE_NAME}"), &[]).await;
    assert_eq!(v1.json()["Code"], "Success");

    for emu in [&strict, &lenient] {
        assert_eq!(get(emu, CREDS, &[(TOKEN, "forged")]).await.status, 401);
    }
    // Tokens expire with their TTL, by the emulator's clock.
    let t = token(&strict, "60").await.text();
    assert_eq!(get(&strict, CREDS, &[(TOKEN, &t)]).await.status, 200);
    clock.advance(60);
    assert_eq!(get(&strict, CREDS, &[(TOKEN, &t)]).await.status, 401);
}

#[tokio::test]
async fn token_ttl_bounds_and_wrong_routes() {
    let (_, emu) = started(false).await;
    for bad in ["0", "21601", "soon", ""] {
        assert_eq!(token(&emu, bad).await.status, 400, "ttl {bad:?}");
    }
    let no_header = request(&emu, "PUT", "/latest/api/token", &[], b"").await;
    assert_eq!(no_header.status, 400);
    assert_eq!(token(&emu, "1").await.status, 200);
    assert_eq!(get(&emu, "/latest/api/token", &[]).await.status, 405);
    assert_eq!(request(&emu, "POST", CREDS, &[], b"").await.status, 405);
    assert_eq!(
        get(&emu, &format!("{CREDS}OtherRole"), &[]).await.status,
        404
    );
    assert_eq!(
        get(&emu, "/latest/meta-data/instance-id", &[]).await.status,
        404
    );
    assert_eq!(emu.stats().imds_requests, 10);
    assert_eq!(emu.stats().credentials_issued, 0);

    // Without an instance role, IMDS has no credentials to give.
    let bare = Emulator::builder()
        .access_key(AK, SECRET)
        .start()
        .await
        .unwrap();
    assert_eq!(get(&bare, CREDS, &[]).await.status, 404);
}

#[tokio::test]
async fn credentials_uri_serves_usable_credentials() {
    let (clock, emu) = started(false).await;
    let url = emu.credentials_uri().expect("configured");
    assert_eq!(url, format!("http://{}/credentials", emu.addr()));
    let resp = get(&emu, "/credentials", &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["Code"], "Success");
    assert_eq!(v.as_object().unwrap().len(), 5, "{v}");
    let creds = TempCreds::from_json(&v);
    delete_with(&emu, &creds, "m-1", &clock).await.assert_ok();
    // Each read issues fresh credentials.
    let again = TempCreds::from_json(&get(&emu, "/credentials?x=1", &[]).await.json());
    assert_ne!(again.id, creds.id);
    assert_eq!(
        request(&emu, "POST", "/credentials", &[], b"").await.status,
        405
    );
    let stats = emu.stats();
    assert_eq!(
        (stats.credentials_uri_requests, stats.credentials_issued),
        (3, 2)
    );

    // Without the route configured, the path is just not a SWAS action.
    let bare = Emulator::builder()
        .access_key(AK, SECRET)
        .start()
        .await
        .unwrap();
    assert_eq!(bare.credentials_uri(), None);
    get(&bare, "/credentials", &[])
        .await
        .assert_error(404, "InvalidAction.NotFound");
}

#[tokio::test]
async fn issued_credentials_expire_on_the_emulator_clock() {
    let (clock, emu) = started(false).await;
    emu.inject(Fault::expires_in(Duration::from_secs(30)).on(Service::CredentialsUri));
    let creds = TempCreds::from_json(&get(&emu, "/credentials", &[]).await.json());
    assert_eq!(creds.expiration, "2023-11-14T22:13:50Z");
    clock.advance(29);
    delete_with(&emu, &creds, "m-1", &clock).await.assert_ok();
    clock.advance(1);
    delete_with(&emu, &creds, "m-2", &clock)
        .await
        .assert_error(400, "InvalidSecurityToken.Expired");
}

#[tokio::test]
async fn faults_on_imds_and_the_credentials_uri() {
    let (_, emu) = started(false).await;
    emu.inject(Fault::error(500, ErrorCode::InternalError).on(Service::Imds));
    emu.inject(Fault::expires_in(Duration::from_secs(1)).on(Service::Imds));
    emu.inject(Fault::throttling(250).on(Service::CredentialsUri));
    emu.inject(Fault::truncated().on(Service::CredentialsUri));

    let failed = token(&emu, "60").await;
    assert_eq!(
        (failed.status, failed.text().as_str()),
        (500, "InternalError")
    );
    // The token request issues nothing: the expiry fault waits for the credentials read.
    let t = token(&emu, "60").await;
    assert_eq!(t.status, 200);
    let creds = get(&emu, &format!("{CREDS}{ROLE_NAME}"), &[(TOKEN, &t.text())]).await;
    assert_eq!(
        TempCreds::from_json(&creds.json()).expiration,
        "2023-11-14T22:13:21Z"
    );

    let throttled = get(&emu, "/credentials", &[]).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.json()["Code"], "Throttling");
    assert_eq!(throttled.header("x-acs-retry-after"), Some("250"));
    let truncated = get(&emu, "/credentials", &[]).await;
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&truncated.body).is_err());
    let state = get(&emu, "/__emulator/state", &[]).await.json();
    assert_eq!(state["pending_faults"], 0);
    assert_eq!(state["stats"]["imds_requests"], 3);
    assert_eq!(state["stats"]["credentials_uri_requests"], 2);
    assert_eq!(state["stats"]["credentials_issued"], 2);
}

#[tokio::test]
async fn counters_count_every_concurrent_request_once() {
    let (_, emu) = started(false).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let emu = emu.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                get(&emu, "/credentials", &[]).await.status
            } else {
                get(&emu, &format!("{CREDS}{ROLE_NAME}"), &[]).await.status
            }
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let stats = emu.stats();
    assert_eq!(
        (
            stats.credentials_uri_requests,
            stats.imds_requests,
            stats.credentials_issued,
            stats.requests
        ),
        (50, 50, 100, 0)
    );
}
