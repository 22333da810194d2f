//! No secret leaves the crate by accident: every public type that can hold one is scanned in its
//! `Debug`, `Display` and `Serialize` output; the explicit storage form round-trips exactly.

use std::collections::BTreeMap;
use std::sync::Arc;

use interactive_services::http::soap::{self, Node, SoapVersion};
use interactive_services::secrecy::{ExposeSecret, SecretString};
use interactive_services::testkit::InMemoryProvider;
use interactive_services::{
    AccountId, AccountStatus, CallbackConfig, Contact, Credentials, Error, IspAccount, IspCatalog,
    IspConfig, IspConfigBuilder, ProviderKind, ProviderRegistry, Status,
};

const PASSWORD: &str = "s3cr3t-PASSWORD-xyz";
const DEVICE: &str = "s3cr3t-DEVICE-xyz";
const SIGNING: &str = "s3cr3t-SIGNING-xyz-0123";
const PREVIOUS: &str = "s3cr3t-PREVIOUS-xyz-0123";
const TOKEN: &str = "s3cr3t-TOKEN-xyz";
const ALL: &[&str] = &[PASSWORD, DEVICE, SIGNING, PREVIOUS, TOKEN];

/// The secret as `Debug` prints a `Vec<u8>` / `&[u8]` holding it: `[115, 51, ...]`.
fn as_debug_bytes(secret: &str) -> String {
    secret
        .bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fails when `output` holds any of `secrets`, as text (in any letter case) or as a
/// `Debug`-printed byte list.
#[track_caller]
fn assert_hidden(what: &str, output: &str, secrets: &[&str]) {
    let lower = output.to_lowercase();
    for secret in secrets {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{what} shows the secret {secret:?}:\n{output}"
        );
        assert!(
            !output.contains(&as_debug_bytes(secret)),
            "{what} shows the bytes of the secret {secret:?}:\n{output}"
        );
    }
}

fn alarm_com_builder() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Alarm.com (main)")
        .provider("alarm_com")
        .credential("login", "integration-user")
        .credential("password", PASSWORD)
        .credential("two_factor_device_id", DEVICE)
        .credential("dealer_id", "4242")
        .default_plan("9")
        .builder_program(true)
        .endpoint("https://alarm.example.com/webservices/")
}

fn callback() -> CallbackConfig {
    let mut cb = CallbackConfig::new(SIGNING);
    cb.previous_secret = Some(SecretString::from(PREVIOUS.to_owned()));
    cb.tolerance_seconds = 120;
    cb
}

fn total_connect_builder() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Total Connect")
        .provider("total_connect")
        .credential("user_name", "dealer-user")
        .credential("password", PASSWORD)
        .credential("application_id", "14588")
        .credential("application_version", "1.0.0")
        .credential("company_id", "7001")
        .default_plan("PLAN-1")
        .status(Status::Inactive)
        .callback(callback())
}

fn in_memory_builder() -> IspConfigBuilder {
    IspConfig::builder()
        .name("Reference")
        .provider("in_memory")
        .credential("token", TOKEN)
}

fn configs() -> Vec<IspConfig> {
    vec![
        alarm_com_builder().build().unwrap(),
        total_connect_builder().build().unwrap(),
        in_memory_builder().build().unwrap(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Debug / Display / Serialize of the configuration types

#[test]
fn config_debug_display_and_serialize_hide_secrets() {
    for config in configs() {
        let name = config.name().to_owned();
        assert_hidden(&format!("{name}: Debug"), &format!("{config:?}"), ALL);
        assert_hidden(&format!("{name}: alt Debug"), &format!("{config:#?}"), ALL);
        assert_hidden(&format!("{name}: Display"), &format!("{config}"), ALL);
        let json = serde_json::to_string(&config).unwrap();
        assert_hidden(&format!("{name}: serde_json"), &json, ALL);
        let pretty = serde_json::to_string_pretty(&config).unwrap();
        assert_hidden(&format!("{name}: serde_json pretty"), &pretty, ALL);
        // Debug still says which credentials are set.
        let debug = format!("{config:?}");
        for key in config.credentials().keys() {
            assert!(debug.contains(key), "{debug}");
        }
    }
}

#[test]
fn builder_debug_hides_secrets() {
    for builder in [
        alarm_com_builder(),
        total_connect_builder(),
        in_memory_builder(),
    ] {
        assert_hidden("builder Debug", &format!("{builder:?}"), ALL);
        assert_hidden("builder alt Debug", &format!("{builder:#?}"), ALL);
    }
}

#[test]
fn credentials_debug_shows_keys_only() {
    let mut credentials = Credentials::new();
    credentials.insert("login", "integration-user");
    credentials.insert("password", PASSWORD);
    let debug = format!("{credentials:?}");
    assert_hidden("Credentials Debug", &debug, ALL);
    assert!(debug.contains("password"), "{debug}");
    assert_hidden("Credentials alt Debug", &format!("{credentials:#?}"), ALL);
    // ... while the value is there for whoever asks for it explicitly.
    assert_eq!(credentials.expose("password"), Some(PASSWORD));
    assert_eq!(
        credentials.get("password").map(|s| s.expose_secret()),
        Some(PASSWORD)
    );
}

#[test]
fn callback_config_debug_hides_both_secrets() {
    let cb = callback();
    let debug = format!("{cb:?}");
    assert_hidden("CallbackConfig Debug", &debug, ALL);
    assert!(debug.contains("120"), "{debug}");
}

#[test]
fn account_initial_password_is_never_shown_or_serialized() {
    let account = IspAccount {
        id: AccountId::new("100001"),
        dealer_customer_id: Some("CUST-1".into()),
        contact: Contact {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            ..Contact::default()
        },
        login_name: Some("ada".into()),
        initial_password: Some(SecretString::from(PASSWORD.to_owned())),
        plan: Some("9".into()),
        add_ons: Default::default(),
        status: AccountStatus::Active,
        created_at: None,
    };
    assert_hidden("IspAccount Debug", &format!("{account:?}"), ALL);
    assert_hidden("IspAccount alt Debug", &format!("{account:#?}"), ALL);
    let json = serde_json::to_string(&account).unwrap();
    assert_hidden("IspAccount serde_json", &json, ALL);
    assert!(json.contains("Lovelace"), "{json}");
    // Debug does say that there is one.
    assert!(format!("{account:?}").contains("REDACTED"));
}

#[test]
fn soap_node_with_authentication_header_debug_hides_credentials() {
    let header = Node::new("Authentication")
        .xmlns("https://services.alarm.com/WebServices")
        .field("User", "integration-user")
        .field("Password", PASSWORD)
        .field("TwoFactorDeviceId", DEVICE);
    assert_hidden("Node Debug", &format!("{header:?}"), ALL);
    assert_hidden("Node alt Debug", &format!("{header:#?}"), ALL);
    // Writing the envelope does put the credentials on the wire (that is its job).
    let body = Node::new("GetCustomerInfo");
    let xml = soap::envelope(SoapVersion::V11, Some(&header), &body);
    assert!(xml.contains(PASSWORD));
}

// ---------------------------------------------------------------------------------------------
// errors

#[test]
fn invalid_config_error_from_a_config_with_secrets_hides_them() {
    // Secrets in correct places plus problems next to them, a secret under an unknown key,
    // and a callback secret that is too short.
    let short = "s3cr3t-SHORT";
    let err = alarm_com_builder()
        .name("")
        .credential("passwd", PASSWORD)
        .default_plan("abc")
        .callback(CallbackConfig::new(short))
        .build()
        .unwrap_err();
    let Error::InvalidConfig { problems, .. } = &err else {
        panic!("expected InvalidConfig, got {err:?}");
    };
    assert!(problems.len() >= 4, "{problems}");
    let secrets = [PASSWORD, DEVICE, short];
    assert_hidden("InvalidConfig Debug", &format!("{err:?}"), &secrets);
    assert_hidden("InvalidConfig Display", &format!("{err}"), &secrets);
    assert_hidden(
        "problems serde_json",
        &serde_json::to_string(problems).unwrap(),
        &secrets,
    );
}

#[test]
fn blank_and_missing_credential_errors_hide_the_other_secrets() {
    let err = total_connect_builder()
        .credential("company_id", " ")
        .credential("application_id", "")
        .callback(CallbackConfig::new(SIGNING))
        .builder_program(true)
        .build()
        .unwrap_err();
    assert_hidden("InvalidConfig Debug", &format!("{err:?}"), ALL);
    assert_hidden("InvalidConfig Display", &format!("{err}"), ALL);
}

#[test]
fn contributed_provider_credential_errors_hide_secrets() {
    let mut registry = ProviderRegistry::with_built_ins();
    InMemoryProvider::register(&mut registry);
    let config = IspConfig::builder()
        .name("Reference")
        .provider("in_memory")
        .credential("tokn", TOKEN)
        .build()
        .unwrap();
    let err = registry.build(&config).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert_hidden("registry InvalidConfig Debug", &format!("{err:?}"), ALL);
    assert_hidden("registry InvalidConfig Display", &format!("{err}"), ALL);
}

#[test]
fn catalog_conflict_error_hides_secrets() {
    let mut catalog = IspCatalog::new();
    catalog.add(alarm_com_builder().build().unwrap()).unwrap();
    let err = catalog
        .add(
            alarm_com_builder()
                .name(" alarm.COM (MAIN) ")
                .build()
                .unwrap(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_hidden("Conflict Debug", &format!("{err:?}"), ALL);
    assert_hidden("Conflict Display", &format!("{err}"), ALL);
    assert_hidden("catalog Debug", &format!("{catalog:?}"), ALL);
}

#[track_caller]
fn assert_parse_error_hidden(what: &str, result: Result<IspConfig, Error>, secret: &str) {
    let err = match result {
        Err(err) => err,
        Ok(config) => panic!("{what}: expected an error, got {config:?}"),
    };
    assert!(
        matches!(err, Error::InvalidConfig { .. }),
        "{what}: {err:?}"
    );
    assert_hidden(&format!("{what}: Debug"), &format!("{err:?}"), &[secret]);
    assert_hidden(&format!("{what}: Display"), &format!("{err}"), &[secret]);
}

const NUMERIC_PASSWORD: &str = "12345678901234";

#[test]
fn toml_parse_errors_do_not_quote_secret_values() {
    let head = "name = \"A\"\nprovider = \"alarm_com\"\n";
    assert_parse_error_hidden(
        "numeric password",
        IspConfig::from_toml(&format!(
            "{head}[credentials]\nlogin = \"u\"\npassword = {NUMERIC_PASSWORD}\n"
        )),
        NUMERIC_PASSWORD,
    );
    assert_parse_error_hidden(
        "secret in status",
        IspConfig::from_toml(&format!("{head}status = \"{PASSWORD}\"\n")),
        PASSWORD,
    );
    assert_parse_error_hidden(
        "secret in builder_program",
        IspConfig::from_toml(&format!("{head}builder_program = \"{PASSWORD}\"\n")),
        PASSWORD,
    );
    assert_parse_error_hidden(
        "unquoted secret",
        IspConfig::from_toml(&format!(
            "{head}[credentials]\nlogin = \"u\"\npassword = {PASSWORD}\n"
        )),
        PASSWORD,
    );
    assert_parse_error_hidden(
        "secret in callback tolerance",
        IspConfig::from_toml(&format!(
            "{head}[callback]\nsigning_secret = \"0123456789abcdef\"\ntolerance_seconds = \"{PASSWORD}\"\n"
        )),
        PASSWORD,
    );
}

#[test]
fn json_parse_errors_do_not_quote_secret_values() {
    assert_parse_error_hidden(
        "numeric password",
        IspConfig::from_json(&format!(
            r#"{{"name": "A", "provider": "alarm_com", "credentials": {{"login": "u", "password": {NUMERIC_PASSWORD}}}}}"#
        )),
        NUMERIC_PASSWORD,
    );
    assert_parse_error_hidden(
        "secret in status",
        IspConfig::from_json(&format!(
            r#"{{"name": "A", "provider": "alarm_com", "status": "{PASSWORD}"}}"#
        )),
        PASSWORD,
    );
    assert_parse_error_hidden(
        "secret as the name's wrong type",
        IspConfig::from_json(&format!(
            r#"{{"name": ["{PASSWORD}"], "provider": "alarm_com"}}"#
        )),
        PASSWORD,
    );
    assert_parse_error_hidden(
        "secret in builder_program",
        IspConfig::from_json(&format!(
            r#"{{"name": "A", "provider": "alarm_com", "builder_program": "{PASSWORD}"}}"#
        )),
        PASSWORD,
    );
}

#[test]
fn serde_deserialize_errors_do_not_quote_secret_values() {
    let cases = [
        (
            format!(
                r#"{{"name": "A", "provider": "alarm_com", "credentials": {{"login": "u", "password": {NUMERIC_PASSWORD}}}}}"#
            ),
            NUMERIC_PASSWORD,
        ),
        (
            format!(
                r#"{{"name": "A", "provider": "alarm_com", "credentials": {{"login": "u", "password": "p"}}, "status": "{PASSWORD}"}}"#
            ),
            PASSWORD,
        ),
    ];
    for (json, secret) in cases {
        let err = serde_json::from_str::<IspConfig>(&json).unwrap_err();
        assert_hidden("serde_json::from_str Display", &format!("{err}"), &[secret]);
        assert_hidden("serde_json::from_str Debug", &format!("{err:?}"), &[secret]);
    }
}

#[test]
fn env_var_errors_do_not_quote_secret_values() {
    let err = IspConfig::from_env_vars(vec![
        ("ISP_NAME", "A"),
        ("ISP_PROVIDER", "alarm_com"),
        ("ISP_CREDENTIAL_LOGIN", "u"),
        ("ISP_CREDENTIAL_PASSWORD", "p"),
        ("ISP_STATUS", PASSWORD),
    ])
    .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert_hidden("env InvalidConfig Display", &format!("{err}"), &[PASSWORD]);
    assert_hidden("env InvalidConfig Debug", &format!("{err:?}"), &[PASSWORD]);
}

#[test]
fn env_var_configs_hide_secrets() {
    let config = IspConfig::from_env_vars(vec![
        ("ISP_NAME", "TC"),
        ("ISP_PROVIDER", "total_connect"),
        ("ISP_CREDENTIAL_USER_NAME", "u"),
        ("ISP_CREDENTIAL_PASSWORD", PASSWORD),
        ("ISP_CREDENTIAL_APPLICATION_ID", "1"),
        ("ISP_CREDENTIAL_APPLICATION_VERSION", "1.0"),
        ("ISP_CREDENTIAL_COMPANY_ID", "7"),
        ("ISP_CALLBACK_SECRET", SIGNING),
        ("ISP_CALLBACK_PREVIOUS_SECRET", PREVIOUS),
    ])
    .unwrap();
    assert_hidden("env config Debug", &format!("{config:?}"), ALL);
    assert_hidden(
        "env config serde_json",
        &serde_json::to_string(&config).unwrap(),
        ALL,
    );
}

#[test]
fn a_password_embedded_in_the_endpoint_is_not_shown() {
    let builder =
        alarm_com_builder().endpoint(format!("https://admin:{PASSWORD}@alarm.example.com/ws"));
    assert_hidden("builder Debug", &format!("{builder:?}"), &[PASSWORD]);
    let err = builder.build().unwrap_err();
    assert_hidden("endpoint problem", &format!("{err}"), &[PASSWORD]);
    let err = alarm_com_builder()
        .endpoint(format!("https://admin:{PASSWORD}@alarm example.com/ws"))
        .build()
        .unwrap_err();
    assert_hidden(
        "unparsable endpoint problem",
        &format!("{err}"),
        &[PASSWORD],
    );
}

#[test]
fn an_endpoint_password_holding_url_delimiters_and_quotes_is_not_shown() {
    // `/`, `#` and `?` used to end the "authority" before the `@` was looked for.
    for password in [
        "s3cr3t/PASS#w?rd-xyz",
        "s3cr3t@PASS@xyz",
        "s3cr3t\"PASS`x'yz<&\\",
        "s3cr3t-pä/ss#wö?r-xyz",
    ] {
        let tail = &password[password.find(|c: char| !c.is_ascii_alphanumeric()).unwrap() + 1..];
        let builder =
            alarm_com_builder().endpoint(format!("https://user:{password}@alarm.example.com/ws/"));
        assert_hidden("builder Debug", &format!("{builder:?}"), &[password, tail]);
        assert_hidden(
            "builder alt Debug",
            &format!("{builder:#?}"),
            &[password, tail],
        );
        let err = builder.build().unwrap_err();
        assert_hidden("endpoint problem", &format!("{err}"), &[password, tail]);
        assert_hidden(
            "endpoint problem Debug",
            &format!("{err:?}"),
            &[password, tail],
        );
    }
}

#[test]
fn a_secret_pasted_into_a_plain_field_is_not_shown() {
    let cases = [
        alarm_com_builder().default_plan(PASSWORD),
        alarm_com_builder().credential("login", PASSWORD),
        alarm_com_builder().credential("dealer_id", PASSWORD),
        alarm_com_builder().name(PASSWORD),
        alarm_com_builder().endpoint(format!("https://alarm.example.com/ws/{PASSWORD}")),
        total_connect_builder().default_plan(PASSWORD),
        total_connect_builder().default_plan(SIGNING),
    ];
    for builder in cases {
        assert_hidden("builder Debug", &format!("{builder:?}"), ALL);
        match builder.build() {
            Ok(config) => {
                assert_hidden("config Debug", &format!("{config:?}"), ALL);
                assert_hidden("config Display", &format!("{config}"), ALL);
                let json = serde_json::to_string(&config).unwrap();
                assert_hidden("config JSON", &json, ALL);
            }
            Err(err) => {
                assert_hidden("error Display", &format!("{err}"), ALL);
                assert_hidden("error Debug", &format!("{err:?}"), ALL);
            }
        }
    }
}

#[test]
fn http_request_debug_hides_credentials() {
    use interactive_services::http::Request;
    let header = Node::new("Authentication")
        .field("User", "integration-user")
        .field("Password", PASSWORD);
    let xml = soap::envelope(
        SoapVersion::V11,
        Some(&header),
        &Node::new("GetCustomerInfo"),
    );
    let mut request = Request::new(
        "account",
        reqwest::Method::POST,
        "https://alarm.example.com/ws".parse().unwrap(),
    );
    request.headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    request.body = xml.into_bytes();
    assert_hidden("Request Debug", &format!("{request:?}"), ALL);
}

#[tokio::test]
async fn transport_errors_do_not_carry_the_url() {
    use interactive_services::http::{Request, RetryPolicy, Transport, TransportOptions};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let transport = Transport::new(
        "alarm_com",
        TransportOptions {
            retry: RetryPolicy::none(),
            ..TransportOptions::default()
        },
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}/ws?password={PASSWORD}");
    let err = transport
        .send(Request::new(
            "account",
            reqwest::Method::GET,
            url.parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let mut chain = format!("{err} / {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(" / {s} / {s:?}"));
        source = s.source();
    }
    assert_hidden("Transport error chain", &chain, ALL);
}

// ---------------------------------------------------------------------------------------------
// plain Serialize vs explicit storage

#[test]
fn plain_serialize_omits_secret_fields_but_keeps_the_others() {
    let config = alarm_com_builder().build().unwrap();
    let value: serde_json::Value = serde_json::to_value(&config).unwrap();
    let credentials = value["credentials"]
        .as_object()
        .expect("credentials object");
    let mut keys: Vec<&str> = credentials.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["dealer_id", "login"]);
    assert_eq!(credentials["login"], "integration-user");
    assert_eq!(value["name"], "Alarm.com (main)");
    assert_eq!(value["provider"], "alarm_com");
    assert_eq!(value["default_plan"], "9");
    assert_eq!(value["builder_program"], true);

    let tc = total_connect_builder().build().unwrap();
    let value: serde_json::Value = serde_json::to_value(&tc).unwrap();
    assert!(value.get("callback").is_none(), "{value}");
    assert_eq!(value["credentials"]["user_name"], "dealer-user");
    assert!(value["credentials"].get("password").is_none(), "{value}");

    // Without a schema (contributed providers) every value counts as secret.
    let mem = in_memory_builder().build().unwrap();
    let value: serde_json::Value = serde_json::to_value(&mem).unwrap();
    assert!(value["credentials"].get("token").is_none(), "{value}");
}

#[test]
fn plain_serialization_cannot_be_loaded_as_a_complete_config() {
    // The plain form is for display; storing needs the explicit call.
    let config = alarm_com_builder().build().unwrap();
    let plain = serde_json::to_string(&config).unwrap();
    let err = IspConfig::from_json(&plain).unwrap_err();
    let Error::InvalidConfig { problems, .. } = err else {
        panic!("expected InvalidConfig");
    };
    assert!(
        problems.for_field("credentials.password").count() == 1,
        "{problems}"
    );
}

fn credential_map(config: &IspConfig) -> BTreeMap<String, String> {
    config
        .credentials()
        .keys()
        .map(|k| {
            (
                k.to_owned(),
                config.credentials().expose(k).unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn assert_same_config(original: &IspConfig, loaded: &IspConfig) {
    assert_eq!(loaded.name(), original.name());
    assert_eq!(loaded.provider(), original.provider());
    assert_eq!(credential_map(loaded), credential_map(original));
    assert_eq!(loaded.default_plan(), original.default_plan());
    assert_eq!(loaded.status(), original.status());
    assert_eq!(loaded.builder_program(), original.builder_program());
    assert_eq!(loaded.endpoint(), original.endpoint());
    match (original.callback(), loaded.callback()) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            assert_eq!(
                a.signing_secret.expose_secret(),
                b.signing_secret.expose_secret()
            );
            assert_eq!(
                a.previous_secret.as_ref().map(|s| s.expose_secret()),
                b.previous_secret.as_ref().map(|s| s.expose_secret())
            );
            assert_eq!(a.tolerance_seconds, b.tolerance_seconds);
        }
        (a, b) => panic!("callback differs: {a:?} vs {b:?}"),
    }
}

/// Secrets with characters that need escaping in JSON and TOML.
const AWKWARD: &str = "pa\"ss\\wo'rd #=[x] ünï 🔒 \t end ";

fn round_trip_configs() -> Vec<IspConfig> {
    let mut all = configs();
    all.push(
        alarm_com_builder()
            .credential("password", AWKWARD)
            .endpoint("http://127.0.0.1:8080/sim")
            .status(Status::Inactive)
            .build()
            .unwrap(),
    );
    all.push(
        total_connect_builder()
            .callback(CallbackConfig::new(format!("{AWKWARD}{AWKWARD}")))
            .status(Status::Active)
            .build()
            .unwrap(),
    );
    all
}

#[test]
fn json_with_secrets_round_trips_exactly() {
    for config in round_trip_configs() {
        let stored = config.to_json_with_secrets();
        assert!(!stored.expose_secret().is_empty());
        // The wrapper keeps it out of logs.
        assert_hidden("stored JSON Debug", &format!("{stored:?}"), ALL);
        let loaded = IspConfig::from_json(stored.expose_secret())
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", config.name(), stored.expose_secret()));
        assert_same_config(&config, &loaded);
    }
}

#[test]
fn toml_with_secrets_round_trips_exactly() {
    for config in round_trip_configs() {
        let stored = config.to_toml_with_secrets();
        assert!(
            !stored.expose_secret().is_empty(),
            "{}: empty TOML",
            config.name()
        );
        assert_hidden("stored TOML Debug", &format!("{stored:?}"), ALL);
        let loaded = IspConfig::from_toml(stored.expose_secret())
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", config.name(), stored.expose_secret()));
        assert_same_config(&config, &loaded);
    }
}

#[test]
fn stored_forms_are_also_readable_through_serde() {
    for config in round_trip_configs() {
        let stored = config.to_json_with_secrets();
        let loaded: IspConfig = serde_json::from_str(stored.expose_secret()).unwrap();
        assert_same_config(&config, &loaded);
    }
}

#[test]
fn a_contributed_provider_round_trips_its_token() {
    let mut registry = ProviderRegistry::with_built_ins();
    InMemoryProvider::register(&mut registry);
    let config = in_memory_builder().build().unwrap();
    let loaded = IspConfig::from_json(config.to_json_with_secrets().expose_secret()).unwrap();
    assert_eq!(loaded.provider(), &ProviderKind::new("in_memory"));
    assert_eq!(loaded.credentials().expose("token"), Some(TOKEN));
    let provider: Arc<dyn interactive_services::InteractiveServicesProvider> =
        registry.build(&loaded).unwrap();
    assert_hidden("provider Debug", &format!("{provider:?}"), ALL);
    assert_hidden("registry Debug", &format!("{registry:?}"), ALL);
}
