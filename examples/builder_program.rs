//! A home builder's pre-wired home, end to end at Alarm.com's Builder Program: list the
//! builder programs the dealer takes part in, record a commitment for a lot, move its ready
//! date, activate it into a live customer when the homeowner moves in, and read the customer
//! back.
//!
//! ```text
//! cargo run --example builder_program            # against the embedded Alarm.com simulator
//! cargo run --example builder_program | head -3  # stops quietly when the reader goes away
//! ```
//!
//! It takes no flags (`-h`/`--help` prints this usage) and contacts nothing but the simulator
//! it starts on loopback. The configuration opts into the Builder Program
//! (`IspConfig::builder_program`); without the opt-in every Builder Program call is refused
//! before any request. The simulator's login has both legacy Builder roles ("Dealer
//! Administrator" and "Manage Builder Program").
//!
//! Exit codes: 0 the walk succeeded (or stdout was closed, or `--help`); 1 a call failed;
//! 2 a usage error.

use std::io::{self, Write};
use std::process::ExitCode;

use chrono::NaiveDate;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::{
    Address, BuilderProgramRecordRequest, CommitmentActivation, CommitmentUpdate, Error,
    InteractiveServicesProvider, ProviderRegistry,
};

const HELP: &str = "usage: cargo run --example builder_program

Lists the Builder Programs, records a commitment, updates it, activates it into a live
customer and reads the customer back, against the embedded Alarm.com simulator.";

/// Output: stdout through one function that stops quietly when the reader goes away.
mod out {
    use std::io::{self, Write};

    /// Writes one line to stdout. Once stdout is closed (`| head`), the process exits quietly:
    /// code 0 for a closed pipe, 1 for another write error. The walk creates nothing outside
    /// the simulator, so there is nothing to clean up first.
    pub fn line(args: std::fmt::Arguments<'_>) {
        if let Err(e) = writeln!(io::stdout().lock(), "{args}") {
            let code = if e.kind() == io::ErrorKind::BrokenPipe {
                0
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}

macro_rules! say {
    ($($arg:tt)*) => { out::line(format_args!($($arg)*)) };
}

fn date(year: i32, month: u32, day: u32) -> Result<NaiveDate, Error> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        Error::invalid_request(
            "example",
            "date",
            format!("{year}-{month}-{day} is not a date"),
        )
    })
}

async fn walk() -> Result<(), Error> {
    let simulator = AlarmComSimulator::start().await;
    let config = simulator
        .config()
        .to_builder()
        .name("Alarm.com (Builder Program)")
        .builder_program(true)
        .build()?;
    let provider = ProviderRegistry::with_built_ins().build(&config)?;
    say!(
        "ISP configuration `{}` on {} (Builder Program opt-in: on)",
        config.name(),
        simulator.endpoint()
    );

    // 1. The dropdown: the programs the dealer takes part in.
    let programs = provider.builder_programs().await?;
    say!("Builder Programs ({}):", programs.len());
    for p in &programs {
        say!("  {:>5}  {}  (builder: {})", p.id, p.name, p.builder);
    }
    let Some(program) = programs.first() else {
        say!("The dealer takes part in no Builder Program; nothing more to do.");
        return Ok(());
    };

    // 2. "Create Commitment": the lot, the panel expected, the ready date.
    let lot = Address {
        street1: "14 Willow Way".into(),
        city: "Reston".into(),
        state: "VA".into(),
        zip: "20190".into(),
        country: "US".into(),
        ..Address::default()
    };
    let request = BuilderProgramRecordRequest::commitment(program.id.clone(), "LOT-14")
        .address(lot)
        .expected_panel_type("IQPanel2")
        .ready_date(date(2026, 9, 1)?);
    let commitment = provider.create_builder_program_record(&request).await?;
    say!(
        "Commitment {} for dealer customer {} on {}: {:?}, ready {}",
        commitment.id,
        commitment.dealer_customer_id,
        program.name,
        commitment.status,
        shown_date(commitment.ready_date),
    );
    // Saving again (a double click) returns the same commitment.
    let again = provider.create_builder_program_record(&request).await?;
    say!("Saved again: commitment {} (no second record)", again.id);

    // 3. The builder moves the date and changes the panel.
    let update = CommitmentUpdate::new()
        .expected_panel_type("Neo")
        .ready_date(date(2026, 10, 15)?);
    let updated = provider.update_commitment(&commitment.id, &update).await?;
    say!(
        "Updated: panel {}, ready {}",
        updated.expected_panel_type.as_deref().unwrap_or("-"),
        shown_date(updated.ready_date),
    );

    // 4. The homeowner moves in: activate with the installed panel and communicator, on the
    //    configuration's default plan.
    let activation = CommitmentActivation::new("Neo", "ADC-SERIAL-0014");
    let account = provider
        .activate_commitment(&commitment.id, &activation)
        .await?;
    say!(
        "Activated: customer {} ({:?}, plan {})",
        account.id,
        account.status,
        account.plan.as_ref().map(|p| p.as_str()).unwrap_or("-"),
    );

    // 5. Read the live customer back, and the commitment that names it.
    let read = provider.account(&account.id).await?;
    say!(
        "Customer {}: dealer customer {}, login {}, {:?}",
        read.id,
        read.dealer_customer_id
            .as_ref()
            .map(|d| d.as_str())
            .unwrap_or("-"),
        read.login_name.as_deref().unwrap_or("-"),
        read.status,
    );
    let live = provider.commitment(&commitment.id).await?;
    say!(
        "Commitment {}: {:?}, customer {}, Builder Program {}",
        live.id,
        live.status,
        live.account.as_ref().map(|a| a.as_str()).unwrap_or("-"),
        live.program,
    );
    Ok(())
}

fn shown_date(date: Option<NaiveDate>) -> String {
    date.map_or_else(|| "-".to_owned(), |d| d.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            say!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            let _ = writeln!(
                io::stderr().lock(),
                "error: `{other}` is not a flag of this example (it takes none)\n\n{HELP}"
            );
            return ExitCode::from(2);
        }
    }
    match walk().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr().lock(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
