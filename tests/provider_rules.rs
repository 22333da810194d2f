//! The rules a configuration imposes on every provider the registry builds (Inactive changes
//! nothing, the default plan fills in), the registry itself, the forwarding impls, and the
//! default bodies of the optional operations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use interactive_services::provider::{ProviderOptions, ProviderSpec};
use interactive_services::testkit::{self, InMemoryProvider};
use interactive_services::{
    AccountId, AccountStatus, Address, BuilderProgram, BuilderProgramRecord,
    BuilderProgramRecordRequest, Capabilities, CommitmentActivation, CommitmentUpdate,
    ConfiguredProvider, Contact, CredentialCheck, CredentialField, Cursor, Error, EventPage,
    InteractiveServicesProvider, IspAccount, IspConfig, PlanChange, PlanId, ProviderKind,
    ProviderRegistry, ProvisionRequest, Result, ServicePlan, Status,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn registry() -> ProviderRegistry {
    let mut registry = ProviderRegistry::with_built_ins();
    InMemoryProvider::register(&mut registry);
    registry
}

fn in_memory_config(status: Status, default_plan: Option<&str>) -> IspConfig {
    let mut b = IspConfig::builder()
        .name("Reference")
        .provider("in_memory")
        .credential("token", "not-a-real-secret")
        .builder_program(true)
        .status(status);
    if let Some(plan) = default_plan {
        b = b.default_plan(plan);
    }
    b.build().expect("valid config")
}

fn customer(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Ada", "Lovelace")
        .build()
}

fn builder_program_record(dealer_id: &str) -> BuilderProgramRecordRequest {
    let lot = Address {
        street1: "14 Willow Way".into(),
        city: "Reston".into(),
        state: "VA".into(),
        zip: "20190".into(),
        ..Address::default()
    };
    BuilderProgramRecordRequest::new("BP-1", dealer_id, lot)
        .expected_panel_type("IQPanel2")
        .ready_date(chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"))
}

#[track_caller]
fn assert_inactive(result: Result<impl std::fmt::Debug>, operation: &str, provider: &str) {
    match result {
        Err(Error::Inactive {
            provider: p,
            operation: op,
            config,
        }) => {
            assert_eq!(op, operation);
            assert_eq!(p, provider);
            assert!(!config.is_empty());
        }
        other => panic!("{operation}: expected Inactive, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A provider that makes one HTTP request per call, to prove which calls reach the network.

const PROBE: &str = "wire_probe";

const PROBE_FIELDS: &[CredentialField] = &[CredentialField {
    key: "api_key",
    label: "API key",
    secret: true,
    required: true,
    help: "Any value.",
}];

#[derive(Debug)]
struct WireProbe {
    client: reqwest::Client,
    base: String,
}

impl WireProbe {
    async fn call(&self, operation: &str) -> Result<()> {
        let sent = self
            .client
            .post(format!("{}/{operation}", self.base))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(Error::invalid_response(
                PROBE,
                "probe",
                format!("HTTP {}", r.status()),
            )),
            Err(e) => Err(Error::transport(PROBE, "probe", 1, Box::new(e))),
        }
    }

    fn account_for(id: &AccountId, plan: Option<PlanId>) -> IspAccount {
        IspAccount {
            id: id.clone(),
            dealer_customer_id: None,
            contact: Contact::default(),
            login_name: None,
            initial_password: None,
            plan,
            add_ons: Default::default(),
            status: AccountStatus::Active,
            created_at: None,
        }
    }
}

#[async_trait]
impl InteractiveServicesProvider for WireProbe {
    fn kind(&self) -> ProviderKind {
        ProviderKind::new(PROBE)
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        self.call("validate_credentials").await?;
        Ok(CredentialCheck {
            login: "probe".into(),
            granted: vec!["provisioning".into()],
            missing: Vec::new(),
            unverified: Vec::new(),
        })
    }
    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        self.call("service_plans").await?;
        Ok(Vec::new())
    }
    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        self.call("provision").await?;
        Ok(Self::account_for(
            &AccountId::new("1"),
            request.plan.clone(),
        ))
    }
    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        self.call("account").await?;
        Ok(Self::account_for(id, None))
    }
    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        self.call("change_plan").await?;
        Ok(Self::account_for(id, change.plan.clone()))
    }
    async fn terminate(&self, _id: &AccountId) -> Result<()> {
        self.call("terminate").await
    }
    async fn list_accounts(&self, _include_terminated: bool) -> Result<Vec<AccountId>> {
        self.call("list_accounts").await?;
        Ok(Vec::new())
    }
    async fn events_since(&self, _cursor: Option<&Cursor>) -> Result<EventPage> {
        self.call("events_since").await?;
        Ok(EventPage {
            events: Vec::new(),
            next: Cursor::new("0"),
            has_more: false,
        })
    }
    async fn builder_programs(&self) -> Result<Vec<BuilderProgram>> {
        self.call("builder_programs").await?;
        Ok(Vec::new())
    }
    async fn create_builder_program_record(
        &self,
        request: &BuilderProgramRecordRequest,
    ) -> Result<BuilderProgramRecord> {
        self.call("create_builder_program_record").await?;
        Ok(BuilderProgramRecord::new(
            "C-1",
            request.program.clone(),
            request.dealer_customer_id().clone(),
        ))
    }
}

/// A registry with the probe registered (under a mixed-case name) and a counter of how many
/// times its constructor ran.
fn probe_registry() -> (ProviderRegistry, Arc<AtomicUsize>) {
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let mut registry = registry();
    let spec = ProviderSpec::new("Wire_Probe", "Wire probe", PROBE_FIELDS).builder_program();
    registry.register_spec(spec, move |config: &IspConfig, _: &ProviderOptions| {
        counter.fetch_add(1, Ordering::SeqCst);
        let base = config
            .endpoint()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .ok_or_else(|| Error::invalid_request(PROBE, "build", "the probe needs an endpoint"))?;
        Ok(Arc::new(WireProbe {
            client: reqwest::Client::new(),
            base,
        }) as Arc<dyn InteractiveServicesProvider>)
    });
    (registry, built)
}

fn probe_config(server: &MockServer, status: Status, default_plan: Option<&str>) -> IspConfig {
    let mut b = IspConfig::builder()
        .name("Probe")
        .provider("WIRE_PROBE")
        .credential("api_key", "k")
        .endpoint(server.uri())
        .builder_program(true)
        .status(status);
    if let Some(plan) = default_plan {
        b = b.default_plan(plan);
    }
    b.build().expect("valid probe config")
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// The paths the server saw, in order.
async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|r| r.url.path().trim_start_matches('/').to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Inactive

#[tokio::test]
async fn an_inactive_config_changes_nothing_and_sends_nothing() {
    let server = server().await;
    let (registry, _) = probe_registry();
    let provider = registry
        .build(&probe_config(&server, Status::Inactive, Some("basic")))
        .unwrap();
    let id = AccountId::new("1");

    assert_inactive(
        provider
            .provision(
                &ProvisionRequest::builder("C-1")
                    .name("A", "B")
                    .plan("basic")
                    .build(),
            )
            .await,
        "provision",
        PROBE,
    );
    assert_inactive(
        provider.provision(&customer("C-2")).await,
        "provision",
        PROBE,
    );
    assert_inactive(
        provider
            .change_plan(&id, &PlanChange::new().add("LightAutomation"))
            .await,
        "change_plan",
        PROBE,
    );
    assert_inactive(provider.terminate(&id).await, "terminate", PROBE);
    assert_inactive(
        provider
            .create_builder_program_record(&builder_program_record("C-3"))
            .await,
        "create_builder_program_record",
        PROBE,
    );
    assert_eq!(
        calls(&server).await,
        Vec::<String>::new(),
        "an Inactive configuration must not reach the vendor for a change"
    );

    // Reads still go through (and the probe does reach the server).
    provider.validate_credentials().await.unwrap();
    provider.service_plans().await.unwrap();
    provider.account(&id).await.unwrap();
    provider.list_accounts(true).await.unwrap();
    provider.events_since(None).await.unwrap();
    provider.builder_programs().await.unwrap();
    provider
        .change_plan(
            &id,
            &PlanChange::new().add("LightAutomation").validate_only(),
        )
        .await
        .unwrap();
    assert_eq!(
        calls(&server).await,
        vec![
            "validate_credentials",
            "service_plans",
            "account",
            "list_accounts",
            "events_since",
            "builder_programs",
            "change_plan",
        ]
    );
}

#[tokio::test]
async fn an_active_config_lets_changes_through() {
    let server = server().await;
    let (registry, _) = probe_registry();
    let provider = registry
        .build(&probe_config(&server, Status::Active, Some("basic")))
        .unwrap();
    let id = AccountId::new("1");
    provider.provision(&customer("C-1")).await.unwrap();
    provider.change_plan(&id, &PlanChange::new()).await.unwrap();
    provider.terminate(&id).await.unwrap();
    provider
        .create_builder_program_record(&builder_program_record("C-1"))
        .await
        .unwrap();
    assert_eq!(
        calls(&server).await,
        vec![
            "provision",
            "change_plan",
            "terminate",
            "create_builder_program_record"
        ]
    );
}

#[tokio::test]
async fn inactive_in_memory_config_refuses_changes_and_allows_reads() {
    let provider = registry()
        .build(&in_memory_config(Status::Inactive, Some("basic")))
        .unwrap();
    let provider_name = "in_memory";
    assert_inactive(
        provider.provision(&customer("C-1")).await,
        "provision",
        provider_name,
    );
    let id = AccountId::new("100001");
    assert_inactive(
        provider
            .change_plan(&id, &PlanChange::new().plan("advanced"))
            .await,
        "change_plan",
        provider_name,
    );
    assert_inactive(provider.terminate(&id).await, "terminate", provider_name);
    assert_inactive(
        provider
            .create_builder_program_record(&builder_program_record("C-1"))
            .await,
        "create_builder_program_record",
        provider_name,
    );
    assert!(
        provider
            .validate_credentials()
            .await
            .unwrap()
            .can("provisioning")
    );
    assert_eq!(provider.service_plans().await.unwrap().len(), 3);
    assert!(provider.list_accounts(true).await.unwrap().is_empty());
    assert!(provider.events_since(None).await.unwrap().events.is_empty());
    assert_eq!(provider.builder_programs().await.unwrap().len(), 1);
    // A read of an unknown account is NotFound, not Inactive: reads are not gated.
    assert!(matches!(
        provider.account(&id).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn an_inactive_config_leaves_existing_accounts_as_they_are() {
    let shared = InMemoryProvider::new();
    let active = ConfiguredProvider::new(
        Arc::new(shared.clone()),
        &in_memory_config(Status::Active, Some("basic")),
    );
    let inactive_config = in_memory_config(Status::Inactive, Some("basic"));
    let inactive = ConfiguredProvider::new(Arc::new(shared.clone()), &inactive_config);
    assert_eq!(inactive.inner().kind(), ProviderKind::new("in_memory"));

    let account = active.provision(&customer("C-1")).await.unwrap();
    let before = inactive.account(&account.id).await.unwrap();
    assert_eq!(before, account);

    let err = inactive
        .change_plan(&account.id, &PlanChange::new().plan("advanced").add("X"))
        .await
        .unwrap_err();
    match &err {
        Error::Inactive { config, .. } => assert_eq!(config, "Reference"),
        other => panic!("expected Inactive, got {other:?}"),
    }
    assert!(err.to_string().contains("inactive"), "{err}");
    assert!(!err.is_retryable());
    assert_inactive(
        inactive.terminate(&account.id).await,
        "terminate",
        "in_memory",
    );
    assert_inactive(
        inactive.provision(&customer("C-2")).await,
        "provision",
        "in_memory",
    );

    // A validation-only change is a read: allowed, and it changes nothing.
    inactive
        .change_plan(
            &account.id,
            &PlanChange::new().plan("advanced").validate_only(),
        )
        .await
        .unwrap();
    let after = inactive.account(&account.id).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.status, AccountStatus::Active);
    assert_eq!(shared.account_count(), 1);
    assert_eq!(
        inactive.list_accounts(false).await.unwrap(),
        vec![account.id.clone()]
    );
}

// ---------------------------------------------------------------------------------------------
// Default plan

#[tokio::test]
async fn provision_without_a_plan_takes_the_default_plan() {
    let provider = registry()
        .build(&in_memory_config(Status::Active, Some("advanced")))
        .unwrap();
    let account = provider.provision(&customer("C-1")).await.unwrap();
    assert_eq!(account.plan, Some(PlanId::new("advanced")));
    // An explicit plan wins over the default.
    let explicit = ProvisionRequest::builder("C-2")
        .name("Grace", "Hopper")
        .plan("wsf")
        .build();
    let account = provider.provision(&explicit).await.unwrap();
    assert_eq!(account.plan, Some(PlanId::new("wsf")));
}

#[tokio::test]
async fn provision_with_neither_plan_nor_default_is_refused_before_the_provider() {
    let server = server().await;
    let (registry, _) = probe_registry();
    let provider = registry
        .build(&probe_config(&server, Status::Active, None))
        .unwrap();
    let err = provider.provision(&customer("C-1")).await.unwrap_err();
    match &err {
        Error::InvalidRequest {
            provider,
            operation,
            detail,
        } => {
            assert_eq!(provider, PROBE);
            assert_eq!(*operation, "provision");
            assert!(detail.contains("default service plan"), "{detail}");
            assert!(
                detail.contains("Probe"),
                "names the configuration: {detail}"
            );
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert!(calls(&server).await.is_empty());

    let in_memory = registry
        .build(&in_memory_config(Status::Active, None))
        .unwrap();
    assert!(matches!(
        in_memory.provision(&customer("C-1")).await,
        Err(Error::InvalidRequest {
            operation: "provision",
            ..
        })
    ));
}

#[tokio::test]
async fn an_invalid_provision_request_never_reaches_the_provider() {
    let server = server().await;
    let (registry, _) = probe_registry();
    let provider = registry
        .build(&probe_config(&server, Status::Active, Some("basic")))
        .unwrap();
    let nameless = ProvisionRequest::builder("C-1").plan("basic").build();
    let err = provider.provision(&nameless).await.unwrap_err();
    match &err {
        Error::InvalidRequest { detail, .. } => assert!(detail.contains("contact"), "{detail}"),
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    let blank_id = ProvisionRequest::builder("  ").name("A", "B").build();
    let err = provider.provision(&blank_id).await.unwrap_err();
    match &err {
        Error::InvalidRequest { detail, .. } => {
            assert!(detail.contains("dealer_customer_id"), "{detail}")
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert!(calls(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Registry

#[test]
fn an_unknown_provider_name_is_unsupported() {
    let config = IspConfig::builder()
        .name("Acme")
        .provider("acme_connect")
        .build()
        .unwrap();
    match registry().build(&config) {
        Err(Error::Unsupported { provider, .. }) => assert_eq!(provider, "acme_connect"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn an_empty_registry_builds_nothing() {
    let registry = ProviderRegistry::empty();
    assert_eq!(registry.names().count(), 0);
    assert!(matches!(
        registry.build(&in_memory_config(Status::Active, None)),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn registered_names_and_fields_are_listed() {
    let (registry, _) = probe_registry();
    let names: Vec<&str> = registry.names().collect();
    assert!(names.contains(&"in_memory"), "{names:?}");
    assert!(
        names.contains(&"wire_probe"),
        "names are kept in lower case: {names:?}"
    );
    let fields = registry
        .credential_fields(&ProviderKind::new("in_memory"))
        .expect("fields");
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].key, "token");
    assert!(fields[0].secret && fields[0].required);
    assert!(
        registry
            .credential_fields(&ProviderKind::new("nope"))
            .is_none()
    );
    let debug = format!("{registry:?}");
    assert!(debug.contains("wire_probe"), "{debug}");
}

#[test]
fn a_contributed_providers_credentials_are_checked_against_its_fields() {
    let (registry, built) = probe_registry();
    // Missing the required key.
    let missing = IspConfig::builder()
        .name("Reference")
        .provider("in_memory")
        .build()
        .unwrap();
    match registry.build(&missing) {
        Err(Error::InvalidConfig { provider, problems }) => {
            assert_eq!(provider, "in_memory");
            let fields: Vec<&str> = problems
                .problems()
                .iter()
                .map(|p| p.field.as_str())
                .collect();
            assert_eq!(fields, vec!["credentials.token"]);
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    // An unknown key, next to a missing one.
    let unknown = IspConfig::builder()
        .name("Reference")
        .provider("in_memory")
        .credential("tokn", "x")
        .build()
        .unwrap();
    match registry.build(&unknown) {
        Err(Error::InvalidConfig { problems, .. }) => {
            let mut fields: Vec<&str> = problems
                .problems()
                .iter()
                .map(|p| p.field.as_str())
                .collect();
            fields.sort_unstable();
            assert_eq!(fields, vec!["credentials.token", "credentials.tokn"]);
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    // The probe's constructor is not run for a configuration it cannot take.
    let bad_probe = IspConfig::builder()
        .name("Probe")
        .provider(PROBE)
        .credential("token", "x")
        .build()
        .unwrap();
    assert!(matches!(
        registry.build(&bad_probe),
        Err(Error::InvalidConfig { .. })
    ));
    assert_eq!(built.load(Ordering::SeqCst), 0);
}

#[test]
fn a_constructor_error_is_returned() {
    let (registry, built) = probe_registry();
    let no_endpoint = IspConfig::builder()
        .name("Probe")
        .provider(PROBE)
        .credential("api_key", "k")
        .build()
        .unwrap();
    assert!(matches!(
        registry.build(&no_endpoint),
        Err(Error::InvalidRequest { .. })
    ));
    assert_eq!(built.load(Ordering::SeqCst), 1);
}

#[test]
fn each_configuration_gets_a_provider_of_its_kind() {
    let provider = registry()
        .build(&in_memory_config(Status::Active, None))
        .unwrap();
    assert_eq!(provider.kind(), ProviderKind::new("in_memory"));
    assert_eq!(provider.kind().to_string(), testkit::IN_MEMORY);
    assert_eq!(provider.capabilities(), Capabilities::ALL);
}

// ---------------------------------------------------------------------------------------------
// Forwarding impls

async fn exercise<P: InteractiveServicesProvider>(p: &P, dealer_id: &str) {
    assert_eq!(p.kind(), ProviderKind::new("in_memory"));
    assert_eq!(p.capabilities(), Capabilities::ALL);
    p.validate_credentials().await.unwrap();
    let plans = p.service_plans().await.unwrap();
    let request = ProvisionRequest::builder(dealer_id)
        .name("Ada", "Lovelace")
        .plan(plans[0].id.clone())
        .build();
    let account = p.provision(&request).await.unwrap();
    assert_eq!(p.account(&account.id).await.unwrap().id, account.id);
    let changed = p
        .change_plan(&account.id, &PlanChange::new().add("LightAutomation"))
        .await
        .unwrap();
    assert!(changed.has_feature("LightAutomation"));
    // The optional operations are forwarded too (the defaults would answer Unsupported).
    assert!(p.list_accounts(false).await.unwrap().contains(&account.id));
    assert!(!p.events_since(None).await.unwrap().events.is_empty());
    assert!(!p.builder_programs().await.unwrap().is_empty());
    let hook = url::Url::parse("https://dealer.example/callbacks/main").unwrap();
    assert_eq!(p.register_callback(&hook).await.unwrap().url, hook);
    assert_eq!(p.callback_registration().await.unwrap().unwrap().url, hook);
    assert!(p.callback_events(b"not an event").is_err());
    // A commitment is for another dealer customer id than the customer's.
    let record = p
        .create_builder_program_record(&builder_program_record(&format!("{dealer_id}-lot")))
        .await
        .unwrap();
    assert_eq!(p.commitment(&record.id).await.unwrap().id, record.id);
    p.update_commitment(
        &record.id,
        &CommitmentUpdate::new().expected_panel_type("Neo"),
    )
    .await
    .unwrap();
    let live = p
        .activate_commitment(
            &record.id,
            &CommitmentActivation::new("Neo", "SERIAL-1").plan(plans[0].id.clone()),
        )
        .await
        .unwrap();
    p.terminate(&live.id).await.unwrap();
    p.terminate(&account.id).await.unwrap();
    assert_eq!(
        p.account(&account.id).await.unwrap().status,
        AccountStatus::Terminated
    );
}

#[tokio::test]
async fn arc_and_box_forward_every_operation() {
    let shared = InMemoryProvider::new();
    exercise(&Arc::new(shared.clone()), "arc").await;
    exercise(&Box::new(shared.clone()), "box").await;
    let boxed_dyn: Box<dyn InteractiveServicesProvider> = Box::new(shared.clone());
    exercise(&boxed_dyn, "box-dyn").await;
    let arc_dyn: Arc<dyn InteractiveServicesProvider> = Arc::new(shared.clone());
    exercise(&arc_dyn, "arc-dyn").await;
    exercise(&Arc::new(Box::new(shared.clone())), "arc-box").await;
    // They all worked on the one provider: a customer and an activated commitment each.
    assert_eq!(shared.account_count(), 10);
}

// ---------------------------------------------------------------------------------------------
// Default bodies of the optional operations

#[derive(Debug)]
struct Minimal;

#[async_trait]
impl InteractiveServicesProvider for Minimal {
    fn kind(&self) -> ProviderKind {
        ProviderKind::new("minimal")
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }
    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        Ok(CredentialCheck {
            login: "minimal".into(),
            granted: vec!["provisioning".into()],
            missing: Vec::new(),
            unverified: Vec::new(),
        })
    }
    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        Ok(Vec::new())
    }
    async fn provision(&self, _request: &ProvisionRequest) -> Result<IspAccount> {
        Err(self.unsupported("provision"))
    }
    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        Err(Error::not_found("minimal", "account", id.to_string()))
    }
    async fn change_plan(&self, _id: &AccountId, _change: &PlanChange) -> Result<IspAccount> {
        Err(self.unsupported("change_plan"))
    }
    async fn terminate(&self, _id: &AccountId) -> Result<()> {
        Ok(())
    }
}

#[track_caller]
fn assert_unsupported(result: Result<impl std::fmt::Debug>, operation: &str) {
    match result {
        Err(Error::Unsupported {
            provider,
            operation: op,
            ..
        }) => {
            assert_eq!(provider, "minimal");
            assert_eq!(op, operation);
        }
        other => panic!("{operation}: expected Unsupported, got {other:?}"),
    }
}

async fn assert_optional_operations_unsupported(p: &dyn InteractiveServicesProvider) {
    assert_unsupported(p.events_since(None).await, "events_since");
    assert_unsupported(
        p.events_since(Some(&Cursor::new("5"))).await,
        "events_since",
    );
    assert_unsupported(p.builder_programs().await, "builder_programs");
    assert_unsupported(
        p.create_builder_program_record(&builder_program_record("C-1"))
            .await,
        "create_builder_program_record",
    );
    let record = interactive_services::BuilderProgramRecordId::new("1");
    assert_unsupported(p.commitment(&record).await, "commitment");
    assert_unsupported(
        p.update_commitment(&record, &CommitmentUpdate::new().expected_panel_type("Neo"))
            .await,
        "update_commitment",
    );
    assert_unsupported(
        p.activate_commitment(&record, &CommitmentActivation::new("Neo", "S-1"))
            .await,
        "activate_commitment",
    );
    assert_unsupported(p.list_accounts(true).await, "list_accounts");
}

#[tokio::test]
async fn optional_operations_default_to_unsupported() {
    assert_eq!(Capabilities::default(), Capabilities::NONE);
    assert_optional_operations_unsupported(&Minimal).await;
    // Also through the forwarding impls and through a registry-built provider.
    assert_optional_operations_unsupported(&Arc::new(Minimal)).await;
    let mut registry = ProviderRegistry::empty();
    registry.register("minimal", &[], |_: &IspConfig| {
        Ok(Arc::new(Minimal) as Arc<dyn InteractiveServicesProvider>)
    });
    let config = IspConfig::builder()
        .name("Minimal")
        .provider("minimal")
        .build()
        .unwrap();
    let built = registry.build(&config).unwrap();
    assert_optional_operations_unsupported(built.as_ref()).await;
    // The conformance suite's own check agrees.
    testkit::conformance::unsupported_operations_say_so(&Minimal).await;
    let err = Minimal.events_since(None).await.unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
    assert!(!err.is_retryable());
}
