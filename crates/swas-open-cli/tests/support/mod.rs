//! Running the `swas` binary under control: a clean environment (no `ALIBABA_CLOUD_*`
//! variable, `HOME` in a scratch folder, so no developer's config is read), every output
//! checked for secrets, and `swas emulator` children that are killed when dropped.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The AccessKey of the known-answer vectors, accepted by the test emulators.
pub const ID: &str = "testid";
pub const SECRET: &str = "testsecret";
/// A secret that no emulator accepts.
pub const WRONG_SECRET: &str = "wrong-secret-4711";
/// An STS key the test emulators accept with this token.
pub const STS_ID: &str = "STS.test-id";
pub const STS_SECRET: &str = "sts-secret-0815";
pub const STS_TOKEN: &str = "sts-token-zq9/x+y";

/// The region the tests delete in.
pub const REGION: &str = "cn-hangzhou";

/// `delete-custom-image --region-id REGION --image-id IMAGE` plus `extra`.
pub fn delete_command<'a>(region: &'a str, image: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "delete-custom-image",
        "--region-id",
        region,
        "--image-id",
        image,
    ];
    args.extend_from_slice(extra);
    args
}

/// `delete-custom-image --region-id cn-hangzhou --image-id IMAGE --endpoint URL` plus `extra`.
pub fn delete_args<'a>(url: &'a str, image: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    delete_command(REGION, image, &[&["--endpoint", url], extra].concat())
}

/// Strings that must never appear in anything `swas` prints.
pub const SECRETS: &[&str] = &[
    SECRET,
    WRONG_SECRET,
    STS_SECRET,
    STS_TOKEN,
    "sts-token-zq9",
    "s3cret with space",
];

/// A folder under the test scratch space, created if missing.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// `swas` with an empty environment and `HOME` in an empty scratch folder.
pub fn swas() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_swas"));
    command
        .env_clear()
        .env("HOME", scratch("home-empty"))
        // Never the real metadata service from a test.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    command
}

/// `swas` with the vector's AccessKey in the environment.
pub fn swas_with_key(id: &str, secret: &str) -> Command {
    let mut command = swas();
    command
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret);
    command
}

/// `swas emulator FLAGS` for each of `flag_sets`: each is refused as a usage error (exit 2)
/// with nothing on stdout. Returns what each printed.
#[track_caller]
pub fn emulator_refuses(flag_sets: &[&[&str]]) -> Vec<Output> {
    flag_sets
        .iter()
        .map(|flags| {
            let out = run(swas().arg("emulator").args(*flags));
            assert_eq!(out.code, 2, "{flags:?}: {out:#?}");
            assert!(out.stdout.is_empty(), "{flags:?}");
            out
        })
        .collect()
}

/// What a finished `swas` printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit status, showing everything printed when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        self
    }

    /// stderr as exactly one line.
    #[track_caller]
    pub fn one_stderr_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {self:#?}");
        lines[0]
    }
}

/// Runs `command` to completion, checking that no secret appears in its output.
#[track_caller]
pub fn run(command: &mut Command) -> Output {
    checked(command.output().expect("run swas"))
}

/// Runs `command` with `input` on its stdin, like [`run`].
#[track_caller]
pub fn run_with_stdin(command: &mut Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn swas");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    // Written from a thread so a child that fills its stdout first cannot deadlock us.
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait for swas");
    writer.join().unwrap().expect("write stdin");
    checked(out)
}

#[track_caller]
fn checked(out: std::process::Output) -> Output {
    let out = Output {
        code: out.status.code().expect("swas exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    };
    assert_no_secret(&out.stdout);
    assert_no_secret(&out.stderr);
    out
}

#[track_caller]
pub fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "output shows {secret:?}:\n{text}");
    }
}

/// A `swas emulator` child process, killed on drop.
pub struct EmulatorChild {
    child: Child,
    /// `http://127.0.0.1:PORT` (`https://` with `--tls`).
    pub url: String,
    first_line: String,
    lines: Option<Receiver<String>>,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl EmulatorChild {
    /// `swas emulator --listen 127.0.0.1:0` with the vector's key, the STS key, and `args`.
    pub fn start(args: &[&str]) -> Self {
        let key = format!("{ID}:{SECRET}");
        let sts = format!("{STS_ID}:{STS_SECRET}:{STS_TOKEN}");
        let child = swas()
            .args(["emulator", "--listen", "127.0.0.1:0", "--access-key", &key])
            .args(["--access-key", &sts])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn swas emulator");
        // The guard exists before anything can fail, so the child never outlives the test.
        let mut guard = EmulatorChild {
            child,
            url: String::new(),
            first_line: String::new(),
            lines: None,
            log: Arc::default(),
            reader: None,
        };
        let stderr = guard.child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        let log = guard.log.clone();
        guard.reader = Some(thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        }));
        guard.lines = Some(rx);

        let stdout = guard.child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut guard.first_line)
            .expect("read the emulator's first line");
        let url = guard
            .first_line
            .strip_suffix('\n')
            .and_then(|l| l.strip_prefix("listening on "))
            .unwrap_or_else(|| panic!("unexpected first line {:?}", guard.first_line));
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "{url}"
        );
        guard.url = url.to_owned();
        guard
    }

    /// Waits until the emulator logs a line containing `needle` (lines before it are
    /// skipped) and returns it. The wait is bounded only to turn a hang into a failure.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let lines = self.lines.as_ref().expect("stderr reader running");
        loop {
            // socket: a guard against a hang only.
            match lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!(
                    "the emulator never logged {needle:?} ({e}); log:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for EmulatorChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if !thread::panicking() {
            assert_no_secret(&self.first_line);
            assert_no_secret(&self.log());
        }
    }
}
