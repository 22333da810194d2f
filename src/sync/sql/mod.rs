//! The database [`SyncStore`]s, on [sqlx](https://docs.rs/sqlx): [`SqliteStore`] (feature
//! `sqlite`) and [`PgStore`] (feature `postgres`).
//!
//! Both keep the same tables, created and upgraded by the migrations shipped in the crate
//! (`src/sync/sql/migrations/`, applied by `migrate()` when a store is opened):
//!
//! | table | key | what |
//! |---|---|---|
//! | `isp_sync_cursors` | config | the stored cursor |
//! | `isp_sync_applied` | config, event_id | every event recorded as applied (kept for good) |
//! | `isp_sync_claims` | config, event_id | who delivers an event now (claimant), until `expires_at` |
//! | `isp_sync_parked` | config, event_id | parked events: the event as JSON, reason, `parked_at`, refusals |
//! | `isp_sync_snapshots` | config, account | the reconciler's last snapshot of an account, as JSON |
//! | `isp_sync_leases` | config | who pulls the configuration (holder), until `expires_at` |
//! | `isp_sync_status` | config | the recorded status fields as JSON, and the count of applied events |
//! | `isp_sync_callback_buckets` | config, bucket_start, outcome, reason | callback deliveries counted per minute (schema 2) |
//! | `isp_sync_callback_latest` | config | the latest delivery, attempt and rejection of a configuration's callbacks (schema 2) |
//! | `isp_sync_schema_version` | version | the migrations applied, one row each |
//!
//! Times are `BIGINT` milliseconds since the Unix epoch (UTC), so times read back from a
//! database store are whole milliseconds; JSON is kept as `TEXT`. Nothing read from the
//! database panics: a row that cannot be read (a bad JSON document, a time out of range, a
//! negative count) is an [`Error::InvalidResponse`](crate::Error::InvalidResponse) naming the
//! store, the method and what was wrong. A database that cannot be reached is a retryable
//! [`Error::Unavailable`](crate::Error::Unavailable). A database whose schema is newer than this
//! crate knows is refused with [`Error::Unsupported`](crate::Error::Unsupported) rather than
//! written to.
//!
//! # Exactly once with the host's database
//!
//! When the host's own records live in the same database, a sink can make "the host wrote it"
//! and "the store recorded it as applied" one commit: inside its own transaction it calls
//! [`SqliteStore::mark_applied_in`] or [`PgStore::mark_applied_in`] with the transaction's
//! connection (`&mut *tx`). When that answers `false` the event was applied before and the sink
//! writes nothing; when the transaction rolls back, the event stays unapplied and is delivered
//! again. The engine's own [`mark_applied`](SyncStore::mark_applied) after the sink returns then
//! finds the event applied and changes nothing (the applied count is not bumped twice).
//!
//! # Batches
//!
//! [`SyncStore::claim`] and [`SyncStore::mark_applied`] are one transaction each, and a durable
//! commit waits for the disk. [`SyncStore::claim_batch`] and [`SyncStore::mark_applied_batch`]
//! give the same answers and effects for many events of one configuration in one transaction
//! each: the engine's pull claims a chunk of a page with one and records the chunk's applied
//! events with the other ([`SyncOptions::batch_size`](super::SyncOptions::batch_size)), so a
//! page costs a few commits rather than two per event.
//!
//! # Why sqlx
//!
//! The issue asked for one well-kept async database crate for both stores unless the build cost
//! says otherwise. Measured on the project's 2-core build machine (cold debug builds of an
//! empty crate, other builds running): sqlx 0.8 with `runtime-tokio`, `sqlite` and `postgres`
//! took about 60 CPU-seconds (50 s wall) and 124 crates; rusqlite (bundled) plus
//! tokio-postgres about 30–35 CPU-seconds and 73 crates. Both compile the same bundled SQLite C
//! library (about 17 s of either figure). Inside this crate, turning both features on
//! added 1 min 44 s of wall time to an incremental build (sqlx and its new dependencies about
//! 82 CPU-seconds; the rest rebuilt tokio, rustls and hyper with the features sqlx unifies in).
//!
//! sqlx stays, for what the extra half-minute buys: one async API and pool type for both
//! databases (rusqlite is blocking: it would need `spawn_blocking` and a pool crate of its own,
//! which brings crates back); and, above all, the exactly-once path above takes the *host's*
//! transaction, so the store should speak the async SQL crate hosts already use, which in the
//! tokio ecosystem is sqlx. No macros, migrations or TLS features are enabled, and a host that
//! enables neither `sqlite` nor `postgres` compiles none of it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::status::{FeedState, LastError, SyncStatus};
use super::store::{Lease, ParkedEvent, StatusUpdate};
use crate::error::{Error, Result};
use crate::model::{Cursor, EventId, IspEvent};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod traffic;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(doc)]
use super::store::SyncStore;

/// One schema migration: the version it brings the database to and its SQL.
#[derive(Debug, Clone, Copy)]
struct Migration {
    version: i64,
    sql: &'static str,
}

/// The table recording the migrations applied (the same DDL for both databases).
const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS isp_sync_schema_version (\
     version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)";

/// The latest version in `migrations`.
fn latest(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The refusal of a database whose schema is newer than this crate's.
fn newer_schema(store: &'static str, found: i64, known: i64) -> Error {
    Error::unsupported_because(
        store,
        "migrate",
        format!(
            "the database's sync schema is version {found} but this version of \
             interactive-services knows versions up to {known}: upgrade interactive-services \
             (the database was migrated by a newer one)"
        ),
    )
}

/// The latest time chrono can show, in milliseconds: stored expiries never go past it.
fn max_ms() -> i64 {
    DateTime::<Utc>::MAX_UTC.timestamp_millis()
}

/// `ttl` in milliseconds, capped so that `now + ttl` always fits.
fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis())
        .unwrap_or(i64::MAX)
        .min(max_ms())
}

/// `now + ttl` in milliseconds, saturating at the latest time chrono can show. (PostgreSQL
/// computes it in SQL, on its own clock.)
#[cfg(any(feature = "sqlite", test))]
fn expiry_ms(now_ms: i64, ttl: Duration) -> i64 {
    now_ms.saturating_add(ttl_ms(ttl)).min(max_ms())
}

/// The ids of `events`, once each, sorted (so that concurrent batches lock rows in one order).
fn sorted_ids(events: &[EventId]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().map(|e| e.as_str().to_owned()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Where an error happened: the store's name and the method.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    store: &'static str,
    method: &'static str,
}

impl Ctx {
    fn new(store: &'static str, method: &'static str) -> Self {
        Self { store, method }
    }

    /// A database error: unreadable values are a corrupt row, everything else (I/O, the pool,
    /// the server's own errors) is a retryable outage.
    fn db(self, e: sqlx::Error) -> Error {
        match e {
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => Error::invalid_response(
                self.store,
                self.method,
                format!("a stored row could not be read: {e}"),
            ),
            other => Error::unavailable(self.store, self.method, 1, other.to_string()),
        }
    }

    /// A row whose content is wrong.
    fn corrupt(self, table: &str, key: &str, detail: impl fmt::Display) -> Error {
        Error::invalid_response(
            self.store,
            self.method,
            format!("corrupt row in {table} ({key}): {detail}"),
        )
    }

    /// A stored time in milliseconds.
    fn time(self, table: &str, key: &str, column: &str, ms: i64) -> Result<DateTime<Utc>> {
        DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| {
            self.corrupt(
                table,
                key,
                format!("{column} = {ms} is not a time (milliseconds since the epoch)"),
            )
        })
    }

    /// A stored count.
    fn count(self, table: &str, key: &str, column: &str, value: i64) -> Result<u64> {
        u64::try_from(value)
            .map_err(|_| self.corrupt(table, key, format!("{column} = {value} is negative")))
    }

    /// A stored JSON document.
    fn json<T: DeserializeOwned>(
        self,
        table: &str,
        key: &str,
        column: &str,
        text: &str,
    ) -> Result<T> {
        serde_json::from_str(text).map_err(|e| {
            self.corrupt(
                table,
                key,
                format!("{column} is not the expected JSON: {e}"),
            )
        })
    }

    /// A value to store as JSON.
    fn to_json<T: Serialize>(self, what: &str, value: &T) -> Result<String> {
        serde_json::to_string(value).map_err(|e| {
            Error::invalid_request(
                self.store,
                self.method,
                format!("the {what} cannot be written as JSON: {e}"),
            )
        })
    }

    /// Reads column `index` of `row`.
    fn get<'r, R, T>(self, row: &'r R, index: usize) -> Result<T>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        row.try_get(index).map_err(|e| self.db(e))
    }
}

/// The status fields [`SyncStore::record`] keeps, stored as JSON in `isp_sync_status.fields`.
/// Every field has a default, so that a document written by an older version still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
struct Recorded {
    feed: FeedState,
    last_pull_at: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    lag: Option<Duration>,
    last_reconcile_at: Option<DateTime<Utc>>,
    last_error: Option<LastError>,
}

impl Recorded {
    /// Applies `update` the way [`MemoryStore`](super::MemoryStore) does.
    fn apply(&mut self, update: &StatusUpdate) {
        match update {
            StatusUpdate::Pulled { at, lag, error } => {
                self.feed = FeedState::Available;
                self.last_pull_at = Some(*at);
                self.lag = *lag;
                match error {
                    None => self.last_success_at = Some(*at),
                    Some(message) => {
                        self.last_error = Some(LastError {
                            at: *at,
                            message: message.clone(),
                        });
                    }
                }
            }
            StatusUpdate::NoFeed { at } => {
                self.feed = FeedState::NoFeed;
                self.last_pull_at = Some(*at);
                self.lag = None;
            }
            StatusUpdate::Reconciled { at } => {
                self.last_reconcile_at = Some(*at);
                self.last_success_at = Some(*at);
            }
            StatusUpdate::Failed { at, message } => {
                self.last_error = Some(LastError {
                    at: *at,
                    message: message.clone(),
                });
            }
        }
    }
}

/// One row of the status query: `fields`, `applied`, `cursor`, the count of parked events, and
/// the live lease's holder and expiry.
struct StatusRow {
    fields: Option<String>,
    applied: Option<i64>,
    cursor: Option<String>,
    parked: i64,
    holder: Option<String>,
    expires_at: Option<i64>,
}

impl StatusRow {
    fn read<R>(ctx: Ctx, row: &R) -> Result<Self>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            fields: ctx.get(row, 0)?,
            applied: ctx.get(row, 1)?,
            cursor: ctx.get(row, 2)?,
            parked: ctx.get(row, 3)?,
            holder: ctx.get(row, 4)?,
            expires_at: ctx.get(row, 5)?,
        })
    }

    fn into_status(self, ctx: Ctx, config: &str) -> Result<SyncStatus> {
        let key = format!("config {config:?}");
        let recorded: Recorded = match &self.fields {
            Some(text) => ctx.json("isp_sync_status", &key, "fields", text)?,
            None => Recorded::default(),
        };
        let lease = match (self.holder, self.expires_at) {
            (Some(holder), Some(ms)) => Some(Lease {
                holder,
                expires_at: ctx.time("isp_sync_leases", &key, "expires_at", ms)?,
            }),
            _ => None,
        };
        let mut status = SyncStatus::new(config);
        status.cursor = self.cursor.map(Cursor::new);
        status.feed = recorded.feed;
        status.last_pull_at = recorded.last_pull_at;
        status.last_success_at = recorded.last_success_at;
        status.lag = recorded.lag;
        status.last_reconcile_at = recorded.last_reconcile_at;
        status.last_error = recorded.last_error;
        status.applied = ctx.count(
            "isp_sync_status",
            &key,
            "applied",
            self.applied.unwrap_or(0),
        )?;
        status.parked = ctx.count("isp_sync_parked", &key, "count(*)", self.parked)?;
        status.lease = lease;
        Ok(status)
    }
}

/// One row of `isp_sync_parked`, as selected by both stores:
/// `config, event_id, event, reason, parked_at, refusals`.
fn parked_from_row<R>(ctx: Ctx, row: &R) -> Result<ParkedEvent>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let config: String = ctx.get(row, 0)?;
    let event_id: String = ctx.get(row, 1)?;
    let event: String = ctx.get(row, 2)?;
    let reason: String = ctx.get(row, 3)?;
    let parked_at: i64 = ctx.get(row, 4)?;
    let refusals: i64 = ctx.get(row, 5)?;
    let table = "isp_sync_parked";
    let key = format!("config {config:?}, event_id {event_id:?}");
    let event: IspEvent = ctx.json(table, &key, "event", &event)?;
    if event.id.as_str() != event_id {
        return Err(ctx.corrupt(
            table,
            &key,
            format!("the stored event's id is {:?}", event.id.as_str()),
        ));
    }
    let refusals = u32::try_from(refusals).map_err(|_| {
        ctx.corrupt(
            table,
            &key,
            format!("refusals = {refusals} is out of range"),
        )
    })?;
    Ok(ParkedEvent {
        parked_at: ctx.time(table, &key, "parked_at", parked_at)?,
        config,
        event,
        reason,
        refusals,
    })
}

/// The greatest refusal count a parked row keeps (the count of a [`ParkedEvent`] is a `u32`).
const MAX_REFUSALS: i64 = u32::MAX as i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_saturates_within_chrono() {
        let now = Utc::now().timestamp_millis();
        assert_eq!(expiry_ms(now, Duration::from_millis(1500)), now + 1500);
        assert_eq!(expiry_ms(now, Duration::MAX), max_ms());
        assert!(DateTime::<Utc>::from_timestamp_millis(expiry_ms(now, Duration::MAX)).is_some());
    }

    #[test]
    fn sorted_ids_are_unique() {
        let ids = sorted_ids(&[EventId::new("b"), EventId::new("a"), EventId::new("b")]);
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn old_status_documents_still_read() {
        let ctx = Ctx::new("test store", "status");
        let r: Recorded = ctx.json("t", "k", "fields", "{}").unwrap();
        assert_eq!(r, Recorded::default());
        let e = ctx
            .json::<Recorded>("t", "k", "fields", "{not json")
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidResponse);
        assert!(e.to_string().contains("test store: status"), "{e}");
    }
}
