//! The resilience suite: how a provider behaves when the network or the vendor lets it down —
//! lost answers, transient faults, failed lookups, refusals, values it does not know. One public
//! async function per behaviour; [`run_all`] runs them all.
//!
//! Where the [conformance suite](super::conformance) needs only a provider, this one also
//! drives the vendor's simulator through [`SimulatorControl`]: it arms fault knobs
//! ([`FaultRule`]) and checks the outcome *at the simulator* (how many customers exist, how many
//! creates arrived), so it holds for any provider, not only the crate's own. Every built-in
//! vendor runs it against its simulator; a contributor implements [`SimulatorControl`] for
//! their own simulator (the [simulator core](super::sim) does most of it) and runs it too.
//!
//! ```no_run
//! # async fn demo(
//! #     provider: &dyn interactive_services::InteractiveServicesProvider,
//! #     simulator: &dyn interactive_services::testkit::resilience::SimulatorControl,
//! # ) {
//! use interactive_services::ProvisionRequest;
//! use interactive_services::testkit::resilience::{self, Refusal, Target};
//!
//! let valid = |id: &str| ProvisionRequest::builder(id).name("Ada", "Lovelace").plan("9").build();
//! let refused = |id: &str| {
//!     let request = ProvisionRequest::builder(id)
//!         .name("Ada", "Lovelace")
//!         .plan("9")
//!         .add_on("NoSuchAddOn")
//!         .build();
//!     Refusal::new(request, "NoSuchAddOn")
//! };
//! resilience::run_all(&Target::new(provider, simulator, valid, refused)).await;
//! # }
//! ```
//!
//! # Failures
//!
//! A behaviour function that does not hold panics, as a test assertion does, with a message
//! that starts with the behaviour's name (`a_lost_create_answer_never_makes_a_duplicate: ...`).
//! A test that wants to see the failure catches the panic (for example with
//! `futures::FutureExt::catch_unwind`). [`run_all`] runs every behaviour to its end, then panics
//! once listing every failure, one line each, each starting with the behaviour's name.
//!
//! # What the suite assumes
//!
//! - Each behaviour uses its own dealer customer id, `<prefix>-<tag>` (the tag is in each
//!   function's docs; the prefix is random unless set with [`Target::id_prefix`]), so the
//!   behaviours may run in any order against a simulator that already holds customers; they
//!   count calls before and after, so they must not run concurrently against one simulator.
//! - Each behaviour removes every fault knob when it starts and when it succeeds.
//! - The provider reads with the simulator's [read operation](SimulatorControl::read_operation)
//!   and its retry policy allows at least three attempts of a read, waits out a `Retry-After`
//!   of one second and refuses one of sixty seconds (for example
//!   `RetryPolicy { max_attempts: 3, max_retry_after: Duration::from_secs(2), .. }`).
//!
//! - The simulator honours [`FaultRule::after`] (the [simulator core](super::sim) does): the
//!   failed-lookup behaviour fails only the lookups made after the create, so it holds whether
//!   or not the provider looks up before creating.
//!
//! # Which error is expected
//!
//! Each expectation on the crate's [`Error`] is written once, in a small private function of
//! this module, matched on the variant only (never on the operation's name):
//!
//! | situation | expected |
//! |---|---|
//! | provisioning a dealer customer id the vendor holds | [`Error::Conflict`] |
//! | the vendor refuses the request | [`Error::Rejected`], its message naming the refused value |
//! | `Retry-After` beyond the provider's cap | [`Error::RateLimited`] |
//! | an HTML outage page on every attempt | [`Error::Unavailable`] |
//! | the vendor's own server error | [`Error::Vendor`], with the vendor's message |
//! | the lookup after a lost create answer fails | any error |

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

use crate::error::Error;
use crate::model::{AccountId, IspAccount, ProvisionRequest};
use crate::provider::InteractiveServicesProvider;
use crate::testkit::faults::{FaultKind, FaultRule};

/// What the suite needs from a vendor's simulator: its fault knobs, its call counts, a view of
/// its customers, and the names of the operations the suite aims faults at.
///
/// The operation names are the ones the simulator logs and [`FaultRule::on`] matches.
pub trait SimulatorControl: Send + Sync {
    /// Arms a fault knob.
    fn inject(&self, rule: FaultRule);

    /// Removes every fault knob.
    fn clear_faults(&self);

    /// How many calls of `operation` the simulator received.
    fn call_count(&self, operation: &str) -> usize;

    /// How many accounts (terminated included) the vendor holds with this dealer customer id.
    fn accounts_with_dealer_id(&self, dealer_customer_id: &str) -> usize;

    /// Whether the vendor holds an account with this id.
    fn holds_account(&self, id: &AccountId) -> bool;

    /// Adds a feature (add-on) the crate does not know to an account at the vendor, as the
    /// vendor's own tools might. Returns whether the account exists.
    fn add_unknown_feature(&self, id: &AccountId, feature: &str) -> bool;

    /// The operation that creates a customer (`CreateCustomer`).
    fn create_operation(&self) -> &str;

    /// The operation that looks a customer up by the dealer's customer id.
    fn lookup_operation(&self) -> &str;

    /// The operation that reads one account ([`InteractiveServicesProvider::account`]).
    fn read_operation(&self) -> &str;
}

/// A provision request the vendor refuses, and the value it refuses (which the error's message
/// must name).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The request.
    pub request: ProvisionRequest,
    /// The refused value, as the vendor's message names it (an unknown add-on, a bad plan).
    pub refused_value: String,
}

impl Refusal {
    /// `request`, which the vendor refuses because of `refused_value`.
    pub fn new(request: ProvisionRequest, refused_value: impl Into<String>) -> Self {
        Self {
            request,
            refused_value: refused_value.into(),
        }
    }
}

type MakeRequest<'a> = Box<dyn Fn(&str) -> ProvisionRequest + Send + Sync + 'a>;
type MakeRefusal<'a> = Box<dyn Fn(&str) -> Refusal + Send + Sync + 'a>;

/// What the suite runs against: the provider under test, the simulator it talks to, and how to
/// make provision requests for a dealer customer id.
pub struct Target<'a> {
    provider: &'a dyn InteractiveServicesProvider,
    simulator: &'a dyn SimulatorControl,
    valid: MakeRequest<'a>,
    refused: MakeRefusal<'a>,
    id_prefix: String,
}

impl fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("id_prefix", &self.id_prefix)
            .finish_non_exhaustive()
    }
}

impl<'a> Target<'a> {
    /// `provider`, talking to `simulator`; `valid` makes a request the vendor accepts for a
    /// dealer customer id (with fresh device ids each time, where the vendor needs them),
    /// `refused` one the vendor refuses.
    pub fn new(
        provider: &'a dyn InteractiveServicesProvider,
        simulator: &'a dyn SimulatorControl,
        valid: impl Fn(&str) -> ProvisionRequest + Send + Sync + 'a,
        refused: impl Fn(&str) -> Refusal + Send + Sync + 'a,
    ) -> Self {
        Self {
            provider,
            simulator,
            valid: Box::new(valid),
            refused: Box::new(refused),
            id_prefix: format!("res-{:06x}", fastrand::u32(..0xFF_FFFF)),
        }
    }

    /// Sets the prefix of the dealer customer ids the behaviours use (`<prefix>-<tag>`).
    pub fn id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = prefix.into();
        self
    }

    /// The dealer customer id the behaviour tagged `tag` uses.
    pub fn dealer_customer_id(&self, tag: &str) -> String {
        format!("{}-{tag}", self.id_prefix)
    }
}

/// Runs every behaviour, in the order of this module's functions, each to its end even when an
/// earlier one failed; then, if any failed, panics listing every failure, one line each,
/// starting with the behaviour's name.
pub async fn run_all(t: &Target<'_>) {
    let outcomes = [
        outcome(
            "a_lost_create_answer_never_makes_a_duplicate",
            Box::pin(a_lost_create_answer_never_makes_a_duplicate(t)),
        )
        .await,
        outcome(
            "a_create_with_an_unknown_outcome_is_not_made_again",
            Box::pin(a_create_with_an_unknown_outcome_is_not_made_again(t)),
        )
        .await,
        outcome(
            "a_failed_lookup_after_a_lost_answer_stops_without_creating_again",
            Box::pin(a_failed_lookup_after_a_lost_answer_stops_without_creating_again(t)),
        )
        .await,
        outcome(
            "provisioning_an_existing_dealer_customer_is_a_conflict",
            Box::pin(provisioning_an_existing_dealer_customer_is_a_conflict(t)),
        )
        .await,
        outcome(
            "vendor_refusals_carry_the_vendor_message",
            Box::pin(vendor_refusals_carry_the_vendor_message(t)),
        )
        .await,
        outcome(
            "unknown_vendor_values_round_trip",
            Box::pin(unknown_vendor_values_round_trip(t)),
        )
        .await,
        outcome(
            "transient_faults_are_retried_on_reads",
            Box::pin(transient_faults_are_retried_on_reads(t)),
        )
        .await,
    ];
    let total = outcomes.len();
    let failures: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    t.simulator.clear_faults();
    if !failures.is_empty() {
        panic!(
            "resilience: {} of {total} behaviours failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

type Running<'f> = Pin<Box<dyn Future<Output = ()> + Send + 'f>>;

/// Runs one behaviour to its end; its panic, if any, becomes a line that starts with its name.
async fn outcome(name: &'static str, mut behaviour: Running<'_>) -> Result<(), String> {
    std::future::poll_fn(move |cx| {
        match panic::catch_unwind(AssertUnwindSafe(|| behaviour.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let text = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("panicked");
                Poll::Ready(Err(if text.starts_with(name) {
                    text.to_owned()
                } else {
                    format!("{name}: {text}")
                }))
            }
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The expected errors, each in one place.

/// A create whose outcome is unknown, for this dealer customer id.
fn is_outcome_unknown(e: &Error, dealer_customer_id: &str) -> bool {
    matches!(e, Error::OutcomeUnknown { dealer_customer_id: d, .. } if d == dealer_customer_id)
}

/// An existing customer for the dealer customer id.
fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Conflict { .. })
}

/// The vendor refused the request itself: its message.
fn refusal_message(e: &Error) -> Option<&str> {
    match e {
        Error::Rejected { message, .. } => Some(message),
        _ => None,
    }
}

/// A `Retry-After` beyond what the provider waits out.
fn is_rate_limited(e: &Error) -> bool {
    matches!(e, Error::RateLimited { .. })
}

/// An HTML outage page (HTTP 502) on every attempt.
fn is_outage(e: &Error) -> bool {
    matches!(e, Error::Unavailable { .. })
}

/// The vendor's own error (a server fault): its message.
fn vendor_error_message(e: &Error) -> Option<&str> {
    match e {
        Error::Vendor { message, .. } => Some(message),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Checks that name the behaviour.

struct Behaviour<'t, 'a> {
    name: &'static str,
    t: &'t Target<'a>,
}

impl<'t, 'a> Behaviour<'t, 'a> {
    /// Starts `name` with no fault knob armed.
    fn start(name: &'static str, t: &'t Target<'a>) -> Self {
        t.simulator.clear_faults();
        Self { name, t }
    }

    fn sim(&self) -> &'a dyn SimulatorControl {
        self.t.simulator
    }

    fn fail(&self, detail: impl fmt::Display) -> ! {
        panic!("{}: {detail}", self.name)
    }

    fn check(&self, holds: bool, detail: impl FnOnce() -> String) {
        if !holds {
            self.fail(detail())
        }
    }

    fn count(&self, what: &str, got: usize, want: usize) {
        self.check(got == want, || {
            format!("{what}: expected {want}, got {got}")
        });
    }

    async fn provision(&self, dealer_customer_id: &str, what: &str) -> IspAccount {
        let request = (self.t.valid)(dealer_customer_id);
        match self.t.provider.provision(&request).await {
            Ok(account) => account,
            Err(e) => self.fail(format!("{what}: provision failed: {e}")),
        }
    }

    async fn read(&self, id: &AccountId, what: &str) -> IspAccount {
        match self.t.provider.account(id).await {
            Ok(account) => account,
            Err(e) => self.fail(format!("{what}: reading {id} failed: {e}")),
        }
    }

    fn creates(&self) -> usize {
        self.sim().call_count(self.sim().create_operation())
    }

    fn done(self) {
        self.t.simulator.clear_faults();
    }
}

// ---------------------------------------------------------------------------------------------
// The behaviours.

/// A create that the vendor carried out but whose answer was lost (the connection dropped after
/// the customer was made) is never made again: provision succeeds with the customer that was
/// made, the vendor holds exactly one customer for the dealer customer id, and exactly one
/// create arrived. Tag `lost`.
pub async fn a_lost_create_answer_never_makes_a_duplicate(t: &Target<'_>) {
    let b = Behaviour::start("a_lost_create_answer_never_makes_a_duplicate", t);
    let id = t.dealer_customer_id("lost");
    let creates = b.creates();
    b.sim()
        .inject(FaultRule::next(FaultKind::ApplyThenDrop).on(b.sim().create_operation()));
    let request = (t.valid)(&id);
    let provisioned = t.provider.provision(&request).await;
    b.count(
        &format!("customers with dealer customer id {id}"),
        b.sim().accounts_with_dealer_id(&id),
        1,
    );
    b.count("creates", b.creates() - creates, 1);
    let account = match provisioned {
        Ok(account) => account,
        Err(e) => b.fail(format!("provision must recover the customer made, got {e}")),
    };
    b.check(
        account.dealer_customer_id.as_ref().map(|d| d.as_str()) == Some(id.as_str()),
        || format!("the account must carry dealer customer id {id}: {account:?}"),
    );
    b.check(b.sim().holds_account(&account.id), || {
        format!("the account returned, {}, is not at the vendor", account.id)
    });
    b.done();
}

/// A create whose outcome is unknown (a 503 on the create: the vendor may or may not have acted)
/// is not made again on a lookup that may be stale: provision answers
/// [`Error::OutcomeUnknown`] (retryable, naming the dealer customer id), exactly one create
/// arrived, and a second provision right after creates nothing either while the first may still
/// commit. Tag `unsettled`.
pub async fn a_create_with_an_unknown_outcome_is_not_made_again(t: &Target<'_>) {
    let b = Behaviour::start("a_create_with_an_unknown_outcome_is_not_made_again", t);
    let id = t.dealer_customer_id("unsettled");
    let creates = b.creates();
    b.sim()
        .inject(FaultRule::next(FaultKind::Status(503)).on(b.sim().create_operation()));
    for attempt in ["the first provision", "a provision right after"] {
        let request = (t.valid)(&id);
        match t.provider.provision(&request).await {
            Err(e) if is_outcome_unknown(&e, &id) => b.check(e.is_retryable(), || {
                format!("{attempt}: {e} is not retryable")
            }),
            other => b.fail(format!(
                "{attempt}: expected an unknown outcome naming {id}, got {other:?}"
            )),
        }
    }
    b.count("creates", b.creates() - creates, 1);
    b.count(
        &format!("customers with dealer customer id {id}"),
        b.sim().accounts_with_dealer_id(&id),
        0,
    );
    b.done();
}

/// When a create's answer was lost and the lookup that should say whether it took effect
/// fails too (every lookup after the create meets an outage page), provision fails and creates
/// nothing more: one create arrived and no customer exists. A lookup before the create, if the
/// provider makes one, is answered normally. Tag `failed-lookup`.
pub async fn a_failed_lookup_after_a_lost_answer_stops_without_creating_again(t: &Target<'_>) {
    let b = Behaviour::start(
        "a_failed_lookup_after_a_lost_answer_stops_without_creating_again",
        t,
    );
    let id = t.dealer_customer_id("failed-lookup");
    let creates = b.creates();
    let sim = b.sim();
    sim.inject(FaultRule::next(FaultKind::DropConnection).on(sim.create_operation()));
    sim.inject(
        FaultRule::next(FaultKind::HtmlPage)
            .on(sim.lookup_operation())
            .times(10)
            .after(sim.create_operation()),
    );
    let r = t.provider.provision(&(t.valid)(&id)).await;
    b.check(r.is_err(), || {
        format!("the lookup failed: provision must fail, got {r:?}")
    });
    b.count("creates", b.creates() - creates, 1);
    b.count(
        &format!("customers with dealer customer id {id}"),
        sim.accounts_with_dealer_id(&id),
        0,
    );
    b.done();
}

/// Provisioning a dealer customer id the vendor already holds is a conflict, and creates
/// nothing: one create for the two provisions, one customer. Tag `conflict`.
pub async fn provisioning_an_existing_dealer_customer_is_a_conflict(t: &Target<'_>) {
    let b = Behaviour::start("provisioning_an_existing_dealer_customer_is_a_conflict", t);
    let id = t.dealer_customer_id("conflict");
    let creates = b.creates();
    b.provision(&id, "the first provision").await;
    let second = t.provider.provision(&(t.valid)(&id)).await;
    b.check(second.as_ref().is_err_and(is_conflict), || {
        format!("the second provision must be a conflict, got {second:?}")
    });
    b.count("creates", b.creates() - creates, 1);
    b.count(
        &format!("customers with dealer customer id {id}"),
        b.sim().accounts_with_dealer_id(&id),
        1,
    );
    b.done();
}

/// A request the vendor refuses fails with the vendor's refusal, whose message names the
/// refused value; no customer is made. Tag `refused`.
pub async fn vendor_refusals_carry_the_vendor_message(t: &Target<'_>) {
    let b = Behaviour::start("vendor_refusals_carry_the_vendor_message", t);
    let id = t.dealer_customer_id("refused");
    let refusal = (t.refused)(&id);
    let r = t.provider.provision(&refusal.request).await;
    match r.as_ref().map_err(refusal_message) {
        Err(Some(message)) => b.check(message.contains(&refusal.refused_value), || {
            format!(
                "the message must name `{}`: {message}",
                refusal.refused_value
            )
        }),
        _ => b.fail(format!("expected the vendor's refusal, got {r:?}")),
    }
    b.count(
        &format!("customers with dealer customer id {id}"),
        b.sim().accounts_with_dealer_id(&id),
        0,
    );
    b.done();
}

/// A feature the crate does not know, added at the vendor, does not fail a read and comes back
/// as it is. Tag `unknown`.
pub async fn unknown_vendor_values_round_trip(t: &Target<'_>) {
    const FEATURE: &str = "HologramDoorbell2031";
    let b = Behaviour::start("unknown_vendor_values_round_trip", t);
    let account = b
        .provision(&t.dealer_customer_id("unknown"), "provision")
        .await;
    b.check(b.sim().add_unknown_feature(&account.id, FEATURE), || {
        format!("the simulator does not hold account {}", account.id)
    });
    let read = b
        .read(&account.id, "an unknown feature must not fail a read")
        .await;
    b.check(read.has_feature(FEATURE), || {
        format!("the read must carry {FEATURE}: {read:?}")
    });
    b.done();
}

/// Reads ride out transient faults and report the ones they cannot: two 503s, a cut-off body
/// and a 429 with a short `Retry-After` are retried to success; a long `Retry-After` is a rate
/// limit, an outage page on every attempt an outage, and the vendor's own server error carries
/// its message. Tag `reads`.
pub async fn transient_faults_are_retried_on_reads(t: &Target<'_>) {
    let b = Behaviour::start("transient_faults_are_retried_on_reads", t);
    let sim = b.sim();
    let read_op = sim.read_operation();
    let account = b
        .provision(&t.dealer_customer_id("reads"), "provision")
        .await;
    let id = &account.id;

    sim.inject(FaultRule::next(FaultKind::Status(503)).on(read_op).times(2));
    b.read(id, "two 503s then an answer: the third attempt succeeds")
        .await;
    sim.inject(FaultRule::next(FaultKind::Truncated).on(read_op));
    b.read(id, "a cut-off read is retried").await;
    sim.inject(
        FaultRule::next(FaultKind::RateLimited {
            retry_after_secs: 1,
        })
        .on(read_op),
    );
    b.read(id, "a 429 within the cap is waited out").await;

    sim.inject(
        FaultRule::next(FaultKind::RateLimited {
            retry_after_secs: 60,
        })
        .on(read_op),
    );
    let r = t.provider.account(id).await;
    b.check(r.as_ref().is_err_and(is_rate_limited), || {
        format!("a Retry-After of 60 s must be a rate limit, got {r:?}")
    });

    sim.inject(FaultRule::next(FaultKind::HtmlPage).on(read_op).times(10));
    let r = t.provider.account(id).await;
    b.check(r.as_ref().is_err_and(is_outage), || {
        format!("an outage page on every attempt must be an outage, got {r:?}")
    });
    sim.clear_faults();

    sim.inject(FaultRule::next(FaultKind::Fault("Unexpected server error".into())).on(read_op));
    let r = t.provider.account(id).await;
    match r.as_ref().map_err(vendor_error_message) {
        Err(Some(message)) => b.check(message.contains("Unexpected server error"), || {
            format!("the vendor's message must be kept: {message}")
        }),
        _ => b.fail(format!("expected the vendor's server error, got {r:?}")),
    }
    b.done();
}
