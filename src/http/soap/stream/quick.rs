//! The quick path of the streaming reader: a tokenizer for the plain XML that vendors send
//! (elements, attributes, text, the five predefined entities, an XML declaration at the very
//! start), which gives up on anything else.
//!
//! It never decides that a document is wrong. Whatever it does not read exactly as quick-xml's
//! namespace reader would (a comment, CDATA, a DTD, a processing instruction, a character
//! reference, a carriage return, an attribute value with a reference or a line break, a reserved
//! prefix, a duplicate attribute, a name outside `[A-Za-z0-9._:-]`, a limit reached, and every
//! malformed construct) makes it give up, and the caller reads the document again on quick-xml
//! ([`Cursor::new`](super::Cursor::new)), which gives the exact answer or the exact error. On
//! what it does read, it gives the same items, local names and namespaces as quick-xml does;
//! the differential tests hold it to that.

use super::Item;
use crate::http::soap::{MAX_DEPTH, MAX_ELEMENTS};

/// The quick path met something it does not read: the document must be read on quick-xml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GiveUp;

/// More namespace declarations in scope than this: give up (quick-xml's own limit is higher).
const MAX_BINDINGS: usize = 64;

/// More attributes on one element than this: give up (keeps the duplicate check small).
const MAX_ATTRIBUTES: usize = 16;

/// The tokenizer's state.
#[derive(Debug)]
pub(super) struct Quick<'a> {
    input: &'a str,
    at: usize,
    /// The open elements: qualified name, and how many namespace bindings were in scope
    /// before it.
    open: Vec<(&'a str, usize)>,
    /// Namespace bindings in scope, innermost last: (prefix, namespace); `""` is the default.
    bindings: Vec<(&'a str, &'a str)>,
    count: usize,
    root_closed: bool,
    pending_end: bool,
    /// The namespace of the last start, when bound.
    ns: Option<&'a str>,
    /// The attributes of the last start, as written (already checked).
    attributes: &'a str,
}

/// Which bytes a name may hold on the quick path: one lookup rather than five range checks.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':');
        b += 1;
    }
    table
};

/// Bytes a name may hold on the quick path.
fn name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// How many bytes at the start of `bytes` a name may hold.
fn name_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !name_byte(b))
        .unwrap_or(bytes.len())
}

/// XML whitespace, as quick-xml takes it.
fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether two short strings (names, prefixes) are equal, compared in place: a call to the C
/// library's `memcmp` for every name costs more than the comparison itself.
fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same`] on bytes.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if u64::from_ne_bytes(*x) != u64::from_ne_bytes(*y) {
            return false;
        }
        (a, b) = (rest_a, rest_b);
    }
    a.iter().zip(b).fold(true, |same, (x, y)| same & (x == y))
}

/// One attribute of a start tag already checked: `(key, value)`, and the rest.
fn next_attribute(rest: &str) -> Option<(&str, &str, &str)> {
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\r']);
    let (key, rest) = rest.split_once('=')?;
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\r']);
    let quote = rest.chars().next()?;
    let rest = rest.get(1..)?;
    let (value, rest) = rest.split_once(quote)?;
    Some((key.trim_end_matches([' ', '\t', '\n', '\r']), value, rest))
}

impl<'a> Quick<'a> {
    /// A tokenizer at the start of `input` (UTF-8 already checked, byte order mark removed).
    pub(super) fn new(input: &'a str) -> Self {
        Self {
            input,
            at: 0,
            open: Vec::with_capacity(16),
            bindings: Vec::with_capacity(8),
            count: 0,
            root_closed: false,
            pending_end: false,
            ns: None,
            attributes: "",
        }
    }

    pub(super) fn depth(&self) -> usize {
        self.open.len()
    }

    pub(super) fn namespace(&self) -> Option<&str> {
        self.ns
    }

    pub(super) fn position(&self) -> usize {
        self.at
    }

    /// The document's length in bytes.
    pub(super) fn len(&self) -> usize {
        self.input.len()
    }

    /// The attributes of the last start, `xmlns` declarations left out: `(local name, value)`.
    pub(super) fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let mut rest = self.attributes;
        std::iter::from_fn(move || {
            let (key, value, after) = next_attribute(rest)?;
            rest = after;
            Some((key, value))
        })
        .filter(|(key, _)| !key.starts_with("xmlns"))
        .map(|(key, value)| (key.rsplit(':').next().unwrap_or(key), value))
    }

    fn bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes().get(at).copied()
    }

    fn slice(&self, from: usize, to: usize) -> Result<&'a str, GiveUp> {
        self.input.get(from..to).ok_or(GiveUp)
    }

    fn skip_space(&mut self) -> bool {
        let start = self.at;
        while self.byte(self.at).is_some_and(space) {
            self.at += 1;
        }
        self.at > start
    }

    fn name(&mut self) -> Result<&'a str, GiveUp> {
        let start = self.at;
        let len = name_len(self.bytes().get(start..).ok_or(GiveUp)?);
        if len == 0 {
            return Err(GiveUp);
        }
        self.at += len;
        self.slice(start, self.at)
    }

    fn close(&mut self) {
        if let Some((_, mark)) = self.open.pop() {
            self.bindings.truncate(mark);
        }
        if self.open.is_empty() {
            self.root_closed = true;
        }
    }

    /// The next item, or [`GiveUp`].
    pub(super) fn step(&mut self) -> Result<Item<'a>, GiveUp> {
        if self.pending_end {
            self.pending_end = false;
            self.close();
            return Ok(Item::End);
        }
        loop {
            return match self.byte(self.at) {
                None if self.open.is_empty() && self.root_closed => Ok(Item::Eof),
                None => Err(GiveUp),
                Some(b'<') => match self.byte(self.at + 1) {
                    Some(b'/') => self.end_tag(),
                    Some(b'?') if self.at == 0 => {
                        self.declaration()?;
                        continue;
                    }
                    Some(b) if name_byte(b) => self.start_tag(),
                    _ => Err(GiveUp),
                },
                Some(b'&') => self.reference(),
                Some(_) => self.text(),
            };
        }
    }

    /// `<?xml ...?>` at the very start: skipped, as the cursor skips quick-xml's `Decl`.
    fn declaration(&mut self) -> Result<(), GiveUp> {
        let rest = self.input.get(self.at..).ok_or(GiveUp)?;
        let body = rest.strip_prefix("<?xml").ok_or(GiveUp)?;
        if !body.bytes().next().is_some_and(space) {
            return Err(GiveUp);
        }
        let end = rest.find("?>").ok_or(GiveUp)?;
        // `version="1.0" encoding="utf-8"` and the like; anything odder is quick-xml's.
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"=\"'.-_ \t\n\r".contains(&b);
        if !rest.get(5..end).is_some_and(|d| d.bytes().all(plain)) {
            return Err(GiveUp);
        }
        self.at += end + 2;
        Ok(())
    }

    fn text(&mut self) -> Result<Item<'a>, GiveUp> {
        let rest = self.bytes().get(self.at..).ok_or(GiveUp)?;
        let len = memchr::memchr3(b'<', b'&', b'\r', rest).unwrap_or(rest.len());
        if rest.get(len) == Some(&b'\r') {
            // quick-xml normalizes line ends in text: leave that to it.
            return Err(GiveUp);
        }
        let text = self.slice(self.at, self.at + len)?;
        self.at += len;
        Ok(Item::Text(text.into()))
    }

    /// The content of the open element when it is plain text (no reference, no carriage
    /// return, no child) followed at once by the element's own `</name>`: that text, with the
    /// end tag read too, as [`step`](Self::step) would read them item after item. Otherwise
    /// `None`, and nothing is read.
    pub(super) fn leaf_text(&mut self) -> Option<&'a str> {
        if self.pending_end {
            return None;
        }
        let (qname, _) = *self.open.last()?;
        let rest = self.bytes().get(self.at..)?;
        let len = memchr::memchr3(b'<', b'&', b'\r', rest)?;
        let after = rest.get(len..)?.strip_prefix(b"</")?;
        let name = after.get(..qname.len())?;
        if !same_bytes(name, qname.as_bytes()) || after.get(qname.len()) != Some(&b'>') {
            return None;
        }
        let text = self.input.get(self.at..self.at + len)?;
        self.at += len + 2 + qname.len() + 1;
        self.close();
        Some(text)
    }

    fn reference(&mut self) -> Result<Item<'a>, GiveUp> {
        let rest = self.input.get(self.at + 1..).ok_or(GiveUp)?;
        let (ch, len) = [
            ("amp;", '&'),
            ("lt;", '<'),
            ("gt;", '>'),
            ("quot;", '"'),
            ("apos;", '\''),
        ]
        .into_iter()
        .find_map(|(name, ch)| rest.starts_with(name).then_some((ch, name.len())))
        .ok_or(GiveUp)?;
        self.at += 1 + len;
        Ok(Item::Char(ch))
    }

    fn end_tag(&mut self) -> Result<Item<'a>, GiveUp> {
        let (qname, _) = *self.open.last().ok_or(GiveUp)?;
        let rest = self.input.get(self.at + 2..).ok_or(GiveUp)?;
        let name = rest.get(..qname.len()).ok_or(GiveUp)?;
        if !same(name, qname) {
            return Err(GiveUp);
        }
        self.at += 2 + qname.len();
        self.skip_space();
        if self.byte(self.at) != Some(b'>') {
            return Err(GiveUp);
        }
        self.at += 1;
        self.close();
        Ok(Item::End)
    }

    /// A qualified name at the cursor: `(qname, prefix, local)`, the prefix `""` when there is
    /// none. Gives up on a name that quick-xml and the cursor would split differently (more
    /// than one colon, an empty part) or on a reserved prefix.
    fn qualified_name(&mut self) -> Result<(&'a str, &'a str, &'a str), GiveUp> {
        let start = self.at;
        let bytes = self.bytes().get(start..).ok_or(GiveUp)?;
        let len = name_len(bytes);
        let name = bytes.get(..len).ok_or(GiveUp)?;
        let colon = name.iter().position(|&b| b == b':');
        if colon.is_some_and(|at| name.iter().skip(at + 1).any(|&b| b == b':')) {
            return Err(GiveUp);
        }
        let colon = colon.map(|at| start + at);
        self.at += len;
        let qname = self.slice(start, self.at)?;
        match colon {
            _ if qname.is_empty() => Err(GiveUp),
            None => Ok((qname, "", qname)),
            Some(at) => {
                let prefix = self.slice(start, at)?;
                let local = self.slice(at + 1, self.at)?;
                if prefix.is_empty() || local.is_empty() || prefix == "xml" || prefix == "xmlns" {
                    return Err(GiveUp);
                }
                Ok((qname, prefix, local))
            }
        }
    }

    fn start_tag(&mut self) -> Result<Item<'a>, GiveUp> {
        if self.root_closed {
            return Err(GiveUp);
        }
        self.at += 1;
        let (qname, prefix, local) = self.qualified_name()?;
        let mark = self.bindings.len();
        let attributes_from = self.at;
        let empty = match (self.byte(self.at), self.byte(self.at + 1)) {
            (Some(b'>'), _) => {
                self.at += 1;
                false
            }
            (Some(b'/'), Some(b'>')) => {
                self.at += 2;
                true
            }
            _ => self.attributes_to_end()?,
        };
        let attributes_to = self.at - if empty { 2 } else { 1 };
        self.count += 1;
        if self.count > MAX_ELEMENTS || self.open.len() >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.ns = self
            .bindings
            .iter()
            .rev()
            .find(|(p, _)| same(p, prefix))
            .map(|(_, ns)| *ns)
            .filter(|ns| !ns.is_empty());
        self.attributes = self.slice(attributes_from, attributes_to)?;
        self.open.push((qname, mark));
        self.pending_end = empty;
        Ok(Item::Start(local.into()))
    }

    /// Reads the attributes of a start tag and its end (`>` or `/>`, whether it was `/>`).
    fn attributes_to_end(&mut self) -> Result<bool, GiveUp> {
        let mut keys: [&str; MAX_ATTRIBUTES] = [""; MAX_ATTRIBUTES];
        let mut n = 0;
        loop {
            let spaced = self.skip_space();
            match self.byte(self.at) {
                Some(b'>') => {
                    self.at += 1;
                    return Ok(false);
                }
                Some(b'/') if self.byte(self.at + 1) == Some(b'>') => {
                    self.at += 2;
                    return Ok(true);
                }
                Some(b) if spaced && name_byte(b) => {
                    let key = self.name()?;
                    // A repeated key is quick-xml's to refuse.
                    let seen = keys.get(..n).ok_or(GiveUp)?;
                    if seen.iter().any(|k| same(k, key)) {
                        return Err(GiveUp);
                    }
                    *keys.get_mut(n).ok_or(GiveUp)? = key;
                    n += 1;
                    self.skip_space();
                    if self.byte(self.at) != Some(b'=') {
                        return Err(GiveUp);
                    }
                    self.at += 1;
                    self.skip_space();
                    let quote = self.byte(self.at).filter(|q| matches!(q, b'"' | b'\''));
                    let quote = quote.ok_or(GiveUp)?;
                    let value_at = self.at + 1;
                    let rest = self.bytes().get(value_at..).ok_or(GiveUp)?;
                    let len = memchr::memchr(quote, rest).ok_or(GiveUp)?;
                    let value = self.slice(value_at, value_at + len)?;
                    if value
                        .bytes()
                        .any(|b| matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r'))
                    {
                        return Err(GiveUp);
                    }
                    self.at = value_at + len + 1;
                    self.bind(key, value)?;
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// Records a namespace declaration (`xmlns`, `xmlns:p`); other attributes pass.
    fn bind(&mut self, key: &'a str, value: &'a str) -> Result<(), GiveUp> {
        let Some(rest) = key.strip_prefix("xmlns") else {
            return Ok(());
        };
        let prefix = match rest.strip_prefix(':') {
            None if rest.is_empty() => "",
            Some(p) if !p.is_empty() && !p.contains(':') && !p.starts_with("xml") => p,
            // `xmlnsfoo`, `xmlns:`, `xmlns:xml...`: left to quick-xml.
            _ => return Err(GiveUp),
        };
        if value.is_empty() && !prefix.is_empty()
            || value == "http://www.w3.org/XML/1998/namespace"
            || value == "http://www.w3.org/2000/xmlns/"
            || self.bindings.len() >= MAX_BINDINGS
        {
            return Err(GiveUp);
        }
        self.bindings.push((prefix, value));
        Ok(())
    }
}
