//! Callback traffic as the [`SyncStore`](super::SyncStore) keeps it: one count per outcome per
//! minute, so that every replica adds to the same numbers and any replica reads them.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The width of one traffic bucket: deliveries are counted per minute.
pub const CALLBACK_BUCKET: Duration = Duration::from_secs(60);

/// How long a store keeps traffic buckets, at least: a health window longer than this counts
/// only this much.
pub const CALLBACK_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Most distinct rejection reasons a store counts per bucket; further reasons are counted
/// under [`OTHER_REASON`], so that a caller inventing reasons cannot grow a bucket without
/// bound.
pub const MAX_REASONS: usize = 32;

/// The reason rejections beyond [`MAX_REASONS`] are counted under.
pub const OTHER_REASON: &str = "other";

/// The start of the bucket `at` falls in (`at` rounded down to the minute).
pub fn bucket_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// How one callback delivery ended, as the store counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallbackOutcome {
    /// Verified, and at least one of its events was new: handed to the sink (applied or
    /// parked).
    Accepted,
    /// Verified, and every event in it had been applied or parked before (a redelivery).
    Duplicate,
    /// Refused before any event reached the engine.
    Rejected {
        /// A short stable key (`bad_signature`, `timestamp_too_old`), counted per key.
        reason: String,
        /// A sentence for a person, without secrets or the body.
        detail: String,
    },
}

/// One delivery to count: when it arrived and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    /// When it arrived (the receiver's clock).
    pub at: DateTime<Utc>,
    /// How it ended.
    pub outcome: CallbackOutcome,
}

impl CallbackRecord {
    /// A delivery at `at` that ended with `outcome`.
    pub fn new(at: DateTime<Utc>, outcome: CallbackOutcome) -> Self {
        Self { at, outcome }
    }
}

/// The last rejected delivery of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRejection {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// Its key (see [`CallbackOutcome::Rejected`]).
    pub reason: String,
    /// The sentence for a person.
    pub detail: String,
}

/// A configuration's callback traffic: counts over the buckets from
/// [`since`](Self::since) on, and the latest times ever recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallbackTraffic {
    /// The configuration's name.
    pub config: String,
    /// The start of the first bucket counted.
    pub since: DateTime<Utc>,
    /// Accepted deliveries from `since` on.
    pub accepted: u64,
    /// Duplicate deliveries from `since` on.
    pub duplicate: u64,
    /// Rejected deliveries from `since` on, by reason key.
    pub rejected: BTreeMap<String, u64>,
    /// The last verified delivery (accepted or duplicate), ever.
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// The last delivery of any outcome, ever.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last rejection, ever.
    pub last_rejection: Option<RecordedRejection>,
}

impl CallbackTraffic {
    /// No traffic for `config` from `since` on.
    pub fn new(config: impl Into<String>, since: DateTime<Utc>) -> Self {
        Self {
            config: config.into(),
            since: bucket_start(since),
            accepted: 0,
            duplicate: 0,
            rejected: BTreeMap::new(),
            last_delivery_at: None,
            last_attempt_at: None,
            last_rejection: None,
        }
    }

    /// Rejected deliveries from `since` on, all reasons together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected
            .values()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    /// Every delivery from `since` on.
    pub fn total(&self) -> u64 {
        self.accepted
            .saturating_add(self.duplicate)
            .saturating_add(self.rejected_total())
    }
}
