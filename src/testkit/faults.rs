//! Fault knobs shared by the vendor simulators, and the HTTP answers that carry them out.
//!
//! The [simulator core](super::sim) applies the knobs; a vendor simulator only says how its
//! wire format writes [`FaultKind::Fault`], [`FaultKind::ResultCode`] and
//! [`FaultKind::Truncated`].

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
    /// Carry the call out only after this delay (as a vendor that commits late does), and
    /// answer nothing usable before then: a client whose attempt timeout is shorter gives up
    /// while the call is still to take effect.
    CommitLate(Duration),
    /// Answer this vendor result code (Total Connect's `ResultCode`), doing nothing. Simulators
    /// without result codes answer it as [`FaultKind::Fault`].
    ResultCode(i64),
}

/// A fault knob: `kind`, for the next `times` calls of `operation` (or of any operation),
/// optionally only once a call of another operation has been received ([`FaultRule::after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The operation it applies to; `None` for every operation.
    pub operation: Option<String>,
    /// How many calls it still catches.
    pub times: u32,
    /// What it does.
    pub kind: FaultKind,
    /// While `Some(op)`, the rule waits: it catches nothing until a call of `op` has been
    /// received, and then catches the calls after that one.
    pub after: Option<String>,
}

impl FaultRule {
    /// `kind` for the next call of any operation.
    pub fn next(kind: FaultKind) -> Self {
        Self {
            operation: None,
            times: 1,
            kind,
            after: None,
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

    /// Only for the calls that come after the next call of `operation` (not that call
    /// itself). For example, "every lookup after the create", whether or not the client looked
    /// up before creating:
    ///
    /// ```
    /// # use interactive_services::testkit::faults::{FaultKind, FaultRule};
    /// let rule = FaultRule::next(FaultKind::HtmlPage)
    ///     .on("LookupCustomer")
    ///     .times(10)
    ///     .after("CreateCustomer");
    /// # assert_eq!(rule.after.as_deref(), Some("CreateCustomer"));
    /// ```
    pub fn after(mut self, operation: &str) -> Self {
        self.after = Some(operation.to_owned());
        self
    }
}

/// Takes the first armed rule for `operation` (or for any operation), counting it down; then
/// arms the rules that were waiting for a call of `operation` ([`arm_waiting`]).
pub fn take_fault(rules: &mut Vec<FaultRule>, operation: &str) -> Option<FaultKind> {
    let kind = rules
        .iter_mut()
        .find(|r| {
            r.times > 0
                && r.after.is_none()
                && r.operation.as_deref().is_none_or(|o| o == operation)
        })
        .map(|rule| {
            rule.times -= 1;
            rule.kind.clone()
        });
    arm_waiting(rules, operation);
    rules.retain(|r| r.times > 0);
    kind
}

/// Arms the rules waiting for a call of `operation` ([`FaultRule::after`]): they catch the
/// calls after this one. [`take_fault`] does it; a simulator that answers a call without
/// consulting the rules calls it itself.
pub fn arm_waiting(rules: &mut [FaultRule], operation: &str) {
    for rule in rules {
        if rule.after.as_deref() == Some(operation) {
            rule.after = None;
        }
    }
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
