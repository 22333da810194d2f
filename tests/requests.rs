//! Request types a host fills from a form or JSON: partial JSON takes sensible empty values,
//! and each vendor's provisioning fields are published and checked, typos included.

use interactive_services::providers::alarm_com::simulator::AlarmComSimulator;
use interactive_services::providers::built_in_specs;
use interactive_services::{ErrorKind, PlanChange, ProviderRegistry, ProvisionRequest};

#[test]
fn partial_json_takes_empty_values() {
    let change: PlanChange =
        serde_json::from_str(r#"{"add":[{"feature":"LightAutomation"}]}"#).expect("partial");
    assert_eq!(change.add.len(), 1);
    assert!(change.remove.is_empty() && change.plan.is_none() && !change.validate_only);

    let request: ProvisionRequest =
        serde_json::from_str(r#"{"dealer_customer_id":"D-1","contact":{"first_name":"Ada"}}"#)
            .expect("partial request");
    assert_eq!(request.contact.first_name, "Ada");
    assert!(request.add_ons.is_empty() && request.vendor_fields.is_empty());
    assert!(request.validate().is_ok(), "{:?}", request.validate());
}

#[test]
fn each_vendor_publishes_its_provisioning_fields() {
    let tc = built_in_specs()
        .iter()
        .find(|s| s.name == "total_connect")
        .expect("total_connect");
    let keys: Vec<&str> = tc.provision_fields.iter().map(|f| f.key).collect();
    for k in [
        "city_number",
        "cs_number",
        "subscriber_number",
        "mac",
        "crc",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert!(
        tc.provision_fields
            .iter()
            .all(|f| !f.label.is_empty() && !f.format.is_empty())
    );
    let required: Vec<&str> = tc
        .provision_fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    assert_eq!(
        required,
        ["city_number", "cs_number", "subscriber_number", "crc"]
    );
}

#[test]
fn a_misspelled_vendor_field_is_reported_with_the_closest_one() {
    let tc = built_in_specs()
        .iter()
        .find(|s| s.name == "total_connect")
        .expect("total_connect");
    let mut fields = std::collections::BTreeMap::new();
    for (k, v) in [
        ("city_numbr", "12"),
        ("cs_number", "34"),
        ("subscriber_number", "5678"),
        ("crc", "ABCD"),
    ] {
        fields.insert(k.to_owned(), v.to_owned());
    }
    let mut problems = interactive_services::ValidationErrors::new();
    tc.validate_provision_fields(&fields, &mut problems);
    let shown = problems.to_string();
    assert!(shown.contains("vendor_fields.city_numbr"), "{shown}");
    assert!(shown.contains("did you mean `city_number`"), "{shown}");
    assert!(
        shown.contains("vendor_fields.city_number: City number is required"),
        "{shown}"
    );
    assert_eq!(problems.len(), 2, "{shown}");
}

#[tokio::test]
async fn a_vendor_field_alarm_com_does_not_take_is_refused_before_any_request() {
    let sim = AlarmComSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("provider");
    let mut request = ProvisionRequest::builder("D-VF").name("A", "B").build();
    request
        .vendor_fields
        .insert("city_number".into(), "12".into());
    let e = provider.provision(&request).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(e.to_string().contains("takes no vendor fields"), "{e}");
    assert!(sim.calls().is_empty());
}
