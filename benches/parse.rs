//! `cargo bench --bench parse`: reading SOAP answers (the tree reader against the streaming
//! reader, on Alarm.com's `GetCustomerInfo` and a 50,000-id `GetCustomerList`) and writing
//! request envelopes (a `Node` tree against the direct writer into the reused buffer).
//!
//! Before criterion runs, a counting allocator measures the peak heap each reader needs for
//! the 50,000-id list and for one `CustomerInfo`, beyond the answer's own bytes, and prints it.
//! Under `cargo test --benches` each case runs once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput};
use interactive_services::http::soap::{self, Node, SoapVersion, XmlWriter, stream};
use interactive_services::providers::alarm_com::decode;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a new block then the old one freed: the peak a copying realloc needs.
        let now = CURRENT.fetch_add(new_size, Ordering::Relaxed) + new_size;
        PEAK.fetch_max(now, Ordering::Relaxed);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The peak heap `f` needed beyond what was allocated before it ran (its result included).
fn peak_heap<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = black_box(f());
    (PEAK.load(Ordering::Relaxed).saturating_sub(base), out)
}

fn customer_info_envelope() -> Vec<u8> {
    let addons: String = [
        "LightAutomation",
        "ThermostatControl",
        "RemoteArming",
        "ZWaveLocks",
    ]
    .iter()
    .map(|a| format!("<AddOnFeatureEnum>{a}</AddOnFeatureEnum>"))
    .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId><FirstName>Ada</FirstName><LastName>Lovelace &amp; Co</LastName><PrimaryEmail>ada@example.com</PrimaryEmail><PrimaryPhoneNumber>5555550100</PrimaryPhoneNumber><LoginName>ada</LoginName><InstallAddress><Street1>1 Analytical Way</Street1><City>London</City><State>NY</State><Zip>12345</Zip></InstallAddress><IsTerminated>false</IsTerminated><JoinDate>2026-01-15T09:30:00</JoinDate><TermDate>0001-01-01T00:00:00</TermDate><ModemInfo><ModemSerial>ABC123</ModemSerial></ModemInfo><ServicePlanInfo><PackageId>9</PackageId><PlanType>AI</PlanType><Addons>{addons}</Addons><TotalServicePrice>39.99</TotalServicePrice></ServicePlanInfo><DealerId>0</DealerId><SubDealerId>0</SubDealerId></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#
    )
    .into_bytes()
}

fn customer_list_envelope(n: usize) -> Vec<u8> {
    let ints: String = (0..n)
        .map(|i| format!("<int>{}</int>", 7_000_000 + i))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerListResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerListResult>{ints}</GetCustomerListResult></GetCustomerListResponse></soap:Body></soap:Envelope>"#
    )
    .into_bytes()
}

fn fault_envelope() -> Vec<u8> {
    br#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Server did not recognize the value of HTTP Header SOAPAction: http://www.alarm.com/WebServices/GetLoginRoles.</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"#.to_vec()
}

const NS: &str = "http://www.alarm.com/WebServices";

/// A `CreateCustomer`-shaped body as a `Node` tree (how rare calls are written).
fn create_customer_node() -> (Node, Node) {
    let header = Node::new("Authentication")
        .xmlns(NS)
        .field("User", "user")
        .field("Password", "password")
        .field("TwoFactorDeviceId", "");
    let input = Node::new("input")
        .child(
            Node::new("CustomerAccountAddress")
                .field("FirstName", "Ada")
                .field("LastName", "Lovelace & Co")
                .field("Street1", "1 Analytical Way")
                .field("City", "London")
                .field("Zip", "12345")
                .field("CountryId", "USA"),
        )
        .field("CustomerAccountEmail", "ada@example.com")
        .field("DealerCustomerId", "D-1")
        .field("PackageId", "9")
        .child(
            Node::new("AddOnFeatures")
                .field("AddOnFeatureEnum", "LightAutomation")
                .field("AddOnFeatureEnum", "ZWaveLocks"),
        );
    (header, Node::new("CreateCustomer").xmlns(NS).child(input))
}

fn authentication(w: &mut XmlWriter<'_>) {
    w.start_ns("Authentication", NS)
        .field("User", "user")
        .field("Password", "password")
        .field("TwoFactorDeviceId", "")
        .end("Authentication");
}

/// Time per call of `a` and `b`, measured in alternating rounds (so that a busy machine slows
/// both alike): the median of the rounds' means, for each.
fn paired<A, B>(
    rounds: usize,
    iters: u32,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (f64, f64) {
    let mut ta = Vec::with_capacity(rounds);
    let mut tb = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut time_a = || {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                black_box(a());
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
        };
        let first = time_a();
        let mut time_b = || {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                black_box(b());
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
        };
        let second = time_b();
        ta.push(first);
        tb.push(second);
    }
    ta.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    (ta[rounds / 2], tb[rounds / 2])
}

/// Tree against stream, measured in alternating rounds, printed before criterion runs.
fn paired_report(quick: bool) {
    let (rounds, scale) = if quick { (1, 1) } else { (15, 1) };
    let info = customer_info_envelope();
    let (tree, streamed) = paired(
        rounds,
        2_000 * scale,
        || decode::customer_info_tree(&info).is_ok(),
        || decode::customer_info(&info).is_ok(),
    );
    println!(
        "GetCustomerInfo ({} bytes) read into an IspAccount, median of {rounds} alternating rounds: tree reader {:.2} µs, streaming reader {:.2} µs, stream/tree {:.2}",
        info.len(),
        tree / 1e3,
        streamed / 1e3,
        streamed / tree
    );
    // The floor: quick-xml's namespace-resolving reader alone, every event read and dropped.
    let (floor, streamed) = paired(
        rounds,
        2_000 * scale,
        || {
            let text = std::str::from_utf8(&info).unwrap_or("");
            let mut r = quick_xml::reader::NsReader::from_str(text);
            let mut n = 0u32;
            while let Ok((_, e)) = r.read_resolved_event() {
                if matches!(e, quick_xml::events::Event::Eof) {
                    break;
                }
                n += 1;
            }
            n
        },
        || decode::customer_info(&info).is_ok(),
    );
    println!(
        "GetCustomerInfo, median of {rounds} alternating rounds: quick-xml NsReader events alone (the floor) {:.2} µs, streaming reader into an IspAccount {:.2} µs",
        floor / 1e3,
        streamed / 1e3
    );
    let list = customer_list_envelope(50_000);
    let (tree, streamed) = paired(
        rounds.min(7),
        if quick { 1 } else { 5 },
        || decode::customer_list_tree(&list).map(|v| v.len()).ok(),
        || decode::customer_list(&list).map(|v| v.len()).ok(),
    );
    println!(
        "GetCustomerList of 50,000 ids, median of alternating rounds: tree reader {:.2} ms, streaming reader {:.2} ms, stream/tree {:.2}",
        tree / 1e6,
        streamed / 1e6,
        streamed / tree
    );
    let (node, direct) = paired(
        rounds,
        20_000,
        || {
            let header = Node::new("Authentication")
                .xmlns(NS)
                .field("User", "user")
                .field("Password", "password")
                .field("TwoFactorDeviceId", "");
            let body = Node::new("GetCustomerInfo")
                .xmlns(NS)
                .field("customerId", black_box(7_000_001i64).to_string());
            soap::envelope(SoapVersion::V11, Some(&header), &body)
        },
        || {
            let id = black_box(7_000_001i64);
            let body = move |w: &mut XmlWriter<'_>| {
                w.start_ns("GetCustomerInfo", NS)
                    .field_int("customerId", id)
                    .end("GetCustomerInfo");
            };
            soap::request_body(SoapVersion::V11, Some(&authentication), &body)
        },
    );
    println!(
        "GetCustomerInfo request envelope written, median of {rounds} alternating rounds: Node tree + envelope() {node:.0} ns, direct writer + reused buffer {direct:.0} ns"
    );
}

/// Peak heap of each reader, printed once before criterion runs.
fn memory_report() {
    let list = customer_list_envelope(50_000);
    let (tree, ids) = peak_heap(|| decode::customer_list_tree(&list).map(|v| v.len()));
    let (streamed, ids2) = peak_heap(|| decode::customer_list(&list).map(|v| v.len()));
    println!(
        "peak heap beyond the body, GetCustomerList of 50,000 ids ({} bytes = {} KiB): tree reader {} bytes, streaming reader {} bytes ({:?} / {:?} ids; the answer, 50,000 AccountIds, is part of both)",
        list.len(),
        list.len() / 1024,
        tree,
        streamed,
        ids.ok(),
        ids2.ok(),
    );
    let info = customer_info_envelope();
    let (tree, _) = peak_heap(|| decode::customer_info_tree(&info).is_ok());
    let (streamed, _) = peak_heap(|| decode::customer_info(&info).is_ok());
    println!(
        "peak heap beyond the body, GetCustomerInfo ({} bytes): tree reader {tree} bytes, streaming reader {streamed} bytes",
        info.len()
    );
}

fn benches(c: &mut Criterion) {
    let info = customer_info_envelope();
    assert_eq!(
        decode::customer_info(&info).ok(),
        decode::customer_info_tree(&info).ok(),
        "the two readers agree on the bench's answer"
    );
    let mut g = c.benchmark_group("read GetCustomerInfo");
    g.throughput(Throughput::Bytes(info.len() as u64));
    g.bench_function("tree reader + parse_customer_info", |b| {
        b.iter(|| decode::customer_info_tree(black_box(&info)))
    });
    g.bench_function("streaming reader + CustomerInfo decoder", |b| {
        b.iter(|| decode::customer_info(black_box(&info)))
    });
    g.bench_function("tree: read_envelope only", |b| {
        b.iter(|| soap::read_envelope(black_box(&info)))
    });
    g.bench_function("stream: read_envelope (response element as a tree)", |b| {
        b.iter(|| stream::read_envelope(black_box(&info)))
    });
    g.finish();

    let list = customer_list_envelope(50_000);
    let mut g = c.benchmark_group("read GetCustomerList 50,000 ids");
    g.throughput(Throughput::Bytes(list.len() as u64));
    g.sample_size(20);
    g.bench_function("tree reader", |b| {
        b.iter(|| decode::customer_list_tree(black_box(&list)))
    });
    g.bench_function("streaming reader", |b| {
        b.iter(|| decode::customer_list(black_box(&list)))
    });
    g.finish();

    let fault = fault_envelope();
    let mut g = c.benchmark_group("read a SOAP fault");
    g.bench_function("tree reader", |b| {
        b.iter(|| soap::read_envelope(black_box(&fault)))
    });
    g.bench_function("streaming reader", |b| {
        b.iter(|| stream::read_envelope(black_box(&fault)))
    });
    g.finish();

    let mut g = c.benchmark_group("write an envelope");
    g.bench_function("CreateCustomer: Node tree built + envelope()", |b| {
        b.iter(|| {
            let (header, body) = create_customer_node();
            soap::envelope(SoapVersion::V11, Some(&header), &body)
        })
    });
    g.bench_function("CreateCustomer: Node tree built + request_body()", |b| {
        b.iter(|| {
            let (header, body) = create_customer_node();
            soap::request_body(SoapVersion::V11, Some(&header), &body)
        })
    });
    g.bench_function("GetCustomerInfo: Node tree built + envelope()", |b| {
        b.iter(|| {
            let header = Node::new("Authentication")
                .xmlns(NS)
                .field("User", "user")
                .field("Password", "password")
                .field("TwoFactorDeviceId", "");
            let body = Node::new("GetCustomerInfo")
                .xmlns(NS)
                .field("customerId", black_box(7_000_001i64).to_string());
            soap::envelope(SoapVersion::V11, Some(&header), &body)
        })
    });
    g.bench_function("GetCustomerInfo: direct writer + request_body()", |b| {
        b.iter(|| {
            let id = black_box(7_000_001i64);
            let body = move |w: &mut XmlWriter<'_>| {
                w.start_ns("GetCustomerInfo", NS)
                    .field_int("customerId", id)
                    .end("GetCustomerInfo");
            };
            soap::request_body(SoapVersion::V11, Some(&authentication), &body)
        })
    });
    g.finish();
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    // PARSE_BENCH_CRITERION_ONLY=1 leaves the reports out (for profiling one case).
    if std::env::var_os("PARSE_BENCH_CRITERION_ONLY").is_none() {
        memory_report();
        paired_report(quick);
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
