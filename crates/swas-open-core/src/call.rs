use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

use crate::config::{CallOptions, Config};
use crate::credentials::{fetch::Fetch, Access, Gate};
use crate::endpoint::Endpoint;
use crate::error::{error_type, Error, ErrorKind, Redactions, Stopped};
use crate::exchange::{local_wall, Exchange, Readings, Step};
use crate::input::{ClientToken, DeleteCustomImage};
use crate::response::{parse_delete_custom_image, DeleteCustomImageOutput, ErrorCode};
use crate::retry::{is_throttling, unit_interval, Outcome, RetryDecision};
use crate::rng::Rng;
use crate::shared::MAX_CLOCK_SKEW;
use crate::sign::{Nonce, SigningContext};
use crate::time::Timestamp;
use crate::transport::{Outgoing, TimeoutKind};
use crate::{ACTION, PRODUCT};
use tracing::field::Empty;

/// What a call ends with.
type CallOutput = Result<DeleteCustomImageOutput, Error>;

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
/// use swas_open::sans_io::{http, Call, ClientBuilder, Config, Exchange, Readings, Step};
/// use swas_open::{CallOptions, Credentials, DeleteCustomImage};
///
/// let config = ClientBuilder::<Config>::default()
///     .credentials(Credentials::new("id", "secret")?)
///     .build()?;
/// let input = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
/// let start = Instant::now();
/// let readings = Readings::new([7; 32], start, SystemTime::now());
/// let mut call = Call::new(&config, &input, CallOptions::new(), readings);
///
/// let Step::Send(attempt) = call.next(start) else { unreachable!() };
/// assert!(attempt.request.uri().query().unwrap().contains("ClientToken="));
/// let busy = http::Response::builder().status(503)
///     .body(r#"{"Code":"ServiceUnavailable","Message":"busy"}"#)?;
/// call.receive(start, Ok(busy));
///
/// // A jittered wait (at most 100 ms), then the second attempt.
/// let Step::Wait(until) = call.next(start) else { unreachable!() };
/// assert!(until <= start + Duration::from_millis(100));
/// let Step::Send(_) = call.next(until) else { unreachable!() };
/// let ok = http::Response::builder().status(200).body(r#"{"RequestId":"R1"}"#)?;
/// call.receive(until, Ok(ok));
/// let Step::Done(Ok(out)) = call.next(until) else { unreachable!() };
/// assert_eq!((out.request_id.as_str(), out.attempts), ("R1", 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A call whose client fetches its credentials first asks its driver to run the fetch
/// ([`Step::Detach`]) and waits for it, or waits for another call's fetch; each attempt
/// asks the client's credentials again, so a retry after a refresh signs with the new ones.
///
/// One call in progress.
#[derive(Debug)]
pub struct Call<'a> {
    config: &'a Config,
    credentials: Access,
    input: &'a DeleteCustomImage,
    /// The `ClientToken` of every attempt: the options', the input's, or one drawn from the
    /// seed.
    token: ClientToken,
    endpoint: Cow<'a, Endpoint>,
    rng: Rng,
    /// The monotonic and wall-clock readings the call started at: wall time later is
    /// derived from them, so the call reads no clock.
    start: (Instant, SystemTime),
    /// When the call must end, and the limit it was derived from (the client's deadline, or
    /// the one of [`CallOptions`]).
    deadline: Option<(Instant, Duration)>,
    attempts: u32,
    /// Whether the clock was corrected from a refused timestamp (once a call): the attempt
    /// re-signed after it does not count against the policy.
    skew_corrected: bool,
    phase: Phase,
    /// The call's span, made by the first [`Call::span`]; a call dropped before its end says
    /// so in it.
    span: std::cell::OnceCell<tracing::Span>,
}

/// Where a call stands between two steps.
#[derive(Debug)]
enum Phase {
    /// Ready to make an attempt.
    Ready,
    /// An attempt is out: signed with this timestamp, sent at this instant.
    Sent(Timestamp, Instant),
    /// Waiting until this instant (a backoff, a send token, or credentials).
    Waiting(Instant),
    /// Over: the result, until it is handed out.
    Finished(Option<CallOutput>),
}

impl<'a> Call<'a> {
    /// Starts a call of `config`'s client with this call's `options`, at the moment of
    /// `readings`: its clocks are the call's start, its seed (32 random bytes) the source of
    /// the nonces, the retry jitter, the `ClientToken` when neither `options` nor `input` has
    /// one, and a credentials fetch's own seed. The call borrows `config` and `input` until
    /// it is dropped.
    pub fn new(
        config: &'a Config,
        input: &'a DeleteCustomImage,
        options: CallOptions,
        readings: Readings,
    ) -> Self {
        let Readings { seed, now, wall } = readings;
        let mut rng = Rng::from_seed(seed);
        let token = match (options.client_token, input.client_token()) {
            (Some(token), _) => token,
            (None, Some(token)) => token.clone(),
            (None, None) => ClientToken::from_random_bytes(rng.bytes()),
        };
        Self {
            endpoint: config.endpoints.for_input(input),
            deadline: deadline_at(now, options.deadline.or(config.deadline)),
            config,
            credentials: Access::default(),
            input,
            token,
            rng,
            start: (now, wall),
            attempts: 0,
            skew_corrected: false,
            phase: Phase::Ready,
            span: std::cell::OnceCell::new(),
        }
    }

    /// The `ClientToken` every attempt carries.
    pub(crate) fn client_token(&self) -> &ClientToken {
        &self.token
    }

    /// The `info` span to run the call in: `delete_custom_image`, with OpenTelemetry-style
    /// fields `rpc.system` (`alibaba_cloud`), `rpc.service` (`swas-open`), `rpc.method`
    /// (`DeleteCustomImage`), `cloud.region`, `server.address`, `server.port`,
    /// `swas.image_id`, `swas.client_token` (the idempotency key every attempt carries: not
    /// a secret) and `swas.outcome` (`ok`, `error`, or `cancelled` for a call dropped before
    /// its end), recorded when the call ends. Each attempt ends with a `debug` event
    /// `attempt finished` in it; see the crate docs for its fields. Never a secret or a
    /// signature.
    pub fn span(&self) -> tracing::Span {
        self.span
            .get_or_init(|| {
                tracing::info_span!(
                    "delete_custom_image",
                    rpc.system = "alibaba_cloud",
                    rpc.service = PRODUCT,
                    rpc.method = ACTION,
                    cloud.region = self.input.region_id().as_str(),
                    server.address = self.endpoint.host(),
                    server.port = self.endpoint.uri_authority().port_u16(),
                    swas.image_id = self.input.image_id().as_str(),
                    swas.client_token = self.client_token().as_str(),
                    swas.outcome = Empty,
                )
            })
            .clone()
    }

    /// The wall-clock time at `now`, corrected by the client's clock offset.
    fn wall_at(&self, now: Instant) -> SystemTime {
        self.config.state.corrected(local_wall(self.start, now))
    }

    /// Whether `t` is at or past the call's deadline.
    fn past_deadline(&self, t: Instant) -> bool {
        self.deadline.is_some_and(|(d, _)| t >= d)
    }

    fn attempt(&mut self, now: Instant) -> Step<CallOutput, Fetch> {
        if self.past_deadline(now) {
            let error = self.deadline_error();
            return self.finish(now, Err(error));
        }
        let start = self.start;
        let local = || local_wall(start, now);
        match (self.credentials).step(&self.config.credentials, now, local, &mut self.rng) {
            Ok(Gate::Sign) => {}
            Ok(Gate::Detach(fetch)) => return Step::Detach(fetch),
            Ok(Gate::Wait(until)) => {
                return Step::Wait(self.deadline.map_or(until, |(d, _)| d.min(until)))
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
            self.phase = Phase::Waiting(until);
            return Step::Wait(until);
        }
        let timestamp = match Timestamp::try_from(self.wall_at(now)) {
            Ok(t) => t,
            Err(e) => {
                let error = Error::config(format!("the system clock is unusable: {e}"));
                return self.finish(now, Err(error));
            }
        };
        let ctx = SigningContext::new(timestamp, Nonce::from_random_bytes(self.rng.bytes()));
        let request = (self.credentials.signer()).sign_with_token(
            self.input,
            Some(&self.token),
            &self.endpoint,
            &ctx,
        );
        self.attempts += 1;
        crate::metrics::attempt();
        self.phase = Phase::Sent(timestamp, now);
        Step::Send(Outgoing {
            request,
            connect_timeout: self.config.connect_timeout,
            read_timeout: self.config.read_timeout,
            deadline: self.deadline.map(|(d, _)| d),
            direct: false,
        })
    }

    /// Ends the call at `now` with `result`, returned right away.
    fn finish(
        &mut self,
        now: Instant,
        result: Result<DeleteCustomImageOutput, Error>,
    ) -> Step<CallOutput, Fetch> {
        self.conclude(now, result);
        self.next(now)
    }

    /// Ends the call at `now` with `result` (returned by the next [`Exchange::next`]).
    fn conclude(&mut self, now: Instant, result: Result<DeleteCustomImageOutput, Error>) {
        crate::metrics::call(self.start.0, now, &result);
        if let Some(span) = self.span.get() {
            span.record("swas.outcome", if result.is_ok() { "ok" } else { "error" });
        }
        self.phase = Phase::Finished(Some(result));
    }

    fn deadline_error(&self) -> Error {
        let limit = self.deadline.map(|(_, limit)| limit).unwrap_or_default();
        Error::timeout(TimeoutKind::Deadline, limit)
    }

    /// Handles a failed attempt that was signed at `sent` (`headers` are the answer's, if
    /// any; only a refused timestamp looks at its `date`): retry, correct the clock, or stop.
    fn on_failure(
        &mut self,
        now: Instant,
        sent: Timestamp,
        headers: Option<&HeaderMap>,
        mut error: Error,
    ) {
        // Before anything prints it: a server or proxy may echo a secret in any field.
        match self.proxy_redactions() {
            Some(redactions) => error.redact(&redactions),
            None => error.redact(self.credentials.signer().redactions()),
        }
        if error.code() == Some(&ErrorCode::InvalidSecurityTokenExpired) {
            // Whatever our clock says, the service no longer takes these credentials.
            self.config.credentials.forget(self.credentials.signer());
        }
        if let Some(offset) = self.skew_offset(&error, sent, headers) {
            self.config.state.set_clock_offset(offset);
            self.skew_corrected = true;
            trace_attempt(self.attempts, &error, "correct clock", None);
            self.phase = Phase::Ready;
            return;
        }
        if self.past_deadline(now) && error.transport_failure().is_some() {
            // The attempt was cut short by the call's deadline, whichever bound it reported.
            error = self.deadline_error();
        }
        let jitter = unit_interval(self.rng.next_u64());
        let counted = self.attempts - u32::from(self.skew_corrected);
        let policy = &self.config.retry_policy;
        let decision = match error.kind() {
            // A passed deadline ends the call, whatever the policy would do.
            ErrorKind::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            } => RetryDecision::Stop,
            _ => Outcome::of(&error)
                .map_or(RetryDecision::Stop, |o| policy.decide(counted, &o, jitter)),
        };
        let mut stopped = None;
        match decision {
            RetryDecision::Retry { after } => {
                // A retry that cannot start before the deadline is not made.
                if let Some(until) = now.checked_add(after).filter(|&u| !self.past_deadline(u)) {
                    let timed_out = matches!(error.kind(), ErrorKind::Timeout { .. });
                    if self.config.state.try_spend_retry(timed_out) {
                        crate::metrics::retry();
                        trace_attempt(self.attempts, &error, "retry", Some(after));
                        self.phase = Phase::Waiting(until);
                        return;
                    }
                    crate::metrics::budget_refusal();
                    stopped = Some(Stopped::BudgetExhausted);
                }
            }
            RetryDecision::HintTooLong { hint } => {
                stopped = Some(Stopped::HintTooLong {
                    hint,
                    max: policy.max_delay,
                });
            }
            RetryDecision::Stop => {}
        }
        trace_attempt(self.attempts, &error, "fail", None);
        let error = error.with_call(self.attempts, self.client_token(), stopped);
        self.conclude(now, Err(error));
    }

    /// Every secret this call knows, in every form a server may echo it, when a proxy URL
    /// has a password: the proxies' passwords and the signer's forms (its AccessKey secret
    /// and STS token). `None` otherwise: the signer's own [`Signer::redactions`], built with
    /// it, are all there is to cut.
    fn proxy_redactions(&self) -> Option<Redactions<'_>> {
        let mut redactions = Redactions::default();
        let proxies = &self.config.proxies;
        for url in [&proxies.http, &proxies.https].into_iter().flatten() {
            redactions.proxy_url(url);
        }
        if redactions.is_empty() {
            return None;
        }
        redactions.extend(self.credentials.signer().redactions());
        Some(redactions.longest_first())
    }

    /// The clock offset to correct by, when the service refused the attempt's timestamp and
    /// said what its own clock read (an HTTP `date`): `date - sent`, in whole seconds. Once
    /// per call, and only for a plausible `date`: one the wire format can carry, at most
    /// [`MAX_CLOCK_SKEW`] from this machine's clock. Any other is ignored (the refusal is
    /// returned as it is and the offset kept), so no answer can leave a client signing with
    /// an absurd time.
    fn skew_offset(
        &self,
        error: &Error,
        sent: Timestamp,
        headers: Option<&HeaderMap>,
    ) -> Option<i64> {
        if self.skew_corrected || error.code() != Some(&ErrorCode::InvalidTimeStampExpired) {
            return None;
        }
        let date = headers?.get(http::header::DATE)?;
        let server = httpdate::parse_http_date(date.to_str().ok()?).ok()?;
        let server = Timestamp::try_from(server).ok()?.unix();
        let local = i64::try_from(sent.unix()).ok()? - self.config.state.clock_offset();
        let offset = i64::try_from(server).ok()? - local;
        (offset.unsigned_abs() <= MAX_CLOCK_SKEW.as_secs()).then_some(offset)
    }
}

/// The instant `limit` after `now`, with the limit (none when it does not fit).
fn deadline_at(now: Instant, limit: Option<Duration>) -> Option<(Instant, Duration)> {
    limit.and_then(|limit| Some((now.checked_add(limit)?, limit)))
}

impl Drop for Call<'_> {
    /// A call dropped before its end (its future dropped, its thread unwound) is counted
    /// (`outcome="cancelled"`) and its span says so.
    fn drop(&mut self) {
        if matches!(self.phase, Phase::Finished(_)) {
            return;
        }
        crate::metrics::cancelled();
        if let Some(span) = self.span.get() {
            span.record("swas.outcome", "cancelled");
            span.in_scope(|| {
                tracing::debug!(
                    attempts = self.attempts,
                    outcome = "cancelled",
                    "call cancelled"
                );
            });
        }
    }
}

impl Exchange for Call<'_> {
    type Output = CallOutput;
    type Detached = Fetch;

    fn next(&mut self, now: Instant) -> Step<Self::Output, Self::Detached> {
        match &mut self.phase {
            Phase::Ready => self.attempt(now),
            Phase::Waiting(until) if now < *until => Step::Wait(*until),
            Phase::Waiting(_) => self.attempt(now),
            Phase::Sent(..) => Step::Done(Err(Error::config(
                "the call's request is in flight: receive its answer first",
            ))),
            Phase::Finished(result) => Step::Done(
                result
                    .take()
                    .unwrap_or_else(|| Err(Error::config("the call is over"))),
            ),
        }
    }

    fn receive<B: AsRef<[u8]>>(&mut self, now: Instant, outcome: Result<http::Response<B>, Error>) {
        let Phase::Sent(sent, sent_at) = self.phase else {
            return;
        };
        crate::metrics::attempt_duration(sent_at, now);
        let response = match outcome {
            Ok(response) => response,
            Err(error) => return self.on_failure(now, sent, None, error),
        };
        let parsed = parse_delete_custom_image(&response).map_err(Error::from);
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
                self.on_failure(now, sent, Some(response.headers()), e);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientBuilder;
    use crate::encode::percent_encode;
    use crate::keys::Credentials;
    use crate::response::{ParseError, ParseErrorKind};
    use crate::retry::RetryPolicy;
    use crate::sign::SignatureVersion;

    fn config(builder: ClientBuilder<()>) -> Config {
        builder
            .credentials(Credentials::new("id", "secret").unwrap())
            .resolve()
            .unwrap()
    }

    /// `m-1` in `cn-hangzhou`, the input of the calls these helpers start (a call borrows
    /// its input, and outlives them).
    static M1: std::sync::LazyLock<DeleteCustomImage> =
        std::sync::LazyLock::new(|| DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap());

    /// A call of `m-1` in `cn-hangzhou` by `config`'s client, started at `now` and `wall`.
    fn begin(config: &Config, seed: [u8; 32], now: Instant, wall: SystemTime) -> Call<'_> {
        Call::new(
            config,
            &M1,
            CallOptions::new(),
            Readings::new(seed, now, wall),
        )
    }

    fn answer(status: u16, body: &str) -> http::Response<String> {
        http::Response::builder()
            .status(status)
            .body(body.to_owned())
            .unwrap()
    }

    fn sent(call: &mut Call<'_>, now: Instant) -> http::Request<Vec<u8>> {
        match call.next(now) {
            Step::Send(out) => out.request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// A call begun as [`begin`] does, its first attempt answered with `response`, which
    /// must end the call: the error it ends in.
    fn refused<B: AsRef<[u8]>>(
        config: &Config,
        now: Instant,
        wall: SystemTime,
        response: http::Response<B>,
    ) -> Error {
        let mut call = begin(config, [0; 32], now, wall);
        let _ = sent(&mut call, now);
        call.receive(now, Ok(response));
        match call.next(now) {
            Step::Done(Err(e)) => e,
            other => panic!("expected the call to end in an error, got {other:?}"),
        }
    }

    const BUSY: &str = r#"{"Code":"ServiceUnavailable","Message":"busy"}"#;

    /// Answers the attempt in flight with a 503 at `now`; what the call does next.
    fn busy(call: &mut Call<'_>, now: Instant) -> Step<CallOutput, Fetch> {
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
        let Step::Wait(until) = busy(&mut call, now) else {
            panic!("expected a wait")
        };
        assert!(matches!(call.next(now), Step::Wait(u) if u == until));
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
        let Step::Wait(until) = busy(&mut call, until) else {
            panic!("expected a wait")
        };
        let _ = sent(&mut call, until);
        let Step::Done(Err(e)) = busy(&mut call, until) else {
            panic!("expected the last error")
        };
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.client_token(), Some(call.client_token()));
        assert_eq!(e.code(), Some(&ErrorCode::ServiceUnavailable));
        assert!(matches!(call.next(until), Step::Done(Err(_))), "spent");
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
        let Step::Send(out) = call.next(now) else {
            panic!()
        };
        assert_eq!(out.deadline, Some(now + Duration::from_millis(50)));
        let e = read_timeout_past_the_deadline(&mut call, now + Duration::from_millis(60), 50);
        assert_eq!(e.attempts(), 1);
    }

    /// Reports a read timeout at `later`, past the call's deadline of `limit_ms`: the call
    /// ends with the deadline's error, whichever bound the transport reported.
    fn read_timeout_past_the_deadline(call: &mut Call<'_>, later: Instant, limit_ms: u64) -> Error {
        call.receive::<Vec<u8>>(
            later,
            Err(Error::timeout(TimeoutKind::Read, Duration::from_secs(10))),
        );
        let Step::Done(Err(e)) = call.next(later) else {
            panic!("the call must end")
        };
        assert!(
            matches!(e.kind(), ErrorKind::Timeout { kind: TimeoutKind::Deadline, limit } if *limit == Duration::from_millis(limit_ms)),
            "{e:?}"
        );
        e
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
        let Step::Done(Err(e)) = call.next(now) else {
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
            let mut response = http::Response::builder().status(400);
            if let Some(d) = date {
                response = response.header("date", d);
            }
            let body = r#"{"Code":"InvalidTimeStamp.Expired","Message":"expired"}"#;
            let e = refused(
                &config,
                now,
                SystemTime::now(),
                response.body(body).unwrap(),
            );
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
        let twice = percent_encode(&percent_encode("tok en/+="));
        let body = format!(
            r#"{{"Code":"SignatureDoesNotMatch","Message":"server string to sign is:POST&%2F&SecurityToken%3D{twice}%26X"}}"#
        );
        let e = refused(&config, now, SystemTime::now(), answer(400, &body));
        assert_eq!(
            e.service_error().unwrap().message,
            "server string to sign is:POST&%2F&SecurityToken%3D***%26X"
        );
    }

    /// The secret, token and proxy credentials of [`echoing_config`], in every form a server
    /// or proxy may echo them.
    const SECRET: &str = "Echo-S3cret/Value+1";
    const TOKEN: &str = "Echo-T0ken/Value=2";
    const PROXY_PASSWORD: &str = "pr0xy-Pass";

    /// A client with a secret and a token, and with a proxy whose URL has a password or
    /// with none (then the signer's own redactions are the call's).
    fn echoing_config(with_proxy: bool) -> Config {
        let creds = Credentials::new("id", SECRET)
            .unwrap()
            .with_security_token(TOKEN)
            .unwrap();
        let builder = ClientBuilder::<()>::default()
            .credentials(creds)
            .retry_policy(RetryPolicy::new(1));
        let builder = match with_proxy {
            true => builder.proxy(&format!("http://user:{PROXY_PASSWORD}@127.0.0.1:9")),
            false => builder.no_proxy("*"),
        };
        builder.resolve().unwrap()
    }

    fn echoed_forms(with_proxy: bool) -> Vec<String> {
        use base64::Engine as _;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("user:{PROXY_PASSWORD}"));
        let secrets = [SECRET, TOKEN, PROXY_PASSWORD, basic.as_str()];
        secrets[..if with_proxy { 4 } else { 2 }]
            .iter()
            .flat_map(|v| {
                let once = percent_encode(v);
                [v.to_string(), percent_encode(&once), once]
            })
            .collect()
    }

    /// Every output of an error: `Display`, `Debug`, and the message of each source.
    fn shown(e: &Error) -> String {
        format!("{e} {e:?} {:?}", e.kind())
    }

    #[test]
    fn echoed_secrets_are_cut_from_every_field() {
        echoes_are_cut(true);
        echoes_are_cut(false);
    }

    fn echoes_are_cut(with_proxy: bool) {
        let config = echoing_config(with_proxy);
        let forms = echoed_forms(with_proxy);
        let all = forms.join(" ");
        let now = Instant::now();
        let body = serde_json::json!({
            "Code": "Forbidden.RAM", "Message": all, "RequestId": all, "HostId": all,
            "Recommend": all, "AccessDeniedDetail": {"Echo": [all], all.clone(): 1},
        });
        let e = refused(
            &config,
            now,
            SystemTime::now(),
            answer(403, &body.to_string()),
        );
        let text = shown(&e);
        assert!(text.contains("***"), "{text}");
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{form} in {text}");
        }

        // An unreadable body: the snippet, even when cut inside a secret.
        for pad in 0..40 {
            let body = format!("<html>{}{TOKEN}{all}", "x".repeat(100 + pad));
            let e = refused(&config, now, SystemTime::now(), answer(502, &body));
            let ErrorKind::Parse(p) = e.kind() else {
                panic!("{e:?}")
            };
            let tail = p.snippet.trim_end_matches("***");
            for k in 4..=TOKEN.len() {
                assert!(!tail.ends_with(&TOKEN[..k]), "{pad}: {}", p.snippet);
            }
            let text = shown(&e);
            for form in &forms {
                assert!(!text.contains(form.as_str()), "{form} in {text}");
            }
        }

        // A redirect's Location, echoing the request's query, even when cut inside a secret.
        for pad in [0, 200, 220] {
            let to = format!(
                "https://portal.example/?{}{}&{all}",
                "x".repeat(pad),
                percent_encode(TOKEN)
            );
            let moved = http::Response::builder()
                .status(302)
                .header("location", to.replace(' ', "+"))
                .body(String::new())
                .unwrap();
            let e = refused(&config, now, SystemTime::now(), moved);
            let text = shown(&e);
            assert!(text.contains("redirect to"), "{text}");
            for form in &forms {
                assert!(!text.contains(form.as_str()), "{form} in {text}");
            }
            let ErrorKind::Parse(ParseError {
                kind: ParseErrorKind::Redirect(Some(to)),
                ..
            }) = e.kind()
            else {
                panic!("{e:?}")
            };
            let once = percent_encode(TOKEN);
            let tail = to.trim_end_matches("***");
            for k in 4..=once.len() {
                assert!(!tail.ends_with(&once[..k]), "{pad}: {to}");
            }
        }
    }

    /// A call whose attempts are answered `Throttling.User` with `header: value`, under a
    /// policy of `max_delay` and a base delay of 1 ms; what it does after the first.
    fn throttled_with(
        header: &str,
        value: &str,
        max_delay: Duration,
        now: Instant,
    ) -> Step<CallOutput, Fetch> {
        let config = config(ClientBuilder::default().retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay,
            ..RetryPolicy::new(3)
        }));
        let mut call = begin(&config, [6; 32], now, SystemTime::now());
        let _ = sent(&mut call, now);
        let throttled = http::Response::builder()
            .status(400)
            .header(header, value)
            .body(r#"{"Code":"Throttling.User","Message":"slow down"}"#)
            .unwrap();
        call.receive(now, Ok(throttled));
        call.next(now)
    }

    #[test]
    fn a_retry_hint_within_the_cap_is_waited_for_exactly() {
        let now = Instant::now();
        let cap = Duration::from_secs(1);
        let wait = throttled_with("x-acs-retry-after", "800", cap, now);
        assert!(
            matches!(wait, Step::Wait(u) if u == now + Duration::from_millis(800)),
            "{wait:?}"
        );
        let wait = throttled_with("x-acs-retry-after", "1000", cap, now);
        assert!(matches!(wait, Step::Wait(u) if u == now + cap), "{wait:?}");
        // The standard header, in seconds.
        let wait = throttled_with("retry-after", "2", Duration::from_secs(20), now);
        assert!(
            matches!(wait, Step::Wait(u) if u == now + Duration::from_secs(2)),
            "{wait:?}"
        );
    }

    #[test]
    fn a_retry_hint_past_the_cap_ends_the_call_at_once() {
        let now = Instant::now();
        let cap = Duration::from_secs(1);
        for (header, value) in [
            ("x-acs-retry-after", "1001"),
            ("x-acs-retry-after", "3600000"),
            ("x-acs-retry-after", "18446744073709551615"),
            ("retry-after", "3600"),
        ] {
            let Step::Done(Err(e)) = throttled_with(header, value, cap, now) else {
                panic!("{header}: {value}: the call must end at once")
            };
            assert_eq!(e.code(), Some(&ErrorCode::ThrottlingUser));
            assert_eq!(e.attempts(), 1);
            let text = e.to_string();
            assert!(
                text.contains("no retry: the service asked to wait")
                    && text.contains("longest delay of 1s"),
                "{text}"
            );
        }
    }

    /// An `InvalidTimeStamp.Expired` answer dated `date`.
    fn expired_at(date: &str) -> http::Response<String> {
        http::Response::builder()
            .status(400)
            .header("date", date)
            .body(r#"{"Code":"InvalidTimeStamp.Expired","Message":"expired"}"#.to_owned())
            .unwrap()
    }

    /// The `Timestamp` a request was signed with.
    fn timestamp_of(request: &http::Request<Vec<u8>>) -> String {
        let query = request.uri().query().unwrap();
        let value = query
            .split('&')
            .find_map(|p| p.strip_prefix("Timestamp="))
            .unwrap();
        value.replace("%3A", ":")
    }

    #[test]
    fn an_absurd_date_is_ignored_and_a_later_sane_one_corrects() {
        let config = config(ClientBuilder::default().retry_policy(RetryPolicy::new(2)));
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = Instant::now();
        let far = wall + MAX_CLOCK_SKEW + Duration::from_secs(1);
        for date in [
            "Fri, 31 Dec 9999 23:59:59 GMT".to_owned(),
            "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
            httpdate::fmt_http_date(far),
        ] {
            let e = refused(&config, now, wall, expired_at(&date));
            assert_eq!(e.code(), Some(&ErrorCode::InvalidTimeStampExpired));
            assert_eq!(e.attempts(), 1, "{date}");
            assert_eq!(config.state.clock_offset(), 0, "{date}");
        }
        // The next request is still signed with this machine's time...
        let mut call = begin(&config, [5; 32], now, wall);
        assert_eq!(timestamp_of(&sent(&mut call, now)), "2023-11-14T22:13:20Z");
        // ...and a refusal with a Date at the edge of the window corrects the clock.
        let edge = wall + MAX_CLOCK_SKEW;
        call.receive(now, Ok(expired_at(&httpdate::fmt_http_date(edge))));
        assert_eq!(timestamp_of(&sent(&mut call, now)), "2023-11-17T22:13:20Z");
        assert_eq!(config.state.clock_offset(), 3 * 24 * 3600);
        // An absurd Date later on does not undo it; a sane one moves it again.
        let mut call = begin(&config, [7; 32], now, wall);
        let _ = sent(&mut call, now);
        call.receive(now, Ok(expired_at("Fri, 31 Dec 9999 23:59:59 GMT")));
        assert!(matches!(call.next(now), Step::Done(Err(_))));
        assert_eq!(config.state.clock_offset(), 3 * 24 * 3600);
        let mut call = begin(&config, [8; 32], now, wall);
        let _ = sent(&mut call, now);
        call.receive(
            now,
            Ok(expired_at(&httpdate::fmt_http_date(
                wall - Duration::from_secs(60),
            ))),
        );
        assert_eq!(timestamp_of(&sent(&mut call, now)), "2023-11-14T22:12:20Z");
        assert_eq!(config.state.clock_offset(), -60);
    }

    #[test]
    fn the_token_sent_is_the_options_then_the_inputs_then_a_drawn_one() {
        for version in [SignatureVersion::V1, SignatureVersion::V3] {
            tokens_sent_with(version);
        }
    }

    fn tokens_sent_with(version: SignatureVersion) {
        let config = config(ClientBuilder::default().signature_version(version));
        let now = Instant::now();
        let input = DeleteCustomImage::new("cn-hangzhou", "m-1")
            .unwrap()
            .with_client_token("from-input")
            .unwrap();
        let options = || CallOptions::new().client_token(ClientToken::new("from-options").unwrap());
        let sent_token = |input: &DeleteCustomImage, options: CallOptions| {
            let readings = Readings::new([5; 32], now, SystemTime::now());
            let mut call = Call::new(&config, input, options, readings);
            let request = sent(&mut call, now);
            let query = request.uri().query().unwrap().to_owned();
            let token = query
                .split('&')
                .find_map(|p| p.strip_prefix("ClientToken="));
            assert_eq!(token, Some(call.client_token().as_str()));
            call.client_token().as_str().to_owned()
        };
        assert_eq!(sent_token(&input, options()), "from-options");
        assert_eq!(sent_token(&input, CallOptions::new()), "from-input");
        let bare = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let drawn = sent_token(&bare, CallOptions::new());
        assert_eq!((drawn.len(), &drawn[14..15]), (36, "4"), "{drawn}");
        // The input is left as it was.
        assert_eq!(input.client_token().unwrap().as_str(), "from-input");
        assert_eq!(bare.client_token(), None);
    }

    #[test]
    fn call_options_set_the_deadline_and_the_token() {
        let config = config(ClientBuilder::default().deadline(Duration::from_secs(60)));
        let now = Instant::now();
        let token = ClientToken::new("order-4711").unwrap();
        let options = CallOptions::new()
            .deadline(Duration::from_millis(250))
            .client_token(token.clone());
        let input = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let readings = Readings::new([1; 32], now, SystemTime::now());
        let mut call = Call::new(&config, &input, options, readings);
        let Step::Send(out) = call.next(now) else {
            panic!()
        };
        assert_eq!(out.deadline, Some(now + Duration::from_millis(250)));
        assert!(out
            .request
            .uri()
            .query()
            .unwrap()
            .contains("ClientToken=order-4711"));
        let e = read_timeout_past_the_deadline(&mut call, now + Duration::from_millis(300), 250);
        assert_eq!(e.client_token(), Some(&token));
        assert!(e.outcome_unknown() && e.is_retryable());
        // No options: the client's deadline.
        let mut call = begin(&config, [1; 32], now, SystemTime::now());
        let Step::Send(out) = call.next(now) else {
            panic!()
        };
        assert_eq!(out.deadline, Some(now + Duration::from_secs(60)));
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
        let Step::Wait(until) = busy(&mut call, now) else {
            panic!("the first retry is paid for")
        };
        let _ = sent(&mut call, until);
        let Step::Done(Err(e)) = busy(&mut call, until) else {
            panic!("the second is not")
        };
        assert!(e.retry_budget_exhausted());
        assert_eq!(e.attempts(), 2);
        // A success puts a token back, but one is not a retry's worth.
        let mut ok = begin(&config, [8; 32], now, SystemTime::now());
        let _ = sent(&mut ok, now);
        ok.receive(now, Ok(answer(200, r#"{"RequestId":"R"}"#)));
        assert!(matches!(ok.next(now), Step::Done(Ok(_))));
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
                Step::Send(_) => call.receive(now, Ok(answer(400, throttled))),
                Step::Wait(until) => {
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
        fn provide(&self) -> Result<(Credentials, Option<SystemTime>), crate::transport::BoxError> {
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
        let readings = Readings::new([4; 32], now, SystemTime::now());
        let mut call = Call::new(config, &M1, CallOptions::new(), readings);
        let mut fetches = 0;
        loop {
            match call.next(now) {
                Step::Send(out) => {
                    let query = out.request.uri().query().unwrap().to_owned();
                    let id = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("AccessKeyId="))
                        .unwrap()
                        .to_owned();
                    return (call, id, fetches);
                }
                Step::Detach(mut fetch) => {
                    fetches += 1;
                    assert!(matches!(fetch.next(now), Step::Done(())));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Answers `call`'s attempt in flight with `status` and `body`, and ends it.
    fn answered(mut call: Call<'_>, now: Instant, status: u16, body: &str) {
        call.receive(now, Ok(answer(status, body)));
        assert!(matches!(call.next(now), Step::Done(_)));
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
                Step::Wait(until) => at = until,
                Step::Detach(mut fetch) => {
                    assert!(matches!(fetch.next(at), Step::Done(())))
                }
                Step::Send(out) => break out.request,
                Step::Done(r) => panic!("{r:?}"),
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
