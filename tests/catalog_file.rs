//! Loading a whole catalog: several entries, secrets given as references resolved by a lookup
//! (environment variables built in), host settings kept beside ours, every problem at once,
//! and a save without secrets that loads back equal.

use std::collections::BTreeMap;

use interactive_services::{CatalogLoader, Error, IspCatalog, IspConfig, ProviderRegistry};

const THREE: &str = r#"
[[isp]]
name = "Alarm.com (main)"
provider = "alarm_com"
default_plan = "9"
billing = true
[isp.credentials]
login = "integration-user"
password = { secret = "env:CATALOG_TEST_ADC_PASSWORD" }
[isp.host]
branch = "north"
crm = { id = 42, tags = ["a", "b"] }

[[isp]]
name = "Alarm.com (sub-dealer)"
provider = "alarm-com"
[isp.credentials]
login = "sub-login"
password = { secret = "env:CATALOG_TEST_SUB_PASSWORD" }
dealer_id = "12345"

[[isp]]
name = "Total Connect"
provider = "total_connect"
status = "inactive"
[isp.credentials]
user_name = "tc-user"
password = { secret = "env:CATALOG_TEST_TC_PASSWORD" }
application_id = "14588"
application_version = "1.0"
company_id = "1234"
"#;

fn fake_env() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("CATALOG_TEST_ADC_PASSWORD", "adc secret one"),
        ("CATALOG_TEST_SUB_PASSWORD", "adc secret two"),
        ("CATALOG_TEST_TC_PASSWORD", "tc secret three"),
    ])
}

fn loader() -> CatalogLoader {
    let env = fake_env();
    CatalogLoader::new().secrets("env", move |name| {
        env.get(name)
            .map(|v| (*v).to_owned())
            .ok_or_else(|| "the environment variable is not set".to_owned())
    })
}

#[test]
fn three_entries_load_save_without_secrets_and_load_back_equal() {
    let loader = loader();
    let catalog = loader.read_toml(THREE).expect("loads");
    assert_eq!(catalog.len(), 3);
    let main = catalog.get("Alarm.com (main)").expect("entry");
    assert_eq!(
        main.credentials().expose("password"),
        Some("adc secret one")
    );
    assert_eq!(
        main.secret_ref("credentials.password"),
        Some("env:CATALOG_TEST_ADC_PASSWORD")
    );
    assert!(main.billing());
    assert_eq!(
        main.host().get("branch").and_then(|v| v.as_str()),
        Some("north")
    );
    let tc = catalog.get("Total Connect").expect("entry");
    assert_eq!(tc.credentials().expose("password"), Some("tc secret three"));
    assert_eq!(tc.status(), interactive_services::Status::Inactive);

    for saved in [
        loader.write_toml(&catalog).expect("toml"),
        loader.write_json(&catalog).expect("json"),
    ] {
        for (_, secret) in fake_env() {
            assert!(!saved.contains(secret), "a secret was saved:\n{saved}");
        }
        assert!(saved.contains("env:CATALOG_TEST_TC_PASSWORD"), "{saved}");
        // Plain fields stay readable.
        assert!(saved.contains("integration-user"), "{saved}");
        let back = if saved.trim_start().starts_with('{') {
            loader.read_json(&saved)
        } else {
            loader.read_toml(&saved)
        }
        .expect("loads back");
        assert_eq!(back, catalog, "round trip:\n{saved}");
    }
}

#[test]
fn a_changed_secret_makes_the_catalogs_differ() {
    // Equality compares secret values: the round-trip test above could not pass by accident.
    let a = loader().read_toml(THREE).expect("loads");
    let b = CatalogLoader::new()
        .secrets("env", |_| Ok("another secret".to_owned()))
        .read_toml(THREE)
        .expect("loads");
    assert_ne!(a, b);
}

#[test]
fn the_process_environment_is_the_built_in_lookup() {
    // A name no other test sets or reads.
    // SAFETY: no other thread of this test binary reads or writes this variable; the other
    // tests resolve `env:` from a map.
    unsafe { std::env::set_var("CATALOG_TEST_REAL_ENV_PASSWORD", "from the environment") };
    let text = r#"
        [[isp]]
        name = "Alarm.com"
        provider = "alarm_com"
        [isp.credentials]
        login = "integration-user"
        password = { secret = "env:CATALOG_TEST_REAL_ENV_PASSWORD" }
    "#;
    let catalog = IspCatalog::from_toml(text).expect("loads");
    assert_eq!(
        catalog
            .get("Alarm.com")
            .and_then(|c| c.credentials().expose("password")),
        Some("from the environment")
    );
}

#[test]
fn every_problem_of_every_entry_is_reported_at_once_without_values() {
    let text = r#"
        [[isp]]
        name = "One"
        provider = "alarm_comm"
        [isp.credentials]
        login = "integration-user"
        password = { secret = "env:CATALOG_TEST_ADC_PASSWORD" }

        [[isp]]
        name = "Two"
        provider = "alarm_com"
        [isp.credentials]
        login = "integration-user"
        pasword = "typed secret value"
        password = { secret = "env:NOT_SET_ANYWHERE" }

        [[isp]]
        name = "three"
        provider = "total_connect"
        [isp.credentials]
        password = { secret = "vault:tc" }
        user_name = "u"
        application_id = "1"
        application_version = "1"
        company_id = "1"

        [[isp]]
        name = "ONE"
        provider = "alarm_com"
        [isp.credentials]
        login = "x"
        password = "y"
    "#;
    let err = loader().read_toml(text).expect_err("refused");
    let Error::InvalidConfig { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let find = |field: &str| {
        problems
            .for_field(field)
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(
        find("isp[0].provider").contains("did you mean `alarm_com`?"),
        "{problems}"
    );
    assert!(
        find("isp[1].credentials.pasword").contains("did you mean `password`?"),
        "{problems}"
    );
    assert!(
        find("isp[1].credentials.password").contains("env:NOT_SET_ANYWHERE"),
        "{problems}"
    );
    assert!(
        find("isp[1].credentials.password").contains("not set"),
        "{problems}"
    );
    assert!(
        find("isp[2].credentials.password").contains("scheme `vault`"),
        "{problems}"
    );
    assert!(
        find("isp[3].name").contains("earlier entry has this name"),
        "{problems}"
    );
    let shown = format!("{err} {err:?}");
    for secret in ["typed secret value", "adc secret one"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn host_keys_live_under_host_and_nowhere_else() {
    let text = r#"
        [[isp]]
        name = "Alarm.com"
        provider = "alarm_com"
        crm_id = 42
        [isp.credentials]
        login = "integration-user"
        password = "p"
    "#;
    let err = loader().read_toml(text).expect_err("refused");
    assert!(err.to_string().contains("crm_id"), "{err}");

    let top = "owner = \"me\"\n";
    let err = loader().read_toml(top).expect_err("refused");
    assert!(err.to_string().contains("host"), "{err}");
}

#[test]
fn a_secret_given_directly_is_not_saved() {
    let mut catalog = IspCatalog::new();
    catalog
        .add(
            IspConfig::builder()
                .name("Alarm.com")
                .provider("alarm_com")
                .credential("login", "integration-user")
                .credential("password", "direct secret")
                .build()
                .expect("valid"),
        )
        .expect("added");
    let err = catalog.to_toml().expect_err("refused");
    assert!(
        err.to_string().contains("isp[0].credentials.password"),
        "{err}"
    );
    assert!(!err.to_string().contains("direct secret"), "{err}");

    // Given with its reference, it saves as the reference.
    let mut catalog = IspCatalog::new();
    catalog
        .add(
            IspConfig::builder()
                .name("Alarm.com")
                .provider("alarm_com")
                .credential("login", "integration-user")
                .credential_from("password", "env:ADC_PASSWORD", "direct secret")
                .build()
                .expect("valid"),
        )
        .expect("added");
    let saved = catalog.to_toml().expect("saved");
    assert!(
        saved.contains("env:ADC_PASSWORD") && !saved.contains("direct secret"),
        "{saved}"
    );
}

#[test]
fn a_contributed_provider_needs_its_registry() {
    let text = r#"
        [[isp]]
        name = "Acme"
        provider = "acme_isp"
        [isp.credentials]
        api_key = { secret = "env:CATALOG_TEST_ADC_PASSWORD" }
    "#;
    let err = loader().read_toml(text).expect_err("not registered");
    assert!(err.to_string().contains("isp[0].provider"), "{err}");

    let mut registry = ProviderRegistry::with_built_ins();
    registry.register("acme_isp", &[], |_| {
        Err(Error::unsupported("acme_isp", "build"))
    });
    let err = loader()
        .registry(&registry)
        .read_toml(text)
        .expect_err("acme takes no credentials");
    assert!(
        err.to_string().contains("isp[0].credentials.api_key"),
        "{err}"
    );
}
