//! `swas delete-custom-image` with several images: `--image-id` repeated, or
//! `--image-ids-from FILE` (`-` for stdin).
//!
//! Every id is checked before anything is sent; then one client (one connection pool, one
//! retry budget) serves `--concurrency` worker threads that take ids from a shared queue.
//! Each call prints one JSON line on stdout as it ends; a progress bar runs on stderr when
//! stderr is a terminal, and a one-line summary follows on stderr.
//!
//! | exit | when |
//! |---|---|
//! | 0 | every image was deleted |
//! | 1 | some call got a service error, and every other call an answer |
//! | 2 | an id, the region or the flags are invalid (nothing was sent) |
//! | 3 | some call got no usable answer |

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal as _};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use swas_open_core::{
    DeleteCustomImage, DeleteCustomImageOutput, Error, ErrorKind, FromConfig, RegionId,
};
use swas_open_ureq::Client;

use crate::cli::DeleteArgs;
use crate::delete::{client_config, warn_if_unlisted};
use crate::emulator::Local;
use crate::exit::{exit_code, one_line, ErrorReport, Failure};
use crate::{output, verbose};

/// The one image of a single call: exactly one `--image-id` and no `--image-ids-from`. Its
/// output stays the single call's (`{"RequestId":...}`, errors on stderr).
pub fn single_image(args: &DeleteArgs) -> Option<&str> {
    match (args.image_ids.as_slice(), &args.image_ids_from) {
        ([one], None) => Some(one),
        _ => None,
    }
}

/// Runs the batch: check every id, then delete them all through one client.
pub fn run(args: &DeleteArgs) -> Result<(), Failure> {
    if args.client_token.is_some() {
        return Err(Failure::Usage(
            "--client-token names one call; with several images each call gets its own \
             (printed in its line)"
                .to_owned(),
        ));
    }
    if args.dry_run {
        return Err(Failure::Usage(
            "--dry-run signs one request: give one --image-id".to_owned(),
        ));
    }
    let listed = match &args.image_ids_from {
        Some(path) => ids_from(path)?,
        None => args
            .image_ids
            .iter()
            .map(|id| Listed {
                line: None,
                id: id.clone(),
            })
            .collect(),
    };
    if listed.is_empty() {
        let source = args
            .image_ids_from
            .as_deref()
            .map_or_else(|| "the input".to_owned(), |p| p.display().to_string());
        return Err(Failure::Usage(format!("no image ids in {source}")));
    }
    let region = RegionId::new(args.region_id.as_str())?;
    let inputs = validate(&region, listed)?;

    if args.verbose {
        verbose::install();
    }
    let local = if args.emulator {
        Some(Local::holding(
            &region,
            inputs.iter().map(DeleteCustomImage::image_id),
            args.verbose,
        )?)
    } else {
        None
    };
    let config = client_config(args, local.as_ref())?;
    let endpoint = config.endpoint_for(&inputs[0]);
    warn_if_unlisted(args, local.as_ref(), &region, &endpoint);
    let client = Client::from_config(config)?;
    let workers = usize::from(args.concurrency).min(inputs.len());
    if args.verbose {
        output::note(&format!(
            "DeleteCustomImage of {} image(s) in {region} to {endpoint}, signature {}, \
             {workers} at a time",
            inputs.len(),
            args.signature_version,
        ));
    }

    let bar = progress_bar(inputs.len(), args.verbose);
    let tally = delete_all(&client, &inputs, workers, &bar)?;
    bar.finish_and_clear();
    output::note(&tally.summary());
    match tally.exit_code() {
        0 => Ok(()),
        code => Err(Failure::Reported(code)),
    }
}

/// An id as listed, with its line number when it came from a file.
#[derive(Debug)]
struct Listed {
    line: Option<usize>,
    id: String,
}

/// The longest line an id list may have: far more than any image id, far less than a
/// stream with no line breaks (`/dev/zero`).
const MAX_LINE: usize = 4096;
/// The most image ids one run takes.
const MAX_IDS: usize = 100_000;
/// The most lines one list may have, blank ones included (`yes ''` never ends).
const MAX_LINES: usize = 1_000_000;

/// The ids of a file (`-`: stdin), one a line; blank lines and surrounding spaces ignored.
/// Read as a stream, a line at a time, within [`MAX_LINE`], [`MAX_IDS`] and [`MAX_LINES`]:
/// a regular file, a pipe, a FIFO or a terminal; a directory, a block device or a socket is
/// refused.
fn ids_from(path: &Path) -> Result<Vec<Listed>, Failure> {
    let shown = path.display().to_string();
    if path == Path::new("-") {
        return read_ids(std::io::stdin().lock(), "stdin");
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Usage(format!("cannot read {shown}: {e}")))?;
    let kind = file
        .metadata()
        .map_err(|e| Failure::Usage(format!("cannot read {shown}: {e}")))?
        .file_type();
    let refused = if kind.is_dir() {
        Some("a directory")
    } else {
        special_file(&kind)
    };
    if let Some(what) = refused {
        return Err(Failure::Usage(format!(
            "{shown} is {what}, not a list of image ids"
        )));
    }
    read_ids(std::io::BufReader::new(file), &shown)
}

/// What a file of this type is, when it cannot hold a list of ids.
#[cfg(unix)]
fn special_file(kind: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_file(_: &std::fs::FileType) -> Option<&'static str> {
    None
}

/// One id a line of `reader` (named `shown` in errors), trimmed; blank lines skipped.
fn read_ids(mut reader: impl BufRead, shown: &str) -> Result<Vec<Listed>, Failure> {
    let refused = |what: String| Failure::Usage(format!("{shown}: {what}"));
    let mut listed = Vec::new();
    let mut line = Vec::new();
    for n in 1..=MAX_LINES + 1 {
        line.clear();
        // One byte past the longest line tells a runaway line from one that fits.
        let read = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Usage(format!("cannot read {shown}: {e}")))?;
        if read == 0 {
            return Ok(listed);
        }
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            return Err(refused(format!(
                "line {n} is longer than {MAX_LINE} bytes: not a list of image ids"
            )));
        }
        if n > MAX_LINES {
            return Err(refused(format!(
                "more than {MAX_LINES} lines: split the list"
            )));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| refused(format!("line {n} is not UTF-8 text")))?;
        let id = text.trim();
        if id.is_empty() {
            continue;
        }
        if listed.len() == MAX_IDS {
            return Err(refused(format!(
                "more than {MAX_IDS} image ids: split the list"
            )));
        }
        listed.push(Listed {
            line: Some(n),
            id: id.to_owned(),
        });
    }
    Ok(listed)
}

/// Every id as an input, duplicates dropped (first one kept); or, when any is invalid, each
/// invalid one reported on stderr (where it was listed, the id, the rule) and exit 2.
fn validate(region: &RegionId, listed: Vec<Listed>) -> Result<Vec<DeleteCustomImage>, Failure> {
    let mut seen = HashSet::new();
    let mut inputs = Vec::with_capacity(listed.len());
    let mut invalid = 0;
    for Listed { line, id } in listed {
        match DeleteCustomImage::new(region.as_str(), id.as_str()) {
            Ok(input) => {
                if seen.insert(id) {
                    inputs.push(input);
                }
            }
            Err(e) => {
                invalid += 1;
                let place = line.map(|n| format!("line {n}: ")).unwrap_or_default();
                output::note(&format!("{place}{id:?}: {e}"));
            }
        }
    }
    if invalid > 0 {
        output::note(&format!("{invalid} invalid image id(s); nothing was sent"));
        return Err(Failure::Reported(2));
    }
    Ok(inputs)
}

/// A progress bar on stderr when it is a terminal and `--verbose` is not printing there.
fn progress_bar(len: usize, verbose: bool) -> ProgressBar {
    if verbose || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(u64::try_from(len).ok(), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Deleted,
    ServiceError,
    /// The outcome is unknown, or a credentials service gave no usable answer.
    NoAnswer,
    /// Not sent for what the user must fix first: credentials refused by their service,
    /// or configuration.
    NotSent,
}

/// The calls' outcomes, counted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    deleted: usize,
    service_errors: usize,
    no_answer: usize,
    not_sent: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Deleted => self.deleted += 1,
            Outcome::ServiceError => self.service_errors += 1,
            Outcome::NoAnswer => self.no_answer += 1,
            Outcome::NotSent => self.not_sent += 1,
        }
    }

    /// `deleted N, failed M (service errors X, no answer Y)`, and `, not sent Z` when some
    /// were not.
    fn summary(&self) -> String {
        let not_sent = match self.not_sent {
            0 => String::new(),
            n => format!(", not sent {n}"),
        };
        format!(
            "deleted {}, failed {} (service errors {}, no answer {}{not_sent})",
            self.deleted,
            self.service_errors + self.no_answer + self.not_sent,
            self.service_errors,
            self.no_answer
        )
    }

    /// 0 when every call succeeded, else the worst of 1 (a service error), 2 (not sent:
    /// something to fix) and 3 (no answer), as a single call would exit.
    fn exit_code(&self) -> u8 {
        if self.no_answer > 0 {
            3
        } else if self.not_sent > 0 {
            2
        } else if self.service_errors > 0 {
            1
        } else {
            0
        }
    }
}

/// Runs every call on `workers` threads sharing `client`, printing each call's line as it
/// ends.
fn delete_all(
    client: &Client,
    inputs: &[DeleteCustomImage],
    workers: usize,
    bar: &ProgressBar,
) -> Result<Tally, Failure> {
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let work = || {
        while let Some(input) = inputs.get(next.fetch_add(1, Ordering::Relaxed)) {
            let result = client.delete_custom_image(input);
            let hint = result.as_ref().err().and_then(crate::delete::retry_hint);
            let (line, outcome) = report(input, result);
            bar.suspend(|| {
                output::stdout(&line);
                if let Some(hint) = hint {
                    output::note(&format!("{}: {hint}", input.image_id()));
                }
            });
            bar.inc(1);
            tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .add(outcome);
        }
    };
    let started = thread::scope(|scope| {
        let mut started = 0;
        for n in 0..workers {
            // Fewer workers than asked for still finish the queue; none cannot.
            match thread::Builder::new()
                .name(format!("delete-{n}"))
                .spawn_scoped(scope, work)
            {
                Ok(_) => started += 1,
                Err(_) => break,
            }
        }
        started
    });
    if started == 0 {
        return Err(Failure::NoAnswer("cannot start a worker thread".to_owned()));
    }
    Ok(tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// One line of output: the image, the token its attempts carried, and the answer or the
/// error's fields.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Line<'a> {
    image_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
    /// A success's RequestId (a service error's is among its fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(flatten)]
    service: Option<ErrorReport<'a>>,
    /// Why no usable answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    attempts: u32,
    #[serde(skip_serializing_if = "is_false")]
    retry_budget_exhausted: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The JSON line for a call's result, and how it ended.
fn report(
    input: &DeleteCustomImage,
    result: Result<DeleteCustomImageOutput, Error>,
) -> (String, Outcome) {
    let image_id = input.image_id().as_str();
    match result {
        Ok(out) => (
            success_line(
                image_id,
                out.client_token.as_str(),
                &out.request_id,
                out.attempts,
            ),
            Outcome::Deleted,
        ),
        Err(e) => error_line(image_id, &e),
    }
}

/// `{"ImageId","ClientToken","RequestId","Attempts"}`.
fn success_line(image_id: &str, client_token: &str, request_id: &str, attempts: u32) -> String {
    to_json(&Line {
        image_id,
        client_token: Some(client_token),
        request_id: Some(request_id),
        service: None,
        error: None,
        attempts,
        retry_budget_exhausted: false,
    })
}

/// The service error's fields, or why no usable answer came, with the image, the token and
/// the attempts; and which of the two it was.
fn error_line(image_id: &str, e: &Error) -> (String, Outcome) {
    let (service, error, outcome) = match e.kind() {
        ErrorKind::Service(s) => (Some(ErrorReport(s)), None, Outcome::ServiceError),
        _ if exit_code(e) == 2 => (None, Some(error_chain(e)), Outcome::NotSent),
        _ => (None, Some(error_chain(e)), Outcome::NoAnswer),
    };
    let line = Line {
        image_id,
        client_token: e.client_token().map(|t| t.as_str()),
        request_id: None,
        service,
        error,
        attempts: e.attempts(),
        retry_budget_exhausted: e.retry_budget_exhausted(),
    };
    (to_json(&line), outcome)
}

fn to_json(line: &Line<'_>) -> String {
    // Strings, numbers and a JSON value always serialize.
    serde_json::to_string(line).unwrap_or_else(|_| format!("{{\"ImageId\":{:?}}}", line.image_id))
}

/// The error's message and its causes, `: `-separated, on one line.
fn error_chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use swas_open_core::TimeoutKind;

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap()
    }

    /// The ids listed in `text`.
    fn parse_ids(text: &str) -> Vec<Listed> {
        read_ids(text.as_bytes(), "the list").unwrap_or_else(|f| panic!("{f:?}"))
    }

    /// Why `bytes` is refused as a list.
    fn refusal(reader: impl BufRead) -> String {
        match read_ids(reader, "the list") {
            Err(Failure::Usage(reason)) => reason,
            Err(other) => panic!("{other:?}"),
            Ok(listed) => panic!("{} ids accepted", listed.len()),
        }
    }

    #[test]
    fn a_runaway_line_is_refused_with_its_number() {
        let longest = format!("m-1\n{}\n", "m".repeat(MAX_LINE - 1));
        assert_eq!(parse_ids(&longest).len(), 2);
        let long = format!("m-1\n\n{}", "m".repeat(MAX_LINE + 1));
        assert_eq!(
            refusal(long.as_bytes()),
            format!("the list: line 3 is longer than {MAX_LINE} bytes: not a list of image ids")
        );
        // An endless stream with no line break fails at the bound (as /dev/zero does).
        let zeros = std::io::BufReader::new(std::io::repeat(0));
        assert!(refusal(zeros).contains("line 1 is longer than"));
        assert_eq!(
            refusal(&b"m-1\n\xff\xfe\n"[..]),
            "the list: line 2 is not UTF-8 text"
        );
    }

    #[test]
    fn endless_lists_are_refused() {
        // `yes m-1`: ids without end.
        let yes = std::io::BufReader::new(RepeatLine(b"m-1\n", 0));
        assert_eq!(
            refusal(yes),
            format!("the list: more than {MAX_IDS} image ids: split the list")
        );
        // `yes ''`: blank lines without end.
        let blank = std::io::BufReader::new(std::io::repeat(b'\n'));
        assert_eq!(
            refusal(blank),
            format!("the list: more than {MAX_LINES} lines: split the list")
        );
    }

    /// A reader repeating one line forever.
    struct RepeatLine(&'static [u8], usize);

    impl std::io::Read for RepeatLine {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                buf[n] = self.0[self.1];
                self.1 = (self.1 + 1) % self.0.len();
                n += 1;
            }
            Ok(n)
        }
    }

    #[test]
    fn a_directory_is_not_a_list() {
        let dir = std::env::temp_dir();
        match ids_from(&dir) {
            Err(Failure::Usage(reason)) => assert!(reason.contains("is a directory"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_are_one_a_line_trimmed_blank_lines_skipped() {
        let listed = parse_ids("m-1\n\n  m-2 \r\n\t\n m-3");
        let ids: Vec<(Option<usize>, &str)> =
            listed.iter().map(|l| (l.line, l.id.as_str())).collect();
        assert_eq!(ids, [(Some(1), "m-1"), (Some(3), "m-2"), (Some(5), "m-3")]);
        assert!(parse_ids(" \n\n").is_empty());
    }

    #[test]
    fn duplicates_are_deleted_once() {
        let region = RegionId::new("cn-hangzhou").unwrap();
        let listed = parse_ids("m-1\nm-2\nm-1\n");
        let inputs = validate(&region, listed).unwrap_or_else(|_| panic!("valid"));
        let ids: Vec<&str> = inputs.iter().map(|i| i.image_id().as_str()).collect();
        assert_eq!(ids, ["m-1", "m-2"]);
    }

    #[test]
    fn invalid_ids_exit_2() {
        let region = RegionId::new("cn-hangzhou").unwrap();
        let failure = validate(&region, parse_ids("m-1\nm 2\n")).err().unwrap();
        assert_eq!(failure.exit_code(), 2);
    }

    #[test]
    fn a_success_line() {
        assert_eq!(
            success_line("m-1", "t-1", "R1", 2),
            r#"{"ImageId":"m-1","ClientToken":"t-1","RequestId":"R1","Attempts":2}"#
        );
    }

    #[test]
    fn a_service_error_line_has_every_field() {
        let e = crate::exit::tests::not_found("R2");
        let (line, outcome) = error_line("m-2", &Error::from(ErrorKind::Service(Box::new(e))));
        assert_eq!(outcome, Outcome::ServiceError);
        assert_eq!(
            line,
            r#"{"ImageId":"m-2","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","RequestId":"R2","HttpStatus":404,"Attempts":0}"#
        );
    }

    #[test]
    fn a_no_answer_line_has_the_cause() {
        let e = Error::transport(
            swas_open_core::TransportFailure::Reset,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer\nreset"),
        );
        let (line, outcome) = error_line("m-3", &e);
        assert_eq!(outcome, Outcome::NoAnswer);
        let v = json(&line);
        assert_eq!(v["Error"], "transport error (Reset): peer reset");
        assert_eq!(v["Attempts"], 0);
        assert!(v.get("RetryBudgetExhausted").is_none(), "{line}");

        let timeout = Error::timeout(TimeoutKind::Read, std::time::Duration::from_secs(1));
        let (line, outcome) = error_line("m-4", &timeout);
        assert_eq!(outcome, Outcome::NoAnswer);
        assert!(json(&line)["Error"].as_str().unwrap().contains("timed out"));
    }

    #[test]
    fn a_credentials_outage_is_no_answer_and_a_configuration_error_not_sent() {
        let outage = swas_open_core::CredentialsError::ExpiredOnArrival {
            provider: "credentials URI".into(),
            left: std::time::Duration::ZERO,
        };
        let (line, outcome) = error_line("m-5", &Error::from(outage));
        assert_eq!(outcome, Outcome::NoAnswer);
        assert!(json(&line)["Error"].as_str().unwrap().contains("clock"));
        let unset = swas_open_core::CredentialsError::IncompleteEnvironment {
            set: "ALIBABA_CLOUD_ACCESS_KEY_ID",
            missing: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        };
        let (line, outcome) = error_line("m-6", &Error::from(unset));
        assert_eq!(outcome, Outcome::NotSent);
        assert!(json(&line)["Error"].as_str().unwrap().contains("is not"));
    }

    #[test]
    fn summary_and_exit_codes() {
        let mut tally = Tally::default();
        assert_eq!(tally.exit_code(), 0);
        tally.add(Outcome::Deleted);
        tally.add(Outcome::Deleted);
        assert_eq!(tally.exit_code(), 0);
        tally.add(Outcome::ServiceError);
        assert_eq!(tally.exit_code(), 1);
        tally.add(Outcome::NotSent);
        assert_eq!(tally.exit_code(), 2);
        tally.add(Outcome::NoAnswer);
        assert_eq!(tally.exit_code(), 3);
        assert_eq!(
            tally.summary(),
            "deleted 2, failed 3 (service errors 1, no answer 1, not sent 1)"
        );
    }

    proptest! {
        /// Whatever the file holds, every id parsed is a trimmed, non-empty line of it, in
        /// order, and every non-blank line gives one.
        #[test]
        fn parsing_keeps_every_non_blank_line(text in "[ \\tm0-9a-z\\r\\n-]{0,200}") {
            let listed = parse_ids(&text);
            let expected: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let got: Vec<&str> = listed.iter().map(|l| l.id.as_str()).collect();
            prop_assert_eq!(got, expected);
            for l in &listed {
                let n = l.line.unwrap();
                prop_assert_eq!(text.lines().nth(n - 1).map(str::trim), Some(l.id.as_str()));
            }
        }

        /// The worst outcome decides the exit status.
        #[test]
        fn exit_status_is_the_worst(outcomes in proptest::collection::vec(0u8..4, 0..50)) {
            let mut tally = Tally::default();
            for o in &outcomes {
                tally.add([Outcome::Deleted, Outcome::ServiceError, Outcome::NoAnswer, Outcome::NotSent][usize::from(*o)]);
            }
            let expected = if outcomes.contains(&2) {
                3
            } else if outcomes.contains(&3) {
                2
            } else if outcomes.contains(&1) {
                1
            } else {
                0
            };
            prop_assert_eq!(tally.exit_code(), expected);
        }
    }
}
