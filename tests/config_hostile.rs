//! Hostile secrets: passwords holding URL delimiters, every parser's quote characters, markup
//! characters, a backslash and non-ASCII letters, sent through every path that reports a
//! problem or prints a configuration. No part of them may come back.

use interactive_services::{CallbackConfig, Error, IspConfig, IspConfigBuilder};

/// A password with `/ # ? @ " \ ' < &`, a backtick and non-ASCII letters.
const SECRET: &str = "pä/ss#wö?r\"d@x'<&`\\zq";

/// Passwords that broke user-info stripping or quote-based redaction, one trick each.
/// Made of letters no fixed message has in a row, so that any 4-character piece of them in an
/// output is a leak.
const TRICKY: &[&str] = &[
    SECRET,
    "qz/xv#kj?wy-Zq1",
    "qz@xv@kjwy-Zq2",
    "qzx\"vkjwy-Zq3",
    "qzx`vkjwy-Zq4",
    "qzx'vkjwy-Zq5",
    "qz\\xvkjwy-Zq6",
    "qzx<&>vkjw-Zq7",
    "qzäxvöjwy-Zq8",
];

/// What must not appear for `secret`: the secret itself, the part after its first character
/// that is not an ASCII letter or digit, and every 4-character piece with at least two letters
/// or digits, each also as `Debug` escapes it (`\"`, `\\`).
fn fragments(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    if let Some(at) = secret.find(|c: char| !c.is_ascii_alphanumeric()) {
        let tail: String = secret[at..].chars().skip(1).collect();
        if tail.chars().count() >= 4 {
            out.push(tail);
        }
    }
    let escaped = secret.escape_debug().to_string();
    for form in [secret.to_owned(), escaped.clone()] {
        let chars: Vec<char> = form.chars().collect();
        for w in chars.windows(4) {
            if w.iter().filter(|c| c.is_alphanumeric()).count() >= 2 {
                out.push(w.iter().collect());
            }
        }
    }
    out.push(escaped);
    out.sort();
    out.dedup();
    out
}

#[track_caller]
fn assert_hidden(what: &str, output: &str, secret: &str) {
    let lower = output.to_lowercase();
    for fragment in fragments(secret) {
        assert!(
            !lower.contains(&fragment.to_lowercase()),
            "{what} shows {fragment:?} of the secret {secret:?}:\n{output}"
        );
    }
}

/// Every form of a build's outcome: the builder's `Debug`, then the error's `Display` and
/// `Debug`, or the config's `Debug`, `Display` and plain JSON.
#[track_caller]
fn assert_build_hidden(what: &str, builder: IspConfigBuilder, secret: &str) -> Result<(), Error> {
    assert_hidden(
        &format!("{what}: builder Debug"),
        &format!("{builder:?}"),
        secret,
    );
    assert_hidden(
        &format!("{what}: builder alt Debug"),
        &format!("{builder:#?}"),
        secret,
    );
    match builder.build() {
        Ok(config) => {
            assert_config_hidden(what, &config, secret);
            Ok(())
        }
        Err(err) => {
            assert_hidden(&format!("{what}: error Display"), &format!("{err}"), secret);
            assert_hidden(&format!("{what}: error Debug"), &format!("{err:?}"), secret);
            Err(err)
        }
    }
}

#[track_caller]
fn assert_config_hidden(what: &str, config: &IspConfig, secret: &str) {
    assert_hidden(
        &format!("{what}: config Debug"),
        &format!("{config:?}"),
        secret,
    );
    assert_hidden(
        &format!("{what}: config alt Debug"),
        &format!("{config:#?}"),
        secret,
    );
    assert_hidden(
        &format!("{what}: config Display"),
        &format!("{config}"),
        secret,
    );
    let plain = serde_json::to_string(config).unwrap();
    assert_hidden(&format!("{what}: plain JSON"), &plain, secret);
}

fn alarm_com(password: &str) -> IspConfigBuilder {
    IspConfig::builder()
        .name("Alarm.com (main)")
        .provider("alarm_com")
        .credential("login", "integration-user")
        .credential("password", password)
}

fn total_connect(password: &str) -> IspConfigBuilder {
    IspConfig::builder()
        .name("Total Connect")
        .provider("total_connect")
        .credential("user_name", "dealer-user")
        .credential("password", password)
        .credential("application_id", "14588")
        .credential("application_version", "1.0.0")
        .credential("company_id", "7001")
}

#[test]
fn the_fragments_cover_the_secret() {
    let f = fragments(SECRET);
    assert!(f.contains(&SECRET.to_owned()));
    assert!(f.contains(&"/ss#wö?r\"d@x'<&`\\zq".to_owned()));
    assert!(f.contains(&"wö?r".to_owned()));
    assert!(f.contains(&"r\\\"d".to_owned()), "{f:?}");
}

// ---------------------------------------------------------------------------------------------
// 1. user-info of the endpoint

#[test]
fn endpoint_user_info_is_hidden_whatever_the_password_holds() {
    for password in TRICKY {
        for endpoint in [
            format!("https://user:{password}@alarm.example.com/WebServices/"),
            format!("https://{password}@alarm.example.com/WebServices/"),
            format!("http://user:{password}@127.0.0.1:8080/sim"),
            format!("https://user:{password}@alarm example.com/ws"),
            format!("user:{password}@alarm.example.com/ws"),
            format!("https:\\\\user:{password}@alarm.example.com\\ws"),
            format!("  https://user:{password}@alarm.example.com/ws?x=1#top  "),
        ] {
            // The endpoint's password is not a credential of the config: only the stripping
            // keeps it out.
            let builder = alarm_com("correct horse battery").endpoint(&endpoint);
            let err = assert_build_hidden(&endpoint, builder, password)
                .expect_err("an endpoint with user-info is refused");
            let Error::InvalidConfig { problems, .. } = err else {
                panic!("{endpoint}: expected InvalidConfig");
            };
            assert_eq!(
                problems.for_field("endpoint").count(),
                1,
                "{endpoint}: {problems}"
            );
        }
    }
}

#[test]
fn a_config_debug_never_shows_an_endpoint_password() {
    // The same password as a credential and in the endpoint: the valid config cannot carry it,
    // and the builder's Debug shows neither.
    for password in TRICKY {
        let builder =
            alarm_com(password).endpoint(format!("https://u:{password}@alarm.example.com/ws"));
        assert!(assert_build_hidden("endpoint + password", builder, password).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. wrong-typed TOML and JSON fields

/// Marks the documents that hold the secret unescaped (a comment in both formats' cases is
/// not possible in JSON, so the marker is the key `unescaped_password` of the credentials).
const UNESCAPED: &str = "unescaped_password";

/// `s` as a TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `s` as a JSON string.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[track_caller]
fn assert_parse_hidden(what: &str, result: Result<IspConfig, Error>, secret: &str) {
    match result {
        // Written unescaped, a secret without the document's quote character is a valid
        // value: then the config must not show it.
        Ok(config) if what.contains(UNESCAPED) => assert_config_hidden(what, &config, secret),
        Ok(config) => panic!("{what}: expected an error, got {config:?}"),
        Err(err) => {
            assert!(
                matches!(err, Error::InvalidConfig { .. }),
                "{what}: {err:?}"
            );
            assert_hidden(&format!("{what}: Display"), &format!("{err}"), secret);
            assert_hidden(&format!("{what}: Debug"), &format!("{err:?}"), secret);
        }
    }
}

#[test]
fn wrong_typed_toml_fields_do_not_echo_the_value() {
    let head = "name = \"A\"\nprovider = \"alarm_com\"\n";
    for secret in TRICKY {
        let s = toml_str(secret);
        let cases = [
            // An array for the password.
            format!("{head}[credentials]\nlogin = \"u\"\npassword = [{s}]\n"),
            // A table for the password.
            format!("{head}[credentials]\nlogin = \"u\"\npassword = {{ value = {s} }}\n"),
            // A string where a table is wanted.
            format!("{head}credentials = {s}\n"),
            format!("{head}callback = {s}\n"),
            // A string where an enum, a boolean, a number is wanted.
            format!("{head}status = {s}\n"),
            format!("{head}builder_program = {s}\n"),
            format!(
                "{head}[callback]\nsigning_secret = \"0123456789abcdef\"\ntolerance_seconds = {s}\n"
            ),
            // An array or a table where a string is wanted.
            format!("{head}default_plan = [{s}]\n"),
            format!("{head}endpoint = {{ url = {s} }}\n"),
            format!("name = [{s}]\nprovider = \"alarm_com\"\n"),
            // The secret as an unknown key's value.
            format!("{head}passwrd = {s}\n"),
            // The secret unescaped: a syntax error in its middle when it holds the quote.
            format!("{head}[credentials]\nlogin = \"u\"\n{UNESCAPED} = \"{secret}\"\n"),
            format!("{head}[credentials]\nlogin = \"u\"\n{UNESCAPED} = {secret}\n"),
            format!("{head}[credentials]\nlogin = \"u\"\n{UNESCAPED} = '{secret}'\n"),
        ];
        for text in cases {
            assert_parse_hidden(&text, IspConfig::from_toml(&text), secret);
        }
    }
    // A number where a string is wanted.
    let number = "98765432109876";
    for text in [
        format!("name = {number}\nprovider = \"alarm_com\"\n"),
        format!("{head}default_plan = {number}\n"),
        format!("{head}[credentials]\nlogin = \"u\"\npassword = {number}\n"),
        format!("{head}[credentials]\nlogin = {number}.5\npassword = \"p\"\n"),
    ] {
        assert_parse_hidden(&text, IspConfig::from_toml(&text), number);
    }
}

#[test]
fn wrong_typed_json_fields_do_not_echo_the_value() {
    for secret in TRICKY {
        let s = json_str(secret);
        let base = r#""name": "A", "provider": "alarm_com""#;
        let cases = [
            format!(r#"{{{base}, "credentials": {{"login": "u", "password": [{s}]}}}}"#),
            format!(r#"{{{base}, "credentials": {{"login": "u", "password": {{"v": {s}}}}}}}"#),
            format!(r#"{{{base}, "credentials": {s}}}"#),
            format!(r#"{{{base}, "callback": {s}}}"#),
            format!(r#"{{{base}, "status": {s}}}"#),
            format!(r#"{{{base}, "builder_program": {s}}}"#),
            format!(r#"{{{base}, "default_plan": [{s}]}}"#),
            format!(r#"{{{base}, "endpoint": {{"url": {s}}}}}"#),
            format!(r#"{{"name": [{s}], "provider": "alarm_com"}}"#),
            format!(
                r#"{{{base}, "callback": {{"signing_secret": "0123456789abcdef", "tolerance_seconds": {s}}}}}"#
            ),
            format!(r#"{{{base}, "passwrd": {s}}}"#),
            // Unescaped: a syntax error in the middle of the secret when it holds `"` or `\`.
            format!(r#"{{{base}, "credentials": {{"login": "u", "{UNESCAPED}": "{secret}"}}}}"#),
        ];
        for text in cases {
            assert_parse_hidden(&text, IspConfig::from_json(&text), secret);
            // Through serde directly too.
            let shown = match serde_json::from_str::<IspConfig>(&text) {
                Ok(config) => format!("{config:?}"),
                Err(err) => format!("{err} {err:?}"),
            };
            assert_hidden(&format!("{text}: serde"), &shown, secret);
        }
    }
    let number = "98765432109876";
    for text in [
        format!(r#"{{"name": {number}, "provider": "alarm_com"}}"#),
        format!(
            r#"{{"name": "A", "provider": "alarm_com", "credentials": {{"login": "u", "password": {number}}}}}"#
        ),
        format!(r#"{{"name": "A", "provider": "alarm_com", "default_plan": -{number}.25}}"#),
    ] {
        assert_parse_hidden(&text, IspConfig::from_json(&text), number);
        let err = serde_json::from_str::<IspConfig>(&text).unwrap_err();
        assert_hidden("serde", &format!("{err} {err:?}"), number);
    }
}

#[test]
fn parse_errors_still_say_where_and_what() {
    let err = IspConfig::from_toml(&format!(
        "name = \"A\"\nprovider = \"alarm_com\"\n[credentials]\nlogin = \"u\"\npassword = [{}]\n",
        toml_str(SECRET)
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 5"), "{text}");
    assert!(text.contains("credentials.password"), "{text}");
    assert!(text.contains("a string"), "{text}");

    let err = IspConfig::from_json(&format!(
        r#"{{"name": "A", "provider": "alarm_com", "status": {}}}"#,
        json_str(SECRET)
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 1"), "{text}");
    assert!(text.contains("`active`"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 3. a secret pasted into a plain field

#[test]
fn a_secret_pasted_into_a_plain_field_is_not_quoted_back() {
    for secret in TRICKY {
        let cases: Vec<(&str, IspConfigBuilder)> = vec![
            ("default_plan", alarm_com(secret).default_plan(*secret)),
            (
                "TC default_plan",
                total_connect(secret).default_plan(*secret),
            ),
            (
                "endpoint path",
                alarm_com(secret).endpoint(format!("https://alarm.example.com/ws/{secret}")),
            ),
            (
                "endpoint query",
                alarm_com(secret).endpoint(format!("https://alarm.example.com/ws?k={secret}")),
            ),
            (
                "endpoint host",
                alarm_com(secret).endpoint(format!("https://{secret}/ws")),
            ),
            (
                "endpoint scheme",
                alarm_com(secret).endpoint(format!("{secret}://alarm.example.com/ws")),
            ),
            ("login", alarm_com(secret).credential("login", *secret)),
            (
                "dealer_id",
                alarm_com(secret).credential("dealer_id", *secret),
            ),
            ("name", alarm_com(secret).name(*secret)),
            (
                "name, around",
                alarm_com(secret).name(format!("Alarm {secret} main")),
            ),
            (
                "TC user_name and company",
                total_connect(secret)
                    .credential("user_name", *secret)
                    .credential("company_id", *secret),
            ),
            (
                "callback secret in the plan",
                total_connect("correct horse battery")
                    .callback(CallbackConfig::new(format!("{secret}-0123456789")))
                    .default_plan(format!("{secret}-0123456789")),
            ),
            (
                "contributed provider",
                IspConfig::builder()
                    .name(*secret)
                    .provider("acme_connect")
                    .credential("api_key", *secret)
                    .default_plan(*secret),
            ),
            (
                "provider",
                IspConfig::builder()
                    .name("A")
                    .provider(*secret)
                    .credential("api_key", *secret),
            ),
            (
                "everything wrong at once",
                alarm_com(secret)
                    .name(*secret)
                    .default_plan(*secret)
                    .credential("dealer_id", *secret)
                    .credential("login", *secret)
                    .endpoint(format!("https://alarm.example.com/{secret}"))
                    .builder_program(true),
            ),
        ];
        for (what, builder) in cases {
            let _ = assert_build_hidden(&format!("{what} ({secret})"), builder, secret);
        }
    }
}

#[test]
fn plain_fields_holding_a_secret_are_still_stored_as_given() {
    // Masking is for what is shown; the values themselves are kept.
    let config = alarm_com(SECRET)
        .name(format!("Alarm {SECRET}"))
        .build()
        .unwrap();
    assert_eq!(config.name(), format!("Alarm {SECRET}"));
    assert!(
        format!("{config:?}").contains("name: \"[REDACTED]\""),
        "{config:?}"
    );
    let stored = config.to_json_with_secrets();
    use interactive_services::secrecy::ExposeSecret;
    let loaded = IspConfig::from_json(stored.expose_secret()).unwrap();
    assert_eq!(loaded.name(), config.name());
}

#[test]
fn a_provider_name_holding_a_secret_is_refused_without_naming_it() {
    let err = IspConfig::builder()
        .name("A")
        .provider(format!("acme {SECRET}"))
        .credential("api_key", SECRET)
        .build()
        .unwrap_err();
    let Error::InvalidConfig { provider, problems } = err else {
        panic!("expected InvalidConfig");
    };
    assert_eq!(provider, "unknown");
    assert_eq!(problems.for_field("provider").count(), 1, "{problems}");
}

// ---------------------------------------------------------------------------------------------
// 5. unknown environment keys

#[test]
fn a_misspelled_env_key_never_shows_its_value() {
    for secret in TRICKY {
        let err = IspConfig::from_env_vars(vec![
            ("ISP_NAME", "A"),
            ("ISP_PROVIDER", "alarm_com"),
            ("ISP_CREDENTIAL_LOGIN", "u"),
            ("ISP_PASWORD", secret),
            ("ISP_CALBACK_SECRET", secret),
        ])
        .unwrap_err();
        assert_hidden("env Display", &format!("{err}"), secret);
        assert_hidden("env Debug", &format!("{err:?}"), secret);
    }
}
