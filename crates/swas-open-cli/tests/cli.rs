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
    for text in [
        "--RegionId",
        "--dry-run",
        "--emulator",
        "--deadline",
        "Exit status",
    ] {
        assert!(help.contains(text), "{text} missing from:\n{help}");
    }
    // Every source of the credential chain, in the order it is tried, with its variables.
    let mut at = 0;
    for variable in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "ALIBABA_CLOUD_ROLE_ARN",
        "ALIBABA_CLOUD_CONFIG_FILE",
        "ALIBABA_CLOUD_PROFILE",
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED",
        "ALIBABA_CLOUD_CREDENTIALS_FILE",
        "ALIBABA_CLOUD_ECS_METADATA",
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED",
        "ALIBABA_CLOUD_IMDSV1_DISABLED",
        "ALIBABA_CLOUD_IMDS_ENDPOINT",
        "ALIBABA_CLOUD_CREDENTIALS_URI",
    ] {
        let found = help[at..].find(variable);
        assert!(
            found.is_some(),
            "{variable} missing or out of order in:\n{help}"
        );
        at += found.unwrap_or_default();
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

    // A token given is the one to repeat with: the hint names it too.
    let out = run(swas_with_key(ID, SECRET).args(delete_args(
        &url,
        "m-1",
        &["--max-attempts", "1", "--client-token", "mine"],
    )))
    .expect(3);
    assert!(
        out.one_stderr_line()
            .ends_with("the outcome is unknown: to retry safely, repeat with --client-token mine"),
        "{out:#?}"
    );
}

/// A loopback server answering every request with `answer` (or, with `None`, reading the
/// request and never answering), until the test ends; asked for a `CONNECT` tunnel, it
/// opens one and answers inside.
fn canned(answer: Option<String>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                // As a proxy, it opens every tunnel asked for and answers inside it.
                loop {
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if !head.starts_with(b"CONNECT ") {
                        break;
                    }
                    let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                }
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    // Hold the connection open, silent, until the client leaves.
                    None => while matches!(stream.read(&mut buf), Ok(n) if n > 0) {},
                }
            });
        }
    });
    url
}

/// An HTTP/1.1 answer of `status` with `headers` and `body`, closing the connection.
fn http_answer(status: &str, headers: &[&str], body: &str) -> String {
    let mut answer = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for header in headers {
        answer.push_str(header);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    answer
}

#[test]
fn unreadable_answers_exit_3_with_the_token_to_repeat_with() {
    let redirect = canned(Some(http_answer(
        "302 Found",
        &["Location: https://login.example/portal"],
        "",
    )));
    let out = run(swas_with_key(ID, SECRET).args(delete_args(&redirect, "m-1", &[]))).expect(3);
    let line = out.one_stderr_line();
    assert!(
        line.contains("HTTP 302")
            && line.contains("a redirect to \"https://login.example/portal\""),
        "{line}"
    );
    assert!(!line.contains("empty body"), "{line}");
    assert!(
        line.contains("to retry safely, repeat with --client-token "),
        "{line}"
    );

    // A 200 cut short (the delete may have happened), after every attempt.
    let truncated = canned(Some(http_answer("200 OK", &[], r#"{"RequestId":"R"#)));
    let out = run(swas_with_key(ID, SECRET).args(delete_args(
        &truncated,
        "m-1",
        &["--client-token", "t-1"],
    )))
    .expect(3);
    let line = out.one_stderr_line();
    assert!(line.contains("(after 3 attempts)"), "{line}");
    assert!(line.ends_with("repeat with --client-token t-1"), "{line}");

    let gzip = canned(Some(http_answer(
        "200 OK",
        &["Content-Encoding: gzip"],
        "\u{1f}junk",
    )));
    let out =
        run(swas_with_key(ID, SECRET).args(delete_args(&gzip, "m-1", &["--max-attempts", "1"])))
            .expect(3);
    assert!(
        out.one_stderr_line()
            .contains("body is compressed (\"gzip\")"),
        "{out:#?}"
    );
}

#[test]
fn deadline_bounds_the_whole_call() {
    let silent = canned(None);
    // socket: a deadline is what ends a call to a server that never answers; wide bound.
    let started = std::time::Instant::now();
    let out = run(swas_with_key(ID, SECRET).args(delete_args(
        &silent,
        "m-1",
        &["--read-timeout", "60", "--deadline", "0.5"],
    )))
    .expect(3);
    // socket: the bound is what a deadline ends, so wide enough never to flake.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let line = out.one_stderr_line();
    assert!(line.contains("Deadline timeout of 500ms"), "{line}");
    assert!(line.contains("--client-token"), "{line}");
    for bad in ["0", "-1", "soon"] {
        run(swas_with_key(ID, SECRET).args(delete_args(&silent, "m-1", &["--deadline", bad])))
            .expect(2);
    }
}

/// The proxy password of [`echoed_secrets_never_print`].
const PROXY_PASSWORD: &str = "echo-proxy-pw-2718";

#[test]
fn echoed_secrets_never_print() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PROXY_PASSWORD}"));
    let once = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut forms = Vec::new();
    for secret in [STS_SECRET, STS_TOKEN, PROXY_PASSWORD, basic.as_str()] {
        forms.extend([secret.to_owned(), once(secret), once(&once(secret))]);
    }
    let all = forms.join(" ");
    let body = serde_json::json!({
        "Code": "Forbidden.RAM", "Message": all, "RequestId": all, "HostId": all,
        "Recommend": all, "AccessDeniedDetail": {"Echo": all},
    })
    .to_string();
    // The server is the proxy too, and answers inside the tunnel it opens.
    let proxy = canned(Some(http_answer(
        "403 Forbidden",
        &["Content-Type: application/json"],
        &body,
    )));
    let proxy_url = format!(
        "http://alice:{PROXY_PASSWORD}@{}",
        proxy.trim_start_matches("http://")
    );
    let unreadable = canned(Some(http_answer(
        "502 Bad Gateway",
        &[],
        &format!("<html>{all}"),
    )));
    let runs = [
        delete_args("http://127.0.0.1:9", "m-1", &["--proxy", &proxy_url, "-v"]),
        delete_args(
            "http://127.0.0.1:9",
            "m-1",
            &["--proxy", &proxy_url, "--image-id", "m-2"],
        ),
        delete_args(&unreadable, "m-1", &["--max-attempts", "1", "-v"]),
    ];
    for (n, args) in runs.iter().enumerate() {
        let out = run(swas_with_key(STS_ID, STS_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
            .args(args));
        let printed = format!("{}{}", out.stdout, out.stderr);
        match n {
            2 => assert!(out.code == 3 && printed.contains("HTTP 502"), "{out:#?}"),
            _ => assert!(
                out.code == 1 && printed.contains("Forbidden.RAM"),
                "{out:#?}"
            ),
        }
        assert!(printed.contains("***"), "run {n}: {printed}");
        for form in &forms {
            assert!(
                !printed.contains(form.as_str()),
                "run {n} shows {form}: {printed}"
            );
        }
    }
}

#[test]
fn long_service_messages_are_cut_for_people_and_whole_in_json() {
    let message = "m".repeat(200_000);
    let body = format!(r#"{{"Code":"InvalidParameter","Message":"{message}"}}"#);
    let server = canned(Some(http_answer("400 Bad Request", &[], &body)));
    let out = run(swas_with_key(ID, SECRET).args(delete_args(&server, "m-1", &["-v"]))).expect(1);
    let (json, people): (Vec<&str>, Vec<&str>) =
        out.stderr.lines().partition(|l| l.starts_with('{'));
    let error: Value = serde_json::from_str(json[0]).unwrap();
    assert_eq!(error["Message"].as_str().map(str::len), Some(200_000));
    let attempt = people
        .iter()
        .find(|l| l.contains("attempt finished"))
        .unwrap();
    assert!(
        attempt.contains("(cut; 200000 characters in all)"),
        "{attempt}"
    );
    assert!(attempt.len() < 5_000, "{}", attempt.len());
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
