//! # Alarm.com
//!
//! The provider for Alarm.com's dealer SOAP web services (`CustomerManagement.asmx` and
//! `DealerManagement.asmx`, namespace `http://www.alarm.com/WebServices`, document/literal).
//! Pointing it at the real endpoint with real credentials is all a dealer has to do.
//!
//! ## Configuration
//!
//! | credential key | required | secret | meaning |
//! |---|---|---|---|
//! | `login` | yes | no | a dedicated Partner Portal login for the integration |
//! | `password` | yes | yes | its password |
//! | `two_factor_device_id` | no | yes | the trusted device id, for logins with two-factor authentication |
//! | `dealer_id` | no | no | a sub-dealer's Alarm.com dealer id: customers are created with `CreateCustomerForDealer` and plans read for that dealer |
//!
//! The endpoint defaults to [`PRODUCTION_ENDPOINT`]; set the configuration's `endpoint` to
//! [`TEST_ENDPOINT`] for Alarm.com's integrator test host, or to a simulator. The endpoint is
//! the `WebServices/` folder; a URL ending in `.asmx` is taken to mean its folder.
//!
//! The integration login needs, for an account owner, the legacy role
//! "SecurityTrax Integration User"; for a sub-dealer, a custom role the account owner made from
//! the "SecurityTrax Integration" template. Billing sync (opt-in: `IspConfig::billing`) needs
//! the `setSecurityTraxSettings` permission, checked only when opted in. Builder Program calls
//! (opt-in: `IspConfig::builder_program`) need the custom role "Builder Program" or both
//! legacy roles "Dealer Administrator" and "Manage Builder Program", checked only when opted
//! in (see [`builder`]).
//!
//! ## Capabilities
//!
//! Credential and permission check, service plans, provisioning (never a duplicate), account
//! read, plan and add-on changes (full-set `ChangeServicePlan`, validation-only mode,
//! quantity add-ons with `SetAddOnQuantity`), terminate, account listing; with the billing
//! opt-in, billing sync and its event feed ([`billing`]); with the Builder Program opt-in,
//! the Builder Program: listing programs, commitments (create, read, update, activate) and
//! builder customers ([`builder`]). Without an opt-in its calls answer
//! [`Error::Unsupported`] before any request, and `CreateCustomer` never carries
//! `BuilderProgramId`.
//!
//! ## Operations used
//!
//! | crate call | Alarm.com operation(s) |
//! |---|---|
//! | `validate_credentials` | `DealerManagement.GetLoginRoles` (modelled) |
//! | `service_plans` | `DealerManagement.GetLatestCallerVersion`, `GetPackageIds` (Residential and Commercial) |
//! | `provision` | `LookupCustomerIdFromDealerCustomerId`, then `CreateCustomer` (or `CreateCustomerForDealer`) |
//! | `account` | `GetCustomerInfo` |
//! | `change_plan` | `GetCustomerInfo`, `ChangeServicePlan` (or `ChangeServicePlanValidationOnly`), `SetAddOnQuantity` |
//! | `terminate` | `TerminateCustomer` (and `GetCustomerInfo` when it answers `false`) |
//! | `list_accounts` | `GetCustomerList` |
//! | `builder_programs` | `GetBuilderPrograms` (modelled) |
//! | `create_builder_program_record` | `LookupCustomerIdFromDealerCustomerId`, then `CreateCommitment` (modelled; a commitment) or `CreateCustomer` with `BuilderProgramId` (a builder customer) |
//! | `commitment` | `GetCommitmentInfo` (modelled) |
//! | `update_commitment` | `UpdateCommitment`, then `GetCommitmentInfo` (modelled) |
//! | `activate_commitment` | `ActivateCommitment`, then `GetCustomerInfo` |
//!
//! The first Builder Program call of a provider also reads the login's roles
//! (`GetLatestCallerVersion`, `GetLoginRoles`).
//!
//! Requests are SOAP 1.1 by default (`SOAPAction: "http://www.alarm.com/WebServices/<Op>"`);
//! [`AlarmComBuilder::soap_version`] selects SOAP 1.2. Credentials travel only in the
//! `Authentication` SOAP header of each call.
//!
//! ## Never a duplicate customer
//!
//! `provision` first asks `LookupCustomerIdFromDealerCustomerId`: an existing customer is an
//! [`Error::Conflict`]. `CreateCustomer` is never retried blindly: when
//! it may have reached Alarm.com but no usable answer came back (timeout, reset, 5xx, cut-off
//! body), the provider looks the dealer customer id up again and returns the customer it finds
//! (without the one-time password, which was lost with the answer); only when the lookup
//! answers `0` does it create again, at most as many times as the retry policy allows. If the
//! lookup itself fails, the call fails and creates nothing more.
//!
//! A commitment is saved the same way (the same lookup finds it: its id is a customer id),
//! and the same commitment saved again on its program returns the one recorded; a builder
//! customer is provisioned exactly as above. `ActivateCommitment` is not repeated either:
//! after a lost answer, or a refusal of a second activation, the commitment is read and its
//! live customer returned.
//!
//! ## Seen and modelled
//!
//! Seen in public client code (and followed exactly): the endpoints, the namespace, both SOAP
//! versions and their action headers, the `Authentication` header, the `<Op>`/`<OpResponse>`/
//! `<OpResult>` wrappers, lowerCamel scalar parameters and PascalCase `input` fields, the
//! `CreateCustomer` input fields, `GetCustomerInfo`'s `CustomerInfo`, `ChangeServicePlan`'s
//! full add-on set, `SetAddOnQuantity`, `TerminateCustomer`'s bare boolean,
//! `LookupCustomerIdFromDealerCustomerId` answering `0`, `GetCustomerList`'s `ArrayOfInt`,
//! `Success`/`ErrorMessage` results, ASP.NET SOAP faults, and the enum values; for the
//! Builder Program, `CreateCustomer`'s `BuilderProgramId`, `UpdateCommitment(input{CommitmentId,
//! ExpectedPanelType})` and `ActivateCommitment(input{CommitmentId, PanelType,
//! ModemSerialNumber})`.
//!
//! Modelled (no public source; the simulator speaks the same model):
//! - how roles and permissions are read: `DealerManagement.GetLoginRoles` answering the login's
//!   roles (name, legacy flag, template) and permissions;
//! - how a missing permission is reported: a SOAP fault whose `faultstring` is
//!   `Permission denied: <role or permission>`; a bad login is a `soap:Client` fault whose
//!   `faultstring` mentions authentication;
//! - `GetPackageIds`'s result elements (`PackageIdInfo` with `PackageId`, `PackageName`,
//!   `PackageGroup`);
//! - quantity add-ons in `CustomerInfo` (`ServicePlanInfo/AddonQuantities/AddonQuantity` with
//!   `AddOn` and `Quantity`) and which add-ons have quantities (`ProVideo`, `ProVideoPlus`);
//! - `CustomerNotifications` as a list of `Email` elements, `CountryId` as `USA`/`Canada`/
//!   `Mexico`;
//! - an unknown customer id answered with a fault whose text says the customer was not found;
//! - `TerminateCustomer` answering `false` for a customer already terminated;
//! - billing sync ([`billing`]);
//! - listing builder programs, creating and reading commitments, `UpdateCommitment`'s ready
//!   date, `ActivateCommitment`'s plan and both results ([`builder`] has the table).

pub mod billing;
pub mod builder;
#[cfg(feature = "testkit")]
pub mod simulator;
mod spec;
pub(crate) mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use url::Url;

use crate::config::IspConfig;
use crate::error::{Error, Result};
use crate::http::soap::stream::{BareText, Cursor};
use crate::http::soap::{
    Element, Node, SoapCall, SoapClient, SoapError, SoapFailure, SoapFault, SoapVersion, WriteXml,
    XmlError, XmlWriter,
};
use crate::http::{Transport, TransportOptions};
use crate::model::{
    AccountId, AccountStatus, AddOn, BuilderProgram, BuilderProgramId, BuilderProgramRecord,
    BuilderProgramRecordId, BuilderProgramRecordKind, BuilderProgramRecordRequest,
    BuilderProgramRecordStatus, CommitmentActivation, CommitmentDetails, CommitmentUpdate, Contact,
    CredentialCheck, IspAccount, MissingPermission, PlanChange, PlanId, ProvisionRequest,
    ServicePlan, UnverifiedPermission,
};
use crate::provider::{
    Capabilities, InteractiveServicesProvider, ProviderOptions, ProviderRegistry,
};
use crate::providers::common::CreateOnce;

pub use spec::{KIND, NAME, SPEC};
pub use wire::{AddOnFeature, PackageGroup, PanelType, Service};

/// Alarm.com's production web services folder.
pub const PRODUCTION_ENDPOINT: &str = "https://alarmadmin.alarm.com/WebServices/";
/// Alarm.com's integrator test host.
pub const TEST_ENDPOINT: &str = "https://alarmadmin.test-us.adcinternal.com/WebServices/";

const PROVIDER: &str = NAME;

/// The legacy role an account owner's integration login needs.
pub const INTEGRATION_ROLE: &str = "SecurityTrax Integration User";
/// The template a sub-dealer's custom integration role is made from.
pub const INTEGRATION_TEMPLATE: &str = "SecurityTrax Integration";
/// The permission billing sync needs.
pub const BILLING_PERMISSION: &str = "setSecurityTraxSettings";

/// The operations the crate modelled (no public source shows them): a service that does not
/// know one answers as ASMX does, and the call is [`Error::Unsupported`] saying so.
pub const MODELLED_OPERATIONS: &[&str] = &[
    "GetLoginRoles",
    billing::ACTIVATE,
    billing::EVENTS,
    billing::SUMMARY,
    builder::LIST,
    builder::CREATE,
    builder::READ,
];
const MODELLED: &[&str] = MODELLED_OPERATIONS;
/// The custom role for Builder Program calls.
pub const BUILDER_PROGRAM_ROLE: &str = "Builder Program";
/// The two legacy roles that together also allow Builder Program calls.
pub const BUILDER_PROGRAM_LEGACY_ROLES: [&str; 2] =
    ["Dealer Administrator", "Manage Builder Program"];

/// Registers Alarm.com in `registry`.
pub(crate) fn register(registry: &mut ProviderRegistry) {
    registry.register_spec(SPEC, |config: &IspConfig, options: &ProviderOptions| {
        let provider = AlarmCom::builder(config).options(options).build()?;
        Ok(Arc::new(provider) as Arc<dyn InteractiveServicesProvider>)
    });
}

/// The Alarm.com provider. Build it with [`AlarmCom::from_config`] or [`AlarmCom::builder`].
#[derive(Debug)]
pub struct AlarmCom {
    soap: SoapClient,
    base: Url,
    /// `CustomerManagement.asmx` and `DealerManagement.asmx` under `base`, joined once.
    urls: [std::result::Result<Url, String>; 2],
    login: spec::Login,
    builder_program: bool,
    billing: bool,
    caller_version: OnceCell<String>,
    /// The login's Builder Program access, once granted or found unreadable (a refusal is not
    /// kept: a role granted later works without a new provider).
    builder_access: OnceCell<BuilderAccess>,
    creates: CreateOnce,
}

/// What the crate found of the login's Builder Program roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuilderAccess {
    /// The login has the custom role or both legacy roles.
    Granted,
    /// The service does not report roles: Alarm.com decides on each call.
    Unverified,
}

/// Builds an [`AlarmCom`] provider with non-default settings.
#[derive(Debug, Clone)]
pub struct AlarmComBuilder {
    config: IspConfig,
    options: TransportOptions,
    client: Option<reqwest::Client>,
    version: SoapVersion,
    creates: CreateOnce,
}

impl AlarmComBuilder {
    /// Transport settings (timeouts, retries, body cap).
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// Everything the host set in `options` (see [`ProviderOptions`]).
    pub fn options(mut self, options: &ProviderOptions) -> Self {
        if let Some(t) = &options.transport {
            self.options = t.clone();
        }
        if let Some(v) = options.soap_version {
            self.version = v;
        }
        if let Some(c) = &options.http_client {
            self.client = Some(c.clone());
        }
        if let Some(c) = &options.create_once {
            self.creates = c.clone();
        }
        self
    }

    /// SOAP 1.1 (default) or 1.2.
    pub fn soap_version(mut self, version: SoapVersion) -> Self {
        self.version = version;
        self
    }

    /// How creates are kept to one per dealer customer id (the coordinator that serializes them,
    /// in-process by default, and the commit horizon).
    pub fn create_once(mut self, settings: CreateOnce) -> Self {
        self.creates = settings;
        self
    }

    /// Builds the provider.
    pub fn build(self) -> Result<AlarmCom> {
        let config = &self.config;
        let login = spec::Login::from_config(config)?;
        let invalid = |msg: String| {
            let mut problems = crate::ValidationErrors::new();
            problems.push("endpoint", msg);
            Error::InvalidConfig {
                provider: PROVIDER.into(),
                problems,
            }
        };
        let mut base = match config.endpoint() {
            Some(u) => u.clone(),
            None => Url::parse(PRODUCTION_ENDPOINT).map_err(|e| invalid(e.to_string()))?,
        };
        if base.path().to_ascii_lowercase().ends_with(".asmx") {
            base = base.join(".").map_err(|e| invalid(e.to_string()))?;
        }
        let secrets = [Some(login.password.clone()), login.two_factor.clone()];
        let transport = match self.client {
            Some(client) => Transport::with_client(PROVIDER, self.options, client),
            None => Transport::new(PROVIDER, self.options)?,
        }
        .with_secrets(secrets.into_iter().flatten());
        let base = super::common::as_folder(base);
        let join = |s: Service| base.join(s.file()).map_err(|e| e.to_string());
        Ok(AlarmCom {
            soap: SoapClient::new(transport, self.version, wire::NAMESPACE, wire::ACTION_BASE),
            urls: [
                join(Service::CustomerManagement),
                join(Service::DealerManagement),
            ],
            base,
            login,
            builder_program: config.builder_program(),
            billing: config.billing(),
            caller_version: OnceCell::new(),
            builder_access: OnceCell::new(),
            creates: self.creates,
        })
    }
}

impl AlarmCom {
    /// A builder from a validated configuration.
    pub fn builder(config: &IspConfig) -> AlarmComBuilder {
        AlarmComBuilder {
            config: config.clone(),
            options: TransportOptions::default(),
            client: None,
            version: SoapVersion::V11,
            creates: CreateOnce::default(),
        }
    }

    /// The provider for `config` with default settings.
    pub fn from_config(config: &IspConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// The URL of a service.
    pub fn service_url(&self, service: Service) -> Result<Url> {
        let url = match service {
            Service::CustomerManagement => &self.urls[0],
            Service::DealerManagement => &self.urls[1],
        };
        url.clone()
            .map_err(|e| Error::invalid_request(PROVIDER, "build URL", e))
    }

    /// An error as the outcome of the crate's `operation`, with the configured secrets
    /// scrubbed from whatever the vendor said.
    fn finish(&self, error: Error, operation: &'static str) -> Error {
        self.soap.transport().redact(error.during(operation))
    }

    fn invalid_response(operation: &'static str, detail: impl Into<String>) -> Error {
        Error::invalid_response(PROVIDER, operation, detail).in_vendor_call(operation)
    }

    /// Sends one operation and returns the `<Op>Result` element (or the `<Op>Response` element
    /// when there is no result), with faults mapped to the crate's errors.
    async fn call(
        &self,
        service: Service,
        operation: &'static str,
        body: Node,
        idempotent: bool,
    ) -> Result<Element> {
        let header = self.authentication();
        let call = SoapCall {
            url: self.service_url(service)?,
            operation,
            header: Some(&header),
            body: &body,
            idempotent,
        };
        self.soap
            .call_result(call)
            .await
            .map_err(|f: SoapFailure| f.into_error(|fault| self.fault_error(operation, fault)))
    }

    /// Sends one operation whose body is written directly, and decodes the answer on the
    /// stream (`decode` gets the cursor inside `<Op>Response`), with faults mapped to the
    /// crate's errors.
    async fn call_with<T>(
        &self,
        service: Service,
        operation: &'static str,
        body: &(dyn WriteXml + Sync),
        idempotent: bool,
        decode: impl for<'a> Fn(&mut Cursor<'a>) -> std::result::Result<T, XmlError>,
    ) -> Result<T> {
        let header = self.authentication();
        let call = SoapCall {
            url: self.service_url(service)?,
            operation,
            header: Some(&header),
            body,
            idempotent,
        };
        self.soap
            .call_with(call, decode)
            .await
            .map_err(|f: SoapFailure| f.into_error(|fault| self.fault_error(operation, fault)))
    }

    /// The `Authentication` header, written straight from the credentials.
    fn authentication(&self) -> impl Fn(&mut XmlWriter<'_>) + '_ {
        let user = self.login.login.as_str();
        let password = self.login.password.expose_secret();
        let two_factor = self
            .login
            .two_factor
            .as_ref()
            .map(|s| s.expose_secret())
            .unwrap_or("");
        move |w: &mut XmlWriter<'_>| wire::write_authentication(w, user, password, two_factor)
    }

    fn fault_error(&self, operation: &'static str, fault: SoapFault) -> Error {
        if fault.is_unknown_operation() {
            let modelled = if MODELLED.contains(&operation) {
                " (the crate modelled it: no public source shows it)"
            } else {
                ""
            };
            return Error::unsupported_because(
                PROVIDER,
                operation,
                format!("this Alarm.com service does not know the operation {operation}{modelled}"),
            )
            .in_vendor_call(operation);
        }
        let text = fault.reason.to_ascii_lowercase();
        if let Some(rest) = fault
            .reason
            .split_once("Permission denied:")
            .map(|(_, r)| r.trim().trim_end_matches('.').to_owned())
        {
            let (permission, guidance) = self.permission_guidance(&rest);
            return Error::permission_denied(PROVIDER, operation, permission, guidance)
                .in_vendor_call(operation);
        }
        if text.contains("authentication")
            || text.contains("invalid login")
            || text.contains("password")
        {
            return Error::unauthenticated(PROVIDER, operation, fault.reason)
                .in_vendor_call(operation);
        }
        if text.contains("not found") || text.contains("does not exist") {
            return Error::not_found(PROVIDER, operation, fault.reason).in_vendor_call(operation);
        }
        SoapError::Fault(fault).into_error(PROVIDER, operation)
    }

    /// The report when the service does not offer `GetLoginRoles`: the login works (a seen call
    /// accepted it), and every role the configuration needs is listed as unread.
    fn roles_unread(&self) -> CredentialCheck {
        let why =
            "Alarm.com did not offer the call the crate reads roles with (GetLoginRoles, modelled)";
        let sub_dealer = self.login.dealer_id.is_some();
        let (integration, integration_steps) = self.integration_guidance(sub_dealer);
        let mut unverified = vec![UnverifiedPermission {
            permission: integration,
            needed_for: "provisioning".into(),
            how_to_check: format!(
                "{why}. Check it in the Alarm.com Partner Portal: {integration_steps}"
            ),
        }];
        if self.builder_program {
            unverified.push(UnverifiedPermission {
                permission: format!(
                    "{BUILDER_PROGRAM_ROLE} (or both {} and {})",
                    BUILDER_PROGRAM_LEGACY_ROLES[0], BUILDER_PROGRAM_LEGACY_ROLES[1]
                ),
                needed_for: "builder_program".into(),
                how_to_check: format!(
                    "{why}. In the Alarm.com Partner Portal open Users, edit the integration login and check its Roles."
                ),
            });
        }
        if self.billing {
            unverified.push(UnverifiedPermission {
            permission: BILLING_PERMISSION.into(),
            needed_for: "billing".into(),
            how_to_check: format!(
                "{why}. Check the dealer account's permissions in the Alarm.com Partner Portal (dealer settings, permissions)."
            ),
        });
        }
        CredentialCheck {
            login: self.login.login.clone(),
            granted: Vec::new(),
            missing: Vec::new(),
            unverified,
        }
    }

    /// The name to show and the steps to grant a missing role or permission.
    fn permission_guidance(&self, missing: &str) -> (String, String) {
        let sub_dealer = self.login.dealer_id.is_some();
        if missing == INTEGRATION_ROLE || missing.contains(INTEGRATION_TEMPLATE) {
            return self.integration_guidance(sub_dealer);
        }
        if missing == BILLING_PERMISSION {
            return (
                BILLING_PERMISSION.into(),
                if sub_dealer {
                    format!(
                        "Billing sync needs the `{BILLING_PERMISSION}` permission on the dealer account. Ask the account owner to request it for sub-dealer {} from their Alarm.com technical account manager; once it is granted, activate billing sync again.",
                        self.login.dealer_id.unwrap_or_default()
                    )
                } else {
                    format!(
                        "Billing sync needs the `{BILLING_PERMISSION}` permission on the dealer account. Ask your Alarm.com technical account manager to grant it; once it is granted, activate billing sync again (activate_billing)."
                    )
                },
            );
        }
        let [admin, manage] = BUILDER_PROGRAM_LEGACY_ROLES;
        if missing == BUILDER_PROGRAM_ROLE {
            return (
                missing.to_owned(),
                format!(
                    "Builder Program calls need the custom role \"{BUILDER_PROGRAM_ROLE}\", or both legacy roles \"{admin}\" and \"{manage}\". In the Alarm.com Partner Portal, give the integration login the custom role (Roles, create the custom role \"{BUILDER_PROGRAM_ROLE}\" if it does not exist; then Users, edit the login, Roles), or both legacy roles (Users, edit the login, Roles)."
                ),
            );
        }
        if BUILDER_PROGRAM_LEGACY_ROLES.contains(&missing) {
            return (
                missing.to_owned(),
                format!(
                    "Builder Program calls need both legacy roles \"{admin}\" and \"{manage}\" (or the custom role \"{BUILDER_PROGRAM_ROLE}\" instead); one is not enough. In the Alarm.com Partner Portal open Users, edit the integration login and add the legacy role \"{missing}\" under Roles."
                ),
            );
        }
        (
            missing.to_owned(),
            format!(
                "Alarm.com refused the call for lack of \"{missing}\"; give the integration login that role or permission in the Alarm.com Partner Portal."
            ),
        )
    }

    fn integration_guidance(&self, sub_dealer: bool) -> (String, String) {
        if sub_dealer {
            (
                format!("a custom role from the \"{INTEGRATION_TEMPLATE}\" template"),
                format!(
                    "This login belongs to sub-dealer {}. Ask the account owner to create a custom role from the \"{INTEGRATION_TEMPLATE}\" template in the Alarm.com Partner Portal (Roles, new custom role) and assign it to this login.",
                    self.login.dealer_id.unwrap_or_default()
                ),
            )
        } else {
            (
                INTEGRATION_ROLE.into(),
                format!(
                    "As the account owner, open Users in the Alarm.com Partner Portal, edit the integration login and give it the legacy role \"{INTEGRATION_ROLE}\"."
                ),
            )
        }
    }

    fn customer_id(operation: &'static str, id: &AccountId) -> Result<i64> {
        super::common::numeric_id(PROVIDER, operation, id)
    }

    fn parse<T>(operation: &'static str, r: std::result::Result<T, wire::ParseError>) -> Result<T> {
        r.map_err(|detail| Self::invalid_response(operation, detail))
    }

    fn check_success(&self, operation: &'static str, result: &Element) -> Result<()> {
        Self::success_of(operation, wire::success(result))
    }

    /// A `{Success, ErrorMessage}` outcome as the crate's result.
    fn success_of(
        operation: &'static str,
        outcome: std::result::Result<std::result::Result<(), String>, wire::ParseError>,
    ) -> Result<()> {
        match Self::parse(operation, outcome)? {
            Ok(()) => Ok(()),
            // Success=false: the service refused the input (a package, an add-on, a field).
            Err(message) => {
                Err(
                    Error::rejected(PROVIDER, operation, Some("Success=false".into()), message)
                        .in_vendor_call(operation),
                )
            }
        }
    }

    async fn caller_version(&self) -> Result<String> {
        self.caller_version
            .get_or_try_init(|| async {
                const OP: &str = "GetLatestCallerVersion";
                let v = self
                    .call_with(
                        Service::DealerManagement,
                        OP,
                        &|w: &mut XmlWriter<'_>| {
                            w.empty_ns(OP, wire::NAMESPACE);
                        },
                        true,
                        |c| {
                            wire::result::<BareText<'_>>(c, "GetLatestCallerVersionResult")
                                .map(|r| r.text.trim().to_owned())
                        },
                    )
                    .await?;
                if v.is_empty() {
                    return Err(Self::invalid_response(
                        "GetLatestCallerVersion",
                        "the caller version is empty",
                    ));
                }
                Ok(v)
            })
            .await
            .cloned()
    }

    /// `LookupCustomerIdFromDealerCustomerId`: the customer id, or `None` when the service
    /// answers `0`.
    pub async fn lookup_dealer_customer(
        &self,
        dealer_customer_id: &str,
    ) -> Result<Option<AccountId>> {
        const OP: &str = "LookupCustomerIdFromDealerCustomerId";
        let n = self
            .call_with(
                Service::CustomerManagement,
                OP,
                &|w: &mut XmlWriter<'_>| {
                    wire::write_one_field(w, OP, "dealerCustomerId", dealer_customer_id)
                },
                true,
                |c| {
                    wire::result::<BareText<'_>>(c, "LookupCustomerIdFromDealerCustomerIdResult")
                        .map(|r| wire::parse_int(&r.text))
                },
            )
            .await?;
        // Only 0 means "absent"; a negative or unreadable answer is not taken for it.
        match Self::parse(OP, n)? {
            0 => Ok(None),
            id => Self::parse(OP, wire::parse_id(&id.to_string(), "the customer id"))
                .map(|id| Some(AccountId::new(id.to_string()))),
        }
    }

    async fn create_customer(
        &self,
        request: &ProvisionRequest,
        plan: &PlanId,
    ) -> Result<IspAccount> {
        // BuilderProgramId only for a configuration that opted in (provision refused the
        // request otherwise): never from the request alone.
        let program = request
            .builder_program
            .as_ref()
            .filter(|_| self.builder_program);
        let input = wire::create_customer_input(request, plan, program);
        let (op, body) = match self.login.dealer_id {
            Some(d) => (
                "CreateCustomerForDealer",
                Node::new("CreateCustomerForDealer")
                    .xmlns(wire::NAMESPACE)
                    .child(input)
                    .field("dealerId", d.to_string()),
            ),
            None => (
                "CreateCustomer",
                Node::new("CreateCustomer")
                    .xmlns(wire::NAMESPACE)
                    .child(input),
            ),
        };
        let result = if self.login.dealer_id.is_some() {
            "CreateCustomerForDealerResult"
        } else {
            "CreateCustomerResult"
        };
        let (outcome, id, login_name, password) = self
            .call_with(Service::CustomerManagement, op, &body, false, |c| {
                let r = wire::result::<wire::Outcome<'_>>(c, result)?;
                let owned = |t: &Option<crate::http::soap::stream::Text<'_>>| {
                    t.as_deref().map(|t| t.trim().to_owned())
                };
                Ok((
                    r.success(),
                    owned(&r.customer_id),
                    owned(&r.login_name),
                    owned(&r.password).map(SecretString::from),
                ))
            })
            .await?;
        Self::success_of(op, outcome)?;
        let id = id.ok_or_else(|| Self::invalid_response(op, "the result has no CustomerId"))?;
        let id = Self::parse(op, wire::parse_int(&id))?;
        if id <= 0 {
            return Err(Self::invalid_response(
                op,
                format!("CustomerId {id} is not an id"),
            ));
        }
        Ok(IspAccount {
            id: AccountId::new(id.to_string()),
            dealer_customer_id: Some(request.dealer_customer_id.clone()),
            contact: request.contact.clone(),
            login_name: login_name.filter(|l| !l.is_empty()),
            initial_password: password.filter(|p| !p.expose_secret().is_empty()),
            plan: Some(plan.clone()),
            add_ons: request
                .add_ons
                .iter()
                .filter(|a| a.quantity.is_none())
                .cloned()
                .collect(),
            status: AccountStatus::Active,
            created_at: Some(chrono::Utc::now()),
        })
    }

    /// The vendor account creates are kept to one per dealer customer id in: the service, the
    /// login and the sub-dealer.
    fn create_scope(&self) -> String {
        format!(
            "{}|{}|{}",
            self.base,
            self.login.login,
            self.login.dealer_id.unwrap_or(0)
        )
    }

    /// A CustomerManagement operation that takes only `customerId` (a read or an idempotent
    /// change), its `<Op>Result` decoded on the stream.
    async fn customer_call<T>(
        &self,
        operation: &'static str,
        customer: i64,
        decode: impl for<'a> Fn(&mut Cursor<'a>) -> std::result::Result<T, XmlError>,
    ) -> Result<T> {
        self.call_with(
            Service::CustomerManagement,
            operation,
            &|w: &mut XmlWriter<'_>| wire::write_customer_request(w, operation, customer),
            true,
            decode,
        )
        .await
    }

    async fn set_quantity(&self, customer: i64, feature: &str, quantity: u32) -> Result<()> {
        const OP: &str = "SetAddOnQuantity";
        let outcome = self
            .call_with(
                Service::CustomerManagement,
                OP,
                &|w: &mut XmlWriter<'_>| wire::write_set_quantity(w, customer, feature, quantity),
                true,
                |c| {
                    wire::result::<wire::Outcome<'_>>(c, "SetAddOnQuantityResult")
                        .map(|r| r.success())
                },
            )
            .await?;
        Self::success_of(OP, outcome)
    }
}

super::common::vendor_provider!(
    AlarmCom,
    kind: KIND,
    // The event feed is the billing feed: there only when the configuration opted in.
    capabilities: |this| Capabilities {
            validate_only_changes: true,
            add_on_quantities: true,
            account_listing: true,
            events: this.billing,
            billing: this.billing,
            builder_program: this.builder_program,
            ..Capabilities::NONE
        },
    extra: {
        async fn events_since(
            &self,
            cursor: Option<&crate::model::Cursor>,
        ) -> crate::Result<crate::model::EventPage> {
            self.events_since_inner(cursor)
                .await
                .map_err(|e| self.finish(e, "events_since"))
        }

        async fn activate_billing(&self) -> crate::Result<()> {
            self.activate_billing_inner()
                .await
                .map_err(|e| self.finish(e, "activate_billing"))
        }

        async fn push_billing_summary(
            &self,
            account: &AccountId,
            summary: &crate::model::BillingSummary,
        ) -> crate::Result<()> {
            self.push_billing_summary_inner(account, summary)
                .await
                .map_err(|e| self.finish(e, "push_billing_summary"))
        }

        async fn builder_programs(&self) -> crate::Result<Vec<BuilderProgram>> {
            self.builder_programs_inner()
                .await
                .map_err(|e| self.finish(e, "builder_programs"))
        }

        async fn create_builder_program_record(
            &self,
            request: &BuilderProgramRecordRequest,
        ) -> crate::Result<BuilderProgramRecord> {
            self.create_builder_program_record_inner(request)
                .await
                .map_err(|e| self.finish(e, "create_builder_program_record"))
        }

        async fn commitment(
            &self,
            id: &BuilderProgramRecordId,
        ) -> crate::Result<BuilderProgramRecord> {
            self.commitment_inner(id)
                .await
                .map_err(|e| self.finish(e, "commitment"))
        }

        async fn update_commitment(
            &self,
            id: &BuilderProgramRecordId,
            update: &CommitmentUpdate,
        ) -> crate::Result<BuilderProgramRecord> {
            self.update_commitment_inner(id, update)
                .await
                .map_err(|e| self.finish(e, "update_commitment"))
        }

        async fn activate_commitment(
            &self,
            id: &BuilderProgramRecordId,
            activation: &CommitmentActivation,
        ) -> crate::Result<IspAccount> {
            self.activate_commitment_inner(id, activation)
                .await
                .map_err(|e| self.finish(e, "activate_commitment"))
        }
    }
);

/// Billing sync (modelled; see [`billing`]).
impl AlarmCom {
    async fn events_since_inner(
        &self,
        cursor: Option<&crate::model::Cursor>,
    ) -> Result<crate::model::EventPage> {
        if !self.billing {
            return Err(Error::unsupported_because(
                PROVIDER,
                "events_since",
                "Alarm.com's event feed is its billing feed, and this configuration has not opted into billing sync",
            ));
        }
        let after = billing::after_event_id(cursor)
            .map_err(|why| Error::invalid_request(PROVIDER, "events_since", why))?;
        let r = self
            .call(
                Service::CustomerManagement,
                billing::EVENTS,
                billing::events_request(after),
                true,
            )
            .await?;
        Self::parse(billing::EVENTS, billing::parse_events(&r, after))
    }

    async fn activate_billing_inner(&self) -> Result<()> {
        // The permission is checked first where the roles can be read; a service that cannot
        // say leaves it to the activation call, which answers a permission fault itself.
        let check = self.validate_credentials_inner().await?;
        if check.unverified.is_empty() && !check.granted.iter().any(|g| g == "billing") {
            let (permission, guidance) = self.permission_guidance(BILLING_PERMISSION);
            return Err(Error::permission_denied(
                PROVIDER,
                "activate_billing",
                permission,
                guidance,
            ));
        }
        let r = self
            .call(
                Service::DealerManagement,
                billing::ACTIVATE,
                billing::activate_request(),
                true,
            )
            .await?;
        self.check_success(billing::ACTIVATE, &r)
    }

    async fn push_billing_summary_inner(
        &self,
        account: &AccountId,
        summary: &crate::model::BillingSummary,
    ) -> Result<()> {
        let customer = Self::customer_id("push_billing_summary", account)?;
        // The summary replaces the previous one: sending it twice is harmless, so it may be
        // retried.
        let r = self
            .call(
                Service::CustomerManagement,
                billing::SUMMARY,
                billing::summary_request(customer, summary),
                true,
            )
            .await?;
        self.check_success(billing::SUMMARY, &r)
    }
}

/// The operations' bodies; the trait methods name the crate's operation on their errors.
impl AlarmCom {
    async fn validate_credentials_inner(&self) -> Result<CredentialCheck> {
        const OP: &str = "GetLoginRoles";
        // The credentials themselves are checked with a cheap authenticated call that public
        // sources show; a bad login fails here.
        self.caller_version().await?;
        // The roles come from a modelled call: a service that does not know it leaves them
        // unread, with the steps to check them by hand, and the check goes on.
        let r = match self
            .call_with(
                Service::DealerManagement,
                OP,
                &|w: &mut XmlWriter<'_>| {
                    w.empty_ns(OP, wire::NAMESPACE);
                },
                true,
                wire::decode_login_roles,
            )
            .await
        {
            Ok(r) => r,
            Err(Error::Unsupported { .. }) => return Ok(self.roles_unread()),
            Err(e) => return Err(e),
        };
        let mut legacy: BTreeSet<String> = BTreeSet::new();
        let mut custom: BTreeSet<String> = BTreeSet::new();
        let mut templates: BTreeSet<String> = BTreeSet::new();
        for role in &r.roles {
            let name = role.name.clone().unwrap_or_default();
            let is_legacy = role
                .is_legacy
                .as_deref()
                .map(wire::parse_bool)
                .transpose()
                .map_err(|d| Self::invalid_response(OP, d))?
                .unwrap_or(false);
            if let Some(t) = role.template.as_ref().filter(|t| !t.is_empty()) {
                templates.insert(t.clone());
            }
            if is_legacy {
                legacy.insert(name);
            } else {
                custom.insert(name);
            }
        }
        let permissions: BTreeSet<String> = r.permissions.iter().cloned().collect();

        let sub_dealer = self.login.dealer_id.is_some();
        let can_provision = if sub_dealer {
            templates.contains(INTEGRATION_TEMPLATE)
        } else {
            legacy.contains(INTEGRATION_ROLE) || templates.contains(INTEGRATION_TEMPLATE)
        };
        if !can_provision {
            let (permission, guidance) = self.integration_guidance(sub_dealer);
            return Err(Error::permission_denied(
                PROVIDER,
                "validate_credentials",
                permission,
                guidance,
            ));
        }
        let mut granted = vec!["provisioning".to_owned()];
        let mut missing = Vec::new();
        if permissions.contains(BILLING_PERMISSION) {
            granted.push("billing".into());
        } else if self.billing {
            let (permission, guidance) = self.permission_guidance(BILLING_PERMISSION);
            missing.push(MissingPermission {
                permission,
                needed_for: "billing".into(),
                guidance,
            });
        }
        let builder_ok = custom.contains(BUILDER_PROGRAM_ROLE)
            || BUILDER_PROGRAM_LEGACY_ROLES
                .iter()
                .all(|r| legacy.contains(*r));
        if builder_ok {
            granted.push("builder_program".into());
        } else if self.builder_program {
            // With one of the two legacy roles, name the other; with neither, the custom role.
            let lacking = if BUILDER_PROGRAM_LEGACY_ROLES
                .iter()
                .any(|r| legacy.contains(*r))
            {
                BUILDER_PROGRAM_LEGACY_ROLES
                    .iter()
                    .copied()
                    .find(|r| !legacy.contains(*r))
                    .unwrap_or(BUILDER_PROGRAM_ROLE)
            } else {
                BUILDER_PROGRAM_ROLE
            };
            let (permission, guidance) = self.permission_guidance(lacking);
            missing.push(MissingPermission {
                permission,
                needed_for: "builder_program".into(),
                guidance,
            });
        }
        Ok(CredentialCheck {
            login: r
                .login_name
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| self.login.login.clone()),
            granted,
            missing,
            unverified: Vec::new(),
        })
    }

    async fn service_plans_inner(&self) -> Result<Vec<ServicePlan>> {
        const OP: &str = "GetPackageIds";
        let caller_version = self.caller_version().await?;
        let mut plans: Vec<ServicePlan> = Vec::new();
        for account_type in ["Residential", "Commercial"] {
            let dealer_id = self.login.dealer_id.unwrap_or(0);
            let packages = self
                .call_with(
                    Service::DealerManagement,
                    OP,
                    &|w: &mut XmlWriter<'_>| {
                        w.start_ns(OP, wire::NAMESPACE)
                            .start("input")
                            .field_int("DealerId", dealer_id)
                            .field("accountType", account_type)
                            .field("CallerVersion", caller_version.as_str())
                            .end("input")
                            .end(OP);
                    },
                    true,
                    wire::decode_packages,
                )
                .await?;
            for info in packages {
                let id = info
                    .id
                    .filter(|i| !i.is_empty())
                    .ok_or_else(|| Self::invalid_response(OP, "a package has no PackageId"))?;
                if plans.iter().any(|p| p.id.as_str() == id) {
                    continue;
                }
                plans.push(ServicePlan {
                    name: info
                        .name
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| id.clone()),
                    plan_type: info.group.filter(|g| !g.is_empty()),
                    id: PlanId::new(id),
                });
            }
        }
        Ok(plans)
    }

    async fn provision_inner(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        super::common::valid_request(PROVIDER, request)?;
        let mut problems = crate::ValidationErrors::new();
        SPEC.validate_provision_fields(&request.vendor_fields, &mut problems);
        if let Some(program) = &request.builder_program {
            if !self.builder_program {
                problems.push(
                    "builder_program",
                    "this configuration has not opted into the Builder Program; leave the Builder Program out, or turn the configuration's Builder Program opt-in on",
                );
            } else if !builder::is_program_id(program) {
                problems.push("builder_program", PROGRAM_ID_RULE);
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid_request(
                PROVIDER,
                "provision",
                problems.to_string(),
            ));
        }
        let plan = request.plan.clone().ok_or_else(|| {
            Error::invalid_request(
                PROVIDER,
                "provision",
                "the request names no service plan (package id)",
            )
        })?;
        if let Err(why) = (SPEC.check_plan_id)(plan.as_str()) {
            return Err(Error::invalid_request(PROVIDER, "provision", why));
        }
        if request.builder_program.is_some() {
            self.ensure_builder_access().await?;
        }
        let dealer_id = request.dealer_customer_id.as_str();
        let scope = self.create_scope();
        let mut account = super::common::create_once(
            &self.creates,
            PROVIDER,
            &scope,
            dealer_id,
            || self.lookup_dealer_customer(dealer_id),
            || self.create_customer(request, &plan),
            |found| async move { self.account(&found).await },
        )
        .await?;
        // Quantity add-ons are set after the customer exists (SetAddOnQuantity is idempotent).
        let quantities: Vec<&AddOn> = request
            .add_ons
            .iter()
            .filter(|a| a.quantity.is_some())
            .collect();
        if !quantities.is_empty() {
            let id = Self::customer_id("provision", &account.id)?;
            for a in quantities {
                let q = a.quantity.unwrap_or(0);
                self.set_quantity(id, a.feature.as_str(), q).await?;
                if q > 0 {
                    account.add_ons.insert(a.clone());
                }
            }
        }
        Ok(account)
    }

    async fn account_inner(&self, id: &AccountId) -> Result<IspAccount> {
        const OP: &str = "GetCustomerInfo";
        let customer = Self::customer_id("account", id)?;
        let account = self
            .customer_call(OP, customer, wire::decode_customer_info)
            .await?;
        // An empty or nil result is how a missing customer may also come back.
        let Some(account) = account else {
            return Err(Error::not_found(
                PROVIDER,
                "account",
                format!("customer {customer}"),
            ));
        };
        let account = Self::parse(OP, account)?;
        if account.id.as_str() != customer.to_string() {
            return Err(Self::invalid_response(
                OP,
                format!(
                    "the answer is for customer {}, not customer {customer}",
                    account.id
                ),
            ));
        }
        Ok(account)
    }

    async fn change_plan_inner(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        let customer = Self::customer_id("change_plan", id)?;
        let current = self.account(id).await?;
        let plan = super::common::plan_for_change(PROVIDER, id, &current, change)?;
        let next = change.apply_to(&current.add_ons);
        let on_off = |set: &BTreeSet<AddOn>| -> BTreeSet<String> {
            set.iter()
                .filter(|a| a.quantity.is_none() && !wire::is_quantity_add_on(a.feature.as_str()))
                .map(|a| a.feature.to_string())
                .collect()
        };
        let wanted = on_off(&next);
        let op = if change.validate_only {
            "ChangeServicePlanValidationOnly"
        } else {
            "ChangeServicePlan"
        };
        if change.validate_only
            || Some(&plan) != current.plan.as_ref()
            || wanted != on_off(&current.add_ons)
        {
            let result = if change.validate_only {
                "ChangeServicePlanValidationOnlyResult"
            } else {
                "ChangeServicePlanResult"
            };
            let outcome = self
                .call_with(
                    Service::CustomerManagement,
                    op,
                    &|w: &mut XmlWriter<'_>| {
                        wire::write_change_service_plan(w, op, customer, plan.as_str(), &wanted)
                    },
                    // The full set is sent: repeating it is harmless.
                    true,
                    |c| wire::result::<wire::Outcome<'_>>(c, result).map(|r| r.success()),
                )
                .await?;
            Self::success_of(op, outcome)?;
        }
        if change.validate_only {
            return Ok(current);
        }
        // Quantity add-ons: set every one whose quantity changed, 0 for removed ones.
        let quantity_of = |set: &BTreeSet<AddOn>, f: &str| {
            set.iter()
                .find(|a| a.feature.as_str() == f)
                .map(|a| a.quantity.unwrap_or(1))
                .unwrap_or(0)
        };
        let quantity_features: BTreeSet<&str> = current
            .add_ons
            .iter()
            .chain(next.iter())
            .filter(|a| a.quantity.is_some() || wire::is_quantity_add_on(a.feature.as_str()))
            .map(|a| a.feature.as_str())
            .chain(
                change
                    .add
                    .iter()
                    .filter(|a| a.quantity.is_some())
                    .map(|a| a.feature.as_str()),
            )
            .collect();
        for f in quantity_features {
            let (before, after) = (quantity_of(&current.add_ons, f), quantity_of(&next, f));
            if before != after {
                self.set_quantity(customer, f, after).await?;
            }
        }
        self.account(id).await
    }

    async fn terminate_inner(&self, id: &AccountId) -> Result<()> {
        const OP: &str = "TerminateCustomer";
        let customer = Self::customer_id("terminate", id)?;
        let terminated = self
            .customer_call(OP, customer, |c| {
                wire::result::<BareText<'_>>(c, "TerminateCustomerResult")
                    .map(|r| wire::parse_bool(&r.text))
            })
            .await?;
        if Self::parse(OP, terminated)? {
            return Ok(());
        }
        // `false`: already terminated is success; anything else is the service refusing.
        let account = self.account(id).await?;
        if account.status == AccountStatus::Terminated {
            Ok(())
        } else {
            Err(Error::vendor(
                PROVIDER,
                "terminate",
                Some("false".into()),
                format!("TerminateCustomer answered false and customer {customer} is still active"),
            )
            .in_vendor_call(OP))
        }
    }

    async fn list_accounts_inner(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        const OP: &str = "GetCustomerList";
        let ids = self
            .call_with(
                Service::CustomerManagement,
                OP,
                &|w: &mut XmlWriter<'_>| {
                    wire::write_one_field(
                        w,
                        OP,
                        "includeTermed",
                        if include_terminated { "true" } else { "false" },
                    )
                },
                true,
                wire::decode_customer_list,
            )
            .await?;
        Self::parse(OP, ids)
    }
}

/// What an Alarm.com Builder Program id is.
const PROGRAM_ID_RULE: &str =
    "an Alarm.com Builder Program id is a positive whole number; choose one from builder_programs";

/// An account that only carries an id through [`create_once`](super::common::create_once),
/// which speaks accounts: a commitment's id, for the record built around it.
fn id_carrier(id: AccountId) -> IspAccount {
    IspAccount {
        id,
        dealer_customer_id: None,
        contact: Contact::default(),
        login_name: None,
        initial_password: None,
        plan: None,
        add_ons: BTreeSet::new(),
        status: AccountStatus::Other("commitment".into()),
        created_at: None,
    }
}

/// The Builder Program (partly modelled; see [`builder`]).
impl AlarmCom {
    /// Refuses a Builder Program call before any request when the configuration has not
    /// opted in.
    fn ensure_builder_opt_in(&self, operation: &'static str) -> Result<()> {
        if self.builder_program {
            return Ok(());
        }
        Err(Error::unsupported_because(
            PROVIDER,
            operation,
            "this configuration has not opted into the Builder Program (its builder_program opt-in is off); nothing was sent",
        ))
    }

    /// The login's Builder Program roles, read once: a login without them is refused with
    /// the exact role it lacks; a service that cannot report roles leaves it to each call.
    async fn ensure_builder_access(&self) -> Result<BuilderAccess> {
        self.builder_access
            .get_or_try_init(|| async {
                let check = self.validate_credentials_inner().await?;
                if check.can("builder_program") {
                    return Ok(BuilderAccess::Granted);
                }
                if check
                    .unverified
                    .iter()
                    .any(|u| u.needed_for == "builder_program")
                {
                    return Ok(BuilderAccess::Unverified);
                }
                let (permission, guidance) = match check
                    .missing
                    .into_iter()
                    .find(|m| m.needed_for == "builder_program")
                {
                    Some(m) => (m.permission, m.guidance),
                    None => self.permission_guidance(BUILDER_PROGRAM_ROLE),
                };
                Err(Error::permission_denied(
                    PROVIDER,
                    "builder_program",
                    permission,
                    guidance,
                ))
            })
            .await
            .copied()
    }

    /// A Builder Program vendor call. A permission fault naming something the crate does not
    /// know still says what Builder Program calls need and how to grant it.
    async fn builder_call(
        &self,
        service: Service,
        operation: &'static str,
        body: Node,
        idempotent: bool,
    ) -> Result<Element> {
        self.call(service, operation, body, idempotent)
            .await
            .map_err(|e| match e {
                Error::PermissionDenied {
                    provider,
                    operation,
                    vendor_operation,
                    permission,
                    guidance: _,
                } if permission != BUILDER_PROGRAM_ROLE
                    && !BUILDER_PROGRAM_LEGACY_ROLES.contains(&permission.as_str())
                    && permission != INTEGRATION_ROLE
                    && !permission.contains(INTEGRATION_TEMPLATE) =>
                {
                    let (_, builder) = self.permission_guidance(BUILDER_PROGRAM_ROLE);
                    Error::PermissionDenied {
                        guidance: format!(
                            "{builder} (Alarm.com named \"{permission}\" as missing.)"
                        ),
                        provider,
                        operation,
                        vendor_operation,
                        permission,
                    }
                }
                other => other,
            })
    }

    fn record_id(operation: &'static str, id: &BuilderProgramRecordId) -> Result<i64> {
        builder::commitment_id(id).map_err(|why| Error::invalid_request(PROVIDER, operation, why))
    }

    async fn builder_programs_inner(&self) -> Result<Vec<BuilderProgram>> {
        self.ensure_builder_opt_in("builder_programs")?;
        self.ensure_builder_access().await?;
        let r = self
            .builder_call(
                Service::DealerManagement,
                builder::LIST,
                builder::list_request(self.login.dealer_id.unwrap_or(0)),
                true,
            )
            .await?;
        Self::parse(builder::LIST, builder::parse_programs(&r))
    }

    async fn create_builder_program_record_inner(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "create_builder_program_record";
        self.ensure_builder_opt_in(OP)?;
        // Every problem at once, the request's own and Alarm.com's, before any request.
        let mut problems = request.validate().err().unwrap_or_default();
        if !request.program.as_str().trim().is_empty() && !builder::is_program_id(&request.program)
        {
            problems.push("program", PROGRAM_ID_RULE);
        }
        if let BuilderProgramRecordKind::Customer(customer) = &request.record {
            SPEC.validate_provision_fields(&customer.vendor_fields, &mut problems);
            match &customer.plan {
                None => problems.push(
                    "plan",
                    "the customer names no service plan (package id); a configured provider fills in the default plan",
                ),
                Some(plan) => {
                    if let Err(why) = (SPEC.check_plan_id)(plan.as_str()) {
                        problems.push("plan", why);
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid_request(PROVIDER, OP, problems.to_string()));
        }
        self.ensure_builder_access().await?;
        match &request.record {
            BuilderProgramRecordKind::Commitment(details) => {
                self.create_commitment(&request.program, details).await
            }
            BuilderProgramRecordKind::Customer(customer) => {
                let mut customer = (**customer).clone();
                customer.builder_program = Some(request.program.clone());
                let account = self.provision_inner(&customer).await?;
                let mut record = BuilderProgramRecord::new(
                    account.id.as_str(),
                    request.program.clone(),
                    customer.dealer_customer_id.clone(),
                );
                record.status = BuilderProgramRecordStatus::Live;
                record.account = Some(account.id.clone());
                record.address = Some(builder::sent_address(
                    customer
                        .installation_address
                        .as_ref()
                        .unwrap_or(&customer.address),
                ));
                record.expected_panel_type = customer.panel_type.clone();
                Ok(record)
            }
        }
    }

    /// Creates a commitment at most once per dealer customer id, as provisioning creates a
    /// customer: look up first, never repeat a create whose answer was lost.
    async fn create_commitment(
        &self,
        program: &BuilderProgramId,
        details: &CommitmentDetails,
    ) -> Result<BuilderProgramRecord> {
        let dealer = details.dealer_customer_id.as_str();
        let scope = self.create_scope();
        let created = super::common::create_once(
            &self.creates,
            PROVIDER,
            &scope,
            dealer,
            || self.lookup_dealer_customer(dealer),
            || async {
                self.create_commitment_call(program, details)
                    .await
                    .map(id_carrier)
            },
            |found| async move { Ok(id_carrier(found)) },
        )
        .await;
        match created {
            // Created now, or found after a lost answer: the commitment this request made.
            Ok(carrier) => {
                let mut record = BuilderProgramRecord::new(
                    carrier.id.as_str(),
                    program.clone(),
                    details.dealer_customer_id.clone(),
                );
                record.address = Some(builder::sent_address(&details.address));
                record.expected_panel_type = details.expected_panel_type.clone();
                record.ready_date = details.ready_date;
                Ok(record)
            }
            Err(conflict) => match conflict.existing_account().cloned() {
                Some(existing) => {
                    self.existing_commitment(program, dealer, existing, conflict)
                        .await
                }
                None => Err(conflict),
            },
        }
    }

    /// The dealer customer id already has a record: the same commitment saved again is that
    /// commitment; anything else is a conflict naming it.
    async fn existing_commitment(
        &self,
        program: &BuilderProgramId,
        dealer: &str,
        existing: AccountId,
        conflict: Error,
    ) -> Result<BuilderProgramRecord> {
        let id = match existing.as_str().parse::<i64>() {
            Ok(id) => id,
            Err(_) => return Err(conflict),
        };
        match self.read_commitment(id).await {
            Ok(record) if builder::same_program(&record.program, program) => Ok(record),
            Ok(record) => Err(Error::Conflict {
                provider: PROVIDER.into(),
                operation: "create_builder_program_record",
                vendor_operation: None,
                message: format!(
                    "dealer customer {dealer} already has commitment {} on Builder Program {}",
                    record.id, record.program
                ),
                existing: Some(existing),
            }),
            Err(Error::NotFound { .. }) => Err(Error::Conflict {
                provider: PROVIDER.into(),
                operation: "create_builder_program_record",
                vendor_operation: None,
                message: format!(
                    "dealer customer {dealer} already has customer account {existing}, which is not a commitment"
                ),
                existing: Some(existing),
            }),
            // The service cannot say what the record is: the conflict as provisioning reports it.
            Err(Error::Unsupported { .. }) => Err(conflict),
            Err(e) => Err(e),
        }
    }

    async fn create_commitment_call(
        &self,
        program: &BuilderProgramId,
        details: &CommitmentDetails,
    ) -> Result<AccountId> {
        let r = self
            .builder_call(
                Service::CustomerManagement,
                builder::CREATE,
                builder::create_request(program, details),
                false,
            )
            .await?;
        self.check_success(builder::CREATE, &r)?;
        let id = Self::parse(builder::CREATE, builder::result_id(&r, "CommitmentId"))?.ok_or_else(
            || Self::invalid_response(builder::CREATE, "the result has no CommitmentId"),
        )?;
        Ok(AccountId::new(id.to_string()))
    }

    async fn read_commitment(&self, id: i64) -> Result<BuilderProgramRecord> {
        let r = self
            .builder_call(
                Service::CustomerManagement,
                builder::READ,
                builder::read_request(id),
                true,
            )
            .await?;
        if r.children.is_empty() {
            return Err(
                Error::not_found(PROVIDER, "commitment", format!("commitment {id}"))
                    .in_vendor_call(builder::READ),
            );
        }
        let record = Self::parse(builder::READ, builder::parse_commitment(&r))?;
        if record.id.as_str() != id.to_string() {
            return Err(Self::invalid_response(
                builder::READ,
                format!(
                    "the answer is for commitment {}, not commitment {id}",
                    record.id
                ),
            ));
        }
        Ok(record)
    }

    async fn commitment_inner(&self, id: &BuilderProgramRecordId) -> Result<BuilderProgramRecord> {
        const OP: &str = "commitment";
        self.ensure_builder_opt_in(OP)?;
        let id = Self::record_id(OP, id)?;
        self.ensure_builder_access().await?;
        self.read_commitment(id).await
    }

    async fn update_commitment_inner(
        &self,
        id: &BuilderProgramRecordId,
        update: &CommitmentUpdate,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "update_commitment";
        self.ensure_builder_opt_in(OP)?;
        let mut problems = update.validate().err().unwrap_or_default();
        let number = builder::commitment_id(id).unwrap_or_else(|why| {
            problems.push("id", why);
            0
        });
        if !problems.is_empty() {
            return Err(Error::invalid_request(PROVIDER, OP, problems.to_string()));
        }
        self.ensure_builder_access().await?;
        // It sets values: sending it twice is harmless, so it may be retried.
        let r = self
            .builder_call(
                Service::CustomerManagement,
                builder::UPDATE,
                builder::update_request(number, update),
                true,
            )
            .await?;
        if let Err(message) = Self::parse(builder::UPDATE, builder::outcome(&r))? {
            return Err(Error::rejected(
                PROVIDER,
                builder::UPDATE,
                Some("Success=false".into()),
                message,
            )
            .in_vendor_call(builder::UPDATE));
        }
        match self.read_commitment(number).await {
            Ok(record) => Ok(record),
            // The service cannot read commitments back (GetCommitmentInfo is modelled): what
            // was changed is known, what was not is left empty.
            Err(Error::Unsupported { .. }) => {
                let mut record = BuilderProgramRecord::new(id.clone(), "", "");
                record.expected_panel_type = update.expected_panel_type.clone();
                record.ready_date = update.ready_date;
                Ok(record)
            }
            Err(e) => Err(e),
        }
    }

    async fn activate_commitment_inner(
        &self,
        id: &BuilderProgramRecordId,
        activation: &CommitmentActivation,
    ) -> Result<IspAccount> {
        const OP: &str = "activate_commitment";
        self.ensure_builder_opt_in(OP)?;
        let mut problems = activation.validate().err().unwrap_or_default();
        let number = builder::commitment_id(id).unwrap_or_else(|why| {
            problems.push("id", why);
            0
        });
        match &activation.plan {
            None => problems.push(
                "plan",
                "the activation names no service plan (package id); a configured provider fills in the default plan",
            ),
            Some(plan) => {
                if let Err(why) = (SPEC.check_plan_id)(plan.as_str()) {
                    problems.push("plan", why);
                }
            }
        }
        let Some(plan) = activation.plan.as_ref().filter(|_| problems.is_empty()) else {
            return Err(Error::invalid_request(PROVIDER, OP, problems.to_string()));
        };
        self.ensure_builder_access().await?;
        // Not repeated by the transport: a commitment activates once. When no usable answer
        // came back, or the service refuses (a second activation), the commitment says whether
        // it is live.
        let sent = self
            .builder_call(
                Service::CustomerManagement,
                builder::ACTIVATE,
                builder::activate_request(number, activation, plan),
                false,
            )
            .await;
        let customer = match sent {
            Ok(r) => match Self::parse(builder::ACTIVATE, builder::outcome(&r))? {
                Ok(()) => {
                    let customer =
                        Self::parse(builder::ACTIVATE, builder::result_id(&r, "CustomerId"))?
                            .unwrap_or(number);
                    AccountId::new(customer.to_string())
                }
                Err(message) => match self.live_customer(number).await {
                    Some(account) => account,
                    None => {
                        return Err(Error::rejected(
                            PROVIDER,
                            builder::ACTIVATE,
                            Some("Success=false".into()),
                            message,
                        )
                        .in_vendor_call(builder::ACTIVATE));
                    }
                },
            },
            Err(e) if super::common::outcome_unknown(&e) => {
                match self.live_customer(number).await {
                    Some(account) => account,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        self.account_inner(&customer).await
    }

    /// The live customer of an activated commitment, when the service can say so.
    async fn live_customer(&self, commitment: i64) -> Option<AccountId> {
        self.read_commitment(commitment)
            .await
            .ok()
            .filter(BuilderProgramRecord::is_live)
            .and_then(|r| r.account)
    }
}

/// Alarm.com's answer decoders on their own, for benches and for hosts that replay recorded
/// answers: each reads a whole answer (`<soap:Envelope>`...) as the provider does, on the
/// stream, or (the `_tree` forms) through the tree reader as the crate used to. Faults become
/// the generic SOAP errors ([`SoapError::into_error`]), not the provider's finer mapping.
#[doc(hidden)]
pub mod decode {
    use super::{Error, PROVIDER, Result, SoapError, wire};
    use crate::http::soap::{self, stream};
    use crate::model::{AccountId, IspAccount};

    const INFO: &str = "GetCustomerInfo";
    const LIST: &str = "GetCustomerList";

    fn soap_error(op: &'static str) -> impl FnOnce(SoapError) -> Error {
        move |e| e.into_error(PROVIDER, op)
    }

    fn invalid(op: &'static str) -> impl FnOnce(wire::ParseError) -> Error {
        move |detail| Error::invalid_response(PROVIDER, op, detail).in_vendor_call(op)
    }

    fn not_found() -> Error {
        Error::not_found(PROVIDER, "account", "the customer (an empty CustomerInfo)")
    }

    /// A `GetCustomerInfo` answer, on the stream.
    pub fn customer_info(body: &[u8]) -> Result<IspAccount> {
        stream::read_operation(body, INFO, wire::NAMESPACE, wire::decode_customer_info)
            .map_err(soap_error(INFO))?
            .ok_or_else(not_found)?
            .map_err(invalid(INFO))
    }

    /// A `GetCustomerList` answer, on the stream.
    pub fn customer_list(body: &[u8]) -> Result<Vec<AccountId>> {
        stream::read_operation(body, LIST, wire::NAMESPACE, wire::decode_customer_list)
            .map_err(soap_error(LIST))?
            .map_err(invalid(LIST))
    }

    fn tree_result(body: &[u8], op: &'static str) -> Result<soap::Element> {
        let mut response = soap::read_envelope(body).map_err(soap_error(op))?;
        if response.name.strip_suffix("Response") != Some(op)
            || response.namespace.as_deref() != Some(wire::NAMESPACE)
        {
            return Err(invalid(op)(format!("not a {op}Response")));
        }
        Ok(response
            .take_child(&format!("{op}Result"))
            .unwrap_or(response))
    }

    /// A `GetCustomerInfo` answer, through the tree reader.
    pub fn customer_info_tree(body: &[u8]) -> Result<IspAccount> {
        let r = tree_result(body, INFO)?;
        if r.children.is_empty() {
            return Err(not_found());
        }
        wire::parse_customer_info(&r).map_err(invalid(INFO))
    }

    /// A `GetCustomerList` answer, through the tree reader.
    pub fn customer_list_tree(body: &[u8]) -> Result<Vec<AccountId>> {
        tree_result(body, LIST)?
            .children
            .iter()
            .map(|c| {
                wire::parse_int(&c.text)
                    .map(|n| AccountId::new(n.to_string()))
                    .map_err(invalid(LIST))
            })
            .collect()
    }
}
