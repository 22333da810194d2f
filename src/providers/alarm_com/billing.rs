//! Alarm.com billing sync: **modelled**. No public source shows how Alarm.com reports the
//! payments and payment-method changes customers make in its app, nor how a dealer activates
//! billing or sends its invoices; the crate models three operations on Alarm.com's SOAP
//! conventions (namespace, `Authentication` header, `<Op>`/`<OpResponse><OpResult>` wrappers,
//! PascalCase fields inside `input`, `Success`/`ErrorMessage` results):
//!
//! | operation | service | request `input` | result |
//! |---|---|---|---|
//! | `SetSecurityTraxSettings` | DealerManagement | `EnableBillingSync` (bool) | `Success`, `ErrorMessage` |
//! | `GetBillingEvents` | CustomerManagement | `AfterEventId` (long), `MaxRecords` (int) | `Events` of `BillingEvent`, `HasMore` |
//! | `SetCustomerBillingSummary` | CustomerManagement | `CustomerId`, `OpenInvoices` of `Invoice`, `PaymentHistory` of `Payment` | `Success`, `ErrorMessage` |
//!
//! A `BillingEvent` has `EventId` (a growing long: the cursor), `EventType`
//! (`PaymentApplied`, `PaymentReversed`, `PaymentMethodUpdated`), `CustomerId`,
//! `DealerCustomerId`, `EventDate`, and for payments `PaymentId`, `AmountInCents`,
//! `CurrencyCode`, `InvoiceReference`, `PaymentMethodSummary`; for reversals also
//! `ReversedPaymentId` and `Reason`; for payment methods `PaymentMethodKind` (`CreditCard`,
//! `BankAccount`), `CardBrand`, `LastFour`, `ExpirationMonth`, `ExpirationYear`.
//!
//! The permission is seen: billing needs `setSecurityTraxSettings` on the dealer account
//! (vendors.md). A service that does not know one of these operations answers as ASMX does, and
//! the call is [`Error::Unsupported`](crate::Error::Unsupported) saying so — never a retry.
//!
//! One unreadable event does not stop the feed: it is delivered as
//! [`EventKind::Malformed`] with what was wrong (and nothing of a value that looked like a
//! card number), so that a sink parks it and the events after it still arrive.

use chrono::{DateTime, NaiveDate, Utc};

use super::wire::{self, NAMESPACE};
use crate::http::soap::{Element, Node};
use crate::model::{
    AccountId, BillingSummary, CardExpiry, Cursor, DealerCustomerId, EventId, EventKind, EventPage,
    IspEvent, Money, Payment, PaymentMethodKind, PaymentMethodUpdate, PaymentReversal,
};

/// `SetSecurityTraxSettings`: turns billing sync on.
pub const ACTIVATE: &str = "SetSecurityTraxSettings";
/// `GetBillingEvents`: the events after a cursor.
pub const EVENTS: &str = "GetBillingEvents";
/// `SetCustomerBillingSummary`: a customer's open invoices and payment history.
pub const SUMMARY: &str = "SetCustomerBillingSummary";

/// How many events one page asks for.
pub const PAGE_SIZE: u32 = 100;

pub(crate) fn activate_request() -> Node {
    Node::new(ACTIVATE)
        .xmlns(NAMESPACE)
        .child(Node::new("input").field("EnableBillingSync", "true"))
}

/// The cursor as the event id it stands for: `0` before the first page.
pub(crate) fn after_event_id(cursor: Option<&Cursor>) -> Result<i64, String> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .as_str()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| "the cursor is not an Alarm.com billing event id".to_owned()),
    }
}

pub(crate) fn events_request(after: i64) -> Node {
    Node::new(EVENTS).xmlns(NAMESPACE).child(
        Node::new("input")
            .field("AfterEventId", after.to_string())
            .field("MaxRecords", PAGE_SIZE.to_string()),
    )
}

pub(crate) fn summary_request(customer: i64, summary: &BillingSummary) -> Node {
    let invoices = summary.open_invoices.iter().map(|i| {
        Node::new("Invoice")
            .field("InvoiceReference", i.reference.as_str())
            .field("IssuedDate", i.issued_on.to_string())
            .field("DueDate", i.due_on.to_string())
            .field("AmountDueInCents", i.amount_due.minor_units.to_string())
            .field("CurrencyCode", i.amount_due.currency.as_str())
            .field("IsRecurring", i.recurring.to_string())
    });
    let payments = summary.payments.iter().map(|p| {
        Node::new("Payment")
            .field("PaymentId", p.payment_id.as_str())
            .field("PaymentDate", p.paid_at.to_rfc3339())
            .field("AmountInCents", p.amount.minor_units.to_string())
            .field("CurrencyCode", p.amount.currency.as_str())
            .field("InvoiceReference", p.invoice.as_deref().unwrap_or(""))
            .field("PaymentMethodSummary", p.method.as_str())
    });
    Node::new(SUMMARY).xmlns(NAMESPACE).child(
        Node::new("input")
            .field("CustomerId", customer.to_string())
            .child(Node::new("OpenInvoices").children(invoices))
            .child(Node::new("PaymentHistory").children(payments)),
    )
}

/// A `GetBillingEvents` result as a page. The page fails only when its frame is unreadable
/// (no `Events`, an event without a readable id, ids not growing); a bad event inside is
/// [`EventKind::Malformed`].
pub(crate) fn parse_events(result: &Element, after: i64) -> Result<EventPage, String> {
    let list = result
        .child("Events")
        .ok_or("the answer has no Events element")?;
    let mut events = Vec::new();
    let mut last = after;
    for event in list.children_named("BillingEvent") {
        let id = event
            .child_text("EventId")
            .ok_or("a billing event has no EventId")
            .and_then(|t| {
                wire::parse_id(t, "EventId")
                    .map_err(|_| "a billing event's EventId is not a positive number")
            })?;
        if id <= last {
            return Err(format!(
                "billing event ids must grow: {id} came after {last}"
            ));
        }
        last = id;
        events.push(parse_event(event, id));
    }
    let has_more = match result.child_text("HasMore") {
        Some(t) => wire::parse_bool(t).map_err(|e| format!("HasMore: {e}"))?,
        None => false,
    };
    Ok(EventPage {
        events,
        next: Cursor::new(last.to_string()),
        has_more,
    })
}

fn parse_event(event: &Element, id: i64) -> IspEvent {
    let account = event
        .child_text("CustomerId")
        .and_then(|t| wire::parse_id(t, "CustomerId").ok())
        .map(|n| AccountId::new(n.to_string()));
    let occurred_at = event.child_text("EventDate").and_then(parse_time);
    let vendor_type = event
        .child_text("EventType")
        .unwrap_or("")
        .trim()
        .to_owned();
    let malformed = |problem: String| EventKind::Malformed {
        vendor_type: shown(&vendor_type),
        problem,
    };
    let kind = match (&account, occurred_at) {
        (None, _) => malformed("CustomerId is missing or not a positive number".into()),
        (_, None) => malformed("EventDate is missing or not a date and time".into()),
        (Some(_), Some(at)) => match vendor_type.as_str() {
            "PaymentApplied" => {
                payment(event, at).map_or_else(malformed, EventKind::PaymentApplied)
            }
            "PaymentReversed" => {
                reversal(event, at).map_or_else(malformed, EventKind::PaymentReversed)
            }
            "PaymentMethodUpdated" => {
                method_update(event, at).map_or_else(malformed, EventKind::PaymentMethodUpdated)
            }
            _ => EventKind::Other {
                vendor_type: shown(&vendor_type),
            },
        },
    };
    IspEvent {
        id: EventId::new(format!("billing-{id}")),
        account: account.unwrap_or_else(|| AccountId::new("")),
        occurred_at: occurred_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        kind,
    }
}

/// Vendor text kept in an event: at most 200 characters, no control characters.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn required<'a>(event: &'a Element, field: &str) -> Result<&'a str, String> {
    event
        .child_text(field)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{field} is missing"))
}

fn optional(event: &Element, field: &str) -> Option<String> {
    event
        .child_text(field)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(shown)
}

fn dealer_customer(event: &Element) -> Option<DealerCustomerId> {
    optional(event, "DealerCustomerId").map(DealerCustomerId::new)
}

/// The amount as the vendor sent it: any whole number of cents and any currency text. Whether
/// it can be a payment (positive, a real ISO 4217 code) is the ledger side's call, so that it
/// is refused with its reason instead of vanishing.
fn amount(event: &Element) -> Result<Money, String> {
    let cents = required(event, "AmountInCents")?;
    let minor_units = cents
        .parse::<i64>()
        .map_err(|_| "AmountInCents is not a whole number of cents that fits 64 bits".to_owned())?;
    let currency = required(event, "CurrencyCode")?;
    Ok(Money {
        minor_units,
        currency: shown(currency).chars().take(8).collect(),
    })
}

fn payment(event: &Element, at: DateTime<Utc>) -> Result<Payment, String> {
    let mut p = Payment::new(
        shown(required(event, "PaymentId")?),
        amount(event)?,
        at,
        optional(event, "PaymentMethodSummary").unwrap_or_default(),
    );
    p.dealer_customer_id = dealer_customer(event);
    p.invoice = optional(event, "InvoiceReference");
    Ok(p)
}

fn reversal(event: &Element, at: DateTime<Utc>) -> Result<PaymentReversal, String> {
    Ok(PaymentReversal {
        reversal_id: shown(required(event, "PaymentId")?),
        payment_id: shown(required(event, "ReversedPaymentId")?),
        dealer_customer_id: dealer_customer(event),
        amount: amount(event)?,
        reversed_at: at,
        reason: optional(event, "Reason"),
    })
}

fn method_update(event: &Element, at: DateTime<Utc>) -> Result<PaymentMethodUpdate, String> {
    let kind = match required(event, "PaymentMethodKind")? {
        "CreditCard" | "DebitCard" | "Card" => PaymentMethodKind::Card,
        "BankAccount" | "ACH" => PaymentMethodKind::BankAccount,
        other => PaymentMethodKind::Other(shown(other)),
    };
    // Exactly four digits: anything longer may be a full card or account number, which is
    // neither kept nor shown.
    let last_four = match event.child_text("LastFour").map(str::trim) {
        None | Some("") => None,
        Some(t) if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) => Some(t.to_owned()),
        Some(_) => {
            return Err("LastFour is not exactly four digits (the value is not kept)".into());
        }
    };
    let month = event
        .child_text("ExpirationMonth")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let year = event
        .child_text("ExpirationYear")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let expiry =
        match (month, year) {
            (None, None) => None,
            (Some(m), Some(y)) => {
                let month = m.parse::<u8>().ok().filter(|m| (1..=12).contains(m));
                let year = y.parse::<u16>().ok().filter(|y| (2000..=2199).contains(y));
                match (month, year) {
                    (Some(month), Some(year)) => Some(CardExpiry { month, year }),
                    _ => return Err(
                        "ExpirationMonth/ExpirationYear is not a month 1-12 of a four-digit year"
                            .into(),
                    ),
                }
            }
            _ => return Err("only one of ExpirationMonth and ExpirationYear is given".into()),
        };
    Ok(PaymentMethodUpdate {
        dealer_customer_id: dealer_customer(event),
        kind,
        brand: optional(event, "CardBrand"),
        last_four,
        expiry,
        updated_at: at,
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// A date as `SetCustomerBillingSummary` sends it.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // the simulator reads it
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}
