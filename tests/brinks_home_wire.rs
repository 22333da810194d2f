//! Exact wire checks of the Brinks Home provider against plain wiremock mocks: the
//! `ApplicationIDHeader`, the operations and their actions, the inner documents a provision and
//! a change send, escaping exactly once in both directions, and a malformed inner document in an
//! answer as a typed error.

use std::time::Duration;

use interactive_services::http::soap::{self, Element};
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::brinks_home::BrinksHome;
use interactive_services::{
    AccountId, Address, Error, InteractiveServicesProvider, IspConfig, PlanChange, ProvisionRequest,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "https://mimasweb.monitronics.net/MIDI/";
const PASSWORD: &str = "Pw-ONLY-in-the-body-5521";
const APP_ID: &str = "app-ONLY-in-the-header-88";
const DEALER: &str = "828070003";

fn config(server: &MockServer) -> IspConfig {
    IspConfig::builder()
        .name("wire")
        .provider("brinks_home")
        .endpoint(format!("{}/MIDI/MIDI.asmx", server.uri()))
        .credential("app_id", APP_ID)
        .credential("user_name", "wsi_wire")
        .credential("password", PASSWORD)
        .credential("entity", DEALER)
        .default_plan("RBI")
        .build()
        .expect("config")
}

fn provider(server: &MockServer) -> BrinksHome {
    BrinksHome::builder(&config(server))
        .transport_options(TransportOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            attempt_timeout: Duration::from_secs(5),
            ..TransportOptions::default()
        })
        .build()
        .expect("provider")
}

/// Escapes text for XML (test helper; the crate never builds XML this way).
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A data set of rows, each a list of columns.
fn data_set(rows: &[&[(&str, &str)]]) -> String {
    let mut out = String::from("<NewDataSet>");
    for row in rows {
        out.push_str("<Table>");
        for (k, v) in *row {
            out.push_str(&format!("<{k}>{}</{k}>", esc(v)));
        }
        out.push_str("</Table>");
    }
    out.push_str("</NewDataSet>");
    out
}

/// An answer of `op` carrying `set` inline, as ASMX writes a DataSet.
fn inline(op: &str, set: &str) -> ResponseTemplate {
    let set = set.replacen("<NewDataSet>", "<NewDataSet xmlns=\"\">", 1);
    envelope(
        op,
        &format!(
            r#"<xs:schema id="NewDataSet" xmlns:xs="http://www.w3.org/2001/XMLSchema"/><diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1">{set}</diffgr:diffgram>"#
        ),
    )
}

/// An answer of `op` carrying `set` as an escaped document in the result's text.
fn escaped(op: &str, set: &str) -> ResponseTemplate {
    envelope(op, &esc(set))
}

fn envelope(op: &str, result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{op}Response xmlns="{NS}"><{op}Result>{result}</{op}Result></{op}Response></soap:Body></soap:Envelope>"#
        )
        .into_bytes(),
        "text/xml; charset=utf-8",
    )
}

/// Mounts `answer` for `op` (and, for `GetData`, the entity), matched by path, content type and
/// `SOAPAction`.
async fn mount(server: &MockServer, op: &str, entity: Option<&str>, answer: ResponseTemplate) {
    let mut mock = Mock::given(method("POST"))
        .and(path("/MIDI/MIDI.asmx"))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .and(header("soapaction", format!("\"{NS}{op}\"").as_str()));
    if let Some(e) = entity {
        mock = mock.and(body_string_contains(format!("<Entity>{e}</Entity>")));
    }
    mock.respond_with(answer).mount(server).await;
}

fn body(r: &Request) -> String {
    String::from_utf8(r.body.clone()).expect("utf-8 body")
}

async fn requests_of(server: &MockServer, op: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(body)
        .filter(|b| b.contains(&format!("<{op} xmlns=\"{NS}\">")))
        .collect()
}

/// The operation element of a request body.
fn operation(body: &str) -> Element {
    let mut root = soap::parse(body.as_bytes()).expect("an envelope");
    root.take_child("Body")
        .and_then(|b| b.children.into_iter().next())
        .expect("an operation")
}

/// The inner document a parameter carries: its text (unescaped once by the reader), parsed.
fn inner(op: &Element, parameter: &str) -> Element {
    let text = &op.child(parameter).expect(parameter).text;
    soap::parse(text.as_bytes()).expect("a well-formed inner document")
}

fn options(list: &Element, element: &str) -> Vec<(String, String)> {
    list.children_named(element)
        .map(|o| {
            (
                o.attribute("option_id").expect("option_id").to_owned(),
                o.attribute("option_value")
                    .expect("option_value")
                    .to_owned(),
            )
        })
        .collect()
}

/// Every request: SOAP 1.1, the `ApplicationIDHeader` in the MIDI namespace, and the secrets
/// nowhere but where they belong.
async fn assert_every_request_carries_the_header(server: &MockServer) {
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty());
    for r in &requests {
        let b = body(r);
        assert!(
            b.contains("xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\""),
            "{b}"
        );
        let header = format!(
            "<soap:Header><ApplicationIDHeader xmlns=\"{NS}\"><appID>{APP_ID}</appID></ApplicationIDHeader></soap:Header>"
        );
        assert!(b.contains(&header), "ApplicationIDHeader missing: {b}");
        assert_eq!(b.matches(APP_ID).count(), 1, "the appID only in the header");
        assert_eq!(b.matches(PASSWORD).count(), 1, "the password once");
        assert!(!r.url.as_str().contains(PASSWORD) && !r.url.as_str().contains(APP_ID));
        for (name, value) in r.headers.iter() {
            let v = value.to_str().unwrap_or("");
            assert!(
                !v.contains(PASSWORD) && !v.contains(APP_ID),
                "secret in header {name}"
            );
        }
    }
}

fn alarm_com_site(cs: &str) -> String {
    data_set(&[
        &[
            ("cs_no", cs),
            ("option_id", "CELLPROV"),
            ("option_value", "ALMCOM"),
        ],
        &[
            ("cs_no", cs),
            ("option_id", "CELLMAC"),
            ("option_value", "ADC1"),
        ],
        &[
            ("cs_no", cs),
            ("option_id", "ALMCOMINTSVC"),
            ("option_value", "RBI"),
        ],
        &[
            ("cs_no", cs),
            ("option_id", "ALMCOMWEATHER"),
            ("option_value", ""),
        ],
        &[
            ("cs_no", cs),
            ("option_id", "INST CODE"),
            ("option_value", "3519"),
        ],
    ])
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_credential_check_is_get_data_cell_providers_with_the_application_header() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("CellProviders"),
        inline(
            "GetData",
            &data_set(&[
                &[("cell_provider", "ALMCOM"), ("descr", "Alarm.com")],
                &[("cell_provider", "ALMNET"), ("descr", "AlarmNet")],
            ]),
        ),
    )
    .await;
    let check = provider(&server)
        .validate_credentials()
        .await
        .expect("valid");
    assert!(check.can("provisioning"));
    assert_eq!(check.login, "wsi_wire");
    let sent = requests_of(&server, "GetData").await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains(&format!(
            "<GetData xmlns=\"{NS}\"><Entity>CellProviders</Entity><UserID>wsi_wire</UserID><Password>{PASSWORD}</Password></GetData>"
        )),
        "{}",
        sent[0]
    );
    assert_every_request_carries_the_header(&server).await;
}

#[tokio::test]
async fn a_provision_with_two_add_ons_sends_the_interactive_service_options() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Sites"),
        inline("GetData", "<NewDataSet/>"),
    )
    .await;
    mount(
        &server,
        "AccountOnline",
        None,
        inline(
            "AccountOnline",
            &data_set(&[&[
                ("table_name", "SiteOption"),
                ("entry_id", "Confirm#"),
                ("cs_no", "768247002"),
                ("msg_type", "0"),
                ("err_text", "Online confirmation #, 08528269; Digital"),
            ]]),
        ),
    )
    .await;
    let request = ProvisionRequest::builder("D-WIRE")
        .name("Ada", "Lovelace")
        .email("ada@example.com")
        .phone("5555550100")
        .address(Address {
            street1: "1 Analytical Way".into(),
            city: "Dallas".into(),
            state: "TX".into(),
            zip: "75201".into(),
            country: "US".into(),
            ..Address::default()
        })
        .modem_serial("ADC-SERIAL-1")
        .plan("RBI")
        .add_on("WEATHER")
        .add_on("GARAGEDOOR")
        .vendor_field("cs_number", "768247002")
        .build();
    let account = provider(&server)
        .provision(&request)
        .await
        .expect("provision");
    assert_eq!(account.id.as_str(), "768247002");
    assert!(account.has_feature("WEATHER") && account.has_feature("GARAGEDOOR"));

    // The lookup before the create: GetData Sites by dealer customer id, its query escaped once.
    let lookups = requests_of(&server, "GetData").await;
    assert_eq!(lookups.len(), 1);
    assert!(
        lookups[0].contains(
            "<XMLData>&lt;GetSites&gt;&lt;GetSite dealer_cust_id=&quot;D-WIRE&quot;/&gt;&lt;/GetSites&gt;</XMLData>"
        ),
        "{}",
        lookups[0]
    );

    let sent = requests_of(&server, "AccountOnline").await;
    assert_eq!(sent.len(), 1, "one AccountOnline");
    let raw = &sent[0];
    assert!(raw.contains("<xml>&lt;Account&gt;"), "escaped once: {raw}");
    assert!(!raw.contains("&amp;lt;Account"), "not twice: {raw}");
    let op = operation(raw);
    assert_eq!(op.child_text("userName"), Some("wsi_wire"));
    assert_eq!(op.child_text("password"), Some(PASSWORD));
    assert_eq!(op.child_text("csNo"), Some("768247002"));
    assert!(op.child("creditRequestXml").is_some() && op.child("purchaseInfoXml").is_some());

    let account_doc = inner(&op, "xml");
    assert_eq!(account_doc.name, "Account");
    let site_system_options = options(
        account_doc
            .child("SiteSystemOptions")
            .expect("SiteSystemOptions"),
        "SiteSystemOption",
    );
    let expected: Vec<(String, String)> = [
        ("CELLPROV", "ALMCOM"),
        ("CELLMAC", "ADC-SERIAL-1"),
        ("ALMCOMINTSVC", "RBI"),
        ("ALMCOMWEATHER", ""),
        ("ALMCOMGARAGEDOOR", ""),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(site_system_options, expected);
    assert_eq!(
        options(
            account_doc.child("SiteOptions").expect("SiteOptions"),
            "SiteOption"
        ),
        vec![("DLRCUSTID".to_owned(), "D-WIRE".to_owned())]
    );
    let system = account_doc
        .path(&["SiteSystems", "SiteSystem"])
        .expect("SiteSystem");
    for (attribute, value) in [
        ("site_name", "Ada Lovelace"),
        ("site_addr1", "1 Analytical Way"),
        ("city_name", "Dallas"),
        ("state_id", "TX"),
        ("zip_code", "75201"),
        ("phone1", "5555550100"),
        ("servco_no", DEALER),
        ("install_servco_no", DEALER),
        ("sitetype_id", "RBFM"),
    ] {
        assert_eq!(system.attribute(attribute), Some(value), "{attribute}");
    }
    let contact = account_doc.path(&["Contacts", "Contact"]).expect("Contact");
    assert_eq!(contact.attribute("first_name"), Some("Ada"));
    assert_eq!(contact.attribute("contract_signer_flag"), Some("Y"));
    assert_eq!(contact.attribute("email_address"), Some("ada@example.com"));
    assert_every_request_carries_the_header(&server).await;
}

#[tokio::test]
async fn hostile_text_is_escaped_exactly_once_each_way_and_round_trips() {
    let first = "Zoë <script>&amp; \"quoted\"";
    let last = "O'Brien ]]> & Ünïcødé 東京";
    let street = "1 <Main> & 'Elm' ]]>";

    // Request direction.
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Sites"),
        inline("GetData", "<NewDataSet/>"),
    )
    .await;
    mount(
        &server,
        "AccountOnline",
        None,
        inline("AccountOnline", "<NewDataSet/>"),
    )
    .await;
    let request = ProvisionRequest::builder("D-<&>")
        .name(first, last)
        .address(Address {
            street1: street.into(),
            city: "Saint-Étienne".into(),
            state: "TX".into(),
            zip: "75201".into(),
            country: "US".into(),
            ..Address::default()
        })
        .modem_serial("ADC-2")
        .plan("RBI")
        .vendor_field("cs_number", "768247003")
        .build();
    provider(&server)
        .provision(&request)
        .await
        .expect("provision");
    let raw = requests_of(&server, "AccountOnline").await.remove(0);
    // `<` is `&lt;` in the inner document and `&amp;lt;` on the wire: never more.
    assert!(
        raw.contains("Zoë &amp;lt;script&amp;gt;&amp;amp;amp;"),
        "{raw}"
    );
    assert!(!raw.contains("&amp;amp;lt;"), "escaped twice: {raw}");
    let doc = inner(&operation(&raw), "xml");
    let contact = doc.path(&["Contacts", "Contact"]).expect("Contact");
    assert_eq!(contact.attribute("first_name"), Some(first));
    assert_eq!(contact.attribute("last_name"), Some(last));
    let system = doc
        .path(&["SiteSystems", "SiteSystem"])
        .expect("SiteSystem");
    assert_eq!(system.attribute("site_addr1"), Some(street));
    assert_eq!(system.attribute("city_name"), Some("Saint-Étienne"));
    assert_eq!(
        options(doc.child("SiteOptions").expect("SiteOptions"), "SiteOption"),
        vec![("DLRCUSTID".to_owned(), "D-<&>".to_owned())]
    );

    // Answer direction, in both forms a DataSet may take.
    for form in [inline, escaped] {
        let server = MockServer::start().await;
        mount(
            &server,
            "GetData",
            Some("Sitesystemoptions"),
            form("GetData", &alarm_com_site("768247003")),
        )
        .await;
        mount(
            &server,
            "GetData",
            Some("Contacts"),
            form(
                "GetData",
                &data_set(&[&[
                    ("cs_no", "768247003"),
                    ("first_name", first),
                    ("last_name", last),
                    ("contract_signer_flag", "Y"),
                ]]),
            ),
        )
        .await;
        mount(
            &server,
            "GetData",
            Some("Siteoptions"),
            form(
                "GetData",
                &data_set(&[&[
                    ("cs_no", "768247003"),
                    ("option_id", "DLRCUSTID"),
                    ("option_value", "D-<&>"),
                ]]),
            ),
        )
        .await;
        let account = provider(&server)
            .account(&AccountId::new("768247003"))
            .await
            .expect("read");
        assert_eq!(account.contact.first_name, first);
        assert_eq!(account.contact.last_name, last);
        assert_eq!(
            account.dealer_customer_id.as_ref().map(|d| d.as_str()),
            Some("D-<&>")
        );
        assert!(account.has_feature("WEATHER"));
        assert!(!account.has_feature("INTSVC"), "the level is not an add-on");
        assert_eq!(account.plan.as_ref().map(|p| p.as_str()), Some("RBI"));
    }
}

#[tokio::test]
async fn a_malformed_inner_document_in_an_answer_is_a_typed_error() {
    let server = MockServer::start().await;
    // The result's text is a data set whose <Table> is never closed.
    mount(
        &server,
        "GetData",
        Some("CellProviders"),
        envelope(
            "GetData",
            "&lt;NewDataSet&gt;&lt;Table&gt;&lt;cell_provider&gt;ALMCOM&lt;/cell_provider&gt;&lt;/NewDataSet&gt;",
        ),
    )
    .await;
    match provider(&server).validate_credentials().await {
        Err(Error::InvalidResponse {
            provider,
            operation,
            vendor_operation,
            detail,
        }) => {
            assert_eq!(provider, "brinks_home");
            assert_eq!(operation, "validate_credentials");
            assert_eq!(vendor_operation, Some("GetData"));
            assert!(detail.contains("inner document"), "{detail}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }

    // An inner document declaring entities is refused, never expanded.
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Cellsvcs"),
        envelope(
            "GetData",
            "&lt;!DOCTYPE d [&lt;!ENTITY x \"boom\"&gt;]&gt;&lt;NewDataSet&gt;&lt;Table&gt;&lt;descr&gt;&amp;x;&lt;/descr&gt;&lt;/Table&gt;&lt;/NewDataSet&gt;",
        ),
    )
    .await;
    match provider(&server).service_plans().await {
        Err(Error::InvalidResponse {
            detail, operation, ..
        }) => {
            assert_eq!(operation, "service_plans");
            assert!(detail.contains("DTD"), "{detail}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreadable_create_answer_is_looked_up_not_repeated() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Sites"),
        inline("GetData", "<NewDataSet/>"),
    )
    .await;
    mount(
        &server,
        "AccountOnline",
        None,
        envelope("AccountOnline", "&lt;NewDataSet&gt;&lt;Table&gt;"),
    )
    .await;
    let request = ProvisionRequest::builder("D-UNREAD")
        .name("A", "B")
        .modem_serial("ADC-3")
        .plan("RBI")
        .vendor_field("cs_number", "768247004")
        .build();
    let r = provider(&server).provision(&request).await;
    assert!(
        matches!(&r, Err(Error::OutcomeUnknown { dealer_customer_id, .. }) if dealer_customer_id == "D-UNREAD"),
        "{r:?}"
    );
    assert_eq!(requests_of(&server, "AccountOnline").await.len(), 1);
    assert_eq!(
        requests_of(&server, "GetData").await.len(),
        2,
        "looked up before and after"
    );
}

#[tokio::test]
async fn an_answer_about_another_site_is_refused() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Sitesystemoptions"),
        inline("GetData", &alarm_com_site("768000001")),
    )
    .await;
    let r = provider(&server)
        .account(&AccountId::new("768247005"))
        .await;
    assert!(matches!(r, Err(Error::InvalidResponse { .. })), "{r:?}");
}

#[tokio::test]
async fn a_change_sends_update_with_its_request_type_and_an_options_document() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("Sitesystemoptions"),
        inline("GetData", &alarm_com_site("768247006")),
    )
    .await;
    mount(
        &server,
        "GetData",
        Some("Contacts"),
        inline(
            "GetData",
            &data_set(&[&[("first_name", "Ada"), ("last_name", "Lovelace")]]),
        ),
    )
    .await;
    mount(
        &server,
        "GetData",
        Some("Siteoptions"),
        inline("GetData", "<NewDataSet/>"),
    )
    .await;
    mount(
        &server,
        "Update",
        None,
        inline(
            "Update",
            &data_set(&[&[("msg_type", "0"), ("err_text", "Update applied.")]]),
        ),
    )
    .await;
    provider(&server)
        .change_plan(&AccountId::new("768247006"), &PlanChange::new().plan("RAI"))
        .await
        .expect("change");
    let updates = requests_of(&server, "Update").await;
    assert_eq!(updates.len(), 1);
    let op = operation(&updates[0]);
    assert_eq!(op.child_text("UserID"), Some("wsi_wire"));
    assert_eq!(op.child_text("RequestType"), Some("C"));
    assert_eq!(op.child_text("CustomerNumber"), Some("768247006"));
    let doc = inner(&op, "XMLData");
    assert_eq!(
        options(
            doc.child("SiteSystemOptions").expect("SiteSystemOptions"),
            "SiteSystemOption"
        ),
        vec![("ALMCOMINTSVC".to_owned(), "RAI".to_owned())]
    );
    assert_every_request_carries_the_header(&server).await;
}

#[tokio::test]
async fn vendor_errors_are_typed_by_what_they_say() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GetData",
        Some("CellProviders"),
        inline(
            "GetData",
            &data_set(&[&[("err_msg", "Login failed: invalid user ID or password.")]]),
        ),
    )
    .await;
    mount(
        &server,
        "GetData",
        Some("Sitesystemoptions"),
        inline(
            "GetData",
            &data_set(&[&[("err_msg", "No site found for CS number 768247007.")]]),
        ),
    )
    .await;
    let p = provider(&server);
    assert!(matches!(
        p.validate_credentials().await,
        Err(Error::Unauthenticated { .. })
    ));
    assert!(matches!(
        p.account(&AccountId::new("768247007")).await,
        Err(Error::NotFound { .. })
    ));
}
