//! The HTTP transport against a loopback wiremock server: retries, `Retry-After`, timeouts,
//! status mapping, SOAP faults, HTML pages, the body cap and refused connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interactive_services::http::soap::{self, SoapError, SoapVersion};
use interactive_services::http::{Request, Response, RetryPolicy, Transport, TransportOptions};
use interactive_services::{Error, ErrorKind};
use reqwest::Method;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROVIDER: &str = "test_vendor";

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        deadline: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(5),
    }
}

fn transport(max_attempts: u32) -> Transport {
    transport_with(TransportOptions {
        retry: policy(max_attempts),
        ..TransportOptions::default()
    })
}

fn transport_with(options: TransportOptions) -> Transport {
    Transport::new(PROVIDER, options).expect("transport")
}

fn request(server: &MockServer, idempotent: bool) -> Request {
    let url = format!("{}/ws", server.uri()).parse().unwrap();
    let mut r = Request::new("test_op", Method::POST, url);
    r.body = b"<ping/>".to_vec();
    r.idempotent = idempotent;
    r
}

async fn requests_received(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .len()
}

/// Answers the templates in turn (the last one repeats) and records when each request came.
#[derive(Clone)]
struct Sequence {
    templates: Arc<Vec<ResponseTemplate>>,
    next: Arc<AtomicUsize>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Sequence {
    fn new(templates: Vec<ResponseTemplate>) -> Self {
        Self {
            templates: Arc::new(templates),
            next: Arc::default(),
            arrivals: Arc::default(),
        }
    }

    async fn mount(&self, server: &MockServer) {
        Mock::given(any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

impl wiremock::Respond for Sequence {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push(Instant::now());
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let last = self.templates.len() - 1;
        self.templates[n.min(last)].clone()
    }
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[track_caller]
fn expect_ok(result: Result<Response, Error>) -> Response {
    result.unwrap_or_else(|e| panic!("expected a response, got {e:?}"))
}

// ---------------------------------------------------------------------------------------------
// success and retries

#[tokio::test]
async fn a_2xx_answer_comes_back_with_its_body_and_headers() {
    let server = server_answering(
        ResponseTemplate::new(200)
            .insert_header("X-Answer", "42")
            .set_body_string("<ok/>"),
    )
    .await;
    let response = expect_ok(transport(3).send(request(&server, false)).await);
    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.body, b"<ok/>");
    assert_eq!(response.headers.get("x-answer").unwrap(), "42");
    assert_eq!(response.attempts, 1);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"<ping/>");
    assert_eq!(received[0].method.as_str(), "POST");
}

#[tokio::test]
async fn the_request_headers_and_user_agent_are_sent() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let mut req = request(&server, true);
    req.headers
        .insert("soapaction", "\"urn:Test\"".parse().unwrap());
    req.headers
        .insert(reqwest::header::AUTHORIZATION, "Basic abc".parse().unwrap());
    expect_ok(transport(1).send(req).await);
    let received = server.received_requests().await.unwrap();
    let headers = &received[0].headers;
    assert_eq!(headers.get("soapaction").unwrap(), "\"urn:Test\"");
    assert_eq!(headers.get("authorization").unwrap(), "Basic abc");
    let ua = headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(ua.starts_with("interactive-services/"), "{ua}");
}

#[tokio::test]
async fn two_503s_then_200_succeeds_on_the_third_request() {
    let server = MockServer::start().await;
    Sequence::new(vec![
        ResponseTemplate::new(503),
        ResponseTemplate::new(503),
        ResponseTemplate::new(200).set_body_string("done"),
    ])
    .mount(&server)
    .await;
    let response = expect_ok(transport(4).send(request(&server, true)).await);
    assert_eq!(response.attempts, 3);
    assert_eq!(response.body, b"done");
    assert_eq!(requests_received(&server).await, 3);
}

#[tokio::test]
async fn a_503_forever_gives_unavailable_after_max_attempts() {
    let server =
        server_answering(ResponseTemplate::new(503).set_body_string("down for maintenance")).await;
    let err = transport(3).send(request(&server, true)).await.unwrap_err();
    match &err {
        Error::Unavailable {
            provider,
            operation,
            vendor_operation,
            attempts,
            detail,
        } => {
            assert_eq!(provider, PROVIDER);
            assert_eq!(*operation, "test_op");
            assert_eq!(*vendor_operation, Some("test_op"));
            assert_eq!(*attempts, 3);
            assert!(detail.contains("503"), "{detail}");
            assert!(detail.contains("down for maintenance"), "{detail}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert!(err.is_retryable());
    assert_eq!(requests_received(&server).await, 3);
}

#[tokio::test]
async fn a_503_to_a_non_idempotent_request_is_not_retried() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let err = transport(3)
        .send(request(&server, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(requests_received(&server).await, 1);
}

#[tokio::test]
async fn retry_policy_none_makes_one_request() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let transport = transport_with(TransportOptions {
        retry: RetryPolicy::none(),
        ..TransportOptions::default()
    });
    let err = transport.send(request(&server, true)).await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(requests_received(&server).await, 1);
}

// ---------------------------------------------------------------------------------------------
// rejections are not retried

#[tokio::test]
async fn client_errors_are_mapped_and_never_retried() {
    for status in [400u16, 401, 403, 404, 409, 422] {
        let server = server_answering(
            ResponseTemplate::new(status).set_body_string(format!("refused with {status}")),
        )
        .await;
        // Idempotent, so that only the status decides that no retry happens.
        let err = transport(4).send(request(&server, true)).await.unwrap_err();
        assert_eq!(
            requests_received(&server).await,
            1,
            "{status} must not be retried"
        );
        assert!(!err.is_retryable(), "{status}: {err:?}");
        assert_eq!(err.provider(), PROVIDER);
        assert_eq!(err.operation(), Some("test_op"));
        match (status, &err) {
            (400 | 422, Error::Rejected { code, message, .. }) => {
                assert_eq!(code.as_deref(), Some(status.to_string().as_str()));
                assert!(
                    message.contains(&format!("refused with {status}")),
                    "{message}"
                );
                assert_eq!(err.kind(), ErrorKind::Rejected);
            }
            (401, Error::Unauthenticated { message, .. }) => {
                assert!(message.contains("401"), "{message}");
            }
            (403, Error::PermissionDenied { .. })
            | (404, Error::NotFound { .. })
            | (409, Error::Conflict { .. }) => {}
            _ => panic!("{status}: unexpected error {err:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// rate limits

#[tokio::test]
async fn retry_after_is_honoured_before_the_next_attempt() {
    let server = MockServer::start().await;
    let sequence = Sequence::new(vec![
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        ResponseTemplate::new(200),
    ]);
    sequence.mount(&server).await;
    // Not idempotent: a 429 means the vendor did not act, so it is still retried.
    let response = expect_ok(transport(3).send(request(&server, false)).await);
    assert_eq!(response.attempts, 2);
    let arrivals = sequence.arrivals();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(
        waited >= Duration::from_secs(1),
        "the second attempt came {waited:?} after the first"
    );
}

#[test]
fn retry_after_as_an_http_date_is_understood() {
    let when = std::time::SystemTime::now() + Duration::from_secs(120);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::RETRY_AFTER,
        httpdate::fmt_http_date(when).parse().unwrap(),
    );
    let wait = interactive_services::http::retry_after(&headers).expect("parsed");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
    headers.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
    assert_eq!(
        interactive_services::http::retry_after(&headers),
        Some(Duration::from_secs(7))
    );
    headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
    assert_eq!(interactive_services::http::retry_after(&headers), None);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once_with_rate_limited() {
    let server =
        server_answering(ResponseTemplate::new(429).insert_header("Retry-After", "120")).await;
    let started = Instant::now();
    let err = transport(4).send(request(&server, true)).await.unwrap_err();
    match &err {
        Error::RateLimited {
            provider,
            retry_after,
            ..
        } => {
            assert_eq!(provider, PROVIDER);
            assert_eq!(*retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.to_string().contains("120"), "{err}");
    assert!(err.is_retryable());
    assert_eq!(requests_received(&server).await, 1);
    // "Quickly": it did not wait anywhere near the two minutes asked for.
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_then_reported() {
    let server = server_answering(ResponseTemplate::new(429)).await;
    let err = transport(3)
        .send(request(&server, false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests_received(&server).await, 3);
}

// ---------------------------------------------------------------------------------------------
// timeouts

fn short_timeout(max_attempts: u32) -> Transport {
    transport_with(TransportOptions {
        attempt_timeout: Duration::from_millis(300),
        retry: policy(max_attempts),
        ..TransportOptions::default()
    })
}

#[tokio::test]
async fn a_slow_answer_to_a_non_idempotent_request_times_out_without_retry() {
    let server =
        server_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
    let err = short_timeout(3)
        .send(request(&server, false))
        .await
        .unwrap_err();
    match &err {
        Error::Timeout {
            attempts,
            operation,
            ..
        } => {
            assert_eq!(*attempts, 1);
            assert_eq!(*operation, "test_op");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(requests_received(&server).await, 1);
}

#[tokio::test]
async fn a_slow_answer_to_an_idempotent_request_is_retried() {
    let server = MockServer::start().await;
    Sequence::new(vec![
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
        ResponseTemplate::new(200).set_body_string("second"),
    ])
    .mount(&server)
    .await;
    let response = expect_ok(short_timeout(3).send(request(&server, true)).await);
    assert_eq!(response.attempts, 2);
    assert_eq!(response.body, b"second");
    assert_eq!(requests_received(&server).await, 2);
}

#[tokio::test]
async fn an_idempotent_request_that_always_times_out_reports_every_attempt() {
    let server =
        server_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
    let err = short_timeout(2)
        .send(request(&server, true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err:?}");
    assert_eq!(requests_received(&server).await, 2);
}

// ---------------------------------------------------------------------------------------------
// SOAP faults

const SOAP11_FAULT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <soap:Fault>
      <faultcode>soap:Client</faultcode>
      <faultstring>Server was unable to read request. Customer 123 is not yours.</faultstring>
      <detail><Code>ERR_NOT_OWNER</Code></detail>
    </soap:Fault>
  </soap:Body>
</soap:Envelope>"#;

const SOAP12_FAULT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
  <env:Body>
    <env:Fault>
      <env:Code><env:Value>env:Sender</env:Value></env:Code>
      <env:Reason><env:Text xml:lang="en">The login was not accepted.</env:Text></env:Reason>
      <env:Detail><Info>locked</Info></env:Detail>
    </env:Fault>
  </env:Body>
</env:Envelope>"#;

fn soap_request(server: &MockServer, idempotent: bool) -> Request {
    let mut r = request(server, idempotent);
    r.accept = Some(interactive_services::http::soap::accept_fault);
    r
}

#[tokio::test]
async fn a_soap_11_fault_comes_back_as_an_answer_and_reads_as_a_fault() {
    let server =
        server_answering(ResponseTemplate::new(500).set_body_raw(SOAP11_FAULT, "text/xml")).await;
    // Idempotent: it is the fault itself, not the request kind, that stops retries.
    let response = expect_ok(transport(3).send(soap_request(&server, true)).await);
    assert_eq!(response.status.as_u16(), 500);
    assert_eq!(response.attempts, 1);
    assert_eq!(requests_received(&server).await, 1);

    let fault = match soap::read_envelope(&response.body) {
        Err(SoapError::Fault(fault)) => fault,
        other => panic!("expected a fault, got {other:?}"),
    };
    assert_eq!(fault.version, SoapVersion::V11);
    assert_eq!(fault.code, "soap:Client");
    assert_eq!(
        fault.reason,
        "Server was unable to read request. Customer 123 is not yours."
    );
    assert_eq!(fault.detail.as_deref(), Some("ERR_NOT_OWNER"));

    let err = SoapError::Fault(fault).into_error(PROVIDER, "test_op");
    match &err {
        Error::Rejected {
            provider,
            operation,
            code,
            message,
            ..
        } => {
            assert_eq!(provider, PROVIDER);
            assert_eq!(*operation, "test_op");
            assert_eq!(code.as_deref(), Some("soap:Client"));
            assert!(message.contains("Customer 123 is not yours"), "{message}");
        }
        other => panic!("a client fault is the vendor refusing the request, got {other:?}"),
    }
    assert!(
        err.to_string().contains("Customer 123 is not yours"),
        "{err}"
    );
}

#[tokio::test]
async fn a_soap_12_fault_comes_back_as_an_answer_and_reads_as_a_fault() {
    let server = server_answering(
        ResponseTemplate::new(500).set_body_raw(SOAP12_FAULT, "application/soap+xml"),
    )
    .await;
    let response = expect_ok(transport(3).send(soap_request(&server, true)).await);
    assert_eq!(response.attempts, 1);
    assert_eq!(requests_received(&server).await, 1);
    let fault = match soap::read_envelope(&response.body) {
        Err(SoapError::Fault(fault)) => fault,
        other => panic!("expected a fault, got {other:?}"),
    };
    assert_eq!(fault.version, SoapVersion::V12);
    assert_eq!(fault.code, "env:Sender");
    assert_eq!(fault.reason, "The login was not accepted.");
    assert_eq!(fault.detail.as_deref(), Some("locked"));
    match SoapError::Fault(fault).into_error(PROVIDER, "test_op") {
        Error::Rejected { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("env:Sender"));
            assert_eq!(message, "The login was not accepted.");
        }
        other => panic!("a sender fault is the vendor refusing the request, got {other:?}"),
    }
}

#[tokio::test]
async fn a_soap_fault_to_a_request_not_marked_soap_is_a_server_error() {
    let server =
        server_answering(ResponseTemplate::new(500).set_body_raw(SOAP11_FAULT, "text/xml")).await;
    let err = transport(3)
        .send(request(&server, false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(requests_received(&server).await, 1);
}

#[tokio::test]
async fn a_500_without_a_fault_to_a_soap_request_is_still_retried() {
    let server = server_answering(ResponseTemplate::new(500).set_body_string("oops")).await;
    let err = transport(3)
        .send(soap_request(&server, true))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(requests_received(&server).await, 3);
}

// ---------------------------------------------------------------------------------------------
// unusable answers

const HTML_502: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\
<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>";

#[tokio::test]
async fn an_html_502_page_is_an_outage_retried_like_a_bare_502() {
    let server =
        server_answering(ResponseTemplate::new(502).set_body_raw(HTML_502, "text/html")).await;
    let err = transport(3).send(request(&server, true)).await.unwrap_err();
    match &err {
        Error::Unavailable {
            detail, attempts, ..
        } => {
            assert!(detail.contains("HTML"), "{detail}");
            assert!(detail.contains("502 Bad Gateway"), "{detail}");
            assert_eq!(*attempts, 3);
            // Only the title, not the page.
            assert!(!detail.contains("proxy server"), "{detail}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        err.is_retryable(),
        "a proxy's outage page is retryable later"
    );
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert_eq!(requests_received(&server).await, 3);
}

#[tokio::test]
async fn an_html_502_page_to_a_non_idempotent_request_is_not_retried() {
    let server =
        server_answering(ResponseTemplate::new(502).set_body_raw(HTML_502, "text/html")).await;
    let err = transport(3)
        .send(soap_request(&server, false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(requests_received(&server).await, 1);
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_invalid_response() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 1024 * 1024])).await;
    let transport = transport_with(TransportOptions {
        max_body_bytes: 1024,
        retry: policy(3),
        ..TransportOptions::default()
    });
    let err = transport.send(request(&server, true)).await.unwrap_err();
    match &err {
        Error::InvalidResponse { detail, .. } => {
            assert!(detail.contains("1024-byte cap"), "{detail}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(requests_received(&server).await, 1);
}

#[tokio::test]
async fn a_body_at_the_cap_is_read() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 1024])).await;
    let transport = transport_with(TransportOptions {
        max_body_bytes: 1024,
        retry: policy(1),
        ..TransportOptions::default()
    });
    let response = expect_ok(transport.send(request(&server, true)).await);
    assert_eq!(response.body.len(), 1024);
}

// ---------------------------------------------------------------------------------------------
// connection failures

fn refused_url() -> url::Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/ws").parse().unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_non_idempotent_requests() {
    let url = refused_url();
    for idempotent in [false, true] {
        let mut req = Request::new("test_op", Method::POST, url.clone());
        req.idempotent = idempotent;
        let err = transport(3).send(req).await.unwrap_err();
        match &err {
            Error::Transport {
                provider, attempts, ..
            } => {
                assert_eq!(provider, PROVIDER);
                assert_eq!(*attempts, 3, "idempotent: {idempotent}");
            }
            other => panic!("expected Transport, got {other:?}"),
        }
        assert!(err.is_retryable());
        assert!(std::error::Error::source(&err).is_some());
        assert!(err.to_string().contains("3 attempt"), "{err}");
    }
}

#[tokio::test]
async fn a_retry_after_of_u64_max_seconds_with_an_uncapped_policy_is_a_typed_error() {
    // No cap on Retry-After or on backoff: the wait is measured against the deadline without
    // overflowing, and a wait past it fails at once.
    let server = server_answering(
        ResponseTemplate::new(429).insert_header("Retry-After", u64::MAX.to_string().as_str()),
    )
    .await;
    let transport = transport_with(TransportOptions {
        retry: RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            deadline: Duration::from_secs(120),
            max_retry_after: Duration::MAX,
        },
        ..TransportOptions::default()
    });
    let err = transport.send(request(&server, true)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(u64::MAX)));
    assert_eq!(requests_received(&server).await, 1);
}
