//! Fault knobs shared by the vendor simulators, and the HTTP answers that carry them out.

use std::time::Duration;

use wiremock::{Mock, MockServer, Respond, ResponseTemplate, matchers::any};

/// Starts a loopback server on which `responder` answers every request.
pub async fn serve(responder: impl Respond + 'static) -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(any())
        .respond_with(responder)
        .mount(&server)
        .await;
    server
}

/// What a fault knob does to the calls it catches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer this HTTP status with a short text body, doing nothing.
    Status(u16),
    /// Answer 429 with `Retry-After: <seconds>`, doing nothing.
    RateLimited {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Answer the vendor's own error with this text, doing nothing (a `soap:Server` fault for
    /// SOAP services, result code -999 for JSON ones).
    Fault(String),
    /// Answer an HTML error page (HTTP 502), as a proxy or an outage does, doing nothing.
    HtmlPage,
    /// Answer HTTP 200 with a body cut off in the middle, doing nothing.
    Truncated,
    /// Drop the connection before the answer is complete, doing nothing.
    DropConnection,
    /// Carry the call out, then drop the connection before the answer is complete.
    ApplyThenDrop,
    /// Carry the call out and answer, after this delay.
    Delay(Duration),
    /// Answer this vendor result code (Total Connect's `ResultCode`), doing nothing. Simulators
    /// without result codes answer it as [`FaultKind::Fault`].
    ResultCode(i64),
}

/// A fault knob: `kind`, for the next `times` calls of `operation` (or of any operation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The operation it applies to; `None` for every operation.
    pub operation: Option<String>,
    /// How many calls it still catches.
    pub times: u32,
    /// What it does.
    pub kind: FaultKind,
}

impl FaultRule {
    /// `kind` for the next call of any operation.
    pub fn next(kind: FaultKind) -> Self {
        Self {
            operation: None,
            times: 1,
            kind,
        }
    }

    /// Only for `operation`.
    pub fn on(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_owned());
        self
    }

    /// For the next `n` calls.
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// Takes the first armed rule for `operation` (or for any operation), counting it down.
pub fn take_fault(rules: &mut Vec<FaultRule>, operation: &str) -> Option<FaultKind> {
    let rule = rules
        .iter_mut()
        .find(|r| r.times > 0 && r.operation.as_deref().is_none_or(|o| o == operation))?;
    rule.times -= 1;
    let kind = rule.kind.clone();
    rules.retain(|r| r.times > 0);
    Some(kind)
}

/// An HTML error page with `status`, as a proxy or an outage answers.
pub fn html_page(status: u16, title: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "text/html; charset=utf-8")
        .set_body_string(format!(
            "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        ))
}

/// A response whose announced length is longer than what is sent: the client sees the
/// connection close in the middle of the body.
pub fn cut_off(body: &str) -> ResponseTemplate {
    let half = body.get(..body.len() / 2).unwrap_or("");
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .insert_header("content-length", (body.len() + 64).to_string().as_str())
        .set_body_raw(half.as_bytes().to_vec(), "text/xml; charset=utf-8")
}

/// The connection closes before the answer is complete: the status line and one byte of a
/// body announced as 4 KiB arrive, then nothing. (A MockServer cannot close a connection
/// before the status line; to a client both are an answer that never completed.)
pub fn drop_connection() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-length", "4096")
        .set_body_raw(b"<".to_vec(), "text/xml; charset=utf-8")
}
