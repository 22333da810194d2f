//! The in-memory reference provider.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;

use crate::config::IspConfig;
use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountStatus, AddOn, BuilderProgram, BuilderProgramRecord, BuilderProgramRecordId,
    BuilderProgramRecordKind, BuilderProgramRecordRequest, BuilderProgramRecordStatus,
    CallbackRegistration, CommitmentActivation, CommitmentUpdate, CredentialCheck, CredentialField,
    Cursor, EventId, EventKind, EventPage, IspAccount, IspEvent, Money, PlanChange, PlanId,
    ProviderKind, ProvisionRequest, ServicePlan,
};
use crate::provider::{
    Capabilities, InteractiveServicesProvider, ProviderOptions, ProviderRegistry, ProviderSpec,
};

/// The name [`InMemoryProvider::register`] registers.
pub const IN_MEMORY: &str = "in_memory";

const FIELDS: &[CredentialField] = &[CredentialField {
    key: "token",
    label: "Token",
    secret: true,
    required: true,
    help: "Any non-blank value; `rejected` makes every credential check fail.",
}];

/// Most events one [`events_since`](InteractiveServicesProvider::events_since) page holds.
pub const EVENT_PAGE_SIZE: usize = 100;

#[derive(Debug, Default)]
struct State {
    accounts: BTreeMap<AccountId, IspAccount>,
    next_id: u64,
    events: Vec<IspEvent>,
    records: Vec<BuilderProgramRecord>,
    callback: Option<CallbackRegistration>,
}

/// A complete provider that keeps everything in memory: every capability, the crate's rules
/// (no duplicate customers, idempotent terminate, full-set add-on changes), and hooks to inject
/// what a vendor's app would do (payments). It is the reference the conformance suite is
/// checked against, and what examples use when no vendor is wanted.
#[derive(Debug, Clone)]
pub struct InMemoryProvider {
    state: Arc<Mutex<State>>,
    plans: Vec<ServicePlan>,
    reject_credentials: bool,
}

impl Default for InMemoryProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryProvider {
    /// A provider with three plans (`basic`, `advanced`, `wsf`) and no account.
    pub fn new() -> Self {
        let plan = |id: &str, name: &str, t: &str| ServicePlan {
            id: PlanId::new(id),
            name: name.into(),
            plan_type: Some(t.into()),
        };
        Self {
            state: Arc::default(),
            plans: vec![
                plan("basic", "Basic Interactive", "BI"),
                plan("advanced", "Advanced Interactive", "AI"),
                plan("wsf", "Wireless Signal Forwarding", "WSF"),
            ],
            reject_credentials: false,
        }
    }

    /// Registers the provider under [`IN_MEMORY`]: each configuration gets its own state. Its
    /// configurations may opt into the Builder Program.
    pub fn register(registry: &mut ProviderRegistry) {
        registry.register_spec(
            ProviderSpec::new(IN_MEMORY, IN_MEMORY, FIELDS)
                .builder_program()
                .callbacks(),
            |config: &IspConfig, _: &ProviderOptions| {
                let mut p = InMemoryProvider::new();
                p.reject_credentials = config.credentials().expose("token") == Some("rejected");
                Ok(Arc::new(p) as Arc<dyn InteractiveServicesProvider>)
            },
        );
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the maps half-written (every change is a
        // single insert), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kind_name(&self) -> String {
        IN_MEMORY.to_owned()
    }

    fn not_found(&self, operation: &'static str, id: &AccountId) -> Error {
        Error::not_found(self.kind_name(), operation, format!("account {id}"))
    }

    fn push_event(state: &mut State, account: &AccountId, kind: EventKind) {
        let n = state.events.len() + 1;
        state.events.push(IspEvent {
            id: EventId::new(format!("evt-{n}")),
            account: account.clone(),
            occurred_at: Utc::now(),
            kind,
        });
    }

    /// Records a payment the customer made "in the vendor's app" (to their outstanding
    /// balance); it appears in [`events_since`](InteractiveServicesProvider::events_since).
    pub fn record_payment(&self, account: &AccountId, amount: Money, reference: &str) {
        let mut state = self.state();
        Self::push_event(
            &mut state,
            account,
            EventKind::PaymentApplied(crate::model::Payment::new(
                reference,
                amount,
                Utc::now(),
                "card",
            )),
        );
    }

    /// How many accounts exist (terminated ones included).
    pub fn account_count(&self) -> usize {
        self.state().accounts.len()
    }

    fn check_plan(&self, operation: &'static str, plan: &PlanId) -> Result<()> {
        if self.plans.iter().any(|p| &p.id == plan) {
            Ok(())
        } else {
            Err(Error::invalid_request(
                self.kind_name(),
                operation,
                format!("service plan `{plan}` does not exist"),
            ))
        }
    }
}

#[async_trait]
impl InteractiveServicesProvider for InMemoryProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::from_static(IN_MEMORY)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        if self.reject_credentials {
            return Err(Error::unauthenticated(
                self.kind_name(),
                "validate_credentials",
                "the token was rejected",
            ));
        }
        Ok(CredentialCheck {
            login: "in-memory".into(),
            granted: vec![
                "provisioning".into(),
                "billing".into(),
                "builder_program".into(),
            ],
            missing: Vec::new(),
            unverified: Vec::new(),
        })
    }

    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        Ok(self.plans.clone())
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        let plan = request.plan.clone().ok_or_else(|| {
            Error::invalid_request(self.kind_name(), "provision", "no service plan")
        })?;
        self.check_plan("provision", &plan)?;
        let mut state = self.state();
        if let Some(existing) = state
            .accounts
            .values()
            .find(|a| a.dealer_customer_id.as_ref() == Some(&request.dealer_customer_id))
        {
            return Err(Error::conflict(
                self.kind_name(),
                "provision",
                format!(
                    "dealer customer {} already has account {}",
                    request.dealer_customer_id, existing.id
                ),
            ));
        }
        state.next_id += 1;
        let id = AccountId::new(format!("{}", 100_000 + state.next_id));
        let account = IspAccount {
            id: id.clone(),
            dealer_customer_id: Some(request.dealer_customer_id.clone()),
            contact: request.contact.clone(),
            login_name: request.desired_login.clone(),
            initial_password: None,
            plan: Some(plan),
            add_ons: request.add_ons.iter().cloned().collect(),
            status: AccountStatus::Active,
            created_at: Some(Utc::now()),
        };
        state.accounts.insert(id.clone(), account.clone());
        Self::push_event(&mut state, &id, EventKind::AccountCreated);
        Ok(account)
    }

    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        self.state()
            .accounts
            .get(id)
            .cloned()
            .ok_or_else(|| self.not_found("account", id))
    }

    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        if let Some(plan) = &change.plan {
            self.check_plan("change_plan", plan)?;
        }
        let mut state = self.state();
        let account = state
            .accounts
            .get(id)
            .cloned()
            .ok_or_else(|| self.not_found("change_plan", id))?;
        if account.status == AccountStatus::Terminated {
            return Err(Error::conflict(
                self.kind_name(),
                "change_plan",
                format!("account {id} is terminated"),
            ));
        }
        if change.validate_only {
            return Ok(account);
        }
        let mut next = account;
        next.add_ons = change.apply_to(&next.add_ons);
        if let Some(plan) = &change.plan {
            next.plan = Some(plan.clone());
        }
        state.accounts.insert(id.clone(), next.clone());
        Self::push_event(
            &mut state,
            id,
            EventKind::PlanChanged {
                plan: next.plan.clone(),
            },
        );
        Ok(next)
    }

    async fn terminate(&self, id: &AccountId) -> Result<()> {
        let mut state = self.state();
        let account = state
            .accounts
            .get_mut(id)
            .ok_or_else(|| self.not_found("terminate", id))?;
        if account.status != AccountStatus::Terminated {
            account.status = AccountStatus::Terminated;
            Self::push_event(&mut state, id, EventKind::AccountTerminated);
        }
        Ok(())
    }

    async fn list_accounts(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        Ok(self
            .state()
            .accounts
            .values()
            .filter(|a| include_terminated || a.status != AccountStatus::Terminated)
            .map(|a| a.id.clone())
            .collect())
    }

    async fn events_since(&self, cursor: Option<&Cursor>) -> Result<EventPage> {
        let from = match cursor {
            None => 0,
            Some(c) => c.as_str().parse::<usize>().map_err(|_| {
                Error::invalid_request(
                    self.kind_name(),
                    "events_since",
                    format!("`{c}` is not a cursor this provider issued"),
                )
            })?,
        };
        let state = self.state();
        let events: Vec<IspEvent> = state
            .events
            .iter()
            .skip(from)
            .take(EVENT_PAGE_SIZE)
            .cloned()
            .collect();
        let next = from.min(state.events.len()) + events.len();
        Ok(EventPage {
            has_more: next < state.events.len(),
            next: Cursor::new(next.to_string()),
            events,
        })
    }

    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        Ok(vec![BuilderProgram::new(
            "BP-1",
            "Willow Creek",
            "Acme Homes",
        )])
    }

    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "create_builder_program_record";
        request
            .validate()
            .map_err(|p| Error::invalid_request(self.kind_name(), OP, p.to_string()))?;
        if request.program.as_str() != "BP-1" {
            return Err(Error::not_found(
                self.kind_name(),
                OP,
                format!("Builder Program {}", request.program),
            ));
        }
        let dealer = request.dealer_customer_id();
        {
            let state = self.state();
            if let Some(r) = state
                .records
                .iter()
                .find(|r| &r.dealer_customer_id == dealer)
            {
                // The same commitment saved again is that commitment.
                let same = matches!(request.record, BuilderProgramRecordKind::Commitment(_))
                    && r.program == request.program
                    && !r.is_live();
                if same {
                    return Ok(r.clone());
                }
                return Err(Error::conflict(
                    self.kind_name(),
                    OP,
                    format!("dealer customer {dealer} already has record {}", r.id),
                ));
            }
        }
        match &request.record {
            BuilderProgramRecordKind::Commitment(c) => {
                let mut state = self.state();
                if let Some(existing) = state
                    .accounts
                    .values()
                    .find(|a| a.dealer_customer_id.as_ref() == Some(dealer))
                {
                    return Err(Error::duplicate_customer(
                        self.kind_name(),
                        OP,
                        dealer.as_str(),
                        existing.id.clone(),
                    ));
                }
                let mut record = BuilderProgramRecord::new(
                    format!("C-{}", state.records.len() + 1),
                    request.program.clone(),
                    dealer.clone(),
                );
                record.address = Some(c.address.clone());
                record.expected_panel_type = c.expected_panel_type.clone();
                record.ready_date = c.ready_date;
                state.records.push(record.clone());
                Ok(record)
            }
            BuilderProgramRecordKind::Customer(c) => {
                let mut customer = (**c).clone();
                customer.builder_program = Some(request.program.clone());
                let account = self.provision(&customer).await?;
                let mut record = BuilderProgramRecord::new(
                    account.id.as_str(),
                    request.program.clone(),
                    dealer.clone(),
                );
                record.status = BuilderProgramRecordStatus::Live;
                record.account = Some(account.id);
                record.address = Some(customer.address.clone());
                record.expected_panel_type = customer.panel_type.clone();
                self.state().records.push(record.clone());
                Ok(record)
            }
        }
    }

    async fn commitment(&self, id: &BuilderProgramRecordId) -> Result<BuilderProgramRecord> {
        self.state()
            .records
            .iter()
            .find(|r| &r.id == id)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(self.kind_name(), "commitment", format!("commitment {id}"))
            })
    }

    async fn update_commitment(
        &self,
        id: &BuilderProgramRecordId,
        update: &CommitmentUpdate,
    ) -> Result<BuilderProgramRecord> {
        const OP: &str = "update_commitment";
        update
            .validate()
            .map_err(|p| Error::invalid_request(self.kind_name(), OP, p.to_string()))?;
        let mut state = self.state();
        let Some(record) = state.records.iter_mut().find(|r| &r.id == id) else {
            return Err(Error::not_found(
                self.kind_name(),
                OP,
                format!("commitment {id}"),
            ));
        };
        if record.is_live() {
            return Err(Error::conflict(
                self.kind_name(),
                OP,
                format!("commitment {id} is activated"),
            ));
        }
        if let Some(p) = &update.expected_panel_type {
            record.expected_panel_type = Some(p.clone());
        }
        if let Some(d) = update.ready_date {
            record.ready_date = Some(d);
        }
        Ok(record.clone())
    }

    async fn activate_commitment(
        &self,
        id: &BuilderProgramRecordId,
        activation: &CommitmentActivation,
    ) -> Result<IspAccount> {
        const OP: &str = "activate_commitment";
        activation
            .validate()
            .map_err(|p| Error::invalid_request(self.kind_name(), OP, p.to_string()))?;
        let plan = activation
            .plan
            .clone()
            .ok_or_else(|| Error::invalid_request(self.kind_name(), OP, "plan: no service plan"))?;
        self.check_plan(OP, &plan)?;
        let mut state = self.state();
        let Some(index) = state.records.iter().position(|r| &r.id == id) else {
            return Err(Error::not_found(
                self.kind_name(),
                OP,
                format!("commitment {id}"),
            ));
        };
        if let Some(live) = state.records.get(index).and_then(|r| r.account.clone()) {
            // Activated already: the same customer.
            return state
                .accounts
                .get(&live)
                .cloned()
                .ok_or_else(|| self.not_found(OP, &live));
        }
        state.next_id += 1;
        let account_id = AccountId::new(format!("{}", 100_000 + state.next_id));
        let dealer = state
            .records
            .get(index)
            .map(|r| r.dealer_customer_id.clone());
        let account = IspAccount {
            id: account_id.clone(),
            dealer_customer_id: dealer,
            contact: Default::default(),
            login_name: None,
            initial_password: None,
            plan: Some(plan),
            add_ons: BTreeSet::new(),
            status: AccountStatus::Active,
            created_at: Some(Utc::now()),
        };
        state.accounts.insert(account_id.clone(), account.clone());
        if let Some(record) = state.records.get_mut(index) {
            record.status = BuilderProgramRecordStatus::Live;
            record.account = Some(account_id.clone());
        }
        Self::push_event(&mut state, &account_id, EventKind::AccountCreated);
        Ok(account)
    }

    /// The reference callback format: the body is one [`IspEvent`] as the crate serializes it
    /// (JSON).
    fn callback_events(&self, body: &[u8]) -> Result<Vec<IspEvent>> {
        serde_json::from_slice::<IspEvent>(body)
            .map(|event| vec![event])
            .map_err(|e| {
                Error::invalid_request(
                    IN_MEMORY,
                    "callback_events",
                    format!("the body is not an event in the crate's JSON: {e}"),
                )
            })
    }

    async fn register_callback(&self, url: &url::Url) -> Result<CallbackRegistration> {
        let mut registration = CallbackRegistration::new(url.clone());
        registration.registered_at = Some(Utc::now());
        self.state().callback = Some(registration.clone());
        Ok(registration)
    }

    async fn callback_registration(&self) -> Result<Option<CallbackRegistration>> {
        Ok(self.state().callback.clone())
    }
}

/// The full add-on set as a sorted list, for display.
pub fn add_on_list(set: &BTreeSet<AddOn>) -> Vec<String> {
    set.iter()
        .map(|a| match a.quantity {
            Some(q) => format!("{}×{q}", a.feature),
            None => a.feature.to_string(),
        })
        .collect()
}
