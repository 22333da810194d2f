//! What Brinks Home is before a provider is built: its name, credential fields and plan-id rule.

use crate::model::{CredentialField, ProviderKind};
use crate::provider::{ProviderSpec, check_plan_code};

/// The canonical name.
pub const NAME: &str = "brinks_home";

/// Brinks Home's [`ProviderKind`].
pub const KIND: ProviderKind = ProviderKind::from_static(NAME);

const FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "app_id",
        label: "Application id",
        secret: true,
        required: true,
        help: "The appID Brinks Home issued for its dealer services (sent in the ApplicationIDHeader).",
    },
    CredentialField {
        key: "user_name",
        label: "User name",
        secret: false,
        required: true,
        help: "Your Brinks Home dealer services user.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "Its password.",
    },
    CredentialField {
        key: "entity",
        label: "Dealer entity",
        secret: false,
        required: true,
        help: "Your dealer entity number at Brinks Home.",
    },
];

/// Brinks Home's spec.
pub const SPEC: ProviderSpec = ProviderSpec::new(NAME, "Brinks Home", FIELDS)
    .aliases(&["brinks", "monitronics"])
    .plan_id_rule(check_plan_code);
