//! The CLI at the seams with the services it depends on: a batch job with a RamRoleArn
//! profile rerun from its own records under a new STS session, the exit status when a
//! credentials service fails or refuses, a `--ca-file` that is no regular file, and a
//! metadata role that does not exist. The binary runs in a scrubbed environment with a
//! temporary HOME against an emulator in this process (SWAS, STS and the metadata service).

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{delete_args, run, scratch, swas, Output, ID, REGION, SECRET, WRONG_SECRET};
use swas_open_emulator::{Emulator, Fault, Role, Service};

const ROLE: &str = "acs:ram::123456789012:role/cleaner";

/// An emulator with the test key, the role [`ROLE`], the instance role `web-role` and
/// `images` in [`REGION`].
fn emulator(images: &[&str]) -> Emulator {
    images
        .iter()
        .fold(
            Emulator::builder()
                .access_key(ID, SECRET)
                .role(Role::new(ROLE))
                .instance_role("web-role"),
            |b, image| b.image(REGION, image),
        )
        .start_blocking()
        .expect("start the emulator")
}

/// A temporary HOME named `name` whose aliyun CLI config file has one `RamRoleArn` profile,
/// the current one, assuming `role` with the test key (or `secret`) through `emu`'s STS.
fn home_with_role(name: &str, emu: &Emulator, role: &str, secret: &str) -> PathBuf {
    let home = scratch(name);
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    let config = format!(
        r#"{{"current":"batch","profiles":[{{"name":"batch","mode":"RamRoleArn",
            "access_key_id":"{ID}","access_key_secret":"{secret}","ram_role_arn":"{role}",
            "ram_session_name":"nightly-cleanup","sts_endpoint":"{}"}}]}}"#,
        emu.url()
    );
    std::fs::write(home.join(".aliyun").join("config.json"), config).unwrap();
    home
}

/// `swas` in a scrubbed environment with `home` as HOME: the chain finds the profile there.
fn swas_at(home: &Path) -> std::process::Command {
    let mut command = swas();
    command.env("HOME", home);
    command
}

/// stdout's JSON lines.
fn json_lines(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The README's batch job, run twice. The first run deletes six images with a RamRoleArn
/// profile, one at a time; every answer to the first two images' requests is lost (each
/// of their three attempts deletes or finds the image deleted, then the connection
/// closes), so their lines say the outcome is unknown, with the ClientToken. The rerun, as
/// the README tells: each of those images alone with its saved `--client-token`, each in a
/// new process, so under a new STS session (another AccessKey id). Each is reported
/// deleted with the first answer, and the emulator deleted every image exactly once.
#[test]
fn a_batch_job_rerun_from_its_records_under_a_new_sts_session_deletes_each_image_once() {
    let images = ["m-1", "m-2", "m-3", "m-4", "m-5", "m-6"];
    let emu = emulator(&images);
    let url = emu.url();
    let home = home_with_role("home-batch-rerun", &emu, ROLE, SECRET);
    let list = home.join("images.txt");
    std::fs::write(&list, images.join("\n")).unwrap();
    emu.inject(Fault::drop_after_commit().times(6));
    let out = run(swas_at(&home).args([
        "delete-custom-image",
        "--region-id",
        REGION,
        "--endpoint",
        &url,
        "--image-ids-from",
        &list.display().to_string(),
        "--concurrency",
        "1",
    ]))
    .expect(3);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), images.len(), "{out:#?}");
    let unknown: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l.get("Error").is_some())
        .map(|l| {
            (
                l["ImageId"].as_str().expect("ImageId"),
                l["ClientToken"].as_str().expect("ClientToken"),
            )
        })
        .collect();
    assert_eq!(unknown.len(), 2, "{out:#?}");
    for (image, token) in &unknown {
        let hint = format!(
            "swas: {image}: the outcome is unknown: to retry safely, repeat with --client-token {token}"
        );
        assert!(out.stderr.contains(&hint), "{hint}\n{out:#?}");
    }
    // Every image was deleted, though two runs' records cannot say so.
    let stats = emu.stats();
    assert_eq!(
        (stats.deletes, stats.credentials_issued),
        (6, 1),
        "{stats:?}"
    );
    assert!(emu.images(REGION).is_empty());

    for (i, (image, token)) in unknown.iter().enumerate() {
        let out = run(swas_at(&home).args(delete_args(
            &url,
            image,
            &["--client-token", token, "--verbose"],
        )))
        .expect(0);
        let answer: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON answer");
        assert!(answer["RequestId"].as_str().is_some(), "{out:#?}");
        assert!(
            out.stderr.contains(&format!("ClientToken={token}")),
            "{out:#?}"
        );
        let stats = emu.stats();
        assert_eq!(
            (stats.deletes, stats.credentials_issued),
            (6, 2 + i as u64),
            "a new STS session, the first answer, no second delete: {stats:?}"
        );
    }
}

/// A credentials service that gives no usable answer (STS answering 503 to every request
/// of the fetch and its retries) exits 3: nothing was deleted, and trying again later may
/// work. A refusal (an unknown role, a wrong secret) exits 2, as configuration to fix. The
/// message names what failed; neither sends a delete. The same outage met through the default
/// chain (the profile is the config file's `current`) exits 3 too.
#[test]
fn a_credentials_outage_exits_3_and_a_refusal_exits_2() {
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    emu.inject(
        Fault::error(503, "ServiceUnavailable")
            .on(Service::Sts)
            .times(100),
    );
    let home = home_with_role("home-sts-outage", &emu, ROLE, SECRET);
    let out = run(swas_at(&home).args(delete_args(&url, "m-1", &["--profile", "batch"]))).expect(3);
    let line = out.one_stderr_line();
    assert!(line.contains("503") && line.contains(ROLE), "{line}");
    assert!(
        !line.contains("--client-token"),
        "nothing to repeat: {line}"
    );
    let sts = emu.stats().sts_requests;
    assert!(sts >= 2, "the fetch was retried: {sts}");
    let out = run(swas_at(&home).args(delete_args(&url, "m-1", &[]))).expect(3);
    let line = out.one_stderr_line();
    assert!(line.contains("503") && line.contains(ROLE), "{line}");
    assert!(emu.stats().sts_requests > sts, "the chain asked STS");
    assert_eq!(emu.stats().requests, 0, "no delete was sent");

    // Refusals, from an emulator without the outage.
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    let unknown = "acs:ram::123456789012:role/nobody";
    let home = home_with_role("home-sts-unknown-role", &emu, unknown, SECRET);
    let out = run(swas_at(&home).args(delete_args(&url, "m-1", &["--profile", "batch"]))).expect(2);
    let line = out.one_stderr_line();
    assert!(line.contains(unknown) && line.contains("HTTP 4"), "{line}");

    let home = home_with_role("home-sts-wrong-secret", &emu, ROLE, WRONG_SECRET);
    let out = run(swas_at(&home).args(delete_args(&url, "m-1", &["--profile", "batch"]))).expect(2);
    let line = out.one_stderr_line();
    assert!(line.contains("HTTP 4"), "{line}");
    assert_eq!(emu.stats().requests, 0, "no delete was sent");
    assert!(emu.has_image(REGION, "m-1"));
}

/// `--ca-file` naming a FIFO (opening it would block) or `/dev/zero` (reading it never
/// ends) fails at once, exit 2, with an error naming the file; nothing is sent.
#[test]
fn a_ca_file_that_is_not_a_regular_file_fails_at_once() {
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    let dir = scratch("ca-file-fifo");
    let fifo = dir.join("ca.pem");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for file in [fifo.display().to_string(), "/dev/zero".to_owned()] {
        let out = run(support::swas_with_key(ID, SECRET).args(delete_args(
            &url,
            "m-1",
            &["--ca-file", &file],
        )))
        .expect(2);
        let line = out.one_stderr_line();
        assert!(
            line.contains(&file) && line.contains("not a regular file"),
            "{line}"
        );
    }
    assert_eq!(emu.stats().requests, 0);
}

/// A metadata role that does not exist (`ALIBABA_CLOUD_ECS_METADATA`): the refusal names
/// the role asked for, exit 2.
#[test]
fn a_wrong_metadata_role_is_named() {
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    let out = run(swas()
        .env("ALIBABA_CLOUD_IMDS_ENDPOINT", &url)
        .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env("ALIBABA_CLOUD_ECS_METADATA", "no-such-role")
        .args(delete_args(&url, "m-1", &[])))
    .expect(2);
    let line = out.one_stderr_line();
    assert!(
        line.contains("no-such-role") && line.contains("404"),
        "{line}"
    );
    assert_eq!(emu.stats().requests, 0);
}
