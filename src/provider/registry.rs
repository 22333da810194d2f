//! [`ProviderSpec`] and [`ProviderRegistry`]: what each provider is, and how one is built.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::create::CreateOnce;
use super::{ConfiguredProvider, InteractiveServicesProvider};
use crate::config::{Credentials, IspConfig};
use crate::error::{Error, Result, ValidationErrors};
use crate::http::soap::SoapVersion;
use crate::http::{RateLimit, Transport, TransportOptions};
use crate::model::{CredentialField, ProviderKind, ProvisionField};

/// What a provider is before one is built: enough to validate a configuration and draw its
/// admin form. Each built-in vendor keeps its spec in its own folder (`spec.rs`); a contributed
/// provider passes its own to [`ProviderRegistry::register_spec`].
///
/// ```
/// use interactive_services::model::CredentialField;
/// use interactive_services::provider::ProviderSpec;
///
/// const FIELDS: &[CredentialField] = &[CredentialField {
///     key: "api_key",
///     label: "API key",
///     secret: true,
///     required: true,
///     help: "The key Acme issued for your dealer account.",
/// }];
/// const ACME: ProviderSpec = ProviderSpec::new("acme_isp", "Acme ISP", FIELDS).callbacks();
/// assert_eq!(ACME.name, "acme_isp");
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ProviderSpec {
    /// The canonical name (`alarm_com`): lower case, `_` between words.
    pub name: &'static str,
    /// A name for people (`Alarm.com`).
    pub display_name: &'static str,
    /// Other spellings that mean this provider (`alarm.com`, `adc`).
    pub aliases: &'static [&'static str],
    /// The credential fields its configurations take.
    pub credential_fields: &'static [CredentialField],
    /// The fields its provision requests take in `vendor_fields`; empty when it takes none.
    pub provision_fields: &'static [ProvisionField],
    /// Whether it has a Builder Program (the configuration's opt-in is allowed).
    pub builder_program: bool,
    /// Whether it has billing sync (the configuration's opt-in is allowed).
    pub billing: bool,
    /// Whether it pushes real-time callbacks (a callback configuration is allowed).
    pub callbacks: bool,
    /// Checks the form of a service plan id (not whether it exists: that needs the network);
    /// the error is a sentence a dealer can act on.
    pub check_plan_id: fn(&str) -> std::result::Result<(), String>,
    /// Checks credential values beyond presence (a number where the vendor wants one), adding
    /// each problem with its field path (`credentials.<key>`).
    pub check_credentials: fn(&Credentials, &mut ValidationErrors),
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("aliases", &self.aliases)
            .field("credential_fields", &self.credential_fields)
            .field("provision_fields", &self.provision_fields)
            .field("builder_program", &self.builder_program)
            .field("billing", &self.billing)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

pub(crate) fn any_plan_id(id: &str) -> std::result::Result<(), String> {
    if id.chars().any(char::is_control) {
        Err("the service plan id contains control characters".into())
    } else {
        Ok(())
    }
}

fn no_credential_rule(_: &Credentials, _: &mut ValidationErrors) {}

/// A plan-code rule several vendors share: up to 32 ASCII letters, digits, `-` or `_`.
pub fn check_plan_code(id: &str) -> std::result::Result<(), String> {
    if id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a plan code; plan codes are up to 32 letters, digits, '-' or '_'",
            id.chars()
                .take(40)
                .filter(|c| !c.is_control())
                .collect::<String>()
        ))
    }
}

impl ProviderSpec {
    /// A spec with no alias, no optional feature, any plan id without control characters, and no
    /// credential rule beyond the fields.
    pub const fn new(
        name: &'static str,
        display_name: &'static str,
        credential_fields: &'static [CredentialField],
    ) -> Self {
        Self {
            name,
            display_name,
            aliases: &[],
            credential_fields,
            provision_fields: &[],
            builder_program: false,
            billing: false,
            callbacks: false,
            check_plan_id: any_plan_id,
            check_credentials: no_credential_rule,
        }
    }

    /// Other spellings of the name.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The fields its provision requests take in `vendor_fields`.
    pub const fn provision_fields(mut self, fields: &'static [ProvisionField]) -> Self {
        self.provision_fields = fields;
        self
    }

    /// Checks a request's `vendor_fields` against [`provision_fields`](Self::provision_fields):
    /// every required one present and not blank, no unknown key (with the closest field
    /// suggested). Problems are added with their field path (`vendor_fields.<key>`); values are
    /// not quoted back.
    pub fn validate_provision_fields(
        &self,
        vendor_fields: &std::collections::BTreeMap<String, String>,
        problems: &mut ValidationErrors,
    ) {
        for field in self.provision_fields {
            let given = vendor_fields.get(field.key).map(|v| v.trim());
            if field.required && given.is_none_or(str::is_empty) {
                problems.push(
                    format!("vendor_fields.{}", field.key),
                    format!(
                        "{} is required ({}). {}",
                        field.label, field.format, field.help
                    ),
                );
            }
        }
        for key in vendor_fields.keys() {
            if self.provision_fields.iter().any(|f| f.key == key) {
                continue;
            }
            let known = self.provision_fields.iter().map(|f| f.key);
            let hint = match crate::suggest::closest(key, known) {
                Some(k) => format!("; did you mean `{k}`?"),
                None if self.provision_fields.is_empty() => {
                    format!("; {} takes no vendor fields", self.display_name)
                }
                None => format!(
                    "; the fields are: {}",
                    self.provision_fields
                        .iter()
                        .map(|f| f.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            problems.push(
                format!("vendor_fields.{}", key.escape_debug()),
                format!("not a field of {}{hint}", self.display_name),
            );
        }
    }

    /// The provider has a Builder Program.
    pub const fn builder_program(mut self) -> Self {
        self.builder_program = true;
        self
    }

    /// The provider has billing sync.
    pub const fn billing(mut self) -> Self {
        self.billing = true;
        self
    }

    /// The provider pushes real-time callbacks.
    pub const fn callbacks(mut self) -> Self {
        self.callbacks = true;
        self
    }

    /// The rule for service plan ids.
    pub const fn plan_id_rule(mut self, rule: fn(&str) -> std::result::Result<(), String>) -> Self {
        self.check_plan_id = rule;
        self
    }

    /// The rule for credential values.
    pub const fn credential_rule(mut self, rule: fn(&Credentials, &mut ValidationErrors)) -> Self {
        self.check_credentials = rule;
        self
    }

    /// Checks credentials against the fields (missing required ones, unknown keys, blank values)
    /// and then the spec's own rule, adding every problem found.
    pub fn validate_credentials(&self, credentials: &Credentials, problems: &mut ValidationErrors) {
        crate::config::check_credentials(credentials, self.credential_fields, problems);
        (self.check_credentials)(credentials, problems);
    }
}

/// Builds a provider from a validated configuration and the host's [`ProviderOptions`].
pub type ProviderConstructor = Arc<
    dyn Fn(&IspConfig, &ProviderOptions) -> Result<Arc<dyn InteractiveServicesProvider>>
        + Send
        + Sync,
>;

/// How a provider built through [`ProviderRegistry::build_with`] talks to its vendor. Every
/// setting is optional; a provider ignores what does not apply to it (a JSON vendor has no
/// SOAP version). A request rate limit is part of the transport settings
/// ([`rate_limit`](Self::rate_limit)).
///
/// ```
/// use std::time::Duration;
/// use interactive_services::http::{RetryPolicy, TransportOptions};
/// use interactive_services::http::soap::SoapVersion;
/// use interactive_services::provider::ProviderOptions;
///
/// let options = ProviderOptions::new()
///     .transport(TransportOptions {
///         attempt_timeout: Duration::from_secs(10),
///         retry: RetryPolicy::none(),
///         ..TransportOptions::default()
///     })
///     .soap_version(SoapVersion::V12);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProviderOptions {
    /// Timeouts, retries, body cap, proxy, extra root certificates.
    pub transport: Option<TransportOptions>,
    /// SOAP 1.1 or 1.2, for SOAP vendors that serve both.
    pub soap_version: Option<SoapVersion>,
    /// The host's own HTTP client (its proxy, certificates and connection pool).
    pub http_client: Option<reqwest::Client>,
    /// How creates are kept to one per dealer customer id (a coordinator shared by replicas).
    pub create_once: Option<CreateOnce>,
}

impl ProviderOptions {
    /// No setting: every provider's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Transport settings. A [`rate_limit`](Self::rate_limit) set before is kept unless
    /// `options` carries its own.
    pub fn transport(mut self, mut options: TransportOptions) -> Self {
        if options.rate_limit.is_none() {
            options.rate_limit = self.transport.and_then(|t| t.rate_limit);
        }
        self.transport = Some(options);
        self
    }

    /// Most HTTP requests per second the provider sends, retries included, shared by every
    /// call of the provider and of every provider built with a clone of `limit` (see
    /// [`RateLimit`]). It is [`TransportOptions::rate_limit`]; the other transport settings
    /// keep their defaults (or what [`transport`](Self::transport) set).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.transport
            .get_or_insert_with(TransportOptions::default)
            .rate_limit = Some(limit);
        self
    }

    /// The SOAP version.
    pub fn soap_version(mut self, version: SoapVersion) -> Self {
        self.soap_version = Some(version);
        self
    }

    /// The host's HTTP client.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The create-once settings.
    pub fn create_once(mut self, settings: CreateOnce) -> Self {
        self.create_once = Some(settings);
        self
    }

    /// A transport for `provider` with these options (the host's client when one is given).
    pub fn build_transport(&self, provider: &str) -> Result<Transport> {
        let options = self.transport.clone().unwrap_or_default();
        match &self.http_client {
            Some(client) => Ok(Transport::with_client(provider, options, client.clone())),
            None => Transport::new(provider, options),
        }
    }
}

#[derive(Clone)]
struct Registration {
    spec: ProviderSpec,
    constructor: ProviderConstructor,
}

/// Builds providers from configurations: the built-in vendors, plus any a host or contributed
/// crate registers by name.
///
/// ```
/// use interactive_services::{IspConfig, ProviderRegistry};
///
/// let registry = ProviderRegistry::with_built_ins();
/// let config = IspConfig::builder()
///     .name("Alarm.com (main)")
///     .provider("alarm_com")
///     .credential("login", "integration-user")
///     .credential("password", "correct horse")
///     .build()?;
/// let provider = registry.build(&config)?;
/// assert_eq!(provider.kind().as_str(), "alarm_com");
/// # Ok::<(), interactive_services::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    entries: BTreeMap<String, Registration>,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("providers", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProviderRegistry {
    /// A registry with no provider.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a provider under `name` (in canonical form: lower case, `-` as
    /// `_`), with the credential fields its configurations take.
    ///
    /// This is [`register_spec`](Self::register_spec) with a spec that has only the name and the
    /// fields.
    pub fn register<F>(
        &mut self,
        name: &'static str,
        fields: &'static [CredentialField],
        constructor: F,
    ) where
        F: Fn(&IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> + Send + Sync + 'static,
    {
        self.insert(
            ProviderSpec::new(name, name, fields),
            Arc::new(move |config: &IspConfig, _: &ProviderOptions| constructor(config)),
        );
    }

    /// Registers (or replaces) a provider with its full [`ProviderSpec`]; the constructor gets
    /// the [`ProviderOptions`] of [`build_with`](Self::build_with).
    pub fn register_spec<F>(&mut self, spec: ProviderSpec, constructor: F)
    where
        F: Fn(&IspConfig, &ProviderOptions) -> Result<Arc<dyn InteractiveServicesProvider>>
            + Send
            + Sync
            + 'static,
    {
        self.insert(spec, Arc::new(constructor));
    }

    fn insert(&mut self, spec: ProviderSpec, constructor: ProviderConstructor) {
        self.entries.insert(
            crate::model::kind::canonical_name(spec.name),
            Registration { spec, constructor },
        );
    }

    /// The registered provider names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The spec of a registered provider, by its name or one of its aliases (`-` and `_` are
    /// alike, case is ignored).
    pub fn spec(&self, kind: &ProviderKind) -> Option<&ProviderSpec> {
        self.registration(kind).map(|r| &r.spec)
    }

    fn registration(&self, kind: &ProviderKind) -> Option<&Registration> {
        let wanted = crate::model::kind::canonical_name(kind.as_str());
        self.entries.get(&wanted).or_else(|| {
            self.entries.values().find(|r| {
                r.spec
                    .aliases
                    .iter()
                    .any(|a| crate::model::kind::canonical_name(a) == wanted)
            })
        })
    }

    /// The specs of the registered providers, by name.
    pub fn specs(&self) -> impl Iterator<Item = &ProviderSpec> {
        self.entries.values().map(|r| &r.spec)
    }

    /// Validates `config` against the providers this registry knows, reporting every problem
    /// at once with its field path: a provider that is not registered (with the closest
    /// registered name: `alarm_comm` → "did you mean `alarm_com`?"), credential keys the
    /// provider does not take (with the closest field: `pasword` → "did you mean
    /// `password`?"), missing, blank or malformed credentials, plan ids and opt-ins the
    /// provider's [`ProviderSpec`] refuses. It is the check [`build`](Self::build) makes, for
    /// contributed providers as much as for built-in ones.
    ///
    /// ```
    /// use interactive_services::{IspConfig, ProviderRegistry};
    ///
    /// let config = IspConfig::from_toml(r#"
    ///     name = "Alarm.com (main)"
    ///     provider = "alarm_comm"
    ///     [credentials]
    ///     login = "integration-user"
    ///     pasword = "correct horse"
    /// "#)?;
    /// let problems = ProviderRegistry::with_built_ins().validate(&config).unwrap_err();
    /// assert!(problems.to_string().contains("did you mean `alarm_com`?"));
    /// # Ok::<(), interactive_services::Error>(())
    /// ```
    pub fn validate(&self, config: &IspConfig) -> std::result::Result<(), ValidationErrors> {
        config.to_builder().problems_in(self).into_result()
    }

    /// The credential fields of a registered provider.
    pub fn credential_fields(&self, kind: &ProviderKind) -> Option<&'static [CredentialField]> {
        self.spec(kind).map(|s| s.credential_fields)
    }

    /// Builds the provider for `config`, wrapped in a [`ConfiguredProvider`] so that its status
    /// and default plan apply. The credentials are checked against the registered spec (a
    /// contributed provider's configuration was validated without it).
    pub fn build(&self, config: &IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> {
        self.build_with(config, &ProviderOptions::default())
    }

    /// [`build`](Self::build) with the host's [`ProviderOptions`] (timeouts, retries, SOAP
    /// version, proxy, root certificates, its own HTTP client, a create coordinator).
    pub fn build_with(
        &self,
        config: &IspConfig,
        options: &ProviderOptions,
    ) -> Result<Arc<dyn InteractiveServicesProvider>> {
        let inner = self.build_unwrapped(config, options)?;
        Ok(Arc::new(ConfiguredProvider::new(inner, config)))
    }

    /// The provider for `config`, validated, without the configuration's rules around it.
    pub(crate) fn build_unwrapped(
        &self,
        config: &IspConfig,
        options: &ProviderOptions,
    ) -> Result<Arc<dyn InteractiveServicesProvider>> {
        let kind = config.provider();
        let Some(registration) = self.registration(kind) else {
            return Err(Error::unsupported(
                kind.to_string(),
                "build (no provider of this name is registered or compiled in)",
            ));
        };
        let problems = config.to_builder().problems_in(self);
        if !problems.is_empty() {
            return Err(Error::InvalidConfig {
                provider: kind.to_string(),
                problems,
            });
        }
        (registration.constructor)(config, options)
    }
}
