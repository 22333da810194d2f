//! Promises under races, slow vendors and hostile answers: no duplicate customer, no wrong
//! account, no panic, no echo of a secret.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_PASSWORD as ADC_PASSWORD,
};
use interactive_services::providers::common::{CreateOnce, InProcessCreates};
use interactive_services::providers::total_connect::TotalConnect;
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::testkit::faults::{FaultKind, FaultRule};
use interactive_services::{
    AccountId, Error, ErrorKind, InteractiveServicesProvider, PlanChange, ProvisionRequest,
};
use wiremock::matchers::{header, method};
use wiremock::{Mock, ResponseTemplate};

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

fn options() -> TransportOptions {
    TransportOptions {
        attempt_timeout: ATTEMPT_TIMEOUT,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            deadline: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(1),
        },
        ..TransportOptions::default()
    }
}

/// Each test its own coordinator, so that tests running at once in one process do not wait on
/// each other (the global one is shared by every provider of a process).
fn creates() -> CreateOnce {
    CreateOnce {
        coordinator: Arc::new(InProcessCreates::default()),
        ..CreateOnce::default()
    }
}

fn alarm(sim: &AlarmComSimulator, settings: &CreateOnce) -> AlarmCom {
    AlarmCom::builder(&sim.config())
        .transport_options(options())
        .create_once(settings.clone())
        .build()
        .expect("provider")
}

fn total_connect(sim: &TotalConnectSimulator, settings: &CreateOnce) -> TotalConnect {
    TotalConnect::builder(&sim.config())
        .transport_options(options())
        .create_once(settings.clone())
        .build()
        .expect("provider")
}

fn alarm_request(dealer: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer)
        .name("Grace", "Hopper")
        .plan("9")
        .build()
}

fn tc_request(dealer: &str) -> ProvisionRequest {
    let mut r = ProvisionRequest::builder(dealer)
        .name("Grace", "Hopper")
        .plan("TC-BASIC")
        .modem_serial("00:D0:2D:00:00:01")
        .build();
    for (k, v) in [
        ("city_number", "12"),
        ("cs_number", "34"),
        ("subscriber_number", "000001"),
        ("crc", "ABCD"),
    ] {
        r.vendor_fields.insert(k.into(), v.into());
    }
    r
}

/// Every result is the one account or a conflict naming it.
fn assert_one_account(results: &[Result<interactive_services::IspAccount, Error>]) -> AccountId {
    let created: Vec<&AccountId> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|a| &a.id))
        .collect();
    assert_eq!(created.len(), 1, "exactly one call creates: {results:?}");
    let id = created[0].clone();
    for r in results {
        match r {
            Ok(a) => assert_eq!(a.id, id),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
                assert_eq!(e.existing_account(), Some(&id), "{e}");
            }
        }
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_provisions_of_one_customer_make_one_alarm_com_customer() {
    let sim = AlarmComSimulator::start().await;
    sim.accept_duplicate_dealer_ids(true); // the vendor would not save us
    sim.set_latency(Duration::from_millis(5));
    let settings = creates();
    // Two providers built from one configuration share the coordinator, as a host's would.
    let providers = [alarm(&sim, &settings), alarm(&sim, &settings)];
    let request = alarm_request("D-RACE");
    let calls = (0..100).map(|i| providers[i % 2].provision(&request));
    let results = join_all(calls).await;
    let id = assert_one_account(&results);
    assert_eq!(sim.customers_with_dealer_id("D-RACE"), 1);
    assert_eq!(sim.call_count("CreateCustomer"), 1);
    assert!(sim.customer(id.as_str().parse().expect("id")).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_provisions_of_one_customer_make_one_total_connect_account() {
    let sim = TotalConnectSimulator::start().await;
    sim.set_latency(Duration::from_millis(5));
    let settings = creates();
    let providers = [
        total_connect(&sim, &settings),
        total_connect(&sim, &settings),
    ];
    let request = tc_request("D-RACE");
    let calls = (0..100).map(|i| providers[i % 2].provision(&request));
    let results = join_all(calls).await;
    assert_one_account(&results);
    assert_eq!(sim.accounts_with_dealer_id("D-RACE"), 1);
    assert_eq!(sim.call_count("CreateAccount"), 1);
}

/// The vendor commits the create three attempt timeouts after it arrived: the provider never
/// makes a second one, however often it is asked in the meantime.
async fn late_commit<P: InteractiveServicesProvider>(
    provider: &P,
    request: &ProvisionRequest,
    customers: impl Fn() -> usize,
    creates: impl Fn() -> usize,
) {
    let first = provider.provision(request).await;
    match &first {
        Err(
            e @ Error::OutcomeUnknown {
                dealer_customer_id, ..
            },
        ) => {
            assert_eq!(dealer_customer_id, request.dealer_customer_id.as_str());
            assert!(e.is_retryable());
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    // Asked again while the vendor has not committed: still nothing is created.
    let again = provider.provision(request).await;
    assert_eq!(
        again.as_ref().err().map(Error::kind),
        Some(ErrorKind::OutcomeUnknown)
    );
    assert_eq!(customers(), 0, "not committed yet");
    tokio::time::sleep(ATTEMPT_TIMEOUT * 4).await;
    assert_eq!(customers(), 1, "the vendor committed the first create");
    let later = provider.provision(request).await;
    let Err(e) = later else {
        panic!("the customer exists: {later:?}")
    };
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(e.existing_account().is_some());
    assert_eq!(customers(), 1, "exactly one customer");
    assert_eq!(creates(), 1, "exactly one create");
}

#[tokio::test]
async fn a_create_alarm_com_commits_late_is_never_made_twice() {
    let sim = AlarmComSimulator::start().await;
    sim.accept_duplicate_dealer_ids(true);
    sim.inject(FaultRule::next(FaultKind::CommitLate(ATTEMPT_TIMEOUT * 3)).on("CreateCustomer"));
    let p = alarm(&sim, &creates());
    late_commit(
        &p,
        &alarm_request("D-LATE"),
        || sim.customers_with_dealer_id("D-LATE"),
        || sim.call_count("CreateCustomer"),
    )
    .await;
}

#[tokio::test]
async fn a_create_total_connect_commits_late_is_never_made_twice() {
    let sim = TotalConnectSimulator::start().await;
    sim.inject(FaultRule::next(FaultKind::CommitLate(ATTEMPT_TIMEOUT * 3)).on("CreateAccount"));
    let p = total_connect(&sim, &creates());
    late_commit(
        &p,
        &tc_request("D-LATE"),
        || sim.accounts_with_dealer_id("D-LATE"),
        || sim.call_count("CreateAccount"),
    )
    .await;
}

const HOSTILE_IDS: [&str; 9] = [
    "12\n34",
    "12\t34",
    "..",
    "12/34",
    "12%2F34",
    "",
    "-5",
    "1234567890123456789012345678901234567890",
    " 42",
];

async fn ids_cannot_travel<P: InteractiveServicesProvider>(p: &P, received: impl Fn() -> usize) {
    let before = received();
    for raw in HOSTILE_IDS {
        let id = AccountId::new(raw);
        let results = [
            p.account(&id).await.err(),
            p.change_plan(&id, &PlanChange::new().add("LightAutomation"))
                .await
                .err(),
            p.terminate(&id).await.err(),
        ];
        for r in results {
            let e = r.unwrap_or_else(|| panic!("{raw:?} was accepted"));
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{raw:?}: {e}");
        }
    }
    assert_eq!(received(), before, "no request left the host");
}

#[tokio::test]
async fn ids_that_could_address_another_resource_are_refused_before_any_request() {
    let adc = AlarmComSimulator::start().await;
    let p = alarm(&adc, &creates());
    let server = adc.server();
    let count = || {
        futures::executor::block_on(server.received_requests())
            .map(|r| r.len())
            .unwrap_or(usize::MAX)
    };
    ids_cannot_travel(&p, count).await;

    let tc = TotalConnectSimulator::start().await;
    let p = total_connect(&tc, &creates());
    let server = tc.server();
    let count = || {
        futures::executor::block_on(server.received_requests())
            .map(|r| r.len())
            .unwrap_or(usize::MAX)
    };
    ids_cannot_travel(&p, count).await;
}

#[tokio::test]
async fn control_characters_in_customer_fields_are_refused_with_their_path() {
    let sim = AlarmComSimulator::start().await;
    let p = alarm(&sim, &creates());
    let mut request = alarm_request("D-CTRL");
    request.contact.last_name = "Hop\u{0}per".into();
    request.address.city = "Arling\nton".into();
    let e = p.provision(&request).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    let shown = e.to_string();
    assert!(shown.contains("contact.last_name"), "{shown}");
    assert!(shown.contains("address.city"), "{shown}");
    assert_eq!(sim.calls().len(), 0, "nothing was sent");
}

fn adc_answer(op: &str, result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{op}Response xmlns="http://www.alarm.com/WebServices"><{op}Result>{result}</{op}Result></{op}Response></soap:Body></soap:Envelope>"#
        ),
        "text/xml; charset=utf-8",
    )
}

async fn answer_in_front(sim: &AlarmComSimulator, op: &str, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(header(
            "soapaction",
            format!("\"http://www.alarm.com/WebServices/{op}\"").as_str(),
        ))
        .respond_with(template)
        .with_priority(1)
        .mount(sim.server())
        .await;
}

#[tokio::test]
async fn a_lookup_answering_minus_one_is_not_taken_for_absent() {
    let sim = AlarmComSimulator::start().await;
    answer_in_front(
        &sim,
        "LookupCustomerIdFromDealerCustomerId",
        adc_answer("LookupCustomerIdFromDealerCustomerId", "-1"),
    )
    .await;
    let p = alarm(&sim, &creates());
    let e = p
        .provision(&alarm_request("D-NEG"))
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(
        sim.call_count("CreateCustomer"),
        0,
        "no create on a bad lookup"
    );
}

#[tokio::test]
async fn an_answer_for_another_customer_or_in_another_namespace_is_refused() {
    let sim = AlarmComSimulator::start().await;
    let p = alarm(&sim, &creates());
    let account = p
        .provision(&alarm_request("D-READ"))
        .await
        .expect("provision");
    answer_in_front(
        &sim,
        "GetCustomerInfo",
        adc_answer(
            "GetCustomerInfo",
            "<CustomerId>999999</CustomerId><IsTerminated>false</IsTerminated>",
        ),
    )
    .await;
    let e = p.account(&account.id).await.expect_err("another customer");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("999999"), "{e}");

    let foreign = AlarmComSimulator::start().await;
    let p = alarm(&foreign, &creates());
    let account = p
        .provision(&alarm_request("D-NS"))
        .await
        .expect("provision");
    let id = account.id.as_str();
    answer_in_front(
        &foreign,
        "GetCustomerInfo",
        ResponseTemplate::new(200).set_body_raw(
            format!(
                r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://attacker.example/"><GetCustomerInfoResult><CustomerId>{id}</CustomerId></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#
            ),
            "text/xml",
        ),
    )
    .await;
    let e = p.account(&account.id).await.expect_err("foreign namespace");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

#[tokio::test]
async fn out_of_range_ids_in_answers_are_refused() {
    for (customer, package) in [
        ("0", "9"),
        ("-7", "9"),
        ("7000001", "1e308"),
        ("7000001", "-2"),
    ] {
        let sim = AlarmComSimulator::start().await;
        answer_in_front(
            &sim,
            "GetCustomerInfo",
            adc_answer(
                "GetCustomerInfo",
                &format!(
                    "<CustomerId>{customer}</CustomerId><ServicePlanInfo><PackageId>{package}</PackageId></ServicePlanInfo>"
                ),
            ),
        )
        .await;
        let p = alarm(&sim, &creates());
        let e = p
            .account(&AccountId::new("7000001"))
            .await
            .expect_err("refused");
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidResponse,
            "{customer}/{package}: {e}"
        );
    }
}

#[tokio::test]
async fn a_huge_fault_text_becomes_a_short_error_and_an_echoed_password_is_scrubbed() {
    let sim = AlarmComSimulator::start().await;
    let huge = "x".repeat(7 * 1024 * 1024);
    sim.inject(FaultRule::next(FaultKind::Fault(huge)).on("GetCustomerInfo"));
    let p = alarm(&sim, &creates());
    let e = p
        .account(&AccountId::new("7000001"))
        .await
        .expect_err("fault");
    assert!(e.to_string().len() < 4096, "{} bytes", e.to_string().len());

    sim.inject(
        FaultRule::next(FaultKind::Fault(format!(
            "Login dealer-integration with password {ADC_PASSWORD} is not allowed here"
        )))
        .on("GetCustomerInfo"),
    );
    let e = p
        .account(&AccountId::new("7000001"))
        .await
        .expect_err("fault");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(ADC_PASSWORD), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
}
