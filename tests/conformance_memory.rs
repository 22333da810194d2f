//! The in-memory reference provider passes the conformance suite, built the way a host builds
//! it; payments recorded "in the vendor's app" show up once in the event stream.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use interactive_services::testkit::conformance::{self, Options};
use interactive_services::testkit::{EVENT_PAGE_SIZE, InMemoryProvider};
use interactive_services::{
    AccountId, Capabilities, ConfiguredProvider, CredentialCheck, Cursor, Error, EventKind,
    InteractiveServicesProvider, IspAccount, IspConfig, IspEvent, Money, PlanChange, ProviderKind,
    ProviderRegistry, ProvisionRequest, Result, ServicePlan, Status,
};

fn config(token: &str) -> IspConfig {
    IspConfig::builder()
        .name("Reference (in memory)")
        .provider("in_memory")
        .credential("token", token)
        .default_plan("basic")
        .build()
        .expect("valid config")
}

fn registry() -> ProviderRegistry {
    let mut registry = ProviderRegistry::with_built_ins();
    InMemoryProvider::register(&mut registry);
    registry
}

#[tokio::test]
async fn in_memory_provider_built_through_the_registry_passes_the_suite() {
    let provider = registry().build(&config("not-a-real-secret")).unwrap();
    conformance::run_all(provider.as_ref(), &Options::default()).await;
    // Again on the same provider, now holding accounts: the suite uses fresh ids each time.
    conformance::run_all(provider.as_ref(), &Options::default()).await;
}

#[tokio::test]
async fn in_memory_provider_passes_the_suite_directly_and_with_a_chosen_plan() {
    let provider = InMemoryProvider::new();
    let options = Options {
        plan: Some("advanced".into()),
        id_prefix: "direct".into(),
        ..Options::default()
    };
    conformance::run_all(&provider, &options).await;
    let wrapped: Arc<dyn InteractiveServicesProvider> = Arc::new(provider.clone());
    conformance::run_all(wrapped.as_ref(), &Options::default()).await;
}

#[tokio::test]
async fn a_rejected_token_fails_credential_validation() {
    let provider = registry().build(&config("rejected")).unwrap();
    assert!(matches!(
        provider.validate_credentials().await,
        Err(Error::Unauthenticated { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The suite does catch a provider that breaks a rule.

/// The in-memory provider, except that terminating twice fails.
#[derive(Debug)]
struct StrictTerminate(InMemoryProvider);

#[async_trait]
impl InteractiveServicesProvider for StrictTerminate {
    fn kind(&self) -> ProviderKind {
        self.0.kind()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }
    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        self.0.validate_credentials().await
    }
    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        self.0.service_plans().await
    }
    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        self.0.provision(request).await
    }
    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        self.0.account(id).await
    }
    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        self.0.change_plan(id, change).await
    }
    async fn terminate(&self, id: &AccountId) -> Result<()> {
        let account = self.0.account(id).await?;
        if account.status == interactive_services::AccountStatus::Terminated {
            return Err(Error::conflict(
                "in_memory",
                "terminate",
                "already terminated",
            ));
        }
        self.0.terminate(id).await
    }
}

#[tokio::test]
#[should_panic(expected = "[terminate] a second terminate must succeed")]
async fn the_suite_catches_a_terminate_that_is_not_idempotent() {
    conformance::run_all(
        &StrictTerminate(InMemoryProvider::new()),
        &Options::default(),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Payments in the event stream

/// Every event from `cursor` on, page by page; also returns how many pages it took.
async fn drain(
    provider: &dyn InteractiveServicesProvider,
    mut cursor: Option<Cursor>,
) -> (Vec<IspEvent>, usize, Cursor) {
    let mut events = Vec::new();
    let mut pages = 0;
    loop {
        let page = provider.events_since(cursor.as_ref()).await.unwrap();
        pages += 1;
        assert!(page.events.len() <= EVENT_PAGE_SIZE);
        events.extend(page.events);
        cursor = Some(page.next);
        if !page.has_more {
            break;
        }
        assert!(pages < 100, "paging does not end");
    }
    (events, pages, cursor.unwrap())
}

fn payments<'a>(events: &'a [IspEvent], reference: &str) -> Vec<&'a IspEvent> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::PaymentApplied(p) if p.payment_id == reference))
        .collect()
}

#[tokio::test]
async fn a_recorded_payment_appears_exactly_once_across_pages() {
    let memory = InMemoryProvider::new();
    // Through the same wrapper the registry puts around every provider.
    let provider = ConfiguredProvider::new(Arc::new(memory.clone()), &config("t"));
    let before = EVENT_PAGE_SIZE * 2 / 3;
    let after = EVENT_PAGE_SIZE;
    let mut first = None;
    for i in 0..before {
        let request = ProvisionRequest::builder(format!("B-{i}"))
            .name("Ada", "Lovelace")
            .build();
        let account = provider.provision(&request).await.unwrap();
        first.get_or_insert(account.id);
    }
    let paying = first.unwrap();
    let amount = Money {
        minor_units: 4_999,
        currency: "USD".into(),
    };
    memory.record_payment(&paying, amount.clone(), "PAY-1");
    for i in 0..after {
        let request = ProvisionRequest::builder(format!("A-{i}"))
            .name("Grace", "Hopper")
            .build();
        provider.provision(&request).await.unwrap();
    }
    let total = before + 1 + after;

    let (events, pages, last) = drain(&provider, None).await;
    assert_eq!(events.len(), total);
    assert_eq!(pages, total.div_ceil(EVENT_PAGE_SIZE));
    assert!(pages > 1, "the payment test must span pages");
    let ids: BTreeSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(ids.len(), total, "event ids are unique");

    let found = payments(&events, "PAY-1");
    assert_eq!(found.len(), 1, "the payment appears exactly once");
    let payment = found[0];
    assert_eq!(payment.account, paying);
    match &payment.kind {
        EventKind::PaymentApplied(payment) => assert_eq!(&payment.amount, &amount),
        other => panic!("unexpected {other:?}"),
    }
    // In the order it happened: after the accounts created before it.
    assert_eq!(events[before].id, payment.id);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].occurred_at <= w[1].occurred_at),
        "oldest first"
    );

    // Nothing more after the last cursor, and nothing repeated.
    let tail = provider.events_since(Some(&last)).await.unwrap();
    assert!(tail.events.is_empty());
    assert!(!tail.has_more);
    assert_eq!(tail.next, last);

    // Resuming from the first page's cursor sees the rest, the payment still only once overall.
    let first_page = provider.events_since(None).await.unwrap();
    assert!(first_page.has_more);
    let (rest, _, _) = drain(&provider, Some(first_page.next.clone())).await;
    let mut all = first_page.events.clone();
    all.extend(rest);
    assert_eq!(all, events);
    assert_eq!(payments(&all, "PAY-1").len(), 1);
}

#[tokio::test]
async fn a_payment_recorded_after_reading_shows_up_on_the_next_read_only() {
    let memory = InMemoryProvider::new();
    let account = memory
        .provision(
            &ProvisionRequest::builder("C-1")
                .name("Ada", "Lovelace")
                .plan("basic")
                .build(),
        )
        .await
        .unwrap();
    let (_, _, cursor) = drain(&memory, None).await;
    let usd = |minor_units| Money {
        minor_units,
        currency: "USD".into(),
    };
    memory.record_payment(&account.id, usd(1_000), "PAY-A");
    let (new, _, cursor) = drain(&memory, Some(cursor)).await;
    assert_eq!(new.len(), 1);
    assert_eq!(payments(&new, "PAY-A").len(), 1);
    memory.record_payment(&account.id, usd(2_000), "PAY-B");
    let (newer, _, _) = drain(&memory, Some(cursor)).await;
    assert_eq!(newer.len(), 1);
    assert_eq!(payments(&newer, "PAY-B").len(), 1);
    assert!(payments(&newer, "PAY-A").is_empty());
}

#[tokio::test]
async fn a_cursor_the_provider_did_not_issue_is_an_invalid_request() {
    let memory = InMemoryProvider::new();
    assert!(matches!(
        memory
            .events_since(Some(&Cursor::new("not-a-cursor")))
            .await,
        Err(Error::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn an_inactive_configuration_still_reads_events() {
    let memory = InMemoryProvider::new();
    let account = memory
        .provision(
            &ProvisionRequest::builder("C-1")
                .name("Ada", "Lovelace")
                .plan("basic")
                .build(),
        )
        .await
        .unwrap();
    memory.record_payment(
        &account.id,
        Money {
            minor_units: 500,
            currency: "USD".into(),
        },
        "PAY-1",
    );
    let inactive = ConfiguredProvider::new(
        Arc::new(memory.clone()),
        &config("t").with_status(Status::Inactive),
    );
    let (events, _, _) = drain(&inactive, None).await;
    assert_eq!(payments(&events, "PAY-1").len(), 1);
}
