//! The [`InteractiveServicesProvider`] trait every vendor implements, its [`Capabilities`], the
//! [`ProviderSpec`] that says what a provider is before one is built, the [`ProviderRegistry`]
//! that builds providers from [`IspConfig`](crate::IspConfig)s, and the [`ConfiguredProvider`]
//! that holds every provider to its configuration's rules.
//!
//! This module names no vendor: the built-in vendors register themselves from
//! [`providers`](crate::providers).

pub(crate) mod configured;
pub mod create;
mod registry;

pub use configured::ConfiguredProvider;
pub(crate) use registry::any_plan_id;
pub use registry::{
    ProviderConstructor, ProviderOptions, ProviderRegistry, ProviderSpec, check_plan_code,
};

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{
    AccountId, BillingSummary, BuilderProgram, BuilderProgramRecord, BuilderProgramRecordRequest,
    CredentialCheck, Cursor, EventPage, IspAccount, PlanChange, ProviderKind, ProvisionRequest,
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
    /// [`InteractiveServicesProvider::create_builder_program_record`] work.
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
    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        let _ = request;
        Err(self.unsupported("create_builder_program_record"))
    }

    /// Turns billing sync on at the vendor, after checking the login may: payments and
    /// payment-method changes customers make in the vendor's app then appear in
    /// [`events_since`](Self::events_since). Doing it again changes nothing.
    async fn activate_billing(&self) -> Result<()> {
        Err(self.unsupported("activate_billing"))
    }

    /// Tells the vendor what `account`'s customer owes and has paid, so that the vendor's app
    /// shows their bills and takes payment on an overdue invoice. Replaces what was sent
    /// before for that account.
    async fn push_billing_summary(
        &self,
        account: &AccountId,
        summary: &BillingSummary,
    ) -> Result<()> {
        let _ = (account, summary);
        Err(self.unsupported("push_billing_summary"))
    }

    /// The [`Error::Unsupported`] for `operation` on this provider.
    fn unsupported(&self, operation: &'static str) -> Error {
        Error::unsupported(self.kind().to_string(), operation)
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
            async fn create_builder_program_record(
                &self,
                request: &BuilderProgramRecordRequest,
            ) -> Result<BuilderProgramRecord> {
                (**self).create_builder_program_record(request).await
            }
            async fn activate_billing(&self) -> Result<()> {
                (**self).activate_billing().await
            }
            async fn push_billing_summary(
                &self,
                account: &AccountId,
                summary: &BillingSummary,
            ) -> Result<()> {
                (**self).push_billing_summary(account, summary).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
