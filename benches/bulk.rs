//! `cargo bench --bench bulk`: bulk provisioning through [`Bulk`] against the Alarm.com
//! simulator with 20 ms of latency, 64 provisions in flight.
//!
//! The simulator runs in a child process (this binary again, with `BULK_BENCH_SIMULATOR` set),
//! so that the two sides' memory can be told apart: the parent is the provisioning process
//! only. The child starts its simulator with `SimOptions::for_load()` (bounded call log, no
//! request recording, recycled wiremock servers); `BULK_BENCH_SIM_RECORDING=1` starts it with
//! the defaults instead (every request recorded), for comparison.
//!
//! What it prints and measures:
//!
//! 1. `memory`: one run of 10,000 customers (200 outside `cargo bench`), reporting customers/s,
//!    the ideal rate for the round trips each provision needed (`in flight / (round trips ×
//!    latency)`), the ratio, the provisioning process's peak heap (a counting global
//!    allocator: live bytes at their highest during the run) and peak resident set (`VmHWM`
//!    from `/proc/self/status`), and the simulator process's peak resident set.
//! 2. criterion group `bulk_provision`: the [`Bulk`] API and the hand-written
//!    `buffer_unordered(64)` loop it replaces, 1,000 customers per iteration against a fresh
//!    simulator each time (started outside the timed part: the Alarm.com simulator looks
//!    customers up by scanning them all, so a simulator that already holds tens of thousands
//!    would measure itself), throughput in customers per second.
//!
//! Outside `cargo bench` (`cargo test --benches`) everything runs once on a small batch.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use futures::{StreamExt, stream};
use interactive_services::bulk::Bulk;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::secrecy::ExposeSecret;
use interactive_services::testkit::sim::SimOptions;
use interactive_services::{
    InteractiveServicesProvider, IspConfig, ProviderRegistry, ProvisionRequest,
};

const IN_FLIGHT: usize = 64;
const LATENCY: Duration = Duration::from_millis(20);
const CHILD: &str = "BULK_BENCH_SIMULATOR";
const CHILD_RECORDING: &str = "BULK_BENCH_SIM_RECORDING";

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
        if new_size >= layout.size() {
            let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// `VmHWM` and `VmRSS` of this process, in KiB (Linux; zeros elsewhere).
fn resident_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux; zero
/// elsewhere).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// The child: the simulator.

/// Serves the simulator until stdin closes; `stats` on stdin prints its counts and memory.
fn simulator_child() {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        eprintln!("simulator: no runtime");
        return;
    };
    runtime.block_on(async {
        let options = if std::env::var_os(CHILD_RECORDING).is_some() {
            SimOptions::new()
        } else {
            SimOptions::for_load()
        };
        let sim = options.scope(AlarmComSimulator::start()).await;
        sim.set_latency(LATENCY);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            sim.config().to_json_with_secrets().expose_secret()
        );
        let _ = writeln!(out, "END");
        let _ = out.flush();
        drop(out);
        let lines = tokio::task::spawn_blocking(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if line.trim() == "stats" {
                    let (hwm, rss) = resident_kib();
                    let calls = sim.call_count("LookupCustomerIdFromDealerCustomerId")
                        + sim.call_count("CreateCustomer");
                    let creates = sim.call_count("CreateCustomer");
                    let cpu = cpu_time().as_millis();
                    println!("{calls} {creates} {hwm} {rss} {cpu}");
                }
            }
        });
        let _ = lines.await;
    });
}

/// The simulator process, its configuration and its stdin.
struct Simulator {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    config: IspConfig,
}

/// What the simulator reports.
#[derive(Debug, Clone, Copy)]
struct SimStats {
    /// Lookup and create calls received.
    calls: u64,
    creates: u64,
    hwm_kib: u64,
    rss_kib: u64,
    cpu_ms: u64,
}

impl Simulator {
    fn spawn() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .env(CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut json = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("the simulator ended before giving its configuration".into());
            }
            if line.trim() == "END" {
                break;
            }
            json.push_str(&line);
        }
        let config = IspConfig::from_json(&json).map_err(|e| e.to_string())?;
        Ok(Self {
            child,
            stdin,
            stdout,
            config,
        })
    }

    fn stats(&mut self) -> Option<SimStats> {
        writeln!(self.stdin, "stats").ok()?;
        self.stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        match n[..] {
            [calls, creates, hwm_kib, rss_kib, cpu_ms] => Some(SimStats {
                calls,
                creates,
                hwm_kib,
                rss_kib,
                cpu_ms,
            }),
            _ => None,
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // Closing stdin ends the child; wait for it so no process is left behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: provisioning.

fn requests(
    run: &str,
    n: usize,
) -> impl Iterator<Item = (usize, ProvisionRequest)> + Send + 'static {
    let run = run.to_owned();
    (0..n).map(move |i| {
        let request = ProvisionRequest::builder(format!("{run}-{i:06}"))
            .name("Bench", "Mark")
            .build();
        (i, request)
    })
}

/// Provisions `n` customers through [`Bulk`]; returns how many succeeded.
async fn bulk_provision(
    provider: &Arc<dyn InteractiveServicesProvider>,
    run: &str,
    n: usize,
) -> usize {
    let mut ids = Vec::with_capacity(n);
    let mut results = Bulk::new(provider.clone())
        .concurrency(IN_FLIGHT)
        .provision(requests(run, n));
    while let Some(r) = results.next().await {
        if let Ok(account) = r.result {
            ids.push(account.id);
        }
    }
    ids.len()
}

/// The hand-written loop the bulk API replaces.
async fn buffer_unordered(
    provider: &Arc<dyn InteractiveServicesProvider>,
    run: &str,
    n: usize,
) -> usize {
    stream::iter(requests(run, n).map(|(_, request)| {
        let provider = provider.clone();
        async move { provider.provision(&request).await.is_ok() }
    }))
    .buffer_unordered(IN_FLIGHT)
    .filter(|ok| std::future::ready(*ok))
    .count()
    .await
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        simulator_child();
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let mut sim = match Simulator::spawn() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bulk bench: no simulator: {e}");
            return;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bulk bench: no runtime: {e}");
            return;
        }
    };
    let provider = match ProviderRegistry::with_built_ins().build(&sim.config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bulk bench: no provider: {e}");
            return;
        }
    };

    // 1. One long run: rate, and memory on both sides.
    let count = if full { 10_000 } else { 200 };
    let before = sim.stats();
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let cpu_before = cpu_time();
    let ok = runtime.block_on(bulk_provision(&provider, "M", count));
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let peak_heap = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let (hwm, _) = resident_kib();
    let after = sim.stats();
    let rate = ok as f64 / elapsed.as_secs_f64();
    let round_trips = match (before, after) {
        (Some(b), Some(a)) if a.creates > b.creates => {
            (a.calls - b.calls) as f64 / (a.creates - b.creates) as f64
        }
        _ => 2.0,
    };
    let ideal = IN_FLIGHT as f64 / (round_trips * LATENCY.as_secs_f64());
    println!(
        "memory: {ok}/{count} customers in {:.2?}: {rate:.0}/s; ideal {ideal:.0}/s \
         ({IN_FLIGHT} in flight, {round_trips:.2} round trips of {} ms each): {:.1} % of ideal",
        elapsed,
        LATENCY.as_millis(),
        100.0 * rate / ideal
    );
    println!(
        "memory: provisioning process: peak heap {:.1} MiB above the {:.1} MiB before the run, \
         peak resident {:.1} MiB",
        peak_heap as f64 / (1024.0 * 1024.0),
        base as f64 / (1024.0 * 1024.0),
        mib(hwm)
    );
    if let (Some(b), Some(a)) = (before, after) {
        let per = |ms: u64| ms as f64 * 1000.0 / count.max(1) as f64;
        println!(
            "cpu: provisioning process {:.0} µs per customer, simulator process {:.0} µs per customer",
            per(cpu.as_millis() as u64),
            per(a.cpu_ms.saturating_sub(b.cpu_ms))
        );
    }
    if let Some(a) = after {
        println!(
            "memory: simulator process ({}): peak resident {:.1} MiB, now {:.1} MiB, after {} calls",
            if std::env::var_os(CHILD_RECORDING).is_some() {
                "recording every request"
            } else {
                "SimOptions::for_load"
            },
            mib(a.hwm_kib),
            mib(a.rss_kib),
            a.calls
        );
    }

    // 2. criterion: the bulk API against the loop it replaces, each iteration on a fresh
    //    simulator.
    drop(sim);
    let per_iteration = if full { 1_000 } else { 20 };
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut group = criterion.benchmark_group("bulk_provision");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(per_iteration as u64));
    let timed = |iterations: u64, loop_kind: Loop| {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            let Ok(sim) = Simulator::spawn() else {
                eprintln!("bulk bench: no simulator");
                continue;
            };
            let Ok(provider) = ProviderRegistry::with_built_ins().build(&sim.config) else {
                eprintln!("bulk bench: no provider");
                continue;
            };
            let started = Instant::now();
            let ok = runtime.block_on(async {
                match loop_kind {
                    Loop::Bulk => bulk_provision(&provider, "C", per_iteration).await,
                    Loop::BufferUnordered => buffer_unordered(&provider, "C", per_iteration).await,
                }
            });
            total += started.elapsed();
            if ok != per_iteration {
                eprintln!("bulk bench: {ok}/{per_iteration} provisioned");
            }
        }
        total
    };
    group.bench_function("bulk_64_in_flight_20ms", |b| {
        b.iter_custom(|n| timed(n, Loop::Bulk));
    });
    group.bench_function("buffer_unordered_64_in_flight_20ms", |b| {
        b.iter_custom(|n| timed(n, Loop::BufferUnordered));
    });
    group.finish();
    criterion.final_summary();
}

/// Which provisioning loop an iteration runs.
#[derive(Clone, Copy)]
enum Loop {
    Bulk,
    BufferUnordered,
}
