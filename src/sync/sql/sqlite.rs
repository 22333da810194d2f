//! [`SqliteStore`]: the [`SyncStore`] in one SQLite file.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::{
    Ctx, MAX_REFUSALS, Migration, Recorded, SCHEMA_TABLE, StatusRow, expiry_ms, latest,
    newer_schema, parked_from_row, sorted_ids,
};
use crate::error::Result;
use crate::model::{AccountId, Cursor, EventId, IspEvent};
use crate::sync::clock::{Clock, SystemClock};
use crate::sync::status::SyncStatus;
use crate::sync::store::{
    AccountSnapshot, Claim, ClaimMode, Lease, ParkedEvent, StatusUpdate, SyncStore,
};
use crate::sync::traffic::{CallbackRecord, CallbackTraffic};

const STORE: &str = "sqlite store";

/// How long a write waits for another connection's write to finish before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool [`SqliteStore::open`] makes: writes take turns anyway; the others
/// serve reads.
const POOL_SIZE: u32 = 4;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/sqlite/0002_callback_traffic.sql"),
    },
];

/// A [`SyncStore`] in one SQLite file (feature `sqlite`): the default for examples and
/// single-process hosts. It survives a killed process: the file is in WAL mode with
/// `synchronous=FULL`, so a method that returned `Ok` is on disk.
///
/// Every method is one transaction; writes start with `BEGIN IMMEDIATE` and take turns within
/// the process, so that concurrent writers wait for each other (up to a busy timeout of ten
/// seconds across processes) instead of failing with `SQLITE_BUSY`. SQLite has no server clock:
/// lease and claim expiry use the store's [`Clock`] (the system clock unless
/// [`with_clock`](Self::with_clock) says otherwise), so processes sharing a file should have
/// synchronized clocks.
///
/// # Tables
///
/// The migrations shipped with the crate create `isp_sync_cursors`, `isp_sync_applied`,
/// `isp_sync_claims`, `isp_sync_parked` (the event as JSON), `isp_sync_snapshots` (JSON),
/// `isp_sync_leases`, `isp_sync_status` (the recorded fields as JSON, and the applied count)
/// and `isp_sync_schema_version`. Times are milliseconds since the Unix epoch, so the times
/// read back are whole milliseconds. [`open`](Self::open) and [`from_pool`](Self::from_pool)
/// run [`migrate`](Self::migrate); a file migrated by a newer version of the crate is refused
/// with [`Error::Unsupported`](crate::Error::Unsupported). A row that cannot be read is an
/// [`Error::InvalidResponse`](crate::Error::InvalidResponse) naming the table and what was
/// wrong; a database error is a retryable [`Error::Unavailable`](crate::Error::Unavailable)
/// (provider `sqlite store`, operation the method's name).
///
/// # Exactly once with the host's database
///
/// A sink whose records live in the same file records the event as applied inside its own
/// transaction with [`mark_applied_in`](Self::mark_applied_in), so that its write and the
/// dedupe mark commit or roll back together:
///
/// ```
/// use interactive_services::sync::SqliteStore;
/// use interactive_services::model::EventId;
/// use sqlx::Connection;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = std::env::temp_dir().join(format!("isp-doc-{}.db", std::process::id()));
/// let store = SqliteStore::open(&path).await?;
/// let mut conn = store.pool().acquire().await?;
/// sqlx::query("CREATE TABLE IF NOT EXISTS ledger (event TEXT PRIMARY KEY)")
///     .execute(&mut *conn)
///     .await?;
///
/// // In the sink, for each event:
/// let event = EventId::new("pay-1");
/// let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
/// if SqliteStore::mark_applied_in(&mut tx, "Main office", &event).await? {
///     sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
///         .bind(event.as_str())
///         .execute(&mut *tx)
///         .await?;
/// } // else: applied before; write nothing.
/// tx.commit().await?;
///
/// assert!(SqliteStore::is_applied_in(&mut conn, "Main office", &event).await?);
/// # drop(conn);
/// # store.close().await;
/// # for suffix in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
/// # }
/// # Ok(())
/// # }
/// ```
///
/// The engine's [`mark_applied`](SyncStore::mark_applied) after the sink returns then changes
/// nothing; a rolled-back transaction leaves the event unapplied, to be delivered again.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    /// Writes of this store take turns, so that they never wait in SQLite's busy handler for
    /// each other.
    writer: Arc<Mutex<()>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("connections", &self.pool.size())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it when missing) the SQLite file at `path` in WAL mode with
    /// `synchronous=FULL` and a busy timeout, and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|e| Ctx::new(STORE, "open").db(e))?;
        Self::from_pool(pool).await
    }

    /// A store on the host's pool, migrated. The pool's connections should use WAL mode,
    /// `synchronous=FULL` and a busy timeout, as [`open`](Self::open)'s do; the host's tables
    /// may live in the same file (see [`mark_applied_in`](Self::mark_applied_in)).
    pub async fn from_pool(pool: SqlitePool) -> Result<Self> {
        let store = Self {
            pool,
            clock: Arc::new(SystemClock),
            writer: Arc::new(Mutex::new(())),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same store with leases and claims lapsing by `clock` (a
    /// [`ManualClock`](crate::sync::ManualClock) in tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store's pool (the host may keep its own tables in the same file).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool's connections, waiting for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Brings the schema up to date in one transaction (a no-op when it is). [`open`](Self::open)
    /// and [`from_pool`](Self::from_pool) call it; a schema newer than this crate knows is
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub async fn migrate(&self) -> Result<()> {
        let ctx = Ctx::new(STORE, "migrate");
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        sqlx::query(SCHEMA_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM isp_sync_schema_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        let current: i64 = ctx.get(&row, 0)?;
        let known = latest(MIGRATIONS);
        if current > known {
            return Err(newer_schema(STORE, current, known));
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            sqlx::raw_sql(migration.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.db(e))?;
            sqlx::query(
                "INSERT INTO isp_sync_schema_version (version, applied_at) VALUES ($1, $2)",
            )
            .bind(migration.version)
            .bind(Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    /// Records (`config`, `event`) as applied on the host's connection, inside the host's
    /// transaction when there is one (pass `&mut *tx`), so that the host's writes and the mark
    /// commit or roll back together; like [`mark_applied`](SyncStore::mark_applied) it drops the
    /// claim and any parked copy and counts the event once. Answers `true` when the event was
    /// not applied before, `false` when it was (then the host should write nothing).
    ///
    /// Start the host's transaction with `BEGIN IMMEDIATE`
    /// (`conn.begin_with("BEGIN IMMEDIATE")`): a deferred transaction that has read before it
    /// writes can fail with `SQLITE_BUSY` when another connection wrote in between. The
    /// connection must be to the store's file (the store's [`pool`](Self::pool) or another pool
    /// on the same file).
    pub async fn mark_applied_in(
        conn: &mut SqliteConnection,
        config: &str,
        event: &EventId,
    ) -> Result<bool> {
        let ctx = Ctx::new(STORE, "mark_applied_in");
        // A savepoint inside the host's transaction, a transaction of its own otherwise.
        let mut tx = conn.begin().await.map_err(|e| ctx.db(e))?;
        let now = Utc::now().timestamp_millis();
        let added = mark_applied(ctx, &mut tx, config, std::slice::from_ref(event), now).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(added > 0)
    }

    /// Whether (`config`, `event`) is recorded as applied, read on the host's connection (inside
    /// its transaction when there is one).
    pub async fn is_applied_in(
        conn: &mut SqliteConnection,
        config: &str,
        event: &EventId,
    ) -> Result<bool> {
        let ctx = Ctx::new(STORE, "is_applied_in");
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM isp_sync_applied WHERE config = $1 AND event_id = $2)",
        )
        .bind(config)
        .bind(event.as_str())
        .fetch_one(conn)
        .await
        .map_err(|e| ctx.db(e))?;
        ctx.get(&row, 0)
    }

    /// [`claim`](SyncStore::claim) for each of `events`, in one transaction: the answers in the
    /// order of `events` (an id given twice is claimed once and answered twice).
    async fn claim_many(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Vec<Claim>> {
        let ctx = Ctx::new(STORE, "claim_batch");
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        let now = self.now_ms();
        let answers = claim(ctx, &mut tx, config, events, claimant, now, ttl, mode).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(answers)
    }

    /// [`mark_applied`](SyncStore::mark_applied) for each of `events`, in one transaction;
    /// answers how many of them were not applied before.
    async fn mark_many(&self, config: &str, events: &[EventId], _claimant: &str) -> Result<u64> {
        self.mark(Ctx::new(STORE, "mark_applied_batch"), config, events)
            .await
    }

    async fn mark(&self, ctx: Ctx, config: &str, events: &[EventId]) -> Result<u64> {
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        let now = self.now_ms();
        let added = mark_applied(ctx, &mut tx, config, events, now).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(added)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// This store's turn to write, and a `BEGIN IMMEDIATE` transaction.
    async fn begin_write(
        &self,
        ctx: Ctx,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>)> {
        let turn = self.writer.lock().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| ctx.db(e))?;
        Ok((turn, tx))
    }

    /// [`record_callback`](SyncStore::record_callback)'s write turn and transaction.
    async fn begin_traffic(
        &self,
        ctx: Ctx,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>)> {
        self.begin_write(ctx).await
    }

    super::traffic::sql_callback_traffic!(STORE);

    /// A single-statement write, in its turn.
    async fn write(&self, ctx: Ctx, query: SqliteQuery<'_>) -> Result<u64> {
        let _turn = self.writer.lock().await;
        let done = query.execute(&self.pool).await.map_err(|e| ctx.db(e))?;
        Ok(done.rows_affected())
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// The claims of `events` (in their order), inside a write transaction: one query reads what
/// is known of them, one upsert takes the free ones.
#[allow(clippy::too_many_arguments)]
async fn claim(
    ctx: Ctx,
    conn: &mut SqliteConnection,
    config: &str,
    events: &[EventId],
    claimant: &str,
    now: i64,
    ttl: Duration,
    mode: ClaimMode,
) -> Result<Vec<Claim>> {
    let ids = ctx.to_json("event ids", &sorted_ids(events))?;
    let rows = sqlx::query(
        "SELECT j.value, \
            EXISTS (SELECT 1 FROM isp_sync_applied a WHERE a.config = $1 AND a.event_id = j.value), \
            EXISTS (SELECT 1 FROM isp_sync_parked p WHERE p.config = $1 AND p.event_id = j.value), \
            c.claimant, c.expires_at \
         FROM json_each($2) AS j \
         LEFT JOIN isp_sync_claims c ON c.config = $1 AND c.event_id = j.value",
    )
    .bind(config)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| ctx.db(e))?;
    let mut answers = HashMap::with_capacity(rows.len());
    let mut free = Vec::new();
    for row in &rows {
        let id: String = ctx.get(row, 0)?;
        let applied: bool = ctx.get(row, 1)?;
        let parked: bool = ctx.get(row, 2)?;
        let holder: Option<String> = ctx.get(row, 3)?;
        let until: Option<i64> = ctx.get(row, 4)?;
        let answer = if applied {
            Claim::AlreadyApplied
        } else if parked && mode == ClaimMode::Deliver {
            Claim::Parked
        } else {
            match (holder, until) {
                (Some(holder), Some(ms)) if holder != claimant && ms > now => {
                    let key = format!("config {config:?}, event_id {id:?}");
                    Claim::HeldElsewhere {
                        claimant: holder,
                        until: ctx.time("isp_sync_claims", &key, "expires_at", ms)?,
                    }
                }
                _ => {
                    free.push(id.clone());
                    Claim::Claimed
                }
            }
        };
        answers.insert(id, answer);
    }
    if !free.is_empty() {
        let taken = sqlx::query(
            "INSERT INTO isp_sync_claims (config, event_id, claimant, expires_at) \
             SELECT $1, j.value, $3, $4 FROM json_each($2) AS j WHERE true \
             ON CONFLICT (config, event_id) DO UPDATE \
             SET claimant = excluded.claimant, expires_at = excluded.expires_at \
             WHERE isp_sync_claims.expires_at <= $5 \
                OR isp_sync_claims.claimant = excluded.claimant",
        )
        .bind(config)
        .bind(ctx.to_json("event ids", &free)?)
        .bind(claimant)
        .bind(expiry_ms(now, ttl))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| ctx.db(e))?
        .rows_affected();
        if taken != free.len() as u64 {
            // Cannot happen inside a write transaction: nothing changed since the read.
            return Err(crate::Error::unavailable(
                STORE,
                ctx.method,
                1,
                "the claims changed while they were taken; try again",
            ));
        }
    }
    events
        .iter()
        .map(|event| {
            answers.get(event.as_str()).cloned().ok_or_else(|| {
                crate::Error::unavailable(
                    STORE,
                    ctx.method,
                    1,
                    format!("no answer for event {:?}", event.as_str()),
                )
            })
        })
        .collect()
}

/// Records `events` as applied, drops their claims and parked copies and bumps the count by the
/// number newly applied, which it answers. Runs on `conn` inside a transaction of the caller:
/// four statements, however many events.
async fn mark_applied(
    ctx: Ctx,
    conn: &mut SqliteConnection,
    config: &str,
    events: &[EventId],
    now: i64,
) -> Result<u64> {
    let ids = ctx.to_json("event ids", &sorted_ids(events))?;
    let added = sqlx::query(
        "INSERT INTO isp_sync_applied (config, event_id, applied_at) \
         SELECT $1, j.value, $3 FROM json_each($2) AS j WHERE true \
         ON CONFLICT (config, event_id) DO NOTHING",
    )
    .bind(config)
    .bind(&ids)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| ctx.db(e))?
    .rows_affected();
    for delete in [
        "DELETE FROM isp_sync_claims \
         WHERE config = $1 AND event_id IN (SELECT value FROM json_each($2))",
        "DELETE FROM isp_sync_parked \
         WHERE config = $1 AND event_id IN (SELECT value FROM json_each($2))",
    ] {
        sqlx::query(delete)
            .bind(config)
            .bind(&ids)
            .execute(&mut *conn)
            .await
            .map_err(|e| ctx.db(e))?;
    }
    if added > 0 {
        sqlx::query(
            "INSERT INTO isp_sync_status (config, fields, applied) VALUES ($1, '{}', $2) \
             ON CONFLICT (config) DO UPDATE SET applied = isp_sync_status.applied + excluded.applied",
        )
        .bind(config)
        .bind(i64::try_from(added).unwrap_or(i64::MAX))
        .execute(&mut *conn)
        .await
        .map_err(|e| ctx.db(e))?;
    }
    Ok(added)
}

#[async_trait]
impl SyncStore for SqliteStore {
    async fn cursor(&self, config: &str) -> Result<Option<Cursor>> {
        let ctx = Ctx::new(STORE, "cursor");
        let row = sqlx::query("SELECT cursor FROM isp_sync_cursors WHERE config = $1")
            .bind(config)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| ctx.db(e))?;
        row.map(|row| ctx.get::<_, String>(&row, 0).map(Cursor::new))
            .transpose()
    }

    async fn put_cursor(&self, config: &str, holder: &str, cursor: &Cursor) -> Result<bool> {
        let now = self.now_ms();
        let query = sqlx::query(
            "INSERT INTO isp_sync_cursors (config, cursor, updated_at) \
             SELECT $1, $3, $4 WHERE EXISTS ( \
                 SELECT 1 FROM isp_sync_leases \
                 WHERE config = $1 AND holder = $2 AND expires_at > $4) \
             ON CONFLICT (config) DO UPDATE \
             SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(config)
        .bind(holder)
        .bind(cursor.as_str())
        .bind(now);
        Ok(self.write(Ctx::new(STORE, "put_cursor"), query).await? > 0)
    }

    async fn claim(
        &self,
        config: &str,
        event: &EventId,
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Claim> {
        let ctx = Ctx::new(STORE, "claim");
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        let now = self.now_ms();
        let events = std::slice::from_ref(event);
        let answers = claim(ctx, &mut tx, config, events, claimant, now, ttl, mode).await?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        answers
            .into_iter()
            .next()
            .ok_or_else(|| crate::Error::unavailable(STORE, "claim", 1, "the claim gave no answer"))
    }

    async fn mark_applied(&self, config: &str, event: &EventId, _claimant: &str) -> Result<()> {
        self.mark(
            Ctx::new(STORE, "mark_applied"),
            config,
            std::slice::from_ref(event),
        )
        .await
        .map(drop)
    }

    async fn park(
        &self,
        config: &str,
        event: &IspEvent,
        reason: &str,
        claimant: &str,
    ) -> Result<()> {
        let ctx = Ctx::new(STORE, "park");
        let json = ctx.to_json("event", event)?;
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        let now = self.now_ms();
        sqlx::query(
            "DELETE FROM isp_sync_claims WHERE config = $1 AND event_id = $2 AND claimant = $3",
        )
        .bind(config)
        .bind(event.id.as_str())
        .bind(claimant)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        sqlx::query(
            "INSERT INTO isp_sync_parked (config, event_id, event, reason, parked_at, refusals) \
             SELECT $1, $2, $3, $4, $5, 1 WHERE NOT EXISTS ( \
                 SELECT 1 FROM isp_sync_applied WHERE config = $1 AND event_id = $2) \
             ON CONFLICT (config, event_id) DO UPDATE \
             SET event = excluded.event, reason = excluded.reason, \
                 parked_at = excluded.parked_at, \
                 refusals = MIN(isp_sync_parked.refusals + 1, $6)",
        )
        .bind(config)
        .bind(event.id.as_str())
        .bind(json)
        .bind(reason)
        .bind(now)
        .bind(MAX_REFUSALS)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    async fn release(&self, config: &str, event: &EventId, claimant: &str) -> Result<()> {
        let query = sqlx::query(
            "DELETE FROM isp_sync_claims WHERE config = $1 AND event_id = $2 AND claimant = $3",
        )
        .bind(config)
        .bind(event.as_str())
        .bind(claimant);
        self.write(Ctx::new(STORE, "release"), query)
            .await
            .map(drop)
    }

    async fn parked(&self, config: &str) -> Result<Vec<ParkedEvent>> {
        let ctx = Ctx::new(STORE, "parked");
        let rows = sqlx::query(
            "SELECT config, event_id, event, reason, parked_at, refusals FROM isp_sync_parked \
             WHERE config = $1 ORDER BY parked_at, event_id",
        )
        .bind(config)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        rows.iter().map(|row| parked_from_row(ctx, row)).collect()
    }

    async fn parked_event(&self, config: &str, event: &EventId) -> Result<Option<ParkedEvent>> {
        let ctx = Ctx::new(STORE, "parked_event");
        let row = sqlx::query(
            "SELECT config, event_id, event, reason, parked_at, refusals FROM isp_sync_parked \
             WHERE config = $1 AND event_id = $2",
        )
        .bind(config)
        .bind(event.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        row.map(|row| parked_from_row(ctx, &row)).transpose()
    }

    async fn snapshot(&self, config: &str, account: &AccountId) -> Result<Option<AccountSnapshot>> {
        let ctx = Ctx::new(STORE, "snapshot");
        let row = sqlx::query(
            "SELECT snapshot FROM isp_sync_snapshots WHERE config = $1 AND account = $2",
        )
        .bind(config)
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        let Some(row) = row else { return Ok(None) };
        let key = format!("config {config:?}, account {:?}", account.as_str());
        let text: String = ctx.get(&row, 0)?;
        let snapshot: AccountSnapshot = ctx.json("isp_sync_snapshots", &key, "snapshot", &text)?;
        if &snapshot.account != account {
            return Err(ctx.corrupt(
                "isp_sync_snapshots",
                &key,
                format!(
                    "the stored snapshot is of account {:?}",
                    snapshot.account.as_str()
                ),
            ));
        }
        Ok(Some(snapshot))
    }

    async fn put_snapshot(&self, config: &str, snapshot: &AccountSnapshot) -> Result<()> {
        let ctx = Ctx::new(STORE, "put_snapshot");
        let json = ctx.to_json("snapshot", snapshot)?;
        let query = sqlx::query(
            "INSERT INTO isp_sync_snapshots (config, account, snapshot) VALUES ($1, $2, $3) \
             ON CONFLICT (config, account) DO UPDATE SET snapshot = excluded.snapshot",
        )
        .bind(config)
        .bind(snapshot.account.as_str())
        .bind(json);
        self.write(ctx, query).await.map(drop)
    }

    async fn acquire_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let ctx = Ctx::new(STORE, "acquire_lease");
        let _turn = self.writer.lock().await;
        let now = self.now_ms();
        let row = sqlx::query(
            "INSERT INTO isp_sync_leases (config, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (config) DO UPDATE \
             SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE isp_sync_leases.expires_at <= $4 OR isp_sync_leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(config)
        .bind(holder)
        .bind(expiry_ms(now, ttl))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        Ok(row.is_some())
    }

    async fn renew_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = self.now_ms();
        let query = sqlx::query(
            "UPDATE isp_sync_leases SET expires_at = $3 WHERE config = $1 AND holder = $2",
        )
        .bind(config)
        .bind(holder)
        .bind(expiry_ms(now, ttl));
        Ok(self.write(Ctx::new(STORE, "renew_lease"), query).await? > 0)
    }

    async fn release_lease(&self, config: &str, holder: &str) -> Result<()> {
        let query = sqlx::query("DELETE FROM isp_sync_leases WHERE config = $1 AND holder = $2")
            .bind(config)
            .bind(holder);
        self.write(Ctx::new(STORE, "release_lease"), query)
            .await
            .map(drop)
    }

    async fn lease(&self, config: &str) -> Result<Option<Lease>> {
        let ctx = Ctx::new(STORE, "lease");
        let row = sqlx::query(
            "SELECT holder, expires_at FROM isp_sync_leases WHERE config = $1 AND expires_at > $2",
        )
        .bind(config)
        .bind(self.now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        let Some(row) = row else { return Ok(None) };
        let key = format!("config {config:?}");
        Ok(Some(Lease {
            holder: ctx.get(&row, 0)?,
            expires_at: ctx.time("isp_sync_leases", &key, "expires_at", ctx.get(&row, 1)?)?,
        }))
    }

    async fn record(&self, config: &str, update: &StatusUpdate) -> Result<()> {
        let ctx = Ctx::new(STORE, "record");
        let (_turn, mut tx) = self.begin_write(ctx).await?;
        let row = sqlx::query("SELECT fields FROM isp_sync_status WHERE config = $1")
            .bind(config)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        let mut recorded = match row {
            Some(row) => {
                let text: String = ctx.get(&row, 0)?;
                ctx.json::<Recorded>(
                    "isp_sync_status",
                    &format!("config {config:?}"),
                    "fields",
                    &text,
                )?
            }
            None => Recorded::default(),
        };
        recorded.apply(update);
        let json = ctx.to_json("status", &recorded)?;
        sqlx::query(
            "INSERT INTO isp_sync_status (config, fields, applied) VALUES ($1, $2, 0) \
             ON CONFLICT (config) DO UPDATE SET fields = excluded.fields",
        )
        .bind(config)
        .bind(json)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    async fn status(&self, config: &str) -> Result<SyncStatus> {
        let ctx = Ctx::new(STORE, "status");
        let row = sqlx::query(
            "SELECT \
                (SELECT fields FROM isp_sync_status WHERE config = $1), \
                (SELECT applied FROM isp_sync_status WHERE config = $1), \
                (SELECT cursor FROM isp_sync_cursors WHERE config = $1), \
                (SELECT COUNT(*) FROM isp_sync_parked WHERE config = $1), \
                (SELECT holder FROM isp_sync_leases WHERE config = $1 AND expires_at > $2), \
                (SELECT expires_at FROM isp_sync_leases WHERE config = $1 AND expires_at > $2)",
        )
        .bind(config)
        .bind(self.now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        StatusRow::read(ctx, &row)?.into_status(ctx, config)
    }

    async fn record_callback(&self, config: &str, record: &CallbackRecord) -> Result<()> {
        self.record_traffic(config, record).await
    }

    async fn callback_traffic(
        &self,
        config: &str,
        since: DateTime<Utc>,
    ) -> Result<CallbackTraffic> {
        self.read_traffic(config, since).await
    }

    async fn claim_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Vec<Claim>> {
        self.claim_many(config, events, claimant, ttl, mode).await
    }

    async fn mark_applied_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
    ) -> Result<u64> {
        self.mark_many(config, events, claimant).await
    }
}
