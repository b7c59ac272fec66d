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
use swas_open_hyper::{Client, Error, ErrorKind};

/// The credentials error a build failed with.
#[track_caller]
fn credentials_error(built: Result<Client, Error>) -> CredentialsError {
    match built.map_err(Error::into_kind) {
        Err(ErrorKind::Credentials(e)) => e,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

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
    // A client for `emu` from the named profile, or from the default chain.
    let build = |profile: Option<&str>| {
        let builder = Client::builder().endpoint(&emu.url());
        match profile {
            Some(name) => builder.profile(name),
            None => builder,
        }
        .build()
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
    delete(&build(Some("ak")).unwrap(), "m-1").await.unwrap();
    delete(&build(Some("sts")).unwrap(), "m-2").await.unwrap();

    // An unknown profile, and the file's `current` whose mode is not supported.
    let e = credentials_error(build(Some("nope")));
    assert!(
        matches!(e, CredentialsError::ProfileNotFound { .. }),
        "{e:?}"
    );
    let e = credentials_error(build(None));
    assert!(
        matches!(e, CredentialsError::UnsupportedMode { .. }),
        "{e:?}"
    );

    // ALIBABA_CLOUD_PROFILE picks the profile when none is named.
    std::env::set_var(ENV_PROFILE, "ak");
    delete(&build(None).unwrap(), "m-3").await.unwrap();

    // The environment comes first in the default chain, and a named profile skips it.
    std::env::set_var(ENV_ACCESS_KEY_ID, STS_ID);
    std::env::set_var(ENV_ACCESS_KEY_SECRET, STS_SECRET);
    std::env::set_var(ENV_SECURITY_TOKEN, STS_TOKEN);
    delete(&build(None).unwrap(), "m-4").await.unwrap();
    std::env::set_var(ENV_ACCESS_KEY_SECRET, "wrong-env-secret");
    let e = delete(&build(None).unwrap(), "m-absent").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.as_str()), Some("SignatureDoesNotMatch"));
    let e = delete(&build(Some("ak")).unwrap(), "m-absent")
        .await
        .unwrap_err();
    assert_eq!(
        e.code().map(|c| c.as_str()),
        Some("InvalidImageId.NotFound")
    );

    // Half a key pair in the environment is an error, not a fall-through.
    std::env::remove_var(ENV_ACCESS_KEY_SECRET);
    let e = credentials_error(build(None));
    assert!(
        matches!(e, CredentialsError::IncompleteEnvironment { .. }),
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
