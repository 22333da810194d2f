//! Real kills: a child process syncs Alarm.com billing events into a ledger kept in the same
//! SQLite file as the sync state, and is killed with SIGKILL at random points, over and over.
//! After the last run catches up, every event is on the ledger exactly once: none lost, none
//! applied twice.
//!
//! The child is this test binary run again with `SYNC_KILL_DB` set (the test
//! `child_or_single_run`); without it, that test runs the same routine once in-process.

#![cfg(all(feature = "sqlite", unix))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use interactive_services::billing::{BillingLedger, LedgerError, LedgerSink};
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::sync::{
    DeliveryRetry, IdempotencyKey, PullOutcome, SqliteStore, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::{
    AccountId, Address, InteractiveServicesProvider, Invoice, IspConfig, Payment,
    PaymentMethodUpdate, PaymentRecord, PaymentReversal, ProviderRegistry, ProvisionRequest,
};
use sqlx::{Connection, Row, SqlitePool};

const CONFIG: &str = "Alarm.com (kill test)";
const DB: &str = "SYNC_KILL_DB";
const ENDPOINT: &str = "SYNC_KILL_ENDPOINT";

/// A ledger of payments in the store's own file: one row per payment, written in the same
/// transaction as the store's "applied" mark. No unique constraint: a double apply would show
/// as two rows.
#[derive(Debug)]
struct Ledger {
    pool: SqlitePool,
}

impl Ledger {
    async fn open(pool: SqlitePool) -> Ledger {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ledger (payment TEXT NOT NULL, cents INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("ledger table");
        Ledger { pool }
    }
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
        let mut conn = self.pool.acquire().await.map_err(transient)?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(transient)?;
        let first = SqliteStore::mark_applied_in(&mut tx, key.config(), key.event_id())
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

fn config(endpoint: &str) -> IspConfig {
    IspConfig::builder()
        .name(CONFIG)
        .provider("alarm_com")
        .endpoint(endpoint)
        .credential(
            "login",
            interactive_services::providers::alarm_com::simulator::DEFAULT_LOGIN,
        )
        .credential(
            "password",
            interactive_services::providers::alarm_com::simulator::DEFAULT_PASSWORD,
        )
        .billing(true)
        .build()
        .expect("valid config")
}

/// What the child does: sync until caught up. Claims lapse quickly, so that a killed run's
/// claims do not hold up the next one for long.
async fn sync_until_caught_up(db: &Path, endpoint: &str) {
    let store = SqliteStore::open(db).await.expect("store");
    let ledger = Ledger::open(store.pool().clone()).await;
    let engine = SyncEngine::new(
        Arc::new(store) as Arc<dyn SyncStore>,
        Arc::new(LedgerSink::new(ledger)),
        SyncOptions::new("replica-1")
            .claim_ttl(Duration::from_millis(50))
            .retry(DeliveryRetry {
                max_attempts: 20,
                initial_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(50),
            }),
    );
    let provider = ProviderRegistry::with_built_ins()
        .build(&config(endpoint))
        .expect("provider");
    loop {
        match engine.pull_once(CONFIG, provider.as_ref()).await {
            Ok(report) if report.outcome == PullOutcome::CaughtUp => return,
            Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn provisioned(sim: &AlarmComSimulator) -> i64 {
    let provider = ProviderRegistry::with_built_ins()
        .build(&config(&sim.endpoint()))
        .expect("provider");
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(
            &ProvisionRequest::builder("KILL-1")
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
                .modem_serial("MODEM-KILL-1")
                .plan("9")
                .build(),
        )
        .await
        .expect("provisioned");
    account.id.as_str().parse().expect("numeric")
}

/// Payments on the ledger: (rows, distinct payments).
async fn ledger_rows(db: &Path) -> (i64, i64) {
    let store = SqliteStore::open(db).await.expect("store");
    let row = sqlx::query("SELECT COUNT(*), COUNT(DISTINCT payment) FROM ledger")
        .fetch_one(store.pool())
        .await
        .expect("count");
    let counts = (row.get(0), row.get(1));
    store.close().await;
    counts
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "isp-sync-kill-{}-{}-{name}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("sync.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_or_single_run() {
    if let (Ok(db), Ok(endpoint)) = (std::env::var(DB), std::env::var(ENDPOINT)) {
        // The child: sync, then leave at once (the parent may kill it at any point before).
        sync_until_caught_up(Path::new(&db), &endpoint).await;
        std::process::exit(0);
    }
    // In-process: the same routine once, 40 payments, each on the ledger once.
    let sim = AlarmComSimulator::start().await;
    let customer = provisioned(&sim).await;
    for n in 0..40 {
        sim.pay(customer, None, 100 + n, "USD");
    }
    let db = temp_db("single");
    sync_until_caught_up(&db, &sim.endpoint()).await;
    assert_eq!(ledger_rows(&db).await, (40, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_at_random_points_none_lost_none_twice() {
    if std::env::var_os(DB).is_some() {
        return; // inside a child: only `child_or_single_run` runs there
    }
    let sim = AlarmComSimulator::start().await;
    let customer = provisioned(&sim).await;
    let mut payments = 0;
    for _ in 0..200 {
        sim.pay(customer, None, 100 + payments, "USD");
        payments += 1;
    }
    let db = temp_db("kills");
    let exe = std::env::current_exe().expect("test binary");
    let child = |db: &Path| {
        Command::new(&exe)
            .args(["--exact", "child_or_single_run", "--test-threads=1"])
            .env(DB, db)
            .env(ENDPOINT, sim.endpoint())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child")
    };

    let mut kills = 0;
    let mut rounds = 0;
    while kills < 60 && rounds < 400 {
        rounds += 1;
        // New payments keep arriving, so that every run has work to be killed in.
        for _ in 0..5 {
            sim.pay(customer, None, 100 + payments, "USD");
            payments += 1;
        }
        let mut running = child(&db);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(5..120))).await;
        if running.try_wait().expect("status").is_none() {
            running.kill().expect("SIGKILL");
            kills += 1;
        }
        running.wait().expect("reaped");
    }
    // The last run, not killed, catches up.
    let status = child(&db).wait().expect("last run");
    assert!(status.success(), "the last run exits cleanly: {status}");

    let (rows, distinct) = ledger_rows(&db).await;
    println!("{kills} SIGKILLs over {rounds} runs; {payments} payments; {rows} ledger rows");
    assert!(kills >= 50, "only {kills} runs were killed while working");
    assert_eq!(distinct, payments, "none lost");
    assert_eq!(rows, payments, "none applied twice");
}
