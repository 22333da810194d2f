//! A stateful Alarm.com simulator speaking the dealer SOAP web services (1.1 and 1.2), on a
//! loopback [`wiremock::MockServer`].
//!
//! It checks what the real service checks on every call — the service path, the `SOAPAction`
//! or `action`, the namespace, the `Authentication` header — keeps customers, packages and
//! add-ons in memory, knows which roles each login has, answers ASMX-style faults, and has fault
//! knobs ([`FaultKind`]). It also keeps the dealer's Builder Programs and commitments, and
//! refuses Builder Program calls of a login without the roles with a `Permission denied:
//! <role>` fault naming the one it lacks. The parts of the format that are modelled rather than seen are listed
//! in the [Alarm.com provider docs](crate::providers::alarm_com).
//!
//! It is built on the [simulator core](crate::testkit::sim), which keeps the fault knobs,
//! latency and call log; this file is the wire format and the operations. A call is logged (and
//! counted by [`AlarmComSimulator::call_count`]) once it has passed the HTTP checks and the
//! `Authentication` header. [`FaultKind::Fault`] is a `soap:Server` fault with that text, and
//! [`FaultKind::ResultCode`] (Alarm.com has no result codes) a `soap:Server` fault saying
//! `result code <code>`. The simulator implements
//! [`SimulatorControl`] for the resilience suite.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use wiremock::{MockServer, ResponseTemplate};

use crate::config::IspConfig;
use crate::http::soap::{self, Element, Node, SoapVersion};
use crate::model::{AccountId, BillingSummary, Invoice, Money, PaymentRecord};
use crate::providers::alarm_com::{
    AddOnFeature, BILLING_PERMISSION, BUILDER_PROGRAM_LEGACY_ROLES, BUILDER_PROGRAM_ROLE,
    INTEGRATION_ROLE, INTEGRATION_TEMPLATE, wire,
};
pub use crate::testkit::faults::{FaultKind, FaultRule};
use crate::testkit::faults::{cut_off, html_page};
use crate::testkit::resilience::SimulatorControl;
use crate::testkit::sim::{CallRecord, Routed, Simulator, Wire};

/// The operations of the simulator that no public source shows (the crate's model of them).
pub use super::MODELLED_OPERATIONS;

/// The login every simulator starts with: an account owner with every role.
pub const DEFAULT_LOGIN: &str = "dealer-integration";
/// Its password.
pub const DEFAULT_PASSWORD: &str = "sim-password-Adc1";
/// The caller version `GetLatestCallerVersion` answers.
pub const CALLER_VERSION: &str = "4";

/// A Partner Portal login known to the simulator.
#[derive(Debug, Clone)]
pub struct SimLogin {
    /// The password.
    pub password: String,
    /// Legacy roles.
    pub legacy_roles: Vec<String>,
    /// Custom roles: name and the template they were made from.
    pub custom_roles: Vec<(String, Option<String>)>,
    /// Permissions on the dealer account.
    pub permissions: Vec<String>,
    /// The sub-dealer the login belongs to (`None`: the account owner).
    pub dealer_id: Option<i64>,
}

impl SimLogin {
    /// An account owner with the integration role, billing permission and both legacy Builder
    /// roles.
    pub fn owner(password: &str) -> Self {
        Self {
            password: password.into(),
            legacy_roles: vec![
                INTEGRATION_ROLE.into(),
                BUILDER_PROGRAM_LEGACY_ROLES[0].into(),
                BUILDER_PROGRAM_LEGACY_ROLES[1].into(),
            ],
            custom_roles: Vec::new(),
            permissions: vec![BILLING_PERMISSION.into()],
            dealer_id: None,
        }
    }

    /// A sub-dealer login with a custom role from the integration template and billing.
    pub fn sub_dealer(password: &str, dealer_id: i64) -> Self {
        Self {
            password: password.into(),
            legacy_roles: Vec::new(),
            custom_roles: vec![("Integration".into(), Some(INTEGRATION_TEMPLATE.into()))],
            permissions: vec![BILLING_PERMISSION.into()],
            dealer_id: Some(dealer_id),
        }
    }

    /// Without any integration role (legacy or from the template).
    pub fn without_integration_role(mut self) -> Self {
        self.legacy_roles.retain(|r| r != INTEGRATION_ROLE);
        self.custom_roles
            .retain(|(_, t)| t.as_deref() != Some(INTEGRATION_TEMPLATE));
        self
    }

    /// Without the billing permission.
    pub fn without_billing(mut self) -> Self {
        self.permissions.retain(|p| p != BILLING_PERMISSION);
        self
    }

    /// With the custom role "Builder Program" only (no legacy Builder role).
    pub fn with_builder_custom_role(mut self) -> Self {
        self = self.with_builder_legacy_roles(&[]);
        self.custom_roles.push((BUILDER_PROGRAM_ROLE.into(), None));
        self
    }

    /// Without any Builder Program role (custom or legacy).
    pub fn without_builder_roles(self) -> Self {
        self.with_builder_legacy_roles(&[])
    }

    /// With exactly these legacy Builder roles (and no "Builder Program" custom role).
    pub fn with_builder_legacy_roles(mut self, roles: &[&str]) -> Self {
        self.legacy_roles
            .retain(|r| !BUILDER_PROGRAM_LEGACY_ROLES.contains(&r.as_str()));
        self.legacy_roles
            .extend(roles.iter().map(|r| (*r).to_owned()));
        self.custom_roles.retain(|(n, _)| n != BUILDER_PROGRAM_ROLE);
        self
    }

    /// The role a Builder Program call lacks, or `None` when the login has the custom role or
    /// both legacy roles.
    fn builder_role_missing(&self) -> Option<&'static str> {
        if self
            .custom_roles
            .iter()
            .any(|(n, _)| n == BUILDER_PROGRAM_ROLE)
        {
            return None;
        }
        let has = |r: &str| self.legacy_roles.iter().any(|l| l == r);
        match BUILDER_PROGRAM_LEGACY_ROLES.map(has) {
            [true, true] => None,
            [true, false] => Some(BUILDER_PROGRAM_LEGACY_ROLES[1]),
            [false, true] => Some(BUILDER_PROGRAM_LEGACY_ROLES[0]),
            [false, false] => Some(BUILDER_PROGRAM_ROLE),
        }
    }

    fn can_integrate(&self) -> bool {
        let template = self
            .custom_roles
            .iter()
            .any(|(_, t)| t.as_deref() == Some(INTEGRATION_TEMPLATE));
        match self.dealer_id {
            Some(_) => template,
            None => template || self.legacy_roles.iter().any(|r| r == INTEGRATION_ROLE),
        }
    }
}

/// One customer in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCustomer {
    /// Alarm.com customer id.
    pub id: i64,
    /// The dealer's own id.
    pub dealer_customer_id: String,
    /// The sub-dealer it belongs to.
    pub dealer_id: Option<i64>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Customer login.
    pub login_name: String,
    /// Package (service plan) id.
    pub package_id: i64,
    /// On/off add-ons.
    pub add_ons: BTreeSet<String>,
    /// Quantity add-ons.
    pub quantities: BTreeMap<String, u32>,
    /// Terminated.
    pub terminated: bool,
    /// Panel type as sent.
    pub panel_type: String,
    /// Modem serial as sent.
    pub modem_serial: String,
    /// Property type as sent.
    pub property_type: String,
    /// Central station forwarding as sent.
    pub forwarding: String,
    /// Notification e-mails as sent.
    pub notification_emails: Vec<String>,
    /// The Builder Program it is on (`BuilderProgramId` as sent, or its commitment's), empty
    /// when none.
    pub builder_program_id: String,
}

/// A Builder Program the simulator's dealer takes part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBuilderProgram {
    /// `BuilderProgramId`.
    pub id: i64,
    /// `ProgramName`.
    pub name: String,
    /// `BuilderName`.
    pub builder: String,
}

/// One commitment in the simulator (modelled; see [`builder`](super::builder)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCommitment {
    /// Its id, from the customers' id sequence.
    pub id: i64,
    /// The program.
    pub builder_program_id: i64,
    /// The dealer's own id.
    pub dealer_customer_id: String,
    /// The sub-dealer it belongs to.
    pub dealer_id: Option<i64>,
    /// `InstallationAddress` as sent: `Street1`, `City`, `State`, `Zip`, `CountryId`.
    pub address: [String; 5],
    /// `ExpectedPanelType` as sent.
    pub expected_panel_type: String,
    /// `ExpectedInstallDate` as sent.
    pub expected_install_date: String,
    /// The customer it became, once activated.
    pub customer_id: Option<i64>,
}

/// One call the simulator received (after the HTTP checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The operation.
    pub operation: String,
    /// The SOAP version it came in.
    pub version: SoapVersion,
}

impl CallRecord for SimCall {
    fn operation(&self) -> &str {
        &self.operation
    }
}

#[derive(Debug)]
struct SimState {
    logins: BTreeMap<String, SimLogin>,
    customers: BTreeMap<i64, SimCustomer>,
    /// Customer ids by (dealer id, dealer customer id), and the login names in use: the
    /// lookups every provisioning makes, kept so that they do not scan every customer (a bulk
    /// run of 10,000 customers spent most of the simulator's time in those scans). Kept in step
    /// by [`SimState::add_customer`] and [`SimState::reindex`].
    by_dealer_customer_id: HashMap<(Option<i64>, String), BTreeSet<i64>>,
    login_names: HashSet<String>,
    next_id: i64,
    packages: Vec<(i64, &'static str, &'static str, &'static str)>,
    accept_duplicate_dealer_ids: bool,
    serve_modelled: bool,
    billing: SimBilling,
    programs: Vec<SimBuilderProgram>,
    commitments: BTreeMap<i64, SimCommitment>,
}

/// The simulator's billing side (modelled, see [`billing`](super::billing)).
#[derive(Debug, Default)]
struct SimBilling {
    /// Whether `SetSecurityTraxSettings` turned billing sync on.
    active: bool,
    /// Every billing event, oldest first.
    events: Vec<SimBillingEvent>,
    /// The last `SetCustomerBillingSummary` of each customer.
    summaries: BTreeMap<i64, BillingSummary>,
    next_payment: u64,
}

/// One billing event the simulator will report: its id, the customer and its fields as they
/// travel in a `BillingEvent` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBillingEvent {
    /// `EventId`.
    pub id: i64,
    /// The customer it concerns (for the sub-dealer filter).
    pub customer: i64,
    /// The fields after `EventId`, in order.
    pub fields: Vec<(String, String)>,
}

/// The simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct AlarmComSimulator {
    core: Simulator<AlarmComWire>,
}

impl AlarmComSimulator {
    /// Starts a simulator on loopback with [`DEFAULT_LOGIN`] and the packages seen in public
    /// client code.
    pub async fn start() -> Self {
        let mut logins = BTreeMap::new();
        logins.insert(DEFAULT_LOGIN.to_owned(), SimLogin::owner(DEFAULT_PASSWORD));
        let state = SimState {
            logins,
            customers: BTreeMap::new(),
            by_dealer_customer_id: HashMap::new(),
            login_names: HashSet::new(),
            next_id: 7_000_000,
            packages: vec![
                (1, "Wireless Signal Forwarding", "WSF", "Residential"),
                (2, "Basic Interactive", "BI", "Residential"),
                (9, "Advanced Interactive", "AI", "Residential"),
                (193, "Interactive Gold", "AI", "Residential"),
                (208, "Interactive Security", "BI", "Residential"),
                (
                    209,
                    "Interactive Security + Automation",
                    "AI",
                    "Residential",
                ),
                (41, "Commercial Basic Interactive", "BI", "Commercial"),
                (42, "Commercial Advanced Interactive", "AI", "Commercial"),
            ],
            accept_duplicate_dealer_ids: false,
            serve_modelled: true,
            billing: SimBilling::default(),
            programs: vec![
                SimBuilderProgram {
                    id: 501,
                    name: "Willow Creek Phase 2".into(),
                    builder: "Acme Homes".into(),
                },
                SimBuilderProgram {
                    id: 502,
                    name: "Lakeside Commons".into(),
                    builder: "Brightline Builders".into(),
                },
            ],
            commitments: BTreeMap::new(),
        };
        Self {
            core: Simulator::start(AlarmComWire, state).await,
        }
    }

    /// The `WebServices/` folder to put in a configuration's endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/WebServices/", self.core.uri())
    }

    /// The wiremock server, for request inspection.
    pub fn server(&self) -> &MockServer {
        self.core.server()
    }

    /// A valid configuration for [`DEFAULT_LOGIN`] on this simulator, default plan 9.
    pub fn config(&self) -> IspConfig {
        self.config_for(DEFAULT_LOGIN, DEFAULT_PASSWORD)
    }

    /// A valid configuration for a login on this simulator (its dealer id included).
    pub fn config_for(&self, login: &str, password: &str) -> IspConfig {
        let dealer_id = self
            .core
            .with_state(|s| s.logins.get(login).and_then(|l| l.dealer_id));
        let mut b = IspConfig::builder()
            .name(format!("Alarm.com simulator ({login})"))
            .provider("alarm_com")
            .endpoint(self.endpoint())
            .credential("login", login)
            .credential("password", password)
            .default_plan("9");
        if let Some(d) = dealer_id {
            b = b.credential("dealer_id", d.to_string());
        }
        match b.build() {
            Ok(c) => c,
            Err(e) => panic!("simulator config is valid: {e}"),
        }
    }

    /// Adds (or replaces) a login.
    pub fn add_login(&self, login: &str, details: SimLogin) {
        self.core
            .with_state(|s| s.logins.insert(login.to_owned(), details));
    }

    /// Whether the simulator answers the operations the crate only modelled (see
    /// [`MODELLED_OPERATIONS`]). Off, it answers them as a real ASMX service answers an
    /// operation it does not have: a `soap:Client` fault "Server did not recognize the value of
    /// HTTP Header SOAPAction" — so that tests show the crate's main paths rest on seen calls.
    pub fn serve_modelled_operations(&self, serve: bool) {
        self.core.with_state(|s| s.serve_modelled = serve);
    }

    /// Whether `CreateCustomer` accepts a `DealerCustomerId` that a customer of the same dealer
    /// already has. By default it refuses (`Success=false`); `vendors.md` does not say what
    /// Alarm.com does, so tests that show what a blind repeat of a create costs turn this on to
    /// model a service that makes the duplicate.
    pub fn accept_duplicate_dealer_ids(&self, accept: bool) {
        self.core
            .with_state(|s| s.accept_duplicate_dealer_ids = accept);
    }

    /// Arms a fault knob.
    pub fn inject(&self, rule: FaultRule) {
        self.core.inject(rule);
    }

    /// Removes every fault knob.
    pub fn clear_faults(&self) {
        self.core.clear_faults();
    }

    /// Adds latency to every answer of the service (see the
    /// [simulator core](crate::testkit::sim#latency)).
    pub fn set_latency(&self, latency: Duration) {
        self.core.set_latency(latency);
    }

    /// The customers.
    pub fn customers(&self) -> Vec<SimCustomer> {
        self.core
            .with_state(|s| s.customers.values().cloned().collect())
    }

    /// A customer by id.
    pub fn customer(&self, id: i64) -> Option<SimCustomer> {
        self.core.with_state(|s| s.customers.get(&id).cloned())
    }

    /// Customers with this dealer customer id.
    pub fn customers_with_dealer_id(&self, dealer_customer_id: &str) -> usize {
        self.core.with_state(|s| {
            s.customers
                .values()
                .filter(|c| c.dealer_customer_id == dealer_customer_id)
                .count()
        })
    }

    /// Changes a customer in place (to stage vendor-side changes such as an add-on this crate
    /// does not know).
    pub fn edit_customer(&self, id: i64, edit: impl FnOnce(&mut SimCustomer)) -> bool {
        self.core.with_state(|s| {
            let edited = match s.customers.get_mut(&id) {
                Some(c) => {
                    edit(c);
                    true
                }
                None => false,
            };
            s.reindex();
            edited
        })
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<SimCall> {
        self.core.calls()
    }

    /// How many calls of `operation` were received.
    pub fn call_count(&self, operation: &str) -> usize {
        self.core.call_count(operation)
    }

    // -----------------------------------------------------------------------------------------
    // Builder Program (partly modelled)

    /// The Builder Programs `GetBuilderPrograms` answers (501 "Willow Creek Phase 2" by Acme
    /// Homes and 502 "Lakeside Commons" by Brightline Builders at start).
    pub fn builder_programs(&self) -> Vec<SimBuilderProgram> {
        self.core.with_state(|s| s.programs.clone())
    }

    /// Adds (or replaces) a Builder Program.
    pub fn add_builder_program(&self, id: i64, name: &str, builder: &str) {
        self.core.with_state(|s| {
            s.programs.retain(|p| p.id != id);
            s.programs.push(SimBuilderProgram {
                id,
                name: name.into(),
                builder: builder.into(),
            });
        });
    }

    /// The commitments, activated ones included.
    pub fn commitments(&self) -> Vec<SimCommitment> {
        self.core
            .with_state(|s| s.commitments.values().cloned().collect())
    }

    /// A commitment by id.
    pub fn commitment(&self, id: i64) -> Option<SimCommitment> {
        self.core.with_state(|s| s.commitments.get(&id).cloned())
    }

    /// Commitments with this dealer customer id.
    pub fn commitments_with_dealer_id(&self, dealer_customer_id: &str) -> usize {
        self.core.with_state(|s| {
            s.commitments
                .values()
                .filter(|c| c.dealer_customer_id == dealer_customer_id)
                .count()
        })
    }

    // -----------------------------------------------------------------------------------------
    // billing (modelled)

    /// Whether billing sync was activated (`SetSecurityTraxSettings`).
    pub fn billing_active(&self) -> bool {
        self.core.with_state(|s| s.billing.active)
    }

    /// The customer pays `cents` of `currency` in the Alarm.com app: for `invoice` when given,
    /// else towards their balance. Returns the payment id.
    pub fn pay(&self, customer: i64, invoice: Option<&str>, cents: i64, currency: &str) -> String {
        self.core.with_state(|s| {
            s.billing.next_payment += 1;
            let payment = format!("PAY-{}", s.billing.next_payment);
            let mut fields = vec![
                ("EventType", "PaymentApplied".to_owned()),
                ("PaymentId", payment.clone()),
                ("AmountInCents", cents.to_string()),
                ("CurrencyCode", currency.to_owned()),
                ("PaymentMethodSummary", "Visa ending 4242".to_owned()),
            ];
            if let Some(invoice) = invoice {
                fields.push(("InvoiceReference", invoice.to_owned()));
            }
            push_billing_event(s, customer, fields);
            payment
        })
    }

    /// A payment is taken back (a refund): `cents` of `currency` of `payment`. Returns the
    /// reversal's id.
    pub fn reverse(&self, customer: i64, payment: &str, cents: i64, currency: &str) -> String {
        self.core.with_state(|s| {
            s.billing.next_payment += 1;
            let reversal = format!("REV-{}", s.billing.next_payment);
            push_billing_event(
                s,
                customer,
                vec![
                    ("EventType", "PaymentReversed".to_owned()),
                    ("PaymentId", reversal.clone()),
                    ("ReversedPaymentId", payment.to_owned()),
                    ("AmountInCents", cents.to_string()),
                    ("CurrencyCode", currency.to_owned()),
                    ("Reason", "Refund requested in the app".to_owned()),
                ],
            );
            reversal
        })
    }

    /// The customer changes the card of their recurring charges in the Alarm.com app.
    pub fn change_card(&self, customer: i64, brand: &str, last_four: &str, month: u8, year: u16) {
        self.change_card_at(customer, brand, last_four, month, year, chrono::Utc::now());
    }

    /// [`change_card`](Self::change_card) dated `at` (to send an older change after a newer one).
    pub fn change_card_at(
        &self,
        customer: i64,
        brand: &str,
        last_four: &str,
        month: u8,
        year: u16,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.core.with_state(|s| {
            push_billing_event_at(
                s,
                customer,
                at,
                vec![
                    ("EventType", "PaymentMethodUpdated".to_owned()),
                    ("PaymentMethodKind", "CreditCard".to_owned()),
                    ("CardBrand", brand.to_owned()),
                    ("LastFour", last_four.to_owned()),
                    ("ExpirationMonth", month.to_string()),
                    ("ExpirationYear", year.to_string()),
                ],
            );
        });
    }

    /// A billing event with exactly these fields after `EventId`, `CustomerId`,
    /// `DealerCustomerId` and `EventDate`, for answers the crate must survive (a missing
    /// amount, a currency that is not one, a full card number in `LastFour`).
    pub fn push_raw_billing_event(&self, customer: i64, fields: &[(&str, &str)]) {
        self.core.with_state(|s| {
            let fields = fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            push_billing_event(s, customer, fields);
        });
    }

    /// Every billing event so far.
    pub fn billing_events(&self) -> Vec<SimBillingEvent> {
        self.core.with_state(|s| s.billing.events.clone())
    }

    /// The last billing summary the dealer pushed for `customer`.
    pub fn billing_summary(&self, customer: i64) -> Option<BillingSummary> {
        self.core
            .with_state(|s| s.billing.summaries.get(&customer).cloned())
    }
}

fn push_billing_event(state: &mut SimState, customer: i64, fields: Vec<(&str, String)>) {
    push_billing_event_at(state, customer, chrono::Utc::now(), fields);
}

fn push_billing_event_at(
    state: &mut SimState,
    customer: i64,
    at: chrono::DateTime<chrono::Utc>,
    fields: Vec<(&str, String)>,
) {
    let id = 1000 + i64::try_from(state.billing.events.len()).unwrap_or(i64::MAX - 1000) + 1;
    let dealer_customer_id = state
        .customers
        .get(&customer)
        .map(|c| c.dealer_customer_id.clone())
        .unwrap_or_default();
    let mut all = vec![
        ("CustomerId".to_owned(), customer.to_string()),
        ("DealerCustomerId".to_owned(), dealer_customer_id),
        (
            "EventDate".to_owned(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    ];
    all.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    state.billing.events.push(SimBillingEvent {
        id,
        customer,
        fields: all,
    });
}

/// The resilience suite drives the simulator as the default login sees it: it creates with
/// `CreateCustomer` (a sub-dealer login would use `CreateCustomerForDealer`), looks up with
/// `LookupCustomerIdFromDealerCustomerId` and reads with `GetCustomerInfo`.
impl SimulatorControl for AlarmComSimulator {
    fn inject(&self, rule: FaultRule) {
        self.core.inject(rule);
    }

    fn clear_faults(&self) {
        self.core.clear_faults();
    }

    fn call_count(&self, operation: &str) -> usize {
        self.core.call_count(operation)
    }

    fn accounts_with_dealer_id(&self, dealer_customer_id: &str) -> usize {
        self.customers_with_dealer_id(dealer_customer_id)
    }

    fn holds_account(&self, id: &AccountId) -> bool {
        id.as_str()
            .parse()
            .is_ok_and(|id| self.customer(id).is_some())
    }

    fn add_unknown_feature(&self, id: &AccountId, feature: &str) -> bool {
        id.as_str().parse().is_ok_and(|id| {
            self.edit_customer(id, |c| {
                c.add_ons.insert(feature.to_owned());
            })
        })
    }

    fn create_operation(&self) -> &str {
        "CreateCustomer"
    }

    fn lookup_operation(&self) -> &str {
        "LookupCustomerIdFromDealerCustomerId"
    }

    fn read_operation(&self) -> &str {
        "GetCustomerInfo"
    }
}

/// The dealer SOAP web services' side of the simulator.
struct AlarmComWire;

/// A call that passed the HTTP checks and the `Authentication` header.
struct AdcCall {
    version: SoapVersion,
    op: String,
    /// The operation element (the first child of the SOAP body).
    params: Element,
    user: String,
    login: SimLogin,
}

struct Fault {
    code: &'static str,
    text: String,
}

fn fault(code: &'static str, text: impl Into<String>) -> Fault {
    Fault {
        code,
        text: text.into(),
    }
}

fn fault_response(version: SoapVersion, f: &Fault) -> ResponseTemplate {
    let body = match version {
        SoapVersion::V11 => Node::new("soap:Fault")
            .field("faultcode", format!("soap:{}", f.code))
            .field("faultstring", f.text.as_str())
            .child(Node::new("detail")),
        SoapVersion::V12 => Node::new("soap:Fault")
            .child(Node::new("soap:Code").field(
                "soap:Value",
                if f.code == "Client" {
                    "soap:Sender"
                } else {
                    "soap:Receiver"
                },
            ))
            .child(Node::new("soap:Reason").field("soap:Text", f.text.as_str()))
            .child(Node::new("soap:Detail")),
    };
    xml_response(500, version, soap::envelope(version, None, &body))
}

fn xml_response(status: u16, version: SoapVersion, body: String) -> ResponseTemplate {
    let ct = match version {
        SoapVersion::V11 => "text/xml; charset=utf-8",
        SoapVersion::V12 => "application/soap+xml; charset=utf-8",
    };
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), ct)
}

fn service_of(op: &str) -> Option<wire::Service> {
    use wire::Service::*;
    Some(match op {
        "CreateCustomer"
        | "CreateCustomerForDealer"
        | "GetCustomerInfo"
        | "GetCustomerList"
        | "LookupCustomerIdFromDealerCustomerId"
        | "ChangeServicePlan"
        | "ChangeServicePlanValidationOnly"
        | "SetAddOnQuantity"
        | "TerminateCustomer" => CustomerManagement,
        "GetBillingEvents" | "SetCustomerBillingSummary" => CustomerManagement,
        "CreateCommitment" | "GetCommitmentInfo" | "UpdateCommitment" | "ActivateCommitment" => {
            CustomerManagement
        }
        "GetPackageIds"
        | "GetLatestCallerVersion"
        | "GetLoginRoles"
        | "SetSecurityTraxSettings"
        | "GetBuilderPrograms" => DealerManagement,
        _ => return None,
    })
}

/// The HTTP and SOAP checks every call passes before it reaches an operation.
fn route(state: &SimState, request: &wiremock::Request) -> Routed<AdcCall, SimCall> {
    let path = request.url.path().to_ascii_lowercase();
    let service = if path.ends_with("/webservices/customermanagement.asmx") {
        wire::Service::CustomerManagement
    } else if path.ends_with("/webservices/dealermanagement.asmx") {
        wire::Service::DealerManagement
    } else {
        return Routed::Answer(html_page(404, "The resource cannot be found."));
    };
    if request.method.as_str() != "POST" {
        return Routed::Answer(html_page(405, "Method not allowed"));
    }
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(mut root) = soap::stream::parse(&request.body) else {
        return Routed::Answer(fault_response(
            SoapVersion::V11,
            &fault(
                "Client",
                "Server was unable to read request. There is an error in XML document.",
            ),
        ));
    };
    let version = match root.namespace.as_deref() {
        Some(soap::SOAP11_NS) => SoapVersion::V11,
        Some(soap::SOAP12_NS) => SoapVersion::V12,
        _ => {
            return Routed::Answer(fault_response(
                SoapVersion::V11,
                &fault(
                    "VersionMismatch",
                    "Possible SOAP version mismatch: Envelope namespace was unexpected.",
                ),
            ));
        }
    };
    let Some(params) = root
        .take_child("Body")
        .and_then(|b| b.children.into_iter().next())
    else {
        return Routed::Answer(fault_response(
            version,
            &fault("Client", "The SOAP Body is empty."),
        ));
    };
    let op = params.name.clone();
    // The action must name the operation, in the form each version uses.
    let action = match version {
        SoapVersion::V11 => {
            if !content_type.starts_with("text/xml") {
                return Routed::Answer(ResponseTemplate::new(415));
            }
            request
                .headers
                .get("soapaction")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        }
        SoapVersion::V12 => {
            if !content_type.starts_with("application/soap+xml") {
                return Routed::Answer(ResponseTemplate::new(415));
            }
            content_type
                .split(';')
                .find_map(|p| p.trim().strip_prefix("action="))
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        }
    };
    if action != wire::action(&op)
        || params.namespace.as_deref() != Some(wire::NAMESPACE)
        || service_of(&op) != Some(service)
        || (!state.serve_modelled && MODELLED_OPERATIONS.contains(&op.as_str()))
    {
        return Routed::Answer(fault_response(
            version,
            &fault(
                "Client",
                format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
            ),
        ));
    }

    // Authentication header.
    let auth = root
        .child("Header")
        .and_then(|h| h.child("Authentication"))
        .filter(|a| a.namespace.as_deref() == Some(wire::NAMESPACE));
    let user = auth
        .and_then(|a| a.child_text("User"))
        .unwrap_or("")
        .to_owned();
    let password = auth.and_then(|a| a.child_text("Password")).unwrap_or("");
    let login = match state.logins.get(&user) {
        Some(l) if l.password == password => l.clone(),
        _ => {
            return Routed::Answer(fault_response(
                version,
                &fault(
                    "Client",
                    "Authentication failed: invalid login or password.",
                ),
            ));
        }
    };
    Routed::Call {
        record: SimCall {
            operation: op.clone(),
            version,
        },
        call: AdcCall {
            version,
            op,
            params,
            user,
            login,
        },
    }
}

impl Wire for AlarmComWire {
    type State = SimState;
    type Call = AdcCall;
    type Record = SimCall;

    fn route(&self, state: &mut SimState, request: &wiremock::Request) -> Routed<AdcCall, SimCall> {
        route(state, request)
    }

    fn handle(&self, state: &mut SimState, call: AdcCall) -> ResponseTemplate {
        let AdcCall {
            version,
            op,
            params,
            user,
            login,
        } = call;
        match handle(state, &user, &login, &op, &params) {
            Ok(result) => {
                let body = Node::new(format!("{op}Response"))
                    .xmlns(wire::NAMESPACE)
                    .child(result);
                xml_response(200, version, soap::envelope(version, None, &body))
            }
            Err(f) => fault_response(version, &f),
        }
    }

    fn fault(&self, call: &AdcCall, text: &str) -> ResponseTemplate {
        fault_response(call.version, &fault("Server", text))
    }

    fn truncated(&self, call: &AdcCall) -> ResponseTemplate {
        let op = &call.op;
        let body = soap::envelope(
            call.version,
            None,
            &Node::new(format!("{op}Response"))
                .xmlns(wire::NAMESPACE)
                .field(format!("{op}Result"), "0"),
        );
        cut_off(&body)
    }
}

fn result(op: &str) -> Node {
    Node::new(format!("{op}Result"))
}

fn int_param(op_el: &Element, name: &str) -> Result<i64, Fault> {
    op_el
        .child_text(name)
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| fault("Client", format!("Server was unable to read request: parameter {name} is missing or not an integer.")))
}

fn success(op: &str, error: Option<String>) -> Node {
    result(op)
        .field("Success", if error.is_none() { "true" } else { "false" })
        .field("ErrorMessage", error.unwrap_or_default())
}

fn require_integration(login: &SimLogin) -> Result<(), Fault> {
    if login.can_integrate() {
        Ok(())
    } else if login.dealer_id.is_some() {
        Err(fault(
            "Client",
            format!("Permission denied: a custom role from the {INTEGRATION_TEMPLATE} template"),
        ))
    } else {
        Err(fault(
            "Client",
            format!("Permission denied: {INTEGRATION_ROLE}"),
        ))
    }
}

fn require_builder(login: &SimLogin) -> Result<(), Fault> {
    match login.builder_role_missing() {
        None => Ok(()),
        Some(role) => Err(fault("Client", format!("Permission denied: {role}"))),
    }
}

fn require_billing(login: &SimLogin) -> Result<(), Fault> {
    if login.permissions.iter().any(|p| p == BILLING_PERMISSION) {
        Ok(())
    } else {
        Err(fault(
            "Client",
            format!("Permission denied: {BILLING_PERMISSION}"),
        ))
    }
}

/// A pushed `SetCustomerBillingSummary` input, read back; `Err` is the `ErrorMessage`.
fn read_summary(input: &Element) -> Result<BillingSummary, String> {
    let money = |e: &Element, field: &str| -> Result<Money, String> {
        let cents = e
            .child_text(field)
            .and_then(|t| t.trim().parse::<i64>().ok())
            .ok_or_else(|| format!("{field} is not a whole number of cents."))?;
        Money::new(cents, e.child_text("CurrencyCode").unwrap_or("")).map_err(|e| format!("{e}."))
    };
    let date = |e: &Element, field: &str| {
        e.child_text(field)
            .and_then(super::billing::parse_date)
            .ok_or_else(|| format!("{field} is not a date."))
    };
    let mut invoices = Vec::new();
    for i in input
        .child("OpenInvoices")
        .map(|x| x.children.as_slice())
        .unwrap_or(&[])
    {
        invoices.push(Invoice::new(
            i.child_text("InvoiceReference").unwrap_or(""),
            date(i, "IssuedDate")?,
            date(i, "DueDate")?,
            money(i, "AmountDueInCents")?,
            i.child_text("IsRecurring") == Some("true"),
        ));
    }
    let mut payments = Vec::new();
    for p in input
        .child("PaymentHistory")
        .map(|x| x.children.as_slice())
        .unwrap_or(&[])
    {
        let paid_at = p
            .child_text("PaymentDate")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .ok_or("PaymentDate is not a date and time.")?;
        payments.push(PaymentRecord::new(
            p.child_text("PaymentId").unwrap_or(""),
            paid_at,
            money(p, "AmountInCents")?,
            p.child_text("InvoiceReference")
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            p.child_text("PaymentMethodSummary").unwrap_or(""),
        ));
    }
    Ok(BillingSummary::new(invoices, payments))
}

fn find_customer<'a>(
    state: &'a mut SimState,
    login: &SimLogin,
    id: i64,
) -> Result<&'a mut SimCustomer, Fault> {
    state
        .customers
        .get_mut(&id)
        .filter(|c| c.dealer_id == login.dealer_id)
        .ok_or_else(|| fault("Server", format!("Customer {id} was not found.")))
}

fn known_add_on(name: &str) -> bool {
    name.parse::<AddOnFeature>()
        .map(|f| !matches!(f, AddOnFeature::Other(_)))
        .unwrap_or(false)
}

fn handle(
    state: &mut SimState,
    user: &str,
    login: &SimLogin,
    op: &str,
    p: &Element,
) -> Result<Node, Fault> {
    match op {
        "GetLoginRoles" => {
            let mut roles = Node::new("Roles");
            for r in &login.legacy_roles {
                roles = roles.child(
                    Node::new("LoginRole")
                        .field("Name", r.as_str())
                        .field("IsLegacy", "true"),
                );
            }
            for (r, t) in &login.custom_roles {
                roles = roles.child(
                    Node::new("LoginRole")
                        .field("Name", r.as_str())
                        .field("IsLegacy", "false")
                        .opt_field("Template", t.as_deref()),
                );
            }
            let perms = Node::new("Permissions").children(
                login
                    .permissions
                    .iter()
                    .map(|x| Node::text_element("string", x.as_str())),
            );
            Ok(result(op)
                .field("LoginName", user)
                .child(roles)
                .child(perms))
        }
        "GetLatestCallerVersion" => Ok(result(op).text(CALLER_VERSION)),
        "SetSecurityTraxSettings" => {
            require_billing(login)?;
            let enable = p
                .child("input")
                .and_then(|i| i.child_text("EnableBillingSync"))
                .map(|t| t.trim() == "true")
                .ok_or_else(|| fault("Client", "input/EnableBillingSync is missing"))?;
            state.billing.active = enable;
            Ok(success(op, None))
        }
        "GetBillingEvents" => {
            require_integration(login)?;
            require_billing(login)?;
            if !state.billing.active {
                return Err(fault(
                    "Server",
                    "Billing sync is not active for this dealer; activate it with SetSecurityTraxSettings.",
                ));
            }
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let after = int_param(input, "AfterEventId")?;
            let max =
                usize::try_from(int_param(input, "MaxRecords")?.clamp(1, 1000)).unwrap_or(100);
            let visible: Vec<&SimBillingEvent> = state
                .billing
                .events
                .iter()
                .filter(|e| e.id > after)
                .filter(|e| {
                    state
                        .customers
                        .get(&e.customer)
                        .is_none_or(|c| c.dealer_id == login.dealer_id)
                })
                .collect();
            let has_more = visible.len() > max;
            let events = visible.into_iter().take(max).map(|e| {
                let mut node = Node::new("BillingEvent").field("EventId", e.id.to_string());
                for (k, v) in &e.fields {
                    node = node.field(k.as_str(), v.as_str());
                }
                node
            });
            Ok(result(op)
                .child(Node::new("Events").children(events))
                .field("HasMore", has_more.to_string()))
        }
        "SetCustomerBillingSummary" => {
            require_integration(login)?;
            require_billing(login)?;
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let id = int_param(input, "CustomerId")?;
            find_customer(state, login, id)?;
            match read_summary(input) {
                Ok(summary) => {
                    state.billing.summaries.insert(id, summary);
                    Ok(success(op, None))
                }
                Err(why) => Ok(success(op, Some(why))),
            }
        }
        "GetPackageIds" => {
            require_integration(login)?;
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            if input.child_text("CallerVersion") != Some(CALLER_VERSION) {
                return Err(fault(
                    "Client",
                    "The caller version is out of date; call GetLatestCallerVersion.",
                ));
            }
            let account_type = input.child_text("accountType").unwrap_or("");
            Ok(result(op).children(
                state
                    .packages
                    .iter()
                    .filter(|(_, _, _, t)| *t == account_type)
                    .map(|(id, name, group, _)| {
                        Node::new("PackageIdInfo")
                            .field("PackageId", id.to_string())
                            .field("PackageName", *name)
                            .field("PackageGroup", *group)
                    }),
            ))
        }
        "LookupCustomerIdFromDealerCustomerId" => {
            require_integration(login)?;
            let wanted = p.child_text("dealerCustomerId").unwrap_or("");
            // Modelled: a commitment is found like a customer (its id is a customer id).
            let id = state
                .customer_with_dealer_customer_id(login.dealer_id, wanted)
                .or_else(|| {
                    state
                        .commitments
                        .values()
                        .find(|c| c.dealer_customer_id == wanted && c.dealer_id == login.dealer_id)
                        .map(|c| c.id)
                })
                .unwrap_or(0);
            Ok(result(op).text(id.to_string()))
        }
        "CreateCustomer" | "CreateCustomerForDealer" => {
            require_integration(login)?;
            if op == "CreateCustomerForDealer" {
                let d = int_param(p, "dealerId")?;
                if login.dealer_id != Some(d) {
                    return Err(fault("Client", format!("Permission denied: dealer {d}")));
                }
            } else if login.dealer_id.is_some() {
                return Err(fault(
                    "Client",
                    "Permission denied: sub-dealer logins must use CreateCustomerForDealer",
                ));
            }
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let addr = input.child("CustomerAccountAddress");
            let text = |e: Option<&Element>, n: &str| {
                e.and_then(|e| e.child_text(n)).unwrap_or("").to_owned()
            };
            let first = text(addr, "FirstName");
            let last = text(addr, "LastName");
            let dealer_customer_id = text(Some(input), "DealerCustomerId");
            let package = text(Some(input), "PackageId");
            let error = if first.is_empty() && last.is_empty() {
                Some("The customer's name is required.".to_owned())
            } else if dealer_customer_id.is_empty() {
                Some("DealerCustomerId is required.".to_owned())
            } else if !package
                .parse::<i64>()
                .is_ok_and(|id| state.packages.iter().any(|p| p.0 == id))
            {
                Some(format!("Invalid package id `{package}`."))
            } else if !state.accept_duplicate_dealer_ids
                && dealer_customer_id_taken(state, login, &dealer_customer_id)
            {
                Some("A customer with this DealerCustomerId already exists.".to_owned())
            } else {
                None
            };
            let builder_program_id = text(Some(input), "BuilderProgramId");
            if !builder_program_id.is_empty() {
                require_builder(login)?;
            }
            let error = error.or_else(|| {
                (!builder_program_id.is_empty() && !known_program(state, &builder_program_id))
                    .then(|| format!("Invalid builder program id `{builder_program_id}`."))
            });
            let add_ons: BTreeSet<String> = input
                .child("AddOnFeatures")
                .map(|a| {
                    a.children
                        .iter()
                        .map(|c| c.text.trim().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let error = error.or_else(|| {
                add_ons
                    .iter()
                    .find(|a| !known_add_on(a))
                    .map(|a| format!("Invalid add-on feature `{a}`."))
            });
            let desired = text(Some(input), "DesiredLoginName");
            let error = error.or_else(|| {
                (!desired.is_empty() && state.login_names.contains(&desired))
                    .then(|| format!("The login name `{desired}` is already in use."))
            });
            if let Some(e) = error {
                return Ok(success(op, Some(e)).field("CustomerId", "0"));
            }
            state.next_id += 1;
            let id = state.next_id;
            let login_name = if desired.is_empty() {
                format!("cust{id}")
            } else {
                desired
            };
            state.add_customer(
                id,
                SimCustomer {
                    id,
                    dealer_customer_id,
                    dealer_id: login.dealer_id,
                    first_name: first,
                    last_name: last,
                    email: text(Some(input), "CustomerAccountEmail"),
                    phone: text(Some(input), "CustomerAccountPhone"),
                    login_name: login_name.clone(),
                    package_id: package.parse().unwrap_or(0),
                    add_ons,
                    quantities: BTreeMap::new(),
                    terminated: false,
                    panel_type: text(Some(input), "PanelType"),
                    modem_serial: text(Some(input), "ModemSerialNumber"),
                    property_type: text(Some(input), "PropertyType"),
                    forwarding: text(Some(input), "CentralStationForwardingOption"),
                    notification_emails: input
                        .child("CustomerNotifications")
                        .map(|n| {
                            n.children
                                .iter()
                                .map(|c| c.text.trim().to_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                    builder_program_id,
                },
            );
            Ok(success(op, None)
                .field("LoginName", login_name)
                .field("Password", format!("Tmp-{:x}", fastrand::u64(..)))
                .field("CustomerId", id.to_string()))
        }
        "GetCustomerInfo" => {
            require_integration(login)?;
            let id = int_param(p, "customerId")?;
            let c = find_customer(state, login, id)?;
            Ok(result(op)
                .field("CustomerId", c.id.to_string())
                .field("DealerCustomerId", c.dealer_customer_id.as_str())
                .field("FirstName", c.first_name.as_str())
                .field("LastName", c.last_name.as_str())
                .field("PrimaryEmail", c.email.as_str())
                .field("PrimaryPhoneNumber", c.phone.as_str())
                .field("LoginName", c.login_name.as_str())
                .field("IsTerminated", if c.terminated { "true" } else { "false" })
                .field("JoinDate", "2026-01-15T09:30:00")
                .child(
                    Node::new("ServicePlanInfo")
                        .field("PackageId", c.package_id.to_string())
                        .field("PlanType", "AI")
                        .child(
                            Node::new("Addons").children(
                                c.add_ons
                                    .iter()
                                    .map(|a| Node::text_element("AddOnFeatureEnum", a.as_str())),
                            ),
                        )
                        .child(
                            Node::new("AddonQuantities").children(c.quantities.iter().map(
                                |(a, q)| {
                                    Node::new("AddonQuantity")
                                        .field("AddOn", a.as_str())
                                        .field("Quantity", q.to_string())
                                },
                            )),
                        )
                        .field("TotalServicePrice", "0"),
                )
                .field("DealerId", login.dealer_id.unwrap_or(0).to_string()))
        }
        "GetCustomerList" => {
            require_integration(login)?;
            let include = p.child_text("includeTermed") == Some("true");
            Ok(result(op).children(
                state
                    .customers
                    .values()
                    .filter(|c| c.dealer_id == login.dealer_id && (include || !c.terminated))
                    .map(|c| Node::text_element("int", c.id.to_string())),
            ))
        }
        "ChangeServicePlan" | "ChangeServicePlanValidationOnly" => {
            require_integration(login)?;
            let id = int_param(p, "customerId")?;
            let package = int_param(p, "newPackageId")?;
            let known_package = state.packages.iter().any(|x| x.0 == package);
            let add_ons: BTreeSet<String> = p
                .child("addOnFeatures")
                .map(|a| {
                    a.children
                        .iter()
                        .map(|c| c.text.trim().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let c = find_customer(state, login, id)?;
            let error = if c.terminated {
                Some("The customer is terminated.".to_owned())
            } else if !known_package {
                Some(format!("Invalid package id `{package}`."))
            } else {
                add_ons
                    .iter()
                    .find(|a| !known_add_on(a))
                    .map(|a| format!("Invalid add-on feature `{a}`."))
            };
            if error.is_none() && op == "ChangeServicePlan" {
                c.package_id = package;
                c.add_ons = add_ons;
            }
            Ok(success(op, error))
        }
        "SetAddOnQuantity" => {
            require_integration(login)?;
            let id = int_param(p, "customerId")?;
            let quantity = int_param(p, "quantity")?;
            let add_on = p.child_text("addOn").unwrap_or("").to_owned();
            let c = find_customer(state, login, id)?;
            let error = if c.terminated {
                Some("The customer is terminated.".to_owned())
            } else if !known_add_on(&add_on) {
                Some(format!("Invalid add-on feature `{add_on}`."))
            } else if !(0..=100).contains(&quantity) {
                Some("The quantity must be between 0 and 100.".to_owned())
            } else {
                None
            };
            if error.is_none() {
                if quantity == 0 {
                    c.quantities.remove(&add_on);
                } else {
                    c.quantities.insert(add_on, quantity as u32);
                }
            }
            Ok(success(op, error))
        }
        "TerminateCustomer" => {
            require_integration(login)?;
            let id = int_param(p, "customerId")?;
            let c = find_customer(state, login, id)?;
            let changed = !c.terminated;
            c.terminated = true;
            Ok(result(op).text(if changed { "true" } else { "false" }))
        }
        "GetBuilderPrograms" => {
            require_integration(login)?;
            require_builder(login)?;
            Ok(result(op).children(state.programs.iter().map(|p| {
                Node::new("BuilderProgramInfo")
                    .field("BuilderProgramId", p.id.to_string())
                    .field("ProgramName", p.name.as_str())
                    .field("BuilderName", p.builder.as_str())
            })))
        }
        "CreateCommitment" => {
            require_integration(login)?;
            require_builder(login)?;
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let text = |e: Option<&Element>, n: &str| {
                e.and_then(|e| e.child_text(n))
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            let program = text(Some(input), "BuilderProgramId");
            let dealer_customer_id = text(Some(input), "DealerCustomerId");
            let addr = input.child("InstallationAddress");
            let address = ["Street1", "City", "State", "Zip", "CountryId"].map(|n| text(addr, n));
            let panel = text(Some(input), "ExpectedPanelType");
            let date = text(Some(input), "ExpectedInstallDate");
            let error = if !known_program(state, &program) {
                Some(format!("Invalid builder program id `{program}`."))
            } else if dealer_customer_id.is_empty() {
                Some("DealerCustomerId is required.".to_owned())
            } else if address[..4].iter().any(String::is_empty) {
                Some("The installation address is incomplete.".to_owned())
            } else if panel.is_empty() {
                Some("ExpectedPanelType is required.".to_owned())
            } else if super::builder::parse_date(&date).is_none() {
                Some("ExpectedInstallDate is not a date.".to_owned())
            } else if !state.accept_duplicate_dealer_ids
                && dealer_customer_id_taken(state, login, &dealer_customer_id)
            {
                Some(
                    "A customer or commitment with this DealerCustomerId already exists."
                        .to_owned(),
                )
            } else {
                None
            };
            if let Some(e) = error {
                return Ok(success(op, Some(e)).field("CommitmentId", "0"));
            }
            state.next_id += 1;
            let id = state.next_id;
            state.commitments.insert(
                id,
                SimCommitment {
                    id,
                    builder_program_id: program.parse().unwrap_or(0),
                    dealer_customer_id,
                    dealer_id: login.dealer_id,
                    address,
                    expected_panel_type: panel,
                    expected_install_date: date,
                    customer_id: None,
                },
            );
            Ok(success(op, None).field("CommitmentId", id.to_string()))
        }
        "GetCommitmentInfo" => {
            require_integration(login)?;
            require_builder(login)?;
            let id = int_param(p, "commitmentId")?;
            let c = find_commitment(state, login, id)?;
            let [street1, city, st, zip, country] = &c.address;
            Ok(result(op)
                .field("CommitmentId", c.id.to_string())
                .field("BuilderProgramId", c.builder_program_id.to_string())
                .field("DealerCustomerId", c.dealer_customer_id.as_str())
                .child(
                    Node::new("InstallationAddress")
                        .field("Street1", street1.as_str())
                        .field("City", city.as_str())
                        .field("State", st.as_str())
                        .field("Zip", zip.as_str())
                        .field("CountryId", country.as_str()),
                )
                .field("ExpectedPanelType", c.expected_panel_type.as_str())
                .field("ExpectedInstallDate", c.expected_install_date.as_str())
                .field(
                    "CommitmentStatus",
                    if c.customer_id.is_some() {
                        "Activated"
                    } else {
                        "Pending"
                    },
                )
                .field("CustomerId", c.customer_id.unwrap_or(0).to_string()))
        }
        "UpdateCommitment" => {
            require_integration(login)?;
            require_builder(login)?;
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let id = int_param(input, "CommitmentId")?;
            let panel = input.child_text("ExpectedPanelType").map(str::trim);
            let date = input.child_text("ExpectedInstallDate").map(str::trim);
            let c = find_commitment(state, login, id)?;
            let error = if c.customer_id.is_some() {
                Some("The commitment is already activated.".to_owned())
            } else if panel == Some("") {
                Some("ExpectedPanelType is empty.".to_owned())
            } else if date.is_some_and(|d| super::builder::parse_date(d).is_none()) {
                Some("ExpectedInstallDate is not a date.".to_owned())
            } else {
                None
            };
            if error.is_none() {
                if let Some(panel) = panel {
                    c.expected_panel_type = panel.to_owned();
                }
                if let Some(date) = date {
                    c.expected_install_date = date.to_owned();
                }
            }
            Ok(success(op, error))
        }
        "ActivateCommitment" => {
            require_integration(login)?;
            require_builder(login)?;
            let input = p
                .child("input")
                .ok_or_else(|| fault("Client", "input is missing"))?;
            let id = int_param(input, "CommitmentId")?;
            let text = |n: &str| input.child_text(n).unwrap_or("").trim().to_owned();
            let (panel, modem, package) = (
                text("PanelType"),
                text("ModemSerialNumber"),
                text("PackageId"),
            );
            let known_package = package
                .parse::<i64>()
                .is_ok_and(|id| state.packages.iter().any(|p| p.0 == id));
            let c = find_commitment(state, login, id)?.clone();
            let error = if c.customer_id.is_some() {
                Some("The commitment is already activated.".to_owned())
            } else if panel.is_empty() || modem.is_empty() {
                Some("PanelType and ModemSerialNumber are required.".to_owned())
            } else if !known_package {
                Some(format!("Invalid package id `{package}`."))
            } else {
                None
            };
            if let Some(e) = error {
                return Ok(success(op, Some(e)).field("CustomerId", "0"));
            }
            // Modelled: the commitment keeps its id as the customer's.
            state.add_customer(
                id,
                SimCustomer {
                    id,
                    dealer_customer_id: c.dealer_customer_id.clone(),
                    dealer_id: c.dealer_id,
                    first_name: String::new(),
                    last_name: String::new(),
                    email: String::new(),
                    phone: String::new(),
                    login_name: format!("cust{id}"),
                    package_id: package.parse().unwrap_or(0),
                    add_ons: BTreeSet::new(),
                    quantities: BTreeMap::new(),
                    terminated: false,
                    panel_type: panel,
                    modem_serial: modem,
                    property_type: "NotSet".into(),
                    forwarding: "NotSet".into(),
                    notification_emails: Vec::new(),
                    builder_program_id: c.builder_program_id.to_string(),
                },
            );
            if let Some(c) = state.commitments.get_mut(&id) {
                c.customer_id = Some(id);
            }
            Ok(success(op, None).field("CustomerId", id.to_string()))
        }
        other => Err(fault(
            "Client",
            format!("Server did not recognize the value of HTTP Header SOAPAction: {other}."),
        )),
    }
}

impl SimState {
    /// Stores a customer and indexes it.
    fn add_customer(&mut self, id: i64, customer: SimCustomer) {
        self.index(&customer);
        self.customers.insert(id, customer);
    }

    fn index(&mut self, c: &SimCustomer) {
        self.by_dealer_customer_id
            .entry((c.dealer_id, c.dealer_customer_id.clone()))
            .or_default()
            .insert(c.id);
        self.login_names.insert(c.login_name.clone());
    }

    /// Rebuilds the indexes (after a test edited customers in place).
    fn reindex(&mut self) {
        self.by_dealer_customer_id.clear();
        self.login_names.clear();
        let customers = std::mem::take(&mut self.customers);
        for c in customers.values() {
            self.index(c);
        }
        self.customers = customers;
    }

    /// The first customer (lowest id) of `dealer_id` with this dealer customer id.
    fn customer_with_dealer_customer_id(
        &self,
        dealer_id: Option<i64>,
        dealer_customer_id: &str,
    ) -> Option<i64> {
        self.by_dealer_customer_id
            .get(&(dealer_id, dealer_customer_id.to_owned()))
            .and_then(|ids| ids.first().copied())
    }
}

/// Whether a customer or a commitment of the login's dealer has this dealer customer id.
fn dealer_customer_id_taken(state: &SimState, login: &SimLogin, dealer_customer_id: &str) -> bool {
    state
        .customer_with_dealer_customer_id(login.dealer_id, dealer_customer_id)
        .is_some()
        || state
            .commitments
            .values()
            .any(|c| c.dealer_customer_id == dealer_customer_id && c.dealer_id == login.dealer_id)
}

fn known_program(state: &SimState, id: &str) -> bool {
    id.parse::<i64>()
        .is_ok_and(|id| state.programs.iter().any(|p| p.id == id))
}

fn find_commitment<'a>(
    state: &'a mut SimState,
    login: &SimLogin,
    id: i64,
) -> Result<&'a mut SimCommitment, Fault> {
    state
        .commitments
        .get_mut(&id)
        .filter(|c| c.dealer_id == login.dealer_id)
        .ok_or_else(|| fault("Server", format!("Commitment {id} was not found.")))
}
