//! Billing from the Alarm.com app to the dealer's ledger through the sync engine: each payment
//! once whether it comes by pull, by push or again after a restart; money refused explicitly
//! where it cannot be a payment; an older card change never replaces a newer one; the dealer's
//! bills go back to the app.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration as Days, NaiveDate, Utc};
use interactive_services::billing::{BillingLedger, LedgerError, LedgerSink, push_billing_summary};
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::sync::{
    Delivery, IdempotencyKey, MemoryStore, PullOutcome, SyncEngine, SyncOptions, SyncStore,
};
use interactive_services::{
    AccountId, Address, EventKind, InteractiveServicesProvider, Invoice, Money, Payment,
    PaymentMethodUpdate, PaymentRecord, PaymentReversal, ProviderRegistry, ProvisionRequest,
};

const CONFIG: &str = "Alarm.com (main)";

/// A toy ledger: invoices per account, applied changes by idempotency key.
#[derive(Debug, Default)]
struct Books {
    inner: Mutex<BooksState>,
}

#[derive(Debug, Default)]
struct BooksState {
    /// Every change the ledger applied, in order, by key: a key twice would be a double apply.
    applied: Vec<String>,
    /// Remaining amount due per (account, invoice).
    invoices: BTreeMap<(AccountId, String), i64>,
    /// Wide enough that large amounts add up without overflow.
    balance_paid: BTreeMap<(AccountId, String), i128>,
    method: BTreeMap<AccountId, PaymentMethodUpdate>,
    history: BTreeMap<AccountId, Vec<PaymentRecord>>,
}

impl Books {
    fn state(&self) -> std::sync::MutexGuard<'_, BooksState> {
        self.inner.lock().unwrap()
    }

    /// Whether `key` was applied before; records it otherwise.
    fn first_time(state: &mut BooksState, key: &IdempotencyKey) -> bool {
        let key = key.to_string();
        if state.applied.contains(&key) {
            return false;
        }
        state.applied.push(key);
        true
    }
}

#[async_trait::async_trait]
impl BillingLedger for Books {
    async fn apply_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        payment: &Payment,
    ) -> Result<(), LedgerError> {
        let mut s = self.state();
        if !Books::first_time(&mut s, key) {
            return Ok(());
        }
        match &payment.invoice {
            Some(invoice) => {
                let due = s
                    .invoices
                    .get_mut(&(account.clone(), invoice.clone()))
                    .ok_or_else(|| LedgerError::Refused(format!("no invoice {invoice}")))?;
                *due -= payment.amount.minor_units;
            }
            None => {
                *s.balance_paid
                    .entry((account.clone(), payment.amount.currency.clone()))
                    .or_default() += i128::from(payment.amount.minor_units)
            }
        }
        s.history.entry(account.clone()).or_default().insert(
            0,
            PaymentRecord::new(
                payment.payment_id.clone(),
                payment.paid_at,
                payment.amount.clone(),
                payment.invoice.clone(),
                payment.method.clone(),
            ),
        );
        Ok(())
    }

    async fn reverse_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        reversal: &PaymentReversal,
    ) -> Result<(), LedgerError> {
        let mut s = self.state();
        if !Books::first_time(&mut s, key) {
            return Ok(());
        }
        *s.balance_paid
            .entry((account.clone(), reversal.amount.currency.clone()))
            .or_default() -= i128::from(reversal.amount.minor_units);
        Ok(())
    }

    async fn payment_method(
        &self,
        account: &AccountId,
    ) -> Result<Option<PaymentMethodUpdate>, LedgerError> {
        Ok(self.state().method.get(account).cloned())
    }

    async fn update_payment_method(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        update: &PaymentMethodUpdate,
    ) -> Result<(), LedgerError> {
        let mut s = self.state();
        if Books::first_time(&mut s, key) {
            s.method.insert(account.clone(), update.clone());
        }
        Ok(())
    }

    async fn open_invoices(&self, account: &AccountId) -> Result<Vec<Invoice>, LedgerError> {
        let s = self.state();
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        Ok(s.invoices
            .iter()
            .filter(|((a, _), due)| a == account && **due > 0)
            .map(|((_, reference), due)| {
                Invoice::new(
                    reference.clone(),
                    day,
                    day + Days::days(14),
                    Money::new(*due, "USD").unwrap(),
                    true,
                )
            })
            .collect())
    }

    async fn payment_history(
        &self,
        account: &AccountId,
    ) -> Result<Vec<PaymentRecord>, LedgerError> {
        Ok(self
            .state()
            .history
            .get(account)
            .cloned()
            .unwrap_or_default())
    }
}

struct Setup {
    sim: AlarmComSimulator,
    provider: Arc<dyn InteractiveServicesProvider>,
    store: MemoryStore,
    books: Arc<Books>,
    account: AccountId,
    customer: i64,
}

async fn setup() -> Setup {
    let sim = AlarmComSimulator::start().await;
    let config = sim
        .config()
        .to_builder()
        .name(CONFIG)
        .billing(true)
        .build()
        .unwrap();
    let provider = ProviderRegistry::with_built_ins().build(&config).unwrap();
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(
            &ProvisionRequest::builder("D-1")
                .name("Grace", "Hopper")
                .email("grace@example.com")
                .phone("5555550123")
                .address(Address {
                    street1: "1 Navy Way".into(),
                    city: "Arlington".into(),
                    state: "VA".into(),
                    zip: "22201".into(),
                    country: "US".into(),
                    ..Address::default()
                })
                .panel_type("IQPanel2")
                .modem_serial("ABC123456")
                .plan("9")
                .build(),
        )
        .await
        .expect("provisioned")
        .id;
    let customer = account.as_str().parse().unwrap();
    let books = Arc::new(Books::default());
    books
        .state()
        .invoices
        .insert((account.clone(), "INV-2026-10".into()), 4999);
    Setup {
        sim,
        provider,
        store: MemoryStore::new(),
        books,
        account,
        customer,
    }
}

fn engine(s: &Setup, holder: &str) -> SyncEngine {
    SyncEngine::new(
        Arc::new(s.store.clone()) as Arc<dyn SyncStore>,
        Arc::new(LedgerSink::new(s.books.clone())),
        SyncOptions::new(holder),
    )
}

#[tokio::test]
async fn one_payment_by_pull_by_push_and_after_a_restart_is_applied_once() {
    let s = setup().await;
    s.sim.pay(s.customer, Some("INV-2026-10"), 4999, "USD");
    let page = s.provider.events_since(None).await.unwrap();
    let pushed = page.events[0].clone();

    let first = engine(&s, "replica-1");
    // Pushed first (a callback), then pulled, then pushed again.
    assert_eq!(
        first.ingest(CONFIG, &pushed).await.unwrap(),
        Delivery::Applied
    );
    let report = first.pull_once(CONFIG, s.provider.as_ref()).await.unwrap();
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(report.applied, 0);
    assert_eq!(
        first.ingest(CONFIG, &pushed).await.unwrap(),
        Delivery::AlreadyApplied
    );

    // A restart: a new engine on the same store, from the start of the feed.
    drop(first);
    let restarted = engine(&s, "replica-1");
    restarted
        .store()
        .release_lease(CONFIG, "replica-1")
        .await
        .unwrap();
    let report = restarted
        .pull_once(CONFIG, s.provider.as_ref())
        .await
        .unwrap();
    assert_eq!(report.applied, 0);
    assert_eq!(
        restarted.ingest(CONFIG, &pushed).await.unwrap(),
        Delivery::AlreadyApplied
    );

    let books = s.books.state();
    assert_eq!(books.applied.len(), 1, "{:?}", books.applied);
    assert_eq!(
        books.invoices[&(s.account.clone(), "INV-2026-10".into())],
        0
    );
}

#[tokio::test]
async fn money_that_cannot_be_a_payment_is_parked_and_the_rest_still_arrives() {
    let s = setup().await;
    let c = s.customer;
    s.sim.pay(c, None, 0, "USD"); // zero
    s.sim.pay(c, None, 500, "XYZ"); // not a currency
    s.sim.pay(c, None, i64::MAX, "USD"); // large, and fine
    let paid = s.sim.pay(c, None, 2500, "USD");
    s.sim.reverse(c, &paid, 2500, "USD"); // a refund
    s.sim.reverse(c, &paid, -10, "USD"); // a negative reversal
    s.sim.push_raw_billing_event(
        c,
        &[
            ("EventType", "PaymentApplied"),
            ("PaymentId", "P-X"),
            ("CurrencyCode", "USD"),
        ],
    ); // no amount at all
    s.sim.pay(c, None, 100, "JPY");

    let engine = engine(&s, "replica-1");
    let report = engine.pull_once(CONFIG, s.provider.as_ref()).await.unwrap();
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    assert_eq!(
        report.parked, 4,
        "zero, XYZ, negative reversal, missing amount"
    );
    assert_eq!(report.applied, 4);

    let parked = engine.parked(CONFIG).await.unwrap();
    let reasons: Vec<&str> = parked.iter().map(|p| p.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("more than zero")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("ISO 4217")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("AmountInCents")),
        "{reasons:?}"
    );

    let books = s.books.state();
    // The largest amount arrives whole: i64::MAX + 2500 - 2500 (the toy ledger sums in i128).
    assert_eq!(
        books.balance_paid[&(s.account.clone(), "USD".to_owned())],
        i128::from(i64::MAX)
    );
    assert_eq!(
        books.balance_paid[&(s.account.clone(), "JPY".to_owned())],
        100
    );
    assert_eq!(books.applied.len(), 4);
}

#[tokio::test]
async fn an_older_card_change_delivered_late_never_wins() {
    let s = setup().await;
    let now = Utc::now();
    s.sim
        .change_card_at(s.customer, "Visa", "4242", 12, 2030, now);
    s.sim.change_card_at(
        s.customer,
        "Mastercard",
        "5454",
        1,
        2029,
        now - Days::minutes(10),
    );

    let engine = engine(&s, "replica-1");
    let report = engine.pull_once(CONFIG, s.provider.as_ref()).await.unwrap();
    assert_eq!(report.outcome, PullOutcome::CaughtUp);
    let method = s.books.state().method[&s.account].clone();
    assert_eq!(method.summary(), "Visa ending 4242");

    // Delivered the other way round (push of the older one after the newer): still the newer.
    let page = s.provider.events_since(None).await.unwrap();
    let older = page
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::PaymentMethodUpdated(m) if m.last_four.as_deref() == Some("5454")))
        .unwrap()
        .clone();
    engine.ingest(CONFIG, &older).await.unwrap();
    assert_eq!(
        s.books.state().method[&s.account].summary(),
        "Visa ending 4242"
    );
}

#[tokio::test]
async fn the_ledger_s_bills_reach_the_app() {
    let s = setup().await;
    s.sim.pay(s.customer, None, 1500, "USD");
    engine(&s, "replica-1")
        .pull_once(CONFIG, s.provider.as_ref())
        .await
        .unwrap();
    push_billing_summary(s.provider.as_ref(), s.books.as_ref(), &s.account)
        .await
        .expect("pushed");
    let summary = s.sim.billing_summary(s.customer).expect("summary");
    assert_eq!(summary.open_invoices.len(), 1);
    assert_eq!(summary.open_invoices[0].reference, "INV-2026-10");
    assert_eq!(summary.payments.len(), 1);
    assert_eq!(summary.payments[0].amount, Money::new(1500, "USD").unwrap());
}
