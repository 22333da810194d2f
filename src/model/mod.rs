//! Vendor-neutral types: ids, plans, features, accounts, requests, events, money.
//!
//! Nothing here knows a wire format; each provider maps its vendor's shapes onto these.

pub mod billing;
pub(crate) mod kind;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use billing::{
    BillingSummary, CardExpiry, Invoice, MoneyError, Payment, PaymentMethodKind,
    PaymentMethodUpdate, PaymentRecord, PaymentReversal,
};
pub use kind::{CredentialField, ProviderKind, ProvisionField};

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// The vendor's id of a customer account (Alarm.com `CustomerId`).
    AccountId
);
string_id!(
    /// The dealer's own id for a customer (Alarm.com `DealerCustomerId`). Provisioning is keyed
    /// on it so that a retried call never creates a second customer.
    DealerCustomerId
);
string_id!(
    /// A service plan id (Alarm.com `PackageId`).
    PlanId
);
string_id!(
    /// An add-on feature, in the vendor's own spelling (Alarm.com `AddOnFeatureEnum` values such
    /// as `LightAutomation`). Unknown values are carried as they are.
    FeatureId
);
string_id!(
    /// A position in a provider's event stream. Opaque: store it and give it back.
    Cursor
);
string_id!(
    /// A unique event id, stable across redeliveries.
    EventId
);
string_id!(
    /// A Builder Program id.
    BuilderProgramId
);
string_id!(
    /// A Builder Program record id (Alarm.com commitment id).
    BuilderProgramRecordId
);

/// A service plan a dealer may sell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlan {
    /// The plan id.
    pub id: PlanId,
    /// Its name.
    pub name: String,
    /// The plan family (Alarm.com `PackageGroupEnum`: `WSF`, `BI`, `AI`, ...), in the vendor's
    /// spelling.
    pub plan_type: Option<String>,
}

/// An add-on feature on an account, with a quantity for add-ons that have one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddOn {
    /// The feature.
    pub feature: FeatureId,
    /// The quantity, for add-ons sold by quantity; `None` for on/off add-ons.
    pub quantity: Option<u32>,
}

/// The lifecycle state of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// In service.
    Active,
    /// Terminated.
    Terminated,
    /// A state the crate does not know, in the vendor's words.
    Other(String),
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// First line.
    pub street1: String,
    /// Second line.
    pub street2: Option<String>,
    /// City.
    pub city: String,
    /// State or province code.
    pub state: String,
    /// ZIP or postal code.
    pub zip: String,
    /// ISO 3166 alpha-2 country code (`US`, `CA`).
    pub country: String,
}

/// The customer's name and contact details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company, for commercial accounts.
    pub company: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// One customer's account at an interactive services provider (a *connection*).
#[derive(Clone, Serialize, Deserialize)]
pub struct IspAccount {
    /// The vendor's account id.
    pub id: AccountId,
    /// The dealer's own customer id, when the vendor keeps it.
    pub dealer_customer_id: Option<DealerCustomerId>,
    /// The customer.
    pub contact: Contact,
    /// The login the customer uses in the vendor's app.
    pub login_name: Option<String>,
    /// The initial password the vendor generated, returned once by provisioning. Never
    /// serialized, never shown by `Debug`.
    #[serde(skip)]
    pub initial_password: Option<SecretString>,
    /// The service plan.
    pub plan: Option<PlanId>,
    /// The add-on features.
    pub add_ons: BTreeSet<AddOn>,
    /// Lifecycle state.
    pub status: AccountStatus,
    /// When the account was created, when known.
    pub created_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for IspAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IspAccount")
            .field("id", &self.id)
            .field("dealer_customer_id", &self.dealer_customer_id)
            .field("contact", &self.contact)
            .field("login_name", &self.login_name)
            .field(
                "initial_password",
                &self.initial_password.as_ref().map(|_| "[REDACTED]"),
            )
            .field("plan", &self.plan)
            .field("add_ons", &self.add_ons)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish()
    }
}

// `SecretString` has no `PartialEq` (comparing secrets is not something to do by accident):
// accounts compare equal regardless of the one-time password.
impl PartialEq for IspAccount {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.dealer_customer_id == other.dealer_customer_id
            && self.contact == other.contact
            && self.login_name == other.login_name
            && self.plan == other.plan
            && self.add_ons == other.add_ons
            && self.status == other.status
            && self.created_at == other.created_at
    }
}

impl Eq for IspAccount {}

impl IspAccount {
    /// The add-on feature ids, without quantities.
    pub fn features(&self) -> impl Iterator<Item = &FeatureId> {
        self.add_ons.iter().map(|a| &a.feature)
    }

    /// Whether the account has a feature.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.add_ons.iter().any(|a| a.feature.as_str() == feature)
    }
}

/// How the central station gets signals (Alarm.com `CentralStationForwardingOption`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CentralStationForwarding {
    /// Never forward.
    Never,
    /// Always forward.
    Always,
    /// Forward only when the phone line fails.
    OnlyIfPhoneFails,
    /// A value the crate does not know, in the vendor's spelling.
    Other(String),
}

/// The kind of property (Alarm.com `PropertyType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropertyType {
    /// A single family house.
    SingleFamilyHouse,
    /// A townhouse.
    Townhouse,
    /// A condominium.
    Condo,
    /// A business.
    Business,
    /// A value the crate does not know, in the vendor's spelling.
    Other(String),
}

/// A request to provision a customer account. Build it with [`ProvisionRequest::builder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProvisionRequest {
    /// The dealer's own customer id: required, and the key that keeps provisioning free of
    /// duplicates.
    pub dealer_customer_id: DealerCustomerId,
    /// The customer.
    #[serde(default)]
    pub contact: Contact,
    /// The customer's (billing) address.
    #[serde(default)]
    pub address: Address,
    /// Where the system is installed, when different.
    pub installation_address: Option<Address>,
    /// IANA or vendor time zone name of the installation.
    pub time_zone: Option<String>,
    /// The login the customer would like.
    pub desired_login: Option<String>,
    /// The panel type, in the vendor's spelling (`IQPanel2`, `Concord`, ...).
    pub panel_type: Option<String>,
    /// The communicator (modem) serial number.
    pub modem_serial: Option<String>,
    /// The plan; `None` takes the configuration's default service plan.
    pub plan: Option<PlanId>,
    /// Add-on features.
    #[serde(default)]
    pub add_ons: Vec<AddOn>,
    /// E-mail addresses to notify, besides the customer's.
    #[serde(default)]
    pub notification_emails: Vec<String>,
    /// The kind of property.
    pub property_type: Option<PropertyType>,
    /// Central station forwarding.
    pub central_station_forwarding: Option<CentralStationForwarding>,
    /// A Builder Program to attach the customer to.
    pub builder_program: Option<BuilderProgramId>,
    /// Fields only one vendor takes (Total Connect's `city_number`, `cs_number`, ...). Each
    /// provider's docs list the keys it reads; a provider ignores keys it does not know.
    #[serde(default)]
    pub vendor_fields: BTreeMap<String, String>,
}

impl ProvisionRequest {
    /// Starts a request for the dealer's customer `dealer_customer_id`.
    pub fn builder(dealer_customer_id: impl Into<DealerCustomerId>) -> ProvisionRequestBuilder {
        ProvisionRequestBuilder {
            request: ProvisionRequest {
                dealer_customer_id: dealer_customer_id.into(),
                contact: Contact::default(),
                address: Address::default(),
                installation_address: None,
                time_zone: None,
                desired_login: None,
                panel_type: None,
                modem_serial: None,
                plan: None,
                add_ons: Vec::new(),
                notification_emails: Vec::new(),
                property_type: None,
                central_station_forwarding: None,
                builder_program: None,
                vendor_fields: BTreeMap::new(),
            },
        }
    }

    /// Checks what every provider needs: a dealer customer id, a name. Returns every problem.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::new();
        if self.dealer_customer_id.as_str().trim().is_empty() {
            errors.push(
                "dealer_customer_id",
                "give the dealer's own customer id; it keeps provisioning free of duplicates",
            );
        }
        if self.contact.first_name.trim().is_empty() && self.contact.last_name.trim().is_empty() {
            errors.push("contact", "give the customer's first or last name");
        }
        for (i, a) in self.add_ons.iter().enumerate() {
            if a.feature.as_str().trim().is_empty() {
                errors.push(format!("add_ons[{i}]"), "an add-on feature name is blank");
            }
        }
        self.check_text(&mut errors);
        errors.into_result()
    }

    /// Every text that goes to a vendor is free of control characters (they would make a
    /// malformed XML or JSON document, or address another record) and of a bounded length.
    fn check_text(&self, errors: &mut crate::ValidationErrors) {
        let mut check = |field: String, value: &str| {
            if value.chars().any(char::is_control) {
                errors.push(
                    field,
                    "contains control characters (tabs, line breaks, ...); remove them",
                );
            } else if value.chars().count() > MAX_FIELD_CHARS {
                errors.push(
                    field,
                    format!("is longer than {MAX_FIELD_CHARS} characters"),
                );
            }
        };
        check(
            "dealer_customer_id".into(),
            self.dealer_customer_id.as_str(),
        );
        let c = &self.contact;
        check("contact.first_name".into(), &c.first_name);
        check("contact.last_name".into(), &c.last_name);
        for (name, value) in [
            ("contact.company", &c.company),
            ("contact.email", &c.email),
            ("contact.phone", &c.phone),
            ("time_zone", &self.time_zone),
            ("desired_login", &self.desired_login),
            ("panel_type", &self.panel_type),
            ("modem_serial", &self.modem_serial),
        ] {
            if let Some(v) = value {
                check(name.into(), v);
            }
        }
        let addresses = [
            ("address", Some(&self.address)),
            ("installation_address", self.installation_address.as_ref()),
        ];
        for (prefix, address) in addresses {
            let Some(a) = address else { continue };
            for (name, value) in [
                ("street1", &a.street1),
                ("city", &a.city),
                ("state", &a.state),
                ("zip", &a.zip),
                ("country", &a.country),
            ] {
                check(format!("{prefix}.{name}"), value);
            }
            if let Some(street2) = &a.street2 {
                check(format!("{prefix}.street2"), street2);
            }
        }
        if let Some(plan) = &self.plan {
            check("plan".into(), plan.as_str());
        }
        for (i, a) in self.add_ons.iter().enumerate() {
            check(format!("add_ons[{i}]"), a.feature.as_str());
        }
        for (i, e) in self.notification_emails.iter().enumerate() {
            check(format!("notification_emails[{i}]"), e);
        }
        for (key, value) in &self.vendor_fields {
            let field = format!("vendor_fields.{}", key.escape_debug());
            check(field.clone(), key);
            check(field, value);
        }
    }
}

/// Longest text a [`ProvisionRequest`] field may hold, in characters.
pub const MAX_FIELD_CHARS: usize = 256;

/// Builds a [`ProvisionRequest`]; setters never fail.
#[derive(Debug, Clone)]
pub struct ProvisionRequestBuilder {
    request: ProvisionRequest,
}

impl ProvisionRequestBuilder {
    /// The customer's name.
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.request.contact.first_name = first.into();
        self.request.contact.last_name = last.into();
        self
    }
    /// The company, for commercial accounts.
    pub fn company(mut self, company: impl Into<String>) -> Self {
        self.request.contact.company = Some(company.into());
        self
    }
    /// The customer's e-mail.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.request.contact.email = Some(email.into());
        self
    }
    /// The customer's phone.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.request.contact.phone = Some(phone.into());
        self
    }
    /// The customer's address.
    pub fn address(mut self, address: Address) -> Self {
        self.request.address = address;
        self
    }
    /// The installation address, when different.
    pub fn installation_address(mut self, address: Address) -> Self {
        self.request.installation_address = Some(address);
        self
    }
    /// The installation's time zone.
    pub fn time_zone(mut self, tz: impl Into<String>) -> Self {
        self.request.time_zone = Some(tz.into());
        self
    }
    /// The login the customer would like.
    pub fn desired_login(mut self, login: impl Into<String>) -> Self {
        self.request.desired_login = Some(login.into());
        self
    }
    /// The panel type.
    pub fn panel_type(mut self, panel: impl Into<String>) -> Self {
        self.request.panel_type = Some(panel.into());
        self
    }
    /// The modem serial number.
    pub fn modem_serial(mut self, serial: impl Into<String>) -> Self {
        self.request.modem_serial = Some(serial.into());
        self
    }
    /// The plan (else the configuration's default service plan).
    pub fn plan(mut self, plan: impl Into<PlanId>) -> Self {
        self.request.plan = Some(plan.into());
        self
    }
    /// Adds an on/off add-on feature.
    pub fn add_on(mut self, feature: impl Into<FeatureId>) -> Self {
        self.request.add_ons.push(AddOn {
            feature: feature.into(),
            quantity: None,
        });
        self
    }
    /// Adds an add-on sold by quantity.
    pub fn add_on_quantity(mut self, feature: impl Into<FeatureId>, quantity: u32) -> Self {
        self.request.add_ons.push(AddOn {
            feature: feature.into(),
            quantity: Some(quantity),
        });
        self
    }
    /// Adds an e-mail address to notify.
    pub fn notification_email(mut self, email: impl Into<String>) -> Self {
        self.request.notification_emails.push(email.into());
        self
    }
    /// The kind of property.
    pub fn property_type(mut self, p: PropertyType) -> Self {
        self.request.property_type = Some(p);
        self
    }
    /// Central station forwarding.
    pub fn central_station_forwarding(mut self, f: CentralStationForwarding) -> Self {
        self.request.central_station_forwarding = Some(f);
        self
    }
    /// A Builder Program to attach the customer to.
    pub fn builder_program(mut self, id: impl Into<BuilderProgramId>) -> Self {
        self.request.builder_program = Some(id.into());
        self
    }
    /// A field only one vendor takes (see [`ProvisionRequest::vendor_fields`]).
    pub fn vendor_field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.vendor_fields.insert(key.into(), value.into());
        self
    }
    /// The request.
    pub fn build(self) -> ProvisionRequest {
        self.request
    }
}

/// A change to an account's plan and add-ons.
///
/// `add` and `remove` are deltas; providers whose vendor wants the full set (Alarm.com) read the
/// current add-ons and send the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct PlanChange {
    /// A new plan, or `None` to keep the current one.
    pub plan: Option<PlanId>,
    /// Add-ons to add (with a quantity for quantity add-ons).
    pub add: Vec<AddOn>,
    /// Add-ons to remove.
    pub remove: Vec<FeatureId>,
    /// Only ask the vendor whether the change would be accepted; change nothing.
    pub validate_only: bool,
}

impl PlanChange {
    /// An empty change.
    pub fn new() -> Self {
        Self::default()
    }
    /// Moves to another plan.
    pub fn plan(mut self, plan: impl Into<PlanId>) -> Self {
        self.plan = Some(plan.into());
        self
    }
    /// Adds an on/off feature.
    // A builder step, not arithmetic: `PlanChange::new().add("LightAutomation")` reads as meant.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, feature: impl Into<FeatureId>) -> Self {
        self.add.push(AddOn {
            feature: feature.into(),
            quantity: None,
        });
        self
    }
    /// Adds a feature with a quantity, or sets its quantity (0 removes it).
    pub fn add_quantity(mut self, feature: impl Into<FeatureId>, quantity: u32) -> Self {
        self.add.push(AddOn {
            feature: feature.into(),
            quantity: Some(quantity),
        });
        self
    }
    /// Removes a feature.
    pub fn remove(mut self, feature: impl Into<FeatureId>) -> Self {
        self.remove.push(feature.into());
        self
    }
    /// Asks only whether the change would be accepted.
    pub fn validate_only(mut self) -> Self {
        self.validate_only = true;
        self
    }

    /// Applies the change to a current set of add-ons: the full set the account should have.
    pub fn apply_to(&self, current: &BTreeSet<AddOn>) -> BTreeSet<AddOn> {
        let mut next: BTreeSet<AddOn> = current
            .iter()
            .filter(|a| {
                !self.remove.contains(&a.feature)
                    && !self.add.iter().any(|n| n.feature == a.feature)
            })
            .cloned()
            .collect();
        for a in &self.add {
            if a.quantity != Some(0) {
                next.insert(a.clone());
            }
        }
        next
    }
}

/// A role or permission the integration login lacks, with how to grant it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingPermission {
    /// The role or permission, in the vendor's naming.
    pub permission: String,
    /// What it is needed for (`provisioning`, `billing`, `builder_program`).
    pub needed_for: String,
    /// The steps to grant it.
    pub guidance: String,
}

/// The result of checking credentials against the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialCheck {
    /// The login that was checked (never a secret).
    pub login: String,
    /// What the login may do (`provisioning`, `billing`, `builder_program`, ...).
    pub granted: Vec<String>,
    /// What it lacks, each with guidance.
    pub missing: Vec<MissingPermission>,
    /// What could not be checked through the vendor's API (the vendor does not offer the call
    /// the crate would read it with), each with the steps to check it by hand.
    #[serde(default)]
    pub unverified: Vec<UnverifiedPermission>,
}

/// A role or permission the crate could not read through the vendor's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedPermission {
    /// The role or permission, in the vendor's naming.
    pub permission: String,
    /// What it is needed for (`provisioning`, `billing`, `builder_program`).
    pub needed_for: String,
    /// Why it could not be read, and how to check it in the vendor's portal.
    pub how_to_check: String,
}

impl CredentialCheck {
    /// Whether the login may do `what` (`provisioning`, `billing`, `builder_program`).
    pub fn can(&self, what: &str) -> bool {
        self.granted.iter().any(|g| g == what)
    }
}

/// Money in integer minor units (cents) with an ISO 4217 currency code. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units.
    pub minor_units: i64,
    /// ISO 4217 code (`USD`).
    pub currency: String,
}

impl fmt::Display for Money {
    /// `12.34 USD`, `1234 JPY`, `1.234 KWD`: as many decimals as the currency has (two for a
    /// code the crate does not know).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor_units < 0 { "-" } else { "" };
        let abs = self.minor_units.unsigned_abs();
        let exponent = billing::currency_exponent(&self.currency).unwrap_or(2);
        let scale = 10u64.pow(u32::from(exponent));
        if exponent == 0 {
            write!(f, "{sign}{abs} {}", self.currency)
        } else {
            write!(
                f,
                "{sign}{}.{:0width$} {}",
                abs / scale,
                abs % scale,
                self.currency,
                width = usize::from(exponent)
            )
        }
    }
}

/// What happened, in an [`IspEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// An account was created.
    AccountCreated,
    /// An account's plan or add-ons changed.
    PlanChanged {
        /// The plan after the change.
        plan: Option<PlanId>,
    },
    /// An account was terminated.
    AccountTerminated,
    /// The customer paid in the vendor's app: an invoice they named, or their outstanding
    /// balance.
    PaymentApplied(Payment),
    /// A payment was taken back (a refund, a chargeback).
    PaymentReversed(PaymentReversal),
    /// The customer changed the payment method of their recurring charges in the vendor's app.
    PaymentMethodUpdated(PaymentMethodUpdate),
    /// An event the vendor sent that the crate could not read (a missing field, an amount that
    /// is not a number): a sink should park it with `problem` as the reason, so that the
    /// events after it still arrive.
    Malformed {
        /// The vendor's event type, as sent.
        vendor_type: String,
        /// What was wrong, without the offending value.
        problem: String,
    },
    /// An event the crate does not know, with its vendor type.
    Other {
        /// The vendor's event type.
        vendor_type: String,
    },
}

/// One event from a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IspEvent {
    /// Unique and stable across redeliveries: the key for exactly-once handling.
    pub id: EventId,
    /// The account it concerns.
    pub account: AccountId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// A page of events and the cursor to continue from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    /// The events, oldest first.
    pub events: Vec<IspEvent>,
    /// Where to continue; store it with the events you handled.
    pub next: Cursor,
    /// Whether more events are waiting now.
    pub has_more: bool,
}

/// A Builder Program the dealer takes part in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderProgram {
    /// Its id.
    pub id: BuilderProgramId,
    /// The builder's name.
    pub name: String,
}

/// A request to record a Builder Program home (a pre-install commitment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuilderProgramRecordRequest {
    /// The program.
    pub program: BuilderProgramId,
    /// The dealer's own id for the future customer.
    pub dealer_customer_id: DealerCustomerId,
    /// The home's address.
    pub address: Address,
    /// The panel type expected at install.
    pub expected_panel_type: Option<String>,
}

impl BuilderProgramRecordRequest {
    /// A record for `program` at `address`.
    pub fn new(
        program: impl Into<BuilderProgramId>,
        dealer_customer_id: impl Into<DealerCustomerId>,
        address: Address,
    ) -> Self {
        Self {
            program: program.into(),
            dealer_customer_id: dealer_customer_id.into(),
            address,
            expected_panel_type: None,
        }
    }

    /// The panel type expected at install.
    pub fn expected_panel_type(mut self, panel: impl Into<String>) -> Self {
        self.expected_panel_type = Some(panel.into());
        self
    }
}

/// A Builder Program record at the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderProgramRecord {
    /// The record id.
    pub id: BuilderProgramRecordId,
    /// The program.
    pub program: BuilderProgramId,
    /// The dealer's customer id.
    pub dealer_customer_id: DealerCustomerId,
}
