//! `swas delete-custom-image` with many images, end to end: the binary against an emulator
//! in this process, whose request counter and fault queue the tests read and drive.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{run, run_with_stdin, scratch, swas_with_key, Output, ID, REGION, SECRET};
use swas_open_emulator::{Emulator, Fault};

/// An emulator accepting the test key and holding `images` in [`REGION`] (`:shared` marks
/// a shared one).
fn emulator(images: &[&str]) -> Emulator {
    let builder =
        images.iter().fold(
            Emulator::builder().access_key(ID, SECRET),
            |b, spec| match spec.strip_suffix(":shared") {
                Some(image) => b.shared_image(REGION, image),
                None => b.image(REGION, spec),
            },
        );
    builder.start_blocking().expect("start the emulator")
}

/// `delete-custom-image --region-id REGION --endpoint URL` plus `extra`.
fn batch_args<'a>(emulator: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "delete-custom-image",
        "--region-id",
        REGION,
        "--endpoint",
        emulator,
    ];
    args.extend_from_slice(extra);
    args
}

/// A JSON line of stdout, and its keys in the order printed.
struct Line {
    value: Value,
    keys: Vec<String>,
}

impl std::ops::Index<&str> for Line {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.value[key]
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl Line {
    fn parse(raw: &str) -> Self {
        let value: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
        let object = value.as_object().expect("a JSON object");
        // The compact form prints each key once as `"Key":`, in order.
        let mut keys: Vec<String> = object.keys().cloned().collect();
        keys.sort_by_key(|k| raw.find(&format!("\"{k}\":")).expect("key in line"));
        Line { value, keys }
    }

    fn keys(&self) -> Vec<&str> {
        self.keys.iter().map(String::as_str).collect()
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.value.get(key)
    }
}

/// stdout's JSON lines, each with an ImageId; asserts one line per image of `images`.
#[track_caller]
fn lines_for(out: &Output, images: &[&str]) -> Vec<Line> {
    let lines: Vec<Line> = out.stdout.lines().map(Line::parse).collect();
    let seen: BTreeSet<&str> = lines
        .iter()
        .map(|l| l["ImageId"].as_str().expect("ImageId"))
        .collect();
    assert_eq!(lines.len(), images.len(), "{out:#?}");
    assert_eq!(seen, images.iter().copied().collect(), "{out:#?}");
    lines
}

/// The line of `image`.
fn line_of<'a>(lines: &'a [Line], image: &str) -> &'a Line {
    lines
        .iter()
        .find(|l| l["ImageId"] == image)
        .unwrap_or_else(|| panic!("no line for {image}"))
}

#[track_caller]
fn assert_token(line: &Line) {
    let token = line["ClientToken"].as_str().unwrap_or_default();
    assert!(!token.is_empty() && token.len() <= 64, "{line}");
}

#[test]
fn three_images_are_deleted_with_one_line_each() {
    let images = ["m-1", "m-2", "m-3"];
    let emu = emulator(&images);
    let url = emu.url();
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-id", "m-1", "--image-id", "m-2", "--ImageId", "m-3"],
    )))
    .expect(0);
    let lines = lines_for(&out, &images);
    let mut tokens = BTreeSet::new();
    for line in &lines {
        assert_eq!(
            line.keys(),
            ["ImageId", "ClientToken", "RequestId", "Attempts"],
            "{line}"
        );
        assert_token(line);
        assert!(tokens.insert(line["ClientToken"].as_str().unwrap()));
        assert!(!line["RequestId"].as_str().unwrap().is_empty());
        assert_eq!(line["Attempts"], 1);
    }
    assert_eq!(
        out.one_stderr_line(),
        "swas: deleted 3, failed 0 (service errors 0, no answer 0)"
    );
    assert_eq!(emu.stats().deletes, 3);
    assert!(emu.images(REGION).is_empty());
}

#[test]
fn a_service_error_exits_1_and_no_answer_exits_3() {
    let emu = emulator(&["m-1", "m-s:shared"]);
    let url = emu.url();
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &[
            "--image-id",
            "m-1",
            "--image-id",
            "m-s",
            "--image-id",
            "m-none",
        ],
    )))
    .expect(1);
    let lines = lines_for(&out, &["m-1", "m-s", "m-none"]);
    assert_eq!(line_of(&lines, "m-1")["Attempts"], 1);
    let shared = line_of(&lines, "m-s");
    assert_eq!(shared["Code"], "CustomImageInShare");
    assert_eq!(shared["HttpStatus"], 400);
    let missing = line_of(&lines, "m-none");
    assert_eq!(missing["Code"], "InvalidImageId.NotFound");
    assert_eq!(missing["HttpStatus"], 404);
    for line in [shared, missing] {
        assert_token(line);
        let k = line.keys();
        assert_eq!(
            &k[..4],
            ["ImageId", "ClientToken", "Code", "Message"],
            "{line}"
        );
        assert!(k.contains(&"RequestId") && k.ends_with(&["HttpStatus", "Attempts"]));
    }
    assert_eq!(
        out.one_stderr_line(),
        "swas: deleted 1, failed 2 (service errors 2, no answer 0)"
    );

    // One worker takes the ids in order: the first request meets an HTML page from "a
    // proxy" (no usable answer), the second a service error, the third succeeds.
    emu.add_image(REGION, "m-a", false);
    emu.add_image(REGION, "m-b", false);
    emu.inject(Fault::html(502));
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &[
            "--image-id",
            "m-a",
            "--image-id",
            "m-gone",
            "--image-id",
            "m-b",
            "--concurrency",
            "1",
            "--max-attempts",
            "1",
        ],
    )))
    .expect(3);
    let lines = lines_for(&out, &["m-a", "m-gone", "m-b"]);
    let order: Vec<&str> = lines
        .iter()
        .map(|l| l["ImageId"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["m-a", "m-gone", "m-b"]);
    let unanswered = &lines[0];
    assert_eq!(
        unanswered.keys(),
        ["ImageId", "ClientToken", "Error", "Attempts"]
    );
    assert_token(unanswered);
    assert!(!unanswered["Error"].as_str().unwrap().is_empty());
    assert_eq!(lines[1]["Code"], "InvalidImageId.NotFound");
    assert!(lines[2]["RequestId"].is_string());
    // The unknown outcome comes with the token to repeat it with, then the summary.
    let token = unanswered["ClientToken"].as_str().unwrap();
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        stderr,
        [
            format!(
                "swas: m-a: the outcome is unknown: to retry safely, repeat with --client-token {token}"
            )
            .as_str(),
            "swas: deleted 1, failed 2 (service errors 1, no answer 1)"
        ]
    );
    // The HTML answer came before the delete ran: the image is still there.
    assert!(emu.has_image(REGION, "m-a"));
}

/// stderr names each refused id in order, one line each starting as in `starts`, then says
/// that nothing was sent.
#[track_caller]
fn refused_ids(out: &Output, starts: &[&str]) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), starts.len() + 1, "{out:#?}");
    for (line, start) in lines.iter().zip(starts) {
        assert!(
            line.starts_with(start),
            "{line} does not start with {start}"
        );
    }
    let summary = format!(
        "swas: {} invalid image id(s); nothing was sent",
        starts.len()
    );
    assert_eq!(lines[starts.len()], summary);
}

#[test]
fn invalid_ids_are_all_reported_and_nothing_is_sent() {
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    let long = "m".repeat(129);
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &[
            "--image-id",
            "m-1",
            "--image-id",
            "m 2",
            "--image-id",
            &long,
            "--image-id",
            "",
        ],
    )))
    .expect(2);
    assert!(out.stdout.is_empty(), "{out:#?}");
    let too_long = format!("swas: \"{long}\": invalid ImageId: 129 characters");
    refused_ids(
        &out,
        &[
            "swas: \"m 2\": invalid ImageId",
            &too_long,
            "swas: \"\": invalid ImageId",
        ],
    );

    let file = scratch("batch-invalid").join("ids.txt");
    std::fs::write(&file, "m-1\n\nm\t3\n  m-4  \nm/5 6\n").unwrap();
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-ids-from", file.to_str().unwrap()],
    )))
    .expect(2);
    refused_ids(
        &out,
        &["swas: line 3: \"m\\t3\": ", "swas: line 5: \"m/5 6\": "],
    );

    // A bad region is reported once, not once per id.
    let out = run(swas_with_key(ID, SECRET).args([
        "delete-custom-image",
        "--region-id",
        "CN_Hangzhou",
        "--image-id",
        "m-1",
        "--image-id",
        "m-2",
    ]))
    .expect(2);
    assert!(out.one_stderr_line().contains("RegionId"), "{out:#?}");

    assert_eq!(emu.stats().requests, 0);
    assert!(emu.has_image(REGION, "m-1"));
}

#[test]
fn single_call_flags_are_refused_with_several_images() {
    let emu = emulator(&["m-1", "m-2"]);
    let url = emu.url();
    let two = ["--image-id", "m-1", "--image-id", "m-2"];
    for extra in [&["--client-token", "t-1"][..], &["--dry-run"]] {
        let out =
            run(swas_with_key(ID, SECRET).args(batch_args(&url, &[&two[..], extra].concat())))
                .expect(2);
        assert!(out.one_stderr_line().starts_with("swas: --"), "{out:#?}");
    }
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-id", "m-1", "--image-ids-from", "-"],
    )))
    .expect(2);
    assert!(out.stdout.is_empty());
    let out = run_with_stdin(
        swas_with_key(ID, SECRET).args(batch_args(&url, &["--image-ids-from", "-"])),
        "\n  \n",
    )
    .expect(2);
    assert_eq!(out.one_stderr_line(), "swas: no image ids in -");
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn ids_from_stdin_one_a_line() {
    let emu = emulator(&["m-1", "m-2", "m-3"]);
    let url = emu.url();
    let out = run_with_stdin(
        swas_with_key(ID, SECRET).args(batch_args(&url, &["--image-ids-from", "-"])),
        "m-1\n\n   m-2 \r\nm-1\n\tm-3",
    )
    .expect(0);
    lines_for(&out, &["m-1", "m-2", "m-3"]);
    assert_eq!(
        out.one_stderr_line(),
        "swas: deleted 3, failed 0 (service errors 0, no answer 0)"
    );
    // The repeated m-1 was deleted once.
    assert_eq!(emu.stats().requests, 3);
}

/// Issue 13's outage: every request answered 503, 1,000 ids at concurrency 100 through one
/// `swas` run. The client's default retry budget (500 tokens, 5 a retry) pays for 100
/// retries in all, so the service sees at most 1,100 requests instead of 3,000.
#[test]
fn a_full_outage_costs_at_most_one_hundred_retries() {
    let emu = emulator(&[]);
    emu.inject(Fault::error(503, "ServiceUnavailable").times(1_000_000));
    let url = emu.url();
    let images: Vec<String> = (0..1000).map(|n| format!("m-{n:04}")).collect();
    let file = scratch("batch-outage").join("ids.txt");
    std::fs::write(&file, images.join("\n")).unwrap();

    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &[
            "--image-ids-from",
            file.to_str().unwrap(),
            "--concurrency",
            "100",
        ],
    )));
    // A 503 with a ServiceUnavailable body is an answer: the service's error, exit 1.
    let out = out.expect(1);
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let lines = lines_for(&out, &names);

    let requests = emu.stats().requests;
    eprintln!("outage: {requests} requests for 1,000 calls");
    assert!(
        (1000..=1100).contains(&requests),
        "{requests} requests for 1,000 calls"
    );
    let mut attempts = 0;
    let mut refused = 0;
    for line in &lines {
        assert_eq!(line["Code"], "ServiceUnavailable", "{line}");
        assert_eq!(line["HttpStatus"], 503, "{line}");
        assert_token(line);
        let n = line["Attempts"].as_u64().unwrap();
        attempts += n;
        // A call that stopped before its third attempt was refused a retry, and says so.
        let exhausted = line.get("RetryBudgetExhausted") == Some(&Value::Bool(true));
        assert_eq!(exhausted, n < 3, "{line}");
        refused += u64::from(exhausted);
    }
    assert_eq!(attempts, requests, "every request is some call's attempt");
    assert!(refused >= 950, "{refused} calls refused a retry");
    assert_eq!(
        out.one_stderr_line(),
        "swas: deleted 0, failed 1000 (service errors 1000, no answer 0)"
    );
}

#[test]
fn verbose_shows_the_span_and_attempt_fields() {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::error(503, "ServiceUnavailable"));
    let url = emu.url();
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-id", "m-1", "--client-token", "tok-v", "--verbose"],
    )))
    .expect(0);
    let attempts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("attempt finished"))
        .collect();
    assert_eq!(attempts.len(), 2, "{}", out.stderr);
    for (line, expected) in attempts.iter().zip([
        &[
            "attempt=1",
            "http.response.status_code=503",
            "error.type=\"ServiceUnavailable\"",
            "retry.delay_ms=",
            "outcome=\"retry\"",
        ][..],
        &[
            "attempt=2",
            "http.response.status_code=200",
            "alibaba_cloud.request_id=",
            "outcome=\"done\"",
        ],
    ]) {
        for field in expected.iter().chain(&[
            "rpc.method=\"DeleteCustomImage\"",
            "cloud.region=\"cn-hangzhou\"",
            "server.address=\"127.0.0.1\"",
            "swas.image_id=\"m-1\"",
        ]) {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        assert!(!line.contains('\x1b'), "no color off a terminal: {line:?}");
    }
    assert!(out.stderr.contains("ClientToken=tok-v"), "{}", out.stderr);
}

#[test]
fn runaway_id_lists_fail_fast() {
    let emu = emulator(&["m-1"]);
    let url = emu.url();
    // No line break at all: refused at the line-length bound, nothing sent.
    // socket: "fails fast" is what a process on an endless input shows; a wide upper bound.
    let started = std::time::Instant::now();
    let out =
        run(swas_with_key(ID, SECRET).args(batch_args(&url, &["--image-ids-from", "/dev/zero"])))
            .expect(2);
    assert_eq!(
        out.one_stderr_line(),
        "swas: /dev/zero: line 1 is longer than 4096 bytes: not a list of image ids"
    );
    // socket: no socket, but a process: a bound wide enough never to flake.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // `yes m-1 | swas ...`: refused at the count bound.
    let endless = "m-1\n".repeat(100_001);
    let out = run_with_stdin(
        swas_with_key(ID, SECRET).args(batch_args(&url, &["--image-ids-from", "-"])),
        &endless,
    )
    .expect(2);
    assert_eq!(
        out.one_stderr_line(),
        "swas: stdin: more than 100000 image ids: split the list"
    );
    let dir = scratch("batch-dir");
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-ids-from", dir.to_str().unwrap()],
    )))
    .expect(2);
    assert!(
        out.one_stderr_line()
            .ends_with("is a directory, not a list of image ids"),
        "{out:#?}"
    );
    assert_eq!(emu.stats().requests, 0);
}

#[cfg(unix)]
#[test]
fn a_fifo_is_read_as_a_stream() {
    let emu = emulator(&["m-1", "m-2"]);
    let url = emu.url();
    let fifo = scratch("batch-fifo").join("ids");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let path = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(path, "m-1\nm-2\n"));
    let out = run(swas_with_key(ID, SECRET).args(batch_args(
        &url,
        &["--image-ids-from", fifo.to_str().unwrap()],
    )))
    .expect(0);
    writer.join().unwrap().unwrap();
    lines_for(&out, &["m-1", "m-2"]);
}
