//! The vendor-neutral sync engine: events from a provider's feed ([`SyncEngine::pull_once`]) or
//! pushed by a callback ([`SyncEngine::ingest`]) reach the host's [`EventSink`] once per
//! (configuration, event id), in order, checkpointed in a [`SyncStore`].
//!
//! ```
//! use std::sync::Arc;
//! use interactive_services::sync::{
//!     EventSink, IdempotencyKey, MemoryStore, PullOutcome, SinkError, SyncEngine, SyncOptions,
//! };
//! use interactive_services::testkit::InMemoryProvider;
//! use interactive_services::{IspEvent, InteractiveServicesProvider, ProvisionRequest};
//!
//! #[derive(Debug)]
//! struct PrintSink;
//!
//! #[async_trait::async_trait]
//! impl EventSink for PrintSink {
//!     async fn apply(
//!         &self,
//!         config: &str,
//!         event: &IspEvent,
//!         key: &IdempotencyKey,
//!     ) -> Result<(), SinkError> {
//!         // A real sink writes to the host's records, deduplicating on `key`.
//!         println!("{config}: {:?} ({key})", event.kind);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), interactive_services::Error> {
//! let provider = InMemoryProvider::new();
//! provider
//!     .provision(&ProvisionRequest::builder("CUST-1").name("Ada", "Lovelace").plan("basic").build())
//!     .await?;
//!
//! let engine = SyncEngine::new(
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(PrintSink),
//!     SyncOptions::new("replica-1"),
//! );
//! let report = engine.pull_once("Main office", &provider).await?;
//! assert_eq!(report.outcome, PullOutcome::CaughtUp);
//! assert_eq!(report.applied, 1);
//! // A second pull finds nothing new; the status is what a host shows.
//! assert_eq!(engine.pull_once("Main office", &provider).await?.applied, 0);
//! assert_eq!(engine.status("Main office").await?.applied, 1);
//! # Ok(())
//! # }
//! ```
//!
//! ## What the engine promises
//!
//! - **At most one delivery at a time, and never again once recorded.** Before an event goes to
//!   the sink the engine *claims* (configuration, event id) in the store. A claim has an expiry
//!   ([`SyncOptions::claim_ttl`]), so the claim of a crashed process lapses and the event is
//!   delivered again; an event recorded as applied (or parked) is never delivered again by the
//!   pull or the push path, on any replica that shares the store.
//! - **Exactly once, with the sink's help.** Between "the sink applied it" and "the store
//!   recorded it" a crash can happen; the event is then delivered again with the same
//!   [`IdempotencyKey`]. A sink outside the store's transaction must therefore ignore a key it
//!   has already applied (see [`EventSink`]). A pull records applied events a chunk at a time
//!   ([`SyncOptions::batch_size`], 100 by default; one store call per chunk), so such a crash
//!   redelivers the chunk's applied events, each with its key; a sink that records the event
//!   in its own transaction with `mark_applied_in` is exact either way. Pushed events are
//!   recorded one at a time.
//! - **In order, checkpointed.** A pull hands a page's events over in order and stores the
//!   page's cursor only once every event of it is applied or parked; a restart resumes from the
//!   stored cursor, and the events before it that were already applied are skipped.
//! - **Poison does not block the stream.** A sink's [`SinkError::Permanent`] parks the event
//!   with its reason ([`SyncEngine::parked`], [`SyncEngine::replay`]) and the pull goes on. A
//!   [`SinkError::Transient`] is retried with jittered exponential backoff
//!   ([`DeliveryRetry`]); when the attempts run out the pull stops *before* the event, leaves
//!   the cursor where it was and records the error in the [status](crate::sync::SyncStatus).
//! - **One puller per configuration.** A pull takes the configuration's lease in the store; a
//!   second holder's pull answers [`PullOutcome::LeaseHeldElsewhere`] until the lease lapses
//!   ([`SyncOptions::lease_ttl`]), and a holder that lost its lease cannot move the cursor.
//!   Every replica may [`ingest`](crate::sync::SyncEngine::ingest) pushed events at any time.
//!
//! Providers without an event feed are followed by the [`Reconciler`], which compares accounts
//! with the last snapshot and sends what changed through the same path.
//!
//! ## Time
//!
//! Lease and claim expiry are decided by the store's clock (a database's `now()`;
//! [`MemoryStore::with_clock`] for tests), timestamps in the status by the engine's
//! ([`SyncOptions::clock`]). [`ManualClock`] moves only when told to, for tests.
//!
//! [`SyncEngine::pull_once`]: crate::sync::SyncEngine::pull_once
//! [`SyncEngine::ingest`]: crate::sync::SyncEngine::ingest
//! [`EventSink`]: crate::sync::EventSink
//! [`SyncStore`]: crate::sync::SyncStore
//! [`SyncOptions::claim_ttl`]: crate::sync::SyncOptions::claim_ttl
//! [`SyncOptions::batch_size`]: crate::sync::SyncOptions::batch_size
//! [`IdempotencyKey`]: crate::sync::IdempotencyKey
//! [`SinkError::Permanent`]: crate::sync::SinkError::Permanent
//! [`SyncEngine::parked`]: crate::sync::SyncEngine::parked
//! [`SyncEngine::replay`]: crate::sync::SyncEngine::replay
//! [`SinkError::Transient`]: crate::sync::SinkError::Transient
//! [`DeliveryRetry`]: crate::sync::DeliveryRetry
//! [`PullOutcome::LeaseHeldElsewhere`]: crate::sync::PullOutcome::LeaseHeldElsewhere
//! [`SyncOptions::lease_ttl`]: crate::sync::SyncOptions::lease_ttl
//! [`Reconciler`]: crate::sync::Reconciler
//! [`MemoryStore::with_clock`]: crate::sync::MemoryStore::with_clock
//! [`SyncOptions::clock`]: crate::sync::SyncOptions::clock
//! [`ManualClock`]: crate::sync::ManualClock

mod clock;
mod engine;
mod memory;
mod reconcile;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod status;
mod store;
mod traffic;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    Delivery, DeliveryRetry, PullOutcome, PullReport, RunLimits, RunReport, SyncEngine, SyncOptions,
};
pub use memory::MemoryStore;
pub use reconcile::{ReconcileOutcome, ReconcileReport, Reconciler};
#[cfg(feature = "postgres")]
pub use sql::PgStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
pub use status::{FeedState, LastError, NO_FEED_NOTE, SyncStatus};
pub use store::{AccountSnapshot, Claim, ClaimMode, Lease, ParkedEvent, StatusUpdate, SyncStore};
pub use traffic::{
    CALLBACK_BUCKET, CALLBACK_RETENTION, CallbackOutcome, CallbackRecord, CallbackTraffic,
    MAX_REASONS, OTHER_REASON, RecordedRejection, bucket_start,
};

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{EventId, IspEvent};

/// The key a sink deduplicates on: the configuration's name and the event's id. It is the same
/// on every delivery of an event, by pull or push, on any replica, after any restart.
///
/// Its [`Display`](fmt::Display) form, `configuration:event id` with `%` and `:` in the
/// configuration name written `%25` and `%3A`, is one unambiguous string for a unique column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey {
    config: String,
    event: EventId,
}

impl IdempotencyKey {
    /// The key of `event` in the configuration named `config`.
    pub fn new(config: impl Into<String>, event: EventId) -> Self {
        Self {
            config: config.into(),
            event,
        }
    }

    /// The configuration's name.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The event's id.
    pub fn event_id(&self) -> &EventId {
        &self.event
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.config.chars() {
            match c {
                '%' => f.write_str("%25")?,
                ':' => f.write_str("%3A")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        write!(f, ":{}", self.event)
    }
}

/// Why a sink did not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Trying again later may work (the host's database is down, a lock timed out): the engine
    /// retries with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// The event cannot be applied as it is (an unknown customer, a refused amount): the engine
    /// parks it with this reason and goes on with the next event.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Where events end up: the host's records (ledger, CRM, ticket queue).
///
/// # Contract
///
/// - `key` is stable: every delivery of one event in one configuration carries the same key.
/// - The engine records "applied" in the [`SyncStore`] *after* `apply` returns `Ok` (on the
///   pull path, after the sink took every event of the chunk: [`SyncOptions::batch_size`]). A
///   crash (or a store failure) in between makes the engine deliver the event again, with the
///   same key, once the claim has lapsed. A sink that is not part of the store's transaction must
///   therefore remember the keys it applied (a unique column next to the data it writes, in the
///   same transaction) and answer `Ok` without doing anything for a key it already has. That
///   is what makes delivery exactly once.
/// - Events of one configuration arrive in the provider's order on the pull path; a pushed
///   event may arrive before or after its pulled copy (only one of them is applied).
/// - `apply` should finish well within [`SyncOptions::claim_ttl`]: after that the claim lapses
///   and another replica may deliver the same event at the same time.
/// - Return [`SinkError::Permanent`] only for events that will never apply as they are; they
///   are parked until a person [replays](SyncEngine::replay) them.
#[async_trait]
pub trait EventSink: fmt::Debug + Send + Sync + 'static {
    /// Applies one event of the configuration named `config`.
    async fn apply(
        &self,
        config: &str,
        event: &IspEvent,
        key: &IdempotencyKey,
    ) -> Result<(), SinkError>;
}
