//! [`ConfiguredProvider`]: the rules a configuration imposes on the provider built from it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use url::Url;

use super::{Capabilities, InteractiveServicesProvider};
use crate::config::{IspConfig, Status};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, BillingSummary, BuilderProgram, BuilderProgramRecord, BuilderProgramRecordId,
    BuilderProgramRecordKind, BuilderProgramRecordRequest, CallbackRegistration,
    CommitmentActivation, CommitmentUpdate, CredentialCheck, Cursor, EventPage, IspAccount,
    IspEvent, PlanChange, ProviderKind, ProvisionRequest, ServicePlan,
};

/// What a provider built from a catalog entry rebuilds itself from: the entry's current
/// configuration and how to build a provider for it.
pub(crate) type Rebuild =
    Arc<dyn Fn(&IspConfig) -> Result<Arc<dyn InteractiveServicesProvider>> + Send + Sync>;

/// A catalog entry's configuration as providers built from it see it: replaced in place by
/// [`IspCatalog::replace`](crate::IspCatalog::replace), emptied by
/// [`IspCatalog::remove`](crate::IspCatalog::remove).
#[derive(Debug)]
pub(crate) struct SharedConfig(RwLock<Current>);

#[derive(Debug, Clone)]
struct Current {
    /// Moves on with every change.
    generation: u64,
    /// `None` once the entry is removed.
    config: Option<Arc<IspConfig>>,
}

impl SharedConfig {
    pub(crate) fn new(config: IspConfig) -> Arc<Self> {
        Arc::new(Self(RwLock::new(Current {
            generation: 0,
            config: Some(Arc::new(config)),
        })))
    }

    /// Makes `config` what providers built from this entry see, from their next call on.
    pub(crate) fn set(&self, config: Option<IspConfig>) {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        current.generation += 1;
        current.config = config.map(Arc::new);
    }

    fn get(&self) -> Current {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The rules of one configuration at one moment.
#[derive(Debug, Clone)]
struct Rules {
    config_name: String,
    status: Status,
    default_plan: Option<crate::model::PlanId>,
    billing: bool,
    builder_program: bool,
}

impl Rules {
    fn of(config: &IspConfig) -> Self {
        Self {
            config_name: config.name().to_owned(),
            status: config.status(),
            default_plan: config.default_plan().cloned(),
            billing: config.billing(),
            builder_program: config.builder_program(),
        }
    }
}

/// A provider built from a catalog entry, rebuilt when the entry's connection settings change.
struct Bound {
    entry: Arc<SharedConfig>,
    rebuild: Rebuild,
    built: Mutex<Built>,
}

struct Built {
    generation: u64,
    inner: Arc<dyn InteractiveServicesProvider>,
    /// What the provider was built from, besides the rules read on every call.
    config: Arc<IspConfig>,
}

enum Source {
    Fixed {
        inner: Arc<dyn InteractiveServicesProvider>,
        rules: Rules,
    },
    Bound(Box<Bound>),
}

/// The rules a configuration imposes on whatever provider it built: an Inactive configuration
/// changes nothing, a provision request without a plan takes the default service plan, and
/// the Builder Program calls work only when the configuration opted into the Builder Program.
///
/// Without that opt-in, every Builder Program call (`builder_programs`,
/// `create_builder_program_record`, `commitment`, `update_commitment`,
/// `activate_commitment`) is refused before any request, as [`Error::Unsupported`] whose
/// reason names the configuration and the opt-in to turn on, and
/// [`capabilities`](InteractiveServicesProvider::capabilities) does not list
/// `builder_program`; a provision request naming a Builder Program is an
/// [`Error::InvalidRequest`] (field `builder_program`). `Unsupported` rather than
/// `InvalidRequest` (which billing's opt-in answers) because the trait promises that every
/// call outside the capabilities answers `Unsupported`, and the conformance suite holds every
/// provider built from a configuration to it. Reads (`builder_programs`, `commitment`) work on
/// an Inactive configuration; the three changes do not.
///
/// Every provider a [`ProviderRegistry`](super::ProviderRegistry) builds is wrapped in it, so
/// the rules hold for contributed providers too, and are enforced before any request is made.
///
/// Built with [`new`](Self::new) (what [`ProviderRegistry::build`](super::ProviderRegistry::build)
/// does), it keeps the rules of the configuration it was given. Built by
/// [`IspCatalog::provider`](crate::IspCatalog::provider), it follows its catalog entry: each
/// call reads the entry as it is then, so an entry turned Inactive refuses the next change
/// before any request, a new default plan applies to the next provision, changed credentials
/// or endpoint rebuild the provider inside, and a removed entry refuses every call. A call
/// that had already passed the check when the entry changed finishes with the configuration
/// it started with.
pub struct ConfiguredProvider {
    source: Source,
}

impl fmt::Debug for ConfiguredProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Fixed { inner, rules } => f
                .debug_struct("ConfiguredProvider")
                .field("inner", inner)
                .field("config", &rules.config_name)
                .field("status", &rules.status)
                .finish(),
            Source::Bound(bound) => {
                let current = bound.entry.get();
                f.debug_struct("ConfiguredProvider")
                    .field("config", &current.config.as_ref().map(|c| c.name()))
                    .field("follows_catalog_entry", &true)
                    .finish()
            }
        }
    }
}

impl ConfiguredProvider {
    /// Wraps `inner` with the rules of `config`, as they are now.
    pub fn new(inner: Arc<dyn InteractiveServicesProvider>, config: &IspConfig) -> Self {
        Self {
            source: Source::Fixed {
                inner,
                rules: Rules::of(config),
            },
        }
    }

    /// A provider that follows the catalog entry `entry`, built by `rebuild` now and whenever
    /// the entry's settings other than its name, status and default plan change.
    pub(crate) fn following(entry: Arc<SharedConfig>, rebuild: Rebuild) -> Result<Self> {
        let current = entry.get();
        let Some(config) = current.config else {
            return Err(Error::not_found(
                "unknown",
                "catalog.provider",
                "the ISP configuration was removed from the catalog",
            ));
        };
        let inner = rebuild(&config)?;
        Ok(Self {
            source: Source::Bound(Box::new(Bound {
                entry,
                rebuild,
                built: Mutex::new(Built {
                    generation: current.generation,
                    inner,
                    config,
                }),
            })),
        })
    }

    /// The provider inside, as it is now (a provider following a catalog entry may rebuild it
    /// when the entry changes).
    pub fn inner(&self) -> Arc<dyn InteractiveServicesProvider> {
        match &self.source {
            Source::Fixed { inner, .. } => inner.clone(),
            Source::Bound(bound) => bound
                .built
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .inner
                .clone(),
        }
    }

    /// The provider and the rules for a call to `operation` starting now.
    fn current(
        &self,
        operation: &'static str,
    ) -> Result<(Arc<dyn InteractiveServicesProvider>, Rules)> {
        let bound = match &self.source {
            Source::Fixed { inner, rules } => return Ok((inner.clone(), rules.clone())),
            Source::Bound(bound) => bound,
        };
        let current = bound.entry.get();
        let mut built = bound.built.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(config) = current.config else {
            return Err(Error::not_found(
                built.inner.kind().to_string(),
                operation,
                format!(
                    "ISP configuration `{}` (it was removed from the catalog)",
                    built.config.name()
                ),
            ));
        };
        if current.generation != built.generation {
            if !same_connection(&built.config, &config) {
                // Built outside the lock would let two calls build twice; building makes no
                // request, so holding it is short.
                built.inner = (bound.rebuild)(&config)?;
            }
            built.generation = current.generation;
            built.config = config.clone();
        }
        Ok((built.inner.clone(), Rules::of(&config)))
    }

    fn ensure_active(
        &self,
        operation: &'static str,
    ) -> Result<(Arc<dyn InteractiveServicesProvider>, Rules)> {
        let (inner, rules) = self.current(operation)?;
        match rules.status {
            Status::Active => Ok((inner, rules)),
            Status::Inactive => Err(Error::Inactive {
                provider: inner.kind().to_string(),
                operation,
                config: rules.config_name,
            }),
        }
    }
}

/// Whether a provider built from `a` serves `b` as well: everything but the rules read on each
/// call (name, status, default plan) is the same.
fn same_connection(a: &IspConfig, b: &IspConfig) -> bool {
    a.same_connection(b)
}

#[async_trait]
impl InteractiveServicesProvider for ConfiguredProvider {
    fn kind(&self) -> ProviderKind {
        self.inner().kind()
    }
    fn capabilities(&self) -> Capabilities {
        let mut capabilities = self.inner().capabilities();
        capabilities.builder_program &= self.builder_program_opted_in();
        capabilities
    }
    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        let (inner, _) = self.current("validate_credentials")?;
        inner.validate_credentials().await
    }
    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        let (inner, _) = self.current("service_plans")?;
        inner.service_plans().await
    }
    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        let (inner, rules) = self.ensure_active("provision")?;
        if request.builder_program.is_some() && !rules.builder_program {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                "provision",
                format!(
                    "builder_program: ISP configuration `{}` has not opted into the Builder Program; leave the request's Builder Program out, or turn the configuration's Builder Program opt-in on",
                    rules.config_name
                ),
            ));
        }
        if let Err(problems) = request.validate() {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                "provision",
                problems.to_string(),
            ));
        }
        if request.plan.is_some() {
            return inner.provision(request).await;
        }
        match rules.default_plan {
            Some(plan) => {
                let mut with_plan = request.clone();
                with_plan.plan = Some(plan);
                inner.provision(&with_plan).await
            }
            None => Err(Error::invalid_request(
                inner.kind().to_string(),
                "provision",
                format!(
                    "the request names no service plan and ISP configuration `{}` has no default service plan; set one of them",
                    rules.config_name
                ),
            )),
        }
    }
    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        let (inner, _) = self.current("account")?;
        inner.account(id).await
    }
    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        let (inner, _) = if change.validate_only {
            self.current("change_plan")?
        } else {
            self.ensure_active("change_plan")?
        };
        inner.change_plan(id, change).await
    }
    async fn terminate(&self, id: &AccountId) -> Result<()> {
        let (inner, _) = self.ensure_active("terminate")?;
        inner.terminate(id).await
    }
    async fn list_accounts(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        let (inner, _) = self.current("list_accounts")?;
        inner.list_accounts(include_terminated).await
    }
    async fn events_since(&self, cursor: Option<&Cursor>) -> Result<EventPage> {
        let (inner, _) = self.current("events_since")?;
        inner.events_since(cursor).await
    }
    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        let (inner, _) = self.ensure_builder_program("builder_programs", false)?;
        inner.builder_programs().await
    }
    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "create_builder_program_record";
        let (inner, rules) = self.ensure_builder_program(OP, true)?;
        if let Err(problems) = request.validate() {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                OP,
                problems.to_string(),
            ));
        }
        match &request.record {
            BuilderProgramRecordKind::Customer(customer) if customer.plan.is_none() => {
                let Some(plan) = rules.default_plan else {
                    return Err(no_plan(&*inner, OP, &rules));
                };
                let mut with_plan = (**customer).clone();
                with_plan.plan = Some(plan);
                let request =
                    BuilderProgramRecordRequest::customer(request.program.clone(), with_plan);
                inner.create_builder_program_record(&request).await
            }
            _ => inner.create_builder_program_record(request).await,
        }
    }
    async fn commitment(&self, id: &BuilderProgramRecordId) -> Result<BuilderProgramRecord> {
        let (inner, _) = self.ensure_builder_program("commitment", false)?;
        inner.commitment(id).await
    }
    async fn update_commitment(
        &self,
        id: &BuilderProgramRecordId,
        update: &CommitmentUpdate,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "update_commitment";
        let (inner, _) = self.ensure_builder_program(OP, true)?;
        if let Err(problems) = update.validate() {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                OP,
                problems.to_string(),
            ));
        }
        inner.update_commitment(id, update).await
    }
    async fn activate_commitment(
        &self,
        id: &BuilderProgramRecordId,
        activation: &CommitmentActivation,
    ) -> Result<IspAccount> {
        const OP: &str = "activate_commitment";
        let (inner, rules) = self.ensure_builder_program(OP, true)?;
        if let Err(problems) = activation.validate() {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                OP,
                problems.to_string(),
            ));
        }
        if activation.plan.is_some() {
            return inner.activate_commitment(id, activation).await;
        }
        match rules.default_plan.clone() {
            Some(plan) => {
                let with_plan = activation.clone().plan(plan);
                inner.activate_commitment(id, &with_plan).await
            }
            None => Err(no_plan(&*inner, OP, &rules)),
        }
    }
    async fn activate_billing(&self) -> Result<()> {
        let (inner, _) = self.ensure_billing("activate_billing")?;
        inner.activate_billing().await
    }
    async fn push_billing_summary(
        &self,
        account: &AccountId,
        summary: &BillingSummary,
    ) -> Result<()> {
        let (inner, _) = self.ensure_billing("push_billing_summary")?;
        inner.push_billing_summary(account, summary).await
    }
    /// Reading a pushed callback changes nothing at the vendor: it works on an Inactive
    /// configuration too (what the vendor reports still happened).
    fn callback_events(&self, body: &[u8]) -> Result<Vec<IspEvent>> {
        let (inner, _) = self.current("callback_events")?;
        inner.callback_events(body)
    }
    /// Registering changes the vendor's settings: an Inactive configuration refuses it.
    async fn register_callback(&self, url: &Url) -> Result<CallbackRegistration> {
        let (inner, _) = self.ensure_active("register_callback")?;
        inner.register_callback(url).await
    }
    async fn callback_registration(&self) -> Result<Option<CallbackRegistration>> {
        let (inner, _) = self.current("callback_registration")?;
        inner.callback_registration().await
    }
}

/// The refusal of a call that needs a plan when neither the request nor the configuration
/// names one.
fn no_plan(
    inner: &dyn InteractiveServicesProvider,
    operation: &'static str,
    rules: &Rules,
) -> Error {
    Error::invalid_request(
        inner.kind().to_string(),
        operation,
        format!(
            "plan: the request names no service plan and ISP configuration `{}` has no default service plan; set one of them",
            rules.config_name
        ),
    )
}

impl ConfiguredProvider {
    /// Whether the configuration, as it is now, opted into the Builder Program.
    fn builder_program_opted_in(&self) -> bool {
        match &self.source {
            Source::Fixed { rules, .. } => rules.builder_program,
            Source::Bound(bound) => bound
                .entry
                .get()
                .config
                .is_some_and(|c| c.builder_program()),
        }
    }

    /// Builder Program calls need a configuration that opted into the Builder Program, and,
    /// for a `change`, an Active one.
    fn ensure_builder_program(
        &self,
        operation: &'static str,
        change: bool,
    ) -> Result<(Arc<dyn InteractiveServicesProvider>, Rules)> {
        let (inner, rules) = if change {
            self.ensure_active(operation)?
        } else {
            self.current(operation)?
        };
        if !rules.builder_program {
            return Err(Error::unsupported_because(
                inner.kind().to_string(),
                operation,
                format!(
                    "ISP configuration `{}` has not opted into the Builder Program; turn its Builder Program opt-in on first (nothing was sent)",
                    rules.config_name
                ),
            ));
        }
        Ok((inner, rules))
    }

    /// Billing calls need an Active configuration that opted into billing.
    fn ensure_billing(
        &self,
        operation: &'static str,
    ) -> Result<(Arc<dyn InteractiveServicesProvider>, Rules)> {
        let (inner, rules) = self.ensure_active(operation)?;
        if !rules.billing {
            return Err(Error::invalid_request(
                inner.kind().to_string(),
                operation,
                format!(
                    "ISP configuration `{}` has not opted into billing sync; turn its billing opt-in on first",
                    rules.config_name
                ),
            ));
        }
        Ok((inner, rules))
    }
}
