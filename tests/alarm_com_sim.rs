//! Behaviour of the Alarm.com provider against the stateful simulator.

use std::sync::Arc;
use std::time::Duration;

use interactive_services::http::soap::SoapVersion;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, SimLogin,
};
use interactive_services::providers::alarm_com::{AddOnFeature, AlarmCom, PackageGroup, PanelType};
use interactive_services::testkit::conformance::{self, Options};
use interactive_services::testkit::resilience::{self, Refusal, Target};
use interactive_services::{
    AccountId, Address, Error, InteractiveServicesProvider, IspConfig, PlanChange,
    ProviderRegistry, ProvisionRequest,
};

fn fast_options() -> TransportOptions {
    TransportOptions {
        attempt_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            deadline: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(2),
        },
        ..TransportOptions::default()
    }
}

fn provider(config: &IspConfig) -> AlarmCom {
    AlarmCom::builder(config)
        .transport_options(fast_options())
        .build()
        .expect("provider")
}

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
        .plan("9")
        .add_on("LightAutomation")
        .build()
}

#[tokio::test]
async fn conformance_suite_passes_on_soap11() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    conformance::run_all(&p, &Options::default()).await;
}

#[tokio::test]
async fn conformance_suite_passes_on_soap12_through_the_registry() {
    let sim = AlarmComSimulator::start().await;
    let p12 = AlarmCom::builder(&sim.config())
        .soap_version(SoapVersion::V12)
        .transport_options(fast_options())
        .build()
        .expect("provider");
    conformance::run_all(&p12, &Options::default()).await;
    assert!(
        sim.calls().iter().all(|c| c.version == SoapVersion::V12),
        "every call should have been SOAP 1.2"
    );

    // And the default (1.1) provider the registry builds passes too.
    let registry = ProviderRegistry::with_built_ins();
    let built: Arc<dyn InteractiveServicesProvider> = registry.build(&sim.config()).expect("build");
    conformance::run_all(built.as_ref(), &Options::default()).await;
}

fn refused(dealer_id: &str) -> Refusal {
    let request = ProvisionRequest::builder(dealer_id)
        .name("A", "B")
        .plan("9")
        .add_on("NoSuchAddOn")
        .build();
    Refusal::new(request, "NoSuchAddOn")
}

#[tokio::test]
async fn resilience_suite_passes() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    resilience::run_all(&Target::new(&p, &sim, request, refused)).await;
}

#[tokio::test]
async fn a_refusal_names_the_provider() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let r = p.provision(&refused("D-BAD").request).await;
    match r {
        Err(e) => assert_eq!(e.provider(), "alarm_com", "{e:?}"),
        Ok(a) => panic!("expected a refusal, got {a:?}"),
    }
}

#[test]
fn unknown_enum_values_round_trip() {
    for raw in ["HologramDoorbell2031", "LightAutomation"] {
        let f: AddOnFeature = raw.parse().expect("infallible");
        assert_eq!(f.as_str(), raw);
    }
    assert_eq!(
        "QuantumPlan"
            .parse::<PackageGroup>()
            .map(|g| g.to_string())
            .ok()
            .as_deref(),
        Some("QuantumPlan")
    );
    assert!(matches!("IQPanel9".parse::<PanelType>(), Ok(PanelType::Other(s)) if s == "IQPanel9"));
    assert!(matches!(
        "IQPanel2".parse::<PanelType>(),
        Ok(PanelType::IQPanel2)
    ));
}

#[tokio::test]
async fn provision_sends_every_field_and_returns_the_one_time_password() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let req = ProvisionRequest::builder("D-100")
        .name("Ada", "Lovelace")
        .email("ada@example.com")
        .phone("5555550100")
        .desired_login("ada.l")
        .panel_type("Neo")
        .modem_serial("SER-1")
        .plan("2")
        .add_on("RemoteArming")
        .notification_email("ops@example.com")
        .property_type(interactive_services::PropertyType::Townhouse)
        .central_station_forwarding(
            interactive_services::CentralStationForwarding::OnlyIfPhoneFails,
        )
        .build();
    let account = p.provision(&req).await.expect("provision");
    assert!(account.initial_password.is_some());
    assert_eq!(account.login_name.as_deref(), Some("ada.l"));
    let id: i64 = account.id.as_str().parse().expect("numeric id");
    let c = sim.customer(id).expect("customer stored");
    assert_eq!(c.dealer_customer_id, "D-100");
    assert_eq!(c.first_name, "Ada");
    assert_eq!(c.email, "ada@example.com");
    assert_eq!(c.package_id, 2);
    assert_eq!(c.panel_type, "Neo");
    assert_eq!(c.modem_serial, "SER-1");
    assert_eq!(c.property_type, "Townhouse");
    assert_eq!(c.forwarding, "OnlyIfPhoneFails");
    assert_eq!(c.notification_emails, vec!["ops@example.com".to_owned()]);
    assert!(c.add_ons.contains("RemoteArming"));
}

#[tokio::test]
async fn feature_change_sends_the_full_set_and_validation_only_changes_nothing() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-FEAT")).await.expect("provision");
    let id: i64 = acct.id.as_str().parse().expect("id");

    let after = p
        .change_plan(&acct.id, &PlanChange::new().add("ThermostatControl"))
        .await
        .expect("add");
    let c = sim.customer(id).expect("customer");
    // The simulator replaces the add-ons with what it was sent: both must be there.
    assert!(c.add_ons.contains("LightAutomation") && c.add_ons.contains("ThermostatControl"));
    assert!(after.has_feature("LightAutomation") && after.has_feature("ThermostatControl"));

    let before = sim.customer(id).expect("customer");
    let validated = p
        .change_plan(
            &acct.id,
            &PlanChange::new()
                .plan("2")
                .remove("LightAutomation")
                .validate_only(),
        )
        .await
        .expect("validate only");
    assert_eq!(
        sim.customer(id).expect("customer"),
        before,
        "nothing changed"
    );
    assert_eq!(validated.plan.as_ref().map(|p| p.as_str()), Some("9"));
    assert_eq!(sim.call_count("ChangeServicePlanValidationOnly"), 1);

    // A refused validation is reported without changing anything.
    let refused = p
        .change_plan(&acct.id, &PlanChange::new().plan("424242").validate_only())
        .await;
    assert!(
        matches!(refused, Err(Error::Rejected { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn quantity_add_ons_use_set_add_on_quantity() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-QTY")).await.expect("provision");
    let id: i64 = acct.id.as_str().parse().expect("id");
    let after = p
        .change_plan(&acct.id, &PlanChange::new().add_quantity("ProVideo", 3))
        .await
        .expect("quantity");
    assert_eq!(
        sim.customer(id).expect("c").quantities.get("ProVideo"),
        Some(&3)
    );
    assert!(
        after
            .add_ons
            .iter()
            .any(|a| a.feature.as_str() == "ProVideo" && a.quantity == Some(3))
    );
    assert_eq!(
        sim.call_count("ChangeServicePlan"),
        0,
        "on/off add-ons did not change"
    );
    let after = p
        .change_plan(&acct.id, &PlanChange::new().remove("ProVideo"))
        .await
        .expect("remove");
    assert!(!after.has_feature("ProVideo"));
    assert!(sim.customer(id).expect("c").quantities.is_empty());
    assert!(after.has_feature("LightAutomation"), "other add-ons kept");
}

#[tokio::test]
async fn terminate_twice_succeeds_and_unknown_customer_is_not_found() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let acct = p.provision(&request("D-TERM")).await.expect("provision");
    p.terminate(&acct.id).await.expect("terminate");
    p.terminate(&acct.id).await.expect("terminate again");
    let changed = p
        .change_plan(&acct.id, &PlanChange::new().add("RemoteArming"))
        .await;
    assert!(
        matches!(changed, Err(Error::Conflict { .. })),
        "{changed:?}"
    );
    let missing = p.account(&AccountId::new("123")).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    let bad = p.account(&AccountId::new("not-a-number")).await;
    assert!(matches!(bad, Err(Error::InvalidRequest { .. })), "{bad:?}");
}

#[tokio::test]
async fn plans_have_names_and_types_and_the_default_plan_is_checked() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config());
    let plans = p.service_plans().await.expect("plans");
    let nine = plans.iter().find(|p| p.id.as_str() == "9").expect("plan 9");
    assert_eq!(nine.name, "Advanced Interactive");
    assert_eq!(nine.plan_type.as_deref(), Some("AI"));
    assert!(
        plans.iter().any(|p| p.id.as_str() == "42"),
        "commercial plans listed"
    );
    assert_eq!(sim.call_count("GetLatestCallerVersion"), 1);
    p.service_plans().await.expect("plans again");
    assert_eq!(
        sim.call_count("GetLatestCallerVersion"),
        1,
        "caller version cached"
    );

    let config = sim.config();
    let report = interactive_services::config::verify(&config, &p).await;
    assert!(report.is_ok(), "{report:?}");
    let bad_plan = config
        .to_builder()
        .default_plan("777")
        .build()
        .expect("config");
    let report = interactive_services::config::verify(&bad_plan, &p).await;
    assert!(
        matches!(
            report.default_plan,
            interactive_services::config::PlanCheck::NotFound { .. }
        ),
        "{report:?}"
    );
}

#[tokio::test]
async fn bad_password_is_unauthenticated() {
    let sim = AlarmComSimulator::start().await;
    let p = provider(&sim.config_for(DEFAULT_LOGIN, "wrong-password"));
    let r = p.validate_credentials().await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
    let r = p.provision(&request("D-AUTH")).await;
    assert!(matches!(r, Err(Error::Unauthenticated { .. })), "{r:?}");
}

#[tokio::test]
async fn owner_without_integration_role_gets_legacy_role_guidance() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login(
        "no-role",
        SimLogin::owner("pw-1234567").without_integration_role(),
    );
    let p = provider(&sim.config_for("no-role", "pw-1234567"));
    match p.validate_credentials().await {
        Err(Error::PermissionDenied {
            permission,
            guidance,
            ..
        }) => {
            assert_eq!(permission, "SecurityTrax Integration User");
            assert!(guidance.contains("legacy role"), "{guidance}");
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    // The real calls are refused the same way.
    match p.provision(&request("D-NOROLE")).await {
        Err(Error::PermissionDenied { permission, .. }) => {
            assert_eq!(permission, "SecurityTrax Integration User")
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    let config = sim.config_for("no-role", "pw-1234567");
    let report = interactive_services::config::verify(&config, &p).await;
    assert!(!report.is_ok());
    assert_eq!(report.missing_permissions.len(), 1, "{report:?}");
}

#[tokio::test]
async fn sub_dealer_without_integration_role_gets_template_guidance() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login(
        "sub",
        SimLogin::sub_dealer("pw-1234567", 4321).without_integration_role(),
    );
    let p = provider(&sim.config_for("sub", "pw-1234567"));
    match p.validate_credentials().await {
        Err(Error::PermissionDenied {
            permission,
            guidance,
            ..
        }) => {
            assert!(
                permission.contains("SecurityTrax Integration"),
                "{permission}"
            );
            assert!(guidance.contains("template"), "{guidance}");
            assert!(guidance.contains("account owner"), "{guidance}");
            assert!(guidance.contains("4321"), "{guidance}");
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn sub_dealer_provisions_with_create_customer_for_dealer() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login("sub", SimLogin::sub_dealer("pw-1234567", 4321));
    let p = provider(&sim.config_for("sub", "pw-1234567"));
    let check = p.validate_credentials().await.expect("valid");
    assert!(check.can("provisioning"));
    let acct = p.provision(&request("D-SUB")).await.expect("provision");
    assert_eq!(sim.call_count("CreateCustomerForDealer"), 1);
    assert_eq!(sim.call_count("CreateCustomer"), 0);
    let id: i64 = acct.id.as_str().parse().expect("id");
    assert_eq!(sim.customer(id).expect("c").dealer_id, Some(4321));
}

#[tokio::test]
async fn login_without_billing_permission_is_told_how_to_grant_it() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login("nobill", SimLogin::owner("pw-1234567").without_billing());
    // Not opted into billing: nothing is reported missing for it.
    let config = sim.config_for("nobill", "pw-1234567");
    let check = provider(&config)
        .validate_credentials()
        .await
        .expect("valid login");
    assert!(check.can("provisioning"));
    assert!(!check.can("billing"));
    assert!(check.missing.is_empty(), "{check:?}");
    // Opted in: the missing permission is named, with the steps.
    let config = config.to_builder().billing(true).build().expect("config");
    let p = provider(&config);
    let check = p.validate_credentials().await.expect("valid login");
    assert!(!check.can("billing"));
    let missing = check
        .missing
        .iter()
        .find(|m| m.needed_for == "billing")
        .expect("billing missing");
    assert_eq!(missing.permission, "setSecurityTraxSettings");
    assert!(missing.guidance.contains("setSecurityTraxSettings"));
}

#[tokio::test]
async fn one_legacy_builder_role_is_not_enough() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login(
        "half-builder",
        SimLogin::owner("pw-1234567").with_builder_legacy_roles(&["Dealer Administrator"]),
    );
    let config = sim
        .config_for("half-builder", "pw-1234567")
        .to_builder()
        .builder_program(true)
        .build()
        .expect("config");
    let p = provider(&config);
    let check = p.validate_credentials().await.expect("valid login");
    assert!(!check.can("builder_program"));
    let missing = check
        .missing
        .iter()
        .find(|m| m.needed_for == "builder_program")
        .expect("builder missing");
    assert_eq!(missing.permission, "Manage Builder Program");
    assert!(
        missing.guidance.contains("Builder Program"),
        "{}",
        missing.guidance
    );

    // With both legacy roles, the Builder Program is granted.
    sim.add_login(
        "full-builder",
        SimLogin::owner("pw-1234567")
            .with_builder_legacy_roles(&["Dealer Administrator", "Manage Builder Program"]),
    );
    let p = provider(&sim.config_for("full-builder", "pw-1234567"));
    assert!(
        p.validate_credentials()
            .await
            .expect("valid")
            .can("builder_program")
    );
}
