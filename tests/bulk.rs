//! The bulk API (`interactive_services::bulk`): one result per request with its key, per-item
//! errors, rate limits counted per window (a manual clock, no timing), cancellation, progress;
//! and the simulator's bounded call log and recycled wiremock servers for long runs.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use interactive_services::bulk::{Bulk, BulkError, CancelToken, Progress, RateLimit};
use interactive_services::provider::ProviderOptions;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::testkit::InMemoryProvider;
use interactive_services::testkit::faults::{FaultKind, FaultRule};
use interactive_services::testkit::sim::SimOptions;
use interactive_services::{
    AccountId, Capabilities, CredentialCheck, Error, InteractiveServicesProvider, IspAccount,
    PlanChange, ProviderKind, ProviderRegistry, ProvisionRequest, ServicePlan,
};
use tokio::sync::Semaphore;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("not zero")
}

fn request(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Ada", "Lovelace")
        .plan("basic")
        .build()
}

/// `n` keyed requests `PREFIX-0000`, ...: the key is the dealer customer id.
fn requests(prefix: &str, n: usize) -> Vec<(String, ProvisionRequest)> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i:04}");
            (id.clone(), request(&id))
        })
        .collect()
}

/// `n` keyed requests for a simulator (its configuration's default plan).
fn sim_requests(prefix: &str, n: usize) -> Vec<(String, ProvisionRequest)> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i:04}");
            let r = ProvisionRequest::builder(id.as_str())
                .name("Grace", "Hopper")
                .build();
            (id, r)
        })
        .collect()
}

/// An in-memory provider that counts the operations started and alive (a drop guard), can
/// hold them at a gate, and fails the dealer customer ids it is told to.
#[derive(Debug)]
struct Probe {
    inner: InMemoryProvider,
    started: AtomicUsize,
    live: AtomicUsize,
    gate: Semaphore,
    fail: Vec<String>,
}

impl Probe {
    fn new() -> Arc<Self> {
        Self::with(Semaphore::MAX_PERMITS, Vec::new())
    }

    fn with(permits: usize, fail: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            inner: InMemoryProvider::new(),
            started: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            gate: Semaphore::new(permits),
            fail,
        })
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Counts an operation in, waits at the gate; the guard counts it out when the operation's
    /// future ends or is dropped.
    async fn enter(&self) -> Live<'_> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::SeqCst);
        let guard = Live(&self.live);
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        guard
    }
}

struct Live<'a>(&'a AtomicUsize);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl InteractiveServicesProvider for Probe {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn validate_credentials(&self) -> interactive_services::Result<CredentialCheck> {
        self.inner.validate_credentials().await
    }
    async fn service_plans(&self) -> interactive_services::Result<Vec<ServicePlan>> {
        self.inner.service_plans().await
    }
    async fn provision(
        &self,
        request: &ProvisionRequest,
    ) -> interactive_services::Result<IspAccount> {
        let _live = self.enter().await;
        if self
            .fail
            .iter()
            .any(|f| f == request.dealer_customer_id.as_str())
        {
            return Err(Error::invalid_request(
                "in_memory",
                "provision",
                "this one is meant to fail",
            ));
        }
        self.inner.provision(request).await
    }
    async fn account(&self, id: &AccountId) -> interactive_services::Result<IspAccount> {
        self.inner.account(id).await
    }
    async fn change_plan(
        &self,
        id: &AccountId,
        change: &PlanChange,
    ) -> interactive_services::Result<IspAccount> {
        let _live = self.enter().await;
        self.inner.change_plan(id, change).await
    }
    async fn terminate(&self, id: &AccountId) -> interactive_services::Result<()> {
        let _live = self.enter().await;
        self.inner.terminate(id).await
    }
}

/// Lets the runtime run whatever is ready (spawned tasks, the simulator's answers).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
}

/// Waits until `done()` holds; fails (rather than hangs) after a generous while.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..3_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("gave up waiting for {what}");
}

#[tokio::test]
async fn results_are_one_per_request_with_their_keys_in_any_order() {
    let probe = Probe::new();
    let input = requests("KEY", 300);
    let expected: BTreeSet<String> = input.iter().map(|(k, _)| k.clone()).collect();
    let results: Vec<_> = Bulk::new(probe.clone())
        .concurrency(7)
        .provision(input)
        .collect()
        .await;

    assert_eq!(results.len(), 300, "one result per request");
    let keys: BTreeSet<String> = results.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys, expected, "every key exactly once");
    let indexes: BTreeSet<usize> = results.iter().map(|r| r.index).collect();
    assert_eq!(indexes, (0..300).collect::<BTreeSet<_>>());
    for r in &results {
        let account = r.result.as_ref().expect("provisioned");
        assert_eq!(
            account.dealer_customer_id.as_ref().map(|d| d.as_str()),
            Some(r.key.as_str()),
            "the result is the key's own account"
        );
        assert_eq!(r.index, r.key[4..].parse::<usize>().expect("number"));
    }
    assert_eq!(probe.started(), 300);
    assert_eq!(probe.live(), 0);
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let probe = Probe::with(0, Vec::new());
    let mut run = Bulk::new(probe.clone())
        .concurrency(5)
        .provision(requests("C", 50));
    assert!(run.next().now_or_never().is_none(), "held at the gate");
    assert_eq!(probe.started(), 5, "five in flight, no more");
    assert_eq!(run.progress().in_flight, 5);
    probe.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    let rest: Vec<_> = run.collect().await;
    assert_eq!(rest.len(), 50);
    assert!(rest.iter().all(|r| r.is_ok()));
}

#[tokio::test]
async fn per_item_errors_do_not_stop_the_batch() {
    let fail: Vec<String> = ["E-0003", "E-0010", "E-0042"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let probe = Probe::with(Semaphore::MAX_PERMITS, fail.clone());
    // A duplicate dealer customer id fails as a conflict, at the provider.
    let mut input = requests("E", 60);
    input.push(("E-0005 again".to_owned(), request("E-0005")));

    let results: Vec<_> = Bulk::new(probe.clone())
        .concurrency(4)
        .provision(input)
        .collect()
        .await;

    assert_eq!(results.len(), 61, "the batch went on past every failure");
    let failed: BTreeSet<&str> = results
        .iter()
        .filter(|r| !r.is_ok())
        .map(|r| r.key.as_str())
        .collect();
    let mut expected: BTreeSet<&str> = fail.iter().map(String::as_str).collect();
    // Whichever of the two E-0005 ran second is refused.
    let dup = results
        .iter()
        .find(|r| r.key.starts_with("E-0005") && !r.is_ok())
        .expect("one E-0005 refused");
    expected.insert(dup.key.as_str());
    assert_eq!(failed, expected);
    for r in results.iter().filter(|r| !r.is_ok()) {
        match &r.result {
            Err(BulkError::Failed(e)) => assert!(!e.to_string().is_empty()),
            other => panic!("{}: expected a failure, got {other:?}", r.key),
        }
    }
}

#[tokio::test]
async fn progress_counts_every_result() {
    let probe = Probe::with(
        Semaphore::MAX_PERMITS,
        vec!["P-0001".into(), "P-0002".into()],
    );
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let recorded = seen.clone();
    let mut run = Bulk::new(probe)
        .concurrency(3)
        .on_progress(move |p| recorded.lock().expect("lock").push(p))
        .provision(requests("P", 20));
    let mut yielded = 0;
    while let Some(_r) = run.next().await {
        yielded += 1;
        let last = *seen
            .lock()
            .expect("lock")
            .last()
            .expect("called before the result");
        assert_eq!(
            last.done, yielded,
            "called once per result, before it is yielded"
        );
    }
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 20);
    let last = seen[19];
    assert_eq!(last.total, Some(20));
    assert_eq!((last.done, last.succeeded, last.failed), (20, 18, 2));
    assert_eq!((last.cancelled, last.in_flight), (0, 0));
    assert_eq!(run.progress(), last);
}

#[tokio::test]
async fn change_and_terminate_run_in_bulk() {
    let probe = Probe::new();
    let accounts: Vec<(String, AccountId)> = Bulk::new(probe.clone())
        .provision(requests("T", 25))
        .map(|r| {
            let (key, result) = r.into_parts();
            (key, result.expect("provisioned").id)
        })
        .collect()
        .await;
    let changes = accounts.iter().map(|(k, id)| {
        (
            k.clone(),
            id.clone(),
            PlanChange::new().add("LightAutomation"),
        )
    });
    let changed: Vec<_> = Bulk::new(probe.clone())
        .change_plan(changes.collect::<Vec<_>>())
        .collect()
        .await;
    assert_eq!(changed.len(), 25);
    assert!(changed.iter().all(|r| {
        r.result
            .as_ref()
            .is_ok_and(|a| a.has_feature("LightAutomation"))
    }));
    let terminated: Vec<_> = Bulk::new(probe.clone())
        .terminate(accounts.clone())
        .collect()
        .await;
    let keys: BTreeSet<_> = terminated.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 25);
    assert!(terminated.iter().all(|r| r.is_ok()));
}

#[tokio::test]
async fn the_bulk_rate_limit_is_a_count_of_operations_per_window() {
    let probe = Probe::new();
    let (limit, clock) = RateLimit::with_manual_clock(nz(4));
    let mut run = Bulk::new(probe.clone())
        .concurrency(10)
        .rate_limit(limit)
        .provision(requests("R", 10));
    let mut done = 0;
    for window in 1..=3 {
        let allowed = (4 * window).min(10);
        while done < allowed {
            assert!(run.next().await.expect("a result").is_ok());
            done += 1;
        }
        settle().await;
        assert!(run.next().now_or_never().is_none() || done == 10);
        assert_eq!(probe.started(), allowed, "window {window}: 4 per second");
        clock.advance(Duration::from_secs(1));
    }
    assert!(run.next().await.is_none());
    assert_eq!(probe.started(), 10);
}

#[tokio::test]
async fn the_transport_rate_limit_is_shared_by_every_call_of_the_provider() {
    let sim = AlarmComSimulator::start().await;
    // The call log (10,000 by default) holds every call of this test: its length is the count
    // of HTTP requests the simulator received.
    let (limit, clock) = RateLimit::with_manual_clock(nz(4));
    let options = ProviderOptions::new().rate_limit(limit);
    let registry = ProviderRegistry::with_built_ins();
    // Two providers built with the same options: one allowance between them.
    let a = registry.build_with(&sim.config(), &options).expect("a");
    let b = registry.build_with(&sim.config(), &options).expect("b");
    let run_a = tokio::spawn(
        Bulk::new(a)
            .concurrency(3)
            .provision(sim_requests("TA", 5))
            .collect::<Vec<_>>(),
    );
    let run_b = tokio::spawn(
        Bulk::new(b)
            .concurrency(3)
            .provision(sim_requests("TB", 5))
            .collect::<Vec<_>>(),
    );
    let mut window = 1;
    loop {
        let allowed = 4 * window;
        wait_until("a window's requests", || {
            sim.calls().len() >= allowed || (run_a.is_finished() && run_b.is_finished())
        })
        .await;
        settle().await;
        assert!(
            sim.calls().len() <= allowed,
            "window {window}: {} HTTP requests, at most {allowed} allowed",
            sim.calls().len()
        );
        if run_a.is_finished() && run_b.is_finished() {
            break;
        }
        assert_eq!(
            sim.calls().len(),
            allowed,
            "window {window}: the allowance is used"
        );
        clock.advance(Duration::from_secs(1));
        window += 1;
        assert!(window < 50, "the runs should be done by now");
    }
    let mut results = run_a.await.expect("a");
    results.extend(run_b.await.expect("b"));
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(sim.call_count("CreateCustomer"), 10);
    assert!(
        window >= 5,
        "ten provisions of two requests took five windows or more"
    );
}

#[tokio::test]
async fn dropping_the_stream_leaves_nothing_running() {
    let probe = Probe::with(0, Vec::new());
    let mut run = Bulk::new(probe.clone())
        .concurrency(6)
        .provision(requests("D", 40));
    assert!(run.next().now_or_never().is_none());
    assert_eq!(probe.live(), 6, "six operations in flight");
    drop(run);
    assert_eq!(
        probe.live(),
        0,
        "every operation in flight was dropped with the stream"
    );
    probe.gate.add_permits(100);
    settle().await;
    assert_eq!(probe.started(), 6, "nothing started after the drop");
    assert_eq!(probe.inner.account_count(), 0, "and nothing was done");
}

#[tokio::test]
async fn cancelling_finishes_what_was_sent_and_sends_nothing_more() {
    let probe = Probe::with(0, Vec::new());
    let cancel = CancelToken::new();
    let mut run = Bulk::new(probe.clone())
        .concurrency(4)
        .cancel_on(cancel.clone())
        .provision(requests("X", 20));
    assert!(run.next().now_or_never().is_none());
    assert_eq!(probe.started(), 4);
    cancel.cancel();
    probe.gate.add_permits(100);
    let results: Vec<_> = run.collect().await;

    assert_eq!(
        results.len(),
        20,
        "one result per request, cancelled ones included"
    );
    let keys: BTreeSet<_> = results.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 20);
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let cancelled = results
        .iter()
        .filter(|r| r.result.as_ref().is_err_and(BulkError::is_cancelled))
        .count();
    assert_eq!(
        (ok, cancelled),
        (4, 16),
        "the four sent finished, the rest were not sent"
    );
    assert_eq!(probe.started(), 4);
    assert_eq!(probe.inner.account_count(), 4);
    assert_eq!(probe.live(), 0);
}

#[tokio::test]
async fn cancelling_stops_requests_waiting_for_the_rate_limit() {
    let probe = Probe::new();
    let (limit, _clock) = RateLimit::with_manual_clock(nz(2));
    let cancel = CancelToken::new();
    let mut run = Bulk::new(probe.clone())
        .concurrency(5)
        .rate_limit(limit)
        .cancel_on(cancel.clone())
        .provision(requests("W", 10));
    assert!(run.next().await.expect("first").is_ok());
    assert!(run.next().await.expect("second").is_ok());
    settle().await;
    assert!(
        run.next().now_or_never().is_none(),
        "three wait for the clock"
    );
    cancel.cancel();
    let rest: Vec<_> = run.collect().await;
    assert_eq!(rest.len(), 8);
    assert!(
        rest.iter()
            .all(|r| r.result.as_ref().is_err_and(BulkError::is_cancelled))
    );
    assert_eq!(probe.started(), 2);
}

#[tokio::test]
async fn provisioning_against_the_simulator_never_duplicates_and_reports_faults_per_item() {
    let sim = AlarmComSimulator::start().await;
    sim.inject(
        FaultRule::next(FaultKind::Fault("Server busy".into()))
            .on("CreateCustomer")
            .times(3),
    );
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    let results: Vec<_> = Bulk::new(provider)
        .concurrency(16)
        .provision(sim_requests("S", 120))
        .collect()
        .await;
    assert_eq!(results.len(), 120);
    let failed: Vec<_> = results.iter().filter(|r| !r.is_ok()).collect();
    assert_eq!(failed.len(), 3, "the three faults, and only them");
    for r in &results {
        let expected = usize::from(r.is_ok());
        assert_eq!(
            sim.customers_with_dealer_id(&r.key),
            expected,
            "{}: one customer per success, none per failure",
            r.key
        );
    }
    assert_eq!(sim.call_count("CreateCustomer"), 120);
}

#[tokio::test]
async fn the_call_log_is_bounded_and_the_counts_exact() {
    let sim = SimOptions::new()
        .call_log_capacity(5)
        .scope(AlarmComSimulator::start())
        .await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    let results: Vec<_> = Bulk::new(provider)
        .provision(
            (0..12)
                .map(|i| {
                    let id = format!("L-{i}");
                    let r = ProvisionRequest::builder(id.as_str())
                        .name("A", "B")
                        .build();
                    (id, r)
                })
                .collect::<Vec<_>>(),
        )
        .collect()
        .await;
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(sim.calls().len(), 5, "the last five calls are kept");
    assert_eq!(sim.call_count("CreateCustomer"), 12, "counts are exact");
    assert!(sim.call_count("LookupCustomerIdFromDealerCustomerId") >= 12);
}

#[tokio::test]
async fn a_load_simulator_recycles_its_servers_without_losing_a_request() {
    let sim = SimOptions::for_load()
        .scope(AlarmComSimulator::start())
        .await;
    assert!(
        sim.server().received_requests().await.is_none(),
        "no request recording"
    );
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    // Well over two recycles of 1,024 requests each (two requests per customer).
    let n = 1_400;
    let results: Vec<_> = Bulk::new(provider)
        .concurrency(32)
        .provision(
            (0..n)
                .map(|i| {
                    let id = format!("G-{i:05}");
                    let r = ProvisionRequest::builder(id.as_str())
                        .name("A", "B")
                        .build();
                    (id, r)
                })
                .collect::<Vec<_>>(),
        )
        .collect()
        .await;
    let failed: Vec<_> = results.iter().filter(|r| !r.is_ok()).take(3).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(results.len(), n);
    assert_eq!(sim.call_count("CreateCustomer"), n);
    assert!(sim.calls().len() <= 1_000);
}
