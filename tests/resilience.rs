//! The resilience suite catches what it is for: a deliberately broken provider, which repeats a
//! create whose answer was lost instead of looking it up, fails the named behaviour — and the
//! simulator really holds the duplicate.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, DEFAULT_PASSWORD,
};
use interactive_services::testkit::resilience::{self, Refusal, Target};
use interactive_services::{
    AccountId, Capabilities, CredentialCheck, Error, InteractiveServicesProvider, IspAccount,
    PlanChange, ProviderKind, ProvisionRequest, Result, ServicePlan,
};

const BEHAVIOUR: &str = "a_lost_create_answer_never_makes_a_duplicate";

fn real_provider(sim: &AlarmComSimulator) -> AlarmCom {
    AlarmCom::builder(&sim.config())
        .transport_options(TransportOptions {
            attempt_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                deadline: Duration::from_secs(20),
                max_retry_after: Duration::from_secs(2),
            },
            ..TransportOptions::default()
        })
        .build()
        .expect("provider")
}

fn request(dealer_id: &str) -> ProvisionRequest {
    ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .plan("9")
        .build()
}

fn refused(dealer_id: &str) -> Refusal {
    let request = ProvisionRequest::builder(dealer_id)
        .name("Grace", "Hopper")
        .plan("9")
        .add_on("NoSuchAddOn")
        .build();
    Refusal::new(request, "NoSuchAddOn")
}

/// The real Alarm.com provider for everything but `provision`, which sends `CreateCustomer`
/// itself and, when no answer comes back, simply sends it again.
#[derive(Debug)]
struct RepeatsLostCreates {
    real: AlarmCom,
    endpoint: String,
    http: reqwest::Client,
}

impl RepeatsLostCreates {
    fn new(sim: &AlarmComSimulator) -> Self {
        Self {
            real: real_provider(sim),
            endpoint: sim.endpoint(),
            http: reqwest::Client::new(),
        }
    }

    /// One `CreateCustomer`; `Err` when no complete answer came back.
    async fn create_once(&self, envelope: &str) -> std::result::Result<String, reqwest::Error> {
        self.http
            .post(format!("{}CustomerManagement.asmx", self.endpoint))
            .header("content-type", "text/xml; charset=utf-8")
            .header(
                "soapaction",
                "\"http://www.alarm.com/WebServices/CreateCustomer\"",
            )
            .body(envelope.to_owned())
            .send()
            .await?
            .text()
            .await
    }
}

fn create_customer_envelope(request: &ProvisionRequest) -> String {
    let plan = request.plan.as_ref().map(|p| p.as_str()).unwrap_or("9");
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><Authentication xmlns="http://www.alarm.com/WebServices"><User>{DEFAULT_LOGIN}</User><Password>{DEFAULT_PASSWORD}</Password></Authentication></soap:Header><soap:Body><CreateCustomer xmlns="http://www.alarm.com/WebServices"><input><CustomerAccountAddress><FirstName>{first}</FirstName><LastName>{last}</LastName></CustomerAccountAddress><DealerCustomerId>{dealer}</DealerCustomerId><PackageId>{plan}</PackageId></input></CreateCustomer></soap:Body></soap:Envelope>"#,
        first = request.contact.first_name,
        last = request.contact.last_name,
        dealer = request.dealer_customer_id.as_str(),
    )
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

#[async_trait]
impl InteractiveServicesProvider for RepeatsLostCreates {
    fn kind(&self) -> ProviderKind {
        self.real.kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.real.capabilities()
    }

    async fn validate_credentials(&self) -> Result<CredentialCheck> {
        self.real.validate_credentials().await
    }

    async fn service_plans(&self) -> Result<Vec<ServicePlan>> {
        self.real.service_plans().await
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        let envelope = create_customer_envelope(request);
        // The bug under test: a lost answer is answered by creating again, without a lookup.
        let answer = match self.create_once(&envelope).await {
            Ok(answer) => Ok(answer),
            Err(_) => self.create_once(&envelope).await,
        };
        let broken = |detail: String| Error::invalid_response("alarm_com", "provision", detail);
        let answer = answer.map_err(|e| broken(format!("no answer twice: {e}")))?;
        match between(&answer, "<CustomerId>", "</CustomerId>") {
            Some(id) if id != "0" => self.real.account(&AccountId::new(id)).await,
            _ => Err(broken(format!("no customer made: {answer}"))),
        }
    }

    async fn account(&self, id: &AccountId) -> Result<IspAccount> {
        self.real.account(id).await
    }

    async fn change_plan(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        self.real.change_plan(id, change).await
    }

    async fn terminate(&self, id: &AccountId) -> Result<()> {
        self.real.terminate(id).await
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_provider_that_repeats_a_lost_create_fails_the_named_behaviour() {
    let sim = AlarmComSimulator::start().await;
    // A vendor that does not refuse a dealer customer id twice: a blind repeat costs a duplicate.
    sim.accept_duplicate_dealer_ids(true);
    let broken = RepeatsLostCreates::new(&sim);
    let target = Target::new(&broken, &sim, request, refused).id_prefix("broken");

    let outcome = AssertUnwindSafe(resilience::a_lost_create_answer_never_makes_a_duplicate(
        &target,
    ))
    .catch_unwind()
    .await;
    let Err(payload) = outcome else {
        panic!("the broken provider passed {BEHAVIOUR}");
    };
    let message = panic_text(payload.as_ref());
    assert!(
        message.starts_with(BEHAVIOUR),
        "the failure must name the behaviour: {message}"
    );
    let dealer_id = target.dealer_customer_id("lost");
    assert_eq!(
        sim.customers_with_dealer_id(&dealer_id),
        2,
        "the simulator holds the duplicate"
    );
    assert_eq!(
        sim.call_count("CreateCustomer"),
        2,
        "the create was repeated"
    );
    assert_eq!(
        sim.call_count("LookupCustomerIdFromDealerCustomerId"),
        0,
        "no lookup"
    );
}

#[tokio::test]
async fn the_real_provider_passes_the_same_behaviour_on_the_same_vendor() {
    let sim = AlarmComSimulator::start().await;
    sim.accept_duplicate_dealer_ids(true);
    let real = real_provider(&sim);
    let target = Target::new(&real, &sim, request, refused).id_prefix("real");
    resilience::a_lost_create_answer_never_makes_a_duplicate(&target).await;
    assert_eq!(
        sim.customers_with_dealer_id(&target.dealer_customer_id("lost")),
        1
    );
}
