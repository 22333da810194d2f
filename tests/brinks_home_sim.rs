//! Behaviour of the Brinks Home provider against the stateful MIDI simulator: the conformance
//! and resilience suites, the site options a provision sets, hostile text round trips, the
//! credential checks, and what still works when the service does not know the modelled
//! entities.

use std::sync::Arc;
use std::time::Duration;

use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::brinks_home::simulator::{
    BrinksHomeSimulator, DEALER_NUMBER, DEFAULT_PASSWORD, DEFAULT_USER, SimUser, fill_site_fields,
};
use interactive_services::providers::brinks_home::{BrinksHome, SERVICE_LEVELS};
use interactive_services::testkit::conformance::{self, Options};
use interactive_services::testkit::resilience::{self, Refusal, Target};
use interactive_services::{
    AccountId, AccountStatus, Address, Error, FeatureId, InteractiveServicesProvider, IspConfig,
    PlanChange, ProviderRegistry, ProvisionRequest,
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

fn provider(config: &IspConfig) -> BrinksHome {
    BrinksHome::builder(config)
        .transport_options(fast_options())
        .build()
        .expect("provider")
}

fn request(dealer_id: &str) -> ProvisionRequest {
    let mut r = ProvisionRequest::builder(dealer_id)
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
        .plan("RBI")
        .add_on("WEATHER")
        .build();
    fill_site_fields(&mut r);
    r
}

fn options() -> Options {
    Options {
        features: [FeatureId::new("WEATHER"), FeatureId::new("GARAGEDOOR")],
        prepare: Some(Arc::new(fill_site_fields)),
        ..Options::default()
    }
}

fn cs(r: &ProvisionRequest) -> String {
    r.vendor_fields["cs_number"].clone()
}

// ---------------------------------------------------------------------------------------------
// The shared suites.

#[tokio::test]
async fn conformance_suite_passes() {
    let sim = BrinksHomeSimulator::start().await;
    conformance::run_all(&provider(&sim.config()), &options()).await;
}

#[tokio::test]
async fn conformance_suite_passes_with_escaped_answers_through_the_registry() {
    let sim = BrinksHomeSimulator::start().await;
    sim.escaped_answers(true);
    let registry = ProviderRegistry::with_built_ins();
    let built: Arc<dyn InteractiveServicesProvider> = registry.build(&sim.config()).expect("build");
    conformance::run_all(built.as_ref(), &options()).await;
}

fn refused(dealer_id: &str) -> Refusal {
    let mut r = request(dealer_id);
    r.add_ons.push(interactive_services::AddOn {
        feature: FeatureId::new("NoSuchAddOn"),
        quantity: None,
    });
    Refusal::new(r, "NoSuchAddOn")
}

#[tokio::test]
async fn resilience_suite_passes() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    resilience::run_all(&Target::new(&p, &sim, request, refused)).await;
}

#[tokio::test]
async fn resilience_suite_passes_with_escaped_answers() {
    let sim = BrinksHomeSimulator::start().await;
    sim.escaped_answers(true);
    let p = provider(&sim.config());
    resilience::run_all(&Target::new(&p, &sim, request, refused)).await;
}

// ---------------------------------------------------------------------------------------------
// Provisioning.

#[tokio::test]
async fn provision_puts_the_site_online_with_the_interactive_service_options() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let mut r = request("D-100");
    r.add_ons.push(interactive_services::AddOn {
        feature: FeatureId::new("GARAGEDOOR"),
        quantity: None,
    });
    r.vendor_fields
        .insert("system_type".into(), "A2C020".into());
    let account = p.provision(&r).await.expect("provision");
    assert_eq!(account.id.as_str(), cs(&r));
    let site = sim.site(&cs(&r)).expect("site stored");
    let options: Vec<(&str, &str)> = site
        .system_options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        options,
        vec![
            ("CELLPROV", "ALMCOM"),
            ("CELLMAC", r.vendor_fields["module_serial"].as_str()),
            ("ALMCOMINTSVC", "RBI"),
            ("ALMCOMWEATHER", ""),
            ("ALMCOMGARAGEDOOR", ""),
        ]
    );
    assert_eq!(site.dealer_customer_id(), Some("D-100"));
    assert_eq!(site.system["servco_no"], DEALER_NUMBER);
    assert_eq!(site.system["install_servco_no"], DEALER_NUMBER);
    assert_eq!(site.system["sitetype_id"], "RBFM");
    assert_eq!(site.system["systype_id"], "A2C020");
    assert_eq!(site.system["site_name"], "Grace Hopper");
    assert_eq!(site.contacts[0]["contract_signer_flag"], "Y");
    assert_eq!(site.contacts[0]["email_address"], "grace@example.com");

    let read = p.account(&account.id).await.expect("read");
    assert_eq!(read.plan.as_ref().map(|p| p.as_str()), Some("RBI"));
    assert!(read.has_feature("WEATHER") && read.has_feature("GARAGEDOOR"));
    assert_eq!(read.contact.phone.as_deref(), Some("5555550123"));
}

#[tokio::test]
async fn a_commercial_plan_makes_a_commercial_site_named_after_the_company() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let mut r = request("D-BIZ");
    r.plan = Some("CAI".into());
    r.contact.company = Some("Hopper & Sons".into());
    p.provision(&r).await.expect("provision");
    let site = sim.site(&cs(&r)).expect("site");
    assert_eq!(site.system["sitetype_id"], "CBFM");
    assert_eq!(site.system["site_name"], "Hopper & Sons");
    assert_eq!(site.option("ALMCOMINTSVC"), Some("CAI"));
}

#[tokio::test]
async fn hostile_names_and_addresses_round_trip_exactly() {
    for escaped in [false, true] {
        let sim = BrinksHomeSimulator::start().await;
        sim.escaped_answers(escaped);
        let p = provider(&sim.config());
        let first = "Zoë <script>&amp; \"quoted\" 'single'";
        let last = "O'Brien ]]> & Ünïcødé 東京 <![CDATA[x]]>";
        let street = "1 <Main> & \"Elm\" St ]]>";
        let city = "Saint-Étienne & <Co>";
        let mut r = ProvisionRequest::builder("D-<&>\"'")
            .name(first, last)
            .email("a&b@example.com")
            .address(Address {
                street1: street.into(),
                street2: Some("Apt <3> & 'more'".into()),
                city: city.into(),
                state: "TX".into(),
                zip: "75201".into(),
                country: "US".into(),
            })
            .plan("RAI")
            .build();
        fill_site_fields(&mut r);
        let account = p.provision(&r).await.expect("provision");

        // Request direction: the vendor stored exactly what was sent.
        let site = sim.site(account.id.as_str()).expect("site");
        assert_eq!(site.system["site_addr1"], street);
        assert_eq!(site.system["site_addr2"], "Apt <3> & 'more'");
        assert_eq!(site.system["city_name"], city);
        assert_eq!(site.system["site_name"], format!("{first} {last}"));
        assert_eq!(site.contacts[0]["first_name"], first);
        assert_eq!(site.contacts[0]["last_name"], last);
        assert_eq!(site.dealer_customer_id(), Some("D-<&>\"'"));

        // Answer direction: read back exactly.
        let read = p.account(&account.id).await.expect("read");
        assert_eq!(read.contact.first_name, first, "escaped answers: {escaped}");
        assert_eq!(read.contact.last_name, last, "escaped answers: {escaped}");
        assert_eq!(read.contact.email.as_deref(), Some("a&b@example.com"));
        assert_eq!(
            read.dealer_customer_id.as_ref().map(|d| d.as_str()),
            Some("D-<&>\"'")
        );
    }
}

#[tokio::test]
async fn missing_site_fields_are_refused_before_any_request() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let r = ProvisionRequest::builder("D-NOFIELDS")
        .name("A", "B")
        .plan("RBI")
        .add_on_quantity("WEATHER", 2)
        .add_on("ALMCOMGARAGEDOOR")
        .vendor_field("site_type", "industrial")
        .build();
    match p.provision(&r).await {
        Err(Error::InvalidRequest { detail, .. }) => {
            for path in [
                "vendor_fields.cs_number",
                "modem_serial",
                "vendor_fields.site_type",
                "add_ons[0]",
                "add_ons[1]",
            ] {
                assert!(detail.contains(path), "{path} missing from: {detail}");
            }
            assert!(
                !detail.contains("industrial"),
                "values are not quoted: {detail}"
            );
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    let mut bad_cs = request("D-BADCS");
    bad_cs
        .vendor_fields
        .insert("cs_number".into(), "12/../34".into());
    assert!(matches!(
        p.provision(&bad_cs).await,
        Err(Error::InvalidRequest { .. })
    ));
    assert!(
        sim.calls().is_empty(),
        "nothing was sent: {:?}",
        sim.calls()
    );
}

#[tokio::test]
async fn the_modem_serial_may_carry_the_module_serial() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let mut r = request("D-MODEM");
    r.vendor_fields.remove("module_serial");
    r.modem_serial = Some("ADC-0042".into());
    p.provision(&r).await.expect("provision");
    assert_eq!(
        sim.site(&cs(&r)).expect("site").option("CELLMAC"),
        Some("ADC-0042")
    );
}

#[tokio::test]
async fn a_cs_number_already_online_is_refused_by_the_vendor() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let first = request("D-FIRST");
    p.provision(&first).await.expect("provision");
    let mut second = request("D-SECOND");
    second.vendor_fields.insert("cs_number".into(), cs(&first));
    match p.provision(&second).await {
        Err(Error::Rejected { message, .. }) => assert!(message.contains("already online")),
        other => panic!("expected the vendor's refusal, got {other:?}"),
    }
    assert_eq!(sim.sites().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Changes and reads.

#[tokio::test]
async fn plan_and_add_on_changes_use_update_c_a_and_d() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let r = request("D-CHANGE");
    let account = p.provision(&r).await.expect("provision");
    let after = p
        .change_plan(
            &account.id,
            &PlanChange::new()
                .plan("RAI")
                .add("GARAGEDOOR")
                .remove("WEATHER"),
        )
        .await
        .expect("change");
    assert_eq!(after.plan.as_ref().map(|p| p.as_str()), Some("RAI"));
    assert!(after.has_feature("GARAGEDOOR") && !after.has_feature("WEATHER"));
    let updates: Vec<String> = sim
        .calls()
        .iter()
        .filter_map(|c| c.request_type.clone())
        .collect();
    assert_eq!(updates, vec!["C", "A", "D"]);
    let site = sim.site(&cs(&r)).expect("site");
    assert_eq!(site.option("ALMCOMINTSVC"), Some("RAI"));
    assert_eq!(site.option("ALMCOMWEATHER"), None);

    // A level the vendor does not offer is its refusal, naming the level.
    match p
        .change_plan(&account.id, &PlanChange::new().plan("GOLDPLUS"))
        .await
    {
        Err(Error::Rejected { message, .. }) => assert!(message.contains("GOLDPLUS")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        p.change_plan(
            &account.id,
            &PlanChange::new().add("WEATHER").validate_only()
        )
        .await,
        Err(Error::Unsupported { .. })
    ));
}

#[tokio::test]
async fn terminate_removes_the_interactive_service_and_keeps_the_cell_path() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let r = request("D-TERM");
    let account = p.provision(&r).await.expect("provision");
    p.terminate(&account.id).await.expect("terminate");
    p.terminate(&account.id).await.expect("terminate again");
    assert_eq!(
        sim.call_count("Update"),
        1,
        "the second terminate sent nothing"
    );
    let site = sim.site(&cs(&r)).expect("site");
    assert_eq!(site.option("CELLPROV"), Some("ALMCOM"));
    assert!(site.option("CELLMAC").is_some());
    assert_eq!(site.option("ALMCOMINTSVC"), None);
    assert_eq!(site.option("ALMCOMWEATHER"), None);
    let read = p.account(&account.id).await.expect("read");
    assert_eq!(read.status, AccountStatus::Terminated);
    assert!(matches!(
        p.change_plan(&account.id, &PlanChange::new().add("GARAGEDOOR"))
            .await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test]
async fn unknown_and_foreign_sites_are_not_found_and_bad_ids_never_travel() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    assert!(matches!(
        p.account(&AccountId::new("768999999")).await,
        Err(Error::NotFound { .. })
    ));
    // A site whose cell provider is not Alarm.com is no account of this provider.
    let r = request("D-ALMNET");
    let account = p.provision(&r).await.expect("provision");
    sim.edit_site(account.id.as_str(), |s| {
        s.system_options[0].1 = "ALMNET".into();
    });
    assert!(matches!(
        p.account(&account.id).await,
        Err(Error::NotFound { .. })
    ));
    let before = sim.calls().len();
    for bad in ["", "0", "12a", "../768", "1 2", "-5"] {
        assert!(
            matches!(
                p.account(&AccountId::new(bad)).await,
                Err(Error::InvalidRequest { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(sim.calls().len(), before, "no bad id reached the vendor");
}

#[tokio::test]
async fn plans_are_the_service_levels_and_fall_back_to_the_seen_ones() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let plans = p.service_plans().await.expect("plans");
    let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(&ids[..4], ["RBI", "RAI", "CBI", "CAI"]);
    let cbi = plans.iter().find(|p| p.id.as_str() == "CBI").expect("CBI");
    assert_eq!(cbi.plan_type.as_deref(), Some("Commercial"));
    assert_eq!(cbi.name, "Commercial Basic Interactive");
    assert!(
        plans.iter().all(|p| !p.id.as_str().starts_with("ALMCOM")),
        "add-ons are not plans: {plans:?}"
    );

    sim.list_service_levels(false);
    let fallback = p.service_plans().await.expect("plans");
    assert_eq!(fallback.len(), SERVICE_LEVELS.len());

    let report = interactive_services::config::verify(&sim.config(), &p).await;
    assert!(report.is_ok(), "{report:?}");
}

// ---------------------------------------------------------------------------------------------
// Credentials.

#[tokio::test]
async fn credentials_are_checked_on_a_seen_call() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let check = p.validate_credentials().await.expect("valid");
    assert!(check.can("provisioning"));
    assert_eq!(check.login, DEFAULT_USER);
    assert_eq!(sim.entity_count("CellProviders"), 1);

    let wrong = provider(&sim.config_for(DEFAULT_USER, "wrong-password"));
    assert!(matches!(
        wrong.validate_credentials().await,
        Err(Error::Unauthenticated { .. })
    ));
    assert!(matches!(
        wrong.provision(&request("D-AUTH")).await,
        Err(Error::Unauthenticated { .. })
    ));

    let wrong_app = sim
        .config()
        .to_builder()
        .credential("app_id", "not-the-app-id")
        .build()
        .expect("config");
    match provider(&wrong_app).validate_credentials().await {
        Err(e @ Error::Unauthenticated { .. }) => {
            assert!(!e.to_string().contains("not-the-app-id"), "{e}")
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dealer_without_alarm_com_is_told_how_to_get_it() {
    let sim = BrinksHomeSimulator::start().await;
    sim.add_user(
        "wsi_no_adc",
        SimUser::new("pw-123456", DEALER_NUMBER).without_alarm_com(),
    );
    let p = provider(&sim.config_for("wsi_no_adc", "pw-123456"));
    match p.validate_credentials().await {
        Err(Error::PermissionDenied {
            permission,
            guidance,
            ..
        }) => {
            assert!(permission.contains("ALMCOM"), "{permission}");
            assert!(guidance.contains(DEALER_NUMBER), "{guidance}");
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn another_dealers_number_is_refused_and_its_sites_are_invisible() {
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let r = request("D-MINE");
    let account = p.provision(&r).await.expect("provision");

    sim.add_user("wsi_other", SimUser::new("pw-123456", "811110003"));
    let other = provider(&sim.config_for("wsi_other", "pw-123456"));
    assert!(matches!(
        other.account(&account.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        !other
            .list_accounts(true)
            .await
            .expect("list")
            .contains(&account.id)
    );
    // A configuration naming a dealer number that is not the user's own is refused on the
    // first site it puts online.
    let lying = sim
        .config()
        .to_builder()
        .credential("entity", "811110003")
        .build()
        .expect("config");
    match provider(&lying).provision(&request("D-LIE")).await {
        Err(Error::Rejected { message, .. }) => assert!(message.contains("servco_no")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Modelled entities switched off: what rests on seen calls.

#[tokio::test]
async fn without_the_modelled_entities_provisioning_still_never_duplicates() {
    let sim = BrinksHomeSimulator::start().await;
    sim.serve_modelled_entities(false);
    let p = provider(&sim.config());
    let r = request("D-SEEN");
    let account = p.provision(&r).await.expect("provision on seen calls");
    // The read works, without the dealer customer id (kept in a modelled site option).
    let read = p.account(&account.id).await.expect("read");
    assert_eq!(read.dealer_customer_id, None);
    assert_eq!(read.plan.as_ref().map(|p| p.as_str()), Some("RBI"));
    // The same CS number again: found with a seen call, a conflict, nothing created.
    let again = p.provision(&r).await;
    assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");
    assert_eq!(sim.call_count("AccountOnline"), 1);
    // An answer lost after the site went online is found by its CS number.
    let lost = request("D-LOST");
    sim.inject(
        interactive_services::testkit::faults::FaultRule::next(
            interactive_services::testkit::faults::FaultKind::ApplyThenDrop,
        )
        .on("AccountOnline"),
    );
    let recovered = p.provision(&lost).await.expect("recovered");
    assert_eq!(recovered.id.as_str(), cs(&lost));
    assert_eq!(sim.call_count("AccountOnline"), 2);
    // Only the listing rests on a modelled entity.
    match p.list_accounts(false).await {
        Err(Error::Unsupported { reason, .. }) => {
            assert!(reason.unwrap_or_default().contains("modelled"))
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(p.validate_credentials().await.is_ok());
    assert!(!p.service_plans().await.expect("plans").is_empty());
}

#[tokio::test]
async fn the_default_user_constants_make_a_valid_configuration() {
    let sim = BrinksHomeSimulator::start().await;
    let config = sim.config_for(DEFAULT_USER, DEFAULT_PASSWORD);
    assert_eq!(config.provider().as_str(), "brinks_home");
    let registry = ProviderRegistry::with_built_ins();
    registry.build(&config).expect("the registry builds it");
}

#[tokio::test]
async fn the_endpoint_may_be_the_service_its_folder_or_the_host() {
    let sim = BrinksHomeSimulator::start().await;
    let service = sim.endpoint();
    let root = service.trim_end_matches("/MIDI/MIDI.asmx").to_owned();
    for endpoint in [
        service.clone(),
        format!("{root}/MIDI/"),
        format!("{root}/MIDI"),
        root.clone(),
    ] {
        let config = sim
            .config()
            .to_builder()
            .endpoint(endpoint.as_str())
            .build()
            .expect("config");
        let p = provider(&config);
        assert_eq!(p.service_url().as_str(), service, "{endpoint}");
        p.validate_credentials().await.expect("reachable");
    }
}

#[test]
fn credential_problems_are_reported_together_without_their_values() {
    let e = IspConfig::builder()
        .name("brinks")
        .provider("brinks")
        .credential("user_name", "wsi_1")
        .credential("entity", "82807-secretish")
        .build()
        .expect_err("invalid");
    let text = e.to_string();
    for path in [
        "credentials.app_id",
        "credentials.password",
        "credentials.entity",
    ] {
        assert!(text.contains(path), "{path} missing: {text}");
    }
    assert!(!text.contains("82807-secretish"), "{text}");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors_even_when_the_vendor_echoes_them() {
    use interactive_services::providers::brinks_home::simulator::APP_ID;
    use interactive_services::testkit::faults::{FaultKind, FaultRule};
    let sim = BrinksHomeSimulator::start().await;
    let p = provider(&sim.config());
    let debug = format!("{p:?}");
    assert!(
        !debug.contains(DEFAULT_PASSWORD) && !debug.contains(APP_ID),
        "{debug}"
    );
    sim.inject(
        FaultRule::next(FaultKind::Fault(format!(
            "user wsi_828070003 password {DEFAULT_PASSWORD} app {APP_ID} broke"
        )))
        .on("GetData"),
    );
    let e = p.validate_credentials().await.expect_err("a fault");
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(DEFAULT_PASSWORD) && !text.contains(APP_ID),
        "{text}"
    );
    assert!(text.contains("[REDACTED]"), "{text}");
}
