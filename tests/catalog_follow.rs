//! Providers handed out by an `IspCatalog` follow their entry: turning it Inactive stops a
//! kept provider before any request, a new default plan applies at once, new credentials
//! rebuild it, and a removed entry refuses every call.

use interactive_services::providers::alarm_com::simulator::{AlarmComSimulator, SimLogin};
use interactive_services::{
    Address, Error, IspCatalog, ProviderRegistry, ProvisionRequest, Status,
};

const NAME: &str = "Alarm.com (main)";

fn request(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .email("grace@example.com")
        .phone("5555550123")
        .address(Address {
            street1: "1 Navy Way".into(),
            city: "Arlington".into(),
            state: "VA".into(),
            zip: "22201".into(),
            country: "US".into(),
            ..Address::default()
        })
        .panel_type("IQPanel2")
        .modem_serial("ABC123456")
        .build()
}

async fn setup() -> (AlarmComSimulator, IspCatalog, ProviderRegistry) {
    let sim = AlarmComSimulator::start().await;
    let config = sim
        .config()
        .to_builder()
        .name(NAME)
        .default_plan("9")
        .build()
        .expect("valid config");
    let mut catalog = IspCatalog::new();
    catalog.add(config).expect("added");
    (sim, catalog, ProviderRegistry::with_built_ins())
}

#[tokio::test]
async fn a_kept_provider_stops_the_moment_its_entry_turns_inactive() {
    let (sim, mut catalog, registry) = setup().await;
    let provider = catalog.provider(NAME, &registry).expect("provider");

    let account = provider.provision(&request("C-1")).await.expect("active");
    assert_eq!(sim.customers_with_dealer_id("C-1"), 1);

    let inactive = catalog
        .get(NAME)
        .expect("entry")
        .clone()
        .with_status(Status::Inactive);
    catalog.replace(NAME, inactive).expect("replaced");
    let before = sim.calls().len();

    let refused = provider.provision(&request("C-2")).await;
    assert!(
        matches!(refused, Err(Error::Inactive { ref config, .. }) if config == NAME),
        "{refused:?}"
    );
    let refused = provider.terminate(&account.id).await;
    assert!(
        matches!(refused, Err(Error::Inactive { .. })),
        "{refused:?}"
    );
    assert_eq!(
        sim.calls().len(),
        before,
        "no request after the entry turned inactive"
    );
    assert_eq!(sim.customers_with_dealer_id("C-2"), 0);

    // Reads still go through, as for any Inactive configuration.
    provider.account(&account.id).await.expect("reads allowed");

    // And Active again lets changes through, without a new provider.
    let active = catalog
        .get(NAME)
        .expect("entry")
        .clone()
        .with_status(Status::Active);
    catalog.replace(NAME, active).expect("replaced");
    provider
        .provision(&request("C-2"))
        .await
        .expect("active again");
    assert_eq!(sim.customers_with_dealer_id("C-2"), 1);
}

#[tokio::test]
async fn a_new_default_plan_applies_to_the_next_provision() {
    let (sim, mut catalog, registry) = setup().await;
    let provider = catalog.provider(NAME, &registry).expect("provider");
    let first = provider
        .provision(&request("C-1"))
        .await
        .expect("provisioned");
    assert_eq!(first.plan.as_ref().map(|p| p.as_str()), Some("9"));

    let changed = catalog
        .get(NAME)
        .expect("entry")
        .to_builder()
        .default_plan("193")
        .build()
        .expect("valid");
    catalog.replace(NAME, changed).expect("replaced");
    let second = provider
        .provision(&request("C-2"))
        .await
        .expect("provisioned");
    assert_eq!(second.plan.as_ref().map(|p| p.as_str()), Some("193"));
    assert_eq!(sim.customers().len(), 2);
}

#[tokio::test]
async fn new_credentials_rebuild_the_kept_provider() {
    let (sim, mut catalog, registry) = setup().await;
    let provider = catalog.provider(NAME, &registry).expect("provider");
    provider.validate_credentials().await.expect("valid login");

    // The entry moves to a login the vendor refuses: the kept provider must use it.
    let changed = catalog
        .get(NAME)
        .expect("entry")
        .to_builder()
        .credential("password", "not the password")
        .build()
        .expect("valid");
    catalog.replace(NAME, changed).expect("replaced");
    let refused = provider.provision(&request("C-1")).await;
    assert!(
        matches!(refused, Err(Error::Unauthenticated { .. })),
        "the new password is used: {refused:?}"
    );

    // And a second login the simulator knows works through the same kept provider.
    sim.add_login("second-login", SimLogin::owner("second password"));
    let second = sim
        .config_for("second-login", "second password")
        .to_builder()
        .name(NAME)
        .default_plan("9")
        .build()
        .expect("valid");
    catalog.replace(NAME, second).expect("replaced");
    provider
        .provision(&request("C-1"))
        .await
        .expect("provisioned");
}

#[tokio::test]
async fn a_removed_entry_refuses_every_call() {
    let (sim, mut catalog, registry) = setup().await;
    let provider = catalog.provider(NAME, &registry).expect("provider");
    catalog.remove(NAME).expect("removed");
    let before = sim.calls().len();
    let refused = provider.service_plans().await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );
    let refused = provider.provision(&request("C-1")).await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );
    assert_eq!(sim.calls().len(), before);
}

#[tokio::test]
async fn a_provider_from_a_copy_does_not_follow_the_original() {
    let (_sim, mut catalog, registry) = setup().await;
    let copy = catalog.clone();
    let from_copy = copy.provider(NAME, &registry).expect("provider");
    let inactive = catalog
        .get(NAME)
        .expect("entry")
        .clone()
        .with_status(Status::Inactive);
    catalog.replace(NAME, inactive).expect("replaced");
    from_copy
        .provision(&request("C-1"))
        .await
        .expect("the copy's entry is still active");
}

#[test]
fn an_unknown_entry_is_not_found() {
    let catalog = IspCatalog::new();
    let registry = ProviderRegistry::with_built_ins();
    assert!(matches!(
        catalog.provider("nope", &registry),
        Err(Error::NotFound { .. })
    ));
}
