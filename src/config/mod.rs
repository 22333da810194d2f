//! ISP configurations: [`IspConfig`], its builder and validation, the [`IspCatalog`], loading
//! from TOML, JSON and the environment, explicit storage with secrets, and [`verify`].

mod catalog;
mod catalog_file;
mod load;
mod verify;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::error::{Error, Result, ValidationErrors};
use crate::model::{CredentialField, PlanId, ProviderKind};

pub use catalog::IspCatalog;
pub use catalog_file::{CatalogLoader, SecretLookup};
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
    billing: bool,
    endpoint: Option<Url>,
    /// Whether the endpoint, as typed, held a secret value: the parsed URL may no longer show
    /// it literally (`\` read as `/`, percent-encoding), so this is decided when it is built.
    endpoint_holds_secret: bool,
    callback: Option<CallbackConfig>,
    /// The host's own settings for this entry (the `[host]` table), kept as they are.
    host: HostSettings,
    /// Where secret values came from (`credentials.password` → `env:ADC_PASSWORD`), so that a
    /// catalog can be saved without them.
    secret_refs: BTreeMap<String, String>,
}

/// The host's own settings for a configuration: the `[host]` table beside the crate's keys,
/// kept as they were read and written back as they are. The crate never reads them.
pub type HostSettings = serde_json::Map<String, serde_json::Value>;

impl fmt::Debug for IspConfig {
    /// Secret values are never shown; neither is a plain field (name, plan, endpoint) that holds
    /// one of them, e.g. a password pasted into the wrong field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self.secret_values();
        f.debug_struct("IspConfig")
            .field("name", &secrets.mask(&self.name))
            .field("provider", &self.provider)
            .field("credentials", &self.credentials)
            .field(
                "default_plan",
                &self.default_plan.as_ref().map(|p| secrets.mask(p.as_str())),
            )
            .field("status", &self.status)
            .field("builder_program", &self.builder_program)
            .field("billing", &self.billing)
            .field("endpoint", &self.shown_endpoint(&secrets))
            .field("callback", &self.callback)
            .field("host", &self.host.keys().collect::<Vec<_>>())
            .field("secret_refs", &self.secret_refs)
            .finish()
    }
}

impl fmt::Display for IspConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.shown(&self.name),
            crate::providers::display_name(&self.provider),
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

    /// Whether the dealer opted into billing sync (payments and payment-method changes made in
    /// the vendor's app); its permissions are checked and reported only then.
    pub fn billing(&self) -> bool {
        self.billing
    }
    /// The endpoint override, if any.
    pub fn endpoint(&self) -> Option<&Url> {
        self.endpoint.as_ref()
    }
    /// The callback settings, if any.
    pub fn callback(&self) -> Option<&CallbackConfig> {
        self.callback.as_ref()
    }

    /// The host's own settings for this entry (the `[host]` table of a file), as they were read.
    pub fn host(&self) -> &HostSettings {
        &self.host
    }

    /// Where the secret at `path` (`credentials.password`, `callback.signing_secret`) came
    /// from, when it was given as a reference (`env:ADC_PASSWORD`).
    pub fn secret_ref(&self, path: &str) -> Option<&str> {
        self.secret_refs.get(path).map(String::as_str)
    }

    /// A builder holding this configuration, to change it (then `build()` validates again).
    pub fn to_builder(&self) -> IspConfigBuilder {
        IspConfigBuilder {
            host: self.host.clone(),
            secret_refs: self.secret_refs.clone(),
            name: Some(self.name.clone()),
            provider: Some(self.provider.to_string()),
            credentials: self.credentials.clone(),
            default_plan: self.default_plan.as_ref().map(|p| p.to_string()),
            status: Some(self.status),
            builder_program: self.builder_program,
            billing: self.billing,
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
        let fields = crate::providers::built_in_spec(&self.provider)
            .map_or(&[][..], |s| s.credential_fields);
        let secret_keys: Vec<&str> = fields.iter().filter(|f| f.secret).map(|f| f.key).collect();
        let known = !fields.is_empty();
        // The plain form is for display: a plain value holding a secret (pasted into the wrong
        // field) is masked or left out too.
        let secrets = if with_secrets {
            SecretValues::default()
        } else {
            self.secret_values()
        };
        let credentials = self
            .credentials
            .values
            .iter()
            // Without the schema (contributed providers) every value is treated as secret.
            .filter(|(k, v)| {
                with_secrets
                    || (known
                        && !secret_keys.contains(&k.as_str())
                        && !secrets.holds(v.expose_secret()))
            })
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect();
        ConfigRepr {
            name: Some(secrets.mask(&self.name).to_owned()),
            provider: Some(self.provider.to_string()),
            credentials,
            default_plan: self
                .default_plan
                .as_ref()
                .map(|p| secrets.mask(p.as_str()).to_owned()),
            status: Some(self.status),
            builder_program: self.builder_program,
            billing: self.billing,
            endpoint: if with_secrets {
                self.endpoint.as_ref().map(|u| u.to_string())
            } else {
                self.shown_endpoint(&secrets)
            },
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
            host: self.host.clone(),
        }
    }

    /// Validates again; useful after deserializing a form. [`IspConfigBuilder::build`] already
    /// does this.
    pub fn validate(&self) -> std::result::Result<(), ValidationErrors> {
        self.to_builder().problems().into_result()
    }

    /// The endpoint as it may be shown: `[REDACTED]` when it holds a secret value.
    fn shown_endpoint(&self, secrets: &SecretValues) -> Option<String> {
        self.endpoint.as_ref().map(|u| {
            if self.endpoint_holds_secret {
                REDACTED.to_owned()
            } else {
                secrets.mask_url(u.as_str())
            }
        })
    }

    /// Whether `other` differs from this configuration only in name, status and default plan:
    /// the rules a provider reads on each call, not the settings it was built from.
    pub(crate) fn same_connection(&self, other: &IspConfig) -> bool {
        let secrets_equal = |a: Option<&SecretString>, b: Option<&SecretString>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        };
        let callback_equal = match (&self.callback, &other.callback) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                secrets_equal(Some(&a.signing_secret), Some(&b.signing_secret))
                    && secrets_equal(a.previous_secret.as_ref(), b.previous_secret.as_ref())
                    && a.tolerance_seconds == b.tolerance_seconds
            }
            _ => false,
        };
        self.provider == other.provider
            && self.credentials.keys().eq(other.credentials.keys())
            && self
                .credentials
                .keys()
                .all(|k| secrets_equal(self.credentials.get(k), other.credentials.get(k)))
            && self.endpoint == other.endpoint
            && self.builder_program == other.builder_program
            && self.billing == other.billing
            && callback_equal
    }

    /// This configuration's secret values, to keep them out of what is shown.
    pub(crate) fn secret_values(&self) -> SecretValues {
        SecretValues::collect(
            Some(self.provider.as_str()),
            &self.credentials,
            self.callback.as_ref(),
        )
    }

    /// `value` as it may be shown next to this configuration: `[REDACTED]` when it holds one
    /// of the configuration's secret values.
    pub(crate) fn shown<'a>(&self, value: &'a str) -> &'a str {
        self.secret_values().mask(value)
    }
}

impl PartialEq for IspConfig {
    /// Every setting equal, secret values included (compared, never shown).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.status == other.status
            && self.default_plan == other.default_plan
            && self.host == other.host
            && self.secret_refs == other.secret_refs
            && self.same_connection(other)
    }
}

impl Eq for IspConfig {}

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
        // wrong field: they are rebuilt from their fixed parts, without the value.
        let repr = ConfigRepr::deserialize(d)
            .map_err(|e| serde::de::Error::custom(load::describe_parse_error(&e.to_string())))?;
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    billing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<CallbackRepr>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    host: HostSettings,
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
            host: r.host,
            secret_refs: BTreeMap::new(),
            name: r.name,
            provider: r.provider,
            credentials,
            default_plan: r.default_plan,
            status: r.status,
            builder_program: r.builder_program,
            billing: r.billing,
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
    host: HostSettings,
    secret_refs: BTreeMap<String, String>,
    name: Option<String>,
    provider: Option<String>,
    credentials: Credentials,
    default_plan: Option<String>,
    status: Option<Status>,
    builder_program: bool,
    billing: bool,
    endpoint: Option<String>,
    callback: Option<CallbackConfig>,
}

impl fmt::Debug for IspConfigBuilder {
    /// Like [`IspConfig`]'s: no secret value, no plain field holding one, and no user-info of
    /// the endpoint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self.secret_values();
        let mask = |v: &Option<String>| v.as_deref().map(|v| secrets.mask(v).to_owned());
        f.debug_struct("IspConfigBuilder")
            .field("name", &mask(&self.name))
            .field("provider", &mask(&self.provider))
            .field("credentials", &self.credentials)
            .field("default_plan", &mask(&self.default_plan))
            .field("status", &self.status)
            .field("builder_program", &self.builder_program)
            .field("billing", &self.billing)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(|e| secrets.mask_url(e)),
            )
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
        let key = key.into();
        // A value given directly no longer comes from the reference it may have had.
        self.secret_refs.remove(&format!("credentials.{key}"));
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

    /// Opts into billing sync (only for providers that have it).
    pub fn billing(mut self, opt_in: bool) -> Self {
        self.billing = opt_in;
        self
    }
    /// Overrides the endpoint (vendor test host, simulator).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    /// One credential field whose value came from a secret reference (`env:ADC_PASSWORD`, or
    /// a scheme of the host's secret manager): the value is used, the reference is what
    /// [`IspCatalog::to_toml`](crate::IspCatalog::to_toml) writes back.
    pub fn credential_from(
        mut self,
        key: impl Into<String>,
        reference: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let key = key.into();
        self.secret_refs
            .insert(format!("credentials.{key}"), reference.into());
        self.credentials.insert(key, value);
        self
    }

    /// Records that the secret at `path` came from `reference`.
    pub(crate) fn secret_reference(mut self, path: String, reference: String) -> Self {
        self.secret_refs.insert(path, reference);
        self
    }

    /// The host's own settings for this entry, kept beside the crate's and never read by it.
    pub fn host_settings(mut self, settings: HostSettings) -> Self {
        self.host = settings;
        self
    }

    /// Callback settings.
    pub fn callback(mut self, callback: CallbackConfig) -> Self {
        self.callback = Some(callback);
        self
    }

    fn problems(&self) -> ValidationErrors {
        self.check(Specs::BuiltIn).1
    }

    /// Validates against the providers `registry` knows, and builds. Unlike
    /// [`build`](Self::build), which accepts any provider name it does not know (a contributed
    /// provider may be registered later), a provider the registry lacks is a problem, reported
    /// with the closest registered name; a contributed provider's credentials, plan id and
    /// opt-ins are checked against its registered [`ProviderSpec`](crate::provider::ProviderSpec).
    pub fn build_in(self, registry: &crate::provider::ProviderRegistry) -> Result<IspConfig> {
        self.build_with_specs(Specs::Registry(registry))
    }

    pub(crate) fn problems_in(
        &self,
        registry: &crate::provider::ProviderRegistry,
    ) -> ValidationErrors {
        self.check(Specs::Registry(registry)).1
    }

    fn secret_values(&self) -> SecretValues {
        SecretValues::collect(
            self.provider.as_deref(),
            &self.credentials,
            self.callback.as_ref(),
        )
    }

    // No message below quotes a value the user typed: any of them may be a secret typed into
    // the wrong field. Messages describe the problem; the field path says where it is.
    fn check(&self, specs: Specs<'_>) -> (Option<ProviderKind>, ValidationErrors, Option<Url>) {
        let mut problems = ValidationErrors::new();
        let secrets = self.secret_values();

        // name
        let name = clean_name(self.name.as_deref().unwrap_or(""));
        if name.chars().all(|c| c.is_whitespace() || c.is_control()) {
            problems.push(
                "name",
                "the name is blank; give the configuration a name, e.g. \"Alarm.com (main)\"",
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
            Some(p) => {
                let kind = crate::providers::kind_for(p);
                // A built-in provider is known by its own constant name; any other name is shown
                // as typed (in errors, in `Debug`), so it must not be a secret pasted there.
                if specs.spec(&kind).is_none() && secrets.holds(p) {
                    problems.push(
                        "provider",
                        "the provider name holds the value of a secret credential; choose the provider by its registered name",
                    );
                    None
                } else if let (Specs::Registry(registry), None) = (specs, specs.spec(&kind)) {
                    let names: Vec<&str> = registry
                        .specs()
                        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
                        .collect();
                    let hint = match crate::suggest::closest(kind.as_str(), names.iter().copied()) {
                        Some(close) => {
                            format!("did you mean `{}`?", crate::providers::kind_for(close))
                        }
                        None => format!(
                            "the registered providers are: {}",
                            registry.names().collect::<Vec<_>>().join(", ")
                        ),
                    };
                    problems.push(
                        "provider",
                        format!("no provider of this name is registered or compiled in; {hint}"),
                    );
                    None
                } else {
                    Some(kind)
                }
            }
        };

        if let Some(kind) = &provider {
            let spec = specs.spec(kind);
            // credentials
            match spec {
                Some(spec) => {
                    // `spec.validate_credentials`, with the vendor rule's messages checked: a
                    // rule is free code and may quote the value it refused.
                    check_credentials(&self.credentials, spec.credential_fields, &mut problems);
                    let mut by_rule = ValidationErrors::new();
                    (spec.check_credentials)(&self.credentials, &mut by_rule);
                    for p in by_rule {
                        let quotes_a_value = self
                            .credentials
                            .values
                            .values()
                            .any(|v| mentions(&p.message, v.expose_secret()));
                        if quotes_a_value {
                            problems.push(
                                p.field,
                                format!(
                                    "{} does not accept this value; check it",
                                    spec.display_name
                                ),
                            );
                        } else {
                            problems.push(p.field, p.message);
                        }
                    }
                }
                None => {
                    for key in self.credentials.keys() {
                        if self.credentials.non_blank(key).is_none() {
                            problems.push(
                                credential_path(key),
                                "this credential is blank; fill it in or remove it",
                            );
                        }
                    }
                }
            }

            // billing
            if self.billing && spec.is_some_and(|s| !s.billing) {
                problems.push(
                    "billing",
                    format!(
                        "{} has no billing sync; turn the opt-in off",
                        spec.map_or(kind.as_str(), |s| s.display_name)
                    ),
                );
            }

            // builder program
            if self.builder_program && spec.is_some_and(|s| !s.builder_program) {
                problems.push(
                    "builder_program",
                    format!(
                        "{} has no Builder Program; turn the opt-in off",
                        spec.map_or(kind.as_str(), |s| s.display_name)
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
                        // A plan rule may quote the id it refused (`check_plan_code` does).
                        let why = if mentions(&why, plan) {
                            format!(
                                "this is not a service plan id of {}; copy the id from the provider's plan list",
                                spec.map_or(kind.as_str(), |s| s.display_name)
                            )
                        } else {
                            why
                        };
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
                            spec.map_or(kind.as_str(), |s| s.display_name)
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
            // Any `@` is refused, wherever the URL parser would put it: a password holding `/`,
            // `?` or `#` makes the parser read part of it as host, port or path, so "no
            // user-info after parsing" is not enough. It is the one problem reported for the
            // endpoint then: the rest would be noise from the same mistake.
            Some(raw) if raw.contains('@') => {
                problems.push(
                    "endpoint",
                    "the endpoint must not carry a user or password (no `@`); put credentials in the credential fields",
                );
                None
            }
            Some(raw) => match Url::parse(raw) {
                Err(e) => {
                    // `url`'s messages describe the error without quoting the input.
                    problems.push(
                        "endpoint",
                        format!(
                            "the endpoint is not a URL ({e}); give a full https URL, e.g. https://alarm.example.com/WebServices/"
                        ),
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
                        _ => {
                            problems.push(
                                "endpoint",
                                "the endpoint's scheme is not a web scheme; use an https URL",
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
        self.build_with_specs(Specs::BuiltIn)
    }

    fn build_with_specs(self, specs: Specs<'_>) -> Result<IspConfig> {
        let (provider, problems, endpoint) = self.check(specs);
        let Some(provider) = provider.clone().filter(|_| problems.is_empty()) else {
            return Err(Error::InvalidConfig {
                provider: provider
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".to_owned()),
                problems,
            });
        };
        let endpoint_holds_secret = self
            .endpoint
            .as_deref()
            .is_some_and(|raw| self.secret_values().holds_url(raw));
        Ok(IspConfig {
            name: clean_name(self.name.as_deref().unwrap_or("")),
            provider,
            credentials: self.credentials,
            default_plan: self.default_plan.map(|p| PlanId::new(p.trim())),
            status: self.status.unwrap_or_default(),
            builder_program: self.builder_program,
            billing: self.billing,
            endpoint,
            endpoint_holds_secret,
            callback: self.callback,
            host: self.host,
            secret_refs: self.secret_refs,
        })
    }
}

/// Where validation finds a provider's [`ProviderSpec`](crate::provider::ProviderSpec).
#[derive(Clone, Copy)]
enum Specs<'a> {
    /// The built-in providers; any other name is accepted (it may be registered later).
    BuiltIn,
    /// A registry's providers; any other name is a problem.
    Registry(&'a crate::provider::ProviderRegistry),
}

impl<'a> Specs<'a> {
    fn spec(self, kind: &ProviderKind) -> Option<&'a crate::provider::ProviderSpec> {
        match self {
            Specs::BuiltIn => crate::providers::built_in_spec(kind),
            Specs::Registry(registry) => registry.spec(kind),
        }
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
            // The key is in the field path; the message does not repeat it.
            let message = match crate::suggest::closest(key, known.iter().copied()) {
                Some(close) => {
                    format!("this is not a credential of this provider; did you mean `{close}`?")
                }
                None if known.is_empty() => {
                    "this provider takes no credentials; remove it".to_owned()
                }
                None => format!(
                    "this is not a credential of this provider; the fields are: {}",
                    known.join(", ")
                ),
            };
            problems.push(credential_path(key), message);
        }
    }
}

/// The field path of a credential key, `credentials.<key>`. A key is a name, not a value, but
/// one that could not be a field name (control or invisible characters, very long) is shown
/// escaped and cut.
fn credential_path(key: &str) -> String {
    const MAX_KEY_CHARS: usize = 64;
    let plain = key.chars().count() <= MAX_KEY_CHARS
        && !key.chars().any(|c| c.is_control() || is_invisible(c));
    if plain {
        format!("credentials.{key}")
    } else {
        let shown: String = key
            .chars()
            .take(MAX_KEY_CHARS)
            .flat_map(char::escape_debug)
            .collect();
        let cut = if key.chars().count() > MAX_KEY_CHARS {
            "…"
        } else {
            ""
        };
        format!("credentials.{shown}{cut}")
    }
}

// ---------------------------------------------------------------------------------------------
// names

/// Whether `c` shows nothing: zero-width spaces and joiners, the word joiner and invisible
/// operators, the byte order mark, the soft hyphen, bidirectional marks, embeddings, overrides
/// and isolates, variation selectors, tag characters, the Hangul fillers and the other
/// default-ignorable format (`Cf`) characters. Names lose them before they are trimmed and
/// compared, so that "Alarm\u{200B}.com" is "Alarm.com".
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{061C}'                // Arabic letter mark
            | '\u{115F}'..='\u{1160}'   // Hangul choseong / jungseong fillers
            | '\u{17B4}'..='\u{17B5}'   // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space, non-joiner, joiner, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, isolates, ...
            | '\u{3164}'                // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors
            | '\u{FEFF}'                // byte order mark / zero-width no-break space
            | '\u{FFA0}'                // halfwidth Hangul filler
            | '\u{FFF0}'..='\u{FFFB}'   // interlinear annotation characters (and reserved)
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
            | '\u{E0000}'..='\u{E0FFF}' // tag characters, variation selectors supplement
    )
}

/// A name as it is stored: invisible characters removed, Unicode NFC, trimmed. Control
/// characters inside stay (validation refuses them).
pub(crate) fn clean_name(raw: &str) -> String {
    let visible: String = raw.chars().filter(|c| !is_invisible(*c)).collect();
    visible.nfc().collect::<String>().trim().to_owned()
}

/// A name as it is compared: [`clean_name`] without control characters, in lower case. "Café"
/// in NFC and NFD, "Alarm.com" with and without a zero-width space, and " alarm.COM " all have
/// the same key.
pub(crate) fn name_key(name: &str) -> String {
    let visible: String = name
        .chars()
        .filter(|c| !is_invisible(*c) && !c.is_control())
        .collect();
    let lower: String = visible.nfc().flat_map(char::to_lowercase).collect();
    // Lower-casing can undo NFC (`İ` becomes `i` + a combining dot): normalise again.
    lower.nfc().collect::<String>().trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// keeping secrets out of what is shown

/// Shorter secret values are matched only whole: a 1-3 character secret contained in a longer
/// plain value proves nothing and would mask most of what is shown.
const MIN_CONTAINED_SECRET_CHARS: usize = 4;

/// A value folded for comparison: invisible characters removed, NFC, lower case, trimmed.
fn fold(value: &str) -> String {
    let visible: String = value.chars().filter(|c| !is_invisible(*c)).collect();
    visible
        .nfc()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The secret values of one configuration, folded: the credential values of secret fields (of
/// every field when the provider's fields are not known, and of keys that are not fields), and
/// the callback secrets. Used to keep a plain value that holds one of them (a password pasted
/// into the name, the plan or the endpoint) out of `Debug`, `Display` and messages.
#[derive(Default)]
pub(crate) struct SecretValues(Vec<String>);

impl SecretValues {
    fn collect(
        provider: Option<&str>,
        credentials: &Credentials,
        callback: Option<&CallbackConfig>,
    ) -> Self {
        let fields = provider
            .map(|p| {
                crate::providers::built_in_spec(&crate::providers::kind_for(p))
                    .map_or(&[][..], |s| s.credential_fields)
            })
            .unwrap_or(&[]);
        let mut values: Vec<String> = credentials
            .values
            .iter()
            .filter(|(key, _)| !fields.iter().any(|f| f.key == key.as_str() && !f.secret))
            .map(|(_, v)| fold(v.expose_secret()))
            .collect();
        if let Some(cb) = callback {
            values.push(fold(cb.signing_secret.expose_secret()));
            if let Some(previous) = &cb.previous_secret {
                values.push(fold(previous.expose_secret()));
            }
        }
        values.retain(|v| !v.is_empty());
        Self(values)
    }

    /// Whether `value` is one of the secret values or contains one (in any letter case,
    /// normal form or with invisible characters added).
    pub(crate) fn holds(&self, value: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let value = fold(value);
        !value.is_empty()
            && self.0.iter().any(|secret| {
                *secret == value
                    || (secret.chars().count() >= MIN_CONTAINED_SECRET_CHARS
                        && value.contains(secret.as_str()))
            })
    }

    /// `value`, or `[REDACTED]` when it holds a secret value.
    pub(crate) fn mask<'a>(&self, value: &'a str) -> &'a str {
        if self.holds(value) { REDACTED } else { value }
    }

    /// Whether a URL holds a secret value, as typed or percent-encoded.
    fn holds_url(&self, url: &str) -> bool {
        self.holds(url) || self.holds(&percent_decoded(url))
    }

    /// A URL for `Debug`: `[REDACTED]` when it holds a secret value (as typed or
    /// percent-encoded), else without its user-info.
    fn mask_url(&self, url: &str) -> String {
        if self.holds_url(url) {
            REDACTED.to_owned()
        } else {
            without_userinfo(url)
        }
    }
}

const REDACTED: &str = "[REDACTED]";

/// Whether `message` quotes `value` or a part of it: the whole value, standing alone, when it is
/// shorter than four characters, else any four consecutive characters of it (compared folded).
/// Linear in both lengths, whatever their size.
fn mentions(message: &str, value: &str) -> bool {
    let value: Vec<char> = fold(value).chars().collect();
    let message: Vec<char> = fold(message).chars().collect();
    const W: usize = MIN_CONTAINED_SECRET_CHARS;
    if value.is_empty() {
        return false;
    }
    if value.len() < W {
        // A short value counts only standing alone: `u` is not quoted by "number".
        let alone = |at: usize| {
            let before = at.checked_sub(1).and_then(|i| message.get(i));
            let after = message.get(at + value.len());
            !before.is_some_and(|c| c.is_alphanumeric())
                && !after.is_some_and(|c| c.is_alphanumeric())
        };
        return message
            .windows(value.len())
            .enumerate()
            .any(|(at, w)| w == value.as_slice() && alone(at));
    }
    let windows: HashSet<&[char]> = message.windows(W).collect();
    value.windows(W).any(|w| windows.contains(w))
}

/// `%XX` sequences decoded (invalid UTF-8 replaced), to compare a parsed URL with a value.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                // Two hex digits make one byte: hi * 16 + lo <= 255.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL as text with any `user:password@` cut out, for `Debug`.
///
/// The user-info ends at the *last* `@`: a password may hold `/`, `?`, `#` or `@` itself, so
/// the authority cannot be cut at the first `/`, `?` or `#` before looking for it. Everything
/// between `://` (or the start, when there is none) and the last `@` is dropped; when the last
/// `@` really was in the path, more is dropped than needed, never less.
fn without_userinfo(raw: &str) -> String {
    let Some(at) = raw.rfind('@') else {
        return raw.to_owned();
    };
    let after = raw.get(at + 1..).unwrap_or("");
    let scheme = raw.split_once("://").map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.len() < at
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme {
        Some(scheme) => format!("{scheme}://…@{after}"),
        None => format!("…@{after}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_cut_at_the_last_at_sign() {
        for (raw, shown) in [
            (
                "https://user:pa/ss#w?rd@host/WebServices/",
                "https://…@host/WebServices/",
            ),
            ("https://u:p@ss@host/x", "https://…@host/x"),
            ("https://u:p@host/a@b", "https://…@b"),
            ("u:pa/ss@host", "…@host"),
            ("https:\\\\u:pw@host", "…@host"),
            ("https://host/ws", "https://host/ws"),
        ] {
            assert_eq!(without_userinfo(raw), shown, "{raw}");
        }
    }

    #[test]
    fn mentions_finds_any_four_characters() {
        assert!(mentions("`hunter2` is not a plan code", "HUNTER2"));
        assert!(mentions("`hunt` is not", "xxhuntxx"));
        assert!(!mentions("plan codes are up to 32 letters", "xyz9"));
        assert!(mentions("abc", "abc"));
        assert!(mentions("`42` is not", "42"));
        assert!(!mentions("a positive whole number", "u"));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decoded("a%2Fb%C3%A4%"), "a/bä%");
    }
}
