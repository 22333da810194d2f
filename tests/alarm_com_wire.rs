//! Exact wire checks of the Alarm.com provider against plain wiremock mocks: what each
//! operation puts on the wire, checked against the formats in `reference/vendors.md`.

use std::time::Duration;

use interactive_services::http::soap::SoapVersion;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::{
    AccountId, Address, InteractiveServicesProvider, IspConfig, PlanChange, ProvisionRequest,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "http://www.alarm.com/WebServices";
const PASSWORD: &str = "Pw-ONLY-in-the-header-7731";
const TWO_FACTOR: &str = "device-ONLY-in-header-55";

fn config(server: &MockServer) -> IspConfig {
    IspConfig::builder()
        .name("wire")
        .provider("alarm_com")
        .endpoint(format!("{}/WebServices/", server.uri()))
        .credential("login", "wire-user")
        .credential("password", PASSWORD)
        .credential("two_factor_device_id", TWO_FACTOR)
        .default_plan("9")
        .build()
        .expect("config")
}

fn provider(server: &MockServer, version: SoapVersion) -> AlarmCom {
    AlarmCom::builder(&config(server))
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

fn envelope(version: SoapVersion, inner: &str) -> String {
    let ns = match version {
        SoapVersion::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
        SoapVersion::V12 => "http://www.w3.org/2003/05/soap-envelope",
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
    )
}

fn answer(version: SoapVersion, op: &str, result: &str) -> ResponseTemplate {
    let ct = match version {
        SoapVersion::V11 => "text/xml; charset=utf-8",
        SoapVersion::V12 => "application/soap+xml; charset=utf-8",
    };
    ResponseTemplate::new(200).set_body_raw(
        envelope(
            version,
            &format!(
                r#"<{op}Response xmlns="{NS}"><{op}Result>{result}</{op}Result></{op}Response>"#
            ),
        )
        .into_bytes(),
        ct,
    )
}

/// Mounts an answer for `op` on `service`, matched by the action header of `version`.
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

async fn requests_for(server: &MockServer, op: &str) -> Vec<String> {
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

/// Every request: the envelope namespace of its version, the Authentication header in the
/// Alarm.com namespace with User/Password/TwoFactorDeviceId, and the secrets nowhere else.
async fn assert_every_request_authenticated(server: &MockServer, version: SoapVersion) {
    let env_ns = match version {
        SoapVersion::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
        SoapVersion::V12 => "http://www.w3.org/2003/05/soap-envelope",
    };
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty());
    for r in &requests {
        let b = body(r);
        assert!(b.contains(&format!("xmlns:soap=\"{env_ns}\"")), "{b}");
        let header = format!(
            "<soap:Header><Authentication xmlns=\"{NS}\"><User>wire-user</User><Password>{PASSWORD}</Password><TwoFactorDeviceId>{TWO_FACTOR}</TwoFactorDeviceId></Authentication></soap:Header>"
        );
        assert!(
            b.contains(&header),
            "Authentication header missing or malformed: {b}"
        );
        assert_eq!(
            b.matches(PASSWORD).count(),
            1,
            "the password appears only in the header"
        );
        assert_eq!(b.matches(TWO_FACTOR).count(), 1);
        assert!(!r.url.as_str().contains(PASSWORD));
        for (name, value) in r.headers.iter() {
            let v = value.to_str().unwrap_or("");
            assert!(
                !v.contains(PASSWORD) && !v.contains(TWO_FACTOR),
                "secret in header {name}"
            );
        }
    }
}

async fn provisioning_on_the_wire(version: SoapVersion) {
    let server = MockServer::start().await;
    let cm = "CustomerManagement.asmx";
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
        "CreateCustomer",
        "<Success>true</Success><ErrorMessage /><LoginName>jdoe</LoginName><Password>OneTime-1</Password><CustomerId>4242</CustomerId>",
    )
    .await;
    let p = provider(&server, version);
    let req = ProvisionRequest::builder("DLR-77")
        .name("Jane", "Doe & Sons")
        .email("jane@example.com")
        .phone("5555550199")
        .address(Address {
            street1: "5 Elm St".into(),
            street2: Some("Unit <2>".into()),
            city: "Reston".into(),
            state: "VA".into(),
            zip: "20190".into(),
            country: "US".into(),
        })
        .desired_login("jdoe")
        .panel_type("IQPanel2")
        .modem_serial("MOD123")
        .plan("9")
        .add_on("LightAutomation")
        .add_on("ZWaveLocks")
        .build();
    let account = p.provision(&req).await.expect("provision");
    assert_eq!(account.id.as_str(), "4242");
    assert_eq!(account.login_name.as_deref(), Some("jdoe"));

    let lookups = requests_for(&server, "LookupCustomerIdFromDealerCustomerId").await;
    assert_eq!(lookups.len(), 1);
    assert!(lookups[0].contains(&format!(
        "<LookupCustomerIdFromDealerCustomerId xmlns=\"{NS}\"><dealerCustomerId>DLR-77</dealerCustomerId></LookupCustomerIdFromDealerCustomerId>"
    )), "{}", lookups[0]);

    let creates = requests_for(&server, "CreateCustomer").await;
    assert_eq!(creates.len(), 1);
    let c = &creates[0];
    // Wrapper, the `input` parameter, PascalCase fields in the service's order, escaping.
    let expected = format!(
        "<soap:Body><CreateCustomer xmlns=\"{NS}\"><input>\
<CustomerAccountAddress><FirstName>Jane</FirstName><LastName>Doe &amp; Sons</LastName><Street1>5 Elm St</Street1><Street2>Unit &lt;2&gt;</Street2><City>Reston</City><State>VA</State><Zip>20190</Zip><CountryId>USA</CountryId></CustomerAccountAddress>\
<CustomerAccountEmail>jane@example.com</CustomerAccountEmail>\
<CustomerAccountPhone>5555550199</CustomerAccountPhone>\
<DealerCustomerId>DLR-77</DealerCustomerId>\
<DesiredLoginName>jdoe</DesiredLoginName>\
<InstallationAddress><Street1>5 Elm St</Street1><Street2>Unit &lt;2&gt;</Street2><City>Reston</City><State>VA</State><Zip>20190</Zip><CountryId>USA</CountryId></InstallationAddress>\
<PanelType>IQPanel2</PanelType>\
<ModemSerialNumber>MOD123</ModemSerialNumber>\
<PackageId>9</PackageId>\
<AddOnFeatures><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum><AddOnFeatureEnum>ZWaveLocks</AddOnFeatureEnum></AddOnFeatures>\
<CustomerNotifications />\
<CentralStationForwardingOption>NotSet</CentralStationForwardingOption>\
<PropertyType>NotSet</PropertyType>\
</input></CreateCustomer></soap:Body>"
    );
    assert!(
        c.contains(&expected),
        "CreateCustomer body differs:\n{c}\nexpected:\n{expected}"
    );
    assert_every_request_authenticated(&server, version).await;
}

#[tokio::test]
async fn provisioning_on_the_wire_soap11() {
    provisioning_on_the_wire(SoapVersion::V11).await;
}

#[tokio::test]
async fn provisioning_on_the_wire_soap12() {
    provisioning_on_the_wire(SoapVersion::V12).await;
}

const CUSTOMER_INFO: &str = "<CustomerId>4242</CustomerId><DealerCustomerId>DLR-77</DealerCustomerId>\
<FirstName>Jane</FirstName><LastName>Doe</LastName><PrimaryEmail>jane@example.com</PrimaryEmail>\
<PrimaryPhoneNumber>5555550199</PrimaryPhoneNumber><LoginName>jdoe</LoginName>\
<IsTerminated>false</IsTerminated><JoinDate>2026-03-01T10:00:00</JoinDate>\
<ServicePlanInfo><PackageId>9</PackageId><PlanType>AI</PlanType>\
<Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum><AddOnFeatureEnum>SomethingNew2030</AddOnFeatureEnum></Addons>\
<TotalServicePrice>39.99</TotalServicePrice></ServicePlanInfo><DealerId>0</DealerId>";

async fn account_operations_on_the_wire(version: SoapVersion) {
    let server = MockServer::start().await;
    let cm = "CustomerManagement.asmx";
    mount(&server, version, cm, "GetCustomerInfo", CUSTOMER_INFO).await;
    mount(
        &server,
        version,
        cm,
        "ChangeServicePlan",
        "<Success>true</Success><ErrorMessage />",
    )
    .await;
    mount(
        &server,
        version,
        cm,
        "ChangeServicePlanValidationOnly",
        "<Success>true</Success><ErrorMessage />",
    )
    .await;
    mount(
        &server,
        version,
        cm,
        "SetAddOnQuantity",
        "<Success>true</Success><ErrorMessage />",
    )
    .await;
    mount(&server, version, cm, "TerminateCustomer", "true").await;
    mount(
        &server,
        version,
        cm,
        "GetCustomerList",
        "<int>4242</int><int>4243</int>",
    )
    .await;
    let p = provider(&server, version);
    let id = AccountId::new("4242");

    let account = p.account(&id).await.expect("account");
    assert_eq!(account.plan.as_ref().map(|p| p.as_str()), Some("9"));
    assert!(
        account.has_feature("SomethingNew2030"),
        "unknown add-ons round-trip"
    );
    let info = requests_for(&server, "GetCustomerInfo").await;
    assert!(info[0].contains(&format!(
        "<GetCustomerInfo xmlns=\"{NS}\"><customerId>4242</customerId></GetCustomerInfo>"
    )));

    // Adding one add-on sends the FULL set (current ones, the unknown one included).
    p.change_plan(
        &id,
        &PlanChange::new()
            .plan("193")
            .add("ThermostatControl")
            .remove("LightAutomation"),
    )
    .await
    .expect("change");
    let change = requests_for(&server, "ChangeServicePlan").await;
    assert_eq!(change.len(), 1);
    assert!(change[0].contains(&format!(
        "<ChangeServicePlan xmlns=\"{NS}\"><customerId>4242</customerId><newPackageId>193</newPackageId>\
<addOnFeatures><AddOnFeatureEnum>SomethingNew2030</AddOnFeatureEnum><AddOnFeatureEnum>ThermostatControl</AddOnFeatureEnum></addOnFeatures></ChangeServicePlan>"
    )), "{}", change[0]);

    p.change_plan(&id, &PlanChange::new().add("RemoteArming").validate_only())
        .await
        .expect("validate only");
    let validation = requests_for(&server, "ChangeServicePlanValidationOnly").await;
    assert_eq!(validation.len(), 1);
    assert!(validation[0].contains(&format!(
        "<ChangeServicePlanValidationOnly xmlns=\"{NS}\"><customerId>4242</customerId><newPackageId>9</newPackageId>\
<addOnFeatures><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum><AddOnFeatureEnum>RemoteArming</AddOnFeatureEnum><AddOnFeatureEnum>SomethingNew2030</AddOnFeatureEnum></addOnFeatures></ChangeServicePlanValidationOnly>"
    )), "{}", validation[0]);
    assert_eq!(
        requests_for(&server, "ChangeServicePlan").await.len(),
        1,
        "validation changed nothing"
    );

    p.change_plan(&id, &PlanChange::new().add_quantity("ProVideo", 2))
        .await
        .expect("quantity");
    let qty = requests_for(&server, "SetAddOnQuantity").await;
    assert!(qty[0].contains(&format!(
        "<SetAddOnQuantity xmlns=\"{NS}\"><customerId>4242</customerId><addOn>ProVideo</addOn><quantity>2</quantity></SetAddOnQuantity>"
    )), "{}", qty[0]);

    p.terminate(&id).await.expect("terminate");
    let term = requests_for(&server, "TerminateCustomer").await;
    assert!(term[0].contains(&format!(
        "<TerminateCustomer xmlns=\"{NS}\"><customerId>4242</customerId></TerminateCustomer>"
    )));

    let ids = p.list_accounts(true).await.expect("list");
    assert_eq!(ids, vec![AccountId::new("4242"), AccountId::new("4243")]);
    let list = requests_for(&server, "GetCustomerList").await;
    assert!(list[0].contains(&format!(
        "<GetCustomerList xmlns=\"{NS}\"><includeTermed>true</includeTermed></GetCustomerList>"
    )));
    assert_every_request_authenticated(&server, version).await;
}

#[tokio::test]
async fn account_operations_on_the_wire_soap11() {
    account_operations_on_the_wire(SoapVersion::V11).await;
}

#[tokio::test]
async fn account_operations_on_the_wire_soap12() {
    account_operations_on_the_wire(SoapVersion::V12).await;
}

#[tokio::test]
async fn dealer_management_on_the_wire() {
    for version in [SoapVersion::V11, SoapVersion::V12] {
        let server = MockServer::start().await;
        let dm = "DealerManagement.asmx";
        mount(&server, version, dm, "GetLatestCallerVersion", "7").await;
        mount(
            &server,
            version,
            dm,
            "GetPackageIds",
            "<PackageIdInfo><PackageId>2</PackageId><PackageName>Basic Interactive</PackageName><PackageGroup>BI</PackageGroup></PackageIdInfo>",
        )
        .await;
        mount(
            &server,
            version,
            dm,
            "GetLoginRoles",
            "<LoginName>wire-user</LoginName><Roles><LoginRole><Name>SecurityTrax Integration User</Name><IsLegacy>true</IsLegacy></LoginRole></Roles><Permissions><string>setSecurityTraxSettings</string></Permissions>",
        )
        .await;
        let p = provider(&server, version);
        let plans = p.service_plans().await.expect("plans");
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].plan_type.as_deref(), Some("BI"));
        let pkg = requests_for(&server, "GetPackageIds").await;
        assert_eq!(pkg.len(), 2, "residential and commercial");
        assert!(pkg[0].contains(&format!(
            "<GetPackageIds xmlns=\"{NS}\"><input><DealerId>0</DealerId><accountType>Residential</accountType><CallerVersion>7</CallerVersion></input></GetPackageIds>"
        )), "{}", pkg[0]);
        assert!(pkg[1].contains("<accountType>Commercial</accountType>"));
        assert_eq!(
            requests_for(&server, "GetLatestCallerVersion").await.len(),
            1
        );

        let check = p.validate_credentials().await.expect("credentials");
        assert!(check.can("provisioning") && check.can("billing"));
        assert_eq!(check.login, "wire-user");
        assert_every_request_authenticated(&server, version).await;
    }
}

#[tokio::test]
async fn sub_dealer_creates_with_create_customer_for_dealer() {
    let server = MockServer::start().await;
    let version = SoapVersion::V11;
    let cm = "CustomerManagement.asmx";
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
        "CreateCustomerForDealer",
        "<Success>true</Success><ErrorMessage /><LoginName>x</LoginName><Password>y</Password><CustomerId>99</CustomerId>",
    )
    .await;
    let config = config(&server)
        .to_builder()
        .credential("dealer_id", "31337")
        .build()
        .expect("config");
    let p = AlarmCom::from_config(&config).expect("provider");
    let req = ProvisionRequest::builder("SUB-1")
        .name("A", "B")
        .plan("2")
        .build();
    p.provision(&req).await.expect("provision");
    let creates = requests_for(&server, "CreateCustomerForDealer").await;
    assert_eq!(creates.len(), 1);
    assert!(
        creates[0].contains("</input><dealerId>31337</dealerId></CreateCustomerForDealer>"),
        "{}",
        creates[0]
    );
}

#[tokio::test]
async fn asmx_faults_map_to_typed_errors() {
    use interactive_services::Error;
    let server = MockServer::start().await;
    let fault = |code: &str, text: &str| {
        ResponseTemplate::new(500).set_body_raw(
            envelope(
                SoapVersion::V11,
                &format!("<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{text}</faultstring><detail /></soap:Fault>"),
            )
            .into_bytes(),
            "text/xml; charset=utf-8",
        )
    };
    // The credential check's first call is the seen GetLatestCallerVersion.
    Mock::given(header(
        "soapaction",
        format!("\"{NS}/GetLatestCallerVersion\"").as_str(),
    ))
    .respond_with(fault(
        "Client",
        "Authentication failed: invalid login or password.",
    ))
    .mount(&server)
    .await;
    Mock::given(header(
        "soapaction",
        format!("\"{NS}/TerminateCustomer\"").as_str(),
    ))
    .respond_with(fault(
        "Client",
        "Permission denied: SecurityTrax Integration User",
    ))
    .mount(&server)
    .await;
    Mock::given(header(
        "soapaction",
        format!("\"{NS}/GetCustomerInfo\"").as_str(),
    ))
    .respond_with(fault("Server", "Customer 5 was not found."))
    .expect(1)
    .mount(&server)
    .await;
    let p = AlarmCom::from_config(&config(&server)).expect("provider");
    let r = p.validate_credentials().await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    match p.terminate(&AccountId::new("5")).await {
        Err(Error::PermissionDenied {
            permission,
            guidance,
            ..
        }) => {
            assert_eq!(permission, "SecurityTrax Integration User");
            assert!(guidance.contains("legacy role"));
        }
        other => panic!("{other:?}"),
    }
    let r = p.account(&AccountId::new("5")).await;
    assert!(
        matches!(r, Err(Error::NotFound { .. })),
        "faults are answers, not retried: {r:?}"
    );
}
