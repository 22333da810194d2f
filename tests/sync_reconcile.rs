//! The reconciler: changes made directly at the provider (plan, add-ons, termination, a new
//! account) reach the sink once; a second pass emits nothing; a crash between delivering and
//! storing the snapshot emits nothing twice; reads run with bounded concurrency.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use interactive_services::sync::{
    Delivery, DeliveryRetry, EventSink, IdempotencyKey, ManualClock, MemoryStore, ReconcileOutcome,
    Reconciler, SinkError, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::testkit::InMemoryProvider;
use interactive_services::{
    AccountId, Capabilities, CredentialCheck, Error, ErrorKind, EventId, EventKind,
    InteractiveServicesProvider, IspAccount, IspEvent, PlanChange, PlanId, ProviderKind,
    ProvisionRequest, ServicePlan,
};

const CONFIG: &str = "Main office";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// Records every event it is given; dedupes nothing, so a second delivery would show.
#[derive(Debug, Default)]
struct Sink {
    events: Mutex<Vec<IspEvent>>,
    refuse_kind: Mutex<Option<&'static str>>,
}

impl Sink {
    fn events(&self) -> Vec<IspEvent> {
        self.events.lock().expect("lock").clone()
    }
}

#[async_trait]
impl EventSink for Sink {
    async fn apply(
        &self,
        _config: &str,
        event: &IspEvent,
        _key: &IdempotencyKey,
    ) -> Result<(), SinkError> {
        if let Some(kind) = *self.refuse_kind.lock().expect("lock") {
            if format!("{:?}", event.kind).starts_with(kind) {
                return Err(SinkError::Transient("ledger is down".into()));
            }
        }
        self.events.lock().expect("lock").push(event.clone());
        Ok(())
    }
}

/// The in-memory provider, with account reads that count how many run at once and can fail
/// for chosen accounts.
#[derive(Debug, Clone, Default)]
struct Watched {
    inner: InMemoryProvider,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    reads: Arc<AtomicUsize>,
    failing: Arc<Mutex<HashSet<AccountId>>>,
    no_listing: bool,
}

#[async_trait]
impl InteractiveServicesProvider for Watched {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        if self.no_listing {
            Capabilities::NONE
        } else {
            self.inner.capabilities()
        }
    }
    async fn validate_credentials(&self) -> interactive_services::Result<CredentialCheck> {
        self.inner.validate_credentials().await
    }
    async fn service_plans(&self) -> interactive_services::Result<Vec<ServicePlan>> {
        self.inner.service_plans().await
    }
    async fn provision(&self, r: &ProvisionRequest) -> interactive_services::Result<IspAccount> {
        self.inner.provision(r).await
    }
    async fn account(&self, id: &AccountId) -> interactive_services::Result<IspAccount> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        if self.failing.lock().expect("lock").contains(id) {
            return Err(Error::unavailable(
                "in_memory",
                "account",
                3,
                "HTTP 503 from the vendor",
            ));
        }
        self.inner.account(id).await
    }
    async fn change_plan(
        &self,
        id: &AccountId,
        c: &PlanChange,
    ) -> interactive_services::Result<IspAccount> {
        self.inner.change_plan(id, c).await
    }
    async fn terminate(&self, id: &AccountId) -> interactive_services::Result<()> {
        self.inner.terminate(id).await
    }
    async fn list_accounts(
        &self,
        include_terminated: bool,
    ) -> interactive_services::Result<Vec<AccountId>> {
        if self.no_listing {
            return Err(self.unsupported("list_accounts"));
        }
        self.inner.list_accounts(include_terminated).await
    }
}

struct World {
    clock: ManualClock,
    store: MemoryStore,
    sink: Arc<Sink>,
    provider: Watched,
}

impl World {
    fn new() -> Self {
        let clock = ManualClock::new(start());
        let store = MemoryStore::with_clock(Arc::new(clock.clone()));
        Self {
            clock,
            store,
            sink: Arc::default(),
            provider: Watched::default(),
        }
    }

    /// A new engine and reconciler on the same store: what a restart gets.
    fn reconciler(&self, concurrency: usize) -> Reconciler {
        let options = SyncOptions::new("replica-1")
            .retry(DeliveryRetry {
                max_attempts: 2,
                initial_backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
            })
            .clock(Arc::new(self.clock.clone()));
        let engine = SyncEngine::new(Arc::new(self.store.clone()), self.sink.clone(), options);
        Reconciler::new(engine).concurrency(concurrency)
    }

    async fn customers(&self, n: usize) -> Vec<AccountId> {
        let mut ids = Vec::new();
        for i in 0..n {
            let request = ProvisionRequest::builder(format!("CUST-{i}"))
                .name("Ada", "Lovelace")
                .plan("basic")
                .build();
            ids.push(
                self.provider
                    .provision(&request)
                    .await
                    .expect("provision")
                    .id,
            );
        }
        ids
    }
}

fn kinds(events: &[IspEvent]) -> Vec<(String, EventKind)> {
    events
        .iter()
        .map(|e| (e.account.to_string(), e.kind.clone()))
        .collect()
}

#[tokio::test]
async fn changes_at_the_provider_appear_once_and_a_second_pass_emits_nothing() {
    let world = World::new();
    let ids = world.customers(4).await;
    let [a, b, c, d] = ids.as_slice() else {
        panic!("four accounts")
    };
    let reconciler = world.reconciler(3);

    // First pass: baselines only.
    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Complete);
    assert!(report.baseline);
    assert_eq!((report.listed, report.changed), (4, 0));
    assert!(world.sink.events().is_empty(), "a baseline emits nothing");

    // Changes made directly at the provider.
    let p = &world.provider;
    p.change_plan(a, &PlanChange::new().plan("advanced"))
        .await
        .expect("plan");
    p.change_plan(b, &PlanChange::new().add("LightAutomation"))
        .await
        .expect("add-on");
    p.terminate(c).await.expect("terminate");
    world.clock.advance(Duration::from_secs(3600));

    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Complete);
    assert!(!report.baseline);
    assert_eq!(report.changed, 3);
    assert!(report.events.iter().all(|(_, d)| *d == Delivery::Applied));
    let events = world.sink.events();
    assert_eq!(
        kinds(&events),
        vec![
            (
                a.to_string(),
                EventKind::PlanChanged {
                    plan: Some(PlanId::new("advanced"))
                }
            ),
            (
                b.to_string(),
                EventKind::PlanChanged {
                    plan: Some(PlanId::new("basic"))
                }
            ),
            (c.to_string(), EventKind::AccountTerminated),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.occurred_at == start() + Duration::from_secs(3600))
    );
    assert!(!kinds(&events).iter().any(|(acct, _)| acct == d.as_str()));

    // Nothing new: nothing emitted, by this engine or a restarted one.
    for reconciler in [reconciler.clone(), world.reconciler(1)] {
        let report = reconciler
            .reconcile_once(CONFIG, &world.provider)
            .await
            .expect("pass");
        assert_eq!(report.outcome, ReconcileOutcome::Complete);
        assert_eq!(report.changed, 0);
        assert!(report.events.is_empty(), "{:?}", report.events);
    }
    assert_eq!(world.sink.events().len(), 3);

    let status = world.store.status(CONFIG).await.expect("status");
    assert_eq!(status.applied, 3);
    assert_eq!(
        status.last_reconcile_at,
        Some(start() + Duration::from_secs(3600))
    );
}

#[tokio::test]
async fn a_change_back_and_forth_is_reported_each_time() {
    let world = World::new();
    let ids = world.customers(1).await;
    let a = ids.first().expect("one account");
    let reconciler = world.reconciler(2);
    reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("baseline");
    for plan in ["advanced", "basic", "advanced"] {
        world
            .provider
            .change_plan(a, &PlanChange::new().plan(plan))
            .await
            .expect("plan");
        reconciler
            .reconcile_once(CONFIG, &world.provider)
            .await
            .expect("pass");
    }
    let events = world.sink.events();
    let plans: Vec<EventKind> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        plans,
        ["advanced", "basic", "advanced"]
            .map(|p| EventKind::PlanChanged {
                plan: Some(PlanId::new(p))
            })
            .to_vec()
    );
    let distinct: HashSet<&EventId> = events.iter().map(|e| &e.id).collect();
    assert_eq!(distinct.len(), 3, "three changes, three ids: {events:?}");
}

#[tokio::test]
async fn a_crash_before_the_snapshot_is_stored_emits_nothing_twice() {
    let world = World::new();
    let ids = world.customers(2).await;
    let a = ids.first().expect("account");
    world
        .reconciler(2)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("baseline");
    let before = world
        .store
        .snapshot(CONFIG, a)
        .await
        .expect("snapshot")
        .expect("a baseline snapshot");
    assert_eq!(before.version, 0);
    assert_eq!(before.plan, Some(PlanId::new("basic")));

    world
        .provider
        .change_plan(a, &PlanChange::new().plan("wsf"))
        .await
        .expect("plan");
    let report = world
        .reconciler(2)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.events.len(), 1);
    let first_id = report.events.first().expect("one event").0.clone();
    let after = world
        .store
        .snapshot(CONFIG, a)
        .await
        .expect("snapshot")
        .expect("snapshot");
    assert_eq!(after.version, 1);
    assert_eq!(after.plan, Some(PlanId::new("wsf")));

    // The crash: the event was delivered and recorded, the snapshot was not stored.
    world
        .store
        .put_snapshot(CONFIG, &before)
        .await
        .expect("roll back");
    let report = world
        .reconciler(2)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass after restart");
    assert_eq!(
        report.events,
        vec![(first_id, Delivery::AlreadyApplied)],
        "the same id, found applied"
    );
    assert_eq!(world.sink.events().len(), 1, "the sink saw the change once");
    assert_eq!(
        world
            .store
            .snapshot(CONFIG, a)
            .await
            .expect("snapshot")
            .map(|s| (s.version, s.plan)),
        Some((1, Some(PlanId::new("wsf"))))
    );
}

#[tokio::test]
async fn an_account_appearing_after_the_baseline_is_created_once() {
    let world = World::new();
    world.customers(1).await;
    let reconciler = world.reconciler(2);
    reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("baseline");
    let request = ProvisionRequest::builder("CUST-NEW")
        .name("Grace", "Hopper")
        .plan("basic")
        .build();
    let new = world.provider.provision(&request).await.expect("provision");
    for _ in 0..2 {
        reconciler
            .reconcile_once(CONFIG, &world.provider)
            .await
            .expect("pass");
    }
    assert_eq!(
        kinds(&world.sink.events()),
        vec![(new.id.to_string(), EventKind::AccountCreated)]
    );
}

#[tokio::test]
async fn failed_reads_leave_the_account_for_the_next_pass_and_keep_the_baseline_open() {
    let world = World::new();
    let ids = world.customers(3).await;
    let broken = ids.get(1).expect("account").clone();
    world
        .provider
        .failing
        .lock()
        .expect("lock")
        .insert(broken.clone());
    let reconciler = world.reconciler(2);

    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Incomplete);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems.first().map(|(id, _)| id), Some(&broken));
    let status = world.store.status(CONFIG).await.expect("status");
    assert_eq!(status.last_reconcile_at, None, "no complete pass yet");
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("HTTP 503")),
        "{status:?}"
    );

    // The vendor answers again: the account gets its baseline, not an "account created".
    world.provider.failing.lock().expect("lock").clear();
    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Complete);
    assert!(report.baseline);
    assert!(world.sink.events().is_empty(), "{:?}", world.sink.events());
    assert!(
        world
            .store
            .status(CONFIG)
            .await
            .expect("status")
            .last_reconcile_at
            .is_some()
    );
}

#[tokio::test]
async fn an_unsettled_event_keeps_the_snapshot_and_is_sent_again() {
    let world = World::new();
    let ids = world.customers(1).await;
    let a = ids.first().expect("account");
    let reconciler = world.reconciler(1);
    reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("baseline");
    world.provider.terminate(a).await.expect("terminate");

    *world.sink.refuse_kind.lock().expect("lock") = Some("AccountTerminated");
    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Incomplete);
    assert!(matches!(
        report.events.first(),
        Some((_, Delivery::Deferred { attempts: 2, .. }))
    ));
    assert_eq!(
        world
            .store
            .snapshot(CONFIG, a)
            .await
            .expect("snapshot")
            .map(|s| s.version),
        Some(0),
        "the snapshot did not move"
    );

    *world.sink.refuse_kind.lock().expect("lock") = None;
    let report = reconciler
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(report.outcome, ReconcileOutcome::Complete);
    assert_eq!(
        kinds(&world.sink.events()),
        vec![(a.to_string(), EventKind::AccountTerminated)]
    );
}

#[tokio::test]
async fn reads_run_with_bounded_concurrency() {
    let world = World::new();
    world.customers(10).await;
    world
        .reconciler(3)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(world.provider.reads.load(Ordering::SeqCst), 10);
    assert_eq!(world.provider.peak.load(Ordering::SeqCst), 3);

    let world = World::new();
    world.customers(5).await;
    world
        .reconciler(1)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(world.provider.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_provider_without_listing_is_unsupported_and_the_lease_is_shared_with_pulls() {
    let world = World::new();
    let provider = Watched {
        no_listing: true,
        ..Watched::default()
    };
    let err = world
        .reconciler(2)
        .reconcile_once(CONFIG, &provider)
        .await
        .expect_err("no listing");
    assert_eq!(err.kind(), ErrorKind::Unsupported);

    // Another holder's lease stops the pass before any read.
    assert!(
        world
            .store
            .acquire_lease(CONFIG, "replica-9", Duration::from_secs(30))
            .await
            .expect("lease")
    );
    world.customers(2).await;
    let report = world
        .reconciler(2)
        .reconcile_once(CONFIG, &world.provider)
        .await
        .expect("pass");
    assert_eq!(
        report.outcome,
        ReconcileOutcome::LeaseHeldElsewhere {
            holder: Some("replica-9".into())
        }
    );
    assert_eq!(world.provider.reads.load(Ordering::SeqCst), 0);
}
