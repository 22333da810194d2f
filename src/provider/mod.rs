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
use url::Url;

use crate::error::{Error, Result};
use crate::model::{
    AccountId, BillingSummary, BuilderProgram, BuilderProgramRecord, BuilderProgramRecordId,
    BuilderProgramRecordRequest, CallbackRegistration, CommitmentActivation, CommitmentUpdate,
    CredentialCheck, Cursor, EventPage, IspAccount, IspEvent, PlanChange, ProviderKind,
    ProvisionRequest, ServicePlan,
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
    /// The Builder Program calls work: [`InteractiveServicesProvider::builder_programs`],
    /// [`InteractiveServicesProvider::create_builder_program_record`],
    /// [`InteractiveServicesProvider::commitment`],
    /// [`InteractiveServicesProvider::update_commitment`] and
    /// [`InteractiveServicesProvider::activate_commitment`]. A provider built from a
    /// configuration reports it only when the configuration opted into the Builder Program.
    pub builder_program: bool,
    /// The vendor pushes real-time callbacks the provider reads:
    /// [`InteractiveServicesProvider::callback_events`],
    /// [`InteractiveServicesProvider::register_callback`] and
    /// [`InteractiveServicesProvider::callback_registration`] work.
    pub callbacks: bool,
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
        callbacks: false,
    };

    /// Every optional capability.
    pub const ALL: Capabilities = Capabilities {
        validate_only_changes: true,
        add_on_quantities: true,
        account_listing: true,
        events: true,
        billing: true,
        builder_program: true,
        callbacks: true,
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

    /// The Builder Programs the dealer takes part in (id, name, builder).
    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        Err(self.unsupported("builder_programs"))
    }

    /// Records a Builder Program home: a commitment, or a builder customer. Every missing or
    /// invalid field is reported at once ([`BuilderProgramRecordRequest::validate`]) before any
    /// request. Saving twice never makes two records: a commitment saved again on the same
    /// program returns the one recorded, and a create whose answer was lost is looked up, not
    /// repeated; a dealer customer id that already has another record is an
    /// [`Error::Conflict`] carrying its id.
    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        let _ = request;
        Err(self.unsupported("create_builder_program_record"))
    }

    /// Reads a commitment (once activated, it names the live customer's account).
    async fn commitment(&self, id: &BuilderProgramRecordId) -> Result<BuilderProgramRecord> {
        let _ = id;
        Err(self.unsupported("commitment"))
    }

    /// Changes a pending commitment's expected panel type or ready date; returns the
    /// commitment as it is afterwards.
    async fn update_commitment(
        &self,
        id: &BuilderProgramRecordId,
        update: &CommitmentUpdate,
    ) -> Result<BuilderProgramRecord> {
        let _ = (id, update);
        Err(self.unsupported("update_commitment"))
    }

    /// Activates a commitment into a live customer and returns the customer's account.
    /// Activating an activated commitment returns the same account.
    async fn activate_commitment(
        &self,
        id: &BuilderProgramRecordId,
        activation: &CommitmentActivation,
    ) -> Result<IspAccount> {
        let _ = (id, activation);
        Err(self.unsupported("activate_commitment"))
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

    /// Reads the body of one callback the vendor pushed, *already verified* (see
    /// [`callbacks`](crate::callbacks)), into the events it carries, oldest first. Unknown
    /// event types are kept as [`EventKind::Other`](crate::EventKind::Other), and an event
    /// whose details cannot be read as [`EventKind::Malformed`](crate::EventKind::Malformed),
    /// so that nothing is dropped; a body that carries no readable event (not the vendor's
    /// format, no event id, no account) is [`Error::InvalidRequest`] saying what is wrong,
    /// without quoting the body.
    ///
    /// No I/O: the body is parsed in memory, and nothing in it can panic the host.
    fn callback_events(&self, body: &[u8]) -> Result<Vec<IspEvent>> {
        let _ = body;
        Err(self.unsupported("callback_events"))
    }

    /// Registers `url` as where the vendor pushes this configuration's callbacks (replacing
    /// any URL registered before), enabled, and returns the vendor's view afterwards.
    async fn register_callback(&self, url: &Url) -> Result<CallbackRegistration> {
        let _ = url;
        Err(self.unsupported("register_callback"))
    }

    /// The vendor's view of the callback registration: the URL, whether it is enabled, its
    /// last delivery attempt and failures; `None` when nothing is registered.
    async fn callback_registration(&self) -> Result<Option<CallbackRegistration>> {
        Err(self.unsupported("callback_registration"))
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
            async fn commitment(
                &self,
                id: &BuilderProgramRecordId,
            ) -> Result<BuilderProgramRecord> {
                (**self).commitment(id).await
            }
            async fn update_commitment(
                &self,
                id: &BuilderProgramRecordId,
                update: &CommitmentUpdate,
            ) -> Result<BuilderProgramRecord> {
                (**self).update_commitment(id, update).await
            }
            async fn activate_commitment(
                &self,
                id: &BuilderProgramRecordId,
                activation: &CommitmentActivation,
            ) -> Result<IspAccount> {
                (**self).activate_commitment(id, activation).await
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
            fn callback_events(&self, body: &[u8]) -> Result<Vec<IspEvent>> {
                (**self).callback_events(body)
            }
            async fn register_callback(&self, url: &Url) -> Result<CallbackRegistration> {
                (**self).register_callback(url).await
            }
            async fn callback_registration(&self) -> Result<Option<CallbackRegistration>> {
                (**self).callback_registration().await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
