//! `cargo bench --bench account`: Alarm.com `account()` (`GetCustomerInfo`) against a raw
//! reqwest POST of the same request bytes, in one run, on a loopback HTTP/1.1 server that
//! answers a canned `GetCustomerInfo` answer and counts the connections it accepts.
//!
//! First a fixed measurement like the issue's: rounds of 2,000 sequential calls of each
//! contender after 200 warm-up calls, one call of each in turn (raw POST, the crate's transport
//! alone with the same bytes, `account()`), each call timed; the median per call, calls per
//! second (from the summed call times) and the ratios of medians are printed for every round,
//! then the median of the rounds' medians. Then the number of
//! connections N sequential calls of one provider opened. Then criterion's own measurement of
//! both. Under `cargo test --benches` each part runs briefly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use interactive_services::http::{Request, Transport, TransportOptions, soap};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::{AccountId, InteractiveServicesProvider, IspConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const ANSWER: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId><FirstName>Ada</FirstName><LastName>Lovelace &amp; Co</LastName><PrimaryEmail>ada@example.com</PrimaryEmail><PrimaryPhoneNumber>5555550100</PrimaryPhoneNumber><LoginName>ada</LoginName><InstallAddress><Street1>1 Analytical Way</Street1><City>London</City><State>NY</State><Zip>12345</Zip></InstallAddress><IsTerminated>false</IsTerminated><JoinDate>2026-01-15T09:30:00</JoinDate><TermDate>0001-01-01T00:00:00</TermDate><ServicePlanInfo><PackageId>9</PackageId><PlanType>AI</PlanType><Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum><AddOnFeatureEnum>ThermostatControl</AddOnFeatureEnum><AddOnFeatureEnum>RemoteArming</AddOnFeatureEnum><AddOnFeatureEnum>ZWaveLocks</AddOnFeatureEnum></Addons><TotalServicePrice>39.99</TotalServicePrice></ServicePlanInfo><DealerId>0</DealerId><SubDealerId>0</SubDealerId></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#;

/// The loopback server: connections accepted, and the last request body seen.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Vec<u8>>>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves one keep-alive connection: every request gets the canned answer.
async fn serve(mut socket: TcpStream, last_body: Arc<Mutex<Vec<u8>>>) {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/xml; charset=utf-8\r\ncontent-length: {}\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        // Read one request: headers, then content-length bytes of body.
        let (head_end, length) = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        {
            let mut last = last_body.lock().await;
            last.clear();
            last.extend_from_slice(&buf[head_end..head_end + length]);
        }
        buf.drain(..head_end + length);
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Starts the server on its own thread and runtime, so that it does not share the client's.
fn start_server() -> Server {
    let accepted = Arc::new(AtomicUsize::new(0));
    let last_body = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let (a, l) = (accepted.clone(), last_body.clone());
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("server runtime: {e}"),
        };
        rt.block_on(async move {
            let listener = match TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => panic!("bind: {e}"),
            };
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            let _ = tx.send(port);
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                a.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(socket, l.clone()));
            }
        });
    });
    let port = rx.recv().unwrap_or(0);
    Server {
        port,
        accepted,
        last_body,
    }
}

fn provider(port: u16) -> AlarmCom {
    let config = IspConfig::builder()
        .name("bench")
        .provider("alarm_com")
        .endpoint(format!("http://127.0.0.1:{port}/WebServices/"))
        .credential("login", "bench-user")
        .credential("password", "bench-password")
        .default_plan("9")
        .build();
    match config
        .map_err(|e| e.to_string())
        .and_then(|c| AlarmCom::from_config(&c).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => panic!("provider: {e}"),
    }
}

/// The raw POST: a client as plain as reqwest gives, the pre-built envelope, the body read.
struct Raw {
    client: reqwest::Client,
    url: String,
    /// Built once and kept for the whole run: sent without a copy.
    body: &'static [u8],
}

impl Raw {
    async fn call(&self) -> usize {
        let r = self
            .client
            .post(&self.url)
            .header("content-type", "text/xml; charset=utf-8")
            .header(
                "soapaction",
                "\"http://www.alarm.com/WebServices/GetCustomerInfo\"",
            )
            .body(self.body)
            .send()
            .await;
        match r {
            Ok(r) => r.bytes().await.map(|b| b.len()).unwrap_or(0),
            Err(_) => 0,
        }
    }
}

/// The crate's transport alone, sending the same bytes as the raw POST (and what `account()`
/// sends): what the transport costs, apart from writing and reading SOAP.
struct Plain {
    transport: Transport,
    url: url::Url,
    body: &'static [u8],
}

impl Plain {
    async fn call(&self) -> usize {
        let mut request = Request::new("GetCustomerInfo", reqwest::Method::POST, self.url.clone());
        request.headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        request.headers.insert(
            "soapaction",
            reqwest::header::HeaderValue::from_static(
                "\"http://www.alarm.com/WebServices/GetCustomerInfo\"",
            ),
        );
        request.body = self.body.to_vec();
        request.idempotent = true;
        request.accept = Some(soap::accept_fault);
        match self.transport.send(request).await {
            Ok(r) => r.body.len(),
            Err(_) => 0,
        }
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (warm, calls, rounds) = if quick { (5, 20, 1) } else { (200, 2_000, 5) };
    let server = start_server();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let id = AccountId::new("7000001");

    // Connection reuse: N sequential calls of one provider, connections counted.
    let reuse_calls = if quick { 20 } else { 1_000 };
    let fresh = provider(server.port);
    let before = server.accepted.load(Ordering::SeqCst);
    let ok = rt.block_on(async {
        let mut ok = 0;
        for _ in 0..reuse_calls {
            if fresh.account(&id).await.is_ok() {
                ok += 1;
            }
        }
        ok
    });
    let opened = server.accepted.load(Ordering::SeqCst) - before;
    println!(
        "connection reuse: {reuse_calls} sequential account() calls of one provider ({ok} ok) opened {opened} connection(s) on the loopback listener"
    );

    // The raw POST sends exactly the bytes the provider sent.
    let sent = rt.block_on(async { server.last_body.lock().await.clone() });
    let raw = Raw {
        client: reqwest::Client::new(),
        url: format!(
            "http://127.0.0.1:{}/WebServices/CustomerManagement.asmx",
            server.port
        ),
        body: Box::leak(sent.into_boxed_slice()),
    };
    let alarm = provider(server.port);
    let plain = Plain {
        transport: match Transport::new("bench", TransportOptions::default()) {
            Ok(t) => t,
            Err(e) => panic!("transport: {e}"),
        },
        url: match url::Url::parse(&raw.url) {
            Ok(u) => u,
            Err(e) => panic!("url: {e}"),
        },
        body: raw.body,
    };

    // Each round: warm-up, then `calls` sequential calls of each contender in turn, each call
    // timed.
    let mut medians: Vec<(f64, f64, f64)> = Vec::new();
    for round in 1..=rounds {
        let (mut raw_times, mut plain_times, mut acct_times) = rt.block_on(async {
            for _ in 0..warm {
                raw.call().await;
                plain.call().await;
                let _ = alarm.account(&id).await;
            }
            // One call of each in turn, so that a machine that gets busier or quieter during
            // the round affects the three alike.
            let mut raw_times = Vec::with_capacity(calls);
            let mut plain_times = Vec::with_capacity(calls);
            let mut acct_times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                raw.call().await;
                raw_times.push(t.elapsed());
                let t = Instant::now();
                plain.call().await;
                plain_times.push(t.elapsed());
                let t = Instant::now();
                let _ = alarm.account(&id).await;
                acct_times.push(t.elapsed());
            }
            let per_second = |v: &[Duration]| {
                calls as f64
                    / v.iter()
                        .sum::<Duration>()
                        .as_secs_f64()
                        .max(f64::MIN_POSITIVE)
            };
            println!(
                "round {round}: raw POST {:.0} calls/s, account() {:.0} calls/s",
                per_second(&raw_times),
                per_second(&acct_times)
            );
            (raw_times, plain_times, acct_times)
        });
        let (r, p, a) = (
            median(&mut raw_times),
            median(&mut plain_times),
            median(&mut acct_times),
        );
        println!(
            "round {round}: median raw POST {:.1} µs, crate transport alone {:.1} µs, account() {:.1} µs; account()/raw {:.2}, transport/raw {:.2}",
            us(r),
            us(p),
            us(a),
            us(a) / us(r).max(f64::MIN_POSITIVE),
            us(p) / us(r).max(f64::MIN_POSITIVE),
        );
        medians.push((us(r), us(p), us(a)));
    }
    let mid = |f: fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = medians.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (r, p, a) = (mid(|m| m.0), mid(|m| m.1), mid(|m| m.2));
    println!(
        "median of the {rounds} round medians: raw POST {r:.1} µs, crate transport alone {p:.1} µs, account() {a:.1} µs; account()/raw {:.2}, transport/raw {:.2}, account() beyond the transport {:.1} µs",
        a / r.max(f64::MIN_POSITIVE),
        p / r.max(f64::MIN_POSITIVE),
        a - p
    );

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("GetCustomerInfo on loopback");
    g.bench_function("raw reqwest POST of the same bytes", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    raw.call().await;
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("AlarmCom::account()", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let _ = alarm.account(&id).await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    c.final_summary();
}
