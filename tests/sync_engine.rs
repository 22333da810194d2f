//! The sync engine: each event reaches the sink once across pull, push, restarts, injected
//! faults, concurrent engines and lease take-overs; poison is parked and replayable; transient
//! failures are retried; the status says what happened.
//!
//! Time is a [`ManualClock`] shared by the store and the engines; backoff is zero, so no test
//! waits on the wall clock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::FutureExt;
use interactive_services::sync::{
    AccountSnapshot, Claim, ClaimMode, Delivery, DeliveryRetry, EventSink, FeedState,
    IdempotencyKey, Lease, MemoryStore, NO_FEED_NOTE, ParkedEvent, PullOutcome, RunLimits,
    SinkError, StatusUpdate, SyncEngine, SyncOptions, SyncStatus, SyncStore,
};
use interactive_services::{
    AccountId, Capabilities, CredentialCheck, Cursor, Error, ErrorKind, EventId, EventKind,
    EventPage, InteractiveServicesProvider, IspAccount, IspEvent, PlanChange, ProviderKind,
    ProvisionRequest, ServicePlan,
};
use tokio::sync::{Notify, Semaphore};

const CONFIG: &str = "Main office";
const LEASE_TTL: Duration = Duration::from_secs(30);
const CLAIM_TTL: Duration = Duration::from_secs(60);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

// ---------------------------------------------------------------------------------------------
// A provider with a scripted event feed.

#[derive(Debug)]
struct Feed {
    events: Mutex<Vec<IspEvent>>,
    page_size: usize,
    capabilities: Capabilities,
    /// `events_since` answers this instead, when set.
    fail_with: Mutex<Option<fn() -> Error>>,
    /// Every cursor `events_since` was called with.
    asked: Mutex<Vec<Option<Cursor>>>,
}

impl Feed {
    fn new(page_size: usize) -> Self {
        Self {
            events: Mutex::default(),
            page_size,
            capabilities: Capabilities::ALL,
            fail_with: Mutex::default(),
            asked: Mutex::default(),
        }
    }

    fn without_feed() -> Self {
        Self {
            capabilities: Capabilities::NONE,
            ..Self::new(10)
        }
    }

    /// Appends `n` events, `evt-<k>` for the next k, occurring at `at`; answers them.
    fn push(&self, n: usize, at: DateTime<Utc>) -> Vec<IspEvent> {
        let mut events = self.events.lock().expect("lock");
        let added: Vec<IspEvent> = (0..n)
            .map(|i| event(&format!("evt-{}", events.len() + i + 1), at))
            .collect();
        events.extend(added.iter().cloned());
        added
    }

    fn all(&self) -> Vec<IspEvent> {
        self.events.lock().expect("lock").clone()
    }
}

fn event(id: &str, at: DateTime<Utc>) -> IspEvent {
    IspEvent {
        id: EventId::new(id),
        account: AccountId::new("100001"),
        occurred_at: at,
        kind: EventKind::Other {
            vendor_type: format!("test:{id}"),
        },
    }
}

#[async_trait]
impl InteractiveServicesProvider for Feed {
    fn kind(&self) -> ProviderKind {
        ProviderKind::from_static("scripted_feed")
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    async fn validate_credentials(&self) -> interactive_services::Result<CredentialCheck> {
        Err(self.unsupported("validate_credentials"))
    }
    async fn service_plans(&self) -> interactive_services::Result<Vec<ServicePlan>> {
        Ok(Vec::new())
    }
    async fn provision(&self, _: &ProvisionRequest) -> interactive_services::Result<IspAccount> {
        Err(self.unsupported("provision"))
    }
    async fn account(&self, _: &AccountId) -> interactive_services::Result<IspAccount> {
        Err(self.unsupported("account"))
    }
    async fn change_plan(
        &self,
        _: &AccountId,
        _: &PlanChange,
    ) -> interactive_services::Result<IspAccount> {
        Err(self.unsupported("change_plan"))
    }
    async fn terminate(&self, _: &AccountId) -> interactive_services::Result<()> {
        Err(self.unsupported("terminate"))
    }
    async fn events_since(
        &self,
        cursor: Option<&Cursor>,
    ) -> interactive_services::Result<EventPage> {
        self.asked.lock().expect("lock").push(cursor.cloned());
        if let Some(fail) = *self.fail_with.lock().expect("lock") {
            return Err(fail());
        }
        let from: usize = cursor.map_or(0, |c| c.as_str().parse().expect("our cursor"));
        let events = self.events.lock().expect("lock");
        let page: Vec<IspEvent> = events
            .iter()
            .skip(from)
            .take(self.page_size)
            .cloned()
            .collect();
        let next = from + page.len();
        Ok(EventPage {
            has_more: next < events.len(),
            next: Cursor::new(next.to_string()),
            events: page,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// A sink that counts, refuses, fails and waits on command.

#[derive(Debug, Default)]
struct Sink {
    /// Answer `Ok` without applying for a key already applied (the documented sink contract).
    idempotent: bool,
    /// Every call, with its key.
    calls: Mutex<Vec<IdempotencyKey>>,
    /// What was applied (after the sink's own dedupe), in order.
    applied: Mutex<Vec<EventId>>,
    keys: Mutex<HashSet<IdempotencyKey>>,
    /// Events refused permanently.
    refuse: Mutex<HashSet<EventId>>,
    /// Events that fail transiently this many more times.
    transient: Mutex<HashMap<EventId, u32>>,
    /// When set, a call for this event announces itself on `entered` and waits for a permit.
    gate: Mutex<Option<(EventId, Arc<Semaphore>)>>,
    entered: Notify,
}

impl Sink {
    fn idempotent() -> Self {
        Self {
            idempotent: true,
            ..Self::default()
        }
    }

    fn applied(&self) -> Vec<EventId> {
        self.applied.lock().expect("lock").clone()
    }

    fn calls_for(&self, id: &str) -> Vec<IdempotencyKey> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|k| k.event_id().as_str() == id)
            .cloned()
            .collect()
    }

    fn refuse(&self, id: &str) {
        self.refuse.lock().expect("lock").insert(EventId::new(id));
    }

    fn accept(&self, id: &str) {
        self.refuse.lock().expect("lock").remove(&EventId::new(id));
    }

    fn fail_transiently(&self, id: &str, times: u32) {
        self.transient
            .lock()
            .expect("lock")
            .insert(EventId::new(id), times);
    }

    /// Makes calls for `id` wait; answers the semaphore that lets them through.
    fn hold(&self, id: &str) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.gate.lock().expect("lock") = Some((EventId::new(id), gate.clone()));
        gate
    }
}

#[async_trait]
impl EventSink for Sink {
    async fn apply(
        &self,
        config: &str,
        event: &IspEvent,
        key: &IdempotencyKey,
    ) -> Result<(), SinkError> {
        assert_eq!(key.config(), config);
        assert_eq!(key.event_id(), &event.id);
        self.calls.lock().expect("lock").push(key.clone());
        let gate = self
            .gate
            .lock()
            .expect("lock")
            .as_ref()
            .filter(|(id, _)| id == &event.id)
            .map(|(_, gate)| gate.clone());
        if let Some(gate) = gate {
            self.entered.notify_one();
            gate.acquire().await.expect("open gate").forget();
        }
        // Let other tasks run between "called" and "applied", so that races have room.
        tokio::task::yield_now().await;
        {
            let mut transient = self.transient.lock().expect("lock");
            if let Some(left) = transient.get_mut(&event.id) {
                if *left > 0 {
                    *left -= 1;
                    return Err(SinkError::Transient("ledger database is restarting".into()));
                }
            }
        }
        if self.refuse.lock().expect("lock").contains(&event.id) {
            return Err(SinkError::Permanent(format!(
                "no customer for account {}",
                event.account
            )));
        }
        if self.idempotent && !self.keys.lock().expect("lock").insert(key.clone()) {
            return Ok(());
        }
        self.applied.lock().expect("lock").push(event.id.clone());
        Ok(())
    }
}

/// Each id once and nothing else, in any order.
fn assert_each_once(applied: &[EventId], expected: &[IspEvent]) {
    let mut counts: HashMap<&EventId, usize> = HashMap::new();
    for id in applied {
        *counts.entry(id).or_default() += 1;
    }
    for e in expected {
        assert_eq!(
            counts.get(&e.id).copied(),
            Some(1),
            "{} applied once; applied: {applied:?}",
            e.id
        );
    }
    assert_eq!(
        applied.len(),
        expected.len(),
        "nothing else applied: {applied:?}"
    );
}

/// Fails a test that deadlocks instead of letting it hang (a broken claim makes a gated sink
/// wait forever). A guard against hangs, not a timing assertion: nothing here comes near it.
async fn guard<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .unwrap_or_else(|_| panic!("no progress in 60 s: a delivery is stuck"))
}

fn ids(events: &[IspEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// A store that fails chosen methods once, and counts the claim and record calls it gets.

#[derive(Debug)]
struct FaultyStore {
    inner: MemoryStore,
    fail_mark_applied: AtomicU32,
    fail_put_cursor: AtomicU32,
    claims: AtomicU32,
    claim_batches: AtomicU32,
    marks: AtomicU32,
    mark_batches: AtomicU32,
}

impl FaultyStore {
    fn new(inner: MemoryStore) -> Self {
        Self {
            inner,
            fail_mark_applied: AtomicU32::new(0),
            fail_put_cursor: AtomicU32::new(0),
            claims: AtomicU32::new(0),
            claim_batches: AtomicU32::new(0),
            marks: AtomicU32::new(0),
            mark_batches: AtomicU32::new(0),
        }
    }

    fn trip(counter: &AtomicU32, operation: &'static str) -> interactive_services::Result<()> {
        let tripped = counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if tripped {
            Err(Error::unavailable(
                "faulty_store",
                operation,
                1,
                "injected fault",
            ))
        } else {
            Ok(())
        }
    }
}

type R<T> = interactive_services::Result<T>;

#[async_trait]
impl SyncStore for FaultyStore {
    async fn cursor(&self, config: &str) -> R<Option<Cursor>> {
        self.inner.cursor(config).await
    }
    async fn put_cursor(&self, config: &str, holder: &str, cursor: &Cursor) -> R<bool> {
        Self::trip(&self.fail_put_cursor, "put_cursor")?;
        self.inner.put_cursor(config, holder, cursor).await
    }
    async fn claim(
        &self,
        config: &str,
        event: &EventId,
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> R<Claim> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.inner.claim(config, event, claimant, ttl, mode).await
    }
    async fn claim_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> R<Vec<Claim>> {
        self.claim_batches.fetch_add(1, Ordering::SeqCst);
        self.inner
            .claim_batch(config, events, claimant, ttl, mode)
            .await
    }
    async fn mark_applied(&self, config: &str, event: &EventId, claimant: &str) -> R<()> {
        self.marks.fetch_add(1, Ordering::SeqCst);
        Self::trip(&self.fail_mark_applied, "mark_applied")?;
        self.inner.mark_applied(config, event, claimant).await
    }
    async fn mark_applied_batch(&self, config: &str, events: &[EventId], claimant: &str) -> R<u64> {
        self.mark_batches.fetch_add(1, Ordering::SeqCst);
        Self::trip(&self.fail_mark_applied, "mark_applied_batch")?;
        self.inner
            .mark_applied_batch(config, events, claimant)
            .await
    }
    async fn park(&self, config: &str, event: &IspEvent, reason: &str, claimant: &str) -> R<()> {
        self.inner.park(config, event, reason, claimant).await
    }
    async fn release(&self, config: &str, event: &EventId, claimant: &str) -> R<()> {
        self.inner.release(config, event, claimant).await
    }
    async fn parked(&self, config: &str) -> R<Vec<ParkedEvent>> {
        self.inner.parked(config).await
    }
    async fn parked_event(&self, config: &str, event: &EventId) -> R<Option<ParkedEvent>> {
        self.inner.parked_event(config, event).await
    }
    async fn snapshot(&self, config: &str, account: &AccountId) -> R<Option<AccountSnapshot>> {
        self.inner.snapshot(config, account).await
    }
    async fn put_snapshot(&self, config: &str, snapshot: &AccountSnapshot) -> R<()> {
        self.inner.put_snapshot(config, snapshot).await
    }
    async fn acquire_lease(&self, config: &str, holder: &str, ttl: Duration) -> R<bool> {
        self.inner.acquire_lease(config, holder, ttl).await
    }
    async fn renew_lease(&self, config: &str, holder: &str, ttl: Duration) -> R<bool> {
        self.inner.renew_lease(config, holder, ttl).await
    }
    async fn release_lease(&self, config: &str, holder: &str) -> R<()> {
        self.inner.release_lease(config, holder).await
    }
    async fn lease(&self, config: &str) -> R<Option<Lease>> {
        self.inner.lease(config).await
    }
    async fn record(&self, config: &str, update: &StatusUpdate) -> R<()> {
        self.inner.record(config, update).await
    }
    async fn status(&self, config: &str) -> R<SyncStatus> {
        self.inner.status(config).await
    }
}

// ---------------------------------------------------------------------------------------------

struct World {
    clock: interactive_services::sync::ManualClock,
    store: MemoryStore,
    /// The engines' batch size (`SyncOptions::batch_size`).
    batch: usize,
}

impl World {
    /// Engines with the default batch size: a pulled page's events are claimed and recorded
    /// in chunks.
    fn new() -> Self {
        Self::with_batch(SyncOptions::new("any").batch_size)
    }

    fn with_batch(batch: usize) -> Self {
        let clock = interactive_services::sync::ManualClock::new(start());
        let store = MemoryStore::with_clock(Arc::new(clock.clone()));
        Self {
            clock,
            store,
            batch,
        }
    }

    fn options(&self, holder: &str) -> SyncOptions {
        SyncOptions::new(holder)
            .lease_ttl(LEASE_TTL)
            .claim_ttl(CLAIM_TTL)
            .retry(DeliveryRetry {
                max_attempts: 3,
                initial_backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
            })
            .clock(Arc::new(self.clock.clone()))
            .batch_size(self.batch)
    }

    fn engine(&self, holder: &str, sink: &Arc<Sink>) -> SyncEngine {
        self.engine_on(Arc::new(self.store.clone()), holder, sink)
    }

    fn engine_on(&self, store: Arc<dyn SyncStore>, holder: &str, sink: &Arc<Sink>) -> SyncEngine {
        SyncEngine::new(store, sink.clone(), self.options(holder))
    }
}

#[tokio::test]
async fn pull_applies_in_order_pages_and_resumes_from_the_cursor() {
    let world = World::new();
    let feed = Feed::new(4);
    let first = feed.push(10, start());
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);

    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.pages, report.applied, report.skipped), (3, 10, 0));
    assert_eq!(report.cursor, Some(Cursor::new("10")));
    assert_eq!(sink.applied(), ids(&first), "in the feed's order");

    // A restart resumes after the stored cursor: only the new events are read.
    let more = feed.push(3, start());
    let engine = world.engine("replica-1", &sink);
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!((report.applied, report.skipped), (3, 0));
    assert_eq!(
        feed.asked.lock().expect("lock").last().cloned().flatten(),
        Some(Cursor::new("10")),
        "the new page was asked from the stored position"
    );
    let all: Vec<IspEvent> = first.iter().chain(&more).cloned().collect();
    assert_eq!(sink.applied(), ids(&all));

    let status = engine.status(CONFIG).await.expect("status");
    assert_eq!(status.applied, 13);
    assert_eq!(status.cursor, Some(Cursor::new("13")));
    assert_eq!(status.feed, FeedState::Available);
    assert_eq!(status.last_pull_at, Some(start()));
    assert_eq!(status.lag, Some(Duration::ZERO));
    assert!(status.is_healthy());
}

#[tokio::test]
async fn a_pull_stops_at_its_page_limit_and_the_next_one_continues() {
    let world = World::new();
    let feed = Feed::new(2);
    let events = feed.push(7, start());
    let sink = Arc::new(Sink::default());
    let engine = SyncEngine::new(
        Arc::new(world.store.clone()),
        sink.clone(),
        world.options("replica-1").max_pages(2),
    );
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::MorePending);
    assert_eq!((report.pages, report.applied), (2, 4));
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(report.applied, 3);
    assert_eq!(sink.applied(), ids(&events));
}

#[tokio::test]
async fn the_same_event_by_pull_by_push_and_after_a_restart_is_applied_once() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(3, start());
    // Not idempotent: any second delivery would show.
    let sink = Arc::new(Sink::default());

    // Pushed before it is pulled, by another replica.
    let pusher = world.engine("replica-2", &sink);
    let pushed = events.get(1).expect("event 2");
    assert_eq!(
        pusher.ingest(CONFIG, pushed).await.expect("ingest"),
        Delivery::Applied
    );

    let puller = world.engine("replica-1", &sink);
    let report = puller.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!((report.applied, report.skipped), (2, 1));

    // Pushed again after it was pulled.
    for e in &events {
        assert_eq!(
            pusher.ingest(CONFIG, e).await.expect("ingest"),
            Delivery::AlreadyApplied
        );
    }

    // A restart: new engines on the same store, the cursor rewound as if the checkpoint had
    // been lost, the feed read again from the start.
    let restarted = world.engine("replica-1", &sink);
    assert!(
        world
            .store
            .put_cursor(CONFIG, "replica-1", &Cursor::new("0"))
            .await
            .expect("rewind")
    );
    let report = restarted.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!((report.applied, report.skipped), (0, 3));
    assert_eq!(
        world
            .engine("replica-3", &sink)
            .ingest(CONFIG, pushed)
            .await
            .expect("ingest"),
        Delivery::AlreadyApplied
    );

    assert_each_once(&sink.applied(), &events);
    assert_eq!(
        sink.calls.lock().expect("lock").len(),
        3,
        "the sink was called once per event"
    );
    assert_eq!(restarted.status(CONFIG).await.expect("status").applied, 3);
}

/// Per event (batch size 1): the sink applies evt-1 and recording it fails.
#[tokio::test]
async fn a_crash_between_sink_and_store_redelivers_with_the_same_key() {
    crash_between_sink_and_store(World::with_batch(1), &["evt-1"]).await;
}

/// Batched (the default): the sink applies the chunk's three events and recording them fails;
/// all three come again with their keys.
#[tokio::test]
async fn a_crash_between_sink_and_batch_record_redelivers_with_the_same_keys() {
    crash_between_sink_and_store(World::new(), &["evt-1", "evt-2", "evt-3"]).await;
}

async fn crash_between_sink_and_store(world: World, applied_before_the_fault: &[&str]) {
    let feed = Feed::new(10);
    let events = feed.push(3, start());
    let sink = Arc::new(Sink::idempotent());
    let faulty = Arc::new(FaultyStore::new(world.store.clone()));
    faulty.fail_mark_applied.store(1, Ordering::SeqCst);

    // The sink applies, then recording fails: the pull fails, the cursor stays.
    let engine = world.engine_on(faulty.clone(), "replica-1", &sink);
    let err = engine
        .pull_once(CONFIG, &feed)
        .await
        .expect_err("store fault");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let expected: Vec<EventId> = applied_before_the_fault
        .iter()
        .map(|id| EventId::new(*id))
        .collect();
    assert_eq!(sink.applied(), expected);
    let status = world.store.status(CONFIG).await.expect("status");
    assert_eq!(status.cursor, None);
    assert_eq!(status.applied, 0);
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("injected fault")),
        "{status:?}"
    );
    assert!(!status.is_healthy());

    // Restarted at once: the crashed delivery's claim has not lapsed, so nothing moves past it.
    let restarted = world.engine_on(faulty.clone(), "replica-1", &sink);
    let before = sink.calls_for("evt-2").len();
    let report = restarted.pull_once(CONFIG, &feed).await.expect("pull");
    assert!(
        matches!(&report.outcome, PullOutcome::Stopped { event, .. } if event.as_str() == "evt-1"),
        "{report:?}"
    );
    assert_eq!(
        sink.calls_for("evt-2").len(),
        before,
        "nothing after the held event"
    );

    // Once the claim lapses, what was applied is delivered again with the same key; the
    // idempotent sink keeps one copy.
    world.clock.advance(CLAIM_TTL + Duration::from_secs(1));
    let report = restarted.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    for id in applied_before_the_fault {
        let keys = sink.calls_for(id);
        assert_eq!(keys.len(), 2, "{id} delivered again after the fault");
        assert_eq!(keys.first(), keys.last(), "with the same idempotency key");
        assert_eq!(
            keys.first().map(ToString::to_string),
            Some(format!("Main office:{id}"))
        );
    }
    assert_each_once(&sink.applied(), &events);
    let status = restarted.status(CONFIG).await.expect("status");
    assert_eq!(status.applied, 3);
    assert!(status.is_healthy(), "a later success: {status:?}");
}

#[tokio::test]
async fn a_crash_between_store_and_cursor_applies_nothing_twice() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(4, start());
    // Not idempotent: a second delivery would show.
    let sink = Arc::new(Sink::default());
    let faulty = Arc::new(FaultyStore::new(world.store.clone()));
    faulty.fail_put_cursor.store(1, Ordering::SeqCst);

    let engine = world.engine_on(faulty.clone(), "replica-1", &sink);
    engine
        .pull_once(CONFIG, &feed)
        .await
        .expect_err("store fault");
    assert_eq!(sink.applied(), ids(&events), "all applied and recorded");
    assert_eq!(world.store.cursor(CONFIG).await.expect("cursor"), None);

    let restarted = world.engine_on(faulty, "replica-1", &sink);
    let report = restarted.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.applied, report.skipped), (0, 4));
    assert_eq!(report.cursor, Some(Cursor::new("4")));
    assert_each_once(&sink.applied(), &events);
    assert_eq!(sink.calls.lock().expect("lock").len(), 4);
}

#[tokio::test]
async fn a_poison_event_is_parked_the_stream_goes_on_and_replay_applies_it() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(5, start());
    let sink = Arc::new(Sink::default());
    sink.refuse("evt-3");
    let engine = world.engine("replica-1", &sink);

    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.applied, report.parked), (4, 1));
    assert_eq!(
        report.cursor,
        Some(Cursor::new("5")),
        "the cursor moved past it"
    );
    assert_eq!(
        sink.applied(),
        ["evt-1", "evt-2", "evt-4", "evt-5"]
            .map(EventId::new)
            .to_vec()
    );

    let parked = engine.parked(CONFIG).await.expect("parked");
    assert_eq!(parked.len(), 1);
    let p = parked.first().expect("one");
    assert_eq!(p.event, *events.get(2).expect("evt-3"));
    assert_eq!(p.reason, "no customer for account 100001");
    assert_eq!(p.parked_at, start());
    assert_eq!(p.refusals, 1);
    let status = engine.status(CONFIG).await.expect("status");
    assert_eq!((status.applied, status.parked), (4, 1));

    // A pushed copy, or a pull from the start, does not deliver it again.
    let again = events.get(2).expect("evt-3");
    assert_eq!(
        engine.ingest(CONFIG, again).await.expect("ingest"),
        Delivery::AlreadyParked
    );
    assert_eq!(sink.calls_for("evt-3").len(), 1);

    // Replayed while still refused: stays parked, one more refusal.
    world.clock.advance(Duration::from_secs(60));
    let delivery = engine.replay(CONFIG, &again.id).await.expect("replay");
    assert!(matches!(delivery, Delivery::Parked { .. }), "{delivery:?}");
    let parked = engine.parked(CONFIG).await.expect("parked");
    assert_eq!(parked.first().map(|p| p.refusals), Some(2));

    // The host fixes its records; the replay applies it and it leaves the list.
    sink.accept("evt-3");
    assert_eq!(
        engine.replay(CONFIG, &again.id).await.expect("replay"),
        Delivery::Applied
    );
    assert!(engine.parked(CONFIG).await.expect("parked").is_empty());
    assert_each_once(&sink.applied(), &events);
    let status = engine.status(CONFIG).await.expect("status");
    assert_eq!((status.applied, status.parked), (5, 0));

    // Nothing is parked under that id any more.
    let err = engine
        .replay(CONFIG, &again.id)
        .await
        .expect_err("not parked");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        engine.ingest(CONFIG, again).await.expect("ingest"),
        Delivery::AlreadyApplied
    );
}

#[tokio::test]
async fn transient_sink_failures_are_retried_then_applied() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(3, start());
    let sink = Arc::new(Sink::default());
    sink.fail_transiently("evt-2", 2);
    let engine = world.engine("replica-1", &sink);

    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(
        sink.calls_for("evt-2").len(),
        3,
        "two failures, then success"
    );
    assert_eq!(sink.applied(), ids(&events));
    assert!(engine.parked(CONFIG).await.expect("parked").is_empty());
}

#[tokio::test]
async fn exhausted_retries_stop_the_pull_before_the_event_and_keep_the_cursor() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(3, start());
    let sink = Arc::new(Sink::default());
    sink.fail_transiently("evt-2", 100);
    let engine = world.engine("replica-1", &sink);
    world.clock.advance(Duration::from_secs(300));

    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    match &report.outcome {
        PullOutcome::Stopped { event, reason } => {
            assert_eq!(event.as_str(), "evt-2");
            assert!(reason.contains("3 attempt(s)"), "{reason}");
            assert!(reason.contains("ledger database is restarting"), "{reason}");
        }
        other => panic!("expected a stop, got {other:?}"),
    }
    assert_eq!(sink.calls_for("evt-2").len(), 3, "bounded attempts");
    assert_eq!(sink.calls_for("evt-3").len(), 0, "nothing after it");
    assert_eq!(report.cursor, None);
    let status = engine.status(CONFIG).await.expect("status");
    assert_eq!(status.cursor, None);
    assert_eq!(
        status.lag,
        Some(Duration::from_secs(300)),
        "the age of the stuck event"
    );
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("evt-2"))
    );
    assert!(
        engine.parked(CONFIG).await.expect("parked").is_empty(),
        "not parked"
    );

    // The sink recovers; the next pull goes on from there, without evt-1 twice.
    sink.transient.lock().expect("lock").clear();
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.applied, report.skipped), (2, 1));
    assert_each_once(&sink.applied(), &events);
}

#[tokio::test]
async fn a_provider_without_a_feed_is_a_status_not_an_error() {
    let world = World::new();
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);

    // Says so in its capabilities: not even asked.
    let feed = Feed::without_feed();
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::NoFeed);
    assert!(feed.asked.lock().expect("lock").is_empty());

    // Claims a feed but answers Unsupported.
    let feed = Feed::new(10);
    *feed.fail_with.lock().expect("lock") =
        Some(|| Error::unsupported("scripted_feed", "events_since"));
    for _ in 0..3 {
        let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
        assert_eq!(report.outcome, PullOutcome::NoFeed);
    }
    let status = engine.status(CONFIG).await.expect("status");
    assert_eq!(status.feed, FeedState::NoFeed);
    assert_eq!(status.feed.note(), Some(NO_FEED_NOTE));
    assert_eq!(
        NO_FEED_NOTE,
        "this provider has no event feed; use the reconciler"
    );
    assert_eq!(status.last_error, None, "no error storm");
    assert_eq!(status.last_pull_at, Some(start()));
}

#[tokio::test]
async fn a_failing_feed_is_an_error_recorded_in_the_status() {
    let world = World::new();
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);
    let feed = Feed::new(10);
    *feed.fail_with.lock().expect("lock") = Some(|| {
        Error::unavailable(
            "scripted_feed",
            "events_since",
            4,
            "HTTP 503 from the vendor",
        )
    });
    let err = engine
        .pull_once(CONFIG, &feed)
        .await
        .expect_err("feed down");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let status = engine.status(CONFIG).await.expect("status");
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("HTTP 503")),
        "{status:?}"
    );
    assert_eq!(status.cursor, None);
}

#[tokio::test]
async fn a_blank_configuration_name_is_refused() {
    let world = World::new();
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);
    let err = engine
        .pull_once("  ", &Feed::new(1))
        .await
        .expect_err("blank");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    let err = engine
        .ingest("", &event("evt-1", start()))
        .await
        .expect_err("blank");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn one_lease_per_configuration_and_a_lapsed_lease_is_taken_over() {
    let world = World::new();
    let feed = Feed::new(10);
    let first = feed.push(2, start());
    let sink = Arc::new(Sink::default());
    let a = world.engine("replica-a", &sink);
    let b = world.engine("replica-b", &sink);

    assert_eq!(
        a.pull_once(CONFIG, &feed).await.expect("pull").outcome,
        PullOutcome::CaughtUp
    );
    let more = feed.push(2, start());
    let report = b.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(
        report.outcome,
        PullOutcome::LeaseHeldElsewhere {
            holder: Some("replica-a".into())
        }
    );
    assert_eq!(report.applied, 0);
    let status = b.status(CONFIG).await.expect("status");
    assert_eq!(
        status.lease.as_ref().map(|l| l.holder.as_str()),
        Some("replica-a")
    );

    // Another configuration is free.
    assert_eq!(
        b.pull_once("Branch office", &Feed::new(1))
            .await
            .expect("pull")
            .outcome,
        PullOutcome::CaughtUp
    );

    // replica-a stops pulling (it crashed): after the lease time, replica-b takes over.
    world.clock.advance(LEASE_TTL - Duration::from_secs(1));
    assert!(matches!(
        b.pull_once(CONFIG, &feed).await.expect("pull").outcome,
        PullOutcome::LeaseHeldElsewhere { .. }
    ));
    world.clock.advance(Duration::from_secs(2));
    let report = b.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(report.applied, 2);
    assert!(matches!(
        a.pull_once(CONFIG, &feed).await.expect("pull").outcome,
        PullOutcome::LeaseHeldElsewhere { holder: Some(h) } if h == "replica-b"
    ));

    // A graceful shutdown hands over at once.
    b.release(CONFIG).await.expect("release");
    assert_eq!(
        a.pull_once(CONFIG, &feed).await.expect("pull").outcome,
        PullOutcome::CaughtUp
    );
    let all: Vec<IspEvent> = first.into_iter().chain(more).collect();
    assert_each_once(&sink.applied(), &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_pulling_at_once_apply_each_event_once() {
    let world = World::new();
    let feed = Arc::new(Feed::new(7));
    let events = feed.push(40, start());
    let sink = Arc::new(Sink::default());
    let a = world.engine("replica-a", &sink);
    let b = world.engine("replica-b", &sink);

    let pull = |engine: SyncEngine| {
        let feed = feed.clone();
        tokio::spawn(async move { engine.pull_once(CONFIG, feed.as_ref()).await })
    };
    let (ra, rb) = (pull(a.clone()), pull(b.clone()));
    let ra = guard(ra).await.expect("task").expect("pull");
    let rb = guard(rb).await.expect("task").expect("pull");
    let outcomes = [&ra.outcome, &rb.outcome];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, PullOutcome::LeaseHeldElsewhere { .. }))
            .count(),
        1,
        "exactly one holds the lease: {outcomes:?}"
    );
    assert_eq!(ra.applied + rb.applied, 40);
    assert_each_once(&sink.applied(), &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_whose_lease_lapsed_is_fenced_and_the_new_holder_finishes() {
    // Stalled mid-page, replica-a finds out when it renews its lease before the next event;
    // stalled on the page's last event, only the fenced cursor write stops it.
    for (stall_on, skipped) in [(3, 2), (6, 5)] {
        lease_lapses_while_stalled_on(World::with_batch(1), stall_on, "", skipped).await;
    }
    // Batched, replica-a's earlier events of the chunk are applied but not yet recorded, and
    // still claimed: replica-b stops before the first of them and skips nothing.
    for stall_on in [3, 6] {
        lease_lapses_while_stalled_on(World::new(), stall_on, "evt-1", 0).await;
    }
}

/// replica-b stops before `stops_before` (the stalled event when empty).
async fn lease_lapses_while_stalled_on(
    world: World,
    stall_on: usize,
    stops_before: &str,
    skipped: u32,
) {
    let feed = Arc::new(Feed::new(10));
    let events = feed.push(6, start());
    let sink = Arc::new(Sink::default());
    let stalled_id = format!("evt-{stall_on}");
    let stops_before = if stops_before.is_empty() {
        stalled_id.clone()
    } else {
        stops_before.to_owned()
    };
    let gate = sink.hold(&stalled_id);
    let a = world.engine("replica-a", &sink);
    let b = world.engine("replica-b", &sink);

    // replica-a stalls inside the sink.
    let stalled = {
        let (a, feed) = (a.clone(), feed.clone());
        tokio::spawn(async move { a.pull_once(CONFIG, feed.as_ref()).await })
    };
    guard(sink.entered.notified()).await;

    // Its lease lapses (not yet its claim on the stalled event): replica-b takes over, skips
    // what replica-a recorded and stops before the event replica-a still holds.
    world.clock.advance(LEASE_TTL + Duration::from_secs(1));
    let report = guard(b.pull_once(CONFIG, feed.as_ref()))
        .await
        .expect("pull");
    assert!(
        matches!(&report.outcome, PullOutcome::Stopped { event, .. } if *event.as_str() == stops_before),
        "{report:?}"
    );
    assert_eq!((report.applied, report.skipped), (0, skipped));

    // replica-a wakes up, records the event, finds its lease gone and stops without moving
    // the cursor.
    gate.add_permits(1);
    let report = guard(stalled).await.expect("task").expect("pull");
    assert_eq!(
        report.outcome,
        PullOutcome::LeaseLost,
        "stalled on {stalled_id}"
    );
    assert_eq!(report.cursor, None);
    assert_eq!(world.store.cursor(CONFIG).await.expect("cursor"), None);
    let status = world.store.status(CONFIG).await.expect("status");
    assert_eq!(status.lease.map(|l| l.holder).as_deref(), Some("replica-b"));

    let report = guard(b.pull_once(CONFIG, feed.as_ref()))
        .await
        .expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(report.cursor, Some(Cursor::new("6")));
    assert_each_once(&sink.applied(), &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_during_the_pull_of_the_same_event_applies_it_once() {
    let world = World::new();
    let feed = Arc::new(Feed::new(10));
    let events = feed.push(3, start());
    let sink = Arc::new(Sink::default());
    let target = events.get(1).expect("evt-2").clone();

    // The pull is inside the sink with evt-2 when the callback pushes it.
    let gate = sink.hold("evt-2");
    let puller = world.engine("replica-a", &sink);
    let pulling = {
        let (puller, feed) = (puller.clone(), feed.clone());
        tokio::spawn(async move { puller.pull_once(CONFIG, feed.as_ref()).await })
    };
    guard(sink.entered.notified()).await;
    let pusher = world.engine("replica-b", &sink);
    assert_eq!(
        guard(pusher.ingest(CONFIG, &target)).await.expect("ingest"),
        Delivery::HeldElsewhere
    );
    gate.add_permits(1);
    assert_eq!(
        guard(pulling).await.expect("task").expect("pull").outcome,
        PullOutcome::CaughtUp
    );
    assert_eq!(
        guard(pusher.ingest(CONFIG, &target)).await.expect("ingest"),
        Delivery::AlreadyApplied
    );
    assert_each_once(&sink.applied(), &events);

    // The other way round: the push is inside the sink when the pull reaches the event. The
    // pull stops before it rather than moving the cursor past an event not yet recorded.
    let feed = Arc::new(Feed::new(10));
    let events = feed.push(3, start());
    let sink = Arc::new(Sink::default());
    let target = events.get(1).expect("evt-2").clone();
    let gate = sink.hold("evt-2");
    let config = "Second office";
    let pusher = world.engine("replica-b", &sink);
    let pushing = {
        let (pusher, target) = (pusher.clone(), target.clone());
        tokio::spawn(async move { pusher.ingest(config, &target).await })
    };
    guard(sink.entered.notified()).await;
    let puller = world.engine("replica-a", &sink);
    let report = guard(puller.pull_once(config, feed.as_ref()))
        .await
        .expect("pull");
    assert!(
        matches!(&report.outcome, PullOutcome::Stopped { event, .. } if *event == target.id),
        "{report:?}"
    );
    assert_eq!(report.cursor, None);
    gate.add_permits(1);
    assert_eq!(
        guard(pushing).await.expect("task").expect("ingest"),
        Delivery::Applied
    );
    let report = guard(puller.pull_once(config, feed.as_ref()))
        .await
        .expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.applied, report.skipped), (1, 2));
    assert_each_once(&sink.applied(), &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_pulls_and_pushes_of_many_events_apply_each_once() {
    let world = World::new();
    let feed = Arc::new(Feed::new(5));
    let events = feed.push(60, start());
    // Not idempotent: only the engine's claims keep copies out.
    let sink = Arc::new(Sink::default());
    let puller = world.engine("replica-a", &sink);
    let pushers = [
        world.engine("replica-b", &sink),
        world.engine("replica-c", &sink),
    ];

    let pulling = {
        let (puller, feed) = (puller.clone(), feed.clone());
        tokio::spawn(async move {
            let mut reports = Vec::new();
            loop {
                let report = puller.pull_once(CONFIG, feed.as_ref()).await.expect("pull");
                let done = report.outcome == PullOutcome::CaughtUp;
                reports.push(report);
                if done {
                    return reports;
                }
            }
        })
    };
    let pushing: Vec<_> = pushers
        .iter()
        .enumerate()
        .map(|(n, pusher)| {
            let (pusher, events) = (pusher.clone(), events.clone());
            tokio::spawn(async move {
                let mut order: Vec<&IspEvent> = events.iter().collect();
                if n == 1 {
                    order.reverse();
                }
                let mut settled = 0;
                for e in order {
                    if pusher.ingest(CONFIG, e).await.expect("ingest").is_settled() {
                        settled += 1;
                    }
                }
                settled
            })
        })
        .collect();
    let reports = guard(pulling).await.expect("task");
    for p in pushing {
        guard(p).await.expect("task");
    }
    assert!(!reports.is_empty());
    assert_each_once(&sink.applied(), &events);
    assert_eq!(
        sink.calls.lock().expect("lock").len(),
        60,
        "the sink was never even called twice for one event"
    );
    let status = puller.status(CONFIG).await.expect("status");
    assert_eq!(status.applied, 60);
    assert_eq!(status.cursor, Some(Cursor::new("60")));
}

#[tokio::test]
async fn claims_lapse_renew_and_release_in_the_memory_store() {
    let world = World::new();
    let store = &world.store;
    let id = EventId::new("evt-1");
    let claim = |who: &'static str| {
        let id = id.clone();
        async move {
            store
                .claim(CONFIG, &id, who, CLAIM_TTL, ClaimMode::Deliver)
                .await
                .expect("claim")
        }
    };
    assert_eq!(claim("x").await, Claim::Claimed);
    assert!(matches!(claim("y").await, Claim::HeldElsewhere { claimant, .. } if claimant == "x"));
    // The holder renews its own claim.
    world.clock.advance(CLAIM_TTL - Duration::from_secs(1));
    assert_eq!(claim("x").await, Claim::Claimed);
    world.clock.advance(Duration::from_secs(2));
    assert!(
        matches!(claim("y").await, Claim::HeldElsewhere { .. }),
        "renewed"
    );
    // A release by someone else changes nothing; by the holder, frees it.
    store.release(CONFIG, &id, "y").await.expect("release");
    assert!(matches!(claim("y").await, Claim::HeldElsewhere { .. }));
    store.release(CONFIG, &id, "x").await.expect("release");
    assert_eq!(claim("y").await, Claim::Claimed);
    // A lapsed claim is taken over.
    world.clock.advance(CLAIM_TTL + Duration::from_secs(1));
    assert_eq!(claim("z").await, Claim::Claimed);
    store.mark_applied(CONFIG, &id, "z").await.expect("mark");
    store.mark_applied(CONFIG, &id, "z").await.expect("again");
    assert_eq!(claim("x").await, Claim::AlreadyApplied);
    assert_eq!(store.status(CONFIG).await.expect("status").applied, 1);
}

#[tokio::test]
async fn only_the_live_lease_holder_moves_the_cursor() {
    let world = World::new();
    let store = &world.store;
    let put = |holder: &'static str, cursor: &'static str| async move {
        store
            .put_cursor(CONFIG, holder, &Cursor::new(cursor))
            .await
            .expect("put")
    };
    assert!(!put("x", "1").await, "no lease yet");
    assert!(
        store
            .acquire_lease(CONFIG, "x", LEASE_TTL)
            .await
            .expect("lease")
    );
    assert!(
        !store
            .acquire_lease(CONFIG, "y", LEASE_TTL)
            .await
            .expect("lease")
    );
    assert!(put("x", "2").await);
    assert!(!put("y", "3").await, "not the holder");
    world.clock.advance(LEASE_TTL + Duration::from_secs(1));
    assert!(!put("x", "4").await, "a lapsed lease");
    assert!(
        store
            .acquire_lease(CONFIG, "y", LEASE_TTL)
            .await
            .expect("lease")
    );
    assert!(
        !store
            .renew_lease(CONFIG, "x", LEASE_TTL)
            .await
            .expect("renew")
    );
    assert!(put("y", "5").await);
    assert_eq!(
        store.cursor(CONFIG).await.expect("cursor"),
        Some(Cursor::new("5"))
    );
    store.release_lease(CONFIG, "x").await.expect("not x's");
    assert_eq!(
        store.lease(CONFIG).await.expect("lease").map(|l| l.holder),
        Some("y".to_owned())
    );
    store.release_lease(CONFIG, "y").await.expect("release");
    assert_eq!(store.lease(CONFIG).await.expect("lease"), None);
    assert!(!put("y", "6").await, "released");
}

#[tokio::test]
async fn the_idempotency_key_is_unambiguous() {
    let plain = IdempotencyKey::new("Main office", EventId::new("evt-1"));
    assert_eq!(plain.to_string(), "Main office:evt-1");
    // A colon in the configuration name cannot make two keys look alike.
    let a = IdempotencyKey::new("a:b", EventId::new("c"));
    let b = IdempotencyKey::new("a", EventId::new("b:c"));
    assert_ne!(a.to_string(), b.to_string());
    assert_eq!(a.to_string(), "a%3Ab:c");
    assert_eq!(
        IdempotencyKey::new("100%", EventId::new("x")).to_string(),
        "100%25:x"
    );
}

#[tokio::test]
async fn counters_in_the_status_count_each_event_once() {
    let world = World::new();
    let feed = Feed::new(3);
    feed.push(5, start());
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);
    engine.pull_once(CONFIG, &feed).await.expect("pull");
    for e in feed.all() {
        engine.ingest(CONFIG, &e).await.expect("ingest");
    }
    assert_eq!(sink.calls.lock().expect("lock").len(), 5);
    assert_eq!(engine.status(CONFIG).await.expect("status").applied, 5);
}

/// A pulled page is claimed and recorded a chunk at a time: 250 events in pages of 100 and
/// chunks of 40 cost 8 claim calls and 8 record calls (pages of 100, 100 and 50 events:
/// 40+40+20, 40+40+20, 40+10),
/// and no per-event call; each event reaches the sink once and is counted once.
#[tokio::test]
async fn a_page_is_claimed_and_recorded_a_chunk_at_a_time() {
    let world = World::with_batch(40);
    let feed = Feed::new(100);
    let events = feed.push(250, start());
    let sink = Arc::new(Sink::default());
    let store = Arc::new(FaultyStore::new(world.store.clone()));
    let engine = world.engine_on(store.clone(), "replica-1", &sink);
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!((report.pages, report.applied), (3, 250));
    assert_each_once(&sink.applied(), &events);
    let calls = |c: &AtomicU32| c.load(Ordering::SeqCst);
    assert_eq!(
        (calls(&store.claim_batches), calls(&store.mark_batches)),
        (8, 8)
    );
    assert_eq!((calls(&store.claims), calls(&store.marks)), (0, 0));
    assert_eq!(engine.status(CONFIG).await.expect("status").applied, 250);
    // A second pull finds nothing new.
    let report = engine.pull_once(CONFIG, &feed).await.expect("pull");
    assert_eq!((report.applied, report.skipped), (0, 0));
}

/// A chunk that stops before an event it cannot settle gives back its claims on the events
/// after it: a push of one of them is applied at once rather than waiting for the claim to
/// lapse; the pull's applied predecessors are recorded.
#[tokio::test]
async fn a_stopped_chunk_gives_its_later_claims_back() {
    let world = World::new();
    let feed = Feed::new(10);
    let events = feed.push(5, start());
    let sink = Arc::new(Sink::default());
    sink.fail_transiently("evt-2", 100);
    let puller = world.engine("replica-1", &sink);
    let report = puller.pull_once(CONFIG, &feed).await.expect("pull");
    assert!(
        matches!(&report.outcome, PullOutcome::Stopped { event, .. } if event.as_str() == "evt-2"),
        "{report:?}"
    );
    assert_eq!(report.applied, 1);
    assert_eq!(world.store.status(CONFIG).await.expect("status").applied, 1);
    let later = events.get(3).expect("evt-4");
    let pusher = world.engine("replica-2", &sink);
    assert_eq!(
        pusher.ingest(CONFIG, later).await.expect("ingest"),
        Delivery::Applied
    );
    assert_eq!(sink.calls_for("evt-4").len(), 1);
}

/// Waits (in paused tokio time: each step moves time only when every task is idle) until
/// `done` holds; gives up after a virtual day.
async fn eventually(done: impl Fn() -> bool) {
    for _ in 0..24 * 60 * 60 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("not reached within a virtual day");
}

/// `run` pulls until caught up, then once an interval, goes on after failed pulls, and at
/// shutdown gives the lease up so that another replica pulls at once.
#[tokio::test(start_paused = true)]
async fn run_keeps_a_configuration_in_sync_until_shut_down() {
    let world = World::new();
    let feed = Arc::new(Feed::new(100));
    let mut events = feed.push(250, start());
    let sink = Arc::new(Sink::default());
    let engine = world.engine("replica-1", &sink);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (engine, feed) = (engine.clone(), feed.clone());
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            engine
                .run(
                    CONFIG,
                    feed.as_ref(),
                    Duration::from_secs(60),
                    RunLimits::default().max_backoff(Duration::from_secs(600)),
                    shutdown,
                )
                .await
        })
    };
    eventually(|| sink.applied().len() == 250).await;

    // New events: the next pull, an interval later, takes them.
    events.extend(feed.push(10, start()));
    eventually(|| sink.applied().len() == 260).await;

    // The feed fails for a while: the run goes on, and catches up once it is back.
    *feed.fail_with.lock().expect("lock") = Some(|| {
        Error::unavailable(
            "feed",
            "events_since",
            1,
            "the vendor is down for maintenance",
        )
    });
    events.extend(feed.push(5, start()));
    eventually(|| {
        world
            .store
            .status(CONFIG)
            .now_or_never()
            .and_then(Result::ok)
            .and_then(|s| s.last_error)
            .is_some_and(|e| e.message.contains("maintenance"))
    })
    .await;
    *feed.fail_with.lock().expect("lock") = None;
    eventually(|| sink.applied().len() == 265).await;

    stop.send(()).expect("the run is waiting");
    let report = task.await.expect("the run task");
    assert_eq!((report.applied, report.parked), (265, 0), "{report:?}");
    assert!(report.failed >= 1, "{report:?}");
    assert!(report.pulls >= 4, "{report:?}");
    assert_each_once(&sink.applied(), &events);
    assert_eq!(world.store.lease(CONFIG).await.expect("lease"), None);
    let other = world.engine("replica-2", &sink);
    let report = other.pull_once(CONFIG, feed.as_ref()).await.expect("pull");
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
}
