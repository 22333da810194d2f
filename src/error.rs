//! The crate's one public error type.
//!
//! Every variant names the provider it came from (`provider`) and, where a call was under way,
//! the operation (`operation`). No variant ever carries a credential: errors are built from
//! vendor answers and the crate's own descriptions, never from a config's secret values.

use std::fmt;
use std::time::Duration;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error source kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in terms a host can act on.
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
    #[error("{provider}: {operation}: the credentials were not accepted: {message}")]
    Unauthenticated {
        /// The provider.
        provider: String,
        /// The operation that was under way.
        operation: &'static str,
        /// The vendor's own words, or the crate's description.
        message: String,
    },

    /// The login works but lacks a role or permission the operation needs.
    #[error("{provider}: {operation}: permission `{permission}` is missing. {guidance}")]
    PermissionDenied {
        /// The provider.
        provider: String,
        /// The operation that was refused.
        operation: &'static str,
        /// The missing role or permission, in the vendor's own naming.
        permission: String,
        /// The steps a dealer takes to grant it.
        guidance: String,
    },

    /// The account, plan or record does not exist at the vendor.
    #[error("{provider}: {operation}: not found: {what}")]
    NotFound {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// What was looked for.
        what: String,
    },

    /// The change conflicts with what already exists (a duplicate name or customer, a terminated
    /// account).
    #[error("{provider}: {operation}: conflict: {message}")]
    Conflict {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// What conflicts.
        message: String,
    },

    /// The vendor asked the crate to slow down for longer than the configured cap.
    #[error("{provider}: {operation}: rate limited{}", fmt_retry_after(*.retry_after))]
    RateLimited {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// How long the vendor asked to wait, when it said.
        retry_after: Option<Duration>,
    },

    /// The provider does not offer this operation (see
    /// [`Capabilities`](crate::Capabilities)).
    #[error("{provider}: {operation} is not supported by this provider")]
    Unsupported {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
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

    /// The vendor answered with an error of its own (a `Success=false`, a SOAP fault, a result
    /// code).
    #[error("{provider}: {operation}: the vendor answered an error{}: {message}", fmt_code(.code))]
    Vendor {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// The vendor's code (fault code, result code, HTTP status), when there is one.
        code: Option<String>,
        /// The vendor's message.
        message: String,
    },

    /// The vendor is temporarily unable to answer (5xx after every attempt, panel unreachable).
    #[error(
        "{provider}: {operation}: the service is unavailable after {attempts} attempt(s): {detail}"
    )]
    Unavailable {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// How many requests were made.
        attempts: u32,
        /// What the last answer was.
        detail: String,
    },

    /// The connection failed (refused, reset, TLS, DNS) on every attempt that was safe to make.
    #[error("{provider}: {operation}: transport error after {attempts} attempt(s)")]
    Transport {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// How many requests were made.
        attempts: u32,
        /// The underlying error (never carries a URL or header values).
        #[source]
        source: BoxError,
    },

    /// No answer came in time.
    #[error("{provider}: {operation}: timed out after {attempts} attempt(s) ({elapsed:?})")]
    Timeout {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// How many requests were made.
        attempts: u32,
        /// Time spent on the operation in all.
        elapsed: Duration,
    },

    /// The vendor's answer could not be understood (HTML instead of SOAP, a truncated or
    /// oversized body, a missing element).
    #[error("{provider}: {operation}: invalid response: {detail}")]
    InvalidResponse {
        /// The provider.
        provider: String,
        /// The operation.
        operation: &'static str,
        /// What was wrong with it.
        detail: String,
    },
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

impl Error {
    /// The provider the error came from.
    pub fn provider(&self) -> &str {
        match self {
            Error::InvalidConfig { provider, .. }
            | Error::InvalidRequest { provider, .. }
            | Error::Unauthenticated { provider, .. }
            | Error::PermissionDenied { provider, .. }
            | Error::NotFound { provider, .. }
            | Error::Conflict { provider, .. }
            | Error::RateLimited { provider, .. }
            | Error::Unsupported { provider, .. }
            | Error::Inactive { provider, .. }
            | Error::Vendor { provider, .. }
            | Error::Unavailable { provider, .. }
            | Error::Transport { provider, .. }
            | Error::Timeout { provider, .. }
            | Error::InvalidResponse { provider, .. } => provider,
        }
    }

    /// The operation that failed, where one was under way.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Error::InvalidConfig { .. } => None,
            Error::InvalidRequest { operation, .. }
            | Error::Unauthenticated { operation, .. }
            | Error::PermissionDenied { operation, .. }
            | Error::NotFound { operation, .. }
            | Error::Conflict { operation, .. }
            | Error::RateLimited { operation, .. }
            | Error::Unsupported { operation, .. }
            | Error::Inactive { operation, .. }
            | Error::Vendor { operation, .. }
            | Error::Unavailable { operation, .. }
            | Error::Transport { operation, .. }
            | Error::Timeout { operation, .. }
            | Error::InvalidResponse { operation, .. } => Some(operation),
        }
    }

    /// Whether trying the same call again later may succeed: rate limits, outages, timeouts and
    /// connection failures. Rejections (credentials, permissions, validation, vendor refusals)
    /// are not retryable.
    ///
    /// Retrying a *mutation* is only safe when it is idempotent or the caller first checks
    /// whether it took effect; [`provision`](crate::InteractiveServicesProvider::provision) does
    /// that check itself.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Unavailable { .. }
                | Error::Transport { .. }
                | Error::Timeout { .. }
        )
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
            message: message.into(),
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
