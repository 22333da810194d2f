//! Brinks Home's wire format (the Monitronics MIDI dealer service): namespace, operations, the
//! inner XML documents its `xml`/`XMLData` parameters carry, and the DataSet answers. Nothing
//! here does I/O.
//!
//! Two layers of XML meet here, and each is written and read exactly once:
//!
//! - **Requests.** An inner document (`<Account>`, `<GetCellSvcs>`, ...) is written with
//!   quick-xml's writer ([`InnerNode::to_document`]: every attribute value escaped by the writer,
//!   never by hand), and the finished document becomes the *text* of a parameter element of the
//!   envelope ([`Node::field`]), which escapes it once more on writing. So `<` in a customer's
//!   name travels as `&amp;lt;`: escaped once inside the inner document, and the inner document
//!   escaped once as text.
//! - **Answers.** The envelope reader unescapes the result element's text once (it is element
//!   text); that text, when it is an inner document, is parsed by [`soap::stream::parse`] with the same
//!   limits (no DTD, no entity expansion, depth and element caps) as any vendor body. A .NET
//!   DataSet written inline (`xs:schema` and `diffgr:diffgram`) is read from the tree instead.
//!   See [`dataset`].

use std::fmt;

use quick_xml::Writer;

use crate::http::soap::{self, Element, Node};
use crate::model::{PlanId, ServicePlan};

/// The MIDI service's namespace (also the start of every `SOAPAction`).
pub(crate) const NAMESPACE: &str = "https://mimasweb.monitronics.net/MIDI/";
/// What every `SOAPAction` starts with (ASMX: the namespace, then the operation).
pub(crate) const ACTION_BASE: &str = NAMESPACE;
/// The service file under the MIDI folder.
pub(crate) const SERVICE_FILE: &str = "MIDI.asmx";

/// `GetData(Entity, UserID, Password, CustomerNumber, XMLData)`: reads (seen).
pub(crate) const GET_DATA: &str = "GetData";
/// `AccountOnline(userName, password, csNo, xml, creditRequestXml, purchaseInfoXml)`: puts a
/// new site online (seen).
pub(crate) const ACCOUNT_ONLINE: &str = "AccountOnline";
/// `Update(UserID, Password, RequestType, CustomerNumber, XMLData)`: adds, changes or deletes
/// parts of a site (the operation and its request types are seen; the element names are
/// modelled).
pub(crate) const UPDATE: &str = "Update";

/// The cell provider whose interactive service this provider sells: Alarm.com.
pub const CELL_PROVIDER: &str = "ALMCOM";
/// The site system option naming the cell provider (`CELLPROV=ALMCOM`).
pub(crate) const OPT_CELL_PROVIDER: &str = "CELLPROV";
/// The site system option carrying the Alarm.com module serial.
pub(crate) const OPT_MODULE_SERIAL: &str = "CELLMAC";
/// The site system option carrying the interactive service level (the plan).
pub(crate) const OPT_SERVICE_LEVEL: &str = "ALMCOMINTSVC";
/// Add-on options are `ALMCOM` followed by the add-on's name (`ALMCOMWEATHER`).
pub(crate) const ADD_ON_PREFIX: &str = "ALMCOM";
/// The site option that keeps the dealer's customer id (modelled).
pub(crate) const OPT_DEALER_CUSTOMER: &str = "DLRCUSTID";
/// `sitetype_id` of a residential site (seen).
pub(crate) const SITE_RESIDENTIAL: &str = "RBFM";
/// `sitetype_id` of a commercial site (seen).
pub(crate) const SITE_COMMERCIAL: &str = "CBFM";

/// The `GetData` entities the provider asks for.
pub(crate) mod entity {
    /// The cell providers the dealer may use (seen).
    pub(crate) const CELL_PROVIDERS: &str = "CellProviders";
    /// A cell provider's services (seen, with `<GetCellSvcs><GetCellSvc cell_provider=..>`).
    pub(crate) const CELL_SERVICES: &str = "Cellsvcs";
    /// A site's systems (seen).
    pub(crate) const SITE_SYSTEMS: &str = "Sitesystems";
    /// A site's contacts (seen).
    pub(crate) const CONTACTS: &str = "Contacts";
    /// A site's system options (the request document is seen; the entity name is modelled).
    pub(crate) const SITE_SYSTEM_OPTIONS: &str = "Sitesystemoptions";
    /// A site's options (modelled).
    pub(crate) const SITE_OPTIONS: &str = "Siteoptions";
    /// The dealer's sites found by dealer customer id or cell provider (modelled).
    pub(crate) const SITES: &str = "Sites";
}

/// The `GetData` entities only the crate's model knows. A service that does not know one
/// answers that the entity is invalid; the provider then carries on without it (see the
/// [provider docs](super)).
pub const MODELLED_ENTITIES: &[&str] = &[entity::SITE_OPTIONS, entity::SITES];

/// The interactive service levels (`ALMCOMINTSVC` values) public client code shows, with the
/// crate's names for them and the kind of site each is for. The codes are seen; the names
/// and kinds are modelled. Used when the service lists no level itself.
pub const SERVICE_LEVELS: &[(&str, &str, Option<&str>)] = &[
    ("RBI", "Residential Basic Interactive", Some("Residential")),
    (
        "RAI",
        "Residential Advanced Interactive",
        Some("Residential"),
    ),
    ("CBI", "Commercial Basic Interactive", Some("Commercial")),
    ("CAI", "Commercial Advanced Interactive", Some("Commercial")),
    ("INT", "Interactive Security", None),
    ("INTAUT", "Interactive Security + Automation", None),
    ("INTGLD", "Interactive Gold", None),
    ("HMCTR", "Home Control", None),
];

/// The add-ons public client code shows, as the crate names them (the option id after
/// `ALMCOM`), with a description (modelled).
pub const ADD_ONS: &[(&str, &str)] = &[
    ("WEATHER", "Weather to the panel"),
    ("SEVEREWEATHER", "Severe weather alerts"),
    ("IMGSNSRALRMS", "Image sensor alarms"),
    ("GARAGEDOOR", "Garage door control"),
    ("EMPWRENERGY", "Energy management (Z-Wave)"),
    ("EMPWRLOCKS", "Door locks (Z-Wave)"),
    ("LIFTMASTER", "LiftMaster garage doors"),
];

/// The site option id of an add-on named `feature` (`WEATHER` → `ALMCOMWEATHER`).
pub(crate) fn add_on_option(feature: &str) -> String {
    format!("{ADD_ON_PREFIX}{feature}")
}

/// The add-on a site system option stands for, if it is one: `ALMCOM` followed by a name,
/// other than the service level.
pub(crate) fn add_on_of(option_id: &str) -> Option<&str> {
    if option_id == OPT_SERVICE_LEVEL {
        return None;
    }
    option_id
        .strip_prefix(ADD_ON_PREFIX)
        .filter(|rest| !rest.is_empty())
}

/// Whether an add-on option's value says it is off (`false`, `N`, `0`); seen add-ons carry an
/// empty value, which means on.
pub(crate) fn add_on_is_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "false" | "n" | "no" | "0"
    )
}

/// The kind of site a plan is for: `Residential`, `Commercial`, or not known.
pub(crate) fn plan_kind(level: &str) -> Option<&'static str> {
    SERVICE_LEVELS
        .iter()
        .find(|(code, _, _)| *code == level)
        .and_then(|(_, _, kind)| *kind)
}

// ---------------------------------------------------------------------------------------------
// Envelope parameters.

/// The `ApplicationIDHeader` SOAP header.
pub(crate) fn application_header(app_id: &str) -> Node {
    Node::new("ApplicationIDHeader")
        .xmlns(NAMESPACE)
        .field("appID", app_id)
}

/// A `GetData` call. `xml_data`, when given, is an inner document: it becomes element text and
/// is escaped once on writing.
pub(crate) fn get_data(
    entity: &str,
    user: &str,
    password: &str,
    customer_number: Option<&str>,
    xml_data: Option<String>,
) -> Node {
    Node::new(GET_DATA)
        .xmlns(NAMESPACE)
        .field("Entity", entity)
        .field("UserID", user)
        .field("Password", password)
        .opt_field("CustomerNumber", customer_number)
        .opt_field("XMLData", xml_data)
}

/// An `AccountOnline` call with the `<Account>` document `account_xml` (escaped once on
/// writing). No credit request and no purchase information are sent.
pub(crate) fn account_online(
    user: &str,
    password: &str,
    cs_number: &str,
    account_xml: String,
) -> Node {
    Node::new(ACCOUNT_ONLINE)
        .xmlns(NAMESPACE)
        .field("userName", user)
        .field("password", password)
        .field("csNo", cs_number)
        .field("xml", account_xml)
        .field("creditRequestXml", "")
        .field("purchaseInfoXml", "")
}

/// What an `Update` does to the parts its document names (seen: request types A, C, D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// `A`: adds them.
    Add,
    /// `C`: changes their values.
    Change,
    /// `D`: deletes them.
    Delete,
}

impl RequestType {
    /// The value on the wire.
    pub fn code(self) -> &'static str {
        match self {
            RequestType::Add => "A",
            RequestType::Change => "C",
            RequestType::Delete => "D",
        }
    }

    /// The request type a code stands for.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim() {
            "A" | "a" => Some(RequestType::Add),
            "C" | "c" => Some(RequestType::Change),
            "D" | "d" => Some(RequestType::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An `Update` call (element names modelled) with the `<Account>` document `account_xml`.
pub(crate) fn update(
    user: &str,
    password: &str,
    request_type: RequestType,
    cs_number: &str,
    account_xml: String,
) -> Node {
    Node::new(UPDATE)
        .xmlns(NAMESPACE)
        .field("UserID", user)
        .field("Password", password)
        .field("RequestType", request_type.code())
        .field("CustomerNumber", cs_number)
        .field("XMLData", account_xml)
}

// ---------------------------------------------------------------------------------------------
// Inner documents.

/// An element of an inner document: a name, attributes (the MIDI documents keep their values in
/// attributes) and children. [`to_document`](Self::to_document) writes it with quick-xml's
/// writer, which escapes every attribute value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct InnerNode {
    name: &'static str,
    attributes: Vec<(&'static str, String)>,
    children: Vec<InnerNode>,
}

impl fmt::Debug for InnerNode {
    /// Names only: attribute values are customer data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InnerNode")
            .field("name", &self.name)
            .field("attributes", &self.attributes.len())
            .field("children", &self.children.len())
            .finish()
    }
}

impl InnerNode {
    /// An element named `name`.
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub(crate) fn attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push((name, value.into()));
        self
    }

    /// Adds an attribute when there is a value.
    pub(crate) fn opt_attr(self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// Adds a child.
    pub(crate) fn child(mut self, child: InnerNode) -> Self {
        self.children.push(child);
        self
    }

    /// Adds children.
    pub(crate) fn children(mut self, children: impl IntoIterator<Item = InnerNode>) -> Self {
        self.children.extend(children);
        self
    }

    fn write(&self, writer: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let element = writer
            .create_element(self.name)
            .with_attributes(self.attributes.iter().map(|(k, v)| (*k, v.as_str())));
        if self.children.is_empty() {
            element.write_empty()?;
        } else {
            element.write_inner_content(|w| {
                for c in &self.children {
                    c.write(w)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The document this element is the root of, written by quick-xml's writer.
    pub(crate) fn to_document(&self) -> Result<String, String> {
        let mut writer = Writer::new(Vec::new());
        self.write(&mut writer)
            .map_err(|e| format!("the inner document could not be written: {e}"))?;
        String::from_utf8(writer.into_inner())
            .map_err(|e| format!("the inner document is not UTF-8: {e}"))
    }
}

/// A `<SiteSystemOption option_id=".." option_value=".."/>`.
pub(crate) fn site_system_option(id: impl Into<String>, value: impl Into<String>) -> InnerNode {
    InnerNode::new("SiteSystemOption")
        .attr("option_id", id)
        .attr("option_value", value)
}

/// An `<Account>` document holding only these site system options (for `Update`).
pub(crate) fn options_document(options: impl IntoIterator<Item = InnerNode>) -> InnerNode {
    InnerNode::new("Account").child(InnerNode::new("SiteSystemOptions").children(options))
}

/// `<GetCellSvcs><GetCellSvc cell_provider=".."/></GetCellSvcs>` (seen).
pub(crate) fn cell_services_query(cell_provider: &str) -> InnerNode {
    InnerNode::new("GetCellSvcs")
        .child(InnerNode::new("GetCellSvc").attr("cell_provider", cell_provider))
}

/// `<GetSites><GetSite .. /></GetSites>` (modelled, in the form of the seen `Get*` queries).
pub(crate) fn sites_query(attribute: &'static str, value: &str) -> InnerNode {
    InnerNode::new("GetSites").child(InnerNode::new("GetSite").attr(attribute, value))
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// Why an answer could not be read (becomes `InvalidResponse`).
pub(crate) type ParseError = String;

/// One row of a DataSet answer: its table's element name and its columns in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    /// The table (the row element's name, `Table` for an unnamed one).
    pub(crate) table: String,
    /// The columns, by name, with their text as sent (a null column is absent).
    pub(crate) columns: Vec<(String, String)>,
}

impl Row {
    /// A column's text as sent.
    pub(crate) fn get(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(k, _)| k == column)
            .map(|(_, v)| v.as_str())
    }

    /// A column's text, trimmed; empty when absent.
    pub(crate) fn code(&self, column: &str) -> &str {
        self.get(column).map(str::trim).unwrap_or("")
    }
}

/// The rows of a DataSet answer (`<OpResult>`), in either form it may take:
///
/// - **inline**, as ASMX writes a `DataSet` return value: `xs:schema`, then `diffgr:diffgram`
///   holding the data set (`NewDataSet`) and its rows (public client code reads
///   `GetDataResult`'s content this way);
/// - **escaped**, the data set written as a document and sent as the result's text. The
///   envelope reader has already unescaped that text once; it is parsed here with
///   [`soap::stream::parse`] (the tree reader's limits and errors, read on the stream). A
///   malformed document is an error naming what is wrong.
///
/// An empty result has no rows.
pub(crate) fn dataset(result: &Element) -> Result<Vec<Row>, String> {
    let inline: Vec<&Element> = result
        .children
        .iter()
        .filter(|c| c.name != "schema")
        .collect();
    if !inline.is_empty() {
        let set = match inline.iter().find(|c| c.name == "diffgram") {
            Some(diffgram) => data_set_in(diffgram),
            None => inline.first().copied(),
        };
        return Ok(set.map(rows_of).unwrap_or_default());
    }
    let text = result.text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let root = soap::stream::parse(text.as_bytes()).map_err(|e| {
        format!(
            "the inner document of <{}> is not a readable XML document: {e}",
            result.name
        )
    })?;
    let set = if root.name == "diffgram" {
        data_set_in(&root)
    } else {
        Some(&root)
    };
    Ok(set.map(rows_of).unwrap_or_default())
}

/// The data set inside a diffgram (its first child other than `before` and `errors`).
fn data_set_in(diffgram: &Element) -> Option<&Element> {
    diffgram
        .children
        .iter()
        .find(|c| !matches!(c.name.as_str(), "before" | "errors"))
}

fn rows_of(set: &Element) -> Vec<Row> {
    set.children
        .iter()
        .filter(|r| r.name != "schema")
        .map(|r| Row {
            table: r.name.clone(),
            columns: r
                .children
                .iter()
                .map(|c| (c.name.clone(), c.text.clone()))
                .collect(),
        })
        .collect()
}

/// The error a `GetData` answer carries: the first row with a non-blank `err_msg` (seen).
pub(crate) fn get_data_error(rows: &[Row]) -> Option<&str> {
    rows.iter()
        .map(|r| r.code("err_msg"))
        .find(|m| !m.is_empty())
}

/// One message of an `AccountOnline` or `Update` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VendorMessage {
    /// `err_no`, when sent.
    pub(crate) number: Option<String>,
    /// `err_text`.
    pub(crate) text: String,
}

/// What an `AccountOnline` or `Update` answer says (seen: rows with `table_name`, `entry_id`,
/// `err_no`, `msg_type`, `err_text`; `msg_type` 0 is information, anything else an error; the
/// confirmation is the information row of table `SiteOption`, entry `Confirm#`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) errors: Vec<VendorMessage>,
    pub(crate) confirmation: Option<String>,
}

/// Reads the rows of an `AccountOnline` or `Update` answer. A row with a message but no
/// `msg_type` counts as an error (fails closed).
pub(crate) fn outcome(rows: &[Row]) -> Outcome {
    let mut out = Outcome::default();
    for row in rows {
        let text = row.code("err_text");
        let info = row.code("msg_type") == "0";
        if info {
            if row.code("table_name") == "SiteOption" && row.code("entry_id") == "Confirm#" {
                out.confirmation = Some(confirmation_number(text));
            }
            continue;
        }
        if text.is_empty() && row.get("msg_type").is_none() {
            continue;
        }
        out.errors.push(VendorMessage {
            number: Some(row.code("err_no").to_owned()).filter(|n| !n.is_empty()),
            text: if text.is_empty() {
                format!("message type {} without a text", row.code("msg_type"))
            } else {
                text.to_owned()
            },
        });
    }
    out
}

/// The number in `Online confirmation #, 08528269; Digital` (seen); the whole text when it has
/// another form.
fn confirmation_number(text: &str) -> String {
    match text.split_once(',') {
        Some((_, rest)) => rest
            .split(';')
            .next()
            .unwrap_or(rest)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
        None => text.to_owned(),
    }
}

/// What a vendor message means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Said {
    /// The user id, password or application id was refused.
    LoginFailed,
    /// The service does not know a `GetData` entity (how a modelled entity shows it is not
    /// there).
    UnknownEntity,
    /// The site (CS number) does not exist for this dealer.
    NotFound,
    /// The service refused the input.
    Refused,
}

/// Classifies a vendor message by its words (modelled: the texts are not public).
pub(crate) fn classify(text: &str) -> Said {
    let t = text.to_ascii_lowercase();
    if t.contains("login failed")
        || t.contains("invalid user")
        || t.contains("password")
        || t.contains("not authorized")
        || t.contains("authentication")
        || t.contains("application id")
    {
        Said::LoginFailed
    } else if t.contains("invalid entity") || t.contains("unknown entity") {
        Said::UnknownEntity
    } else if t.contains("not found") || t.contains("no site") {
        Said::NotFound
    } else {
        Said::Refused
    }
}

/// The site system options of a `Sitesystemoptions` answer: `option_id` and `option_value`.
pub(crate) fn options(rows: &[Row]) -> Result<Vec<(String, String)>, ParseError> {
    rows.iter()
        .map(|r| {
            let id = r.code("option_id");
            if id.is_empty() {
                return Err("an option row has no option_id".to_owned());
            }
            Ok((
                id.to_owned(),
                r.get("option_value").unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

/// The cell providers of a `CellProviders` answer (`cell_provider`, seen).
pub(crate) fn cell_providers(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| r.code("cell_provider").to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The service levels of a `Cellsvcs` answer for `ALMCOM`: the rows whose `option_id` is
/// `ALMCOMINTSVC`, with the level in `option_value` (modelled) and its description in `descr`
/// (seen). Rows for other options (add-ons) are skipped.
pub(crate) fn service_levels(rows: &[Row]) -> Vec<ServicePlan> {
    let mut plans: Vec<ServicePlan> = Vec::new();
    for r in rows {
        if r.code("option_id") != OPT_SERVICE_LEVEL {
            continue;
        }
        let level = r.code("option_value");
        if level.is_empty() || plans.iter().any(|p| p.id.as_str() == level) {
            continue;
        }
        let known = SERVICE_LEVELS.iter().find(|(code, _, _)| *code == level);
        let name = match r.code("descr") {
            "" => known.map_or(level, |(_, name, _)| *name),
            d => d,
        };
        plans.push(ServicePlan {
            id: PlanId::new(level),
            name: name.to_owned(),
            plan_type: plan_kind(level).map(str::to_owned),
        });
    }
    plans
}

/// The plans public client code shows ([`SERVICE_LEVELS`]).
pub(crate) fn seen_levels() -> Vec<ServicePlan> {
    SERVICE_LEVELS
        .iter()
        .map(|(code, name, kind)| ServicePlan {
            id: PlanId::new(*code),
            name: (*name).to_owned(),
            plan_type: kind.map(str::to_owned),
        })
        .collect()
}

/// One site of a `Sites` answer (modelled): its CS number and its service level (empty when the
/// interactive service is off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteRow {
    pub(crate) cs_number: String,
    pub(crate) service_level: String,
}

/// The sites of a `Sites` answer; a CS number that is not a number is refused.
pub(crate) fn sites(rows: &[Row]) -> Result<Vec<SiteRow>, ParseError> {
    rows.iter()
        .map(|r| {
            let cs = r.code("cs_no");
            if !super::spec::is_number(cs) || cs.bytes().all(|b| b == b'0') {
                return Err(format!(
                    "a site's cs_no is not a CS number ({} characters)",
                    cs.chars().count()
                ));
            }
            Ok(SiteRow {
                cs_number: cs.to_owned(),
                service_level: r.code("interactive_service").to_owned(),
            })
        })
        .collect()
}

/// The site options of a `Siteoptions` answer, as `(option_id, option_value)`.
pub(crate) fn site_options(rows: &[Row]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            (
                r.code("option_id").to_owned(),
                r.get("option_value").unwrap_or("").to_owned(),
            )
        })
        .filter(|(id, _)| !id.is_empty())
        .collect()
}

/// The customer of a `Contacts` answer: the contract signer (`contract_signer_flag` `Y`), else
/// the first contact. Names are kept exactly as sent.
pub(crate) fn signer(rows: &[Row]) -> Option<&Row> {
    rows.iter()
        .find(|r| r.code("contract_signer_flag").eq_ignore_ascii_case("Y"))
        .or_else(|| rows.first())
}

/// The answer readers are internal; their hostile-input tests live here.
#[cfg(test)]
mod tests {
    use super::*;

    const INLINE: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetDataResponse xmlns="https://mimasweb.monitronics.net/MIDI/"><GetDataResult><xs:schema id="NewDataSet" xmlns:xs="http://www.w3.org/2001/XMLSchema"/><diffgr:diffgram xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns=""><Table><first_name>Ada &amp; &lt;Co&gt;</first_name><last_name>Lovelace</last_name><contract_signer_flag>Y</contract_signer_flag></Table></NewDataSet></diffgr:diffgram></GetDataResult></GetDataResponse></soap:Body></soap:Envelope>"#;

    const ESCAPED: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetDataResponse xmlns="https://mimasweb.monitronics.net/MIDI/"><GetDataResult>&lt;NewDataSet&gt;&lt;Table&gt;&lt;first_name&gt;Ada &amp;amp; &amp;lt;Co&amp;gt;&lt;/first_name&gt;&lt;last_name&gt;Lovelace&lt;/last_name&gt;&lt;contract_signer_flag&gt;Y&lt;/contract_signer_flag&gt;&lt;/Table&gt;&lt;/NewDataSet&gt;</GetDataResult></GetDataResponse></soap:Body></soap:Envelope>"#;

    fn result_of(envelope: &str) -> Element {
        let mut response = soap::read_envelope(envelope.as_bytes()).expect("envelope");
        response.take_child("GetDataResult").expect("result")
    }

    #[test]
    fn both_forms_read_the_same_rows() {
        let inline = dataset(&result_of(INLINE)).expect("inline");
        let escaped = dataset(&result_of(ESCAPED)).expect("escaped");
        assert_eq!(inline, escaped);
        let row = signer(&inline).expect("a signer");
        assert_eq!(row.get("first_name"), Some("Ada & <Co>"));
        assert_eq!(row.table, "Table");
    }

    #[test]
    fn a_malformed_inner_document_is_an_error_not_a_panic() {
        let bad = ESCAPED.replace("&lt;/NewDataSet&gt;", "");
        let e = dataset(&result_of(&bad)).expect_err("malformed");
        assert!(e.contains("GetDataResult"), "{e}");
        let dtd = ESCAPED.replace(
            "&lt;NewDataSet&gt;",
            "&lt;!DOCTYPE x [&lt;!ENTITY a \"b\"&gt;]&gt;&lt;NewDataSet&gt;",
        );
        let e = dataset(&result_of(&dtd)).expect_err("a DTD");
        assert!(e.contains("DTD"), "{e}");
    }

    #[test]
    fn outcomes_find_errors_and_the_confirmation() {
        let row = |cols: &[(&str, &str)]| Row {
            table: "Table".into(),
            columns: cols
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let rows = vec![
            row(&[
                ("table_name", "SiteOption"),
                ("entry_id", "Confirm#"),
                ("msg_type", "0"),
                ("err_text", "Online confirmation #, 08528269; Digital"),
            ]),
            row(&[("msg_type", "1"), ("err_no", "17"), ("err_text", "Bad zip")]),
            row(&[("err_text", "no type")]),
        ];
        let o = outcome(&rows);
        assert_eq!(o.confirmation.as_deref(), Some("08528269"));
        assert_eq!(o.errors.len(), 2);
        assert_eq!(o.errors[0].number.as_deref(), Some("17"));
    }

    #[test]
    fn inner_documents_escape_every_attribute_value_once() {
        let doc = InnerNode::new("Contact")
            .attr("first_name", "O'Brien \"<&>\" ]]> Zoë")
            .to_document()
            .expect("document");
        assert_eq!(
            doc,
            "<Contact first_name=\"O&apos;Brien &quot;&lt;&amp;&gt;&quot; ]]&gt; Zoë\"/>"
        );
        let back = soap::parse(doc.as_bytes()).expect("parses");
        assert_eq!(
            back.attribute("first_name"),
            Some("O'Brien \"<&>\" ]]> Zoë")
        );
    }

    fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..rng.usize(1..6) {
            if v.is_empty() {
                break;
            }
            let at = rng.usize(..v.len());
            match rng.u8(..4) {
                0 => v[at] = rng.u8(..),
                1 => v.truncate(at),
                2 => v.insert(at, *rng.choice(b"<>&;/\"'=#x0 ").unwrap_or(&b'<')),
                _ => {
                    let end = (at + rng.usize(1..40)).min(v.len());
                    v.drain(at..end);
                }
            }
        }
        v
    }

    #[test]
    fn mutated_answers_never_panic_the_readers() {
        let mut rng = fastrand::Rng::with_seed(0xb21_4c5);
        let mut read = 0;
        for sample in [INLINE, ESCAPED] {
            for _ in 0..5_000 {
                let input = mutate(&mut rng, sample.as_bytes());
                let Ok(mut response) = soap::read_envelope(&input) else {
                    continue;
                };
                let Some(result) = response.take_child("GetDataResult") else {
                    continue;
                };
                if let Ok(rows) = dataset(&result) {
                    let _ = (signer(&rows), options(&rows), sites(&rows), outcome(&rows));
                    read += 1;
                }
            }
        }
        assert!(read > 0);
    }
}
