//! `ProviderRegistry::validate`: unknown providers and credential keys are reported with the
//! closest registered name, and a contributed provider's spec is checked like a built-in one.

use std::sync::Arc;

use interactive_services::model::CredentialField;
use interactive_services::provider::ProviderSpec;
use interactive_services::testkit::InMemoryProvider;
use interactive_services::{
    Error, InteractiveServicesProvider, IspConfig, IspConfigBuilder, ProviderRegistry,
};

const ACME_FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "api_key",
        label: "API key",
        secret: true,
        required: true,
        help: "The key Acme issued for your dealer account.",
    },
    CredentialField {
        key: "account",
        label: "Account number",
        secret: false,
        required: true,
        help: "Your Acme dealer account number.",
    },
];

fn numeric_account(
    credentials: &interactive_services::Credentials,
    problems: &mut interactive_services::error::ValidationErrors,
) {
    if let Some(account) = credentials.non_blank("account") {
        if !account.chars().all(|c| c.is_ascii_digit()) {
            problems.push("credentials.account", "the account number is digits only");
        }
    }
}

const ACME: ProviderSpec =
    ProviderSpec::new("acme_isp", "Acme ISP", ACME_FIELDS).credential_rule(numeric_account);

fn registry() -> ProviderRegistry {
    let mut registry = ProviderRegistry::with_built_ins();
    registry.register_spec(ACME, |_, _| {
        Ok(Arc::new(InMemoryProvider::new()) as Arc<dyn InteractiveServicesProvider>)
    });
    registry
}

fn alarm_com() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Alarm.com (main)")
        .provider("alarm_com")
        .credential("login", "integration-user")
        .credential("password", "correct horse")
}

fn problems(config: &IspConfig) -> Vec<(String, String)> {
    registry()
        .validate(config)
        .expect_err("problems")
        .problems()
        .iter()
        .map(|p| (p.field.clone(), p.message.clone()))
        .collect()
}

#[test]
fn a_misspelled_provider_is_reported_with_the_closest_registered_name() {
    let config = alarm_com().provider("alarm_comm").build().expect("loads");
    let found = problems(&config);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "provider");
    assert!(
        found[0].1.contains("did you mean `alarm_com`?"),
        "{found:?}"
    );

    let config = alarm_com().provider("acme-sip").build().expect("loads");
    let found = problems(&config);
    assert!(found[0].1.contains("did you mean `acme_isp`?"), "{found:?}");
}

#[test]
fn an_unknown_provider_far_from_any_lists_the_registered_ones() {
    let config = alarm_com().provider("zzz").build().expect("loads");
    let found = problems(&config);
    assert!(found[0].1.contains("alarm_com"), "{found:?}");
    assert!(found[0].1.contains("acme_isp"), "{found:?}");
}

#[test]
fn a_misspelled_credential_key_is_reported_with_the_closest_field() {
    let config = IspConfig::from_toml(
        r#"
        name = "Alarm.com (main)"
        provider = "alarm_com"
        [credentials]
        login = "integration-user"
        pasword = "correct horse"
        "#,
    );
    // Built-in validation already knows Alarm.com's fields.
    let err = config.expect_err("refused");
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = problems
        .problems()
        .iter()
        .map(|p| p.field.as_str())
        .collect();
    assert!(fields.contains(&"credentials.password"), "{problems}");
    let typo = problems
        .for_field("credentials.pasword")
        .next()
        .expect("the typo is reported");
    assert!(typo.message.contains("did you mean `password`?"), "{typo}");
    // The value is never quoted.
    assert!(!problems.to_string().contains("correct horse"));
}

#[test]
fn a_contributed_providers_missing_and_malformed_credentials_are_reported() {
    // Without the registry, the crate cannot know Acme's fields: the config loads.
    let config = IspConfig::builder()
        .name("Acme")
        .provider("acme-isp")
        .credential("account", "12ab")
        .credential("api_kee", "secret-value")
        .build()
        .expect("loads without the registry");
    let found = problems(&config);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert!(
        fields.contains(&"credentials.api_key"),
        "missing: {found:?}"
    );
    assert!(
        fields.contains(&"credentials.account"),
        "malformed: {found:?}"
    );
    let typo = found
        .iter()
        .find(|(f, _)| f == "credentials.api_kee")
        .expect("typo reported");
    assert!(typo.1.contains("did you mean `api_key`?"), "{found:?}");
    assert!(!format!("{found:?}").contains("secret-value"));

    // And build refuses the same configuration with the same problems.
    let err = registry().build(&config).expect_err("refused");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn dash_and_underscore_are_one_name_for_contributed_providers_too() {
    let registry = registry();
    for name in ["acme_isp", "acme-isp", "ACME-ISP"] {
        let config = IspConfig::builder()
            .name("Acme")
            .provider(name)
            .credential("account", "12")
            .credential("api_key", "k")
            .build()
            .expect("loads");
        registry.validate(&config).expect("valid");
        registry.build(&config).expect("built");
    }
}

#[test]
fn build_in_refuses_what_the_registry_does_not_know() {
    let err = alarm_com()
        .provider("alarm_comm")
        .build_in(&registry())
        .expect_err("refused");
    assert!(
        err.to_string().contains("did you mean `alarm_com`?"),
        "{err}"
    );
    alarm_com().build_in(&registry()).expect("valid");
}
