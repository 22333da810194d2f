//! The main path rests on calls public sources show: against an Alarm.com that answers every
//! modelled operation as ASMX answers an unknown one, credentials are still checked, the roles
//! are reported as unread with the steps to check them, and the provisioning walk completes.

use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, MODELLED_OPERATIONS,
};
use interactive_services::providers::alarm_com::{BILLING_PERMISSION, INTEGRATION_ROLE};
use interactive_services::{ErrorKind, PlanChange, ProviderRegistry, ProvisionRequest};

#[tokio::test]
async fn the_walk_completes_on_seen_operations_and_names_each_role_it_could_not_read() {
    let sim = AlarmComSimulator::start().await;
    sim.serve_modelled_operations(false);
    let config = sim
        .config()
        .to_builder()
        .billing(true)
        .build()
        .expect("config");
    let provider = ProviderRegistry::with_built_ins()
        .build(&config)
        .expect("provider");

    let check = provider
        .validate_credentials()
        .await
        .expect("the login is checked on a seen call");
    assert_eq!(check.login, DEFAULT_LOGIN);
    assert!(check.missing.is_empty(), "{check:?}");
    let unread: Vec<&str> = check
        .unverified
        .iter()
        .map(|u| u.permission.as_str())
        .collect();
    assert!(unread.contains(&INTEGRATION_ROLE), "{unread:?}");
    assert!(unread.contains(&BILLING_PERMISSION), "{unread:?}");
    for u in &check.unverified {
        assert!(u.how_to_check.contains("Partner Portal"), "{u:?}");
        assert!(u.how_to_check.contains("GetLoginRoles"), "{u:?}");
    }

    let plans = provider.service_plans().await.expect("plans");
    assert!(plans.iter().any(|p| p.id.as_str() == "9"));
    let account = provider
        .provision(
            &ProvisionRequest::builder("D-LIVE")
                .name("Ada", "Lovelace")
                .build(),
        )
        .await
        .expect("provision");
    let account = provider
        .change_plan(&account.id, &PlanChange::new().add("LightAutomation"))
        .await
        .expect("change");
    assert!(account.has_feature("LightAutomation"));
    provider.terminate(&account.id).await.expect("terminate");

    // Every modelled operation was refused, and none was needed.
    for op in MODELLED_OPERATIONS {
        assert!(sim.call_count(op) <= 1, "{op}");
    }
    assert_eq!(sim.customers_with_dealer_id("D-LIVE"), 1);
}

#[tokio::test]
async fn a_bad_password_is_still_unauthenticated_without_the_modelled_call() {
    let sim = AlarmComSimulator::start().await;
    sim.serve_modelled_operations(false);
    let config = sim.config_for(DEFAULT_LOGIN, "wrong-password");
    let provider = ProviderRegistry::with_built_ins()
        .build(&config)
        .expect("provider");
    let e = provider.validate_credentials().await.expect_err("rejected");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.operation(), Some("validate_credentials"));
}

#[tokio::test]
async fn an_endpoint_without_the_web_services_folder_fails_as_it_would_in_production() {
    let sim = AlarmComSimulator::start().await;
    let config = sim
        .config()
        .to_builder()
        .endpoint(sim.endpoint().replace("/WebServices/", "/"))
        .build()
        .expect("config");
    let provider = ProviderRegistry::with_built_ins()
        .build(&config)
        .expect("provider");
    let e = provider
        .service_plans()
        .await
        .expect_err("the service lives under WebServices/");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}
