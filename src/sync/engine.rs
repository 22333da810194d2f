//! [`SyncEngine`]: pull, push, dedupe, checkpoint, park.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::clock::{Clock, SystemClock, since};
use super::status::SyncStatus;
use super::store::{Claim, ClaimMode, ParkedEvent, StatusUpdate, SyncStore};
use super::{EventSink, IdempotencyKey, SinkError};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Cursor, EventId, IspEvent};
use crate::provider::InteractiveServicesProvider;

/// The name sync errors carry as their provider.
const SYNC: &str = "sync";

/// How the engine retries a delivery that failed transiently (a [`SinkError::Transient`], or a
/// claim held by another delivery of the same event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRetry {
    /// Most attempts per delivery, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles after each attempt.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
}

impl Default for DeliveryRetry {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl DeliveryRetry {
    /// The jittered backoff after the `attempt`th attempt (1-based): between half and all of
    /// `initial_backoff × 2^(attempt-1)`, capped at `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let base = self
            .initial_backoff
            .saturating_mul(exp)
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How a [`SyncEngine`] works.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Who this engine is, for leases: unique per process (or per replica). Two engines with
    /// the same holder share one lease.
    pub holder: String,
    /// How long a pull's lease lasts without renewal; the engine renews it as it goes. After a
    /// crash, another holder takes over after at most this long.
    pub lease_ttl: Duration,
    /// How long a claim on one event lasts; the engine renews it before each retry. Make it
    /// longer than the slowest sink call: after it lapses another delivery may start.
    pub claim_ttl: Duration,
    /// Retries of transient delivery failures.
    pub retry: DeliveryRetry,
    /// Most pages one [`SyncEngine::pull_once`] reads.
    pub max_pages: u32,
    /// Most events of a pulled page claimed in one store call and recorded as applied in one
    /// ([`SyncStore::claim_batch`], [`SyncStore::mark_applied_batch`]): a chunk's applied marks
    /// are written after the sink took every event of the chunk (and always before the cursor
    /// moves). A crash in between delivers those events again, with the same
    /// [`IdempotencyKey`]s, exactly as a crash between one event's sink call and its mark does
    /// — see the sink's contract. 1 records each event as it is applied.
    pub batch_size: usize,
    /// Where status timestamps and lag come from.
    pub clock: Arc<dyn Clock>,
}

impl SyncOptions {
    /// Options for holder `holder` with the defaults: a 30 s lease, a 60 s claim, 5 attempts per
    /// delivery with 200 ms to 10 s of backoff, 50 pages per pull, batches of 100 events, the
    /// system clock.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            lease_ttl: Duration::from_secs(30),
            claim_ttl: Duration::from_secs(60),
            retry: DeliveryRetry::default(),
            max_pages: 50,
            batch_size: 100,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets [`lease_ttl`](Self::lease_ttl).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets [`claim_ttl`](Self::claim_ttl).
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn retry(mut self, retry: DeliveryRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`max_pages`](Self::max_pages) (at least 1).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    /// Sets [`batch_size`](Self::batch_size) (at least 1).
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch_size = events.max(1);
        self
    }

    /// Sets [`clock`](Self::clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl Default for SyncOptions {
    /// Options whose holder is this process's id and a random suffix.
    fn default() -> Self {
        Self::new(format!(
            "pid-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ))
    }
}

/// What became of one event handed to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The sink applied it and the store recorded it.
    Applied,
    /// It was applied before (by pull, push or another replica): the sink was not called.
    AlreadyApplied,
    /// It is parked from an earlier refusal: the sink was not called.
    AlreadyParked,
    /// The sink refused it permanently; it is parked with this reason.
    Parked {
        /// The sink's reason.
        reason: String,
    },
    /// Another delivery of the same event held its claim on every attempt: it is being applied
    /// elsewhere right now (or that delivery crashed and its claim has not lapsed yet).
    HeldElsewhere,
    /// The sink failed transiently on every attempt: nothing was recorded, and the event will
    /// be delivered again by the next pull or push.
    Deferred {
        /// The sink's last reason.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
}

impl Delivery {
    /// Whether the event is settled: applied (now or before) or parked. An unsettled event is
    /// delivered again later.
    pub fn is_settled(&self) -> bool {
        !matches!(self, Delivery::HeldElsewhere | Delivery::Deferred { .. })
    }
}

/// How a [`SyncEngine::pull_once`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    /// The provider said no more events are waiting, and every event read is settled.
    CaughtUp,
    /// [`SyncOptions::max_pages`] pages were read and more are waiting.
    MorePending,
    /// The pull stopped before `event`, which could not be settled; the cursor stays before it.
    Stopped {
        /// The event it stopped before.
        event: EventId,
        /// Why.
        reason: String,
    },
    /// Another holder holds the configuration's lease; nothing was read.
    LeaseHeldElsewhere {
        /// The holder, when the store could say.
        holder: Option<String>,
    },
    /// The lease lapsed during the pull and another holder took it: the pull stopped without
    /// moving the cursor further (what it delivered is recorded).
    LeaseLost,
    /// The provider has no event feed ([`NO_FEED_NOTE`](super::NO_FEED_NOTE)).
    NoFeed,
}

/// What one [`SyncEngine::pull_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullReport {
    /// The configuration's name.
    pub config: String,
    /// How it ended.
    pub outcome: PullOutcome,
    /// Pages read.
    pub pages: u32,
    /// Events applied by this pull.
    pub applied: u32,
    /// Events skipped because they were applied or parked before.
    pub skipped: u32,
    /// Events parked by this pull.
    pub parked: u32,
    /// The cursor stored at the end (unchanged when no page completed).
    pub cursor: Option<Cursor>,
}

impl PullReport {
    fn new(config: &str, outcome: PullOutcome, cursor: Option<Cursor>) -> Self {
        Self {
            config: config.to_owned(),
            outcome,
            pages: 0,
            applied: 0,
            skipped: 0,
            parked: 0,
            cursor,
        }
    }

    fn count(&mut self, delivery: &Delivery) {
        match delivery {
            Delivery::Applied => self.applied += 1,
            Delivery::AlreadyApplied | Delivery::AlreadyParked => self.skipped += 1,
            Delivery::Parked { .. } => self.parked += 1,
            Delivery::HeldElsewhere | Delivery::Deferred { .. } => {}
        }
    }
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn SyncStore>,
    sink: Arc<dyn EventSink>,
    options: SyncOptions,
    /// Distinguishes this engine's claims from those of an earlier run with the same holder.
    instance: u64,
    deliveries: AtomicU64,
}

/// The sync engine: hands events from a provider's feed and pushed events to an
/// [`EventSink`] once, in order, checkpointed in a [`SyncStore`] (see the [module](super)
/// docs). Clones share one engine.
#[derive(Debug, Clone)]
pub struct SyncEngine {
    inner: Arc<Inner>,
}

impl SyncEngine {
    /// An engine on `store` that delivers to `sink`.
    pub fn new(store: Arc<dyn SyncStore>, sink: Arc<dyn EventSink>, options: SyncOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                sink,
                options,
                instance: fastrand::u64(..),
                deliveries: AtomicU64::new(0),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.inner.store
    }

    /// The options.
    pub fn options(&self) -> &SyncOptions {
        &self.inner.options
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.options.clock.now()
    }

    /// A claimant id unique to one delivery.
    fn claimant(&self) -> String {
        let n = self.inner.deliveries.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}/{:016x}/{n}",
            self.inner.options.holder, self.inner.instance
        )
    }

    /// Reads `provider`'s events after the stored cursor of the configuration named `config`,
    /// page by page while the provider says more are waiting (up to
    /// [`SyncOptions::max_pages`]), and hands each to the sink in order.
    ///
    /// First takes the configuration's lease (a pull by another holder answers
    /// [`PullOutcome::LeaseHeldElsewhere`]); the lease is kept after the pull so that the same
    /// holder pulls next time, and lapses [`SyncOptions::lease_ttl`] after the last renewal
    /// ([`release`](Self::release) gives it up). The cursor moves after each page whose events
    /// are all applied or parked; an event that stays unsettled stops the pull before it
    /// ([`PullOutcome::Stopped`]). A provider without an event feed answers
    /// [`PullOutcome::NoFeed`] and the status says so, not an error.
    ///
    /// Errors are the provider's (reading the feed) and the store's; each is also recorded as
    /// the status's last error.
    pub async fn pull_once(
        &self,
        config: &str,
        provider: &dyn InteractiveServicesProvider,
    ) -> Result<PullReport> {
        check_config(config, "pull")?;
        let span = tracing::info_span!("sync.pull", config, holder = %self.inner.options.holder);
        let result = self.pull(config, provider).instrument(span).await;
        if let Err(e) = &result {
            self.record_failure(config, e.to_string()).await;
        }
        result
    }

    async fn pull(
        &self,
        config: &str,
        provider: &dyn InteractiveServicesProvider,
    ) -> Result<PullReport> {
        let store = &self.inner.store;
        let options = &self.inner.options;
        let holder = options.holder.as_str();
        if !store
            .acquire_lease(config, holder, options.lease_ttl)
            .await?
        {
            let holder = store.lease(config).await?.map(|l| l.holder);
            tracing::debug!(?holder, "another holder pulls this configuration");
            return Ok(PullReport::new(
                config,
                PullOutcome::LeaseHeldElsewhere { holder },
                None,
            ));
        }
        let mut cursor = store.cursor(config).await?;
        let mut report = PullReport::new(config, PullOutcome::CaughtUp, cursor.clone());
        if !provider.capabilities().events {
            return self.no_feed(config, report).await;
        }
        let mut renewed_at = self.now();
        let mut lag = None;
        for page_number in 0..options.max_pages.max(1) {
            if page_number > 0 && !self.renew(config, &mut renewed_at, true).await? {
                return self.lease_lost(config, report, lag).await;
            }
            let page = match provider.events_since(cursor.as_ref()).await {
                Ok(page) => page,
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    return self.no_feed(config, report).await;
                }
                Err(e) => return Err(e),
            };
            report.pages += 1;
            for chunk in page.events.chunks(options.batch_size.max(1)) {
                match self
                    .deliver_chunk(config, chunk, &mut renewed_at, &mut report, &mut lag)
                    .await?
                {
                    ChunkEnd::Settled => {}
                    ChunkEnd::LeaseLost => return self.lease_lost(config, report, lag).await,
                    ChunkEnd::Stopped => return Ok(report),
                }
            }
            if !store.put_cursor(config, holder, &page.next).await? {
                return self.lease_lost(config, report, lag).await;
            }
            report.cursor = Some(page.next.clone());
            cursor = Some(page.next);
            if !page.has_more {
                report.outcome = PullOutcome::CaughtUp;
                lag = Some(Duration::ZERO);
                break;
            }
            report.outcome = PullOutcome::MorePending;
        }
        store
            .record(
                config,
                &StatusUpdate::Pulled {
                    at: self.now(),
                    lag,
                    error: None,
                },
            )
            .await?;
        tracing::info!(
            pages = report.pages,
            applied = report.applied,
            skipped = report.skipped,
            parked = report.parked,
            outcome = ?report.outcome,
            "pull done"
        );
        Ok(report)
    }

    /// Renews the lease when a third of its time has gone by (or always, with `force`);
    /// answers whether this holder still holds it.
    async fn renew(
        &self,
        config: &str,
        renewed_at: &mut DateTime<Utc>,
        force: bool,
    ) -> Result<bool> {
        let options = &self.inner.options;
        let now = self.now();
        if !force && since(now, *renewed_at) < options.lease_ttl / 3 {
            return Ok(true);
        }
        *renewed_at = now;
        self.inner
            .store
            .renew_lease(config, &options.holder, options.lease_ttl)
            .await
    }

    async fn no_feed(&self, config: &str, mut report: PullReport) -> Result<PullReport> {
        tracing::debug!("{}", super::NO_FEED_NOTE);
        self.inner
            .store
            .record(config, &StatusUpdate::NoFeed { at: self.now() })
            .await?;
        report.outcome = PullOutcome::NoFeed;
        Ok(report)
    }

    async fn lease_lost(
        &self,
        config: &str,
        mut report: PullReport,
        lag: Option<Duration>,
    ) -> Result<PullReport> {
        let message = "the lease lapsed during the pull and another holder took it".to_owned();
        tracing::warn!("{message}");
        self.inner
            .store
            .record(
                config,
                &StatusUpdate::Pulled {
                    at: self.now(),
                    lag,
                    error: Some(message),
                },
            )
            .await?;
        report.outcome = PullOutcome::LeaseLost;
        Ok(report)
    }

    /// Hands a pushed event (a callback's) to the sink through the same dedupe as the pull:
    /// an event already applied or parked, by either path, is not delivered again. Needs no
    /// lease and moves no cursor; any replica may call it at any time.
    ///
    /// A [`Delivery::Deferred`] or [`Delivery::HeldElsewhere`] is not settled: a callback
    /// handler answers so that the vendor sends it again (or leaves it to the next pull).
    pub async fn ingest(&self, config: &str, event: &IspEvent) -> Result<Delivery> {
        check_config(config, "ingest")?;
        let span = tracing::info_span!("sync.ingest", config, event = %event.id);
        let result = self
            .deliver(config, event, ClaimMode::Deliver)
            .instrument(span)
            .await;
        self.record_outcome(config, event, &result).await;
        result
    }

    /// Hands a parked event to the sink again (after the host fixed what made it refuse): once
    /// applied it leaves the parked list; refused again, it stays parked with the new reason.
    /// An event that is not parked is [`Error::NotFound`].
    pub async fn replay(&self, config: &str, event: &EventId) -> Result<Delivery> {
        check_config(config, "replay")?;
        let parked = self
            .inner
            .store
            .parked_event(config, event)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    SYNC,
                    "replay",
                    format!("parked event {event} in `{config}`"),
                )
            })?;
        let span = tracing::info_span!("sync.replay", config, event = %event);
        let result = self
            .deliver(config, &parked.event, ClaimMode::Replay)
            .instrument(span)
            .await;
        self.record_outcome(config, &parked.event, &result).await;
        result
    }

    /// Replays every parked event of the configuration, oldest first; answers each one's
    /// delivery.
    pub async fn replay_all(&self, config: &str) -> Result<Vec<(EventId, Delivery)>> {
        let mut outcomes = Vec::new();
        for parked in self.parked(config).await? {
            let delivery = self.replay(config, &parked.event.id).await?;
            outcomes.push((parked.event.id, delivery));
        }
        Ok(outcomes)
    }

    /// The configuration's parked events, oldest first.
    pub async fn parked(&self, config: &str) -> Result<Vec<ParkedEvent>> {
        self.inner.store.parked(config).await
    }

    /// The configuration's sync status.
    pub async fn status(&self, config: &str) -> Result<SyncStatus> {
        self.inner.store.status(config).await
    }

    /// Keeps `config` in sync with `provider` until `shutdown` completes: pulls again at once
    /// while the provider says more events are waiting ([`PullOutcome::MorePending`]), every
    /// `every` once caught up (and while another holder has the lease, or the provider has no
    /// feed), and after a failed pull with a doubling backoff from `every` up to
    /// [`RunLimits::max_backoff`]. A pull that has started is never cut short: `shutdown` is
    /// heeded between pulls, and then the lease is given up ([`release`](Self::release)) so
    /// that another replica takes over at once.
    ///
    /// Each pull is [`pull_once`](Self::pull_once) (its errors are recorded in the status as
    /// well as counted in the answer); run one `run` per configuration, on as many replicas as
    /// you like: the lease lets one of them pull at a time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use interactive_services::sync::{MemoryStore, SyncEngine, SyncOptions, RunLimits};
    /// # use interactive_services::testkit::InMemoryProvider;
    /// # #[derive(Debug)] struct Nothing;
    /// # #[async_trait::async_trait]
    /// # impl interactive_services::sync::EventSink for Nothing {
    /// #     async fn apply(&self, _: &str, _: &interactive_services::IspEvent,
    /// #         _: &interactive_services::sync::IdempotencyKey)
    /// #         -> Result<(), interactive_services::sync::SinkError> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let engine = SyncEngine::new(Arc::new(MemoryStore::new()), Arc::new(Nothing), SyncOptions::new("replica-1"));
    /// let provider = InMemoryProvider::new();
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let task = {
    ///     let engine = engine.clone();
    ///     tokio::spawn(async move {
    ///         let shutdown = async { let _ = stopped.await; };
    ///         engine.run("Main office", &provider, Duration::from_secs(60), RunLimits::default(), shutdown).await
    ///     })
    /// };
    /// // … at shutdown:
    /// let _ = stop.send(());
    /// let report = task.await.expect("the run task");
    /// assert!(report.pulls >= 1);
    /// # }
    /// ```
    pub async fn run<F>(
        &self,
        config: &str,
        provider: &dyn InteractiveServicesProvider,
        every: Duration,
        limits: RunLimits,
        shutdown: F,
    ) -> RunReport
    where
        F: std::future::Future<Output = ()>,
    {
        use futures_util::future::{Either, select};
        let mut shutdown = std::pin::pin!(shutdown);
        let mut report = RunReport::default();
        let mut failures = 0u32;
        loop {
            let delay = match self.pull_once(config, provider).await {
                Ok(pull) => {
                    failures = 0;
                    report.pulls += 1;
                    report.applied += u64::from(pull.applied);
                    report.parked += u64::from(pull.parked);
                    match pull.outcome {
                        PullOutcome::MorePending => Duration::ZERO,
                        _ => every,
                    }
                }
                Err(e) => {
                    report.pulls += 1;
                    report.failed += 1;
                    failures = failures.saturating_add(1);
                    let backoff = every
                        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
                        .min(limits.max_backoff.max(every));
                    tracing::warn!(config, error = %e, ?backoff, "pull failed; trying again later");
                    backoff
                }
            };
            let wait = std::pin::pin!(tokio::time::sleep(delay));
            if let Either::Left(_) = select(shutdown.as_mut(), wait).await {
                break;
            }
        }
        if let Err(e) = self.release(config).await {
            tracing::warn!(config, error = %e, "could not give the lease up at shutdown");
        }
        report
    }

    /// Gives up this engine's lease on the configuration (at shutdown), so that another holder
    /// may pull at once instead of after the lease lapses.
    pub async fn release(&self, config: &str) -> Result<()> {
        self.inner
            .store
            .release_lease(config, &self.inner.options.holder)
            .await
    }

    /// One chunk of a pulled page: claimed in one store call, each event handed to the sink in
    /// order, the applied ones recorded in one store call. Ends early when an event cannot be
    /// settled (its applied predecessors are recorded first, and the claims of the events after
    /// it are given back) or the lease was lost.
    async fn deliver_chunk(
        &self,
        config: &str,
        chunk: &[IspEvent],
        renewed_at: &mut DateTime<Utc>,
        report: &mut PullReport,
        lag: &mut Option<Duration>,
    ) -> Result<ChunkEnd> {
        let store = &self.inner.store;
        let options = &self.inner.options;
        let claimant = self.claimant();
        let ids: Vec<EventId> = chunk.iter().map(|e| e.id.clone()).collect();
        let claimed_at = self.now();
        let claims = store
            .claim_batch(
                config,
                &ids,
                &claimant,
                options.claim_ttl,
                ClaimMode::Deliver,
            )
            .await?;
        if claims.len() != chunk.len() {
            return Err(Error::invalid_response(
                SYNC,
                "claim_batch",
                format!(
                    "the store answered {} claims for {} events",
                    claims.len(),
                    chunk.len()
                ),
            ));
        }
        let mut applied: Vec<EventId> = Vec::with_capacity(chunk.len());
        for (index, (event, claim)) in chunk.iter().zip(claims).enumerate() {
            if !self.renew(config, renewed_at, false).await? {
                self.flush(config, &applied, &claimant).await?;
                self.give_back(config, chunk, index, &claimant).await;
                return Ok(ChunkEnd::LeaseLost);
            }
            // A claim taken long ago is renewed (by claiming again) before the sink is called,
            // and the applied events whose claims are as old are recorded now: a mark is never
            // left pending until its claim could lapse and let another delivery in.
            let fresh = since(self.now(), claimed_at) < options.claim_ttl / 2;
            if !fresh {
                self.flush(config, &applied, &claimant).await?;
                applied.clear();
            }
            let first = if fresh { Some(claim) } else { None };
            let delivery = self
                .deliver_as(config, event, ClaimMode::Deliver, &claimant, first, true)
                .await?;
            report.count(&delivery);
            match delivery {
                Delivery::Applied => applied.push(event.id.clone()),
                d if !d.is_settled() => {
                    self.flush(config, &applied, &claimant).await?;
                    self.give_back(config, chunk, index + 1, &claimant).await;
                    self.stop(config, event, d, report).await?;
                    return Ok(ChunkEnd::Stopped);
                }
                _ => {}
            }
            *lag = Some(since(self.now(), event.occurred_at));
        }
        self.flush(config, &applied, &claimant).await?;
        Ok(ChunkEnd::Settled)
    }

    /// Records a chunk's applied events.
    async fn flush(&self, config: &str, applied: &[EventId], claimant: &str) -> Result<()> {
        if !applied.is_empty() {
            self.inner
                .store
                .mark_applied_batch(config, applied, claimant)
                .await?;
            tracing::debug!(events = applied.len(), "applied");
        }
        Ok(())
    }

    /// Best effort: gives back the claims on `chunk[from..]` that a stopped chunk will not
    /// deliver, so that a push of one of them need not wait for the claim to lapse.
    async fn give_back(&self, config: &str, chunk: &[IspEvent], from: usize, claimant: &str) {
        for event in chunk.get(from..).unwrap_or_default() {
            if let Err(e) = self.inner.store.release(config, &event.id, claimant).await {
                tracing::debug!(event = %event.id, error = %e, "could not give a claim back");
            }
        }
    }

    /// Records why the pull stopped before `event`.
    async fn stop(
        &self,
        config: &str,
        event: &IspEvent,
        delivery: Delivery,
        report: &mut PullReport,
    ) -> Result<()> {
        let reason = match delivery {
            Delivery::Deferred { reason, attempts } => format!(
                "event {} not applied after {attempts} attempt(s): {reason}",
                event.id
            ),
            _ => format!(
                "event {} is being delivered elsewhere (its claim has not lapsed)",
                event.id
            ),
        };
        tracing::warn!(event = %event.id, %reason, "pull stopped");
        let at = self.now();
        self.inner
            .store
            .record(
                config,
                &StatusUpdate::Pulled {
                    at,
                    lag: Some(since(at, event.occurred_at)),
                    error: Some(reason.clone()),
                },
            )
            .await?;
        report.outcome = PullOutcome::Stopped {
            event: event.id.clone(),
            reason,
        };
        Ok(())
    }

    /// claim → sink → mark applied (or park), with retries. Shared by pull, push, replay and
    /// the reconciler.
    pub(super) async fn deliver(
        &self,
        config: &str,
        event: &IspEvent,
        mode: ClaimMode,
    ) -> Result<Delivery> {
        let claimant = self.claimant();
        self.deliver_as(config, event, mode, &claimant, None, false)
            .await
    }

    /// [`deliver`](Self::deliver) as `claimant`, starting from the answer of a claim already
    /// made (`first`) when there is one. With `defer_mark`, an applied event is not recorded:
    /// the caller records it (with its chunk) and must, before the cursor moves.
    async fn deliver_as(
        &self,
        config: &str,
        event: &IspEvent,
        mode: ClaimMode,
        claimant: &str,
        mut first: Option<Claim>,
        defer_mark: bool,
    ) -> Result<Delivery> {
        let store = &self.inner.store;
        let options = &self.inner.options;
        let retry = options.retry;
        let key = IdempotencyKey::new(config, event.id.clone());
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= retry.max_attempts.max(1);
            let claim = match first.take() {
                Some(claim) => claim,
                None => {
                    store
                        .claim(config, &event.id, claimant, options.claim_ttl, mode)
                        .await?
                }
            };
            match claim {
                Claim::Claimed => {}
                Claim::AlreadyApplied => return Ok(Delivery::AlreadyApplied),
                Claim::Parked => return Ok(Delivery::AlreadyParked),
                Claim::HeldElsewhere { claimant, until } => {
                    tracing::debug!(event = %event.id, %claimant, %until, "claimed elsewhere");
                    if last {
                        return Ok(Delivery::HeldElsewhere);
                    }
                    tokio::time::sleep(retry.backoff(attempt)).await;
                    continue;
                }
            }
            match self.inner.sink.apply(config, event, &key).await {
                Ok(()) => {
                    if !defer_mark {
                        store.mark_applied(config, &event.id, claimant).await?;
                    }
                    tracing::debug!(event = %event.id, "applied");
                    return Ok(Delivery::Applied);
                }
                Err(SinkError::Permanent(reason)) => {
                    store.park(config, event, &reason, claimant).await?;
                    tracing::warn!(event = %event.id, %reason, "parked");
                    return Ok(Delivery::Parked { reason });
                }
                Err(SinkError::Transient(reason)) => {
                    tracing::debug!(event = %event.id, attempt, %reason, "transient sink failure");
                    if last {
                        store.release(config, &event.id, claimant).await?;
                        return Ok(Delivery::Deferred {
                            reason,
                            attempts: attempt,
                        });
                    }
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
            }
        }
    }

    /// Records an unsettled push or replay, or a failure, as the status's last error.
    async fn record_outcome(&self, config: &str, event: &IspEvent, result: &Result<Delivery>) {
        let message = match result {
            Ok(Delivery::Deferred { reason, attempts }) => format!(
                "event {} not applied after {attempts} attempt(s): {reason}",
                event.id
            ),
            Ok(_) => return,
            Err(e) => e.to_string(),
        };
        self.record_failure(config, message).await;
    }

    /// Best effort: a store that just failed may fail to record it too.
    pub(super) async fn record_failure(&self, config: &str, message: String) {
        let update = StatusUpdate::Failed {
            at: self.now(),
            message,
        };
        if let Err(e) = self.inner.store.record(config, &update).await {
            tracing::warn!(error = %e, "could not record a sync failure in the store");
        }
    }
}

/// Limits of [`SyncEngine::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunLimits {
    /// The longest wait after failed pulls (the wait doubles from the interval after each
    /// failure in a row). Default 15 minutes.
    pub max_backoff: Duration,
}

impl RunLimits {
    /// Sets [`max_backoff`](Self::max_backoff).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_backoff: Duration::from_secs(15 * 60),
        }
    }
}

/// What a [`SyncEngine::run`] did until it was shut down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Pulls made, failed ones included.
    pub pulls: u64,
    /// Pulls that failed (each is also the status's last error).
    pub failed: u64,
    /// Events applied.
    pub applied: u64,
    /// Events parked.
    pub parked: u64,
}

/// How a chunk of a pulled page ended.
enum ChunkEnd {
    /// Every event settled and recorded.
    Settled,
    /// The lease lapsed and another holder took it.
    LeaseLost,
    /// An event could not be settled; the report says which.
    Stopped,
}

fn check_config(config: &str, operation: &'static str) -> Result<()> {
    if config.trim().is_empty() {
        return Err(Error::invalid_request(
            SYNC,
            operation,
            "the configuration name is blank",
        ));
    }
    Ok(())
}
