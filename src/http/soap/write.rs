//! The envelope writer: request bodies written once, straight into a reused buffer.
//!
//! A body is anything that can write itself ([`WriteXml`]): a [`Node`] tree (convenient for
//! rare calls), or a closure that writes elements directly with an [`XmlWriter`] (no tree, no
//! per-field allocation: what the frequent calls use). [`request_body`] writes the envelope
//! into a per-thread buffer that keeps its capacity from call to call, then hands the transport
//! one exactly sized copy; the buffer is zeroed after each use, since bodies carry credentials.
//!
//! The envelope declares only the namespace it uses (`soap`); the vendor's namespace is
//! declared by the elements that need it (`<Op xmlns="...">`, `<Authentication xmlns="...">`).

use std::cell::RefCell;

use super::{Node, SoapVersion};

/// Something that writes itself as XML: a request body or header.
pub trait WriteXml {
    /// Writes the element(s).
    fn write_xml(&self, w: &mut XmlWriter<'_>);
}

impl WriteXml for Node {
    fn write_xml(&self, w: &mut XmlWriter<'_>) {
        w.node(self);
    }
}

impl<F: Fn(&mut XmlWriter<'_>)> WriteXml for F {
    fn write_xml(&self, w: &mut XmlWriter<'_>) {
        self(w)
    }
}

/// Writes elements into a buffer, escaping text and attribute values. Its output is the
/// same as [`Node::write`]'s for the same elements: `<a>text</a>`, `<a />` when empty.
#[derive(Debug)]
pub struct XmlWriter<'b> {
    out: &'b mut Vec<u8>,
}

impl<'b> XmlWriter<'b> {
    /// A writer appending to `out`.
    pub fn new(out: &'b mut Vec<u8>) -> Self {
        Self { out }
    }

    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn escaped(&mut self, s: &str) {
        let e = quick_xml::escape::escape(s);
        self.raw(&e);
    }

    /// `<name>`.
    pub fn start(&mut self, name: &str) -> &mut Self {
        self.raw("<");
        self.raw(name);
        self.raw(">");
        self
    }

    /// `<name xmlns="ns">`.
    pub fn start_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.raw("<");
        self.raw(name);
        self.raw(" xmlns=\"");
        self.escaped(ns);
        self.raw("\">");
        self
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) -> &mut Self {
        self.raw("</");
        self.raw(name);
        self.raw(">");
        self
    }

    /// Escaped text.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.escaped(text);
        self
    }

    /// `<name>text</name>` (also when `text` is empty).
    pub fn field(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name).text(text).end(name)
    }

    /// `<name>n</name>` for a number, without an intermediate string.
    pub fn field_int(&mut self, name: &str, n: i64) -> &mut Self {
        use std::io::Write as _;
        self.start(name);
        // Writing into a Vec cannot fail.
        let _ = write!(self.out, "{n}");
        self.end(name)
    }

    /// `<name />`.
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.raw("<");
        self.raw(name);
        self.raw(" />");
        self
    }

    /// `<name xmlns="ns" />`.
    pub fn empty_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.raw("<");
        self.raw(name);
        self.raw(" xmlns=\"");
        self.escaped(ns);
        self.raw("\" />");
        self
    }

    /// A list element: `<name>` with one `<item>text</item>` per entry, or `<name />` when
    /// there is none.
    pub fn list<I, S>(&mut self, name: &str, item: &str, entries: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries = entries.into_iter().peekable();
        if entries.peek().is_none() {
            return self.empty(name);
        }
        self.start(name);
        for e in entries {
            self.field(item, e.as_ref());
        }
        self.end(name)
    }

    /// A [`Node`] and its children.
    pub fn node(&mut self, node: &Node) -> &mut Self {
        self.raw("<");
        self.raw(&node.name);
        if let Some(ns) = &node.xmlns {
            self.raw(" xmlns=\"");
            self.escaped(ns);
            self.raw("\"");
        }
        if node.text.is_none() && node.children.is_empty() {
            self.raw(" />");
            return self;
        }
        self.raw(">");
        if let Some(t) = &node.text {
            self.escaped(t);
        }
        for c in &node.children {
            self.node(c);
        }
        self.end(&node.name)
    }
}

/// Writes a whole envelope into `out`.
pub fn envelope_into(
    out: &mut Vec<u8>,
    version: SoapVersion,
    header: Option<&dyn WriteXml>,
    body: &dyn WriteXml,
) {
    let mut w = XmlWriter::new(out);
    w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"");
    w.raw(version.namespace());
    w.raw("\">");
    if let Some(h) = header {
        w.raw("<soap:Header>");
        h.write_xml(&mut w);
        w.raw("</soap:Header>");
    }
    w.raw("<soap:Body>");
    body.write_xml(&mut w);
    w.raw("</soap:Body></soap:Envelope>");
}

/// A buffer bigger than this after a call is not kept (a rare large request).
const KEEP_AT_MOST: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// The request body of an envelope: written once into this thread's reused buffer, copied out
/// at its exact size, the buffer then zeroed (it held credentials).
pub fn request_body(
    version: SoapVersion,
    header: Option<&dyn WriteXml>,
    body: &dyn WriteXml,
) -> Vec<u8> {
    let fresh = || {
        let mut out = Vec::with_capacity(1024);
        envelope_into(&mut out, version, header, body);
        out
    };
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                envelope_into(&mut buf, version, header, body);
                let out = buf.as_slice().to_vec();
                buf.fill(0);
                buf.clear();
                if buf.capacity() > KEEP_AT_MOST {
                    *buf = Vec::with_capacity(4096);
                }
                out
            }
            // Only when a body's writer itself writes a request: never in this crate.
            Err(_) => fresh(),
        })
        .unwrap_or_else(|_| fresh())
}
