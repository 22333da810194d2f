//! SOAP 1.1 and 1.2: an envelope writer, a hardened reader that turns faults of both versions
//! into typed errors, and the [`SoapClient`] every SOAP vendor sends its calls through.
//!
//! Two readers with the same rules: [`stream`], which decodes answers straight into typed
//! results without building a tree (what [`SoapClient`] uses), and [`parse`], which builds a
//! small element tree with quick-xml (kept for callers that want a tree, and as the reference
//! the streaming reader is tested against). Both refuse DTDs (so no entity can be declared or
//! expanded), resolve only the five predefined entities and character references, and limit
//! nesting depth and element count, so that a hostile answer costs bounded work.
//!
//! Requests are written by [`write`](WriteXml): straight into a reused buffer, from a [`Node`]
//! tree or from a closure that writes elements directly.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::Error;

mod client;
pub mod stream;
mod write;

pub use client::{SoapCall, SoapClient, SoapFailure};
pub use write::{WriteXml, XmlWriter, envelope_into, request_body};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Deepest nesting the reader accepts.
pub const MAX_DEPTH: usize = 64;
/// Most elements the reader accepts in one document.
pub const MAX_ELEMENTS: usize = 200_000;

/// The SOAP version of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml` and a `SOAPAction` header.
    #[default]
    V11,
    /// SOAP 1.2: `application/soap+xml` with an `action` parameter.
    V12,
}

impl SoapVersion {
    /// The envelope namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }

    /// The request headers for `action`: `(Content-Type, Some(SOAPAction))` for 1.1,
    /// `(Content-Type with action, None)` for 1.2.
    pub fn headers(self, action: &str) -> (String, Option<String>) {
        match self {
            SoapVersion::V11 => (
                "text/xml; charset=utf-8".to_owned(),
                Some(format!("\"{action}\"")),
            ),
            SoapVersion::V12 => (
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
                None,
            ),
        }
    }
}

/// An element to write. Text is escaped on writing.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    name: String,
    xmlns: Option<String>,
    text: Option<String>,
    children: Vec<Node>,
}

impl fmt::Debug for Node {
    /// Element names only: a node may hold credentials (the `Authentication` header).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("children", &self.children.len())
            .finish()
    }
}

impl Node {
    /// An element named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            xmlns: None,
            text: None,
            children: Vec::new(),
        }
    }

    /// An element with text.
    pub fn text_element(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(name).text(text)
    }

    /// Sets the default namespace (`xmlns="..."`).
    pub fn xmlns(mut self, ns: impl Into<String>) -> Self {
        self.xmlns = Some(ns.into());
        self
    }

    /// Sets the text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Adds a child.
    pub fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    /// Adds a child with text.
    pub fn field(self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.child(Node::text_element(name, text))
    }

    /// Adds a child with text when there is a value.
    pub fn opt_field(self, name: impl Into<String>, text: Option<impl Into<String>>) -> Self {
        match text {
            Some(t) => self.field(name, t),
            None => self,
        }
    }

    /// Adds children.
    pub fn children(mut self, children: impl IntoIterator<Item = Node>) -> Self {
        self.children.extend(children);
        self
    }

    /// Writes the element.
    pub fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        if let Some(ns) = &self.xmlns {
            out.push_str(" xmlns=\"");
            out.push_str(&quick_xml::escape::escape(ns.as_str()));
            out.push('"');
        }
        if self.text.is_none() && self.children.is_empty() {
            out.push_str(" />");
            return;
        }
        out.push('>');
        if let Some(t) = &self.text {
            out.push_str(&quick_xml::escape::escape(t.as_str()));
        }
        for c in &self.children {
            c.write(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// Writes a whole envelope. The envelope declares only the `soap` prefix; elements that need
/// the vendor's namespace declare it themselves.
pub fn envelope(version: SoapVersion, header: Option<&Node>, body: &Node) -> String {
    let mut out = Vec::with_capacity(1024);
    envelope_into(&mut out, version, header.map(|h| h as &dyn WriteXml), body);
    // Everything written came from `&str`s: always UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A parsed element: local name, namespace, attributes, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The namespace URI, when bound.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// Attributes by local name.
    pub attributes: Vec<(String, String)>,
    /// The text directly inside (concatenated; not trimmed).
    pub text: String,
    /// Child elements.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name` (local name).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Takes the first child named `name` out of this element.
    pub fn take_child(&mut self, name: &str) -> Option<Element> {
        let at = self.children.iter().position(|c| c.name == name)?;
        Some(self.children.remove(at))
    }

    /// Children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Follows a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut at = self;
        for n in names {
            at = at.child(n)?;
        }
        Some(at)
    }

    /// An attribute by local name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first descendant (depth first) named `name`.
    pub fn descendant(&self, name: &str) -> Option<&Element> {
        for c in &self.children {
            if c.name == name {
                return Some(c);
            }
            if let Some(d) = c.descendant(name) {
                return Some(d);
            }
        }
        None
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

/// The attributes of a start tag, each checked, `xmlns` declarations left out: (local name,
/// value).
fn read_attributes(
    start: &quick_xml::events::BytesStart<'_>,
    into: &mut Vec<(String, String)>,
) -> Result<(), XmlError> {
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError(format!("bad attribute: {e}")))?;
        let key = attr.key.as_ref();
        if key.starts_with("xmlns") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError(format!("bad attribute value: {e}")))?;
        into.push((local(key), value.into_owned()));
    }
    Ok(())
}

/// The character a reference in text stands for: a character reference, or one of the five
/// predefined entities. Any other entity is refused: none is ever declared or expanded.
fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    let ch = if r.is_char_ref() {
        r.resolve_char_ref()
            .map_err(|e| XmlError(format!("bad character reference: {e}")))?
    } else {
        match &**r {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => None,
        }
    };
    ch.ok_or_else(|| {
        XmlError("a reference to an undeclared entity (entities are not expanded)".into())
    })
}

/// Parses a document into its root element, with the limits of the module docs.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(input)
        .map_err(|e| XmlError(format!("the document is not UTF-8 ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let at = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError(format!("malformed XML after byte {at}: {e}")))?;
        let namespace = match ns {
            ResolveResult::Bound(n) => Some(n.as_ref().to_owned()),
            _ => None,
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError("content after the root element".into()));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError(format!("more than {MAX_ELEMENTS} elements")));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError(format!("nested deeper than {MAX_DEPTH} levels")));
                }
                let mut el = Element {
                    namespace,
                    name: local(e.name().as_ref()),
                    ..Element::default()
                };
                read_attributes(e, &mut el.attributes)?;
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError("an end tag without a start".into()))?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(c.into_inner().as_ref());
                }
            }
            Event::GeneralRef(r) => {
                let ch = resolve_reference(&r)?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::DocType(_) => {
                return Err(XmlError(
                    "the document has a DTD, which is refused (no entity is ever expanded)".into(),
                ));
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(format!(
            "the document ended early, inside <{}>",
            stack.last().map(|e| e.name.as_str()).unwrap_or("?")
        )));
    }
    root.ok_or_else(|| XmlError("the document is empty".into()))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// A SOAP fault, from either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// The version it came in.
    pub version: SoapVersion,
    /// The fault code (`soap:Client`, `soap:Sender`, ...).
    pub code: String,
    /// The fault text.
    pub reason: String,
    /// The detail element's text, if any.
    pub detail: Option<String>,
}

impl SoapFault {
    /// Whether the fault says the service does not know the operation (ASP.NET's "Server did
    /// not recognize the value of HTTP Header SOAPAction", or a missing action for SOAP 1.2):
    /// how a real service answers an operation the crate only modelled.
    pub fn is_unknown_operation(&self) -> bool {
        let text = self.reason.to_ascii_lowercase();
        text.contains("did not recognize the value of http header soapaction")
            || text.contains("unable to handle request without a valid action parameter")
            || text.contains("unknown operation")
    }
}

/// Why a SOAP answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapError {
    /// The vendor answered a fault.
    Fault(SoapFault),
    /// The answer is not a usable SOAP envelope.
    Invalid(String),
}

impl SoapError {
    /// The crate error: a client (sender) fault becomes [`Error::Rejected`], any other fault
    /// [`Error::Vendor`], each with its code and text; anything else
    /// [`Error::InvalidResponse`]. Vendor modules map the faults they know more precisely first.
    pub fn into_error(self, provider: &str, operation: &'static str) -> Error {
        let error = match self {
            SoapError::Fault(f) => {
                let local = f.code.rsplit(':').next().unwrap_or("");
                if local.eq_ignore_ascii_case("client") || local.eq_ignore_ascii_case("sender") {
                    Error::rejected(provider, operation, Some(f.code), f.reason)
                } else {
                    Error::vendor(provider, operation, Some(f.code), f.reason)
                }
            }
            SoapError::Invalid(detail) => Error::invalid_response(provider, operation, detail),
        };
        error.in_vendor_call(operation)
    }
}

/// Reads an envelope and returns the first element inside `Body` (the `<Op>Response`), or the
/// fault, or why the answer is unusable.
pub fn read_envelope(body: &[u8]) -> Result<Element, SoapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SoapError::Invalid("the answer is empty".into()));
    }
    if super::looks_like_html(body) {
        return Err(SoapError::Invalid(
            super::describe_body(reqwest::StatusCode::OK, body).replacen("HTTP 200 OK: ", "", 1),
        ));
    }
    let mut root =
        parse(body).map_err(|e| SoapError::Invalid(format!("not a SOAP envelope: {e}")))?;
    let version = match (root.name.as_str(), root.namespace.as_deref()) {
        ("Envelope", Some(SOAP11_NS)) => SoapVersion::V11,
        ("Envelope", Some(SOAP12_NS)) => SoapVersion::V12,
        ("Envelope", other) => {
            return Err(SoapError::Invalid(format!(
                "the envelope's namespace `{}` is neither SOAP 1.1 nor 1.2",
                other.unwrap_or("")
            )));
        }
        (name, _) => {
            return Err(SoapError::Invalid(format!(
                "the root element is <{name}>, not a SOAP Envelope"
            )));
        }
    };
    let body = root
        .children
        .iter_mut()
        .find(|c| c.name == "Body")
        .ok_or_else(|| SoapError::Invalid("the envelope has no Body".into()))?;
    if body.children.is_empty() {
        return Err(SoapError::Invalid("the SOAP Body is empty".into()));
    }
    let first = body.children.swap_remove(0);
    if first.name == "Fault" {
        return Err(SoapError::Fault(read_fault(version, &first)));
    }
    Ok(first)
}

fn read_fault(version: SoapVersion, fault: &Element) -> SoapFault {
    let text = |e: Option<&Element>| e.map(|e| e.text.trim().to_owned()).unwrap_or_default();
    match version {
        SoapVersion::V11 => SoapFault {
            version,
            code: text(fault.child("faultcode")),
            reason: text(fault.child("faultstring")),
            detail: fault
                .child("detail")
                .map(flatten_text)
                .filter(|t| !t.is_empty()),
        },
        SoapVersion::V12 => SoapFault {
            version,
            code: text(fault.path(&["Code", "Value"])),
            reason: fault
                .child("Reason")
                .and_then(|r| r.child("Text"))
                .map(|t| t.text.trim().to_owned())
                .unwrap_or_default(),
            detail: fault
                .child("Detail")
                .map(flatten_text)
                .filter(|t| !t.is_empty()),
        },
    }
}

fn flatten_text(e: &Element) -> String {
    let mut out = e.text.trim().to_owned();
    for c in &e.children {
        let t = flatten_text(c);
        if !t.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t);
        }
    }
    out
}

/// Whether `body` is a SOAP envelope holding a fault (read on the stream: no tree is built).
pub fn is_fault(body: &[u8]) -> bool {
    stream::is_fault(body)
}

/// The transport's answer hook for SOAP services: an HTTP 500 carrying a SOAP fault is the
/// vendor's definitive answer, not an outage (see [`Request::accept`](crate::http::Request::accept)).
pub fn accept_fault(status: reqwest::StatusCode, body: &[u8]) -> bool {
    status == reqwest::StatusCode::INTERNAL_SERVER_ERROR && is_fault(body)
}
#[cfg(test)]
#[path = "reader_proptest.rs"]
mod proptests;
