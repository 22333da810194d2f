//! Callback traffic in the SQL stores (schema version 2): the statements both databases run,
//! and the reading of their rows. [`SyncStore::record_callback`] is three statements in one
//! transaction ([`ADD_TO_BUCKET`], [`KEEP_LATEST`], [`DROP_OLD_BUCKETS`]);
//! [`SyncStore::callback_traffic`] two reads ([`SUM_BUCKETS`], [`LATEST`]).
//!
//! Counting is additive (`deliveries = deliveries + 1` in an upsert), so replicas that record
//! the same minute at once add up rather than overwrite. The cap of
//! [`MAX_REASONS`](crate::sync::MAX_REASONS) rejection reasons per bucket is checked inside the
//! upsert; two replicas that each bring a new reason to a bucket at the cap in the same instant
//! may both get in, so the cap can be passed by one reason per concurrent writer (it exists to
//! bound growth, which it still does).

use chrono::{DateTime, TimeDelta, Utc};

use super::Ctx;
use crate::error::Result;
use crate::sync::traffic::{
    CALLBACK_RETENTION, CallbackOutcome, CallbackRecord, CallbackTraffic, MAX_REASONS,
    OTHER_REASON, RecordedRejection, bucket_start,
};

#[cfg(doc)]
use crate::sync::SyncStore;

pub(super) const BUCKETS: &str = "isp_sync_callback_buckets";
pub(super) const LATEST_TABLE: &str = "isp_sync_callback_latest";

/// Adds one delivery: `$1` config, `$2` bucket start (ms), `$3` outcome, `$4` reason (`''`
/// unless rejected), `$5` [`MAX_REASONS`], `$6` [`OTHER_REASON`]. A new reason in a bucket that
/// already counts `$5` reasons is counted as `$6`. (`WHERE TRUE` keeps SQLite from reading
/// `ON CONFLICT` as a join constraint.)
pub(super) const ADD_TO_BUCKET: &str = "\
    INSERT INTO isp_sync_callback_buckets (config, bucket_start, outcome, reason, deliveries) \
    SELECT $1, $2, $3, \
        CASE WHEN $3 <> 'rejected' \
          OR EXISTS (SELECT 1 FROM isp_sync_callback_buckets \
                     WHERE config = $1 AND bucket_start = $2 AND outcome = $3 AND reason = $4) \
          OR (SELECT count(*) FROM isp_sync_callback_buckets \
              WHERE config = $1 AND bucket_start = $2 AND outcome = $3) < $5 \
        THEN $4 ELSE $6 END, \
        1 \
    WHERE TRUE \
    ON CONFLICT (config, bucket_start, outcome, reason) DO UPDATE SET deliveries = \
        CASE WHEN isp_sync_callback_buckets.deliveries < 9223372036854775807 \
        THEN isp_sync_callback_buckets.deliveries + 1 \
        ELSE isp_sync_callback_buckets.deliveries END";

/// Moves the latest times forward: `$1` config, `$2` attempt (ms), `$3` delivery (ms or
/// null), `$4` rejection (ms or null), `$5` its reason, `$6` its detail. Each time is kept when
/// the stored one is newer (a rejection at the same millisecond replaces the stored one, as in
/// [`MemoryStore`](crate::sync::MemoryStore)). `SET` expressions all read the row as it was.
pub(super) const KEEP_LATEST: &str = "\
    INSERT INTO isp_sync_callback_latest (config, last_attempt_at, last_delivery_at, \
        last_rejection_at, last_rejection_reason, last_rejection_detail) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (config) DO UPDATE SET \
    last_attempt_at = CASE WHEN excluded.last_attempt_at > isp_sync_callback_latest.last_attempt_at \
        THEN excluded.last_attempt_at ELSE isp_sync_callback_latest.last_attempt_at END, \
    last_delivery_at = CASE WHEN excluded.last_delivery_at IS NOT NULL \
        AND (isp_sync_callback_latest.last_delivery_at IS NULL \
             OR excluded.last_delivery_at > isp_sync_callback_latest.last_delivery_at) \
        THEN excluded.last_delivery_at ELSE isp_sync_callback_latest.last_delivery_at END, \
    last_rejection_at = CASE WHEN excluded.last_rejection_at IS NOT NULL \
        AND (isp_sync_callback_latest.last_rejection_at IS NULL \
             OR excluded.last_rejection_at >= isp_sync_callback_latest.last_rejection_at) \
        THEN excluded.last_rejection_at ELSE isp_sync_callback_latest.last_rejection_at END, \
    last_rejection_reason = CASE WHEN excluded.last_rejection_at IS NOT NULL \
        AND (isp_sync_callback_latest.last_rejection_at IS NULL \
             OR excluded.last_rejection_at >= isp_sync_callback_latest.last_rejection_at) \
        THEN excluded.last_rejection_reason ELSE isp_sync_callback_latest.last_rejection_reason END, \
    last_rejection_detail = CASE WHEN excluded.last_rejection_at IS NOT NULL \
        AND (isp_sync_callback_latest.last_rejection_at IS NULL \
             OR excluded.last_rejection_at >= isp_sync_callback_latest.last_rejection_at) \
        THEN excluded.last_rejection_detail ELSE isp_sync_callback_latest.last_rejection_detail END";

/// Drops `$1`'s buckets that start before `$2` (ms): [`CALLBACK_RETENTION`] behind the bucket
/// just counted.
pub(super) const DROP_OLD_BUCKETS: &str =
    "DELETE FROM isp_sync_callback_buckets WHERE config = $1 AND bucket_start < $2";

/// `$1`'s counts per outcome and reason over the buckets from `$2` (ms) on:
/// `outcome, reason, total`.
pub(super) const SUM_BUCKETS: &str = "\
    SELECT outcome, reason, CAST(sum(deliveries) AS BIGINT) FROM isp_sync_callback_buckets \
    WHERE config = $1 AND bucket_start >= $2 GROUP BY outcome, reason";

/// `$1`'s latest times: `last_attempt_at, last_delivery_at, last_rejection_at,
/// last_rejection_reason, last_rejection_detail`.
pub(super) const LATEST: &str = "\
    SELECT last_attempt_at, last_delivery_at, last_rejection_at, last_rejection_reason, \
        last_rejection_detail FROM isp_sync_callback_latest WHERE config = $1";

/// What [`ADD_TO_BUCKET`] and [`KEEP_LATEST`] bind for one record.
pub(super) struct Binds<'a> {
    pub(super) bucket_ms: i64,
    pub(super) outcome: &'static str,
    pub(super) reason: &'a str,
    pub(super) attempt_ms: i64,
    pub(super) delivery_ms: Option<i64>,
    pub(super) rejection: Option<(i64, &'a str, &'a str)>,
    /// Where [`DROP_OLD_BUCKETS`] cuts.
    pub(super) horizon_ms: i64,
    pub(super) max_reasons: i64,
    pub(super) other_reason: &'static str,
}

impl<'a> Binds<'a> {
    pub(super) fn new(record: &'a CallbackRecord) -> Self {
        let at_ms = record.at.timestamp_millis();
        let start = bucket_start(record.at);
        let keep = TimeDelta::from_std(CALLBACK_RETENTION).unwrap_or(TimeDelta::MAX);
        let horizon_ms = start
            .checked_sub_signed(keep)
            .map_or(i64::MIN, |h| h.timestamp_millis());
        let (outcome, reason, delivery_ms, rejection) = match &record.outcome {
            CallbackOutcome::Accepted => ("accepted", "", Some(at_ms), None),
            CallbackOutcome::Duplicate => ("duplicate", "", Some(at_ms), None),
            CallbackOutcome::Rejected { reason, detail } => (
                "rejected",
                reason.as_str(),
                None,
                Some((at_ms, reason.as_str(), detail.as_str())),
            ),
        };
        Self {
            bucket_ms: start.timestamp_millis(),
            outcome,
            reason,
            attempt_ms: at_ms,
            delivery_ms,
            rejection,
            horizon_ms,
            max_reasons: i64::try_from(MAX_REASONS).unwrap_or(i64::MAX),
            other_reason: OTHER_REASON,
        }
    }
}

/// The bucket start `since` is counted from, in ms, and the traffic to fill.
pub(super) fn empty(config: &str, since: DateTime<Utc>) -> (i64, CallbackTraffic) {
    let traffic = CallbackTraffic::new(config, since);
    (traffic.since.timestamp_millis(), traffic)
}

/// Adds one row of [`SUM_BUCKETS`] to `traffic`.
pub(super) fn add_sum(
    ctx: Ctx,
    traffic: &mut CallbackTraffic,
    outcome: &str,
    reason: String,
    total: i64,
) -> Result<()> {
    let key = format!("config {:?}, outcome {outcome:?}", traffic.config);
    let n = ctx.count(BUCKETS, &key, "deliveries", total)?;
    match outcome {
        "accepted" => traffic.accepted = traffic.accepted.saturating_add(n),
        "duplicate" => traffic.duplicate = traffic.duplicate.saturating_add(n),
        "rejected" => {
            let slot = traffic.rejected.entry(reason).or_insert(0);
            *slot = slot.saturating_add(n);
        }
        other => {
            return Err(ctx.corrupt(
                BUCKETS,
                &key,
                format!("outcome {other:?} is not accepted, duplicate or rejected"),
            ));
        }
    }
    Ok(())
}

/// One row of [`LATEST`], as read.
pub(super) struct LatestRow {
    pub(super) attempt: i64,
    pub(super) delivery: Option<i64>,
    pub(super) rejection_at: Option<i64>,
    pub(super) rejection_reason: Option<String>,
    pub(super) rejection_detail: Option<String>,
}

impl LatestRow {
    pub(super) fn read<R>(ctx: Ctx, row: &R) -> Result<Self>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            attempt: ctx.get(row, 0)?,
            delivery: ctx.get(row, 1)?,
            rejection_at: ctx.get(row, 2)?,
            rejection_reason: ctx.get(row, 3)?,
            rejection_detail: ctx.get(row, 4)?,
        })
    }

    /// Puts the row's times into `traffic`.
    pub(super) fn fill(self, ctx: Ctx, traffic: &mut CallbackTraffic) -> Result<()> {
        let key = format!("config {:?}", traffic.config);
        let time = |column: &str, ms: i64| ctx.time(LATEST_TABLE, &key, column, ms);
        traffic.last_attempt_at = Some(time("last_attempt_at", self.attempt)?);
        traffic.last_delivery_at = self
            .delivery
            .map(|ms| time("last_delivery_at", ms))
            .transpose()?;
        traffic.last_rejection = match (
            self.rejection_at,
            self.rejection_reason,
            self.rejection_detail,
        ) {
            (Some(ms), Some(reason), Some(detail)) => Some(RecordedRejection {
                at: time("last_rejection_at", ms)?,
                reason,
                detail,
            }),
            (None, _, _) => None,
            (Some(_), _, _) => {
                return Err(ctx.corrupt(
                    LATEST_TABLE,
                    &key,
                    "last_rejection_at is set but its reason or detail is missing",
                ));
            }
        };
        Ok(())
    }
}

/// The inherent `record_traffic` and `read_traffic` of a SQL store, which its
/// [`SyncStore::record_callback`] and [`SyncStore::callback_traffic`] call: the same statements
/// and reading on both databases. The store supplies `begin_traffic(ctx)`, answering its write
/// turn (if any) and a transaction, and a `pool` field.
macro_rules! sql_callback_traffic {
    ($store:expr) => {
        async fn record_traffic(
            &self,
            config: &str,
            record: &$crate::sync::CallbackRecord,
        ) -> $crate::error::Result<()> {
            use $crate::sync::sql::traffic as t;
            let ctx = Ctx::new($store, "record_callback");
            let b = t::Binds::new(record);
            let (_turn, mut tx) = self.begin_traffic(ctx).await?;
            // The latest-times row first: it serializes one configuration's recorders, so the
            // bucket rows and the retention delete below are never locked in two orders.
            sqlx::query(t::KEEP_LATEST)
                .bind(config)
                .bind(b.attempt_ms)
                .bind(b.delivery_ms)
                .bind(b.rejection.map(|r| r.0))
                .bind(b.rejection.map(|r| r.1))
                .bind(b.rejection.map(|r| r.2))
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.db(e))?;
            sqlx::query(t::ADD_TO_BUCKET)
                .bind(config)
                .bind(b.bucket_ms)
                .bind(b.outcome)
                .bind(b.reason)
                .bind(b.max_reasons)
                .bind(b.other_reason)
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.db(e))?;
            sqlx::query(t::DROP_OLD_BUCKETS)
                .bind(config)
                .bind(b.horizon_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.db(e))?;
            tx.commit().await.map_err(|e| ctx.db(e))
        }

        async fn read_traffic(
            &self,
            config: &str,
            since: chrono::DateTime<chrono::Utc>,
        ) -> $crate::error::Result<$crate::sync::CallbackTraffic> {
            use $crate::sync::sql::traffic as t;
            let ctx = Ctx::new($store, "callback_traffic");
            let (since_ms, mut traffic) = t::empty(config, since);
            let rows = sqlx::query(t::SUM_BUCKETS)
                .bind(config)
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| ctx.db(e))?;
            for row in &rows {
                let outcome: String = ctx.get(row, 0)?;
                let reason: String = ctx.get(row, 1)?;
                let total: i64 = ctx.get(row, 2)?;
                t::add_sum(ctx, &mut traffic, &outcome, reason, total)?;
            }
            let latest = sqlx::query(t::LATEST)
                .bind(config)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| ctx.db(e))?;
            if let Some(row) = latest {
                t::LatestRow::read(ctx, &row)?.fill(ctx, &mut traffic)?;
            }
            Ok(traffic)
        }
    };
}
pub(super) use sql_callback_traffic;
