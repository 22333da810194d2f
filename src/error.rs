//! The crate's one public error type.
//!
//! Every variant names the provider it came from (`provider`) and, where a call was under way,
//! the operation (`operation`). No variant ever carries a credential: errors are built from
//! vendor answers and the crate's own descriptions, never from a config's secret values.

use std::fmt;
use std::time::Duration;

use crate::model::AccountId;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error source kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in terms a host can act on.
///
/// `operation` is always the crate's operation (`provision`, `account`, `change_plan`, ...);
/// where a vendor call was under way its own name (`CreateCustomer`) is in `vendor_operation`.
/// [`Error::kind`] gives a small `Copy` value to `match` on (an HTTP status to answer, whether to
/// retry).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration (or a request built by the host) broke one or more rules. Every problem is
    /// listed, each with its field path.
    #[error("{provider}: invalid configuration: {problems}")]
    InvalidConfig {
        /// The provider the configuration is for (`unknown` when none was given).
        provider: String,
        /// Every problem found.
        problems: ValidationErrors,
    },

    /// The request itself is not valid for this provider (found before anything was sent).
    #[error("{provider}: {operation}: invalid request: {detail}")]
    InvalidRequest {
        /// The provider.
        provider: String,
        /// The operation that was asked for.
        operation: &'static str,
        /// What is wrong with the request.
        detail: String,
    },

    /// The vendor did not accept the credentials (bad login, locked account, expired password).
    #[error("{provider}: {operation}{}: the credentials were not accepted: {message}", via(*.vendor_operation))]
    Unauthenticated {
        /// The provider.
        provider: String,
        /// The operation that was under way.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// The vendor's own words, or the crate's description.
        message: String,
    },

    /// The login works but lacks a role or permission the operation needs.
    #[error("{provider}: {operation}{}: permission `{permission}` is missing. {guidance}", via(*.vendor_operation))]
    PermissionDenied {
        /// The provider.
        provider: String,
        /// The operation that was refused.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// The missing role or permission, in the vendor's own naming.
        permission: String,
        /// The steps a dealer takes to grant it.
        guidance: String,
    },

    /// The account, plan or record does not exist at the vendor.
    #[error("{provider}: {operation}{}: not found: {what}", via(*.vendor_operation))]
    NotFound {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// What was looked for.
        what: String,
    },

    /// The change conflicts with what already exists (a duplicate name or customer, a terminated
    /// account).
    #[error("{provider}: {operation}{}: conflict: {message}", via(*.vendor_operation))]
    Conflict {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// What conflicts.
        message: String,
        /// The account that already exists, when the conflict is a duplicate customer.
        existing: Option<AccountId>,
    },

    /// The vendor asked the crate to slow down for longer than the configured cap (or on every
    /// attempt).
    #[error("{provider}: {operation}{}: rate limited{}", via(*.vendor_operation), fmt_retry_after(*.retry_after))]
    RateLimited {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// How long the vendor asked to wait, when it said.
        retry_after: Option<Duration>,
    },

    /// The provider does not offer this operation (see
    /// [`Capabilities`](crate::Capabilities)).
    #[error("{provider}: {operation} is not supported by this provider{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Unsupported {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// Why, when more can be said than "not implemented": a modelled vendor operation the
        /// vendor did not recognize, a feature the vendor account lacks.
        reason: Option<String>,
    },

    /// The configuration is Inactive: nothing is provisioned or changed through it.
    #[error("{provider}: {operation}: ISP configuration `{config}` is inactive")]
    Inactive {
        /// The provider.
        provider: String,
        /// The refused operation.
        operation: &'static str,
        /// The configuration's name.
        config: String,
    },

    /// The vendor refused the input (an unknown package, a misspelled add-on, a field it does
    /// not accept): the request must change before it can succeed. Not retryable.
    #[error("{provider}: {operation}{}: the vendor refused the request{}: {message}", via(*.vendor_operation), fmt_code(.code))]
    Rejected {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// The vendor's code (`Success=false`, a fault code, a result code, an HTTP status).
        code: Option<String>,
        /// The vendor's message.
        message: String,
    },

    /// The vendor failed on its side (a server fault, an unknown error code): the same request
    /// may succeed later.
    #[error("{provider}: {operation}{}: the vendor answered an error{}: {message}", via(*.vendor_operation), fmt_code(.code))]
    Vendor {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// The vendor's code (fault code, result code, HTTP status), when there is one.
        code: Option<String>,
        /// The vendor's message.
        message: String,
    },

    /// The vendor is temporarily unable to answer (5xx or an outage page after every attempt,
    /// panel unreachable).
    #[error(
        "{provider}: {operation}{}: the service is unavailable after {attempts} attempt(s): {detail}", via(*.vendor_operation)
    )]
    Unavailable {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// How many requests were made.
        attempts: u32,
        /// What the last answer was.
        detail: String,
    },

    /// A create may or may not have taken effect at the vendor (its answer was lost, and the
    /// customer could not be found yet), so the crate did not create again. Try the same call
    /// later: it starts by looking the customer up, and creates only when the vendor has had time
    /// to commit (see [`providers::common::create_once`](crate::providers::common::create_once)).
    #[error("{provider}: {operation}{}: the outcome is unknown for dealer customer {dealer_customer_id}: {detail}", via(*.vendor_operation))]
    OutcomeUnknown {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// The dealer's customer id the create was for.
        dealer_customer_id: String,
        /// What happened, and when it is safe to try again.
        detail: String,
    },

    /// The connection failed (refused, reset, TLS, DNS) on every attempt that was safe to make.
    #[error("{provider}: {operation}{}: transport error after {attempts} attempt(s): {}", via(*.vendor_operation), root_cause(.source.as_ref()))]
    Transport {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// How many requests were made.
        attempts: u32,
        /// The underlying error (never carries a URL or header values).
        #[source]
        source: BoxError,
    },

    /// No answer came in time.
    #[error("{provider}: {operation}{}: timed out after {attempts} attempt(s) ({elapsed:?})", via(*.vendor_operation))]
    Timeout {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// How many requests were made.
        attempts: u32,
        /// Time spent on the operation in all.
        elapsed: Duration,
    },

    /// The vendor's answer could not be understood (HTML instead of SOAP, a truncated or
    /// oversized body, a missing element).
    #[error("{provider}: {operation}{}: invalid response: {detail}", via(*.vendor_operation))]
    InvalidResponse {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's operation, when one was under way.
        vendor_operation: Option<&'static str>,
        /// What was wrong with it.
        detail: String,
    },
}

/// What kind of failure an [`Error`] is: a small `Copy` value a host matches on to choose an
/// HTTP status, a message or a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::InvalidConfig`].
    InvalidConfig,
    /// [`Error::InvalidRequest`].
    InvalidRequest,
    /// [`Error::Unauthenticated`].
    Unauthenticated,
    /// [`Error::PermissionDenied`].
    PermissionDenied,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::RateLimited`].
    RateLimited,
    /// [`Error::Unsupported`].
    Unsupported,
    /// [`Error::Inactive`].
    Inactive,
    /// [`Error::Rejected`].
    Rejected,
    /// [`Error::Vendor`].
    Vendor,
    /// [`Error::Unavailable`].
    Unavailable,
    /// [`Error::OutcomeUnknown`].
    OutcomeUnknown,
    /// [`Error::Transport`].
    Transport,
    /// [`Error::Timeout`].
    Timeout,
    /// [`Error::InvalidResponse`].
    InvalidResponse,
}

impl ErrorKind {
    /// Whether the same call may succeed later without any change: rate limits, outages, the
    /// vendor's own failures, timeouts and connection failures.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Vendor
                | ErrorKind::Unavailable
                | ErrorKind::OutcomeUnknown
                | ErrorKind::Transport
                | ErrorKind::Timeout
        )
    }

    /// The HTTP status a host serving its own API would usually answer for this kind: 4xx for
    /// what the caller must change, 502/503/504 for what the vendor did.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidConfig | ErrorKind::InvalidRequest => 400,
            ErrorKind::Rejected => 422,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::PermissionDenied | ErrorKind::Inactive => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unsupported => 501,
            ErrorKind::Vendor | ErrorKind::InvalidResponse | ErrorKind::Transport => 502,
            ErrorKind::Unavailable | ErrorKind::OutcomeUnknown => 503,
            ErrorKind::Timeout => 504,
        }
    }
}

fn via(vendor_operation: Option<&'static str>) -> String {
    match vendor_operation {
        Some(op) => format!(" ({op})"),
        None => String::new(),
    }
}

/// The innermost cause of a transport failure in a few words ("connection refused").
fn root_cause(source: &(dyn std::error::Error + 'static)) -> String {
    let mut at: &(dyn std::error::Error + 'static) = source;
    loop {
        if let Some(io) = at.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let named = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::ConnectionReset => Some("connection reset"),
                K::ConnectionAborted => Some("connection aborted"),
                K::NotConnected => Some("not connected"),
                K::TimedOut => Some("timed out"),
                K::AddrNotAvailable => Some("address not available"),
                K::UnexpectedEof => Some("connection closed early"),
                _ => None,
            };
            if let Some(n) = named {
                return n.to_owned();
            }
        }
        match at.source() {
            Some(next) => at = next,
            None => return at.to_string(),
        }
    }
}

/// Longest vendor text an error keeps, in characters; longer text is cut with a note.
pub const MAX_ERROR_TEXT_CHARS: usize = 2048;

fn capped(text: String) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT_CHARS) {
        None => text,
        Some((at, _)) => {
            let total = text.chars().count();
            format!("{}… ({total} characters in all)", &text[..at])
        }
    }
}

fn fmt_retry_after(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!(" (the vendor asked to wait {}s)", d.as_secs()),
        None => String::new(),
    }
}

fn fmt_code(code: &Option<String>) -> String {
    match code {
        Some(c) => format!(" ({c})"),
        None => String::new(),
    }
}

macro_rules! each_variant {
    ($self:expr, $bind:ident => $body:expr, InvalidConfig => $ic:expr) => {
        match $self {
            Error::InvalidConfig { .. } => $ic,
            Error::InvalidRequest { $bind, .. }
            | Error::Unauthenticated { $bind, .. }
            | Error::PermissionDenied { $bind, .. }
            | Error::NotFound { $bind, .. }
            | Error::Conflict { $bind, .. }
            | Error::RateLimited { $bind, .. }
            | Error::Unsupported { $bind, .. }
            | Error::Inactive { $bind, .. }
            | Error::Rejected { $bind, .. }
            | Error::Vendor { $bind, .. }
            | Error::Unavailable { $bind, .. }
            | Error::OutcomeUnknown { $bind, .. }
            | Error::Transport { $bind, .. }
            | Error::Timeout { $bind, .. }
            | Error::InvalidResponse { $bind, .. } => $body,
        }
    };
}

/// `$body` with `$v` bound to the `vendor_operation` field of the variants that have one;
/// `$otherwise` for the others.
macro_rules! with_vendor_operation {
    ($self:expr, $v:ident => $body:expr, otherwise => $otherwise:expr) => {
        match $self {
            Error::Unauthenticated {
                vendor_operation: $v,
                ..
            }
            | Error::PermissionDenied {
                vendor_operation: $v,
                ..
            }
            | Error::NotFound {
                vendor_operation: $v,
                ..
            }
            | Error::Conflict {
                vendor_operation: $v,
                ..
            }
            | Error::RateLimited {
                vendor_operation: $v,
                ..
            }
            | Error::Rejected {
                vendor_operation: $v,
                ..
            }
            | Error::Vendor {
                vendor_operation: $v,
                ..
            }
            | Error::Unavailable {
                vendor_operation: $v,
                ..
            }
            | Error::OutcomeUnknown {
                vendor_operation: $v,
                ..
            }
            | Error::Transport {
                vendor_operation: $v,
                ..
            }
            | Error::Timeout {
                vendor_operation: $v,
                ..
            }
            | Error::InvalidResponse {
                vendor_operation: $v,
                ..
            } => $body,
            Error::InvalidConfig { .. }
            | Error::InvalidRequest { .. }
            | Error::Unsupported { .. }
            | Error::Inactive { .. } => $otherwise,
        }
    };
}

impl Error {
    /// The provider the error came from.
    pub fn provider(&self) -> &str {
        match self {
            Error::InvalidConfig { provider, .. } => provider,
            other => each_variant!(other, provider => provider, InvalidConfig => ""),
        }
    }

    /// The crate's operation that failed, where one was under way.
    pub fn operation(&self) -> Option<&'static str> {
        each_variant!(self, operation => Some(*operation), InvalidConfig => None)
    }

    /// The vendor's operation that was under way (`CreateCustomer`), when the error came from a
    /// vendor call.
    pub fn vendor_operation(&self) -> Option<&'static str> {
        with_vendor_operation!(self, v => *v, otherwise => None)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            Error::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Inactive { .. } => ErrorKind::Inactive,
            Error::Rejected { .. } => ErrorKind::Rejected,
            Error::Vendor { .. } => ErrorKind::Vendor,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::InvalidResponse { .. } => ErrorKind::InvalidResponse,
        }
    }

    /// How long the vendor asked to wait before trying again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The account that already exists, for a duplicate-customer [`Error::Conflict`].
    pub fn existing_account(&self) -> Option<&AccountId> {
        match self {
            Error::Conflict { existing, .. } => existing.as_ref(),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed: rate limits, outages, the vendor's
    /// own failures, timeouts and connection failures ([`ErrorKind::is_retryable`]). Rejections
    /// (credentials, permissions, validation, refused input) are not retryable.
    ///
    /// Retrying a *mutation* is only safe when it is idempotent or the caller first checks
    /// whether it took effect; [`provision`](crate::InteractiveServicesProvider::provision) does
    /// that check itself.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// The same error as the outcome of the crate's `operation`. Errors raised inside a vendor
    /// call carry the vendor's operation in `vendor_operation` from the start (and, until this is
    /// called, in `operation` too); vendor providers call `during` once in each trait method, so
    /// that `operation` always names the crate's operation.
    pub fn during(mut self, name: &'static str) -> Self {
        each_variant!(&mut self, operation => *operation = name, InvalidConfig => ());
        self
    }

    /// The same error with every occurrence of each of `secrets` (values of at least four
    /// characters) replaced by `[REDACTED]` in the texts it carries (messages, details, the
    /// vendor's words). Providers pass their configured secrets, so that a vendor or proxy answer
    /// that echoes a password never reaches a host's logs through an error.
    pub fn redact(mut self, secrets: &[&str]) -> Self {
        let secrets: Vec<&str> = secrets
            .iter()
            .copied()
            .filter(|s| s.chars().count() >= 4)
            .collect();
        if secrets.is_empty() {
            return self;
        }
        let scrub = |text: &mut String| {
            for secret in &secrets {
                if text.contains(secret) {
                    *text = text.replace(secret, "[REDACTED]");
                }
            }
        };
        match &mut self {
            Error::InvalidConfig { .. } | Error::Unsupported { .. } | Error::RateLimited { .. } => {
            }
            Error::InvalidRequest { detail, .. }
            | Error::Unavailable { detail, .. }
            | Error::InvalidResponse { detail, .. }
            | Error::OutcomeUnknown { detail, .. } => scrub(detail),
            Error::Unauthenticated { message, .. }
            | Error::Conflict { message, .. }
            | Error::Rejected { message, .. }
            | Error::Vendor { message, .. } => scrub(message),
            Error::PermissionDenied {
                permission,
                guidance,
                ..
            } => {
                scrub(permission);
                scrub(guidance);
            }
            Error::NotFound { what, .. } => scrub(what),
            Error::Inactive { config, .. } => scrub(config),
            Error::Transport { .. } | Error::Timeout { .. } => {}
        }
        if let Error::Rejected { code, .. } | Error::Vendor { code, .. } = &mut self {
            if let Some(c) = code {
                scrub(c);
            }
        }
        self
    }

    /// The same error with the vendor's operation that was under way.
    pub fn in_vendor_call(mut self, vendor_op: &'static str) -> Self {
        with_vendor_operation!(&mut self, v => *v = Some(vendor_op), otherwise => ());
        self
    }
}

/// Constructors, so that a failure site is one line. Each sets `vendor_operation` to `None`;
/// [`Error::in_vendor_call`] adds it.
impl Error {
    /// [`Error::InvalidConfig`] with one problem.
    pub fn invalid_config(
        provider: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut problems = ValidationErrors::new();
        problems.push(field, message);
        Error::InvalidConfig {
            provider: provider.into(),
            problems,
        }
    }

    /// [`Error::InvalidRequest`].
    pub fn invalid_request(
        provider: impl Into<String>,
        operation: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Error::InvalidRequest {
            provider: provider.into(),
            operation,
            detail: capped(detail.into()),
        }
    }

    /// [`Error::Unauthenticated`].
    pub fn unauthenticated(
        provider: impl Into<String>,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Error::Unauthenticated {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            message: capped(message.into()),
        }
    }

    /// [`Error::PermissionDenied`].
    pub fn permission_denied(
        provider: impl Into<String>,
        operation: &'static str,
        permission: impl Into<String>,
        guidance: impl Into<String>,
    ) -> Self {
        Error::PermissionDenied {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            permission: permission.into(),
            guidance: guidance.into(),
        }
    }

    /// [`Error::NotFound`].
    pub fn not_found(
        provider: impl Into<String>,
        operation: &'static str,
        what: impl Into<String>,
    ) -> Self {
        Error::NotFound {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            what: capped(what.into()),
        }
    }

    /// [`Error::Conflict`] with no existing account named.
    pub fn conflict(
        provider: impl Into<String>,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Error::Conflict {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            message: capped(message.into()),
            existing: None,
        }
    }

    /// [`Error::Conflict`] for a dealer customer who already has `existing` at the vendor.
    pub fn duplicate_customer(
        provider: impl Into<String>,
        operation: &'static str,
        dealer_customer_id: &str,
        existing: AccountId,
    ) -> Self {
        Error::Conflict {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            message: format!("dealer customer {dealer_customer_id} already has account {existing}"),
            existing: Some(existing),
        }
    }

    /// [`Error::RateLimited`].
    pub fn rate_limited(
        provider: impl Into<String>,
        operation: &'static str,
        retry_after: Option<Duration>,
    ) -> Self {
        Error::RateLimited {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            retry_after,
        }
    }

    /// [`Error::Unsupported`].
    pub fn unsupported(provider: impl Into<String>, operation: &'static str) -> Self {
        Error::Unsupported {
            provider: provider.into(),
            operation,
            reason: None,
        }
    }

    /// [`Error::Unsupported`] with the reason.
    pub fn unsupported_because(
        provider: impl Into<String>,
        operation: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::Unsupported {
            provider: provider.into(),
            operation,
            reason: Some(capped(reason.into())),
        }
    }

    /// [`Error::Rejected`].
    pub fn rejected(
        provider: impl Into<String>,
        operation: &'static str,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Rejected {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            code,
            message: capped(message.into()),
        }
    }

    /// [`Error::Vendor`].
    pub fn vendor(
        provider: impl Into<String>,
        operation: &'static str,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Vendor {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            code,
            message: capped(message.into()),
        }
    }

    /// [`Error::Unavailable`].
    pub fn unavailable(
        provider: impl Into<String>,
        operation: &'static str,
        attempts: u32,
        detail: impl Into<String>,
    ) -> Self {
        Error::Unavailable {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            attempts,
            detail: capped(detail.into()),
        }
    }

    /// [`Error::Transport`].
    pub fn transport(
        provider: impl Into<String>,
        operation: &'static str,
        attempts: u32,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Transport {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            attempts,
            source: source.into(),
        }
    }

    /// [`Error::Timeout`].
    pub fn timeout(
        provider: impl Into<String>,
        operation: &'static str,
        attempts: u32,
        elapsed: Duration,
    ) -> Self {
        Error::Timeout {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            attempts,
            elapsed,
        }
    }

    /// [`Error::InvalidResponse`].
    pub fn invalid_response(
        provider: impl Into<String>,
        operation: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Error::InvalidResponse {
            provider: provider.into(),
            operation,
            vendor_operation: None,
            detail: capped(detail.into()),
        }
    }
}

/// One problem found by validation: where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The field path, e.g. `name`, `credentials.password`, `endpoint`.
    pub field: String,
    /// A sentence a dealer can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem validation found, in the order the fields were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<Problem>);

impl ValidationErrors {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: capped(message.into()),
        });
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems.
    pub fn problems(&self) -> &[Problem] {
        &self.0
    }

    /// The problems about one field path.
    pub fn for_field<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.0.iter().filter(move |p| p.field == field)
    }

    /// `Ok(())` when empty, else the problems.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoIterator for ValidationErrors {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
