//! The SOAP reader refuses what a hostile answer could use against it, and the writer produces
//! envelopes that vendors (and the reader) understand.

use interactive_services::Error;
use interactive_services::http::soap::{
    self, MAX_DEPTH, Node, SOAP11_NS, SOAP12_NS, SoapError, SoapVersion, parse, read_envelope,
};

#[track_caller]
fn parse_err(xml: &str) -> String {
    match parse(xml.as_bytes()) {
        Err(e) => e.to_string(),
        Ok(el) => panic!("expected an error for {xml:?}, got {el:?}"),
    }
}

#[track_caller]
fn invalid(body: &[u8]) -> String {
    match read_envelope(body) {
        Err(SoapError::Invalid(why)) => why,
        other => panic!("expected SoapError::Invalid, got {other:?}"),
    }
}

fn soap11(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP11_NS}"><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

// ---------------------------------------------------------------------------------------------
// hostile input

#[test]
fn a_dtd_is_refused_and_nothing_is_expanded() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "EXPANDED-ENTITY"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    let err = parse_err(xml);
    assert!(err.contains("DTD"), "{err}");
    assert!(!err.contains("EXPANDED-ENTITY"), "{err}");
    // The envelope reader says the same, as an invalid answer.
    let why = invalid(xml.as_bytes());
    assert!(why.contains("DTD"), "{why}");
}

#[test]
fn an_external_entity_dtd_is_refused() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"#;
    assert!(parse_err(xml).contains("DTD"));
}

#[test]
fn an_undeclared_entity_is_refused() {
    let err = parse_err("<a>before &nbsp; after</a>");
    assert!(err.contains("undeclared entity"), "{err}");
    let err = parse_err(&soap11("<R>&custom;</R>"));
    assert!(err.contains("entity"), "{err}");
}

#[test]
fn predefined_entities_and_character_references_are_decoded() {
    let el = parse(b"<a>x &lt;&amp;&gt;&quot;&apos; &#65;&#x42;&#x1F512; y</a>").unwrap();
    assert_eq!(el.text, "x <&>\"' AB\u{1F512} y");
    let el = parse(br#"<a v="&lt;1&amp;2&gt;" w="&#65;"/>"#).unwrap();
    assert_eq!(el.attribute("v"), Some("<1&2>"));
    assert_eq!(el.attribute("w"), Some("A"));
}

#[test]
fn cdata_is_kept_verbatim() {
    let el = parse(b"<a><![CDATA[<not-a-tag> & raw]]></a>").unwrap();
    assert_eq!(el.text, "<not-a-tag> & raw");
}

#[test]
fn a_bad_character_reference_is_refused() {
    parse_err("<a>&#xFFFFFFFF;</a>");
    parse_err("<a>&#0;</a>");
}

fn nested(levels: usize) -> String {
    let mut xml = String::new();
    for _ in 0..levels {
        xml.push_str("<n>");
    }
    xml.push_str("deep");
    for _ in 0..levels {
        xml.push_str("</n>");
    }
    xml
}

#[test]
fn nesting_is_limited() {
    assert_eq!(MAX_DEPTH, 64);
    let err = parse_err(&nested(100));
    assert!(err.contains("nested deeper"), "{err}");
    // The limit itself is fine, one more is not.
    assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
    parse_err(&nested(MAX_DEPTH + 1));
}

#[test]
fn truncated_xml_is_reported_as_ending_early() {
    let err = parse_err("<a><b>text</b><c>more");
    assert!(err.contains("ended early"), "{err}");
    assert!(err.contains("<c>"), "{err}");
    let whole = soap11("<GetInfoResponse><Id>1</Id></GetInfoResponse>");
    let cut = whole.split("</GetInfoResponse>").next().unwrap();
    let why = invalid(cut.as_bytes());
    assert!(
        why.contains("ended early, inside <GetInfoResponse>"),
        "{why}"
    );
}

#[test]
fn every_truncation_of_an_envelope_is_refused() {
    let xml = soap11(r#"<R a="1"><Id>1 &amp; 2</Id><![CDATA[x]]><!-- note --><?pi x?></R>"#);
    assert!(read_envelope(xml.as_bytes()).is_ok());
    for cut in 0..xml.len() {
        let prefix = &xml[..cut];
        let why = match read_envelope(prefix.as_bytes()) {
            Err(SoapError::Invalid(why)) => why,
            other => panic!("cut at {cut}: expected Invalid, got {other:?}"),
        };
        // Cut between two tags: the reader says the document ended early.
        if prefix.ends_with('>') && prefix.contains("<s:Envelope") {
            assert!(why.contains("ended early"), "cut at {cut}: {why}");
        }
    }
}

#[test]
fn malformed_xml_is_an_error_not_a_panic() {
    for xml in [
        "<a><b></a>",
        "<a></b>",
        "</a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a><b",
        "<a/><b/>",
        "text only",
    ] {
        assert!(parse(xml.as_bytes()).is_err(), "{xml:?} should be refused");
    }
    assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
}

#[test]
fn content_after_the_root_is_refused() {
    let err = parse_err("<a/><b/>");
    assert!(err.contains("after the root"), "{err}");
}

#[test]
fn an_empty_document_is_an_error() {
    assert!(parse_err("").contains("empty"));
    assert!(parse_err("<?xml version=\"1.0\"?>  <!-- nothing -->").contains("empty"));
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(b"<a>ok</a>");
    assert_eq!(parse(&bytes).unwrap().text, "ok");
}

// ---------------------------------------------------------------------------------------------
// envelopes

#[test]
fn an_html_body_is_invalid_and_names_the_page() {
    let html = b"  <!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>down</body></html>";
    let why = invalid(html);
    assert!(why.contains("HTML"), "{why}");
    assert!(why.contains("Service Unavailable"), "{why}");
    let why = invalid(b"<html><body>Error</body></html>");
    assert!(why.contains("HTML"), "{why}");
}

#[test]
fn an_empty_body_is_invalid() {
    assert!(invalid(b"").contains("empty"));
    assert!(invalid(b" \r\n\t ").contains("empty"));
}

#[test]
fn a_non_envelope_is_invalid() {
    assert!(invalid(b"<Result>1</Result>").contains("not a SOAP Envelope"));
    let why = invalid(br#"<Envelope xmlns="urn:other"><Body/></Envelope>"#);
    assert!(why.contains("neither SOAP 1.1 nor 1.2"), "{why}");
    let why = invalid(format!(r#"<s:Envelope xmlns:s="{SOAP11_NS}"/>"#).as_bytes());
    assert!(why.contains("no Body"), "{why}");
    let why = invalid(soap11("").as_bytes());
    assert!(why.contains("Body is empty"), "{why}");
}

#[test]
fn the_first_body_element_is_returned() {
    let xml = soap11(
        r#"<GetCustomerInfoResponse xmlns="https://services.alarm.com/WebServices"><Result><CustomerId>1001</CustomerId><Name>Ada &amp; Co</Name></Result></GetCustomerInfoResponse>"#,
    );
    let el = read_envelope(xml.as_bytes()).unwrap();
    assert_eq!(el.name, "GetCustomerInfoResponse");
    assert_eq!(
        el.namespace.as_deref(),
        Some("https://services.alarm.com/WebServices")
    );
    assert_eq!(
        el.path(&["Result", "CustomerId"]).map(|e| e.text.as_str()),
        Some("1001")
    );
    assert_eq!(
        el.descendant("Name").map(|e| e.text.as_str()),
        Some("Ada & Co")
    );
    assert!(!soap::is_fault(xml.as_bytes()));
}

#[test]
fn is_fault_recognises_both_versions_only() {
    let f11 =
        soap11("<s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault>");
    assert!(soap::is_fault(f11.as_bytes()));
    let f12 = format!(
        r#"<e:Envelope xmlns:e="{SOAP12_NS}"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text>boom</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#
    );
    assert!(soap::is_fault(f12.as_bytes()));
    assert!(!soap::is_fault(b"<html><title>500</title></html>"));
    assert!(!soap::is_fault(b""));
}

#[test]
fn an_invalid_answer_becomes_invalid_response() {
    let err = SoapError::Invalid("the answer is empty".into()).into_error("alarm_com", "account");
    match err {
        Error::InvalidResponse {
            provider,
            operation,
            detail,
            ..
        } => {
            assert_eq!(provider, "alarm_com");
            assert_eq!(operation, "account");
            assert_eq!(detail, "the answer is empty");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// writing

fn auth_header() -> Node {
    Node::new("Authentication")
        .xmlns("https://services.alarm.com/WebServices")
        .field("User", "integration-user")
        .field("Password", "p<a>ss&word")
}

fn body() -> Node {
    Node::new("CreateCustomer")
        .xmlns("https://services.alarm.com/WebServices")
        .field("Name", "Ada <&> \"Lovelace\"")
        .opt_field("Company", None::<String>)
        .opt_field("Phone", Some("555"))
        .child(Node::new("Empty"))
}

#[test]
fn envelope_v11_has_namespace_header_body_and_escaped_text() {
    let xml = soap::envelope(SoapVersion::V11, Some(&auth_header()), &body());
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("xmlns:soap=\"{SOAP11_NS}\"")),
        "{xml}"
    );
    assert!(xml.contains("<soap:Header><Authentication"), "{xml}");
    assert!(xml.contains("<soap:Body><CreateCustomer"), "{xml}");
    assert!(xml.contains("p&lt;a&gt;ss&amp;word"), "{xml}");
    assert!(xml.contains("Ada &lt;&amp;&gt;"), "{xml}");
    assert!(!xml.contains("Ada <&>"), "{xml}");
    assert!(!xml.contains("<Company"), "{xml}");
    assert!(xml.contains("<Phone>555</Phone>"), "{xml}");
    assert!(xml.contains("<Empty />"), "{xml}");
    assert!(xml.ends_with("</soap:Body></soap:Envelope>"), "{xml}");

    // What is written reads back, text unescaped.
    let el = read_envelope(xml.as_bytes()).unwrap();
    assert_eq!(el.name, "CreateCustomer");
    assert_eq!(el.child_text("Name"), Some("Ada <&> \"Lovelace\""));
    let root = parse(xml.as_bytes()).unwrap();
    assert_eq!(root.namespace.as_deref(), Some(SOAP11_NS));
    assert_eq!(
        root.path(&["Header", "Authentication", "Password"])
            .map(|e| e.text.as_str()),
        Some("p<a>ss&word")
    );
}

#[test]
fn envelope_v12_uses_the_soap_12_namespace() {
    let xml = soap::envelope(SoapVersion::V12, None, &body());
    assert!(
        xml.contains(&format!("xmlns:soap=\"{SOAP12_NS}\"")),
        "{xml}"
    );
    assert!(!xml.contains(SOAP11_NS), "{xml}");
    assert!(!xml.contains("Header"), "{xml}");
    let root = parse(xml.as_bytes()).unwrap();
    assert_eq!(root.namespace.as_deref(), Some(SOAP12_NS));
    assert_eq!(
        read_envelope(xml.as_bytes()).unwrap().name,
        "CreateCustomer"
    );
}

#[test]
fn namespace_attribute_values_are_escaped() {
    let mut out = String::new();
    Node::new("X").xmlns("urn:a\"b&c").write(&mut out);
    assert_eq!(out, "<X xmlns=\"urn:a&quot;b&amp;c\" />");
    assert!(parse(out.as_bytes()).is_ok());
}

#[test]
fn version_namespaces_and_headers() {
    assert_eq!(SoapVersion::default(), SoapVersion::V11);
    assert_eq!(SoapVersion::V11.namespace(), SOAP11_NS);
    assert_eq!(SoapVersion::V12.namespace(), SOAP12_NS);
    assert_eq!(
        SoapVersion::V11.headers("https://services.alarm.com/WebServices/GetCustomerInfo"),
        (
            "text/xml; charset=utf-8".to_owned(),
            Some("\"https://services.alarm.com/WebServices/GetCustomerInfo\"".to_owned())
        )
    );
    let (content_type, soap_action) = SoapVersion::V12.headers("urn:GetCustomerInfo");
    assert!(
        content_type.starts_with("application/soap+xml"),
        "{content_type}"
    );
    assert!(
        content_type.contains("action=\"urn:GetCustomerInfo\""),
        "{content_type}"
    );
    assert_eq!(soap_action, None);
}
