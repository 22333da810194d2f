//! The main job: walk a dealer through provisioning one customer (or many) at Alarm.com,
//! Honeywell Total Connect or Brinks Home: check the credentials, list the service plans,
//! provision a customer on the default plan, add a feature, read the account back, terminate it.
//!
//! ```text
//! cargo run --example provision                                # the embedded Alarm.com simulator
//! cargo run --example provision -- --count 50                  # 50 customers at once, progress bar
//! cargo run --example provision -- --count 500 --rate 100       # ... at most 100 requests/s
//! cargo run --example provision -- --soap12                    # the same over SOAP 1.2
//! cargo run --example provision -- --plan 209                  # another default plan
//! cargo run --example provision -- --provider total-connect    # the embedded Total Connect simulator
//! cargo run --example provision -- --provider brinks-home      # the embedded Brinks Home simulator
//!
//! # Against a real Alarm.com (test host shown); this creates and then terminates a customer:
//! ISP_CREDENTIAL_PASSWORD=... cargo run --example provision -- --live \
//!     --endpoint https://alarmadmin.test-us.adcinternal.com/WebServices/ \
//!     --login my-integration-login --plan 9
//! ```
//!
//! # Flags
//!
//! Every flag takes its value as `--flag value` or `--flag=value`.
//!
//! | flag | simulator | `--live` | meaning |
//! |---|---|---|---|
//! | `--provider NAME` | yes | yes | `alarm-com` (default; also `alarm_com`, `adc`), `total-connect` (also `total_connect`) or `brinks-home` (also `brinks_home`, `brinks`) |
//! | `--count N` | yes | yes | provision N customers (1 to 10000) with the bulk API (`interactive_services::bulk`): 64 in flight against the simulator, 16 against a live host, with a progress bar; then terminate them the same way |
//! | `--rate N` | yes | yes | at most N HTTP requests per second to the vendor, retries included, shared by every call of the provider (`ProviderOptions::rate_limit`) |
//! | `--plan ID` | yes | yes | the default service plan (`ISP_DEFAULT_PLAN`); against the simulator it replaces the simulator's default (9, `TC-BASIC`, `RBI`) |
//! | `--field KEY=VALUE` | yes | yes | a provider's own provision field (repeatable); Total Connect needs `city_number`, `cs_number`, `subscriber_number`, `mac`, `crc`; Brinks Home `cs_number` and `module_serial` — the simulator walk makes them up, a live walk must be given them |
//! | `--keep` | yes | yes | do not terminate what was provisioned |
//! | `--soap12` | yes | yes | Alarm.com only: SOAP 1.2 instead of 1.1 |
//! | `--live` | | | talk to a real vendor instead of the embedded simulator |
//! | `--endpoint URL` | no | yes | the vendor host (`ISP_ENDPOINT`); default the vendor's production host |
//! | `--login NAME` | no | yes | the integration login: Alarm.com `login` (`ISP_CREDENTIAL_LOGIN`), Total Connect and Brinks Home `user_name` (`ISP_CREDENTIAL_USER_NAME`) |
//! | `--dealer-id ID` | no | yes | Alarm.com: a sub-dealer id (`ISP_CREDENTIAL_DEALER_ID`); Total Connect: the company id (`ISP_CREDENTIAL_COMPANY_ID`); Brinks Home: the dealer (entity) number (`ISP_CREDENTIAL_ENTITY`) |
//! | `--yes` | no | yes | create customers on a real (non-loopback) host without asking |
//! | `-h`, `--help` | | | the usage |
//!
//! A flag marked "no" under "simulator" is refused without `--live`, naming the flag: it would
//! do nothing there. An unknown flag is refused with the closest known one.
//!
//! # `--live`
//!
//! The configuration comes from the environment keys of `IspConfig::from_env` (`ISP_ENDPOINT`,
//! `ISP_CREDENTIAL_*`, `ISP_DEFAULT_PLAN`, `ISP_NAME`, ...), with the flags above overriding
//! them. Secrets only come from the environment (`ISP_CREDENTIAL_PASSWORD`), never a flag. The
//! vendor is `--provider` when given, else `ISP_PROVIDER`, else Alarm.com; Total Connect also
//! needs `ISP_CREDENTIAL_APPLICATION_ID` and `ISP_CREDENTIAL_APPLICATION_VERSION`, Brinks Home
//! `ISP_CREDENTIAL_APP_ID` (a secret, from the environment only); both one customer at a time
//! (each account is a real communicator). Without `--live` no `ISP_*`
//! variable is read and nothing but the simulator the example starts on loopback is contacted.
//!
//! Before anything is sent to a host that is not loopback (the default is the vendor's
//! production host), the example asks on the terminal: "This will create N customer(s) on
//! <host>. Type yes to continue". `--yes` skips the question; when stdin is not a terminal and
//! `--yes` is absent, it refuses (exit code 2) without contacting the host.
//!
//! # Output and exit codes
//!
//! The walk goes to stdout, errors to stderr, one line each (a refused connection reads
//! "connection refused by HOST:PORT"). When stdout is closed early (`... | head -3`) the example
//! stops quietly with exit code 0 — unless it has created customers it is about to terminate:
//! then it finishes that silently first, so that a closed pipe never leaves customers behind.
//!
//! - 0: the walk succeeded (or `--help`, or stdout was closed);
//! - 1: the walk failed at runtime (the vendor, the network, a plan not offered, not confirmed);
//! - 2: usage: an unknown or misplaced flag, a bad value, an incomplete configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use interactive_services::bulk::{Bulk, BulkError};
use interactive_services::config::{CredentialOutcome, PlanCheck};
use interactive_services::http::RateLimit;
use interactive_services::http::soap::SoapVersion;
use interactive_services::provider::ProviderOptions;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::providers::brinks_home::simulator::BrinksHomeSimulator;
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::providers::{alarm_com, brinks_home, kind_for, total_connect};
use interactive_services::testkit::add_on_list;
use interactive_services::testkit::sim::SimOptions;
use interactive_services::{
    Address, Error, ErrorKind, InteractiveServicesProvider, IspAccount, IspConfig, PlanChange,
    ProviderRegistry, ProvisionRequest, ValidationErrors,
};
use url::{Host, Url};

// ---------------------------------------------------------------------------------------------
// Output: stdout through one function that stops quietly when the reader goes away.

mod out {
    use std::io::{self, Write};
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    static GONE: AtomicBool = AtomicBool::new(false);
    static GONE_CODE: AtomicI32 = AtomicI32::new(0);
    static CLEANUP_PENDING: AtomicBool = AtomicBool::new(false);

    /// Writes one line to stdout. Once stdout is closed (`| head`), the process exits quietly:
    /// code 0 for a closed pipe, 1 for another write error — but not while customers this run
    /// created are still to be terminated; the walk then goes on without output until they are.
    pub fn line(args: std::fmt::Arguments<'_>) {
        if !GONE.load(Ordering::SeqCst) {
            let written = writeln!(io::stdout().lock(), "{args}");
            if let Err(e) = written {
                let code = if e.kind() == io::ErrorKind::BrokenPipe {
                    0
                } else {
                    1
                };
                GONE_CODE.store(code, Ordering::SeqCst);
                GONE.store(true, Ordering::SeqCst);
            }
        }
        if GONE.load(Ordering::SeqCst) && !CLEANUP_PENDING.load(Ordering::SeqCst) {
            std::process::exit(GONE_CODE.load(Ordering::SeqCst));
        }
    }

    /// Whether customers created by this run are still to be terminated.
    pub fn cleanup_pending(pending: bool) {
        CLEANUP_PENDING.store(pending, Ordering::SeqCst);
    }
}

/// A line of the walk on stdout (see [`out::line`]).
macro_rules! say {
    ($($arg:tt)*) => { out::line(format_args!($($arg)*)) };
}

/// A line on stderr; a closed stderr is ignored (there is nowhere left to complain).
macro_rules! complain {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

// ---------------------------------------------------------------------------------------------
// Flags.

#[derive(Debug, Default, Clone)]
struct Args {
    provider: Option<String>,
    live: bool,
    yes: bool,
    endpoint: Option<String>,
    login: Option<String>,
    dealer_id: Option<String>,
    plan: Option<String>,
    fields: Vec<(String, String)>,
    count: usize,
    rate: Option<NonZeroU32>,
    soap12: bool,
    keep: bool,
}

/// A flag: its name, the placeholder of its value (`None`: a switch), whether it only means
/// something with `--live`.
struct Flag {
    name: &'static str,
    value: Option<&'static str>,
    live_only: bool,
}

const FLAGS: &[Flag] = &[
    Flag {
        name: "--provider",
        value: Some("NAME"),
        live_only: false,
    },
    Flag {
        name: "--count",
        value: Some("N"),
        live_only: false,
    },
    Flag {
        name: "--rate",
        value: Some("N"),
        live_only: false,
    },
    Flag {
        name: "--plan",
        value: Some("ID"),
        live_only: false,
    },
    Flag {
        name: "--field",
        value: Some("KEY=VALUE"),
        live_only: false,
    },
    Flag {
        name: "--keep",
        value: None,
        live_only: false,
    },
    Flag {
        name: "--soap12",
        value: None,
        live_only: false,
    },
    Flag {
        name: "--live",
        value: None,
        live_only: false,
    },
    Flag {
        name: "--endpoint",
        value: Some("URL"),
        live_only: true,
    },
    Flag {
        name: "--login",
        value: Some("NAME"),
        live_only: true,
    },
    Flag {
        name: "--dealer-id",
        value: Some("ID"),
        live_only: true,
    },
    Flag {
        name: "--yes",
        value: None,
        live_only: true,
    },
    Flag {
        name: "--help",
        value: None,
        live_only: false,
    },
];

const HELP: &str = "\
Walks a dealer through provisioning: check the credentials, list the service plans, provision a
customer on the default plan, add a feature, read the account back, terminate it. Without --live
it runs against an embedded simulator on loopback and reads no ISP_* variable.

Usage: cargo run --example provision -- [options]     (--flag value or --flag=value)

  --provider NAME    alarm-com (default), total-connect or brinks-home; with --live,
                     ISP_PROVIDER when absent
  --count N          provision N customers (1-10000) concurrently, then terminate them
  --rate N           at most N requests per second to the vendor (retries included)
  --plan ID          the default service plan (ISP_DEFAULT_PLAN); also against the simulator
  --field KEY=VALUE  a provider's own provision field, repeatable (Total Connect: city_number,
                     cs_number, subscriber_number, mac, crc; Brinks Home: cs_number,
                     module_serial; the simulator walk makes them up)
  --keep             do not terminate what was provisioned
  --soap12           Alarm.com only: speak SOAP 1.2 instead of 1.1
  --live             talk to a real vendor instead of the simulator; then also:
  --endpoint URL       the vendor host (ISP_ENDPOINT); default the vendor's production host
  --login NAME         the integration login (ISP_CREDENTIAL_LOGIN; Total Connect and
                       Brinks Home: ISP_CREDENTIAL_USER_NAME)
  --dealer-id ID       Alarm.com sub-dealer id (ISP_CREDENTIAL_DEALER_ID); Total Connect
                       company id (ISP_CREDENTIAL_COMPANY_ID); Brinks Home dealer number
                       (ISP_CREDENTIAL_ENTITY)
  --yes                do not ask before creating customers on a host that is not loopback
                     the password only from ISP_CREDENTIAL_PASSWORD, never a flag
  -h, --help         this text

Exit codes: 0 done, 1 the walk failed, 2 usage (a flag or the configuration).";

/// The flags, or `None` for `--help`.
fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        count: 1,
        ..Args::default()
    };
    let mut live_only = Vec::new();
    while let Some(raw) = argv.next() {
        let (name, inline) = match raw.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (raw.clone(), None),
        };
        if name == "-h" {
            return Ok(None);
        }
        if name == "--password" {
            return Err(
                "pass the password in ISP_CREDENTIAL_PASSWORD, not on the command line \
                        (it would show in the process list and shell history)"
                    .into(),
            );
        }
        let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
            if !name.starts_with('-') {
                return Err(format!(
                    "unexpected argument `{raw}`: every option is a flag (see --help)"
                ));
            }
            let hint = closest(&name, FLAGS.iter().map(|f| f.name))
                .map(|c| format!(", did you mean `{c}`?"))
                .unwrap_or_default();
            return Err(format!("unknown flag `{name}`{hint} (see --help)"));
        };
        let value = match (flag.value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => return Err(format!("`{name}` takes no value")),
            (Some(_), Some(v)) => v,
            (Some(meta), None) => argv.next().ok_or_else(|| {
                format!("`{name}` needs a value: `{name} {meta}` or `{name}={meta}`")
            })?,
        };
        if let Some(meta) = flag.value {
            if value.trim().is_empty() {
                return Err(format!("`{name}` needs a value: `{name} {meta}`"));
            }
        }
        if flag.live_only {
            live_only.push(flag.name);
        }
        match flag.name {
            "--help" => return Ok(None),
            "--provider" => args.provider = Some(value),
            "--live" => args.live = true,
            "--yes" => args.yes = true,
            "--soap12" => args.soap12 = true,
            "--keep" => args.keep = true,
            "--endpoint" => args.endpoint = Some(value),
            "--login" => args.login = Some(value),
            "--dealer-id" => args.dealer_id = Some(value),
            "--plan" => args.plan = Some(value),
            "--field" => match value.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    args.fields.push((k.trim().to_owned(), v.to_owned()));
                }
                _ => return Err(format!("`--field` takes KEY=VALUE, not `{value}`")),
            },
            "--rate" => {
                args.rate = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .and_then(NonZeroU32::new)
                        .ok_or_else(|| {
                            format!("`--rate` takes a number of requests per second (1 or more), not `{value}`")
                        })?,
                );
            }
            "--count" => {
                args.count = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        format!("`--count` takes a number from 1 to 10000, not `{value}`")
                    })?;
            }
            other => return Err(format!("`{other}` is not handled (a bug in the example)")),
        }
    }
    if !args.live && !live_only.is_empty() {
        live_only.dedup();
        let names: Vec<String> = live_only.iter().map(|n| format!("`{n}`")).collect();
        let (verb, it) = if names.len() == 1 {
            ("needs", "it")
        } else {
            ("need", "them")
        };
        return Err(format!(
            "{} {verb} --live: without --live the example talks only to the simulator it starts; \
             add --live to use a real vendor, or leave {it} out",
            names.join(", ")
        ));
    }
    Ok(Some(args))
}

/// The candidate closest to `word` when it is close (at most one edit in three characters).
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase().replace('_', "-");
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The Levenshtein distance of two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------------------------
// The vendors the walk knows.

/// What the walk needs to know about a vendor.
#[derive(Debug, Clone, Copy)]
struct Vendor {
    /// The canonical provider name.
    name: &'static str,
    display: &'static str,
    /// The endpoint a live configuration without one talks to.
    production: &'static str,
    /// The add-on the customer is provisioned with, and the feature step 4 adds.
    initial_add_on: &'static str,
    added_feature: &'static str,
    panel_type: Option<&'static str>,
    /// The credential keys `--login` and `--dealer-id` set.
    login_key: &'static str,
    dealer_key: &'static str,
    /// Whether each account needs its own device fields (no `--count` against a live host).
    device_fields: bool,
}

const ALARM_COM: Vendor = Vendor {
    name: alarm_com::NAME,
    display: alarm_com::SPEC.display_name,
    production: alarm_com::PRODUCTION_ENDPOINT,
    initial_add_on: "RemoteArming",
    added_feature: "LightAutomation",
    panel_type: Some("IQPanel2"),
    login_key: "LOGIN",
    dealer_key: "DEALER_ID",
    device_fields: false,
};

const TOTAL_CONNECT: Vendor = Vendor {
    name: total_connect::NAME,
    display: total_connect::SPEC.display_name,
    production: total_connect::PRODUCTION_ENDPOINT,
    initial_add_on: "Geofencing",
    added_feature: "Automation",
    panel_type: None,
    login_key: "USER_NAME",
    dealer_key: "COMPANY_ID",
    device_fields: true,
};

const BRINKS_HOME: Vendor = Vendor {
    name: brinks_home::NAME,
    display: brinks_home::SPEC.display_name,
    production: brinks_home::PRODUCTION_ENDPOINT,
    initial_add_on: "WEATHER",
    added_feature: "GARAGEDOOR",
    panel_type: None,
    login_key: "USER_NAME",
    dealer_key: "ENTITY",
    device_fields: true,
};

impl Vendor {
    /// The vendor fields of the `i`-th customer: made-up device numbers against the simulator
    /// (a live walk never invents a device), then `--field`.
    fn fields(&self, args: &Args, i: usize) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        if self.name == brinks_home::NAME && !args.live {
            fields.insert("cs_number".into(), format!("{}", 768_200_000 + i));
            fields.insert("module_serial".into(), format!("ADC{:09}", i + 1));
        } else if self.device_fields && !args.live {
            fields.insert("city_number".into(), "12".into());
            fields.insert("cs_number".into(), format!("{:02}", i % 100));
            fields.insert("subscriber_number".into(), format!("{:06}", i + 1));
            fields.insert(
                "mac".into(),
                format!("00:D0:2D:00:{:02X}:{:02X}", (i >> 8) & 0xFF, i & 0xFF),
            );
            fields.insert("crc".into(), format!("{:04X}", (i * 7 + 1) & 0xFFFF));
        }
        for (k, v) in &args.fields {
            fields.insert(k.clone(), v.clone());
        }
        fields
    }

    fn named(name: &str) -> Result<Self, String> {
        let kind = kind_for(name);
        match kind.as_str() {
            n if n == alarm_com::NAME => Ok(ALARM_COM),
            n if n == total_connect::NAME => Ok(TOTAL_CONNECT),
            n if n == brinks_home::NAME => Ok(BRINKS_HOME),
            _ => {
                let hint = closest(name, ["alarm-com", "total-connect", "brinks-home"])
                    .map(|c| format!(", did you mean `{c}`?"))
                    .unwrap_or_else(|| ": use alarm-com, total-connect or brinks-home".into());
                Err(format!("unknown provider `{name}`{hint}"))
            }
        }
    }
}

/// The simulator a walk without `--live` runs against.
enum Simulator {
    AlarmCom(AlarmComSimulator),
    TotalConnect(TotalConnectSimulator),
    BrinksHome(BrinksHomeSimulator),
}

impl Simulator {
    async fn start(vendor: Vendor) -> Self {
        if vendor.name == total_connect::NAME {
            Simulator::TotalConnect(TotalConnectSimulator::start().await)
        } else if vendor.name == brinks_home::NAME {
            Simulator::BrinksHome(BrinksHomeSimulator::start().await)
        } else {
            Simulator::AlarmCom(AlarmComSimulator::start().await)
        }
    }

    fn endpoint(&self) -> String {
        match self {
            Simulator::AlarmCom(s) => s.endpoint(),
            Simulator::TotalConnect(s) => s.endpoint(),
            Simulator::BrinksHome(s) => s.endpoint(),
        }
    }

    fn config(&self) -> IspConfig {
        match self {
            Simulator::AlarmCom(s) => s.config(),
            Simulator::TotalConnect(s) => s.config(),
            Simulator::BrinksHome(s) => s.config(),
        }
    }

    fn set_latency(&self, latency: Duration) {
        match self {
            Simulator::AlarmCom(s) => s.set_latency(latency),
            Simulator::TotalConnect(s) => s.set_latency(latency),
            Simulator::BrinksHome(s) => s.set_latency(latency),
        }
    }
}

/// One run: the flags, the vendor, where it talks to.
struct Run<'a> {
    args: &'a Args,
    vendor: Vendor,
    endpoint: Url,
}

/// The `i`-th customer's provision request.
fn provision_request(
    args: &Args,
    vendor: Vendor,
    dealer_customer_id: &str,
    i: usize,
) -> ProvisionRequest {
    let mut b = ProvisionRequest::builder(dealer_customer_id)
        .name("Example", "Customer")
        .email("example.customer@example.com")
        .phone("5555550100")
        .address(Address {
            street1: "100 Main Street".into(),
            street2: None,
            city: "Springfield".into(),
            state: "VA".into(),
            zip: "22150".into(),
            country: "US".into(),
        })
        .add_on(vendor.initial_add_on);
    if let Some(panel) = vendor.panel_type {
        b = b.panel_type(panel);
    }
    let mut request = b.build();
    request.vendor_fields = vendor.fields(args, i);
    request
}

impl Run<'_> {
    fn request(&self, dealer_customer_id: &str, i: usize) -> ProvisionRequest {
        provision_request(self.args, self.vendor, dealer_customer_id, i)
    }

    /// One line for an error: the library's words, except a refused connection, which is said
    /// plainly with the host it came from.
    fn describe(&self, e: &Error) -> String {
        if e.kind() == ErrorKind::Transport
            && io_error_kind(e) == Some(io::ErrorKind::ConnectionRefused)
        {
            return format!(
                "connection refused by {} ({} at {}): nothing accepts connections there; check \
                 the endpoint (--endpoint, ISP_ENDPOINT) and that the service is up",
                host_port(&self.endpoint),
                self.vendor.display,
                self.endpoint
            );
        }
        e.to_string()
    }
}

/// The kind of the first I/O error in `e`'s source chain.
fn io_error_kind(e: &Error) -> Option<io::ErrorKind> {
    let mut at: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = at {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        at = err.source();
    }
    None
}

fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn live_config(args: &Args, vendor: Vendor) -> Result<IspConfig, Error> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("ISP_"))
        .collect();
    let mut set = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            vars.retain(|(key, _)| key != k);
            vars.push((k.to_owned(), v.to_owned()));
        }
    };
    set("ISP_PROVIDER", Some(vendor.name));
    set("ISP_ENDPOINT", args.endpoint.as_deref());
    set(
        &format!("ISP_CREDENTIAL_{}", vendor.login_key),
        args.login.as_deref(),
    );
    set(
        &format!("ISP_CREDENTIAL_{}", vendor.dealer_key),
        args.dealer_id.as_deref(),
    );
    set("ISP_DEFAULT_PLAN", args.plan.as_deref());
    if !vars.iter().any(|(k, _)| k == "ISP_NAME") {
        vars.push(("ISP_NAME".into(), format!("{} (example)", vendor.display)));
    }
    IspConfig::from_env_vars(vars)
}

/// Asks on the terminal; `true` only for `yes`.
fn confirm(question: &str) -> io::Result<bool> {
    {
        let mut err = io::stderr().lock();
        write!(err, "{question}. Type yes to continue: ")?;
        err.flush()?;
    }
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

// ---------------------------------------------------------------------------------------------
// The walk.

/// Why a walk stopped.
enum Failure {
    /// The library's error.
    Api(Error),
    /// The example's own reason.
    Stop(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Api(e)
    }
}

fn show_account(account: &IspAccount) {
    say!("    account id      {}", account.id);
    if let Some(d) = &account.dealer_customer_id {
        say!("    dealer cust. id {d}");
    }
    say!(
        "    customer        {} {}",
        account.contact.first_name,
        account.contact.last_name
    );
    if let Some(l) = &account.login_name {
        say!("    app login       {l}");
    }
    say!(
        "    plan            {}",
        account.plan.as_ref().map(|p| p.as_str()).unwrap_or("-")
    );
    say!(
        "    add-ons         {}",
        add_on_list(&account.add_ons).join(", ")
    );
    say!("    status          {:?}", account.status);
}

async fn walk(
    provider: &Arc<dyn InteractiveServicesProvider>,
    config: &IspConfig,
    run: &Run<'_>,
) -> Result<(), Failure> {
    say!("1. Checking the credentials of `{}` ...", config.name());
    // One credential call first: a refused connection, a rejected login or a missing role ends
    // the walk here with the library's typed error, its retries spent once.
    provider.validate_credentials().await?;
    let report = interactive_services::config::verify(config, provider.as_ref()).await;
    match &report.credentials {
        CredentialOutcome::Accepted { login, granted } => {
            say!(
                "    credentials     accepted for `{login}`; may do: {}",
                granted.join(", ")
            )
        }
        CredentialOutcome::Rejected { message } => {
            say!("    credentials     REJECTED: {message}")
        }
        CredentialOutcome::Insufficient => {
            say!("    credentials     accepted, but the login lacks a role")
        }
        CredentialOutcome::Unreachable { error, .. } => {
            say!("    credentials     not checked: {error}")
        }
        _ => say!("    credentials     not checked"),
    }
    for m in &report.missing_permissions {
        say!(
            "    missing         {} (for {})",
            m.permission,
            m.needed_for
        );
        say!("                    {}", m.guidance);
    }
    for u in &report.unverified_permissions {
        say!(
            "    not checked     {} (for {})",
            u.permission,
            u.needed_for
        );
        say!("                    {}", u.how_to_check);
    }
    match &report.default_plan {
        PlanCheck::Found { plan } => say!("    default plan    {} ({})", plan.id, plan.name),
        PlanCheck::NotSet => say!("    default plan    not set"),
        PlanCheck::NotFound { plan, .. } => say!("    default plan    {plan} is NOT offered"),
        PlanCheck::Unknown { error } => say!("    default plan    not checked: {error}"),
        _ => say!("    default plan    not checked"),
    }
    if !matches!(report.credentials, CredentialOutcome::Accepted { .. }) {
        return Err(Failure::Stop(
            "the credentials could not be confirmed (see above); nothing was created".into(),
        ));
    }

    say!("2. Service plans:");
    let plans = provider.service_plans().await?;
    let width = plans
        .iter()
        .map(|p| p.id.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    for p in &plans {
        say!(
            "    {:>width$}  {:<36} {}",
            p.id.as_str(),
            p.name,
            p.plan_type.as_deref().unwrap_or("")
        );
    }
    match &report.default_plan {
        PlanCheck::NotSet => {
            return Err(Failure::Stop(
                "no default service plan: give --plan with one of the plans above \
                 (or ISP_DEFAULT_PLAN); nothing was created"
                    .into(),
            ));
        }
        PlanCheck::NotFound { plan, .. } => {
            return Err(Failure::Stop(format!(
                "plan {plan} is not offered to this login: give --plan with one of the plans \
                 above; nothing was created"
            )));
        }
        _ => {}
    }

    let tag = format!("{:06x}", run_id());
    if run.args.count > 1 {
        return provision_many(provider, run, &tag).await;
    }

    say!("3. Provisioning a customer on the default plan ...");
    out::cleanup_pending(!run.args.keep);
    let account = provider
        .provision(&run.request(&format!("EXAMPLE-{tag}"), 0))
        .await?;
    show_account(&account);
    if account.initial_password.is_some() {
        say!(
            "    ({} issued a one-time password; it is kept secret and not printed)",
            run.vendor.display
        );
    }

    // Steps 4 and 5 may fail after the customer exists: it is then terminated (unless --keep)
    // or its id printed, so that nothing is left behind unseen.
    let id = account.id.clone();
    let middle = async {
        say!("4. Adding the {} feature ...", run.vendor.added_feature);
        let account = provider
            .change_plan(&id, &PlanChange::new().add(run.vendor.added_feature))
            .await?;
        say!(
            "    add-ons         {}",
            add_on_list(&account.add_ons).join(", ")
        );
        say!("5. Reading the account back:");
        let account = provider.account(&id).await?;
        show_account(&account);
        Ok::<_, Failure>(account)
    };
    let account = match middle.await {
        Ok(account) => account,
        Err(failure) => {
            if run.args.keep {
                complain!("note: account {id} was created and is kept (--keep)");
            } else if let Err(e) = provider.terminate(&id).await {
                complain!(
                    "note: account {id} was created but could not be terminated ({e}); terminate it by hand"
                );
            } else {
                out::cleanup_pending(false);
                complain!("note: account {id} was created and has been terminated");
            }
            return Err(failure);
        }
    };

    if run.args.keep {
        say!("6. Keeping account {} (--keep).", account.id);
    } else {
        say!("6. Terminating account {} ...", account.id);
        provider.terminate(&account.id).await?;
        out::cleanup_pending(false);
        let account = provider.account(&account.id).await?;
        say!("    status          {:?}", account.status);
    }
    say!("Done.");
    Ok(())
}

fn run_id() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() & 0xFF_FFFF)
        .unwrap_or(0)
}

/// Operations in flight for `--count`: the simulator takes many, a live vendor fewer.
fn in_flight(run: &Run<'_>) -> usize {
    if run.args.live { 16 } else { 64 }
}

/// A progress bar for `n` items, updated from a bulk run's progress callback.
fn progress_bar(n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) =
        ProgressStyle::with_template("    [{bar:40}] {pos}/{len} {per_sec} eta {eta} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn provision_many(
    provider: &Arc<dyn InteractiveServicesProvider>,
    run: &Run<'_>,
    tag: &str,
) -> Result<(), Failure> {
    let count = run.args.count;
    let in_flight = in_flight(run);
    say!("3. Provisioning {count} customers, {in_flight} at a time ...");
    out::cleanup_pending(!run.args.keep);
    let bar = progress_bar(count);
    let started = Instant::now();
    // Requests are made as the run takes them, so memory stays flat however many there are.
    let (args, vendor, tag) = (run.args.clone(), run.vendor, tag.to_owned());
    let requests = (0..count).map(move |i| {
        let id = format!("EXAMPLE-{tag}-{i:05}");
        (i, provision_request(&args, vendor, &id, i))
    });
    let shown = bar.clone();
    let mut results = Bulk::new(provider.clone())
        .concurrency(in_flight)
        .on_progress(move |p| {
            shown.set_position(p.done as u64);
            if p.failed > 0 {
                shown.set_message(format!("{} failed", p.failed));
            }
        })
        .provision(requests);
    let mut ids = Vec::with_capacity(count);
    let mut errors: Vec<(usize, BulkError)> = Vec::new();
    let mut failed = 0usize;
    while let Some(item) = results.next().await {
        match item.result {
            Ok(account) => ids.push((item.key, account.id)),
            Err(e) => {
                failed += 1;
                if errors.len() < 5 {
                    errors.push((item.key, e));
                }
            }
        }
    }
    bar.finish();
    let elapsed = started.elapsed();
    say!(
        "    {} provisioned, {failed} failed, in {:.2?} ({:.1}/s)",
        ids.len(),
        elapsed,
        ids.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    errors.sort_by_key(|(i, _)| *i);
    for (i, e) in &errors {
        let shown = match e.error() {
            Some(e) => run.describe(e),
            None => e.to_string(),
        };
        say!("    customer {i}: {shown}");
    }
    if !run.args.keep {
        say!("4. Terminating them ...");
        let bar = progress_bar(ids.len());
        let shown = bar.clone();
        let total = ids.len();
        let terminated: Vec<_> = Bulk::new(provider.clone())
            .concurrency(in_flight)
            .on_progress(move |p| shown.set_position(p.done as u64))
            .terminate(ids.into_iter().map(|(_, id)| (id.clone(), id)))
            .collect()
            .await;
        bar.finish();
        out::cleanup_pending(false);
        let not_terminated: Vec<_> = terminated
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (&r.key, e)))
            .collect();
        say!(
            "    {} terminated, {} failed",
            total - not_terminated.len(),
            not_terminated.len()
        );
        for (id, e) in not_terminated.iter().take(5) {
            complain!("note: account {id} could not be terminated ({e}); terminate it by hand");
        }
    }
    say!("Done.");
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Stop(format!(
            "{failed} of {count} customers could not be provisioned"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Main.

/// How the example ends when it does not succeed.
enum Exit {
    /// Exit code 2: a flag or the configuration.
    Usage(String),
    /// Exit code 1: the walk failed.
    Failed(String),
}

fn usage(e: impl fmt::Display) -> Exit {
    Exit::Usage(e.to_string())
}

async fn main_job() -> Result<(), Exit> {
    let Some(args) = parse_args(std::env::args().skip(1)).map_err(Exit::Usage)? else {
        say!("{HELP}");
        return Ok(());
    };
    // The vendor: --provider; with --live, ISP_PROVIDER when --provider is absent (without
    // --live no ISP_* variable is read); Alarm.com by default.
    let provider_name = match &args.provider {
        Some(p) => p.clone(),
        None if args.live => std::env::var("ISP_PROVIDER")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| alarm_com::NAME.to_owned()),
        None => alarm_com::NAME.to_owned(),
    };
    let vendor = Vendor::named(&provider_name).map_err(Exit::Usage)?;
    if args.soap12 && vendor.name != alarm_com::NAME {
        return Err(usage(format!(
            "`--soap12` is for Alarm.com; {} speaks SOAP 1.1 only",
            vendor.display
        )));
    }
    if args.live && vendor.device_fields && args.count > 1 {
        return Err(usage(format!(
            "`--count` needs the simulator for {}: each live account is a real communicator \
             with its own numbers (--field), so provision them one at a time",
            vendor.display
        )));
    }

    // The provider's own provision fields, checked before anything starts or is sent.
    let registry = ProviderRegistry::with_built_ins();
    if let Some(spec) = registry.spec(&kind_for(vendor.name)) {
        let mut problems = ValidationErrors::new();
        spec.validate_provision_fields(&vendor.fields(&args, 0), &mut problems);
        if !problems.is_empty() {
            let hint = if spec.provision_fields.is_empty() {
                String::new()
            } else {
                " (give each with --field KEY=VALUE)".to_owned()
            };
            return Err(usage(format!("{problems}{hint}")));
        }
    }

    // Keep the simulator alive for the whole walk.
    let (config, _simulator) = if args.live {
        (live_config(&args, vendor).map_err(usage)?, None)
    } else {
        // Many customers: a simulator whose memory stays flat (bounded call log, no request
        // recording), so that the example's own footprint is what shows.
        let sim = if args.count > 1 {
            SimOptions::for_load().scope(Simulator::start(vendor)).await
        } else {
            Simulator::start(vendor).await
        };
        if args.count > 1 {
            // A little latency makes the concurrency (and the progress bar) visible.
            sim.set_latency(Duration::from_millis(20));
        }
        say!(
            "Started the {} simulator at {}",
            vendor.display,
            sim.endpoint()
        );
        let mut config = sim.config();
        if let Some(plan) = &args.plan {
            config = config
                .to_builder()
                .default_plan(plan)
                .build()
                .map_err(usage)?;
        }
        (config, Some(sim))
    };
    let endpoint = match config.endpoint() {
        Some(url) => url.clone(),
        None => Url::parse(vendor.production).map_err(usage)?,
    };
    let run = Run {
        args: &args,
        vendor,
        endpoint,
    };

    // Nothing is created on a real host without a yes.
    if args.live && !is_loopback(&run.endpoint) && !args.yes {
        // The host as it was given: its port only when one was written.
        let host = match run.endpoint.port() {
            Some(port) => format!("{}:{port}", run.endpoint.host_str().unwrap_or("?")),
            None => run.endpoint.host_str().unwrap_or("?").to_owned(),
        };
        let question = format!(
            "This will create {} customer(s) on {host}{}",
            args.count,
            if args.keep {
                " and keep them (--keep)"
            } else {
                ""
            }
        );
        if !io::stdin().is_terminal() {
            return Err(usage(format!(
                "refusing to create {} customer(s) on {host} unconfirmed: stdin is not a \
                 terminal to ask on, so add --yes to go ahead (nothing was sent)",
                args.count
            )));
        }
        match confirm(&question) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Exit::Failed(format!(
                    "not confirmed; nothing was sent to {host}"
                )));
            }
            Err(e) => return Err(Exit::Failed(format!("could not read the answer: {e}"))),
        }
    }

    // The registry builds the provider with the host's options and wraps it in the
    // configuration's rules (default plan, Active/Inactive).
    let version = if args.soap12 {
        SoapVersion::V12
    } else {
        SoapVersion::V11
    };
    let mut options = ProviderOptions::new().soap_version(version);
    if let Some(rate) = args.rate {
        // One allowance for every call of the provider: bulk, single and retries alike.
        options = options.rate_limit(RateLimit::per_second(rate));
    }
    let provider = registry.build_with(&config, &options).map_err(usage)?;
    walk(&provider, &config, &run)
        .await
        .map_err(|failure| match failure {
            Failure::Api(e) => Exit::Failed(run.describe(&e)),
            Failure::Stop(why) => Exit::Failed(why),
        })
}

#[tokio::main]
async fn main() -> ExitCode {
    match main_job().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit::Usage(why)) => {
            complain!("error: {why}");
            ExitCode::from(2)
        }
        Err(Exit::Failed(why)) => {
            complain!("error: {why}");
            ExitCode::FAILURE
        }
    }
}
