//! What real-time callbacks carry besides account and billing events: the details of a panel's
//! alarm and trouble signals, and the vendor's view of a callback registration.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// An alarm or trouble signal from a customer's panel, as the vendor reported it. Every field
/// is the vendor's text, kept as sent; none is interpreted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PanelSignal {
    /// The event code (a Contact ID code such as `130`, or the vendor's own).
    pub code: Option<String>,
    /// The zone or device it came from.
    pub zone: Option<String>,
    /// A description for a person (`Burglary`, `AC power loss`).
    pub description: Option<String>,
}

impl PanelSignal {
    /// A signal with nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the event code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the zone or device.
    pub fn zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// One attempt the vendor made to deliver a callback, as the vendor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// When the vendor tried.
    pub at: DateTime<Utc>,
    /// The HTTP status the vendor got, `None` when no answer came (a timeout, a refused
    /// connection).
    pub status: Option<u16>,
    /// Whether the vendor counts it as delivered (a 2xx answer in time).
    pub succeeded: bool,
}

impl DeliveryAttempt {
    /// An attempt at `at` that got `status` (`None`: no answer); 2xx counts as delivered.
    pub fn new(at: DateTime<Utc>, status: Option<u16>) -> Self {
        Self {
            at,
            status,
            succeeded: status.is_some_and(|s| (200..300).contains(&s)),
        }
    }
}

/// The vendor's view of where it pushes a configuration's callbacks: what
/// [`InteractiveServicesProvider::callback_registration`](crate::InteractiveServicesProvider::callback_registration)
/// reads back after
/// [`register_callback`](crate::InteractiveServicesProvider::register_callback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallbackRegistration {
    /// Where the vendor sends callbacks.
    pub url: Url,
    /// Whether the vendor sends them at all.
    pub enabled: bool,
    /// When the URL was registered, when the vendor says.
    pub registered_at: Option<DateTime<Utc>>,
    /// The vendor's last delivery attempt, when there was one.
    pub last_attempt: Option<DeliveryAttempt>,
    /// Failed delivery attempts since the last successful one, as the vendor counts them.
    pub failures: u64,
}

impl CallbackRegistration {
    /// An enabled registration of `url` with no attempt yet.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            enabled: true,
            registered_at: None,
            last_attempt: None,
            failures: 0,
        }
    }
}
