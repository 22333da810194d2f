//! [`Reconciler`]: change events for providers without an event feed, from account reads
//! compared with the last snapshot.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::engine::{Delivery, SyncEngine};
use super::store::{AccountSnapshot, ClaimMode, StatusUpdate};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccountId, AccountStatus, EventId, EventKind, IspAccount, IspEvent};
use crate::provider::InteractiveServicesProvider;

/// How a [`Reconciler::reconcile_once`] pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileOutcome {
    /// Every listed account was read, compared and its changes settled (applied or parked).
    Complete,
    /// Some accounts could not be read or their events not settled
    /// ([`ReconcileReport::problems`]); they are compared again on the next pass.
    Incomplete,
    /// Another holder holds the configuration's lease; nothing was read.
    LeaseHeldElsewhere {
        /// The holder, when the store could say.
        holder: Option<String>,
    },
}

/// What one reconciler pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// The configuration's name.
    pub config: String,
    /// How it ended.
    pub outcome: ReconcileOutcome,
    /// Whether this pass only recorded baselines (no complete pass before it): it emits
    /// nothing.
    pub baseline: bool,
    /// Accounts listed.
    pub listed: usize,
    /// Accounts that changed since their snapshot (or, after the baseline, appeared).
    pub changed: usize,
    /// The events derived, in the order they went to the engine, with their delivery.
    pub events: Vec<(EventId, Delivery)>,
    /// Accounts left for the next pass, each with why.
    pub problems: Vec<(AccountId, String)>,
}

/// Follows accounts of a provider that has no event feed (or misses some changes in it):
/// lists them ([`account_listing`](crate::Capabilities::account_listing), terminated ones
/// included), reads each with bounded concurrency, compares it with the snapshot in the store
/// and sends what changed through the engine's dedupe path to the sink.
///
/// - **Baseline.** Until one pass has completed for a configuration, a pass only records
///   snapshots and emits nothing: what accounts looked like before the engine was set up is
///   not news. After that, an account seen for the first time emits
///   [`EventKind::AccountCreated`].
/// - **Events.** A plan or add-on change emits one [`EventKind::PlanChanged`] (with the plan
///   after the change; read the account for its add-ons); a change to
///   [`AccountStatus::Terminated`] emits [`EventKind::AccountTerminated`]; any other status
///   change emits [`EventKind::Other`] with `vendor_type` `account_status:active` or
///   `account_status:<the vendor's word>`. `occurred_at` is when the reconciler noticed.
/// - **Ids.** Event ids are derived from the account, what changed, the snapshot's version
///   and a hash of the new value (`reconcile:plan:3:9f…:<account>`): a second pass with nothing
///   new emits nothing, a crash between delivering and storing the snapshot emits the same
///   ids again (the store skips them), and a change back and forth is reported each time.
/// - A snapshot moves only when every event derived from it is settled; an account whose read
///   or delivery failed is compared again on the next pass.
///
/// A pass takes the configuration's lease, like a pull.
#[derive(Debug, Clone)]
pub struct Reconciler {
    engine: SyncEngine,
    concurrency: usize,
}

impl Reconciler {
    /// A reconciler that delivers through `engine`, reading 4 accounts at a time.
    pub fn new(engine: SyncEngine) -> Self {
        Self {
            engine,
            concurrency: 4,
        }
    }

    /// How many account reads may be under way at once (at least 1).
    pub fn concurrency(mut self, reads: usize) -> Self {
        self.concurrency = reads.max(1);
        self
    }

    /// One pass over the configuration named `config`: see the [type](Self) docs.
    ///
    /// A provider without account listing is [`Error::Unsupported`]; a failed listing is the
    /// provider's error. Failed account reads do not fail the pass; they are in
    /// [`ReconcileReport::problems`].
    pub async fn reconcile_once(
        &self,
        config: &str,
        provider: &dyn InteractiveServicesProvider,
    ) -> Result<ReconcileReport> {
        if config.trim().is_empty() {
            return Err(Error::invalid_request(
                "sync",
                "reconcile",
                "the configuration name is blank",
            ));
        }
        let span = tracing::info_span!("sync.reconcile", config);
        let result = self.pass(config, provider).instrument(span).await;
        match &result {
            Err(e) => self.engine.record_failure(config, e.to_string()).await,
            Ok(report) if report.outcome == ReconcileOutcome::Incomplete => {
                let message = format!(
                    "reconciler: {} account(s) left for the next pass (first: {})",
                    report.problems.len(),
                    report
                        .problems
                        .first()
                        .map(|(id, why)| format!("{id}: {why}"))
                        .unwrap_or_default()
                );
                self.engine.record_failure(config, message).await;
            }
            Ok(_) => {}
        }
        result
    }

    async fn pass(
        &self,
        config: &str,
        provider: &dyn InteractiveServicesProvider,
    ) -> Result<ReconcileReport> {
        let store = self.engine.store();
        let options = self.engine.options();
        if !provider.capabilities().account_listing {
            return Err(provider.unsupported("list_accounts"));
        }
        let mut report = ReconcileReport {
            config: config.to_owned(),
            outcome: ReconcileOutcome::Complete,
            baseline: false,
            listed: 0,
            changed: 0,
            events: Vec::new(),
            problems: Vec::new(),
        };
        if !store
            .acquire_lease(config, &options.holder, options.lease_ttl)
            .await?
        {
            let holder = store.lease(config).await?.map(|l| l.holder);
            report.outcome = ReconcileOutcome::LeaseHeldElsewhere { holder };
            return Ok(report);
        }
        report.baseline = store.status(config).await?.last_reconcile_at.is_none();
        let ids = provider.list_accounts(true).await?;
        report.listed = ids.len();
        // Reads run `concurrency` at a time; comparing and delivering stay in listing order.
        for chunk in ids.chunks(self.concurrency.saturating_mul(4)) {
            if !store
                .renew_lease(config, &options.holder, options.lease_ttl)
                .await?
            {
                report.outcome = ReconcileOutcome::Incomplete;
                for id in chunk {
                    report
                        .problems
                        .push((id.clone(), "the lease was lost during the pass".into()));
                }
                continue;
            }
            let reads = chunk.iter().map(|id| provider.account(id)).collect();
            let accounts = bounded(reads, self.concurrency).await;
            for (id, read) in chunk.iter().zip(accounts) {
                let account = match read {
                    Ok(account) => account,
                    // Listed, then gone before the read: nothing to compare.
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => {
                        report.outcome = ReconcileOutcome::Incomplete;
                        report.problems.push((id.clone(), e.to_string()));
                        continue;
                    }
                };
                self.compare(config, &account, &mut report).await?;
            }
        }
        if report.outcome == ReconcileOutcome::Complete {
            store
                .record(
                    config,
                    &StatusUpdate::Reconciled {
                        at: options.clock.now(),
                    },
                )
                .await?;
        }
        tracing::info!(
            listed = report.listed,
            changed = report.changed,
            events = report.events.len(),
            problems = report.problems.len(),
            baseline = report.baseline,
            "reconcile done"
        );
        Ok(report)
    }

    /// Compares one account with its snapshot, delivers what changed, and moves the snapshot
    /// when every event is settled.
    async fn compare(
        &self,
        config: &str,
        account: &IspAccount,
        report: &mut ReconcileReport,
    ) -> Result<()> {
        let store = self.engine.store();
        let now = self.engine.options().clock.now();
        let previous = store.snapshot(config, &account.id).await?;
        let events = match &previous {
            None if report.baseline => Vec::new(),
            None => appeared(account, now),
            Some(snapshot) => changes(snapshot, account, now),
        };
        if previous.is_some() && events.is_empty() {
            return Ok(());
        }
        if !events.is_empty() {
            report.changed += 1;
        }
        let mut settled = true;
        for event in events {
            let delivery = self
                .engine
                .deliver(config, &event, ClaimMode::Deliver)
                .await?;
            if !delivery.is_settled() {
                settled = false;
                report.problems.push((
                    account.id.clone(),
                    format!("event {}: {delivery:?}", event.id),
                ));
            }
            report.events.push((event.id, delivery));
        }
        if !settled {
            report.outcome = ReconcileOutcome::Incomplete;
            return Ok(());
        }
        let version = match &previous {
            Some(s) => s.version.saturating_add(1),
            None if report.baseline => 0,
            None => 1,
        };
        store
            .put_snapshot(config, &snapshot_of(account, version, now))
            .await
    }
}

fn snapshot_of(account: &IspAccount, version: u64, now: DateTime<Utc>) -> AccountSnapshot {
    AccountSnapshot {
        account: account.id.clone(),
        version,
        plan: account.plan.clone(),
        add_ons: account.add_ons.clone(),
        status: account.status.clone(),
        seen_at: now,
    }
}

fn event(account: &IspAccount, id: String, kind: EventKind, now: DateTime<Utc>) -> IspEvent {
    IspEvent {
        id: EventId::new(id),
        account: account.id.clone(),
        occurred_at: now,
        kind,
    }
}

/// The events of an account seen for the first time after the baseline.
fn appeared(account: &IspAccount, now: DateTime<Utc>) -> Vec<IspEvent> {
    let mut events = vec![event(
        account,
        format!("reconcile:created:0:{}", account.id),
        EventKind::AccountCreated,
        now,
    )];
    if account.status != AccountStatus::Active {
        events.push(status_event(account, 0, now));
    }
    events
}

/// The events between a snapshot and the account as it is now.
fn changes(snapshot: &AccountSnapshot, account: &IspAccount, now: DateTime<Utc>) -> Vec<IspEvent> {
    let mut events = Vec::new();
    if snapshot.plan != account.plan || snapshot.add_ons != account.add_ons {
        let mut value = Fnv::new();
        value.write(account.plan.as_ref().map_or("", |p| p.as_str()));
        for add_on in &account.add_ons {
            value.write(add_on.feature.as_str());
            value.write(&add_on.quantity.map(|q| q.to_string()).unwrap_or_default());
        }
        events.push(event(
            account,
            format!(
                "reconcile:plan:{}:{:016x}:{}",
                snapshot.version,
                value.finish(),
                account.id
            ),
            EventKind::PlanChanged {
                plan: account.plan.clone(),
            },
            now,
        ));
    }
    if snapshot.status != account.status {
        events.push(status_event(account, snapshot.version, now));
    }
    events
}

fn status_word(status: &AccountStatus) -> &str {
    match status {
        AccountStatus::Active => "active",
        AccountStatus::Terminated => "terminated",
        AccountStatus::Other(word) => word,
    }
}

fn status_event(account: &IspAccount, version: u64, now: DateTime<Utc>) -> IspEvent {
    let word = status_word(&account.status);
    let mut value = Fnv::new();
    value.write(word);
    let kind = match &account.status {
        AccountStatus::Terminated => EventKind::AccountTerminated,
        _ => EventKind::Other {
            vendor_type: format!("account_status:{word}"),
        },
    };
    event(
        account,
        format!(
            "reconcile:status:{version}:{:016x}:{}",
            value.finish(),
            account.id
        ),
        kind,
        now,
    )
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases and processes (std's
/// `DefaultHasher` promises neither), so that derived event ids survive an upgrade. Each
/// written part is followed by a separator byte, so that ("ab", "c") and ("a", "bc") differ.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, part: &str) {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `futures` with at most `limit` of them under way at once; answers their outputs in
/// the order given. (The crate's tokio has no runtime to spawn on and `futures` is not a
/// dependency, so this polls a window of futures itself.)
async fn bounded<'a, T>(futures: Vec<BoxFuture<'a, T>>, limit: usize) -> Vec<T> {
    let limit = limit.max(1);
    let mut waiting = futures.into_iter().enumerate();
    let mut running: Vec<(usize, BoxFuture<'a, T>)> = Vec::with_capacity(limit);
    let mut outputs: Vec<Option<T>> = Vec::new();
    outputs.resize_with(waiting.len(), || None);
    std::future::poll_fn(move |cx| {
        loop {
            while running.len() < limit {
                match waiting.next() {
                    Some(next) => running.push(next),
                    None => break,
                }
            }
            let mut finished = false;
            let mut i = 0;
            while let Some((index, future)) = running.get_mut(i) {
                match future.as_mut().poll(cx) {
                    Poll::Ready(output) => {
                        if let Some(slot) = outputs.get_mut(*index) {
                            *slot = Some(output);
                        }
                        drop(running.swap_remove(i));
                        finished = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if running.is_empty() && waiting.len() == 0 {
                return Poll::Ready(std::mem::take(&mut outputs).into_iter().flatten().collect());
            }
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn bounded_keeps_order_and_limit() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let futures: Vec<BoxFuture<'_, usize>> = (0..20usize)
            .map(|n| {
                let running = running.clone();
                let peak = peak.clone();
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Finish out of order: later futures yield fewer times.
                    for _ in 0..(20 - n) {
                        tokio::task::yield_now().await;
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    n
                }) as BoxFuture<'_, usize>
            })
            .collect();
        let outputs = bounded(futures, 3).await;
        assert_eq!(outputs, (0..20).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn fnv_separates_parts() {
        let mut a = Fnv::new();
        a.write("ab");
        a.write("c");
        let mut b = Fnv::new();
        b.write("a");
        b.write("bc");
        assert_ne!(a.finish(), b.finish());
        // Stable across releases and processes: a known value keeps its hash (derived event ids
        // must not change under an upgrade).
        let mut c = Fnv::new();
        c.write("basic");
        assert_eq!(c.finish(), 0x27f8_d9a0_e1b7_d026);
    }
}
