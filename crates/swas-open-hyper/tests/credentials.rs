//! The async client's credentials, end to end against the emulator, as the blocking client's
//! (`swas-open-ureq/tests/credential_chain.rs`): each provider kind and config-file mode, the
//! chain's errors, and one refresh shared by 100 concurrent calls, of which dropped waiters
//! cancel nothing. Chains run on a scrubbed environment (a map) and a temporary HOME, and
//! refuse to leave the metadata service at its real address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use swas_open_core::{CredentialsError, CredentialsProvider, RoleOptions};
use swas_open_emulator::{Emulator, Fault, Service};
use swas_open_hyper::{Client, Credentials, DeleteCustomImage, Error, ErrorKind};
use swas_open_testkit::creds::*;

async fn emulator() -> Emulator {
    credential_services().start().await.unwrap()
}

async fn delete(emu: &Emulator, provider: CredentialsProvider) -> Result<Client, Error> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let image = format!("m-{}", N.fetch_add(1, Ordering::Relaxed));
    emu.add_image(REGION, &image, false);
    let client = Client::builder()
        .credentials(provider)
        .endpoint(&emu.url())
        .build()?;
    client
        .delete_custom_image(&DeleteCustomImage::new(REGION, &image)?)
        .await?;
    assert!(!emu.has_image(REGION, &image));
    Ok(client)
}

fn credentials_error(e: Error) -> CredentialsError {
    match e.into_kind() {
        ErrorKind::Credentials(e) => e,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_modes_and_errors() {
    let emu = emulator().await;
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
            {{"name":"chained","mode":"ChainableRamRoleArn","source_profile":"role","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"ecs","mode":"EcsRamRole"}},
            {{"name":"oidc","mode":"OIDC","oidc_token_file":"{}","oidc_provider_arn":"{OIDC_PROVIDER}","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"uri","mode":"CredentialsURI","credentials_uri":"{uri}"}},
            {{"name":"bad-role","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"acs:ram::1:role/none","sts_endpoint":"{url}"}}
        ]}}"#,
            AK.0,
            AK.1,
            AK.0,
            AK.1,
            token_file.display(),
            AK.0,
            AK.1
        ),
    );
    let imds = ("ALIBABA_CLOUD_IMDS_ENDPOINT", url.clone());
    for profile in ["ak", "role", "chained", "ecs", "oidc", "uri"] {
        delete(
            &emu,
            chain(&home, Some(profile), std::slice::from_ref(&imds)),
        )
        .await
        .unwrap_or_else(|e| panic!("profile {profile}: {e}"));
    }
    let e = credentials_error(
        delete(
            &emu,
            chain(&home, Some("bad-role"), std::slice::from_ref(&imds)),
        )
        .await
        .unwrap_err(),
    );
    assert!(e.to_string().contains("EntityNotExist.Role"), "{e}");
    assert!(!format!("{e} {e:?}").contains(AK.1));
    let e = credentials_error(
        delete(
            &emu,
            chain(
                &home,
                None,
                &[
                    ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".into()),
                    ("ALIBABA_CLOUD_CONFIG_FILE", "/nonexistent.json".into()),
                ],
            ),
        )
        .await
        .unwrap_err(),
    );
    assert!(matches!(e, CredentialsError::Chain { .. }), "{e}");
    assert!(e.to_string().contains("aliyun CLI profile: "), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_for_a_hundred_calls_even_when_waiters_are_dropped() {
    let emu = emulator().await;
    // The STS answer is slow, so every call is waiting when half of them are dropped.
    emu.inject(Fault::delay(Duration::from_millis(300)).on(Service::Sts));
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
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let input = DeleteCustomImage::new(REGION, format!("c-{i}")).unwrap();
                client.delete_custom_image(&input).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut tasks = tasks.into_iter();
    for task in tasks.by_ref().take(50) {
        task.abort();
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // The first caller's task may be among the dropped ones: the refresh went on anyway.
    assert_eq!(emu.stats().sts_requests, 1);

    // Credentials issued for 2 s are never used: a second fetch replaces them first.
    emu.inject(Fault::expires_in(Duration::from_secs(2)).on(Service::Sts));
    let before = emu.stats().sts_requests;
    delete(
        &emu,
        CredentialsProvider::ram_role_arn(source, ROLE, options),
    )
    .await
    .unwrap();
    assert_eq!(emu.stats().sts_requests - before, 2);
}
