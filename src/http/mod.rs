//! The one HTTP transport every vendor uses: timeouts, a body cap enforced while reading,
//! retries that are safe, `Retry-After`, tracing, and SOAP helpers ([`soap`]).
//!
//! Retry rules (object_store's `client/retry.rs` and the AWS SDK standard mode were the models):
//!
//! - 5xx, 408 and 429 answers and connection failures are retried with jittered exponential
//!   backoff (`initial_backoff * 2^n`, capped at `max_backoff`, half of it random), up to
//!   `max_attempts` requests and within the overall `deadline`.
//! - `Retry-After` (seconds or an HTTP date) is honoured up to `max_retry_after`; a longer wait
//!   fails at once with [`Error::RateLimited`].
//! - A request not marked [`idempotent`](Request::idempotent) is retried only when it certainly
//!   did not reach the vendor: the connection was refused, or the vendor answered 429. After a
//!   timeout, a reset or a 5xx it fails, and the caller decides (Alarm.com's provisioning looks
//!   the customer up before creating again).
//! - An answer outside 2xx that a request's [`accept`](Request::accept) hook recognises (for
//!   SOAP services, [`soap::accept_fault`]: a fault answered with HTTP 500) is the vendor's
//!   definitive answer and is returned to the caller, not retried.
//!
//! # Rate limit
//!
//! [`TransportOptions::rate_limit`] (a [`RateLimit`], usually set through
//! [`ProviderOptions::rate_limit`](crate::provider::ProviderOptions::rate_limit)) paces the
//! requests this transport sends: it counts **HTTP requests**, every attempt of a call (a retry
//! included) taking one permit before it is sent. A `RateLimit` is a handle: every clone counts
//! against the same allowance, so every call of a provider — and of every provider built with a
//! clone — shares it. Waiting for a permit counts toward the call's
//! [`deadline`](RetryPolicy::deadline) but not toward an attempt's timeout; it never changes
//! which requests are retried.

pub mod soap;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::{Clock, FakeRelativeClock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tracing::Instrument;
use url::Url;

use crate::error::{Error, Result};

/// How to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most requests per call, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// Longest time for a whole call, retries included.
    pub deadline: Duration,
    /// Longest `Retry-After` the crate waits; a longer one fails with [`Error::RateLimited`].
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retry at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let exp = 2u32.saturating_pow(retry.saturating_sub(1).min(20));
        let base = self
            .initial_backoff
            .saturating_mul(exp)
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Transport settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one request, answer included.
    pub attempt_timeout: Duration,
    /// Largest body read (default 8 MiB); a larger one is an [`Error::InvalidResponse`] and is
    /// not read further.
    pub max_body_bytes: usize,
    /// Retries.
    pub retry: RetryPolicy,
    /// The `User-Agent` sent.
    pub user_agent: String,
    /// An HTTP(S) proxy for every request (`http://proxy.internal:3128`); `None` uses the
    /// environment's (`HTTPS_PROXY`, ...), as reqwest does.
    pub proxy: Option<Url>,
    /// Extra root certificates (PEM) to trust besides the built-in ones, for a vendor test host
    /// or a TLS-inspecting proxy.
    pub root_certificates_pem: Vec<Vec<u8>>,
    /// Most requests per second, shared by every holder of a clone of the [`RateLimit`]
    /// (see the [module docs](self#rate-limit)); `None` (the default) sends at once.
    pub rate_limit: Option<RateLimit>,
}

/// Default body cap: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            user_agent: concat!("interactive-services/", env!("CARGO_PKG_VERSION")).to_owned(),
            proxy: None,
            root_certificates_pem: Vec::new(),
            rate_limit: None,
        }
    }
}

/// A request rate: at most `n` requests per second, shared by every clone of the handle.
///
/// It is a [GCRA](https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm) limiter (the
/// [`governor`](https://docs.rs/governor) crate's) that allows a burst of `n` requests and then
/// one every `1/n` second: over any window of `t` seconds, at most `n + n·t` requests start.
/// Waiters are served first come, first served, one at a time, so a thousand waiting calls
/// cost one timer, not a thousand.
///
/// Where it counts:
///
/// - in a provider's transport ([`ProviderOptions::rate_limit`](crate::provider::ProviderOptions::rate_limit),
///   [`TransportOptions::rate_limit`]): every HTTP request, retries included;
/// - in a bulk run ([`Bulk::rate_limit`](crate::bulk::Bulk::rate_limit)): every operation the
///   run starts (one per item, however many requests the operation needs).
///
/// Give the same handle (a clone) to everything that counts against one vendor allowance.
///
/// ```
/// use std::num::NonZeroU32;
/// use interactive_services::http::RateLimit;
/// use interactive_services::provider::ProviderOptions;
///
/// let ten = NonZeroU32::new(10).expect("not zero");
/// let limit = RateLimit::per_second(ten);
/// // Every provider built with these options shares the ten requests per second.
/// let options = ProviderOptions::new().rate_limit(limit.clone());
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct RateLimit {
    inner: Arc<LimitInner>,
}

struct LimitInner {
    per_second: NonZeroU32,
    limiter: Limiter,
    /// Waiters take turns: only the one holding it watches the limiter.
    turn: tokio::sync::Mutex<()>,
}

type Gcra<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

enum Limiter {
    Real(Gcra<MonotonicClock>, MonotonicClock),
    Manual(Gcra<FakeRelativeClock>, ManualClock),
}

impl Limiter {
    /// `Ok` when a request may go now, else how long until one may (by the limiter's clock).
    fn check(&self) -> std::result::Result<(), Duration> {
        match self {
            Limiter::Real(gcra, clock) => gcra
                .check()
                .map_err(|not_until| not_until.wait_time_from(clock.now())),
            Limiter::Manual(gcra, clock) => gcra
                .check()
                .map_err(|not_until| not_until.wait_time_from(clock.clock.now())),
        }
    }
}

/// The clock of a [`RateLimit::with_manual_clock`]: time moves only when [`advance`](Self::advance)d,
/// so tests can count what a limit lets through without timing anything.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    clock: FakeRelativeClock,
    advanced: Arc<tokio::sync::Notify>,
}

impl ManualClock {
    /// Moves the clock on by `by`, waking the waiters of its limits.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.advanced.notify_waiters();
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        self.clock.now().into()
    }
}

impl RateLimit {
    /// At most `requests` per second (a burst of `requests`, then one every `1/requests` s).
    pub fn per_second(requests: NonZeroU32) -> Self {
        let clock = MonotonicClock;
        let gcra = RateLimiter::direct_with_clock(Quota::per_second(requests), clock.clone());
        Self::from_limiter(requests, Limiter::Real(gcra, clock))
    }

    /// At most `requests` per second by a [`ManualClock`] that stands still until advanced: the
    /// first `requests` go at once, then `k·requests` more after the clock is advanced by `k`
    /// seconds. For tests.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use interactive_services::http::RateLimit;
    ///
    /// let (limit, clock) = RateLimit::with_manual_clock(NonZeroU32::new(2).expect("not zero"));
    /// assert!(limit.try_acquire() && limit.try_acquire());
    /// assert!(!limit.try_acquire(), "two per second");
    /// clock.advance(Duration::from_secs(1));
    /// assert!(limit.try_acquire() && limit.try_acquire() && !limit.try_acquire());
    /// ```
    pub fn with_manual_clock(requests: NonZeroU32) -> (Self, ManualClock) {
        let clock = ManualClock::default();
        let gcra = RateLimiter::direct_with_clock(Quota::per_second(requests), clock.clock.clone());
        (
            Self::from_limiter(requests, Limiter::Manual(gcra, clock.clone())),
            clock,
        )
    }

    fn from_limiter(per_second: NonZeroU32, limiter: Limiter) -> Self {
        Self {
            inner: Arc::new(LimitInner {
                per_second,
                limiter,
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The allowance: requests per second.
    pub fn requests_per_second(&self) -> NonZeroU32 {
        self.inner.per_second
    }

    /// Takes a permit if one is free now, without waiting (nor queueing behind waiters: it may
    /// overtake them).
    pub fn try_acquire(&self) -> bool {
        self.inner.limiter.check().is_ok()
    }

    /// Waits for a permit, behind the callers already waiting. Dropping the future gives up
    /// its place in the queue.
    pub async fn acquire(&self) {
        let _turn = self.inner.turn.lock().await;
        self.wait_for_permit(None).await;
    }

    /// Waits for a permit for at most `budget`; `false` when none would come in time (nothing
    /// is then taken).
    pub(crate) async fn acquire_within(&self, budget: Duration) -> bool {
        let deadline = tokio::time::Instant::now()
            .checked_add(budget)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        let Ok(_turn) = tokio::time::timeout_at(deadline, self.inner.turn.lock()).await else {
            return false;
        };
        self.wait_for_permit(Some(deadline)).await
    }

    /// With the turn held: waits until the limiter lets one request go (`false` when that would
    /// be after `deadline`).
    async fn wait_for_permit(&self, deadline: Option<tokio::time::Instant>) -> bool {
        loop {
            let advanced = match &self.inner.limiter {
                Limiter::Manual(_, clock) => Some(clock.advanced.notified()),
                Limiter::Real(..) => None,
            };
            let mut advanced = std::pin::pin!(advanced);
            if let Some(n) = advanced.as_mut().as_pin_mut() {
                // Registered before checking, so an advance in between is not missed.
                n.enable();
            }
            let wait = match self.inner.limiter.check() {
                Ok(()) => return true,
                Err(wait) => wait,
            };
            match advanced.as_mut().as_pin_mut() {
                // Manual time: only an advance can free a permit.
                Some(n) => match deadline {
                    Some(d) => {
                        if tokio::time::timeout_at(d, n).await.is_err() {
                            return false;
                        }
                    }
                    None => n.await,
                },
                None => {
                    let until = tokio::time::Instant::now() + wait;
                    if deadline.is_some_and(|d| until > d) {
                        return false;
                    }
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_second", &self.inner.per_second)
            .field(
                "clock",
                &match self.inner.limiter {
                    Limiter::Real(..) => "monotonic",
                    Limiter::Manual(..) => "manual",
                },
            )
            .finish()
    }
}

/// Two handles are equal when they share one allowance (one is a clone of the other).
impl PartialEq for RateLimit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for RateLimit {}

/// One request. Its `Debug` shows header names (credential headers as `[REDACTED]`) and the
/// body's length only: SOAP bodies carry credentials.
#[derive(Clone)]
pub struct Request {
    /// The operation's name, for errors and tracing.
    pub operation: &'static str,
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Headers; `Authorization` and other credential headers are marked sensitive on sending.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// Whether repeating the request is harmless, so that it may be retried after it may have
    /// reached the vendor.
    pub idempotent: bool,
    /// Recognises an answer outside 2xx that is still the vendor's definitive answer, to be
    /// returned rather than turned into an error (SOAP: [`soap::accept_fault`]).
    pub accept: Option<fn(StatusCode, &[u8]) -> bool>,
}

impl Request {
    /// A request with no headers and an empty body, not idempotent.
    pub fn new(operation: &'static str, method: Method, url: Url) -> Self {
        Self {
            operation,
            method,
            url,
            headers: HeaderMap::new(),
            body: Vec::new(),
            idempotent: false,
            accept: None,
        }
    }
}

/// An answer. Its `Debug` shows the body's length only: answers can carry one-time passwords.
#[derive(Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most the configured cap.
    pub body: Vec<u8>,
    /// How many requests it took.
    pub attempts: u32,
}

fn headers_debug(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = if SENSITIVE.contains(&name.as_str()) || value.is_sensitive() {
                "[REDACTED]".to_owned()
            } else {
                value.to_str().unwrap_or("[not text]").to_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect()
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers_debug(&self.headers))
            .field("body_bytes", &self.body.len())
            .field("idempotent", &self.idempotent)
            .field("accept", &self.accept.is_some())
            .finish()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &headers_debug(&self.headers))
            .field("body_bytes", &self.body.len())
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// The HTTP transport of one provider.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    options: TransportOptions,
    provider: String,
    secrets: Vec<secrecy::SecretString>,
}

enum Attempt {
    Done(Response),
    /// Try again after the wait (or fail with the error when no attempt is left).
    Retry(Error, Option<Duration>),
    Fail(Error),
}

const SENSITIVE: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

impl Transport {
    /// A transport for `provider` (the name used in errors and tracing), with its own HTTP
    /// client built from `options` (timeouts, user agent, proxy, extra root certificates; no
    /// redirects are followed).
    pub fn new(provider: impl Into<String>, options: TransportOptions) -> Result<Self> {
        let provider = provider.into();
        let fail = |operation: &'static str, e: reqwest::Error| {
            Error::transport(provider.clone(), operation, 0, e.without_url())
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = &options.proxy {
            builder = builder.proxy(
                reqwest::Proxy::all(proxy.as_str())
                    .map_err(|e| fail("build transport (proxy)", e))?,
            );
        }
        for pem in &options.root_certificates_pem {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(pem)
                    .map_err(|e| fail("build transport (root certificate)", e))?,
            );
        }
        let client = builder.build().map_err(|e| fail("build transport", e))?;
        Ok(Self::with_client(provider, options, client))
    }

    /// A transport that sends through the host's own `client` (its proxy, certificates, pool
    /// and timeouts apply; `options` still give the attempt timeout, body cap and retries).
    pub fn with_client(
        provider: impl Into<String>,
        options: TransportOptions,
        client: reqwest::Client,
    ) -> Self {
        Self {
            client,
            options,
            provider: provider.into(),
            secrets: Vec::new(),
        }
    }

    /// The provider's secret values (passwords, tokens): any error this transport returns, and
    /// any error passed to [`redact`](Self::redact), has them replaced by `[REDACTED]` wherever
    /// a vendor or proxy echoed them.
    pub fn with_secrets(
        mut self,
        secrets: impl IntoIterator<Item = secrecy::SecretString>,
    ) -> Self {
        self.secrets.extend(secrets);
        self
    }

    /// `error` with the provider's secrets scrubbed from its texts ([`Error::redact`]).
    pub fn redact(&self, error: Error) -> Error {
        use secrecy::ExposeSecret;
        let secrets: Vec<&str> = self.secrets.iter().map(|s| s.expose_secret()).collect();
        error.redact(&secrets)
    }

    /// The provider name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The settings.
    pub fn options(&self) -> &TransportOptions {
        &self.options
    }

    /// Sends `request` with the retry rules of the [module docs](self). Returns 2xx answers (and
    /// the answers its [`accept`](Request::accept) hook recognises); every other outcome is a
    /// typed error whose `vendor_operation` is the request's operation.
    pub async fn send(&self, request: Request) -> Result<Response> {
        let operation = request.operation;
        self.send_inner(request)
            .await
            .map_err(|e| self.redact(e.in_vendor_call(operation)))
    }

    async fn send_inner(&self, mut request: Request) -> Result<Response> {
        for (name, value) in request.headers.iter_mut() {
            if SENSITIVE.contains(&name.as_str()) {
                value.set_sensitive(true);
            }
        }
        // Shared, not copied, by every attempt.
        let body = bytes::Bytes::from(std::mem::take(&mut request.body));
        let started = Instant::now();
        let policy = &self.options.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(limit) = &self.options.rate_limit {
                let waited =
                    limit.acquire_within(policy.deadline.saturating_sub(started.elapsed()));
                if !waited.await {
                    return Err(self.timeout(&request, attempt - 1, started));
                }
            }
            let remaining = policy.deadline.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Err(self.timeout(&request, attempt - 1, started));
            }
            let span = tracing::info_span!(
                "isp_call",
                provider = %self.provider,
                operation = request.operation,
                attempt,
                elapsed_ms = tracing::field::Empty,
                outcome = tracing::field::Empty,
            );
            let outcome = self
                .attempt(
                    &request,
                    &body,
                    attempt,
                    remaining.min(self.options.attempt_timeout),
                    started,
                )
                .instrument(span.clone())
                .await;
            span.record("elapsed_ms", started.elapsed().as_millis() as u64);
            match outcome {
                Attempt::Done(mut response) => {
                    span.record("outcome", "ok");
                    response.attempts = attempt;
                    return Ok(response);
                }
                Attempt::Fail(e) => {
                    span.record("outcome", "error");
                    return Err(e);
                }
                Attempt::Retry(e, retry_after) => {
                    if attempt >= max_attempts {
                        span.record("outcome", "error");
                        return Err(e);
                    }
                    let wait = retry_after.unwrap_or_else(|| policy.backoff(attempt));
                    if started.elapsed().saturating_add(wait) >= policy.deadline {
                        span.record("outcome", "error");
                        return Err(e);
                    }
                    span.record("outcome", "retry");
                    tracing::debug!(
                        provider = %self.provider,
                        operation = request.operation,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn timeout(&self, request: &Request, attempts: u32, started: Instant) -> Error {
        Error::timeout(
            self.provider.clone(),
            request.operation,
            attempts,
            started.elapsed(),
        )
    }

    async fn attempt(
        &self,
        request: &Request,
        body: &bytes::Bytes,
        attempt: u32,
        timeout: Duration,
        started: Instant,
    ) -> Attempt {
        let sent = self
            .client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return self.send_failed(request, attempt, started, e),
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = match self.read_body(request, attempt, started, response).await {
            Ok(body) => body,
            Err(outcome) => return outcome,
        };
        let response = Response {
            status,
            headers,
            body,
            attempts: attempt,
        };
        self.judge(request, attempt, response)
    }

    fn send_failed(
        &self,
        request: &Request,
        attempt: u32,
        started: Instant,
        e: reqwest::Error,
    ) -> Attempt {
        // A refused connection never reached the vendor: always safe to try again.
        let never_sent = e.is_connect() && !e.is_timeout();
        let error = if e.is_timeout() {
            self.timeout(request, attempt, started)
        } else {
            Error::transport(
                self.provider.clone(),
                request.operation,
                attempt,
                e.without_url(),
            )
        };
        if never_sent || request.idempotent {
            Attempt::Retry(error, None)
        } else {
            Attempt::Fail(error)
        }
    }

    async fn read_body(
        &self,
        request: &Request,
        attempt: u32,
        started: Instant,
        mut response: reqwest::Response,
    ) -> std::result::Result<Vec<u8>, Attempt> {
        let cap = self.options.max_body_bytes;
        let too_large = |n: String| {
            Attempt::Fail(Error::invalid_response(
                self.provider.clone(),
                request.operation,
                format!("the body is larger than the {cap}-byte cap ({n}); it was not read"),
            ))
        };
        let announced = response.content_length();
        if let Some(len) = announced {
            if len > cap as u64 {
                return Err(too_large(format!("{len} bytes announced")));
            }
        }
        // Sized once from the announced length (within the cap), not grown chunk by chunk.
        let mut body = Vec::with_capacity(
            announced.map_or(0, |len| usize::try_from(len).unwrap_or(0).min(cap)),
        );
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        return Err(too_large("more arrived".into()));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    let error = if e.is_timeout() {
                        self.timeout(request, attempt, started)
                    } else {
                        Error::invalid_response(
                            self.provider.clone(),
                            request.operation,
                            format!(
                                "the body was cut off after {} bytes (HTTP {})",
                                body.len(),
                                response.status().as_u16()
                            ),
                        )
                    };
                    return Err(if request.idempotent {
                        Attempt::Retry(error, None)
                    } else {
                        Attempt::Fail(error)
                    });
                }
            }
        }
    }

    fn judge(&self, request: &Request, attempt: u32, response: Response) -> Attempt {
        let status = response.status;
        if status.is_success() {
            return Attempt::Done(response);
        }
        if request
            .accept
            .is_some_and(|accept| accept(status, &response.body))
        {
            return Attempt::Done(response);
        }
        let provider = self.provider.clone();
        let operation = request.operation;
        let retry_after = retry_after(&response.headers);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let error = Error::rate_limited(provider, operation, retry_after);
            return match retry_after {
                Some(wait) if wait > self.options.retry.max_retry_after => Attempt::Fail(error),
                // A 429 means the vendor did not act on the request: safe to repeat.
                _ => Attempt::Retry(error, retry_after),
            };
        }
        let detail = describe_body(status, &response.body);
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            // An outage page from a proxy is an outage like a bare 5xx: retryable.
            let error = Error::unavailable(provider, operation, attempt, detail);
            if let Some(wait) = retry_after {
                if wait > self.options.retry.max_retry_after {
                    return Attempt::Fail(error);
                }
            }
            return if request.idempotent {
                Attempt::Retry(error, retry_after)
            } else {
                Attempt::Fail(error)
            };
        }
        Attempt::Fail(match status {
            StatusCode::UNAUTHORIZED => Error::unauthenticated(provider, operation, detail),
            StatusCode::FORBIDDEN => {
                Error::permission_denied(provider, operation, "(not named by the vendor)", detail)
            }
            StatusCode::NOT_FOUND => Error::not_found(provider, operation, detail),
            StatusCode::CONFLICT => Error::conflict(provider, operation, detail),
            // Any other 4xx: the vendor refused the request as it was sent.
            s if s.is_client_error() => Error::rejected(
                provider,
                operation,
                Some(status.as_u16().to_string()),
                detail,
            ),
            _ => Error::vendor(
                provider,
                operation,
                Some(status.as_u16().to_string()),
                detail,
            ),
        })
    }
}

/// Parses `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Whether a body is an HTML page (an outage or proxy error page) rather than data.
pub fn looks_like_html(body: &[u8]) -> bool {
    let mut start = [0u8; 14];
    let mut len = 0;
    let bytes = body
        .iter()
        .copied()
        .skip_while(|b| b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF);
    for (slot, b) in start.iter_mut().zip(bytes) {
        *slot = b.to_ascii_lowercase();
        len += 1;
    }
    let start = start.get(..len).unwrap_or_default();
    start.starts_with(b"<!doctype html") || start.starts_with(b"<html")
}

/// A short, safe description of an error answer: status, and the title of an HTML page or the
/// first characters of a text body.
pub fn describe_body(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    if looks_like_html(body) {
        let lower = text.to_ascii_lowercase();
        let title = lower
            .find("<title>")
            .and_then(|s| {
                let from = s + "<title>".len();
                lower
                    .get(from..)?
                    .find("</title>")
                    .and_then(|e| text.get(from..from + e).map(|t| t.trim().to_owned()))
            })
            .filter(|t| !t.is_empty());
        return match title {
            Some(t) => {
                format!("HTTP {status}: an HTML page titled \"{t}\" instead of the expected answer")
            }
            None => format!("HTTP {status}: an HTML page instead of the expected answer"),
        };
    }
    let snippet: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if snippet.trim().is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {}", snippet.trim())
    }
}

/// A header value from a string that is not secret; invalid characters are an
/// [`Error::InvalidRequest`].
pub fn header_value(provider: &str, operation: &'static str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_request(
            provider.to_owned(),
            operation,
            "a header value contains characters HTTP does not allow",
        )
    })
}

/// Header name helper for static names.
pub fn header_name(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}
