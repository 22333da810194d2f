//! A month of Alarm.com billing landing on a dealer's ledger exactly once, across a restart.
//!
//! ```text
//! cargo run --example billing_sync
//! ```
//!
//! No flags, nothing to set up: the embedded Alarm.com simulator stands in for Alarm.com, the
//! sync state and a toy ledger live in one SQLite file in a temporary folder. A scripted month
//! follows: customers pay overdue invoices and their balance in the Alarm.com app, change the
//! card of their monthly charges, and one payment is refunded. The example syncs half of it,
//! stops as a crashed process would (without any goodbye to the store), starts again from the
//! same file, syncs the rest, and prints the ledger: every payment once.
//!
//! The ledger writes its rows and the store's "applied" mark in one SQLite transaction
//! (`SqliteStore::mark_applied_in`), so the two commit or roll back together.
//!
//! Exit codes: 0 when every payment is on the ledger exactly once, 1 otherwise.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration as Days, Utc};
use interactive_services::billing::{BillingLedger, LedgerError, LedgerSink};
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::sync::{
    IdempotencyKey, PullOutcome, SqliteStore, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::{
    AccountId, Address, InteractiveServicesProvider, Invoice, Payment, PaymentMethodKind,
    PaymentMethodUpdate, PaymentRecord, PaymentReversal, ProviderRegistry, ProvisionRequest,
};
use sqlx::{Connection, Row, SqlitePool};

const CONFIG: &str = "Alarm.com (main)";

/// Writes a line; a closed pipe (`| head`) ends the example quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    };
}

/// The dealer's books, in the same SQLite file as the sync state.
#[derive(Debug, Clone)]
struct Books {
    pool: SqlitePool,
}

impl Books {
    async fn open(pool: SqlitePool) -> Result<Self, sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ledger (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 account TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 reference TEXT NOT NULL,
                 invoice TEXT,
                 minor_units INTEGER NOT NULL,
                 currency TEXT NOT NULL,
                 detail TEXT NOT NULL,
                 at TEXT NOT NULL
             )",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// One ledger row and the store's "applied" mark, in one transaction.
    async fn write(&self, key: &IdempotencyKey, row: LedgerRow<'_>) -> Result<(), LedgerError> {
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
            sqlx::query(
                "INSERT INTO ledger (account, kind, reference, invoice, minor_units, currency, detail, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(row.account.as_str())
            .bind(row.kind)
            .bind(row.reference)
            .bind(row.invoice)
            .bind(row.minor_units)
            .bind(row.currency)
            .bind(row.detail)
            .bind(row.at)
            .execute(&mut *tx)
            .await
            .map_err(transient)?;
        }
        tx.commit().await.map_err(transient)
    }
}

struct LedgerRow<'a> {
    account: &'a AccountId,
    kind: &'a str,
    reference: &'a str,
    invoice: Option<&'a str>,
    minor_units: i64,
    currency: &'a str,
    detail: String,
    at: String,
}

#[async_trait]
impl BillingLedger for Books {
    async fn apply_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        payment: &Payment,
    ) -> Result<(), LedgerError> {
        self.write(
            key,
            LedgerRow {
                account,
                kind: "payment",
                reference: &payment.payment_id,
                invoice: payment.invoice.as_deref(),
                minor_units: payment.amount.minor_units,
                currency: &payment.amount.currency,
                detail: payment.method.clone(),
                at: payment.paid_at.to_rfc3339(),
            },
        )
        .await
    }

    async fn reverse_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        reversal: &PaymentReversal,
    ) -> Result<(), LedgerError> {
        self.write(
            key,
            LedgerRow {
                account,
                kind: "refund",
                reference: &reversal.reversal_id,
                invoice: None,
                minor_units: -reversal.amount.minor_units,
                currency: &reversal.amount.currency,
                detail: format!("reverses {}", reversal.payment_id),
                at: reversal.reversed_at.to_rfc3339(),
            },
        )
        .await
    }

    async fn payment_method(
        &self,
        account: &AccountId,
    ) -> Result<Option<PaymentMethodUpdate>, LedgerError> {
        // The toy ledger keeps card changes as rows; the latest one's time is what counts.
        let row = sqlx::query(
            "SELECT at FROM ledger WHERE account = $1 AND kind = 'card' ORDER BY at DESC LIMIT 1",
        )
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| LedgerError::Transient(e.to_string()))?;
        let Some(row) = row else { return Ok(None) };
        let at: String = row.get(0);
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(&at) else {
            return Ok(None);
        };
        Ok(Some(PaymentMethodUpdate::new(
            PaymentMethodKind::Card,
            at.with_timezone(&Utc),
        )))
    }

    async fn update_payment_method(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        update: &PaymentMethodUpdate,
    ) -> Result<(), LedgerError> {
        self.write(
            key,
            LedgerRow {
                account,
                kind: "card",
                reference: "",
                invoice: None,
                minor_units: 0,
                currency: "",
                detail: update.summary(),
                at: update.updated_at.to_rfc3339(),
            },
        )
        .await
    }

    async fn open_invoices(&self, _account: &AccountId) -> Result<Vec<Invoice>, LedgerError> {
        Ok(Vec::new())
    }

    async fn payment_history(
        &self,
        _account: &AccountId,
    ) -> Result<Vec<PaymentRecord>, LedgerError> {
        Ok(Vec::new())
    }
}

fn customer(dealer_id: &str, first: &str, last: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name(first, last)
        .email(format!("{}@example.com", first.to_lowercase()))
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
        .modem_serial(format!("MODEM-{dealer_id}"))
        .plan("9")
        .build()
}

/// Syncs until caught up; answers how many events were applied.
async fn sync(engine: &SyncEngine, provider: &dyn InteractiveServicesProvider) -> u32 {
    let mut applied = 0;
    loop {
        match engine.pull_once(CONFIG, provider).await {
            Ok(report) => {
                applied += report.applied;
                if report.outcome != PullOutcome::MorePending {
                    return applied;
                }
            }
            Err(e) => {
                say!("    pull failed: {e}");
                return applied;
            }
        }
    }
}

async fn open(path: &Path) -> Result<(SqliteStore, SyncEngine), String> {
    let store = SqliteStore::open(path).await.map_err(|e| e.to_string())?;
    let books = Books::open(store.pool().clone())
        .await
        .map_err(|e| e.to_string())?;
    let engine = SyncEngine::new(
        Arc::new(store.clone()) as Arc<dyn SyncStore>,
        Arc::new(LedgerSink::new(books)),
        SyncOptions::new("billing-example"),
    );
    Ok((store, engine))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run() -> Result<bool, String> {
    let folder = std::env::temp_dir().join(format!(
        "interactive-services-billing-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let path = folder.join("billing.sqlite");
    let result = walk(&path).await;
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn walk(path: &Path) -> Result<bool, String> {
    let sim = AlarmComSimulator::start().await;
    let config = sim
        .config()
        .to_builder()
        .name(CONFIG)
        .billing(true)
        .build()
        .map_err(|e| e.to_string())?;
    let provider = ProviderRegistry::with_built_ins()
        .build(&config)
        .map_err(|e| e.to_string())?;
    say!("1. Activating billing sync at the Alarm.com simulator ...");
    provider
        .activate_billing()
        .await
        .map_err(|e| e.to_string())?;

    say!("2. Three customers, and a month of activity in the Alarm.com app:");
    let mut ids = Vec::new();
    for (dealer_id, first, last) in [
        ("CUST-100", "Ada", "Lovelace"),
        ("CUST-101", "Grace", "Hopper"),
        ("CUST-102", "Alan", "Turing"),
    ] {
        let account = provider
            .provision(&customer(dealer_id, first, last))
            .await
            .map_err(|e| e.to_string())?;
        let id: i64 = account.id.as_str().parse().map_err(|_| "numeric id")?;
        ids.push((id, first));
    }
    let start = Utc::now() - Days::days(30);
    // The month in two halves: the first is synced before the "crash", the second after.
    let script = |days: std::ops::Range<i64>| {
        let mut events = 0;
        for day in days {
            let Some((id, first)) = usize::try_from(day)
                .ok()
                .and_then(|d| ids.get(d % ids.len()))
            else {
                continue;
            };
            let cents = 2999 + 1000 * (day % 3);
            if day % 6 == 0 {
                sim.pay(*id, Some(&format!("INV-{first}-{day:02}")), cents, "USD");
            } else {
                sim.pay(*id, None, cents, "USD");
            }
            events += 1;
            if day % 7 == 3 {
                sim.change_card_at(*id, "Visa", "4242", 12, 2030, start + Days::days(day));
                events += 1;
            }
        }
        events
    };
    let mut expected = script(0..9);
    say!("    first half of the month: {expected} billing events waiting at Alarm.com");

    say!("3. Syncing into {} ...", path.display());
    let (store, engine) = open(path).await?;
    let first_half = sync(&engine, provider.as_ref()).await;
    say!("    {first_half} applied; now the process \"crashes\" (nothing is closed cleanly)");
    drop(engine);
    drop(store);

    expected += script(9..18);
    if let Some((id, _)) = ids.first() {
        let refunded = sim.pay(*id, None, 1500, "USD");
        sim.reverse(*id, &refunded, 1500, "USD");
        expected += 2;
    }
    say!("    meanwhile the second half happens: {expected} billing events in all");

    say!("4. Starting again from the same file ...");
    let (store, engine) = open(path).await?;
    let status = engine.status(CONFIG).await.map_err(|e| e.to_string())?;
    say!(
        "    the store remembers {} applied, cursor {}",
        status.applied,
        status.cursor.map(|c| c.to_string()).unwrap_or_default()
    );
    let rest = sync(&engine, provider.as_ref()).await;
    say!("    {rest} more applied");
    // Every event delivered again from the start (a callback storm, a replayed feed): nothing
    // changes.
    let page = provider
        .events_since(None)
        .await
        .map_err(|e| e.to_string())?;
    let mut again = 0;
    for event in &page.events {
        if let Ok(interactive_services::sync::Delivery::Applied) =
            engine.ingest(CONFIG, event).await
        {
            again += 1;
        }
    }
    say!(
        "    delivering all {} events again: {again} applied again",
        page.events.len()
    );

    say!("5. The ledger:");
    let rows = sqlx::query(
        "SELECT account, kind, reference, COALESCE(invoice, ''), minor_units, currency, detail FROM ledger ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| e.to_string())?;
    let mut references = Vec::new();
    for row in &rows {
        let account: String = row.get(0);
        let kind: String = row.get(1);
        let reference: String = row.get(2);
        let invoice: String = row.get(3);
        let minor: i64 = row.get(4);
        let currency: String = row.get(5);
        let detail: String = row.get(6);
        let amount = if currency.is_empty() {
            String::new()
        } else {
            interactive_services::Money::new(minor, &currency)
                .map(|m| m.to_string())
                .unwrap_or_default()
        };
        say!("    {account}  {kind:<8} {reference:<8} {invoice:<12} {amount:>12}  {detail}");
        if !reference.is_empty() {
            references.push(reference);
        }
    }
    let total = rows.len();
    references.sort();
    let unique = {
        let mut r = references.clone();
        r.dedup();
        r.len()
    };
    let once = total == expected && unique == references.len() && again == 0;
    say!(
        "{total} ledger rows for {expected} events; {}",
        if once {
            "each payment exactly once."
        } else {
            "NOT exactly once!"
        }
    );
    store.close().await;
    Ok(once)
}
