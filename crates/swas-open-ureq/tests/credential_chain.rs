//! Every credential provider and config-file mode end to end, over real sockets: the
//! emulator plays STS, the metadata service, the credentials URI and SWAS. Each chain runs
//! against a scrubbed environment (a map, never the process's) and a temporary HOME, and
//! the environment refuses any test that would leave the metadata service at its real
//! address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use swas_open_core::{CredentialsError, CredentialsProvider, RoleOptions};
use swas_open_emulator::{Emulator, Fault, Service};
use swas_open_testkit::creds::*;
use swas_open_ureq::{Client, Credentials, DeleteCustomImage, Error, ErrorKind};

fn emulator(v2_only: bool) -> Emulator {
    credential_services()
        .imds_v2_only(v2_only)
        .start_blocking()
        .unwrap()
}

fn delete(emu: &Emulator, provider: CredentialsProvider) -> Result<Client, Error> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let image = format!("m-{}", N.fetch_add(1, Ordering::Relaxed));
    emu.add_image(REGION, &image, false);
    let client = Client::builder()
        .credentials(provider)
        .endpoint(&emu.url())
        .build()?;
    client.delete_custom_image(&DeleteCustomImage::new(REGION, &image)?)?;
    assert!(!emu.has_image(REGION, &image));
    Ok(client)
}

fn credentials_error(e: Error) -> CredentialsError {
    match e.into_kind() {
        ErrorKind::Credentials(e) => e,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

fn no_secret(text: &str) {
    for secret in [AK.1, OIDC_TOKEN] {
        assert!(!text.contains(secret), "secret in: {text}");
    }
}

fn imds_off() -> (&'static str, String) {
    ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".into())
}

#[test]
fn every_config_file_mode_end_to_end() {
    let emu = emulator(false);
    let home = Home::new();
    let url = emu.url();
    let uri = emu.credentials_uri().unwrap();
    let token_file = home.write("token", OIDC_TOKEN);
    home.write(
        ".aliyun/config.json",
        &format!(
            r#"{{"current":"ak","profiles":[
            {{"name":"ak","mode":"AK","access_key_id":"{}","access_key_secret":"{}"}},
            {{"name":"role","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"guarded","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"acs:ram::123456789012:role/guarded","external_id":"ext-1","sts_endpoint":"{url}"}},
            {{"name":"wrong-ext","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"acs:ram::123456789012:role/guarded","external_id":"nope","sts_endpoint":"{url}"}},
            {{"name":"chained","mode":"ChainableRamRoleArn","source_profile":"role","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"loop","mode":"ChainableRamRoleArn","source_profile":"loop","ram_role_arn":"{ROLE}"}},
            {{"name":"ecs","mode":"EcsRamRole","ram_role_name":"web-role"}},
            {{"name":"oidc","mode":"OIDC","oidc_token_file":"{}","oidc_provider_arn":"{OIDC_PROVIDER}","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"uri","mode":"CredentialsURI","credentials_uri":"{uri}"}},
            {{"name":"sso","mode":"CloudSSO"}}
        ]}}"#,
            AK.0, AK.1, AK.0, AK.1, AK.0, AK.1, AK.0, AK.1,
            token_file.display()
        ),
    );
    let imds = ("ALIBABA_CLOUD_IMDS_ENDPOINT", url.clone());
    for profile in ["ak", "role", "guarded", "chained", "ecs", "oidc", "uri"] {
        let before = emu.stats();
        delete(
            &emu,
            chain(&home, Some(profile), std::slice::from_ref(&imds)),
        )
        .unwrap_or_else(|e| panic!("profile {profile}: {e}"));
        let after = emu.stats();
        let expected_sts = match profile {
            "role" | "guarded" | "oidc" => 1,
            "chained" => 2,
            _ => 0,
        };
        assert_eq!(
            after.sts_requests - before.sts_requests,
            expected_sts,
            "{profile}"
        );
    }
    for (profile, needle) in [
        ("wrong-ext", "NoPermission"),
        ("loop", "loops back"),
        ("sso", "\"CloudSSO\" is not supported"),
        ("nobody", "no profile named"),
    ] {
        let e = credentials_error(
            delete(
                &emu,
                chain(&home, Some(profile), std::slice::from_ref(&imds)),
            )
            .unwrap_err(),
        );
        let text = format!("{e} {e:?}");
        assert!(text.contains(needle), "{profile}: {text}");
        no_secret(&text);
    }
}

#[test]
fn explicit_providers_and_ini_file() {
    let emu = emulator(false);
    let url = emu.url();
    let source = Credentials::new(AK.0, AK.1).unwrap();
    let mut options = RoleOptions::default();
    options.sts_endpoint = Some(url.clone());
    delete(
        &emu,
        CredentialsProvider::ram_role_arn(source.clone(), ROLE, options.clone()),
    )
    .unwrap();
    let home = Home::new();
    let token = home.write("token", OIDC_TOKEN);
    delete(
        &emu,
        CredentialsProvider::oidc(ROLE, OIDC_PROVIDER, &token, options.clone()),
    )
    .unwrap();
    delete(
        &emu,
        CredentialsProvider::credentials_uri(&emu.credentials_uri().unwrap()),
    )
    .unwrap();
    // A token file that changed is read again; a wrong token is refused, without showing it.
    std::fs::write(&token, "forged-token-0909").unwrap();
    let e = credentials_error(
        delete(
            &emu,
            CredentialsProvider::oidc(ROLE, OIDC_PROVIDER, &token, options),
        )
        .unwrap_err(),
    );
    assert!(e.to_string().contains("AuthenticationFail"), "{e}");
    assert!(!e.to_string().contains("forged-token-0909"), "{e}");

    // The ini file, by type.
    home.write(
        ".alibabacloud/credentials.ini",
        &format!(
            "[default]\ntype = ram_role_arn\naccess_key_id = {}\naccess_key_secret = {}\nrole_arn = {ROLE}\n\n[ecs]\ntype = ecs_ram_role\nrole_name = web-role\n",
            AK.0, AK.1
        ),
    );
    let sts = ("ALIBABA_CLOUD_STS_ENDPOINT", url.clone());
    let imds = ("ALIBABA_CLOUD_IMDS_ENDPOINT", url.clone());
    delete(&emu, chain(&home, None, &[sts, imds.clone()])).unwrap();
    delete(
        &emu,
        chain(
            &home,
            None,
            &[imds, ("ALIBABA_CLOUD_PROFILE", "ecs".into())],
        ),
    )
    .unwrap();
}

#[test]
fn chain_order_pinning_and_errors() {
    let emu = emulator(false);
    let url = emu.url();
    let home = Home::new();
    let token = home.write("token", OIDC_TOKEN);
    let imds = ("ALIBABA_CLOUD_IMDS_ENDPOINT", url.clone());
    // OIDC comes before IMDS and the URI.
    let before = emu.stats();
    delete(
        &emu,
        chain(
            &home,
            None,
            &[
                ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.display().to_string()),
                ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER.into()),
                ("ALIBABA_CLOUD_ROLE_ARN", ROLE.into()),
                ("ALIBABA_CLOUD_STS_ENDPOINT", url.clone()),
                imds.clone(),
                (
                    "ALIBABA_CLOUD_CREDENTIALS_URI",
                    emu.credentials_uri().unwrap(),
                ),
            ],
        ),
    )
    .unwrap();
    let after = emu.stats();
    assert_eq!(
        (
            after.sts_requests - before.sts_requests,
            after.imds_requests - before.imds_requests
        ),
        (1, 0)
    );

    // The environment beats everything; a half-set one is recorded and the chain goes on to
    // IMDS, which is then pinned: a second client built from the same provider asks IMDS only.
    let provider = chain(
        &home,
        None,
        &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "half".into()), imds.clone()],
    );
    delete(&emu, provider.clone()).unwrap();
    let before = emu.stats();
    delete(&emu, provider).unwrap();
    assert_eq!(
        emu.stats().imds_requests - before.imds_requests,
        3,
        "token, role name, credentials"
    );

    // Nothing works: every provider tried is named, no secret shown.
    let e = credentials_error(
        delete(
            &emu,
            chain(
                &home,
                None,
                &[
                    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "half".into()),
                    ("ALIBABA_CLOUD_IMDS_ENDPOINT", "http://127.0.0.1:1".into()),
                    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", String::new()),
                ],
            ),
        )
        .unwrap_err(),
    );
    let CredentialsError::Chain { tried } = &e else {
        panic!("{e}")
    };
    assert_eq!(tried.len(), 2, "{e}");
    assert!(
        e.to_string().contains("environment: ") && e.to_string().contains("ECS RAM role (IMDS): "),
        "{e}"
    );
    // Nothing configured at all.
    let e = credentials_error(delete(&emu, chain(&home, None, &[imds_off()])).unwrap_err());
    assert!(matches!(e, CredentialsError::NotFound { .. }), "{e}");
}

#[test]
fn imds_v2_only_and_v1_fallback() {
    let emu = emulator(true);
    let imds = ("ALIBABA_CLOUD_IMDS_ENDPOINT", emu.url());
    let home = Home::new();
    delete(&emu, chain(&home, None, std::slice::from_ref(&imds))).unwrap();
    // No token (the PUT fails): v1 is refused in v2-only mode, and when disabled.
    emu.inject(Fault::error(500, "InternalError").on(Service::Imds));
    let e = credentials_error(
        delete(&emu, chain(&home, None, std::slice::from_ref(&imds))).unwrap_err(),
    );
    assert!(e.to_string().contains("403"), "{e}");
    emu.inject(Fault::error(500, "InternalError").on(Service::Imds));
    let e = credentials_error(
        delete(
            &emu,
            chain(
                &home,
                None,
                &[imds, ("ALIBABA_CLOUD_IMDSV1_DISABLED", "true".into())],
            ),
        )
        .unwrap_err(),
    );
    assert!(e.to_string().contains("IMDSv1 is disabled"), "{e}");

    let emu = emulator(false);
    emu.inject(Fault::error(500, "InternalError").on(Service::Imds));
    delete(
        &emu,
        chain(&home, None, &[("ALIBABA_CLOUD_IMDS_ENDPOINT", emu.url())]),
    )
    .unwrap();
}

#[test]
fn one_refresh_for_a_hundred_concurrent_calls_and_short_credentials_are_refreshed() {
    let emu = emulator(false);
    let mut options = RoleOptions::default();
    options.sts_endpoint = Some(emu.url());
    let source = Credentials::new(AK.0, AK.1).unwrap();
    let client = Client::builder()
        .credentials(CredentialsProvider::ram_role_arn(
            source.clone(),
            ROLE,
            options.clone(),
        ))
        .endpoint(&emu.url())
        .build()
        .unwrap();
    for i in 0..100 {
        emu.add_image(REGION, &format!("c-{i}"), false);
    }
    let barrier = Arc::new(std::sync::Barrier::new(100));
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let (client, barrier) = (client.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                client
                    .delete_custom_image(&DeleteCustomImage::new(REGION, format!("c-{i}")).unwrap())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(emu.stats().sts_requests, 1);

    // Credentials issued for 2 s are never used: a second fetch replaces them first.
    emu.inject(Fault::expires_in(Duration::from_secs(2)).on(Service::Sts));
    let before = emu.stats().sts_requests;
    delete(
        &emu,
        CredentialsProvider::ram_role_arn(source, ROLE, options),
    )
    .unwrap();
    assert_eq!(emu.stats().sts_requests - before, 2);
}
