//! `IspConfig` validation rules, the provider credential schemas, and loading from TOML, JSON,
//! environment-style pairs and serde.

use interactive_services::{
    CallbackConfig, Error, IspConfig, IspConfigBuilder, ProviderKind, Status, ValidationErrors,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn alarm_com() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Alarm.com (main)")
        .provider("alarm_com")
        .credential("login", "integration-user")
        .credential("password", "correct horse battery")
}

fn total_connect() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Total Connect")
        .provider("total_connect")
        .credential("user_name", "dealer-user")
        .credential("password", "correct horse battery")
        .credential("application_id", "14588")
        .credential("application_version", "1.0.0")
        .credential("company_id", "7001")
}

/// The problems of a build that must fail with `InvalidConfig`.
#[track_caller]
fn problems(builder: IspConfigBuilder) -> ValidationErrors {
    match builder.build() {
        Err(Error::InvalidConfig { problems, .. }) => problems,
        Err(other) => panic!("expected InvalidConfig, got {other:?}"),
        Ok(config) => panic!("expected InvalidConfig, got a config: {config:?}"),
    }
}

/// The field paths of the problems, in order.
fn fields(problems: &ValidationErrors) -> Vec<&str> {
    problems
        .problems()
        .iter()
        .map(|p| p.field.as_str())
        .collect()
}

/// Asserts that the build fails with exactly one problem, about `field`.
#[track_caller]
fn only_problem(builder: IspConfigBuilder, field: &str) {
    let problems = problems(builder);
    assert_eq!(fields(&problems), vec![field], "{problems}");
    let message = &problems.problems()[0].message;
    assert!(!message.trim().is_empty(), "a problem must say what to do");
}

// ---------------------------------------------------------------------------------------------
// name

#[test]
fn a_valid_config_builds_with_its_values() {
    let config = alarm_com()
        .default_plan("9")
        .status(Status::Inactive)
        .builder_program(true)
        .endpoint("https://alarm.example.com/webservices/")
        .build()
        .expect("valid config");
    assert_eq!(config.name(), "Alarm.com (main)");
    assert_eq!(config.provider(), &ProviderKind::new("alarm_com"));
    assert_eq!(
        config.credentials().expose("login"),
        Some("integration-user")
    );
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));
    assert_eq!(config.status(), Status::Inactive);
    assert!(config.builder_program());
    assert_eq!(
        config.endpoint().map(|u| u.as_str()),
        Some("https://alarm.example.com/webservices/")
    );
    assert!(config.validate().is_ok());
}

#[test]
fn status_defaults_to_active() {
    let config = alarm_com().build().expect("valid config");
    assert_eq!(config.status(), Status::Active);
    assert!(!config.builder_program());
    assert!(config.default_plan().is_none());
    assert!(config.endpoint().is_none());
    assert!(config.callback().is_none());
}

#[test]
fn name_is_required() {
    only_problem(
        IspConfig::builder()
            .provider("alarm_com")
            .credential("login", "u")
            .credential("password", "p"),
        "name",
    );
}

#[test]
fn a_blank_name_is_missing() {
    only_problem(alarm_com().name("   \t  "), "name");
}

#[test]
fn name_is_stored_trimmed() {
    let config = alarm_com().name("  Alarm.com (main)  \n").build().unwrap();
    assert_eq!(config.name(), "Alarm.com (main)");
}

#[test]
fn name_may_have_100_characters_but_not_101() {
    let hundred = "a".repeat(100);
    assert_eq!(alarm_com().name(&hundred).build().unwrap().name(), hundred);
    only_problem(alarm_com().name("a".repeat(101)), "name");
}

#[test]
fn name_length_counts_characters_not_bytes() {
    // 100 two-byte characters: 200 bytes, still 100 characters.
    let hundred = "é".repeat(100);
    assert_eq!(alarm_com().name(&hundred).build().unwrap().name(), hundred);
    only_problem(alarm_com().name("é".repeat(101)), "name");
}

#[test]
fn name_may_not_contain_control_characters() {
    only_problem(alarm_com().name("Alarm.com\tmain"), "name");
    only_problem(alarm_com().name("Alarm.com\nmain"), "name");
    only_problem(alarm_com().name("Alarm.com\u{7f}main"), "name");
}

#[test]
fn a_name_of_only_invisible_characters_is_blank() {
    for invisible in [
        "\u{200B}\u{FEFF}",
        "\u{200B}",
        " \u{200C}\u{200D} \u{2060}\u{AD} ",
        "\u{202E}\u{2066}",
        "\u{1}\u{7f}",
    ] {
        let problems = problems(alarm_com().name(invisible));
        assert_eq!(fields(&problems), vec!["name"], "{invisible:?}: {problems}");
        assert!(
            problems.problems()[0].message.contains("blank"),
            "{invisible:?}: {problems}"
        );
    }
}

#[test]
fn names_are_stored_in_nfc_without_invisible_characters() {
    let config = alarm_com()
        .name("\u{FEFF} Cafe\u{301}\u{200B} (main)\u{AD} ")
        .build()
        .unwrap();
    assert_eq!(config.name(), "Caf\u{e9} (main)");
    // Removing them happens before the length check: 100 visible characters pass.
    let name = format!("{}\u{200B}", "a".repeat(100));
    assert_eq!(alarm_com().name(name).build().unwrap().name().len(), 100);
}

// ---------------------------------------------------------------------------------------------
// provider

#[test]
fn provider_is_required_and_reported_as_unknown() {
    let err = IspConfig::builder().name("x").build().unwrap_err();
    match err {
        Error::InvalidConfig { provider, problems } => {
            assert_eq!(provider, "unknown");
            assert_eq!(fields(&problems), vec!["provider"]);
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn provider_accepts_common_spellings() {
    for spelling in ["alarm_com", "Alarm.com", "alarm-com", " AlarmCom "] {
        let config = alarm_com().provider(spelling).build().unwrap();
        assert_eq!(
            config.provider(),
            &ProviderKind::new("alarm_com"),
            "{spelling}"
        );
    }
}

#[test]
fn invalid_config_error_names_the_provider() {
    let err = alarm_com().name("").build().unwrap_err();
    assert_eq!(err.provider(), "alarm_com");
    assert!(err.operation().is_none());
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------------------------------------
// credentials

#[test]
fn credential_fields_of_each_built_in_provider() {
    let specs = interactive_services::providers::built_in_specs();
    assert_eq!(
        specs.len(),
        3,
        "every built-in vendor is compiled in the tests"
    );
    for spec in specs {
        let kind = ProviderKind::new(spec.name);
        assert_eq!(
            interactive_services::providers::built_in_spec(&kind).map(|s| s.name),
            Some(spec.name)
        );
        let fields = fields_of(&kind);
        assert!(!fields.is_empty(), "{kind} has no credential fields");
        let mut keys: Vec<&str> = fields.iter().map(|f| f.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), fields.len(), "{kind}: duplicate keys");
        for f in fields {
            assert!(!f.key.is_empty() && !f.label.is_empty() && !f.help.is_empty());
        }
        let password = fields
            .iter()
            .find(|f| f.key == "password")
            .unwrap_or_else(|| panic!("{kind} has a password field"));
        assert!(password.secret && password.required, "{kind} password");
    }
}

#[test]
fn alarm_com_credential_fields() {
    let fields = fields_of(&ProviderKind::new("alarm_com"));
    let summary: Vec<(&str, bool, bool)> = fields
        .iter()
        .map(|f| (f.key, f.secret, f.required))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("login", false, true),
            ("password", true, true),
            ("two_factor_device_id", true, false),
            ("dealer_id", false, false),
        ]
    );
    let login = &fields[0];
    assert!(login.label.contains("login"), "{login:?}");
    assert!(login.help.contains("Integration"), "{login:?}");
}

#[test]
fn total_connect_and_brinks_credential_fields() {
    let required = |kind: ProviderKind| -> Vec<&'static str> {
        fields_of(&kind)
            .iter()
            .filter(|f| f.required)
            .map(|f| f.key)
            .collect()
    };
    assert_eq!(
        required(ProviderKind::new("total_connect")),
        vec![
            "user_name",
            "password",
            "application_id",
            "application_version",
            "company_id"
        ]
    );
    assert_eq!(
        required(ProviderKind::new("brinks_home")),
        vec!["app_id", "user_name", "password", "entity"]
    );
    let app_id = fields_of(&ProviderKind::new("brinks_home"))[0];
    assert!(app_id.secret, "the Brinks appID is a secret");
}

#[test]
fn contributed_providers_declare_no_fields_in_the_kind() {
    let kind: ProviderKind = "acme_connect".parse().unwrap();
    assert_eq!(kind, ProviderKind::new("acme_connect"));
    assert!(fields_of(&kind).is_empty());
}

#[test]
fn a_missing_required_credential_is_reported_with_its_path() {
    let problems = problems(
        IspConfig::builder()
            .name("x")
            .provider("alarm_com")
            .credential("password", "p"),
    );
    assert_eq!(fields(&problems), vec!["credentials.login"]);
    // The message carries the field's label and help so that the dealer knows what to do.
    assert!(
        problems.problems()[0]
            .message
            .contains("Partner Portal login"),
        "{problems}"
    );
}

#[test]
fn every_missing_required_credential_is_reported() {
    let problems = problems(IspConfig::builder().name("x").provider("total_connect"));
    assert_eq!(
        fields(&problems),
        vec![
            "credentials.user_name",
            "credentials.password",
            "credentials.application_id",
            "credentials.application_version",
            "credentials.company_id",
        ]
    );
}

#[test]
fn an_unknown_credential_key_is_reported() {
    let problems = problems(alarm_com().credential("username", "u"));
    assert_eq!(fields(&problems), vec!["credentials.username"]);
    // It names the keys that do exist.
    assert!(
        problems.problems()[0].message.contains("login"),
        "{problems}"
    );
}

#[test]
fn a_blank_credential_is_reported() {
    only_problem(
        alarm_com().credential("password", "   "),
        "credentials.password",
    );
    // Optional fields too: blank is not the same as absent.
    only_problem(
        alarm_com().credential("dealer_id", ""),
        "credentials.dealer_id",
    );
}

#[test]
fn optional_credentials_may_be_given_or_left_out() {
    let config = alarm_com()
        .credential("dealer_id", "12345")
        .credential("two_factor_device_id", "device-1")
        .build()
        .unwrap();
    assert_eq!(config.credentials().expose("dealer_id"), Some("12345"));
    assert!(alarm_com().build().is_ok());
}

#[test]
fn blank_credentials_of_contributed_providers_are_reported() {
    only_problem(
        IspConfig::builder()
            .name("x")
            .provider("acme_connect")
            .credential("api_key", " "),
        "credentials.api_key",
    );
}

// ---------------------------------------------------------------------------------------------
// builder program

#[test]
fn builder_program_only_for_providers_that_have_one() {
    assert!(
        alarm_com()
            .builder_program(true)
            .build()
            .unwrap()
            .builder_program()
    );
    only_problem(total_connect().builder_program(true), "builder_program");
    // Off is always fine.
    assert!(total_connect().builder_program(false).build().is_ok());
}

// ---------------------------------------------------------------------------------------------
// endpoint

#[test]
fn endpoint_must_be_https_except_loopback() {
    for ok in [
        "https://alarm.example.com/webservices",
        "http://127.0.0.1:1234",
        "http://localhost",
        "http://localhost:8080/sim",
        "http://[::1]:8080/",
    ] {
        let config = alarm_com()
            .endpoint(ok)
            .build()
            .unwrap_or_else(|e| panic!("{ok} should be accepted: {e}"));
        assert!(config.endpoint().is_some(), "{ok}");
    }
    for bad in [
        "http://example.com",
        "http://10.0.0.5:8080",
        "ftp://example.com/ws",
        "https://user:password@example.com/ws",
        "https://user@example.com/ws",
        "not a url",
    ] {
        only_problem(alarm_com().endpoint(bad), "endpoint");
    }
}

#[test]
fn a_blank_endpoint_means_none() {
    let config = alarm_com().endpoint("  ").build().unwrap();
    assert!(config.endpoint().is_none());
}

// ---------------------------------------------------------------------------------------------
// default plan

#[test]
fn alarm_com_default_plan_must_be_a_positive_integer() {
    only_problem(alarm_com().default_plan("abc"), "default_plan");
    only_problem(alarm_com().default_plan("0"), "default_plan");
    only_problem(alarm_com().default_plan("-3"), "default_plan");
    only_problem(alarm_com().default_plan(" "), "default_plan");
    let config = alarm_com().default_plan("9").build().unwrap();
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));
}

#[test]
fn default_plan_is_stored_trimmed() {
    let config = alarm_com().default_plan(" 9 ").build().unwrap();
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));
}

#[test]
fn plan_codes_of_other_providers() {
    assert!(total_connect().default_plan("PLAN-basic_1").build().is_ok());
    only_problem(total_connect().default_plan("bad plan!"), "default_plan");
    only_problem(total_connect().default_plan("x".repeat(33)), "default_plan");
}

// ---------------------------------------------------------------------------------------------
// callback

#[test]
fn callback_settings_for_a_provider_with_callbacks() {
    let mut cb = CallbackConfig::new("0123456789abcdef");
    assert_eq!(cb.tolerance_seconds, 300);
    cb.previous_secret = Some("fedcba9876543210".to_owned().into());
    let config = total_connect().callback(cb).build().unwrap();
    assert_eq!(config.callback().map(|c| c.tolerance_seconds), Some(300));
}

#[test]
fn callback_settings_refused_for_a_provider_without_callbacks() {
    only_problem(
        alarm_com().callback(CallbackConfig::new("0123456789abcdef")),
        "callback",
    );
}

#[test]
fn callback_signing_secret_needs_16_characters() {
    only_problem(
        total_connect().callback(CallbackConfig::new("0123456789abcde")),
        "callback.signing_secret",
    );
    // Surrounding spaces do not count.
    only_problem(
        total_connect().callback(CallbackConfig::new("  0123456789abcde  ")),
        "callback.signing_secret",
    );
}

#[test]
fn callback_tolerance_between_1_and_3600_seconds() {
    let with = |t: u32| {
        let mut cb = CallbackConfig::new("0123456789abcdef");
        cb.tolerance_seconds = t;
        total_connect().callback(cb)
    };
    assert!(with(1).build().is_ok());
    assert!(with(3600).build().is_ok());
    only_problem(with(0), "callback.tolerance_seconds");
    only_problem(with(3601), "callback.tolerance_seconds");
}

// ---------------------------------------------------------------------------------------------
// every problem at once

#[test]
fn five_distinct_problems_are_all_reported() {
    let err = total_connect()
        .name("")
        .credential("password", " ")
        .builder_program(true)
        .default_plan("bad plan!")
        .endpoint("http://example.com")
        .build()
        .unwrap_err();
    let Error::InvalidConfig { provider, problems } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(provider, "total_connect");
    assert_eq!(problems.len(), 5, "{problems}");
    let mut got = fields(&problems);
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            "builder_program",
            "credentials.password",
            "default_plan",
            "endpoint",
            "name"
        ]
    );
    for p in problems.problems() {
        assert_eq!(problems.for_field(&p.field).count(), 1);
        assert!(!p.message.trim().is_empty());
    }
    // The Display lists every one of them.
    let shown = problems.to_string();
    for f in got {
        assert!(shown.contains(f), "{shown}");
    }
}

#[test]
fn to_builder_round_trips_and_revalidates() {
    let config = alarm_com().default_plan("9").build().unwrap();
    let again = config.to_builder().build().unwrap();
    assert_eq!(again.name(), config.name());
    assert_eq!(again.default_plan(), config.default_plan());
    only_problem(config.to_builder().default_plan("abc"), "default_plan");
}

#[test]
fn with_status_changes_only_the_status() {
    let config = alarm_com().build().unwrap().with_status(Status::Inactive);
    assert_eq!(config.status(), Status::Inactive);
    assert_eq!(config.name(), "Alarm.com (main)");
}

#[test]
fn display_shows_name_provider_and_status() {
    let config = alarm_com().build().unwrap();
    assert_eq!(config.to_string(), "Alarm.com (main) (Alarm.com, active)");
}

// ---------------------------------------------------------------------------------------------
// loading: TOML

#[test]
fn from_toml_reads_every_key() {
    let config = IspConfig::from_toml(
        r#"
        name = "  Total Connect (main) "
        provider = "total_connect"
        default_plan = "PLAN-1"
        status = "inactive"
        endpoint = "https://tc.example.com/ws"

        [credentials]
        user_name = "dealer-user"
        password = "correct horse"
        application_id = "14588"
        application_version = "1.0.0"
        company_id = "7001"

        [callback]
        signing_secret = "0123456789abcdef"
        previous_secret = "fedcba9876543210"
        tolerance_seconds = 120
        "#,
    )
    .expect("valid TOML config");
    assert_eq!(config.name(), "Total Connect (main)");
    assert_eq!(config.provider(), &ProviderKind::new("total_connect"));
    assert_eq!(
        config.credentials().expose("password"),
        Some("correct horse")
    );
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("PLAN-1"));
    assert_eq!(config.status(), Status::Inactive);
    assert_eq!(
        config.endpoint().map(|u| u.as_str()),
        Some("https://tc.example.com/ws")
    );
    let cb = config.callback().expect("callback");
    assert_eq!(cb.tolerance_seconds, 120);
    assert!(cb.previous_secret.is_some());
}

#[test]
fn from_toml_validates() {
    let err = IspConfig::from_toml(
        r#"
        name = "x"
        provider = "alarm_com"
        default_plan = "abc"
        [credentials]
        login = "u"
        "#,
    )
    .unwrap_err();
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(
        fields(&problems),
        vec!["credentials.password", "default_plan"]
    );
}

#[test]
fn bad_toml_is_invalid_config() {
    for text in [
        "name = ",
        "name = \"x\"\nprovider = [",
        "nmae = \"x\"",
        "name = 5",
        "builder_program = \"yes\"",
    ] {
        match IspConfig::from_toml(text) {
            Err(Error::InvalidConfig { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{text}: {problems}");
                assert!(problems.to_string().contains("TOML"), "{problems}");
            }
            other => panic!("{text:?}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn bad_toml_names_the_line() {
    let err =
        IspConfig::from_toml("name = \"x\"\nprovider = \"alarm_com\"\nstatus = 7\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 3"), "{text}");
}

#[test]
fn unknown_toml_keys_are_named() {
    let err = IspConfig::from_toml("nmae = \"x\"").unwrap_err();
    assert!(err.to_string().contains("nmae"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// loading: JSON

#[test]
fn from_json_reads_and_validates() {
    let config = IspConfig::from_json(
        r#"{
            "name": "Alarm.com (main)",
            "provider": "alarm_com",
            "credentials": {"login": "u", "password": "p"},
            "default_plan": "9",
            "builder_program": true
        }"#,
    )
    .unwrap();
    assert_eq!(config.provider(), &ProviderKind::new("alarm_com"));
    assert!(config.builder_program());
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));

    let err = IspConfig::from_json(
        r#"{"name": "", "provider": "alarm_com", "credentials": {"login": "u", "password": "p"}}"#,
    )
    .unwrap_err();
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(fields(&problems), vec!["name"]);
}

#[test]
fn bad_json_is_invalid_config() {
    for text in [
        "{",
        "",
        "[]",
        r#"{"name": 5}"#,
        r#"{"nmae": "x"}"#,
        r#"{"name": "x", "status": "paused"}"#,
    ] {
        match IspConfig::from_json(text) {
            Err(Error::InvalidConfig { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{text}: {problems}");
                assert!(problems.to_string().contains("JSON"), "{problems}");
            }
            other => panic!("{text:?}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn serde_deserialization_validates() {
    let ok: IspConfig = serde_json::from_str(
        r#"{"name": "A", "provider": "alarm_com", "credentials": {"login": "u", "password": "p"}}"#,
    )
    .unwrap();
    assert_eq!(ok.name(), "A");

    let err = serde_json::from_str::<IspConfig>(
        r#"{"name": "A", "provider": "alarm_com", "credentials": {"login": "u"}, "default_plan": "abc"}"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("credentials.password"), "{text}");
    assert!(text.contains("default_plan"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// loading: environment pairs

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn from_env_vars_reads_the_documented_keys() {
    let config = IspConfig::from_env_vars(env(&[
        ("PATH", "/usr/bin"),
        ("ISP_NAME", "Alarm.com (env)"),
        ("ISP_PROVIDER", "alarm_com"),
        ("ISP_ENDPOINT", "http://127.0.0.1:9999/ws"),
        ("ISP_DEFAULT_PLAN", "9"),
        ("ISP_STATUS", "Inactive"),
        ("ISP_BUILDER_PROGRAM", "true"),
        ("ISP_CREDENTIAL_LOGIN", "integration-user"),
        ("ISP_CREDENTIAL_PASSWORD", "correct horse"),
        ("ISP_CREDENTIAL_TWO_FACTOR_DEVICE_ID", "device-1"),
        ("HOME", "/root"),
    ]))
    .expect("valid env config");
    assert_eq!(config.name(), "Alarm.com (env)");
    assert_eq!(config.provider(), &ProviderKind::new("alarm_com"));
    assert_eq!(
        config.endpoint().map(|u| u.as_str()),
        Some("http://127.0.0.1:9999/ws")
    );
    assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));
    assert_eq!(config.status(), Status::Inactive);
    assert!(config.builder_program());
    assert_eq!(
        config.credentials().expose("login"),
        Some("integration-user")
    );
    assert_eq!(
        config.credentials().expose("password"),
        Some("correct horse")
    );
    assert_eq!(
        config.credentials().expose("two_factor_device_id"),
        Some("device-1")
    );
    let mut keys: Vec<&str> = config.credentials().keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["login", "password", "two_factor_device_id"]);
}

#[test]
fn from_env_vars_reads_callback_keys() {
    let config = IspConfig::from_env_vars(env(&[
        ("ISP_NAME", "TC"),
        ("ISP_PROVIDER", "total_connect"),
        ("ISP_CREDENTIAL_USER_NAME", "u"),
        ("ISP_CREDENTIAL_PASSWORD", "p"),
        ("ISP_CREDENTIAL_APPLICATION_ID", "1"),
        ("ISP_CREDENTIAL_APPLICATION_VERSION", "1.0"),
        ("ISP_CREDENTIAL_COMPANY_ID", "7"),
        ("ISP_CALLBACK_SECRET", "0123456789abcdef"),
        ("ISP_CALLBACK_PREVIOUS_SECRET", "fedcba9876543210"),
        ("ISP_CALLBACK_TOLERANCE_SECONDS", "60"),
    ]))
    .unwrap();
    let cb = config.callback().expect("callback settings");
    assert_eq!(cb.tolerance_seconds, 60);
    assert!(cb.previous_secret.is_some());
}

#[test]
fn from_env_vars_reports_every_problem() {
    let err = IspConfig::from_env_vars(env(&[
        ("ISP_PROVIDER", "alarm_com"),
        ("ISP_CREDENTIAL_LOGIN", "u"),
        ("ISP_STATUS", "paused"),
        ("ISP_BUILDER_PROGRAM", "maybe"),
    ]))
    .unwrap_err();
    let Error::InvalidConfig { provider, problems } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(provider, "alarm_com");
    let mut got = fields(&problems);
    got.sort_unstable();
    assert_eq!(
        got,
        vec!["builder_program", "credentials.password", "name", "status"]
    );
}

#[test]
fn from_env_vars_reports_format_problems_of_a_config_that_otherwise_builds() {
    let err = IspConfig::from_env_vars(env(&[
        ("ISP_NAME", "TC"),
        ("ISP_PROVIDER", "total_connect"),
        ("ISP_CREDENTIAL_USER_NAME", "u"),
        ("ISP_CREDENTIAL_PASSWORD", "p"),
        ("ISP_CREDENTIAL_APPLICATION_ID", "1"),
        ("ISP_CREDENTIAL_APPLICATION_VERSION", "1.0"),
        ("ISP_CREDENTIAL_COMPANY_ID", "7"),
        ("ISP_CALLBACK_SECRET", "0123456789abcdef"),
        ("ISP_CALLBACK_TOLERANCE_SECONDS", "five minutes"),
    ]))
    .unwrap_err();
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(fields(&problems), vec!["callback.tolerance_seconds"]);
}

#[test]
fn from_env_vars_with_nothing_set_asks_for_name_and_provider() {
    let err = IspConfig::from_env_vars(Vec::<(String, String)>::new()).unwrap_err();
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(fields(&problems), vec!["name", "provider"]);
}

#[test]
fn a_misspelled_env_key_is_reported_with_the_key_it_meant() {
    let secret = "qzx-vkjwy-Zq1-SECRET";
    let err = IspConfig::from_env_vars(env(&[
        ("ISP_NAME", "A"),
        ("ISP_PROVIDER", "alarm_com"),
        ("ISP_CREDENTIAL_LOGIN", "u"),
        ("ISP_PASWORD", secret),
    ]))
    .unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(!shown.contains(secret), "{shown}");
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    let unknown: Vec<_> = problems.for_field("ISP_PASWORD").collect();
    assert_eq!(unknown.len(), 1, "{problems}");
    assert!(
        unknown[0]
            .message
            .contains("did you mean ISP_CREDENTIAL_PASSWORD"),
        "{problems}"
    );
}

#[test]
fn every_unknown_env_key_is_reported_at_once() {
    let err = IspConfig::from_env_vars(env(&[
        ("ISP_NAME", "A"),
        ("ISP_PROVIDER", "alarm_com"),
        ("ISP_CREDENTIAL_LOGIN", "u"),
        ("ISP_CREDENTIAL_PASSWORD", "p"),
        ("ISP_ENDPIONT", "https://alarm.example.com/ws"),
        ("ISP_DEFAULT_PLANS", "9"),
        ("ISP_LOGIN", "u"),
        ("ISP_CALLBACK_SECRETS", "0123456789abcdef"),
        ("ISP_WHATEVER", "x"),
        ("OTHER_PASWORD", "not ours"),
    ]))
    .unwrap_err();
    let Error::InvalidConfig { provider, problems } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(provider, "alarm_com");
    let mut got = fields(&problems);
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            "ISP_CALLBACK_SECRETS",
            "ISP_DEFAULT_PLANS",
            "ISP_ENDPIONT",
            "ISP_LOGIN",
            "ISP_WHATEVER"
        ]
    );
    let message = |key: &str| problems.for_field(key).next().unwrap().message.clone();
    assert!(message("ISP_ENDPIONT").contains("did you mean ISP_ENDPOINT?"));
    assert!(message("ISP_DEFAULT_PLANS").contains("did you mean ISP_DEFAULT_PLAN?"));
    assert!(message("ISP_LOGIN").contains("did you mean ISP_CREDENTIAL_LOGIN?"));
    assert!(message("ISP_CALLBACK_SECRETS").contains("did you mean ISP_CALLBACK_SECRET?"));
    // Nothing close: the documented keys are listed instead.
    let whatever = message("ISP_WHATEVER");
    assert!(!whatever.contains("did you mean"), "{whatever}");
    assert!(whatever.contains("ISP_CREDENTIAL_<FIELD>"), "{whatever}");
}

#[test]
fn env_prefix_is_documented_value() {
    assert_eq!(interactive_services::config::ENV_PREFIX, "ISP_");
}

/// The credential fields of a built-in provider.
fn fields_of(kind: &ProviderKind) -> &'static [interactive_services::model::CredentialField] {
    interactive_services::providers::built_in_spec(kind).map_or(&[], |s| s.credential_fields)
}

#[test]
fn billing_is_an_opt_in_for_providers_that_have_it() {
    let alarm = IspConfig::builder()
        .name("A")
        .provider("alarm_com")
        .credential("login", "l")
        .credential("password", "long-enough-pw")
        .billing(true)
        .build()
        .expect("Alarm.com has billing sync");
    assert!(alarm.billing());
    let stored = alarm.to_json_with_secrets();
    let back: IspConfig =
        serde_json::from_str(secrecy::ExposeSecret::expose_secret(&stored)).expect("back");
    assert!(back.billing());
    let e = IspConfig::builder()
        .name("T")
        .provider("total_connect")
        .credential("user_name", "u")
        .credential("password", "long-enough-pw")
        .credential("application_id", "a")
        .credential("application_version", "1")
        .credential("company_id", "2")
        .billing(true)
        .build()
        .expect_err("Total Connect has no billing sync");
    assert!(e.to_string().contains("billing"), "{e}");
}
