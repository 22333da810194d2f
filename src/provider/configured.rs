//! [`ConfiguredProvider`]: the rules a configuration imposes on the provider built from it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Capabilities, InteractiveServicesProvider};
use crate::config::{IspConfig, Status};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, BuilderProgram, BuilderProgramRecord, BuilderProgramRecordRequest, CredentialCheck,
    Cursor, EventPage, IspAccount, PlanChange, ProviderKind, ProvisionRequest, ServicePlan,
};

/// The rules a configuration imposes on whatever provider it built: an Inactive configuration
/// changes nothing, and a provision request without a plan takes the default service plan.
///
/// Every provider a [`ProviderRegistry`](super::ProviderRegistry) builds is wrapped in it, so the rules hold for
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
            return Err(Error::invalid_request(
                self.kind().to_string(),
                "provision",
                problems.to_string(),
            ));
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
            None => Err(Error::invalid_request(
                self.kind().to_string(),
                "provision",
                format!(
                    "the request names no service plan and ISP configuration `{}` has no default service plan; set one of them",
                    self.config_name
                ),
            )),
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
    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        self.ensure_active("create_builder_program_record")?;
        self.inner.create_builder_program_record(request).await
    }
}
