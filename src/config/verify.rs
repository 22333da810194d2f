//! Checks of a configuration that need the network.

use serde::Serialize;

use crate::config::IspConfig;
use crate::error::Error;
use crate::model::{MissingPermission, PlanId, ServicePlan, UnverifiedPermission};
use crate::provider::InteractiveServicesProvider;

/// What the credential check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialOutcome {
    /// The vendor accepted the login.
    Accepted {
        /// The login (never a secret).
        login: String,
        /// What it may do (`provisioning`, `billing`, `builder_program`).
        granted: Vec<String>,
    },
    /// The vendor rejected the login.
    Rejected {
        /// Why, in the vendor's or the crate's words.
        message: String,
    },
    /// The login works but lacks the role every operation needs (see
    /// [`VerificationReport::missing_permissions`]).
    Insufficient,
    /// The check could not be made (network, outage, unexpected answer); try again later.
    Unreachable {
        /// What went wrong.
        error: String,
        /// Whether trying again may help.
        retryable: bool,
    },
}

/// What the default service plan check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanCheck {
    /// The configuration has no default service plan.
    NotSet,
    /// The plan exists at the provider.
    Found {
        /// The plan.
        plan: ServicePlan,
    },
    /// The provider does not offer it.
    NotFound {
        /// The configured plan.
        plan: PlanId,
        /// The plans the provider does offer.
        available: Vec<PlanId>,
    },
    /// The plans could not be read.
    Unknown {
        /// Why.
        error: String,
    },
}

/// The result of [`verify`]: every check, each with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationReport {
    /// The configuration's name.
    pub config: String,
    /// The provider.
    pub provider: String,
    /// The credential check.
    pub credentials: CredentialOutcome,
    /// Roles and permissions the login lacks, each with how to grant it.
    pub missing_permissions: Vec<MissingPermission>,
    /// Roles and permissions that could not be read through the vendor's API, each with how to
    /// check it by hand. They do not make the report fail: the login itself was accepted.
    pub unverified_permissions: Vec<UnverifiedPermission>,
    /// The default service plan check.
    pub default_plan: PlanCheck,
}

impl VerificationReport {
    /// Whether everything checked out: credentials accepted, nothing missing, the default plan
    /// found (or not set).
    pub fn is_ok(&self) -> bool {
        matches!(self.credentials, CredentialOutcome::Accepted { .. })
            && self.missing_permissions.is_empty()
            && matches!(
                self.default_plan,
                PlanCheck::NotSet | PlanCheck::Found { .. }
            )
    }
}

/// Checks `config` against its provider: credentials and permissions, then the default service
/// plan. Never fails and never panics: every outcome is in the report.
///
/// The report shows no secret value of `config`, nor a plain value holding one (a password
/// pasted into the name, the login or the default plan is shown as `[REDACTED]`).
pub async fn verify(
    config: &IspConfig,
    provider: &dyn InteractiveServicesProvider,
) -> VerificationReport {
    let mut missing_permissions = Vec::new();
    let mut unverified_permissions = Vec::new();
    let credentials = match provider.validate_credentials().await {
        Ok(check) => {
            missing_permissions = check.missing;
            unverified_permissions = check.unverified;
            CredentialOutcome::Accepted {
                login: config.shown(&check.login).to_owned(),
                granted: check.granted,
            }
        }
        Err(Error::Unauthenticated { message, .. }) => CredentialOutcome::Rejected { message },
        Err(Error::PermissionDenied {
            permission,
            guidance,
            ..
        }) => {
            missing_permissions.push(MissingPermission {
                permission,
                needed_for: "provisioning".into(),
                guidance,
            });
            CredentialOutcome::Insufficient
        }
        Err(e) => CredentialOutcome::Unreachable {
            retryable: e.is_retryable(),
            error: e.to_string(),
        },
    };

    let default_plan = match config.default_plan() {
        None => PlanCheck::NotSet,
        Some(_) if matches!(credentials, CredentialOutcome::Rejected { .. }) => {
            PlanCheck::Unknown {
                error: "the plans were not read because the credentials were rejected".into(),
            }
        }
        Some(wanted) => match provider.service_plans().await {
            Ok(plans) => match plans.iter().find(|p| &p.id == wanted) {
                Some(plan) => PlanCheck::Found { plan: plan.clone() },
                None => PlanCheck::NotFound {
                    plan: PlanId::new(config.shown(wanted.as_str())),
                    available: plans.into_iter().map(|p| p.id).collect(),
                },
            },
            Err(e) => PlanCheck::Unknown {
                error: e.to_string(),
            },
        },
    };

    VerificationReport {
        config: config.shown(config.name()).to_owned(),
        provider: config.provider().to_string(),
        credentials,
        missing_permissions,
        unverified_permissions,
        default_plan,
    }
}
