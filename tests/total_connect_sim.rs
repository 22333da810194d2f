//! Behaviour of the Total Connect provider against the stateful simulator: the session rules
//! integrators learned the hard way (one shared login, one re-login on an invalid session, no
//! login after a rejection), the result-code table, duplicate safety, and the conformance suite.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::total_connect::TotalConnect;
use interactive_services::providers::total_connect::simulator::{
    APPLICATION_ID, APPLICATION_VERSION, COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USER, FaultKind,
    FaultRule, SimUser, TotalConnectSimulator,
};
use interactive_services::providers::total_connect::{CodeClass, RESULT_CODES};
use interactive_services::testkit::conformance::{self, Options};
use interactive_services::testkit::resilience::{self, Refusal, Target};
use interactive_services::{
    AccountId, Error, FeatureId, InteractiveServicesProvider, IspConfig, PlanChange,
    ProviderRegistry, ProvisionRequest,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn fast_options() -> TransportOptions {
    TransportOptions {
        attempt_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            deadline: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(2),
        },
        ..TransportOptions::default()
    }
}

fn provider(config: &IspConfig) -> TotalConnect {
    TotalConnect::builder(config)
        .transport_options(fast_options())
        .build()
        .expect("provider")
}

static NEXT_DEVICE: AtomicU64 = AtomicU64::new(1);

/// Unique City/CS/Subscriber numbers, MAC and CRC for one request.
fn device_fields(r: &mut ProvisionRequest) {
    let n = NEXT_DEVICE.fetch_add(1, Ordering::SeqCst);
    let fields = [
        ("city_number", "12".to_owned()),
        ("cs_number", format!("{:02}", n % 100)),
        ("subscriber_number", format!("{n:06}")),
        (
            "mac",
            format!(
                "00:D0:2D:{:02X}:{:02X}:{:02X}",
                (n >> 16) & 0xFF,
                (n >> 8) & 0xFF,
                n & 0xFF
            ),
        ),
        ("crc", format!("{:04X}", n & 0xFFFF)),
    ];
    for (k, v) in fields {
        r.vendor_fields.insert(k.to_owned(), v);
    }
}

fn request(dealer_id: &str) -> ProvisionRequest {
    let mut r = ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .email("grace@example.com")
        .phone("5555550123")
        .plan("TC-BASIC")
        .add_on("Automation")
        .build();
    device_fields(&mut r);
    r
}

fn options() -> Options {
    let counter = Arc::new(AtomicU64::new(500_000));
    Options {
        features: [FeatureId::new("Automation"), FeatureId::new("Geofencing")],
        prepare: Some(Arc::new(move |r: &mut ProvisionRequest| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            r.vendor_fields.insert("city_number".into(), "77".into());
            r.vendor_fields
                .insert("cs_number".into(), format!("{:02}", n % 97));
            r.vendor_fields
                .insert("subscriber_number".into(), format!("{n:07}"));
            r.vendor_fields
                .insert("mac".into(), format!("00:D0:2D:00:{:04X}", n & 0xFFFF));
            r.vendor_fields
                .insert("crc".into(), format!("{:04X}", (n * 7) & 0xFFFF));
        })),
        ..Options::default()
    }
}

async fn received(sim: &TotalConnectSimulator) -> usize {
    sim.server()
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Conformance.

#[tokio::test]
async fn conformance_suite_passes() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    conformance::run_all(&p, &options()).await;
    assert_eq!(sim.login_count(), 1, "the whole suite ran on one session");
}

#[tokio::test]
async fn conformance_suite_passes_through_the_registry() {
    let sim = TotalConnectSimulator::start().await;
    let registry = ProviderRegistry::with_built_ins();
    let built: Arc<dyn InteractiveServicesProvider> = registry.build(&sim.config()).expect("build");
    conformance::run_all(built.as_ref(), &options()).await;
}

// ---------------------------------------------------------------------------------------------
// Resilience.

fn refused(dealer_id: &str) -> Refusal {
    let mut req = request(dealer_id);
    req.add_ons.push(interactive_services::AddOn {
        feature: FeatureId::new("HoloDoorbell"),
        quantity: None,
    });
    Refusal::new(req, "HoloDoorbell")
}

#[tokio::test]
async fn resilience_suite_passes() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    resilience::run_all(&Target::new(&p, &sim, request, refused)).await;
    assert_eq!(sim.login_count(), 1, "the whole suite ran on one session");
}

#[tokio::test]
async fn a_lost_create_answer_is_looked_up_before_and_after() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    sim.inject(FaultRule::next(FaultKind::ApplyThenDrop).on("CreateAccount"));
    p.provision(&request("D-LOST"))
        .await
        .expect("provision recovers");
    assert_eq!(
        sim.call_count("FindAccounts"),
        2,
        "looked up before and after"
    );
}

#[tokio::test]
async fn a_refusal_carries_the_vendor_code() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    match p.provision(&refused("D-BAD").request).await {
        Err(Error::Rejected { code, .. } | Error::Vendor { code, .. }) => {
            assert_eq!(code.as_deref(), Some("-501"))
        }
        other => panic!("expected a vendor refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_fault_on_the_dealer_api_carries_code_999() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    sim.inject(
        FaultRule::next(FaultKind::Fault("Unexpected server error".into())).on("GetAccount"),
    );
    match p.account(&AccountId::new("5100001")).await {
        Err(Error::Vendor { code, message, .. }) => {
            assert_eq!(code.as_deref(), Some("-999"));
            assert!(message.contains("Unexpected server error"), "{message}");
        }
        other => panic!("expected a vendor error, got {other:?}"),
    }
}

#[tokio::test]
async fn editing_an_unknown_account_reports_it() {
    let sim = TotalConnectSimulator::start().await;
    assert!(!sim.edit_account("0", |_| {}));
}

// ---------------------------------------------------------------------------------------------
// Sessions.

#[tokio::test]
async fn fifty_concurrent_calls_share_one_login() {
    let sim = TotalConnectSimulator::start().await;
    sim.set_latency(Duration::from_millis(30));
    let p = Arc::new(provider(&sim.config()));
    let calls = (0..50).map(|i| {
        let p = p.clone();
        tokio::spawn(async move {
            if i % 2 == 0 {
                p.service_plans().await.map(|_| ())
            } else {
                // An unknown account: the call reaches the API and answers NotFound.
                match p.account(&AccountId::new("999999999")).await {
                    Err(Error::NotFound { .. }) => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        })
    });
    for r in futures::future::join_all(calls).await {
        r.expect("task").expect("call");
    }
    assert_eq!(sim.login_count(), 1, "one login for 50 concurrent calls");
    assert_eq!(sim.call_count("GetPlans"), 25);
    assert_eq!(sim.call_count("GetAccount"), 25);
}

#[tokio::test]
async fn an_expired_session_gets_exactly_one_relogin() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-EXPIRE")).await.expect("provision");
    assert_eq!(sim.login_count(), 1);
    let reads = sim.call_count("GetAccount");

    sim.expire_sessions();
    let read = p.account(&acct.id).await.expect("read after a re-login");
    assert_eq!(read.id, acct.id);
    assert_eq!(sim.login_count(), 2, "exactly one re-login");
    assert_eq!(
        sim.call_count("GetAccount"),
        reads + 2,
        "the refused call and its one repeat"
    );

    // The new session is kept: no further login.
    p.account(&acct.id).await.expect("read again");
    assert_eq!(sim.login_count(), 2);
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_session_share_one_relogin() {
    let sim = TotalConnectSimulator::start().await;
    let p = Arc::new(provider(&sim.config()));
    p.service_plans().await.expect("plans");
    assert_eq!(sim.login_count(), 1);
    sim.expire_sessions();
    sim.set_latency(Duration::from_millis(20));
    let calls = (0..20).map(|_| {
        let p = p.clone();
        tokio::spawn(async move { p.service_plans().await })
    });
    for r in futures::future::join_all(calls).await {
        r.expect("task").expect("plans after the session expired");
    }
    assert_eq!(sim.login_count(), 2, "one re-login shared by every call");
}

#[tokio::test]
async fn two_invalid_session_answers_in_a_row_fail_without_a_loop() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-TWICE")).await.expect("provision");
    let logins = sim.login_count();
    let reads = sim.call_count("GetAccount");

    sim.inject(
        FaultRule::next(FaultKind::ResultCode(-102))
            .on("GetAccount")
            .times(2),
    );
    let r = p.account(&acct.id).await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(sim.login_count(), logins + 1, "one re-login only");
    assert_eq!(sim.call_count("GetAccount"), reads + 2, "one repeat only");

    // The other invalid-session code behaves the same.
    sim.inject(
        FaultRule::next(FaultKind::ResultCode(-30002))
            .on("GetAccount")
            .times(2),
    );
    let r = p.account(&acct.id).await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(sim.login_count(), logins + 2);

    // An invalid session does not poison the provider: the next call works.
    p.account(&acct.id).await.expect("read");
}

#[tokio::test]
async fn a_rejected_password_logs_in_once_and_then_sends_nothing() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config_for(DEFAULT_USER, "wrong-password"));
    let r = p.validate_credentials().await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(sim.login_count(), 1);
    let before = received(&sim).await;
    assert_eq!(before, 1, "the login only");

    let id = AccountId::new("5100001");
    let results = vec![
        ("service_plans", p.service_plans().await.map(|_| ())),
        ("account", p.account(&id).await.map(|_| ())),
        (
            "provision",
            p.provision(&request("D-REJECTED")).await.map(|_| ()),
        ),
        (
            "change_plan",
            p.change_plan(&id, &PlanChange::new().add("Geofencing"))
                .await
                .map(|_| ()),
        ),
        ("terminate", p.terminate(&id).await),
        ("list_accounts", p.list_accounts(false).await.map(|_| ())),
    ];
    for (what, r) in results {
        assert!(
            matches!(r, Err(Error::Unauthenticated { .. })),
            "{what}: {r:?}"
        );
    }
    assert_eq!(sim.login_count(), 1, "no second login");
    assert_eq!(received(&sim).await, before, "nothing more was sent");
    assert!(
        !sim.user(DEFAULT_USER).expect("user").locked,
        "one bad login does not lock"
    );
}

#[tokio::test]
async fn a_locked_account_is_unauthenticated_and_not_retried() {
    let sim = TotalConnectSimulator::start().await;
    sim.lock_after_bad_logins(1);
    let bad = provider(&sim.config_for(DEFAULT_USER, "wrong-password"));
    let r = bad.service_plans().await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert!(sim.user(DEFAULT_USER).expect("user").locked);

    // A second provider with the right password now meets the lock (-123).
    let good = provider(&sim.config());
    match good.service_plans().await {
        Err(Error::Unauthenticated { message, .. }) => {
            assert!(message.contains("-123"), "{message}")
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    assert_eq!(sim.login_count(), 2);
    let r = good.account(&AccountId::new("5100001")).await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(sim.login_count(), 2, "the locked account is left alone");
}

#[tokio::test]
async fn an_unregistered_application_is_unauthenticated() {
    let sim = TotalConnectSimulator::start().await;
    let config = sim
        .config()
        .to_builder()
        .credential("application_id", "SOMEONE-ELSES-APP")
        .build()
        .expect("config");
    let p = provider(&config);
    match p.validate_credentials().await {
        Err(Error::Unauthenticated { message, .. }) => {
            assert!(message.contains("-100"), "{message}")
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    let r = p.service_plans().await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(sim.login_count(), 1);
}

#[tokio::test]
async fn an_empty_answer_is_unavailable_not_unauthenticated() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());

    // An empty login answer. (A stand-in answers once, in front of the simulator: wiremock's
    // scoped mocks cannot be used here, as dropping one next to a lower-priority mock
    // deactivates the wrong mock.)
    Mock::given(method("POST"))
        .and(path("/TC21api/tc2.asmx"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(sim.server())
        .await;
    let r = p.service_plans().await;
    match &r {
        Err(e @ Error::Unavailable { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    p.service_plans()
        .await
        .expect("an empty answer does not stop the provider from logging in");
    assert_eq!(
        sim.login_count(),
        1,
        "the empty answer came from the stand-in"
    );

    // An empty API answer.
    Mock::given(method("GET"))
        .and(path(format!(
            "/{}companies/{COMPANY_ID}/plans",
            "AlarmNet360/api/v1/"
        )))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(sim.server())
        .await;
    let r = p.service_plans().await;
    assert!(matches!(r, Err(Error::Unavailable { .. })), "{r:?}");
    p.service_plans().await.expect("plans");
    assert_eq!(sim.login_count(), 1, "the session was kept");
}

#[tokio::test]
async fn login_faults_are_not_credential_rejections() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    sim.inject(
        FaultRule::next(FaultKind::Fault(
            "Server was unable to process request".into(),
        ))
        .on("AuthenticateUserLogin"),
    );
    let r = p.service_plans().await;
    assert!(
        r.is_err() && !matches!(r, Err(Error::Unauthenticated { .. })),
        "{r:?}"
    );
    // A 503 at login is retried (a login that failed in transit rejected nothing).
    sim.inject(FaultRule::next(FaultKind::Status(503)).on("AuthenticateUserLogin"));
    p.service_plans().await.expect("plans after a 503 at login");
    assert_eq!(sim.login_count(), 3);
}

// ---------------------------------------------------------------------------------------------
// Result codes.

#[tokio::test]
async fn every_result_code_maps_to_its_documented_error() {
    let sim = TotalConnectSimulator::start().await;
    let id = AccountId::new("5100001");
    let mut checked = 0;
    for &(code, class, meaning) in RESULT_CODES {
        if matches!(class, CodeClass::Success | CodeClass::InvalidSession) {
            continue;
        }
        // A fresh provider each time: the credential codes must not leak into the next check.
        let p = provider(&sim.config());
        sim.clear_faults();
        sim.inject(
            FaultRule::next(FaultKind::ResultCode(code))
                .on("GetAccount")
                .times(10),
        );
        let r = p.account(&id).await;
        sim.clear_faults();
        let code_text = code.to_string();
        match (class, &r) {
            (CodeClass::Retryable, Err(e @ Error::Unavailable { .. })) => {
                assert!(e.is_retryable(), "{code}: {e}")
            }
            (CodeClass::BadCredentials, Err(Error::Unauthenticated { .. }))
            | (CodeClass::NotAuthorized, Err(Error::PermissionDenied { .. }))
            | (CodeClass::Unsupported, Err(Error::Unsupported { .. }))
            | (CodeClass::NotFound, Err(Error::NotFound { .. })) => {}
            (CodeClass::InvalidParameter, Err(e @ Error::Rejected { code: Some(c), .. }))
                if *c == code_text =>
            {
                assert!(!e.is_retryable(), "{code}: the input was refused")
            }
            (CodeClass::VendorError, Err(e @ Error::Vendor { code: Some(c), .. }))
                if *c == code_text =>
            {
                assert!(e.is_retryable(), "{code}: the vendor's own failure")
            }
            _ => panic!("{code} ({meaning}, {class:?}) mapped to {r:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "every non-success, non-session code checked");

    // An unknown code fails closed, with the code in the error.
    let p = provider(&sim.config());
    sim.inject(FaultRule::next(FaultKind::ResultCode(31337)).on("GetAccount"));
    match p.account(&id).await {
        Err(e @ Error::Vendor { .. }) => {
            assert!(
                matches!(&e, Error::Vendor { code: Some(c), .. } if c == "31337"),
                "{e:?}"
            );
            assert!(e.to_string().contains("31337"), "{e}");
        }
        other => panic!("expected a Vendor error, got {other:?}"),
    }
}

#[tokio::test]
async fn another_companys_session_is_permission_denied() {
    let sim = TotalConnectSimulator::start().await;
    sim.add_user(
        "elsewhere",
        SimUser::new("pw-elsewhere-1").in_company("13579"),
    );
    let config = sim
        .config_for("elsewhere", "pw-elsewhere-1")
        .to_builder()
        .credential("company_id", COMPANY_ID)
        .build()
        .expect("config");
    let p = provider(&config);
    let r = p.service_plans().await;
    assert!(matches!(r, Err(Error::PermissionDenied { .. })), "{r:?}");
    // The right company works.
    provider(&sim.config_for("elsewhere", "pw-elsewhere-1"))
        .service_plans()
        .await
        .expect("own company");
}

// ---------------------------------------------------------------------------------------------
// Provisioning.

#[tokio::test]
async fn provision_sends_every_field() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let req = ProvisionRequest::builder("D-FIELDS")
        .name("Ada", "Lovelace")
        .company("Analytical Engines Ltd")
        .email("ada@example.com")
        .phone("5555550100")
        .plan("TC-COMM")
        .add_on("VideoServices")
        .add_on("SmartScenes")
        .vendor_field("city_number", "31")
        .vendor_field("cs_number", "07")
        .vendor_field("subscriber_number", "004242")
        .vendor_field("mac", "00:D0:2D:12:34:56")
        .vendor_field("crc", "BEEF")
        .vendor_field("location_name", "Head Office")
        .vendor_field("account_type", "commercial")
        .vendor_field("phone2", "5555550101")
        .vendor_field("phone3", "5555550102")
        .build();
    let acct = p.provision(&req).await.expect("provision");
    let a = sim.account(acct.id.as_str()).expect("account stored");
    assert_eq!(a.dealer_customer_id.as_deref(), Some("D-FIELDS"));
    assert_eq!(a.company_id, COMPANY_ID);
    assert_eq!(
        (
            a.city_number.as_str(),
            a.cs_number.as_str(),
            a.subscriber_number.as_str()
        ),
        ("31", "07", "004242")
    );
    assert_eq!(a.mac_address, "00:D0:2D:12:34:56");
    assert_eq!(a.crc, "BEEF");
    assert_eq!(a.account_type, "Commercial");
    assert_eq!(a.location_name, "Head Office");
    assert_eq!(
        (a.first_name.as_str(), a.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(a.email.as_deref(), Some("ada@example.com"));
    assert_eq!(a.phones, ["5555550100", "5555550101", "5555550102"]);
    assert_eq!(a.plan_code, "TC-COMM");
    assert!(a.features.contains("VideoServices") && a.features.contains("SmartScenes"));
    assert!(!a.terminated);

    let read = p.account(&acct.id).await.expect("read");
    assert_eq!(read.plan.as_ref().map(|p| p.as_str()), Some("TC-COMM"));
    assert!(read.has_feature("VideoServices"));
    assert!(read.created_at.is_some(), "CreatedAt is read");
    assert_eq!(read.contact.phone.as_deref(), Some("5555550100"));
}

#[tokio::test]
async fn defaults_and_the_modem_serial_fill_in() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let req = ProvisionRequest::builder("D-DEFAULTS")
        .name("Alan", "Turing")
        .plan("TC-BASIC")
        .modem_serial("00:D0:2D:AA:BB:CC")
        .vendor_field("city_number", "12")
        .vendor_field("cs_number", "34")
        .vendor_field("subscriber_number", "000001")
        .vendor_field("crc", "1A2B")
        .build();
    let acct = p.provision(&req).await.expect("provision");
    let a = sim.account(acct.id.as_str()).expect("stored");
    assert_eq!(
        a.mac_address, "00:D0:2D:AA:BB:CC",
        "the modem serial is the MAC"
    );
    assert_eq!(a.location_name, "Home");
    assert_eq!(a.account_type, "Residential");
}

#[tokio::test]
async fn a_long_email_is_refused_before_any_request() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let mut req = request("D-LONG");
    req.contact.email = Some(format!("{}@example.com", "a".repeat(39))); // 51 characters
    req.vendor_fields.remove("crc");
    match p.provision(&req).await {
        Err(Error::InvalidRequest { detail, .. }) => {
            assert!(detail.contains("contact.email"), "{detail}");
            assert!(
                detail.contains("vendor_fields.crc"),
                "every problem: {detail}"
            );
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert_eq!(sim.call_count("CreateAccount"), 0);
    assert_eq!(
        received(&sim).await,
        0,
        "nothing was sent, not even a login"
    );

    // Exactly 50 characters is accepted.
    let mut req = request("D-FIFTY");
    req.contact.email = Some(format!("{}@example.com", "a".repeat(38)));
    p.provision(&req).await.expect("50 characters");
}

#[tokio::test]
async fn missing_vendor_fields_are_all_listed() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let req = ProvisionRequest::builder("D-BARE")
        .name("", "Request")
        .plan("TC-BASIC")
        .vendor_field("account_type", "industrial")
        .build();
    match p.provision(&req).await {
        Err(Error::InvalidRequest { detail, .. }) => {
            for key in [
                "city_number",
                "cs_number",
                "subscriber_number",
                "mac",
                "crc",
                "account_type",
            ] {
                assert!(
                    detail.contains(&format!("vendor_fields.{key}")),
                    "{key} missing from: {detail}"
                );
            }
            assert!(detail.contains("contact.first_name"), "{detail}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert_eq!(received(&sim).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Changes, termination, reads.

#[tokio::test]
async fn plan_change_sends_the_full_feature_set() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-FEAT")).await.expect("provision");
    let after = p
        .change_plan(&acct.id, &PlanChange::new().add("Geofencing"))
        .await
        .expect("add");
    let a = sim.account(acct.id.as_str()).expect("account");
    // The simulator replaces the features with what it was sent: both must be there.
    assert!(a.features.contains("Automation") && a.features.contains("Geofencing"));
    assert!(after.has_feature("Automation") && after.has_feature("Geofencing"));

    let after = p
        .change_plan(
            &acct.id,
            &PlanChange::new().plan("TC-VIDEO").remove("Automation"),
        )
        .await
        .expect("move");
    let a = sim.account(acct.id.as_str()).expect("account");
    assert_eq!(a.plan_code, "TC-VIDEO");
    assert_eq!(a.features.iter().collect::<Vec<_>>(), ["Geofencing"]);
    assert_eq!(after.plan.as_ref().map(|p| p.as_str()), Some("TC-VIDEO"));
    assert_eq!(sim.call_count("ChangeServices"), 2);

    let r = p
        .change_plan(
            &acct.id,
            &PlanChange::new().add("SmartScenes").validate_only(),
        )
        .await;
    assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
    let r = p
        .change_plan(&acct.id, &PlanChange::new().plan("TC-NOPE"))
        .await;
    assert!(
        matches!(&r, Err(Error::Rejected { code: Some(c), .. }) if c == "-501"),
        "{r:?}"
    );
    assert_eq!(
        sim.account(acct.id.as_str()).expect("a").plan_code,
        "TC-VIDEO"
    );
}

#[tokio::test]
async fn terminate_twice_succeeds_and_unknown_accounts_are_not_found() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-TERM")).await.expect("provision");
    p.terminate(&acct.id).await.expect("terminate");
    p.terminate(&acct.id).await.expect("terminate again");
    assert!(sim.account(acct.id.as_str()).expect("a").terminated);
    let changed = p
        .change_plan(&acct.id, &PlanChange::new().add("Geofencing"))
        .await;
    assert!(
        matches!(changed, Err(Error::Conflict { .. })),
        "{changed:?}"
    );
    let r = p.account(&AccountId::new("123")).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    // Not an id at all: refused before any request.
    let before = sim.call_count("GetAccount");
    let r = p.account(&AccountId::new("not-a-number")).await;
    assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
    assert_eq!(sim.call_count("GetAccount"), before);
    let r = p.terminate(&AccountId::new("4242")).await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
}

#[tokio::test]
async fn plans_are_listed_with_types_and_the_default_plan_is_checked() {
    let sim = TotalConnectSimulator::start().await;
    let p = provider(&sim.config());
    let plans = p.service_plans().await.expect("plans");
    let ids: Vec<_> = plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["TC-BASIC", "TC-AUTO", "TC-VIDEO", "TC-COMM"]);
    assert_eq!(plans[0].name, "Total Connect Basic");
    assert_eq!(plans[3].plan_type.as_deref(), Some("Commercial"));

    let config = sim.config();
    let report = interactive_services::config::verify(&config, &p).await;
    assert!(report.is_ok(), "{report:?}");
    let bad_plan = config
        .to_builder()
        .default_plan("TC-GOLD")
        .build()
        .expect("config");
    let report = interactive_services::config::verify(&bad_plan, &p).await;
    assert!(
        matches!(
            report.default_plan,
            interactive_services::config::PlanCheck::NotFound { .. }
        ),
        "{report:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The simulator itself, on the raw wire.

const NS: &str = "https://services.alarmnet.com/TC2/";

async fn soap(sim: &TotalConnectSimulator, op: &str, inner: &str) -> (u16, String) {
    soap_with_action(sim, &format!("\"{NS}{op}\""), op, inner).await
}

async fn soap_with_action(
    sim: &TotalConnectSimulator,
    action: &str,
    op: &str,
    inner: &str,
) -> (u16, String) {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{op} xmlns="{NS}">{inner}</{op}></soap:Body></soap:Envelope>"#
    );
    let r = reqwest::Client::new()
        .post(format!("{}TC21api/tc2.asmx", sim.endpoint()))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", action)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

async fn sim_login(sim: &TotalConnectSimulator) -> String {
    let (status, body) = soap(
        sim,
        "AuthenticateUserLogin",
        &format!(
            "<userName>{DEFAULT_USER}</userName><password>{DEFAULT_PASSWORD}</password><ApplicationID>{APPLICATION_ID}</ApplicationID><ApplicationVersion>{APPLICATION_VERSION}</ApplicationVersion>"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<ResultCode>0</ResultCode>"), "{body}");
    between(&body, "<SessionID>", "</SessionID>")
        .expect("SessionID")
        .to_owned()
}

async fn api(
    sim: &TotalConnectSimulator,
    method: reqwest::Method,
    tail: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!(
        "{}AlarmNet360/api/v1/companies/{COMPANY_ID}/{tail}",
        sim.endpoint()
    );
    let mut r = reqwest::Client::new().request(method, url);
    if let Some(s) = session {
        r = r.header("authorization", format!("Bearer {s}"));
    }
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn account_json(dealer: &str, subscriber: &str) -> Value {
    json!({
        "DealerCustomerId": dealer,
        "CityNumber": "12",
        "CsNumber": "34",
        "SubscriberNumber": subscriber,
        "MacAddress": "00:D0:2D:00:00:01",
        "Crc": "ABCD",
        "AccountType": "Residential",
        "FirstName": "Raw",
        "LastName": "Wire",
        "Phones": ["5555550100"],
        "Email": "raw@example.com",
        "LocationName": "Home",
        "PlanCode": "TC-BASIC",
        "Features": ["Automation"]
    })
}

#[tokio::test]
async fn simulator_login_keep_alive_and_logout() {
    let sim = TotalConnectSimulator::start().await;
    let session = sim_login(&sim).await;
    assert_eq!(sim.active_sessions(), 1);
    let keep = format!("<SessionID>{session}</SessionID>");
    let (_, body) = soap(&sim, "KeepAlive", &keep).await;
    assert!(
        body.contains("<KeepAliveResult><ResultCode>0</ResultCode><ResultData />"),
        "{body}"
    );
    let (_, body) = soap(&sim, "Logout", &keep).await;
    assert!(body.contains("<ResultCode>0</ResultCode>"), "{body}");
    let (_, body) = soap(&sim, "KeepAlive", &keep).await;
    assert!(body.contains("<ResultCode>-102</ResultCode>"), "{body}");
    assert_eq!(sim.active_sessions(), 0);

    // A bad password, a wrong action, a wrong namespace.
    let (status, body) = soap(
        &sim,
        "AuthenticateUserLogin",
        &format!(
            "<userName>{DEFAULT_USER}</userName><password>nope</password><ApplicationID>{APPLICATION_ID}</ApplicationID><ApplicationVersion>{APPLICATION_VERSION}</ApplicationVersion>"
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("<ResultCode>-50004</ResultCode>"), "{body}");
    assert!(!body.contains("<SessionID>"), "{body}");
    let (status, body) = soap_with_action(
        &sim,
        "\"https://services.alarmnet.com/TC2/Login\"",
        "AuthenticateUserLogin",
        "",
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("soap:Client"), "{body}");
    let (status, _) = soap(&sim, "GetSessionDetails", "").await;
    assert_eq!(status, 500);
    assert_eq!(sim.login_count(), 3, "every login request is counted");
    assert_eq!(sim.call_count("AuthenticateUserLogin"), 2);
}

#[tokio::test]
async fn simulator_dealer_api_refusals() {
    let sim = TotalConnectSimulator::start().await;
    // No session, an unknown session.
    let (status, v) = api(&sim, reqwest::Method::GET, "plans", None, None).await;
    assert_eq!((status, v["ResultCode"].as_i64()), (200, Some(-102)));
    let (_, v) = api(&sim, reqwest::Method::GET, "plans", Some("nope"), None).await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-102));

    let session = sim_login(&sim).await;
    let s = Some(session.as_str());
    let (_, v) = api(&sim, reqwest::Method::GET, "plans", s, None).await;
    assert_eq!(v["ResultCode"].as_i64(), Some(0));
    assert_eq!(v["Plans"].as_array().map(Vec::len), Some(4));

    // Another company.
    let url = format!("{}AlarmNet360/api/v1/companies/99999/plans", sim.endpoint());
    let v: Value = reqwest::Client::new()
        .get(url)
        .header("authorization", format!("Bearer {session}"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::Null))
        .expect("body");
    assert_eq!(v["ResultCode"].as_i64(), Some(-9001));

    // Unreadable JSON and every validation rule.
    let url = format!(
        "{}AlarmNet360/api/v1/companies/{COMPANY_ID}/accounts",
        sim.endpoint()
    );
    let v: Value = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {session}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::Null))
        .expect("body");
    assert_eq!(v["ResultCode"].as_i64(), Some(-501));

    let mut bad = account_json("RAW-BAD", "000009");
    bad["FirstName"] = json!(" ");
    bad["Email"] = json!(format!("{}@example.com", "e".repeat(40)));
    bad["Phones"] = json!(["1", "2", "3", "4"]);
    bad["PlanCode"] = json!("TC-GOLD");
    bad["Features"] = json!(["Teleport"]);
    bad["AccountType"] = json!("Industrial");
    bad["Crc"] = json!("");
    let (_, v) = api(&sim, reqwest::Method::POST, "accounts", s, Some(bad)).await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-501));
    let text = v["ResultData"].as_str().unwrap_or("");
    for part in [
        "FirstName",
        "Email",
        "phone",
        "TC-GOLD",
        "Teleport",
        "AccountType",
        "Crc",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }

    let (_, v) = api(
        &sim,
        reqwest::Method::POST,
        "accounts",
        s,
        Some(account_json("RAW-1", "000001")),
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(0), "{v}");
    let id = v["AccountId"].as_str().expect("AccountId").to_owned();

    // The same numbers, the same dealer id.
    let (_, v) = api(
        &sim,
        reqwest::Method::POST,
        "accounts",
        s,
        Some(account_json("RAW-2", "000001")),
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-501));
    assert!(
        v["ResultData"]
            .as_str()
            .unwrap_or("")
            .contains("already exists")
    );
    let (_, v) = api(
        &sim,
        reqwest::Method::POST,
        "accounts",
        s,
        Some(account_json("RAW-1", "000002")),
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-501));
    assert!(
        v["ResultData"]
            .as_str()
            .unwrap_or("")
            .contains("already exists")
    );

    // Reads, lookups, services, termination.
    let (_, v) = api(
        &sim,
        reqwest::Method::GET,
        &format!("accounts/{id}"),
        s,
        None,
    )
    .await;
    assert_eq!(v["Account"]["Status"].as_str(), Some("Active"));
    assert!(v["Account"]["CreatedAt"].as_str().is_some());
    let (_, v) = api(
        &sim,
        reqwest::Method::GET,
        "accounts?dealerCustomerId=RAW-1",
        s,
        None,
    )
    .await;
    assert_eq!(v["Accounts"][0]["AccountId"].as_str(), Some(id.as_str()));
    let (_, v) = api(
        &sim,
        reqwest::Method::PUT,
        &format!("accounts/{id}/services"),
        s,
        Some(json!({"PlanCode": "TC-AUTO", "Features": ["Teleport"]})),
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-501));
    let (_, v) = api(
        &sim,
        reqwest::Method::POST,
        &format!("accounts/{id}/terminate"),
        s,
        None,
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(0));
    let (_, v) = api(
        &sim,
        reqwest::Method::PUT,
        &format!("accounts/{id}/services"),
        s,
        Some(json!({"PlanCode": "TC-AUTO", "Features": []})),
    )
    .await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-501), "terminated");
    let (_, v) = api(
        &sim,
        reqwest::Method::GET,
        "accounts?includeTerminated=false",
        s,
        None,
    )
    .await;
    assert_eq!(v["Accounts"].as_array().map(Vec::len), Some(0));
    let (_, v) = api(
        &sim,
        reqwest::Method::GET,
        "accounts?includeTerminated=true",
        s,
        None,
    )
    .await;
    assert_eq!(v["Accounts"].as_array().map(Vec::len), Some(1));
    let (_, v) = api(&sim, reqwest::Method::GET, "accounts/77", s, None).await;
    assert_eq!(v["ResultCode"].as_i64(), Some(-4002));

    // Unknown routes and methods never reach the application.
    let (status, _) = api(&sim, reqwest::Method::GET, "widgets", s, None).await;
    assert_eq!(status, 404);
    let (status, _) = api(&sim, reqwest::Method::DELETE, "accounts", s, None).await;
    assert_eq!(status, 405);
}
