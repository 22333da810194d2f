//! Nothing received over the network may panic the host: mutated, truncated and garbage
//! answers give typed errors that name the provider and the operation.

use std::time::Duration;

use interactive_services::http::soap;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::{AccountId, Error, InteractiveServicesProvider, IspConfig};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn hostile_documents_are_refused() {
    let billion_laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x>&lol2;</x></soap:Body></soap:Envelope>"#;
    assert!(matches!(
        soap::read_envelope(billion_laughs),
        Err(soap::SoapError::Invalid(_))
    ));
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    assert!(matches!(
        soap::read_envelope(deep.as_bytes()),
        Err(soap::SoapError::Invalid(_))
    ));
    let not_utf8 = [0xffu8, 0xfe, 0x3c, 0x00];
    assert!(soap::read_envelope(&not_utf8).is_err());
}

#[tokio::test]
async fn garbage_answers_are_typed_errors_naming_provider_and_operation() {
    let mut rng = fastrand::Rng::with_seed(42);
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not xml at all".to_vec(),
        b"<html><body>Gateway</body></html>".to_vec(),
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body></soap:Body></soap:Envelope>"#.to_vec(),
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><WrongResponse/></soap:Body></soap:Envelope>"#.to_vec(),
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>abc</CustomerId></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#.to_vec(),
        br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>1</CustomerId><IsTerminated>maybe</IsTerminated></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#.to_vec(),
        (0..2000).map(|_| rng.u8(..)).collect(),
    ];
    for body in bodies {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "text/xml"))
            .mount(&server)
            .await;
        let config = IspConfig::builder()
            .name("hostile")
            .provider("alarm_com")
            .endpoint(format!("{}/WebServices/", server.uri()))
            .credential("login", "u")
            .credential("password", "p")
            .build()
            .expect("config");
        let p = AlarmCom::builder(&config)
            .transport_options(TransportOptions {
                retry: RetryPolicy::none(),
                attempt_timeout: Duration::from_secs(5),
                ..TransportOptions::default()
            })
            .build()
            .expect("provider");
        let err = p
            .account(&AccountId::new("1"))
            .await
            .expect_err("garbage must not read as an account");
        match &err {
            Error::InvalidResponse {
                provider,
                operation,
                vendor_operation,
                detail,
            } => {
                assert_eq!(provider, "alarm_com");
                assert_eq!(*operation, "account");
                assert_eq!(*vendor_operation, Some("GetCustomerInfo"));
                assert!(!detail.is_empty());
            }
            Error::NotFound { .. } => {} // an empty result is how a missing customer can answer
            other => panic!(
                "unexpected error for {:?}: {other:?}",
                String::from_utf8_lossy(&body)
            ),
        }
        assert!(err.to_string().starts_with("alarm_com: "), "{err}");
    }
}
