//! `cargo bench --bench callbacks`: verified callback deliveries per second through the router
//! into the in-memory store and into the SQLite store (a file in the temporary folder, WAL,
//! `synchronous=FULL`: each delivery commits its claim, its applied mark and its traffic count
//! to disk) — in process (the router as a tower service: verification, parsing,
//! the engine's dedupe, counting) and over loopback HTTP (the same plus hyper and a client on
//! the same cores). Each delivery is a distinct event, signed; every answer must be 200 and
//! the sink must see each event once.
//!
//! A plain bench binary (no harness). The floor is 20,000 verified deliveries per second in
//! process on the reference machine (2 shared cores).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use interactive_services::callbacks::{CallbackService, SIGNATURE_HEADER, signature_header};
use interactive_services::providers::total_connect::callback::CallbackEvent;
use interactive_services::sync::{
    EventSink, IdempotencyKey, MemoryStore, SinkError, SqliteStore, SyncOptions, SyncStore,
};
use interactive_services::{CallbackConfig, IspConfig, IspEvent, ProviderRegistry};
use tower::ServiceExt;

const SECRET: &str = "whsec-bench-0123456789abcdef";
const FLOOR: f64 = 20_000.0;

#[derive(Debug, Default)]
struct CountingSink(AtomicU64);

#[async_trait]
impl EventSink for CountingSink {
    async fn apply(&self, _: &str, _: &IspEvent, _: &IdempotencyKey) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn service<S: SyncStore>(store: Arc<S>) -> (CallbackService<S>, Arc<CountingSink>) {
    let config = IspConfig::builder()
        .name("bench")
        .provider("total_connect")
        // Receiving makes no vendor call: a closed loopback port.
        .endpoint("http://127.0.0.1:9/")
        .credential("user_name", "dealer")
        .credential("password", "a-password")
        .credential("application_id", "APP")
        .credential("application_version", "1.0")
        .credential("company_id", "24680")
        .callback(CallbackConfig::new(SECRET))
        .build()
        .expect("a valid configuration");
    let sink = Arc::new(CountingSink::default());
    let service = CallbackService::builder(store, sink.clone())
        .sync_options(SyncOptions::new("bench"))
        .build();
    let provider = ProviderRegistry::with_built_ins()
        .build(&config)
        .expect("builds");
    service.add(&config, provider).expect("added");
    (service, sink)
}

/// `n` signed deliveries of distinct events, starting at event `from`.
fn deliveries(from: usize, n: usize) -> Vec<(String, Vec<u8>)> {
    let now = Utc::now();
    (from..from + n)
        .map(|i| {
            let body = CallbackEvent::new(format!("an-{i:09}"), "Alarm", "5100001", now)
                .account_numbers("12", "34", "5678")
                .data(serde_json::json!({ "Code": "130", "Zone": "3", "Description": "Burglary" }))
                .to_body();
            (signature_header(now.timestamp(), &body, &[SECRET]), body)
        })
        .collect()
}

async fn in_process<S: SyncStore>(store: Arc<S>, n: usize, concurrency: usize) -> f64 {
    let (service, sink) = service(store);
    let router = service.router();
    let work = Arc::new(deliveries(0, n));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (router, work, next) = (router.clone(), work.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((header, body)) = work.get(i) else {
                    break;
                };
                let request = Request::builder()
                    .method("POST")
                    .uri("/callbacks/bench")
                    .header(SIGNATURE_HEADER, header.as_str())
                    .header("content-type", "application/json")
                    .header("content-length", body.len())
                    .body(Body::from(body.clone()))
                    .expect("a request");
                let response = router.clone().oneshot(request).await.expect("infallible");
                assert_eq!(response.status().as_u16(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.expect("joined");
    }
    let elapsed = started.elapsed();
    assert_eq!(sink.0.load(Ordering::Relaxed), n as u64, "each event once");
    n as f64 / elapsed.as_secs_f64()
}

async fn over_loopback(n: usize, concurrency: usize) -> f64 {
    let (service, sink) = service(Arc::new(MemoryStore::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/callbacks/bench",
        listener.local_addr().expect("addr")
    );
    let router = service.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let work = Arc::new(deliveries(0, n));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, work, next, url) = (client.clone(), work.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((header, body)) = work.get(i) else {
                    break;
                };
                let response = client
                    .post(&url)
                    .header(SIGNATURE_HEADER, header.as_str())
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("an answer");
                assert_eq!(response.status().as_u16(), 200);
                let _ = response.bytes().await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("joined");
    }
    let elapsed = started.elapsed();
    server.abort();
    assert_eq!(sink.0.load(Ordering::Relaxed), n as u64, "each event once");
    n as f64 / elapsed.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Warm up.
        let _ = in_process(Arc::new(MemoryStore::new()), 2_000, 32).await;
        let rate = in_process(Arc::new(MemoryStore::new()), 100_000, 64).await;
        let verdict = if rate >= FLOOR { "above" } else { "BELOW" };
        println!(
            "{:<56} {:>10.0} deliveries/s ({verdict} the {FLOOR:.0}/s floor)",
            "verified deliveries, in process (router → memory store)", rate
        );
        let rate = over_loopback(20_000, 32).await;
        println!(
            "{:<56} {:>10.0} deliveries/s",
            "verified deliveries, loopback HTTP (client on the same cores)", rate
        );
        let path =
            std::env::temp_dir().join(format!("isp-bench-callbacks-{}.db", std::process::id()));
        let store = Arc::new(SqliteStore::open(&path).await.expect("a SQLite store"));
        let rate = in_process(store.clone(), 5_000, 64).await;
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        println!(
            "{:<56} {:>10.0} deliveries/s",
            "verified deliveries, in process (router → SQLite store)", rate
        );
    });
}
