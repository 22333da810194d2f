//! Alarm.net callbacks: the body Total Connect (AlarmNet) pushes to the dealer, and its reading
//! into vendor-neutral [`IspEvent`]s.
//!
//! # Modelled
//!
//! Alarm.net callbacks have no public format. This is the crate's model (the
//! [`callbacks`](crate::callbacks) module verifies the signature around it), kept in this folder
//! so that the real format can replace it without touching the vendor-neutral core:
//!
//! ```json
//! {
//!   "EventId": "an-7f3c2a",
//!   "EventType": "Alarm",
//!   "OccurredAt": "2026-05-01T12:00:00Z",
//!   "Account": {
//!     "AccountId": "5100001",
//!     "CityNumber": "12",
//!     "CsNumber": "34",
//!     "SubscriberNumber": "5678"
//!   },
//!   "Data": { "Code": "130", "Zone": "3", "Description": "Burglary" }
//! }
//! ```
//!
//! One event per delivery. `EventId` (a string, or a whole number) is unique and stays the same
//! on redelivery; `AccountId` is the AlarmNet account id (digits); the City, CS and Subscriber
//! numbers are optional. Unknown fields are ignored.
//!
//! | `EventType` | `Data` | event |
//! |---|---|---|
//! | `AccountStatusChanged` | `Status`: `Active`, `Suspended`, `Terminated`, … | [`EventKind::AccountStatusChanged`] (`Terminated`: [`EventKind::AccountTerminated`]) |
//! | `ServicePlanChanged` | `PlanCode`, `Features` | [`EventKind::PlanChanged`] |
//! | `Alarm` | `Code`, `Zone`, `Description` | [`EventKind::Alarm`] |
//! | `Trouble` | `Code`, `Zone`, `Description` | [`EventKind::Trouble`] |
//! | `PanelNotResponding` | `LastContactAt` | [`EventKind::PanelNotResponding`] |
//! | `PaymentApplied` | `PaymentId`, `AmountMinorUnits`, `Currency`, `PaidAt`, `Method`, `InvoiceId` | [`EventKind::PaymentApplied`] |
//! | `PaymentReversed` | `ReversalId`, `PaymentId`, `AmountMinorUnits`, `Currency`, `ReversedAt`, `Reason` | [`EventKind::PaymentReversed`] |
//! | `PaymentMethodUpdated` | `Kind` (`Card`, `BankAccount`), `Brand`, `LastFour`, `ExpiryMonth`, `ExpiryYear`, `UpdatedAt` | [`EventKind::PaymentMethodUpdated`] |
//! | any other | anything | [`EventKind::Other`] with the type |
//!
//! A body without a readable `EventId`, `EventType`, `OccurredAt` or `Account.AccountId` is
//! refused as a whole (there is nothing to deduplicate or file it under). An event whose
//! `Data` cannot be read for its type (a payment without an amount, a time that is not RFC
//! 3339) is kept as [`EventKind::Malformed`] with what was wrong, so that a sink parks it and
//! nothing is lost.
//!
//! Hostile bodies are bounded before they get here (the receiver's body cap); here, `serde_json`
//! stops at 128 levels of nesting, invalid UTF-8 and numbers out of range are errors, and a
//! number where an id or amount belongs is read only when it is a whole number that fits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{
    AccountId, AccountStatus, CardExpiry, EventId, EventKind, IspEvent, Money, PanelSignal,
    Payment, PaymentMethodKind, PaymentMethodUpdate, PaymentReversal, PlanId,
};

/// The event types the model knows.
pub const EVENT_TYPES: &[&str] = &[
    "AccountStatusChanged",
    "ServicePlanChanged",
    "Alarm",
    "Trouble",
    "PanelNotResponding",
    "PaymentApplied",
    "PaymentReversed",
    "PaymentMethodUpdated",
];

/// Longest event id taken, in characters.
pub const MAX_EVENT_ID_CHARS: usize = 128;
/// Longest event type taken, in characters.
pub const MAX_EVENT_TYPE_CHARS: usize = 64;

/// The account keys of a callback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct AccountKeys {
    /// The AlarmNet account id.
    pub account_id: String,
    /// The City number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_number: Option<String>,
    /// The central station number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cs_number: Option<String>,
    /// The subscriber number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_number: Option<String>,
}

/// One callback as the vendor sends it (the modelled format above): what the simulator and
/// host tests build bodies from.
///
/// ```
/// use chrono::Utc;
/// use interactive_services::providers::total_connect::callback::{CallbackEvent, parse};
/// use interactive_services::EventKind;
///
/// let body = CallbackEvent::new("evt-1", "Trouble", "5100001", Utc::now())
///     .data(serde_json::json!({ "Code": "301", "Description": "AC power loss" }))
///     .to_body();
/// let events = parse(&body).unwrap();
/// assert!(matches!(events[0].kind, EventKind::Trouble(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CallbackEvent {
    /// Unique, the same on redelivery.
    pub event_id: String,
    /// The event type (see [`EVENT_TYPES`]).
    pub event_type: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The account.
    pub account: AccountKeys,
    /// The type's details.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

impl CallbackEvent {
    /// An event `event_id` of `event_type` for account `account_id`, at `occurred_at`, with no
    /// details.
    pub fn new(
        event_id: impl Into<String>,
        event_type: impl Into<String>,
        account_id: impl Into<String>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: event_id.into(),
            event_type: event_type.into(),
            occurred_at,
            account: AccountKeys {
                account_id: account_id.into(),
                ..AccountKeys::default()
            },
            data: Value::Null,
        }
    }

    /// Sets the details (`Data`).
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// Sets the City, CS and Subscriber numbers.
    pub fn account_numbers(
        mut self,
        city: impl Into<String>,
        cs: impl Into<String>,
        subscriber: impl Into<String>,
    ) -> Self {
        self.account.city_number = Some(city.into());
        self.account.cs_number = Some(cs.into());
        self.account.subscriber_number = Some(subscriber.into());
        self
    }

    /// The JSON body.
    pub fn to_body(&self) -> Vec<u8> {
        // A struct of strings, a time and a JSON value always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Reads a (verified) callback body into its event. `Err` says why the body carries no
/// readable event, without quoting it.
pub fn parse(body: &[u8]) -> Result<Vec<IspEvent>, String> {
    // Read as a plain JSON value first, then field by field: a syntax error names a line, a
    // column and what was expected, never the input (a typed read would quote a value of the
    // wrong type back).
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(mut envelope) = value else {
        return Err("the body is not a JSON object".into());
    };
    let mut field = |key: &str| envelope.remove(key).unwrap_or(Value::Null);
    let event_id = field("EventId");
    let event_type = field("EventType");
    let occurred_at = field("OccurredAt");
    let account = field("Account");
    let data = field("Data");
    let id = id_text(&event_id, MAX_EVENT_ID_CHARS)
        .ok_or("EventId is missing, or not a string or whole number of at most 128 characters")?;
    let event_type = event_type
        .as_str()
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && t.chars().count() <= MAX_EVENT_TYPE_CHARS
                && !t.chars().any(char::is_control)
        })
        .ok_or("EventType is missing, or not a string of at most 64 characters")?
        .to_owned();
    let occurred_at = time(&occurred_at).ok_or("OccurredAt is missing, or not an RFC 3339 time")?;
    let account = account
        .get("AccountId")
        .and_then(|a| id_text(a, crate::providers::common::MAX_ID_DIGITS))
        .filter(|a| a.bytes().all(|b| b.is_ascii_digit()) && a.bytes().any(|b| b != b'0'))
        .ok_or("Account.AccountId is missing, or not an AlarmNet account id (1 to 18 digits)")?;
    let kind =
        kind(&event_type, &data, occurred_at).unwrap_or_else(|problem| EventKind::Malformed {
            vendor_type: event_type.clone(),
            problem,
        });
    Ok(vec![IspEvent {
        id: EventId::new(id),
        account: AccountId::new(account),
        occurred_at,
        kind,
    }])
}

/// An id given as a string (trimmed, not blank, no control characters, at most `max`
/// characters) or as a whole number that fits a `u64`.
fn id_text(value: &Value, max: usize) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control))
                .then(|| s.to_owned())
        }
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A text field of `Data`, when present.
fn text(data: &Value, key: &str) -> Result<Option<String>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("Data.{key} is not text")),
    }
}

fn required_text(data: &Value, key: &str) -> Result<String, String> {
    text(data, key)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("Data.{key} is missing"))
}

fn required_time(data: &Value, key: &str) -> Result<DateTime<Utc>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Err(format!("Data.{key} is missing")),
        Some(v) => time(v).ok_or_else(|| format!("Data.{key} is not an RFC 3339 time")),
    }
}

fn money(data: &Value) -> Result<Money, String> {
    let minor_units = match data.get("AmountMinorUnits") {
        None | Some(Value::Null) => return Err("Data.AmountMinorUnits is missing".into()),
        Some(v) => v
            .as_i64()
            .ok_or("Data.AmountMinorUnits is not a whole number of minor units that fits")?,
    };
    let currency = required_text(data, "Currency")?.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("Data.Currency is not a three-letter ISO 4217 code".into());
    }
    Ok(Money {
        minor_units,
        currency,
    })
}

fn signal(data: &Value) -> Result<PanelSignal, String> {
    if !(data.is_object() || data.is_null()) {
        return Err("Data is not an object".into());
    }
    Ok(PanelSignal {
        code: text(data, "Code")?,
        zone: text(data, "Zone")?,
        description: text(data, "Description")?,
    })
}

/// The event kind for a type and its details; `Err` is the problem of a known type's details.
fn kind(event_type: &str, data: &Value, occurred_at: DateTime<Utc>) -> Result<EventKind, String> {
    Ok(match event_type {
        "AccountStatusChanged" => {
            let status = required_text(data, "Status")?;
            match status.trim() {
                "Terminated" => EventKind::AccountTerminated,
                "Active" => EventKind::AccountStatusChanged {
                    status: AccountStatus::Active,
                },
                other => EventKind::AccountStatusChanged {
                    status: AccountStatus::Other(other.to_owned()),
                },
            }
        }
        "ServicePlanChanged" => EventKind::PlanChanged {
            plan: text(data, "PlanCode")?
                .filter(|p| !p.trim().is_empty())
                .map(PlanId::new),
        },
        "Alarm" => EventKind::Alarm(signal(data)?),
        "Trouble" => EventKind::Trouble(signal(data)?),
        "PanelNotResponding" => EventKind::PanelNotResponding {
            last_contact: match data.get("LastContactAt") {
                None | Some(Value::Null) => None,
                Some(v) => Some(time(v).ok_or("Data.LastContactAt is not an RFC 3339 time")?),
            },
        },
        "PaymentApplied" => {
            let mut payment = Payment::new(
                required_text(data, "PaymentId")?,
                money(data)?,
                match data.get("PaidAt") {
                    None | Some(Value::Null) => occurred_at,
                    Some(_) => required_time(data, "PaidAt")?,
                },
                text(data, "Method")?.unwrap_or_default(),
            );
            payment.invoice = text(data, "InvoiceId")?;
            EventKind::PaymentApplied(payment)
        }
        "PaymentReversed" => {
            let mut reversal = PaymentReversal::new(
                required_text(data, "ReversalId")?,
                required_text(data, "PaymentId")?,
                money(data)?,
                match data.get("ReversedAt") {
                    None | Some(Value::Null) => occurred_at,
                    Some(_) => required_time(data, "ReversedAt")?,
                },
            );
            reversal.reason = text(data, "Reason")?;
            EventKind::PaymentReversed(reversal)
        }
        "PaymentMethodUpdated" => {
            let kind = match required_text(data, "Kind")?.trim() {
                "Card" => PaymentMethodKind::Card,
                "BankAccount" => PaymentMethodKind::BankAccount,
                other => PaymentMethodKind::Other(other.to_owned()),
            };
            let expiry = match (data.get("ExpiryMonth"), data.get("ExpiryYear")) {
                (None | Some(Value::Null), None | Some(Value::Null)) => None,
                (Some(m), Some(y)) => {
                    let month = m
                        .as_u64()
                        .and_then(|m| u8::try_from(m).ok())
                        .filter(|m| (1..=12).contains(m))
                        .ok_or("Data.ExpiryMonth is not a month (1 to 12)")?;
                    let year = y
                        .as_u64()
                        .and_then(|y| u16::try_from(y).ok())
                        .filter(|y| (1000..=9999).contains(y))
                        .ok_or("Data.ExpiryYear is not a four-digit year")?;
                    Some(CardExpiry { month, year })
                }
                _ => {
                    return Err(
                        "Data has one of ExpiryMonth and ExpiryYear without the other".into(),
                    );
                }
            };
            let updated_at = match data.get("UpdatedAt") {
                None | Some(Value::Null) => occurred_at,
                Some(_) => required_time(data, "UpdatedAt")?,
            };
            let mut update = PaymentMethodUpdate::new(kind, updated_at);
            update.brand = text(data, "Brand")?;
            update.last_four = text(data, "LastFour")?;
            update.expiry = expiry;
            EventKind::PaymentMethodUpdated(update)
        }
        other => EventKind::Other {
            vendor_type: other.to_owned(),
        },
    })
}
