//! Fault knobs shared by the vendor simulators, and the HTTP answers that carry them out.
//!
//! The [simulator core](super::sim) applies the knobs; a vendor simulator only says how its
//! wire format writes [`FaultKind::Fault`], [`FaultKind::ResultCode`] and
//! [`FaultKind::Truncated`].

use std::time::Duration;

use wiremock::{Mock, MockServer, Respond, ResponseTemplate, matchers::any};

use crate::testkit::sim::front::{CUT_OFF, DROP, FAULT_HEADER};

/// Starts a loopback server on which `responder` answers every request.
///
/// This is the bare wiremock server: the cut-off body and the dropped connection
/// ([`cut_off_as`], [`drop_connection`]) take effect only behind the
/// [simulator's](super::sim::Simulator) front, which [`Simulator::uri`](super::sim::Simulator::uri)
/// points at.
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
    /// Answer HTTP 200 with a body cut off in the middle (the headers announce the whole body,
    /// half of it arrives, then the connection closes), doing nothing.
    Truncated,
    /// Close the connection without answering, doing nothing.
    DropConnection,
    /// Carry the call out, then close the connection without answering.
    ApplyThenDrop,
    /// Carry the call out and answer, after this delay.
    Delay(Duration),
    /// Carry the call out only after this delay (as a vendor that commits late does), and
    /// answer nothing before then (the connection then closes without an answer): a client
    /// whose attempt timeout is shorter gives up while the call is still to take effect.
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

/// A successful-looking answer with `body` (an XML one) that the client receives cut off in
/// the middle: the headers announce the whole body, half of it arrives, then the connection
/// closes. See [`cut_off_as`].
pub fn cut_off(body: &str) -> ResponseTemplate {
    cut_off_as(body, "text/xml; charset=utf-8")
}

/// A successful-looking answer with `body` of `content_type` that the client receives cut off
/// in the middle: the headers announce the whole body (its true length), half of it arrives,
/// then the connection closes.
///
/// The template itself is well-formed (a whole body, a matching length) and carries a marker
/// header; the [simulator's](super::sim::Simulator) loopback front carries the cut out, so the
/// client sees the same truncated body at once in debug and release builds. (A template whose
/// body is shorter than its `content-length` makes hyper panic in debug builds and hang until
/// the client's timeout in release builds.) Served by a bare `MockServer` (as [`serve`] starts),
/// the answer arrives whole.
pub fn cut_off_as(body: &str, content_type: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header(FAULT_HEADER, CUT_OFF)
        .set_body_raw(body.as_bytes().to_vec(), content_type)
}

/// The connection closes after the request arrived, before any answer: the client sees its
/// connection closed with no status line.
///
/// As with [`cut_off_as`], the template is a well-formed answer with a marker header; the
/// [simulator's](super::sim::Simulator) loopback front closes the connection instead of passing
/// it on, the same way in debug and release builds. (Delay it with `set_delay` to close the
/// connection only after a while.)
pub fn drop_connection() -> ResponseTemplate {
    ResponseTemplate::new(200).insert_header(FAULT_HEADER, DROP)
}
