//! # Honeywell / Resideo Total Connect (AlarmNet)
//!
//! The provider for Total Connect 2.0 and the AlarmNet 360 dealer side. Sessions come from the
//! TC2 SOAP service (seen); the dealer operations use a modelled JSON API with bearer tokens,
//! since AlarmNet 360 has no public API.
//!
//! ## Configuration
//!
//! | credential key | required | secret | meaning |
//! |---|---|---|---|
//! | `user_name` | yes | no | the AlarmNet 360 / Total Connect dealer user |
//! | `password` | yes | yes | its password |
//! | `application_id` | yes | no | the `ApplicationID` Resideo issued for the integration |
//! | `application_version` | yes | no | the `ApplicationVersion` registered with it |
//! | `company_id` | yes | no | the dealer (company) id |
//!
//! The endpoint defaults to [`PRODUCTION_ENDPOINT`] (the host root); set the configuration's
//! `endpoint` to a simulator's root to test.
//!
//! ## Provisioning fields
//!
//! AlarmNet accounts are keyed by City, CS and Subscriber numbers plus the communicator's MAC
//! and CRC, which the vendor-neutral [`ProvisionRequest`] carries in
//! [`vendor_fields`](ProvisionRequest::vendor_fields):
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `city_number` | yes | the City number |
//! | `cs_number` | yes | the central station number |
//! | `subscriber_number` | yes | the subscriber number |
//! | `mac` | yes, unless the request has a modem serial | the communicator's MAC |
//! | `crc` | yes | the communicator's CRC |
//! | `account_type` | no | `residential` (default) or `commercial` |
//! | `location_name` | no | the location's name (default `Home`) |
//! | `phone2`, `phone3` | no | more phones (the contact's phone is the first; three at most) |
//!
//! The e-mail (which triggers the Total Connect welcome e-mail) may have at most 50 characters.
//! Missing fields and a long e-mail are reported together as
//! [`Error::InvalidRequest`], before any request.
//!
//! ## Sessions, done the way integrators learned to
//!
//! - One session token is cached and shared: when many calls start together, one logs in and
//!   the others wait for its token.
//! - An invalid-session answer (-102, -30002) makes the provider log in once more and repeat the
//!   call once; a second such answer fails the call. There is no login loop.
//! - A rejected login (-100 authentication failed, -123 account locked, -50004 bad user name or
//!   password, -7625 bad e-mail or password) stops this provider instance from ever logging in
//!   again: that call and every later one fail at once with
//!   [`Error::Unauthenticated`], sending nothing, because repeated
//!   logins lock the dealer's account (and have had access revoked). Build a new provider after
//!   fixing the credentials.
//! - An empty answer is [`Error::Unavailable`], never "bad password".
//! - When logins keep failing for another reason (an outage, a fault), later calls do not each
//!   log in again: one failure may be a blip and the next call logs in at once, but after the
//!   n-th failure in a row (n ≥ 2) no login is tried for 2^(n-2) seconds (at most 5 minutes),
//!   and calls in that time fail at once with [`Error::Unavailable`], sending nothing. A
//!   successful login resets the pause.
//! - Codes 4101, -4104 and -4108 are `Unavailable` and retryable; an unknown code fails closed
//!   as [`Error::Vendor`] carrying the code.
//!
//! ## Result codes
//!
//! | code | meaning | error |
//! |---|---|---|
//! | 0, 4500 | success, command accepted | — |
//! | 4101, -4104, -4108 | panel or system unreachable | `Unavailable` (retryable) |
//! | -100, -123, -50004, -7625 | credentials rejected or account locked | `Unauthenticated`, no further login |
//! | -102, -30002 | invalid session | one re-login and retry, then `Unauthenticated` |
//! | -120 | feature not supported | `Unsupported` |
//! | -501 | invalid parameter | `Vendor` (code `-501`) |
//! | -999 | unknown error | `Vendor` (code `-999`) |
//! | -4002 | invalid location | `NotFound` |
//! | -9001 | authorization failed | `PermissionDenied` |
//! | any other | — | `Vendor` with the code (fails closed) |
//!
//! ## Capabilities
//!
//! Credential check, service plans, provisioning (never a duplicate: lookup by dealer customer
//! id before creating and after a lost answer), account read, plan and feature changes (the
//! full feature set is sent), terminate (idempotent), listing, and Alarm.net callbacks: reading
//! a pushed body ([`callback`]), registering the callback URL and reading the vendor's view of
//! it. Validation-only changes, quantities, events and Builder Program answer `Unsupported`.
//!
//! ## Seen and modelled
//!
//! Seen: the TC2 SOAP host, path, namespace and `SOAPAction` convention,
//! `AuthenticateUserLogin(userName, password, ApplicationID, ApplicationVersion)` returning a
//! `SessionID`, `ResultCode`/`ResultData` on every result, the result-code table and the client
//! rules above; the AlarmNet 360 account fields.
//!
//! Modelled (no public source; the simulator speaks the same model): the dealer API under
//! `AlarmNet360/api/v1/companies/{company_id}/` — `GET plans`, `GET accounts?dealerCustomerId=`,
//! `GET accounts?includeTerminated=`, `POST accounts`, `GET accounts/{id}`,
//! `PUT accounts/{id}/services` (full set), `POST accounts/{id}/terminate` — as JSON with
//! PascalCase fields, `ResultCode`/`ResultData` in every answer, the SOAP `SessionID` as bearer
//! token, -102 for an expired token, -4002 for an unknown account, -501 for refused input; the
//! plan codes and feature names. The callback registration, `PUT callback` (`Url`, `Enabled`)
//! and `GET callback` (`Url`, `Enabled`, `RegisteredAt`, `LastAttemptAt`, `LastAttemptStatus`,
//! `FailedAttempts`), and the Alarm.net callback body ([`callback`]) and its signature (the
//! [`callbacks`](crate::callbacks) scheme) are modelled too: no public source shows them.

pub mod callback;
#[cfg(feature = "testkit")]
pub mod simulator;
mod spec;
pub(crate) mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::IspConfig;
use crate::error::{Error, Result, ValidationErrors};
use crate::http::soap::{Node, SoapCall, SoapClient, SoapVersion};
use crate::http::{Request, Transport, TransportOptions, header_value};
use crate::model::{
    AccountId, AccountStatus, AddOn, CallbackRegistration, Contact, CredentialCheck,
    DealerCustomerId, DeliveryAttempt, FeatureId, IspAccount, PlanChange, PlanId, ProvisionRequest,
    ServicePlan,
};
use crate::provider::{
    Capabilities, InteractiveServicesProvider, ProviderOptions, ProviderRegistry,
};
use crate::providers::common::CreateOnce;

pub use spec::{KIND, NAME, SPEC};
use wire::ResultStatus;
pub use wire::{CodeClass, RESULT_CODES};

/// The Total Connect host root.
pub const PRODUCTION_ENDPOINT: &str = "https://rs.alarmnet.com/";

const PROVIDER: &str = NAME;

/// Registers Total Connect in `registry`.
pub(crate) fn register(registry: &mut ProviderRegistry) {
    registry.register_spec(SPEC, |config: &IspConfig, options: &ProviderOptions| {
        let provider = TotalConnect::builder(config).options(options).build()?;
        Ok(Arc::new(provider) as Arc<dyn InteractiveServicesProvider>)
    });
}

#[derive(Debug, Default)]
struct SessionSlot {
    token: Option<SecretString>,
    generation: u64,
    /// Logins that failed in a row (not a rejection of the credentials: an outage, a fault).
    failed_logins: u32,
    /// No login is tried before this instant.
    next_login: Option<std::time::Instant>,
}

/// The first pause after a failed login; each further failure doubles it.
const LOGIN_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest pause between two logins.
const MAX_LOGIN_BACKOFF: std::time::Duration = std::time::Duration::from_secs(300);

/// The Total Connect provider. Build it with [`TotalConnect::from_config`] or
/// [`TotalConnect::builder`].
#[derive(Debug)]
pub struct TotalConnect {
    transport: Transport,
    soap: SoapClient,
    base: Url,
    login: spec::Login,
    session: tokio::sync::Mutex<SessionSlot>,
    /// Why the vendor rejected the credentials; once set, nothing is sent again.
    rejected: std::sync::Mutex<Option<String>>,
    creates: CreateOnce,
}

/// Builds a [`TotalConnect`] provider with non-default settings.
#[derive(Debug, Clone)]
pub struct TotalConnectBuilder {
    config: IspConfig,
    options: TransportOptions,
    client: Option<reqwest::Client>,
    creates: CreateOnce,
}

impl TotalConnectBuilder {
    /// Transport settings (timeouts, retries, body cap).
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// How creates are kept to one per dealer customer id (the coordinator that serializes them,
    /// in-process by default, and the commit horizon).
    pub fn create_once(mut self, settings: CreateOnce) -> Self {
        self.creates = settings;
        self
    }

    /// Everything the host set in `options` that applies (Total Connect's login service is SOAP
    /// 1.1 only: a SOAP version is ignored).
    pub fn options(mut self, options: &ProviderOptions) -> Self {
        if let Some(t) = &options.transport {
            self.options = t.clone();
        }
        if let Some(c) = &options.http_client {
            self.client = Some(c.clone());
        }
        if let Some(c) = &options.create_once {
            self.creates = c.clone();
        }
        self
    }

    /// Builds the provider.
    pub fn build(self) -> Result<TotalConnect> {
        let config = &self.config;
        let login = spec::Login::from_config(config)?;
        let base = match config.endpoint() {
            Some(u) => u.clone(),
            None => Url::parse(PRODUCTION_ENDPOINT).map_err(|e| Error::InvalidConfig {
                provider: PROVIDER.into(),
                problems: {
                    let mut p = ValidationErrors::new();
                    p.push("endpoint", e.to_string());
                    p
                },
            })?,
        };
        let transport = match self.client {
            Some(client) => Transport::with_client(PROVIDER, self.options, client),
            None => Transport::new(PROVIDER, self.options)?,
        }
        .with_secrets([login.password.clone()]);
        Ok(TotalConnect {
            soap: SoapClient::new(
                transport.clone(),
                SoapVersion::V11,
                wire::NAMESPACE,
                wire::NAMESPACE,
            )
            .empty_is_unavailable(),
            transport,
            base: super::common::as_folder(base),
            login,
            session: tokio::sync::Mutex::new(SessionSlot::default()),
            rejected: std::sync::Mutex::new(None),
            creates: self.creates,
        })
    }
}

/// The crate error for a result code, or `None` for success (0, 4500).
///
/// Invalid-session codes map to [`Error::Unauthenticated`] here; the provider itself answers
/// them first by logging in once more.
pub(crate) fn result_error(operation: &'static str, status: &ResultStatus) -> Option<Error> {
    let code = status.code;
    let text = if status.data.trim().is_empty() {
        wire::meaning(code).to_owned()
    } else {
        format!("{} ({})", status.data.trim(), wire::meaning(code))
    };
    let provider = PROVIDER.to_owned();
    Some(match wire::classify(code) {
        CodeClass::Success => return None,
        CodeClass::InvalidSession => Error::unauthenticated(
            provider,
            operation,
            format!("the session was refused (code {code}): {text}"),
        ),
        CodeClass::BadCredentials => {
            Error::unauthenticated(provider, operation, format!("code {code}: {text}"))
        }
        CodeClass::Retryable => {
            Error::unavailable(provider, operation, 1, format!("code {code}: {text}"))
        }
        CodeClass::NotAuthorized => Error::permission_denied(
            provider,
            operation,
            "AlarmNet dealer API access",
            format!(
                "AlarmNet refused the call (code {code}: {text}). Check the company id, and ask Resideo to enable dealer API access for the integration user in that company."
            ),
        ),
        CodeClass::Unsupported => Error::unsupported(provider, operation),
        CodeClass::NotFound => {
            Error::not_found(provider, operation, format!("code {code}: {text}"))
        }
        // -501: the vendor refused the input; not retryable.
        CodeClass::InvalidParameter => {
            Error::rejected(provider, operation, Some(code.to_string()), text)
        }
        CodeClass::VendorError => Error::vendor(provider, operation, Some(code.to_string()), text),
        CodeClass::Unknown => Error::vendor(
            provider,
            operation,
            Some(code.to_string()),
            format!(
                "unknown result code {code}, treated as a failure: {}",
                status.data.trim()
            ),
        ),
    }
    .in_vendor_call(operation))
}

trait HasStatus {
    fn status(&self) -> &ResultStatus;
}

macro_rules! has_status {
    ($($t:ty),*) => {$(
        impl HasStatus for $t {
            fn status(&self) -> &ResultStatus {
                &self.status
            }
        }
    )*};
}

has_status!(
    wire::PlansReply,
    wire::CreateReply,
    wire::AccountReply,
    wire::AccountListReply,
    wire::StatusReply,
    wire::CallbackReply
);

/// One dealer API call: where, how, and whether repeating it is harmless.
struct ApiCall<'a> {
    operation: &'static str,
    method: Method,
    path: &'a [&'a str],
    query: &'a [(&'a str, &'a str)],
    body: Option<Vec<u8>>,
    idempotent: bool,
}

impl TotalConnect {
    /// A builder from a validated configuration.
    pub fn builder(config: &IspConfig) -> TotalConnectBuilder {
        TotalConnectBuilder {
            config: config.clone(),
            options: TransportOptions::default(),
            client: None,
            creates: CreateOnce::default(),
        }
    }

    /// The provider for `config` with default settings.
    pub fn from_config(config: &IspConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// An error as the outcome of the crate's `operation`, with the configured secrets (and the
    /// session token) scrubbed from whatever the vendor said.
    fn finish(&self, error: Error, operation: &'static str) -> Error {
        let error = self.transport.redact(error.during(operation));
        match self.session.try_lock() {
            Ok(slot) => match &slot.token {
                Some(token) => error.redact(&[token.expose_secret()]),
                None => error,
            },
            Err(_) => error,
        }
    }

    fn invalid_response(operation: &'static str, detail: impl Into<String>) -> Error {
        Error::invalid_response(PROVIDER, operation, detail).in_vendor_call(operation)
    }

    fn unavailable_empty(operation: &'static str) -> Error {
        Error::unavailable(
            PROVIDER,
            operation,
            1,
            "the service answered with an empty body (service unavailable)",
        )
        .in_vendor_call(operation)
    }

    fn check_rejected(&self, operation: &'static str) -> Result<()> {
        let rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        match rejected.as_ref() {
            None => Ok(()),
            Some(why) => Err(Error::unauthenticated(
                PROVIDER,
                operation,
                format!(
                    "the credentials were rejected earlier ({why}); this provider does not log in again, so that the account is not locked. Fix the credentials and build a new provider"
                ),
            )),
        }
    }

    /// The current session token and its generation, logging in when there is none. The lock
    /// is held across the login, so concurrent callers share one login.
    async fn session(&self, operation: &'static str) -> Result<(SecretString, u64)> {
        self.check_rejected(operation)?;
        let mut slot = self.session.lock().await;
        // Another caller may have been rejected while this one waited.
        self.check_rejected(operation)?;
        if let Some(token) = &slot.token {
            return Ok((token.clone(), slot.generation));
        }
        let now = std::time::Instant::now();
        if let Some(next) = slot.next_login.filter(|next| *next > now) {
            return Err(Error::unavailable(
                PROVIDER,
                operation,
                0,
                format!(
                    "the last {} login(s) failed; the next login is tried in {}s, so that a refusing service is not asked once per call",
                    slot.failed_logins,
                    next.saturating_duration_since(now).as_secs().max(1)
                ),
            ));
        }
        match self.login().await {
            Ok(token) => {
                slot.generation += 1;
                slot.token = Some(token.clone());
                slot.failed_logins = 0;
                slot.next_login = None;
                Ok((token, slot.generation))
            }
            Err(e) => {
                slot.failed_logins = slot.failed_logins.saturating_add(1);
                // One failed login may be a blip: the next call tries again at once. From the
                // second failure in a row on, logins pause 1 s, 2 s, 4 s, ... (at most 5 min).
                if slot.failed_logins >= 2 {
                    let pause = LOGIN_BACKOFF
                        .saturating_mul(2u32.saturating_pow((slot.failed_logins - 2).min(16)))
                        .min(MAX_LOGIN_BACKOFF);
                    slot.next_login = now.checked_add(pause);
                }
                Err(e)
            }
        }
    }

    async fn invalidate(&self, generation: u64) {
        let mut slot = self.session.lock().await;
        if slot.generation == generation {
            slot.token = None;
        }
    }

    async fn login(&self) -> Result<SecretString> {
        const OP: &str = "AuthenticateUserLogin";
        let body = Node::new(OP)
            .xmlns(wire::NAMESPACE)
            .field("userName", self.login.user_name.as_str())
            .field("password", self.login.password.expose_secret())
            .field("ApplicationID", self.login.application_id.as_str())
            .field(
                "ApplicationVersion",
                self.login.application_version.as_str(),
            );
        let url = self
            .base
            .join(wire::SOAP_PATH)
            .map_err(|e| Error::invalid_request(PROVIDER, OP, e.to_string()))?;
        let fields = self
            .soap
            .call_with(
                SoapCall {
                    url,
                    operation: OP,
                    header: None,
                    body: &body,
                    // A login that fails in transit did not reject the credentials: repeating it
                    // is safe.
                    idempotent: true,
                },
                wire::decode_login,
            )
            .await
            .map_err(|f| {
                f.into_error(|fault| {
                    crate::http::soap::SoapError::Fault(fault).into_error(PROVIDER, OP)
                })
            })?;
        let (code, data, session) =
            fields.ok_or_else(|| Self::invalid_response(OP, "no AuthenticateUserLoginResult"))?;
        let code = code.ok_or_else(|| Self::invalid_response(OP, "no ResultCode"))?;
        let code = code.parse::<i64>().map_err(|_| {
            Self::invalid_response(OP, format!("ResultCode `{code}` is not a number"))
        })?;
        let status = ResultStatus {
            code,
            data: data.unwrap_or_default(),
        };
        match wire::classify(code) {
            CodeClass::Success => {
                let token = session
                    .filter(|s| !s.expose_secret().is_empty())
                    .ok_or_else(|| {
                        Self::invalid_response(OP, "no SessionID in a successful login")
                    })?;
                tracing::info!(provider = PROVIDER, operation = OP, "logged in");
                Ok(token)
            }
            class => {
                let error = result_error(OP, &status)
                    .unwrap_or_else(|| Self::invalid_response(OP, "unexpected success"));
                if class == CodeClass::BadCredentials {
                    let why = format!("code {code}: {}", wire::meaning(code));
                    tracing::warn!(
                        provider = PROVIDER,
                        operation = OP,
                        code,
                        "login rejected; no further login will be attempted by this provider"
                    );
                    *self.rejected.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                }
                Err(error)
            }
        }
    }

    fn api_url(&self, call: &ApiCall<'_>) -> Result<Url> {
        let mut url = self
            .base
            .join(wire::DEALER_API_PATH)
            .map_err(|e| Error::invalid_request(PROVIDER, call.operation, e.to_string()))?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["companies", self.login.company_id.as_str()])
                .extend(call.path.iter().copied());
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().copied());
        }
        Ok(url)
    }

    async fn api_once<T: DeserializeOwned>(
        &self,
        call: &ApiCall<'_>,
        token: &SecretString,
    ) -> Result<T> {
        let op = call.operation;
        let mut headers = HeaderMap::new();
        let mut bearer = header_value(PROVIDER, op, &format!("Bearer {}", token.expose_secret()))?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut request = Request::new(op, call.method.clone(), self.api_url(call)?);
        if let Some(body) = &call.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            request.body = body.clone();
        }
        request.headers = headers;
        request.idempotent = call.idempotent;
        let response = self.transport.send(request).await?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Self::unavailable_empty(op));
        }
        if crate::http::looks_like_html(&response.body) {
            return Err(Self::invalid_response(
                op,
                crate::http::describe_body(response.status, &response.body),
            ));
        }
        serde_json::from_slice::<T>(&response.body).map_err(|e| {
            Self::invalid_response(op, format!("the JSON answer could not be read: {e}"))
        })
    }

    /// Calls the dealer API with the shared session; an invalid-session answer gets one
    /// re-login and one repeat.
    async fn api<T: DeserializeOwned + HasStatus>(&self, call: ApiCall<'_>) -> Result<T> {
        let mut relogged = false;
        loop {
            let (token, generation) = self.session(call.operation).await?;
            let reply: T = self.api_once(&call, &token).await?;
            let status = reply.status();
            match wire::classify(status.code) {
                CodeClass::Success => return Ok(reply),
                CodeClass::InvalidSession if !relogged => {
                    tracing::info!(
                        provider = PROVIDER,
                        operation = call.operation,
                        code = status.code,
                        "session refused; logging in once more"
                    );
                    self.invalidate(generation).await;
                    relogged = true;
                }
                _ => {
                    return Err(result_error(call.operation, status).unwrap_or_else(|| {
                        Self::invalid_response(call.operation, "unexpected code")
                    }));
                }
            }
        }
    }

    async fn lookup(&self, dealer_customer_id: &str) -> Result<Option<AccountId>> {
        let reply: wire::AccountListReply = self
            .api(ApiCall {
                operation: "FindAccounts",
                method: Method::GET,
                path: &["accounts"],
                query: &[("dealerCustomerId", dealer_customer_id)],
                body: None,
                idempotent: true,
            })
            .await?;
        let mut found = None;
        for a in reply.accounts {
            if a.dealer_customer_id
                .as_deref()
                .is_some_and(|d| d != dealer_customer_id)
            {
                return Err(Self::invalid_response(
                    "FindAccounts",
                    "the lookup answered an account of another dealer customer id",
                ));
            }
            let id = Self::answered_id("FindAccounts", a.account_id)?;
            if found.replace(id).is_some() {
                return Err(Self::invalid_response(
                    "FindAccounts",
                    "the lookup answered more than one account for one dealer customer id",
                ));
            }
        }
        Ok(found)
    }

    /// An account id in an answer, held to the same rule as ids the crate sends.
    fn answered_id(operation: &'static str, id: String) -> Result<AccountId> {
        let id = AccountId::new(id);
        super::common::numeric_id(PROVIDER, operation, &id).map_err(|_| {
            Self::invalid_response(operation, "an account id in the answer is not an id")
        })?;
        Ok(id)
    }

    async fn create(
        &self,
        record: &wire::AccountRecord,
        request: &ProvisionRequest,
    ) -> Result<IspAccount> {
        const OP: &str = "CreateAccount";
        let body = serde_json::to_vec(record).map_err(|e| {
            Self::invalid_response(OP, format!("the request could not be written: {e}"))
        })?;
        let reply: wire::CreateReply = self
            .api(ApiCall {
                operation: OP,
                method: Method::POST,
                path: &["accounts"],
                query: &[],
                body: Some(body),
                idempotent: false,
            })
            .await?;
        let id = reply
            .account_id
            .filter(|i| !i.trim().is_empty())
            .ok_or_else(|| Self::invalid_response(OP, "no AccountId in a successful create"))?;
        Ok(IspAccount {
            id: Self::answered_id(OP, id)?,
            dealer_customer_id: Some(request.dealer_customer_id.clone()),
            contact: request.contact.clone(),
            login_name: None,
            initial_password: None,
            plan: Some(PlanId::new(record.plan_code.clone())),
            add_ons: record
                .features
                .iter()
                .map(|f| AddOn {
                    feature: FeatureId::new(f.clone()),
                    quantity: None,
                })
                .collect(),
            status: AccountStatus::Active,
            // AlarmNet's creation time comes with a read; the create answer does not carry it.
            created_at: None,
        })
    }
}

/// The AlarmNet account for a request, or every problem with it.
fn account_record(
    request: &ProvisionRequest,
    plan: &PlanId,
) -> std::result::Result<wire::AccountRecord, ValidationErrors> {
    let mut problems = ValidationErrors::new();
    let fields = &request.vendor_fields;
    // Presence of the required fields and unknown keys: the published schema.
    SPEC.validate_provision_fields(fields, &mut problems);
    let required = |key: &str| -> String {
        fields
            .get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let city_number = required("city_number");
    let cs_number = required("cs_number");
    let subscriber_number = required("subscriber_number");
    let crc = required("crc");
    let mac = match fields
        .get("mac")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| {
            request
                .modem_serial
                .clone()
                .filter(|s| !s.trim().is_empty())
        }) {
        Some(m) => m,
        None => {
            problems.push(
                "vendor_fields.mac",
                "Total Connect needs the communicator's MAC (vendor field `mac` or the modem serial)",
            );
            String::new()
        }
    };
    let account_type = match fields
        .get("account_type")
        .map(|t| t.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("residential") => "Residential".to_owned(),
        Some("commercial") => "Commercial".to_owned(),
        Some(_) => {
            problems.push(
                "vendor_fields.account_type",
                "the account type is `residential` or `commercial`",
            );
            String::new()
        }
    };
    if request.contact.first_name.trim().is_empty() {
        problems.push(
            "contact.first_name",
            "Total Connect needs the customer's first name",
        );
    }
    if request.contact.last_name.trim().is_empty() {
        problems.push(
            "contact.last_name",
            "Total Connect needs the customer's last name",
        );
    }
    if let Some(email) = &request.contact.email {
        let n = email.trim().chars().count();
        if n > wire::MAX_EMAIL_CHARS {
            problems.push(
                "contact.email",
                format!(
                    "the e-mail has {n} characters; AlarmNet accepts at most {}",
                    wire::MAX_EMAIL_CHARS
                ),
            );
        }
    }
    let phones: Vec<String> = [
        request.contact.phone.clone(),
        fields.get("phone2").cloned(),
        fields.get("phone3").cloned(),
    ]
    .into_iter()
    .flatten()
    .map(|p| p.trim().to_owned())
    .filter(|p| !p.is_empty())
    .collect();
    let mut features = Vec::new();
    for a in &request.add_ons {
        if a.quantity.is_some() {
            problems.push(
                "add_ons",
                format!(
                    "Total Connect features have no quantities (`{}`)",
                    a.feature
                ),
            );
        } else {
            features.push(a.feature.to_string());
        }
    }
    problems.into_result()?;
    Ok(wire::AccountRecord {
        account_id: String::new(),
        dealer_customer_id: Some(request.dealer_customer_id.to_string()),
        city_number,
        cs_number,
        subscriber_number,
        mac_address: mac,
        crc,
        account_type,
        first_name: request.contact.first_name.trim().to_owned(),
        last_name: request.contact.last_name.trim().to_owned(),
        phones,
        email: request.contact.email.as_ref().map(|e| e.trim().to_owned()),
        location_name: fields
            .get("location_name")
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "Home".to_owned()),
        plan_code: plan.to_string(),
        features,
        status: None,
        created_at: None,
    })
}

/// The vendor's view of a registration; an unreadable URL is an invalid answer, an unreadable
/// time is left out.
fn to_registration(
    operation: &'static str,
    record: wire::CallbackRecord,
) -> Result<CallbackRegistration> {
    let url = Url::parse(record.url.trim()).map_err(|_| {
        TotalConnect::invalid_response(operation, "the registered callback URL is not a URL")
    })?;
    let time = |t: Option<&str>| {
        t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let mut registration = CallbackRegistration::new(url);
    registration.enabled = record.enabled;
    registration.registered_at = time(record.registered_at.as_deref());
    registration.last_attempt = time(record.last_attempt_at.as_deref())
        .map(|at| DeliveryAttempt::new(at, record.last_attempt_status));
    registration.failures = record.failed_attempts;
    Ok(registration)
}

fn to_account(record: wire::AccountRecord) -> IspAccount {
    IspAccount {
        id: AccountId::new(record.account_id),
        dealer_customer_id: record.dealer_customer_id.map(DealerCustomerId::new),
        contact: Contact {
            first_name: record.first_name,
            last_name: record.last_name,
            company: None,
            email: record.email,
            phone: record.phones.into_iter().next(),
        },
        login_name: None,
        initial_password: None,
        plan: Some(PlanId::new(record.plan_code)).filter(|p| !p.as_str().is_empty()),
        add_ons: record
            .features
            .into_iter()
            .map(|f| AddOn {
                feature: FeatureId::new(f),
                quantity: None,
            })
            .collect(),
        status: match record.status.as_deref() {
            None | Some("Active") => AccountStatus::Active,
            Some("Terminated") => AccountStatus::Terminated,
            Some(other) => AccountStatus::Other(other.to_owned()),
        },
        created_at: record
            .created_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    }
}

super::common::vendor_provider!(
    TotalConnect,
    kind: KIND,
    capabilities: |_this| Capabilities {
            account_listing: true,
            callbacks: true,
            ..Capabilities::NONE
        },
    extra: {
        fn callback_events(&self, body: &[u8]) -> crate::Result<Vec<crate::model::IspEvent>> {
            callback::parse(body)
                .map_err(|problem| Error::invalid_request(PROVIDER, "callback_events", problem))
        }

        async fn register_callback(
            &self,
            url: &Url,
        ) -> crate::Result<crate::model::CallbackRegistration> {
            self.register_callback_inner(url)
                .await
                .map_err(|e| self.finish(e, "register_callback"))
        }

        async fn callback_registration(
            &self,
        ) -> crate::Result<Option<crate::model::CallbackRegistration>> {
            self.callback_registration_inner()
                .await
                .map_err(|e| self.finish(e, "callback_registration"))
        }
    }
);

/// The operations' bodies; the trait methods name the crate's operation on their errors.
impl TotalConnect {
    async fn validate_credentials_inner(&self) -> Result<CredentialCheck> {
        // A login, then the cheapest authenticated call, which also checks the company id.
        self.service_plans().await?;
        Ok(CredentialCheck {
            login: self.login.user_name.clone(),
            granted: vec!["provisioning".into()],
            missing: Vec::new(),
            unverified: Vec::new(),
        })
    }

    async fn service_plans_inner(&self) -> Result<Vec<ServicePlan>> {
        let reply: wire::PlansReply = self
            .api(ApiCall {
                operation: "GetPlans",
                method: Method::GET,
                path: &["plans"],
                query: &[],
                body: None,
                idempotent: true,
            })
            .await?;
        Ok(reply
            .plans
            .into_iter()
            .filter(|p| !p.plan_code.trim().is_empty())
            .map(|p| ServicePlan {
                name: if p.name.trim().is_empty() {
                    p.plan_code.clone()
                } else {
                    p.name
                },
                id: PlanId::new(p.plan_code),
                plan_type: p.account_type,
            })
            .collect())
    }

    async fn provision_inner(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        super::common::valid_request(PROVIDER, request)?;
        let invalid = |detail: String| Error::invalid_request(PROVIDER, "provision", detail);
        let plan = request
            .plan
            .clone()
            .ok_or_else(|| invalid("the request names no service plan".into()))?;
        let record = account_record(request, &plan).map_err(|p| invalid(p.to_string()))?;
        let dealer_id = request.dealer_customer_id.as_str();
        let scope = format!("{}|{}", self.base, self.login.company_id);
        super::common::create_once(
            &self.creates,
            PROVIDER,
            &scope,
            dealer_id,
            || self.lookup(dealer_id),
            || self.create(&record, request),
            |found| async move { self.account(&found).await },
        )
        .await
    }

    async fn account_inner(&self, id: &AccountId) -> Result<IspAccount> {
        const OP: &str = "GetAccount";
        super::common::numeric_id(PROVIDER, "account", id)?;
        let reply: wire::AccountReply = self
            .api(ApiCall {
                operation: OP,
                method: Method::GET,
                path: &["accounts", id.as_str()],
                query: &[],
                body: None,
                idempotent: true,
            })
            .await?;
        let record = reply
            .account
            .ok_or_else(|| Self::invalid_response(OP, "no Account in a successful answer"))?;
        let mut account = to_account(record);
        if account.id.as_str().is_empty() {
            account.id = id.clone();
        } else if account.id != *id {
            return Err(Self::invalid_response(
                OP,
                format!("the answer is for account {}, not account {id}", account.id),
            ));
        }
        Ok(account)
    }

    async fn change_plan_inner(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        super::common::numeric_id(PROVIDER, "change_plan", id)?;
        if change.validate_only {
            return Err(self.unsupported("change_plan (validate_only)"));
        }
        if let Some(a) = change.add.iter().find(|a| a.quantity.is_some()) {
            return Err(Error::invalid_request(
                PROVIDER,
                "change_plan",
                format!(
                    "Total Connect features have no quantities (`{}`)",
                    a.feature
                ),
            ));
        }
        let current = self.account(id).await?;
        let plan = super::common::plan_for_change(PROVIDER, id, &current, change)?;
        let features: BTreeSet<String> = change
            .apply_to(&current.add_ons)
            .into_iter()
            .map(|a| a.feature.to_string())
            .collect();
        const OP: &str = "ChangeServices";
        let body = serde_json::to_vec(&wire::ServicesChange {
            plan_code: plan.to_string(),
            features: features.into_iter().collect(),
        })
        .map_err(|e| Self::invalid_response(OP, e.to_string()))?;
        let _: wire::StatusReply = self
            .api(ApiCall {
                operation: OP,
                method: Method::PUT,
                path: &["accounts", id.as_str(), "services"],
                query: &[],
                body: Some(body),
                // The full set is sent: repeating it is harmless.
                idempotent: true,
            })
            .await?;
        self.account(id).await
    }

    async fn terminate_inner(&self, id: &AccountId) -> Result<()> {
        super::common::numeric_id(PROVIDER, "terminate", id)?;
        let _: wire::StatusReply = self
            .api(ApiCall {
                operation: "TerminateAccount",
                method: Method::POST,
                path: &["accounts", id.as_str(), "terminate"],
                query: &[],
                body: None,
                idempotent: true,
            })
            .await?;
        Ok(())
    }

    async fn register_callback_inner(&self, url: &Url) -> Result<CallbackRegistration> {
        const OP: &str = "RegisterCallback";
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(Error::invalid_request(
                PROVIDER,
                "register_callback",
                "the callback URL must be an absolute http(s) URL",
            ));
        }
        let body = serde_json::to_vec(&wire::CallbackRegistrationRequest {
            url: url.to_string(),
            enabled: true,
        })
        .map_err(|e| Self::invalid_response(OP, e.to_string()))?;
        let reply: wire::CallbackReply = self
            .api(ApiCall {
                operation: OP,
                method: Method::PUT,
                path: &["callback"],
                query: &[],
                body: Some(body),
                // The whole registration is sent: repeating it is harmless.
                idempotent: true,
            })
            .await?;
        let record = reply
            .callback
            .ok_or_else(|| Self::invalid_response(OP, "no Callback in a successful answer"))?;
        to_registration(OP, record)
    }

    async fn callback_registration_inner(&self) -> Result<Option<CallbackRegistration>> {
        const OP: &str = "GetCallback";
        let reply: wire::CallbackReply = self
            .api(ApiCall {
                operation: OP,
                method: Method::GET,
                path: &["callback"],
                query: &[],
                body: None,
                idempotent: true,
            })
            .await?;
        reply
            .callback
            .map(|record| to_registration(OP, record))
            .transpose()
    }

    async fn list_accounts_inner(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        let reply: wire::AccountListReply = self
            .api(ApiCall {
                operation: "FindAccounts",
                method: Method::GET,
                path: &["accounts"],
                query: &[(
                    "includeTerminated",
                    if include_terminated { "true" } else { "false" },
                )],
                body: None,
                idempotent: true,
            })
            .await?;
        reply
            .accounts
            .into_iter()
            .map(|a| Self::answered_id("FindAccounts", a.account_id))
            .collect()
    }
}
