//! The simulator core every vendor simulator is built on: one loopback
//! [`MockServer`] behind a small loopback front, the vendor's state, the fault knobs
//! ([`FaultRule`]), latency, the call log, and the one place where a fault knob is carried out.
//!
//! A vendor simulator supplies only what is its own through the [`Wire`] trait:
//!
//! 1. [`Wire::route`]: the HTTP checks (path, method, headers, authentication) and the parsing
//!    of one request into a call of one of the vendor's operations, or an immediate answer for a
//!    request the vendor refuses before any operation (a 404 page, a SOAP fault for an unknown
//!    action, a bad login). Only a routed call is logged and counted, and only a routed call can
//!    be caught by a fault knob.
//! 2. [`Wire::refusal`] (optional): a refusal that comes after the call was counted but before
//!    the operation runs, such as an expired session. Fault knobs do not apply to it.
//! 3. [`Wire::handle`]: the operation against the state, and its answer.
//! 4. [`Wire::fault`], [`Wire::result_code`] and [`Wire::truncated`]: how this vendor writes
//!    [`FaultKind::Fault`], [`FaultKind::ResultCode`] and [`FaultKind::Truncated`] for this call.
//!
//! The core carries out every other [`FaultKind`] the same way for every vendor (a bare status,
//! 429 with `Retry-After`, an HTML outage page, a dropped connection, applying then dropping,
//! a delay).
//!
//! # Real network faults
//!
//! A cut-off body and a dropped connection are real: [`Simulator::uri`] is a loopback front
//! that passes every request on to the wiremock server and its answer back, except that for
//! [`FaultKind::Truncated`] it sends the headers (announcing the whole body) and half the body
//! and then closes the connection, and for [`FaultKind::DropConnection`],
//! [`FaultKind::ApplyThenDrop`] and [`FaultKind::CommitLate`] it closes the connection without
//! an answer. The client sees this at once and the same way in debug and release builds
//! (wiremock alone cannot send a body shorter than its `content-length`: hyper panics on it in
//! debug builds and the client waits for its timeout in release builds). Mocks mounted on
//! [`Simulator::server`] are reached through the front too.
//!
//! # Latency
//!
//! [`Simulator::set_latency`] delays every answer the vendor's application gives: an
//! operation's answer, a [`Wire::refusal`], and the vendor errors of
//! [`FaultKind::Fault`] and [`FaultKind::ResultCode`]. Answers that stand for the network or a
//! proxy (a fault knob's bare status, 429, HTML page, cut-off body or dropped connection) and
//! refusals from [`Wire::route`] come at once.
//!
//! The latency counts from the moment the request arrived at the simulator, as a vendor's
//! does: an answer with 20 ms of latency leaves 20 ms after its request came in, and the
//! simulator's own work (parsing, the operation, writing the answer) happens within those
//! 20 ms instead of adding to them (only work that takes longer than the latency makes an
//! answer later). So many requests arriving together are not answered in a queue behind each
//! other's work, and a bulk run against a simulator measures the client, not the simulator.
//! [`FaultKind::Delay`] adds to the latency the same way; [`FaultKind::CommitLate`] closes the
//! connection its delay after the request arrived. The front carries this out (tokio's timer:
//! to the millisecond, never early).
//!
//! # Call log and long runs
//!
//! The call log is bounded: [`Simulator::calls`] keeps the last
//! [`SimOptions::call_log_capacity`] calls (10,000 by default) in a ring buffer, while
//! [`Simulator::call_count`] and [`Simulator::call_total`] count every call ever received, exactly,
//! in a fixed amount of memory (one counter per operation).
//!
//! By default the wiremock server behind the front also records every request (its whole body)
//! for [`MockServer::received_requests`], and wiremock keeps a second copy of each request in the
//! mock that answers it — what tests that inspect the wire need, and what makes a simulator grow
//! by a few kilobytes per request. A long load run (a bulk provisioning of thousands of
//! customers) starts its simulators with [`SimOptions::for_load`] instead: no request
//! recording, and the simulator answers from two wiremock servers in turn, resetting each one
//! (which frees what wiremock kept) once it has answered [`RECYCLE_EVERY`] requests and the
//! requests in flight on it have finished — without pausing the other. Its memory then stays
//! flat however many requests it answers. [`SimOptions::scope`] applies options to the
//! simulators started inside a future, so a vendor simulator's own `start()` takes them too:
//!
//! ```no_run
//! use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
//! use interactive_services::testkit::sim::SimOptions;
//!
//! # async fn demo() {
//! let sim = SimOptions::for_load().scope(AlarmComSimulator::start()).await;
//! # let _ = sim;
//! # }
//! ```
//!
//! # A minimal simulator
//!
//! ```no_run
//! use interactive_services::testkit::sim::{Routed, Simulator, Wire};
//! use wiremock::{Request, ResponseTemplate};
//!
//! /// Counts visits; `POST /visit` is its only operation.
//! struct Visits;
//!
//! impl Wire for Visits {
//!     type State = u32;
//!     type Call = ();
//!     type Record = String;
//!
//!     fn route(&self, _: &mut u32, request: &Request) -> Routed<(), String> {
//!         if request.url.path() != "/visit" || request.method.as_str() != "POST" {
//!             return Routed::Answer(ResponseTemplate::new(404));
//!         }
//!         Routed::Call { record: "Visit".to_owned(), call: () }
//!     }
//!
//!     fn handle(&self, visits: &mut u32, _: ()) -> ResponseTemplate {
//!         *visits += 1;
//!         ResponseTemplate::new(200).set_body_string(visits.to_string())
//!     }
//!
//!     fn fault(&self, _: &(), text: &str) -> ResponseTemplate {
//!         ResponseTemplate::new(500).set_body_string(text)
//!     }
//!
//!     fn truncated(&self, _: &()) -> ResponseTemplate {
//!         interactive_services::testkit::faults::cut_off("1234")
//!     }
//! }
//!
//! # async fn demo() {
//! let sim = Simulator::start(Visits, 0).await;
//! // ... point a provider at sim.uri() ...
//! assert_eq!(sim.call_count("Visit"), sim.with_state(|v| *v as usize));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::testkit::faults::{self, FaultKind, FaultRule, drop_connection, html_page};

mod alarm;
pub(crate) mod front;

use front::{Front, Recycle, answer_after};

/// How many requests a wiremock server of a simulator without request recording answers before
/// it is reset (see the [module docs](self#call-log-and-long-runs)).
pub const RECYCLE_EVERY: usize = 1024;

/// How a [`Simulator`] is started: the call log's size and whether wiremock records requests.
/// See the [module docs](self#call-log-and-long-runs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimOptions {
    /// How many of the last calls [`Simulator::calls`] keeps (default 10,000). The counts of
    /// [`Simulator::call_count`] and [`Simulator::call_total`] are exact whatever it is.
    pub call_log_capacity: usize,
    /// Whether the wiremock server keeps every request for
    /// [`MockServer::received_requests`] (default `true`). Without it the simulator's memory
    /// stays flat over a long run, `received_requests` answers `None`, and mocks mounted on
    /// [`Simulator::server`] do not survive the periodic reset.
    pub record_requests: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            call_log_capacity: 10_000,
            record_requests: true,
        }
    }
}

tokio::task_local! {
    static SCOPED: SimOptions;
}

impl SimOptions {
    /// The defaults: a call log of 10,000 calls, requests recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// For long load runs: a call log of 1,000 calls, no request recording.
    pub fn for_load() -> Self {
        Self {
            call_log_capacity: 1_000,
            record_requests: false,
        }
    }

    /// How many of the last calls the log keeps.
    pub fn call_log_capacity(mut self, calls: usize) -> Self {
        self.call_log_capacity = calls;
        self
    }

    /// Whether wiremock records requests.
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record_requests = record;
        self
    }

    /// Runs `future` with these options for every [`Simulator::start`] inside it (a vendor
    /// simulator's `start()` included) — scoped to that future, so tests running in parallel
    /// are not affected.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        SCOPED.scope(self, future).await
    }

    /// The options of the enclosing [`scope`](Self::scope), or the defaults.
    pub fn current() -> Self {
        SCOPED.try_with(Clone::clone).unwrap_or_default()
    }
}

/// What the call log keeps of one call: at least the operation's name, which is what
/// [`FaultRule::on`] and [`Simulator::call_count`] match.
pub trait CallRecord: Clone + Send + 'static {
    /// The operation this call was for.
    fn operation(&self) -> &str;
}

impl CallRecord for String {
    fn operation(&self) -> &str {
        self
    }
}

/// What [`Wire::route`] made of a request.
#[derive(Debug)]
pub enum Routed<C, R> {
    /// A call of one of the vendor's operations: it is logged (`record`), may be caught by a
    /// fault knob for `record.operation()`, and is then carried out by [`Wire::handle`].
    Call {
        /// What the call log keeps.
        record: R,
        /// The parsed call, for [`Wire::handle`].
        call: C,
    },
    /// An answer given before any operation (a 404 page, a refusal of the request's form or
    /// login): not logged, not counted, not subject to fault knobs or latency.
    Answer(ResponseTemplate),
}

/// The vendor's half of a simulator: its wire format and its operations. See the
/// [module docs](self) for the order in which the core calls these.
///
/// Every method runs with the simulator's lock held: it must not block and must not call back
/// into the [`Simulator`]. Nothing that comes in a request may make it panic.
pub trait Wire: Send + Sync + 'static {
    /// The vendor's state: accounts, logins, sessions, counters.
    type State: Send + 'static;
    /// A routed, parsed call.
    type Call: Send + 'static;
    /// What the call log keeps of a call.
    type Record: CallRecord;

    /// Checks and parses one request (exactly as strictly as the vendor does): a call of one of
    /// its operations, or an immediate answer for a request refused before any operation.
    fn route(&self, state: &mut Self::State, request: &Request)
    -> Routed<Self::Call, Self::Record>;

    /// The answer to a call refused after it was logged but before the operation and before
    /// any fault knob (an unknown session, another company's session); `None` lets the call
    /// through. The default lets every call through.
    fn refusal(&self, state: &mut Self::State, call: &Self::Call) -> Option<ResponseTemplate> {
        let _ = (state, call);
        None
    }

    /// Carries the call out against the state and answers it.
    fn handle(&self, state: &mut Self::State, call: Self::Call) -> ResponseTemplate;

    /// The vendor's own error with this text, for this call, having done nothing
    /// ([`FaultKind::Fault`]): a SOAP fault, an error result code.
    fn fault(&self, call: &Self::Call, text: &str) -> ResponseTemplate;

    /// The vendor's result code `code`, for this call, having done nothing
    /// ([`FaultKind::ResultCode`]). The default, for vendors without result codes, is
    /// [`fault`](Self::fault) with the text `result code <code>`.
    fn result_code(&self, call: &Self::Call, code: i64) -> ResponseTemplate {
        self.fault(call, &format!("result code {code}"))
    }

    /// A successful-looking answer to this call cut off in the middle
    /// ([`FaultKind::Truncated`]); [`faults::cut_off`] (XML) or [`faults::cut_off_as`] makes
    /// one from the full body, which the simulator's front then cuts off.
    fn truncated(&self, call: &Self::Call) -> ResponseTemplate;
}

struct Inner<W: Wire> {
    state: W::State,
    rules: Vec<FaultRule>,
    latency: Duration,
    log: CallLog<W::Record>,
}

/// The last `capacity` calls, and exact counts of every call ever received.
struct CallLog<R> {
    last: VecDeque<R>,
    capacity: usize,
    per_operation: HashMap<String, u64>,
    total: u64,
}

impl<R: CallRecord> CallLog<R> {
    fn new(capacity: usize) -> Self {
        Self {
            last: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            per_operation: HashMap::new(),
            total: 0,
        }
    }

    fn push(&mut self, record: R) {
        self.total += 1;
        match self.per_operation.get_mut(record.operation()) {
            Some(n) => *n += 1,
            None => {
                self.per_operation.insert(record.operation().to_owned(), 1);
            }
        }
        if self.capacity == 0 {
            return;
        }
        if self.last.len() >= self.capacity {
            self.last.pop_front();
        }
        self.last.push_back(record);
    }

    fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.last.len() > capacity {
            self.last.pop_front();
        }
        self.last.shrink_to(capacity.min(1024).max(self.last.len()));
    }
}

fn saturating_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

struct Shared<W: Wire> {
    wire: W,
    inner: Mutex<Inner<W>>,
}

impl<W: Wire> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, Inner<W>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator: the vendor's [`Wire`], its state, fault knobs, latency and call log,
/// answering on a loopback [`MockServer`] behind a loopback front (see the
/// [module docs](self#real-network-faults)). Dropping it stops both.
pub struct Simulator<W: Wire> {
    front: Front,
    server: Arc<MockServer>,
    shared: Arc<Shared<W>>,
    record_requests: bool,
}

impl<W: Wire> fmt::Debug for Simulator<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("Simulator")
            .field("uri", &self.front.uri())
            .field("rules", &inner.rules)
            .field("latency", &inner.latency)
            .field("calls", &inner.log.total)
            .field("call_log_capacity", &inner.log.capacity)
            .field("record_requests", &self.record_requests)
            .finish_non_exhaustive()
    }
}

impl<W: Wire> Simulator<W> {
    /// Starts a loopback server on which `wire` answers every request, with `state` as the
    /// vendor's initial state, no fault knob, no latency and an empty call log, with the
    /// [`SimOptions`] of the enclosing [`SimOptions::scope`] (the defaults outside one).
    pub async fn start(wire: W, state: W::State) -> Self {
        Self::start_with(wire, state, SimOptions::current()).await
    }

    /// [`start`](Self::start) with these options.
    pub async fn start_with(wire: W, state: W::State, options: SimOptions) -> Self {
        let shared = Arc::new(Shared {
            wire,
            inner: Mutex::new(Inner {
                state,
                rules: Vec::new(),
                latency: Duration::ZERO,
                log: CallLog::new(options.call_log_capacity),
            }),
        });
        let mount = {
            let shared = shared.clone();
            Arc::new(move || Mock::given(any()).respond_with(Responder(shared.clone())))
        };
        if options.record_requests {
            let server = Arc::new(faults::serve(Responder(shared.clone())).await);
            let front = Front::start(*server.address(), None);
            return Self {
                front,
                server,
                shared,
                record_requests: true,
            };
        }
        let mut servers = Vec::with_capacity(2);
        for _ in 0..2 {
            let server = MockServer::builder()
                .disable_request_recording()
                .start()
                .await;
            mount().mount(&server).await;
            servers.push(Arc::new(server));
        }
        let server = servers[0].clone();
        let front = Front::start(
            *server.address(),
            Some(Recycle {
                servers,
                mount,
                every: RECYCLE_EVERY,
            }),
        );
        Self {
            front,
            server,
            shared,
            record_requests: false,
        }
    }

    /// The simulator's base URI (`http://127.0.0.1:<port>`, no trailing slash): its loopback
    /// front, which carries out cut-off bodies and dropped connections.
    pub fn uri(&self) -> String {
        self.front.uri()
    }

    /// The wiremock server behind the front, for request inspection (and for mounting a mock in
    /// front of the simulator with a higher priority; clients reach it through [`uri`](Self::uri)
    /// as well). Its own `uri()` bypasses the front: fault knobs that cut a body off or drop a
    /// connection do not take effect there.
    ///
    /// Without request recording ([`SimOptions::record_requests`]) it is one of the two servers
    /// the simulator answers from in turn, and is reset periodically: inspect and mock only a
    /// simulator that records (the default).
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// The vendor's wire handlers.
    pub fn wire(&self) -> &W {
        &self.shared.wire
    }

    /// Runs `f` on the vendor's state (under the simulator's lock: `f` must not call back into
    /// the simulator).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut W::State) -> T) -> T {
        f(&mut self.shared.lock().state)
    }

    /// Arms a fault knob.
    pub fn inject(&self, rule: FaultRule) {
        self.shared.lock().rules.push(rule);
    }

    /// Removes every fault knob (armed or waiting).
    pub fn clear_faults(&self) {
        self.shared.lock().rules.clear();
    }

    /// Adds latency to every answer of the vendor's application (see the
    /// [module docs](self#latency)).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// The last calls received, oldest first: every call, unless more than
    /// [`SimOptions::call_log_capacity`] were received (then the last that many).
    pub fn calls(&self) -> Vec<W::Record> {
        self.shared.lock().log.last.iter().cloned().collect()
    }

    /// How many calls of `operation` were received (exact, however many there were).
    pub fn call_count(&self, operation: &str) -> usize {
        let inner = self.shared.lock();
        saturating_usize(inner.log.per_operation.get(operation).copied().unwrap_or(0))
    }

    /// How many calls were received in all (exact, however many there were).
    pub fn call_total(&self) -> usize {
        saturating_usize(self.shared.lock().log.total)
    }

    /// Changes how many of the last calls [`calls`](Self::calls) keeps (the oldest are dropped
    /// at once when it shrinks).
    pub fn set_call_log_capacity(&self, calls: usize) {
        self.shared.lock().log.set_capacity(calls);
    }
}

struct Responder<W: Wire>(Arc<Shared<W>>);

impl<W: Wire> Respond for Responder<W> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let wire = &self.0.wire;
        let mut inner = self.0.lock();
        let (record, call) = match wire.route(&mut inner.state, request) {
            Routed::Answer(answer) => return answer,
            Routed::Call { record, call } => (record, call),
        };
        let operation = record.operation().to_owned();
        inner.log.push(record);
        let latency = inner.latency;

        if let Some(refusal) = wire.refusal(&mut inner.state, &call) {
            faults::arm_waiting(&mut inner.rules, &operation);
            return answer_after(refusal, latency);
        }

        let mut delay = Duration::ZERO;
        let mut drop_after = false;
        if let Some(kind) = faults::take_fault(&mut inner.rules, &operation) {
            match kind {
                FaultKind::Status(s) => {
                    return ResponseTemplate::new(s).set_body_string("Service Unavailable");
                }
                FaultKind::RateLimited { retry_after_secs } => {
                    return ResponseTemplate::new(429)
                        .insert_header("retry-after", retry_after_secs.to_string().as_str());
                }
                FaultKind::Fault(text) => {
                    return answer_after(wire.fault(&call, &text), latency);
                }
                FaultKind::ResultCode(code) => {
                    return answer_after(wire.result_code(&call, code), latency);
                }
                FaultKind::HtmlPage => return html_page(502, "502 Bad Gateway"),
                FaultKind::Truncated => return wire.truncated(&call),
                FaultKind::DropConnection => return drop_connection(),
                FaultKind::ApplyThenDrop => drop_after = true,
                FaultKind::Delay(d) => delay = d,
                FaultKind::CommitLate(d) => {
                    drop(inner);
                    let shared = self.0.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        let mut inner = shared.lock();
                        // The late answer has nobody to go to.
                        let _ = shared.wire.handle(&mut inner.state, call);
                    });
                    return answer_after(drop_connection(), d);
                }
            }
        }

        let answer = wire.handle(&mut inner.state, call);
        drop(inner);
        if drop_after {
            return drop_connection();
        }
        answer_after(answer, latency + delay)
    }
}
