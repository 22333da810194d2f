//! Callback health: what the dealer's admin sub-page shows for one configuration, computed
//! from the configuration, the vendor's view of the registration and the traffic counted in the
//! [`SyncStore`](crate::sync::SyncStore), at a given time.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::verify::RejectionReason;
use crate::model::CallbackRegistration;
use crate::sync::{CALLBACK_RETENTION, CallbackTraffic, RecordedRejection};

/// The four states the admin page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// The configuration has no callback settings: nothing can be received.
    NotConfigured,
    /// Deliveries arrive and are accepted (or none is due yet).
    Healthy,
    /// Deliveries arrive, but too many are rejected, or the vendor reports trouble with its
    /// registration (disabled, another URL, failed attempts).
    Degraded,
    /// Nothing has arrived for longer than the configured period.
    Silent,
}

impl HealthState {
    /// `not_configured`, `healthy`, `degraded`, `silent`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::NotConfigured => "not_configured",
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Silent => "silent",
        }
    }

    /// `Not configured`, `Healthy`, `Degraded`, `Silent`.
    pub fn label(self) -> &'static str {
        match self {
            HealthState::NotConfigured => "Not configured",
            HealthState::Healthy => "Healthy",
            HealthState::Degraded => "Degraded",
            HealthState::Silent => "Silent",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// When health turns degraded or silent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthPolicy {
    /// The recent window the counts cover (at most
    /// [`CALLBACK_RETENTION`](crate::sync::CALLBACK_RETENTION); counted in whole minutes).
    pub window: Duration,
    /// Degraded when *more* rejections than this arrived in the window...
    pub max_rejections: u64,
    /// ... and they were more than this share of all deliveries in it, in percent (so that one
    /// stray request neither degrades a quiet endpoint nor a burst of probes a busy one).
    pub max_rejected_percent: u8,
    /// Silent when nothing (accepted or rejected) has arrived for this long, counted from the
    /// last delivery or, before the first, from when the receiver started watching.
    pub silent_after: Duration,
}

impl Default for HealthPolicy {
    /// A 15-minute window; degraded above 5 rejections that are over 10 % of the deliveries;
    /// silent after 24 hours without a delivery.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            max_rejections: 5,
            max_rejected_percent: 10,
            silent_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl HealthPolicy {
    /// Sets [`window`](Self::window) (capped at the retention).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.min(CALLBACK_RETENTION);
        self
    }

    /// Sets [`max_rejections`](Self::max_rejections).
    pub fn max_rejections(mut self, rejections: u64) -> Self {
        self.max_rejections = rejections;
        self
    }

    /// Sets [`max_rejected_percent`](Self::max_rejected_percent) (at most 100).
    pub fn max_rejected_percent(mut self, percent: u8) -> Self {
        self.max_rejected_percent = percent.min(100);
        self
    }

    /// Sets [`silent_after`](Self::silent_after).
    pub fn silent_after(mut self, period: Duration) -> Self {
        self.silent_after = period;
        self
    }

    /// Where the window starts when health is computed at `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::TimeDelta::from_std(self.window.min(CALLBACK_RETENTION))
            .ok()
            .and_then(|w| now.checked_sub_signed(w))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Computes health from `facts` at `now`. In this order: no callback settings is
    /// [`NotConfigured`](HealthState::NotConfigured); nothing received for
    /// [`silent_after`](Self::silent_after) is [`Silent`](HealthState::Silent); rejections over
    /// the thresholds, or the vendor reporting its registration disabled, pointed elsewhere
    /// or failing, is [`Degraded`](HealthState::Degraded); anything else is
    /// [`Healthy`](HealthState::Healthy). The reason says why, in a sentence a dealer can act
    /// on.
    pub fn assess(&self, facts: &HealthFacts<'_>, now: DateTime<Utc>) -> CallbackHealth {
        let traffic = facts.traffic;
        let rejected = traffic.rejected_total();
        let total = traffic.total();
        let (state, reason) = self.state(facts, now, rejected, total);
        CallbackHealth {
            config: facts.config.to_owned(),
            state,
            reason,
            checked_at: now,
            window_seconds: self.window.min(CALLBACK_RETENTION).as_secs(),
            accepted: traffic.accepted,
            duplicate: traffic.duplicate,
            rejected,
            rejected_by_reason: traffic.rejected.clone(),
            last_delivery_at: traffic.last_delivery_at,
            last_attempt_at: traffic.last_attempt_at,
            last_rejection: traffic.last_rejection.clone(),
            watching_since: facts.watching_since,
            vendor: facts.vendor.cloned(),
            vendor_error: facts.vendor_error.map(str::to_owned),
        }
    }

    fn state(
        &self,
        facts: &HealthFacts<'_>,
        now: DateTime<Utc>,
        rejected: u64,
        total: u64,
    ) -> (HealthState, String) {
        if !facts.configured {
            return (
                HealthState::NotConfigured,
                "no callback settings: add the signing secret from the provider's callback settings to this configuration to receive callbacks".to_owned(),
            );
        }
        let traffic = facts.traffic;
        let quiet_since = traffic.last_attempt_at.unwrap_or(facts.watching_since);
        let quiet_for = (now - quiet_since).to_std().unwrap_or(Duration::ZERO);
        if quiet_for >= self.silent_after {
            let what = match traffic.last_attempt_at {
                Some(at) => format!("no delivery since {}", at.to_rfc3339()),
                None => format!(
                    "no delivery ever (watching since {})",
                    facts.watching_since.to_rfc3339()
                ),
            };
            let hint = match facts.vendor {
                Some(v) if !v.enabled => "the vendor has the callback disabled: enable it",
                None if facts.vendor_error.is_none() && facts.vendor_known => {
                    "the vendor has no callback URL registered: register it"
                }
                _ => "check that the vendor has this receiver's URL registered and enabled",
            };
            return (
                HealthState::Silent,
                format!("{what}, longer than {}; {hint}", human(self.silent_after)),
            );
        }
        let window = human(self.window.min(CALLBACK_RETENTION));
        if rejected > self.max_rejections
            && u128::from(rejected) * 100
                > u128::from(total) * u128::from(self.max_rejected_percent)
        {
            let top = traffic
                .rejected
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(key, _)| {
                    RejectionReason::from_key(key)
                        .map_or_else(|| key.clone(), |r| r.label().to_owned())
                })
                .unwrap_or_default();
            return (
                HealthState::Degraded,
                format!(
                    "{rejected} of {total} deliveries in the last {window} were rejected (most: {top}); {}",
                    advice(traffic)
                ),
            );
        }
        if let Some(vendor) = facts.vendor {
            if !vendor.enabled {
                return (
                    HealthState::Degraded,
                    "the vendor has the callback disabled: nothing will be sent until it is enabled".to_owned(),
                );
            }
            if let Some(expected) = facts.expected_url {
                if vendor.url != *expected {
                    return (
                        HealthState::Degraded,
                        format!(
                            "the vendor sends callbacks to {}, not to this receiver ({expected}): register this receiver's URL",
                            vendor.url
                        ),
                    );
                }
            }
            if vendor.failures > 0 && vendor.last_attempt.as_ref().is_some_and(|a| !a.succeeded) {
                let last = vendor.last_attempt.as_ref().map_or_else(String::new, |a| {
                    format!(
                        "; the last, at {}, got {}",
                        a.at.to_rfc3339(),
                        a.status
                            .map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"))
                    )
                });
                return (
                    HealthState::Degraded,
                    format!(
                        "the vendor reports {} failed delivery attempt(s) in a row{last}",
                        vendor.failures
                    ),
                );
            }
        }
        let reason = if total == 0 {
            match traffic.last_delivery_at {
                Some(at) => format!(
                    "no delivery in the last {window}; the last verified one was at {}",
                    at.to_rfc3339()
                ),
                None => format!(
                    "waiting for the first delivery (watching since {})",
                    facts.watching_since.to_rfc3339()
                ),
            }
        } else if rejected == 0 {
            format!(
                "{total} deliveries in the last {window}, none rejected ({} accepted, {} duplicate)",
                traffic.accepted, traffic.duplicate
            )
        } else {
            format!(
                "{total} deliveries in the last {window}, {rejected} rejected (within the thresholds)"
            )
        };
        (HealthState::Healthy, reason)
    }
}

/// What to check, from the most frequent rejection.
fn advice(traffic: &CallbackTraffic) -> &'static str {
    let top = traffic
        .rejected
        .iter()
        .max_by_key(|(_, n)| **n)
        .and_then(|(key, _)| RejectionReason::from_key(key));
    match top {
        Some(RejectionReason::BadSignature | RejectionReason::NoSecretMatches) => {
            "check that the signing secret matches the provider's callback settings"
        }
        Some(RejectionReason::TimestampTooOld | RejectionReason::TimestampInFuture) => {
            "check this server's clock (or deliveries are replayed)"
        }
        Some(RejectionReason::BodyTooLarge) => "deliveries are larger than the receiver's body cap",
        Some(RejectionReason::MalformedBody) => {
            "the vendor sends a format this version of the crate cannot read"
        }
        _ => {
            "requests without a valid signature header reach the receiver (probes, or a proxy that drops the header)"
        }
    }
}

/// `15 min`, `24 h`, `90 s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// What health is computed from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HealthFacts<'a> {
    /// The configuration's name.
    pub config: &'a str,
    /// Whether it has callback settings.
    pub configured: bool,
    /// This receiver's URL for the configuration, when the host told it
    /// ([`CallbackService::public_base`](super::CallbackService::public_base)): a vendor
    /// registration pointing elsewhere is degraded.
    pub expected_url: Option<&'a Url>,
    /// Whether the vendor's view was read (`vendor` is then what it said, `None` meaning
    /// "nothing registered").
    pub vendor_known: bool,
    /// The vendor's view, when read and something is registered.
    pub vendor: Option<&'a CallbackRegistration>,
    /// Why the vendor's view could not be read, when it could not.
    pub vendor_error: Option<&'a str>,
    /// The counted traffic.
    pub traffic: &'a CallbackTraffic,
    /// When the receiver started watching the configuration (silence before the first
    /// delivery is counted from here).
    pub watching_since: DateTime<Utc>,
}

impl<'a> HealthFacts<'a> {
    /// Facts for `config` from its traffic: configured, watched since `watching_since`, the
    /// vendor's view unknown.
    pub fn new(
        config: &'a str,
        traffic: &'a CallbackTraffic,
        watching_since: DateTime<Utc>,
    ) -> Self {
        Self {
            config,
            configured: true,
            expected_url: None,
            vendor_known: false,
            vendor: None,
            vendor_error: None,
            traffic,
            watching_since,
        }
    }

    /// Sets [`configured`](Self::configured).
    pub fn configured(mut self, configured: bool) -> Self {
        self.configured = configured;
        self
    }

    /// The vendor's view as read: `None` when nothing is registered.
    pub fn vendor(mut self, vendor: Option<&'a CallbackRegistration>) -> Self {
        self.vendor_known = true;
        self.vendor = vendor;
        self
    }

    /// The vendor's view could not be read, for this reason.
    pub fn vendor_error(mut self, error: &'a str) -> Self {
        self.vendor_error = Some(error);
        self
    }

    /// Sets [`expected_url`](Self::expected_url).
    pub fn expected_url(mut self, url: Option<&'a Url>) -> Self {
        self.expected_url = url;
        self
    }
}

/// One configuration's callback health: what the admin sub-page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallbackHealth {
    /// The configuration's name.
    pub config: String,
    /// The state.
    pub state: HealthState,
    /// Why, in a sentence a dealer can act on.
    pub reason: String,
    /// When it was computed.
    pub checked_at: DateTime<Utc>,
    /// The recent window the counts cover, in seconds.
    pub window_seconds: u64,
    /// Accepted deliveries in the window.
    pub accepted: u64,
    /// Duplicate deliveries (redeliveries of events already applied) in the window.
    pub duplicate: u64,
    /// Rejected deliveries in the window.
    pub rejected: u64,
    /// Rejected deliveries in the window by reason key ([`RejectionReason::as_str`]).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// The last verified delivery (accepted or duplicate), ever.
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// The last delivery of any outcome, ever.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last rejection, ever.
    pub last_rejection: Option<RecordedRejection>,
    /// When the receiver started watching the configuration.
    pub watching_since: DateTime<Utc>,
    /// The vendor's view of the registration, when read and something is registered.
    pub vendor: Option<CallbackRegistration>,
    /// Why the vendor's view could not be read, when it could not.
    pub vendor_error: Option<String>,
}
