//! A stateful Brinks Home simulator speaking the MIDI dealer service (SOAP 1.1), on a loopback
//! [`wiremock::MockServer`].
//!
//! It checks what the real service checks on every call — the service path
//! (`/MIDI/MIDI.asmx`), the `SOAPAction`, the namespace, the `ApplicationIDHeader` (required
//! on `AccountOnline`, as public client code always sends it there, and checked wherever it is
//! sent), the user id and password — keeps sites in memory with their systems, contacts, site
//! options and site system options, reads the inner XML documents of the `xml` and `XMLData`
//! parameters with the crate's hardened reader, and answers .NET DataSets. The parts of the
//! format that are modelled rather than seen are listed in the
//! [Brinks Home provider docs](crate::providers::brinks_home).
//!
//! It is built on the [simulator core](crate::testkit::sim), which keeps the fault knobs,
//! latency and call log; this file is the wire format and the operations. A call is logged (and
//! counted by [`BrinksHomeSimulator::call_count`]) once it has passed the HTTP and SOAP checks,
//! the application id and the login. [`FaultKind::Fault`] is a `soap:Server` fault with that
//! text, [`FaultKind::ResultCode`] (MIDI has no result codes) a `soap:Server` fault saying
//! `result code <code>`. The simulator implements [`SimulatorControl`] for the resilience suite.
//!
//! Answers carry their DataSet inline (`xs:schema` and `diffgr:diffgram`), as ASMX writes a
//! `DataSet`; [`BrinksHomeSimulator::escaped_answers`] makes it send the data set as an escaped
//! document in the result's text instead, the other form the provider reads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wiremock::{MockServer, ResponseTemplate};

use super::wire::{self, RequestType, entity};
use crate::config::IspConfig;
use crate::http::soap::{self, Element, Node, SoapVersion};
use crate::model::{AccountId, ProvisionRequest};
pub use crate::testkit::faults::{FaultKind, FaultRule};
use crate::testkit::faults::{cut_off, html_page};
use crate::testkit::resilience::SimulatorControl;
use crate::testkit::sim::{CallRecord, Routed, Simulator, Wire};

/// The `GetData` entities only the crate's model knows.
pub use super::MODELLED_ENTITIES;

/// The user every simulator starts with.
pub const DEFAULT_USER: &str = "wsi_828070003";
/// Its password.
pub const DEFAULT_PASSWORD: &str = "sim-password-Bh1";
/// Its dealer (entity) number.
pub const DEALER_NUMBER: &str = "828070003";
/// The application id the simulator expects in the `ApplicationIDHeader`.
pub const APP_ID: &str = "sim-app-BH01";

const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
const DIFFGRAM_NS: &str = "urn:schemas-microsoft-com:xml-diffgram-v1";

/// A dealer services user known to the simulator.
#[derive(Debug, Clone)]
pub struct SimUser {
    /// The password.
    pub password: String,
    /// The dealer (entity) number its sites are serviced under.
    pub dealer_number: String,
    /// The cell providers `GetData` entity `CellProviders` lists for it.
    pub cell_providers: Vec<String>,
}

impl SimUser {
    /// A user of dealer `dealer_number` with the four cell providers public client code shows
    /// (`ALMCOM`, `ALMNET`, `TELULR`, `UPLINK`).
    pub fn new(password: &str, dealer_number: &str) -> Self {
        Self {
            password: password.into(),
            dealer_number: dealer_number.into(),
            cell_providers: ["ALMCOM", "ALMNET", "TELULR", "UPLINK"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Without Alarm.com (`ALMCOM`) among its cell providers.
    pub fn without_alarm_com(mut self) -> Self {
        self.cell_providers.retain(|p| p != wire::CELL_PROVIDER);
        self
    }
}

/// One site in the simulator, exactly as it was put online and changed since.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimSite {
    /// The CS number.
    pub cs_number: String,
    /// The `SiteSystem` attributes, by name, as sent.
    pub system: BTreeMap<String, String>,
    /// The `Contact` elements' attributes, in order.
    pub contacts: Vec<BTreeMap<String, String>>,
    /// The site options, `(option_id, option_value)`, in order.
    pub site_options: Vec<(String, String)>,
    /// The site system options, `(option_id, option_value)`, in order.
    pub system_options: Vec<(String, String)>,
    /// The confirmation number `AccountOnline` answered.
    pub confirmation: String,
}

impl SimSite {
    /// A site system option's value.
    pub fn option(&self, id: &str) -> Option<&str> {
        self.system_options
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
    }

    /// A site option's value.
    pub fn site_option(&self, id: &str) -> Option<&str> {
        self.site_options
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
    }

    /// The dealer customer id (site option `DLRCUSTID`).
    pub fn dealer_customer_id(&self) -> Option<&str> {
        self.site_option(wire::OPT_DEALER_CUSTOMER)
    }

    fn servco(&self) -> &str {
        self.system
            .get("servco_no")
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// One call the simulator received (after the HTTP, SOAP and login checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The operation (`GetData`, `AccountOnline`, `Update`).
    pub operation: String,
    /// `GetData`'s entity.
    pub entity: Option<String>,
    /// `Update`'s request type.
    pub request_type: Option<String>,
    /// The CS number the call named (`CustomerNumber`, `csNo`).
    pub cs_number: Option<String>,
}

impl CallRecord for SimCall {
    fn operation(&self) -> &str {
        &self.operation
    }
}

#[derive(Debug)]
struct SimState {
    users: BTreeMap<String, SimUser>,
    app_id: String,
    sites: BTreeMap<String, SimSite>,
    levels: Vec<(&'static str, &'static str)>,
    add_ons: Vec<(&'static str, &'static str)>,
    serve_modelled: bool,
    escaped: bool,
    list_levels: bool,
    confirmations: u64,
}

/// The simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct BrinksHomeSimulator {
    core: Simulator<MidiWire>,
}

static NEXT_SITE: AtomicU64 = AtomicU64::new(768_300_000);

/// Gives `request` the fields a Brinks Home site needs and a simulator accepts: a CS number not
/// used before in this process (`vendor_fields.cs_number`) and an Alarm.com module serial
/// (`vendor_fields.module_serial`).
pub fn fill_site_fields(request: &mut ProvisionRequest) {
    let n = NEXT_SITE.fetch_add(1, Ordering::SeqCst);
    request
        .vendor_fields
        .insert("cs_number".into(), n.to_string());
    request
        .vendor_fields
        .insert("module_serial".into(), format!("ADC{:09X}", n));
}

impl BrinksHomeSimulator {
    /// Starts a simulator on loopback with [`DEFAULT_USER`] (dealer [`DEALER_NUMBER`]), the
    /// service levels and add-ons public client code shows, and answers in the inline DataSet
    /// form.
    pub async fn start() -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            DEFAULT_USER.to_owned(),
            SimUser::new(DEFAULT_PASSWORD, DEALER_NUMBER),
        );
        let state = SimState {
            users,
            app_id: APP_ID.to_owned(),
            sites: BTreeMap::new(),
            levels: wire::SERVICE_LEVELS
                .iter()
                .map(|(code, name, _)| (*code, *name))
                .collect(),
            add_ons: wire::ADD_ONS.to_vec(),
            serve_modelled: true,
            escaped: false,
            list_levels: true,
            confirmations: 8_528_269,
        };
        Self {
            core: Simulator::start(MidiWire, state).await,
        }
    }

    /// The service URL to put in a configuration's endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/MIDI/MIDI.asmx", self.core.uri())
    }

    /// The wiremock server, for request inspection.
    pub fn server(&self) -> &MockServer {
        self.core.server()
    }

    /// A valid configuration for [`DEFAULT_USER`] on this simulator, default plan `RBI`.
    pub fn config(&self) -> IspConfig {
        self.config_for(DEFAULT_USER, DEFAULT_PASSWORD)
    }

    /// A valid configuration for a user on this simulator (its dealer number included; the
    /// default user's for an unknown one).
    pub fn config_for(&self, user: &str, password: &str) -> IspConfig {
        let dealer = self.core.with_state(|s| {
            s.users
                .get(user)
                .map(|u| u.dealer_number.clone())
                .unwrap_or_else(|| DEALER_NUMBER.to_owned())
        });
        let built = IspConfig::builder()
            .name(format!("Brinks Home simulator ({user})"))
            .provider(super::NAME)
            .endpoint(self.endpoint())
            .credential("app_id", APP_ID)
            .credential("user_name", user)
            .credential("password", password)
            .credential("entity", dealer)
            .default_plan("RBI")
            .build();
        match built {
            Ok(c) => c,
            Err(e) => panic!("simulator config is valid: {e}"),
        }
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, user: &str, details: SimUser) {
        self.core
            .with_state(|s| s.users.insert(user.to_owned(), details));
    }

    /// Whether the simulator answers the `GetData` entities the crate only modelled (see
    /// [`MODELLED_ENTITIES`]). Off, it answers them as it answers any entity it does not know:
    /// an `err_msg` saying the entity is invalid — so that tests show which main paths rest on
    /// seen calls.
    pub fn serve_modelled_entities(&self, serve: bool) {
        self.core.with_state(|s| s.serve_modelled = serve);
    }

    /// Whether answers carry their data set as an escaped document in the result's text
    /// (`true`) instead of inline (`false`, the default).
    pub fn escaped_answers(&self, escaped: bool) {
        self.core.with_state(|s| s.escaped = escaped);
    }

    /// Whether `Cellsvcs` lists the `ALMCOMINTSVC` levels (modelled rows). Off, it lists only
    /// the add-ons, and the provider falls back to the levels public client code shows.
    pub fn list_service_levels(&self, list: bool) {
        self.core.with_state(|s| s.list_levels = list);
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

    /// The sites.
    pub fn sites(&self) -> Vec<SimSite> {
        self.core
            .with_state(|s| s.sites.values().cloned().collect())
    }

    /// A site by CS number.
    pub fn site(&self, cs_number: &str) -> Option<SimSite> {
        self.core.with_state(|s| s.sites.get(cs_number).cloned())
    }

    /// How many sites keep this dealer customer id.
    pub fn sites_with_dealer_customer_id(&self, dealer_customer_id: &str) -> usize {
        self.core.with_state(|s| {
            s.sites
                .values()
                .filter(|site| site.dealer_customer_id() == Some(dealer_customer_id))
                .count()
        })
    }

    /// Changes a site in place (to stage vendor-side changes). Returns whether it exists.
    pub fn edit_site(&self, cs_number: &str, edit: impl FnOnce(&mut SimSite)) -> bool {
        self.core.with_state(|s| match s.sites.get_mut(cs_number) {
            Some(site) => {
                edit(site);
                true
            }
            None => false,
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

    /// How many `GetData` calls asked for `entity` (case-insensitive).
    pub fn entity_count(&self, entity: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| {
                c.entity
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(entity))
            })
            .count()
    }
}

/// The resilience suite drives the simulator as the default user sees it: it creates with
/// `AccountOnline`, looks up and reads with `GetData`.
impl SimulatorControl for BrinksHomeSimulator {
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
        self.sites_with_dealer_customer_id(dealer_customer_id)
    }

    fn holds_account(&self, id: &AccountId) -> bool {
        self.site(id.as_str()).is_some()
    }

    fn add_unknown_feature(&self, id: &AccountId, feature: &str) -> bool {
        self.edit_site(id.as_str(), |site| {
            site.system_options
                .push((wire::add_on_option(feature), String::new()));
        })
    }

    fn create_operation(&self) -> &str {
        wire::ACCOUNT_ONLINE
    }

    fn lookup_operation(&self) -> &str {
        wire::GET_DATA
    }

    fn read_operation(&self) -> &str {
        wire::GET_DATA
    }
}

/// The MIDI service's side of the simulator.
struct MidiWire;

/// A call that passed the HTTP and SOAP checks, the application id and the login.
struct MidiCall {
    op: String,
    /// The operation element (the first child of the SOAP body).
    params: Element,
    user: SimUser,
}

/// A DataSet row: column names and values, in order.
type Row = Vec<(String, String)>;

fn row<const N: usize>(columns: [(&str, &str); N]) -> Row {
    columns
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn xml_response(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "text/xml; charset=utf-8")
}

fn fault_response(code: &str, text: &str) -> ResponseTemplate {
    let body = Node::new("soap:Fault")
        .field("faultcode", format!("soap:{code}"))
        .field("faultstring", text)
        .child(Node::new("detail"));
    xml_response(500, soap::envelope(SoapVersion::V11, None, &body))
}

/// The answer of `op`: its rows as a DataSet, inline or as an escaped document.
fn dataset_response(op: &str, rows: Vec<Row>, escaped: bool) -> ResponseTemplate {
    xml_response(200, dataset_envelope(op, rows, escaped))
}

fn dataset_envelope(op: &str, rows: Vec<Row>, escaped: bool) -> String {
    let set = Node::new("NewDataSet").children(rows.into_iter().map(|r| {
        Node::new("Table").children(r.into_iter().map(|(k, v)| Node::text_element(k, v)))
    }));
    let result = Node::new(format!("{op}Result"));
    let result = if escaped {
        let mut document = String::new();
        set.write(&mut document);
        result.text(document)
    } else {
        result.child(Node::new("schema").xmlns(XS_NS)).child(
            Node::new("diffgram")
                .xmlns(DIFFGRAM_NS)
                .child(set.xmlns("")),
        )
    };
    let body = Node::new(format!("{op}Response"))
        .xmlns(wire::NAMESPACE)
        .child(result);
    soap::envelope(SoapVersion::V11, None, &body)
}

/// A `GetData` error row.
fn get_data_error(text: String) -> Vec<Row> {
    vec![row([("err_msg", text.as_str())])]
}

/// An `AccountOnline` or `Update` error row.
fn change_error(table: &str, text: String) -> Vec<Row> {
    vec![row([
        ("table_name", table),
        ("entry_id", ""),
        ("msg_type", "1"),
        ("err_no", "1"),
        ("err_text", text.as_str()),
    ])]
}

fn login_failed(op: &str, escaped: bool) -> ResponseTemplate {
    let text = "Login failed: invalid user ID or password.".to_owned();
    let rows = if op == wire::GET_DATA {
        get_data_error(text)
    } else {
        change_error("Login", text)
    };
    dataset_response(op, rows, escaped)
}

/// The HTTP and SOAP checks every call passes before it reaches an operation.
fn route(state: &SimState, request: &wiremock::Request) -> Routed<MidiCall, SimCall> {
    if !request
        .url
        .path()
        .to_ascii_lowercase()
        .ends_with("/midi/midi.asmx")
    {
        return Routed::Answer(html_page(404, "The resource cannot be found."));
    }
    if request.method.as_str() != "POST" {
        return Routed::Answer(html_page(405, "Method not allowed"));
    }
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("text/xml") {
        return Routed::Answer(ResponseTemplate::new(415));
    }
    let Ok(mut root) = soap::stream::parse(&request.body) else {
        return Routed::Answer(fault_response(
            "Client",
            "Server was unable to read request. There is an error in XML document.",
        ));
    };
    if root.name != "Envelope" || root.namespace.as_deref() != Some(soap::SOAP11_NS) {
        return Routed::Answer(fault_response(
            "VersionMismatch",
            "Possible SOAP version mismatch: Envelope namespace was unexpected.",
        ));
    }
    let header = root
        .child("Header")
        .and_then(|h| h.child("ApplicationIDHeader"))
        .filter(|h| h.namespace.as_deref() == Some(wire::NAMESPACE))
        .map(|h| h.child_text("appID").unwrap_or("").to_owned());
    let Some(params) = root
        .take_child("Body")
        .and_then(|b| b.children.into_iter().next())
    else {
        return Routed::Answer(fault_response("Client", "The SOAP Body is empty."));
    };
    let op = params.name.clone();
    let action = request
        .headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_matches('"')
        .to_owned();
    let known = [wire::GET_DATA, wire::ACCOUNT_ONLINE, wire::UPDATE].contains(&op.as_str());
    if !known
        || action != format!("{}{op}", wire::ACTION_BASE)
        || params.namespace.as_deref() != Some(wire::NAMESPACE)
    {
        return Routed::Answer(fault_response(
            "Client",
            &format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
        ));
    }
    match header.as_deref() {
        Some(app) if app != state.app_id => {
            return Routed::Answer(fault_response("Client", "Invalid application ID."));
        }
        None if op == wire::ACCOUNT_ONLINE => {
            return Routed::Answer(fault_response(
                "Client",
                "The ApplicationIDHeader with the application ID is required.",
            ));
        }
        _ => {}
    }
    let (user_field, password_field) = if op == wire::ACCOUNT_ONLINE {
        ("userName", "password")
    } else {
        ("UserID", "Password")
    };
    let user_name = params.child_text(user_field).unwrap_or("");
    let password = params.child_text(password_field).unwrap_or("");
    let user = match state.users.get(user_name) {
        Some(u) if u.password == password => u.clone(),
        _ => return Routed::Answer(login_failed(&op, state.escaped)),
    };
    let text = |name: &str| {
        params
            .child_text(name)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let record = SimCall {
        operation: op.clone(),
        entity: text("Entity"),
        request_type: text("RequestType"),
        cs_number: text("CustomerNumber").or_else(|| text("csNo")),
    };
    Routed::Call {
        record,
        call: MidiCall { op, params, user },
    }
}

impl Wire for MidiWire {
    type State = SimState;
    type Call = MidiCall;
    type Record = SimCall;

    fn route(
        &self,
        state: &mut SimState,
        request: &wiremock::Request,
    ) -> Routed<MidiCall, SimCall> {
        route(state, request)
    }

    fn handle(&self, state: &mut SimState, call: MidiCall) -> ResponseTemplate {
        let rows = match call.op.as_str() {
            wire::GET_DATA => get_data(state, &call.user, &call.params),
            wire::ACCOUNT_ONLINE => account_online(state, &call.user, &call.params),
            _ => update(state, &call.user, &call.params),
        };
        dataset_response(&call.op, rows, state.escaped)
    }

    fn fault(&self, _: &MidiCall, text: &str) -> ResponseTemplate {
        fault_response("Server", text)
    }

    fn truncated(&self, call: &MidiCall) -> ResponseTemplate {
        let rows = vec![row([
            ("cs_no", "768247000"),
            ("option_id", wire::OPT_CELL_PROVIDER),
            ("option_value", wire::CELL_PROVIDER),
        ])];
        cut_off(&dataset_envelope(&call.op, rows, false))
    }
}

/// The inner document of parameter `name`: its text, unescaped once by the envelope reader,
/// parsed with the crate's hardened reader.
fn inner_document(params: &Element, name: &str) -> Result<Element, String> {
    let text = params.child(name).map(|x| x.text.trim()).unwrap_or("");
    if text.is_empty() {
        return Err(format!("{name} is required."));
    }
    soap::stream::parse(text.as_bytes())
        .map_err(|e| format!("{name} is not a valid XML document: {e}."))
}

fn attributes(e: &Element) -> BTreeMap<String, String> {
    e.attributes.iter().cloned().collect()
}

fn options_of(list: Option<&Element>, element: &str) -> Vec<(String, String)> {
    list.map(|l| {
        l.children_named(element)
            .map(|o| {
                (
                    o.attribute("option_id").unwrap_or("").to_owned(),
                    o.attribute("option_value").unwrap_or("").to_owned(),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

fn is_cs_number(cs: &str) -> bool {
    super::spec::is_number(cs) && !cs.bytes().all(|b| b == b'0')
}

fn find_site<'a>(state: &'a SimState, user: &SimUser, cs: &str) -> Option<&'a SimSite> {
    state
        .sites
        .get(cs)
        .filter(|s| s.servco() == user.dealer_number)
}

/// Whether a site system option with this id and value may be set: an `ALMCOM` option must be
/// the service level with a known level, or a known add-on.
fn check_option(state: &SimState, id: &str, value: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("A site system option has no option_id.".into());
    }
    if id == wire::OPT_SERVICE_LEVEL {
        if !state.levels.iter().any(|(code, _)| *code == value) {
            return Err(format!(
                "Invalid value {value} for site system option {id}."
            ));
        }
    } else if let Some(add_on) = wire::add_on_of(id) {
        if !state.add_ons.iter().any(|(name, _)| *name == add_on) {
            return Err(format!("Invalid site system option {id}."));
        }
    }
    Ok(())
}

fn get_data(state: &SimState, user: &SimUser, p: &Element) -> Vec<Row> {
    let name = p.child_text("Entity").unwrap_or("");
    let cs = p.child_text("CustomerNumber").unwrap_or("");
    if !state.serve_modelled
        && MODELLED_ENTITIES
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name))
    {
        return get_data_error(format!("Invalid entity: {name}."));
    }
    let site =
        || find_site(state, user, cs).ok_or_else(|| format!("No site found for CS number {cs}."));
    let per_option = |site: &SimSite, options: &[(String, String)]| -> Vec<Row> {
        options
            .iter()
            .map(|(k, v)| {
                row([
                    ("cs_no", site.cs_number.as_str()),
                    ("option_id", k.as_str()),
                    ("option_value", v.as_str()),
                ])
            })
            .collect()
    };
    let answer: Result<Vec<Row>, String> = match name {
        n if n.eq_ignore_ascii_case(entity::CELL_PROVIDERS) => Ok(user
            .cell_providers
            .iter()
            .map(|c| {
                let descr = match c.as_str() {
                    "ALMCOM" => "Alarm.com",
                    "ALMNET" => "AlarmNet",
                    "TELULR" => "Tellular",
                    "UPLINK" => "Uplink",
                    _ => "",
                };
                row([("cell_provider", c.as_str()), ("descr", descr)])
            })
            .collect()),
        n if n.eq_ignore_ascii_case(entity::CELL_SERVICES) => inner_document(p, "XMLData")
            .and_then(|q| {
                let provider = q
                    .child("GetCellSvc")
                    .filter(|_| q.name == "GetCellSvcs")
                    .and_then(|c| c.attribute("cell_provider"))
                    .ok_or("XMLData is not a GetCellSvcs document with a cell_provider.")?;
                if provider != wire::CELL_PROVIDER {
                    return Ok(Vec::new());
                }
                let mut rows: Vec<Row> = Vec::new();
                if state.list_levels {
                    rows.extend(state.levels.iter().map(|(code, descr)| {
                        row([
                            ("option_id", wire::OPT_SERVICE_LEVEL),
                            ("option_value", *code),
                            ("descr", *descr),
                        ])
                    }));
                }
                rows.extend(state.add_ons.iter().map(|(name, descr)| {
                    let id = wire::add_on_option(name);
                    row([
                        ("option_id", id.as_str()),
                        ("option_value", ""),
                        ("descr", *descr),
                    ])
                }));
                Ok(rows)
            }),
        n if n.eq_ignore_ascii_case(entity::SITE_SYSTEMS) => site().map(|s| {
            let mut r = row([("cs_no", s.cs_number.as_str())]);
            r.extend(s.system.iter().map(|(k, v)| (k.clone(), v.clone())));
            vec![r]
        }),
        n if n.eq_ignore_ascii_case(entity::SITE_SYSTEM_OPTIONS) => {
            site().map(|s| per_option(s, &s.system_options))
        }
        n if n.eq_ignore_ascii_case(entity::SITE_OPTIONS) => {
            site().map(|s| per_option(s, &s.site_options))
        }
        n if n.eq_ignore_ascii_case(entity::CONTACTS) => site().map(|s| {
            s.contacts
                .iter()
                .map(|c| {
                    let mut r = row([("cs_no", s.cs_number.as_str())]);
                    r.extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
                    r
                })
                .collect()
        }),
        n if n.eq_ignore_ascii_case(entity::SITES) => inner_document(p, "XMLData").and_then(|q| {
            let filter = q
                .child("GetSite")
                .filter(|_| q.name == "GetSites")
                .ok_or("XMLData is not a GetSites document.")?;
            let by_dealer_id = filter.attribute("dealer_cust_id");
            let by_provider = filter.attribute("cell_provider");
            Ok(state
                .sites
                .values()
                .filter(|s| s.servco() == user.dealer_number)
                .filter(|s| by_dealer_id.is_none_or(|d| s.dealer_customer_id() == Some(d)))
                .filter(|s| {
                    by_provider.is_none_or(|p| s.option(wire::OPT_CELL_PROVIDER) == Some(p))
                })
                .map(|s| {
                    row([
                        ("cs_no", s.cs_number.as_str()),
                        ("dealer_cust_id", s.dealer_customer_id().unwrap_or("")),
                        (
                            "interactive_service",
                            s.option(wire::OPT_SERVICE_LEVEL).unwrap_or(""),
                        ),
                    ])
                })
                .collect())
        }),
        _ => Err(format!("Invalid entity: {name}.")),
    };
    answer.unwrap_or_else(get_data_error)
}

fn account_online(state: &mut SimState, user: &SimUser, p: &Element) -> Vec<Row> {
    let cs = p.child_text("csNo").unwrap_or("").to_owned();
    match put_online(state, user, p, &cs) {
        Ok(confirmation) => vec![row([
            ("table_name", "SiteOption"),
            ("entry_id", "Confirm#"),
            ("cs_no", cs.as_str()),
            ("msg_type", "0"),
            ("err_no", "0"),
            (
                "err_text",
                format!("Online confirmation #, {confirmation}; Digital").as_str(),
            ),
        ])],
        Err(text) => change_error("Account", text),
    }
}

/// Checks a new site completely, then stores it; nothing is stored when anything is wrong.
fn put_online(
    state: &mut SimState,
    user: &SimUser,
    p: &Element,
    cs: &str,
) -> Result<String, String> {
    if !is_cs_number(cs) {
        return Err("csNo is not a CS number.".into());
    }
    if state.sites.contains_key(cs) {
        return Err(format!("CS number {cs} is already online."));
    }
    let doc = inner_document(p, "xml")?;
    if doc.name != "Account" {
        return Err(format!(
            "The xml document is a {}, not an Account.",
            doc.name
        ));
    }
    let system = doc
        .child("SiteSystems")
        .and_then(|s| s.child("SiteSystem"))
        .ok_or("SiteSystems/SiteSystem is required.")?;
    let system = attributes(system);
    if system.get("site_name").is_none_or(|n| n.trim().is_empty()) {
        return Err("site_name is required.".into());
    }
    if system.get("servco_no") != Some(&user.dealer_number) {
        return Err("servco_no is not the dealer number of this user.".into());
    }
    let contacts: Vec<BTreeMap<String, String>> = doc
        .child("Contacts")
        .map(|c| c.children_named("Contact").map(attributes).collect())
        .unwrap_or_default();
    let site_options = options_of(doc.child("SiteOptions"), "SiteOption");
    let system_options = options_of(doc.child("SiteSystemOptions"), "SiteSystemOption");
    for (i, (id, value)) in system_options.iter().enumerate() {
        if system_options.iter().take(i).any(|(k, _)| k == id) {
            return Err(format!("Site system option {id} is given twice."));
        }
        check_option(state, id, value)?;
    }
    let option = |id: &str| {
        system_options
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
    };
    if option(wire::OPT_CELL_PROVIDER) == Some(wire::CELL_PROVIDER)
        && option(wire::OPT_MODULE_SERIAL).is_none_or(|m| m.trim().is_empty())
    {
        return Err(
            "CELLMAC (the Alarm.com module serial) is required with CELLPROV ALMCOM.".into(),
        );
    }
    state.confirmations += 1;
    let confirmation = format!("{:08}", state.confirmations);
    state.sites.insert(
        cs.to_owned(),
        SimSite {
            cs_number: cs.to_owned(),
            system,
            contacts,
            site_options,
            system_options,
            confirmation: confirmation.clone(),
        },
    );
    Ok(confirmation)
}

fn update(state: &mut SimState, user: &SimUser, p: &Element) -> Vec<Row> {
    match apply_update(state, user, p) {
        Ok(()) => vec![row([
            ("table_name", "SiteSystemOption"),
            ("entry_id", ""),
            ("msg_type", "0"),
            ("err_no", "0"),
            ("err_text", "Update applied."),
        ])],
        Err(text) => change_error("SiteSystemOption", text),
    }
}

/// Checks every option of an update, then applies them all; nothing changes when one is wrong.
fn apply_update(state: &mut SimState, user: &SimUser, p: &Element) -> Result<(), String> {
    let request_type = p
        .child_text("RequestType")
        .and_then(RequestType::from_code)
        .ok_or("RequestType must be A, C or D.")?;
    let cs = p.child_text("CustomerNumber").unwrap_or("").to_owned();
    let current = find_site(state, user, &cs)
        .ok_or_else(|| format!("No site found for CS number {cs}."))?
        .system_options
        .clone();
    let doc = inner_document(p, "XMLData")?;
    if doc.name != "Account" {
        return Err(format!(
            "The XMLData document is a {}, not an Account.",
            doc.name
        ));
    }
    let changes = options_of(doc.child("SiteSystemOptions"), "SiteSystemOption");
    if changes.is_empty() {
        return Err("The update names no site system option.".into());
    }
    for (id, value) in &changes {
        let present = current.iter().any(|(k, _)| k == id);
        match request_type {
            RequestType::Add if present => {
                return Err(format!(
                    "Site system option {id} is already set on CS number {cs}."
                ));
            }
            RequestType::Change | RequestType::Delete if !present => {
                return Err(format!(
                    "Site system option {id} is not set on CS number {cs}."
                ));
            }
            RequestType::Add | RequestType::Change => check_option(state, id, value)?,
            RequestType::Delete => {}
        }
    }
    let Some(site) = state.sites.get_mut(&cs) else {
        return Err(format!("No site found for CS number {cs}."));
    };
    for (id, value) in changes {
        match request_type {
            RequestType::Add => site.system_options.push((id, value)),
            RequestType::Change => {
                for (k, v) in &mut site.system_options {
                    if *k == id {
                        v.clone_from(&value);
                    }
                }
            }
            RequestType::Delete => site.system_options.retain(|(k, _)| *k != id),
        }
    }
    Ok(())
}
