//! ISP configurations: [`IspConfig`], its builder and validation, the [`IspCatalog`], loading
//! from TOML, JSON and the environment, explicit storage with secrets, and [`verify`].

mod catalog;
mod load;
mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result, ValidationErrors};
use crate::model::{CredentialField, PlanId, ProviderKind};

pub use catalog::IspCatalog;
pub use load::ENV_PREFIX;
pub use verify::{CredentialOutcome, PlanCheck, VerificationReport, verify};

/// Whether a configuration may provision and change accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In use.
    #[default]
    Active,
    /// Kept, but nothing is provisioned or changed through it.
    Inactive,
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Status::Active),
            "inactive" => Ok(Status::Inactive),
            // The value is not quoted back: it may be a secret typed into the wrong field.
            _ => Err("the status must be `active` or `inactive`".to_owned()),
        }
    }
}

/// A provider's credentials: values by field key. Every value is kept as a [`SecretString`];
/// `Debug` shows the keys only.
#[derive(Clone, Default)]
pub struct Credentials {
    values: BTreeMap<String, SecretString>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for key in self.values.keys() {
            m.entry(key, &"[REDACTED]");
        }
        m.finish()
    }
}

impl Credentials {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values
            .insert(key.into(), SecretString::from(value.into()));
    }

    /// A value.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.values.get(key)
    }

    /// A value, exposed, for building requests. Prefer [`get`](Self::get) and keep it secret.
    pub fn expose(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|s| s.expose_secret())
    }

    /// A value that is present and not blank, exposed.
    pub fn non_blank(&self, key: &str) -> Option<&str> {
        self.expose(key).filter(|v| !v.trim().is_empty())
    }

    /// The keys present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Inbound callback settings for providers that push Alarm.net-style real-time updates.
#[derive(Clone)]
pub struct CallbackConfig {
    /// The shared secret the vendor signs callbacks with.
    pub signing_secret: SecretString,
    /// The previous secret, accepted too while a rotation is under way.
    pub previous_secret: Option<SecretString>,
    /// How old a callback's timestamp may be, in seconds (default 300).
    pub tolerance_seconds: u32,
}

impl fmt::Debug for CallbackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackConfig")
            .field("signing_secret", &"[REDACTED]")
            .field(
                "previous_secret",
                &self.previous_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("tolerance_seconds", &self.tolerance_seconds)
            .finish()
    }
}

impl CallbackConfig {
    /// Settings with one signing secret and the default 300 s tolerance.
    pub fn new(signing_secret: impl Into<String>) -> Self {
        Self {
            signing_secret: SecretString::from(signing_secret.into()),
            previous_secret: None,
            tolerance_seconds: DEFAULT_CALLBACK_TOLERANCE,
        }
    }
}

const DEFAULT_CALLBACK_TOLERANCE: u32 = 300;

/// Longest configuration name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// One catalog entry: how to reach one interactive services provider.
///
/// An `IspConfig` is always valid: [`IspConfig::builder`]`.build()` and deserialization both
/// validate, reporting every problem at once. Plain `Serialize`, `Debug` and `Display` never show
/// a secret; [`to_json_with_secrets`](Self::to_json_with_secrets) and
/// [`to_toml_with_secrets`](Self::to_toml_with_secrets) are the explicit way to store one.
#[derive(Clone)]
pub struct IspConfig {
    name: String,
    provider: ProviderKind,
    credentials: Credentials,
    default_plan: Option<PlanId>,
    status: Status,
    builder_program: bool,
    endpoint: Option<Url>,
    callback: Option<CallbackConfig>,
}

impl fmt::Debug for IspConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IspConfig")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("credentials", &self.credentials)
            .field("default_plan", &self.default_plan)
            .field("status", &self.status)
            .field("builder_program", &self.builder_program)
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .field("callback", &self.callback)
            .finish()
    }
}

impl fmt::Display for IspConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.name,
            self.provider.display_name(),
            match self.status {
                Status::Active => "active",
                Status::Inactive => "inactive",
            }
        )
    }
}

impl IspConfig {
    /// Starts a configuration.
    pub fn builder() -> IspConfigBuilder {
        IspConfigBuilder::default()
    }

    /// The name (trimmed).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The provider.
    pub fn provider(&self) -> &ProviderKind {
        &self.provider
    }
    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    /// The default service plan.
    pub fn default_plan(&self) -> Option<&PlanId> {
        self.default_plan.as_ref()
    }
    /// Active or Inactive.
    pub fn status(&self) -> Status {
        self.status
    }
    /// Whether the dealer opted into the provider's Builder Program.
    pub fn builder_program(&self) -> bool {
        self.builder_program
    }
    /// The endpoint override, if any.
    pub fn endpoint(&self) -> Option<&Url> {
        self.endpoint.as_ref()
    }
    /// The callback settings, if any.
    pub fn callback(&self) -> Option<&CallbackConfig> {
        self.callback.as_ref()
    }

    /// A builder holding this configuration, to change it (then `build()` validates again).
    pub fn to_builder(&self) -> IspConfigBuilder {
        IspConfigBuilder {
            name: Some(self.name.clone()),
            provider: Some(self.provider.to_string()),
            credentials: self.credentials.clone(),
            default_plan: self.default_plan.as_ref().map(|p| p.to_string()),
            status: Some(self.status),
            builder_program: self.builder_program,
            endpoint: self.endpoint.as_ref().map(|u| u.to_string()),
            callback: self.callback.clone(),
        }
    }

    /// The same configuration with another status.
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// Serializes the configuration *with its secrets* as JSON, for a host's own encrypted
    /// store. The result is wrapped in a [`SecretString`] so that it is not logged by accident.
    /// [`IspConfig::from_json`] reads it back exactly.
    pub fn to_json_with_secrets(&self) -> SecretString {
        let repr = self.repr(true);
        // Serializing a struct of strings, bools and maps to JSON cannot fail.
        SecretString::from(serde_json::to_string_pretty(&repr).unwrap_or_default())
    }

    /// Serializes the configuration *with its secrets* as TOML. See
    /// [`to_json_with_secrets`](Self::to_json_with_secrets).
    pub fn to_toml_with_secrets(&self) -> SecretString {
        let repr = self.repr(true);
        SecretString::from(toml::to_string(&repr).unwrap_or_default())
    }

    fn repr(&self, with_secrets: bool) -> ConfigRepr {
        let secret_keys: Vec<&str> = self
            .provider
            .credential_fields()
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.key)
            .collect();
        let known = !self.provider.credential_fields().is_empty();
        let credentials = self
            .credentials
            .values
            .iter()
            // Without the schema (contributed providers) every value is treated as secret.
            .filter(|(k, _)| with_secrets || (known && !secret_keys.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect();
        ConfigRepr {
            name: Some(self.name.clone()),
            provider: Some(self.provider.to_string()),
            credentials,
            default_plan: self.default_plan.as_ref().map(|p| p.to_string()),
            status: Some(self.status),
            builder_program: self.builder_program,
            endpoint: self.endpoint.as_ref().map(|u| u.to_string()),
            callback: self
                .callback
                .as_ref()
                .filter(|_| with_secrets)
                .map(|c| CallbackRepr {
                    signing_secret: c.signing_secret.expose_secret().to_owned(),
                    previous_secret: c
                        .previous_secret
                        .as_ref()
                        .map(|s| s.expose_secret().to_owned()),
                    tolerance_seconds: Some(c.tolerance_seconds),
                }),
        }
    }

    /// Validates again; useful after deserializing a form. [`IspConfigBuilder::build`] already
    /// does this.
    pub fn validate(&self) -> std::result::Result<(), ValidationErrors> {
        self.to_builder().problems().into_result()
    }
}

impl Serialize for IspConfig {
    /// Writes the configuration without any secret value: secret credential fields and the
    /// callback secrets are left out.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.repr(false).serialize(s)
    }
}

impl<'de> Deserialize<'de> for IspConfig {
    /// Reads and validates a configuration; every problem is in the error message.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // serde's own messages quote the offending value, which may be a secret typed into the
        // wrong field: they are passed on with quoted values cut out.
        let repr = ConfigRepr::deserialize(d)
            .map_err(|e| serde::de::Error::custom(load::redact_values(&e.to_string())))?;
        IspConfigBuilder::from(repr)
            .build()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigRepr {
    name: Option<String>,
    provider: Option<String>,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_plan: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    builder_program: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<CallbackRepr>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackRepr {
    signing_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tolerance_seconds: Option<u32>,
}

impl From<ConfigRepr> for IspConfigBuilder {
    fn from(r: ConfigRepr) -> Self {
        let mut credentials = Credentials::new();
        for (k, v) in r.credentials {
            credentials.insert(k, v);
        }
        IspConfigBuilder {
            name: r.name,
            provider: r.provider,
            credentials,
            default_plan: r.default_plan,
            status: r.status,
            builder_program: r.builder_program,
            endpoint: r.endpoint,
            callback: r.callback.map(|c| CallbackConfig {
                signing_secret: SecretString::from(c.signing_secret),
                previous_secret: c.previous_secret.map(SecretString::from),
                tolerance_seconds: c.tolerance_seconds.unwrap_or(DEFAULT_CALLBACK_TOLERANCE),
            }),
        }
    }
}

/// Builds an [`IspConfig`]. Setters take anything and never fail; [`build`](Self::build)
/// reports every problem at once.
#[derive(Clone, Default)]
pub struct IspConfigBuilder {
    name: Option<String>,
    provider: Option<String>,
    credentials: Credentials,
    default_plan: Option<String>,
    status: Option<Status>,
    builder_program: bool,
    endpoint: Option<String>,
    callback: Option<CallbackConfig>,
}

impl fmt::Debug for IspConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IspConfigBuilder")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("credentials", &self.credentials)
            .field("default_plan", &self.default_plan)
            .field("status", &self.status)
            .field("builder_program", &self.builder_program)
            .field("endpoint", &self.endpoint.as_deref().map(without_userinfo))
            .field("callback", &self.callback)
            .finish()
    }
}

impl IspConfigBuilder {
    /// The name shown in the catalog.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// The provider, by name (`alarm_com`, `total_connect`, `brinks_home`, or a registered name).
    pub fn provider(mut self, provider: impl fmt::Display) -> Self {
        self.provider = Some(provider.to_string());
        self
    }
    /// One credential field.
    pub fn credential(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.credentials.insert(key, value);
        self
    }
    /// The default service plan for new customers.
    pub fn default_plan(mut self, plan: impl Into<String>) -> Self {
        self.default_plan = Some(plan.into());
        self
    }
    /// Active or Inactive (default Active).
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }
    /// Opts into the provider's Builder Program.
    pub fn builder_program(mut self, opt_in: bool) -> Self {
        self.builder_program = opt_in;
        self
    }
    /// Overrides the endpoint (vendor test host, simulator).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    /// Callback settings.
    pub fn callback(mut self, callback: CallbackConfig) -> Self {
        self.callback = Some(callback);
        self
    }

    fn problems(&self) -> ValidationErrors {
        self.check().1
    }

    fn check(&self) -> (Option<ProviderKind>, ValidationErrors, Option<Url>) {
        let mut problems = ValidationErrors::new();

        // name
        let name = self.name.as_deref().map(str::trim).unwrap_or("");
        if name.is_empty() {
            problems.push(
                "name",
                "give the configuration a name, e.g. \"Alarm.com (main)\"",
            );
        } else {
            let chars = name.chars().count();
            if chars > MAX_NAME_CHARS {
                problems.push(
                    "name",
                    format!(
                        "the name has {chars} characters; shorten it to {MAX_NAME_CHARS} or fewer"
                    ),
                );
            }
            if name.chars().any(char::is_control) {
                problems.push(
                    "name",
                    "the name contains control characters (tabs, line breaks); remove them",
                );
            }
        }

        // provider
        let provider = match self.provider.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(
                    "provider",
                    format!(
                        "choose a provider: {}",
                        crate::providers::built_in_specs()
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
            Some(p) => p.parse::<ProviderKind>().ok(),
        };

        if let Some(kind) = &provider {
            let spec = kind.built_in();
            // credentials
            match spec {
                Some(spec) => spec.validate_credentials(&self.credentials, &mut problems),
                None => {
                    for key in self.credentials.keys() {
                        if self.credentials.non_blank(key).is_none() {
                            problems.push(
                                format!("credentials.{key}"),
                                "this credential is blank; fill it in or remove it",
                            );
                        }
                    }
                }
            }

            // builder program
            if self.builder_program && spec.is_some_and(|s| !s.builder_program) {
                problems.push(
                    "builder_program",
                    format!(
                        "{} has no Builder Program; turn the opt-in off",
                        kind.display_name()
                    ),
                );
            }

            // default plan
            if let Some(plan) = &self.default_plan {
                let plan = plan.trim();
                if plan.is_empty() {
                    problems.push(
                        "default_plan",
                        "the service plan id is blank; leave it out or give a plan id",
                    );
                } else {
                    let rule = spec.map_or(crate::provider::any_plan_id as fn(&str) -> _, |s| {
                        s.check_plan_id
                    });
                    if let Err(why) = rule(plan) {
                        problems.push("default_plan", why);
                    }
                }
            }

            // callback
            if let Some(cb) = &self.callback {
                if spec.is_some_and(|s| !s.callbacks) {
                    problems.push(
                        "callback",
                        format!(
                            "{} does not push real-time callbacks; remove the callback settings",
                            kind.display_name()
                        ),
                    );
                }
                if cb.signing_secret.expose_secret().trim().len() < 16 {
                    problems.push(
                        "callback.signing_secret",
                        "the signing secret must be at least 16 characters; copy it from the provider's callback settings",
                    );
                }
                if !(1..=3600).contains(&cb.tolerance_seconds) {
                    problems.push(
                        "callback.tolerance_seconds",
                        "the tolerance must be between 1 and 3600 seconds (300 is usual)",
                    );
                }
            }
        }

        // endpoint
        let endpoint = match self.endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match Url::parse(raw) {
                Err(e) => {
                    problems.push(
                        "endpoint",
                        format!("`{}` is not a URL ({e})", without_userinfo(raw)),
                    );
                    None
                }
                Ok(url) => {
                    let mut ok = true;
                    if !url.username().is_empty() || url.password().is_some() {
                        problems.push(
                            "endpoint",
                            "the endpoint must not carry a user or password; put credentials in the credential fields",
                        );
                        ok = false;
                    }
                    match url.scheme() {
                        "https" => {}
                        "http" if is_loopback(&url) => {}
                        "http" => {
                            problems.push(
                                "endpoint",
                                "use https; plain http is allowed only for loopback (simulators)",
                            );
                            ok = false;
                        }
                        other => {
                            problems.push(
                                "endpoint",
                                format!("`{other}` is not a web scheme; use an https URL"),
                            );
                            ok = false;
                        }
                    }
                    ok.then_some(url)
                }
            },
        };

        (provider, problems, endpoint)
    }

    /// Validates and builds. The error is [`Error::InvalidConfig`] listing every problem.
    pub fn build(self) -> Result<IspConfig> {
        let (provider, problems, endpoint) = self.check();
        let Some(provider) = provider.clone().filter(|_| problems.is_empty()) else {
            return Err(Error::InvalidConfig {
                provider: provider
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".to_owned()),
                problems,
            });
        };
        Ok(IspConfig {
            name: self.name.as_deref().map(str::trim).unwrap_or("").to_owned(),
            provider,
            credentials: self.credentials,
            default_plan: self.default_plan.map(|p| PlanId::new(p.trim())),
            status: self.status.unwrap_or_default(),
            builder_program: self.builder_program,
            endpoint,
            callback: self.callback,
        })
    }
}

/// Checks credentials against a provider's fields: missing required ones, unknown keys, blank
/// values.
pub(crate) fn check_credentials(
    credentials: &Credentials,
    fields: &[CredentialField],
    problems: &mut ValidationErrors,
) {
    for field in fields {
        match credentials.expose(field.key) {
            None if field.required => problems.push(
                format!("credentials.{}", field.key),
                format!("{} is required. {}", field.label, field.help),
            ),
            Some(v) if v.trim().is_empty() => problems.push(
                format!("credentials.{}", field.key),
                format!("{} is blank; fill it in or remove it", field.label),
            ),
            _ => {}
        }
    }
    for key in credentials.keys() {
        if !fields.iter().any(|f| f.key == key) {
            let known: Vec<&str> = fields.iter().map(|f| f.key).collect();
            problems.push(
                format!("credentials.{key}"),
                format!(
                    "`{key}` is not a credential of this provider; the fields are: {}",
                    known.join(", ")
                ),
            );
        }
    }
}

/// A URL as text with any `user:password@` cut out, for messages and `Debug`.
fn without_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!(
            "{scheme}://…@{}{tail}",
            authority.get(at + 1..).unwrap_or("")
        ),
        None => raw.to_owned(),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}
