//! The `SyncStore` conformance: the same checks against [`MemoryStore`], the SQLite store and the
//! PostgreSQL store, and what only the database stores promise (durability across a reopen,
//! concurrent claimants and lease holders, the host-transaction path, corrupt rows, newer
//! schemas).
//!
//! Time: the in-memory and SQLite stores run on a [`ManualClock`]; the PostgreSQL store decides
//! expiry by the database's clock, so its checks use short real TTLs (300 ms) and wait past them
//! (400 ms) — waiting, not timing.
//!
//! PostgreSQL: the tests read the server's URL from `INTERACTIVE_SERVICES_TEST_PG` (start a
//! throwaway server with `export INTERACTIVE_SERVICES_TEST_PG=$(.ci/postgres)`). Each test
//! works in a schema of its own. Without the variable they print a line and pass, except under
//! CI (`CI` set), where they fail.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use interactive_services::sync::{
    AccountSnapshot, CallbackOutcome, CallbackRecord, Claim, ClaimMode, FeedState, LastError,
    MAX_REASONS, ManualClock, MemoryStore, OTHER_REASON, StatusUpdate, SyncStatus, SyncStore,
};
use interactive_services::{
    AccountId, AccountStatus, AddOn, Cursor, EventId, EventKind, FeatureId, IspEvent, PlanId,
};

/// Claim and lease lifetime in the checks that let them lapse.
const TTL: Duration = Duration::from_millis(300);
/// Long enough for a [`TTL`] to lapse.
const PAST_TTL: Duration = Duration::from_millis(400);
/// Long enough for a claim or lease never to lapse during a test.
const LONG: Duration = Duration::from_secs(600);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// How time passes for a store under test.
enum Time {
    /// The store's clock; moved by the test.
    Manual(ManualClock),
    /// The database's own clock; the test waits.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Real,
}

struct Subject {
    name: &'static str,
    store: Arc<dyn SyncStore>,
    time: Time,
}

impl Subject {
    fn manual(name: &'static str, store: Arc<dyn SyncStore>, clock: ManualClock) -> Self {
        Self {
            name,
            store,
            time: Time::Manual(clock),
        }
    }

    async fn pass(&self, by: Duration) {
        match &self.time {
            Time::Manual(clock) => clock.advance(by),
            Time::Real => tokio::time::sleep(by).await,
        }
    }

    /// A time no later than the store's now.
    fn not_after_now(&self) -> DateTime<Utc> {
        match &self.time {
            Time::Manual(clock) => interactive_services::sync::Clock::now(clock),
            // The database runs on this machine; allow a little skew anyway.
            Time::Real => Utc::now() - chrono::TimeDelta::seconds(5),
        }
    }
}

fn event(id: &str) -> IspEvent {
    IspEvent {
        id: EventId::new(id),
        account: AccountId::new("100001"),
        occurred_at: start() + chrono::TimeDelta::nanoseconds(123_456_789),
        kind: EventKind::PlanChanged {
            plan: Some(PlanId::new(format!("plan for {id}"))),
        },
    }
}

fn id(s: &str) -> EventId {
    EventId::new(s)
}

fn held_by(claim: &Claim) -> Option<&str> {
    match claim {
        Claim::HeldElsewhere { claimant, .. } => Some(claimant),
        _ => None,
    }
}

/// Every check of the conformance, each on a configuration of its own.
async fn conformance(s: &Subject) {
    eprintln!("conformance: {}", s.name);
    cursor_is_fenced_by_the_lease(s).await;
    claims_answer_in_order(s).await;
    claims_lapse_and_are_released(s).await;
    mark_applied_is_idempotent(s).await;
    parked_events_and_replays(s).await;
    snapshots(s).await;
    leases(s).await;
    status(s).await;
    callback_traffic(s).await;
}

async fn cursor_is_fenced_by_the_lease(s: &Subject) {
    let store = &s.store;
    let cfg = "cursor";
    let (c1, c2, c3) = (Cursor::new("c1"), Cursor::new("c2"), Cursor::new("c3"));
    assert_eq!(store.cursor(cfg).await.unwrap(), None, "{}", s.name);
    assert!(!store.put_cursor(cfg, "a", &c1).await.unwrap(), "no lease");
    assert_eq!(store.cursor(cfg).await.unwrap(), None);

    assert!(store.acquire_lease(cfg, "a", TTL).await.unwrap());
    assert!(store.put_cursor(cfg, "a", &c1).await.unwrap());
    assert_eq!(store.cursor(cfg).await.unwrap(), Some(c1.clone()));
    assert!(
        !store.put_cursor(cfg, "b", &c2).await.unwrap(),
        "not b's lease"
    );
    assert_eq!(store.cursor(cfg).await.unwrap(), Some(c1.clone()));

    s.pass(PAST_TTL).await;
    assert!(
        !store.put_cursor(cfg, "a", &c2).await.unwrap(),
        "{}: a lapsed lease does not move the cursor",
        s.name
    );
    assert!(store.acquire_lease(cfg, "b", LONG).await.unwrap());
    assert!(store.put_cursor(cfg, "b", &c2).await.unwrap());
    assert!(
        !store.put_cursor(cfg, "a", &c3).await.unwrap(),
        "taken over"
    );
    assert_eq!(store.cursor(cfg).await.unwrap(), Some(c2.clone()));
    assert_eq!(store.status(cfg).await.unwrap().cursor, Some(c2));
    assert_eq!(store.cursor("cursor, elsewhere").await.unwrap(), None);
}

async fn claims_answer_in_order(s: &Subject) {
    let store = &s.store;
    let cfg = "claims";
    let e1 = event("e1");
    let before = s.not_after_now();

    assert_eq!(
        store
            .claim(cfg, &e1.id, "x", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store
            .claim(cfg, &e1.id, "x", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Claimed,
        "{}: the holder renews",
        s.name
    );
    for mode in [ClaimMode::Deliver, ClaimMode::Replay] {
        match store.claim(cfg, &e1.id, "y", LONG, mode).await.unwrap() {
            Claim::HeldElsewhere { claimant, until } => {
                assert_eq!(claimant, "x");
                assert!(until >= before + chrono::TimeDelta::seconds(590), "{until}");
            }
            other => panic!("{}: {other:?}", s.name),
        }
    }

    // Parked beats held elsewhere; a replay may take a parked event.
    store.park(cfg, &e1, "refused", "x").await.unwrap();
    assert_eq!(
        store
            .claim(cfg, &e1.id, "y", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Parked
    );
    assert_eq!(
        store
            .claim(cfg, &e1.id, "y", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store
            .claim(cfg, &e1.id, "z", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Parked,
        "{}: parked comes before held elsewhere",
        s.name
    );
    let replay = store
        .claim(cfg, &e1.id, "z", LONG, ClaimMode::Replay)
        .await
        .unwrap();
    assert_eq!(held_by(&replay), Some("y"), "{}: {replay:?}", s.name);

    // Applied beats everything.
    store.mark_applied(cfg, &e1.id, "y").await.unwrap();
    for mode in [ClaimMode::Deliver, ClaimMode::Replay] {
        assert_eq!(
            store.claim(cfg, &e1.id, "z", LONG, mode).await.unwrap(),
            Claim::AlreadyApplied
        );
    }
    assert_eq!(store.parked_event(cfg, &e1.id).await.unwrap(), None);

    // Applied while parked and held: still applied first.
    let e2 = event("e2");
    store.park(cfg, &e2, "refused", "nobody").await.unwrap();
    assert_eq!(
        store
            .claim(cfg, &e2.id, "x", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed
    );
    store
        .mark_applied(cfg, &e2.id, "someone else")
        .await
        .unwrap();
    assert_eq!(
        store
            .claim(cfg, &e2.id, "y", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::AlreadyApplied
    );
    // An event of another configuration is another event.
    assert_eq!(
        store
            .claim("claims, elsewhere", &e1.id, "z", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Claimed
    );
}

async fn claims_lapse_and_are_released(s: &Subject) {
    let store = &s.store;
    let cfg = "expiry";
    let e = id("e");
    let deliver = ClaimMode::Deliver;
    assert_eq!(
        store.claim(cfg, &e, "x", TTL, deliver).await.unwrap(),
        Claim::Claimed
    );
    let held = store.claim(cfg, &e, "y", TTL, deliver).await.unwrap();
    assert_eq!(held_by(&held), Some("x"));

    s.pass(PAST_TTL).await;
    assert_eq!(
        store.claim(cfg, &e, "y", LONG, deliver).await.unwrap(),
        Claim::Claimed,
        "{}: a lapsed claim is taken over",
        s.name
    );
    let held = store.claim(cfg, &e, "x", LONG, deliver).await.unwrap();
    assert_eq!(held_by(&held), Some("y"));

    store.release(cfg, &e, "x").await.unwrap();
    let held = store.claim(cfg, &e, "x", LONG, deliver).await.unwrap();
    assert_eq!(held_by(&held), Some("y"), "only the holder releases");

    store.release(cfg, &e, "y").await.unwrap();
    assert_eq!(
        store.claim(cfg, &e, "x", LONG, deliver).await.unwrap(),
        Claim::Claimed,
        "{}: a released claim is free at once",
        s.name
    );
}

async fn mark_applied_is_idempotent(s: &Subject) {
    let store = &s.store;
    let cfg = "applied";
    let e1 = event("e1");
    assert_eq!(
        store
            .claim(cfg, &e1.id, "x", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::Claimed
    );
    store.mark_applied(cfg, &e1.id, "x").await.unwrap();
    store.mark_applied(cfg, &e1.id, "x").await.unwrap();
    store.mark_applied(cfg, &e1.id, "other").await.unwrap();
    assert_eq!(store.status(cfg).await.unwrap().applied, 1, "{}", s.name);

    store
        .mark_applied(cfg, &id("e2"), "unclaimed")
        .await
        .unwrap();
    assert_eq!(store.status(cfg).await.unwrap().applied, 2);
    assert_eq!(
        store
            .claim(cfg, &id("e2"), "y", LONG, ClaimMode::Deliver)
            .await
            .unwrap(),
        Claim::AlreadyApplied
    );

    // An applied event is not parked.
    store.park(cfg, &e1, "too late", "x").await.unwrap();
    assert_eq!(store.parked(cfg).await.unwrap(), Vec::new());
    let status = store.status(cfg).await.unwrap();
    assert_eq!((status.applied, status.parked), (2, 0), "{}", s.name);
}

async fn parked_events_and_replays(s: &Subject) {
    let store = &s.store;
    let cfg = "parked";
    let (p1, p2, p3) = (event("p1"), event("p2"), event("p3"));
    let step = Duration::from_millis(20);
    // Parked in the order p2, p1, p3.
    for (e, reason) in [(&p2, "two"), (&p1, "one"), (&p3, "three")] {
        assert_eq!(
            store
                .claim(cfg, &e.id, "d", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::Claimed
        );
        store.park(cfg, e, reason, "d").await.unwrap();
        s.pass(step).await;
    }
    let ids = |parked: &[interactive_services::sync::ParkedEvent]| {
        parked
            .iter()
            .map(|p| p.event.id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let parked = store.parked(cfg).await.unwrap();
    assert_eq!(ids(&parked), ["p2", "p1", "p3"], "{}: oldest first", s.name);
    let first = &parked[0];
    assert_eq!(first.config, cfg);
    assert_eq!(first.event, p2, "the whole event comes back");
    assert_eq!(first.reason, "two");
    assert_eq!(first.refusals, 1);
    assert!(first.parked_at >= s.not_after_now() - chrono::TimeDelta::seconds(60));
    assert_eq!(store.status(cfg).await.unwrap().parked, 3);
    assert_eq!(store.parked("parked, elsewhere").await.unwrap(), Vec::new());

    // A replay refused again: the reason, time and refusal count change, and the park drops
    // the replay's claim.
    assert_eq!(
        store
            .claim(cfg, &p2.id, "r", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed
    );
    store.park(cfg, &p2, "still refused", "r").await.unwrap();
    let again = store.parked_event(cfg, &p2.id).await.unwrap().unwrap();
    assert_eq!(
        (again.reason.as_str(), again.refusals),
        ("still refused", 2)
    );
    assert!(again.parked_at > first.parked_at, "{}", s.name);
    assert_eq!(
        ids(&store.parked(cfg).await.unwrap()),
        ["p1", "p3", "p2"],
        "{}: the re-parked event is the newest",
        s.name
    );
    assert_eq!(
        store
            .claim(cfg, &p2.id, "s", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed,
        "the park dropped r's claim"
    );

    // A park by someone else leaves the holder's claim alone.
    assert_eq!(
        store
            .claim(cfg, &p3.id, "t", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed
    );
    store.park(cfg, &p3, "third", "u").await.unwrap();
    assert_eq!(
        store
            .parked_event(cfg, &p3.id)
            .await
            .unwrap()
            .unwrap()
            .refusals,
        2
    );
    let held = store
        .claim(cfg, &p3.id, "v", LONG, ClaimMode::Replay)
        .await
        .unwrap();
    assert_eq!(held_by(&held), Some("t"), "{}", s.name);

    // A successful replay: applied, no longer parked.
    assert_eq!(
        store
            .claim(cfg, &p1.id, "w", LONG, ClaimMode::Replay)
            .await
            .unwrap(),
        Claim::Claimed
    );
    store.mark_applied(cfg, &p1.id, "w").await.unwrap();
    assert_eq!(store.parked_event(cfg, &p1.id).await.unwrap(), None);
    let status = store.status(cfg).await.unwrap();
    assert_eq!((status.applied, status.parked), (1, 2), "{}", s.name);
    assert_eq!(store.parked_event(cfg, &id("never")).await.unwrap(), None);
}

async fn snapshots(s: &Subject) {
    let store = &s.store;
    let cfg = "snapshots";
    let account = AccountId::new("7000001");
    assert_eq!(store.snapshot(cfg, &account).await.unwrap(), None);
    let mut snapshot = AccountSnapshot {
        account: account.clone(),
        version: 1,
        plan: Some(PlanId::new("basic")),
        add_ons: [
            AddOn {
                feature: FeatureId::new("LightAutomation"),
                quantity: None,
            },
            AddOn {
                feature: FeatureId::new("ExtraCameras"),
                quantity: Some(3),
            },
        ]
        .into_iter()
        .collect(),
        status: AccountStatus::Other("Suspended — awaiting payment".into()),
        seen_at: start() + chrono::TimeDelta::nanoseconds(987_654_321),
    };
    store.put_snapshot(cfg, &snapshot).await.unwrap();
    assert_eq!(
        store.snapshot(cfg, &account).await.unwrap(),
        Some(snapshot.clone()),
        "{}",
        s.name
    );
    snapshot.version = 2;
    snapshot.plan = None;
    snapshot.status = AccountStatus::Terminated;
    store.put_snapshot(cfg, &snapshot).await.unwrap();
    assert_eq!(store.snapshot(cfg, &account).await.unwrap(), Some(snapshot));
    assert_eq!(
        store
            .snapshot(cfg, &AccountId::new("7000002"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .snapshot("snapshots, elsewhere", &account)
            .await
            .unwrap(),
        None
    );
}

async fn leases(s: &Subject) {
    let store = &s.store;
    let cfg = "lease";
    let before = s.not_after_now();
    assert_eq!(store.lease(cfg).await.unwrap(), None);
    assert!(store.acquire_lease(cfg, "a", LONG).await.unwrap());
    let lease = store.lease(cfg).await.unwrap().expect("a's lease");
    assert_eq!(lease.holder, "a");
    assert!(lease.expires_at >= before + chrono::TimeDelta::seconds(590));
    assert!(!store.acquire_lease(cfg, "b", LONG).await.unwrap());
    assert!(
        store.acquire_lease(cfg, "a", LONG).await.unwrap(),
        "renewed"
    );
    assert!(store.renew_lease(cfg, "a", LONG).await.unwrap());
    assert!(!store.renew_lease(cfg, "b", LONG).await.unwrap());
    store.release_lease(cfg, "b").await.unwrap();
    assert_eq!(
        store.lease(cfg).await.unwrap().map(|l| l.holder),
        Some("a".into())
    );
    store.release_lease(cfg, "a").await.unwrap();
    assert_eq!(
        store.lease(cfg).await.unwrap(),
        None,
        "{}: released",
        s.name
    );

    // A lapsed lease is no lease; its holder may still renew it until someone takes it.
    assert!(store.acquire_lease(cfg, "b", TTL).await.unwrap());
    s.pass(PAST_TTL).await;
    assert_eq!(store.lease(cfg).await.unwrap(), None, "{}: lapsed", s.name);
    assert_eq!(store.status(cfg).await.unwrap().lease, None);
    assert!(store.renew_lease(cfg, "b", TTL).await.unwrap());
    assert_eq!(
        store.lease(cfg).await.unwrap().map(|l| l.holder),
        Some("b".into())
    );
    s.pass(PAST_TTL).await;
    assert!(
        store.acquire_lease(cfg, "a", LONG).await.unwrap(),
        "{}: a lapsed lease is taken over",
        s.name
    );
    assert!(!store.renew_lease(cfg, "b", LONG).await.unwrap());
    assert_eq!(
        store.status(cfg).await.unwrap().lease.map(|l| l.holder),
        Some("a".into())
    );
}

async fn status(s: &Subject) {
    let store = &s.store;
    let cfg = "status";
    assert_eq!(store.status(cfg).await.unwrap(), SyncStatus::new(cfg));

    let at =
        |secs: i64| start() + chrono::TimeDelta::seconds(secs) + chrono::TimeDelta::nanoseconds(42);
    let mut expected = SyncStatus::new(cfg);

    let update = StatusUpdate::Pulled {
        at: at(1),
        lag: Some(Duration::from_millis(1500)),
        error: None,
    };
    store.record(cfg, &update).await.unwrap();
    expected.feed = FeedState::Available;
    expected.last_pull_at = Some(at(1));
    expected.last_success_at = Some(at(1));
    expected.lag = Some(Duration::from_millis(1500));
    assert_eq!(store.status(cfg).await.unwrap(), expected, "{}", s.name);

    let update = StatusUpdate::Pulled {
        at: at(2),
        lag: Some(Duration::from_secs(7)),
        error: Some("event e9 not applied".into()),
    };
    store.record(cfg, &update).await.unwrap();
    expected.last_pull_at = Some(at(2));
    expected.lag = Some(Duration::from_secs(7));
    expected.last_error = Some(LastError {
        at: at(2),
        message: "event e9 not applied".into(),
    });
    let got = store.status(cfg).await.unwrap();
    assert_eq!(got, expected);
    assert!(!got.is_healthy());

    store
        .record(cfg, &StatusUpdate::Reconciled { at: at(3) })
        .await
        .unwrap();
    expected.last_reconcile_at = Some(at(3));
    expected.last_success_at = Some(at(3));
    assert_eq!(store.status(cfg).await.unwrap(), expected);

    let failed = StatusUpdate::Failed {
        at: at(4),
        message: "the provider is down".into(),
    };
    store.record(cfg, &failed).await.unwrap();
    expected.last_error = Some(LastError {
        at: at(4),
        message: "the provider is down".into(),
    });
    assert_eq!(store.status(cfg).await.unwrap(), expected);

    store
        .record(cfg, &StatusUpdate::NoFeed { at: at(5) })
        .await
        .unwrap();
    expected.feed = FeedState::NoFeed;
    expected.last_pull_at = Some(at(5));
    expected.lag = None;
    assert_eq!(store.status(cfg).await.unwrap(), expected);

    // The counts and the lease come from the other tables.
    store.mark_applied(cfg, &id("a1"), "x").await.unwrap();
    store.mark_applied(cfg, &id("a2"), "x").await.unwrap();
    store.park(cfg, &event("b1"), "no", "x").await.unwrap();
    assert!(store.acquire_lease(cfg, "puller", LONG).await.unwrap());
    let got = store.status(cfg).await.unwrap();
    assert_eq!((got.applied, got.parked), (2, 1), "{}", s.name);
    assert_eq!(got.lease.map(|l| l.holder), Some("puller".into()));
    assert_eq!(
        got.feed,
        FeedState::NoFeed,
        "the counts leave the fields alone"
    );
    assert_eq!(got.last_error, expected.last_error);
}

fn secs(n: i64) -> DateTime<Utc> {
    start() + chrono::TimeDelta::seconds(n)
}

fn rejected(reason: &str) -> CallbackOutcome {
    CallbackOutcome::Rejected {
        reason: reason.into(),
        detail: format!("the delivery was refused: {reason}"),
    }
}

/// Callback traffic: counts per outcome and reason per minute, the window, the latest times
/// (never moved back by a late record), the cap on reasons, and retention.
async fn callback_traffic(s: &Subject) {
    let store = &s.store;
    let cfg = "callbacks";
    let empty = store.callback_traffic(cfg, start()).await.unwrap();
    assert_eq!(empty.total(), 0, "{}", s.name);
    assert_eq!(empty.last_attempt_at, None, "{}", s.name);
    let record = |at: DateTime<Utc>, outcome: CallbackOutcome| async move {
        store
            .record_callback(cfg, &CallbackRecord::new(at, outcome))
            .await
            .unwrap();
    };
    record(secs(1), CallbackOutcome::Accepted).await;
    record(secs(2), CallbackOutcome::Accepted).await;
    record(secs(30), CallbackOutcome::Duplicate).await;
    record(secs(10), rejected("bad_signature")).await;
    record(secs(20), rejected("bad_signature")).await;
    record(secs(70), rejected("timestamp_too_old")).await;
    // Late: an older delivery, in the minute before, moves no latest time back.
    record(secs(-5), CallbackOutcome::Accepted).await;
    record(secs(-4), rejected("malformed_body")).await;

    let t = store.callback_traffic(cfg, start()).await.unwrap();
    assert_eq!((t.accepted, t.duplicate), (2, 1), "{}: {t:?}", s.name);
    assert_eq!(t.rejected.get("bad_signature"), Some(&2), "{}", s.name);
    assert_eq!(t.rejected.get("timestamp_too_old"), Some(&1), "{}", s.name);
    assert_eq!(t.rejected.get("malformed_body"), None, "{}", s.name);
    assert_eq!(t.since, start(), "{}", s.name);
    assert_eq!(t.last_attempt_at, Some(secs(70)), "{}", s.name);
    assert_eq!(t.last_delivery_at, Some(secs(30)), "{}", s.name);
    let last = t.last_rejection.expect("a last rejection");
    assert_eq!(
        (last.at, last.reason.as_str()),
        (secs(70), "timestamp_too_old")
    );
    assert_eq!(last.detail, "the delivery was refused: timestamp_too_old");

    // The window starts at the minute `since` falls in.
    let earlier = store.callback_traffic(cfg, secs(-1)).await.unwrap();
    assert_eq!(
        (earlier.accepted, earlier.rejected_total()),
        (3, 4),
        "{}",
        s.name
    );
    let later = store.callback_traffic(cfg, secs(119)).await.unwrap();
    assert_eq!(
        (later.accepted, later.rejected_total()),
        (0, 1),
        "{}",
        s.name
    );
    assert_eq!(
        later.last_attempt_at,
        Some(secs(70)),
        "latest times are ever"
    );

    // At most MAX_REASONS reasons per bucket; further ones count as OTHER_REASON.
    let minute = 600;
    let extra = 5;
    for i in 0..MAX_REASONS + extra {
        record(secs(minute + 1), rejected(&format!("reason_{i:02}"))).await;
    }
    record(secs(minute + 2), rejected("reason_00")).await;
    let capped = store.callback_traffic(cfg, secs(minute)).await.unwrap();
    assert_eq!(
        capped.rejected.len(),
        MAX_REASONS + 1,
        "{}: {capped:?}",
        s.name
    );
    assert_eq!(capped.rejected.get(OTHER_REASON), Some(&(extra as u64)));
    assert_eq!(capped.rejected.get("reason_00"), Some(&2));
    assert_eq!(capped.rejected_total(), (MAX_REASONS + extra + 1) as u64);
    // The last rejection keeps the reason as given, not the bucket's key.
    let last = capped.last_rejection.expect("a last rejection");
    assert_eq!(last.reason, "reason_00", "{}", s.name);

    // Buckets a day older than the newest are dropped; the latest times stay.
    record(secs(25 * 3600), CallbackOutcome::Duplicate).await;
    let kept = store.callback_traffic(cfg, secs(-3600)).await.unwrap();
    assert_eq!(
        (kept.accepted, kept.duplicate, kept.rejected_total()),
        (0, 1, 0),
        "{}: {kept:?}",
        s.name
    );
    assert_eq!(kept.last_rejection.map(|r| r.at), Some(secs(minute + 2)));

    // Another configuration's traffic is its own.
    let other = store
        .callback_traffic("callbacks 2", start())
        .await
        .unwrap();
    assert_eq!(
        (other.total(), other.last_attempt_at),
        (0, None),
        "{}",
        s.name
    );
}

/// Many deliveries recorded at once through two stores on one database add up exactly.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn concurrent_callback_counting(stores: [Arc<dyn SyncStore>; 2]) {
    let cfg = "concurrent callbacks";
    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let store = stores[(i % 2) as usize].clone();
            tokio::spawn(async move {
                let outcome = match i % 4 {
                    0 | 1 => CallbackOutcome::Accepted,
                    2 => CallbackOutcome::Duplicate,
                    _ => rejected("bad_signature"),
                };
                let at = secs(i64::from(i % 90));
                store
                    .record_callback(cfg, &CallbackRecord::new(at, outcome))
                    .await
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.expect("joined").expect("recorded");
    }
    for store in &stores {
        let t = store.callback_traffic(cfg, start()).await.unwrap();
        assert_eq!((t.accepted, t.duplicate), (100, 50), "{t:?}");
        assert_eq!(t.rejected.get("bad_signature"), Some(&50));
        assert_eq!(t.last_attempt_at, Some(secs(89)));
    }
}

#[tokio::test]
async fn memory_store_conformance() {
    let clock = ManualClock::new(start());
    let store = MemoryStore::with_clock(Arc::new(clock.clone()));
    conformance(&Subject::manual("memory", Arc::new(store), clock)).await;
}

/// A temporary SQLite file, removed (with its WAL files) when dropped.
#[cfg(feature = "sqlite")]
struct TempDb(std::path::PathBuf);

#[cfg(feature = "sqlite")]
impl TempDb {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "isp-sync-{name}-{}-{}.db",
            std::process::id(),
            fastrand::u64(..)
        ));
        Self(path)
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use interactive_services::ErrorKind;
    use interactive_services::sync::SqliteStore;
    use sqlx::Connection;

    async fn open(db: &TempDb, clock: &ManualClock) -> SqliteStore {
        SqliteStore::open(&db.0)
            .await
            .expect("open")
            .with_clock(Arc::new(clock.clone()))
    }

    #[tokio::test]
    async fn sqlite_store_conformance() {
        let db = TempDb::new("conformance");
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        conformance(&Subject::manual("sqlite", Arc::new(store.clone()), clock)).await;
        store.close().await;
    }

    #[tokio::test]
    async fn everything_survives_a_reopen() {
        let db = TempDb::new("durable");
        let clock = ManualClock::new(start());
        let cfg = "durable";
        let parked = event("p1");
        let snapshot = AccountSnapshot {
            account: AccountId::new("42"),
            version: 3,
            plan: Some(PlanId::new("gold")),
            add_ons: Default::default(),
            status: AccountStatus::Active,
            seen_at: start(),
        };
        {
            let store = open(&db, &clock).await;
            assert!(store.acquire_lease(cfg, "a", LONG).await.unwrap());
            assert!(
                store
                    .put_cursor(cfg, "a", &Cursor::new("page-7"))
                    .await
                    .unwrap()
            );
            store.mark_applied(cfg, &id("e1"), "x").await.unwrap();
            assert_eq!(
                store
                    .claim(cfg, &id("e2"), "x", LONG, ClaimMode::Deliver)
                    .await
                    .unwrap(),
                Claim::Claimed
            );
            store.park(cfg, &parked, "refused", "x").await.unwrap();
            store.put_snapshot(cfg, &snapshot).await.unwrap();
            store
                .record(
                    cfg,
                    &StatusUpdate::Failed {
                        at: start(),
                        message: "boom".into(),
                    },
                )
                .await
                .unwrap();
            // Dropped without closing, as a killed process would leave it.
            drop(store);
        }
        let store = open(&db, &clock).await;
        assert_eq!(
            store.cursor(cfg).await.unwrap(),
            Some(Cursor::new("page-7"))
        );
        assert_eq!(
            store.lease(cfg).await.unwrap().map(|l| l.holder),
            Some("a".into())
        );
        assert_eq!(
            store
                .claim(cfg, &id("e1"), "y", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::AlreadyApplied
        );
        let held = store
            .claim(cfg, &id("e2"), "y", LONG, ClaimMode::Deliver)
            .await
            .unwrap();
        assert_eq!(held_by(&held), Some("x"));
        let p = store.parked_event(cfg, &parked.id).await.unwrap().unwrap();
        assert_eq!((p.event, p.reason.as_str()), (parked.clone(), "refused"));
        assert_eq!(
            store.snapshot(cfg, &snapshot.account).await.unwrap(),
            Some(snapshot)
        );
        let status = store.status(cfg).await.unwrap();
        assert_eq!((status.applied, status.parked), (1, 1));
        assert_eq!(status.last_error.map(|e| e.message), Some("boom".into()));
        store.close().await;
    }

    #[tokio::test]
    async fn concurrent_claimants_and_lease_holders() {
        let db = TempDb::new("concurrent");
        let clock = ManualClock::new(start());
        // Two stores on one file: two pools, as two processes would have.
        let stores = [open(&db, &clock).await, open(&db, &clock).await];
        for round in 0..10 {
            let event = id(&format!("e{round}"));
            let barrier = Arc::new(tokio::sync::Barrier::new(8));
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let store = stores[i % 2].clone();
                    let (event, barrier) = (event.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .claim("race", &event, &format!("c{i}"), LONG, ClaimMode::Deliver)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let answers = futures::future::join_all(tasks).await;
            let claimed = answers
                .iter()
                .filter(|a| matches!(a, Ok(Claim::Claimed)))
                .count();
            assert_eq!(claimed, 1, "round {round}: {answers:?}");
        }
        for round in 0..10 {
            let cfg = format!("lease race {round}");
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = (0..2)
                .map(|i| {
                    let store = stores[i].clone();
                    let (cfg, barrier) = (cfg.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .acquire_lease(&cfg, &format!("h{i}"), LONG)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let won: Vec<bool> = futures::future::join_all(tasks)
                .await
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "round {round}: {won:?}"
            );
        }
        // Eight deliveries of one event recorded at once count once.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = stores[i % 2].clone();
                tokio::spawn(async move { store.mark_applied("count", &id("e"), "x").await })
            })
            .collect();
        for r in futures::future::join_all(tasks).await {
            r.unwrap().unwrap();
        }
        assert_eq!(stores[0].status("count").await.unwrap().applied, 1);
    }

    #[tokio::test]
    async fn mark_applied_in_the_hosts_transaction() {
        let db = TempDb::new("host-tx");
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        let cfg = "host";
        let e = id("pay-1");
        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::query("CREATE TABLE ledger (event TEXT PRIMARY KEY)")
            .execute(&mut *conn)
            .await
            .unwrap();

        // Rolled back: nothing happened.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        assert!(
            SqliteStore::mark_applied_in(&mut tx, cfg, &e)
                .await
                .unwrap()
        );
        assert!(SqliteStore::is_applied_in(&mut tx, cfg, &e).await.unwrap());
        sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
            .bind(e.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert!(
            !SqliteStore::is_applied_in(&mut conn, cfg, &e)
                .await
                .unwrap()
        );
        assert_eq!(store.status(cfg).await.unwrap().applied, 0);

        // Committed: applied once, with the ledger row.
        assert_eq!(
            store
                .claim(cfg, &e, "engine", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::Claimed
        );
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        assert!(
            SqliteStore::mark_applied_in(&mut tx, cfg, &e)
                .await
                .unwrap()
        );
        sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
            .bind(e.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .claim(cfg, &e, "another", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::AlreadyApplied
        );
        store.mark_applied(cfg, &e, "engine").await.unwrap();
        assert_eq!(store.status(cfg).await.unwrap().applied, 1);
        // A second delivery's sink sees it was applied and writes nothing.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        assert!(
            !SqliteStore::mark_applied_in(&mut tx, cfg, &e)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        // Outside any transaction it is a transaction of its own.
        assert!(
            SqliteStore::mark_applied_in(&mut conn, cfg, &id("pay-2"))
                .await
                .unwrap()
        );
        assert_eq!(store.status(cfg).await.unwrap().applied, 2);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn batches_answer_like_single_calls() {
        let db = TempDb::new("batch");
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        let cfg = "batch";
        store.mark_applied(cfg, &id("done"), "x").await.unwrap();
        store.park(cfg, &event("poison"), "no", "x").await.unwrap();
        assert_eq!(
            store
                .claim(cfg, &id("busy"), "other", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::Claimed
        );
        let ids = [id("new"), id("done"), id("poison"), id("busy"), id("new")];
        let answers = store
            .claim_batch(cfg, &ids, "me", LONG, ClaimMode::Deliver)
            .await
            .unwrap();
        assert_eq!(answers[0], Claim::Claimed);
        assert_eq!(answers[1], Claim::AlreadyApplied);
        assert_eq!(answers[2], Claim::Parked);
        assert_eq!(held_by(&answers[3]), Some("other"));
        assert_eq!(answers[4], Claim::Claimed, "renewed: the same claimant");
        let added = store
            .mark_applied_batch(cfg, &[id("new"), id("done"), id("poison")], "me")
            .await
            .unwrap();
        assert_eq!(added, 2);
        let status = store.status(cfg).await.unwrap();
        assert_eq!((status.applied, status.parked), (3, 0));
    }

    #[tokio::test]
    async fn corrupt_rows_are_typed_errors() {
        let db = TempDb::new("corrupt");
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        let pool = store.pool();
        for sql in [
            "INSERT INTO isp_sync_snapshots VALUES ('c', 'a1', '{not json')",
            "INSERT INTO isp_sync_snapshots VALUES ('c', 'a2', \
             '{\"account\":\"other\",\"version\":1,\"plan\":null,\"add_ons\":[],\"status\":\"active\",\"seen_at\":\"2025-03-01T12:00:00Z\"}')",
            "INSERT INTO isp_sync_parked VALUES ('c', 'p1', '[]', 'r', 0, 1)",
            "INSERT INTO isp_sync_status VALUES ('c', '{}', -3)",
            "INSERT INTO isp_sync_leases VALUES ('l', 'h', 9223372036854775807)",
            "INSERT INTO isp_sync_claims VALUES ('c', 'e', 'h', 'soon')",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        let check = |e: interactive_services::Error, method: &str, what: &str| {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
            assert_eq!(e.provider(), "sqlite store");
            assert_eq!(e.operation(), Some(method));
            assert!(e.to_string().contains(what), "{e}");
        };
        let e = store
            .snapshot("c", &AccountId::new("a1"))
            .await
            .unwrap_err();
        check(e, "snapshot", "isp_sync_snapshots");
        let e = store
            .snapshot("c", &AccountId::new("a2"))
            .await
            .unwrap_err();
        check(e, "snapshot", "account \"other\"");
        let e = store.parked("c").await.unwrap_err();
        check(e, "parked", "isp_sync_parked");
        let e = store.status("c").await.unwrap_err();
        check(e, "status", "applied = -3");
        let e = store.lease("l").await.unwrap_err();
        check(e, "lease", "expires_at");
        let e = store
            .claim("c", &id("e"), "me", LONG, ClaimMode::Deliver)
            .await
            .unwrap_err();
        check(e, "claim", "");
        sqlx::query("UPDATE isp_sync_status SET applied = 0, fields = 'null?'")
            .execute(pool)
            .await
            .unwrap();
        let update = StatusUpdate::NoFeed { at: start() };
        check(
            store.record("c", &update).await.unwrap_err(),
            "record",
            "fields",
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callback_counts_add_up_across_pools() {
        let db = TempDb::new("callbacks");
        let clock = ManualClock::new(start());
        let (a, b) = (open(&db, &clock).await, open(&db, &clock).await);
        concurrent_callback_counting([Arc::new(a.clone()), Arc::new(b.clone())]).await;
        a.close().await;
        b.close().await;
    }

    /// A file written by the first schema (before callback traffic) is upgraded in place: its
    /// state is kept and callback traffic works.
    #[tokio::test]
    async fn a_version_1_file_is_upgraded() {
        let db = TempDb::new("upgrade");
        {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db.0)
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::raw_sql(include_str!(
                "../src/sync/sql/migrations/sqlite/0001_initial.sql"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::raw_sql(
                "CREATE TABLE isp_sync_schema_version (version BIGINT NOT NULL PRIMARY KEY, \
                 applied_at BIGINT NOT NULL); \
                 INSERT INTO isp_sync_schema_version VALUES (1, 0); \
                 INSERT INTO isp_sync_cursors VALUES ('kept', 'page-3', 0);",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        assert_eq!(
            store.cursor("kept").await.unwrap(),
            Some(Cursor::new("page-3"))
        );
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM isp_sync_schema_version ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(versions, [1, 2]);
        store
            .record_callback(
                "kept",
                &CallbackRecord::new(secs(1), CallbackOutcome::Accepted),
            )
            .await
            .unwrap();
        let t = store.callback_traffic("kept", start()).await.unwrap();
        assert_eq!(t.accepted, 1);
        store.close().await;
    }

    #[tokio::test]
    async fn corrupt_callback_rows_are_typed_errors() {
        let db = TempDb::new("corrupt-callbacks");
        let clock = ManualClock::new(start());
        let store = open(&db, &clock).await;
        for (cfg, sql) in [
            (
                "c1",
                "INSERT INTO isp_sync_callback_buckets VALUES ('c1', 0, 'sideways', '', 1)",
            ),
            (
                "c2",
                "INSERT INTO isp_sync_callback_buckets VALUES ('c2', 0, 'accepted', '', -3)",
            ),
            (
                "c3",
                "INSERT INTO isp_sync_callback_latest VALUES ('c3', 0, NULL, 5, NULL, 'x')",
            ),
            (
                "c4",
                "INSERT INTO isp_sync_callback_latest VALUES \
                 ('c4', 9223372036854775807, NULL, NULL, NULL, NULL)",
            ),
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
            let since = DateTime::<Utc>::from_timestamp_millis(0).unwrap();
            let e = store.callback_traffic(cfg, since).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{cfg}: {e}");
            assert_eq!(e.provider(), "sqlite store");
            assert_eq!(e.operation(), Some("callback_traffic"), "{e}");
            assert!(e.to_string().contains("isp_sync_callback"), "{e}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let db = TempDb::new("newer");
        let store = SqliteStore::open(&db.0).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query("INSERT INTO isp_sync_schema_version VALUES (999, 0)")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
        let e = SqliteStore::open(&db.0).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("version 999"), "{e}");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use interactive_services::ErrorKind;
    use interactive_services::sync::PgStore;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::{Connection, PgConnection};

    const VAR: &str = "INTERACTIVE_SERVICES_TEST_PG";

    /// The server's URL; `None` (and a line on stderr) when there is none outside CI.
    fn server() -> Option<String> {
        match std::env::var(VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ if std::env::var_os("CI").is_some() => panic!(
                "{VAR} is not set, and CI is: the PostgreSQL store tests must run in CI. \
                 Start a throwaway server on loopback with \
                 `export {VAR}=$(.ci/postgres)` (it installs the distribution's PostgreSQL \
                 when it is missing) and run the tests again."
            ),
            _ => {
                eprintln!(
                    "skipped: {VAR} is not set (start PostgreSQL with `export {VAR}=$(.ci/postgres)`)"
                );
                None
            }
        }
    }

    /// A schema of this test's own on the server; dropped with [`Schema::drop`].
    struct Schema {
        server: String,
        name: String,
        url: String,
    }

    impl Schema {
        async fn new() -> Option<Self> {
            let server = server()?;
            let name = format!("t_{:016x}", fastrand::u64(..));
            let mut conn = PgConnection::connect(&server).await.expect("connect");
            sqlx::query(&format!("CREATE SCHEMA {name}"))
                .execute(&mut conn)
                .await
                .expect("create schema");
            let sep = if server.contains('?') { '&' } else { '?' };
            let url = format!("{server}{sep}options[search_path]={name}");
            Some(Self { server, name, url })
        }

        async fn store(&self) -> PgStore {
            PgStore::connect(&self.url)
                .await
                .expect("connect the store")
        }

        async fn drop(self) {
            let mut conn = PgConnection::connect(&self.server).await.expect("connect");
            sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }

    /// Whether the pool's one connection is inside a transaction left open: two statements
    /// sent on their own then run in the same transaction (the same transaction id).
    async fn stale_transaction(pool: &sqlx::PgPool) -> bool {
        let mut conn = pool.acquire().await.expect("the pool's connection");
        let mut ids = Vec::new();
        for _ in 0..2 {
            let id: i64 = sqlx::query_scalar("SELECT txid_current()")
                .fetch_one(&mut *conn)
                .await
                .expect("query");
            ids.push(id);
        }
        ids[0] == ids[1]
    }

    /// A `begin` given up while its `BEGIN` is on the wire leaves no transaction open on the
    /// pooled connection. (sqlx's own `Pool::begin` does, sqlx issue 4393: every later
    /// statement on that connection would run inside it and hold its locks.)
    #[tokio::test]
    async fn a_begin_given_up_midway_leaves_no_transaction_open() {
        use std::str::FromStr;
        let Some(schema) = Schema::new().await else {
            return;
        };
        // One connection, so that each try meets the connection the one before left.
        let options = PgConnectOptions::from_str(&schema.url).expect("url");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("pool");
        let store = PgStore::from_pool(pool.clone()).await.expect("store");
        assert!(!stale_transaction(&pool).await);
        let (mut given_up, mut finished) = (0, 0);
        // Given up after 0, 1, 2, ... turns of the scheduler: from before the connection is
        // taken to after the answer to `BEGIN` is read, and everywhere in between.
        for turns in 0..300 {
            let gave_up = tokio::select! {
                biased;
                begun = store.begin() => {
                    begun.expect("begin").rollback().await.expect("rollback");
                    false
                }
                () = async {
                    for _ in 0..turns {
                        tokio::task::yield_now().await;
                    }
                } => true,
            };
            if gave_up {
                given_up += 1;
            } else {
                finished += 1;
            }
            assert!(
                !stale_transaction(&pool).await,
                "a transaction was left open on the connection after {turns} turns"
            );
        }
        assert!(given_up > 0 && finished > 0, "{given_up} / {finished}");
        pool.close().await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn postgres_store_conformance() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        let store = schema.store().await;
        let subject = Subject {
            name: "postgres",
            store: Arc::new(store.clone()),
            time: Time::Real,
        };
        conformance(&subject).await;
        // A second store on the same schema migrates nothing and sees the same state.
        let again = schema.store().await;
        assert_eq!(again.status("applied").await.unwrap().applied, 2);
        store.close().await;
        again.close().await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn concurrent_claimants_and_lease_holders() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        // Two stores: two pools, as two replicas would have.
        let stores = [schema.store().await, schema.store().await];
        for round in 0..10 {
            let event = id(&format!("e{round}"));
            let barrier = Arc::new(tokio::sync::Barrier::new(8));
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let store = stores[i % 2].clone();
                    let (event, barrier) = (event.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .claim("race", &event, &format!("c{i}"), LONG, ClaimMode::Deliver)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let answers = futures::future::join_all(tasks).await;
            let claimed = answers
                .iter()
                .filter(|a| matches!(a, Ok(Claim::Claimed)))
                .count();
            assert_eq!(claimed, 1, "round {round}: {answers:?}");
        }
        for round in 0..10 {
            let cfg = format!("lease race {round}");
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = (0..2)
                .map(|i| {
                    let store = stores[i].clone();
                    let (cfg, barrier) = (cfg.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .acquire_lease(&cfg, &format!("h{i}"), LONG)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let won: Vec<bool> = futures::future::join_all(tasks)
                .await
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "round {round}: {won:?}"
            );
        }
        // Eight deliveries of one event recorded at once count once.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = stores[i % 2].clone();
                tokio::spawn(async move { store.mark_applied("count", &id("e"), "x").await })
            })
            .collect();
        for r in futures::future::join_all(tasks).await {
            r.unwrap().unwrap();
        }
        assert_eq!(stores[0].status("count").await.unwrap().applied, 1);
        // A claim racing the mark of the event it claims never answers Claimed after it.
        for round in 0..20 {
            let cfg = "claim vs mark";
            let e = id(&format!("m{round}"));
            assert_eq!(
                stores[0]
                    .claim(cfg, &e, "first", TTL, ClaimMode::Deliver)
                    .await
                    .unwrap(),
                Claim::Claimed
            );
            let (a, b) = (stores[0].clone(), stores[1].clone());
            let (e1, e2) = (e.clone(), e.clone());
            let mark = tokio::spawn(async move { a.mark_applied(cfg, &e1, "first").await });
            let claim = tokio::spawn(async move {
                // Retried while it is held, as the engine does.
                loop {
                    match b
                        .claim(cfg, &e2, "second", TTL, ClaimMode::Deliver)
                        .await
                        .unwrap()
                    {
                        Claim::HeldElsewhere { .. } => tokio::task::yield_now().await,
                        other => return other,
                    }
                }
            });
            mark.await.unwrap().unwrap();
            let answer = claim.await.unwrap();
            assert_eq!(answer, Claim::AlreadyApplied, "round {round}");
        }
        for store in &stores {
            store.close().await;
        }
        schema.drop().await;
    }

    #[tokio::test]
    async fn mark_applied_in_the_hosts_transaction() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        let store = schema.store().await;
        let cfg = "host";
        let e = id("pay-1");
        sqlx::query("CREATE TABLE ledger (event TEXT PRIMARY KEY)")
            .execute(store.pool())
            .await
            .unwrap();

        // Rolled back: nothing happened.
        let mut tx = store.pool().begin().await.unwrap();
        assert!(PgStore::mark_applied_in(&mut tx, cfg, &e).await.unwrap());
        assert!(PgStore::is_applied_in(&mut tx, cfg, &e).await.unwrap());
        sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
            .bind(e.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        assert!(!PgStore::is_applied_in(&mut conn, cfg, &e).await.unwrap());
        assert_eq!(store.status(cfg).await.unwrap().applied, 0);

        // Committed: applied once, with the ledger row.
        assert_eq!(
            store
                .claim(cfg, &e, "engine", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::Claimed
        );
        let mut tx = store.pool().begin().await.unwrap();
        assert!(PgStore::mark_applied_in(&mut tx, cfg, &e).await.unwrap());
        sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
            .bind(e.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .claim(cfg, &e, "another", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::AlreadyApplied
        );
        store.mark_applied(cfg, &e, "engine").await.unwrap();
        assert_eq!(store.status(cfg).await.unwrap().applied, 1);

        // A second delivery on another connection waits for the first transaction, then
        // learns the event was applied.
        let mut first = store.pool().begin().await.unwrap();
        assert!(
            PgStore::mark_applied_in(&mut first, cfg, &id("pay-2"))
                .await
                .unwrap()
        );
        let pool = store.pool().clone();
        let second = tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let fresh = PgStore::mark_applied_in(&mut tx, "host", &id("pay-2"))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            fresh
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.commit().await.unwrap();
        assert!(!second.await.unwrap(), "the second delivery writes nothing");
        assert_eq!(store.status(cfg).await.unwrap().applied, 2);
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 1);
        drop(conn);
        store.close().await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn batches_answer_like_single_calls() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        let store = schema.store().await;
        let cfg = "batch";
        store.mark_applied(cfg, &id("done"), "x").await.unwrap();
        store.park(cfg, &event("poison"), "no", "x").await.unwrap();
        assert_eq!(
            store
                .claim(cfg, &id("busy"), "other", LONG, ClaimMode::Deliver)
                .await
                .unwrap(),
            Claim::Claimed
        );
        let ids = [id("new"), id("done"), id("poison"), id("busy"), id("new")];
        let answers = store
            .claim_batch(cfg, &ids, "me", LONG, ClaimMode::Deliver)
            .await
            .unwrap();
        assert_eq!(answers[0], Claim::Claimed);
        assert_eq!(answers[1], Claim::AlreadyApplied);
        assert_eq!(answers[2], Claim::Parked);
        assert_eq!(held_by(&answers[3]), Some("other"));
        assert_eq!(answers[4], Claim::Claimed);
        // The claims it took for applied or parked events were not kept.
        let replay = store
            .claim(cfg, &id("poison"), "replayer", LONG, ClaimMode::Replay)
            .await
            .unwrap();
        assert_eq!(replay, Claim::Claimed);
        let added = store
            .mark_applied_batch(cfg, &[id("new"), id("done"), id("poison")], "me")
            .await
            .unwrap();
        assert_eq!(added, 2);
        let status = store.status(cfg).await.unwrap();
        assert_eq!((status.applied, status.parked), (3, 0));
        store.close().await;
        schema.drop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callback_counts_add_up_across_pools() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        let (a, b) = (schema.store().await, schema.store().await);
        concurrent_callback_counting([Arc::new(a.clone()), Arc::new(b.clone())]).await;
        a.close().await;
        b.close().await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn corrupt_rows_and_newer_schemas_are_typed_errors() {
        let Some(schema) = Schema::new().await else {
            return;
        };
        let store = schema.store().await;
        for sql in [
            "INSERT INTO isp_sync_snapshots VALUES ('c', 'a1', '{not json')",
            "INSERT INTO isp_sync_parked VALUES ('c', 'p1', '{\"id\":\"p1\"}', 'r', 0, 1)",
            "INSERT INTO isp_sync_status VALUES ('c', '{\"feed\":\"sideways\"}', 0)",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
        for (e, method) in [
            (
                store
                    .snapshot("c", &AccountId::new("a1"))
                    .await
                    .unwrap_err(),
                "snapshot",
            ),
            (store.parked("c").await.unwrap_err(), "parked"),
            (store.status("c").await.unwrap_err(), "status"),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
            assert_eq!(e.provider(), "postgres store");
            assert_eq!(e.operation(), Some(method), "{e}");
        }
        sqlx::query("INSERT INTO isp_sync_schema_version VALUES (999, 0)")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
        let e = PgStore::connect(&schema.url).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("version 999"), "{e}");
        schema.drop().await;
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_retryable_error() {
        // Nothing listens on port 9 of loopback (discard is not run on test machines).
        let options: PgConnectOptions = "postgres://isp@127.0.0.1:9/none".parse().unwrap();
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(300))
            .connect_lazy_with(options);
        let e = PgStore::from_pool(pool).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.is_retryable());
        assert_eq!(e.provider(), "postgres store");
        assert_eq!(e.operation(), Some("migrate"));
        let e = PgStore::connect("postgres://isp@127.0.0.1:notaport/x")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    }
}
