//! The `swas` binary end to end: against a `swas emulator` child process, in `--emulator`
//! mode, as a dry run against the published known-answer vectors, and its exit statuses.

mod support;

use serde_json::Value;
use support::{
    delete_args, delete_command, emulator_refuses, run, scratch, swas, swas_with_key,
    EmulatorChild, ID, REGION, SECRET, STS_ID, STS_SECRET, STS_TOKEN, WRONG_SECRET,
};

const VECTOR_IMAGE: &str = "m-2zehv38jjmwva1ee****";
const VECTOR_TOKEN: &str = "123e4567-e89b-12d3-a456-426655440000";

const V1_REQUEST_LINE: &str = "POST https://swas.cn-hangzhou.aliyuncs.com/?AccessKeyId=testid&Action=DeleteCustomImage&ClientToken=123e4567-e89b-12d3-a456-426655440000&Format=JSON&ImageId=m-2zehv38jjmwva1ee%2A%2A%2A%2A&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2020-06-01&Signature=pHkmGF6UsUWmR2zuoI4pomnKg9Q%3D";
const V3_AUTHORIZATION: &str = "authorization: ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=5757b2af3a2eefa71c05d2be119c1140ced26e490af2941c714d45c658ec7e5a";

/// The one-line JSON on stdout of a success: exactly `{"RequestId":"..."}`.
#[track_caller]
fn request_id(stdout: &str) -> String {
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let value: Value = serde_json::from_str(stdout.trim_end()).expect("stdout is JSON");
    let object = value.as_object().expect("a JSON object");
    assert_eq!(object.len(), 1, "only RequestId: {stdout}");
    let id = object["RequestId"].as_str().expect("RequestId is a string");
    assert!(!id.is_empty());
    id.to_owned()
}

/// The service error JSON on stderr of an exit 1.
#[track_caller]
fn service_error(out: &support::Output) -> Value {
    assert!(out.stdout.is_empty(), "{out:#?}");
    serde_json::from_str(out.one_stderr_line()).expect("stderr is the error as JSON")
}

#[test]
fn success_prints_the_request_id_and_the_emulator_logs_it() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    let out = run(swas_with_key(ID, SECRET).args(delete_args(&emulator.url, "m-1", &[]))).expect(0);
    request_id(&out.stdout);
    assert!(out.stderr.is_empty(), "{out:#?}");
    let line = emulator.wait_for_log("DeleteCustomImage");
    assert!(line.starts_with("POST DeleteCustomImage OK 200 "), "{line}");
}

#[test]
fn the_same_client_token_replays_the_first_answer() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    let args = delete_args(&emulator.url, "m-1", &["--client-token", "retry-me-1"]);
    let first = run(swas_with_key(ID, SECRET).args(&args)).expect(0);
    let again = run(swas_with_key(ID, SECRET).args(&args)).expect(0);
    assert_eq!(request_id(&first.stdout), request_id(&again.stdout));
}

#[test]
fn aliyun_spellings_v3_and_decimal_timeouts() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    let out = run(swas_with_key(ID, SECRET).args([
        "delete-custom-image",
        "--RegionId",
        REGION,
        "--ImageId",
        "m-1",
        "--ClientToken",
        "t-1",
        "--endpoint",
        &emulator.url,
        "--signature-version",
        "v3",
        "--connect-timeout",
        "2.5",
        "--read-timeout",
        "0.5",
        "--max-attempts",
        "1",
    ]))
    .expect(0);
    request_id(&out.stdout);
}

#[test]
fn sts_credentials_work_with_both_schemes() {
    let emulator =
        EmulatorChild::start(&["--image", "cn-hangzhou:m-1", "--image", "cn-hangzhou:m-2"]);
    for (image, scheme) in [("m-1", "v1"), ("m-2", "v3")] {
        let out = run(swas_with_key(STS_ID, STS_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
            .args(delete_args(
                &emulator.url,
                image,
                &["--signature-version", scheme],
            )))
        .expect(0);
        request_id(&out.stdout);
    }
}

#[test]
fn credentials_from_a_profile_of_the_cli_config() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    let home = scratch("home-profile");
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    let config = format!(
        r#"{{"current":"other","profiles":[
            {{"name":"other","mode":"AK","access_key_id":"nobody","access_key_secret":"{WRONG_SECRET}"}},
            {{"name":"dev","mode":"AK","access_key_id":"{ID}","access_key_secret":"{SECRET}","region_id":"cn-hangzhou"}}]}}"#
    );
    std::fs::write(home.join(".aliyun").join("config.json"), config).unwrap();

    let out = run(swas().env("HOME", &home).args(delete_args(
        &emulator.url,
        "m-1",
        &["--profile", "dev"],
    )))
    .expect(0);
    request_id(&out.stdout);

    let out =
        run(swas()
            .env("HOME", &home)
            .args(delete_args(&emulator.url, "m-1", &["-p", "missing"])))
        .expect(2);
    assert!(out.one_stderr_line().contains("\"missing\""), "{out:#?}");
}

#[test]
fn a_missing_image_exits_1_with_the_service_fields() {
    let emulator = EmulatorChild::start(&[]);
    let out =
        run(swas_with_key(ID, SECRET).args(delete_args(&emulator.url, "m-none", &[]))).expect(1);
    let e = service_error(&out);
    assert_eq!(e["Code"], "InvalidImageId.NotFound");
    assert_eq!(e["HttpStatus"], 404);
    assert_eq!(e["Message"], "The specified ImageId does not exist.");
    for field in ["RequestId", "HostId", "Recommend"] {
        assert!(
            e[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {e}"
        );
    }
    let names: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names.len(), 6, "{names:?}");
}

#[test]
fn a_wrong_secret_exits_1_signature_does_not_match() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-1"]);
    for scheme in ["v1", "v3"] {
        let out = run(swas_with_key(ID, WRONG_SECRET).args(delete_args(
            &emulator.url,
            "m-1",
            &["--signature-version", scheme],
        )))
        .expect(1);
        assert_eq!(
            service_error(&out)["Code"],
            "SignatureDoesNotMatch",
            "{scheme}"
        );
    }
}

#[test]
fn a_shared_image_exits_1_custom_image_in_share() {
    let emulator = EmulatorChild::start(&["--image", "cn-hangzhou:m-s:shared"]);
    let out = run(swas_with_key(ID, SECRET).args(delete_args(&emulator.url, "m-s", &[]))).expect(1);
    let e = service_error(&out);
    assert_eq!(e["Code"], "CustomImageInShare");
    assert_eq!(e["HttpStatus"], 400);
}

#[test]
fn invalid_input_exits_2_with_one_line_naming_the_field() {
    let long_token = "x".repeat(65);
    // Region, image, further arguments, and the field the message names.
    let cases: [(&str, &str, &[&str], &str); 5] = [
        (
            REGION,
            "m-1",
            &["--client-token", &long_token],
            "ClientToken",
        ),
        ("CN_Hangzhou", "m-1", &[], "RegionId"),
        (REGION, "m 1", &[], "ImageId"),
        (REGION, "m-1", &["--client-token", "tök"], "ClientToken"),
        (
            REGION,
            "m-1",
            &["--endpoint", "ftp://example.com"],
            "endpoint",
        ),
    ];
    for (region, image, extra, field) in cases {
        let out =
            run(swas_with_key(ID, SECRET).args(delete_command(region, image, extra))).expect(2);
        let line = out.one_stderr_line();
        assert!(
            line.starts_with("swas: ") && line.contains(field),
            "{field}: {line}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn no_credentials_exits_2() {
    let out = run(swas().args(delete_command(REGION, "m-1", &[]))).expect(2);
    assert!(
        out.one_stderr_line()
            .contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{out:#?}"
    );
    let out = run(swas()
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ID)
        .args(delete_command(REGION, "m-1", &[])))
    .expect(2);
    assert!(
        out.one_stderr_line()
            .contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{out:#?}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let base = ["delete-custom-image", "--region-id", REGION];
    let usage: [Vec<&str>; 9] = [
        vec![],
        vec!["frobnicate"],
        base.to_vec(),
        vec!["delete-custom-image", "--image-id", "m-1"],
        delete_command(REGION, "m-1", &["--no-such-flag"]),
        delete_command(REGION, "m-1", &["--timestamp", "2016-02-23T12:46:24Z"]),
        delete_command(REGION, "m-1", &["--read-timeout", "soon"]),
        delete_command(REGION, "m-1", &["--max-attempts", "0"]),
        delete_command(
            REGION,
            "m-1",
            &["--emulator", "--endpoint", "http://127.0.0.1:1"],
        ),
    ];
    for args in usage {
        let out = run(swas_with_key(ID, SECRET).args(&args));
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(
            !out.stderr.is_empty() && out.stdout.is_empty(),
            "{args:?}: {out:#?}"
        );
    }
    for args in [
        &["--help"][..],
        &["delete-custom-image", "--help"],
        &["emulator", "--help"],
        &["bench", "sign", "--help"],
        &["--version"],
    ] {
        let out = run(swas().args(args)).expect(0);
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    let help = run(swas().args(["delete-custom-image", "--help"]))
        .expect(0)
        .stdout;
    for text in ["--RegionId", "--dry-run", "--emulator", "Exit status"] {
        assert!(help.contains(text), "{text} missing from:\n{help}");
    }
}

#[test]
fn nothing_listening_exits_3() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out =
        run(swas_with_key(ID, SECRET).args(delete_args(&url, "m-1", &["--max-attempts", "1"])))
            .expect(3);
    let line = out.one_stderr_line().to_owned();
    assert!(line.starts_with("swas: ") && line.contains(&url), "{line}");
    // No token was given: the message names the one used, to retry with.
    assert!(line.contains("--client-token "), "{line}");
    assert!(out.stdout.is_empty());

    let out = run(swas_with_key(ID, SECRET).args(delete_args(
        &url,
        "m-1",
        &["--max-attempts", "1", "--client-token", "mine"],
    )))
    .expect(3);
    assert!(
        !out.one_stderr_line().contains("--client-token"),
        "{out:#?}"
    );
}

#[test]
fn emulator_mode_needs_no_account() {
    let base = [
        "delete-custom-image",
        "--emulator",
        "--region-id",
        REGION,
        "--image-id",
        "m-demo",
    ];
    let out = run(swas().args(base)).expect(0);
    request_id(&out.stdout);

    let out = run(swas().args(base).args([
        "--client-token",
        "tok-v",
        "--signature-version",
        "v3",
        "--verbose",
    ]))
    .expect(0);
    request_id(&out.stdout);
    assert!(out.stderr.contains("attempt=1"), "{}", out.stderr);
    assert!(out.stderr.contains("ClientToken=tok-v"), "{}", out.stderr);
}

#[test]
fn dry_run_v1_prints_the_known_answer() {
    let out = run(swas_with_key(ID, SECRET).args(delete_command(
        REGION,
        VECTOR_IMAGE,
        &[
            "--client-token",
            VECTOR_TOKEN,
            "--timestamp",
            "2016-02-23T12:46:24Z",
            "--nonce",
            "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
            "--dry-run",
        ],
    )))
    .expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], V1_REQUEST_LINE);
    assert_eq!(lines[1], "host: swas.cn-hangzhou.aliyuncs.com");
    assert!(
        lines[2].starts_with("user-agent: AlibabaCloud ("),
        "{}",
        lines[2]
    );
    assert_eq!(
        &lines[3..],
        [
            "x-acs-action: DeleteCustomImage",
            "x-acs-version: 2020-06-01",
            "content-length: 0"
        ]
    );
    assert!(out.stderr.is_empty(), "{out:#?}");
}

#[test]
fn dry_run_v3_prints_the_known_answer() {
    let out = run(swas_with_key(ID, SECRET).args(delete_command(
        REGION,
        VECTOR_IMAGE,
        &[
            "--client-token",
            VECTOR_TOKEN,
            "--endpoint",
            "swas.cn-hangzhou.aliyuncs.com",
            "--signature-version",
            "v3",
            "--timestamp",
            "2023-10-26T10:22:32Z",
            "--nonce",
            "3156853299f313e23d1673dc12e1703d",
            "--dryrun",
        ],
    )))
    .expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "POST https://swas.cn-hangzhou.aliyuncs.com/?ClientToken=123e4567-e89b-12d3-a456-426655440000&ImageId=m-2zehv38jjmwva1ee%2A%2A%2A%2A&RegionId=cn-hangzhou"
    );
    for expected in [
        "host: swas.cn-hangzhou.aliyuncs.com",
        "x-acs-date: 2023-10-26T10:22:32Z",
        "x-acs-signature-nonce: 3156853299f313e23d1673dc12e1703d",
        "x-acs-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        V3_AUTHORIZATION,
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing:\n{}",
            out.stdout
        );
    }
}

#[test]
fn dry_run_sends_no_token_it_was_not_given_and_is_reproducible() {
    let args = delete_command(
        REGION,
        "m-1",
        &[
            "--timestamp",
            "2016-02-23T12:46:24Z",
            "--nonce",
            "n-1",
            "--dry-run",
        ],
    );
    let first = run(swas_with_key(ID, SECRET).args(&args)).expect(0);
    let again = run(swas_with_key(ID, SECRET).args(&args)).expect(0);
    assert_eq!(first.stdout, again.stdout);
    assert!(!first.stdout.contains("ClientToken"), "{}", first.stdout);
}

#[test]
fn dry_run_masks_the_sts_token() {
    for (scheme, shown) in [
        ("v1", "&SecurityToken=***&"),
        ("v3", "\nx-acs-security-token: ***\n"),
    ] {
        let out = run(swas_with_key(STS_ID, STS_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
            .args(delete_command(
                REGION,
                "m-1",
                &["--signature-version", scheme, "--dry-run"],
            )))
        .expect(0);
        assert!(out.stdout.contains(shown), "{scheme}:\n{}", out.stdout);
    }
}

#[test]
fn dry_run_with_the_emulator_signs_with_a_throwaway_key() {
    let out =
        run(swas().args(delete_command(REGION, "m-1", &["--emulator", "--dry-run"]))).expect(0);
    assert!(
        out.stdout.starts_with("POST http://127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("AccessKeyId=emulator-"),
        "{}",
        out.stdout
    );
}

#[test]
fn emulator_rejects_bad_specs_without_showing_secrets() {
    let cases: [&[&str]; 5] = [
        &[],
        &["--access-key", "only-an-id"],
        &["--access-key", "id:s3cret with space"],
        &["--access-key", "id:secret", "--image", "CN:m-1"],
        &["--access-key", "id:secret", "--listen", "not-an-address"],
    ];
    emulator_refuses(&cases);
    let out = run(swas().args(["emulator", "--access-key", "id:s3cret with space"])).expect(2);
    assert!(out.one_stderr_line().contains("\"id\""), "{out:#?}");
}

#[test]
fn bench_sign_prints_one_line_per_scheme() {
    let out = run(swas().args(["bench", "sign", "--iterations", "1000"])).expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    for (line, scheme) in lines.iter().zip(["v1", "v3"]) {
        let ns = line
            .strip_prefix(&format!("{scheme}: "))
            .and_then(|rest| rest.strip_suffix(" ns/sign"))
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let ns: f64 = ns
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(ns > 0.0, "{line}");
    }
}
