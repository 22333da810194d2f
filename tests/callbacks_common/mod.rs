//! What the callback tests share: configurations, a recording sink, a service on an injected
//! clock, signed bodies.

#![allow(dead_code)] // each test file uses a part

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use interactive_services::callbacks::{CallbackService, HealthPolicy, signature_header};
use interactive_services::providers::total_connect::callback::CallbackEvent;
use interactive_services::sync::{
    DeliveryRetry, EventSink, IdempotencyKey, ManualClock, MemoryStore, SinkError, SyncOptions,
};
use interactive_services::{CallbackConfig, IspConfig, IspEvent, ProviderRegistry};

/// The current signing secret.
pub const SECRET: &str = "whsec-current-0123456789abcdef";
/// The secret being rotated out.
pub const OLD_SECRET: &str = "whsec-previous-0123456789abcdef";
/// A secret nobody configured.
pub const OTHER_SECRET: &str = "whsec-stranger-0123456789abcdef";
/// The configuration's name.
pub const CONFIG: &str = "Total Connect (main)";

/// A fixed start time.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// A Total Connect configuration named `name` whose endpoint is `endpoint` (a simulator, or a
/// closed loopback port: receiving makes no vendor call), with `callback` settings.
pub fn tc_config(name: &str, endpoint: &str, callback: Option<CallbackConfig>) -> IspConfig {
    let mut b = IspConfig::builder()
        .name(name)
        .provider("total_connect")
        .endpoint(endpoint)
        .credential("user_name", "tc-dealer-integration")
        .credential("password", "sim-password-Tc2")
        .credential("application_id", "SIM-APP-1")
        .credential("application_version", "1.0")
        .credential("company_id", "24680");
    if let Some(c) = callback {
        b = b.callback(c);
    }
    b.build().expect("a valid configuration")
}

/// Callback settings with [`SECRET`] (and [`OLD_SECRET`] as the previous one when `rotating`).
pub fn settings(rotating: bool) -> CallbackConfig {
    let mut c = CallbackConfig::new(SECRET);
    if rotating {
        c.previous_secret = Some(OLD_SECRET.to_owned().into());
    }
    c
}

/// A sink that records what it applied.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub applied: Mutex<Vec<(String, IspEvent)>>,
    pub calls: AtomicUsize,
}

impl RecordingSink {
    pub fn events(&self) -> Vec<IspEvent> {
        self.applied
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventSink for RecordingSink {
    async fn apply(
        &self,
        config: &str,
        event: &IspEvent,
        _key: &IdempotencyKey,
    ) -> Result<(), SinkError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // Give concurrent deliveries of the same event a chance to meet.
        tokio::task::yield_now().await;
        self.applied
            .lock()
            .expect("lock")
            .push((config.to_owned(), event.clone()));
        Ok(())
    }
}

/// Engine options on `clock`, with short retries so that concurrent deliveries settle fast.
pub fn options(clock: &ManualClock) -> SyncOptions {
    SyncOptions::new("replica-1")
        .clock(Arc::new(clock.clone()))
        .retry(DeliveryRetry {
            max_attempts: 40,
            initial_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(20),
        })
}

/// A service on a fresh memory store and `clock`, delivering to a new recording sink.
pub fn service(
    clock: &ManualClock,
    policy: HealthPolicy,
) -> (CallbackService<MemoryStore>, Arc<RecordingSink>) {
    let store = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    let sink = Arc::new(RecordingSink::default());
    let service = CallbackService::builder(store, sink.clone())
        .sync_options(options(clock))
        .policy(policy)
        .build();
    (service, sink)
}

/// Adds `config` to `service` with its provider from the built-in registry; answers its path
/// segment.
pub fn add(service: &CallbackService<MemoryStore>, config: &IspConfig) -> String {
    let provider = ProviderRegistry::with_built_ins()
        .build(config)
        .expect("the provider builds");
    service.add(config, provider).expect("added")
}

/// A modelled Alarm.net body: event `id` of `event_type` for account 5100001 at `at`.
pub fn body(id: &str, event_type: &str, at: DateTime<Utc>) -> Vec<u8> {
    CallbackEvent::new(id, event_type, "5100001", at)
        .data(serde_json::json!({ "Code": "130", "Zone": "3", "Description": "Burglary" }))
        .to_body()
}

/// The signature header for `body` at `at` under `secrets`.
pub fn signed(at: DateTime<Utc>, body: &[u8], secrets: &[&str]) -> String {
    signature_header(at.timestamp(), body, secrets)
}
