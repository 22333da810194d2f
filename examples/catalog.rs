//! Load a two-vendor catalog from TOML with its secrets in environment variables, draw each
//! provider's credential form as text, and verify both entries.
//!
//! ```text
//! cargo run --example catalog                 # the built-in demo catalog, on simulators
//! cargo run --example catalog -- my.toml      # your own catalog file (real vendors!)
//! ```
//!
//! The demo catalog points at the embedded Alarm.com and Total Connect simulators on loopback
//! and names its passwords as `env:DEMO_ADC_PASSWORD` and `env:DEMO_TC_PASSWORD`. When those
//! variables are not set, the example says so and uses the simulators' demo passwords; set
//! them to something else to see a refused login in the report.
//!
//! Exit codes: 0 every entry verified, 1 an entry failed verification or the catalog did not
//! load, 2 a usage error.

use std::io::Write;
use std::process::ExitCode;

use interactive_services::config::{CredentialOutcome, PlanCheck, verify};
use interactive_services::providers::alarm_com::simulator::{self as adc_sim, AlarmComSimulator};
use interactive_services::providers::total_connect::simulator::{
    self as tc_sim, TotalConnectSimulator,
};
use interactive_services::{CatalogLoader, IspCatalog, ProviderRegistry};

/// The demo catalog; `{adc}` and `{tc}` become the simulators' endpoints.
const DEMO: &str = r#"
[[isp]]
name = "Alarm.com (main)"
provider = "alarm_com"
default_plan = "9"
endpoint = "{adc}"
[isp.credentials]
login = "dealer-integration"
password = { secret = "env:DEMO_ADC_PASSWORD" }
[isp.host]
branch = "north"

[[isp]]
name = "Total Connect"
provider = "total_connect"
default_plan = "TC-BASIC"
endpoint = "{tc}"
[isp.credentials]
user_name = "tc-dealer-integration"
password = { secret = "env:DEMO_TC_PASSWORD" }
application_id = "{tc_app}"
application_version = "{tc_version}"
company_id = "{tc_company}"
"#;

/// Writes a line; a closed pipe (`| head`) ends the example quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return ExitCode::SUCCESS;
        }
    };
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (text, demo, _sims) = match args.as_slice() {
        [] => {
            let adc = AlarmComSimulator::start().await;
            let tc = TotalConnectSimulator::start().await;
            let text = DEMO
                .replace("{adc}", &adc.endpoint())
                .replace("{tc}", &tc.endpoint())
                .replace("{tc_app}", tc_sim::APPLICATION_ID)
                .replace("{tc_version}", tc_sim::APPLICATION_VERSION)
                .replace("{tc_company}", tc_sim::COMPANY_ID);
            (text, true, Some((adc, tc)))
        }
        [flag] if flag == "--help" || flag == "-h" => {
            println!("usage: cargo run --example catalog [-- <catalog.toml>]");
            return ExitCode::SUCCESS;
        }
        [path] if !path.starts_with('-') => match std::fs::read_to_string(path) {
            Ok(text) => (text, false, None),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                return ExitCode::from(1);
            }
        },
        _ => {
            eprintln!("usage: cargo run --example catalog [-- <catalog.toml>]");
            return ExitCode::from(2);
        }
    };

    // Secrets come from the environment; the demo falls back to the simulators' passwords.
    let loader = CatalogLoader::new().secrets("env", move |name| match std::env::var(name) {
        Ok(value) => Ok(value),
        Err(_) if demo && name == "DEMO_ADC_PASSWORD" => Ok(adc_sim::DEFAULT_PASSWORD.to_owned()),
        Err(_) if demo && name == "DEMO_TC_PASSWORD" => Ok(tc_sim::DEFAULT_PASSWORD.to_owned()),
        Err(_) => Err("the environment variable is not set".to_owned()),
    });
    if demo {
        for var in ["DEMO_ADC_PASSWORD", "DEMO_TC_PASSWORD"] {
            if std::env::var_os(var).is_none() {
                say!("note: {var} is not set; using the simulator's demo password");
            }
        }
    }
    let catalog: IspCatalog = match loader.read_toml(&text) {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("error: the catalog did not load:\n  {e}");
            return ExitCode::from(1);
        }
    };
    let registry = ProviderRegistry::with_built_ins();
    say!("{} entries loaded\n", catalog.len());

    let mut all_ok = true;
    for config in catalog.iter() {
        say!("== {config}");
        // The credential form an admin screen would draw for this provider.
        if let Some(spec) = registry.spec(config.provider()) {
            say!("   {} credentials:", spec.display_name);
            for field in spec.credential_fields {
                let value = match config.credentials().expose(field.key) {
                    None => "(empty)".to_owned(),
                    Some(_) if field.secret => {
                        match config.secret_ref(&format!("credentials.{}", field.key)) {
                            Some(reference) => format!("•••••• (from {reference})"),
                            None => "••••••".to_owned(),
                        }
                    }
                    Some(v) => format!("[{v}]"),
                };
                say!(
                    "   {:<22} {:<28} {}{}",
                    field.label,
                    value,
                    if field.required {
                        "required"
                    } else {
                        "optional"
                    },
                    if field.secret { ", secret" } else { "" },
                );
                say!("   {:<22} {}", "", field.help);
            }
        }
        if !config.host().is_empty() {
            let keys: Vec<&str> = config.host().keys().map(String::as_str).collect();
            say!("   host settings kept: {}", keys.join(", "));
        }

        let provider = match catalog.provider(config.name(), &registry) {
            Ok(p) => p,
            Err(e) => {
                say!("   cannot build the provider: {e}\n");
                all_ok = false;
                continue;
            }
        };
        let report = verify(config, provider.as_ref()).await;
        match &report.credentials {
            CredentialOutcome::Accepted { login, .. } => say!("   login {login}: accepted"),
            CredentialOutcome::Rejected { message } => say!("   login rejected: {message}"),
            CredentialOutcome::Insufficient => say!("   login lacks the integration role"),
            CredentialOutcome::Unreachable { error, .. } => say!("   could not check: {error}"),
            other => say!("   credentials: {other:?}"),
        }
        for missing in &report.missing_permissions {
            say!(
                "   missing {} (for {}): {}",
                missing.permission,
                missing.needed_for,
                missing.guidance
            );
        }
        for unverified in &report.unverified_permissions {
            say!(
                "   could not read {} (for {}): {}",
                unverified.permission,
                unverified.needed_for,
                unverified.how_to_check
            );
        }
        match &report.default_plan {
            PlanCheck::Found { plan } => say!("   default plan {}: {}", plan.id, plan.name),
            PlanCheck::NotSet => say!("   no default plan"),
            PlanCheck::NotFound { plan, .. } => say!("   default plan {plan} is not offered"),
            other => say!("   default plan: {other:?}"),
        }
        say!(
            "   {}\n",
            if report.is_ok() {
                "verified"
            } else {
                "NOT verified"
            }
        );
        all_ok &= report.is_ok();
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
