//! Billing: payments and payment-method changes customers make in a vendor's app, and what a
//! dealer's back office tells the vendor about its invoices.
//!
//! Amounts are [`Money`]: integer minor units and an ISO 4217 currency, never a float. Card and
//! bank numbers never travel here: a payment method is its kind, brand, last four digits and
//! expiry.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{DealerCustomerId, Money};

/// A payment the customer made in the vendor's app ([`EventKind::PaymentApplied`](super::EventKind::PaymentApplied)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Payment {
    /// The vendor's id of the payment: stable, unique per vendor account.
    pub payment_id: String,
    /// The dealer's own id of the customer, when the vendor knows it.
    pub dealer_customer_id: Option<DealerCustomerId>,
    /// The invoice the customer paid, when the payment was for a named invoice; else the
    /// payment goes to the outstanding balance.
    pub invoice: Option<String>,
    /// How much. Positive.
    pub amount: Money,
    /// When the customer paid.
    pub paid_at: DateTime<Utc>,
    /// The method, as a person reads it (`Visa ending 4242`): never a full number.
    pub method: String,
}

impl Payment {
    /// A payment; `invoice` and `dealer_customer_id` may be set on the result.
    pub fn new(
        payment_id: impl Into<String>,
        amount: Money,
        paid_at: DateTime<Utc>,
        method: impl Into<String>,
    ) -> Self {
        Self {
            payment_id: payment_id.into(),
            dealer_customer_id: None,
            invoice: None,
            amount,
            paid_at,
            method: method.into(),
        }
    }
}

/// A payment taken back (a refund or a chargeback) ([`EventKind::PaymentReversed`](super::EventKind::PaymentReversed)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentReversal {
    /// The vendor's id of the reversal itself.
    pub reversal_id: String,
    /// The payment it reverses.
    pub payment_id: String,
    /// The dealer's own id of the customer, when the vendor knows it.
    pub dealer_customer_id: Option<DealerCustomerId>,
    /// How much is taken back (positive; at most the payment's amount).
    pub amount: Money,
    /// When.
    pub reversed_at: DateTime<Utc>,
    /// Why, as the vendor says it.
    pub reason: Option<String>,
}

impl PaymentReversal {
    /// A reversal of `amount` of `payment_id`, made at `reversed_at`.
    pub fn new(
        reversal_id: impl Into<String>,
        payment_id: impl Into<String>,
        amount: Money,
        reversed_at: DateTime<Utc>,
    ) -> Self {
        Self {
            reversal_id: reversal_id.into(),
            payment_id: payment_id.into(),
            dealer_customer_id: None,
            amount,
            reversed_at,
            reason: None,
        }
    }
}

/// What kind of payment method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentMethodKind {
    /// A credit or debit card.
    Card,
    /// A bank account (ACH).
    BankAccount,
    /// A kind the crate does not know, as the vendor names it.
    Other(String),
}

/// A card's expiry month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CardExpiry {
    /// 1 to 12.
    pub month: u8,
    /// Four digits.
    pub year: u16,
}

/// The customer changed the payment method of their recurring charges in the vendor's app
/// ([`EventKind::PaymentMethodUpdated`](super::EventKind::PaymentMethodUpdated)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentMethodUpdate {
    /// The dealer's own id of the customer, when the vendor knows it.
    pub dealer_customer_id: Option<DealerCustomerId>,
    /// Card or bank account.
    pub kind: PaymentMethodKind,
    /// `Visa`, `Mastercard`, a bank's name.
    pub brand: Option<String>,
    /// The last four digits: exactly four ASCII digits.
    pub last_four: Option<String>,
    /// A card's expiry.
    pub expiry: Option<CardExpiry>,
    /// When the customer made the change; an update older than the one a ledger holds never
    /// replaces it.
    pub updated_at: DateTime<Utc>,
}

impl PaymentMethodUpdate {
    /// An update of `kind` made at `updated_at`, with no brand, digits or expiry (set them on
    /// the result).
    pub fn new(kind: PaymentMethodKind, updated_at: DateTime<Utc>) -> Self {
        Self {
            dealer_customer_id: None,
            kind,
            brand: None,
            last_four: None,
            expiry: None,
            updated_at,
        }
    }

    /// `Visa ending 4242`, `bank account ending 6789`.
    pub fn summary(&self) -> String {
        let what = match (&self.kind, &self.brand) {
            (_, Some(brand)) => brand.clone(),
            (PaymentMethodKind::Card, None) => "card".into(),
            (PaymentMethodKind::BankAccount, None) => "bank account".into(),
            (PaymentMethodKind::Other(kind), None) => kind.clone(),
        };
        match &self.last_four {
            Some(last) => format!("{what} ending {last}"),
            None => what,
        }
    }
}

/// An invoice of the dealer's, as the vendor's app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invoice {
    /// The dealer's invoice reference; a payment for this invoice names it.
    pub reference: String,
    /// When it was issued.
    pub issued_on: NaiveDate,
    /// When it is due.
    pub due_on: NaiveDate,
    /// What remains to pay.
    pub amount_due: Money,
    /// Whether it is a recurring (monthly monitoring) invoice.
    pub recurring: bool,
}

impl Invoice {
    /// An invoice.
    pub fn new(
        reference: impl Into<String>,
        issued_on: NaiveDate,
        due_on: NaiveDate,
        amount_due: Money,
        recurring: bool,
    ) -> Self {
        Self {
            reference: reference.into(),
            issued_on,
            due_on,
            amount_due,
            recurring,
        }
    }

    /// Whether it is overdue on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.due_on < today && self.amount_due.minor_units > 0
    }
}

/// A payment in a customer's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentRecord {
    /// The payment's id (the vendor's for payments made in its app, the dealer's otherwise).
    pub payment_id: String,
    /// When.
    pub paid_at: DateTime<Utc>,
    /// How much (negative for a reversal).
    pub amount: Money,
    /// The invoice it went to, when one.
    pub invoice: Option<String>,
    /// The method, as a person reads it.
    pub method: String,
}

impl PaymentRecord {
    /// A record.
    pub fn new(
        payment_id: impl Into<String>,
        paid_at: DateTime<Utc>,
        amount: Money,
        invoice: Option<String>,
        method: impl Into<String>,
    ) -> Self {
        Self {
            payment_id: payment_id.into(),
            paid_at,
            amount,
            invoice,
            method: method.into(),
        }
    }
}

/// What a customer sees of their bills in the vendor's app: the open invoices (so that they can
/// pay an overdue one) and the payment history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingSummary {
    /// Invoices with something left to pay.
    pub open_invoices: Vec<Invoice>,
    /// Payments, newest first.
    pub payments: Vec<PaymentRecord>,
}

impl BillingSummary {
    /// A summary.
    pub fn new(open_invoices: Vec<Invoice>, payments: Vec<PaymentRecord>) -> Self {
        Self {
            open_invoices,
            payments,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// currencies

/// Active ISO 4217 currency codes and their minor-unit exponents (digits after the point),
/// sorted by code.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2),
    ("AUD", 2), ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2),
    ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BRL", 2), ("BSD", 2),
    ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHF", 2),
    ("CLF", 4), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2),
    ("CZK", 2), ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2),
    ("ETB", 2), ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2),
    ("GIP", 2), ("GMD", 2), ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2),
    ("HTG", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2),
    ("ISK", 0), ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2),
    ("KMF", 0), ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2),
    ("LBP", 2), ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2),
    ("MGA", 2), ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2),
    ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2),
    ("NIO", 2), ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2),
    ("PGK", 2), ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2),
    ("RSD", 2), ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2),
    ("SEK", 2), ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2),
    ("STN", 2), ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2),
    ("TND", 3), ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2),
    ("UGX", 0), ("USD", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4), ("UZS", 2), ("VES", 2),
    ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XOF", 0), ("XPF", 0),
    ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

/// The minor-unit exponent of an active ISO 4217 currency (`USD` → 2, `JPY` → 0, `KWD` → 3);
/// `None` for a code that is not one.
pub fn currency_exponent(code: &str) -> Option<u8> {
    CURRENCIES
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .and_then(|at| CURRENCIES.get(at))
        .map(|(_, e)| *e)
}

/// Why an amount of money was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The currency is not an active ISO 4217 code.
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    /// A payment or reversal of nothing, or of less than nothing.
    #[error("the amount must be more than zero (got {0})")]
    NotPositive(Money),
}

impl Money {
    /// An amount in minor units of an active ISO 4217 currency (upper case, e.g. `USD`).
    pub fn new(minor_units: i64, currency: &str) -> Result<Money, MoneyError> {
        let code = currency.trim();
        match currency_exponent(code) {
            Some(_) => Ok(Money {
                minor_units,
                currency: code.to_owned(),
            }),
            None => Err(MoneyError::UnknownCurrency(
                code.chars().take(8).flat_map(char::escape_debug).collect(),
            )),
        }
    }

    /// Checks the currency is an active ISO 4217 code and the amount more than zero: what a
    /// payment or a reversal must be.
    pub fn check_payment(&self) -> Result<(), MoneyError> {
        Money::new(self.minor_units, &self.currency)?;
        if self.minor_units <= 0 {
            return Err(MoneyError::NotPositive(self.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_currency_table_is_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(currency_exponent("USD"), Some(2));
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("KWD"), Some(3));
        assert_eq!(currency_exponent("usd"), None);
        assert_eq!(currency_exponent("XXX"), None);
    }
}
