//! `ProviderRegistry::build_with`: the host's transport settings, SOAP version and HTTP client
//! reach the provider the registry builds.

use std::time::Duration;

use interactive_services::http::soap::SoapVersion;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::provider::ProviderOptions;
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::testkit::faults::{FaultKind, FaultRule};
use interactive_services::{AccountId, ErrorKind, ProviderRegistry, ProvisionRequest};

#[tokio::test]
async fn build_with_applies_a_one_attempt_policy_and_soap_12() {
    let sim = AlarmComSimulator::start().await;
    let options = ProviderOptions::new()
        .transport(TransportOptions {
            retry: RetryPolicy::none(),
            ..TransportOptions::default()
        })
        .soap_version(SoapVersion::V12);
    let provider = ProviderRegistry::with_built_ins()
        .build_with(&sim.config(), &options)
        .expect("provider");
    let account = provider
        .provision(&ProvisionRequest::builder("D-OPT").name("A", "B").build())
        .await
        .expect("provision");
    sim.inject(FaultRule::next(FaultKind::Status(503)).on("GetCustomerInfo"));
    let before = sim.call_count("GetCustomerInfo");
    let e = provider.account(&account.id).await.expect_err("503");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(
        sim.call_count("GetCustomerInfo") - before,
        1,
        "one attempt only"
    );
    let calls = sim.calls();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.version == SoapVersion::V12),
        "every call was SOAP 1.2: {calls:?}"
    );
}

#[tokio::test]
async fn the_hosts_own_client_is_used() {
    let sim = AlarmComSimulator::start().await;
    let client = reqwest::Client::builder()
        .user_agent("host-back-office/7")
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let provider = ProviderRegistry::with_built_ins()
        .build_with(&sim.config(), &ProviderOptions::new().http_client(client))
        .expect("provider");
    let _ = provider.account(&AccountId::new("7000001")).await;
    let requests = sim.server().received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty());
    for r in requests {
        let ua = r.headers.get("user-agent").and_then(|v| v.to_str().ok());
        assert_eq!(ua, Some("host-back-office/7"));
    }
}

#[tokio::test]
async fn bad_transport_settings_are_typed_errors() {
    let sim = AlarmComSimulator::start().await;
    let options = ProviderOptions::new().transport(TransportOptions {
        root_certificates_pem: vec![b"-----BEGIN CERTIFICATE-----\nnot base64\n".to_vec()],
        ..TransportOptions::default()
    });
    let e = ProviderRegistry::with_built_ins()
        .build_with(&sim.config(), &options)
        .expect_err("a broken certificate");
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}
