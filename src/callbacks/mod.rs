//! Real-time callbacks in: verification, ingestion through the [sync engine](crate::sync), and
//! health; with the `axum` feature, a ready router.
//!
//! Vendors such as Honeywell's Alarm.net push real-time updates (an account's status changed,
//! an alarm, a panel that stopped answering, a payment) to an HTTPS URL the dealer registers.
//! This module is the receiving end, and names no vendor: the vendor's half (its body format
//! and its registration call) lives in the vendor's folder and plugs in through
//! [`InteractiveServicesProvider::callback_events`],
//! [`register_callback`](InteractiveServicesProvider::register_callback) and
//! [`callback_registration`](InteractiveServicesProvider::callback_registration).
//!
//! # The scheme
//!
//! A delivery is an HTTP `POST` whose [`SIGNATURE_HEADER`] carries `t=<Unix seconds>` and one
//! or more `v1=<hex>`: HMAC-SHA256 over `"{t}.{body}"` under the configuration's
//! [`signing_secret`](crate::CallbackConfig::signing_secret) (two `v1=` while a secret is
//! rotated). [`Verifier`] accepts it when a signature matches the current *or* the previous
//! secret (so secrets rotate without downtime), compared in constant time, and the timestamp
//! is within [`tolerance_seconds`](crate::CallbackConfig::tolerance_seconds) of now, either way
//! (300 s by default). Every failure is its own [`Rejection`]. [`sign`] and
//! [`signature_header`] are the inverse, for simulators and tests.
//!
//! No public document describes Alarm.net's callbacks: the scheme above and each vendor's body
//! format are *modelled* (a sound model, in the style of widely used webhook signatures), and
//! replaced when a vendor's real format is known.
//!
//! # Receiving
//!
//! [`CallbackService`] takes a delivery for any configuration of the catalog, found by a path
//! segment ([`CallbackService::path_segment`]), and
//!
//! 1. refuses a body over the cap (before reading it, from `Content-Length`, and while reading
//!    it) and verifies the signature;
//! 2. has the configuration's provider read the body into events (unknown types are kept as
//!    [`EventKind::Other`](crate::EventKind::Other), unreadable details as
//!    [`EventKind::Malformed`](crate::EventKind::Malformed): never dropped);
//! 3. hands each event to [`SyncEngine::ingest`](crate::sync::SyncEngine::ingest), so that a
//!    delivery repeated, delivered concurrently, or also seen by a pull reaches the host's sink
//!    once; and answers 2xx only once every event is *settled* (applied or parked, recorded in
//!    the store), else 503 so that the vendor delivers again;
//! 4. counts the outcome in the [`SyncStore`], so that every replica
//!    shows the same [health](CallbackService::health).
//!
//! ```
//! use std::sync::Arc;
//! use chrono::Utc;
//! use interactive_services::callbacks::{CallbackService, Receipt, signature_header};
//! use interactive_services::providers::total_connect::callback::CallbackEvent;
//! use interactive_services::sync::{EventSink, IdempotencyKey, MemoryStore, SinkError, SyncOptions};
//! use interactive_services::{CallbackConfig, IspConfig, IspEvent, ProviderRegistry};
//!
//! #[derive(Debug)]
//! struct Print;
//! #[async_trait::async_trait]
//! impl EventSink for Print {
//!     async fn apply(&self, config: &str, event: &IspEvent, _: &IdempotencyKey) -> Result<(), SinkError> {
//!         println!("{config}: {:?}", event.kind);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), interactive_services::Error> {
//! let secret = "whsec-0123456789abcdef";
//! let config = IspConfig::builder()
//!     .name("Total Connect")
//!     .provider("total_connect")
//!     .credential("user_name", "dealer")
//!     .credential("password", "a-password")
//!     .credential("application_id", "APP")
//!     .credential("application_version", "1.0")
//!     .credential("company_id", "24680")
//!     .callback(CallbackConfig::new(secret))
//!     .build()?;
//! let service = CallbackService::new(Arc::new(MemoryStore::new()), Arc::new(Print), SyncOptions::new("replica-1"));
//! let provider = ProviderRegistry::with_built_ins().build(&config)?;
//! let segment = service.add(&config, provider)?;
//! assert_eq!(segment, "total-connect");
//!
//! let body = CallbackEvent::new("evt-1", "Alarm", "5100001", Utc::now()).to_body();
//! let header = signature_header(Utc::now().timestamp(), &body, &[secret]);
//! let receipt = service.receive(&segment, Some(header.as_bytes()), &body).await;
//! assert_eq!(receipt, Receipt::Accepted { events: 1 });
//! // Delivered again: the sink is not called a second time.
//! let again = service.receive(&segment, Some(header.as_bytes()), &body).await;
//! assert_eq!(again, Receipt::Duplicate { events: 1 });
//! # Ok(())
//! # }
//! ```
//!
//! # Health
//!
//! [`CallbackService::health`] computes a [`CallbackHealth`] — not configured, healthy,
//! degraded or silent, with the reason, the last delivery, counts of accepted, duplicate and
//! rejected deliveries by reason over a recent window, and the last rejection — from the
//! configuration, the vendor's view of the registration (read through the provider, cached
//! briefly) and the traffic counted in the store, by the [`HealthPolicy`]. Counting a delivery
//! is one short store call that *adds* to a per-minute bucket, so many tasks and replicas count
//! at once without overwriting each other.
//!
//! # The router (feature `axum`)
//!
//! `CallbackService::router` serves:
//!
//! | route | answer |
//! |---|---|
//! | `POST /callbacks/{config}` | a delivery: 200 accepted or duplicate, 400/401 rejected, 413 over the cap, 404 unknown or not configured, 503 not settled (send again) |
//! | `GET /admin/callbacks` | an HTML index of the configurations and their state |
//! | `GET /admin/callbacks/{config}` | the HTML status page of one configuration |
//! | `GET /admin/callbacks/{config}/health` | its health and configuration (no secret) as JSON |
//!
//! `{config}` is the configuration's [path segment](CallbackService::path_segment) (a slug
//! of its name, such as `total-connect-main`) or its name, URL-encoded. The admin routes carry
//! no authentication of their own: serve `CallbackService::admin_router` behind the host's
//! admin authentication, and `CallbackService::receiver_router` where the vendor reaches it.

mod health;
mod verify;

#[cfg(feature = "axum")]
mod axum;

pub use health::{CallbackHealth, HealthFacts, HealthPolicy, HealthState};
pub use verify::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE, MAX_HEADER_BYTES, MAX_SIGNATURES, MatchedSecret,
    Rejection, RejectionReason, SIGNATURE_HEADER, Verified, Verifier, sign, signature_header,
};

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{IspCatalog, IspConfig, Status};
use crate::error::{Error, Result};
use crate::model::{CallbackRegistration, IspEvent};
use crate::provider::{InteractiveServicesProvider, ProviderRegistry};
use crate::sync::{
    CallbackOutcome, CallbackRecord, Clock, Delivery, EventSink, SyncEngine, SyncOptions, SyncStore,
};

/// The name callback errors carry as their provider when no configuration is involved.
const CALLBACKS: &str = "callbacks";

/// The path prefix deliveries are taken under: `POST /callbacks/{config}`.
pub const RECEIVE_PREFIX: &str = "callbacks";

/// The path prefix of the admin pages: `GET /admin/callbacks/{config}`.
pub const ADMIN_PREFIX: &str = "admin/callbacks";

/// How long the vendor's view of a registration is reused before it is read again.
pub const DEFAULT_VENDOR_REFRESH: Duration = Duration::from_secs(60);

/// What became of one delivery, and the HTTP answer it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receipt {
    /// Verified, and at least one event was new: every event is settled (applied or parked).
    /// 200.
    Accepted {
        /// How many events the body carried.
        events: usize,
    },
    /// Verified, and every event had been settled before (a redelivery). 200.
    Duplicate {
        /// How many events the body carried.
        events: usize,
    },
    /// Refused (counted in health). 400, 401 or 413.
    Rejected(Rejection),
    /// No configuration has this path segment. 404 (not counted: there is nothing to count it
    /// against).
    UnknownConfiguration,
    /// The configuration has no callback settings. 404.
    NotConfigured,
    /// The configuration's provider does not read callbacks. 404.
    Unsupported,
    /// Verified, but an event is not settled yet (its sink failed transiently, another
    /// delivery of it holds its claim, or the store failed): nothing was acknowledged, and the
    /// vendor should deliver it again. 503. The reason is logged, not answered.
    NotSettled {
        /// Why, for the log.
        reason: String,
    },
}

impl Receipt {
    /// The HTTP status to answer.
    pub fn http_status(&self) -> u16 {
        match self {
            Receipt::Accepted { .. } | Receipt::Duplicate { .. } => 200,
            Receipt::Rejected(r) => r.http_status(),
            Receipt::UnknownConfiguration | Receipt::NotConfigured | Receipt::Unsupported => 404,
            Receipt::NotSettled { .. } => 503,
        }
    }

    /// A short key: `accepted`, `duplicate`, `rejected`, `unknown_configuration`,
    /// `not_configured`, `unsupported`, `not_settled`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Receipt::Accepted { .. } => "accepted",
            Receipt::Duplicate { .. } => "duplicate",
            Receipt::Rejected(_) => "rejected",
            Receipt::UnknownConfiguration => "unknown_configuration",
            Receipt::NotConfigured => "not_configured",
            Receipt::Unsupported => "unsupported",
            Receipt::NotSettled { .. } => "not_settled",
        }
    }

    /// The JSON body to answer: `{"outcome": …}`, with the event count, or the rejection's
    /// reason key and sentence. Never a secret, a signature or the request body.
    pub fn to_json(&self) -> String {
        let value = match self {
            Receipt::Accepted { events } | Receipt::Duplicate { events } => {
                serde_json::json!({ "outcome": self.outcome(), "events": events })
            }
            Receipt::Rejected(r) => serde_json::json!({
                "outcome": self.outcome(),
                "reason": r.reason().as_str(),
                "message": r.to_string(),
            }),
            Receipt::UnknownConfiguration => serde_json::json!({
                "outcome": self.outcome(),
                "message": "no ISP configuration takes callbacks at this path",
            }),
            Receipt::NotConfigured => serde_json::json!({
                "outcome": self.outcome(),
                "message": "this ISP configuration has no callback settings",
            }),
            Receipt::Unsupported => serde_json::json!({
                "outcome": self.outcome(),
                "message": "this ISP configuration's provider does not read callbacks",
            }),
            Receipt::NotSettled { .. } => serde_json::json!({
                "outcome": self.outcome(),
                "message": "the delivery was not recorded; deliver it again",
            }),
        };
        value.to_string()
    }
}

/// One configuration as the admin page shows its callback settings: never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The configuration's name (masked if it holds a secret).
    pub config: String,
    /// The provider's name (`total_connect`).
    pub provider: String,
    /// The provider's name for people.
    pub provider_name: String,
    /// Active or Inactive.
    pub status: Status,
    /// The path segment deliveries are taken under.
    pub segment: String,
    /// The receiving path (`/callbacks/{segment}`).
    pub path: String,
    /// The full URL to register at the vendor, when the host set the public base
    /// ([`CallbackServiceBuilder::public_base`]).
    pub url: Option<Url>,
    /// Whether the configuration has callback settings.
    pub configured: bool,
    /// Whether its provider reads callbacks.
    pub provider_reads_callbacks: bool,
    /// The timestamp tolerance, in seconds, when configured.
    pub tolerance_seconds: Option<u64>,
    /// Whether a previous secret is accepted too (a rotation is under way).
    pub rotation_in_progress: bool,
    /// The body cap, in bytes.
    pub max_body_bytes: usize,
}

/// The vendor's view of a registration, as last read.
#[derive(Debug, Clone)]
struct VendorView {
    read_at: DateTime<Utc>,
    /// `None`: the provider cannot say (no callbacks, unsupported).
    known: Option<std::result::Result<Option<CallbackRegistration>, String>>,
}

struct Endpoint {
    /// The name the engine keys events on.
    name: String,
    /// The name as shown (masked when it holds a secret).
    shown: String,
    segment: String,
    provider_kind: String,
    provider_name: String,
    status: Status,
    provider: Arc<dyn InteractiveServicesProvider>,
    verifier: Option<Verifier>,
    watching_since: DateTime<Utc>,
    vendor: tokio::sync::Mutex<Option<VendorView>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.shown)
            .field("segment", &self.segment)
            .field("provider", &self.provider_kind)
            .field("verifier", &self.verifier)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Endpoints {
    /// In catalog order.
    list: Vec<Arc<Endpoint>>,
}

impl Endpoints {
    fn find(&self, segment: &str) -> Option<&Arc<Endpoint>> {
        if let Some(e) = self.list.iter().find(|e| e.segment == segment) {
            return Some(e);
        }
        let key = crate::config::name_key(segment);
        self.list
            .iter()
            .find(|e| crate::config::name_key(&e.name) == key)
    }
}

/// The path segment for a configuration name: ASCII letters and digits in lower case, every
/// other run of characters one `-` (`Total Connect (main)` → `total-connect-main`); `config`
/// when nothing is left.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(64);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("config");
    }
    out
}

/// A configuration and the provider that reads its callbacks.
type Configured = (IspConfig, Arc<dyn InteractiveServicesProvider>);

struct Inner<S: SyncStore> {
    store: Arc<S>,
    engine: SyncEngine,
    clock: Arc<dyn Clock>,
    policy: HealthPolicy,
    max_body: usize,
    public_base: Option<Url>,
    vendor_refresh: Duration,
    endpoints: RwLock<Arc<Endpoints>>,
}

/// The receiving end of callbacks for every configuration of a catalog: verification,
/// ingestion through the sync engine, health. See the [module](self) docs.
///
/// Generic over the [`SyncStore`] (in memory, SQLite, PostgreSQL, the host's own), which it
/// shares with its [`SyncEngine`]. Clones share one service.
pub struct CallbackService<S: SyncStore> {
    inner: Arc<Inner<S>>,
}

impl<S: SyncStore> Clone for CallbackService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: SyncStore> fmt::Debug for CallbackService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackService")
            .field("store", &self.inner.store)
            .field("endpoints", &self.endpoints().list)
            .field("policy", &self.inner.policy)
            .field("max_body", &self.inner.max_body)
            .finish()
    }
}

/// Builds a [`CallbackService`] with non-default settings.
#[derive(Debug)]
pub struct CallbackServiceBuilder<S: SyncStore> {
    store: Arc<S>,
    sink: Arc<dyn EventSink>,
    options: SyncOptions,
    policy: HealthPolicy,
    max_body: usize,
    public_base: Option<Url>,
    vendor_refresh: Duration,
}

impl<S: SyncStore> CallbackServiceBuilder<S> {
    /// The engine's options (its holder name and clock; the clock is also the one signatures
    /// and health are judged by).
    pub fn sync_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// When health turns degraded or silent.
    pub fn policy(mut self, policy: HealthPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The body cap, in bytes ([`DEFAULT_MAX_BODY_BYTES`] unless set).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Where the vendor reaches this receiver (`https://dealer.example/hooks/`): with it, each
    /// configuration's full callback URL is known, [`CallbackService::register_at_vendor`]
    /// works, and a vendor registration pointing elsewhere shows as degraded.
    pub fn public_base(mut self, base: Url) -> Self {
        self.public_base = Some(crate::providers::common::as_folder(base));
        self
    }

    /// How long the vendor's view of a registration is reused ([`DEFAULT_VENDOR_REFRESH`]).
    pub fn vendor_refresh(mut self, period: Duration) -> Self {
        self.vendor_refresh = period;
        self
    }

    /// Builds the service, with no configuration yet.
    pub fn build(self) -> CallbackService<S> {
        let clock = self.options.clock.clone();
        let engine = SyncEngine::new(self.store.clone(), self.sink, self.options);
        CallbackService {
            inner: Arc::new(Inner {
                store: self.store,
                engine,
                clock,
                policy: self.policy,
                max_body: self.max_body,
                public_base: self.public_base,
                vendor_refresh: self.vendor_refresh,
                endpoints: RwLock::new(Arc::default()),
            }),
        }
    }
}

impl<S: SyncStore> CallbackService<S> {
    /// A service on `store` delivering to `sink`, with `options` for its engine and the
    /// defaults otherwise.
    pub fn new(store: Arc<S>, sink: Arc<dyn EventSink>, options: SyncOptions) -> Self {
        Self::builder(store, sink).sync_options(options).build()
    }

    /// A builder on `store` delivering to `sink`.
    pub fn builder(store: Arc<S>, sink: Arc<dyn EventSink>) -> CallbackServiceBuilder<S> {
        CallbackServiceBuilder {
            store,
            sink,
            options: SyncOptions::default(),
            policy: HealthPolicy::default(),
            max_body: DEFAULT_MAX_BODY_BYTES,
            public_base: None,
            vendor_refresh: DEFAULT_VENDOR_REFRESH,
        }
    }

    /// The engine events go through (share it for pulls: both paths dedupe in one store).
    pub fn engine(&self) -> &SyncEngine {
        &self.inner.engine
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.inner.store
    }

    /// The health policy.
    pub fn policy(&self) -> &HealthPolicy {
        &self.inner.policy
    }

    /// The body cap, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body
    }

    /// The public base, when set.
    pub fn public_base(&self) -> Option<&Url> {
        self.inner.public_base.as_ref()
    }

    fn endpoints(&self) -> Arc<Endpoints> {
        self.inner
            .endpoints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn endpoint(&self, segment: &str) -> Option<Arc<Endpoint>> {
        self.endpoints().find(segment).cloned()
    }

    /// Takes callbacks for every configuration of `catalog` from now on (replacing those set
    /// before), each with a provider from `registry` that follows its catalog entry. A
    /// configuration already watched keeps its watching time.
    pub fn set_catalog(&self, catalog: &IspCatalog, registry: &ProviderRegistry) -> Result<()> {
        let mut list = Vec::new();
        for config in catalog.iter() {
            let provider = catalog.provider(config.name(), registry)?;
            list.push((config.clone(), provider));
        }
        self.install(list, true);
        Ok(())
    }

    /// Takes callbacks for `config` too (replacing a configuration of the same name), read by
    /// `provider`; answers its path segment.
    pub fn add(
        &self,
        config: &IspConfig,
        provider: Arc<dyn InteractiveServicesProvider>,
    ) -> Result<String> {
        self.install(vec![(config.clone(), provider)], false);
        self.path_segment(config.name()).ok_or_else(|| {
            Error::not_found(CALLBACKS, "callbacks.add", "the configuration just added")
        })
    }

    /// Rebuilds the endpoint list: `replace` drops every configuration not in `configs`.
    fn install(&self, configs: Vec<Configured>, replace: bool) {
        let now = self.inner.clock.now();
        let mut slot = self
            .inner
            .endpoints
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = slot.clone();
        let incoming: Vec<String> = configs
            .iter()
            .map(|(c, _)| crate::config::name_key(c.name()))
            .collect();
        // Kept from before, in their order (unless replaced or dropped), then the new ones.
        let mut ordered: Vec<(Configured, Option<&Arc<Endpoint>>)> = Vec::new();
        let mut kept: Vec<&Arc<Endpoint>> = Vec::new();
        if !replace {
            kept = old
                .list
                .iter()
                .filter(|e| !incoming.contains(&crate::config::name_key(&e.name)))
                .collect();
        }
        for (config, provider) in configs {
            let key = crate::config::name_key(config.name());
            let previous = old
                .list
                .iter()
                .find(|e| crate::config::name_key(&e.name) == key);
            ordered.push(((config, provider), previous));
        }
        let mut used: HashSet<String> = kept.iter().map(|e| e.segment.clone()).collect();
        let mut list: Vec<Arc<Endpoint>> = kept.into_iter().cloned().collect();
        for ((config, provider), previous) in ordered {
            let shown = config.shown(config.name()).to_owned();
            let segment = match previous.filter(|p| !used.contains(&p.segment)) {
                Some(p) => p.segment.clone(),
                None => unique_segment(&slug(&shown), &used),
            };
            used.insert(segment.clone());
            let verifier = config
                .callback()
                .map(|c| Verifier::from_config(c).max_body_bytes(self.inner.max_body));
            let same_settings =
                previous.is_some_and(|p| p.verifier.is_some() == verifier.is_some());
            list.push(Arc::new(Endpoint {
                name: config.name().to_owned(),
                shown,
                segment,
                provider_kind: config.provider().to_string(),
                provider_name: crate::providers::display_name(config.provider()).to_owned(),
                status: config.status(),
                provider,
                verifier,
                watching_since: previous
                    .filter(|_| same_settings)
                    .map_or(now, |p| p.watching_since),
                vendor: tokio::sync::Mutex::new(None),
            }));
        }
        *slot = Arc::new(Endpoints { list });
    }

    /// The path segment deliveries for the configuration named `config` are taken under.
    pub fn path_segment(&self, config: &str) -> Option<String> {
        self.endpoint(config).map(|e| e.segment.clone())
    }

    /// The full URL to register at the vendor for `config`, when the public base is set.
    pub fn callback_url(&self, config: &str) -> Option<Url> {
        self.endpoint(config).and_then(|e| self.url_of(&e))
    }

    fn url_of(&self, endpoint: &Endpoint) -> Option<Url> {
        self.inner.public_base.as_ref().and_then(|base| {
            base.join(&format!("{RECEIVE_PREFIX}/{}", endpoint.segment))
                .ok()
        })
    }

    /// Every configuration's callback settings, as the admin page shows them (no secret).
    pub fn configurations(&self) -> Vec<EndpointInfo> {
        self.endpoints().list.iter().map(|e| self.info(e)).collect()
    }

    /// One configuration's callback settings (by name or path segment).
    pub fn configuration(&self, config: &str) -> Option<EndpointInfo> {
        self.endpoint(config).map(|e| self.info(&e))
    }

    fn info(&self, e: &Endpoint) -> EndpointInfo {
        EndpointInfo {
            config: e.shown.clone(),
            provider: e.provider_kind.clone(),
            provider_name: e.provider_name.clone(),
            status: e.status,
            segment: e.segment.clone(),
            path: format!("/{RECEIVE_PREFIX}/{}", e.segment),
            url: self.url_of(e),
            configured: e.verifier.is_some(),
            provider_reads_callbacks: e.provider.capabilities().callbacks,
            tolerance_seconds: e.verifier.as_ref().map(|v| v.window().as_secs()),
            rotation_in_progress: e.verifier.as_ref().is_some_and(Verifier::rotating),
            max_body_bytes: self.inner.max_body,
        }
    }

    /// Handles one delivery: `segment` from the path, `signature` the raw
    /// [`SIGNATURE_HEADER`] value, `body` the raw body (read with the cap: see
    /// [`reject_oversized`](Self::reject_oversized)). See the [module](self) docs for the
    /// steps; the [`Receipt`] says what to answer.
    pub async fn receive(&self, segment: &str, signature: Option<&[u8]>, body: &[u8]) -> Receipt {
        let Some(endpoint) = self.endpoint(segment) else {
            return Receipt::UnknownConfiguration;
        };
        let Some(verifier) = &endpoint.verifier else {
            return Receipt::NotConfigured;
        };
        let now = self.inner.clock.now();
        if let Err(rejection) = verifier.verify(signature, body, now) {
            return self.reject(&endpoint, rejection, now).await;
        }
        let events = match endpoint.provider.callback_events(body) {
            Ok(events) if events.is_empty() => {
                let problem = "the body carries no event".to_owned();
                return self
                    .reject(&endpoint, Rejection::MalformedBody { problem }, now)
                    .await;
            }
            Ok(events) => events,
            Err(Error::Unsupported { .. }) => return Receipt::Unsupported,
            // The catalog entry was removed since the service last took the catalog.
            Err(Error::NotFound { .. }) => return Receipt::UnknownConfiguration,
            Err(e) => {
                let problem = match e {
                    Error::InvalidRequest { detail, .. } => detail,
                    other => other.to_string(),
                };
                return self
                    .reject(&endpoint, Rejection::MalformedBody { problem }, now)
                    .await;
            }
        };
        self.ingest(&endpoint, &events, now).await
    }

    async fn ingest(
        &self,
        endpoint: &Endpoint,
        events: &[IspEvent],
        now: DateTime<Utc>,
    ) -> Receipt {
        let mut fresh = false;
        for event in events {
            match self.inner.engine.ingest(&endpoint.name, event).await {
                Ok(delivery) if delivery.is_settled() => {
                    fresh |= matches!(delivery, Delivery::Applied | Delivery::Parked { .. });
                }
                Ok(delivery) => {
                    let reason = format!("event {} is not settled: {delivery:?}", event.id);
                    tracing::warn!(config = %endpoint.shown, %reason, "callback not acknowledged");
                    return Receipt::NotSettled { reason };
                }
                Err(e) => {
                    let reason = format!("event {} could not be ingested: {e}", event.id);
                    tracing::warn!(config = %endpoint.shown, %reason, "callback not acknowledged");
                    return Receipt::NotSettled { reason };
                }
            }
        }
        let outcome = if fresh {
            CallbackOutcome::Accepted
        } else {
            CallbackOutcome::Duplicate
        };
        self.count(endpoint, CallbackRecord::new(now, outcome))
            .await;
        let events = events.len();
        if fresh {
            Receipt::Accepted { events }
        } else {
            Receipt::Duplicate { events }
        }
    }

    /// Counts a body over the cap for `segment`'s configuration (found before or while reading
    /// it) and answers 413; [`Receipt::UnknownConfiguration`] and
    /// [`Receipt::NotConfigured`] as [`receive`](Self::receive) would.
    pub async fn reject_oversized(&self, segment: &str) -> Receipt {
        let Some(endpoint) = self.endpoint(segment) else {
            return Receipt::UnknownConfiguration;
        };
        if endpoint.verifier.is_none() {
            return Receipt::NotConfigured;
        }
        let now = self.inner.clock.now();
        let rejection = Rejection::BodyTooLarge {
            limit: self.inner.max_body,
        };
        self.reject(&endpoint, rejection, now).await
    }

    async fn reject(
        &self,
        endpoint: &Endpoint,
        rejection: Rejection,
        now: DateTime<Utc>,
    ) -> Receipt {
        tracing::info!(
            config = %endpoint.shown,
            reason = rejection.reason().as_str(),
            "callback rejected"
        );
        let outcome = CallbackOutcome::Rejected {
            reason: rejection.reason().as_str().to_owned(),
            detail: rejection.to_string(),
        };
        self.count(endpoint, CallbackRecord::new(now, outcome))
            .await;
        Receipt::Rejected(rejection)
    }

    /// Best effort: the delivery's answer does not depend on counting it.
    async fn count(&self, endpoint: &Endpoint, record: CallbackRecord) {
        if let Err(e) = self
            .inner
            .store
            .record_callback(&endpoint.name, &record)
            .await
        {
            tracing::warn!(config = %endpoint.shown, error = %e, "could not count a callback delivery");
        }
    }

    /// The callback health of `config` (by name or path segment) now.
    pub async fn health(&self, config: &str) -> Result<CallbackHealth> {
        let endpoint = self.endpoint(config).ok_or_else(|| {
            Error::not_found(CALLBACKS, "callback_health", "no such ISP configuration")
        })?;
        self.health_of(&endpoint).await
    }

    /// Every configuration's callback health now, in catalog order.
    pub async fn health_all(&self) -> Result<Vec<CallbackHealth>> {
        let mut all = Vec::new();
        for endpoint in self.endpoints().list.iter() {
            all.push(self.health_of(endpoint).await?);
        }
        Ok(all)
    }

    async fn health_of(&self, endpoint: &Endpoint) -> Result<CallbackHealth> {
        let now = self.inner.clock.now();
        let policy = &self.inner.policy;
        let traffic = self
            .inner
            .store
            .callback_traffic(&endpoint.name, policy.window_start(now))
            .await?;
        let view = self.vendor_view(endpoint, now).await;
        let url = self.url_of(endpoint);
        let mut facts = HealthFacts::new(&endpoint.shown, &traffic, endpoint.watching_since)
            .configured(endpoint.verifier.is_some())
            .expected_url(url.as_ref());
        match &view {
            Some(Ok(vendor)) => facts = facts.vendor(vendor.as_ref()),
            Some(Err(e)) => facts = facts.vendor_error(e),
            None => {}
        }
        Ok(policy.assess(&facts, now))
    }

    /// The vendor's view, read at most once per refresh period per configuration.
    async fn vendor_view(
        &self,
        endpoint: &Endpoint,
        now: DateTime<Utc>,
    ) -> Option<std::result::Result<Option<CallbackRegistration>, String>> {
        if endpoint.verifier.is_none() || !endpoint.provider.capabilities().callbacks {
            return None;
        }
        let mut cache = endpoint.vendor.lock().await;
        let fresh = cache.as_ref().is_some_and(|v| {
            (now - v.read_at)
                .to_std()
                .is_ok_and(|age| age < self.inner.vendor_refresh)
        });
        if !fresh {
            let known = match endpoint.provider.callback_registration().await {
                Ok(view) => Some(Ok(view)),
                Err(Error::Unsupported { .. }) => None,
                Err(e) => Some(Err(e.to_string())),
            };
            *cache = Some(VendorView {
                read_at: now,
                known,
            });
        }
        cache.as_ref().and_then(|v| v.known.clone())
    }

    /// Registers this receiver's URL for `config` at the vendor (needs the public base) and
    /// returns the vendor's view afterwards. An Inactive configuration refuses it.
    pub async fn register_at_vendor(&self, config: &str) -> Result<CallbackRegistration> {
        let endpoint = self.endpoint(config).ok_or_else(|| {
            Error::not_found(CALLBACKS, "register_callback", "no such ISP configuration")
        })?;
        let url = self.url_of(&endpoint).ok_or_else(|| {
            Error::invalid_request(
                endpoint.provider_kind.clone(),
                "register_callback",
                "the receiver's public base URL is not set (CallbackServiceBuilder::public_base), so its callback URL is not known",
            )
        })?;
        let registration = endpoint.provider.register_callback(&url).await?;
        *endpoint.vendor.lock().await = Some(VendorView {
            read_at: self.inner.clock.now(),
            known: Some(Ok(Some(registration.clone()))),
        });
        Ok(registration)
    }

    /// Forgets the cached vendor views, so that the next health read asks the vendor.
    pub async fn refresh_vendor_views(&self) {
        for endpoint in self.endpoints().list.iter() {
            *endpoint.vendor.lock().await = None;
        }
    }
}

/// `base`, or `base-2`, `base-3`, ... whichever is free.
fn unique_segment(base: &str, used: &HashSet<String>) -> String {
    if !used.contains(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !used.contains(candidate))
        .unwrap_or_else(|| base.to_owned())
}
