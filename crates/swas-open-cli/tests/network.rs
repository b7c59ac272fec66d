//! `swas delete-custom-image --ca-file` and `--proxy`: HTTPS against `swas emulator --tls`,
//! and the proxy settings of the command line against those of the environment.

mod support;

use support::{delete_args, run, scratch, swas_with_key, EmulatorChild, ID, SECRET};

const PROXY_PASSWORD: &str = "cli-proxy-pw-31337";

/// `swas emulator --tls` holding `images`, and the file its CA was written to.
fn tls_emulator(name: &str, images: &[&str]) -> (EmulatorChild, String) {
    let ca_file = scratch(name).join("ca.pem");
    let _ = std::fs::remove_file(&ca_file);
    let ca = ca_file.to_str().unwrap().to_owned();
    let mut args = vec!["--tls", "--tls-ca-out", &ca];
    for image in images {
        args.extend(["--image", image]);
    }
    (EmulatorChild::start(&args), ca)
}

/// [`delete_args`] with a single attempt, plus `extra`.
fn delete<'a>(url: &'a str, image: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    delete_args(url, image, &[&["--max-attempts", "1"], extra].concat())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn ca_file_makes_the_emulator_trusted() {
    let (emulator, ca) = tls_emulator("net-ca-file", &["cn-hangzhou:m-1"]);
    let out = run(swas_with_key(ID, SECRET).args(delete(&emulator.url, "m-1", &[]))).expect(3);
    let line = out.one_stderr_line();
    assert!(
        line.contains("Tls") && line.contains("UnknownIssuer"),
        "{line}"
    );

    let out =
        run(swas_with_key(ID, SECRET).args(delete(&emulator.url, "m-1", &["--ca-file", &ca])))
            .expect(0);
    assert!(out.stdout.contains("RequestId"), "{out:#?}");

    let missing = scratch("net-ca-file").join("missing.pem");
    let out = run(swas_with_key(ID, SECRET).args(delete(
        &emulator.url,
        "m-1",
        &["--ca-file", missing.to_str().unwrap()],
    )))
    .expect(2);
    let line = out.one_stderr_line();
    assert!(
        line.contains(missing.to_str().unwrap()) && line.contains("cannot be read"),
        "{out:#?}"
    );
    let out = run(swas_with_key(ID, SECRET).args(delete(
        &emulator.url,
        "m-1",
        &[
            "--ca-file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ],
    )))
    .expect(2);
    assert!(
        out.one_stderr_line().contains("root certificate"),
        "{out:#?}"
    );
}

#[test]
fn proxy_flag_wins_over_the_environment() {
    let (emulator, ca) = tls_emulator("net-proxy", &["cn-hangzhou:m-1"]);
    let dead = format!("http://alice:{PROXY_PASSWORD}@127.0.0.1:{}", closed_port());

    // The environment's proxy is used: nothing listens there, so no answer.
    let out = run(swas_with_key(ID, SECRET)
        .env("HTTPS_PROXY", &dead)
        .args(delete(&emulator.url, "m-1", &["--ca-file", &ca])))
    .expect(3);
    assert!(!out.stderr.contains(PROXY_PASSWORD), "{out:#?}");

    // --proxy names it instead, with the same outcome and no password shown.
    let out = run(swas_with_key(ID, SECRET).args(delete(
        &emulator.url,
        "m-1",
        &["--ca-file", &ca, "--proxy", &dead],
    )))
    .expect(3);
    assert!(!out.stderr.contains(PROXY_PASSWORD), "{out:#?}");

    // --proxy none ignores the environment.
    let out = run(swas_with_key(ID, SECRET)
        .env("HTTPS_PROXY", &dead)
        .args(delete(
            &emulator.url,
            "m-1",
            &["--ca-file", &ca, "--proxy", "none"],
        )))
    .expect(0);
    assert!(out.stdout.contains("RequestId"), "{out:#?}");

    // An unusable proxy URL is a usage error that does not show its password.
    let socks = format!("socks5://alice:{PROXY_PASSWORD}@127.0.0.1:1080");
    let out =
        run(swas_with_key(ID, SECRET).args(delete(&emulator.url, "m-1", &["--proxy", &socks])))
            .expect(2);
    let line = out.one_stderr_line();
    assert!(
        line.contains("proxy") && !line.contains(PROXY_PASSWORD),
        "{line}"
    );
}

#[test]
fn help_lists_the_network_flags() {
    let out = run(support::swas().args(["delete-custom-image", "--help"])).expect(0);
    for flag in ["--ca-file <FILE>", "--proxy <URL|none>"] {
        assert!(out.stdout.contains(flag), "{flag} missing:\n{}", out.stdout);
    }
}
