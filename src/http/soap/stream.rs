//! The streaming reader: SOAP answers decoded straight into typed results, without a tree.
//!
//! A [`Cursor`] walks a document with quick-xml's borrowing reader and applies every rule of
//! the tree reader ([`parse`](super::parse)) once, in one place: the document must be UTF-8 (a
//! leading byte order mark is skipped), a DTD is refused (so no entity can be declared or
//! expanded), only the five predefined entities and character references are resolved,
//! nesting is limited to [`MAX_DEPTH`] and the document to [`MAX_ELEMENTS`] elements, end tags
//! must match, nothing may follow the root element, and every attribute must be well formed.
//! Each problem is the same [`XmlError`], with the same text, as the tree reader's.
//!
//! Names and text are borrowed from the answer wherever the document allows it (a text with an
//! entity or character reference in it is the one case that allocates). Decoders read what
//! they need and leave the rest: [`read_response`] always reads the document to its end, so a
//! document the tree reader refuses is refused here too, whatever the decoder looked at, and a
//! problem of the document wins over whatever the decoder found, as it does in the tree reader.
//!
//! # The quick path
//!
//! quick-xml's namespace reader costs more than everything a decoder does with what it reads.
//! So [`read_response`] and [`parse`] first read on the quick path ([`Cursor::quick`]): a
//! tokenizer for the plain XML vendors send (elements, attributes, text, the five predefined
//! entities, an XML declaration at the start). On anything else (a comment, CDATA, a DTD, a
//! processing instruction, a character reference, a carriage return, an attribute value with a
//! reference or a line break, a reserved prefix, a repeated attribute, a name outside
//! `[A-Za-z0-9._:-]`, a limit reached, and every malformed construct) it gives up, and the
//! document is read again on quick-xml ([`Cursor::new`]), whose answer or error is the answer.
//! So the quick path never decides that a document is wrong, and a decoder may run twice (the
//! decoders are `Fn`). What it reads, it reads item for item as quick-xml does: the differential
//! tests (`tests/soap_stream.rs`) hold it to that on the corpus and 30,000 mutations.
//!
//! The tree reader stays: [`parse`] here builds the same [`Element`] tree from the stream (the
//! differential tests hold the two readers to the same answers), and [`read_envelope`] is
//! [`super::read_envelope`] on the stream.
//!
//! A vendor decoder is small: it gets the cursor inside the operation's `<OpResponse>`
//! element and reads the children it knows, usually through a [`Fields`] collector and
//! [`result_fields`], which applies the `<OpResult>` convention exactly as
//! [`SoapClient::call_result`](super::SoapClient::call_result) does on a tree.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{Element, MAX_DEPTH, MAX_ELEMENTS, SOAP11_NS, SOAP12_NS, SoapError, SoapVersion};
use super::{XmlError, read_attributes, read_fault, resolve_reference};

mod quick;

/// Text read from a document: borrowed from it unless a reference had to be resolved.
pub type Text<'a> = Cow<'a, str>;

/// One step through a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// An element starts (its local name). `<a/>` is a `Start` followed by an `End`.
    Start(Cow<'a, str>),
    /// Text or CDATA.
    Text(Text<'a>),
    /// A resolved entity or character reference.
    Char(char),
    /// The element that started last (and is still open) ends.
    End,
    /// The document ended, complete.
    Eof,
}

/// A position in a document being read. See the [module docs](self) for the rules it applies.
///
/// A cursor reads either on quick-xml ([`Cursor::new`]), which gives the exact answer or the
/// exact error for any document, or on the quick path ([`Cursor::quick`]), which reads the plain
/// XML vendors send several times faster and [gives up](Cursor::gave_up) on anything else, so
/// that the document is read again with [`Cursor::new`]. [`read_response`] and [`parse`] do
/// exactly that.
pub struct Cursor<'a> {
    inner: Inner<'a>,
    /// The first problem met; every later step reports it again.
    error: Option<XmlError>,
    /// The quick path gave up: the document must be read again on quick-xml.
    gave_up: bool,
}

enum Inner<'a> {
    Exact(Box<Exact<'a>>),
    Quick(quick::Quick<'a>),
}

/// The cursor on quick-xml's namespace reader.
struct Exact<'a> {
    input: &'a str,
    reader: NsReader<&'a [u8]>,
    /// Local names of the open elements, outermost first.
    open: Vec<Cow<'a, str>>,
    count: usize,
    root_closed: bool,
    /// The last start was `<a/>`: its end is reported next.
    pending_end: bool,
    /// The namespace of the last start, when bound.
    ns: String,
    ns_bound: bool,
    /// The last start, for [`Cursor::element`]'s attributes.
    start: Option<BytesStart<'a>>,
}

impl std::fmt::Debug for Cursor<'_> {
    /// The position and depth only: a document may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("quick", &matches!(self.inner, Inner::Quick(_)))
            .field("position", &self.position())
            .field("depth", &self.depth())
            .field("error", &self.error)
            .field("gave_up", &self.gave_up)
            .finish()
    }
}

/// The local name of a qualified name (after its last colon), as the tree reader takes it.
fn local(name: &str) -> &str {
    // Names are short: a plain backward scan beats a `memrchr` call.
    match name.bytes().rposition(|b| b == b':') {
        Some(at) => name.get(at + 1..).unwrap_or(name),
        None => name,
    }
}

/// `input` as text, without its byte order mark.
fn utf8(input: &[u8]) -> Result<&str, XmlError> {
    let text = std::str::from_utf8(input)
        .map_err(|e| XmlError(format!("the document is not UTF-8 ({e})")))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

impl<'a> Exact<'a> {
    fn new(text: &'a str) -> Self {
        let mut reader = NsReader::from_str(text);
        reader.config_mut().check_end_names = true;
        Self {
            input: text,
            reader,
            open: Vec::with_capacity(16),
            count: 0,
            root_closed: false,
            pending_end: false,
            ns: String::new(),
            ns_bound: false,
            start: None,
        }
    }

    /// `part` as a slice of the input, when it is one (it always is for names the reader
    /// borrowed); otherwise a copy.
    fn borrowed(&self, part: &str) -> Cow<'a, str> {
        let base = self.input.as_ptr() as usize;
        let at = (part.as_ptr() as usize).wrapping_sub(base);
        match self.input.get(at..at.saturating_add(part.len())) {
            Some(s) if std::ptr::eq(s.as_ptr(), part.as_ptr()) => Cow::Borrowed(s),
            _ => Cow::Owned(part.to_owned()),
        }
    }

    fn close(&mut self) {
        self.open.pop();
        if self.open.is_empty() {
            self.root_closed = true;
        }
    }

    fn step(&mut self) -> Result<Item<'a>, XmlError> {
        if self.pending_end {
            self.pending_end = false;
            self.close();
            return Ok(Item::End);
        }
        loop {
            let at = self.reader.buffer_position();
            let (ns, event) = self
                .reader
                .read_resolved_event()
                .map_err(|e| XmlError(format!("malformed XML after byte {at}: {e}")))?;
            let empty = matches!(event, Event::Empty(_));
            match event {
                Event::Start(_) | Event::Empty(_) if self.root_closed => {
                    return Err(XmlError("content after the root element".into()));
                }
                Event::Start(e) | Event::Empty(e) => {
                    self.count += 1;
                    if self.count > MAX_ELEMENTS {
                        return Err(XmlError(format!("more than {MAX_ELEMENTS} elements")));
                    }
                    if self.open.len() >= MAX_DEPTH {
                        return Err(XmlError(format!("nested deeper than {MAX_DEPTH} levels")));
                    }
                    match ns {
                        ResolveResult::Bound(n) => {
                            self.ns.clear();
                            self.ns.push_str(n.as_ref());
                            self.ns_bound = true;
                        }
                        _ => self.ns_bound = false,
                    }
                    // Most elements have no attributes at all: nothing to check then.
                    if !e.attributes_raw().trim_ascii().is_empty() {
                        for attr in e.attributes() {
                            let attr = attr.map_err(|e| XmlError(format!("bad attribute: {e}")))?;
                            if attr.key.as_ref().starts_with("xmlns") {
                                continue;
                            }
                            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map_err(|e| XmlError(format!("bad attribute value: {e}")))?;
                        }
                    }
                    let name = {
                        let qname = e.name();
                        self.borrowed(local(qname.as_ref()))
                    };
                    self.open.push(name.clone());
                    self.pending_end = empty;
                    self.start = Some(e);
                    return Ok(Item::Start(name));
                }
                Event::End(_) => {
                    if self.open.is_empty() {
                        return Err(XmlError("an end tag without a start".into()));
                    }
                    self.close();
                    return Ok(Item::End);
                }
                Event::Text(t) => return Ok(Item::Text(t.xml10_content())),
                Event::CData(c) => return Ok(Item::Text(c.into_inner())),
                Event::GeneralRef(r) => return resolve_reference(&r).map(Item::Char),
                Event::DocType(_) => {
                    return Err(XmlError(
                        "the document has a DTD, which is refused (no entity is ever expanded)"
                            .into(),
                    ));
                }
                Event::Eof => {
                    if let Some(inside) = self.open.last() {
                        return Err(XmlError(format!(
                            "the document ended early, inside <{inside}>"
                        )));
                    }
                    if !self.root_closed {
                        return Err(XmlError("the document is empty".into()));
                    }
                    return Ok(Item::Eof);
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }

    /// The attributes of the last start, `xmlns` declarations left out: (local name, value).
    fn attributes(&self, into: &mut Vec<(String, String)>) -> Result<(), XmlError> {
        let Some(start) = self
            .start
            .as_ref()
            .filter(|s| !s.attributes_raw().trim_ascii().is_empty())
        else {
            return Ok(());
        };
        read_attributes(start, into)
    }
}

/// What the quick path answers once it has given up (never shown: the document is read again).
const GAVE_UP: &str = "the quick reader gave up on this document";

impl<'a> Cursor<'a> {
    /// A cursor on quick-xml at the start of `input`, which must be UTF-8: the exact answer or
    /// the exact error for any document.
    pub fn new(input: &'a [u8]) -> Result<Self, XmlError> {
        Ok(Self::exact(utf8(input)?))
    }

    /// A cursor on the quick path at the start of `input`, which must be UTF-8. When it meets
    /// anything outside the plain XML it reads, it [gives up](Self::gave_up): every step then
    /// fails, and the document must be read again with [`Cursor::new`]. What it reads, it reads
    /// exactly as [`Cursor::new`] does.
    pub fn quick(input: &'a [u8]) -> Result<Self, XmlError> {
        Ok(Self::quick_str(utf8(input)?))
    }

    fn exact(text: &'a str) -> Self {
        Self {
            inner: Inner::Exact(Box::new(Exact::new(text))),
            error: None,
            gave_up: false,
        }
    }

    fn quick_str(text: &'a str) -> Self {
        Self {
            inner: Inner::Quick(quick::Quick::new(text)),
            error: None,
            gave_up: false,
        }
    }

    /// Whether the quick path gave up: what was read says nothing, and the document must be
    /// read again with [`Cursor::new`].
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// The next step. After a problem, the same problem again.
    pub fn next_item(&mut self) -> Result<Item<'a>, XmlError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let step = match &mut self.inner {
            Inner::Quick(q) => match q.step() {
                Ok(item) => return Ok(item),
                Err(quick::GiveUp) => {
                    self.gave_up = true;
                    Err(XmlError(GAVE_UP.into()))
                }
            },
            Inner::Exact(x) => x.step(),
        };
        match step {
            Ok(item) => Ok(item),
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// On the quick path, the open element's content and end in one step when it is plain
    /// text and nothing else (most of a vendor's answer): what [`text`](Self::text) would
    /// gather item by item. `None` (nothing read) otherwise.
    fn quick_leaf(&mut self) -> Option<&'a str> {
        match &mut self.inner {
            Inner::Quick(q) if self.error.is_none() => q.leaf_text(),
            _ => None,
        }
    }

    /// How many elements are open.
    pub fn depth(&self) -> usize {
        match &self.inner {
            Inner::Exact(x) => x.open.len(),
            Inner::Quick(q) => q.depth(),
        }
    }

    /// The namespace of the element that started last, when bound.
    pub fn namespace(&self) -> Option<&str> {
        match &self.inner {
            Inner::Exact(x) => x.ns_bound.then_some(x.ns.as_str()),
            Inner::Quick(q) => q.namespace(),
        }
    }

    /// How many bytes of the document have been read.
    pub fn position(&self) -> u64 {
        match &self.inner {
            Inner::Exact(x) => x.reader.buffer_position(),
            Inner::Quick(q) => u64::try_from(q.position()).unwrap_or(u64::MAX),
        }
    }

    /// How many bytes of the document are left to read.
    pub fn remaining(&self) -> usize {
        let len = match &self.inner {
            Inner::Exact(x) => x.input.len(),
            Inner::Quick(q) => q.len(),
        };
        len.saturating_sub(usize::try_from(self.position()).unwrap_or(usize::MAX))
    }

    /// The next child of the current element (its local name), or `None` at the current
    /// element's end (or the document's end, at the top). Text between children is skipped.
    /// A child must be read ([`text`](Self::text), [`skip`](Self::skip), its own children)
    /// before the next one is asked for.
    pub fn next_child(&mut self) -> Result<Option<Cow<'a, str>>, XmlError> {
        loop {
            match self.next_item()? {
                Item::Start(name) => return Ok(Some(name)),
                Item::End | Item::Eof => return Ok(None),
                Item::Text(_) | Item::Char(_) => {}
            }
        }
    }

    /// The text directly inside the element that just started (concatenated, not trimmed; the
    /// text of its children is not included), reading to its end.
    pub fn text(&mut self) -> Result<Text<'a>, XmlError> {
        if let Some(text) = self.quick_leaf() {
            return Ok(Cow::Borrowed(text));
        }
        let mut text: Text<'a> = Cow::Borrowed("");
        loop {
            match self.next_item()? {
                Item::Text(t) => {
                    if text.is_empty() {
                        text = t;
                    } else {
                        text.to_mut().push_str(&t);
                    }
                }
                Item::Char(c) => text.to_mut().push(c),
                Item::Start(_) => self.skip()?,
                Item::End | Item::Eof => return Ok(text),
            }
        }
    }

    /// Reads past the end of the element that just started.
    pub fn skip(&mut self) -> Result<(), XmlError> {
        if self.quick_leaf().is_some() {
            return Ok(());
        }
        let mut depth = 1usize;
        loop {
            match self.next_item()? {
                Item::Start(_) => depth += 1,
                Item::End => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Item::Eof => return Ok(()),
                Item::Text(_) | Item::Char(_) => {}
            }
        }
    }

    /// The element that just started, as a tree (the tree reader's [`Element`]), reading to its
    /// end. For answers that are read rarely (faults) or by code written for trees.
    pub fn element(&mut self, name: &str) -> Result<Element, XmlError> {
        let mut el = Element {
            namespace: self.namespace().map(str::to_owned),
            name: name.to_owned(),
            ..Element::default()
        };
        match &self.inner {
            Inner::Exact(x) => x.attributes(&mut el.attributes)?,
            Inner::Quick(q) => el.attributes.extend(
                q.attributes()
                    .map(|(key, value)| (key.to_owned(), value.to_owned())),
            ),
        }
        loop {
            match self.next_item()? {
                Item::Text(t) => el.text.push_str(&t),
                Item::Char(c) => el.text.push(c),
                Item::Start(child) => {
                    let child = self.element(&child)?;
                    el.children.push(child);
                }
                Item::End | Item::Eof => return Ok(el),
            }
        }
    }

    /// Reads the rest of the document, applying every rule; the first problem met anywhere
    /// (before or now) is the answer.
    pub fn finish(&mut self) -> Result<(), XmlError> {
        loop {
            if self.next_item()? == Item::Eof {
                return Ok(());
            }
        }
    }
}

/// Parses a whole document into its root element on the stream: the same answers as
/// [`parse`](super::parse), which the differential tests check. The quick path reads it when
/// it can; otherwise quick-xml.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let text = utf8(input)?;
    let read = |mut c: Cursor<'_>| {
        let root = match c.next_child() {
            Ok(Some(name)) => c.element(&name),
            Ok(None) => Err(XmlError("the document is empty".into())),
            Err(e) => Err(e),
        };
        let finished = c.finish();
        (c.gave_up(), finished.and(root))
    };
    match read(Cursor::quick_str(text)) {
        (false, read) => read,
        (true, _) => read(Cursor::exact(text)).1,
    }
}

/// What a decoder collects from the children of one element: the fields it knows. It is
/// reset (made anew with `Default`) when [`result_fields`] finds the `<OpResult>` element.
pub trait Fields<'a>: Default {
    /// The child `name` has just started: read it ([`Cursor::text`], [`Cursor::skip`], its
    /// own children) to its end.
    fn child(&mut self, name: &str, c: &mut Cursor<'a>) -> Result<(), XmlError>;

    /// Text directly inside the element (for results that are a bare value).
    fn text(&mut self, _text: &str) {}
}

/// Reads the children of the `<OpResponse>` element the cursor is in, as
/// [`SoapClient::call_result`](super::SoapClient::call_result) does on a tree: when a child
/// is named `result` (the first one), the fields are those of its children; otherwise those
/// of the response's own children.
pub fn result_fields<'a, F: Fields<'a>>(c: &mut Cursor<'a>, result: &str) -> Result<F, XmlError> {
    let mut fields = F::default();
    let mut in_result = false;
    loop {
        match c.next_item()? {
            Item::Start(_) if in_result => c.skip()?,
            Item::Start(name) if name == result => {
                fields = F::default();
                in_result = true;
                read_fields(c, &mut fields)?;
            }
            Item::Start(name) => fields.child(&name, c)?,
            Item::Text(t) if !in_result => fields.text(&t),
            Item::Char(ch) if !in_result => fields.text(ch.encode_utf8(&mut [0; 4])),
            Item::Text(_) | Item::Char(_) => {}
            Item::End | Item::Eof => return Ok(fields),
        }
    }
}

/// Reads the children of the element that just started into `fields`, to its end.
pub fn read_fields<'a, F: Fields<'a>>(c: &mut Cursor<'a>, fields: &mut F) -> Result<(), XmlError> {
    loop {
        match c.next_item()? {
            Item::Start(name) => fields.child(&name, c)?,
            Item::Text(t) => fields.text(&t),
            Item::Char(ch) => fields.text(ch.encode_utf8(&mut [0; 4])),
            Item::End | Item::Eof => return Ok(()),
        }
    }
}

/// Reads the text of a child into `slot` when it is the first child of that name (as the tree
/// reader's [`Element::child_text`] finds the first), else skips it.
pub fn first_text<'a>(c: &mut Cursor<'a>, slot: &mut Option<Text<'a>>) -> Result<(), XmlError> {
    if slot.is_some() {
        c.skip()
    } else {
        *slot = Some(c.text()?);
        Ok(())
    }
}

/// The direct text of a result and how many child elements it has: for results that are a
/// bare value (`true`, a number, a version).
#[derive(Debug, Default)]
pub struct BareText<'a> {
    /// The concatenated text (not trimmed).
    pub text: Text<'a>,
    /// How many child elements there were.
    pub children: usize,
}

impl<'a> Fields<'a> for BareText<'a> {
    fn child(&mut self, _name: &str, c: &mut Cursor<'a>) -> Result<(), XmlError> {
        self.children += 1;
        c.skip()
    }

    fn text(&mut self, text: &str) {
        self.text.to_mut().push_str(text);
    }
}

/// What the Body of an envelope held.
enum BodyOutcome<T> {
    Decoded(T),
    Problem(SoapError),
}

/// Reads a SOAP answer on the stream: the envelope's version, its `Body`, and either the fault
/// (as [`SoapError::Fault`], read exactly as [`read_envelope`](super::read_envelope) reads it)
/// or the first element inside `Body`, which `decode` gets with the cursor just inside it and
/// its local name. `decode` answers `Ok(Err(detail))` for an element it will not read (the
/// wrong operation); the detail becomes [`SoapError::Invalid`].
///
/// The whole document is always read: a malformed document is refused with the tree reader's
/// message, whatever `decode` found, and the envelope's own problems (wrong root, no `Body`,
/// an empty `Body`) come before a fault and before what `decode` found, as in the tree reader.
pub fn read_response<'a, T>(
    body: &'a [u8],
    decode: impl Fn(&mut Cursor<'a>, &str) -> Result<Result<T, String>, XmlError>,
) -> Result<T, SoapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SoapError::Invalid("the answer is empty".into()));
    }
    if crate::http::looks_like_html(body) {
        return Err(SoapError::Invalid(
            crate::http::describe_body(reqwest::StatusCode::OK, body).replacen(
                "HTTP 200 OK: ",
                "",
                1,
            ),
        ));
    }
    let invalid = |e: XmlError| SoapError::Invalid(format!("not a SOAP envelope: {e}"));
    let text = utf8(body).map_err(invalid)?;
    let read = |mut c: Cursor<'a>| {
        let outcome = envelope_body(&mut c, &decode);
        // The document's own problems first, wherever they are.
        let finished = c.finish();
        (c.gave_up(), finished.and(outcome))
    };
    let outcome = match read(Cursor::quick_str(text)) {
        (false, outcome) => outcome,
        (true, _) => read(Cursor::exact(text)).1,
    };
    match outcome.map_err(invalid)? {
        BodyOutcome::Decoded(t) => Ok(t),
        BodyOutcome::Problem(e) => Err(e),
    }
}

fn envelope_body<'a, T>(
    c: &mut Cursor<'a>,
    decode: &impl Fn(&mut Cursor<'a>, &str) -> Result<Result<T, String>, XmlError>,
) -> Result<BodyOutcome<T>, XmlError> {
    let problem = |s: String| Ok(BodyOutcome::Problem(SoapError::Invalid(s)));
    let Some(root) = c.next_child()? else {
        return Err(XmlError("the document is empty".into()));
    };
    let version = match (&*root, c.namespace()) {
        ("Envelope", Some(SOAP11_NS)) => SoapVersion::V11,
        ("Envelope", Some(SOAP12_NS)) => SoapVersion::V12,
        ("Envelope", other) => {
            return problem(format!(
                "the envelope's namespace `{}` is neither SOAP 1.1 nor 1.2",
                other.unwrap_or("")
            ));
        }
        (name, _) => {
            return problem(format!("the root element is <{name}>, not a SOAP Envelope"));
        }
    };
    while let Some(child) = c.next_child()? {
        if child != "Body" {
            c.skip()?;
            continue;
        }
        let Some(first) = c.next_child()? else {
            return problem("the SOAP Body is empty".into());
        };
        if first == "Fault" {
            let fault = c.element(&first)?;
            return Ok(BodyOutcome::Problem(SoapError::Fault(read_fault(
                version, &fault,
            ))));
        }
        return Ok(match decode(c, &first)? {
            Ok(t) => BodyOutcome::Decoded(t),
            Err(detail) => BodyOutcome::Problem(SoapError::Invalid(detail)),
        });
    }
    problem("the envelope has no Body".into())
}

/// Reads the answer to `operation` on the stream: `decode` gets the cursor just inside the
/// `<OpResponse>` element, checked (as [`SoapClient::call`](super::SoapClient::call) checks
/// it) to be the operation's and in `namespace`. What [`SoapClient::call_with`] reads answers
/// with, for answers that did not come through a client (recorded answers, benches).
///
/// [`SoapClient::call_with`]: super::SoapClient::call_with
pub fn read_operation<'a, T>(
    body: &'a [u8],
    operation: &str,
    namespace: &str,
    decode: impl Fn(&mut Cursor<'a>) -> Result<T, XmlError>,
) -> Result<T, SoapError> {
    read_response(body, |c, name| {
        if name.strip_suffix("Response") != Some(operation) {
            return Ok(Err(format!("expected <{operation}Response>, got <{name}>")));
        }
        if c.namespace() != Some(namespace) {
            return Ok(Err(format!(
                "<{operation}Response> is not in the {namespace} namespace"
            )));
        }
        decode(c).map(Ok)
    })
}

/// [`read_envelope`](super::read_envelope) on the stream: the first element inside `Body` as a
/// tree (only that element is built), or the fault, or why the answer is unusable.
pub fn read_envelope(body: &[u8]) -> Result<Element, SoapError> {
    read_response(body, |c, name| Ok(Ok(c.element(name)?)))
}

/// Whether `body` is a SOAP envelope holding a fault, read on the stream.
pub fn is_fault(body: &[u8]) -> bool {
    matches!(
        read_response(body, |c, _| c.skip().map(Ok)),
        Err(SoapError::Fault(_))
    )
}
