//! Callback health: not configured → healthy → degraded (rejections above the threshold) →
//! silent (nothing for the configured period), each with its reason, at injected times; the
//! vendor's view degrades it; counts are shared by every replica on one store and exact under
//! concurrency. Nothing sleeps: the clock is a [`ManualClock`].

#[path = "callbacks_common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CONFIG, OTHER_SECRET, SECRET, body, options, settings, signed, start, tc_config};
use interactive_services::ProviderRegistry;
use interactive_services::callbacks::{
    CallbackService, HealthFacts, HealthPolicy, HealthState, Receipt,
};
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::sync::{
    CallbackOutcome, CallbackRecord, CallbackTraffic, ManualClock, MemoryStore, SyncStore,
};

fn policy() -> HealthPolicy {
    HealthPolicy::default()
        .window(Duration::from_secs(15 * 60))
        .max_rejections(5)
        .max_rejected_percent(10)
        .silent_after(Duration::from_secs(60 * 60))
}

async fn deliver<S: SyncStore>(
    service: &CallbackService<S>,
    segment: &str,
    clock: &ManualClock,
    id: &str,
    secret: &str,
) -> Receipt {
    let now = interactive_services::sync::Clock::now(clock);
    let payload = body(id, "Alarm", now);
    let header = signed(now, &payload, &[secret]);
    service
        .receive(segment, Some(header.as_bytes()), &payload)
        .await
}

#[tokio::test]
async fn health_moves_through_its_states_with_reasons() {
    let sim = TotalConnectSimulator::start().await;
    let clock = ManualClock::new(start());
    let (service, _sink) = common::service(&clock, policy());
    let registry = ProviderRegistry::with_built_ins();

    // 1. No callback settings.
    let plain = tc_config(CONFIG, &sim.endpoint(), None);
    let segment = service
        .add(&plain, registry.build(&plain).expect("builds"))
        .expect("added");
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::NotConfigured, "{h:?}");
    assert!(h.reason.contains("no callback settings"), "{}", h.reason);
    assert_eq!(h.last_delivery_at, None);

    // 2. Configured: healthy while waiting for the first delivery, then with deliveries.
    clock.advance(Duration::from_secs(60));
    let configured = tc_config(CONFIG, &sim.endpoint(), Some(settings(false)));
    service
        .add(&configured, registry.build(&configured).expect("builds"))
        .expect("added");
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Healthy, "{h:?}");
    assert!(
        h.reason.contains("waiting for the first delivery"),
        "{}",
        h.reason
    );

    clock.advance(Duration::from_secs(60));
    for i in 0..3 {
        let r = deliver(&service, &segment, &clock, &format!("an-{i}"), SECRET).await;
        assert_eq!(r, Receipt::Accepted { events: 1 });
    }
    // One repeated.
    let r = deliver(&service, &segment, &clock, "an-0", SECRET).await;
    assert_eq!(r, Receipt::Duplicate { events: 1 });
    let delivered_at = interactive_services::sync::Clock::now(&clock);
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Healthy, "{h:?}");
    assert_eq!((h.accepted, h.duplicate, h.rejected), (3, 1, 0));
    assert_eq!(h.last_delivery_at, Some(delivered_at));
    assert!(h.reason.contains("none rejected"), "{}", h.reason);

    // 3. Rejections: 5 is the threshold (not above it), the 6th degrades.
    clock.advance(Duration::from_secs(60));
    for i in 0..5 {
        let r = deliver(
            &service,
            &segment,
            &clock,
            &format!("bad-{i}"),
            OTHER_SECRET,
        )
        .await;
        assert!(matches!(r, Receipt::Rejected(_)), "{r:?}");
    }
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(
        h.state,
        HealthState::Healthy,
        "5 rejections are not above 5: {h:?}"
    );
    let r = deliver(&service, &segment, &clock, "bad-5", OTHER_SECRET).await;
    assert!(matches!(r, Receipt::Rejected(_)), "{r:?}");
    let rejected_at = interactive_services::sync::Clock::now(&clock);
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Degraded, "{h:?}");
    assert!(
        h.reason.contains("6 of 10 deliveries") && h.reason.contains("bad signature"),
        "{}",
        h.reason
    );
    assert!(h.reason.contains("signing secret"), "{}", h.reason);
    assert_eq!(h.rejected_by_reason.get("bad_signature"), Some(&6));
    let last = h.last_rejection.as_ref().expect("a last rejection");
    assert_eq!(
        (last.at, last.reason.as_str()),
        (rejected_at, "bad_signature")
    );
    assert_eq!(
        h.last_delivery_at,
        Some(delivered_at),
        "rejections are not deliveries"
    );
    assert!(!format!("{h:?}").contains(SECRET));

    // Out of the window, the rejections no longer count: healthy again, with no traffic.
    clock.advance(Duration::from_secs(20 * 60));
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Healthy, "{h:?}");
    assert_eq!((h.accepted, h.rejected), (0, 0));
    assert!(
        h.reason.contains("no delivery in the last 15 min"),
        "{}",
        h.reason
    );

    // 4. Nothing for the configured period (1 h since the last delivery attempt): silent.
    clock.advance(Duration::from_secs(40 * 60));
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Silent, "{h:?}");
    assert!(
        h.reason
            .contains(&format!("no delivery since {}", rejected_at.to_rfc3339())),
        "{}",
        h.reason
    );
    assert!(h.reason.contains("longer than 1 h"), "{}", h.reason);
    assert!(
        h.reason.contains("no callback URL registered"),
        "the vendor's view is in the hint: {}",
        h.reason
    );

    // A delivery ends the silence.
    let r = deliver(&service, &segment, &clock, "an-late", SECRET).await;
    assert_eq!(r, Receipt::Accepted { events: 1 });
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Healthy, "{h:?}");
}

#[tokio::test]
async fn the_vendors_view_degrades_health() {
    let sim = TotalConnectSimulator::start().await;
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    let sink = Arc::new(common::RecordingSink::default());
    // A closed loopback port: the simulator's pushes there fail at once, with no lookup.
    let base = url::Url::parse("http://127.0.0.1:9/hooks/").expect("a URL");
    let service = CallbackService::builder(store, sink)
        .sync_options(options(&clock))
        .policy(policy())
        .public_base(base)
        .build();
    let config = sim.config_with_callbacks(CONFIG);
    let registry = ProviderRegistry::with_built_ins();
    service
        .add(&config, registry.build(&config).expect("builds"))
        .expect("added");

    let expected = "http://127.0.0.1:9/hooks/callbacks/total-connect-main";
    assert_eq!(
        service
            .callback_url(CONFIG)
            .map(|u| u.to_string())
            .as_deref(),
        Some(expected)
    );
    let registration = service
        .register_at_vendor(CONFIG)
        .await
        .expect("registered");
    assert_eq!(registration.url.as_str(), expected);
    assert!(registration.enabled);
    assert_eq!(sim.callback().map(|c| c.url).as_deref(), Some(expected));

    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Healthy, "{h:?}");
    assert_eq!(h.vendor.as_ref().map(|v| v.url.as_str()), Some(expected));

    // The dealer turns it off in the vendor's portal.
    sim.set_callback_enabled(false);
    service.refresh_vendor_views().await;
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Degraded, "{h:?}");
    assert!(h.reason.contains("disabled"), "{}", h.reason);

    // On again, but the vendor's pushes fail (nothing listens there).
    sim.set_callback_enabled(true);
    let push = sim
        .push(
            &interactive_services::providers::total_connect::callback::CallbackEvent::new(
                "an-1",
                "Alarm",
                "5100001",
                chrono::Utc::now(),
            ),
        )
        .await;
    assert!(!push.delivered(), "{push:?}");
    service.refresh_vendor_views().await;
    let h = service.health(CONFIG).await.expect("health");
    assert_eq!(h.state, HealthState::Degraded, "{h:?}");
    assert!(
        h.reason.contains("1 failed delivery attempt"),
        "{}",
        h.reason
    );
}

#[tokio::test]
async fn every_replica_sees_the_same_counts() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    same_counts_on_two_replicas(store.clone(), store, &clock).await;
}

/// Two replicas, each with its own pool on one SQLite file (as two processes would have), show
/// the same health.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn every_replica_sees_the_same_counts_in_sqlite() {
    use interactive_services::sync::SqliteStore;
    let clock = ManualClock::new(start());
    let path = std::env::temp_dir().join(format!(
        "isp-callback-health-{}-{}.db",
        std::process::id(),
        fastrand::u64(..)
    ));
    let open = || async {
        Arc::new(
            SqliteStore::open(&path)
                .await
                .expect("open")
                .with_clock(Arc::new(clock.clone())),
        )
    };
    let (a, b) = (open().await, open().await);
    same_counts_on_two_replicas(a.clone(), b.clone(), &clock).await;
    a.close().await;
    b.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

async fn same_counts_on_two_replicas<S: SyncStore>(
    store_a: Arc<S>,
    store_b: Arc<S>,
    clock: &ManualClock,
) {
    let clock = clock.clone();
    let sim = TotalConnectSimulator::start().await;
    let config = tc_config(CONFIG, &sim.endpoint(), Some(settings(false)));
    let registry = ProviderRegistry::with_built_ins();
    let replica = |store: Arc<S>| {
        let s = CallbackService::builder(store, Arc::new(common::RecordingSink::default()))
            .sync_options(options(&clock))
            .policy(policy())
            .build();
        s.add(&config, registry.build(&config).expect("builds"))
            .expect("added");
        s
    };
    let a = replica(store_a);
    let b = replica(store_b);
    let segment = a.path_segment(CONFIG).expect("a segment");
    deliver(&a, &segment, &clock, "an-1", SECRET).await;
    deliver(&b, &segment, &clock, "an-1", SECRET).await; // the same event on the other replica
    deliver(&b, &segment, &clock, "an-2", OTHER_SECRET).await;

    let from_a = a.health(CONFIG).await.expect("health");
    let from_b = b.health(CONFIG).await.expect("health");
    for h in [&from_a, &from_b] {
        assert_eq!((h.accepted, h.duplicate, h.rejected), (1, 1, 1), "{h:?}");
        assert_eq!(h.rejected_by_reason.get("bad_signature"), Some(&1));
    }
    assert_eq!(from_a.last_delivery_at, from_b.last_delivery_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_is_exact_under_concurrency() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    let mut tasks = Vec::new();
    for i in 0..400u32 {
        let store = store.clone();
        let at = start() + chrono::TimeDelta::seconds(i64::from(i % 120));
        tasks.push(tokio::spawn(async move {
            let outcome = match i % 4 {
                0 | 1 => CallbackOutcome::Accepted,
                2 => CallbackOutcome::Duplicate,
                _ => CallbackOutcome::Rejected {
                    reason: "bad_signature".into(),
                    detail: "the signature does not match".into(),
                },
            };
            store
                .record_callback(CONFIG, &CallbackRecord::new(at, outcome))
                .await
                .expect("recorded");
        }));
    }
    for t in tasks {
        t.await.expect("joined");
    }
    let traffic = store
        .callback_traffic(CONFIG, start())
        .await
        .expect("traffic");
    assert_eq!((traffic.accepted, traffic.duplicate), (200, 100));
    assert_eq!(traffic.rejected_total(), 100);
    assert_eq!(
        traffic.last_attempt_at,
        Some(start() + chrono::TimeDelta::seconds(119))
    );
    // The window starts at the minute of `since`: the second minute alone (i % 120 in 60..120:
    // 3 × 60 of the 400).
    let later = store
        .callback_traffic(CONFIG, start() + chrono::TimeDelta::seconds(60))
        .await
        .expect("traffic");
    assert_eq!(later.total(), 180);
}

#[test]
fn thresholds_need_both_a_count_and_a_share() {
    let now = start();
    let assess = |accepted: u64, rejected: u64| {
        let mut traffic = CallbackTraffic::new(CONFIG, now);
        traffic.accepted = accepted;
        traffic.rejected.insert("bad_signature".into(), rejected);
        traffic.last_attempt_at = Some(now);
        policy()
            .assess(&HealthFacts::new(CONFIG, &traffic, now), now)
            .state
    };
    assert_eq!(assess(0, 5), HealthState::Healthy, "5 is not above 5");
    assert_eq!(assess(0, 6), HealthState::Degraded);
    assert_eq!(
        assess(100, 6),
        HealthState::Healthy,
        "6 of 106 is under 10 %"
    );
    assert_eq!(assess(40, 6), HealthState::Degraded, "6 of 46 is over 10 %");
    let not_configured = policy().assess(
        &HealthFacts::new(CONFIG, &CallbackTraffic::new(CONFIG, now), now).configured(false),
        now,
    );
    assert_eq!(not_configured.state, HealthState::NotConfigured);
}
