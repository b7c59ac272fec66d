//! The default credential chain, end to end: environment variables and the aliyun CLI's
//! config file. The environment is global to the process, so this binary holds a single
//! test that sets and restores every variable it touches.

use std::path::PathBuf;

use swas_open_core::chain::{
    CredentialsError, ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_CONFIG_FILE, ENV_PROFILE,
    ENV_REGION_ID, ENV_SECURITY_TOKEN,
};
use swas_open_emulator::Emulator;
use swas_open_ureq::{Client, DeleteCustomImage, Error, ErrorKind};

const REGION: &str = "cn-hangzhou";
const VARS: [&str; 6] = [
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    ENV_SECURITY_TOKEN,
    ENV_CONFIG_FILE,
    ENV_PROFILE,
    ENV_REGION_ID,
];

const CONFIG: &str = r#"{
  "current": "main",
  "profiles": [
    {"name": "main", "mode": "AK", "access_key_id": "file-id", "access_key_secret": "file-secret-0101", "region_id": "cn-hangzhou"},
    {"name": "sts", "mode": "StsToken", "access_key_id": "STS.file", "access_key_secret": "file-sts-secret-0202", "sts_token": "file-token-0303"},
    {"name": "role", "mode": "RamRoleArn", "access_key_id": "a", "access_key_secret": "b", "ram_role_arn": "acs:ram::1:role/x"}
  ]
}"#;

/// Restores the variables and removes the temporary directory, even if an assertion fails.
struct Restore {
    saved: Vec<(&'static str, Option<String>)>,
    dir: PathBuf,
}

impl Drop for Restore {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The credentials error a build failed with.
#[track_caller]
fn credentials_error(built: Result<Client, Error>) -> CredentialsError {
    match built.map_err(Error::into_kind) {
        Err(ErrorKind::Credentials(e)) => e,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

fn clear_env() {
    for name in VARS {
        std::env::remove_var(name);
    }
}

#[test]
fn environment_then_config_file() {
    let dir = std::env::temp_dir().join(format!(
        "swas-open-ureq-chain-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let _restore = Restore {
        saved: VARS.iter().map(|&n| (n, std::env::var(n).ok())).collect(),
        dir: dir.clone(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(&config, CONFIG).unwrap();

    let emu = Emulator::builder()
        .access_key("env-id", "env-secret-0404")
        .sts_access_key("STS.env", "env-sts-secret-0505", "env-token-0606")
        .access_key("file-id", "file-secret-0101")
        .sts_access_key("STS.file", "file-sts-secret-0202", "file-token-0303")
        .start_blocking()
        .unwrap();
    let mut n = 0;
    let mut delete_with = |builder: swas_open_ureq::ClientBuilder| -> Result<(), Error> {
        n += 1;
        let image = format!("m-{n}");
        emu.add_image(REGION, &image, false);
        let client = builder.endpoint(&emu.url()).build()?;
        client.delete_custom_image(&DeleteCustomImage::new(REGION, &image)?)?;
        assert!(!emu.has_image(REGION, &image));
        Ok(())
    };

    // 1. The environment: an AccessKey pair, then with an STS token.
    clear_env();
    std::env::set_var(ENV_CONFIG_FILE, &config);
    std::env::set_var(ENV_ACCESS_KEY_ID, "env-id");
    std::env::set_var(ENV_ACCESS_KEY_SECRET, "env-secret-0404");
    delete_with(Client::builder()).unwrap();
    std::env::set_var(ENV_ACCESS_KEY_ID, "STS.env");
    std::env::set_var(ENV_ACCESS_KEY_SECRET, "env-sts-secret-0505");
    std::env::set_var(ENV_SECURITY_TOKEN, "env-token-0606");
    delete_with(Client::builder()).unwrap();

    // An explicit profile skips the environment.
    delete_with(Client::builder().profile("main")).unwrap();

    // Half a pair is an error that names the missing variable.
    std::env::remove_var(ENV_ACCESS_KEY_SECRET);
    let err = credentials_error(Client::builder().build());
    assert!(
        matches!(err, CredentialsError::IncompleteEnvironment { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(ENV_ACCESS_KEY_SECRET), "{err}");

    // 2. The config file: its `current` profile, then ALIBABA_CLOUD_PROFILE, then a named one.
    clear_env();
    std::env::set_var(ENV_CONFIG_FILE, &config);
    delete_with(Client::builder()).unwrap();
    std::env::set_var(ENV_PROFILE, "sts");
    delete_with(Client::builder()).unwrap();
    std::env::remove_var(ENV_PROFILE);
    delete_with(Client::builder().profile("sts")).unwrap();

    // Unsupported modes and unknown profiles are clear errors, without secrets.
    let err = credentials_error(Client::builder().profile("role").build());
    assert!(
        matches!(err, CredentialsError::UnsupportedMode { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not supported"), "{err}");
    assert!(err.to_string().contains("RamRoleArn"), "{err}");
    let err = credentials_error(Client::builder().profile("nobody").build());
    assert!(
        matches!(err, CredentialsError::ProfileNotFound { .. }),
        "{err:?}"
    );

    // A config file that is not JSON, and one that does not exist.
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ not json").unwrap();
    std::env::set_var(ENV_CONFIG_FILE, &broken);
    let err = credentials_error(Client::builder().build());
    assert!(
        matches!(err, CredentialsError::ConfigFile { .. }),
        "{err:?}"
    );
    std::env::set_var(ENV_CONFIG_FILE, dir.join("absent.json"));
    let err = Client::builder().build().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Credentials(_)), "{err:?}");

    // Static credentials need neither.
    delete_with(
        Client::builder()
            .credentials(swas_open_ureq::Credentials::new("file-id", "file-secret-0101").unwrap()),
    )
    .unwrap();

    for secret in [
        "env-secret-0404",
        "file-secret-0101",
        "file-sts-secret-0202",
    ] {
        assert!(!format!("{err} {err:?}").contains(secret));
    }
    assert_eq!(emu.stats().deletes, 7);
}
