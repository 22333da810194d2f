//! Exact wire checks of the Total Connect provider against plain wiremock mocks: the TC2 SOAP
//! login as seen in public client code, and the modelled AlarmNet 360 dealer API (method, path
//! with the company id, the SessionID as bearer token, JSON bodies). The password travels in the
//! login body only.

use std::time::Duration;

use interactive_services::http::soap;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::total_connect::TotalConnect;
use interactive_services::{
    AccountId, AccountStatus, Error, InteractiveServicesProvider, IspConfig, PlanChange,
    ProvisionRequest,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const NS: &str = "https://services.alarmnet.com/TC2/";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// A password with characters that must be escaped, and a marker to search for.
const PASSWORD: &str = "Pw&<ONLY-in-login-7731>";
const MARKER: &str = "ONLY-in-login-7731";
const SESSION: &str = "5C1D0E2A-77B4-4F7A-9B55-0D1E2F3A4B5C";
const COMPANY: &str = "13579";
const API: &str = "/AlarmNet360/api/v1/companies/13579";

fn config_at(endpoint: String) -> IspConfig {
    IspConfig::builder()
        .name("wire")
        .provider("total_connect")
        .endpoint(endpoint)
        .credential("user_name", "wire-user")
        .credential("password", PASSWORD)
        .credential("application_id", "WIRE-APP-9")
        .credential("application_version", "3.1")
        .credential("company_id", COMPANY)
        .default_plan("TC-BASIC")
        .build()
        .expect("config")
}

fn provider_at(endpoint: String) -> TotalConnect {
    TotalConnect::builder(&config_at(endpoint))
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

fn provider(server: &MockServer) -> TotalConnect {
    provider_at(format!("{}/", server.uri()))
}

fn login_answer(code: i64, data: &str, session: Option<&str>) -> ResponseTemplate {
    let session = session
        .map(|s| format!("<SessionID>{s}</SessionID>"))
        .unwrap_or_default();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><AuthenticateUserLoginResponse xmlns="{NS}"><AuthenticateUserLoginResult><ResultCode>{code}</ResultCode><ResultData>{data}</ResultData>{session}</AuthenticateUserLoginResult></AuthenticateUserLoginResponse></soap:Body></soap:Envelope>"#
    );
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/xml; charset=utf-8")
}

/// The login, matched by path, content type and `SOAPAction`.
fn login_mock() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/TC21api/tc2.asmx"))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .and(header(
            "soapaction",
            "\"https://services.alarmnet.com/TC2/AuthenticateUserLogin\"",
        ))
}

async fn mount_login(server: &MockServer) {
    login_mock()
        .respond_with(login_answer(0, "Success", Some(SESSION)))
        .mount(server)
        .await;
}

fn json_answer(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        v.to_string().into_bytes(),
        "application/json; charset=utf-8",
    )
}

/// An API call, matched by method, path and the bearer token from the login.
fn api_mock(verb: &str, tail: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("{API}/{tail}")))
        .and(header(
            "authorization",
            format!("Bearer {SESSION}").as_str(),
        ))
}

fn body(r: &Request) -> String {
    String::from_utf8(r.body.clone()).expect("utf-8 body")
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn is_login(r: &Request) -> bool {
    r.url.path() == "/TC21api/tc2.asmx"
}

/// Every API request carries the bearer token; the password is in the login bodies only, and
/// nowhere in a URL or header.
async fn assert_secrets_in_their_place(server: &MockServer) {
    let all = requests(server).await;
    assert!(!all.is_empty());
    for r in &all {
        assert!(!r.url.as_str().contains(MARKER), "password in {}", r.url);
        for (name, value) in r.headers.iter() {
            let v = value.to_str().unwrap_or("");
            assert!(!v.contains(MARKER), "password in header {name}");
        }
        if is_login(r) {
            assert_eq!(body(r).matches(MARKER).count(), 1, "once, in the login");
        } else {
            assert!(!body(r).contains(MARKER), "password in an API body");
            assert_eq!(
                r.headers.get("authorization").and_then(|v| v.to_str().ok()),
                Some(format!("Bearer {SESSION}").as_str()),
                "{} {}",
                r.method,
                r.url
            );
        }
    }
}

fn json_body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON body")
}

fn find<'a>(all: &'a [Request], verb: &str, tail: &str) -> Vec<&'a Request> {
    let p = format!("{API}/{tail}");
    all.iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == p)
        .collect()
}

const PLANS: &str = r#"{"ResultCode":0,"ResultData":"Success","Plans":[
    {"PlanCode":"TC-BASIC","Name":"Total Connect Basic","AccountType":"Residential"},
    {"PlanCode":"TC-COMM","Name":"Total Connect Commercial","AccountType":"Commercial"}]}"#;

#[tokio::test]
async fn the_login_on_the_wire() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    api_mock("GET", "plans")
        .respond_with(json_answer(serde_json::from_str(PLANS).expect("json")))
        .mount(&server)
        .await;
    let p = provider(&server);
    let plans = p.service_plans().await.expect("plans");
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1].id.as_str(), "TC-COMM");
    assert_eq!(plans[1].name, "Total Connect Commercial");
    assert_eq!(plans[1].plan_type.as_deref(), Some("Commercial"));

    let all = requests(&server).await;
    let logins: Vec<_> = all.iter().filter(|r| is_login(r)).collect();
    assert_eq!(logins.len(), 1);
    let login = body(logins[0]);
    // The exact operation element, parameters in order, the password escaped; no SOAP header.
    let expected = format!(
        "<soap:Body><AuthenticateUserLogin xmlns=\"{NS}\"><userName>wire-user</userName><password>Pw&amp;&lt;ONLY-in-login-7731&gt;</password><ApplicationID>WIRE-APP-9</ApplicationID><ApplicationVersion>3.1</ApplicationVersion></AuthenticateUserLogin></soap:Body>"
    );
    assert!(login.contains(&expected), "login body differs:\n{login}");
    assert!(!login.contains("Header"), "no SOAP header: {login}");

    // And as a parsed document: SOAP 1.1, the TC2 namespace, the parameter names and values.
    let root = soap::parse(login.as_bytes()).expect("XML");
    assert_eq!(root.name, "Envelope");
    assert_eq!(root.namespace.as_deref(), Some(SOAP11));
    let op = root
        .child("Body")
        .and_then(|b| b.children.first())
        .expect("operation");
    assert_eq!(op.name, "AuthenticateUserLogin");
    assert_eq!(op.namespace.as_deref(), Some(NS));
    let params: Vec<(&str, &str)> = op
        .children
        .iter()
        .map(|c| (c.name.as_str(), c.text.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("userName", "wire-user"),
            ("password", PASSWORD),
            ("ApplicationID", "WIRE-APP-9"),
            ("ApplicationVersion", "3.1"),
        ]
    );

    let plans_req = find(&all, "GET", "plans");
    assert_eq!(plans_req.len(), 1);
    assert!(plans_req[0].body.is_empty());
    assert_secrets_in_their_place(&server).await;
}

#[tokio::test]
async fn provisioning_on_the_wire() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    api_mock("GET", "accounts")
        .and(query_param("dealerCustomerId", "DLR-77"))
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success", "Accounts": []}),
        ))
        .mount(&server)
        .await;
    api_mock("POST", "accounts")
        .and(header("content-type", "application/json"))
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success", "AccountId": "880001"}),
        ))
        .mount(&server)
        .await;
    let p = provider(&server);
    let req = ProvisionRequest::builder("DLR-77")
        .name("Jane", "Doe & Sons")
        .email("jane@example.com")
        .phone("5555550199")
        .plan("TC-COMM")
        .add_on("VideoServices")
        .add_on("Automation")
        .vendor_field("city_number", "31")
        .vendor_field("cs_number", "07")
        .vendor_field("subscriber_number", "004242")
        .vendor_field("mac", "00:D0:2D:12:34:56")
        .vendor_field("crc", "BEEF")
        .vendor_field("location_name", "Warehouse <2>")
        .vendor_field("account_type", "Commercial")
        .vendor_field("phone2", "5555550198")
        .vendor_field("phone3", "5555550197")
        .build();
    let account = p.provision(&req).await.expect("provision");
    assert_eq!(account.id.as_str(), "880001");
    assert_eq!(
        account.dealer_customer_id.as_ref().map(|d| d.as_str()),
        Some("DLR-77")
    );

    let all = requests(&server).await;
    let lookups = find(&all, "GET", "accounts");
    assert_eq!(lookups.len(), 1, "one lookup before creating");
    assert_eq!(lookups[0].url.query(), Some("dealerCustomerId=DLR-77"));
    let creates = find(&all, "POST", "accounts");
    assert_eq!(creates.len(), 1);
    let c = json_body(creates[0]);
    let expected = json!({
        "DealerCustomerId": "DLR-77",
        "CityNumber": "31",
        "CsNumber": "07",
        "SubscriberNumber": "004242",
        "MacAddress": "00:D0:2D:12:34:56",
        "Crc": "BEEF",
        "AccountType": "Commercial",
        "FirstName": "Jane",
        "LastName": "Doe & Sons",
        "Phones": ["5555550199", "5555550198", "5555550197"],
        "Email": "jane@example.com",
        "LocationName": "Warehouse <2>",
        "PlanCode": "TC-COMM",
    });
    for (key, want) in expected.as_object().expect("object") {
        assert_eq!(c.get(key), Some(want), "{key} in {c}");
    }
    let mut features: Vec<&str> = c["Features"]
        .as_array()
        .expect("Features")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    features.sort_unstable();
    assert_eq!(features, ["Automation", "VideoServices"]);
    // The service assigns the id, the status and the creation time: they are left out.
    for key in ["AccountId", "Status", "CreatedAt"] {
        assert!(c.get(key).is_none(), "{key} sent: {c}");
    }
    assert_secrets_in_their_place(&server).await;
}

fn account_json(features: &[&str], status: &str) -> Value {
    json!({"ResultCode": 0, "ResultData": "Success", "Account": {
        "AccountId": "880001",
        "DealerCustomerId": "DLR-77",
        "CityNumber": "31",
        "CsNumber": "07",
        "SubscriberNumber": "004242",
        "MacAddress": "00:D0:2D:12:34:56",
        "Crc": "BEEF",
        "AccountType": "Residential",
        "FirstName": "Jane",
        "LastName": "Doe",
        "Phones": ["5555550199"],
        "Email": "jane@example.com",
        "LocationName": "Home",
        "PlanCode": "TC-BASIC",
        "Features": features,
        "Status": status,
        "CreatedAt": "2026-03-01T10:00:00Z"
    }})
}

#[tokio::test]
async fn account_operations_on_the_wire() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    api_mock("GET", "accounts/880001")
        .respond_with(json_answer(account_json(
            &["Automation", "SomethingNew2030"],
            "Active",
        )))
        .mount(&server)
        .await;
    api_mock("PUT", "accounts/880001/services")
        .and(header("content-type", "application/json"))
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success"}),
        ))
        .mount(&server)
        .await;
    api_mock("POST", "accounts/880001/terminate")
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success"}),
        ))
        .mount(&server)
        .await;
    api_mock("GET", "accounts")
        .and(query_param("includeTerminated", "true"))
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success",
            "Accounts": [{"AccountId": "880001"}, {"AccountId": "880002"}]}),
        ))
        .mount(&server)
        .await;
    api_mock("GET", "accounts")
        .and(query_param("includeTerminated", "false"))
        .respond_with(json_answer(
            json!({"ResultCode": 0, "ResultData": "Success",
            "Accounts": [{"AccountId": "880001"}]}),
        ))
        .mount(&server)
        .await;
    let p = provider(&server);
    let id = AccountId::new("880001");

    let a = p.account(&id).await.expect("account");
    assert_eq!(a.id, id);
    assert_eq!(
        a.dealer_customer_id.as_ref().map(|d| d.as_str()),
        Some("DLR-77")
    );
    assert_eq!(a.plan.as_ref().map(|p| p.as_str()), Some("TC-BASIC"));
    assert_eq!(a.status, AccountStatus::Active);
    assert_eq!(a.contact.last_name, "Doe");
    assert_eq!(a.contact.email.as_deref(), Some("jane@example.com"));
    assert!(
        a.has_feature("SomethingNew2030"),
        "unknown features are kept"
    );
    assert_eq!(
        a.created_at.map(|t| t.to_rfc3339()),
        Some("2026-03-01T10:00:00+00:00".to_owned())
    );

    p.change_plan(
        &id,
        &PlanChange::new()
            .plan("TC-VIDEO")
            .add("Geofencing")
            .remove("Automation"),
    )
    .await
    .expect("change");
    let all = requests(&server).await;
    let puts = find(&all, "PUT", "accounts/880001/services");
    assert_eq!(puts.len(), 1);
    let sent = json_body(puts[0]);
    assert_eq!(sent["PlanCode"], "TC-VIDEO");
    let mut features: Vec<&str> = sent["Features"]
        .as_array()
        .expect("Features")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    features.sort_unstable();
    assert_eq!(
        features,
        ["Geofencing", "SomethingNew2030"],
        "the full set, the unknown feature kept"
    );
    assert_eq!(
        sent.as_object().map(|o| o.len()),
        Some(2),
        "PlanCode and Features only: {sent}"
    );

    p.terminate(&id).await.expect("terminate");
    let all = requests(&server).await;
    let terminates = find(&all, "POST", "accounts/880001/terminate");
    assert_eq!(terminates.len(), 1);
    assert!(terminates[0].body.is_empty(), "no body");

    let everything = p.list_accounts(true).await.expect("list");
    assert_eq!(everything.len(), 2);
    let live = p.list_accounts(false).await.expect("list");
    assert_eq!(live, [AccountId::new("880001")]);

    let all = requests(&server).await;
    assert_eq!(all.iter().filter(|r| is_login(r)).count(), 1, "one session");
    assert_secrets_in_their_place(&server).await;
}

#[tokio::test]
async fn a_refused_session_logs_in_again_and_the_repeat_carries_the_new_session() {
    let server = MockServer::start().await;
    // The first login answers an old session, every later one the current session.
    login_mock()
        .respond_with(login_answer(0, "Success", Some("OLD-SESSION")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_login(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/plans")))
        .and(header("authorization", "Bearer OLD-SESSION"))
        .respond_with(json_answer(
            json!({"ResultCode": -102, "ResultData": "Invalid session"}),
        ))
        .mount(&server)
        .await;
    api_mock("GET", "plans")
        .respond_with(json_answer(serde_json::from_str(PLANS).expect("json")))
        .mount(&server)
        .await;
    let p = provider(&server);
    p.service_plans().await.expect("plans after one re-login");
    let all = requests(&server).await;
    let seen: Vec<String> = all
        .iter()
        .map(|r| {
            if is_login(r) {
                "login".to_owned()
            } else {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            }
        })
        .collect();
    assert_eq!(
        seen,
        [
            "login",
            "Bearer OLD-SESSION",
            "login",
            &format!("Bearer {SESSION}")
        ]
    );
}

#[tokio::test]
async fn a_rejected_login_sends_nothing_more() {
    let server = MockServer::start().await;
    login_mock()
        .respond_with(login_answer(
            -50004,
            "Input validation failed: bad user name or password",
            None,
        ))
        .mount(&server)
        .await;
    let p = provider(&server);
    let r = p.service_plans().await;
    match &r {
        Err(e @ Error::Unauthenticated { .. }) => {
            assert!(!e.to_string().contains(MARKER), "{e}");
            assert!(!format!("{e:?}").contains(MARKER), "{e:?}");
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    let r = p.account(&AccountId::new("880001")).await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    assert_eq!(requests(&server).await.len(), 1, "the one login only");
}

#[tokio::test]
async fn empty_and_faulted_logins_are_not_rejections() {
    let server = MockServer::start().await;
    login_mock()
        .respond_with(ResponseTemplate::new(200))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    login_mock()
        .and(body_string_contains("AuthenticateUserLogin"))
        .respond_with(
            ResponseTemplate::new(500).set_body_raw(
                format!(
                    r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to process request.</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"#
                )
                .into_bytes(),
                "text/xml; charset=utf-8",
            ),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    mount_login(&server).await;
    api_mock("GET", "plans")
        .respond_with(json_answer(serde_json::from_str(PLANS).expect("json")))
        .mount(&server)
        .await;
    let p = provider(&server);
    let r = p.service_plans().await;
    assert!(matches!(r, Err(Error::Unavailable { .. })), "empty: {r:?}");
    let r = p.service_plans().await;
    assert!(
        r.is_err() && !matches!(r, Err(Error::Unauthenticated { .. })),
        "fault: {r:?}"
    );
    let logins = |all: Vec<Request>| all.iter().filter(|r| is_login(r)).count();
    // Two failed logins in a row: the next call does not log in again at once.
    let r = p.service_plans().await;
    assert!(
        matches!(r, Err(Error::Unavailable { .. })),
        "backing off: {r:?}"
    );
    assert_eq!(
        logins(requests(&server).await),
        2,
        "no login while backing off"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    p.service_plans()
        .await
        .expect("the third login, after the pause, works");
    assert_eq!(logins(requests(&server).await), 3);
}

#[tokio::test]
async fn an_endpoint_with_a_path_and_no_trailing_slash_is_a_folder() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/proxy/TC21api/tc2.asmx"))
        .respond_with(login_answer(0, "Success", Some(SESSION)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/proxy{API}/plans")))
        .and(header(
            "authorization",
            format!("Bearer {SESSION}").as_str(),
        ))
        .respond_with(json_answer(serde_json::from_str(PLANS).expect("json")))
        .mount(&server)
        .await;
    let p = provider_at(format!("{}/proxy", server.uri()));
    p.service_plans().await.expect("plans under /proxy/");
}
