//! The [`SyncStore`] trait: the durable state of the sync engine.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::status::SyncStatus;
use super::traffic::{CallbackRecord, CallbackTraffic};
use crate::error::{Error, Result};
use crate::model::{AccountId, AccountStatus, AddOn, Cursor, EventId, IspEvent, PlanId};

/// What [`SyncStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the claim now (a new one, a lapsed one taken over, or its own renewed):
    /// it may hand the event to the sink.
    Claimed,
    /// The event is recorded as applied: do not deliver it again.
    AlreadyApplied,
    /// The event is parked (and the claim was not a [`ClaimMode::Replay`]): do not deliver it.
    Parked,
    /// Another claimant holds a live claim: the event is being delivered right now.
    HeldElsewhere {
        /// The claimant holding it.
        claimant: String,
        /// When its claim lapses.
        until: DateTime<Utc>,
    },
}

/// Whether a claim may take a parked event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimMode {
    /// A delivery by pull or push: a parked event is [`Claim::Parked`].
    Deliver,
    /// A replay of a parked event: being parked does not stop the claim.
    Replay,
}

/// An event a sink refused permanently, kept until it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    /// The configuration's name.
    pub config: String,
    /// The event, whole, so that it can be replayed without the provider.
    pub event: IspEvent,
    /// The sink's reason, from the last refusal.
    pub reason: String,
    /// When it was last parked.
    pub parked_at: DateTime<Utc>,
    /// How many times the sink refused it (1 on the first refusal; replays that fail again
    /// add one).
    pub refusals: u32,
}

/// What the reconciler last saw of an account: only what it compares, no contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    /// The account.
    pub account: AccountId,
    /// Grows by one each time the reconciler reports a change of this account; part of the ids
    /// of the events it derives, so that a change back and forth is reported each time.
    pub version: u64,
    /// The plan.
    pub plan: Option<PlanId>,
    /// The add-ons.
    pub add_ons: BTreeSet<AddOn>,
    /// The lifecycle state.
    pub status: AccountStatus,
    /// When the reconciler took this snapshot.
    pub seen_at: DateTime<Utc>,
}

/// Who holds a configuration's lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The holder ([`SyncOptions::holder`](super::SyncOptions::holder)).
    pub holder: String,
    /// When the lease lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A change to a configuration's [`SyncStatus`], recorded by [`SyncStore::record`]. Each maps
/// to one `UPDATE` of a status row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusUpdate {
    /// A pull ended (caught up, at its page limit, or stopped before an event).
    Pulled {
        /// When.
        at: DateTime<Utc>,
        /// How far behind the feed the configuration is (see [`SyncStatus::lag`]).
        lag: Option<Duration>,
        /// Why the pull stopped early, when it did; `None` also sets
        /// [`SyncStatus::last_success_at`].
        error: Option<String>,
    },
    /// A pull found that the provider has no event feed.
    NoFeed {
        /// When.
        at: DateTime<Utc>,
    },
    /// A reconciler pass completed: every listed account was read and compared. Also sets
    /// [`SyncStatus::last_success_at`].
    Reconciled {
        /// When.
        at: DateTime<Utc>,
    },
    /// Something failed (a provider call, the store, a delivery that ran out of attempts).
    Failed {
        /// When.
        at: DateTime<Utc>,
        /// What failed, for a person.
        message: String,
    },
}

/// The durable state of the sync engine, per ISP configuration (by name): the cursor, the
/// claims and the applied event ids, parked events, the reconciler's account snapshots, the
/// puller's lease, the status a host shows, and the callback traffic that callback health is
/// computed from ([`record_callback`](Self::record_callback),
/// [`callback_traffic`](Self::callback_traffic): methods with default bodies, so that a store
/// written before them still compiles).
///
/// Implementations must make each method atomic (one transaction) and safe to call from many
/// processes at once. Lease and claim expiry are decided by the store's own clock (a database
/// uses its `now()`, so that replicas with skewed clocks agree).
///
/// How each method maps onto SQL, for the database stores:
///
/// | method | SQL shape |
/// |---|---|
/// | [`claim`](Self::claim) | check `applied`/`parked`, then `INSERT INTO claims … ON CONFLICT (config, event_id) DO UPDATE … WHERE claims.expires_at <= now() OR claims.claimant = excluded.claimant RETURNING claimant` |
/// | [`mark_applied`](Self::mark_applied) | `INSERT INTO applied … ON CONFLICT DO NOTHING`, delete the claim and any parked row, bump the count — one transaction |
/// | [`acquire_lease`](Self::acquire_lease) | `INSERT INTO leases … ON CONFLICT (config) DO UPDATE … WHERE leases.expires_at <= now() OR leases.holder = excluded.holder RETURNING holder` |
/// | [`put_cursor`](Self::put_cursor) | `UPDATE … WHERE EXISTS (SELECT 1 FROM leases WHERE config = $1 AND holder = $2 AND expires_at > now())` (fenced by the lease) |
///
/// Errors are [`crate::Error`]s; a store that cannot reach its database answers a retryable
/// one ([`Error::unavailable`](crate::Error::unavailable) with the store's name as the
/// provider and the method's name as the operation).
#[async_trait]
pub trait SyncStore: fmt::Debug + Send + Sync + 'static {
    /// The stored cursor of `config`, `None` before the first page.
    async fn cursor(&self, config: &str) -> Result<Option<Cursor>>;

    /// Stores `config`'s cursor if `holder` holds its live lease; answers whether it did. A
    /// holder whose lease lapsed and was taken over cannot move the cursor.
    async fn put_cursor(&self, config: &str, holder: &str, cursor: &Cursor) -> Result<bool>;

    /// Claims (`config`, `event`) for `claimant` for `ttl`.
    ///
    /// In this order: an applied event is [`Claim::AlreadyApplied`]; a parked one is
    /// [`Claim::Parked`] unless `mode` is [`ClaimMode::Replay`]; a live claim of another
    /// claimant is [`Claim::HeldElsewhere`]; otherwise the claim is taken (or, when `claimant`
    /// already holds it, renewed) and the answer is [`Claim::Claimed`]. `claimant` must be
    /// unique per delivery, not per process: two deliveries of one process are two claimants.
    async fn claim(
        &self,
        config: &str,
        event: &EventId,
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Claim>;

    /// Records the event as applied, for good: drops the claim and any parked copy and counts
    /// it in [`SyncStatus::applied`]. Recording an applied event again changes nothing.
    async fn mark_applied(&self, config: &str, event: &EventId, claimant: &str) -> Result<()>;

    /// [`claim`](Self::claim) for each of `events` of one configuration, answered in the order
    /// of `events` (an id given twice is claimed once and answered twice). The engine claims a
    /// chunk of a pulled page at once with it ([`SyncOptions::batch_size`]).
    ///
    /// The default body calls [`claim`](Self::claim) for each event; the in-memory, SQLite and
    /// PostgreSQL stores do it in one lock or one transaction.
    ///
    /// [`SyncOptions::batch_size`]: super::SyncOptions::batch_size
    async fn claim_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Vec<Claim>> {
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            answers.push(self.claim(config, event, claimant, ttl, mode).await?);
        }
        Ok(answers)
    }

    /// [`mark_applied`](Self::mark_applied) for each of `events` of one configuration; answers
    /// how many of them were not applied before.
    ///
    /// The default body calls [`mark_applied`](Self::mark_applied) for each distinct event and,
    /// since that does not say whether the event was new, answers the number of distinct
    /// events; the in-memory, SQLite and PostgreSQL stores answer exactly, in one lock or one
    /// transaction.
    async fn mark_applied_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
    ) -> Result<u64> {
        let mut seen = std::collections::HashSet::with_capacity(events.len());
        for event in events {
            if seen.insert(event) {
                self.mark_applied(config, event, claimant).await?;
            }
        }
        Ok(u64::try_from(seen.len()).unwrap_or(u64::MAX))
    }

    /// Parks the event with the sink's `reason` (or, when already parked, replaces the reason,
    /// counts one more refusal and updates the time) and drops the claim. An applied event is not
    /// parked.
    async fn park(
        &self,
        config: &str,
        event: &IspEvent,
        reason: &str,
        claimant: &str,
    ) -> Result<()>;

    /// Drops `claimant`'s claim on the event, if it still holds it, so that the event may be
    /// delivered again at once.
    async fn release(&self, config: &str, event: &EventId, claimant: &str) -> Result<()>;

    /// `config`'s parked events, oldest first.
    async fn parked(&self, config: &str) -> Result<Vec<ParkedEvent>>;

    /// One parked event.
    async fn parked_event(&self, config: &str, event: &EventId) -> Result<Option<ParkedEvent>>;

    /// The reconciler's last snapshot of `account`.
    async fn snapshot(&self, config: &str, account: &AccountId) -> Result<Option<AccountSnapshot>>;

    /// Stores a snapshot, replacing the previous one of the account.
    async fn put_snapshot(&self, config: &str, snapshot: &AccountSnapshot) -> Result<()>;

    /// Takes `config`'s lease for `holder` for `ttl` when it is free, lapsed or already
    /// `holder`'s (then it is renewed); answers whether `holder` holds it now.
    async fn acquire_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Extends `holder`'s lease by `ttl` from now; `false` when another holder has it.
    async fn renew_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Gives up `holder`'s lease (nothing when another holder has it).
    async fn release_lease(&self, config: &str, holder: &str) -> Result<()>;

    /// Who holds `config`'s lease, when a live one exists.
    async fn lease(&self, config: &str) -> Result<Option<Lease>>;

    /// Records a status change.
    async fn record(&self, config: &str, update: &StatusUpdate) -> Result<()>;

    /// `config`'s status (a configuration never seen has an empty one).
    async fn status(&self, config: &str) -> Result<SyncStatus>;

    /// Counts one callback delivery of `config` (see [`callbacks`](crate::callbacks)): adds
    /// one to its outcome in the bucket of `record.at` (the minute it falls in,
    /// [`bucket_start`](super::bucket_start)), and moves the latest delivery, attempt and
    /// rejection forward when `record` is newer. Many replicas call it at once for one
    /// configuration: it must *add*, never overwrite counts.
    ///
    /// Buckets older than [`CALLBACK_RETENTION`](super::CALLBACK_RETENTION) may be dropped;
    /// at most [`MAX_REASONS`](super::MAX_REASONS) reasons are kept per bucket, further ones
    /// counted as [`OTHER_REASON`](super::OTHER_REASON).
    ///
    /// SQL shape: `INSERT INTO callback_buckets (config, bucket_start, outcome, reason, count)
    /// VALUES (…, 1) ON CONFLICT (config, bucket_start, outcome, reason) DO UPDATE SET count =
    /// callback_buckets.count + 1`, and an upsert of the configuration's latest-times row that
    /// keeps the greater time — one transaction.
    ///
    /// The default body answers [`Error::Unsupported`](crate::Error::Unsupported): a store that
    /// does not keep callback health yet still compiles and syncs. [`MemoryStore`](super::MemoryStore)
    /// and the SQLite and PostgreSQL stores (schema version 2) implement it.
    async fn record_callback(&self, config: &str, record: &CallbackRecord) -> Result<()> {
        let _ = (config, record);
        Err(Error::unsupported_because(
            "sync_store",
            "record_callback",
            "this sync store does not keep callback health yet",
        ))
    }

    /// `config`'s callback traffic: the counts of the buckets that start at or after
    /// `since`'s bucket, and the latest delivery, attempt and rejection ever recorded. A
    /// configuration with no traffic has empty counts.
    ///
    /// SQL shape: `SELECT outcome, reason, sum(count) FROM callback_buckets WHERE config = $1
    /// AND bucket_start >= $2 GROUP BY outcome, reason`, and the latest-times row.
    ///
    /// The default body answers [`Error::Unsupported`](crate::Error::Unsupported), as
    /// [`record_callback`](Self::record_callback)'s does.
    async fn callback_traffic(
        &self,
        config: &str,
        since: DateTime<Utc>,
    ) -> Result<CallbackTraffic> {
        let _ = (config, since);
        Err(Error::unsupported_because(
            "sync_store",
            "callback_traffic",
            "this sync store does not keep callback health yet",
        ))
    }
}
