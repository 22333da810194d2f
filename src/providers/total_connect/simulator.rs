//! A stateful Total Connect simulator on a loopback [`wiremock::MockServer`]: the TC2 SOAP
//! login service and the AlarmNet 360 dealer API.
//!
//! # What is seen and what is modelled
//!
//! - **Seen** (public client code and issue trackers): the SOAP 1.1 service at
//!   `TC21api/tc2.asmx` in the `https://services.alarmnet.com/TC2/` namespace, with
//!   `SOAPAction` = namespace + operation; `AuthenticateUserLogin(userName, password,
//!   ApplicationID, ApplicationVersion)` answering `ResultCode`, `ResultData` and a `SessionID`;
//!   `KeepAlive(SessionID)` and `Logout(SessionID)`; the result codes of
//!   [`RESULT_CODES`](super::RESULT_CODES) (-50004 for a bad user name or password, -100 for an unknown
//!   application, -123 for a locked account, -102 for an invalid session).
//! - **Modelled** (AlarmNet 360 has no public API): a JSON API under
//!   `AlarmNet360/api/v1/companies/{company_id}/` authorized with `Authorization: Bearer
//!   <SessionID>`, answering HTTP 200 with `ResultCode` / `ResultData` and a payload of the
//!   crate's wire types: `GET plans`, `GET accounts?dealerCustomerId=` (the lookup), `GET
//!   accounts?includeTerminated=`, `POST accounts`, `GET accounts/{id}`, `PUT
//!   accounts/{id}/services` (the full plan and feature set), `POST accounts/{id}/terminate`.
//!   Accounts are keyed by City, CS and Subscriber numbers plus the communicator's MAC and CRC;
//!   validation follows the published account rules (names, at most three phones, an e-mail of
//!   at most 50 characters, residential or commercial) and answers -501 with a sentence. An
//!   unknown account is -4002, a session of another company -9001.
//!
//! Nothing that comes in a request can panic the simulator: SOAP is read with the crate's
//! hardened reader and JSON with serde; anything unreadable gets the vendor's own refusal.
//!
//! The operation names used by [`FaultRule::on`] and [`TotalConnectSimulator::call_count`] are
//! `AuthenticateUserLogin`, `KeepAlive`, `Logout`, `GetPlans`, `FindAccounts` (both forms of
//! `GET accounts`), `CreateAccount`, `GetAccount`, `ChangeServices`, `TerminateAccount`,
//! `RegisterCallback` and `GetCallback`.
//!
//! # Alarm.net callbacks (modelled)
//!
//! `PUT callback` registers the dealer's callback URL and `GET callback` reads it back with the
//! last delivery attempt and the failures since the last success. The simulator *pushes*
//! callbacks too: [`TotalConnectSimulator::push`] posts a [`CallbackEvent`] body to the
//! registered URL, signed with [`DEFAULT_CALLBACK_SECRET`] (or the secrets given to
//! [`TotalConnectSimulator::set_callback_secrets`]) in the [`callbacks`](crate::callbacks)
//! scheme, and records the attempt; [`TotalConnectSimulator::push_tampered`] flips one bit of
//! the body after signing, and [`TotalConnectSimulator::push_raw`] sends any body and header.
//!
//! It is built on the [simulator core](crate::testkit::sim), which keeps the fault knobs,
//! latency and call log; this file is the two wire formats and the operations. A call is logged
//! once it has passed the routing checks (on the dealer API, before its session is checked: a
//! call refused with -102 or -9001 is counted but no fault knob applies to it). The simulator
//! implements [`SimulatorControl`] for the
//! resilience suite.
//!
//! Fault knobs ([`FaultKind`]) act on the wire format of the operation they catch:
//! [`FaultKind::Fault`] is a `soap:Server` fault on the login service and result code -999 with
//! that text on the dealer API; [`FaultKind::ResultCode`] answers that code (in a SOAP result or
//! a JSON answer) without doing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use wiremock::{MockServer, ResponseTemplate};

use crate::config::IspConfig;
use crate::http::soap::{self, Element, Node, SoapVersion};
use crate::model::AccountId;
use crate::providers::total_connect::callback::CallbackEvent;
use crate::providers::total_connect::wire::{
    self, AccountListReply, AccountRecord, AccountRef, AccountReply, CallbackRegistrationRequest,
    CallbackReply, CreateReply, PlanRecord, PlansReply, ResultStatus, ServicesChange, StatusReply,
};
pub use crate::testkit::faults::{FaultKind, FaultRule};
use crate::testkit::faults::{cut_off, cut_off_as, html_page};
use crate::testkit::resilience::SimulatorControl;
use crate::testkit::sim::{CallRecord, Routed, Simulator, Wire};

/// The user every simulator starts with, in [`COMPANY_ID`].
pub const DEFAULT_USER: &str = "tc-dealer-integration";
/// Its password.
pub const DEFAULT_PASSWORD: &str = "sim-password-Tc2";
/// The only `ApplicationID` the simulator accepts (others answer -100).
pub const APPLICATION_ID: &str = "SIM-APP-1";
/// The only `ApplicationVersion` the simulator accepts (others answer -100).
pub const APPLICATION_VERSION: &str = "1.0";
/// The dealer (company) id of [`DEFAULT_USER`].
pub const COMPANY_ID: &str = "24680";
/// The secret the simulator signs callbacks with until told otherwise
/// ([`TotalConnectSimulator::set_callback_secrets`]).
pub const DEFAULT_CALLBACK_SECRET: &str = "sim-callback-secret-Tc2-0001";

/// The plans every simulator lists: plan code, name, account type.
pub const PLANS: &[(&str, &str, &str)] = &[
    ("TC-BASIC", "Total Connect Basic", "Residential"),
    ("TC-AUTO", "Total Connect with Automation", "Residential"),
    ("TC-VIDEO", "Total Connect with Video", "Residential"),
    ("TC-COMM", "Total Connect Commercial", "Commercial"),
];

/// The features (add-ons) the simulator knows; any other is refused with -501.
pub const FEATURES: &[&str] = &[
    "VideoServices",
    "Automation",
    "Geofencing",
    "SmartScenes",
    "VoiceAssistant",
];

/// A dealer user known to the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// The password.
    pub password: String,
    /// The dealer (company) id the user acts for.
    pub company_id: String,
    /// Locked: every login answers -123.
    pub locked: bool,
}

impl SimUser {
    /// An unlocked user of [`COMPANY_ID`].
    pub fn new(password: &str) -> Self {
        Self {
            password: password.to_owned(),
            company_id: COMPANY_ID.to_owned(),
            locked: false,
        }
    }

    /// The same user in another company.
    pub fn in_company(mut self, company_id: &str) -> Self {
        self.company_id = company_id.to_owned();
        self
    }

    /// The same user, locked.
    pub fn locked(mut self) -> Self {
        self.locked = true;
        self
    }
}

/// One account in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAccount {
    /// The account id (digits).
    pub id: String,
    /// The company it belongs to.
    pub company_id: String,
    /// The dealer's own customer id.
    pub dealer_customer_id: Option<String>,
    /// City number.
    pub city_number: String,
    /// Central station number.
    pub cs_number: String,
    /// Subscriber number.
    pub subscriber_number: String,
    /// The communicator's MAC.
    pub mac_address: String,
    /// The communicator's CRC.
    pub crc: String,
    /// `Residential` or `Commercial`.
    pub account_type: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Phones as sent.
    pub phones: Vec<String>,
    /// E-mail as sent.
    pub email: Option<String>,
    /// Location name.
    pub location_name: String,
    /// Plan code.
    pub plan_code: String,
    /// Features.
    pub features: BTreeSet<String>,
    /// Terminated.
    pub terminated: bool,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

impl SimAccount {
    /// The account as the dealer API answers it.
    pub(crate) fn to_record(&self) -> AccountRecord {
        AccountRecord {
            account_id: self.id.clone(),
            dealer_customer_id: self.dealer_customer_id.clone(),
            city_number: self.city_number.clone(),
            cs_number: self.cs_number.clone(),
            subscriber_number: self.subscriber_number.clone(),
            mac_address: self.mac_address.clone(),
            crc: self.crc.clone(),
            account_type: self.account_type.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            phones: self.phones.clone(),
            email: self.email.clone(),
            location_name: self.location_name.clone(),
            plan_code: self.plan_code.clone(),
            features: self.features.iter().cloned().collect(),
            status: Some(
                if self.terminated {
                    "Terminated"
                } else {
                    "Active"
                }
                .to_owned(),
            ),
            created_at: Some(self.created_at.clone()),
        }
    }
}

/// One call the simulator received (after the routing checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The operation (see the module docs for the names).
    pub operation: String,
    /// The session the call carried: the bearer token on the dealer API, the `SessionID`
    /// parameter of `KeepAlive` / `Logout`; `None` for the login or when missing.
    pub session_id: Option<String>,
}

impl CallRecord for SimCall {
    fn operation(&self) -> &str {
        &self.operation
    }
}

#[derive(Debug)]
struct SimState {
    users: BTreeMap<String, SimUser>,
    /// Session id → user name.
    sessions: BTreeMap<String, String>,
    accounts: BTreeMap<String, SimAccount>,
    next_id: u64,
    login_count: usize,
    lock_after: Option<u32>,
    bad_logins: BTreeMap<String, u32>,
    /// The registered callback, when one is.
    callback: Option<SimCallback>,
    /// The secret callbacks are signed with, and the previous one while rotating.
    callback_secrets: (String, Option<String>),
}

/// The simulator's callback registration and what it knows of its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCallback {
    /// Where callbacks go.
    pub url: String,
    /// Whether they are sent.
    pub enabled: bool,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
    /// When the last push was tried (RFC 3339).
    pub last_attempt_at: Option<String>,
    /// Its HTTP status; `None` when it got no answer.
    pub last_attempt_status: Option<u16>,
    /// Failed pushes since the last successful one.
    pub failed_attempts: u64,
}

/// What a push got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The receiver's HTTP status; `None` when no answer came (refused, reset, timed out).
    pub status: Option<u16>,
    /// The receiver's answer body (or, without an answer, what went wrong).
    pub body: String,
}

impl PushReport {
    /// Whether the receiver answered 2xx.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct TotalConnectSimulator {
    core: Simulator<TotalConnectWire>,
    push_client: reqwest::Client,
}

impl TotalConnectSimulator {
    /// Starts a simulator on loopback with [`DEFAULT_USER`], the [`PLANS`] and no account.
    pub async fn start() -> Self {
        let mut users = BTreeMap::new();
        users.insert(DEFAULT_USER.to_owned(), SimUser::new(DEFAULT_PASSWORD));
        let state = SimState {
            users,
            sessions: BTreeMap::new(),
            accounts: BTreeMap::new(),
            next_id: 5_100_000,
            login_count: 0,
            lock_after: None,
            bad_logins: BTreeMap::new(),
            callback: None,
            callback_secrets: (DEFAULT_CALLBACK_SECRET.to_owned(), None),
        };
        Self {
            core: Simulator::start(TotalConnectWire, state).await,
            // Alarm.net expects an answer within 10 s.
            push_client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The host root to put in a configuration's endpoint (`http://127.0.0.1:port/`).
    pub fn endpoint(&self) -> String {
        format!("{}/", self.core.uri())
    }

    /// The wiremock server, for request inspection (and for mounting a mock in front of the
    /// simulator with a higher priority).
    pub fn server(&self) -> &MockServer {
        self.core.server()
    }

    /// A valid configuration for [`DEFAULT_USER`] on this simulator, default plan `TC-BASIC`.
    pub fn config(&self) -> IspConfig {
        self.config_for(DEFAULT_USER, DEFAULT_PASSWORD)
    }

    /// A valid configuration for a user on this simulator: its company id (or [`COMPANY_ID`]
    /// for a user the simulator does not know), the simulator's application id and version.
    pub fn config_for(&self, user: &str, password: &str) -> IspConfig {
        let company = self
            .core
            .with_state(|s| s.users.get(user).map(|u| u.company_id.clone()))
            .unwrap_or_else(|| COMPANY_ID.to_owned());
        let built = IspConfig::builder()
            .name(format!("Total Connect simulator ({user})"))
            .provider("total_connect")
            .endpoint(self.endpoint())
            .credential("user_name", user)
            .credential("password", password)
            .credential("application_id", APPLICATION_ID)
            .credential("application_version", APPLICATION_VERSION)
            .credential("company_id", company)
            .default_plan("TC-BASIC")
            .build();
        match built {
            Ok(c) => c,
            Err(e) => panic!("simulator config is valid: {e}"),
        }
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, name: &str, user: SimUser) {
        self.core
            .with_state(|s| s.users.insert(name.to_owned(), user));
    }

    /// A user as the simulator sees it now (for example, to check whether it got locked).
    pub fn user(&self, name: &str) -> Option<SimUser> {
        self.core.with_state(|s| s.users.get(name).cloned())
    }

    /// Arms a fault knob.
    pub fn inject(&self, rule: FaultRule) {
        self.core.inject(rule);
    }

    /// Removes every fault knob.
    pub fn clear_faults(&self) {
        self.core.clear_faults();
    }

    /// Adds latency to every answer of the services (see the
    /// [simulator core](crate::testkit::sim#latency)).
    pub fn set_latency(&self, latency: Duration) {
        self.core.set_latency(latency);
    }

    /// Ends every session issued so far: calls carrying one answer -102 until the client logs
    /// in again.
    pub fn expire_sessions(&self) {
        self.core.with_state(|s| s.sessions.clear());
    }

    /// How many sessions are valid now.
    pub fn active_sessions(&self) -> usize {
        self.core.with_state(|s| s.sessions.len())
    }

    /// Locks a user after `k` logins with a bad password (counted from now on, per user): the
    /// `k`-th answers -50004 and locks the user, every later login answers -123 whatever the
    /// password. This is the behaviour that makes clients stop after one rejection.
    pub fn lock_after_bad_logins(&self, k: u32) {
        self.core.with_state(|s| {
            s.lock_after = Some(k.max(1));
            s.bad_logins.clear();
        });
    }

    /// How many `AuthenticateUserLogin` requests reached the SOAP service, successful or not
    /// (a request with a wrong `SOAPAction` included).
    pub fn login_count(&self) -> usize {
        self.core.with_state(|s| s.login_count)
    }

    /// How many calls of `operation` were received.
    pub fn call_count(&self, operation: &str) -> usize {
        self.core.call_count(operation)
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<SimCall> {
        self.core.calls()
    }

    /// The accounts of every company, by id.
    pub fn accounts(&self) -> Vec<SimAccount> {
        self.core
            .with_state(|s| s.accounts.values().cloned().collect())
    }

    /// An account by id.
    pub fn account(&self, id: &str) -> Option<SimAccount> {
        self.core.with_state(|s| s.accounts.get(id).cloned())
    }

    /// Accounts (terminated included) with this dealer customer id.
    pub fn accounts_with_dealer_id(&self, dealer_customer_id: &str) -> usize {
        self.core.with_state(|s| {
            s.accounts
                .values()
                .filter(|a| a.dealer_customer_id.as_deref() == Some(dealer_customer_id))
                .count()
        })
    }

    /// A valid configuration for [`DEFAULT_USER`] that takes callbacks signed with
    /// [`DEFAULT_CALLBACK_SECRET`] (300 s tolerance), named `name`.
    pub fn config_with_callbacks(&self, name: &str) -> IspConfig {
        let built = self
            .config()
            .to_builder()
            .name(name)
            .callback(crate::config::CallbackConfig::new(DEFAULT_CALLBACK_SECRET))
            .build();
        match built {
            Ok(c) => c,
            Err(e) => panic!("simulator config with callbacks is valid: {e}"),
        }
    }

    /// Signs callbacks with `current` from now on, and with `previous` too when given (both
    /// `v1=` signatures are sent, as during a rotation).
    pub fn set_callback_secrets(&self, current: &str, previous: Option<&str>) {
        self.core.with_state(|s| {
            s.callback_secrets = (current.to_owned(), previous.map(str::to_owned));
        });
    }

    /// The callback registration as the simulator keeps it.
    pub fn callback(&self) -> Option<SimCallback> {
        self.core.with_state(|s| s.callback.clone())
    }

    /// Turns the registered callback on or off (as a dealer might in the vendor's portal).
    pub fn set_callback_enabled(&self, enabled: bool) {
        self.core.with_state(|s| {
            if let Some(c) = &mut s.callback {
                c.enabled = enabled;
            }
        });
    }

    /// Pushes `event` to the registered callback URL, signed now with the simulator's
    /// secret(s), and records the attempt in the registration (as `GET callback` reports it).
    /// Without an enabled registration nothing is sent and the report says so.
    pub async fn push(&self, event: &CallbackEvent) -> PushReport {
        self.push_at(event, chrono::Utc::now().timestamp()).await
    }

    /// [`push`](Self::push) signed with `timestamp` (Unix seconds) instead of now: for a
    /// receiver on an injected clock, or a late or early delivery.
    pub async fn push_at(&self, event: &CallbackEvent, timestamp: i64) -> PushReport {
        let body = event.to_body();
        let header = self.signature(timestamp, &body);
        self.push_raw(body, Some(header)).await
    }

    /// Pushes `event` signed correctly, then with one bit of the body flipped on the way (a
    /// receiver must reject it).
    pub async fn push_tampered(&self, event: &CallbackEvent) -> PushReport {
        let mut body = event.to_body();
        let header = self.signature(chrono::Utc::now().timestamp(), &body);
        if let Some(last) = body.iter().rposition(u8::is_ascii_alphanumeric) {
            if let Some(b) = body.get_mut(last) {
                *b ^= 0x01;
            }
        }
        self.push_raw(body, Some(header)).await
    }

    /// The signature header the simulator would send for `body` at `timestamp`.
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let (current, previous) = self.core.with_state(|s| s.callback_secrets.clone());
        let mut secrets = vec![current.as_str()];
        if let Some(p) = previous.as_deref() {
            secrets.push(p);
        }
        crate::callbacks::signature_header(timestamp, body, &secrets)
    }

    /// Pushes `body` with the signature header `signature` (none when `None`) as it is, to
    /// the registered URL, and records the attempt.
    pub async fn push_raw(&self, body: Vec<u8>, signature: Option<String>) -> PushReport {
        let target = self.core.with_state(|s| {
            s.callback
                .as_ref()
                .filter(|c| c.enabled)
                .map(|c| c.url.clone())
        });
        let Some(url) = target else {
            return PushReport {
                status: None,
                body: "no enabled callback URL is registered".to_owned(),
            };
        };
        let mut request = self
            .push_client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header(crate::callbacks::SIGNATURE_HEADER, signature);
        }
        let report = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                PushReport {
                    status: Some(status),
                    body: text,
                }
            }
            Err(e) => PushReport {
                status: None,
                body: e.to_string(),
            },
        };
        let delivered = report.delivered();
        let status = report.status;
        self.core.with_state(|s| {
            if let Some(c) = &mut s.callback {
                c.last_attempt_at =
                    Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                c.last_attempt_status = status;
                c.failed_attempts = if delivered {
                    0
                } else {
                    c.failed_attempts.saturating_add(1)
                };
            }
        });
        report
    }

    /// Changes an account in place (to stage vendor-side changes such as a feature this crate
    /// does not know). Returns whether the account exists.
    pub fn edit_account(&self, id: &str, edit: impl FnOnce(&mut SimAccount)) -> bool {
        self.core.with_state(|s| match s.accounts.get_mut(id) {
            Some(a) => {
                edit(a);
                true
            }
            None => false,
        })
    }
}

/// The resilience suite creates with `CreateAccount`, looks up with `FindAccounts` and reads
/// with `GetAccount`.
impl SimulatorControl for TotalConnectSimulator {
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
        TotalConnectSimulator::accounts_with_dealer_id(self, dealer_customer_id)
    }

    fn holds_account(&self, id: &AccountId) -> bool {
        self.account(id.as_str()).is_some()
    }

    fn add_unknown_feature(&self, id: &AccountId, feature: &str) -> bool {
        self.edit_account(id.as_str(), |a| {
            a.features.insert(feature.to_owned());
        })
    }

    fn create_operation(&self) -> &str {
        "CreateAccount"
    }

    fn lookup_operation(&self) -> &str {
        "FindAccounts"
    }

    fn read_operation(&self) -> &str {
        "GetAccount"
    }
}

/// Both services' side of the simulator.
struct TotalConnectWire;

/// A call of either service, routed and parsed.
enum TcCall {
    /// A call of the SOAP login service.
    Soap {
        op: String,
        /// The operation element (the first child of the SOAP body).
        params: Element,
    },
    /// A call of the dealer API.
    Api {
        op: &'static str,
        company: String,
        account_id: String,
        bearer: Option<String>,
        url: url::Url,
        body: Vec<u8>,
    },
}

impl Wire for TotalConnectWire {
    type State = SimState;
    type Call = TcCall;
    type Record = SimCall;

    fn route(&self, state: &mut SimState, request: &wiremock::Request) -> Routed<TcCall, SimCall> {
        let path = request.url.path();
        if path.eq_ignore_ascii_case(&format!("/{}", wire::SOAP_PATH)) {
            route_soap(state, request)
        } else if let Some(rest) =
            path.strip_prefix(format!("/{}companies/", wire::DEALER_API_PATH).as_str())
        {
            route_api(request, rest)
        } else {
            Routed::Answer(html_page(404, "The resource cannot be found."))
        }
    }

    fn refusal(&self, state: &mut SimState, call: &TcCall) -> Option<ResponseTemplate> {
        match call {
            TcCall::Soap { .. } => None,
            TcCall::Api {
                company, bearer, ..
            } => refusal_api(state, company, bearer.as_deref()),
        }
    }

    fn handle(&self, state: &mut SimState, call: TcCall) -> ResponseTemplate {
        match call {
            TcCall::Soap { op, params } => {
                let result = handle_soap(state, &op, &params);
                xml_response(200, soap_answer(&op, result))
            }
            TcCall::Api {
                op,
                company,
                account_id,
                url,
                body,
                ..
            } => json_response(
                200,
                handle_api(state, op, &company, &account_id, &url, &body),
            ),
        }
    }

    fn fault(&self, call: &TcCall, text: &str) -> ResponseTemplate {
        match call {
            TcCall::Soap { .. } => soap_fault("Server", text),
            TcCall::Api { .. } => json_response(200, status_only(-999, text)),
        }
    }

    fn result_code(&self, call: &TcCall, code: i64) -> ResponseTemplate {
        match call {
            TcCall::Soap { op, .. } => xml_response(
                200,
                soap_answer(op, soap_result(op, code, wire::meaning(code), None)),
            ),
            TcCall::Api { .. } => json_response(200, status_only(code, wire::meaning(code))),
        }
    }

    fn truncated(&self, call: &TcCall) -> ResponseTemplate {
        match call {
            TcCall::Soap { op, .. } => cut_off(&soap_answer(
                op,
                soap_result(op, 0, "Success", Some(&new_session_id())),
            )),
            TcCall::Api { .. } => cut_off_as(
                &to_json(&AccountListReply {
                    status: ok(),
                    accounts: vec![AccountRef {
                        account_id: "5100001".into(),
                        dealer_customer_id: None,
                    }],
                }),
                "application/json; charset=utf-8",
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The TC2 SOAP login service.

const SOAP_OPERATIONS: &[&str] = &["AuthenticateUserLogin", "KeepAlive", "Logout"];

fn soap_fault(code: &str, text: &str) -> ResponseTemplate {
    let body = Node::new("soap:Fault")
        .field("faultcode", format!("soap:{code}"))
        .field("faultstring", text)
        .child(Node::new("detail"));
    xml_response(500, soap::envelope(SoapVersion::V11, None, &body))
}

fn xml_response(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "text/xml; charset=utf-8")
}

fn soap_answer(op: &str, result: Node) -> String {
    let body = Node::new(format!("{op}Response"))
        .xmlns(wire::NAMESPACE)
        .child(result);
    soap::envelope(SoapVersion::V11, None, &body)
}

fn soap_result(op: &str, code: i64, data: &str, session: Option<&str>) -> Node {
    let data_node = if data.is_empty() {
        Node::new("ResultData")
    } else {
        Node::text_element("ResultData", data)
    };
    Node::new(format!("{op}Result"))
        .field("ResultCode", code.to_string())
        .child(data_node)
        .opt_field("SessionID", session)
}

fn new_session_id() -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u64(..0x1_0000_0000_0000)
    )
}

/// The HTTP and SOAP checks of the login service. Every `AuthenticateUserLogin` element that
/// arrives is counted as a login, even when its action is wrong.
fn route_soap(state: &mut SimState, request: &wiremock::Request) -> Routed<TcCall, SimCall> {
    if request.method.as_str() != "POST" {
        return Routed::Answer(html_page(405, "Method not allowed"));
    }
    let content_type = header(request, "content-type");
    if !content_type.starts_with("text/xml") {
        return Routed::Answer(ResponseTemplate::new(415));
    }
    let Ok(mut root) = soap::stream::parse(&request.body) else {
        return Routed::Answer(soap_fault(
            "Client",
            "Server was unable to read request. There is an error in XML document.",
        ));
    };
    if root.name != "Envelope" || root.namespace.as_deref() != Some(soap::SOAP11_NS) {
        return Routed::Answer(soap_fault(
            "VersionMismatch",
            "Possible SOAP version mismatch: Envelope namespace was unexpected.",
        ));
    }
    let Some(params) = root
        .take_child("Body")
        .and_then(|b| b.children.into_iter().next())
    else {
        return Routed::Answer(soap_fault("Client", "The SOAP Body is empty."));
    };
    let op = params.name.clone();
    if op == "AuthenticateUserLogin" {
        state.login_count += 1;
    }
    let action = header(request, "soapaction").trim_matches('"').to_owned();
    if !SOAP_OPERATIONS.contains(&op.as_str())
        || action != format!("{}{op}", wire::NAMESPACE)
        || params.namespace.as_deref() != Some(wire::NAMESPACE)
    {
        return Routed::Answer(soap_fault(
            "Client",
            &format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
        ));
    }
    let session_id = match op.as_str() {
        "AuthenticateUserLogin" => None,
        _ => params.child_text("SessionID").map(str::to_owned),
    };
    let record = SimCall {
        operation: op.clone(),
        session_id,
    };
    Routed::Call {
        record,
        call: TcCall::Soap { op, params },
    }
}

fn handle_soap(state: &mut SimState, op: &str, params: &Element) -> Node {
    match op {
        "AuthenticateUserLogin" => login(state, params),
        "KeepAlive" => {
            let valid = params
                .child_text("SessionID")
                .is_some_and(|s| state.sessions.contains_key(s));
            if valid {
                soap_result(op, 0, "", None)
            } else {
                soap_result(op, -102, "Invalid session", None)
            }
        }
        _ => {
            // Logout
            let removed = params
                .child_text("SessionID")
                .and_then(|s| state.sessions.remove(s));
            if removed.is_some() {
                soap_result(op, 0, "", None)
            } else {
                soap_result(op, -102, "Invalid session", None)
            }
        }
    }
}

fn login(state: &mut SimState, p: &Element) -> Node {
    const OP: &str = "AuthenticateUserLogin";
    let user = p.child_text("userName").unwrap_or("");
    let password = p.child_text("password").unwrap_or("");
    let app_id = p.child_text("ApplicationID").unwrap_or("");
    let app_version = p.child_text("ApplicationVersion").unwrap_or("");
    if app_id != APPLICATION_ID || app_version != APPLICATION_VERSION {
        return soap_result(
            OP,
            -100,
            "Authentication failed: the application id and version are not registered",
            None,
        );
    }
    let SimState {
        users,
        sessions,
        lock_after,
        bad_logins,
        ..
    } = state;
    let bad = "Input validation failed: bad user name or password";
    match users.get_mut(user) {
        None => soap_result(OP, -50004, bad, None),
        Some(u) if u.locked => soap_result(OP, -123, "The account is locked", None),
        Some(u) if u.password != password => {
            let n = bad_logins.entry(user.to_owned()).or_insert(0);
            *n += 1;
            if lock_after.is_some_and(|k| *n >= k) {
                u.locked = true;
            }
            soap_result(OP, -50004, bad, None)
        }
        Some(_) => {
            let session = new_session_id();
            sessions.insert(session.clone(), user.to_owned());
            soap_result(OP, 0, "Success", Some(&session))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The (modelled) AlarmNet 360 dealer API.

fn header(request: &wiremock::Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| {
        r#"{"ResultCode":-999,"ResultData":"the simulator could not write its answer"}"#.into()
    })
}

fn json_response(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/json; charset=utf-8")
}

/// An ASP.NET Web API style refusal that never reached the application (`{"Message": ...}`).
fn web_api_message(status: u16, message: String) -> ResponseTemplate {
    json_response(status, to_json(&serde_json::json!({ "Message": message })))
}

fn status(code: i64, data: impl Into<String>) -> ResultStatus {
    ResultStatus {
        code,
        data: data.into(),
    }
}

fn ok() -> ResultStatus {
    status(0, "Success")
}

fn status_only(code: i64, data: impl Into<String>) -> String {
    to_json(&StatusReply {
        status: status(code, data),
    })
}

enum Route<'a> {
    Op(&'static str, Option<&'a str>),
    WrongMethod,
    Unknown,
}

fn route<'a>(method: &str, tail: &[&'a str]) -> Route<'a> {
    match (method, tail) {
        ("GET", ["plans"]) => Route::Op("GetPlans", None),
        ("GET", ["accounts"]) => Route::Op("FindAccounts", None),
        ("POST", ["accounts"]) => Route::Op("CreateAccount", None),
        ("GET", ["accounts", id]) => Route::Op("GetAccount", Some(id)),
        ("PUT", ["accounts", id, "services"]) => Route::Op("ChangeServices", Some(id)),
        ("POST", ["accounts", id, "terminate"]) => Route::Op("TerminateAccount", Some(id)),
        ("PUT", ["callback"]) => Route::Op("RegisterCallback", None),
        ("GET", ["callback"]) => Route::Op("GetCallback", None),
        (
            _,
            ["plans"]
            | ["callback"]
            | ["accounts"]
            | ["accounts", _]
            | ["accounts", _, "services" | "terminate"],
        ) => Route::WrongMethod,
        _ => Route::Unknown,
    }
}

/// The routing checks of the dealer API (`rest` is the path after `companies/`): unknown
/// routes, wrong methods and bodies that are not JSON never reach the application.
fn route_api(request: &wiremock::Request, rest: &str) -> Routed<TcCall, SimCall> {
    let mut segments = rest.split('/');
    let company = segments.next().unwrap_or("").to_owned();
    let tail: Vec<&str> = segments.collect();
    let method = request.method.as_str();
    let (op, account_id) = match route(method, &tail) {
        Route::Op(op, id) => (op, id.unwrap_or("").to_owned()),
        Route::WrongMethod => {
            return Routed::Answer(web_api_message(
                405,
                format!("The requested resource does not support http method '{method}'."),
            ));
        }
        Route::Unknown => {
            return Routed::Answer(web_api_message(
                404,
                format!(
                    "No HTTP resource was found that matches the request URI '{}'.",
                    request.url.path()
                ),
            ));
        }
    };
    if matches!(op, "CreateAccount" | "ChangeServices" | "RegisterCallback") {
        let ct = header(request, "content-type");
        if !ct.starts_with("application/json") {
            return Routed::Answer(web_api_message(
                415,
                format!(
                    "The request entity's media type '{ct}' is not supported for this resource."
                ),
            ));
        }
    }
    let bearer = header(request, "authorization")
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned());
    let record = SimCall {
        operation: op.to_owned(),
        session_id: bearer.clone(),
    };
    let call = TcCall::Api {
        op,
        company,
        account_id,
        bearer,
        url: request.url.clone(),
        body: request.body.clone(),
    };
    Routed::Call { record, call }
}

/// The session, then the company: refused calls are counted but reach no operation.
fn refusal_api(state: &SimState, company: &str, bearer: Option<&str>) -> Option<ResponseTemplate> {
    let user = bearer
        .and_then(|b| state.sessions.get(b))
        .and_then(|name| state.users.get(name).map(|u| (name, u)));
    let Some((user_name, user)) = user else {
        return Some(json_response(200, status_only(-102, "Invalid session")));
    };
    (user.company_id != company).then(|| {
        json_response(
            200,
            status_only(
                -9001,
                format!("Authorization failed: {user_name} cannot act for company {company}"),
            ),
        )
    })
}

fn find<'a>(state: &'a mut SimState, company: &str, id: &str) -> Option<&'a mut SimAccount> {
    state
        .accounts
        .get_mut(id)
        .filter(|a| a.company_id == company)
}

fn invalid_location(id: &str) -> String {
    status_only(-4002, format!("Invalid location: no account {id}"))
}

fn known_plan(code: &str) -> bool {
    PLANS.iter().any(|(c, _, _)| *c == code)
}

fn unknown_features<'a>(features: &'a [String]) -> impl Iterator<Item = &'a String> + 'a {
    features.iter().filter(|f| !FEATURES.contains(&f.as_str()))
}

fn handle_api(
    state: &mut SimState,
    op: &str,
    company: &str,
    id: &str,
    url: &url::Url,
    body: &[u8],
) -> String {
    match op {
        "GetPlans" => to_json(&PlansReply {
            status: ok(),
            plans: PLANS
                .iter()
                .map(|(code, name, kind)| PlanRecord {
                    plan_code: (*code).to_owned(),
                    name: (*name).to_owned(),
                    account_type: Some((*kind).to_owned()),
                })
                .collect(),
        }),
        "FindAccounts" => {
            let mut dealer = None;
            let mut include_terminated = false;
            for (k, v) in url.query_pairs() {
                match k.as_ref() {
                    "dealerCustomerId" => dealer = Some(v.into_owned()),
                    "includeTerminated" => include_terminated = v.eq_ignore_ascii_case("true"),
                    _ => {}
                }
            }
            let accounts = state
                .accounts
                .values()
                .filter(|a| a.company_id == company)
                .filter(|a| match &dealer {
                    Some(d) => a.dealer_customer_id.as_deref() == Some(d.as_str()),
                    None => include_terminated || !a.terminated,
                })
                .map(|a| AccountRef {
                    account_id: a.id.clone(),
                    dealer_customer_id: a.dealer_customer_id.clone(),
                })
                .collect();
            to_json(&AccountListReply {
                status: ok(),
                accounts,
            })
        }
        "CreateAccount" => create(state, company, body),
        "GetAccount" => match find(state, company, id) {
            Some(a) => to_json(&AccountReply {
                status: ok(),
                account: Some(a.to_record()),
            }),
            None => invalid_location(id),
        },
        "ChangeServices" => {
            let change: ServicesChange = match serde_json::from_slice(body) {
                Ok(c) => c,
                Err(e) => return status_only(-501, format!("The request is invalid: {e}")),
            };
            let Some(a) = find(state, company, id) else {
                return invalid_location(id);
            };
            let error = if a.terminated {
                Some(format!(
                    "Account {id} is terminated; its services cannot change."
                ))
            } else if !known_plan(&change.plan_code) {
                Some(format!("PlanCode `{}` is unknown.", change.plan_code))
            } else {
                unknown_features(&change.features)
                    .next()
                    .map(|f| format!("Feature `{f}` is unknown."))
            };
            if let Some(e) = error {
                return status_only(-501, e);
            }
            a.plan_code = change.plan_code;
            a.features = change.features.into_iter().collect();
            status_only(0, "Success")
        }
        "RegisterCallback" => {
            let request: CallbackRegistrationRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return status_only(-501, format!("The request is invalid: {e}")),
            };
            let url = request.url.trim();
            let valid = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !valid {
                return status_only(-501, "Url must be an absolute http(s) URL.");
            }
            let record = SimCallback {
                url: url.to_owned(),
                enabled: request.enabled,
                registered_at: chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                last_attempt_at: None,
                last_attempt_status: None,
                failed_attempts: 0,
            };
            state.callback = Some(record.clone());
            to_json(&CallbackReply {
                status: ok(),
                callback: Some(callback_record(&record)),
            })
        }
        "GetCallback" => to_json(&CallbackReply {
            status: ok(),
            callback: state.callback.as_ref().map(callback_record),
        }),
        "TerminateAccount" => match find(state, company, id) {
            Some(a) => {
                a.terminated = true;
                status_only(0, "Success")
            }
            None => invalid_location(id),
        },
        other => status_only(-999, format!("unknown operation {other}")),
    }
}

fn callback_record(c: &SimCallback) -> wire::CallbackRecord {
    wire::CallbackRecord {
        url: c.url.clone(),
        enabled: c.enabled,
        registered_at: Some(c.registered_at.clone()),
        last_attempt_at: c.last_attempt_at.clone(),
        last_attempt_status: c.last_attempt_status,
        failed_attempts: c.failed_attempts,
    }
}

fn create(state: &mut SimState, company: &str, body: &[u8]) -> String {
    let record: AccountRecord = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return status_only(-501, format!("The request is invalid: {e}")),
    };
    let mut problems: Vec<String> = Vec::new();
    if !record.account_id.trim().is_empty() {
        problems.push("AccountId is assigned by AlarmNet; leave it empty.".into());
    }
    for (name, value) in [
        ("FirstName", &record.first_name),
        ("LastName", &record.last_name),
        ("CityNumber", &record.city_number),
        ("CsNumber", &record.cs_number),
        ("SubscriberNumber", &record.subscriber_number),
        ("MacAddress", &record.mac_address),
        ("Crc", &record.crc),
        ("LocationName", &record.location_name),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{name} is required."));
        }
    }
    let email = record.email.clone().filter(|e| !e.trim().is_empty());
    if let Some(e) = &email {
        let n = e.chars().count();
        if n > wire::MAX_EMAIL_CHARS {
            problems.push(format!(
                "Email must be at most {} characters (it has {n}).",
                wire::MAX_EMAIL_CHARS
            ));
        }
    }
    if record.phones.len() > wire::MAX_PHONES {
        problems.push(format!(
            "At most {} phone numbers are allowed (got {}).",
            wire::MAX_PHONES,
            record.phones.len()
        ));
    }
    if !matches!(record.account_type.as_str(), "Residential" | "Commercial") {
        problems.push(format!(
            "AccountType must be Residential or Commercial (got `{}`).",
            record.account_type
        ));
    }
    if !known_plan(&record.plan_code) {
        problems.push(format!("PlanCode `{}` is unknown.", record.plan_code));
    }
    for f in unknown_features(&record.features) {
        problems.push(format!("Feature `{f}` is unknown."));
    }
    let dealer = record
        .dealer_customer_id
        .clone()
        .filter(|d| !d.trim().is_empty());
    if state.accounts.values().any(|a| {
        !a.terminated
            && a.city_number == record.city_number
            && a.cs_number == record.cs_number
            && a.subscriber_number == record.subscriber_number
    }) {
        problems.push(format!(
            "An account with CityNumber {}, CsNumber {} and SubscriberNumber {} already exists.",
            record.city_number, record.cs_number, record.subscriber_number
        ));
    }
    if let Some(d) = &dealer {
        if state
            .accounts
            .values()
            .any(|a| a.company_id == company && a.dealer_customer_id.as_deref() == Some(d))
        {
            problems.push(format!(
                "An account with DealerCustomerId `{d}` already exists."
            ));
        }
    }
    if !problems.is_empty() {
        return to_json(&CreateReply {
            status: status(-501, format!("Invalid parameter: {}", problems.join(" "))),
            account_id: None,
        });
    }
    state.next_id += 1;
    let id = state.next_id.to_string();
    state.accounts.insert(
        id.clone(),
        SimAccount {
            id: id.clone(),
            company_id: company.to_owned(),
            dealer_customer_id: dealer,
            city_number: record.city_number,
            cs_number: record.cs_number,
            subscriber_number: record.subscriber_number,
            mac_address: record.mac_address,
            crc: record.crc,
            account_type: record.account_type,
            first_name: record.first_name,
            last_name: record.last_name,
            phones: record.phones,
            email,
            location_name: record.location_name,
            plan_code: record.plan_code,
            features: record.features.into_iter().collect(),
            terminated: false,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    );
    to_json(&CreateReply {
        status: ok(),
        account_id: Some(id),
    })
}
