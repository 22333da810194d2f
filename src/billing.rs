//! Billing in step with the vendor: payments and payment-method changes customers make in the
//! vendor's app land on the dealer's recurring invoices exactly once, and the dealer's open
//! invoices and payment history go back to the app.
//!
//! The host implements [`BillingLedger`] over its own invoices; [`LedgerSink`] turns billing
//! events into ledger calls and is the [`EventSink`] a [`SyncEngine`](crate::sync::SyncEngine)
//! delivers to; [`push_billing_summary`] sends one customer's bills to the vendor.
//!
//! ```
//! use std::sync::Arc;
//! use interactive_services::billing::{BillingLedger, LedgerError, LedgerSink};
//! use interactive_services::sync::{IdempotencyKey, MemoryStore, SyncEngine, SyncOptions};
//! use interactive_services::{AccountId, Invoice, Payment, PaymentMethodUpdate, PaymentRecord, PaymentReversal};
//!
//! #[derive(Debug, Default)]
//! struct Books; // the host's invoices
//!
//! #[async_trait::async_trait]
//! impl BillingLedger for Books {
//!     async fn apply_payment(&self, key: &IdempotencyKey, account: &AccountId, payment: &Payment)
//!         -> Result<(), LedgerError> { Ok(()) }
//!     async fn reverse_payment(&self, key: &IdempotencyKey, account: &AccountId, reversal: &PaymentReversal)
//!         -> Result<(), LedgerError> { Ok(()) }
//!     async fn payment_method(&self, account: &AccountId)
//!         -> Result<Option<PaymentMethodUpdate>, LedgerError> { Ok(None) }
//!     async fn update_payment_method(&self, key: &IdempotencyKey, account: &AccountId, update: &PaymentMethodUpdate)
//!         -> Result<(), LedgerError> { Ok(()) }
//!     async fn open_invoices(&self, account: &AccountId) -> Result<Vec<Invoice>, LedgerError> { Ok(vec![]) }
//!     async fn payment_history(&self, account: &AccountId) -> Result<Vec<PaymentRecord>, LedgerError> { Ok(vec![]) }
//! }
//!
//! let engine = SyncEngine::new(
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(LedgerSink::new(Books)),
//!     SyncOptions::new("replica-1"),
//! );
//! # let _ = engine;
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{
    AccountId, BillingSummary, EventKind, Invoice, IspEvent, Payment, PaymentMethodUpdate,
    PaymentRecord, PaymentReversal,
};
use crate::provider::InteractiveServicesProvider;
use crate::sync::{EventSink, IdempotencyKey, SinkError};

/// Why a ledger did not take a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Trying again later may work (the host's database is down): the event is delivered again.
    #[error("transient: {0}")]
    Transient(String),
    /// The change cannot be applied as it is (an unknown customer or invoice, a reversal of a
    /// payment the ledger never had): the event is parked with this reason.
    #[error("refused: {0}")]
    Refused(String),
}

/// The dealer's invoices, as the host keeps them. The crate never writes them itself.
///
/// # Contract
///
/// - Every change carries an [`IdempotencyKey`], the same on every delivery of one event. A
///   ledger records the key with the change, in the same transaction, and does nothing for a
///   key it already has: delivery is at least once, and the key makes it exactly once. A ledger
///   in the same database as a SQL [`SyncStore`](crate::sync::SyncStore) may instead record the
///   event as applied inside its own transaction (the store's `mark_applied_in`).
/// - [`apply_payment`](Self::apply_payment): a payment naming an invoice goes to that invoice;
///   one without goes to the customer's outstanding balance, oldest first, then to the monthly
///   monitoring charges of their recurring invoices.
/// - [`update_payment_method`](Self::update_payment_method) sets the payment method of the
///   customer's recurring invoices. [`LedgerSink`] never sends an update older than the one
///   [`payment_method`](Self::payment_method) returns, and sends one account's updates one at
///   a time within a process; a host running several replicas also makes the write itself
///   conditional (`… WHERE updated_at < $new`), so that an older update never wins anywhere.
/// - Amounts are checked before they reach the ledger: positive, in an ISO 4217 currency.
#[async_trait]
pub trait BillingLedger: fmt::Debug + Send + Sync + 'static {
    /// Applies a payment the customer made in the vendor's app.
    async fn apply_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        payment: &Payment,
    ) -> std::result::Result<(), LedgerError>;

    /// Takes a payment back (a refund or a chargeback).
    async fn reverse_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        reversal: &PaymentReversal,
    ) -> std::result::Result<(), LedgerError>;

    /// The payment method the customer's recurring invoices use now, with when it was set.
    async fn payment_method(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Option<PaymentMethodUpdate>, LedgerError>;

    /// Sets the payment method of the customer's recurring invoices.
    async fn update_payment_method(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        update: &PaymentMethodUpdate,
    ) -> std::result::Result<(), LedgerError>;

    /// The customer's invoices with something left to pay.
    async fn open_invoices(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Vec<Invoice>, LedgerError>;

    /// The customer's payments, newest first.
    async fn payment_history(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Vec<PaymentRecord>, LedgerError>;
}

#[async_trait]
impl<L: BillingLedger + ?Sized> BillingLedger for Arc<L> {
    async fn apply_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        payment: &Payment,
    ) -> std::result::Result<(), LedgerError> {
        (**self).apply_payment(key, account, payment).await
    }
    async fn reverse_payment(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        reversal: &PaymentReversal,
    ) -> std::result::Result<(), LedgerError> {
        (**self).reverse_payment(key, account, reversal).await
    }
    async fn payment_method(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Option<PaymentMethodUpdate>, LedgerError> {
        (**self).payment_method(account).await
    }
    async fn update_payment_method(
        &self,
        key: &IdempotencyKey,
        account: &AccountId,
        update: &PaymentMethodUpdate,
    ) -> std::result::Result<(), LedgerError> {
        (**self).update_payment_method(key, account, update).await
    }
    async fn open_invoices(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Vec<Invoice>, LedgerError> {
        (**self).open_invoices(account).await
    }
    async fn payment_history(
        &self,
        account: &AccountId,
    ) -> std::result::Result<Vec<PaymentRecord>, LedgerError> {
        (**self).payment_history(account).await
    }
}

/// The [`EventSink`] that keeps a [`BillingLedger`] in step with billing events.
///
/// - [`EventKind::PaymentApplied`] and [`EventKind::PaymentReversed`] go to the ledger once
///   their amount is checked: zero, negative or in a currency that is not ISO 4217 is refused
///   ([`SinkError::Permanent`]: the event is parked with the reason).
/// - [`EventKind::PaymentMethodUpdated`] goes to the ledger unless the ledger already holds an
///   update at least as new (then it is done, and nothing changes); one account's updates are
///   handled one at a time.
/// - [`EventKind::Malformed`] is refused with the vendor's problem, so that it is parked.
/// - Account events (created, plan changed, terminated, other) are not billing: they are taken
///   as done.
#[derive(Debug)]
pub struct LedgerSink<L> {
    ledger: L,
    /// One lock per account, so that a pulled and a pushed update of one account do not pass
    /// each other between the check and the write.
    accounts: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
}

impl<L: BillingLedger> LedgerSink<L> {
    /// A sink writing to `ledger`.
    pub fn new(ledger: L) -> Self {
        Self {
            ledger,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    fn account_lock(&self, account: &AccountId) -> Arc<tokio::sync::Mutex<()>> {
        self.accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account.clone())
            .or_default()
            .clone()
    }
}

fn sink_error(e: LedgerError) -> SinkError {
    match e {
        LedgerError::Transient(why) => SinkError::Transient(why),
        LedgerError::Refused(why) => SinkError::Permanent(why),
    }
}

#[async_trait]
impl<L: BillingLedger> EventSink for LedgerSink<L> {
    async fn apply(
        &self,
        _config: &str,
        event: &IspEvent,
        key: &IdempotencyKey,
    ) -> std::result::Result<(), SinkError> {
        let account = &event.account;
        match &event.kind {
            EventKind::PaymentApplied(payment) => {
                payment.amount.check_payment().map_err(|e| {
                    SinkError::Permanent(format!("payment {}: {e}", payment.payment_id))
                })?;
                self.ledger
                    .apply_payment(key, account, payment)
                    .await
                    .map_err(sink_error)
            }
            EventKind::PaymentReversed(reversal) => {
                reversal.amount.check_payment().map_err(|e| {
                    SinkError::Permanent(format!("reversal {}: {e}", reversal.reversal_id))
                })?;
                self.ledger
                    .reverse_payment(key, account, reversal)
                    .await
                    .map_err(sink_error)
            }
            EventKind::PaymentMethodUpdated(update) => {
                if update
                    .last_four
                    .as_deref()
                    .is_some_and(|l| l.len() != 4 || !l.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(SinkError::Permanent(
                        "the payment method's last four digits are not four digits".into(),
                    ));
                }
                let lock = self.account_lock(account);
                let _one_at_a_time = lock.lock().await;
                let current = self
                    .ledger
                    .payment_method(account)
                    .await
                    .map_err(sink_error)?;
                if current.is_some_and(|c| c.updated_at >= update.updated_at) {
                    // An older (or the same) change: the newer one stays.
                    return Ok(());
                }
                self.ledger
                    .update_payment_method(key, account, update)
                    .await
                    .map_err(sink_error)
            }
            EventKind::Malformed {
                vendor_type,
                problem,
            } => Err(SinkError::Permanent(format!(
                "the vendor's {vendor_type} event could not be read: {problem}"
            ))),
            _ => Ok(()),
        }
    }
}

/// Sends `account`'s open invoices and payment history from `ledger` to the vendor, so that the
/// customer sees their bills in the vendor's app and can pay an overdue invoice there.
pub async fn push_billing_summary<L: BillingLedger + ?Sized>(
    provider: &dyn InteractiveServicesProvider,
    ledger: &L,
    account: &AccountId,
) -> Result<()> {
    let kind = provider.kind().to_string();
    let read = |e: LedgerError| {
        Error::unavailable(
            kind.clone(),
            "push_billing_summary",
            1,
            format!("the ledger could not be read: {e}"),
        )
    };
    let open_invoices = ledger.open_invoices(account).await.map_err(read)?;
    let payments = ledger.payment_history(account).await.map_err(read)?;
    provider
        .push_billing_summary(account, &BillingSummary::new(open_invoices, payments))
        .await
}
