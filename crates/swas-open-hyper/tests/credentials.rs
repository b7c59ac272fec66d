//! Credentials from the process: the environment and the aliyun CLI's config file.
//!
//! The environment is global to the process, so everything that changes it lives in this
//! one test (and this file holds no other).

mod common;

use std::path::PathBuf;

use common::*;
use swas_open_core::chain::{
    ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_CONFIG_FILE, ENV_PROFILE, ENV_SECURITY_TOKEN,
};
use swas_open_core::CredentialsError;
use swas_open_hyper::{Client, DeleteCustomImage, Error};

fn config_file() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!(
        "swas-open-hyper-test-{}-{nanos}.json",
        std::process::id()
    ));
    let text = format!(
        r#"{{"current":"broken","profiles":[
            {{"name":"broken","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y"}},
            {{"name":"ak","mode":"AK","access_key_id":"{ID}","access_key_secret":"{SECRET}","region_id":"{REGION}"}},
            {{"name":"sts","mode":"StsToken","access_key_id":"{STS_ID}","access_key_secret":"{STS_SECRET}","sts_token":"{STS_TOKEN}"}}
        ]}}"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn credentials_from_environment_and_profiles() {
    let emu = emulator(&["m-1", "m-2", "m-3", "m-4"]).await;
    let delete = |client: Client, image: &'static str| async move {
        client
            .delete_custom_image(&DeleteCustomImage::new(REGION, image).unwrap())
            .await
    };
    let path = config_file();
    for var in [
        ENV_ACCESS_KEY_ID,
        ENV_ACCESS_KEY_SECRET,
        ENV_SECURITY_TOKEN,
        ENV_PROFILE,
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var(ENV_CONFIG_FILE, &path);

    // A named profile of the config file: AK, then StsToken.
    let client = Client::builder()
        .endpoint(&emu.url())
        .profile("ak")
        .build()
        .unwrap();
    delete(client, "m-1").await.unwrap();
    let client = Client::builder()
        .endpoint(&emu.url())
        .profile("sts")
        .build()
        .unwrap();
    delete(client, "m-2").await.unwrap();

    // An unknown profile, and the file's `current` whose mode is not supported.
    let e = Client::builder()
        .endpoint(&emu.url())
        .profile("nope")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Credentials(CredentialsError::ProfileNotFound { .. })
        ),
        "{e:?}"
    );
    let e = Client::builder().endpoint(&emu.url()).build().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Credentials(CredentialsError::UnsupportedMode { .. })
        ),
        "{e:?}"
    );

    // ALIBABA_CLOUD_PROFILE picks the profile when none is named.
    std::env::set_var(ENV_PROFILE, "ak");
    let client = Client::builder().endpoint(&emu.url()).build().unwrap();
    delete(client, "m-3").await.unwrap();

    // The environment comes first in the default chain, and a named profile skips it.
    std::env::set_var(ENV_ACCESS_KEY_ID, STS_ID);
    std::env::set_var(ENV_ACCESS_KEY_SECRET, STS_SECRET);
    std::env::set_var(ENV_SECURITY_TOKEN, STS_TOKEN);
    let client = Client::builder().endpoint(&emu.url()).build().unwrap();
    delete(client, "m-4").await.unwrap();
    std::env::set_var(ENV_ACCESS_KEY_SECRET, "wrong-env-secret");
    let client = Client::builder().endpoint(&emu.url()).build().unwrap();
    let e = delete(client, "m-absent").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.as_str()), Some("SignatureDoesNotMatch"));
    let client = Client::builder()
        .endpoint(&emu.url())
        .profile("ak")
        .build()
        .unwrap();
    let e = delete(client, "m-absent").await.unwrap_err();
    assert_eq!(
        e.code().map(|c| c.as_str()),
        Some("InvalidImageId.NotFound")
    );

    // Half a key pair in the environment is an error, not a fall-through.
    std::env::remove_var(ENV_ACCESS_KEY_SECRET);
    let e = Client::builder().endpoint(&emu.url()).build().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Credentials(CredentialsError::IncompleteEnvironment { .. })
        ),
        "{e:?}"
    );

    for var in [
        ENV_ACCESS_KEY_ID,
        ENV_SECURITY_TOKEN,
        ENV_PROFILE,
        ENV_CONFIG_FILE,
    ] {
        std::env::remove_var(var);
    }
    let _ = std::fs::remove_file(&path);
    assert_eq!(emu.stats().deletes, 4);
}
