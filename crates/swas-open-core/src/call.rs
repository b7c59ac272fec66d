use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Config;
use crate::credentials::{Access, Gate};
use crate::encode::percent_encode;
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, TimeoutKind};
use crate::exchange::{Action, Exchange, Outgoing};
use crate::input::{ClientToken, DeleteCustomImage};
use crate::response::{parse_request_id, DeleteCustomImageOutput, ErrorCode};
use crate::retry::{is_throttling, Decision, Outcome};
use crate::sign::{Nonce, SigningContext};
use crate::time::Timestamp;
use crate::{ACTION, PRODUCT};

/// One DeleteCustomImage call with retries, as an [`Exchange`]: it owns its time rules
/// (deadline, backoff, clock-skew correction) and its randomness (nonces, jitter, the
/// generated `ClientToken`, all drawn from the seed it is built with). A transport only
/// sends what it is told to and reports what came back.
///
/// The call always carries a `ClientToken` (the caller's, or a UUID v4 drawn from the seed)
/// and keeps it across attempts: a retried delete whose first attempt did succeed returns
/// the original answer instead of `InvalidImageId.NotFound`.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use swas_open_core::{Action, Call, ClientBuilder, Credentials, DeleteCustomImage, Exchange};
///
/// let config = ClientBuilder::<()>::default()
///     .credentials(Credentials::new("id", "secret")?)
///     .resolve()?;
/// let input = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
/// let start = Instant::now();
/// let mut call = Call::new(&config, &input, [7; 32], start, SystemTime::now());
///
/// let Action::Send(attempt) = call.next(start) else { unreachable!() };
/// assert!(attempt.request.uri().query().unwrap().contains("ClientToken="));
/// let busy = http::Response::builder().status(503)
///     .body(r#"{"Code":"ServiceUnavailable","Message":"busy"}"#)?;
/// call.receive(start, Ok(busy));
///
/// // A jittered wait (at most 100 ms), then the second attempt.
/// let Action::Wait(until) = call.next(start) else { unreachable!() };
/// assert!(until <= start + Duration::from_millis(100));
/// let Action::Send(_) = call.next(until) else { unreachable!() };
/// let ok = http::Response::builder().status(200).body(r#"{"RequestId":"R1"}"#)?;
/// call.receive(until, Ok(ok));
/// let Action::Done(Ok(out)) = call.next(until) else { unreachable!() };
/// assert_eq!((out.request_id.as_str(), out.attempts), ("R1", 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A call whose client fetches its credentials first asks its driver to run the fetch
/// ([`Action::Detach`]) and waits for it, or waits for another call's fetch; each attempt
/// asks the client's credentials again, so a retry after a refresh signs with the new ones.
///
/// One call in progress.
#[derive(Debug)]
pub struct Call<'a> {
    config: &'a Config,
    credentials: Access,
    input: DeleteCustomImage,
    endpoint: Endpoint,
    rng: ChaCha8Rng,
    /// The monotonic and wall-clock readings the call started at: wall time later is
    /// derived from them, so the call reads no clock.
    start: (Instant, SystemTime),
    deadline: Option<Instant>,
    attempts: u32,
    /// Attempts that do not count against the policy (the one re-signed after a clock-skew
    /// correction).
    free_attempts: u32,
    skew_corrected: bool,
    state: State,
}

#[derive(Debug)]
enum State {
    Ready,
    /// An attempt is out: signed with this timestamp, sent at this instant.
    Sent(Timestamp, Instant),
    Waiting(Instant),
    Finished(Option<Result<DeleteCustomImageOutput, Error>>),
}

impl<'a> Call<'a> {
    /// Starts a call of `config`'s client at `now` (monotonic) and `wall` (the system clock
    /// at the same moment). `seed` (32 random bytes) is the source of the nonces, the retry
    /// jitter, the `ClientToken` when `input` has none, and a credentials fetch's own seed.
    pub fn new(
        config: &'a Config,
        input: &DeleteCustomImage,
        seed: [u8; 32],
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        let mut rng = ChaCha8Rng::from_seed(seed);
        let input = match input.client_token() {
            Some(_) => input.clone(),
            None => {
                let mut bytes = [0; 16];
                rng.fill_bytes(&mut bytes);
                input
                    .clone()
                    .with_token(ClientToken::from_random_bytes(bytes))
            }
        };
        Self {
            endpoint: config.endpoints.for_input(&input),
            deadline: config.deadline.and_then(|limit| now.checked_add(limit)),
            config,
            credentials: Access::default(),
            input,
            rng,
            start: (now, wall),
            attempts: 0,
            free_attempts: 0,
            skew_corrected: false,
            state: State::Ready,
        }
    }

    /// The `ClientToken` every attempt carries.
    pub(crate) fn client_token(&self) -> &ClientToken {
        self.input
            .client_token()
            .expect("Call::new always sets a client token")
    }

    /// The `info` span to run the call in: `delete_custom_image`, with OpenTelemetry-style
    /// fields `rpc.system` (`alibaba_cloud`), `rpc.service` (`swas-open`), `rpc.method`
    /// (`DeleteCustomImage`), `cloud.region`, `server.address`, `server.port` and
    /// `swas.image_id`. Each attempt ends with a `debug` event `attempt finished` in it; see
    /// the crate docs for its fields. Never a secret, a token or a signature.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "delete_custom_image",
            rpc.system = "alibaba_cloud",
            rpc.service = PRODUCT,
            rpc.method = ACTION,
            cloud.region = self.input.region_id().as_str(),
            server.address = self.endpoint.host(),
            server.port = self.endpoint.uri_authority().port_u16(),
            swas.image_id = self.input.image_id().as_str(),
        )
    }

    /// The wall-clock time at `now`, corrected by the client's clock offset.
    fn wall_at(&self, now: Instant) -> SystemTime {
        let elapsed = now.saturating_duration_since(self.start.0);
        let local = self.start.1 + elapsed;
        let offset = self.config.state.clock_offset();
        let shift = Duration::from_secs(offset.unsigned_abs());
        let corrected = if offset >= 0 {
            local.checked_add(shift)
        } else {
            local.checked_sub(shift)
        };
        corrected.unwrap_or(local)
    }

    /// Whether `t` is at or past the call's deadline.
    fn past_deadline(&self, t: Instant) -> bool {
        self.deadline.is_some_and(|d| t >= d)
    }

    fn attempt(&mut self, now: Instant) -> Action<Result<DeleteCustomImageOutput, Error>> {
        if self.past_deadline(now) {
            let error = self.deadline_error();
            return self.finish(now, Err(error));
        }
        let start = self.start;
        let local = || start.1 + now.saturating_duration_since(start.0);
        match (self.credentials).step(&self.config.credentials, now, local, &mut self.rng) {
            Ok(Gate::Sign) => {}
            Ok(Gate::Detach(fetch)) => return Action::Detach(fetch),
            Ok(Gate::Wait(until)) => {
                return Action::Wait(self.deadline.map_or(until, |d| d.min(until)))
            }
            Err(error) => return self.finish(now, Err(error)),
        }
        if let Err(wait) = self.config.state.acquire_send(now) {
            // Adaptive mode: the client is sending faster than the service accepts.
            crate::metrics::throttle_wait(wait);
            let until = now.checked_add(wait).unwrap_or(now);
            if self.past_deadline(until) {
                let error = self.deadline_error();
                return self.finish(now, Err(error));
            }
            self.state = State::Waiting(until);
            return Action::Wait(until);
        }
        let timestamp = match Timestamp::try_from(self.wall_at(now)) {
            Ok(t) => t,
            Err(e) => {
                let error = Error::config(format!("the system clock is unusable: {e}"));
                return self.finish(now, Err(error));
            }
        };
        let mut bytes = [0; 16];
        self.rng.fill_bytes(&mut bytes);
        let ctx = SigningContext::new(timestamp, Nonce::from_random_bytes(bytes));
        let request = (self.credentials.signer()).sign(&self.input, &self.endpoint, &ctx);
        self.attempts += 1;
        crate::metrics::attempt();
        self.state = State::Sent(timestamp, now);
        Action::Send(Outgoing {
            request,
            connect_timeout: self.config.connect_timeout,
            read_timeout: self.config.read_timeout,
            deadline: self.deadline,
            direct: false,
        })
    }

    /// Ends the call at `now` with `result`, returned right away.
    fn finish(
        &mut self,
        now: Instant,
        result: Result<DeleteCustomImageOutput, Error>,
    ) -> Action<Result<DeleteCustomImageOutput, Error>> {
        self.conclude(now, result);
        self.next(now)
    }

    /// Ends the call at `now` with `result` (returned by the next [`Exchange::next`]).
    fn conclude(&mut self, now: Instant, result: Result<DeleteCustomImageOutput, Error>) {
        crate::metrics::call(now.saturating_duration_since(self.start.0), &result);
        self.state = State::Finished(Some(result));
    }

    fn deadline_error(&self) -> Error {
        Error::timeout(
            TimeoutKind::Deadline,
            self.config.deadline.unwrap_or_default(),
        )
    }

    /// Handles a failed attempt that was signed at `sent` (`date` is the answer's `date`
    /// header, if any): retry, correct the clock, or stop.
    fn on_failure(
        &mut self,
        now: Instant,
        sent: Timestamp,
        date: Option<&HeaderValue>,
        mut error: Error,
    ) {
        let signer = self.credentials.signer();
        if let (Some(e), Some(token)) = (error.service_mut(), signer.credentials().security_token())
        {
            scrub(&mut e.message, token.expose());
        }
        if error.code() == Some(&ErrorCode::InvalidSecurityTokenExpired) {
            // Whatever our clock says, the service no longer takes these credentials.
            self.config.credentials.forget(signer);
        }
        if let Some(offset) = self.skew_offset(&error, sent, date) {
            self.config.state.set_clock_offset(offset);
            self.skew_corrected = true;
            self.free_attempts += 1;
            trace_attempt(self.attempts, &error, "correct clock", None);
            self.state = State::Ready;
            return;
        }
        if self.past_deadline(now) && error.transport_failure().is_some() {
            // The attempt was cut short by the call's deadline, whichever bound it reported.
            error = self.deadline_error();
        }
        let outcome = match error.kind() {
            ErrorKind::Service(e) => Some(Outcome::Service(e)),
            ErrorKind::Parse(_) => Some(Outcome::Parse),
            _ => error.transport_failure().map(Outcome::Transport),
        };
        let jitter = unit_interval(self.rng.next_u64());
        let counted = self.attempts - self.free_attempts;
        // The call always carries a ClientToken, so every attempt is idempotent.
        let decision = outcome.map_or(Decision::Stop, |o| {
            self.config.retry_policy.decide(counted, &o, true, jitter)
        });
        let mut budget_exhausted = false;
        if let Decision::Retry { after } = decision {
            // A retry that cannot start before the deadline is not made.
            if let Some(until) = now.checked_add(after).filter(|&u| !self.past_deadline(u)) {
                let timed_out = matches!(error.kind(), ErrorKind::Timeout { .. });
                if self.config.state.try_spend_retry(timed_out) {
                    crate::metrics::retry();
                    trace_attempt(self.attempts, &error, "retry", Some(after));
                    self.state = State::Waiting(until);
                    return;
                }
                crate::metrics::budget_refusal();
                budget_exhausted = true;
            }
        }
        trace_attempt(self.attempts, &error, "fail", None);
        let error = error.with_call(self.attempts, self.client_token(), budget_exhausted);
        self.conclude(now, Err(error));
    }

    /// The clock offset to correct by, when the service refused the attempt's timestamp and
    /// said what its own clock read (an HTTP `date`): `date - sent`, in whole seconds. Once
    /// per call.
    fn skew_offset(
        &self,
        error: &Error,
        sent: Timestamp,
        date: Option<&HeaderValue>,
    ) -> Option<i64> {
        if self.skew_corrected || error.code() != Some(&ErrorCode::InvalidTimeStampExpired) {
            return None;
        }
        let server = httpdate::parse_http_date(date?.to_str().ok()?).ok()?;
        let server = server.duration_since(UNIX_EPOCH).ok()?.as_secs();
        let offset = i64::try_from(server).ok()? - i64::try_from(sent.unix()).ok()?;
        Some(offset + self.config.state.clock_offset())
    }
}

impl Exchange for Call<'_> {
    type Output = Result<DeleteCustomImageOutput, Error>;

    fn next(&mut self, now: Instant) -> Action<Self::Output> {
        match &mut self.state {
            State::Ready => self.attempt(now),
            State::Waiting(until) if now < *until => Action::Wait(*until),
            State::Waiting(_) => self.attempt(now),
            State::Sent(..) => Action::Done(Err(Error::config(
                "the call's request is in flight: receive its answer first",
            ))),
            State::Finished(result) => Action::Done(
                result
                    .take()
                    .unwrap_or_else(|| Err(Error::config("the call is over"))),
            ),
        }
    }

    fn receive<B: AsRef<[u8]>>(&mut self, now: Instant, outcome: Result<http::Response<B>, Error>) {
        let State::Sent(sent, sent_at) = self.state else {
            return;
        };
        crate::metrics::attempt_duration(now.saturating_duration_since(sent_at));
        let response = match outcome {
            Ok(response) => response,
            Err(error) => return self.on_failure(now, sent, None, error),
        };
        let parsed = parse_request_id(&response);
        let throttled = parsed
            .as_ref()
            .err()
            .and_then(Error::code)
            .is_some_and(is_throttling);
        self.config.state.record_answer(now, sent_at, throttled);
        match parsed {
            Ok(request_id) => {
                self.config.state.refund_success();
                tracing::debug!(
                    attempt = self.attempts,
                    http.response.status_code = response.status().as_u16(),
                    alibaba_cloud.request_id = request_id.as_str(),
                    outcome = "done",
                    "attempt finished"
                );
                let output = DeleteCustomImageOutput::new(
                    request_id,
                    self.client_token().clone(),
                    self.attempts,
                );
                self.conclude(now, Ok(output));
            }
            Err(e) => {
                let date = response.headers().get(http::header::DATE);
                self.on_failure(now, sent, date, e);
            }
        }
    }
}

/// Replaces an STS token in a service message with `***`: `SignatureDoesNotMatch` quotes
/// the server's string to sign, which holds the token (percent-encoded twice in V1).
fn scrub(message: &mut String, token: &str) {
    let once = percent_encode(token);
    for form in [percent_encode(&once), once, token.to_owned()] {
        if message.contains(&form) {
            *message = message.replace(&form, "***");
        }
    }
}

/// A uniform number in `[0, 1)` from 64 random bits.
pub(crate) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The `debug` event `attempt finished` for a failed attempt: `attempt`,
/// `http.response.status_code`, `alibaba_cloud.request_id`, `error.type` (the service's
/// code, or `parse`, `timeout`, `transport`), `error` (the message), `retry.delay_ms` and
/// `outcome` (`retry`, `correct clock` or `fail`). Never a secret: errors print none.
fn trace_attempt(attempt: u32, error: &Error, outcome: &'static str, delay: Option<Duration>) {
    let service = error.service_error();
    let status = match error.kind() {
        ErrorKind::Service(e) => Some(e.status.as_u16()),
        ErrorKind::Parse(e) => Some(e.status.as_u16()),
        _ => None,
    };
    tracing::debug!(
        attempt,
        http.response.status_code = status,
        alibaba_cloud.request_id = service.and_then(|e| e.request_id.as_deref()),
        error.type = error_type(error),
        error = %error,
        retry.delay_ms = delay.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        outcome,
        "attempt finished"
    );
}

/// What kind of failure `error` is, in a word: the service's code, or the failure class.
pub(crate) fn error_type(error: &Error) -> &str {
    match error.kind() {
        ErrorKind::Service(e) => e.code.as_str(),
        ErrorKind::Parse(_) => "parse",
        ErrorKind::Timeout { .. } => "timeout",
        ErrorKind::Transport { .. } => "transport",
        _ => "client",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientBuilder;
    use crate::credentials::Credentials;
    use crate::retry::RetryPolicy;

    fn config(builder: ClientBuilder<()>) -> Config {
        builder
            .credentials(Credentials::new("id", "secret").unwrap())
            .resolve()
            .unwrap()
    }

    /// A call of `m-1` in `cn-hangzhou` by `config`'s client, started at `now` and `wall`.
    fn begin(config: &Config, seed: [u8; 32], now: Instant, wall: SystemTime) -> Call<'_> {
        let input = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        Call::new(config, &input, seed, now, wall)
    }

    fn answer(status: u16, body: &str) -> http::Response<String> {
        http::Response::builder()
            .status(status)
            .body(body.to_owned())
            .unwrap()
    }

    fn sent(call: &mut Call<'_>, now: Instant) -> http::Request<Vec<u8>> {
        match call.next(now) {
            Action::Send(out) => out.request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    const BUSY: &str = r#"{"Code":"ServiceUnavailable","Message":"busy"}"#;

    /// Answers the attempt in flight with a 503 at `now`; what the call does next.
    fn busy(call: &mut Call<'_>, now: Instant) -> Action<Result<DeleteCustomImageOutput, Error>> {
        call.receive(now, Ok(answer(503, BUSY)));
        call.next(now)
    }

    #[test]
    fn same_seed_same_requests() {
        let config = config(ClientBuilder::default());
        let (now, wall) = (
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        );
        let mut a = begin(&config, [1; 32], now, wall);
        let mut b = begin(&config, [1; 32], now, wall);
        let mut c = begin(&config, [2; 32], now, wall);
        let (ra, rb, rc) = (sent(&mut a, now), sent(&mut b, now), sent(&mut c, now));
        assert_eq!(ra.uri(), rb.uri());
        assert_ne!(ra.uri(), rc.uri());
        assert_eq!(a.client_token(), b.client_token());
        assert_ne!(a.client_token(), c.client_token());
    }

    #[test]
    fn retries_keep_the_token_and_change_the_nonce() {
        let config = config(ClientBuilder::default());
        let now = Instant::now();
        let mut call = begin(&config, [3; 32], now, SystemTime::now());
        let first = sent(&mut call, now);
        let Action::Wait(until) = busy(&mut call, now) else {
            panic!("expected a wait")
        };
        assert!(matches!(call.next(now), Action::Wait(u) if u == until));
        let second = sent(&mut call, until);
        let param = |r: &http::Request<Vec<u8>>, name: &str| {
            r.uri()
                .query()
                .unwrap()
                .split('&')
                .find_map(|p| p.strip_prefix(name))
                .map(str::to_owned)
        };
        assert_eq!(
            param(&first, "ClientToken="),
            param(&second, "ClientToken=")
        );
        assert_ne!(
            param(&first, "SignatureNonce="),
            param(&second, "SignatureNonce=")
        );
        let Action::Wait(until) = busy(&mut call, until) else {
            panic!("expected a wait")
        };
        let _ = sent(&mut call, until);
        let Action::Done(Err(e)) = busy(&mut call, until) else {
            panic!("expected the last error")
        };
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.client_token(), Some(call.client_token()));
        assert_eq!(e.code(), Some(&ErrorCode::ServiceUnavailable));
        assert!(matches!(call.next(until), Action::Done(Err(_))), "spent");
    }

    #[test]
    fn a_wait_past_the_deadline_returns_the_error() {
        let config = config(
            ClientBuilder::default()
                .deadline(Duration::from_millis(50))
                .retry_policy(RetryPolicy {
                    base_delay: Duration::from_secs(10),
                    ..RetryPolicy::new(3)
                }),
        );
        let now = Instant::now();
        let mut call = begin(&config, [0xff; 32], now, SystemTime::now());
        let Action::Send(out) = call.next(now) else {
            panic!()
        };
        assert_eq!(out.deadline, Some(now + Duration::from_millis(50)));
        // A timeout reported once the deadline has passed is the deadline's.
        let later = now + Duration::from_millis(60);
        call.receive::<Vec<u8>>(
            later,
            Err(Error::timeout(TimeoutKind::Read, Duration::from_secs(10))),
        );
        let Action::Done(Err(e)) = call.next(later) else {
            panic!()
        };
        assert!(
            matches!(e.kind(), ErrorKind::Timeout { kind: TimeoutKind::Deadline, limit } if *limit == Duration::from_millis(50)),
            "{e:?}"
        );
        assert_eq!(e.attempts(), 1);
    }

    #[test]
    fn clock_skew_is_corrected_once_and_remembered() {
        let config = config(ClientBuilder::default().retry_policy(RetryPolicy::new(1)));
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = Instant::now();
        let mut call = begin(&config, [5; 32], now, wall);
        let _ = sent(&mut call, now);
        let expired = http::Response::builder()
            .status(400)
            .header(
                "date",
                httpdate::fmt_http_date(wall + Duration::from_secs(1200)),
            )
            .body(r#"{"Code":"InvalidTimeStamp.Expired","Message":"expired"}"#)
            .unwrap();
        call.receive(now, Ok(expired.clone()));
        let second = sent(&mut call, now);
        assert!(
            second
                .uri()
                .query()
                .unwrap()
                .contains("Timestamp=2023-11-14T22%3A33%3A20Z"),
            "{:?}",
            second.uri()
        );
        assert_eq!(config.state.clock_offset(), 1200);
        // A second refusal in the same call is returned as it is.
        call.receive(now, Ok(expired));
        let Action::Done(Err(e)) = call.next(now) else {
            panic!()
        };
        assert_eq!(e.code(), Some(&ErrorCode::InvalidTimeStampExpired));
        assert_eq!(e.attempts(), 2);
    }

    #[test]
    fn skew_without_a_usable_date_is_left_alone() {
        for date in [None, Some("garbage")] {
            let config = config(ClientBuilder::default());
            let now = Instant::now();
            let mut call = begin(&config, [5; 32], now, SystemTime::now());
            let _ = sent(&mut call, now);
            let mut response = http::Response::builder().status(400);
            if let Some(d) = date {
                response = response.header("date", d);
            }
            let body = r#"{"Code":"InvalidTimeStamp.Expired","Message":"expired"}"#;
            call.receive(now, Ok(response.body(body).unwrap()));
            let Action::Done(Err(e)) = call.next(now) else {
                panic!()
            };
            assert_eq!(e.code(), Some(&ErrorCode::InvalidTimeStampExpired));
            assert_eq!(config.state.clock_offset(), 0);
        }
    }

    #[test]
    fn sts_tokens_are_scrubbed_from_service_messages() {
        let creds = Credentials::new("id", "secret")
            .unwrap()
            .with_security_token("tok en/+=")
            .unwrap();
        let config = ClientBuilder::<()>::default()
            .credentials(creds)
            .retry_policy(RetryPolicy::new(1))
            .resolve()
            .unwrap();
        let now = Instant::now();
        let mut call = begin(&config, [0; 32], now, SystemTime::now());
        let _ = sent(&mut call, now);
        let twice = percent_encode(&percent_encode("tok en/+="));
        let body = format!(
            r#"{{"Code":"SignatureDoesNotMatch","Message":"server string to sign is:POST&%2F&SecurityToken%3D{twice}%26X"}}"#
        );
        call.receive(now, Ok(answer(400, &body)));
        let Action::Done(Err(e)) = call.next(now) else {
            panic!("expected a service error");
        };
        assert_eq!(
            e.service_error().unwrap().message,
            "server string to sign is:POST&%2F&SecurityToken%3D***%26X"
        );
    }

    #[test]
    fn an_empty_retry_budget_ends_the_call_and_says_so() {
        let budget = crate::retry::RetryBudget {
            capacity: 5,
            ..Default::default()
        };
        let config = config(ClientBuilder::default().retry_policy(RetryPolicy {
            budget: Some(budget),
            ..RetryPolicy::new(5)
        }));
        let now = Instant::now();
        let mut call = begin(&config, [9; 32], now, SystemTime::now());
        let _ = sent(&mut call, now);
        let Action::Wait(until) = busy(&mut call, now) else {
            panic!("the first retry is paid for")
        };
        let _ = sent(&mut call, until);
        let Action::Done(Err(e)) = busy(&mut call, until) else {
            panic!("the second is not")
        };
        assert!(e.retry_budget_exhausted());
        assert_eq!(e.attempts(), 2);
        // A success puts a token back, but one is not a retry's worth.
        let mut ok = begin(&config, [8; 32], now, SystemTime::now());
        let _ = sent(&mut ok, now);
        ok.receive(now, Ok(answer(200, r#"{"RequestId":"R"}"#)));
        assert!(matches!(ok.next(now), Action::Done(Ok(_))));
        assert!(!config.state.try_spend_retry(false));
    }

    #[test]
    fn adaptive_mode_makes_calls_wait_after_throttling() {
        let config = config(ClientBuilder::default().retry_policy(RetryPolicy {
            adaptive: true,
            ..RetryPolicy::new(1)
        }));
        let start = Instant::now();
        let throttled = r#"{"Code":"Throttling.User","Message":"slow down"}"#;
        let mut waited = None;
        for i in 0..200u32 {
            let now = start + Duration::from_millis(u64::from(i) * 10);
            let mut call = begin(&config, [i as u8; 32], now, SystemTime::now());
            match call.next(now) {
                Action::Send(_) => call.receive(now, Ok(answer(400, throttled))),
                Action::Wait(until) => {
                    waited = Some(until - now);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        let waited = waited.expect("throttling lowers the send rate until calls wait");
        assert!(waited > Duration::ZERO);
    }

    /// Credentials for an hour, a new key each time they are provided.
    struct Counting(std::sync::atomic::AtomicU32);

    impl crate::credentials::ProvideCredentials for Counting {
        fn provide(&self) -> Result<(Credentials, Option<SystemTime>), crate::error::BoxError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let credentials =
                Credentials::new(format!("STS.id-{n}"), "secret")?.with_security_token("token")?;
            Ok((
                credentials,
                Some(SystemTime::now() + Duration::from_secs(3600)),
            ))
        }
    }

    /// A client whose provider is [`Counting`], making at most `attempts` attempts a call.
    fn counting(attempts: u32) -> Config {
        ClientBuilder::<()>::default()
            .credentials(crate::credentials::CredentialsProvider::custom(Counting(
                Default::default(),
            )))
            .retry_policy(RetryPolicy::new(attempts))
            .resolve()
            .unwrap()
    }

    /// Starts a call of `config`'s client at `now` and runs it up to its first request,
    /// running in place the fetches it asks for; the call, the AccessKey id it signed with,
    /// and how many fetches ran.
    fn first_attempt(config: &Config, now: Instant) -> (Call<'_>, String, u32) {
        let input = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let mut call = Call::new(config, &input, [4; 32], now, SystemTime::now());
        let mut fetches = 0;
        loop {
            match call.next(now) {
                Action::Send(out) => {
                    let query = out.request.uri().query().unwrap().to_owned();
                    let id = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("AccessKeyId="))
                        .unwrap()
                        .to_owned();
                    return (call, id, fetches);
                }
                Action::Detach(mut fetch) => {
                    fetches += 1;
                    assert!(matches!(fetch.next(now), Action::Done(())));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Answers `call`'s attempt in flight with `status` and `body`, and ends it.
    fn answered(mut call: Call<'_>, now: Instant, status: u16, body: &str) {
        call.receive(now, Ok(answer(status, body)));
        assert!(matches!(call.next(now), Action::Done(_)));
    }

    #[test]
    fn an_expired_token_answer_drops_the_cached_credentials() {
        let config = counting(1);
        let now = Instant::now();
        let expired = r#"{"Code":"InvalidSecurityToken.Expired","Message":"The security token has expired."}"#;
        let (call, first, fetches) = first_attempt(&config, now);
        assert_eq!((first.as_str(), fetches), ("STS.id-0", 1));
        // Other errors keep the cache.
        answered(call, now, 404, r#"{"Code":"InvalidImageId.NotFound"}"#);
        let (call, same, fetches) = first_attempt(&config, now);
        assert_eq!((same.as_str(), fetches), ("STS.id-0", 0));
        answered(call, now, 503, BUSY);
        // A call signed with them is still out when another learns that the token expired.
        let (late, _, _) = first_attempt(&config, now);
        let (call, _, _) = first_attempt(&config, now);
        answered(call, now, 400, expired);
        // The next call fetches anew.
        let (call, second, fetches) = first_attempt(&config, now);
        assert_eq!((second.as_str(), fetches), ("STS.id-1", 1));
        answered(call, now, 200, r#"{"RequestId":"R"}"#);
        // A late answer to a call signed with the old credentials keeps the new ones.
        answered(late, now, 400, expired);
        let (_, kept, fetches) = first_attempt(&config, now);
        assert_eq!((kept.as_str(), fetches), ("STS.id-1", 0));
    }

    #[test]
    fn a_retry_after_a_refresh_signs_with_the_new_credentials_and_the_same_token() {
        let config = counting(3);
        let now = Instant::now();
        let (mut call, first, _) = first_attempt(&config, now);
        assert_eq!(first, "STS.id-0");
        // Another call learns that these credentials expired: the cache drops them.
        let (other, _, _) = first_attempt(&config, now);
        let expired = r#"{"Code":"InvalidSecurityToken.Expired","Message":"expired"}"#;
        answered(other, now, 400, expired);
        // The first call's answer is lost; its retry fetches new credentials.
        call.receive::<String>(
            now,
            Err(Error::transport(crate::TransportFailure::Reset, "reset")),
        );
        let token = call.client_token().clone();
        let mut at = now;
        let request = loop {
            match call.next(at) {
                Action::Wait(until) => at = until,
                Action::Detach(mut fetch) => {
                    assert!(matches!(fetch.next(at), Action::Done(())))
                }
                Action::Send(out) => break out.request,
                Action::Done(r) => panic!("{r:?}"),
            }
        };
        let query = request.uri().query().unwrap();
        assert!(query.contains("AccessKeyId=STS.id-1"), "{query}");
        assert!(
            query.contains(&format!("ClientToken={}", token.as_str())),
            "{query}"
        );
    }

    #[test]
    fn unit_interval_is_half_open() {
        assert_eq!(unit_interval(0), 0.0);
        assert!(unit_interval(u64::MAX) < 1.0);
    }
}
