//! `swas delete-custom-image --verbose` names the provider that supplied the credentials,
//! for each mode of a profile and for the environment, and never prints a secret: every
//! output goes through the support module's secret check, and the temporary credentials the
//! emulator issues are checked here too.

mod support;

use support::{
    delete_args, run, scratch, swas, swas_with_key, EmulatorChild, ID, SECRET, STS_ID, STS_SECRET,
    STS_TOKEN,
};

const ROLE: &str = "acs:ram::123456789012:role/deleter";

/// The one stderr line of the `credentials obtained` event.
#[track_caller]
fn provider_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("credentials obtained"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0]
}

/// No trace of the temporary credentials the emulator issues: their secrets and tokens
/// are never printed, only ids (`STS.` keys) may be.
#[track_caller]
fn no_issued_secret(stderr: &str) {
    for word in [
        "AccessKeySecret",
        "SecurityToken",
        "security_token",
        "secret=",
    ] {
        assert!(!stderr.contains(word), "{word} in:\n{stderr}");
    }
}

#[test]
fn verbose_names_the_provider_of_each_profile_mode_and_never_a_secret() {
    let emulator = EmulatorChild::start(&[
        "--image",
        "cn-hangzhou:m-1",
        "--image",
        "cn-hangzhou:m-2",
        "--image",
        "cn-hangzhou:m-3",
        "--image",
        "cn-hangzhou:m-4",
        "--role",
        ROLE,
        "--instance-role",
        "web-role",
    ]);
    let url = &emulator.url;
    let home = scratch("home-verbose-provider");
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    let config = format!(
        r#"{{"current":"dev","profiles":[
            {{"name":"dev","mode":"AK","access_key_id":"{ID}","access_key_secret":"{SECRET}"}},
            {{"name":"temp","mode":"StsToken","access_key_id":"{STS_ID}","access_key_secret":"{STS_SECRET}","sts_token":"{STS_TOKEN}"}},
            {{"name":"ops","mode":"RamRoleArn","access_key_id":"{ID}","access_key_secret":"{SECRET}","ram_role_arn":"{ROLE}","ram_session_name":"verbose-test","sts_endpoint":"{url}"}},
            {{"name":"ecs","mode":"EcsRamRole","ram_role_name":"web-role"}}]}}"#
    );
    let path = home.join(".aliyun").join("config.json");
    std::fs::write(&path, config).unwrap();
    let path = path.display().to_string();

    let cases = [
        (
            "dev",
            "m-1",
            format!(r#"provider=profile "dev" (AK) of {path}"#),
        ),
        (
            "temp",
            "m-2",
            format!(r#"provider=profile "temp" (StsToken) of {path}"#),
        ),
        (
            "ops",
            "m-3",
            format!(
                r#"provider=RAM role {ROLE} (AssumeRole, profile "ops" (RamRoleArn) of {path})"#
            ),
        ),
        (
            "ecs",
            "m-4",
            format!(r#"provider=profile "ecs" (EcsRamRole) of {path}"#),
        ),
    ];
    for (profile, image, expected) in &cases {
        let out = run(swas()
            .env("HOME", &home)
            // The metadata service is the emulator's, never the real one.
            .env("ALIBABA_CLOUD_IMDS_ENDPOINT", url)
            .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
            .args(delete_args(
                url,
                image,
                &["--profile", profile, "--verbose"],
            )))
        .expect(0);
        let line = provider_line(&out.stderr);
        assert!(line.contains(expected.as_str()), "{profile}: {line}");
        no_issued_secret(&out.stderr);
        assert!(out.stdout.contains("RequestId"), "{profile}: {out:#?}");
    }
    // The role and the instance role were really asked.
    emulator.wait_for_log("AssumeRole OK 200");
    emulator.wait_for_log("ImdsCredentials OK 200");
}

#[test]
fn verbose_names_the_environment_when_the_chain_finds_keys_there() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    let out =
        run(swas_with_key(ID, SECRET).args(delete_args(&emulator.url, "m-1", &["--verbose"])))
            .expect(0);
    let line = provider_line(&out.stderr);
    assert!(line.contains("provider=environment"), "{line}");
}
