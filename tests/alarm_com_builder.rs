//! The Alarm.com Builder Program: exact envelopes of every call against plain wiremock mocks,
//! and behaviour against the simulator — the configuration's opt-in, the roles, validation
//! before any request, no duplicate after a lost answer, the commitment lifecycle.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use interactive_services::http::soap::SoapVersion;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::provider::ProviderOptions;
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, DEFAULT_PASSWORD, FaultKind, FaultRule, SimLogin,
};
use interactive_services::providers::alarm_com::{AlarmCom, builder};
use interactive_services::testkit::conformance::{self, Options};
use interactive_services::{
    AccountStatus, Address, BuilderProgramRecordId, BuilderProgramRecordRequest,
    BuilderProgramRecordStatus, CommitmentActivation, CommitmentUpdate, Error,
    InteractiveServicesProvider, IspConfig, ProviderRegistry, ProvisionRequest, Status,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "http://www.alarm.com/WebServices";
const PASSWORD: &str = "Pw-ONLY-in-the-header-7731";

fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).expect("a date")
}

fn lot(street: &str) -> Address {
    Address {
        street1: street.into(),
        city: "Reston".into(),
        state: "VA".into(),
        zip: "20190".into(),
        country: "US".into(),
        ..Address::default()
    }
}

fn commitment(program: &str, dealer_customer_id: &str) -> BuilderProgramRecordRequest {
    BuilderProgramRecordRequest::commitment(program, dealer_customer_id)
        .address(lot("14 Willow Way"))
        .expected_panel_type("IQPanel2")
        .ready_date(date(9, 1))
}

fn customer(dealer_customer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_customer_id)
        .name("Grace", "Hopper")
        .email("grace@example.com")
        .address(lot("16 Willow Way"))
        .panel_type("IQPanel2")
        .modem_serial("MOD-16")
        .plan("9")
        .build()
}

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

fn opted_in(config: IspConfig) -> IspConfig {
    config
        .to_builder()
        .builder_program(true)
        .build()
        .expect("valid config")
}

/// The provider a host builds: through the registry, with the configuration's rules.
fn built(config: &IspConfig) -> Arc<dyn InteractiveServicesProvider> {
    ProviderRegistry::with_built_ins()
        .build_with(config, &ProviderOptions::new().transport(fast_options()))
        .expect("built")
}

async fn requests_received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[track_caller]
fn assert_invalid_request_naming(e: &Error, fields: &[&str]) {
    match e {
        Error::InvalidRequest { detail, .. } => {
            for field in fields {
                assert!(
                    detail.contains(&format!("{field}: ")),
                    "`{field}` is not named in: {detail}"
                );
            }
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Exact wire

fn wire_config(server: &MockServer, builder_program: bool) -> IspConfig {
    IspConfig::builder()
        .name("wire")
        .provider("alarm_com")
        .endpoint(format!("{}/WebServices/", server.uri()))
        .credential("login", "wire-user")
        .credential("password", PASSWORD)
        .default_plan("9")
        .builder_program(builder_program)
        .build()
        .expect("config")
}

fn wire_provider(server: &MockServer, version: SoapVersion, builder_program: bool) -> AlarmCom {
    AlarmCom::builder(&wire_config(server, builder_program))
        .soap_version(version)
        .transport_options(TransportOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            attempt_timeout: Duration::from_secs(5),
            ..TransportOptions::default()
        })
        .build()
        .expect("provider")
}

fn answer(version: SoapVersion, op: &str, result: &str) -> ResponseTemplate {
    let (env, ct) = match version {
        SoapVersion::V11 => (
            "http://schemas.xmlsoap.org/soap/envelope/",
            "text/xml; charset=utf-8",
        ),
        SoapVersion::V12 => (
            "http://www.w3.org/2003/05/soap-envelope",
            "application/soap+xml; charset=utf-8",
        ),
    };
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env}"><soap:Body><{op}Response xmlns="{NS}"><{op}Result>{result}</{op}Result></{op}Response></soap:Body></soap:Envelope>"#
    );
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), ct)
}

/// Mounts an answer for `op` on `service`, matched by the action header of `version`: a call
/// with another action, path or content type gets wiremock's 404.
async fn mount(server: &MockServer, version: SoapVersion, service: &str, op: &str, result: &str) {
    let mock = Mock::given(method("POST")).and(path(format!("/WebServices/{service}")));
    let mock = match version {
        SoapVersion::V11 => mock
            .and(header("content-type", "text/xml; charset=utf-8"))
            .and(header("soapaction", format!("\"{NS}/{op}\"").as_str())),
        SoapVersion::V12 => mock.and(header(
            "content-type",
            format!("application/soap+xml; charset=utf-8; action=\"{NS}/{op}\"").as_str(),
        )),
    };
    mock.respond_with(answer(version, op, result))
        .mount(server)
        .await;
}

fn body(r: &Request) -> String {
    String::from_utf8(r.body.clone()).expect("utf-8 body")
}

/// The SOAP bodies of the requests for `op`.
async fn bodies_of(server: &MockServer, op: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(body)
        .filter(|b| {
            b.contains(&format!("<{op} xmlns=\"{NS}\""))
                || b.contains(&format!("<{op} xmlns=\"{NS}\" />"))
        })
        .collect()
}

/// Exactly one request for `op`, whose SOAP body is exactly `expected`.
#[track_caller]
fn assert_one_body(bodies: &[String], op: &str, expected: &str) {
    assert_eq!(bodies.len(), 1, "{op}: {bodies:?}");
    let full = format!("<soap:Body>{expected}</soap:Body>");
    assert!(
        bodies[0].contains(&full),
        "{op} body differs:\n{}\nexpected:\n{full}",
        bodies[0]
    );
}

const OWNER_ROLES: &str = "<LoginName>wire-user</LoginName><Roles>\
<LoginRole><Name>SecurityTrax Integration User</Name><IsLegacy>true</IsLegacy></LoginRole>\
<LoginRole><Name>Dealer Administrator</Name><IsLegacy>true</IsLegacy></LoginRole>\
<LoginRole><Name>Manage Builder Program</Name><IsLegacy>true</IsLegacy></LoginRole>\
</Roles><Permissions />";

const COMMITMENT_INFO: &str = "<CommitmentId>8001</CommitmentId><BuilderProgramId>501</BuilderProgramId>\
<DealerCustomerId>LOT-14</DealerCustomerId><InstallationAddress><Street1>14 Willow Way</Street1>\
<City>Reston</City><State>VA</State><Zip>20190</Zip><CountryId>USA</CountryId></InstallationAddress>\
<ExpectedPanelType>Neo</ExpectedPanelType><ExpectedInstallDate>2026-09-15</ExpectedInstallDate>\
<CommitmentStatus>Pending</CommitmentStatus><CustomerId>0</CustomerId>";

const LIVE_CUSTOMER: &str = "<CustomerId>8001</CustomerId><DealerCustomerId>LOT-14</DealerCustomerId>\
<FirstName /><LastName /><LoginName>cust8001</LoginName><IsTerminated>false</IsTerminated>\
<JoinDate>2026-09-20T10:00:00</JoinDate><ServicePlanInfo><PackageId>9</PackageId><PlanType>AI</PlanType>\
<Addons /><TotalServicePrice>39.99</TotalServicePrice></ServicePlanInfo><DealerId>0</DealerId>";

async fn builder_calls_on_the_wire(version: SoapVersion) {
    let server = MockServer::start().await;
    let (cm, dm) = ("CustomerManagement.asmx", "DealerManagement.asmx");
    mount(&server, version, dm, "GetLatestCallerVersion", "4").await;
    mount(&server, version, dm, "GetLoginRoles", OWNER_ROLES).await;
    mount(
        &server,
        version,
        dm,
        "GetBuilderPrograms",
        "<BuilderProgramInfo><BuilderProgramId>501</BuilderProgramId><ProgramName>Willow Creek &amp; Phase 2</ProgramName><BuilderName>Acme Homes</BuilderName></BuilderProgramInfo>\
<BuilderProgramInfo><BuilderProgramId>502</BuilderProgramId><ProgramName>Lakeside</ProgramName><BuilderName>Brightline</BuilderName></BuilderProgramInfo>",
    )
    .await;
    mount(
        &server,
        version,
        cm,
        "LookupCustomerIdFromDealerCustomerId",
        "0",
    )
    .await;
    mount(
        &server,
        version,
        cm,
        "CreateCommitment",
        "<Success>true</Success><ErrorMessage /><CommitmentId>8001</CommitmentId>",
    )
    .await;
    mount(&server, version, cm, "GetCommitmentInfo", COMMITMENT_INFO).await;
    mount(
        &server,
        version,
        cm,
        "UpdateCommitment",
        "<Success>true</Success><ErrorMessage />",
    )
    .await;
    mount(
        &server,
        version,
        cm,
        "ActivateCommitment",
        "<Success>true</Success><ErrorMessage /><CustomerId>8001</CustomerId>",
    )
    .await;
    mount(&server, version, cm, "GetCustomerInfo", LIVE_CUSTOMER).await;
    let p = wire_provider(&server, version, true);

    // Listing: id, name, builder.
    let programs = p.builder_programs().await.expect("programs");
    assert_eq!(programs.len(), 2);
    assert_eq!(programs[0].id.as_str(), "501");
    assert_eq!(programs[0].name, "Willow Creek & Phase 2");
    assert_eq!(programs[0].builder, "Acme Homes");
    assert_one_body(
        &bodies_of(&server, "GetBuilderPrograms").await,
        "GetBuilderPrograms",
        &format!(
            "<GetBuilderPrograms xmlns=\"{NS}\"><input><DealerId>0</DealerId></input></GetBuilderPrograms>"
        ),
    );

    // Create: look up by the dealer customer id first, then create.
    let request = BuilderProgramRecordRequest::commitment("501", "LOT-14")
        .address(Address {
            street2: Some("Lot <14>".into()),
            ..lot("14 Willow Way")
        })
        .expected_panel_type("IQPanel2")
        .ready_date(date(9, 1));
    let record = p
        .create_builder_program_record(&request)
        .await
        .expect("commitment");
    assert_eq!(record.id.as_str(), "8001");
    assert_eq!(record.status, BuilderProgramRecordStatus::Pending);
    assert_eq!(record.ready_date, Some(date(9, 1)));
    assert_one_body(
        &bodies_of(&server, "LookupCustomerIdFromDealerCustomerId").await,
        "LookupCustomerIdFromDealerCustomerId",
        &format!(
            "<LookupCustomerIdFromDealerCustomerId xmlns=\"{NS}\"><dealerCustomerId>LOT-14</dealerCustomerId></LookupCustomerIdFromDealerCustomerId>"
        ),
    );
    assert_one_body(
        &bodies_of(&server, "CreateCommitment").await,
        "CreateCommitment",
        &format!(
            "<CreateCommitment xmlns=\"{NS}\"><input>\
<BuilderProgramId>501</BuilderProgramId>\
<DealerCustomerId>LOT-14</DealerCustomerId>\
<InstallationAddress><Street1>14 Willow Way</Street1><Street2>Lot &lt;14&gt;</Street2><City>Reston</City><State>VA</State><Zip>20190</Zip><CountryId>USA</CountryId></InstallationAddress>\
<ExpectedPanelType>IQPanel2</ExpectedPanelType>\
<ExpectedInstallDate>2026-09-01</ExpectedInstallDate>\
</input></CreateCommitment>"
        ),
    );

    // Update: the seen UpdateCommitment, then the commitment read back.
    let id = BuilderProgramRecordId::new("8001");
    let updated = p
        .update_commitment(
            &id,
            &CommitmentUpdate::new()
                .expected_panel_type("Neo")
                .ready_date(date(9, 15)),
        )
        .await
        .expect("update");
    assert_eq!(updated.expected_panel_type.as_deref(), Some("Neo"));
    assert_eq!(updated.ready_date, Some(date(9, 15)));
    assert_eq!(
        updated.address.as_ref().map(|a| a.country.as_str()),
        Some("US")
    );
    assert_one_body(
        &bodies_of(&server, "UpdateCommitment").await,
        "UpdateCommitment",
        &format!(
            "<UpdateCommitment xmlns=\"{NS}\"><input><CommitmentId>8001</CommitmentId><ExpectedPanelType>Neo</ExpectedPanelType><ExpectedInstallDate>2026-09-15</ExpectedInstallDate></input></UpdateCommitment>"
        ),
    );
    assert_one_body(
        &bodies_of(&server, "GetCommitmentInfo").await,
        "GetCommitmentInfo",
        &format!(
            "<GetCommitmentInfo xmlns=\"{NS}\"><commitmentId>8001</commitmentId></GetCommitmentInfo>"
        ),
    );
    let read = p.commitment(&id).await.expect("read");
    assert_eq!(read, updated);

    // Activate: the seen ActivateCommitment, then the live customer read with GetCustomerInfo.
    let account = p
        .activate_commitment(&id, &CommitmentActivation::new("Neo", "MOD-9").plan("9"))
        .await
        .expect("activate");
    assert_eq!(account.id.as_str(), "8001");
    assert_eq!(account.status, AccountStatus::Active);
    assert_one_body(
        &bodies_of(&server, "ActivateCommitment").await,
        "ActivateCommitment",
        &format!(
            "<ActivateCommitment xmlns=\"{NS}\"><input><CommitmentId>8001</CommitmentId><PanelType>Neo</PanelType><ModemSerialNumber>MOD-9</ModemSerialNumber><PackageId>9</PackageId></input></ActivateCommitment>"
        ),
    );
    assert_one_body(
        &bodies_of(&server, "GetCustomerInfo").await,
        "GetCustomerInfo",
        &format!("<GetCustomerInfo xmlns=\"{NS}\"><customerId>8001</customerId></GetCustomerInfo>"),
    );

    // The roles were read once, for the first Builder Program call.
    assert_eq!(bodies_of(&server, "GetLoginRoles").await.len(), 1);
    assert_eq!(bodies_of(&server, "GetLatestCallerVersion").await.len(), 1);
    // Every request carries the Authentication header, and the password nowhere else.
    for r in server.received_requests().await.unwrap_or_default() {
        let b = body(&r);
        assert!(
            b.contains(&format!(
                "<Authentication xmlns=\"{NS}\"><User>wire-user</User><Password>{PASSWORD}</Password><TwoFactorDeviceId /></Authentication>"
            )) || b.contains(&format!(
                "<Authentication xmlns=\"{NS}\"><User>wire-user</User><Password>{PASSWORD}</Password><TwoFactorDeviceId></TwoFactorDeviceId></Authentication>"
            )),
            "{b}"
        );
        assert_eq!(b.matches(PASSWORD).count(), 1);
    }
}

#[tokio::test]
async fn builder_calls_on_the_wire_soap11() {
    builder_calls_on_the_wire(SoapVersion::V11).await;
}

#[tokio::test]
async fn builder_calls_on_the_wire_soap12() {
    builder_calls_on_the_wire(SoapVersion::V12).await;
}

#[tokio::test]
async fn a_builder_customer_carries_builder_program_id_only_when_opted_in() {
    let server = MockServer::start().await;
    let (cm, dm) = ("CustomerManagement.asmx", "DealerManagement.asmx");
    let v = SoapVersion::V11;
    mount(&server, v, dm, "GetLatestCallerVersion", "4").await;
    mount(&server, v, dm, "GetLoginRoles", OWNER_ROLES).await;
    mount(&server, v, cm, "LookupCustomerIdFromDealerCustomerId", "0").await;
    mount(
        &server,
        v,
        cm,
        "CreateCustomer",
        "<Success>true</Success><ErrorMessage /><LoginName>gh</LoginName><Password>OneTime-1</Password><CustomerId>4242</CustomerId>",
    )
    .await;

    // Opted in: a builder customer is CreateCustomer with BuilderProgramId last.
    let p = wire_provider(&server, v, true);
    let record = p
        .create_builder_program_record(&BuilderProgramRecordRequest::customer(
            "501",
            customer("HOME-16"),
        ))
        .await
        .expect("builder customer");
    assert!(record.is_live());
    assert_eq!(record.account.as_ref().map(|a| a.as_str()), Some("4242"));
    let creates = bodies_of(&server, "CreateCustomer").await;
    assert_eq!(creates.len(), 1);
    assert!(
        creates[0].contains(
            "<CentralStationForwardingOption>NotSet</CentralStationForwardingOption><PropertyType>NotSet</PropertyType><BuilderProgramId>501</BuilderProgramId></input></CreateCustomer>"
        ),
        "{}",
        creates[0]
    );

    // Not opted in: a plain customer never carries it, and a request naming a program is
    // refused before any request.
    server.reset().await;
    mount(&server, v, cm, "LookupCustomerIdFromDealerCustomerId", "0").await;
    mount(
        &server,
        v,
        cm,
        "CreateCustomer",
        "<Success>true</Success><ErrorMessage /><LoginName>gh</LoginName><Password>OneTime-1</Password><CustomerId>4243</CustomerId>",
    )
    .await;
    let p = wire_provider(&server, v, false);
    let mut named = customer("HOME-17");
    named.builder_program = Some("501".into());
    let e = p.provision(&named).await.expect_err("not opted in");
    assert_invalid_request_naming(&e, &["builder_program"]);
    assert_eq!(requests_received(&server).await, 0);
    p.provision(&customer("HOME-18"))
        .await
        .expect("plain customer");
    let creates = bodies_of(&server, "CreateCustomer").await;
    assert_eq!(creates.len(), 1);
    assert!(!creates[0].contains("BuilderProgramId"), "{}", creates[0]);
}

#[tokio::test]
async fn four_missing_fields_are_reported_at_once_and_nothing_is_sent() {
    let server = MockServer::start().await;
    // Program, city, expected panel type and ready date left out.
    let request = BuilderProgramRecordRequest::commitment("", "LOT-14").address(Address {
        city: String::new(),
        ..lot("14 Willow Way")
    });
    let problems = request.validate().expect_err("invalid");
    let fields: Vec<&str> = problems
        .problems()
        .iter()
        .map(|p| p.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "program",
            "address.city",
            "expected_panel_type",
            "ready_date"
        ]
    );
    let missing = [
        "program",
        "address.city",
        "expected_panel_type",
        "ready_date",
    ];

    // Directly and through the registry.
    let direct = wire_provider(&server, SoapVersion::V11, true);
    let e = direct
        .create_builder_program_record(&request)
        .await
        .expect_err("invalid");
    assert_invalid_request_naming(&e, &missing);
    let e = built(&wire_config(&server, true))
        .create_builder_program_record(&request)
        .await
        .expect_err("invalid");
    assert_invalid_request_naming(&e, &missing);

    // The same for the lifecycle calls.
    let id = BuilderProgramRecordId::new("8001");
    let e = direct
        .update_commitment(&id, &CommitmentUpdate::new())
        .await
        .expect_err("empty update");
    assert_invalid_request_naming(&e, &["expected_panel_type"]);
    let e = direct
        .activate_commitment(
            &BuilderProgramRecordId::new("x/1"),
            &CommitmentActivation::new("", ""),
        )
        .await
        .expect_err("invalid activation");
    assert_invalid_request_naming(&e, &["panel_type", "modem_serial", "id", "plan"]);
    let e = direct
        .commitment(&BuilderProgramRecordId::new("../1"))
        .await
        .expect_err("not an id");
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert_eq!(
        requests_received(&server).await,
        0,
        "the server received nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the simulator

#[tokio::test]
async fn commitment_update_activate_makes_a_live_customer_on_the_program() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    assert!(p.capabilities().builder_program);

    let programs = p.builder_programs().await.expect("programs");
    let willow = programs
        .iter()
        .find(|p| p.id.as_str() == "501")
        .expect("program 501");
    assert_eq!(willow.name, "Willow Creek Phase 2");
    assert_eq!(willow.builder, "Acme Homes");

    let record = p
        .create_builder_program_record(&commitment("501", "LOT-14"))
        .await
        .expect("commitment");
    assert_eq!(record.status, BuilderProgramRecordStatus::Pending);
    assert_eq!(sim.commitments_with_dealer_id("LOT-14"), 1);

    let updated = p
        .update_commitment(
            &record.id,
            &CommitmentUpdate::new()
                .expected_panel_type("Neo")
                .ready_date(date(10, 1)),
        )
        .await
        .expect("update");
    assert_eq!(updated.expected_panel_type.as_deref(), Some("Neo"));
    assert_eq!(updated.ready_date, Some(date(10, 1)));
    assert!(!updated.is_live());

    // No plan in the activation: the configuration's default (9).
    let account = p
        .activate_commitment(&record.id, &CommitmentActivation::new("Neo", "MOD-14"))
        .await
        .expect("activate");
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.plan.as_ref().map(|p| p.as_str()), Some("9"));
    assert_eq!(
        account.dealer_customer_id.as_ref().map(|d| d.as_str()),
        Some("LOT-14")
    );

    // The account read shows the live customer; the commitment names it, on the program.
    let read = p.account(&account.id).await.expect("account");
    assert_eq!(read.status, AccountStatus::Active);
    let live = p.commitment(&record.id).await.expect("commitment");
    assert!(live.is_live());
    assert_eq!(live.account.as_ref(), Some(&account.id));
    assert_eq!(live.program.as_str(), "501");
    let id: i64 = account.id.as_str().parse().expect("numeric");
    let at_vendor = sim.customer(id).expect("customer at the vendor");
    assert_eq!(at_vendor.builder_program_id, "501");
    assert_eq!(at_vendor.panel_type, "Neo");
    assert_eq!(at_vendor.modem_serial, "MOD-14");

    // Activating again (a double click) returns the same customer; updating is refused.
    let again = p
        .activate_commitment(&record.id, &CommitmentActivation::new("Neo", "MOD-14"))
        .await
        .expect("activate again");
    assert_eq!(again.id, account.id);
    assert_eq!(sim.customers_with_dealer_id("LOT-14"), 1);
    let e = p
        .update_commitment(&record.id, &CommitmentUpdate::new().ready_date(date(11, 1)))
        .await
        .expect_err("activated");
    assert!(matches!(e, Error::Rejected { .. }), "{e:?}");
}

#[tokio::test]
async fn roles_custom_only_both_legacy_one_legacy_none() {
    let sim = AlarmComSimulator::start().await;
    let pw = "pw-builder-roles-1";
    sim.add_login("custom", SimLogin::owner(pw).with_builder_custom_role());
    sim.add_login(
        "both",
        SimLogin::owner(pw)
            .with_builder_legacy_roles(&["Dealer Administrator", "Manage Builder Program"]),
    );
    sim.add_login(
        "one",
        SimLogin::owner(pw).with_builder_legacy_roles(&["Dealer Administrator"]),
    );
    sim.add_login("none", SimLogin::owner(pw).without_builder_roles());

    for login in ["custom", "both"] {
        let p = built(&opted_in(sim.config_for(login, pw)));
        assert!(!p.builder_programs().await.expect(login).is_empty());
        p.create_builder_program_record(&commitment("501", &format!("LOT-{login}")))
            .await
            .expect(login);
        assert!(
            p.validate_credentials()
                .await
                .expect(login)
                .can("builder_program")
        );
    }

    let denied = |login: &'static str, role: &'static str, says: &'static [&'static str]| {
        let sim = &sim;
        async move {
            let before = sim.call_count(builder::LIST);
            let p = built(&opted_in(sim.config_for(login, pw)));
            let e = p.builder_programs().await.expect_err(login);
            match &e {
                Error::PermissionDenied {
                    permission,
                    guidance,
                    operation,
                    ..
                } => {
                    assert_eq!(permission, role, "{login}");
                    assert_eq!(*operation, "builder_programs");
                    for text in says {
                        assert!(guidance.contains(text), "{login}: {guidance}");
                    }
                }
                other => panic!("{login}: expected PermissionDenied, got {other:?}"),
            }
            let e = p
                .create_builder_program_record(&commitment("501", &format!("LOT-{login}")))
                .await
                .expect_err(login);
            assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
            assert_eq!(
                sim.call_count(builder::LIST),
                before,
                "refused before the call"
            );
            assert_eq!(
                sim.call_count(builder::CREATE),
                2,
                "only the allowed logins created"
            );
        }
    };
    denied(
        "one",
        "Manage Builder Program",
        &["Manage Builder Program", "Dealer Administrator", "Users"],
    )
    .await;
    denied(
        "none",
        "Builder Program",
        &[
            "custom role \"Builder Program\"",
            "Dealer Administrator",
            "Manage Builder Program",
        ],
    )
    .await;
}

#[tokio::test]
async fn roles_that_cannot_be_read_leave_it_to_the_first_refused_call() {
    let sim = AlarmComSimulator::start().await;
    let pw = "pw-builder-roles-2";
    sim.add_login("none", SimLogin::owner(pw).without_builder_roles());
    sim.serve_modelled_operations(false);
    let p = built(&opted_in(sim.config_for("none", pw)));

    let check = p.validate_credentials().await.expect("valid login");
    assert!(
        check
            .unverified
            .iter()
            .any(|u| u.needed_for == "builder_program" && u.permission.contains("Builder Program")),
        "{check:?}"
    );
    // The seen CreateCustomer carries BuilderProgramId, and Alarm.com's refusal names the role.
    let e = p
        .create_builder_program_record(&BuilderProgramRecordRequest::customer(
            "501",
            customer("HOME-1"),
        ))
        .await
        .expect_err("refused by Alarm.com");
    match &e {
        Error::PermissionDenied {
            permission,
            guidance,
            ..
        } => {
            assert_eq!(permission, "Builder Program");
            assert!(guidance.contains("Dealer Administrator"), "{guidance}");
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    assert!(e.to_string().contains("CreateCustomer"), "{e}");
    assert_eq!(sim.customers_with_dealer_id("HOME-1"), 0);
    // A modelled call the service does not know says so, once, with no retry.
    let e = p.builder_programs().await.expect_err("unknown operation");
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("GetBuilderPrograms"), "{e}");
    assert!(e.to_string().contains("modelled"), "{e}");
    assert_eq!(
        sim.call_count("GetLoginRoles"),
        0,
        "never reached the operations"
    );

    // A login with the roles gets its builder customer through the seen calls alone.
    let owner = built(&opted_in(sim.config_for(DEFAULT_LOGIN, DEFAULT_PASSWORD)));
    let record = owner
        .create_builder_program_record(&BuilderProgramRecordRequest::customer(
            "501",
            customer("HOME-2"),
        ))
        .await
        .expect("builder customer");
    let id: i64 = record
        .account
        .expect("account")
        .as_str()
        .parse()
        .expect("id");
    assert_eq!(
        sim.customer(id).expect("customer").builder_program_id,
        "501"
    );
}

#[tokio::test]
async fn the_seen_lifecycle_calls_work_without_the_modelled_ones() {
    let sim = AlarmComSimulator::start().await;
    let record = built(&opted_in(sim.config()))
        .create_builder_program_record(&commitment("501", "LOT-SEEN"))
        .await
        .expect("commitment");
    // A service that knows only the seen operations (and cannot report roles).
    sim.serve_modelled_operations(false);
    let p = built(&opted_in(sim.config()));
    let updated = p
        .update_commitment(&record.id, &CommitmentUpdate::new().ready_date(date(12, 1)))
        .await
        .expect("UpdateCommitment is seen");
    assert_eq!(updated.id, record.id);
    assert_eq!(updated.ready_date, Some(date(12, 1)));
    assert_eq!(
        updated.program.as_str(),
        "",
        "not read back: unknown, not guessed"
    );
    assert_eq!(
        sim.commitment(record.id.as_str().parse().expect("id"))
            .expect("at the vendor")
            .expected_install_date,
        "2026-12-01"
    );
    let account = p
        .activate_commitment(&record.id, &CommitmentActivation::new("Neo", "MOD-SEEN"))
        .await
        .expect("ActivateCommitment is seen");
    assert_eq!(account.status, AccountStatus::Active);
    let e = p.commitment(&record.id).await.expect_err("modelled");
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("GetCommitmentInfo"), "{e}");
}

#[tokio::test]
async fn without_the_opt_in_every_builder_call_is_refused_and_nothing_is_sent() {
    let sim = AlarmComSimulator::start().await;
    let config = sim.config();
    assert!(!config.builder_program());
    let direct = AlarmCom::builder(&config)
        .transport_options(fast_options())
        .build()
        .expect("provider");
    let providers: [Arc<dyn InteractiveServicesProvider>; 2] = [built(&config), Arc::new(direct)];
    let id = BuilderProgramRecordId::new("7000001");
    for p in &providers {
        assert!(!p.capabilities().builder_program);
        let unsupported = |r: Result<(), Error>, op: &str| match r {
            Err(Error::Unsupported {
                operation, reason, ..
            }) => {
                assert_eq!(operation, op);
                assert!(
                    reason
                        .as_deref()
                        .is_some_and(|r| r.contains("opted into the Builder Program")),
                    "{reason:?}"
                );
            }
            other => panic!("{op}: expected Unsupported, got {other:?}"),
        };
        unsupported(p.builder_programs().await.map(|_| ()), "builder_programs");
        unsupported(
            p.create_builder_program_record(&commitment("501", "LOT-1"))
                .await
                .map(|_| ()),
            "create_builder_program_record",
        );
        unsupported(
            p.create_builder_program_record(&BuilderProgramRecordRequest::customer(
                "501",
                customer("HOME-1"),
            ))
            .await
            .map(|_| ()),
            "create_builder_program_record",
        );
        unsupported(p.commitment(&id).await.map(|_| ()), "commitment");
        unsupported(
            p.update_commitment(&id, &CommitmentUpdate::new().expected_panel_type("Neo"))
                .await
                .map(|_| ()),
            "update_commitment",
        );
        unsupported(
            p.activate_commitment(&id, &CommitmentActivation::new("Neo", "M").plan("9"))
                .await
                .map(|_| ()),
            "activate_commitment",
        );
        let mut named = customer("HOME-2");
        named.builder_program = Some("501".into());
        let e = p.provision(&named).await.expect_err("not opted in");
        assert_invalid_request_naming(&e, &["builder_program"]);
    }
    assert_eq!(requests_received(sim.server()).await, 0, "nothing was sent");

    // A customer provisioned without the opt-in: CreateCustomer has no BuilderProgramId.
    providers[0]
        .provision(&customer("HOME-3"))
        .await
        .expect("customer");
    let creates: Vec<String> = sim
        .server()
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(body)
        .filter(|b| b.contains("<CreateCustomer "))
        .collect();
    assert_eq!(creates.len(), 1);
    assert!(!creates[0].contains("BuilderProgramId"), "{}", creates[0]);
    assert!(
        sim.customers()
            .iter()
            .all(|c| c.builder_program_id.is_empty())
    );
}

#[tokio::test]
async fn a_lost_answer_on_create_makes_exactly_one_commitment() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    sim.inject(FaultRule::next(FaultKind::ApplyThenDrop).on(builder::CREATE));
    let record = p
        .create_builder_program_record(&commitment("501", "LOT-LOST"))
        .await
        .expect("found after the lost answer");
    assert_eq!(sim.commitments_with_dealer_id("LOT-LOST"), 1);
    assert_eq!(sim.call_count(builder::CREATE), 1, "not created again");
    assert_eq!(
        sim.call_count("LookupCustomerIdFromDealerCustomerId"),
        2,
        "looked up before creating and after the lost answer"
    );
    let at_vendor = sim.commitments();
    assert_eq!(record.id.as_str(), at_vendor[0].id.to_string());

    // Saved again (the dealer clicks twice): the same commitment, still one.
    let again = p
        .create_builder_program_record(&commitment("501", "LOT-LOST"))
        .await
        .expect("saved again");
    assert_eq!(again.id, record.id);
    assert_eq!(sim.commitments_with_dealer_id("LOT-LOST"), 1);
    assert_eq!(sim.call_count(builder::CREATE), 1);
}

#[tokio::test]
async fn a_create_that_never_arrived_is_not_repeated_blindly() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    sim.inject(FaultRule::next(FaultKind::DropConnection).on(builder::CREATE));
    let e = p
        .create_builder_program_record(&commitment("501", "LOT-DROP"))
        .await
        .expect_err("outcome unknown");
    assert!(matches!(e, Error::OutcomeUnknown { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(e.operation(), Some("create_builder_program_record"));
    // Asked again within the commit horizon: looked up, not created.
    let e = p
        .create_builder_program_record(&commitment("501", "LOT-DROP"))
        .await
        .expect_err("still unsettled");
    assert!(matches!(e, Error::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(sim.call_count(builder::CREATE), 1);
    assert_eq!(sim.commitments_with_dealer_id("LOT-DROP"), 0);
}

#[tokio::test]
async fn a_dealer_customer_id_with_another_record_is_a_conflict_naming_it() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    let record = p
        .create_builder_program_record(&commitment("501", "LOT-9"))
        .await
        .expect("commitment");
    // Another program for the same home.
    let e = p
        .create_builder_program_record(&commitment("502", "LOT-9"))
        .await
        .expect_err("conflict");
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(
        e.existing_account().map(|a| a.as_str()),
        Some(record.id.as_str())
    );
    assert!(e.to_string().contains("Builder Program 501"), "{e}");
    // A customer provisioned for it.
    let e = p.provision(&customer("LOT-9")).await.expect_err("conflict");
    assert_eq!(
        e.existing_account().map(|a| a.as_str()),
        Some(record.id.as_str())
    );
    // A commitment for a dealer customer id that is already a customer.
    let account = p.provision(&customer("HOME-9")).await.expect("customer");
    let e = p
        .create_builder_program_record(&commitment("501", "HOME-9"))
        .await
        .expect_err("conflict");
    assert_eq!(e.existing_account(), Some(&account.id));
    assert!(e.to_string().contains("not a commitment"), "{e}");
    assert_eq!(sim.commitments().len(), 1);
    assert_eq!(sim.call_count(builder::CREATE), 1);
}

#[tokio::test]
async fn a_lost_answer_on_activation_returns_the_live_customer() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    let record = p
        .create_builder_program_record(&commitment("501", "LOT-ACT"))
        .await
        .expect("commitment");
    sim.inject(FaultRule::next(FaultKind::ApplyThenDrop).on(builder::ACTIVATE));
    let account = p
        .activate_commitment(&record.id, &CommitmentActivation::new("IQPanel2", "MOD-1"))
        .await
        .expect("live customer");
    assert_eq!(sim.call_count(builder::ACTIVATE), 1, "not repeated");
    assert_eq!(sim.customers_with_dealer_id("LOT-ACT"), 1);
    assert_eq!(account.status, AccountStatus::Active);
}

#[tokio::test]
async fn an_inactive_configuration_reads_but_changes_nothing() {
    let sim = AlarmComSimulator::start().await;
    let active = built(&opted_in(sim.config()));
    let record = active
        .create_builder_program_record(&commitment("501", "LOT-IN"))
        .await
        .expect("commitment");
    let inactive = built(&opted_in(sim.config()).with_status(Status::Inactive));
    assert!(!inactive.builder_programs().await.expect("read").is_empty());
    assert_eq!(
        inactive.commitment(&record.id).await.expect("read").id,
        record.id
    );
    let before = requests_received(sim.server()).await;
    let inactive_refusal = |r: Result<(), Error>, op: &str| match r {
        Err(Error::Inactive { operation, .. }) => assert_eq!(operation, op),
        other => panic!("{op}: expected Inactive, got {other:?}"),
    };
    inactive_refusal(
        inactive
            .create_builder_program_record(&commitment("501", "LOT-IN-2"))
            .await
            .map(|_| ()),
        "create_builder_program_record",
    );
    inactive_refusal(
        inactive
            .update_commitment(
                &record.id,
                &CommitmentUpdate::new().expected_panel_type("Neo"),
            )
            .await
            .map(|_| ()),
        "update_commitment",
    );
    inactive_refusal(
        inactive
            .activate_commitment(&record.id, &CommitmentActivation::new("Neo", "M-1"))
            .await
            .map(|_| ()),
        "activate_commitment",
    );
    assert_eq!(requests_received(sim.server()).await, before);
}

#[tokio::test]
async fn the_conformance_suite_passes_with_the_builder_program() {
    let sim = AlarmComSimulator::start().await;
    let p = built(&opted_in(sim.config()));
    conformance::run_all(p.as_ref(), &Options::default()).await;
    assert!(
        sim.call_count(builder::ACTIVATE) >= 1,
        "the Builder Program part ran"
    );
}
