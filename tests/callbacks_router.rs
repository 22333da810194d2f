//! The callback router over real loopback HTTP: the Total Connect simulator registers and
//! pushes signed callbacks; status codes for each outcome, 100 concurrent deliveries of one
//! event reaching the sink once, the health JSON without secrets, and the HTML status page
//! rendered in headless Chromium.

#[path = "callbacks_common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RecordingSink, options};
use interactive_services::callbacks::{CallbackService, HealthPolicy, SIGNATURE_HEADER};
use interactive_services::providers::total_connect::callback::CallbackEvent;
use interactive_services::providers::total_connect::simulator::{
    DEFAULT_CALLBACK_SECRET, TotalConnectSimulator,
};
use interactive_services::sync::{Clock, ManualClock, MemoryStore};
use interactive_services::{IspCatalog, IspConfig, ProviderRegistry};
use url::Url;

const CONFIG: &str = "Total Connect (main)";
/// A name that needs escaping on the admin pages.
const ODD_NAME: &str = r#"<b>Bold & "Co"</b> <script>alert(1)</script>"#;

struct Harness {
    sim: TotalConnectSimulator,
    service: CallbackService<MemoryStore>,
    sink: Arc<RecordingSink>,
    clock: ManualClock,
    addr: SocketAddr,
    base: Url,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    async fn start() -> Self {
        let sim = TotalConnectSimulator::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        let base = Url::parse(&format!("http://{addr}/")).expect("a URL");
        // The wall clock, standing still: the simulator signs with the wall clock.
        let clock = ManualClock::default();
        let store = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
        let sink = Arc::new(RecordingSink::default());
        let service = CallbackService::builder(store, sink.clone())
            .sync_options(options(&clock))
            .policy(HealthPolicy::default())
            .public_base(base.clone())
            .build();

        let mut catalog = IspCatalog::new();
        catalog
            .add(sim.config_with_callbacks(CONFIG))
            .expect("added");
        // A second configuration, without callback settings, with a name to escape.
        let odd = IspConfig::builder()
            .name(ODD_NAME)
            .provider("alarm_com")
            .credential("login", "integration-user")
            .credential("password", "correct horse battery")
            .build()
            .expect("a valid configuration");
        catalog.add(odd).expect("added");
        service
            .set_catalog(&catalog, &ProviderRegistry::with_built_ins())
            .expect("the catalog is taken");

        let router = service.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let registration = service
            .register_at_vendor(CONFIG)
            .await
            .expect("registered");
        assert_eq!(
            registration.url.as_str(),
            format!("http://{addr}/callbacks/total-connect-main")
        );
        Self {
            sim,
            service,
            sink,
            clock,
            addr,
            base,
            http: reqwest::Client::new(),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    fn event(&self, id: &str) -> CallbackEvent {
        CallbackEvent::new(id, "Alarm", "5100001", self.clock.now())
            .data(serde_json::json!({ "Code": "130", "Zone": "3", "Description": "Burglary" }))
    }
}

fn reason_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("a JSON answer");
    v["reason"].as_str().unwrap_or("").to_owned()
}

/// Sends `head` (and then `body`) on a fresh connection and answers the status line.
fn raw_exchange(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("write head");
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_over_loopback() {
    let h = Harness::start().await;

    // Accepted, then the same event again: a duplicate, both 200.
    let event = h.event("an-100");
    let first = h.sim.push(&event).await;
    assert_eq!(first.status, Some(200), "{first:?}");
    assert!(
        first.body.contains(r#""outcome":"accepted""#),
        "{}",
        first.body
    );
    let again = h.sim.push(&event).await;
    assert_eq!(again.status, Some(200), "{again:?}");
    assert!(
        again.body.contains(r#""outcome":"duplicate""#),
        "{}",
        again.body
    );

    // Tampered on the way: 401, the reason named, no secret or signature echoed.
    let tampered = h.sim.push_tampered(&h.event("an-101")).await;
    assert_eq!(tampered.status, Some(401), "{tampered:?}");
    assert_eq!(reason_of(&tampered.body), "bad_signature");
    assert!(!tampered.body.contains(DEFAULT_CALLBACK_SECRET));
    assert!(!tampered.body.contains("v1="), "{}", tampered.body);

    // No signature header: 400.
    let unsigned = h.sim.push_raw(h.event("an-102").to_body(), None).await;
    assert_eq!(unsigned.status, Some(400));
    assert_eq!(reason_of(&unsigned.body), "missing_signature");

    // Signed 301 s ago: 401.
    let late = h
        .sim
        .push_at(&h.event("an-103"), h.clock.now().timestamp() - 301)
        .await;
    assert_eq!(late.status, Some(401));
    assert_eq!(reason_of(&late.body), "timestamp_too_old");

    // Not the vendor's format, signed correctly: 400.
    let body = b"{\"hello\":\"world\"}".to_vec();
    let header = h.sim.signature(h.clock.now().timestamp(), &body);
    let malformed = h.sim.push_raw(body, Some(header)).await;
    assert_eq!(malformed.status, Some(400));
    assert_eq!(reason_of(&malformed.body), "malformed_body");

    // Unknown configuration, and a configuration without callback settings: 404.
    let payload = h.event("an-104").to_body();
    let header = h.sim.signature(h.clock.now().timestamp(), &payload);
    for path in [
        "callbacks/nobody",
        "callbacks/b-bold-co-b-script-alert-1-script",
    ] {
        let r = h
            .http
            .post(h.url(path))
            .header(SIGNATURE_HEADER, &header)
            .body(payload.clone())
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    // The configuration's name, URL-encoded, reaches it too.
    let by_name = h
        .http
        .post(h.url("callbacks/Total%20Connect%20(main)"))
        .header(SIGNATURE_HEADER, &header)
        .body(payload.clone())
        .send()
        .await
        .expect("an answer");
    assert_eq!(by_name.status().as_u16(), 200);

    // Only POST delivers.
    let get = h
        .http
        .get(h.url("callbacks/total-connect-main"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(get.status().as_u16(), 405);

    // Over the cap: declared (a 10 MB Content-Length, refused before reading a byte) ...
    let status = raw_exchange(
        h.addr,
        "POST /callbacks/total-connect-main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n",
        b"",
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // ... and undeclared (chunked, cut off one byte past the cap while reading).
    let cap = h.service.max_body_bytes();
    let mut chunked = Vec::new();
    let mut left = cap + 1;
    while left > 0 {
        let n = left.min(16 * 1024);
        chunked.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        chunked.extend(std::iter::repeat_n(b'[', n));
        chunked.extend_from_slice(b"\r\n");
        left -= n;
    }
    let addr = h.addr;
    let status = tokio::task::spawn_blocking(move || {
        raw_exchange(
            addr,
            "POST /callbacks/total-connect-main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            &chunked,
        )
    })
    .await
    .expect("joined");
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // The sink saw the two accepted events once each.
    let ids: Vec<String> = h.sink.events().iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids, ["an-100", "an-104"]);

    // The vendor's view records its attempts: four refused in a row since the duplicate (the
    // other requests were not the vendor's).
    let view = h.sim.callback().expect("registered");
    assert_eq!(view.last_attempt_status, Some(400));
    assert_eq!(view.failed_attempts, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_deliveries_reach_the_sink_once() {
    let h = Harness::start().await;
    let payload = h.event("an-200").to_body();
    let header = h.sim.signature(h.clock.now().timestamp(), &payload);
    let url = h.url("callbacks/total-connect-main");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let http = h.http.clone();
        let url = url.clone();
        let header = header.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header(SIGNATURE_HEADER, header)
                .body(payload)
                .send()
                .await
                .expect("an answer");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }));
    }
    let mut accepted = 0;
    let mut duplicate = 0;
    for t in tasks {
        let (status, body) = t.await.expect("joined");
        assert_eq!(status, 200, "{body}");
        if body.contains(r#""outcome":"accepted""#) {
            accepted += 1;
        } else if body.contains(r#""outcome":"duplicate""#) {
            duplicate += 1;
        }
    }
    assert_eq!((accepted, duplicate), (1, 99));
    assert_eq!(h.sink.calls(), 1, "the sink ran once");
    assert!(started.elapsed() < Duration::from_secs(30));

    let health = h.service.health(CONFIG).await.expect("health");
    assert_eq!(
        (health.accepted, health.duplicate, health.rejected),
        (1, 99, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_json_shows_state_counts_and_configuration_without_secrets() {
    let h = Harness::start().await;
    assert_eq!(h.sim.push(&h.event("an-300")).await.status, Some(200));
    assert_eq!(
        h.sim.push_tampered(&h.event("an-301")).await.status,
        Some(401)
    );

    let r = h
        .http
        .get(h.url("admin/callbacks/total-connect-main/health"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let text = r.text().await.expect("a body");
    assert!(!text.contains(DEFAULT_CALLBACK_SECRET), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let config = &v["configuration"];
    assert_eq!(config["config"], CONFIG);
    assert_eq!(config["provider"], "total_connect");
    assert_eq!(config["configured"], true);
    assert_eq!(config["tolerance_seconds"], 300);
    assert_eq!(config["rotation_in_progress"], false);
    assert_eq!(
        config["url"],
        format!("http://{}/callbacks/total-connect-main", h.addr)
    );
    let health = &v["health"];
    assert_eq!(health["state"], "healthy");
    assert_eq!(health["accepted"], 1);
    assert_eq!(health["rejected"], 1);
    assert_eq!(health["rejected_by_reason"]["bad_signature"], 1);
    assert_eq!(health["last_rejection"]["reason"], "bad_signature");
    let last = health["last_delivery_at"]
        .as_str()
        .expect("a last delivery");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(last).expect("RFC 3339"),
        h.clock.now()
    );
    assert_eq!(health["vendor"]["enabled"], true);

    // The other configuration: not configured.
    let r = h
        .http
        .get(h.url("admin/callbacks/b-bold-co-b-script-alert-1-script/health"))
        .send()
        .await
        .expect("an answer");
    let v: serde_json::Value =
        serde_json::from_str(&r.text().await.expect("a body")).expect("JSON");
    assert_eq!(v["health"]["state"], "not_configured");
    assert!(!v.to_string().contains("correct horse battery"));

    let r = h
        .http
        .get(h.url("admin/callbacks/nobody/health"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_pages_escape_everything() {
    let h = Harness::start().await;
    let r = h
        .http
        .get(h.url("admin/callbacks"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status().as_u16(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = r.text().await.expect("a body");
    assert!(
        page.contains("&lt;b&gt;Bold &amp; &quot;Co&quot;&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    assert!(!page.contains("<b>Bold"), "{page}");
    assert!(!page.contains("correct horse battery"));
}

/// Where the distribution's Chromium is.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Renders `url` in headless Chromium and answers the DOM, or `None` when Chromium is not
/// installed (a failure in CI).
async fn render(url: String) -> Option<String> {
    if !std::path::Path::new(CHROMIUM).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{CHROMIUM} is missing; CI installs it (apt-get install -y chromium)");
        }
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install -y chromium)");
        return None;
    }
    let dump = tokio::task::spawn_blocking(move || {
        let profile = std::env::temp_dir().join(format!(
            "callbacks-chromium-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let mut child = std::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(&url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromium starts");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_dir_all(&profile);
                    panic!("chromium did not finish in 90 s");
                }
            }
        }
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = std::fs::remove_dir_all(&profile);
        out
    })
    .await
    .expect("joined");
    Some(dump)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_in_headless_chromium() {
    let h = Harness::start().await;
    assert_eq!(h.sim.push(&h.event("an-400")).await.status, Some(200));
    let delivered_at = h.clock.now().to_rfc3339();

    let Some(dom) = render(h.url("admin/callbacks/total-connect-main")).await else {
        return;
    };
    assert!(
        dom.contains("<title>Callbacks — Total Connect (main)</title>"),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<span id="state" class="badge healthy">Healthy</span>"#),
        "the status is shown: {dom}"
    );
    assert!(
        dom.contains(&format!(r#"<td id="last-delivery">{delivered_at}</td>"#)),
        "the last delivery is shown: {dom}"
    );
    assert!(dom.contains(r#"<td id="accepted">1</td>"#), "{dom}");
    assert!(!dom.contains(DEFAULT_CALLBACK_SECRET));

    // The index, with the name that needs escaping, stays text in the rendered page.
    let Some(index) = render(h.url("admin/callbacks")).await else {
        return;
    };
    assert!(
        index.contains("&lt;b&gt;Bold &amp; \"Co\"&lt;/b&gt;"),
        "{index}"
    );
    assert!(!index.contains("<script>alert"), "{index}");
    assert!(index.contains("Not configured"), "{index}");
}
