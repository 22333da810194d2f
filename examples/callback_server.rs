//! The receiving end of Alarm.net callbacks, end to end on loopback, with no account anywhere:
//! the callback router serves a catalog with a Total Connect configuration, registers its URL at
//! the embedded Total Connect simulator, and the simulator pushes signed callbacks to it — some
//! valid, one tampered with on the way, one unsigned, one repeated. The example prints what the
//! sink received and the callback health the dealer's admin page shows. Deduplication and the
//! health counts live in a SQLite sync store in a temporary folder, removed at the end.
//!
//! ```text
//! cargo run --example callback_server
//! ```
//!
//! The callback format and its signature are modelled (no public source shows Alarm.net's):
//! see `interactive_services::callbacks` and `providers::total_connect::callback`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use interactive_services::callbacks::CallbackService;
use interactive_services::providers::total_connect::callback::CallbackEvent;
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::sync::{EventSink, IdempotencyKey, SinkError, SqliteStore, SyncOptions};
use interactive_services::{IspCatalog, IspEvent, ProviderRegistry};
use url::Url;

const CONFIG: &str = "Total Connect (main)";

/// The host's side: here, a list. A real sink writes to the host's records and ignores a key it
/// has applied before.
#[derive(Debug, Default)]
struct ListSink {
    received: Mutex<Vec<(String, IspEvent)>>,
}

#[async_trait]
impl EventSink for ListSink {
    async fn apply(
        &self,
        config: &str,
        event: &IspEvent,
        _key: &IdempotencyKey,
    ) -> Result<(), SinkError> {
        self.received
            .lock()
            .map_err(|_| SinkError::Transient("the list is poisoned".into()))?
            .push((config.to_owned(), event.clone()));
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let simulator = TotalConnectSimulator::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;

    // The sync store every replica shares (deduplication, callback health): one SQLite file
    // here, in a temporary folder (`PgStore::connect(url)` when replicas share PostgreSQL).
    let folder = std::env::temp_dir().join(format!("isp-callback-server-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let store = Arc::new(SqliteStore::open(folder.join("sync.db")).await?);

    let sink = Arc::new(ListSink::default());
    let service = CallbackService::builder(store, sink.clone())
        .sync_options(SyncOptions::new("callback-server"))
        .public_base(base.clone())
        .build();
    let mut catalog = IspCatalog::new();
    catalog.add(simulator.config_with_callbacks(CONFIG))?;
    service.set_catalog(&catalog, &ProviderRegistry::with_built_ins())?;

    let router = service.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let registration = service.register_at_vendor(CONFIG).await?;
    println!(
        "Callback URL registered at the vendor: {}",
        registration.url
    );
    println!();

    let now = Utc::now();
    let account = "5100001";
    let events = [
        CallbackEvent::new("an-0001", "Alarm", account, now)
            .account_numbers("12", "34", "5678")
            .data(serde_json::json!({ "Code": "130", "Zone": "3", "Description": "Burglary" })),
        CallbackEvent::new("an-0002", "Trouble", account, now)
            .data(serde_json::json!({ "Code": "301", "Description": "AC power loss" })),
        CallbackEvent::new("an-0003", "ServicePlanChanged", account, now)
            .data(serde_json::json!({ "PlanCode": "TC-AUTO", "Features": ["Automation"] })),
        CallbackEvent::new("an-0004", "AccountStatusChanged", account, now)
            .data(serde_json::json!({ "Status": "Suspended" })),
        CallbackEvent::new("an-0005", "PanelNotResponding", account, now)
            .data(serde_json::json!({ "LastContactAt": now.to_rfc3339() })),
        CallbackEvent::new("an-0006", "GeofenceCrossed", account, now),
    ];

    println!("The simulator pushes:");
    for event in &events {
        let report = simulator.push(event).await;
        println!(
            "  {:<22} {:<10} → {} {}",
            event.event_type,
            event.event_id,
            status(report.status),
            report.body
        );
    }
    let repeated = simulator.push(&events[0]).await;
    println!(
        "  {:<22} {:<10} → {} {}   (repeated)",
        events[0].event_type,
        events[0].event_id,
        status(repeated.status),
        repeated.body
    );
    let tampered = simulator
        .push_tampered(&CallbackEvent::new("an-0007", "Alarm", account, now))
        .await;
    println!(
        "  {:<22} {:<10} → {} {}   (one bit flipped on the way)",
        "Alarm",
        "an-0007",
        status(tampered.status),
        tampered.body
    );
    let unsigned = simulator
        .push_raw(
            CallbackEvent::new("an-0008", "Alarm", account, now).to_body(),
            None,
        )
        .await;
    println!(
        "  {:<22} {:<10} → {} {}   (no signature)",
        "Alarm",
        "an-0008",
        status(unsigned.status),
        unsigned.body
    );

    // The vendor's last attempt was refused; a later valid one (a payment) goes through.
    let payment = CallbackEvent::new("an-0009", "PaymentApplied", account, now).data(
        serde_json::json!({ "PaymentId": "pay-77", "AmountMinorUnits": 3999, "Currency": "USD", "Method": "Visa ending 4242" }),
    );
    let report = simulator.push(&payment).await;
    println!(
        "  {:<22} {:<10} → {} {}",
        payment.event_type,
        payment.event_id,
        status(report.status),
        report.body
    );

    println!();
    println!("The sink received:");
    let received = sink.received.lock().map(|r| r.clone()).unwrap_or_default();
    for (config, event) in &received {
        println!(
            "  {config} | {} | account {} | {:?}",
            event.id, event.account, event.kind
        );
    }

    println!();
    // Ask the vendor again now (its view is otherwise reused for a minute).
    service.refresh_vendor_views().await;
    let health = service.health(CONFIG).await?;
    println!("Callback health: {} — {}", health.state, health.reason);
    println!(
        "  last delivery {}, accepted {}, duplicate {}, rejected {} {:?}",
        health
            .last_delivery_at
            .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339()),
        health.accepted,
        health.duplicate,
        health.rejected,
        health.rejected_by_reason
    );
    if let Some(last) = &health.last_rejection {
        println!("  last rejection: {} ({})", last.detail, last.reason);
    }
    if let Some(vendor) = &health.vendor {
        println!(
            "  the vendor's view: {} enabled={} failures in a row={}",
            vendor.url, vendor.enabled, vendor.failures
        );
    }
    println!();
    println!("As JSON ({base}admin/callbacks/total-connect-main/health):");
    println!("{}", serde_json::to_string_pretty(&health)?);
    println!();
    println!("The admin status page: {base}admin/callbacks/total-connect-main");

    server.abort();
    drop(service);
    let _ = std::fs::remove_dir_all(&folder);
    Ok(())
}

fn status(status: Option<u16>) -> String {
    status.map_or_else(|| "no answer".to_owned(), |s| s.to_string())
}
