//! The main job: walk a dealer through Alarm.com provisioning.
//!
//! ```text
//! cargo run --example provision                 # against the embedded Alarm.com simulator
//! cargo run --example provision -- --count 50   # 50 customers at once, with a progress bar
//! cargo run --example provision -- --soap12     # the same over SOAP 1.2
//!
//! # Against a real Alarm.com (test host shown); this creates and then terminates a customer:
//! ISP_CREDENTIAL_PASSWORD=... cargo run --example provision -- --live \
//!     --endpoint https://alarmadmin.test-us.adcinternal.com/WebServices/ \
//!     --login my-integration-login --plan 9
//! ```
//!
//! Every option can also come from the environment keys of `IspConfig::from_env`
//! (`ISP_ENDPOINT`, `ISP_CREDENTIAL_LOGIN`, `ISP_CREDENTIAL_PASSWORD`, `ISP_CREDENTIAL_DEALER_ID`,
//! `ISP_DEFAULT_PLAN`, ...). Without `--live` the example never talks to anything but the
//! simulator it starts on loopback.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use interactive_services::config::{CredentialOutcome, PlanCheck};
use interactive_services::http::soap::SoapVersion;
use interactive_services::provider::ProviderOptions;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::testkit::add_on_list;
use interactive_services::{
    Address, Error, InteractiveServicesProvider, IspAccount, IspConfig, PlanChange,
    ProviderRegistry, ProvisionRequest,
};

#[derive(Debug, Default)]
struct Args {
    live: bool,
    endpoint: Option<String>,
    login: Option<String>,
    dealer_id: Option<String>,
    plan: Option<String>,
    count: usize,
    soap12: bool,
    keep: bool,
}

const HELP: &str = "\
Walks through Alarm.com provisioning: validate credentials, list plans, provision a customer on
the default plan, add a feature, read the account, terminate it.

Usage: cargo run --example provision -- [options]

  --count N        provision N customers concurrently (progress bar), then terminate them
  --soap12         speak SOAP 1.2 instead of 1.1
  --keep           do not terminate what was provisioned
  --live           talk to a real Alarm.com instead of the embedded simulator; needs:
  --endpoint URL   the WebServices/ folder (or ISP_ENDPOINT); default production
  --login NAME     the Partner Portal login (or ISP_CREDENTIAL_LOGIN)
  --dealer-id ID   a sub-dealer id (or ISP_CREDENTIAL_DEALER_ID)
  --plan ID        the default package id (or ISP_DEFAULT_PLAN)
                   the password only from ISP_CREDENTIAL_PASSWORD, never a flag
  -h, --help       this text";

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        count: 1,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--live" => args.live = true,
            "--soap12" => args.soap12 = true,
            "--keep" => args.keep = true,
            "--endpoint" => args.endpoint = Some(value("--endpoint")?),
            "--login" => args.login = Some(value("--login")?),
            "--dealer-id" => args.dealer_id = Some(value("--dealer-id")?),
            "--plan" => args.plan = Some(value("--plan")?),
            "--count" => {
                let v = value("--count")?;
                args.count = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| format!("--count takes a number from 1 to 10000, not `{v}`"))?;
            }
            "--password" => {
                return Err("pass the password in ISP_CREDENTIAL_PASSWORD, not on the command line (it would show in the process list and shell history)".into());
            }
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    if !args.live && (args.endpoint.is_some() || args.login.is_some()) {
        return Err(
            "--endpoint and --login talk to a real Alarm.com: add --live to confirm".into(),
        );
    }
    Ok(Some(args))
}

fn live_config(args: &Args) -> Result<IspConfig, Error> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("ISP_"))
        .collect();
    let mut set = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            vars.retain(|(key, _)| key != k);
            vars.push((k.to_owned(), v.clone()));
        }
    };
    set("ISP_ENDPOINT", &args.endpoint);
    set("ISP_CREDENTIAL_LOGIN", &args.login);
    set("ISP_CREDENTIAL_DEALER_ID", &args.dealer_id);
    set("ISP_DEFAULT_PLAN", &args.plan);
    set("ISP_PROVIDER", &Some("alarm_com".into()));
    if !vars.iter().any(|(k, _)| k == "ISP_NAME") {
        vars.push(("ISP_NAME".into(), "Alarm.com (example)".into()));
    }
    IspConfig::from_env_vars(vars)
}

fn sample_request(dealer_customer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_customer_id)
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
        .panel_type("IQPanel2")
        .add_on("RemoteArming")
        .build()
}

fn show_account(account: &IspAccount) {
    println!("    account id      {}", account.id);
    if let Some(d) = &account.dealer_customer_id {
        println!("    dealer cust. id {d}");
    }
    println!(
        "    customer        {} {}",
        account.contact.first_name, account.contact.last_name
    );
    if let Some(l) = &account.login_name {
        println!("    app login       {l}");
    }
    println!(
        "    plan            {}",
        account.plan.as_ref().map(|p| p.as_str()).unwrap_or("-")
    );
    println!(
        "    add-ons         {}",
        add_on_list(&account.add_ons).join(", ")
    );
    println!("    status          {:?}", account.status);
}

async fn walk(
    provider: &dyn InteractiveServicesProvider,
    config: &IspConfig,
    args: &Args,
) -> Result<(), Error> {
    println!("1. Checking the credentials of `{}` ...", config.name());
    let report = interactive_services::config::verify(config, provider).await;
    match &report.credentials {
        CredentialOutcome::Accepted { login, granted } => {
            println!(
                "    credentials     accepted for `{login}`; may do: {}",
                granted.join(", ")
            )
        }
        CredentialOutcome::Rejected { message } => {
            println!("    credentials     REJECTED: {message}")
        }
        CredentialOutcome::Insufficient => {
            println!("    credentials     accepted, but the login lacks a role")
        }
        other => println!("    credentials     not checked: {other:?}"),
    }
    for m in &report.missing_permissions {
        println!(
            "    missing         {} (for {})",
            m.permission, m.needed_for
        );
        println!("                    {}", m.guidance);
    }
    for u in &report.unverified_permissions {
        println!(
            "    not checked     {} (for {})",
            u.permission, u.needed_for
        );
        println!("                    {}", u.how_to_check);
    }
    match &report.default_plan {
        PlanCheck::Found { plan } => println!("    default plan    {} ({})", plan.id, plan.name),
        PlanCheck::NotSet => println!("    default plan    not set"),
        PlanCheck::NotFound { plan, .. } => println!("    default plan    {plan} is NOT offered"),
        other => println!("    default plan    not checked: {other:?}"),
    }
    if !matches!(report.credentials, CredentialOutcome::Accepted { .. }) {
        return Err(provider
            .validate_credentials()
            .await
            .err()
            .unwrap_or_else(|| Error::InvalidRequest {
                provider: report.provider.clone(),
                operation: "validate_credentials",
                detail: "the credentials could not be used".into(),
            }));
    }

    println!("2. Service plans:");
    let plans = provider.service_plans().await?;
    for p in &plans {
        println!(
            "    {:>5}  {:<36} {}",
            p.id,
            p.name,
            p.plan_type.as_deref().unwrap_or("")
        );
    }

    let run = format!("{:06x}", fastrand_id());
    if args.count > 1 {
        return provision_many(provider, args, &run).await;
    }

    println!("3. Provisioning a customer on the default plan ...");
    let account = provider
        .provision(&sample_request(&format!("EXAMPLE-{run}")))
        .await?;
    show_account(&account);
    if account.initial_password.is_some() {
        println!("    (Alarm.com issued a one-time password; it is kept secret and not printed)");
    }

    println!("4. Adding the LightAutomation feature ...");
    let account = provider
        .change_plan(&account.id, &PlanChange::new().add("LightAutomation"))
        .await?;
    println!(
        "    add-ons         {}",
        add_on_list(&account.add_ons).join(", ")
    );

    println!("5. Reading the account back:");
    let account = provider.account(&account.id).await?;
    show_account(&account);

    if args.keep {
        println!("6. Keeping account {} (--keep).", account.id);
    } else {
        println!("6. Terminating account {} ...", account.id);
        provider.terminate(&account.id).await?;
        let account = provider.account(&account.id).await?;
        println!("    status          {:?}", account.status);
    }
    println!("Done.");
    Ok(())
}

fn fastrand_id() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() & 0xFF_FFFF)
        .unwrap_or(0)
}

async fn provision_many(
    provider: &dyn InteractiveServicesProvider,
    args: &Args,
    run: &str,
) -> Result<(), Error> {
    println!("3. Provisioning {} customers concurrently ...", args.count);
    let bar = ProgressBar::new(args.count as u64);
    if let Ok(style) =
        ProgressStyle::with_template("    [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let started = Instant::now();
    let tasks = (0..args.count).map(|i| {
        let bar = bar.clone();
        let request = sample_request(&format!("EXAMPLE-{run}-{i:05}"));
        async move {
            let r = provider.provision(&request).await;
            bar.inc(1);
            r
        }
    });
    // At most 16 calls in flight: Alarm.com is rate-sensitive.
    let results: Vec<_> = stream::iter(tasks).buffer_unordered(16).collect().await;
    bar.finish();
    let elapsed = started.elapsed();
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    println!(
        "    {} provisioned, {} failed, in {:.2?} ({:.1}/s)",
        ok.len(),
        failed.len(),
        elapsed,
        ok.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    for e in failed.iter().filter_map(|r| r.as_ref().err()).take(5) {
        println!("    error: {e}");
    }
    if !args.keep {
        println!("4. Terminating them ...");
        let ids: Vec<_> = ok
            .into_iter()
            .filter_map(Result::ok)
            .map(|a| a.id)
            .collect();
        let results: Vec<_> = stream::iter(ids.iter().map(|id| provider.terminate(id)))
            .buffer_unordered(16)
            .collect()
            .await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        println!("    {} terminated, {failed} failed", ids.len() - failed);
    }
    println!("Done.");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let version = if args.soap12 {
        SoapVersion::V12
    } else {
        SoapVersion::V11
    };

    // Keep the simulator alive for the whole walk.
    let (config, _simulator) = if args.live {
        match live_config(&args) {
            Ok(c) => (c, None),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let sim = AlarmComSimulator::start().await;
        if args.count > 1 {
            // A little latency makes the concurrency (and the progress bar) visible.
            sim.set_latency(Duration::from_millis(20));
        }
        println!("Started the Alarm.com simulator at {}", sim.endpoint());
        (sim.config(), Some(sim))
    };

    // The registry builds the provider with the host's options and wraps it in the
    // configuration's rules (default plan, Active/Inactive).
    let options = ProviderOptions::new().soap_version(version);
    let provider = match ProviderRegistry::with_built_ins().build_with(&config, &options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match walk(&provider, &config, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
