//! [`PgStore`]: the [`SyncStore`] in PostgreSQL, shared by many replicas.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::{
    Ctx, MAX_REFUSALS, Migration, Recorded, SCHEMA_TABLE, StatusRow, latest, max_ms, newer_schema,
    parked_from_row, sorted_ids, ttl_ms,
};
use crate::error::{Error, Result};
use crate::model::{AccountId, Cursor, EventId, IspEvent};
use crate::sync::status::SyncStatus;
use crate::sync::store::{
    AccountSnapshot, Claim, ClaimMode, Lease, ParkedEvent, StatusUpdate, SyncStore,
};
use crate::sync::traffic::{CallbackRecord, CallbackTraffic};

const STORE: &str = "postgres store";

/// Connections in the pool [`PgStore::connect`] makes.
const POOL_SIZE: u32 = 10;

/// How long a call of a store made by [`PgStore::connect`] waits for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a claim is tried again when the claim it lost to vanished before it could be read.
const CLAIM_TRIES: u32 = 5;

/// The advisory lock that makes concurrent migrations of one database take turns ("isp_sync").
const MIGRATION_LOCK: i64 = 0x6973_705f_7379_6e63;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/postgres/0002_callback_traffic.sql"),
    },
];

/// The database's clock, in milliseconds since the epoch. `clock_timestamp()` rather than
/// `now()`: the time when the statement runs, not when its transaction began.
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

/// Records the events of `$1` (a text array `$2`) as applied, drops their claims and parked
/// copies and bumps the applied count by the number newly applied, which it selects. One
/// statement, so one transaction on its own, and atomic inside a host's.
const MARK_APPLIED: &str = concat!(
    "WITH ins AS (",
    "  INSERT INTO isp_sync_applied (config, event_id, applied_at) ",
    "  SELECT $1, e, ",
    now_ms!(),
    " FROM unnest($2::text[]) AS e ",
    "  ON CONFLICT (config, event_id) DO NOTHING RETURNING 1), ",
    "dc AS (DELETE FROM isp_sync_claims WHERE config = $1 AND event_id = ANY ($2::text[])), ",
    "dp AS (DELETE FROM isp_sync_parked WHERE config = $1 AND event_id = ANY ($2::text[])), ",
    "n AS (SELECT count(*) AS n FROM ins), ",
    "bump AS (",
    "  INSERT INTO isp_sync_status (config, fields, applied) ",
    "  SELECT $1, '{}', n FROM n WHERE n > 0 ",
    "  ON CONFLICT (config) DO UPDATE SET applied = isp_sync_status.applied + excluded.applied) ",
    "SELECT n FROM n"
);

/// A [`SyncStore`] in PostgreSQL (feature `postgres`): for hosts that run several replicas. At
/// most one replica pulls a configuration at a time (its lease lapses when the replica dies, and
/// another takes over), and every replica may ingest pushed events; claims keep one event from
/// being delivered twice at once.
///
/// Lease and claim expiry are decided by the database's clock (`clock_timestamp()`), so that
/// replicas with skewed clocks agree. Claims and leases are taken with `INSERT … ON CONFLICT …
/// DO UPDATE … WHERE (lapsed or the same holder) RETURNING`; the cursor moves only while the
/// mover's lease is live (`FOR SHARE` of the lease row, so a takeover waits for it or fences
/// it); status changes lock their row. Every method is one transaction (most are one
/// statement). The commits of a claim and of a lease renewal do not wait for the disk
/// (`synchronous_commit = off` for that transaction only): a claim lost in a crash of the
/// server is no different from one that lapsed, and a lost renewal only ends the lease sooner
/// (a takeover is fenced); everything else (applied, parked, cursor, taking a lease) is
/// committed durably.
///
/// # Tables
///
/// The migrations shipped with the crate create `isp_sync_cursors`, `isp_sync_applied`,
/// `isp_sync_claims`, `isp_sync_parked` (the event as JSON text), `isp_sync_snapshots` (JSON
/// text), `isp_sync_leases`, `isp_sync_status` (the recorded fields as JSON text, and the
/// applied count) and `isp_sync_schema_version`, in the connection's current schema (set
/// `search_path` to keep them apart). Times are `BIGINT` milliseconds since the Unix epoch, so
/// the times read back are whole milliseconds. [`connect`](Self::connect) and
/// [`from_pool`](Self::from_pool) run [`migrate`](Self::migrate) (replicas starting together
/// take turns on an advisory lock); a database migrated by a newer version of the crate is
/// refused with [`Error::Unsupported`](crate::Error::Unsupported). A row that cannot be read is
/// an [`Error::InvalidResponse`](crate::Error::InvalidResponse) naming the table and what was
/// wrong; a database error is a retryable [`Error::Unavailable`](crate::Error::Unavailable)
/// (provider `postgres store`, operation the method's name).
///
/// # Exactly once with the host's database
///
/// A sink whose records live in the same database records the event as applied inside its own
/// transaction with [`mark_applied_in`](Self::mark_applied_in), so that its write and the
/// dedupe mark commit or roll back together:
///
/// ```no_run
/// use interactive_services::sync::PgStore;
/// use interactive_services::model::EventId;
///
/// # async fn sink(store: &PgStore, event: &EventId) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = store.begin().await?;
/// if PgStore::mark_applied_in(&mut tx, "Main office", event).await? {
///     sqlx::query("INSERT INTO ledger (event) VALUES ($1)")
///         .bind(event.as_str())
///         .execute(&mut *tx)
///         .await?;
/// } // else: applied before (by another replica, or before a restart); write nothing.
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
///
/// The mark takes the applied row's lock, so a second delivery of the same event on another
/// replica waits for the first transaction and then answers `false`. The engine's
/// [`mark_applied`](SyncStore::mark_applied) after the sink returns changes nothing; a
/// rolled-back transaction leaves the event unapplied, to be delivered again.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl fmt::Debug for PgStore {
    // Not the pool's options: they may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// The `BEGIN` of a transaction whose commit need not wait for the disk.
const BEGIN_NO_SYNC: &str = "BEGIN; SET LOCAL synchronous_commit = off";

/// `pool.begin()` (or `begin_with(statement)`) in a task of its own: see [`PgStore::begin`].
async fn begin_detached(
    pool: &PgPool,
    statement: Option<&'static str>,
) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    });
    begun.await.unwrap_or(Err(sqlx::Error::WorkerCrashed))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/database`; add
    /// `?options[search_path]=schema` to use a schema of its own) with a pool of ten
    /// connections, and migrates it. A call waits up to ten seconds for a connection (and
    /// `connect` as long for the server) before it fails with a retryable
    /// [`Error::Unavailable`](crate::Error::Unavailable). No TLS: loopback or a trusted network; a host that needs
    /// TLS builds its own pool and calls [`from_pool`](Self::from_pool).
    pub async fn connect(url: &str) -> Result<Self> {
        let ctx = Ctx::new(STORE, "connect");
        // The parse error never repeats the URL (it may hold a password).
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::invalid_request(
                STORE,
                "connect",
                format!("the database URL is not valid: {e}"),
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| ctx.db(e))?;
        Self::from_pool(pool).await
    }

    /// A store on the host's pool, migrated. The host's tables may live in the same database
    /// (see [`mark_applied_in`](Self::mark_applied_in)).
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The store's pool (the host may keep its own tables in the same database). Start a
    /// transaction on it with [`begin`](Self::begin) rather than `pool().begin()`.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction on the store's pool, and is safe to cancel.
    ///
    /// sqlx's `Pool::begin` is not (sqlx issue 4393; no release has the fix up to 0.9.0): a
    /// `begin` future dropped while its `BEGIN` is on the wire (an aborted task, a timeout, a
    /// `select!`) leaves the connection inside a transaction that nothing ends, and the pool
    /// hands that connection out again. Every later statement on it then runs inside that
    /// transaction and holds its locks, and its writes are lost when the connection closes.
    /// Here the `BEGIN` runs in a task of its own, which finishes even when the caller
    /// stops waiting. A transaction that nobody took is then dropped and rolled back, as any
    /// dropped transaction is. Every transaction of the store starts this way.
    ///
    /// A failure is sqlx's error; a task that could not finish (its runtime shutting down)
    /// is [`sqlx::Error::WorkerCrashed`].
    pub async fn begin(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        begin_detached(&self.pool, None).await
    }

    /// [`record_callback`](SyncStore::record_callback)'s transaction (PostgreSQL needs no turn
    /// of its own: the upserts lock the rows they touch).
    async fn begin_traffic(
        &self,
        ctx: Ctx,
    ) -> Result<((), sqlx::Transaction<'static, sqlx::Postgres>)> {
        let tx = self.begin().await.map_err(|e| ctx.db(e))?;
        Ok(((), tx))
    }

    super::traffic::sql_callback_traffic!(STORE);

    /// Closes the pool's connections, waiting for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Brings the schema up to date in one transaction (a no-op when it is), holding an
    /// advisory lock so that replicas starting together take turns. [`connect`](Self::connect)
    /// and [`from_pool`](Self::from_pool) call it; a schema newer than this crate knows is
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub async fn migrate(&self) -> Result<()> {
        let ctx = Ctx::new(STORE, "migrate");
        let mut tx = self.begin().await.map_err(|e| ctx.db(e))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        sqlx::query(SCHEMA_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        let row =
            sqlx::query("SELECT COALESCE(MAX(version), 0)::bigint FROM isp_sync_schema_version")
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
            sqlx::query(concat!(
                "INSERT INTO isp_sync_schema_version (version, applied_at) VALUES ($1, ",
                now_ms!(),
                ")"
            ))
            .bind(migration.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    /// Records (`config`, `event`) as applied on the host's connection, inside the host's
    /// transaction (pass `&mut *tx`), so that the host's writes and the mark commit or roll
    /// back together; like [`mark_applied`](SyncStore::mark_applied) it drops the claim and any
    /// parked copy and counts the event once. Answers `true` when the event was not applied
    /// before, `false` when it was (then the host should write nothing). One statement: atomic
    /// on its own, too. The connection must reach the store's tables (the same database and
    /// `search_path`).
    pub async fn mark_applied_in(
        conn: &mut PgConnection,
        config: &str,
        event: &EventId,
    ) -> Result<bool> {
        let ctx = Ctx::new(STORE, "mark_applied_in");
        let added = mark_applied(ctx, conn, config, &[event.as_str().to_owned()]).await?;
        Ok(added > 0)
    }

    /// Whether (`config`, `event`) is recorded as applied, read on the host's connection
    /// (inside its transaction when there is one).
    pub async fn is_applied_in(
        conn: &mut PgConnection,
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
        let ids = sorted_ids(events);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut answers = self
                .try_claim(ctx, config, &ids, claimant, ttl, mode)
                .await?;
            let mut all = Vec::with_capacity(events.len());
            let mut vanished = false;
            for event in events {
                match answers.get_mut(event.as_str()) {
                    Some(Some(answer)) => all.push(answer.clone()),
                    _ => vanished = true,
                }
            }
            if !vanished {
                return Ok(all);
            }
            if tries >= CLAIM_TRIES {
                return Err(changed_hands(ctx));
            }
        }
    }

    /// One transaction of a claim of `ids` (sorted, unique). An id whose answer is `None` lost
    /// to a claim that vanished before it could be read: the caller tries again.
    async fn try_claim(
        &self,
        ctx: Ctx,
        config: &str,
        ids: &[String],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<std::collections::HashMap<String, Option<Claim>>> {
        use std::collections::{HashMap, HashSet};
        // A claim need not survive a crash of the server (a lost claim is a lapsed one), so its
        // commit does not wait for the disk.
        let mut tx = begin_detached(&self.pool, Some(BEGIN_NO_SYNC))
            .await
            .map_err(|e| ctx.db(e))?;
        // Claim first, then look for applied and parked rows in a later statement (a fresh
        // snapshot): a `mark_applied` that committed while the claim waited for its row is
        // then seen, and the event is not delivered again.
        let taken = sqlx::query(concat!(
            "INSERT INTO isp_sync_claims (config, event_id, claimant, expires_at) ",
            "SELECT $1, e, $3, LEAST(",
            now_ms!(),
            " + $4, $5) FROM unnest($2::text[]) AS e ",
            "ON CONFLICT (config, event_id) DO UPDATE ",
            "SET claimant = excluded.claimant, expires_at = excluded.expires_at ",
            "WHERE isp_sync_claims.expires_at <= ",
            now_ms!(),
            " OR isp_sync_claims.claimant = excluded.claimant ",
            "RETURNING event_id"
        ))
        .bind(config)
        .bind(ids)
        .bind(claimant)
        .bind(ttl_ms(ttl))
        .bind(max_ms())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        let taken: HashSet<String> = taken
            .iter()
            .map(|row| ctx.get::<_, String>(row, 0))
            .collect::<Result<_>>()?;
        let rows = sqlx::query(
            "SELECT e, \
                EXISTS (SELECT 1 FROM isp_sync_applied a WHERE a.config = $1 AND a.event_id = e), \
                EXISTS (SELECT 1 FROM isp_sync_parked p WHERE p.config = $1 AND p.event_id = e), \
                c.claimant, c.expires_at \
             FROM unnest($2::text[]) AS e \
             LEFT JOIN isp_sync_claims c ON c.config = $1 AND c.event_id = e",
        )
        .bind(config)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        let mut answers = HashMap::with_capacity(ids.len());
        let mut drop_claims = Vec::new();
        for row in &rows {
            let id: String = ctx.get(row, 0)?;
            let applied: bool = ctx.get(row, 1)?;
            let parked: bool = ctx.get(row, 2)?;
            let won = taken.contains(&id);
            let answer = if applied {
                Some(Claim::AlreadyApplied)
            } else if parked && mode == ClaimMode::Deliver {
                Some(Claim::Parked)
            } else if won {
                Some(Claim::Claimed)
            } else {
                let holder: Option<String> = ctx.get(row, 3)?;
                let until: Option<i64> = ctx.get(row, 4)?;
                match (holder, until) {
                    (Some(claimant), Some(ms)) => {
                        let key = format!("config {config:?}, event_id {id:?}");
                        Some(Claim::HeldElsewhere {
                            claimant,
                            until: ctx.time("isp_sync_claims", &key, "expires_at", ms)?,
                        })
                    }
                    _ => None,
                }
            };
            if won && answer != Some(Claim::Claimed) {
                drop_claims.push(id.clone());
            }
            answers.insert(id, answer);
        }
        if !drop_claims.is_empty() {
            // Taken for an event that turned out applied or parked: not ours to keep.
            sqlx::query(
                "DELETE FROM isp_sync_claims \
                 WHERE config = $1 AND event_id = ANY ($2::text[]) AND claimant = $3",
            )
            .bind(config)
            .bind(&drop_claims)
            .bind(claimant)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        }
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(answers)
    }

    /// [`mark_applied`](SyncStore::mark_applied) for each of `events`, in one statement;
    /// answers how many of them were not applied before.
    async fn mark_many(&self, config: &str, events: &[EventId], _claimant: &str) -> Result<u64> {
        let ctx = Ctx::new(STORE, "mark_applied_batch");
        let mut conn = self.pool.acquire().await.map_err(|e| ctx.db(e))?;
        mark_applied(ctx, &mut conn, config, &sorted_ids(events)).await
    }

    /// A single-statement write; answers the rows it changed.
    async fn write(&self, ctx: Ctx, query: PgQuery<'_>) -> Result<u64> {
        let done = query.execute(&self.pool).await.map_err(|e| ctx.db(e))?;
        Ok(done.rows_affected())
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn changed_hands(ctx: Ctx) -> Error {
    Error::unavailable(
        STORE,
        ctx.method,
        CLAIM_TRIES,
        "the claim kept changing hands while it was read; try again",
    )
}

/// Runs [`MARK_APPLIED`] for `ids` (sorted, unique) on `conn`.
async fn mark_applied(
    ctx: Ctx,
    conn: &mut PgConnection,
    config: &str,
    ids: &[String],
) -> Result<u64> {
    let row = sqlx::query(MARK_APPLIED)
        .bind(config)
        .bind(ids)
        .fetch_one(conn)
        .await
        .map_err(|e| ctx.db(e))?;
    let added: i64 = ctx.get(&row, 0)?;
    ctx.count(
        "isp_sync_applied",
        &format!("config {config:?}"),
        "count",
        added,
    )
}

#[async_trait]
impl SyncStore for PgStore {
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
        // FOR SHARE: a takeover of the lease waits until the cursor is stored, and a cursor
        // write waiting for a takeover sees the new holder and stores nothing.
        let query = sqlx::query(concat!(
            "INSERT INTO isp_sync_cursors (config, cursor, updated_at) ",
            "SELECT $1, $3, ",
            now_ms!(),
            " FROM isp_sync_leases ",
            "WHERE config = $1 AND holder = $2 AND expires_at > ",
            now_ms!(),
            " FOR SHARE ",
            "ON CONFLICT (config) DO UPDATE ",
            "SET cursor = excluded.cursor, updated_at = excluded.updated_at"
        ))
        .bind(config)
        .bind(holder)
        .bind(cursor.as_str());
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
        let ids = [event.as_str().to_owned()];
        for _ in 0..CLAIM_TRIES {
            let mut answers = self
                .try_claim(ctx, config, &ids, claimant, ttl, mode)
                .await?;
            if let Some(Some(answer)) = answers.remove(event.as_str()) {
                return Ok(answer);
            }
        }
        Err(changed_hands(ctx))
    }

    async fn mark_applied(&self, config: &str, event: &EventId, _claimant: &str) -> Result<()> {
        let ctx = Ctx::new(STORE, "mark_applied");
        let mut conn = self.pool.acquire().await.map_err(|e| ctx.db(e))?;
        mark_applied(ctx, &mut conn, config, &[event.as_str().to_owned()])
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
        let mut tx = self.begin().await.map_err(|e| ctx.db(e))?;
        sqlx::query(
            "DELETE FROM isp_sync_claims WHERE config = $1 AND event_id = $2 AND claimant = $3",
        )
        .bind(config)
        .bind(event.id.as_str())
        .bind(claimant)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        // Park first, then drop the row again when the event turns out applied (a later
        // statement sees a `mark_applied` that committed meanwhile; one that commits later
        // waits for this row and deletes it).
        sqlx::query(concat!(
            "INSERT INTO isp_sync_parked (config, event_id, event, reason, parked_at, refusals) ",
            "VALUES ($1, $2, $3, $4, ",
            now_ms!(),
            ", 1) ",
            "ON CONFLICT (config, event_id) DO UPDATE ",
            "SET event = excluded.event, reason = excluded.reason, ",
            "parked_at = excluded.parked_at, ",
            "refusals = LEAST(isp_sync_parked.refusals + 1, $5)"
        ))
        .bind(config)
        .bind(event.id.as_str())
        .bind(json)
        .bind(reason)
        .bind(MAX_REFUSALS)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        sqlx::query(
            "DELETE FROM isp_sync_parked p WHERE p.config = $1 AND p.event_id = $2 \
             AND EXISTS (SELECT 1 FROM isp_sync_applied a \
                         WHERE a.config = $1 AND a.event_id = $2)",
        )
        .bind(config)
        .bind(event.id.as_str())
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
             WHERE config = $1 ORDER BY parked_at, event_id COLLATE \"C\"",
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
        let row = sqlx::query(concat!(
            "INSERT INTO isp_sync_leases (config, holder, expires_at) ",
            "VALUES ($1, $2, LEAST(",
            now_ms!(),
            " + $3, $4)) ",
            "ON CONFLICT (config) DO UPDATE ",
            "SET holder = excluded.holder, expires_at = excluded.expires_at ",
            "WHERE isp_sync_leases.expires_at <= ",
            now_ms!(),
            " OR isp_sync_leases.holder = excluded.holder ",
            "RETURNING holder"
        ))
        .bind(config)
        .bind(holder)
        .bind(ttl_ms(ttl))
        .bind(max_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ctx.db(e))?;
        Ok(row.is_some())
    }

    async fn renew_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let ctx = Ctx::new(STORE, "renew_lease");
        // A renewal need not survive a crash of the server: a lost one leaves the lease ending
        // earlier, after which another holder may take over — which the fenced cursor and the
        // claims make safe. So its commit does not wait for the disk (the engine renews before
        // every page).
        let mut tx = begin_detached(&self.pool, Some(BEGIN_NO_SYNC))
            .await
            .map_err(|e| ctx.db(e))?;
        let done = sqlx::query(concat!(
            "UPDATE isp_sync_leases SET expires_at = LEAST(",
            now_ms!(),
            " + $3, $4) WHERE config = $1 AND holder = $2"
        ))
        .bind(config)
        .bind(holder)
        .bind(ttl_ms(ttl))
        .bind(max_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(done.rows_affected() > 0)
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
        let row = sqlx::query(concat!(
            "SELECT holder, expires_at FROM isp_sync_leases WHERE config = $1 AND expires_at > ",
            now_ms!()
        ))
        .bind(config)
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
        let mut tx = self.begin().await.map_err(|e| ctx.db(e))?;
        // The row exists (so that it can be locked), then is locked, read, changed, written.
        sqlx::query(
            "INSERT INTO isp_sync_status (config, fields, applied) VALUES ($1, '{}', 0) \
             ON CONFLICT (config) DO NOTHING",
        )
        .bind(config)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.db(e))?;
        let row = sqlx::query("SELECT fields FROM isp_sync_status WHERE config = $1 FOR UPDATE")
            .bind(config)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        let text: String = ctx.get(&row, 0)?;
        let mut recorded: Recorded = ctx.json(
            "isp_sync_status",
            &format!("config {config:?}"),
            "fields",
            &text,
        )?;
        recorded.apply(update);
        let json = ctx.to_json("status", &recorded)?;
        sqlx::query("UPDATE isp_sync_status SET fields = $2 WHERE config = $1")
            .bind(config)
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.db(e))?;
        tx.commit().await.map_err(|e| ctx.db(e))
    }

    async fn status(&self, config: &str) -> Result<SyncStatus> {
        let ctx = Ctx::new(STORE, "status");
        let row = sqlx::query(concat!(
            "SELECT ",
            "(SELECT fields FROM isp_sync_status WHERE config = $1), ",
            "(SELECT applied FROM isp_sync_status WHERE config = $1), ",
            "(SELECT cursor FROM isp_sync_cursors WHERE config = $1), ",
            "(SELECT count(*) FROM isp_sync_parked WHERE config = $1), ",
            "l.holder, l.expires_at ",
            "FROM (SELECT 1) AS one LEFT JOIN isp_sync_leases l ",
            "ON l.config = $1 AND l.expires_at > ",
            now_ms!()
        ))
        .bind(config)
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
