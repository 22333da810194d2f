//! What vendor providers share, built-in or contributed: the at-most-once create and the
//! plan-change checks.

use std::future::Future;
use std::time::{Duration, SystemTime};

use url::Url;

pub use crate::provider::create::{
    CreateCoordinator, CreateGuard, CreateOnce, DEFAULT_COMMIT_HORIZON, InProcessCreates,
};

use crate::error::{Error, Result};
use crate::model::{AccountId, AccountStatus, IspAccount, PlanChange, PlanId, ProvisionRequest};

/// The URL with a trailing slash, so that joining a relative path keeps its last segment.
pub fn as_folder(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Most digits a numeric vendor id may have (every such id fits an `i64`).
pub const MAX_ID_DIGITS: usize = 18;

/// Checks an id that is going into a URL or an envelope, for vendors whose ids are numbers:
/// 1 to [`MAX_ID_DIGITS`] ASCII digits, not zero. Anything else (white space, control
/// characters, separators, `.` or `..`, percent signs, a sign, more digits) is an
/// [`Error::InvalidRequest`] before any request, and the id is not quoted back.
pub fn numeric_id(provider: &str, operation: &'static str, id: &AccountId) -> Result<i64> {
    let raw = id.as_str();
    let digits_only =
        !raw.is_empty() && raw.len() <= MAX_ID_DIGITS && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<i64>() {
        Ok(n) if digits_only && n > 0 => Ok(n),
        _ => Err(Error::invalid_request(
            provider,
            operation,
            format!(
                "the account id is not a {provider} id: ids are 1 to {MAX_ID_DIGITS} digits, not zero ({} characters given)",
                raw.chars().count()
            ),
        )),
    }
}

/// The request's own rules ([`ProvisionRequest::validate`]) as an [`Error::InvalidRequest`]
/// naming every problem, before any request is made.
pub fn valid_request(provider: &str, request: &ProvisionRequest) -> Result<()> {
    request
        .validate()
        .map_err(|problems| Error::invalid_request(provider, "provision", problems.to_string()))
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
/// look a customer up by the dealer's customer id.
///
/// 1. Creates for one `key` (the provider, the vendor account in `scope`, the dealer customer
///    id) are serialized through the [`CreateCoordinator`]: a concurrent call waits, then finds
///    the first call's customer.
/// 2. Look up first: an existing customer is an [`Error::Conflict`] carrying its account id
///    ([`Error::existing_account`]).
/// 3. While an earlier create for the key is unsettled (its outcome was unknown less than the
///    commit horizon ago) nothing is created: the answer is [`Error::OutcomeUnknown`].
/// 4. Create. When no usable answer came back (timeout, reset, 5xx, cut-off body), look up once
///    more and return the customer found; when none is found yet, the create may still commit
///    late, so the key is marked unsettled for the commit horizon and the answer is
///    [`Error::OutcomeUnknown`] (retryable): nothing is created again on a lookup that may be
///    stale.
/// 5. A failed lookup ends the call: creating without it could make a duplicate.
///
/// Why not keep looking up until the horizon has passed? A vendor that commits minutes late
/// would hold the caller for minutes; the typed answer lets a host retry on its own schedule,
/// and the retry is safe whenever it comes.
pub async fn create_once<L, LF, C, CF, R, RF>(
    settings: &CreateOnce,
    provider: &str,
    scope: &str,
    dealer_customer_id: &str,
    lookup: L,
    create: C,
    read: R,
) -> Result<IspAccount>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<AccountId>>>,
    C: FnOnce() -> CF,
    CF: Future<Output = Result<IspAccount>>,
    R: FnOnce(AccountId) -> RF,
    RF: Future<Output = Result<IspAccount>>,
{
    let key = format!("{provider}\u{1f}{scope}\u{1f}{dealer_customer_id}");
    let coordinator = settings.coordinator.as_ref();
    let _guard = coordinator.acquire(&key).await?;
    if let Some(existing) = lookup().await? {
        coordinator.set_unsettled(&key, None).await?;
        return Err(Error::duplicate_customer(
            provider,
            "provision",
            dealer_customer_id,
            existing,
        ));
    }
    if let Some(until) = coordinator.unsettled_until(&key).await? {
        if until > SystemTime::now() {
            let wait = until
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            return Err(Error::OutcomeUnknown {
                provider: provider.to_owned(),
                operation: "provision",
                vendor_operation: None,
                dealer_customer_id: dealer_customer_id.to_owned(),
                detail: format!(
                    "an earlier create for this customer may still be committing at the vendor; it is not found yet, and no new create is made for another {}s",
                    wait.as_secs()
                ),
            });
        }
    }
    match create().await {
        Ok(account) => Ok(account),
        Err(e) if outcome_unknown(&e) => {
            tracing::warn!(
                provider,
                operation = "provision",
                error = %e,
                "the create may have reached the vendor; looking the customer up before anything else"
            );
            if let Some(found) = lookup().await? {
                return read(found).await;
            }
            let until = SystemTime::now()
                .checked_add(settings.commit_horizon)
                .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)));
            coordinator.set_unsettled(&key, Some(until)).await?;
            Err(Error::OutcomeUnknown {
                provider: provider.to_owned(),
                operation: "provision",
                vendor_operation: e.vendor_operation(),
                dealer_customer_id: dealer_customer_id.to_owned(),
                detail: format!(
                    "the create may have reached the vendor ({e}) and the customer is not found yet; it was not created again. Try again later: the call looks the customer up first"
                ),
            })
        }
        Err(e) => Err(e),
    }
}

/// Implements [`InteractiveServicesProvider`](crate::InteractiveServicesProvider) for a vendor
/// provider whose operations are inherent `<operation>_inner` methods and whose
/// `finish(error, operation)` names the crate's operation on an error (and scrubs secrets):
/// every trait method is then that one line, the same for every vendor.
#[allow(unused_macros)] // unused when no vendor feature is on
macro_rules! vendor_provider {
    ($ty:ty, kind: $kind:expr, capabilities: |$this:ident| $caps:expr $(, extra: { $($extra:tt)* })?) => {
        #[async_trait::async_trait]
        impl crate::provider::InteractiveServicesProvider for $ty {
            fn kind(&self) -> crate::model::ProviderKind {
                $kind
            }

            fn capabilities(&self) -> crate::provider::Capabilities {
                let $this = self;
                $caps
            }

            async fn validate_credentials(&self) -> crate::Result<crate::model::CredentialCheck> {
                self.validate_credentials_inner()
                    .await
                    .map_err(|e| self.finish(e, "validate_credentials"))
            }

            async fn service_plans(&self) -> crate::Result<Vec<crate::model::ServicePlan>> {
                self.service_plans_inner()
                    .await
                    .map_err(|e| self.finish(e, "service_plans"))
            }

            async fn provision(
                &self,
                request: &crate::model::ProvisionRequest,
            ) -> crate::Result<crate::model::IspAccount> {
                self.provision_inner(request)
                    .await
                    .map_err(|e| self.finish(e, "provision"))
            }

            async fn account(
                &self,
                id: &crate::model::AccountId,
            ) -> crate::Result<crate::model::IspAccount> {
                self.account_inner(id)
                    .await
                    .map_err(|e| self.finish(e, "account"))
            }

            async fn change_plan(
                &self,
                id: &crate::model::AccountId,
                change: &crate::model::PlanChange,
            ) -> crate::Result<crate::model::IspAccount> {
                self.change_plan_inner(id, change)
                    .await
                    .map_err(|e| self.finish(e, "change_plan"))
            }

            async fn terminate(&self, id: &crate::model::AccountId) -> crate::Result<()> {
                self.terminate_inner(id)
                    .await
                    .map_err(|e| self.finish(e, "terminate"))
            }

            async fn list_accounts(
                &self,
                include_terminated: bool,
            ) -> crate::Result<Vec<crate::model::AccountId>> {
                self.list_accounts_inner(include_terminated)
                    .await
                    .map_err(|e| self.finish(e, "list_accounts"))
            }

            $($($extra)*)?
        }
    };
}

#[allow(unused_imports)] // unused when no vendor feature is on
pub(crate) use vendor_provider;
