//! Loading configurations from TOML, JSON and environment variables.

use crate::config::{CallbackConfig, IspConfig, IspConfigBuilder, Status};
use crate::error::{Error, Result, ValidationErrors};

/// The prefix of the environment keys [`IspConfig::from_env`] reads.
///
/// | key | meaning |
/// |---|---|
/// | `ISP_NAME` | the name |
/// | `ISP_PROVIDER` | `alarm_com`, `total_connect`, `brinks_home` or a registered name |
/// | `ISP_CREDENTIAL_<FIELD>` | one credential field, e.g. `ISP_CREDENTIAL_LOGIN`, `ISP_CREDENTIAL_PASSWORD` (the field key in upper case) |
/// | `ISP_DEFAULT_PLAN` | the default service plan id |
/// | `ISP_STATUS` | `active` (default) or `inactive` |
/// | `ISP_BUILDER_PROGRAM` | `true` or `false` |
/// | `ISP_ENDPOINT` | endpoint override |
/// | `ISP_CALLBACK_SECRET`, `ISP_CALLBACK_PREVIOUS_SECRET`, `ISP_CALLBACK_TOLERANCE_SECONDS` | callback settings |
pub const ENV_PREFIX: &str = "ISP_";

fn parse_error(format: &str, e: impl std::fmt::Display, line: Option<usize>) -> Error {
    let mut problems = ValidationErrors::new();
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    problems.push(
        "",
        format!(
            "the {format} could not be read{at}: {}",
            redact_values(&e.to_string())
        ),
    );
    Error::InvalidConfig {
        provider: "unknown".into(),
        problems,
    }
}

impl IspConfig {
    /// Reads and validates a configuration from TOML. The keys are those of
    /// [`IspConfig::to_toml_with_secrets`]: `name`, `provider`, `[credentials]`, `default_plan`,
    /// `status`, `builder_program`, `endpoint`, `[callback]`.
    ///
    /// ```
    /// let config = interactive_services::IspConfig::from_toml(r#"
    ///     name = "Alarm.com (main)"
    ///     provider = "alarm_com"
    ///     default_plan = "9"
    ///     [credentials]
    ///     login = "integration-user"
    ///     password = "correct horse"
    /// "#)?;
    /// assert_eq!(config.default_plan().map(|p| p.as_str()), Some("9"));
    /// # Ok::<(), interactive_services::Error>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<IspConfig> {
        let repr: super::ConfigRepr = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text.get(..s.start).unwrap_or("").matches('\n').count() + 1);
            parse_error("TOML", e.message(), line)
        })?;
        IspConfigBuilder::from(repr).build()
    }

    /// Reads and validates a configuration from JSON (same keys as TOML).
    pub fn from_json(text: &str) -> Result<IspConfig> {
        let repr: super::ConfigRepr = serde_json::from_str(text).map_err(|e| {
            let line = e.line();
            // The message without serde_json's own position suffix.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or("").to_owned();
            parse_error("JSON", msg, Some(line))
        })?;
        IspConfigBuilder::from(repr).build()
    }

    /// Reads a configuration from the process environment; see [`ENV_PREFIX`] for the keys.
    pub fn from_env() -> Result<IspConfig> {
        Self::from_env_vars(std::env::vars())
    }

    /// Reads a configuration from `(key, value)` pairs laid out like the environment (see
    /// [`ENV_PREFIX`]); keys without the prefix are ignored.
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<IspConfig>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut b = IspConfigBuilder::default();
        let mut extra = ValidationErrors::new();
        let mut secret = None;
        let mut previous = None;
        let mut tolerance = None;
        for (k, v) in vars {
            let Some(key) = k.as_ref().strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let v: String = v.into();
            match key {
                "NAME" => b = b.name(v),
                "PROVIDER" => b = b.provider(v),
                "DEFAULT_PLAN" => b = b.default_plan(v),
                "ENDPOINT" => b = b.endpoint(v),
                "STATUS" => match v.parse::<Status>() {
                    Ok(s) => b = b.status(s),
                    Err(why) => extra.push("status", why),
                },
                "BUILDER_PROGRAM" => match v.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => b = b.builder_program(true),
                    "false" | "0" | "no" | "" => b = b.builder_program(false),
                    _ => extra.push("builder_program", "use true or false"),
                },
                "CALLBACK_SECRET" => secret = Some(v),
                "CALLBACK_PREVIOUS_SECRET" => previous = Some(v),
                "CALLBACK_TOLERANCE_SECONDS" => match v.trim().parse::<u32>() {
                    Ok(t) => tolerance = Some(t),
                    Err(_) => extra.push(
                        "callback.tolerance_seconds",
                        "give a whole number of seconds, e.g. 300",
                    ),
                },
                _ => {
                    if let Some(field) = key.strip_prefix("CREDENTIAL_") {
                        b = b.credential(field.to_ascii_lowercase(), v);
                    }
                }
            }
        }
        if secret.is_none() && (previous.is_some() || tolerance.is_some()) {
            extra.push(
                "callback.signing_secret",
                "ISP_CALLBACK_PREVIOUS_SECRET or ISP_CALLBACK_TOLERANCE_SECONDS is set without ISP_CALLBACK_SECRET; set the signing secret too",
            );
        }
        if let Some(secret) = secret {
            let mut cb = CallbackConfig::new(secret);
            cb.previous_secret = previous.map(Into::into);
            if let Some(t) = tolerance {
                cb.tolerance_seconds = t;
            }
            b = b.callback(cb);
        }
        match b.build() {
            Ok(config) if extra.is_empty() => Ok(config),
            Ok(config) => Err(Error::InvalidConfig {
                provider: config.provider().to_string(),
                problems: extra,
            }),
            Err(Error::InvalidConfig { provider, problems }) => {
                let mut all = problems;
                for p in extra {
                    all.push(p.field, p.message);
                }
                Err(Error::InvalidConfig {
                    provider,
                    problems: all,
                })
            }
            Err(other) => Err(other),
        }
    }
}

/// Parser messages quote the offending value (`invalid type: string "hunter2"`), which may be a
/// secret typed into the wrong field: keep field names, drop quoted values.
pub(crate) fn redact_values(msg: &str) -> String {
    let field_message = ["unknown field", "missing field", "duplicate field"]
        .iter()
        .any(|p| msg.starts_with(p));
    if field_message {
        // `unknown field `x`, expected one of ...`: names only, no values.
        return msg.to_owned();
    }
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '`' {
                    quote = Some(c);
                }
            }
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    out
}
