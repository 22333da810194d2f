//! The simulators' cut-off body and dropped connection are real network faults, the same in
//! debug and release builds (issue #9): run this file in both profiles
//! (`cargo test --all-features --test fault_profiles` and the same with `--release`).
//!
//! What proves it, with no assertion on time:
//!
//! - the transport keeps its default 30-second attempt timeout, and each case asserts the exact
//!   error kind: a cut-off body is [`ErrorKind::InvalidResponse`] ("cut off"), a dropped
//!   connection [`ErrorKind::Transport`], on a create [`ErrorKind::OutcomeUnknown`] carrying
//!   the one or the other. A fault that left the client waiting (as the old wiremock-only fakes
//!   did in release builds) would end as [`ErrorKind::Timeout`] instead and fail the test;
//! - every panic anywhere in the process (the wiremock server's thread, the simulator's front,
//!   the client) is counted, and each test asserts there was none (the old fakes tripped a
//!   hyper `debug_assert!` in debug builds);
//! - the simulator counts the calls: reads are tried exactly `max_attempts` times, a create
//!   whose answer was cut off or dropped is sent once and not again.

use std::panic;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::providers::common::{CreateOnce, InProcessCreates};
use interactive_services::providers::total_connect::TotalConnect;
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::testkit::faults::{self, FaultKind, FaultRule};
use interactive_services::testkit::resilience::SimulatorControl;
use interactive_services::{
    AccountId, Error, ErrorKind, InteractiveServicesProvider, ProvisionRequest,
};
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

const ATTEMPTS: u32 = 3;

/// Panics anywhere in the process since the hook was installed.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic (and still prints it, as the default hook does).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn assert_no_panic() {
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a panic was printed in this process (see the output above)"
    );
}

fn options() -> TransportOptions {
    TransportOptions {
        // The default attempt timeout: the faults must not need it.
        attempt_timeout: TransportOptions::default().attempt_timeout,
        retry: RetryPolicy {
            max_attempts: ATTEMPTS,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..TransportOptions::default()
    }
}

/// Each test its own create coordinator, so that tests running at once do not wait on each
/// other.
fn creates() -> CreateOnce {
    CreateOnce {
        coordinator: Arc::new(InProcessCreates::default()),
        ..CreateOnce::default()
    }
}

async fn alarm_com() -> (AlarmComSimulator, AlarmCom) {
    let sim = AlarmComSimulator::start().await;
    let provider = AlarmCom::builder(&sim.config())
        .transport_options(options())
        .create_once(creates())
        .build()
        .expect("provider");
    (sim, provider)
}

async fn total_connect() -> (TotalConnectSimulator, TotalConnect) {
    let sim = TotalConnectSimulator::start().await;
    let provider = TotalConnect::builder(&sim.config())
        .transport_options(options())
        .create_once(creates())
        .build()
        .expect("provider");
    (sim, provider)
}

fn alarm_com_request(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .plan("9")
        .build()
}

static NEXT_DEVICE: AtomicU64 = AtomicU64::new(1);

fn total_connect_request(dealer_id: &str) -> ProvisionRequest {
    let n = NEXT_DEVICE.fetch_add(1, Ordering::SeqCst);
    let mut r = ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .plan("TC-BASIC")
        .build();
    for (k, v) in [
        ("city_number", "12".to_owned()),
        ("cs_number", format!("{:02}", n % 100)),
        ("subscriber_number", format!("{n:06}")),
        ("mac", format!("00:D0:2D:00:00:{:02X}", n & 0xFF)),
        ("crc", format!("{:04X}", n & 0xFFFF)),
    ] {
        r.vendor_fields.insert(k.to_owned(), v);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// The cases, the same for every vendor.

/// Every read attempt meets `kind`: the read fails with `expected` after exactly
/// [`ATTEMPTS`] reads (no fewer, no storm), and the account is still there to read.
async fn read_fails(
    provider: &dyn InteractiveServicesProvider,
    sim: &dyn SimulatorControl,
    id: &AccountId,
    kind: FaultKind,
    expected: ErrorKind,
) -> Error {
    let read_op = sim.read_operation().to_owned();
    let reads = sim.call_count(&read_op);
    sim.inject(FaultRule::next(kind).on(&read_op).times(ATTEMPTS + 5));
    let e = provider
        .account(id)
        .await
        .expect_err("every read attempt meets the fault");
    assert_eq!(e.kind(), expected, "{e}");
    assert_eq!(
        sim.call_count(&read_op) - reads,
        ATTEMPTS as usize,
        "each attempt reached the vendor once: {e}"
    );
    sim.clear_faults();
    provider
        .account(id)
        .await
        .expect("the account reads again once the fault is gone");
    e
}

/// The create meets `kind` (doing nothing at the vendor): provision answers an unknown outcome
/// that carries the transport's error, the create was sent once, and a provision right after
/// creates nothing either.
async fn create_is_unknown(
    provider: &dyn InteractiveServicesProvider,
    sim: &dyn SimulatorControl,
    request: &ProvisionRequest,
    kind: FaultKind,
    carried: &str,
) {
    let dealer_id = request.dealer_customer_id.as_str();
    let create_op = sim.create_operation().to_owned();
    let creates = sim.call_count(&create_op);
    sim.inject(FaultRule::next(kind).on(&create_op));
    let e = provider
        .provision(request)
        .await
        .expect_err("the create's answer was lost");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    let shown = e.to_string();
    assert!(shown.contains(carried), "expected `{carried}` in: {shown}");
    assert!(!shown.contains("timed out"), "{shown}");
    assert_eq!(sim.call_count(&create_op) - creates, 1, "one create: {e}");

    let again = provider.provision(request).await;
    assert_eq!(
        again.as_ref().err().map(Error::kind),
        Some(ErrorKind::OutcomeUnknown),
        "{again:?}"
    );
    assert_eq!(
        sim.call_count(&create_op) - creates,
        1,
        "no create while unsettled"
    );
    assert_eq!(
        sim.accounts_with_dealer_id(dealer_id),
        0,
        "nothing was made"
    );
    sim.clear_faults();
}

/// The create is carried out but its connection closes without an answer: provision finds the
/// customer made, with one create and one customer.
async fn applied_create_is_found(
    provider: &dyn InteractiveServicesProvider,
    sim: &dyn SimulatorControl,
    request: &ProvisionRequest,
) {
    let dealer_id = request.dealer_customer_id.as_str();
    let create_op = sim.create_operation().to_owned();
    let creates = sim.call_count(&create_op);
    sim.inject(FaultRule::next(FaultKind::ApplyThenDrop).on(&create_op));
    let account = provider
        .provision(request)
        .await
        .expect("the customer made is found");
    assert_eq!(
        account.dealer_customer_id.as_ref().map(|d| d.as_str()),
        Some(dealer_id)
    );
    assert_eq!(sim.call_count(&create_op) - creates, 1, "one create");
    assert_eq!(sim.accounts_with_dealer_id(dealer_id), 1, "one customer");
    sim.clear_faults();
}

async fn every_case(
    provider: &dyn InteractiveServicesProvider,
    sim: &dyn SimulatorControl,
    request: impl Fn(&str) -> ProvisionRequest,
) {
    let account = provider
        .provision(&request("FP-READS"))
        .await
        .expect("provision");

    let e = read_fails(
        provider,
        sim,
        &account.id,
        FaultKind::Truncated,
        ErrorKind::InvalidResponse,
    )
    .await;
    assert!(e.to_string().contains("cut off"), "{e}");
    read_fails(
        provider,
        sim,
        &account.id,
        FaultKind::DropConnection,
        ErrorKind::Transport,
    )
    .await;

    create_is_unknown(
        provider,
        sim,
        &request("FP-CUT"),
        FaultKind::Truncated,
        "invalid response",
    )
    .await;
    create_is_unknown(
        provider,
        sim,
        &request("FP-DROP"),
        FaultKind::DropConnection,
        "transport error",
    )
    .await;
    applied_create_is_found(provider, sim, &request("FP-APPLIED")).await;
}

#[tokio::test]
async fn alarm_com_faults_are_real_in_every_profile() {
    count_panics();
    let (sim, provider) = alarm_com().await;
    every_case(&provider, &sim, alarm_com_request).await;
    assert_no_panic();
}

#[tokio::test]
async fn total_connect_faults_are_real_in_every_profile() {
    count_panics();
    let (sim, provider) = total_connect().await;
    // A SOAP answer cut off (the login) as well as JSON ones (the account API).
    sim.inject(
        FaultRule::next(FaultKind::Truncated)
            .on("AuthenticateUserLogin")
            .times(ATTEMPTS + 5),
    );
    let e = provider
        .service_plans()
        .await
        .expect_err("the login's answer is cut off");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    sim.clear_faults();
    every_case(&provider, &sim, total_connect_request).await;
    assert_no_panic();
}

/// The front itself, seen by a plain HTTP client: an answer passes whole over a kept-alive
/// connection, a cut-off one announces its full length and ends early, a dropped one has no
/// status line — none of them a timeout.
#[tokio::test]
async fn the_front_cuts_and_drops_for_any_client() {
    count_panics();
    let (sim, _) = total_connect().await;
    let root = sim.endpoint();
    let body = "<answer>".repeat(64);
    for (at, template) in [
        (
            "whole",
            ResponseTemplate::new(200).set_body_string(body.clone()),
        ),
        ("cut", faults::cut_off(&body)),
        ("drop", faults::drop_connection()),
    ] {
        Mock::given(path(format!("/{at}")))
            .respond_with(template)
            .with_priority(1)
            .mount(sim.server())
            .await;
    }
    // A guard against a hang only: every expectation below is on the kind of outcome.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let get = |at: &str| client.get(format!("{root}{at}")).send();

    for _ in 0..2 {
        let whole = get("whole").await.expect("an answer");
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.text().await.expect("the whole body"), body);
    }

    let cut = get("cut").await.expect("the headers arrive");
    assert_eq!(cut.status(), 200);
    assert_eq!(cut.content_length(), Some(body.len() as u64));
    assert!(cut.headers().get("x-simulator-fault").is_none());
    let e = cut.bytes().await.expect_err("the body ends early");
    assert!(!e.is_timeout(), "{e:?}");

    let e = get("drop").await.expect_err("no answer");
    assert!(!e.is_timeout() && !e.is_connect(), "{e:?}");

    let whole = get("whole").await.expect("the next answer is whole");
    assert_eq!(whole.text().await.expect("the whole body"), body);
    assert_no_panic();
}
