//! Alarm.com billing sync (modelled operations) against the simulator: activation and its
//! permission, the billing event feed, a hostile event, and the billing summary push.

use chrono::NaiveDate;
use interactive_services::model::{BillingSummary, Invoice, PaymentMethodKind, PaymentRecord};
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_PASSWORD, SimLogin,
};
use interactive_services::{
    AccountId, Address, Error, EventKind, InteractiveServicesProvider, Money, ProviderRegistry,
    ProvisionRequest,
};

fn request(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .email("grace@example.com")
        .phone("5555550123")
        .address(Address {
            street1: "1 Navy Way".into(),
            city: "Arlington".into(),
            state: "VA".into(),
            zip: "22201".into(),
            country: "US".into(),
            ..Address::default()
        })
        .panel_type("IQPanel2")
        .modem_serial("ABC123456")
        .plan("9")
        .build()
}

async fn billing_provider(
    sim: &AlarmComSimulator,
    login: &str,
    password: &str,
) -> std::sync::Arc<dyn InteractiveServicesProvider> {
    let config = sim
        .config_for(login, password)
        .to_builder()
        .billing(true)
        .build()
        .expect("valid");
    ProviderRegistry::with_built_ins()
        .build(&config)
        .expect("built")
}

/// Requests that reached the simulator's server whose SOAP body names `operation` (refused
/// ones included, unlike `call_count`).
async fn requests_naming(sim: &AlarmComSimulator, operation: &str) -> usize {
    let tag = format!("<{operation} ");
    sim.server()
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(&tag))
        .count()
}

fn customer_id(account: &AccountId) -> i64 {
    account.as_str().parse().expect("numeric id")
}

#[tokio::test]
async fn activation_needs_the_billing_permission_and_says_how_to_get_it() {
    let sim = AlarmComSimulator::start().await;
    sim.add_login(
        "no-billing",
        SimLogin::owner("pw-no-billing-1").without_billing(),
    );
    let provider = billing_provider(&sim, "no-billing", "pw-no-billing-1").await;
    let err = provider.activate_billing().await.expect_err("refused");
    match &err {
        Error::PermissionDenied {
            permission,
            guidance,
            ..
        } => {
            assert_eq!(permission, "setSecurityTraxSettings");
            assert!(guidance.contains("technical account manager"), "{guidance}");
            assert!(guidance.contains("activate"), "{guidance}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!sim.billing_active());
    assert_eq!(
        sim.call_count("SetSecurityTraxSettings"),
        0,
        "refused before the call"
    );

    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    provider.activate_billing().await.expect("activated");
    assert!(sim.billing_active());
    provider.activate_billing().await.expect("again: no change");
}

#[tokio::test]
async fn a_service_without_the_modelled_operations_is_unsupported_not_retried() {
    let sim = AlarmComSimulator::start().await;
    sim.serve_modelled_operations(false);
    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    let err = provider.activate_billing().await.expect_err("unsupported");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("SetSecurityTraxSettings"), "{err}");
    assert!(err.to_string().contains("modelled"), "{err}");
    assert_eq!(
        requests_naming(&sim, "SetSecurityTraxSettings").await,
        1,
        "no retry"
    );

    let err = provider.events_since(None).await.expect_err("unsupported");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(
        requests_naming(&sim, "GetBillingEvents").await,
        1,
        "no retry"
    );
}

#[tokio::test]
async fn payments_reversals_and_card_changes_arrive_in_order_and_resume_from_the_cursor() {
    let sim = AlarmComSimulator::start().await;
    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(&request("D-1"))
        .await
        .expect("provisioned");
    let id = customer_id(&account.id);

    let paid_invoice = sim.pay(id, Some("INV-2026-10"), 4999, "USD");
    let paid_balance = sim.pay(id, None, 2500, "USD");
    sim.change_card(id, "Visa", "4242", 12, 2030);
    sim.reverse(id, &paid_balance, 2500, "USD");

    let page = provider.events_since(None).await.expect("events");
    assert_eq!(page.events.len(), 4);
    assert!(!page.has_more);
    assert!(page.events.iter().all(|e| e.account == account.id));
    match &page.events[0].kind {
        EventKind::PaymentApplied(p) => {
            assert_eq!(p.payment_id, paid_invoice);
            assert_eq!(p.invoice.as_deref(), Some("INV-2026-10"));
            assert_eq!(p.amount, Money::new(4999, "USD").unwrap());
            assert_eq!(
                p.dealer_customer_id.as_ref().map(|d| d.as_str()),
                Some("D-1")
            );
        }
        other => panic!("{other:?}"),
    }
    match &page.events[1].kind {
        EventKind::PaymentApplied(p) => assert_eq!(p.invoice, None, "to the balance"),
        other => panic!("{other:?}"),
    }
    match &page.events[2].kind {
        EventKind::PaymentMethodUpdated(m) => {
            assert_eq!(m.kind, PaymentMethodKind::Card);
            assert_eq!(m.summary(), "Visa ending 4242");
            assert_eq!(m.expiry.map(|e| (e.month, e.year)), Some((12, 2030)));
        }
        other => panic!("{other:?}"),
    }
    match &page.events[3].kind {
        EventKind::PaymentReversed(r) => assert_eq!(r.payment_id, paid_balance),
        other => panic!("{other:?}"),
    }

    // Nothing new: the same cursor back, no event.
    let again = provider
        .events_since(Some(&page.next))
        .await
        .expect("events");
    assert!(again.events.is_empty());
    assert_eq!(again.next, page.next);

    sim.pay(id, None, 100, "USD");
    let next = provider
        .events_since(Some(&page.next))
        .await
        .expect("events");
    assert_eq!(next.events.len(), 1);
    assert!(next.events[0].id != page.events[3].id);
}

#[tokio::test]
async fn a_long_feed_comes_in_pages() {
    let sim = AlarmComSimulator::start().await;
    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(&request("D-1"))
        .await
        .expect("provisioned");
    let id = customer_id(&account.id);
    for n in 0..250 {
        sim.pay(id, None, 100 + n, "USD");
    }
    let mut cursor = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = provider.events_since(cursor.as_ref()).await.expect("page");
        pages += 1;
        seen.extend(page.events.iter().map(|e| e.id.clone()));
        cursor = Some(page.next);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 250, "no event twice");
}

#[tokio::test]
async fn a_bad_event_is_marked_malformed_and_the_feed_goes_on() {
    let sim = AlarmComSimulator::start().await;
    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(&request("D-1"))
        .await
        .expect("provisioned");
    let id = customer_id(&account.id);

    // A full card number where the last four digits belong.
    sim.push_raw_billing_event(
        id,
        &[
            ("EventType", "PaymentMethodUpdated"),
            ("PaymentMethodKind", "CreditCard"),
            ("LastFour", "4111111111111111"),
        ],
    );
    // An amount that is not a number.
    sim.push_raw_billing_event(
        id,
        &[
            ("EventType", "PaymentApplied"),
            ("PaymentId", "PAY-X"),
            ("AmountInCents", "12.50"),
            ("CurrencyCode", "USD"),
        ],
    );
    sim.pay(id, None, 999, "USD");

    let page = provider.events_since(None).await.expect("the page is read");
    assert_eq!(page.events.len(), 3);
    match &page.events[0].kind {
        EventKind::Malformed { problem, .. } => assert!(problem.contains("LastFour"), "{problem}"),
        other => panic!("{other:?}"),
    }
    let shown = format!("{page:?}");
    assert!(
        !shown.contains("4111111111111111"),
        "the number is not kept"
    );
    assert!(matches!(page.events[1].kind, EventKind::Malformed { .. }));
    assert!(matches!(page.events[2].kind, EventKind::PaymentApplied(_)));
}

#[tokio::test]
async fn the_event_feed_needs_the_billing_opt_in() {
    let sim = AlarmComSimulator::start().await;
    let provider = ProviderRegistry::with_built_ins()
        .build(&sim.config())
        .expect("built");
    let err = provider.events_since(None).await.expect_err("unsupported");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let err = provider.activate_billing().await.expect_err("not opted in");
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert_eq!(sim.call_count("GetBillingEvents"), 0);
}

#[tokio::test]
async fn the_billing_summary_reaches_the_app() {
    let sim = AlarmComSimulator::start().await;
    let provider = billing_provider(&sim, "dealer-integration", DEFAULT_PASSWORD).await;
    provider.activate_billing().await.expect("activated");
    let account = provider
        .provision(&request("D-1"))
        .await
        .expect("provisioned");
    let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).expect("date");
    let summary = BillingSummary::new(
        vec![Invoice::new(
            "INV-2026-10",
            day(1),
            day(15),
            Money::new(4999, "USD").unwrap(),
            true,
        )],
        vec![PaymentRecord::new(
            "DEALER-PAY-7",
            chrono::DateTime::parse_from_rfc3339("2026-09-14T10:00:00Z")
                .unwrap()
                .into(),
            Money::new(4999, "USD").unwrap(),
            Some("INV-2026-09".into()),
            "Visa ending 4242",
        )],
    );
    provider
        .push_billing_summary(&account.id, &summary)
        .await
        .expect("pushed");
    assert_eq!(sim.billing_summary(customer_id(&account.id)), Some(summary));
}
