//! The streaming reader against the tree reader: on a corpus of real-shaped answers, hostile
//! documents and byte-level mutations of both, the two give the same tree, the same envelope
//! element, the same fault and the same error text.

use interactive_services::http::soap::{
    self, MAX_DEPTH, MAX_ELEMENTS, SOAP11_NS, SOAP12_NS, SoapError, stream,
};

const ALARM: &str = "http://www.alarm.com/WebServices";
const TC: &str = "https://services.alarmnet.com/TC2/";

fn envelope(ns: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
    )
}

fn response(ns: &str, op: &str, result: &str) -> String {
    envelope(
        ns,
        &format!(
            r#"<{op}Response xmlns="{ALARM}"><{op}Result>{result}</{op}Result></{op}Response>"#
        ),
    )
}

/// Answers as the services give them, and documents built to break a reader.
fn corpus() -> Vec<String> {
    let info = "<CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId>\
<FirstName>Ada</FirstName><LastName>Lovelace &amp; Co</LastName><PrimaryEmail>ada@example.com</PrimaryEmail>\
<PrimaryPhoneNumber>5555550100</PrimaryPhoneNumber><LoginName>ada</LoginName><IsTerminated>false</IsTerminated>\
<JoinDate>2026-01-15T09:30:00</JoinDate><ServicePlanInfo><PackageId>9</PackageId><PlanType>AI</PlanType>\
<Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum><AddOnFeatureEnum>ZWaveLocks</AddOnFeatureEnum></Addons>\
<AddonQuantities><AddonQuantity><AddOn>ProVideo</AddOn><Quantity>2</Quantity></AddonQuantity></AddonQuantities>\
<TotalServicePrice>39.99</TotalServicePrice></ServicePlanInfo><DealerId>0</DealerId>";
    let ids: String = (0..40)
        .map(|i| format!("<int>{}</int>", 7_000_000 + i))
        .collect();
    let mut docs = vec![
        response(SOAP11_NS, "GetCustomerInfo", info),
        response(SOAP12_NS, "GetCustomerInfo", info),
        response(SOAP11_NS, "GetCustomerList", &ids),
        response(SOAP11_NS, "GetCustomerList", ""),
        response(
            SOAP11_NS,
            "CreateCustomer",
            "<Success>true</Success><ErrorMessage /><LoginName>jdoe</LoginName><Password>p&lt;w</Password><CustomerId>4242</CustomerId>",
        ),
        response(
            SOAP11_NS,
            "ChangeServicePlan",
            "<Success>false</Success><ErrorMessage>Package 12 is not available</ErrorMessage>",
        ),
        response(SOAP11_NS, "TerminateCustomer", "true"),
        response(SOAP12_NS, "LookupCustomerIdFromDealerCustomerId", "0"),
        envelope(
            SOAP11_NS,
            &format!(r#"<GetCustomerInfoResponse xmlns="{ALARM}" />"#),
        ),
        envelope(
            SOAP11_NS,
            &format!(r#"<AuthenticateUserLoginResponse xmlns="{TC}"><AuthenticateUserLoginResult><ResultCode>0</ResultCode><ResultData>Success</ResultData><SessionID>5C1D0E2A</SessionID></AuthenticateUserLoginResult></AuthenticateUserLoginResponse>"#),
        ),
        envelope(
            SOAP11_NS,
            r#"<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Server did not recognize the value of HTTP Header SOAPAction: http://www.alarm.com/WebServices/GetLoginRoles.</faultstring><detail><a>one</a> <b>two</b></detail></soap:Fault>"#,
        ),
        envelope(
            SOAP12_NS,
            r#"<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">Permission denied: Builder Program</soap:Text></soap:Reason><soap:Detail>x</soap:Detail></soap:Fault>"#,
        ),
        // A header first, a prefixed response, comments and a processing instruction.
        format!(
            r#"<?xml version="1.0"?><!-- c --><s:Envelope xmlns:s="{SOAP11_NS}"><s:Header><h>1</h></s:Header><s:Body><?pi x?><a:GetCustomerInfoResponse xmlns:a="{ALARM}"><a:GetCustomerInfoResult><a:CustomerId> 5 </a:CustomerId></a:GetCustomerInfoResult></a:GetCustomerInfoResponse></s:Body></s:Envelope>"#
        ),
        // Text and CDATA around children, character references, attributes.
        format!(
            r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body><R xmlns="{ALARM}" a="1 &amp; 2" b='x&#x41;'>a<![CDATA[<not markup>]]>b<c>d</c>e&#65;&lt;</R></soap:Body></soap:Envelope>"#
        ),
        // Envelope problems.
        format!(r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Header/></soap:Envelope>"#),
        format!(r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body>  </soap:Body></soap:Envelope>"#),
        r#"<Envelope xmlns="urn:other"><Body><X/></Body></Envelope>"#.to_owned(),
        "<html><head><title>503 Service Unavailable</title></head></html>".to_owned(),
        "<!DOCTYPE html><html></html>".to_owned(),
        "<root><child/></root>".to_owned(),
        String::new(),
        "   \n ".to_owned(),
        "\u{feff}<a>b</a>".to_owned(),
        // Hostile documents.
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#.to_owned(),
        r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#.to_owned(),
        "<a>&undeclared;</a>".to_owned(),
        "<a>&#xD800;</a>".to_owned(),
        "<a>&#0;</a>".to_owned(),
        "<a></b>".to_owned(),
        "<a>".to_owned(),
        "</a>".to_owned(),
        "<a/><b/>".to_owned(),
        "<a/>text".to_owned(),
        "<a x='1' x='2'/>".to_owned(),
        "<a x=1/>".to_owned(),
        "<a x='&bad;'/>".to_owned(),
        "<p:a xmlns:p=''/>".to_owned(),
        "<q:a/>".to_owned(),
        "<a:b:c xmlns:a='urn:x'/>".to_owned(),
    ];
    docs.push(nested(MAX_DEPTH));
    docs.push(nested(MAX_DEPTH + 1));
    docs
}

fn nested(levels: usize) -> String {
    let mut s = format!(r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body>"#);
    for _ in 0..levels.saturating_sub(2) {
        s.push_str("<n>");
    }
    for _ in 0..levels.saturating_sub(2) {
        s.push_str("</n>");
    }
    s.push_str("</soap:Body></soap:Envelope>");
    s
}

/// A small deterministic generator (xorshift), so that the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
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
        b"&amp;",
        b"&#65;",
        b"<![CDATA[",
        b"]]>",
        b"<!--",
        b"-->",
        b"<x>",
        b"</x>",
        b"<y/>",
        b"\xff",
        b"\xc3",
        b"soap:",
        b"Fault",
        b"Body",
        b"Result",
        b"xmlns=\"\"",
        b"<!DOCTYPE a>",
    ];
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            v.extend_from_slice(INSERTS[rng.below(INSERTS.len())]);
            continue;
        }
        let at = rng.below(v.len());
        let end = (at + 1 + rng.below(40)).min(v.len());
        match rng.below(5) {
            0 => v[at] = rng.next() as u8,
            1 => v.truncate(at),
            2 => {
                let ins = INSERTS[rng.below(INSERTS.len())];
                v.splice(at..at, ins.iter().copied());
            }
            3 => {
                v.drain(at..end);
            }
            _ => {
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

/// Both readers on one input: the same answers everywhere.
fn agree(input: &[u8]) {
    let tree = soap::parse(input);
    let streamed = stream::parse(input);
    assert_eq!(
        tree,
        streamed,
        "parse differs on {:?}",
        String::from_utf8_lossy(input)
    );
    let tree = soap::read_envelope(input);
    let streamed = stream::read_envelope(input);
    assert_eq!(
        tree,
        streamed,
        "read_envelope differs on {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        matches!(tree, Err(SoapError::Fault(_))),
        soap::is_fault(input),
        "is_fault differs on {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn the_readers_agree_on_the_corpus() {
    let corpus = corpus();
    for doc in &corpus {
        agree(doc.as_bytes());
    }
    // The corpus holds answers of every kind: elements, faults, refusals.
    let outcomes: Vec<_> = corpus
        .iter()
        .map(|d| stream::read_envelope(d.as_bytes()))
        .collect();
    assert!(outcomes.iter().any(Result::is_ok));
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(SoapError::Fault(_))))
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(SoapError::Invalid(_))))
    );
}

#[test]
fn the_readers_agree_on_mutated_answers() {
    let corpus = corpus();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let (mut accepted, mut refused) = (0u32, 0u32);
    for round in 0..30_000 {
        let doc = &corpus[round % corpus.len()];
        let input = mutate(&mut rng, doc.as_bytes());
        agree(&input);
        match soap::parse(&input) {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    // Mutations both keep documents readable and break them: both paths were compared.
    assert!(
        accepted > 1_000 && refused > 1_000,
        "{accepted} / {refused}"
    );
}

#[test]
fn the_element_limit_is_the_same() {
    let under: String = format!("<r>{}</r>", "<i/>".repeat(MAX_ELEMENTS - 1));
    let over: String = format!("<r>{}</r>", "<i/>".repeat(MAX_ELEMENTS));
    agree(under.as_bytes());
    agree(over.as_bytes());
    let err = stream::parse(over.as_bytes()).expect_err("over the limit");
    assert!(err.0.contains(&MAX_ELEMENTS.to_string()), "{err}");
}

#[test]
fn the_depth_limit_is_the_same() {
    agree(nested(MAX_DEPTH).as_bytes());
    let deep = nested(MAX_DEPTH + 1);
    agree(deep.as_bytes());
    let err = stream::parse(deep.as_bytes()).expect_err("too deep");
    assert!(err.0.contains("nested deeper than"), "{err}");
}

#[test]
fn a_cursor_borrows_names_and_plain_text() {
    let doc = "<a><b>plain</b><c>with &amp; entity</c></a>";
    let mut c = stream::Cursor::new(doc.as_bytes()).expect("utf-8");
    assert_eq!(c.next_child().expect("a").as_deref(), Some("a"));
    let b = c.next_child().expect("b").expect("b");
    assert!(matches!(b, std::borrow::Cow::Borrowed("b")));
    let plain = c.text().expect("text");
    assert!(matches!(plain, std::borrow::Cow::Borrowed("plain")));
    assert_eq!(c.next_child().expect("c").as_deref(), Some("c"));
    assert_eq!(c.text().expect("text"), "with & entity");
    assert_eq!(c.next_child().expect("end of a"), None);
    c.finish().expect("complete");
}

#[test]
fn a_problem_after_what_the_decoder_read_still_refuses_the_answer() {
    // The decoder reads only the first child; the document breaks later.
    let doc = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body><R xmlns="{ALARM}"><a>1</a><b>&undeclared;</b></R></soap:Body></soap:Envelope>"#
    );
    let read = stream::read_response(doc.as_bytes(), |c, _| {
        let first = c.next_child()?;
        let text = c.text()?.into_owned();
        Ok(Ok((first.map(|f| f.into_owned()), text)))
    });
    match read {
        Err(SoapError::Invalid(why)) => assert!(why.contains("undeclared entity"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Everything a cursor reads, step by step (each start with its namespace and depth), and
/// whether it gave up; the first error ends it.
fn items(cursor: Result<stream::Cursor<'_>, soap::XmlError>) -> (Vec<String>, bool) {
    let mut c = match cursor {
        Ok(c) => c,
        Err(e) => return (vec![format!("error: {e}")], false),
    };
    let mut out = Vec::new();
    loop {
        match c.next_item() {
            Ok(stream::Item::Start(name)) => {
                out.push(format!("<{name} {:?} {}", c.namespace(), c.depth()));
            }
            Ok(stream::Item::Text(t)) => out.push(format!("text {t:?}")),
            Ok(stream::Item::Char(ch)) => out.push(format!("char {ch:?}")),
            Ok(stream::Item::End) => out.push(format!("/ {}", c.depth())),
            Ok(stream::Item::Eof) => return (out, c.gave_up()),
            Err(e) => {
                out.push(format!("error: {e}"));
                return (out, c.gave_up());
            }
        }
    }
}

/// The quick path against quick-xml on one input: where the quick path does not give up, it
/// reads exactly the same steps. Whether it read the document.
fn quick_agrees(input: &[u8]) -> bool {
    let (exact, exact_gave_up) = items(stream::Cursor::new(input));
    assert!(!exact_gave_up, "quick-xml never gives up");
    let (quick, gave_up) = items(stream::Cursor::quick(input));
    if gave_up {
        return false;
    }
    assert_eq!(
        quick,
        exact,
        "the quick path reads {:?} differently",
        String::from_utf8_lossy(input)
    );
    true
}

#[test]
fn the_quick_path_reads_real_answers_exactly_as_quick_xml() {
    let corpus = corpus();
    // The first twelve documents of the corpus are answers as the services give them: the
    // quick path must read every one of them itself.
    for doc in corpus.iter().take(12) {
        assert!(quick_agrees(doc.as_bytes()), "gave up on {doc}");
    }
    let read: usize = corpus.iter().filter(|d| quick_agrees(d.as_bytes())).count();
    assert!(
        read < corpus.len(),
        "the hostile documents are left to quick-xml"
    );
}

#[test]
fn the_quick_path_reads_mutated_answers_exactly_as_quick_xml() {
    let corpus = corpus();
    let mut rng = Rng(0x5eed_cafe_f00d_0002);
    let (mut read, mut left) = (0u32, 0u32);
    for round in 0..30_000 {
        let doc = &corpus[round % corpus.len()];
        let input = mutate(&mut rng, doc.as_bytes());
        if quick_agrees(&input) {
            read += 1;
        } else {
            left += 1;
        }
    }
    // Both the quick path's reading and its giving up were exercised.
    assert!(read > 1_000 && left > 1_000, "{read} / {left}");
}

#[test]
fn the_quick_path_leaves_what_it_does_not_read_to_quick_xml() {
    for doc in [
        "<a><!-- c --></a>",
        "<a><![CDATA[x]]></a>",
        "<!DOCTYPE a><a/>",
        "<a>&#65;</a>",
        "<a>&nbsp;</a>",
        "<a>line\r\nend</a>",
        "<a b='1 &amp; 2'/>",
        "<a b='x\ny'/>",
        "<a b='1' b='2'/>",
        "<a><?pi x?></a>",
        "<xml:a/>",
        "<a xmlns:xml='urn:x'/>",
        "<a:b:c xmlns:a='urn:x'/>",
        "<a></b>",
        "<a>",
        "<a/><b/>",
        "<é/>",
    ] {
        let (_, gave_up) = items(stream::Cursor::quick(doc.as_bytes()));
        assert!(gave_up, "the quick path read {doc:?}");
        // And the answer is quick-xml's all the same.
        agree(doc.as_bytes());
    }
    let plain = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><R xmlns="{ALARM}" a="1"><b>x &amp; y</b><c/></R></s:Body></s:Envelope>"#
    );
    let (steps, gave_up) = items(stream::Cursor::quick(plain.as_bytes()));
    assert!(!gave_up, "{steps:?}");
    assert_eq!(
        steps[2],
        format!("<R {:?} 3", Some(ALARM)),
        "the default namespace applies"
    );
}

/// A decoder's way through a document: each element, by turns, read whole as text
/// ([`stream::Cursor::text`]), skipped ([`stream::Cursor::skip`]) or entered child by child,
/// then the rest of the document checked ([`stream::Cursor::finish`]). What it saw, and
/// whether the cursor gave up.
fn walk(cursor: Result<stream::Cursor<'_>, soap::XmlError>) -> (Vec<String>, bool) {
    let mut c = match cursor {
        Ok(c) => c,
        Err(e) => return (vec![format!("error: {e}")], false),
    };
    let mut out = Vec::new();
    // The root is entered.
    let mut turn = 1usize;
    let walked = walk_children(&mut c, &mut out, &mut turn).and_then(|()| c.finish());
    if let Err(e) = walked {
        out.push(format!("error: {e}"));
    }
    (out, c.gave_up())
}

fn walk_children(
    c: &mut stream::Cursor<'_>,
    out: &mut Vec<String>,
    turn: &mut usize,
) -> Result<(), soap::XmlError> {
    while let Some(name) = c.next_child()? {
        *turn += 1;
        out.push(format!("<{name} {:?} {}", c.namespace(), c.depth()));
        match *turn % 3 {
            0 => {
                let text = c.text()?;
                out.push(format!("text {text:?} {} @{}", c.depth(), c.position()));
            }
            1 => {
                c.skip()?;
                out.push(format!("skipped {} @{}", c.depth(), c.position()));
            }
            _ => walk_children(c, out, turn)?,
        }
    }
    Ok(())
}

/// [`walk`] on the quick path against quick-xml: where the quick path does not give up, the
/// decoder sees exactly the same. Whether the quick path read the document.
fn quick_walks_alike(input: &[u8]) -> bool {
    let (exact, _) = walk(stream::Cursor::new(input));
    let (quick, gave_up) = walk(stream::Cursor::quick(input));
    if gave_up {
        return false;
    }
    assert_eq!(
        quick,
        exact,
        "a decoder on the quick path reads {:?} differently",
        String::from_utf8_lossy(input)
    );
    true
}

#[test]
fn text_and_skip_on_the_quick_path_read_as_on_quick_xml() {
    let corpus = corpus();
    for doc in corpus.iter().take(12) {
        assert!(quick_walks_alike(doc.as_bytes()), "gave up on {doc}");
    }
    // Turns: a entered, b text, c skipped, d entered (d1 text, d2 skipped), o entered, p text
    // (its child q skipped inside), r skipped, s entered, t text, u skipped.
    let leaves = "<a><b>plain</b><c>gone</c><d><d1>leaf</d1><d2/></d><o>o</o>\
        <p>x<q>inner</q>y</p><r>1 &amp; 2</r><s>t</s ><t></t><u>last</u></a>";
    assert!(quick_walks_alike(leaves.as_bytes()));
    let (seen, _) = walk(stream::Cursor::quick(leaves.as_bytes()));
    assert!(
        seen.iter().any(|s| s.starts_with("text \"xy\"")),
        "{seen:?}"
    );
    let mut rng = Rng(0x5eed_cafe_f00d_0003);
    let (mut read, mut left) = (0u32, 0u32);
    for round in 0..30_000 {
        let doc = &corpus[round % corpus.len()];
        let input = mutate(&mut rng, doc.as_bytes());
        if quick_walks_alike(&input) {
            read += 1;
        } else {
            left += 1;
        }
    }
    assert!(read > 1_000 && left > 1_000, "{read} / {left}");
}
