//! What Total Connect is before a provider is built: its name, credential fields, plan-id rule
//! and optional features, and the one place its credential values are read.

use secrecy::{ExposeSecret, SecretString};

use crate::config::IspConfig;
use crate::error::{Error, Result, ValidationErrors};
use crate::model::{CredentialField, ProviderKind, ProvisionField};
use crate::provider::{ProviderSpec, check_plan_code};

/// The canonical name.
pub const NAME: &str = "total_connect";

/// Total Connect's [`ProviderKind`].
pub const KIND: ProviderKind = ProviderKind::from_static(NAME);

const FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "user_name",
        label: "User name",
        secret: false,
        required: true,
        help: "The AlarmNet 360 / Total Connect dealer user the integration logs in as.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "Its password. Repeated failed logins lock the account: the crate stops after one rejection.",
    },
    CredentialField {
        key: "application_id",
        label: "Application id",
        secret: false,
        required: true,
        help: "The ApplicationID Resideo issued to your integration.",
    },
    CredentialField {
        key: "application_version",
        label: "Application version",
        secret: false,
        required: true,
        help: "The ApplicationVersion registered with that application id.",
    },
    CredentialField {
        key: "company_id",
        label: "Dealer / company id",
        secret: false,
        required: true,
        help: "Your AlarmNet dealer (company) id.",
    },
];

const PROVISION_FIELDS: &[ProvisionField] = &[
    ProvisionField {
        key: "city_number",
        label: "City number",
        required: true,
        format: "digits",
        help: "The AlarmNet City number of the account.",
    },
    ProvisionField {
        key: "cs_number",
        label: "Central station (CS) number",
        required: true,
        format: "digits",
        help: "The central station number of the account.",
    },
    ProvisionField {
        key: "subscriber_number",
        label: "Subscriber number",
        required: true,
        format: "digits",
        help: "The subscriber number of the account.",
    },
    ProvisionField {
        key: "mac",
        label: "Communicator MAC",
        required: false,
        format: "the MAC printed on the communicator",
        help: "Required unless the request's modem serial carries it.",
    },
    ProvisionField {
        key: "crc",
        label: "Communicator CRC",
        required: true,
        format: "the CRC printed on the communicator",
        help: "Checks the MAC.",
    },
    ProvisionField {
        key: "account_type",
        label: "Account type",
        required: false,
        format: "residential or commercial",
        help: "Residential when left out.",
    },
    ProvisionField {
        key: "location_name",
        label: "Location name",
        required: false,
        format: "text",
        help: "The location's name in Total Connect (Home when left out).",
    },
    ProvisionField {
        key: "phone2",
        label: "Second phone",
        required: false,
        format: "phone number",
        help: "The contact's phone is the first; three at most.",
    },
    ProvisionField {
        key: "phone3",
        label: "Third phone",
        required: false,
        format: "phone number",
        help: "The contact's phone is the first; three at most.",
    },
];

/// Total Connect's spec.
pub const SPEC: ProviderSpec = ProviderSpec::new(NAME, "Honeywell Total Connect", FIELDS)
    .aliases(&["totalconnect", "honeywell", "resideo", "alarmnet"])
    .callbacks()
    .plan_id_rule(check_plan_code)
    .provision_fields(PROVISION_FIELDS);

/// The credential values a provider works with, read once.
#[derive(Debug)]
pub(super) struct Login {
    pub(super) user_name: String,
    pub(super) password: SecretString,
    pub(super) application_id: String,
    pub(super) application_version: String,
    pub(super) company_id: String,
}

impl Login {
    /// Reads the credentials of `config`; every problem is reported at once.
    pub(super) fn from_config(config: &IspConfig) -> Result<Self> {
        let mut problems = ValidationErrors::new();
        if config.provider() != &KIND {
            problems.push(
                "provider",
                format!(
                    "the configuration is for {}, not Total Connect",
                    config.provider()
                ),
            );
        }
        let creds = config.credentials();
        let mut field = |key: &str| -> String {
            match creds.non_blank(key) {
                Some(v) => v.trim().to_owned(),
                None => {
                    problems.push(format!("credentials.{key}"), "this credential is required");
                    String::new()
                }
            }
        };
        let user_name = field("user_name");
        let application_id = field("application_id");
        let application_version = field("application_version");
        let company_id = field("company_id");
        let password = creds
            .get("password")
            .filter(|p| !p.expose_secret().trim().is_empty())
            .cloned();
        if password.is_none() {
            problems.push("credentials.password", "the password is required");
        }
        match password {
            Some(password) if problems.is_empty() => Ok(Self {
                user_name,
                password,
                application_id,
                application_version,
                company_id,
            }),
            _ => Err(Error::InvalidConfig {
                provider: NAME.into(),
                problems,
            }),
        }
    }
}
