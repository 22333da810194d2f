//! The conformance suite: one public async function per behaviour every provider must show,
//! each gated by [`Capabilities`]. A contributed provider runs [`run_all`] (or the functions one
//! by one) against its own simulator or test account.
//!
//! ```no_run
//! # async fn demo(provider: &dyn interactive_services::InteractiveServicesProvider) {
//! use interactive_services::testkit::conformance::{self, Options};
//! conformance::run_all(provider, &Options::default()).await;
//! # }
//! ```
//!
//! Each function creates its own customers with fresh dealer customer ids, so the functions
//! may run in any order and against a provider that already holds accounts. A failed check
//! panics with a message naming the behaviour, as a test assertion does.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::Error;
use crate::model::{
    AccountId, AccountStatus, Address, BuilderProgramRecordRequest, CommitmentActivation,
    CommitmentUpdate, DealerCustomerId, FeatureId, PlanChange, PlanId, ProvisionRequest,
};
use crate::provider::{Capabilities, InteractiveServicesProvider};

/// Adds what a provider needs to a provision request (vendor fields, unique device ids).
pub type Prepare = Arc<dyn Fn(&mut ProvisionRequest) + Send + Sync>;

/// What the suite may use at the provider.
#[derive(Clone)]
pub struct Options {
    /// Two add-on features the provider accepts on its plans.
    pub features: [FeatureId; 2],
    /// The plan to provision on; `None` takes the first plan the provider lists.
    pub plan: Option<PlanId>,
    /// A prefix for the dealer customer ids the suite creates.
    pub id_prefix: String,
    /// Called on every provision request the suite makes, to add what the provider needs.
    pub prepare: Option<Prepare>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("features", &self.features)
            .field("plan", &self.plan)
            .field("id_prefix", &self.id_prefix)
            .field("prepare", &self.prepare.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            features: [
                FeatureId::new("LightAutomation"),
                FeatureId::new("ThermostatControl"),
            ],
            plan: None,
            id_prefix: format!("conf-{:08x}", fastrand::u32(..)),
            prepare: None,
        }
    }
}

impl Options {
    fn dealer_id(&self, what: &str) -> DealerCustomerId {
        DealerCustomerId::new(format!(
            "{}-{what}-{:06x}",
            self.id_prefix,
            fastrand::u32(..0xFF_FFFF)
        ))
    }
}

async fn plan_for(p: &dyn InteractiveServicesProvider, o: &Options) -> PlanId {
    if let Some(plan) = &o.plan {
        return plan.clone();
    }
    let plans = p.service_plans().await.expect("service_plans");
    plans
        .first()
        .expect("the provider lists at least one plan")
        .id
        .clone()
}

fn request(o: &Options, dealer: DealerCustomerId, plan: PlanId) -> ProvisionRequest {
    let mut request = base_request(dealer, plan);
    if let Some(prepare) = &o.prepare {
        prepare(&mut request);
    }
    request
}

fn base_request(dealer: DealerCustomerId, plan: PlanId) -> ProvisionRequest {
    ProvisionRequest::builder(dealer)
        .name("Conformance", "Customer")
        .email("conformance@example.com")
        .phone("5555550100")
        .address(Address {
            street1: "1 Test Way".into(),
            street2: None,
            city: "Springfield".into(),
            state: "VA".into(),
            zip: "22150".into(),
            country: "US".into(),
        })
        .plan(plan)
        .build()
}

async fn provision(
    p: &dyn InteractiveServicesProvider,
    o: &Options,
    what: &str,
) -> crate::model::IspAccount {
    let plan = plan_for(p, o).await;
    p.provision(&request(o, o.dealer_id(what), plan))
        .await
        .unwrap_or_else(|e| panic!("[{what}] provision failed: {e}"))
}

/// Runs every behaviour the provider's capabilities allow.
pub async fn run_all(p: &dyn InteractiveServicesProvider, o: &Options) {
    credentials_are_accepted(p).await;
    service_plans_are_listed(p).await;
    provision_then_read(p, o).await;
    provision_never_duplicates(p, o).await;
    plan_change_adds_and_removes_features(p, o).await;
    plan_change_moves_plan(p, o).await;
    validate_only_changes_nothing(p, o).await;
    terminate_is_idempotent(p, o).await;
    unknown_account_is_not_found(p).await;
    listing_includes_provisioned(p, o).await;
    events_are_ordered_and_resumable(p, o).await;
    builder_program_records(p, o).await;
    callback_registration_reads_back(p).await;
    unsupported_operations_say_so(p).await;
}

/// `validate_credentials` accepts the configured login and says it may provision.
pub async fn credentials_are_accepted(p: &dyn InteractiveServicesProvider) {
    let check = p
        .validate_credentials()
        .await
        .unwrap_or_else(|e| panic!("[credentials] validate_credentials failed: {e}"));
    assert!(
        check.can("provisioning"),
        "[credentials] the login should be able to provision: {check:?}"
    );
}

/// `service_plans` lists at least one plan, with unique ids and names.
pub async fn service_plans_are_listed(p: &dyn InteractiveServicesProvider) {
    let plans = p
        .service_plans()
        .await
        .unwrap_or_else(|e| panic!("[plans] service_plans failed: {e}"));
    assert!(!plans.is_empty(), "[plans] no plan listed");
    let ids: BTreeSet<_> = plans.iter().map(|p| &p.id).collect();
    assert_eq!(
        ids.len(),
        plans.len(),
        "[plans] duplicate plan ids: {plans:?}"
    );
    assert!(
        plans.iter().all(|p| !p.name.trim().is_empty()),
        "[plans] a plan has no name: {plans:?}"
    );
}

/// A provisioned account reads back with its dealer id, plan, name and add-ons.
pub async fn provision_then_read(p: &dyn InteractiveServicesProvider, o: &Options) {
    let plan = plan_for(p, o).await;
    let dealer = o.dealer_id("read");
    let mut req = request(o, dealer.clone(), plan.clone());
    req.add_ons.push(crate::model::AddOn {
        feature: o.features[0].clone(),
        quantity: None,
    });
    let created = p
        .provision(&req)
        .await
        .unwrap_or_else(|e| panic!("[provision] failed: {e}"));
    let read = p
        .account(&created.id)
        .await
        .unwrap_or_else(|e| panic!("[provision] reading {} failed: {e}", created.id));
    assert_eq!(read.id, created.id, "[provision] read another account");
    assert_eq!(
        read.dealer_customer_id.as_ref(),
        Some(&dealer),
        "[provision] dealer id"
    );
    assert_eq!(read.plan.as_ref(), Some(&plan), "[provision] plan");
    assert_eq!(read.contact.last_name, "Customer", "[provision] last name");
    assert_eq!(read.status, AccountStatus::Active, "[provision] status");
    assert!(
        read.has_feature(o.features[0].as_str()),
        "[provision] add-on missing: {read:?}"
    );
}

/// A second provision for the same dealer customer id is a `Conflict` and creates nothing.
pub async fn provision_never_duplicates(p: &dyn InteractiveServicesProvider, o: &Options) {
    let plan = plan_for(p, o).await;
    let dealer = o.dealer_id("dup");
    let first = p
        .provision(&request(o, dealer.clone(), plan.clone()))
        .await
        .unwrap_or_else(|e| panic!("[duplicate] first provision failed: {e}"));
    let second = p.provision(&request(o, dealer, plan)).await;
    assert!(
        matches!(second, Err(Error::Conflict { .. })),
        "[duplicate] a second provision for the same dealer customer id must be a Conflict, got {second:?}"
    );
    if p.capabilities().account_listing {
        let all = p.list_accounts(true).await.expect("list_accounts");
        let mut same = 0;
        for id in &all {
            let a = p.account(id).await.expect("account");
            if a.dealer_customer_id == first.dealer_customer_id {
                same += 1;
            }
        }
        assert_eq!(same, 1, "[duplicate] accounts for one dealer customer id");
    }
}

/// Adding and removing add-ons keeps the others: the result is the full intended set.
pub async fn plan_change_adds_and_removes_features(
    p: &dyn InteractiveServicesProvider,
    o: &Options,
) {
    let [a, b] = &o.features;
    let acct = provision(p, o, "features").await;
    let after_add = p
        .change_plan(&acct.id, &PlanChange::new().add(a.clone()).add(b.clone()))
        .await
        .unwrap_or_else(|e| panic!("[features] adding failed: {e}"));
    assert!(after_add.has_feature(a.as_str()) && after_add.has_feature(b.as_str()));
    let after_remove = p
        .change_plan(&acct.id, &PlanChange::new().remove(a.clone()))
        .await
        .unwrap_or_else(|e| panic!("[features] removing failed: {e}"));
    assert!(
        !after_remove.has_feature(a.as_str()),
        "[features] {a} not removed"
    );
    assert!(
        after_remove.has_feature(b.as_str()),
        "[features] {b} lost on removing {a}"
    );
    let read = p.account(&acct.id).await.expect("account");
    assert_eq!(
        read.add_ons, after_remove.add_ons,
        "[features] read-back differs"
    );
}

/// Moving to another plan (when the provider lists two) shows on the account.
pub async fn plan_change_moves_plan(p: &dyn InteractiveServicesProvider, o: &Options) {
    let plans = p.service_plans().await.expect("service_plans");
    let acct = provision(p, o, "plan").await;
    let Some(other) = plans.iter().find(|pl| Some(&pl.id) != acct.plan.as_ref()) else {
        return;
    };
    let changed = p
        .change_plan(&acct.id, &PlanChange::new().plan(other.id.clone()))
        .await
        .unwrap_or_else(|e| panic!("[plan] change failed: {e}"));
    assert_eq!(changed.plan.as_ref(), Some(&other.id), "[plan] not moved");
    let read = p.account(&acct.id).await.expect("account");
    assert_eq!(
        read.plan.as_ref(),
        Some(&other.id),
        "[plan] read-back differs"
    );
}

/// A validation-only change answers without changing the account.
pub async fn validate_only_changes_nothing(p: &dyn InteractiveServicesProvider, o: &Options) {
    if !p.capabilities().validate_only_changes {
        return;
    }
    let acct = provision(p, o, "validate").await;
    let before = p.account(&acct.id).await.expect("account");
    p.change_plan(
        &acct.id,
        &PlanChange::new().add(o.features[1].clone()).validate_only(),
    )
    .await
    .unwrap_or_else(|e| panic!("[validate-only] failed: {e}"));
    let after = p.account(&acct.id).await.expect("account");
    assert_eq!(
        before.add_ons, after.add_ons,
        "[validate-only] add-ons changed"
    );
    assert_eq!(before.plan, after.plan, "[validate-only] plan changed");
}

/// Terminate works, shows as Terminated, and a second terminate succeeds too.
pub async fn terminate_is_idempotent(p: &dyn InteractiveServicesProvider, o: &Options) {
    let acct = provision(p, o, "terminate").await;
    p.terminate(&acct.id)
        .await
        .unwrap_or_else(|e| panic!("[terminate] failed: {e}"));
    p.terminate(&acct.id)
        .await
        .unwrap_or_else(|e| panic!("[terminate] a second terminate must succeed: {e}"));
    let read = p.account(&acct.id).await.expect("account");
    assert_eq!(read.status, AccountStatus::Terminated, "[terminate] status");
}

/// Reading an account that does not exist is `NotFound`.
pub async fn unknown_account_is_not_found(p: &dyn InteractiveServicesProvider) {
    let r = p.account(&AccountId::new("999999999")).await;
    assert!(
        matches!(r, Err(Error::NotFound { .. })),
        "[not found] expected NotFound, got {r:?}"
    );
}

/// Listing shows a new account, and hides terminated ones unless asked.
pub async fn listing_includes_provisioned(p: &dyn InteractiveServicesProvider, o: &Options) {
    if !p.capabilities().account_listing {
        return;
    }
    let acct = provision(p, o, "list").await;
    let live = p.list_accounts(false).await.expect("list_accounts");
    assert!(live.contains(&acct.id), "[listing] new account missing");
    p.terminate(&acct.id).await.expect("terminate");
    let live = p.list_accounts(false).await.expect("list_accounts");
    assert!(
        !live.contains(&acct.id),
        "[listing] terminated account listed"
    );
    let all = p.list_accounts(true).await.expect("list_accounts");
    assert!(
        all.contains(&acct.id),
        "[listing] terminated account missing with include_terminated"
    );
}

/// Events come oldest first with unique ids; resuming from a cursor repeats nothing.
pub async fn events_are_ordered_and_resumable(p: &dyn InteractiveServicesProvider, o: &Options) {
    if !p.capabilities().events {
        return;
    }
    let mut cursor = None;
    loop {
        let page = p.events_since(cursor.as_ref()).await.expect("events_since");
        cursor = Some(page.next);
        if !page.has_more {
            break;
        }
    }
    let acct = provision(p, o, "events").await;
    p.terminate(&acct.id).await.expect("terminate");
    let page = p.events_since(cursor.as_ref()).await.expect("events_since");
    let mine: Vec<_> = page
        .events
        .iter()
        .filter(|e| e.account == acct.id)
        .collect();
    assert!(
        mine.len() >= 2,
        "[events] expected created and terminated events: {page:?}"
    );
    assert!(
        mine.windows(2)
            .all(|w| w[0].occurred_at <= w[1].occurred_at),
        "[events] not oldest first"
    );
    let ids: BTreeSet<_> = page.events.iter().map(|e| &e.id).collect();
    assert_eq!(
        ids.len(),
        page.events.len(),
        "[events] duplicate ids in a page"
    );
    let again = p
        .events_since(Some(&page.next))
        .await
        .expect("events_since");
    assert!(
        again.events.iter().all(|e| !ids.contains(&e.id)),
        "[events] resuming repeated events"
    );
}

/// Builder Program records: programs are listed, a commitment is created once per customer
/// (saving it again returns it), read, updated, and activated into a live customer.
pub async fn builder_program_records(p: &dyn InteractiveServicesProvider, o: &Options) {
    if !p.capabilities().builder_program {
        return;
    }
    let programs = p.builder_programs().await.expect("builder_programs");
    let Some(program) = programs.first() else {
        return;
    };
    let dealer = o.dealer_id("builder");
    let address = Address {
        street1: "14 Willow Way".into(),
        city: "Reston".into(),
        state: "VA".into(),
        zip: "20190".into(),
        country: "US".into(),
        ..Address::default()
    };
    let ready = |day| chrono::NaiveDate::from_ymd_opt(2026, 9, day).unwrap_or_default();
    let req = BuilderProgramRecordRequest::new(program.id.clone(), dealer.clone(), address)
        .expected_panel_type("IQPanel2")
        .ready_date(ready(1));
    let first = p
        .create_builder_program_record(&req)
        .await
        .unwrap_or_else(|e| panic!("[builder] create failed: {e}"));
    assert_eq!(first.dealer_customer_id, dealer);
    assert!(!first.is_live(), "[builder] a new commitment is not live");
    let second = p
        .create_builder_program_record(&req)
        .await
        .expect("create again");
    assert_eq!(first.id, second.id, "[builder] a second record was created");
    let read = p.commitment(&first.id).await.expect("[builder] commitment");
    assert_eq!(read.id, first.id);
    let updated = p
        .update_commitment(&first.id, &CommitmentUpdate::new().ready_date(ready(15)))
        .await
        .unwrap_or_else(|e| panic!("[builder] update failed: {e}"));
    assert_eq!(updated.ready_date, Some(ready(15)), "[builder] update");
    let activation =
        CommitmentActivation::new("IQPanel2", "SERIAL-0001").plan(plan_for(p, o).await);
    let account = p
        .activate_commitment(&first.id, &activation)
        .await
        .unwrap_or_else(|e| panic!("[builder] activate failed: {e}"));
    assert_eq!(account.status, AccountStatus::Active, "[builder] activate");
    assert_eq!(account.dealer_customer_id.as_ref(), Some(&dealer));
    let live = p.commitment(&first.id).await.expect("[builder] commitment");
    assert!(live.is_live(), "[builder] an activated commitment is live");
    assert_eq!(live.account.as_ref(), Some(&account.id));
    let again = p
        .activate_commitment(&first.id, &activation)
        .await
        .expect("[builder] activate again");
    assert_eq!(
        again.id, account.id,
        "[builder] a second activation made another customer"
    );
}

/// With callbacks: a registered callback URL reads back enabled (the registration found before
/// is put back afterwards), and a body that is not the vendor's format is an
/// `InvalidRequest`, not a panic.
pub async fn callback_registration_reads_back(p: &dyn InteractiveServicesProvider) {
    if !p.capabilities().callbacks {
        return;
    }
    let before = p
        .callback_registration()
        .await
        .unwrap_or_else(|e| panic!("[callbacks] callback_registration failed: {e}"));
    let url = url::Url::parse("https://conformance.invalid/callbacks/conformance")
        .unwrap_or_else(|e| panic!("[callbacks] the test URL: {e}"));
    let registered = p
        .register_callback(&url)
        .await
        .unwrap_or_else(|e| panic!("[callbacks] register_callback failed: {e}"));
    assert_eq!(registered.url, url, "[callbacks] registered another URL");
    assert!(registered.enabled, "[callbacks] a registration is enabled");
    let read = p
        .callback_registration()
        .await
        .unwrap_or_else(|e| panic!("[callbacks] callback_registration failed: {e}"))
        .unwrap_or_else(|| panic!("[callbacks] nothing registered after register_callback"));
    assert_eq!(
        read.url, url,
        "[callbacks] the vendor's view shows another URL"
    );
    for body in [&b"not json"[..], b"{}", b"[[[[[[[[", &[0xff, 0xfe][..]] {
        assert!(
            matches!(p.callback_events(body), Err(Error::InvalidRequest { .. })),
            "[callbacks] an unreadable body must be InvalidRequest"
        );
    }
    if let Some(before) = before {
        p.register_callback(&before.url)
            .await
            .unwrap_or_else(|e| panic!("[callbacks] restoring the registration failed: {e}"));
    }
}

/// Every operation outside the capabilities answers `Unsupported`.
pub async fn unsupported_operations_say_so(p: &dyn InteractiveServicesProvider) {
    let caps: Capabilities = p.capabilities();
    let check = |what: &str, r: Result<(), Error>| {
        assert!(
            matches!(r, Err(Error::Unsupported { .. })),
            "[unsupported] {what} must answer Unsupported, got {r:?}"
        );
    };
    if !caps.account_listing {
        check("list_accounts", p.list_accounts(false).await.map(|_| ()));
    }
    if !caps.events {
        check("events_since", p.events_since(None).await.map(|_| ()));
    }
    if !caps.builder_program {
        check("builder_programs", p.builder_programs().await.map(|_| ()));
    }
    if !caps.callbacks {
        check("callback_events", p.callback_events(b"{}").map(|_| ()));
        check(
            "callback_registration",
            p.callback_registration().await.map(|_| ()),
        );
    }
}
