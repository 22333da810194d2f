//! Bulk operations: many provisioning (and change, terminate) requests with bounded
//! concurrency and an optional rate limit.
//!
//! [`Bulk`] runs one operation per request against one provider and streams the results as
//! they finish ([`BulkStream`]):
//!
//! - **One result per request**, in the order they finish, each carrying the key the request
//!   came with and its position in the input ([`BulkResult`]).
//! - **Per-item errors**: a request that fails is a [`BulkError::Failed`] result carrying the
//!   crate's [`Error`]; the batch goes on.
//! - **Bounded concurrency**: at most [`concurrency`](Bulk::concurrency) operations in flight
//!   (default [`DEFAULT_CONCURRENCY`]). Requests are taken from the input only as slots free, so
//!   memory stays flat however long the input is.
//! - **Rate limit**: [`Bulk::rate_limit`] paces the *operations* the run starts (one permit
//!   per request, however many HTTP requests the operation makes). To pace *HTTP requests*
//!   across every call of a provider, bulk or not, build the provider with
//!   [`ProviderOptions::rate_limit`](crate::provider::ProviderOptions::rate_limit) instead (or
//!   as well). Either way a [`RateLimit`] is a handle: clones share one allowance.
//! - **Cancellation**: [`CancelToken::cancel`] stops the run cleanly — operations already sent
//!   finish and report their result, every request not yet sent is reported as
//!   [`BulkError::Cancelled`] without being sent, then the stream ends. Dropping the stream stops
//!   at once instead: the operations in flight are dropped with it (the stream spawns no task,
//!   so nothing keeps running). A provision dropped mid-call may or may not have created the
//!   customer; provisioning the same dealer customer id again is safe (it is looked up before
//!   any create, never duplicated).
//! - **Progress**: [`Bulk::on_progress`] is called with a [`Progress`] (done, succeeded,
//!   failed, cancelled, in flight, total) after each result; [`BulkStream::progress`] reads the
//!   same counts at any time.
//!
//! The stream does its work when it is polled: drive it (`while let Some(r) = s.next().await`,
//! `for_each`, `collect`) from one task. No runtime is required beyond what the provider needs.
//!
//! ```
//! use std::num::NonZeroU32;
//! use futures_util::StreamExt;
//! use interactive_services::bulk::Bulk;
//! use interactive_services::http::RateLimit;
//! use interactive_services::testkit::InMemoryProvider;
//! use interactive_services::{IspConfig, ProviderRegistry, ProvisionRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), interactive_services::Error> {
//! # let config = IspConfig::builder()
//! #     .name("Reference (in memory)")
//! #     .provider("in_memory")
//! #     .credential("token", "not-a-real-secret")
//! #     .default_plan("basic")
//! #     .build()?;
//! # let mut registry = ProviderRegistry::with_built_ins();
//! # InMemoryProvider::register(&mut registry);
//! let provider = registry.build(&config)?;
//! let requests = (0..100).map(|i| {
//!     let request = ProvisionRequest::builder(format!("CUST-{i:04}"))
//!         .name("Ada", "Lovelace")
//!         .build();
//!     (i, request)
//! });
//! let per_second = NonZeroU32::new(500).expect("not zero");
//! let mut results = Bulk::new(provider)
//!     .concurrency(8)
//!     .rate_limit(RateLimit::per_second(per_second))
//!     .on_progress(|p| {
//!         if p.done % 50 == 0 {
//!             println!("{}/{} done, {} failed", p.done, p.total.unwrap_or(0), p.failed);
//!         }
//!     })
//!     .provision(requests);
//! let mut accounts = Vec::new();
//! while let Some(item) = results.next().await {
//!     match item.result {
//!         Ok(account) => accounts.push((item.key, account.id)),
//!         Err(e) => eprintln!("customer {}: {e}", item.key),
//!     }
//! }
//! assert_eq!(accounts.len(), 100);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::future::{BoxFuture, Either, select};
use futures_util::stream::{FusedStream, FuturesUnordered, Stream, StreamExt};

pub use crate::http::{ManualClock, RateLimit};

use crate::error::{Error, Result};
use crate::model::{AccountId, IspAccount, PlanChange, ProvisionRequest};
use crate::provider::InteractiveServicesProvider;

/// Operations in flight when [`Bulk::concurrency`] is not set.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The provider every operation of a bulk run is called on.
pub type SharedProvider = Arc<dyn InteractiveServicesProvider>;

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Runs many requests against one provider with bounded concurrency, an optional rate limit,
/// a progress callback and cancellation; see the [module docs](self).
///
/// A `Bulk` is a reusable, cloneable set of settings: each call ([`provision`](Self::provision),
/// [`change_plan`](Self::change_plan), [`terminate`](Self::terminate), [`run`](Self::run))
/// starts an independent run.
#[derive(Clone)]
pub struct Bulk {
    provider: SharedProvider,
    concurrency: usize,
    rate_limit: Option<RateLimit>,
    on_progress: Option<ProgressFn>,
    cancel: Option<CancelToken>,
}

impl fmt::Debug for Bulk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulk")
            .field("provider", &self.provider.kind())
            .field("concurrency", &self.concurrency)
            .field("rate_limit", &self.rate_limit)
            .field("on_progress", &self.on_progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Bulk {
    /// Bulk runs against `provider` (usually the one a [`ProviderRegistry`](crate::ProviderRegistry)
    /// built, so that the configuration's rules apply to every request), with
    /// [`DEFAULT_CONCURRENCY`] operations in flight, no rate limit, no progress callback and no
    /// cancel token.
    pub fn new(provider: SharedProvider) -> Self {
        Self {
            provider,
            concurrency: DEFAULT_CONCURRENCY,
            rate_limit: None,
            on_progress: None,
            cancel: None,
        }
    }

    /// At most `n` operations in flight at once (`0` counts as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Paces the operations the run starts: each takes one permit of `limit` before it is sent
    /// (while holding one of the [`concurrency`](Self::concurrency) slots). Clones of `limit`
    /// share its allowance, so several runs — or a run and other code that acquires from the
    /// same handle — together stay within it.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Calls `f` with the run's counts after each result, on the task that polls the stream,
    /// before the result is yielded. Keep it short (update a progress bar, a gauge).
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Stops the run when `token` is cancelled: operations already sent finish, the rest are
    /// reported [`BulkError::Cancelled`] without being sent. One token may stop several runs.
    pub fn cancel_on(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Provisions each request ([`InteractiveServicesProvider::provision`]): one result per
    /// request, keyed by the `K` it came with.
    pub fn provision<K, I>(&self, requests: I) -> BulkStream<K, IspAccount>
    where
        I: IntoIterator<Item = (K, ProvisionRequest)>,
        I::IntoIter: Send + 'static,
        K: Send + 'static,
    {
        self.run(requests, |provider, request: ProvisionRequest| async move {
            provider.provision(&request).await
        })
    }

    /// Changes each account's plan and add-ons ([`InteractiveServicesProvider::change_plan`]).
    pub fn change_plan<K, I>(&self, changes: I) -> BulkStream<K, IspAccount>
    where
        I: IntoIterator<Item = (K, AccountId, PlanChange)>,
        I::IntoIter: Send + 'static,
        K: Send + 'static,
    {
        let changes = changes.into_iter().map(|(k, id, change)| (k, (id, change)));
        self.run(
            changes,
            |provider, (id, change): (AccountId, PlanChange)| async move {
                provider.change_plan(&id, &change).await
            },
        )
    }

    /// Terminates each account ([`InteractiveServicesProvider::terminate`]; terminating a
    /// terminated account succeeds).
    pub fn terminate<K, I>(&self, accounts: I) -> BulkStream<K, ()>
    where
        I: IntoIterator<Item = (K, AccountId)>,
        I::IntoIter: Send + 'static,
        K: Send + 'static,
    {
        self.run(accounts, |provider, id: AccountId| async move {
            provider.terminate(&id).await
        })
    }

    /// Runs any operation in bulk: `op` is called with the provider and each request when the
    /// request's turn comes, and its future is the operation.
    ///
    /// ```
    /// # use futures_util::StreamExt;
    /// # use interactive_services::bulk::Bulk;
    /// # use interactive_services::AccountId;
    /// # async fn demo(bulk: Bulk, ids: Vec<AccountId>) {
    /// // Read many accounts, eight at a time.
    /// let reads = bulk.concurrency(8).run(
    ///     ids.into_iter().map(|id| (id.clone(), id)),
    ///     |provider, id: AccountId| async move { provider.account(&id).await },
    /// );
    /// let accounts: Vec<_> = reads.collect().await;
    /// # let _ = accounts;
    /// # }
    /// ```
    pub fn run<K, R, T, I, F, Fut>(&self, requests: I, op: F) -> BulkStream<K, T>
    where
        I: IntoIterator<Item = (K, R)>,
        I::IntoIter: Send + 'static,
        K: Send + 'static,
        T: Send + 'static,
        F: Fn(SharedProvider, R) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let requests = requests.into_iter();
        let total = match requests.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        let provider = self.provider.clone();
        // Nothing runs until a future is polled: pulling a request only builds its future.
        let pending = requests.map(move |(key, request)| {
            let call: BoxFuture<'static, Result<T>> = Box::pin(op(provider.clone(), request));
            (key, call)
        });
        BulkStream {
            pending: Box::new(pending),
            exhausted: false,
            in_flight: FuturesUnordered::new(),
            concurrency: self.concurrency,
            rate_limit: self.rate_limit.clone(),
            cancel: self.cancel.clone(),
            on_progress: self.on_progress.clone(),
            next_index: 0,
            progress: Progress {
                total,
                ..Progress::default()
            },
        }
    }
}

/// The result of one request of a bulk run.
#[derive(Debug)]
#[non_exhaustive]
pub struct BulkResult<K, T> {
    /// The key the request came with.
    pub key: K,
    /// The request's position in the input (0 for the first).
    pub index: usize,
    /// What the operation returned, or why it has no result.
    pub result: std::result::Result<T, BulkError>,
}

impl<K, T> BulkResult<K, T> {
    /// Whether the operation succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The key and the result.
    pub fn into_parts(self) -> (K, std::result::Result<T, BulkError>) {
        (self.key, self.result)
    }
}

/// Why a request of a bulk run has no result.
#[derive(Debug)]
#[non_exhaustive]
pub enum BulkError {
    /// The operation failed with this error; the rest of the run went on.
    Failed(Error),
    /// The run was cancelled before this request was sent: nothing was done for it.
    Cancelled,
}

impl BulkError {
    /// The operation's error, unless the request was cancelled.
    pub fn error(&self) -> Option<&Error> {
        match self {
            BulkError::Failed(e) => Some(e),
            BulkError::Cancelled => None,
        }
    }

    /// Whether the request was cancelled before it was sent.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BulkError::Cancelled)
    }
}

impl fmt::Display for BulkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BulkError::Failed(e) => e.fmt(f),
            BulkError::Cancelled => f.write_str("not sent: the bulk run was cancelled"),
        }
    }
}

impl std::error::Error for BulkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BulkError::Failed(e) => Some(e),
            BulkError::Cancelled => None,
        }
    }
}

impl From<Error> for BulkError {
    fn from(e: Error) -> Self {
        BulkError::Failed(e)
    }
}

/// A bulk run's counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// How many requests the run has, when the input said so exactly (a `Vec`, a range,
    /// a `map` of either); `None` otherwise.
    pub total: Option<usize>,
    /// Results yielded: `succeeded + failed + cancelled`.
    pub done: usize,
    /// Operations that succeeded.
    pub succeeded: usize,
    /// Operations that failed ([`BulkError::Failed`]).
    pub failed: usize,
    /// Requests not sent because the run was cancelled ([`BulkError::Cancelled`]).
    pub cancelled: usize,
    /// Operations started and not finished.
    pub in_flight: usize,
}

/// Stops bulk runs cleanly ([`Bulk::cancel_on`]). Clones share the state: cancelling one
/// cancels them all, for good.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    notify: tokio::sync::Notify,
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// A token not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: the runs watching this token send nothing more.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves once the token is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = pin!(notified);
            // Registered before the check, so a cancel in between is not missed.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// The results of a bulk run, as they finish; see the [module docs](self).
///
/// It does the work when polled, and drops whatever is in flight when dropped (it spawns
/// nothing). It is `Unpin` and `Send`, and ends (`None`) once every request has its result.
#[must_use = "a bulk run does nothing unless its stream is polled"]
pub struct BulkStream<K, T> {
    pending: Box<dyn Iterator<Item = (K, BoxFuture<'static, Result<T>>)> + Send>,
    exhausted: bool,
    in_flight: FuturesUnordered<BoxFuture<'static, BulkResult<K, T>>>,
    concurrency: usize,
    rate_limit: Option<RateLimit>,
    cancel: Option<CancelToken>,
    on_progress: Option<ProgressFn>,
    next_index: usize,
    progress: Progress,
}

impl<K, T> fmt::Debug for BulkStream<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkStream")
            .field("progress", &self.progress)
            .field("concurrency", &self.concurrency)
            .field("rate_limit", &self.rate_limit)
            .field("exhausted", &self.exhausted)
            .finish_non_exhaustive()
    }
}

impl<K: Send + 'static, T: Send + 'static> BulkStream<K, T> {
    /// The run's counts so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// Starts the next request, if there is one.
    fn start_next(&mut self) -> bool {
        let Some((key, call)) = self.pending.next() else {
            self.exhausted = true;
            return false;
        };
        let index = self.next_index;
        self.next_index += 1;
        let rate_limit = self.rate_limit.clone();
        let cancel = self.cancel.clone();
        self.in_flight.push(Box::pin(async move {
            let result = if admitted(rate_limit, cancel).await {
                call.await.map_err(BulkError::Failed)
            } else {
                Err(BulkError::Cancelled)
            };
            BulkResult { key, index, result }
        }));
        true
    }

    /// The next request, reported cancelled without being started.
    fn cancel_next(&mut self) -> Option<BulkResult<K, T>> {
        let Some((key, call)) = self.pending.next() else {
            self.exhausted = true;
            return None;
        };
        // Never polled: nothing of the operation ran.
        drop(call);
        let index = self.next_index;
        self.next_index += 1;
        Some(BulkResult {
            key,
            index,
            result: Err(BulkError::Cancelled),
        })
    }

    fn finish(&mut self, item: BulkResult<K, T>) -> Poll<Option<BulkResult<K, T>>> {
        let p = &mut self.progress;
        match &item.result {
            Ok(_) => p.succeeded += 1,
            Err(BulkError::Failed(_)) => p.failed += 1,
            Err(BulkError::Cancelled) => p.cancelled += 1,
        }
        p.done += 1;
        p.in_flight = self.in_flight.len();
        if let Some(f) = &self.on_progress {
            f(self.progress);
        }
        Poll::Ready(Some(item))
    }
}

/// Waits for a permit of the rate limit, if any; `false` when the run is cancelled first.
async fn admitted(rate_limit: Option<RateLimit>, cancel: Option<CancelToken>) -> bool {
    if cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
        return false;
    }
    let Some(limit) = rate_limit else {
        return true;
    };
    match cancel {
        None => {
            limit.acquire().await;
            true
        }
        Some(cancel) => {
            let acquired = pin!(limit.acquire());
            let cancelled = pin!(cancel.cancelled());
            matches!(select(acquired, cancelled).await, Either::Left(_))
        }
    }
}

impl<K: Send + 'static, T: Send + 'static> Stream for BulkStream<K, T> {
    type Item = BulkResult<K, T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let cancelled = this.cancelled();
        if !cancelled {
            while this.in_flight.len() < this.concurrency && !this.exhausted {
                this.start_next();
            }
            this.progress.in_flight = this.in_flight.len();
        }
        match this.in_flight.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => this.finish(item),
            Poll::Ready(None) | Poll::Pending => {
                if cancelled && !this.exhausted {
                    if let Some(item) = this.cancel_next() {
                        return this.finish(item);
                    }
                }
                if this.in_flight.is_empty() && this.exhausted {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = if self.exhausted {
            (0, Some(0))
        } else {
            self.pending.size_hint()
        };
        let n = self.in_flight.len();
        (low.saturating_add(n), high.and_then(|h| h.checked_add(n)))
    }
}

impl<K: Send + 'static, T: Send + 'static> FusedStream for BulkStream<K, T> {
    fn is_terminated(&self) -> bool {
        self.exhausted && self.in_flight.is_empty()
    }
}
