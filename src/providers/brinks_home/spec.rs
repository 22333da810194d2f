//! What Brinks Home is before a provider is built: its name, credential fields, provision
//! fields and plan-id rule, and the one place its credential values are read.
//!
//! The credential keys are the ones this spec has had since the configuration-only release
//! (`app_id`, `user_name`, `password`, `entity`), so that stored catalogs keep loading. Note
//! that `entity` is the dealer's *entity (service company) number*, sent as `servco_no`; it is
//! not the `Entity` parameter of `GetData`, which names the data asked for.

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Credentials, IspConfig};
use crate::error::{Error, Result, ValidationErrors};
use crate::model::{CredentialField, ProviderKind, ProvisionField};
use crate::provider::{ProviderSpec, check_plan_code};

/// The canonical name.
pub const NAME: &str = "brinks_home";

/// Brinks Home's [`ProviderKind`].
pub const KIND: ProviderKind = ProviderKind::from_static(NAME);

/// Most digits a dealer (entity) number or a CS number may have.
const MAX_NUMBER_DIGITS: usize = 18;

const FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "app_id",
        label: "Application id",
        secret: true,
        required: true,
        help: "The appID Brinks Home issued for your integration; it travels in the ApplicationIDHeader of every call.",
    },
    CredentialField {
        key: "user_name",
        label: "User id",
        secret: false,
        required: true,
        help: "Your Brinks Home dealer services (MIDI) user id, often wsi_ followed by your dealer number.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "The password of that user id.",
    },
    CredentialField {
        key: "entity",
        label: "Dealer (entity) number",
        secret: false,
        required: true,
        help: "Your dealer entity (service company) number at Brinks Home, digits only; new accounts are installed and serviced under it (servco_no).",
    },
];

const PROVISION_FIELDS: &[ProvisionField] = &[
    ProvisionField {
        key: "cs_number",
        label: "CS number",
        required: true,
        format: "digits",
        help: "The central station (CS) number Brinks Home assigned to this site from your receiver line block; it becomes the account id.",
    },
    ProvisionField {
        key: "module_serial",
        label: "Alarm.com module serial",
        required: false,
        format: "the serial printed on the Alarm.com module",
        help: "Sent as CELLMAC. Required unless the request's modem serial carries it.",
    },
    ProvisionField {
        key: "site_type",
        label: "Site type",
        required: false,
        format: "residential or commercial",
        help: "Residential unless the plan is a commercial one (CBI, CAI) or the property is a business.",
    },
    ProvisionField {
        key: "system_type",
        label: "System type",
        required: false,
        format: "a Brinks Home system type id such as A2C020",
        help: "The panel or communicator type (systype_id); Brinks Home fills it in later when left out.",
    },
];

/// Brinks Home's spec.
pub const SPEC: ProviderSpec = ProviderSpec::new(NAME, "Brinks Home", FIELDS)
    .aliases(&["brinks", "monitronics"])
    .plan_id_rule(check_plan_code)
    .provision_fields(PROVISION_FIELDS)
    .credential_rule(check_credentials);

/// Whether `text` is 1 to 18 ASCII digits.
pub(super) fn is_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_NUMBER_DIGITS && text.bytes().all(|b| b.is_ascii_digit())
}

/// The dealer number's rule; the message never quotes the value.
fn entity_problem(credentials: &Credentials) -> Option<&'static str> {
    match credentials.non_blank("entity") {
        Some(e) if !is_number(e.trim()) => Some(
            "the dealer (entity) number is digits only, as Brinks Home issued it (up to 18 digits)",
        ),
        _ => None,
    }
}

fn check_credentials(credentials: &Credentials, problems: &mut ValidationErrors) {
    if let Some(why) = entity_problem(credentials) {
        problems.push("credentials.entity", why);
    }
}

/// The credential values a provider works with, read once.
#[derive(Debug)]
pub(super) struct Login {
    pub(super) app_id: SecretString,
    pub(super) user_name: String,
    pub(super) password: SecretString,
    pub(super) entity: String,
}

impl Login {
    /// Reads the credentials of `config`; every problem is reported at once, none quoting a
    /// value.
    pub(super) fn from_config(config: &IspConfig) -> Result<Self> {
        let mut problems = ValidationErrors::new();
        if config.provider() != &KIND {
            problems.push(
                "provider",
                format!(
                    "the configuration is for {}, not Brinks Home",
                    config.provider()
                ),
            );
        }
        let creds = config.credentials();
        let secret = |key: &str| {
            creds
                .get(key)
                .filter(|v| !v.expose_secret().trim().is_empty())
                .cloned()
        };
        let app_id = secret("app_id");
        if app_id.is_none() {
            problems.push("credentials.app_id", "the application id is required");
        }
        let password = secret("password");
        if password.is_none() {
            problems.push("credentials.password", "the password is required");
        }
        let user_name = creds.non_blank("user_name").map(|u| u.trim().to_owned());
        if user_name.is_none() {
            problems.push("credentials.user_name", "the user id is required");
        }
        let entity = creds.non_blank("entity").map(|e| e.trim().to_owned());
        if entity.is_none() {
            problems.push(
                "credentials.entity",
                "the dealer (entity) number is required",
            );
        } else if let Some(why) = entity_problem(creds) {
            problems.push("credentials.entity", why);
        }
        match (app_id, user_name, password, entity) {
            (Some(app_id), Some(user_name), Some(password), Some(entity))
                if problems.is_empty() =>
            {
                Ok(Self {
                    app_id,
                    user_name,
                    password,
                    entity,
                })
            }
            _ => Err(Error::InvalidConfig {
                provider: NAME.into(),
                problems,
            }),
        }
    }
}
