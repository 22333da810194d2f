//! Nothing received over the network may panic the host: mutated, truncated and garbage
//! answers give typed errors that name the provider and the operation.

use std::time::Duration;

use interactive_services::http::soap;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::{AlarmCom, wire};
use interactive_services::{AccountId, Error, InteractiveServicesProvider, IspConfig};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const INFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId><FirstName>Ada</FirstName><LastName>Love&amp;lace</LastName><IsTerminated>false</IsTerminated><JoinDate>2026-01-15T09:30:00</JoinDate><ServicePlanInfo><PackageId>9</PackageId><Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum></Addons><AddonQuantities><AddonQuantity><AddOn>ProVideo</AddOn><Quantity>2</Quantity></AddonQuantity></AddonQuantities></ServicePlanInfo></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#;

fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.usize(1..6) {
        if v.is_empty() {
            break;
        }
        let at = rng.usize(..v.len());
        match rng.u8(..5) {
            0 => v[at] = rng.u8(..),
            1 => v.truncate(at),
            2 => v.insert(at, *rng.choice(b"<>&;/\"'=#x0 ").unwrap_or(&b'<')),
            3 => {
                let end = (at + rng.usize(1..40)).min(v.len());
                v.drain(at..end);
            }
            _ => {
                let end = (at + rng.usize(1..40)).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

#[test]
fn mutated_envelopes_never_panic_the_reader_or_the_parser() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let input = mutate(&mut rng, INFO.as_bytes());
        if let Ok(el) = soap::read_envelope(&input) {
            if let Some(r) = el.child("GetCustomerInfoResult") {
                if wire::parse_customer_info(r).is_ok() {
                    parsed += 1;
                }
            }
        }
    }
    // Some mutations leave a readable envelope: the parser was reached, not only the reader.
    assert!(parsed > 0);
}

#[test]
fn the_unmutated_sample_parses() {
    let el = soap::read_envelope(INFO.as_bytes()).expect("envelope");
    let account = wire::parse_customer_info(el.child("GetCustomerInfoResult").expect("result"))
        .expect("account");
    assert_eq!(account.contact.last_name, "Love&lace");
    assert!(
        account
            .add_ons
            .iter()
            .any(|a| a.feature.as_str() == "ProVideo" && a.quantity == Some(2))
    );
}

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
                detail,
            } => {
                assert_eq!(provider, "alarm_com");
                assert_eq!(*operation, "GetCustomerInfo");
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
