//! What Alarm.com is before a provider is built: its name, credential fields, plan-id rule and
//! optional features, and the one place its credential values are read.

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Credentials, IspConfig};
use crate::error::{Error, Result, ValidationErrors};
use crate::model::{CredentialField, ProviderKind};
use crate::provider::ProviderSpec;

/// The canonical name.
pub const NAME: &str = "alarm_com";

/// Alarm.com's [`ProviderKind`].
pub const KIND: ProviderKind = ProviderKind::from_static(NAME);

const FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "login",
        label: "Partner Portal login",
        secret: false,
        required: true,
        help: "A dedicated Alarm.com Partner Portal login for the integration. Account owners give it the legacy role \"SecurityTrax Integration User\"; sub-dealers give it a custom role made from the \"SecurityTrax Integration\" template.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "The password of that Partner Portal login.",
    },
    CredentialField {
        key: "two_factor_device_id",
        label: "Two-factor device id",
        secret: true,
        required: false,
        help: "Only when the login has two-factor authentication: the trusted device id Alarm.com issued for it.",
    },
    CredentialField {
        key: "dealer_id",
        label: "Sub-dealer id",
        secret: false,
        required: false,
        help: "Only for a sub-dealer: its Alarm.com dealer id. Customers are then created with CreateCustomerForDealer.",
    },
];

/// Alarm.com's spec.
pub const SPEC: ProviderSpec = ProviderSpec::new(NAME, "Alarm.com", FIELDS)
    .aliases(&["alarm.com", "alarmcom", "adc"])
    .builder_program()
    .billing()
    .plan_id_rule(check_plan_id)
    .credential_rule(check_credentials);

/// Package ids are positive whole numbers.
fn check_plan_id(id: &str) -> std::result::Result<(), String> {
    match id.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(
            "this is not an Alarm.com package id; package ids are positive whole numbers such as 2 (Basic Interactive) or 9 (Advanced Interactive)"
                .into(),
        ),
    }
}

/// A sub-dealer id, when one is given: a positive whole number.
fn dealer_id(credentials: &Credentials) -> std::result::Result<Option<i64>, String> {
    match credentials.non_blank("dealer_id") {
        None => Ok(None),
        Some(d) => d
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| "an Alarm.com dealer id is a positive whole number".to_owned()),
    }
}

fn check_credentials(credentials: &Credentials, problems: &mut ValidationErrors) {
    if let Err(why) = dealer_id(credentials) {
        problems.push("credentials.dealer_id", why);
    }
}

/// The credential values a provider works with, read once.
#[derive(Debug)]
pub(super) struct Login {
    pub(super) login: String,
    pub(super) password: SecretString,
    pub(super) two_factor: Option<SecretString>,
    pub(super) dealer_id: Option<i64>,
}

impl Login {
    /// Reads the credentials of `config`; every problem is reported at once.
    pub(super) fn from_config(config: &IspConfig) -> Result<Self> {
        let mut problems = ValidationErrors::new();
        if config.provider() != &KIND {
            problems.push(
                "provider",
                format!(
                    "the configuration is for {}, not Alarm.com",
                    config.provider()
                ),
            );
        }
        let creds = config.credentials();
        let login = creds.non_blank("login").map(|l| l.trim().to_owned());
        if login.is_none() {
            problems.push("credentials.login", "the login is required");
        }
        let password = creds
            .get("password")
            .filter(|p| !p.expose_secret().trim().is_empty())
            .cloned();
        if password.is_none() {
            problems.push("credentials.password", "the password is required");
        }
        let dealer_id = dealer_id(creds).unwrap_or_else(|why| {
            problems.push("credentials.dealer_id", why);
            None
        });
        match (login, password) {
            (Some(login), Some(password)) if problems.is_empty() => Ok(Self {
                login,
                password,
                two_factor: creds.get("two_factor_device_id").cloned(),
                dealer_id,
            }),
            _ => Err(Error::InvalidConfig {
                provider: NAME.into(),
                problems,
            }),
        }
    }
}
