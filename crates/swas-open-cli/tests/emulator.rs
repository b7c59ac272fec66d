//! `swas emulator` as its users start it: the credential services (STS, instance metadata,
//! credentials URI) feeding `swas delete-custom-image`, HTTPS with the CA written out, the
//! clock skew, and flag errors that never show a secret.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{delete_args, emulator_refuses, run, scratch, swas, EmulatorChild};

const ROLE: &str = "acs:ram::1234567890123456:role/pod-role";
const PROVIDER: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGkifQ.hidden-jwt-signature";

/// One HTTP/1.1 exchange with `Connection: close`: status, headers, body.
fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    // socket: a guard against a hang only.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// `swas delete-custom-image` against `url` with these temporary credentials in the
/// environment.
fn delete_with(url: &str, creds: &Value, image: &str) -> support::Output {
    let field = |name: &str| creds[name].as_str().expect("a credential field").to_owned();
    run(swas()
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", field("AccessKeyId"))
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", field("AccessKeySecret"))
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", field("SecurityToken"))
        .args(delete_args(url, image, &[])))
}

#[test]
fn oidc_credentials_from_the_emulator_delete_an_image() {
    let oidc = format!("{ROLE},{PROVIDER},{JWT}");
    let emulator = EmulatorChild::start(&[
        "--oidc-token",
        &oidc,
        "--role",
        &format!("{ROLE},max-duration=7200"),
        "--image",
        "cn-hangzhou:m-1",
    ]);
    let form = format!(
        "Action=AssumeRoleWithOIDC&Version=2015-04-01&Format=JSON&DurationSeconds=7200\
         &RoleArn={}&OIDCProviderArn={}&OIDCToken={JWT}&RoleSessionName=cli&Timestamp={}",
        ROLE.replace(':', "%3A").replace('/', "%2F"),
        PROVIDER.replace(':', "%3A").replace('/', "%2F"),
        swas_open_core::Timestamp::try_from(SystemTime::now())
            .unwrap()
            .to_string()
            .replace(':', "%3A"),
    );
    let (status, headers, body) = http(
        &emulator.url,
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!(status, 200, "{body}");
    assert!(headers.iter().any(|(n, _)| n == "date"));
    let answer: Value = serde_json::from_str(&body).unwrap();
    let out = delete_with(&emulator.url, &answer["Credentials"], "m-1").expect(0);
    assert!(out.stdout.contains("RequestId"), "{out:#?}");
    emulator.wait_for_log("POST DeleteCustomImage OK 200");
    let log = emulator.log();
    assert!(log.contains("POST AssumeRoleWithOIDC OK 200"), "{log}");
    assert!(!log.contains("hidden-jwt"), "{log}");
    let secret = answer["Credentials"]["AccessKeySecret"].as_str().unwrap();
    assert!(!log.contains(secret) && !out.stderr.contains(secret));
}

#[test]
fn instance_role_and_credentials_uri_feed_the_cli() {
    let emulator = EmulatorChild::start(&[
        "--instance-role",
        "EcsRole",
        "--imds-v2-only",
        "--credentials-uri",
        "/creds",
        "--credential-lifetime",
        "600",
        "--image",
        "cn-hangzhou:m-1",
        "--image",
        "cn-hangzhou:m-2",
    ]);
    let creds_path = "/latest/meta-data/ram/security-credentials/EcsRole";
    let (status, _, _) = http(&emulator.url, "GET", creds_path, &[], "");
    assert_eq!(status, 403, "v2 only: no token, no credentials");
    let (status, _, token) = http(
        &emulator.url,
        "PUT",
        "/latest/api/token",
        &[("X-aliyun-ecs-metadata-token-ttl-seconds", "300")],
        "",
    );
    assert_eq!(status, 200);
    let (status, _, body) = http(
        &emulator.url,
        "GET",
        creds_path,
        &[("X-aliyun-ecs-metadata-token", &token)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let imds: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(imds["Code"], "Success");
    delete_with(&emulator.url, &imds, "m-1").expect(0);

    let (status, _, body) = http(&emulator.url, "GET", "/creds", &[], "");
    assert_eq!(status, 200, "{body}");
    let uri: Value = serde_json::from_str(&body).unwrap();
    delete_with(&emulator.url, &uri, "m-2").expect(0);
    emulator.wait_for_log("GET CredentialsUri OK 200");
    assert!(emulator.log().contains("GET ImdsCredentials OK 200"));
}

#[test]
fn tls_writes_the_ca_before_printing_an_https_address() {
    let ca_file = scratch("emulator-tls").join("ca.pem");
    let _ = std::fs::remove_file(&ca_file);
    let ca_arg = ca_file.to_str().unwrap().to_owned();
    let emulator = EmulatorChild::start(&[
        "--tls-name",
        "swas.test",
        "--tls-ca-out",
        &ca_arg,
        "--image",
        "cn-hangzhou:m-1",
    ]);
    assert!(
        emulator.url.starts_with("https://127.0.0.1:"),
        "{}",
        emulator.url
    );
    let pem = std::fs::read_to_string(&ca_file).expect("the CA file exists once the line is out");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(
        pem.trim_end().ends_with("-----END CERTIFICATE-----"),
        "{pem}"
    );
    // A client that does not trust the generated CA gets no answer.
    let out = run(swas()
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", support::ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", support::SECRET)
        .args(delete_args(&emulator.url, "m-1", &["--max-attempts", "1"])))
    .expect(3);
    assert!(out.stdout.is_empty());
}

#[test]
fn clock_skew_shows_in_the_date_header() {
    let emulator = EmulatorChild::start(&["--clock-skew", "-1200"]);
    let (status, headers, _) = http(&emulator.url, "GET", "/__emulator/state", &[], "");
    assert_eq!(status, 200);
    let date = headers
        .iter()
        .find(|(n, _)| n == "date")
        .map(|(_, v)| v.as_str())
        .expect("a Date header");
    let date = httpdate::parse_http_date(date).expect("an IMF-fixdate");
    // socket: a real server's Date against this machine's clock. Twenty minutes behind; the
    // minute of slack only absorbs the time the exchange took.
    let behind = SystemTime::now().duration_since(date).unwrap();
    assert!(
        behind >= Duration::from_secs(1199) && behind <= Duration::from_secs(1200 + 60),
        "{behind:?}"
    );
}

#[test]
fn bad_credential_flags_exit_2_without_showing_secrets() {
    let cases: [&[&str]; 8] = [
        &["--role", "not-an-arn", "--access-key", "id:secret"],
        &[
            "--role",
            "acs:ram::1:role/r,external-id=hidden-external,typo=hidden-value",
            "--access-key",
            "id:secret",
        ],
        &["--oidc-token", "acs:ram::1:role/r,hidden-token-only"],
        &[
            "--oidc-token",
            "acs:ram::1:role/r,acs:ram::1:role/not-provider,hidden-jwt",
        ],
        &["--credentials-uri", "/latest/x"],
        &["--instance-role", "bad name"],
        &["--access-key", "id:secret", "--tls-name", "bad name"],
        &["--access-key", "id:secret", "--clock-skew", "soon"],
    ];
    for (flags, out) in cases.iter().zip(emulator_refuses(&cases)) {
        assert!(!out.stderr.contains("hidden"), "{flags:?}: {}", out.stderr);
    }
    let help = run(swas().args(["emulator", "--help"])).expect(0).stdout;
    for flag in [
        "--role",
        "--oidc-token",
        "--instance-role",
        "--imds-v2-only",
        "--credentials-uri",
        "--credential-lifetime",
        "--clock-skew",
        "--tls",
        "--tls-name",
        "--tls-ca-out",
        "--imds-listen",
        "--images-from",
        "--account",
        "--key-account",
        "--oidc-provider",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    // The help says who reads the endpoint variables, and who does not.
    let long_help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        long_help.contains("official credential libraries read neither"),
        "{help}"
    );
}

#[test]
fn a_refused_key_never_shows_its_secret() {
    let cases: [&[&str]; 4] = [
        &["--access-key", "ID s3cret with space"],
        &["--access-key", "ID=s3cret with space"],
        &["--access-key", "ID s3cret with space:token"],
        &[
            "--oidc-token",
            "acs:ram::1:role/r acs:ram::1:oidc-provider/p s3cret with space",
        ],
    ];
    for (flags, out) in cases.iter().zip(emulator_refuses(&cases)) {
        assert!(!out.stderr.contains("s3cret"), "{flags:?}: {}", out.stderr);
        assert!(!out.stderr.is_empty(), "{flags:?}: no message");
    }
}

/// The emulator as official clients need it: HTTPS for the service, plain HTTP for the
/// metadata service on a listener of its own, images from a file; the CLI takes the
/// instance's credentials from the metadata listener and deletes every image over HTTPS.
#[test]
fn metadata_listener_and_images_file_feed_a_batch_delete_over_https() {
    use std::io::BufRead;
    const IMAGES: usize = 2_000;
    let dir = scratch("emulator-imds-listen");
    let images: String = (0..IMAGES)
        .map(|i| format!("cn-hangzhou:m-file-{i}\n"))
        .collect();
    let ids: String = (0..IMAGES).map(|i| format!("m-file-{i}\n")).collect();
    let (images_file, ids_file, ca) = (
        dir.join("images.txt"),
        dir.join("ids.txt"),
        dir.join("ca.pem"),
    );
    std::fs::write(&images_file, images).unwrap();
    std::fs::write(&ids_file, ids).unwrap();
    let _ = std::fs::remove_file(&ca);

    let mut child = swas()
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(["--imds-listen", "127.0.0.1:0", "--instance-role", "EcsRole"])
        .arg("--images-from")
        .arg(&images_file)
        .arg("--tls-ca-out")
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Kill(child);
    let mut url = || {
        let line = lines.next().expect("a line").expect("UTF-8");
        line.strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_owned()
    };
    let (main, imds) = (url(), url());
    assert!(main.starts_with("https://127.0.0.1:"), "{main}");
    assert!(imds.starts_with("http://127.0.0.1:"), "{imds}");

    let out = run(swas()
        .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env("ALIBABA_CLOUD_ECS_METADATA", "EcsRole")
        .env("ALIBABA_CLOUD_IMDS_ENDPOINT", &imds)
        .args(["delete-custom-image", "--region-id", "cn-hangzhou"])
        .arg("--image-ids-from")
        .arg(&ids_file)
        .args(["--endpoint", &main, "--concurrency", "16"])
        .arg("--ca-file")
        .arg(&ca))
    .expect(0);
    assert_eq!(out.stdout.lines().count(), IMAGES, "{}", out.stderr);
    assert!(
        out.stdout.lines().all(|l| l.contains("RequestId")),
        "{}",
        out.stdout
    );
    drop(child);
}
