//! What a host acts on: `Error::kind()`, retryability, the existing account of a duplicate, the
//! crate's operation with the vendor's beside it, and a root cause a person can read.

use std::time::Duration;

use interactive_services::http::{Request, RetryPolicy, Transport, TransportOptions};
use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::providers::total_connect::simulator::TotalConnectSimulator;
use interactive_services::{
    AccountId, Error, ErrorKind, ProviderRegistry, ProvisionRequest, ValidationErrors,
};

fn io_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused")
}

#[test]
fn every_variant_has_its_kind_status_and_retryability() {
    let mut problems = ValidationErrors::new();
    problems.push("name", "required");
    let cases: Vec<(Error, ErrorKind, u16, bool)> = vec![
        (
            Error::InvalidConfig {
                provider: "p".into(),
                problems,
            },
            ErrorKind::InvalidConfig,
            400,
            false,
        ),
        (
            Error::invalid_request("p", "provision", "x"),
            ErrorKind::InvalidRequest,
            400,
            false,
        ),
        (
            Error::unauthenticated("p", "account", "x"),
            ErrorKind::Unauthenticated,
            401,
            false,
        ),
        (
            Error::permission_denied("p", "account", "role", "grant it"),
            ErrorKind::PermissionDenied,
            403,
            false,
        ),
        (
            Error::not_found("p", "account", "x"),
            ErrorKind::NotFound,
            404,
            false,
        ),
        (
            Error::conflict("p", "provision", "x"),
            ErrorKind::Conflict,
            409,
            false,
        ),
        (
            Error::rate_limited("p", "account", Some(Duration::from_secs(7))),
            ErrorKind::RateLimited,
            429,
            true,
        ),
        (
            Error::unsupported("p", "events_since"),
            ErrorKind::Unsupported,
            501,
            false,
        ),
        (
            Error::Inactive {
                provider: "p".into(),
                operation: "provision",
                config: "c".into(),
            },
            ErrorKind::Inactive,
            403,
            false,
        ),
        (
            Error::rejected("p", "provision", None, "bad package"),
            ErrorKind::Rejected,
            422,
            false,
        ),
        (
            Error::vendor("p", "provision", None, "server fault"),
            ErrorKind::Vendor,
            502,
            true,
        ),
        (
            Error::unavailable("p", "account", 3, "503"),
            ErrorKind::Unavailable,
            503,
            true,
        ),
        (
            Error::transport("p", "account", 2, io_error()),
            ErrorKind::Transport,
            502,
            true,
        ),
        (
            Error::timeout("p", "account", 1, Duration::from_secs(30)),
            ErrorKind::Timeout,
            504,
            true,
        ),
        (
            Error::invalid_response("p", "account", "x"),
            ErrorKind::InvalidResponse,
            502,
            false,
        ),
    ];
    assert_eq!(cases.len(), 15, "one case per variant");
    for (error, kind, status, retryable) in cases {
        assert_eq!(error.kind(), kind, "{error}");
        assert_eq!(kind.http_status(), status, "{kind:?}");
        assert_eq!(error.is_retryable(), retryable, "{kind:?}");
        assert_eq!(kind.is_retryable(), retryable, "{kind:?}");
        assert_eq!(error.provider(), "p");
        let expected_retry_after = (kind == ErrorKind::RateLimited).then(|| Duration::from_secs(7));
        assert_eq!(error.retry_after(), expected_retry_after, "{kind:?}");
    }
}

#[test]
fn during_names_the_crates_operation_and_keeps_the_vendors() {
    let e = Error::invalid_response("alarm_com", "GetCustomerInfo", "no CustomerId")
        .in_vendor_call("GetCustomerInfo")
        .during("account")
        .during("change_plan");
    assert_eq!(e.operation(), Some("change_plan"));
    assert_eq!(e.vendor_operation(), Some("GetCustomerInfo"));
    assert_eq!(
        e.to_string(),
        "alarm_com: change_plan (GetCustomerInfo): invalid response: no CustomerId"
    );
    let crate_level = Error::invalid_request("alarm_com", "provision", "no plan");
    assert_eq!(crate_level.vendor_operation(), None);
}

#[tokio::test]
async fn a_refused_connection_says_so_once() {
    // A port that was free a moment ago: nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let transport = Transport::new(
        "probe",
        TransportOptions {
            retry: RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(2),
                ..RetryPolicy::default()
            },
            ..TransportOptions::default()
        },
    )
    .expect("transport");
    let url = format!("http://127.0.0.1:{port}/x").parse().expect("url");
    let err = transport
        .send(Request::new("Probe", reqwest::Method::GET, url))
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Transport);
    let shown = err.to_string();
    assert!(shown.contains("connection refused"), "{shown}");
    assert_eq!(shown.matches("connection refused").count(), 1, "{shown}");
    assert!(shown.contains("2 attempt"), "{shown}");
}

fn alarm_request(dealer: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer)
        .name("Grace", "Hopper")
        .plan("9")
        .build()
}

#[tokio::test]
async fn a_duplicate_customer_conflict_carries_the_existing_account() {
    let sim = AlarmComSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    let first = provider
        .provision(&alarm_request("D-TWICE"))
        .await
        .expect("first");
    let err = provider
        .provision(&alarm_request("D-TWICE"))
        .await
        .expect_err("second is a conflict");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.existing_account(), Some(&first.id));
    assert_eq!(err.operation(), Some("provision"));
    assert!(!err.is_retryable());

    let tc = TotalConnectSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&tc.config())
        .expect("provider");
    let request = || {
        let mut r = ProvisionRequest::builder("D-TWICE")
            .name("Grace", "Hopper")
            .modem_serial("00:11:22:33:44:55")
            .build();
        for (k, v) in [
            ("city_number", "12"),
            ("cs_number", "34"),
            ("subscriber_number", "5678"),
            ("crc", "ABCD"),
        ] {
            r.vendor_fields.insert(k.into(), v.into());
        }
        r
    };
    let first = provider.provision(&request()).await.expect("first");
    let err = provider.provision(&request()).await.expect_err("conflict");
    assert_eq!(err.existing_account(), Some(&first.id));
    assert_ne!(first.id, AccountId::new(""));
}

#[tokio::test]
async fn a_refused_package_is_rejected_not_retryable_and_names_both_operations() {
    let sim = AlarmComSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    let err = provider
        .provision(
            &ProvisionRequest::builder("D-BADPLAN")
                .name("A", "B")
                .plan("4242")
                .build(),
        )
        .await
        .expect_err("unknown package");
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.operation(), Some("provision"));
    assert_eq!(err.vendor_operation(), Some("CreateCustomer"));
    assert!(err.to_string().contains("4242"), "{err}");
    assert_eq!(sim.customers_with_dealer_id("D-BADPLAN"), 0);
}
