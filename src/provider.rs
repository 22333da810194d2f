//! The [`InteractiveServicesProvider`] trait every vendor implements, its [`Capabilities`], and
//! the [`ProviderRegistry`] that builds providers from [`IspConfig`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{IspConfig, Status};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, BuilderProgram, BuilderRecord, BuilderRecordRequest, CredentialCheck,
    CredentialField, Cursor, EventPage, IspAccount, PlanChange, ProviderKind, ProvisionRequest,
    ServicePlan,
};

/// Which optional operations a provider supports. Calls outside them answer
/// [`Error::Unsupported`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`InteractiveServicesProvider::change_plan`] with `validate_only` asks the vendor without
    /// changing anything.
    pub validate_only_changes: bool,
    /// Add-ons may carry quantities.
    pub add_on_quantities: bool,
    /// [`InteractiveServicesProvider::list_accounts`] works.
    pub account_listing: bool,
    /// [`InteractiveServicesProvider::events_since`] works.
    pub events: bool,
    /// Events include payments and payment-method changes made in the vendor's app.
    pub billing: bool,
    /// [`InteractiveServicesProvider::builder_programs`] and
    /// [`InteractiveServicesProvider::create_builder_record`] work.
    pub builder_program: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const NONE: Capabilities = Capabilities {
        validate_only_changes: false,
        add_on_quantities: false,
        account_listing: false,
        events: false,
        billing: false,
        builder_program: false,
    };

    /// Every optional capability.
    pub const ALL: Capabilities = Capabilities {
        validate_only_changes: true,
        add_on_quantities: true,
        account_listing: true,
        events: true,
        billing: true,
        builder_program: true,
    };
}

/// One interactive services provider: everything a host does with a vendor goes through it.
///
/// The trait is object safe; hosts usually hold an `Arc<dyn InteractiveServicesProvider>` built
/// by a [`ProviderRegistry`]. Optional operations have default bodies that answer
/// [`Error::Unsupported`]; [`capabilities`](Self::capabilities) says which are implemented.
#[async_trait]
pub trait InteractiveServicesProvider: fmt::Debug + Send + Sync + 'static {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;

    /// The optional operations it supports.
    fn capabilities(&self) -> Capabilities;

    /// Checks the credentials with a cheap authenticated call and reports what the login may do.
    ///
    /// A rejected login is [`Error::Unauthenticated`]; a login lacking the role every operation
    /// needs is [`Error::PermissionDenied`] with guidance. Optional permissions the login lacks
    /// are listed in [`CredentialCheck::missing`].
    async fn validate_credentials(&self) -> Result<CredentialCheck>;

    /// The service plans the dealer may sell.
    async fn service_plans(&self) -> Result<Vec<ServicePlan>>;

    /// Creates a customer account. Never creates a second account for the same
    /// [`dealer_customer_id`](ProvisionRequest::dealer_customer_id): an existing one is an
    /// [`Error::Conflict`], and a create whose answer was lost is looked up, not repeated.
    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount>;

    /// Reads an account.
    async fn account(&self, id: &AccountId) -> Result<IspAccount>;

    /// Changes an account's plan and add-ons; returns the account as it is afterwards (or, with
    /// `validate_only`, as it is now).
    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount>;

    /// Terminates an account. Terminating a terminated account succeeds.
    async fn terminate(&self, id: &AccountId) -> Result<()>;

    /// The dealer's accounts.
    async fn list_accounts(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        let _ = include_terminated;
        Err(self.unsupported("list_accounts"))
    }

    /// Events after `cursor` (from the start with `None`), oldest first.
    async fn events_since(&self, cursor: Option<&Cursor>) -> Result<EventPage> {
        let _ = cursor;
        Err(self.unsupported("events_since"))
    }

    /// The Builder Programs the dealer takes part in.
    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        Err(self.unsupported("builder_programs"))
    }

    /// Records a Builder Program home.
    async fn create_builder_record(&self, request: &BuilderRecordRequest) -> Result<BuilderRecord> {
        let _ = request;
        Err(self.unsupported("create_builder_record"))
    }

    /// The [`Error::Unsupported`] for `operation` on this provider.
    fn unsupported(&self, operation: &'static str) -> Error {
        Error::Unsupported {
            provider: self.kind().to_string(),
            operation,
        }
    }
}

macro_rules! forward {
    ($ty:ty) => {
        #[async_trait]
        impl<T: InteractiveServicesProvider + ?Sized> InteractiveServicesProvider for $ty {
            fn kind(&self) -> ProviderKind {
                (**self).kind()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn validate_credentials(&self) -> Result<CredentialCheck> {
                (**self).validate_credentials().await
            }
            async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
                (**self).service_plans().await
            }
            async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
                (**self).provision(request).await
            }
            async fn account(&self, id: &AccountId) -> Result<IspAccount> {
                (**self).account(id).await
            }
            async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
                (**self).change_plan(id, change).await
            }
            async fn terminate(&self, id: &AccountId) -> Result<()> {
                (**self).terminate(id).await
            }
            async fn list_accounts(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
                (**self).list_accounts(include_terminated).await
            }
            async fn events_since(&self, cursor: Option<&Cursor>) -> Result<EventPage> {
                (**self).events_since(cursor).await
            }
            async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
                (**self).builder_programs().await
            }
            async fn create_builder_record(
                &self,
                request: &BuilderRecordRequest,
            ) -> Result<BuilderRecord> {
                (**self).create_builder_record(request).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);

/// The rules a configuration imposes on whatever provider it built: an Inactive configuration
/// changes nothing, and a provision request without a plan takes the default service plan.
///
/// Every provider a [`ProviderRegistry`] builds is wrapped in it, so the rules hold for
/// contributed providers too, and are enforced before any request is made.
#[derive(Debug)]
pub struct ConfiguredProvider {
    inner: Arc<dyn InteractiveServicesProvider>,
    config_name: String,
    status: Status,
    default_plan: Option<crate::model::PlanId>,
}

impl ConfiguredProvider {
    /// Wraps `inner` with the rules of `config`.
    pub fn new(inner: Arc<dyn InteractiveServicesProvider>, config: &IspConfig) -> Self {
        Self {
            inner,
            config_name: config.name().to_owned(),
            status: config.status(),
            default_plan: config.default_plan().cloned(),
        }
    }

    /// The provider inside.
    pub fn inner(&self) -> &Arc<dyn InteractiveServicesProvider> {
        &self.inner
    }

    fn ensure_active(&self, operation: &'static str) -> Result<()> {
        match self.status {
            Status::Active => Ok(()),
            Status::Inactive => Err(Error::Inactive {
                provider: self.inner.kind().to_string(),
                operation,
                config: self.config_name.clone(),
            }),
        }
    }
}

#[async_trait]
impl InteractiveServicesProvider for ConfiguredProvider {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        self.inner.validate_credentials().await
    }
    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        self.inner.service_plans().await
    }
    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        self.ensure_active("provision")?;
        if let Err(problems) = request.validate() {
            return Err(Error::InvalidRequest {
                provider: self.kind().to_string(),
                operation: "provision",
                detail: problems.to_string(),
            });
        }
        if request.plan.is_some() {
            return self.inner.provision(request).await;
        }
        match &self.default_plan {
            Some(plan) => {
                let mut with_plan = request.clone();
                with_plan.plan = Some(plan.clone());
                self.inner.provision(&with_plan).await
            }
            None => Err(Error::InvalidRequest {
                provider: self.kind().to_string(),
                operation: "provision",
                detail: format!(
                    "the request names no service plan and ISP configuration `{}` has no default service plan; set one of them",
                    self.config_name
                ),
            }),
        }
    }
    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        self.inner.account(id).await
    }
    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        if !change.validate_only {
            self.ensure_active("change_plan")?;
        }
        self.inner.change_plan(id, change).await
    }
    async fn terminate(&self, id: &AccountId) -> Result<()> {
        self.ensure_active("terminate")?;
        self.inner.terminate(id).await
    }
    async fn list_accounts(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        self.inner.list_accounts(include_terminated).await
    }
    async fn events_since(&self, cursor: Option<&Cursor>) -> Result<EventPage> {
        self.inner.events_since(cursor).await
    }
    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        self.inner.builder_programs().await
    }
    async fn create_builder_record(&self, request: &BuilderRecordRequest) -> Result<BuilderRecord> {
        self.ensure_active("create_builder_record")?;
        self.inner.create_builder_record(request).await
    }
}

/// Builds a provider from a validated configuration.
pub type ProviderConstructor =
    Arc<dyn Fn(&IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> + Send + Sync>;

#[derive(Clone)]
struct Registration {
    fields: &'static [CredentialField],
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

    /// A registry with every built-in provider compiled in (by cargo feature).
    pub fn with_built_ins() -> Self {
        #[allow(unused_mut)]
        let mut registry = Self::empty();
        #[cfg(feature = "alarm-com")]
        registry.register(
            ProviderKind::AlarmCom.as_str(),
            ProviderKind::AlarmCom.credential_fields(),
            |config: &IspConfig| {
                let provider = crate::providers::alarm_com::AlarmCom::from_config(config)?;
                Ok(Arc::new(provider) as Arc<dyn InteractiveServicesProvider>)
            },
        );
        #[cfg(feature = "total-connect")]
        registry.register(
            ProviderKind::TotalConnect.as_str(),
            ProviderKind::TotalConnect.credential_fields(),
            |config: &IspConfig| {
                let provider = crate::providers::total_connect::TotalConnect::from_config(config)?;
                Ok(Arc::new(provider) as Arc<dyn InteractiveServicesProvider>)
            },
        );
        registry
    }

    /// Registers (or replaces) a provider under `name` (compared in lower case), with the
    /// credential fields its configurations take.
    pub fn register<F>(&mut self, name: &str, fields: &'static [CredentialField], constructor: F)
    where
        F: Fn(&IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> + Send + Sync + 'static,
    {
        self.entries.insert(
            name.trim().to_lowercase(),
            Registration {
                fields,
                constructor: Arc::new(constructor),
            },
        );
    }

    /// The registered provider names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The credential fields of a registered provider.
    pub fn credential_fields(&self, kind: &ProviderKind) -> Option<&'static [CredentialField]> {
        self.entries.get(kind.as_str()).map(|r| r.fields)
    }

    /// Builds the provider for `config`, wrapped in a [`ConfiguredProvider`] so that its status
    /// and default plan apply. A contributed provider's credentials are checked against the
    /// fields it registered.
    pub fn build(&self, config: &IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> {
        let kind = config.provider();
        let Some(registration) = self.entries.get(kind.as_str()) else {
            return Err(Error::Unsupported {
                provider: kind.to_string(),
                operation: "build (no provider of this name is registered or compiled in)",
            });
        };
        if matches!(kind, ProviderKind::Other(_)) {
            let mut problems = crate::ValidationErrors::new();
            crate::config::check_credentials(
                config.credentials(),
                registration.fields,
                &mut problems,
            );
            if !problems.is_empty() {
                return Err(Error::InvalidConfig {
                    provider: kind.to_string(),
                    problems,
                });
            }
        }
        let inner = (registration.constructor)(config)?;
        Ok(Arc::new(ConfiguredProvider::new(inner, config)))
    }
}
