//! [`MemoryStore`]: the [`SyncStore`] that keeps everything in memory.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::clock::{Clock, SystemClock, add};
use super::status::{FeedState, LastError, SyncStatus};
use super::store::{
    AccountSnapshot, Claim, ClaimMode, Lease, ParkedEvent, StatusUpdate, SyncStore,
};
use super::traffic::{
    CALLBACK_RETENTION, CallbackOutcome, CallbackRecord, CallbackTraffic, MAX_REASONS,
    OTHER_REASON, RecordedRejection, bucket_start,
};
use crate::error::Result;
use crate::model::{AccountId, Cursor, EventId, IspEvent};

#[derive(Debug)]
struct ClaimEntry {
    claimant: String,
    until: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct ConfigState {
    cursor: Option<Cursor>,
    applied: HashSet<EventId>,
    applied_count: u64,
    claims: HashMap<EventId, ClaimEntry>,
    parked: HashMap<EventId, ParkedEvent>,
    snapshots: HashMap<AccountId, AccountSnapshot>,
    lease: Option<Lease>,
    status: SyncStatus,
    callbacks: CallbackState,
}

/// One minute of callback traffic.
#[derive(Debug)]
struct Bucket {
    start: DateTime<Utc>,
    accepted: u64,
    duplicate: u64,
    rejected: BTreeMap<String, u64>,
}

/// A configuration's callback traffic: minute buckets, oldest first, and the latest times.
#[derive(Debug, Default)]
struct CallbackState {
    buckets: VecDeque<Bucket>,
    last_delivery_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    last_rejection: Option<RecordedRejection>,
}

impl CallbackState {
    fn record(&mut self, record: &CallbackRecord) {
        let at = record.at;
        let later = |slot: &mut Option<DateTime<Utc>>| {
            if slot.is_none_or(|t| t < at) {
                *slot = Some(at);
            }
        };
        later(&mut self.last_attempt_at);
        let start = bucket_start(at);
        // Deliveries arrive nearly in order: the bucket is almost always the last one.
        let position = self.buckets.iter().rposition(|b| b.start <= start);
        let index = match position {
            Some(i) if self.buckets.get(i).is_some_and(|b| b.start == start) => i,
            _ => {
                let i = position.map_or(0, |i| i + 1);
                self.buckets.insert(
                    i,
                    Bucket {
                        start,
                        accepted: 0,
                        duplicate: 0,
                        rejected: BTreeMap::new(),
                    },
                );
                i
            }
        };
        let Some(bucket) = self.buckets.get_mut(index) else {
            return;
        };
        match &record.outcome {
            CallbackOutcome::Accepted => {
                bucket.accepted = bucket.accepted.saturating_add(1);
                later(&mut self.last_delivery_at);
            }
            CallbackOutcome::Duplicate => {
                bucket.duplicate = bucket.duplicate.saturating_add(1);
                later(&mut self.last_delivery_at);
            }
            CallbackOutcome::Rejected { reason, detail } => {
                let key = if bucket.rejected.contains_key(reason)
                    || bucket.rejected.len() < MAX_REASONS
                {
                    reason.as_str()
                } else {
                    OTHER_REASON
                };
                let n = bucket.rejected.entry(key.to_owned()).or_insert(0);
                *n = n.saturating_add(1);
                if self.last_rejection.as_ref().is_none_or(|r| r.at <= at) {
                    self.last_rejection = Some(RecordedRejection {
                        at,
                        reason: reason.clone(),
                        detail: detail.clone(),
                    });
                }
            }
        }
        // Keep CALLBACK_RETENTION behind the newest bucket.
        let horizon = self.buckets.back().and_then(|b| {
            chrono::TimeDelta::from_std(CALLBACK_RETENTION)
                .ok()
                .and_then(|keep| b.start.checked_sub_signed(keep))
        });
        if let Some(horizon) = horizon {
            while self.buckets.front().is_some_and(|b| b.start < horizon) {
                self.buckets.pop_front();
            }
        }
    }

    fn traffic(&self, config: &str, since: DateTime<Utc>) -> CallbackTraffic {
        let mut traffic = CallbackTraffic::new(config, since);
        for bucket in self.buckets.iter().filter(|b| b.start >= traffic.since) {
            traffic.accepted = traffic.accepted.saturating_add(bucket.accepted);
            traffic.duplicate = traffic.duplicate.saturating_add(bucket.duplicate);
            for (reason, n) in &bucket.rejected {
                let total = traffic.rejected.entry(reason.clone()).or_insert(0);
                *total = total.saturating_add(*n);
            }
        }
        traffic.last_delivery_at = self.last_delivery_at;
        traffic.last_attempt_at = self.last_attempt_at;
        traffic.last_rejection = self.last_rejection.clone();
        traffic
    }
}

impl ConfigState {
    fn live_lease(&self, now: DateTime<Utc>) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.expires_at > now)
    }

    fn claim(
        &mut self,
        event: &EventId,
        claimant: &str,
        now: DateTime<Utc>,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Claim {
        if self.applied.contains(event) {
            return Claim::AlreadyApplied;
        }
        if mode == ClaimMode::Deliver && self.parked.contains_key(event) {
            return Claim::Parked;
        }
        if let Some(held) = self.claims.get(event) {
            if held.claimant != claimant && held.until > now {
                return Claim::HeldElsewhere {
                    claimant: held.claimant.clone(),
                    until: held.until,
                };
            }
        }
        self.claims.insert(
            event.clone(),
            ClaimEntry {
                claimant: claimant.to_owned(),
                until: add(now, ttl),
            },
        );
        Claim::Claimed
    }

    /// Records `event` as applied; answers whether it was not applied before.
    fn mark_applied(&mut self, event: &EventId) -> bool {
        self.claims.remove(event);
        self.parked.remove(event);
        let new = self.applied.insert(event.clone());
        if new {
            self.applied_count = self.applied_count.saturating_add(1);
        }
        new
    }
}

/// A [`SyncStore`] in memory: for tests, examples and hosts that keep no state across restarts
/// (a restart then delivers every event again, so the sink's deduplication carries exactly
/// once). Clones share one store; "restarting" an engine on a clone keeps the state.
///
/// One `std` mutex guards the state and is never held across an `.await`. Applied event ids are
/// kept for the store's lifetime.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<HashMap<String, ConfigState>>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose leases and claims lapse by `clock` (a
    /// [`ManualClock`](super::ManualClock) in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, ConfigState>> {
        // Every method leaves the maps consistent before anything that could panic, so a
        // poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on `config`'s state, creating it when missing.
    fn with<T>(&self, config: &str, f: impl FnOnce(&mut ConfigState, DateTime<Utc>) -> T) -> T {
        let now = self.clock.now();
        let mut all = self.lock();
        let state = all.entry(config.to_owned()).or_insert_with(|| ConfigState {
            status: SyncStatus::new(config),
            ..ConfigState::default()
        });
        f(state, now)
    }

    /// Runs `f` on `config`'s state when it exists.
    fn read<T>(&self, config: &str, f: impl FnOnce(&ConfigState, DateTime<Utc>) -> T) -> Option<T> {
        let now = self.clock.now();
        self.lock().get(config).map(|state| f(state, now))
    }
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn cursor(&self, config: &str) -> Result<Option<Cursor>> {
        Ok(self.read(config, |s, _| s.cursor.clone()).flatten())
    }

    async fn put_cursor(&self, config: &str, holder: &str, cursor: &Cursor) -> Result<bool> {
        Ok(self.with(config, |s, now| {
            let held = s.live_lease(now).is_some_and(|l| l.holder == holder);
            if held {
                s.cursor = Some(cursor.clone());
            }
            held
        }))
    }

    async fn claim(
        &self,
        config: &str,
        event: &EventId,
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Claim> {
        Ok(self.with(config, |s, now| s.claim(event, claimant, now, ttl, mode)))
    }

    async fn mark_applied(&self, config: &str, event: &EventId, _claimant: &str) -> Result<()> {
        self.with(config, |s, _| s.mark_applied(event));
        Ok(())
    }

    async fn claim_batch(
        &self,
        config: &str,
        events: &[EventId],
        claimant: &str,
        ttl: Duration,
        mode: ClaimMode,
    ) -> Result<Vec<Claim>> {
        Ok(self.with(config, |s, now| {
            events
                .iter()
                .map(|event| s.claim(event, claimant, now, ttl, mode))
                .collect()
        }))
    }

    async fn mark_applied_batch(
        &self,
        config: &str,
        events: &[EventId],
        _claimant: &str,
    ) -> Result<u64> {
        Ok(self.with(config, |s, _| {
            events.iter().filter(|event| s.mark_applied(event)).count() as u64
        }))
    }

    async fn park(
        &self,
        config: &str,
        event: &IspEvent,
        reason: &str,
        claimant: &str,
    ) -> Result<()> {
        self.with(config, |s, now| {
            if s.claims
                .get(&event.id)
                .is_some_and(|c| c.claimant == claimant)
            {
                s.claims.remove(&event.id);
            }
            if s.applied.contains(&event.id) {
                return;
            }
            let refusals = s.parked.get(&event.id).map_or(0, |p| p.refusals);
            s.parked.insert(
                event.id.clone(),
                ParkedEvent {
                    config: config.to_owned(),
                    event: event.clone(),
                    reason: reason.to_owned(),
                    parked_at: now,
                    refusals: refusals.saturating_add(1),
                },
            );
        });
        Ok(())
    }

    async fn release(&self, config: &str, event: &EventId, claimant: &str) -> Result<()> {
        self.with(config, |s, _| {
            if s.claims.get(event).is_some_and(|c| c.claimant == claimant) {
                s.claims.remove(event);
            }
        });
        Ok(())
    }

    async fn parked(&self, config: &str) -> Result<Vec<ParkedEvent>> {
        let mut parked = self
            .read(config, |s, _| {
                s.parked.values().cloned().collect::<Vec<_>>()
            })
            .unwrap_or_default();
        parked.sort_by(|a, b| (a.parked_at, &a.event.id).cmp(&(b.parked_at, &b.event.id)));
        Ok(parked)
    }

    async fn parked_event(&self, config: &str, event: &EventId) -> Result<Option<ParkedEvent>> {
        Ok(self
            .read(config, |s, _| s.parked.get(event).cloned())
            .flatten())
    }

    async fn snapshot(&self, config: &str, account: &AccountId) -> Result<Option<AccountSnapshot>> {
        Ok(self
            .read(config, |s, _| s.snapshots.get(account).cloned())
            .flatten())
    }

    async fn put_snapshot(&self, config: &str, snapshot: &AccountSnapshot) -> Result<()> {
        self.with(config, |s, _| {
            s.snapshots
                .insert(snapshot.account.clone(), snapshot.clone());
        });
        Ok(())
    }

    async fn acquire_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with(config, |s, now| {
            let free = match s.live_lease(now) {
                None => true,
                Some(l) => l.holder == holder,
            };
            if free {
                s.lease = Some(Lease {
                    holder: holder.to_owned(),
                    expires_at: add(now, ttl),
                });
            }
            free
        }))
    }

    async fn renew_lease(&self, config: &str, holder: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with(config, |s, now| match &mut s.lease {
            Some(l) if l.holder == holder => {
                l.expires_at = add(now, ttl);
                true
            }
            _ => false,
        }))
    }

    async fn release_lease(&self, config: &str, holder: &str) -> Result<()> {
        self.with(config, |s, _| {
            if s.lease.as_ref().is_some_and(|l| l.holder == holder) {
                s.lease = None;
            }
        });
        Ok(())
    }

    async fn lease(&self, config: &str) -> Result<Option<Lease>> {
        Ok(self
            .read(config, |s, now| s.live_lease(now).cloned())
            .flatten())
    }

    async fn record(&self, config: &str, update: &StatusUpdate) -> Result<()> {
        self.with(config, |s, _| {
            let status = &mut s.status;
            match update {
                StatusUpdate::Pulled { at, lag, error } => {
                    status.feed = FeedState::Available;
                    status.last_pull_at = Some(*at);
                    status.lag = *lag;
                    match error {
                        None => status.last_success_at = Some(*at),
                        Some(message) => {
                            status.last_error = Some(LastError {
                                at: *at,
                                message: message.clone(),
                            });
                        }
                    }
                }
                StatusUpdate::NoFeed { at } => {
                    status.feed = FeedState::NoFeed;
                    status.last_pull_at = Some(*at);
                    status.lag = None;
                }
                StatusUpdate::Reconciled { at } => {
                    status.last_reconcile_at = Some(*at);
                    status.last_success_at = Some(*at);
                }
                StatusUpdate::Failed { at, message } => {
                    status.last_error = Some(LastError {
                        at: *at,
                        message: message.clone(),
                    });
                }
            }
        });
        Ok(())
    }

    async fn status(&self, config: &str) -> Result<SyncStatus> {
        Ok(self
            .read(config, |s, now| {
                let mut status = s.status.clone();
                status.cursor = s.cursor.clone();
                status.applied = s.applied_count;
                status.parked = u64::try_from(s.parked.len()).unwrap_or(u64::MAX);
                status.lease = s.live_lease(now).cloned();
                status
            })
            .unwrap_or_else(|| SyncStatus::new(config)))
    }

    async fn record_callback(&self, config: &str, record: &CallbackRecord) -> Result<()> {
        self.with(config, |s, _| s.callbacks.record(record));
        Ok(())
    }

    async fn callback_traffic(
        &self,
        config: &str,
        since: DateTime<Utc>,
    ) -> Result<CallbackTraffic> {
        Ok(self
            .read(config, |s, _| s.callbacks.traffic(config, since))
            .unwrap_or_else(|| CallbackTraffic::new(config, since)))
    }
}
