//! Property tests of the hardened reader ([`parse`], [`read_envelope`], [`is_fault`]): nothing a
//! vendor answers may panic the host, and every refusal is a typed error. Every input also goes
//! through the streaming reader ([`super::stream`]), which must give the same tree, the same
//! envelope element, the same fault and the same error text (a differential test).
//!
//! Three families of input: XML token soup, structure-aware envelopes (hostile trees, and
//! envelopes written by this module's own writer, which must read back exactly), and byte-level
//! mutations of real answers. No failure file is written (`failure_persistence: None`); a
//! failure prints its shrunk input.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngAlgorithm;

use crate::mutation::{mutate, mutation};
use reqwest::StatusCode;

use super::{
    Element, MAX_DEPTH, MAX_ELEMENTS, Node, SOAP11_NS, SOAP12_NS, SoapError, SoapVersion,
    accept_fault, envelope, flatten_text, is_fault, local, parse, read_envelope,
};

/// `cases` cases, no failure file, and the XorShift generator: in a debug build ChaCha costs
/// more than most of the properties themselves.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// checks shared by every property

fn depth(e: &Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

fn count(e: &Element) -> usize {
    1 + e.children.iter().map(count).sum::<usize>()
}

/// Runs every reader entry point on `input`, the streaming reader's included; asserts the
/// results agree with one another and respect the limits. A panic anywhere fails the property.
fn read_all(input: &[u8]) {
    let read = read_envelope(input);
    // The streaming reader gives the same answer: element, fault or refusal, word for word.
    assert_eq!(
        super::stream::read_envelope(input),
        read,
        "the streaming reader differs"
    );
    match &read {
        Ok(first) => {
            assert_ne!(first.name, "Fault", "a fault was returned as an answer");
            assert!(depth(first) + 2 <= MAX_DEPTH, "depth limit passed");
        }
        Err(SoapError::Fault(_)) => {}
        Err(SoapError::Invalid(why)) => assert!(!why.is_empty(), "an unexplained refusal"),
    }
    assert_eq!(is_fault(input), matches!(read, Err(SoapError::Fault(_))));
    assert!(!accept_fault(StatusCode::OK, input));
    if let Err(e) = read {
        let error = e.into_error("proptest", "operation");
        assert!(!error.to_string().is_empty());
    }
}

/// [`read_all`], and [`parse`] on its own (it also reads what looks like HTML), with the
/// limits checked on the whole tree.
fn parse_and_read_all(input: &[u8]) {
    let parsed = parse(input);
    assert_eq!(
        super::stream::parse(input),
        parsed,
        "the streaming parse differs"
    );
    if let Ok(root) = &parsed {
        assert!(depth(root) <= MAX_DEPTH, "depth {} accepted", depth(root));
        assert!(count(root) <= MAX_ELEMENTS);
        let _ = root.descendant("Fault");
        let _ = root.path(&["Body", "Fault", "detail"]);
        let _ = root.child_text("Body");
        let _ = root.attribute("mustUnderstand");
        let _ = root.children_named("Body").count();
        let _ = flatten_text(root);
    }
    let read = read_envelope(input);
    if matches!(read, Ok(_) | Err(SoapError::Fault(_))) {
        assert!(parsed.is_ok(), "read_envelope used what parse refused");
    }
    assert_eq!(
        accept_fault(StatusCode::INTERNAL_SERVER_ERROR, input),
        matches!(read, Err(SoapError::Fault(_)))
    );
    read_all(input);
}

// ---------------------------------------------------------------------------------------------
// vocabularies

/// Pieces of XML, well-formed and not, for token soup and insertions.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "=",
    "\"",
    "'",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    ":",
    "&",
    ";",
    "#",
    "x",
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
    "<?xml version=\"1.1\"?>",
    "<?xml",
    "<?pi data?>",
    "<?",
    "?>",
    "<!DOCTYPE a>",
    "<!DOCTYPE a [<!ENTITY e \"x\">]>",
    "<!DOCTYPE html>",
    "<!ENTITY",
    "<!",
    "<!--",
    "-->",
    "<!-- c -->",
    "<![CDATA[",
    "]]>",
    "<![CDATA[x]]>",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#0;",
    "&#65;",
    "&#x41;",
    "&#xD800;",
    "&#xDFFF;",
    "&#x10FFFF;",
    "&#x110000;",
    "&#99999999999;",
    "&#-1;",
    "&#+1;",
    "&#x;",
    "&#;",
    "&;",
    "&nbsp;",
    "&lol;",
    "&amp",
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
    "</soap:Envelope>",
    "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\">",
    "</env:Envelope>",
    "<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\">",
    "<Envelope>",
    "</Envelope>",
    "<soap:Body>",
    "</soap:Body>",
    "<env:Body>",
    "</env:Body>",
    "<Body>",
    "</Body>",
    "<soap:Header>",
    "</soap:Header>",
    "<soap:Fault>",
    "</soap:Fault>",
    "<env:Fault>",
    "</env:Fault>",
    "<Fault>",
    "</Fault>",
    "<faultcode>",
    "</faultcode>",
    "<faultstring>",
    "</faultstring>",
    "<detail>",
    "</detail>",
    "<env:Code><env:Value>",
    "</env:Value></env:Code>",
    "<env:Reason><env:Text>",
    "</env:Text></env:Reason>",
    "<env:Detail>",
    "</env:Detail>",
    "<a>",
    "</a>",
    "<a/>",
    "<a b=\"c\"/>",
    "<a b='&amp;'>",
    "<a b=\"&#0;\">",
    "<a b=\"&bogus;\">",
    "<a b=c>",
    "<a b=\"1\" b=\"2\">",
    "<a b=\"<\">",
    "<p:a xmlns:p=\"urn:p\">",
    "</p:a>",
    "<q:a>",
    "</q:a>",
    "<a xmlns=\"\">",
    "<a xmlns:p=\"\">",
    "<xmlns:a>",
    "<:a>",
    "<a:>",
    "<a::b>",
    "< a>",
    "<1a>",
    "<html>",
    "<!doctype html>",
    "<title>",
    "</title>",
    "\u{feff}",
    "\u{0}",
    "\u{1}",
    "\u{85}",
    "\u{2028}",
    "\u{fffe}",
    "\u{ffff}",
    "é",
    "日本",
    "🦀",
];

/// Raw (unescaped) text pieces: the predefined entities, character references good and bad,
/// CDATA, comments and processing instructions.
const RAW_TEXT: &[&str] = &[
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#0;",
    "&#9;",
    "&#65;",
    "&#x41;",
    "&#x1F980;",
    "&#xD800;",
    "&#xDFFF;",
    "&#xFFFE;",
    "&#x10FFFF;",
    "&#x110000;",
    "&#4294967296;",
    "&#99999999999999999999;",
    "&#-1;",
    "&#+65;",
    "&#x;",
    "&#;",
    "&;",
    "&nbsp;",
    "&lol;",
    "&amp",
    "&",
    "<",
    "]]>",
    "<![CDATA[]]>",
    "<![CDATA[<not> &parsed;]]>",
    "<![CDATA[",
    "<!-- a comment -->",
    "<!-- -- -->",
    "<!--",
    "<?pi x?>",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE x [<!ENTITY e \"boom\">]>",
];

/// Element names: the SOAP and vendor names the readers look for, and some that are not names.
const NAMES: &[&str] = &[
    "Envelope",
    "Header",
    "Body",
    "Fault",
    "faultcode",
    "faultstring",
    "faultactor",
    "detail",
    "Code",
    "Value",
    "Subcode",
    "Reason",
    "Text",
    "Detail",
    "Node",
    "Role",
    "GetCustomerInfoResponse",
    "GetCustomerInfoResult",
    "CustomerId",
    "AuthenticateUserLoginResponse",
    "AuthenticateUserLoginResult",
    "ResultCode",
    "ResultData",
    "SessionID",
    "Success",
    "ErrorMessage",
    "a",
    "xmlns",
    "xml",
    "_",
    "a.b-c",
    "é",
    "1a",
    "-",
    "a b",
];

const PREFIXES: &[Option<&str>] = &[
    None,
    None,
    Some("soap"),
    Some("env"),
    Some("p"),
    Some("undeclared"),
    Some("xml"),
    Some("xmlns"),
    Some(""),
];

const NAMESPACES: &[&str] = &[
    SOAP11_NS,
    SOAP12_NS,
    "http://www.alarm.com/WebServices",
    "https://services.alarmnet.com/TC2/",
    "urn:other",
    "",
    "http://schemas.xmlsoap.org/soap/envelope",
    "HTTP://SCHEMAS.XMLSOAP.ORG/SOAP/ENVELOPE/",
];

/// Text that tends to break readers: numbers at the edges, entities written as text, controls,
/// line ends, non-characters, surrogate-adjacent and combining characters.
const AWKWARD: &[&str] = &[
    "",
    " ",
    "\t\n ",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "NaN",
    "0x10",
    "١٢٣",
    "１２３",
    "true",
    "True ",
    "TRUE",
    "\u{0}",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "]]>",
    "\r\n",
    "\r",
    "a\rb\r\nc",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{d7ff}",
    "\u{e000}",
    "\u{10ffff}",
    "e\u{301}",
    "🦀🦀",
    "<tag>",
    "\"quoted\" 'single'",
];

/// Characters for names and words: cheap to draw (regex strategies are slow in debug builds).
const NAME_CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'B', 'F', 'R', 'Z', '_', '0', '1', '9', '.', '-',
];

fn word(alphabet: &'static [char], len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    vec(select(alphabet), len).prop_map(String::from_iter)
}

/// Arbitrary text: any characters (controls, non-characters, astral), awkward fixed strings,
/// and mixes of both.
fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..16).prop_map(String::from_iter),
        2 => select(AWKWARD).prop_map(str::to_owned),
        1 => (select(AWKWARD), vec(any::<char>(), 0..6), select(AWKWARD))
            .prop_map(|(a, b, c)| format!("{a}{}{c}", String::from_iter(b))),
    ]
}

// ---------------------------------------------------------------------------------------------
// hostile, structure-aware trees

#[derive(Debug, Clone)]
enum Piece {
    /// Text, escaped on writing.
    Text(String),
    /// Raw markup or references, written as is.
    Raw(&'static str),
    Child(Box<El>),
}

#[derive(Debug, Clone)]
struct El {
    prefix: Option<&'static str>,
    name: String,
    attributes: Vec<(String, String)>,
    /// `xmlns` / `xmlns:p` declarations.
    declarations: Vec<(Option<&'static str>, &'static str)>,
    pieces: Vec<Piece>,
}

impl El {
    fn named(prefix: Option<&'static str>, name: &str, pieces: Vec<Piece>) -> Self {
        Self {
            prefix,
            name: name.to_owned(),
            attributes: Vec::new(),
            declarations: Vec::new(),
            pieces,
        }
    }

    fn write(&self, out: &mut String) {
        let tag = match self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        };
        out.push('<');
        out.push_str(&tag);
        for (p, ns) in &self.declarations {
            match p {
                Some(p) => out.push_str(&format!(" xmlns:{p}=\"{ns}\"")),
                None => out.push_str(&format!(" xmlns=\"{ns}\"")),
            }
        }
        for (k, v) in &self.attributes {
            out.push_str(&format!(" {k}=\"{v}\""));
        }
        if self.pieces.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(&quick_xml::escape::escape(t.as_str())),
                Piece::Raw(r) => out.push_str(r),
                Piece::Child(c) => c.write(out),
            }
        }
        out.push_str("</");
        out.push_str(&tag);
        out.push('>');
    }
}

/// What a generated tree may use. [`HOSTILE`] has names that are not names, undeclared and
/// reserved prefixes, bad references and unbalanced markup; [`CLEAN`] is well-formed XML, so
/// that the reader gets past the syntax to the envelope and fault logic.
#[derive(Debug, Clone, Copy)]
struct Vocabulary {
    names: &'static [&'static str],
    odd_names: bool,
    prefixes: &'static [Option<&'static str>],
    raw: &'static [&'static str],
    attribute_raw: &'static [&'static str],
    attribute_keys: &'static [&'static str],
    declarations: &'static [(Option<&'static str>, &'static str)],
    roots: &'static [&'static str],
    envelope_namespaces: &'static [&'static str],
}

const HOSTILE: Vocabulary = Vocabulary {
    names: NAMES,
    odd_names: true,
    prefixes: PREFIXES,
    raw: RAW_TEXT,
    attribute_raw: RAW_TEXT,
    attribute_keys: &[
        "a",
        "b",
        "soap:mustUnderstand",
        "xsi:type",
        "p:a",
        "xml:lang",
        "a:b:c",
        "undeclared:a",
        "xmlns",
        "1",
    ],
    declarations: &[
        (None, "urn:d"),
        (None, ""),
        (Some("p"), "urn:p2"),
        (Some("q"), "urn:q"),
        (Some("q"), ""),
        (Some("soap"), SOAP12_NS),
        (Some("xml"), "urn:not-xml"),
        (Some("xmlns"), "urn:x"),
    ],
    roots: &[
        "Envelope", "Envelope", "Envelope", "envelope", "Body", "html",
    ],
    envelope_namespaces: NAMESPACES,
};

const CLEAN: Vocabulary = Vocabulary {
    names: &[
        "Header",
        "Body",
        "Fault",
        "faultcode",
        "faultstring",
        "detail",
        "Code",
        "Value",
        "Reason",
        "Text",
        "Detail",
        "GetCustomerInfoResponse",
        "GetCustomerInfoResult",
        "CustomerId",
        "ResultCode",
        "Success",
        "a",
        "_",
        "a.b-c",
        "é",
    ],
    odd_names: false,
    prefixes: &[None, None, Some("soap"), Some("p")],
    raw: &[
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&apos;",
        "&#9;",
        "&#65;",
        "&#x41;",
        "&#x1F980;",
        "&#x10FFFF;",
        "<![CDATA[]]>",
        "<![CDATA[<not> &parsed;]]>",
        "<!-- a comment -->",
        "<?pi x?>",
    ],
    attribute_raw: &["&amp;", "&lt;", "&quot;", "&#65;", "&#x1F980;", "&#9;"],
    attribute_keys: &["a", "soap:mustUnderstand", "p:id"],
    declarations: &[
        (None, "urn:d"),
        (None, "http://www.alarm.com/WebServices"),
        (Some("q"), "urn:q"),
    ],
    roots: &["Envelope"],
    envelope_namespaces: &[SOAP11_NS, SOAP12_NS],
};

fn name(v: Vocabulary) -> BoxedStrategy<String> {
    if v.odd_names {
        prop_oneof![
            4 => select(v.names).prop_map(str::to_owned),
            2 => word(NAME_CHARS, 1..8),
            1 => vec(any::<char>(), 1..4).prop_map(String::from_iter),
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => select(v.names).prop_map(str::to_owned),
            1 => word(NAME_CHARS, 0..8).prop_map(|w| format!("n{w}")),
        ]
        .boxed()
    }
}

fn text_piece(v: Vocabulary) -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => awkward_text().prop_map(Piece::Text),
        2 => select(v.raw).prop_map(Piece::Raw),
    ]
}

fn attribute(v: Vocabulary) -> impl Strategy<Value = (String, String)> {
    let value = prop_oneof![
        3 => awkward_text().prop_map(|t| quick_xml::escape::escape(t.as_str()).into_owned()),
        1 => select(v.attribute_raw).prop_map(str::to_owned),
    ];
    (select(v.attribute_keys).prop_map(str::to_owned), value)
}

/// At most one attribute and one declaration per element: a repeated one is an error that
/// would hide everything else.
fn element(v: Vocabulary) -> BoxedStrategy<El> {
    let leaf = (
        select(v.prefixes),
        name(v),
        vec(attribute(v), 0..2),
        vec(select(v.declarations), 0..2),
        vec(text_piece(v), 0..3),
    )
        .prop_map(|(prefix, name, attributes, declarations, pieces)| El {
            prefix,
            name,
            attributes,
            declarations,
            pieces,
        });
    leaf.prop_recursive(3, 16, 4, move |inner| {
        (
            select(v.prefixes),
            name(v),
            vec(attribute(v), 0..2),
            vec(select(v.declarations), 0..2),
            vec(
                prop_oneof![
                    3 => inner.prop_map(|e| Piece::Child(Box::new(e))),
                    1 => text_piece(v),
                ],
                0..5,
            ),
        )
            .prop_map(|(prefix, name, attributes, declarations, pieces)| El {
                prefix,
                name,
                attributes,
                declarations,
                pieces,
            })
    })
    .boxed()
}

fn text_field(
    v: Vocabulary,
    prefix: Option<&'static str>,
    name: &'static str,
) -> impl Strategy<Value = El> {
    vec(text_piece(v), 0..3).prop_map(move |pieces| El::named(prefix, name, pieces))
}

fn wrap(prefix: Option<&'static str>, name: &'static str, children: Vec<El>) -> El {
    El::named(
        prefix,
        name,
        children
            .into_iter()
            .map(|c| Piece::Child(Box::new(c)))
            .collect(),
    )
}

/// A fault of either version, its fields repeated, missing, empty or nested oddly.
fn fault(v: Vocabulary, prefix: Option<&'static str>) -> impl Strategy<Value = El> {
    let field = prop_oneof![
        text_field(v, None, "faultcode"),
        text_field(v, None, "faultstring"),
        text_field(v, None, "faultactor"),
        element(v).prop_map(|e| wrap(None, "detail", vec![e])),
        text_field(v, None, "detail"),
        text_field(v, prefix, "Value").prop_map(move |c| wrap(prefix, "Code", vec![c])),
        (
            text_field(v, prefix, "Value"),
            text_field(v, prefix, "Value")
        )
            .prop_map(move |(c, s)| {
                wrap(prefix, "Code", vec![c, wrap(prefix, "Subcode", vec![s])])
            }),
        text_field(v, prefix, "Text").prop_map(move |t| wrap(prefix, "Reason", vec![t])),
        text_field(v, prefix, "Reason"),
        element(v).prop_map(move |e| wrap(prefix, "Detail", vec![e])),
        element(v),
    ];
    vec(field, 0..6).prop_map(move |fields| wrap(prefix, "Fault", fields))
}

/// A whole answer: an envelope of either version (or, when hostile, of neither), with or
/// without a header, with zero, one or two bodies holding faults, answers or nothing.
fn envelope_document(v: Vocabulary) -> impl Strategy<Value = String> {
    let prefix = select(&[Some("soap"), Some("env"), None][..]);
    let clean = !v.odd_names;
    (
        prefix,
        select(v.envelope_namespaces),
        select(v.roots),
        any::<(bool, bool, bool)>(),
        prop::option::of(element(v)),
        vec(
            vec(
                prop_oneof![2 => element(v), 1 => fault(v, Some("soap")), 1 => fault(v, None)],
                0..3,
            ),
            usize::from(clean)..3,
        ),
        vec(text_piece(v), 0..2),
    )
        .prop_map(
            move |(
                prefix,
                ns,
                root,
                (bom, declaration, body_prefixed),
                header,
                bodies,
                trailing,
            )| {
                let body_prefix = if body_prefixed { prefix } else { None };
                let mut pieces = Vec::new();
                if let Some(h) = header {
                    pieces.push(Piece::Child(Box::new(wrap(body_prefix, "Header", vec![h]))));
                }
                for body in bodies {
                    pieces.push(Piece::Child(Box::new(wrap(body_prefix, "Body", body))));
                }
                let mut envelope = El::named(prefix, root, pieces);
                envelope.declarations.push((prefix, ns));
                if prefix != Some("soap") {
                    envelope.declarations.push((Some("soap"), ns));
                }
                envelope.declarations.push((Some("p"), "urn:p"));
                let mut out = String::new();
                if bom {
                    out.push('\u{feff}');
                }
                if declaration {
                    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
                }
                envelope.write(&mut out);
                for t in trailing {
                    match t {
                        // Only markup may follow the root of a well-formed document.
                        Piece::Text(t) if !clean => out.push_str(&t),
                        Piece::Raw(r)
                            if !clean || r.starts_with("<!--") || r.starts_with("<?p") =>
                        {
                            out.push_str(r)
                        }
                        _ => out.push_str("\r\n"),
                    }
                }
                out
            },
        )
}

// ---------------------------------------------------------------------------------------------
// envelopes written by this module's writer

fn writer_name() -> impl Strategy<Value = String> {
    (select(&['a', 'Z', '_', 'F'][..]), word(NAME_CHARS, 0..8))
        .prop_map(|(first, rest)| format!("{first}{rest}"))
}

fn writer_namespace() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        select(
            &[
                "http://www.alarm.com/WebServices",
                "https://services.alarmnet.com/TC2/",
                SOAP11_NS,
                SOAP12_NS,
            ][..]
        )
        .prop_map(str::to_owned),
        word(&['a', 'z', '0', '.', ':', '-'], 1..12).prop_map(|w| format!("urn:{w}")),
    ])
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (
        writer_name(),
        writer_namespace(),
        prop::option::of(awkward_text()),
    )
        .prop_map(|(name, ns, text)| {
            let mut n = Node::new(name);
            if let Some(ns) = ns {
                n = n.xmlns(ns);
            }
            if let Some(t) = text {
                n = n.text(t);
            }
            n
        });
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            writer_name(),
            writer_namespace(),
            prop::option::of(awkward_text()),
            vec(inner, 0..4),
        )
            .prop_map(|(name, ns, text, children)| {
                let mut n = Node::new(name).children(children);
                if let Some(ns) = ns {
                    n = n.xmlns(ns);
                }
                if let Some(t) = text {
                    n = n.text(t);
                }
                n
            })
    })
}

/// The element the reader must give for a node the writer wrote.
fn expected(node: &Node, inherited: Option<&str>) -> Element {
    let ns = node.xmlns.as_deref().or(inherited);
    Element {
        namespace: ns.map(str::to_owned),
        name: node.name.clone(),
        attributes: Vec::new(),
        // The writer escapes `\r` as `&#13;`, so not even line ends change.
        text: node.text.clone().unwrap_or_default(),
        children: node.children.iter().map(|c| expected(c, ns)).collect(),
    }
}

fn version() -> impl Strategy<Value = SoapVersion> {
    prop_oneof![Just(SoapVersion::V11), Just(SoapVersion::V12)]
}

// ---------------------------------------------------------------------------------------------
// byte mutations of real answers

const SAMPLES: &[&str] = &[
    r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId><FirstName>Ada</FirstName><LastName>Love&amp;lace</LastName><IsTerminated>false</IsTerminated><JoinDate>2026-01-15T09:30:00</JoinDate><ServicePlanInfo><PackageId>9</PackageId><Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum></Addons><AddonQuantities><AddonQuantity><AddOn>ProVideo</AddOn><Quantity>2</Quantity></AddonQuantity></AddonQuantities></ServicePlanInfo></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#,
    r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><AuthenticateUserLoginResponse xmlns="https://services.alarmnet.com/TC2/"><AuthenticateUserLoginResult><ResultCode>0</ResultCode><ResultData>Success</ResultData><SessionID>5C1D0E2A-77B4-4F7A-9B55-0D1E2F3A4B5C</SessionID></AuthenticateUserLoginResult></AuthenticateUserLoginResponse></soap:Body></soap:Envelope>"#,
    r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to process request.</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"#,
    r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Authentication failed: invalid login or password.</faultstring><detail><Code>42</Code><Why>bad <b>things</b></Why></detail></soap:Fault></soap:Body></soap:Envelope>"#,
    r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>x</e:Value></e:Subcode></e:Code><e:Reason><e:Text xml:lang="en">boom</e:Text></e:Reason><e:Detail><n>1</n></e:Detail></e:Fault></e:Body></e:Envelope>"#,
    r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><Authentication xmlns="http://www.alarm.com/WebServices"><User>u</User><Password>p</Password></Authentication></s:Header><s:Body><R a="1" b='&lt;&#65;'><Id>1 &amp; 2</Id><![CDATA[x<y]]><!-- note --><?pi x?></R></s:Body></s:Envelope>"#,
    r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x>&lol2;</x></soap:Body></soap:Envelope>"#,
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\r\n  <soap:Body>\r\n    <GetCustomerListResponse xmlns=\"http://www.alarm.com/WebServices\"><GetCustomerListResult><int>4242</int><int>4243</int></GetCustomerListResult></GetCustomerListResponse>\r\n  </soap:Body>\r\n</soap:Envelope>\r\n",
];

/// Byte strings worth inserting: markup, references, encodings gone wrong.
const INSERTS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b";",
    b"/",
    b"\"",
    b"'",
    b"=",
    b"#",
    b"x",
    b"0",
    b" ",
    b":",
    b"&#0;",
    b"&#xD800;",
    b"&#x110000;",
    b"&amp;",
    b"&lol;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<!DOCTYPE a>",
    b"<?xml version=\"1.0\"?>",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\xED\xA0\x80",
    b"\x00",
    b"<a>",
    b"</a>",
    b"<Fault>",
    b"xmlns:q=\"urn:q\" ",
    b"xmlns=\"\" ",
    b"q:",
];

fn nested(names: &[String], leaf: &str) -> String {
    let mut out = String::new();
    for n in names {
        out.push_str(&format!("<{n}>"));
    }
    out.push_str(leaf);
    for n in names.iter().rev() {
        out.push_str(&format!("</{n}>"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// the properties

proptest! {
    #![proptest_config(config(12_000))]

    /// Any bytes at all, and any ASCII markup characters (which get past the UTF-8 check).
    #[test]
    fn reader_never_panics_on_arbitrary_bytes(
        input in prop_oneof![
            vec(any::<u8>(), 0..64),
            vec(select(&b"<>/=\"'&;#x: aZ?!-[]\r\n"[..]), 0..400),
        ]
    ) {
        parse_and_read_all(&input);
    }
}

proptest! {
    #![proptest_config(config(12_000))]

    /// Token soup: fragments of XML and SOAP, references good and bad, DTDs, BOMs, controls.
    #[test]
    fn reader_never_panics_on_xml_token_soup(
        tokens in vec(
            prop_oneof![
                8 => select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
                2 => word(&['a', 'Z', '0', ' ', 'x'], 1..6).prop_map(String::into_bytes),
                1 => any::<u8>().prop_map(|b| vec![b]),
            ],
            0..60,
        )
    ) {
        parse_and_read_all(&tokens.concat());
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    /// Envelope-shaped answers: either version or neither, headers, several bodies, faults with
    /// fields missing, repeated or nested, text and attributes holding anything. Half are
    /// hostile at the syntax level too; the other half are well-formed, and must parse.
    #[test]
    fn reader_never_panics_on_hostile_envelopes(
        (clean, doc) in prop_oneof![
            envelope_document(HOSTILE).prop_map(|d| (false, d)),
            envelope_document(CLEAN).prop_map(|d| (true, d)),
        ]
    ) {
        read_all(doc.as_bytes());
        if clean {
            prop_assert!(parse(doc.as_bytes()).is_ok(), "{:?}", parse(doc.as_bytes()));
        }
    }
}

proptest! {
    #![proptest_config(config(15_000))]

    /// Real answers, mutated at the byte level (insert, delete, replace, duplicate, truncate).
    #[test]
    fn reader_never_panics_on_mutated_answers(
        sample in select(SAMPLES),
        mutations in vec(mutation(INSERTS), 1..5),
    ) {
        read_all(&mutate(sample.as_bytes(), &mutations));
    }
}

proptest! {
    #![proptest_config(config(3_500))]

    /// What the crate's own writer produces reads back exactly: the body's first element, with
    /// its namespaces, text (line ends included) and children; a header changes nothing.
    #[test]
    fn writer_envelopes_read_back_exactly(
        version in version(),
        header in prop::option::of(node()),
        body in node(),
    ) {
        let xml = envelope(version, header.as_ref(), &body);
        read_all(xml.as_bytes());
        let read = read_envelope(xml.as_bytes());
        if body.name == "Fault" {
            prop_assert!(matches!(read, Err(SoapError::Fault(_))), "{read:?}");
        } else {
            prop_assert_eq!(read, Ok(expected(&body, None)));
        }
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    /// A fault the writer produces reads back as a fault of its version, with its code, reason
    /// and detail trimmed.
    #[test]
    fn writer_faults_read_back_as_typed_faults(
        version in version(),
        prefixed in any::<bool>(),
        code in awkward_text(),
        reason in awkward_text(),
        detail in prop::option::of(awkward_text()),
    ) {
        let name = if prefixed { "soap:Fault" } else { "Fault" };
        let fault = match version {
            SoapVersion::V11 => Node::new(name)
                .field("faultcode", code.as_str())
                .field("faultstring", reason.as_str())
                .opt_field("detail", detail.as_deref()),
            SoapVersion::V12 => Node::new(name)
                .child(Node::new("soap:Code").field("soap:Value", code.as_str()))
                .child(Node::new("soap:Reason").field("soap:Text", reason.as_str()))
                .opt_field("soap:Detail", detail.as_deref()),
        };
        let xml = envelope(version, None, &fault);
        read_all(xml.as_bytes());
        match read_envelope(xml.as_bytes()) {
            Err(SoapError::Fault(f)) => {
                prop_assert_eq!(f.version, version);
                prop_assert_eq!(f.code.as_str(), code.trim());
                prop_assert_eq!(f.reason.as_str(), reason.trim());
                let want = detail.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
                prop_assert_eq!(f.detail, want);
            }
            other => prop_assert!(false, "expected a fault, got {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// Nesting is accepted up to `MAX_DEPTH` levels and refused beyond, with an error.
    #[test]
    fn nesting_is_limited_to_max_depth(
        names in vec(select(NAMES).prop_map(str::to_owned), 1..(MAX_DEPTH + 40)),
        leaf in prop_oneof![Just(String::new()), word(&['a', 'b'], 0..5), select(RAW_TEXT).prop_map(str::to_owned)],
    ) {
        // Names that are not XML names, and raw text that is not well-formed, may be refused
        // for that reason; depth is checked on the well-formed ones.
        let doc = nested(&names, &leaf);
        read_all(doc.as_bytes());
        let well_formed = names.iter().all(|n| n.chars().all(|c| c.is_ascii_alphabetic()))
            && leaf.chars().all(|c| c.is_ascii_lowercase());
        if well_formed {
            prop_assert_eq!(parse(doc.as_bytes()).is_ok(), names.len() <= MAX_DEPTH);
        }
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    /// The local part of a qualified name never panics and never keeps a colon.
    #[test]
    fn local_names_never_keep_a_prefix(name in awkward_text(), prefix in awkward_text()) {
        let qualified = format!("{prefix}:{name}");
        let l = local(&qualified);
        prop_assert!(!l.contains(':'));
        prop_assert!(qualified.ends_with(&l));
        prop_assert!(!local(&name).contains(':'));
    }
}

/// The element limit, at its edge (not a property: the two documents that matter): a document
/// of `MAX_ELEMENTS` elements reads, one more is refused with an error.
#[test]
fn element_count_is_limited() {
    for extra in [0, 1] {
        let n = MAX_ELEMENTS - 1 + extra;
        let mut doc = String::with_capacity(n * 4 + 8);
        doc.push_str("<r>");
        for _ in 0..n {
            doc.push_str("<a/>");
        }
        doc.push_str("</r>");
        assert_eq!(
            parse(doc.as_bytes()).is_ok(),
            extra == 0,
            "{n} + 1 elements"
        );
    }
}
