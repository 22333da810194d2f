//! The sync status of a configuration, as a host shows it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::Lease;
use crate::model::Cursor;

/// What [`SyncStatus::feed`] says when the provider has no event feed.
pub const NO_FEED_NOTE: &str = "this provider has no event feed; use the reconciler";

/// Whether the configuration's provider has an event feed, as far as the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    /// Never pulled.
    #[default]
    Unknown,
    /// The last pull read the feed.
    Available,
    /// The provider answered that it has no event feed: follow it with the
    /// [`Reconciler`](super::Reconciler) instead ([`NO_FEED_NOTE`]).
    NoFeed,
}

impl FeedState {
    /// A sentence for a person, when there is something to say.
    pub fn note(self) -> Option<&'static str> {
        match self {
            FeedState::NoFeed => Some(NO_FEED_NOTE),
            FeedState::Unknown | FeedState::Available => None,
        }
    }
}

/// The last failure recorded for a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// When.
    pub at: DateTime<Utc>,
    /// What failed.
    pub message: String,
}

/// The sync status of one configuration: what a host shows next to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncStatus {
    /// The configuration's name.
    pub config: String,
    /// The stored cursor.
    pub cursor: Option<Cursor>,
    /// Whether the provider has an event feed.
    pub feed: FeedState,
    /// When the last pull ended (however it ended).
    pub last_pull_at: Option<DateTime<Utc>>,
    /// When the last pull that stopped for no error, or the last complete reconciler pass,
    /// ended.
    pub last_success_at: Option<DateTime<Utc>>,
    /// How far behind the provider the configuration was at the end of the last pull: zero when
    /// it caught up; the age of the event it stopped before when it stopped; at least the age
    /// of the last event handled when it reached its page limit. `None` before the first pull
    /// and for providers with no feed.
    pub lag: Option<Duration>,
    /// When the last complete reconciler pass ended.
    pub last_reconcile_at: Option<DateTime<Utc>>,
    /// How many events were recorded as applied, ever.
    pub applied: u64,
    /// How many events are parked now.
    pub parked: u64,
    /// The last failure, kept after later successes (compare with
    /// [`last_success_at`](Self::last_success_at)).
    pub last_error: Option<LastError>,
    /// Who pulls the configuration, while a live lease exists.
    pub lease: Option<Lease>,
}

impl SyncStatus {
    /// An empty status for `config`.
    pub fn new(config: impl Into<String>) -> Self {
        Self {
            config: config.into(),
            ..Self::default()
        }
    }

    /// Whether the last failure is older than the last success (or there is none).
    pub fn is_healthy(&self) -> bool {
        match (&self.last_error, self.last_success_at) {
            (None, _) => true,
            (Some(e), Some(ok)) => ok > e.at,
            (Some(_), None) => false,
        }
    }
}
