//! Accounts over real sockets: ClientTokens are remembered per account (so two STS sessions
//! of one role, or a key and the instance's credentials, are one caller), and AssumeRole is
//! held to the role's account unless the role trusts the caller's.

mod support;

use support::*;
use swas_open_core::SignatureVersion;
use swas_open_emulator::{Emulator, EmulatorBuilder, Role};

const ACCOUNT: &str = "1234567890123456";
const ROLE: &str = "acs:ram::1234567890123456:role/deleter";
const OTHER_ROLE: &str = "acs:ram::9999:role/elsewhere";
const OTHER_KEY: (&str, &str) = ("other-account-ak", "other-account-secret");

fn builder() -> EmulatorBuilder {
    Emulator::builder()
        .access_key(AK, SECRET)
        .account(ACCOUNT)
        .access_key(OTHER_KEY.0, OTHER_KEY.1)
        .key_account(OTHER_KEY.0, "9999")
        .role(Role::new(ROLE))
        .role(Role::new(OTHER_ROLE))
        .instance_role("EcsRole")
        .image(REGION, "m-1")
        .image(REGION, "m-2")
}

/// AssumeRole of `role` signed with (`id`, `secret`[, `token`]) at the real time.
async fn assume(
    emu: &Emulator,
    (id, secret, token): (&str, &str, Option<&str>),
    role: &str,
) -> Resp {
    let mut params = sts_common("AssumeRole", id, &now());
    set(&mut params, "RoleArn", role);
    set(&mut params, "RoleSessionName", "session");
    if let Some(token) = token {
        set(&mut params, "SecurityToken", token);
    }
    send(emu.addr(), &v1_raw(emu, "POST", &params, secret))
        .await
        .expect("an answer")
}

async fn session(emu: &Emulator) -> TempCreds {
    let resp = assume(emu, (AK, SECRET, None), ROLE).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    TempCreds::from_json(&resp.json()["Credentials"])
}

/// DeleteCustomImage of `image` with the ClientToken `tok`, signed with a session's key.
async fn send_as(
    emu: &Emulator,
    creds: &TempCreds,
    version: SignatureVersion,
    image: &str,
) -> Resp {
    send_signed(emu, &creds.signer(version), image, Some("tok")).await
}

#[tokio::test]
async fn two_sts_sessions_of_one_role_share_client_tokens() {
    let emu = builder().start().await.unwrap();
    let (first, second) = (session(&emu).await, session(&emu).await);
    assert_ne!(first.id, second.id, "each session has its own AccessKey id");

    let answer = send_as(&emu, &first, SignatureVersion::V3, "m-1").await;
    answer.assert_ok();
    // The second session (a refreshed key, or another client with the same saved token)
    // gets the first answer, and nothing is deleted again.
    let again = send_as(&emu, &second, SignatureVersion::V1, "m-1").await;
    assert_eq!(
        (again.status, again.request_id()),
        (200, answer.request_id())
    );
    // So does the account's long-term key, and the instance's credentials (the instance
    // belongs to the default account).
    let imds = get(
        &emu,
        "/latest/meta-data/ram/security-credentials/EcsRole",
        &[],
    )
    .await;
    let instance = TempCreds::from_json(&imds.json());
    for signer in [v1(), instance.signer(SignatureVersion::V3)] {
        let replay = send_signed(&emu, &signer, "m-1", Some("tok")).await;
        assert_eq!(replay.request_id(), answer.request_id());
    }
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn the_same_token_from_another_account_is_a_new_request() {
    let emu = builder().start().await.unwrap();
    let creds = session(&emu).await;
    let answer = send_as(&emu, &creds, SignatureVersion::V3, "m-1").await;
    answer.assert_ok();
    let other = signer(OTHER_KEY.0, OTHER_KEY.1, None, SignatureVersion::V1);
    // Same token, same parameters, another account: handled anew (the image is gone now).
    let fresh = send_signed(&emu, &other, "m-1", Some("tok")).await;
    fresh.assert_error(404, "InvalidImageId.NotFound");
    assert_ne!(fresh.request_id(), answer.request_id());
    // Each account keeps its own history of the token.
    let replay = send_signed(&emu, &other, "m-1", Some("tok")).await;
    assert_eq!(replay.request_id(), fresh.request_id());
    send_as(&emu, &creds, SignatureVersion::V1, "m-2")
        .await
        .assert_error(400, "IdempotentParameterMismatch");
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn keys_assume_only_roles_of_their_account_or_trusting_it() {
    let emu = builder().start().await.unwrap();
    let refused = assume(&emu, (OTHER_KEY.0, OTHER_KEY.1, None), ROLE).await;
    refused.assert_error(403, "NoPermission");
    assert!(
        refused.text().contains("another account"),
        "{}",
        refused.text()
    );
    let own = assume(&emu, (OTHER_KEY.0, OTHER_KEY.1, None), OTHER_ROLE).await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(
        own.json()["AssumedRoleUser"]["Arn"],
        "acs:ram::9999:assumed-role/elsewhere/session"
    );
    assume(&emu, (AK, SECRET, None), OTHER_ROLE)
        .await
        .assert_error(403, "NoPermission");
    // Temporary credentials belong to the assumed role's account.
    let creds = TempCreds::from_json(&own.json()["Credentials"]);
    let chained = (
        creds.id.as_str(),
        creds.secret.as_str(),
        Some(creds.token.as_str()),
    );
    assume(&emu, chained, ROLE)
        .await
        .assert_error(403, "NoPermission");
    assert_eq!(assume(&emu, chained, OTHER_ROLE).await.status, 200);

    // A role that trusts the other account lets its keys in.
    let trusting = builder()
        .role(Role::new("acs:ram::1234567890123456:role/shared").trust_account("9999"))
        .start()
        .await
        .unwrap();
    let resp = assume(
        &trusting,
        (OTHER_KEY.0, OTHER_KEY.1, None),
        "acs:ram::1234567890123456:role/shared",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test]
async fn without_a_named_account_every_key_is_one_caller_trusted_by_every_role() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .access_key(OTHER_KEY.0, OTHER_KEY.1)
        .role(Role::new(ROLE))
        .role(Role::new(OTHER_ROLE))
        .image(REGION, "m-1")
        .start()
        .await
        .unwrap();
    for role in [ROLE, OTHER_ROLE] {
        assert_eq!(assume(&emu, (AK, SECRET, None), role).await.status, 200);
    }
    let first = send_signed(&emu, &v1(), "m-1", Some("tok")).await;
    let other = signer(OTHER_KEY.0, OTHER_KEY.1, None, SignatureVersion::V1);
    let again = send_signed(&emu, &other, "m-1", Some("tok")).await;
    assert_eq!(again.request_id(), first.request_id());
}

#[tokio::test]
async fn accounts_must_be_digits_and_keys_known() {
    for builder in [
        builder().account("12a"),
        builder().key_account(AK, ""),
        builder().key_account("no-such-key", "1"),
        builder().role(Role::new(ROLE).trust_account("x")),
    ] {
        let e = builder.start().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    }
}

/// The case the per-account scope is for: the answer is lost, the credentials are refreshed
/// (a new AccessKey id), and the retry with the same token gets the first answer.
#[tokio::test]
async fn a_retry_after_a_refresh_gets_the_lost_answer() {
    let emu = builder().start().await.unwrap();
    let before = session(&emu).await;
    emu.inject(swas_open_emulator::Fault::drop_after_commit());
    let lost = send(
        emu.addr(),
        &raw(&signed(
            &emu,
            &before.signer(SignatureVersion::V3),
            "m-1",
            Some("tok"),
        )),
    )
    .await;
    assert!(lost.is_err(), "the answer was dropped: {lost:?}");
    assert!(!emu.has_image(REGION, "m-1"), "the delete happened");

    let after = session(&emu).await;
    assert_ne!(after.id, before.id);
    let retry = send_as(&emu, &after, SignatureVersion::V3, "m-1").await;
    retry.assert_ok();
    assert_eq!(emu.stats().deletes, 1);
}
