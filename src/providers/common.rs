//! What vendor providers share, built-in or contributed: the at-most-once create and the
//! plan-change checks.

use std::future::Future;

use url::Url;

use crate::error::{Error, Result};
use crate::model::{AccountId, AccountStatus, IspAccount, PlanChange, PlanId};

/// The URL with a trailing slash, so that joining a relative path keeps its last segment.
pub fn as_folder(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// The plan a change leads to, checked against the account as it is now: a terminated account
/// takes no change, and the plan is the change's or else the current one.
pub fn plan_for_change(
    provider: &str,
    id: &AccountId,
    current: &IspAccount,
    change: &PlanChange,
) -> Result<PlanId> {
    if current.status == AccountStatus::Terminated {
        return Err(Error::conflict(
            provider.to_owned(),
            "change_plan",
            format!("account {id} is terminated"),
        ));
    }
    change
        .plan
        .clone()
        .or_else(|| current.plan.clone())
        .ok_or_else(|| {
            Error::invalid_request(
                provider.to_owned(),
                "change_plan",
                "the account has no plan and the change names none",
            )
        })
}

/// Whether an error leaves it unknown if a request took effect at the vendor: no usable answer
/// came back (timeout, reset, 5xx, cut-off or unreadable body).
pub fn outcome_unknown(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Unavailable { .. }
            | Error::InvalidResponse { .. }
    )
}

/// Creates a customer at most once, for vendors whose create is not idempotent but who can
/// look a customer up by the dealer's customer id:
///
/// 1. look up first: an existing customer is an [`Error::Conflict`] carrying its account id
///    ([`Error::existing_account`]);
/// 2. create; when the outcome is unknown, look up again and return the customer that was made;
///    only when the lookup finds nothing is the create repeated (at most `attempts` creates);
/// 3. a failed lookup ends the call: creating again could make a duplicate.
pub async fn create_once<L, LF, C, CF, R, RF>(
    provider: &str,
    dealer_customer_id: &str,
    attempts: u32,
    lookup: L,
    create: C,
    read: R,
) -> Result<IspAccount>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<AccountId>>>,
    C: Fn() -> CF,
    CF: Future<Output = Result<IspAccount>>,
    R: Fn(AccountId) -> RF,
    RF: Future<Output = Result<IspAccount>>,
{
    if let Some(existing) = lookup().await? {
        return Err(Error::duplicate_customer(
            provider,
            "provision",
            dealer_customer_id,
            existing,
        ));
    }
    let mut last = None;
    for _ in 0..attempts.max(1) {
        match create().await {
            Ok(account) => return Ok(account),
            Err(e) if outcome_unknown(&e) => {
                tracing::warn!(
                    provider,
                    operation = "provision",
                    error = %e,
                    "the create may have reached the vendor; looking the customer up before creating again"
                );
                if let Some(found) = lookup().await? {
                    return read(found).await;
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::invalid_response(provider.to_owned(), "provision", "no create was attempted")
    }))
}
