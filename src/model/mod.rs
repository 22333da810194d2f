//! Vendor-neutral types: ids, plans, features, accounts, requests, events, money.
//!
//! Nothing here knows a wire format; each provider maps its vendor's shapes onto these.

pub mod billing;
pub mod callback;
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
pub use callback::{CallbackRegistration, DeliveryAttempt, PanelSignal};
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
    /// An account's lifecycle state changed at the vendor (suspended, reinstated, a state the
    /// crate does not know). A termination is [`EventKind::AccountTerminated`].
    AccountStatusChanged {
        /// The state after the change.
        status: AccountStatus,
    },
    /// The customer's panel reported an alarm.
    Alarm(PanelSignal),
    /// The customer's panel reported a trouble condition (AC loss, low battery, tamper, a
    /// communication fault).
    Trouble(PanelSignal),
    /// The vendor stopped hearing from the customer's panel.
    PanelNotResponding {
        /// When the vendor last heard from it, when it says.
        last_contact: Option<DateTime<Utc>>,
    },
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

// ---------------------------------------------------------------------------------------------
// Builder Program

/// A Builder Program the dealer takes part in: what a host shows in the dropdown of a
/// "Create Commitment" or "Create Customer" form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuilderProgram {
    /// Its id, to put in a [`BuilderProgramRecordRequest`].
    pub id: BuilderProgramId,
    /// The program's name (a development, a phase).
    pub name: String,
    /// The home builder running it.
    pub builder: String,
}

impl BuilderProgram {
    /// A program `id` called `name`, run by `builder`.
    pub fn new(
        id: impl Into<BuilderProgramId>,
        name: impl Into<String>,
        builder: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            builder: builder.into(),
        }
    }
}

/// A request to record a home in a Builder Program: a *commitment* (a pre-wired home nobody
/// lives in yet, activated into a customer later) or a *builder customer* (a customer
/// provisioned now, on the program).
///
/// Build it with [`commitment`](Self::commitment) (or [`new`](Self::new)) or
/// [`customer`](Self::customer); setters never fail, and [`validate`](Self::validate) reports
/// every missing or invalid field at once, each with its field path. Providers validate before
/// any request is made.
///
/// ```
/// use chrono::NaiveDate;
/// use interactive_services::{Address, BuilderProgramRecordRequest};
///
/// let lot_14 = Address {
///     street1: "14 Willow Way".into(),
///     city: "Reston".into(),
///     state: "VA".into(),
///     zip: "20190".into(),
///     country: "US".into(),
///     ..Address::default()
/// };
/// let request = BuilderProgramRecordRequest::commitment("501", "LOT-14")
///     .address(lot_14)
///     .expected_panel_type("IQPanel2")
///     .ready_date(NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
/// assert!(request.validate().is_ok());
///
/// // Nothing filled in: every required field is named.
/// let problems = BuilderProgramRecordRequest::commitment("", "LOT-15")
///     .validate()
///     .unwrap_err();
/// let fields: Vec<&str> = problems.problems().iter().map(|p| p.field.as_str()).collect();
/// assert_eq!(
///     fields,
///     [
///         "program",
///         "address.street1",
///         "address.city",
///         "address.state",
///         "address.zip",
///         "expected_panel_type",
///         "ready_date",
///     ]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuilderProgramRecordRequest {
    /// The program (from [`builder_programs`](crate::InteractiveServicesProvider::builder_programs)).
    pub program: BuilderProgramId,
    /// What to record.
    pub record: BuilderProgramRecordKind,
}

/// The two kinds of Builder Program record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BuilderProgramRecordKind {
    /// A commitment: the home is recorded now and becomes a customer when it is activated
    /// ([`activate_commitment`](crate::InteractiveServicesProvider::activate_commitment)).
    Commitment(CommitmentDetails),
    /// A builder customer: a customer provisioned now, on the program. Its plan, when the
    /// request names none, is the configuration's default service plan, as in
    /// [`provision`](crate::InteractiveServicesProvider::provision).
    Customer(Box<ProvisionRequest>),
}

/// What a commitment records about a home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct CommitmentDetails {
    /// The dealer's own id for the home's future customer: required, and the key that keeps
    /// saving free of duplicates.
    pub dealer_customer_id: DealerCustomerId,
    /// The home's address: street, city, state and ZIP are required.
    pub address: Address,
    /// The panel type expected at install, in the vendor's spelling (`IQPanel2`): required.
    pub expected_panel_type: Option<String>,
    /// When the home is expected to be ready for install: required.
    pub ready_date: Option<chrono::NaiveDate>,
}

impl Default for CommitmentDetails {
    fn default() -> Self {
        Self::new("")
    }
}

impl CommitmentDetails {
    /// A commitment for the dealer's customer `dealer_customer_id`, nothing else filled in.
    pub fn new(dealer_customer_id: impl Into<DealerCustomerId>) -> Self {
        Self {
            dealer_customer_id: dealer_customer_id.into(),
            address: Address::default(),
            expected_panel_type: None,
            ready_date: None,
        }
    }

    fn validate_into(&self, errors: &mut crate::ValidationErrors) {
        if self.dealer_customer_id.as_str().trim().is_empty() {
            errors.push(
                "dealer_customer_id",
                "give the dealer's own customer id; it keeps saving free of duplicates",
            );
        }
        let a = &self.address;
        for (field, value, what) in [
            ("address.street1", &a.street1, "the street"),
            ("address.city", &a.city, "the city"),
            ("address.state", &a.state, "the state or province"),
            ("address.zip", &a.zip, "the ZIP or postal code"),
        ] {
            if value.trim().is_empty() {
                errors.push(field, format!("give {what} of the home"));
            }
        }
        if self
            .expected_panel_type
            .as_deref()
            .is_none_or(|p| p.trim().is_empty())
        {
            errors.push(
                "expected_panel_type",
                "give the panel type expected at install (such as IQPanel2)",
            );
        }
        if self.ready_date.is_none() {
            errors.push(
                "ready_date",
                "give the date the home is expected to be ready for install",
            );
        }
        check_text(
            errors,
            "dealer_customer_id",
            self.dealer_customer_id.as_str(),
        );
        check_address(errors, "address", a);
        if let Some(p) = &self.expected_panel_type {
            check_text(errors, "expected_panel_type", p);
        }
    }
}

impl BuilderProgramRecordRequest {
    /// A commitment on `program` for the dealer's customer `dealer_customer_id`; fill in the
    /// rest with [`address`](Self::address), [`expected_panel_type`](Self::expected_panel_type)
    /// and [`ready_date`](Self::ready_date).
    pub fn commitment(
        program: impl Into<BuilderProgramId>,
        dealer_customer_id: impl Into<DealerCustomerId>,
    ) -> Self {
        Self {
            program: program.into(),
            record: BuilderProgramRecordKind::Commitment(CommitmentDetails::new(
                dealer_customer_id,
            )),
        }
    }

    /// A commitment on `program` at `address` (the same as [`commitment`](Self::commitment)
    /// followed by [`address`](Self::address)).
    pub fn new(
        program: impl Into<BuilderProgramId>,
        dealer_customer_id: impl Into<DealerCustomerId>,
        address: Address,
    ) -> Self {
        Self::commitment(program, dealer_customer_id).address(address)
    }

    /// A builder customer: `customer` provisioned on `program`. The request's own
    /// [`builder_program`](ProvisionRequest::builder_program) may be left unset (the program
    /// is this one); set to another program, it is a validation problem.
    pub fn customer(program: impl Into<BuilderProgramId>, customer: ProvisionRequest) -> Self {
        Self {
            program: program.into(),
            record: BuilderProgramRecordKind::Customer(Box::new(customer)),
        }
    }

    /// The home's address (commitments; a builder customer's address is in its provision
    /// request, and this setter leaves it alone).
    pub fn address(mut self, address: Address) -> Self {
        if let BuilderProgramRecordKind::Commitment(c) = &mut self.record {
            c.address = address;
        }
        self
    }

    /// The panel type expected at install (commitments; a builder customer's panel type is in
    /// its provision request, and this setter leaves it alone).
    pub fn expected_panel_type(mut self, panel: impl Into<String>) -> Self {
        if let BuilderProgramRecordKind::Commitment(c) = &mut self.record {
            c.expected_panel_type = Some(panel.into());
        }
        self
    }

    /// When the home is expected to be ready for install (commitments only, like
    /// [`address`](Self::address)).
    pub fn ready_date(mut self, date: chrono::NaiveDate) -> Self {
        if let BuilderProgramRecordKind::Commitment(c) = &mut self.record {
            c.ready_date = Some(date);
        }
        self
    }

    /// The dealer's customer id the record is for: the key that keeps saving free of
    /// duplicates.
    pub fn dealer_customer_id(&self) -> &DealerCustomerId {
        match &self.record {
            BuilderProgramRecordKind::Commitment(c) => &c.dealer_customer_id,
            BuilderProgramRecordKind::Customer(c) => &c.dealer_customer_id,
        }
    }

    /// Checks every field a provider needs, and reports every problem at once with its field
    /// path: `program`, then for a commitment `dealer_customer_id`, `address.street1`,
    /// `address.city`, `address.state`, `address.zip`, `expected_panel_type`, `ready_date`;
    /// for a builder customer the paths of [`ProvisionRequest::validate`] and
    /// `builder_program`. A builder customer's plan may be left to the configuration's
    /// default.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::new();
        if self.program.as_str().trim().is_empty() {
            errors.push(
                "program",
                "choose the Builder Program (one of the provider's builder_programs)",
            );
        } else {
            check_text(&mut errors, "program", self.program.as_str());
        }
        match &self.record {
            BuilderProgramRecordKind::Commitment(c) => c.validate_into(&mut errors),
            BuilderProgramRecordKind::Customer(c) => {
                if let Err(problems) = c.validate() {
                    for p in problems {
                        errors.push(p.field, p.message);
                    }
                }
                if let Some(other) = c.builder_program.as_ref().filter(|p| **p != self.program) {
                    errors.push(
                        "builder_program",
                        format!(
                            "the customer names Builder Program {other}, the record Builder Program {}; leave the customer's unset or make them the same",
                            self.program
                        ),
                    );
                }
            }
        }
        errors.into_result()
    }
}

/// Where a Builder Program record stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuilderProgramRecordStatus {
    /// A commitment waiting for its install.
    Pending,
    /// A live customer: an activated commitment, or a builder customer.
    Live,
    /// A state the crate does not know, in the vendor's words.
    Other(String),
}

/// A Builder Program record at the vendor: a commitment, or a builder customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuilderProgramRecord {
    /// The record id: the commitment id (for a builder customer, its account id).
    pub id: BuilderProgramRecordId,
    /// The program.
    pub program: BuilderProgramId,
    /// The dealer's customer id.
    pub dealer_customer_id: DealerCustomerId,
    /// Where it stands.
    pub status: BuilderProgramRecordStatus,
    /// The live customer's account, once there is one.
    pub account: Option<AccountId>,
    /// The home's address, when the vendor reports it.
    pub address: Option<Address>,
    /// The panel type expected at install, when known.
    pub expected_panel_type: Option<String>,
    /// When the home is expected to be ready for install, when known.
    pub ready_date: Option<chrono::NaiveDate>,
}

impl BuilderProgramRecord {
    /// A pending commitment `id` on `program` for `dealer_customer_id`, with nothing else
    /// known.
    pub fn new(
        id: impl Into<BuilderProgramRecordId>,
        program: impl Into<BuilderProgramId>,
        dealer_customer_id: impl Into<DealerCustomerId>,
    ) -> Self {
        Self {
            id: id.into(),
            program: program.into(),
            dealer_customer_id: dealer_customer_id.into(),
            status: BuilderProgramRecordStatus::Pending,
            account: None,
            address: None,
            expected_panel_type: None,
            ready_date: None,
        }
    }

    /// Whether the record is a live customer.
    pub fn is_live(&self) -> bool {
        self.status == BuilderProgramRecordStatus::Live
    }
}

/// A change to a pending commitment: the expected panel type, the ready date, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct CommitmentUpdate {
    /// A new expected panel type, or `None` to keep it.
    pub expected_panel_type: Option<String>,
    /// A new ready date, or `None` to keep it.
    pub ready_date: Option<chrono::NaiveDate>,
}

impl CommitmentUpdate {
    /// An empty update (which [`validate`](Self::validate) refuses: it would change nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes the expected panel type.
    pub fn expected_panel_type(mut self, panel: impl Into<String>) -> Self {
        self.expected_panel_type = Some(panel.into());
        self
    }

    /// Changes the ready date.
    pub fn ready_date(mut self, date: chrono::NaiveDate) -> Self {
        self.ready_date = Some(date);
        self
    }

    /// Every problem at once, with field paths (`expected_panel_type`, `ready_date`).
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::new();
        match &self.expected_panel_type {
            None if self.ready_date.is_none() => errors.push(
                "expected_panel_type",
                "the update changes nothing; give a new expected panel type or ready date",
            ),
            Some(p) if p.trim().is_empty() => errors.push(
                "expected_panel_type",
                "the expected panel type is blank; leave it out to keep the current one",
            ),
            Some(p) => check_text(&mut errors, "expected_panel_type", p),
            None => {}
        }
        errors.into_result()
    }
}

/// What activating a commitment needs: the installed panel and communicator, and the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommitmentActivation {
    /// The panel type installed, in the vendor's spelling (`IQPanel2`): required.
    pub panel_type: String,
    /// The communicator (modem) serial number: required.
    pub modem_serial: String,
    /// The service plan; `None` takes the configuration's default service plan.
    pub plan: Option<PlanId>,
}

impl CommitmentActivation {
    /// An activation with `panel_type` and `modem_serial`, on the configuration's default plan.
    pub fn new(panel_type: impl Into<String>, modem_serial: impl Into<String>) -> Self {
        Self {
            panel_type: panel_type.into(),
            modem_serial: modem_serial.into(),
            plan: None,
        }
    }

    /// The service plan (else the configuration's default service plan).
    pub fn plan(mut self, plan: impl Into<PlanId>) -> Self {
        self.plan = Some(plan.into());
        self
    }

    /// Every problem at once, with field paths (`panel_type`, `modem_serial`, `plan`).
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::new();
        if self.panel_type.trim().is_empty() {
            errors.push(
                "panel_type",
                "give the panel type installed (such as IQPanel2)",
            );
        }
        if self.modem_serial.trim().is_empty() {
            errors.push(
                "modem_serial",
                "give the serial number of the installed communicator",
            );
        }
        check_text(&mut errors, "panel_type", &self.panel_type);
        check_text(&mut errors, "modem_serial", &self.modem_serial);
        if let Some(plan) = &self.plan {
            if plan.as_str().trim().is_empty() {
                errors.push(
                    "plan",
                    "the plan is blank; leave it out to take the default plan",
                );
            }
            check_text(&mut errors, "plan", plan.as_str());
        }
        errors.into_result()
    }
}

/// The text rule of every request field that goes to a vendor: no control characters, at most
/// [`MAX_FIELD_CHARS`] characters.
fn check_text(errors: &mut crate::ValidationErrors, field: &str, value: &str) {
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
}

fn check_address(errors: &mut crate::ValidationErrors, prefix: &str, a: &Address) {
    for (name, value) in [
        ("street1", &a.street1),
        ("city", &a.city),
        ("state", &a.state),
        ("zip", &a.zip),
        ("country", &a.country),
    ] {
        check_text(errors, &format!("{prefix}.{name}"), value);
    }
    if let Some(street2) = &a.street2 {
        check_text(errors, &format!("{prefix}.street2"), street2);
    }
}
