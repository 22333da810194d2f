//! Two replicas on one PostgreSQL database and one Alarm.com simulator: both pull and both take
//! pushed copies of the same events, each event reaches the ledger once; the lease holder is
//! killed mid-stream and the other replica takes over once the lease lapses.
//!
//! The server's URL comes from `INTERACTIVE_SERVICES_TEST_PG` (`export
//! INTERACTIVE_SERVICES_TEST_PG=$(.ci/postgres)`); without it the test prints a line and
//! passes, except under CI (`CI` set), where it fails.

#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use interactive_services::billing::{BillingLedger, LedgerError, LedgerSink};
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, DEFAULT_PASSWORD,
};
use interactive_services::sync::{
    DeliveryRetry, IdempotencyKey, PgStore, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::{
    AccountId, Address, InteractiveServicesProvider, Invoice, IspConfig, Payment,
    PaymentMethodUpdate, PaymentRecord, PaymentReversal, ProviderRegistry, ProvisionRequest,
};
use sqlx::{Connection, PgConnection, PgPool, Row};

const VAR: &str = "INTERACTIVE_SERVICES_TEST_PG";
const CONFIG: &str = "Alarm.com (replicas)";

fn server() -> Option<String> {
    match std::env::var(VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{VAR} is not set, and CI is: this test must run in CI. Start PostgreSQL with \
             `export {VAR}=$(.ci/postgres)` and run it again."
        ),
        _ => {
            eprintln!(
                "skipped: {VAR} is not set (start PostgreSQL with `export {VAR}=$(.ci/postgres)`)"
            );
            None
        }
    }
}

/// Payments in the same database as the store, written with the store's "applied" mark in one
/// transaction; no unique constraint, so a double apply would show. Its transactions start
/// with [`PgStore::begin`]: the dead replica's task is aborted wherever it is.
#[derive(Debug)]
struct Ledger {
    store: PgStore,
}

#[async_trait]
impl BillingLedger for Ledger {
    async fn apply_payment(
        &self,
        key: &IdempotencyKey,
        _account: &AccountId,
        payment: &Payment,
    ) -> Result<(), LedgerError> {
        let transient = |e: sqlx::Error| LedgerError::Transient(e.to_string());
        let mut tx = self.store.begin().await.map_err(transient)?;
        let first = PgStore::mark_applied_in(&mut tx, key.config(), key.event_id())
            .await
            .map_err(|e| LedgerError::Transient(e.to_string()))?;
        if first {
            sqlx::query("INSERT INTO ledger (payment, cents) VALUES ($1, $2)")
                .bind(&payment.payment_id)
                .bind(payment.amount.minor_units)
                .execute(&mut *tx)
                .await
                .map_err(transient)?;
        }
        tx.commit().await.map_err(transient)
    }
    async fn reverse_payment(
        &self,
        _: &IdempotencyKey,
        _: &AccountId,
        _: &PaymentReversal,
    ) -> Result<(), LedgerError> {
        Err(LedgerError::Refused("no reversals in this test".into()))
    }
    async fn payment_method(
        &self,
        _: &AccountId,
    ) -> Result<Option<PaymentMethodUpdate>, LedgerError> {
        Ok(None)
    }
    async fn update_payment_method(
        &self,
        _: &IdempotencyKey,
        _: &AccountId,
        _: &PaymentMethodUpdate,
    ) -> Result<(), LedgerError> {
        Ok(())
    }
    async fn open_invoices(&self, _: &AccountId) -> Result<Vec<Invoice>, LedgerError> {
        Ok(Vec::new())
    }
    async fn payment_history(&self, _: &AccountId) -> Result<Vec<PaymentRecord>, LedgerError> {
        Ok(Vec::new())
    }
}

fn config(sim: &AlarmComSimulator) -> IspConfig {
    IspConfig::builder()
        .name(CONFIG)
        .provider("alarm_com")
        .endpoint(sim.endpoint())
        .credential("login", DEFAULT_LOGIN)
        .credential("password", DEFAULT_PASSWORD)
        .billing(true)
        .build()
        .expect("valid")
}

/// One replica: its own pool on the shared schema, its own engine.
async fn replica(url: &str, holder: &str) -> SyncEngine {
    let store = PgStore::connect(url).await.expect("store");
    let ledger = Ledger {
        store: store.clone(),
    };
    SyncEngine::new(
        Arc::new(store) as Arc<dyn SyncStore>,
        Arc::new(LedgerSink::new(ledger)),
        SyncOptions::new(holder)
            .lease_ttl(Duration::from_secs(1))
            .claim_ttl(Duration::from_millis(500))
            .retry(DeliveryRetry {
                max_attempts: 10,
                initial_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(100),
            }),
    )
}

/// Pulls in a loop and ingests pushed copies of the feed's events, until `stop`.
fn run(
    engine: SyncEngine,
    provider: Arc<dyn InteractiveServicesProvider>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let _ = engine.pull_once(CONFIG, provider.as_ref()).await;
            // A callback storm: a few events from the start of the feed pushed again.
            if let Ok(page) = provider.events_since(None).await {
                for event in page.events.iter().take(5) {
                    let _ = engine.ingest(CONFIG, event).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

async fn ledger_counts(pool: &PgPool) -> (i64, i64) {
    let row = sqlx::query("SELECT COUNT(*), COUNT(DISTINCT payment) FROM ledger")
        .fetch_one(pool)
        .await
        .expect("count");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_apply_each_event_once_and_one_takes_over_from_a_dead_holder() {
    let Some(server) = server() else { return };
    let schema = format!("r_{:016x}", fastrand::u64(..));
    let mut admin = PgConnection::connect(&server).await.expect("connect");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let sep = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{sep}options[search_path]={schema}");
    let pool = PgPool::connect(&url).await.expect("pool");
    sqlx::query("CREATE TABLE ledger (payment TEXT NOT NULL, cents BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .expect("ledger");

    let sim = AlarmComSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&config(&sim))
        .expect("provider");
    provider.activate_billing().await.expect("activated");
    let customer: i64 = provider
        .provision(
            &ProvisionRequest::builder("REPLICA-1")
                .name("Ada", "Lovelace")
                .email("ada@example.com")
                .phone("5555550123")
                .address(Address {
                    street1: "1 Main St".into(),
                    city: "Springfield".into(),
                    state: "IL".into(),
                    zip: "62701".into(),
                    country: "US".into(),
                    ..Address::default()
                })
                .panel_type("IQPanel2")
                .modem_serial("MODEM-R-1")
                .plan("9")
                .build(),
        )
        .await
        .expect("provisioned")
        .id
        .as_str()
        .parse()
        .expect("numeric");
    for n in 0..150 {
        sim.pay(customer, None, 100 + n, "USD");
    }

    let a = replica(&url, "replica-a").await;
    let b = replica(&url, "replica-b").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![
        ("replica-a", run(a.clone(), provider.clone(), stop.clone())),
        ("replica-b", run(b.clone(), provider.clone(), stop.clone())),
    ];

    // Wait for progress, then kill whoever holds the lease.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ledger_counts(&pool).await.0 < 50 {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holder = a
        .store()
        .lease(CONFIG)
        .await
        .expect("lease")
        .map(|l| l.holder)
        .expect("someone holds the lease");
    let at = tasks
        .iter()
        .position(|(h, _)| *h == holder)
        .expect("known holder");
    let (_, dead) = tasks.remove(at);
    dead.abort(); // no release: the lease must lapse
    let _ = dead.await;
    let survivor = if holder == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };

    for n in 150..250 {
        sim.pay(customer, None, 100 + n, "USD");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (rows, _) = ledger_counts(&pool).await;
        let lease = b
            .store()
            .lease(CONFIG)
            .await
            .expect("lease")
            .map(|l| l.holder);
        if rows >= 250 && lease.as_deref() == Some(survivor) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the survivor did not take over: {rows} rows, lease {lease:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for (_, task) in tasks {
        task.await.expect("task");
    }

    let (rows, distinct) = ledger_counts(&pool).await;
    assert_eq!(distinct, 250, "none lost");
    assert_eq!(rows, 250, "none applied twice");
    let status = b.status(CONFIG).await.expect("status");
    assert_eq!(status.applied, 250);

    // A transaction left open by the aborted replica would hold its locks for ever: the drop
    // would wait for it. It fails instead.
    pool.close().await;
    sqlx::query("SET lock_timeout = '20s'")
        .execute(&mut admin)
        .await
        .expect("lock timeout");
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .expect("drop the schema: no transaction of the replicas is left open");
}
