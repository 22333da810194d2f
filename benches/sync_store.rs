//! `cargo bench --bench sync_store --features sqlite,postgres`: events per second through the
//! sync engine's dedupe path — `claim` then `mark_applied`, per event — into each store.
//!
//! - **memory**: [`MemoryStore`], one task on one core.
//! - **sqlite, per event**: [`SqliteStore`] in a temporary file (WAL, `synchronous=FULL`): two
//!   durable commits per event.
//! - **sqlite, batched**: the same file, `claim_batch` then `mark_applied_batch` over a batch of
//!   events: two durable commits per batch. "Batching" is exactly that: one transaction claims
//!   a batch of events and one records them applied, as a sink that applies a page at a time
//!   would.
//! - **postgres**: [`PgStore`] on the server named by `INTERACTIVE_SERVICES_TEST_PG` (start one
//!   with `.ci/postgres`), per event with one stream, with 8 concurrent streams on one
//!   configuration and on 8 configurations, and batched.
//!
//! - **through the engine**: `SyncEngine::pull_once` over an in-memory provider's feed (pages
//!   of 100 events) into a counting sink, on each store: what a host's pull costs end to end,
//!   with the engine claiming and recording each page in chunks
//!   ([`SyncOptions::batch_size`], 100 by default) — the figure the sync issue's floors are
//!   about (memory 100,000/s, SQLite 10,000/s durable, PostgreSQL 5,000/s).
//!
//! A plain bench binary (no harness): each case runs a fixed number of events and prints the
//! rate. Without `--bench` (e.g. `cargo test --benches`) it runs a few events of each case only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream;
use interactive_services::EventId;
use interactive_services::sync::{
    Claim, ClaimMode, EventSink, IdempotencyKey, MemoryStore, PgStore, PullOutcome, SinkError,
    SqliteStore, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::testkit::InMemoryProvider;
use interactive_services::{AccountId, IspEvent, Money};
use std::sync::atomic::{AtomicU64, Ordering};

const TTL: Duration = Duration::from_secs(60);

fn ids(prefix: &str, n: usize) -> Vec<EventId> {
    (0..n)
        .map(|i| EventId::new(format!("{prefix}-{i:08}")))
        .collect()
}

fn report(name: &str, events: usize, elapsed: Duration) {
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<52} {events:>8} events in {:>8.3} s = {rate:>10.0} events/s",
        elapsed.as_secs_f64()
    );
}

/// `claim` + `mark_applied` of each event in turn, on one task.
async fn per_event(store: &dyn SyncStore, config: &str, events: &[EventId]) -> Duration {
    let start = Instant::now();
    for event in events {
        match store
            .claim(config, event, "bench", TTL, ClaimMode::Deliver)
            .await
        {
            Ok(Claim::Claimed) => {}
            other => panic!("unexpected claim answer {other:?}"),
        }
        if let Err(e) = store.mark_applied(config, event, "bench").await {
            panic!("mark_applied failed: {e}");
        }
    }
    start.elapsed()
}

/// `claim` + `mark_applied` of each event, `streams` events in flight at once (each stream its
/// own claimant, all in one configuration).
async fn per_event_concurrent(
    store: &dyn SyncStore,
    config: &str,
    events: &[EventId],
    streams: usize,
) -> Duration {
    let start = Instant::now();
    stream::iter(events.iter().enumerate())
        .for_each_concurrent(streams, |(i, event)| async move {
            let claimant = format!("bench-{}", i % streams);
            match store
                .claim(config, event, &claimant, TTL, ClaimMode::Deliver)
                .await
            {
                Ok(Claim::Claimed) => {}
                other => panic!("unexpected claim answer {other:?}"),
            }
            if let Err(e) = store.mark_applied(config, event, &claimant).await {
                panic!("mark_applied failed: {e}");
            }
        })
        .await;
    start.elapsed()
}

/// Something with `claim_batch` and `mark_applied_batch`.
trait Batched {
    async fn claim_all(&self, config: &str, events: &[EventId]) -> Vec<Claim>;
    async fn mark_all(&self, config: &str, events: &[EventId]) -> u64;
}

impl Batched for SqliteStore {
    async fn claim_all(&self, config: &str, events: &[EventId]) -> Vec<Claim> {
        match self
            .claim_batch(config, events, "bench", TTL, ClaimMode::Deliver)
            .await
        {
            Ok(answers) => answers,
            Err(e) => panic!("claim_batch failed: {e}"),
        }
    }
    async fn mark_all(&self, config: &str, events: &[EventId]) -> u64 {
        match self.mark_applied_batch(config, events, "bench").await {
            Ok(n) => n,
            Err(e) => panic!("mark_applied_batch failed: {e}"),
        }
    }
}

impl Batched for PgStore {
    async fn claim_all(&self, config: &str, events: &[EventId]) -> Vec<Claim> {
        match self
            .claim_batch(config, events, "bench", TTL, ClaimMode::Deliver)
            .await
        {
            Ok(answers) => answers,
            Err(e) => panic!("claim_batch failed: {e}"),
        }
    }
    async fn mark_all(&self, config: &str, events: &[EventId]) -> u64 {
        match self.mark_applied_batch(config, events, "bench").await {
            Ok(n) => n,
            Err(e) => panic!("mark_applied_batch failed: {e}"),
        }
    }
}

/// `claim_batch` + `mark_applied_batch` over `events` in batches of `size`.
async fn batched(store: &impl Batched, config: &str, events: &[EventId], size: usize) -> Duration {
    let start = Instant::now();
    for batch in events.chunks(size) {
        let answers = store.claim_all(config, batch).await;
        assert!(answers.iter().all(|a| *a == Claim::Claimed), "{answers:?}");
        let added = store.mark_all(config, batch).await;
        assert_eq!(added, batch.len() as u64);
    }
    start.elapsed()
}

#[derive(Debug, Default)]
struct CountingSink(AtomicU64);

#[async_trait]
impl EventSink for CountingSink {
    async fn apply(&self, _: &str, _: &IspEvent, _: &IdempotencyKey) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A provider whose feed holds `n` payments.
fn feed(n: usize) -> InMemoryProvider {
    let provider = InMemoryProvider::new();
    let account = AccountId::new("100001");
    let amount = match Money::new(2_999, "USD") {
        Ok(m) => m,
        Err(e) => panic!("money: {e}"),
    };
    for i in 0..n {
        provider.record_payment(&account, amount.clone(), &format!("pay-{i:08}"));
    }
    provider
}

/// One `pull_once` of `provider`'s whole feed into `store`; every event must reach the sink.
async fn through_engine(
    name: &str,
    store: Arc<dyn SyncStore>,
    provider: &InMemoryProvider,
    events: usize,
) {
    let sink = Arc::new(CountingSink::default());
    let options = SyncOptions::new("bench").max_pages(u32::MAX);
    let engine = SyncEngine::new(store, sink.clone(), options);
    let start = Instant::now();
    match engine.pull_once(name, provider).await {
        Ok(report) if report.outcome == PullOutcome::CaughtUp => {}
        other => panic!("pull: {other:?}"),
    }
    let elapsed = start.elapsed();
    assert_eq!(
        sink.0.load(Ordering::Relaxed),
        events as u64,
        "each event once"
    );
    report(
        &format!("{name}, through the engine (pull_once)"),
        events,
        elapsed,
    );
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = |full: usize| if quick { (full / 1000).max(20) } else { full };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return;
        }
    };
    runtime.block_on(async {
        // Memory.
        let store = MemoryStore::new();
        let events = ids("mem", scale(300_000));
        per_event(&store, "warm-up", &events[..events.len().min(10_000)]).await;
        let elapsed = per_event(&store, "bench", &events).await;
        report("memory, per event (one task)", events.len(), elapsed);

        let n = scale(100_000);
        let provider = feed(n);
        through_engine("memory", Arc::new(MemoryStore::new()), &provider, n).await;

        // SQLite.
        let path = std::env::temp_dir().join(format!("isp-sync-bench-{}.db", std::process::id()));
        match SqliteStore::open(&path).await {
            Ok(store) => {
                let events = ids("one", scale(3_000));
                let elapsed = per_event(&store, "bench", &events).await;
                report("sqlite (FULL, durable), per event", events.len(), elapsed);
                for size in [100, 1_000] {
                    let events = ids(&format!("batch{size}"), scale(100_000));
                    let elapsed = batched(&store, "bench", &events, size).await;
                    report(
                        &format!("sqlite (FULL, durable), batches of {size}"),
                        events.len(),
                        elapsed,
                    );
                }
                through_engine(
                    "sqlite (FULL, durable)",
                    Arc::new(store.clone()),
                    &provider,
                    n,
                )
                .await;
                store.close().await;
            }
            Err(e) => eprintln!("sqlite store: {e}"),
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }

        // PostgreSQL.
        let Ok(server) = std::env::var("INTERACTIVE_SERVICES_TEST_PG") else {
            println!(
                "postgres: skipped (set INTERACTIVE_SERVICES_TEST_PG, e.g. from .ci/postgres)"
            );
            return;
        };
        postgres(&server, &scale, &provider, n).await;
    });
}

async fn postgres(
    server: &str,
    scale: &dyn Fn(usize) -> usize,
    provider: &InMemoryProvider,
    n: usize,
) {
    use sqlx::Connection;
    let schema = format!("bench_{:016x}", fastrand::u64(..));
    let mut admin = match sqlx::PgConnection::connect(server).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("postgres: {e}");
            return;
        }
    };
    if let Err(e) = sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
    {
        eprintln!("postgres: {e}");
        return;
    }
    let sep = if server.contains('?') { '&' } else { '?' };
    match PgStore::connect(&format!("{server}{sep}options[search_path]={schema}")).await {
        Ok(store) => {
            // First, on empty tables: the engine's pull.
            let store = Arc::new(store);
            through_engine("postgres (loopback)", store.clone(), provider, n).await;
            let events = ids("one", scale(3_000));
            let elapsed = per_event(store.as_ref(), "bench", &events).await;
            report(
                "postgres (loopback), per event, 1 stream",
                events.len(),
                elapsed,
            );
            let events = ids("conc", scale(10_000));
            let elapsed = per_event_concurrent(store.as_ref(), "bench", &events, 8).await;
            report(
                "postgres (loopback), per event, 8 streams",
                events.len(),
                elapsed,
            );
            let configs: Vec<String> = (0..8).map(|i| format!("bench-{i}")).collect();
            let events = ids("many", scale(10_000));
            let start = Instant::now();
            stream::iter(events.iter().enumerate())
                .for_each_concurrent(8, |(i, event)| {
                    let store = store.clone();
                    let config = &configs[i % configs.len()];
                    async move {
                        per_event(store.as_ref(), config, std::slice::from_ref(event)).await;
                    }
                })
                .await;
            report(
                "postgres (loopback), per event, 8 streams, 8 configs",
                events.len(),
                start.elapsed(),
            );
            for size in [100, 1_000] {
                let events = ids(&format!("batch{size}"), scale(100_000));
                let elapsed = batched(store.as_ref(), "bench", &events, size).await;
                report(
                    &format!("postgres (loopback), batches of {size}"),
                    events.len(),
                    elapsed,
                );
            }
            store.close().await;
        }
        Err(e) => eprintln!("postgres store: {e}"),
    }
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await;
}
