//! Tracing output carries the call's provider, operation, attempt and outcome, and never a
//! secret: every span and event field is captured while real flows (success, retries, a lost
//! answer, a bad login) run against the Alarm.com simulator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interactive_services::http::{RetryPolicy, TransportOptions};
use interactive_services::providers::alarm_com::AlarmCom;
use interactive_services::providers::alarm_com::simulator::{
    AlarmComSimulator, DEFAULT_LOGIN, DEFAULT_PASSWORD, FaultKind, FaultRule,
};
use interactive_services::{InteractiveServicesProvider, PlanChange, ProvisionRequest};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default, Clone)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut f);
        self.push(f.0);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut f = Fields("record".into());
        values.record(&mut f);
        self.push(f.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut f);
        self.push(f.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn tracing_names_the_call_and_never_a_secret() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let sim = AlarmComSimulator::start().await;
    let options = TransportOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..TransportOptions::default()
    };
    let p = AlarmCom::builder(&sim.config())
        .transport_options(options.clone())
        .build()
        .expect("provider");
    p.validate_credentials().await.expect("credentials");
    sim.inject(FaultRule::next(FaultKind::Status(503)).on("GetPackageIds"));
    p.service_plans().await.expect("plans after a retry");
    sim.inject(FaultRule::next(FaultKind::ApplyThenDrop).on("CreateCustomer"));
    let req = ProvisionRequest::builder("TRACE-1")
        .name("T", "R")
        .plan("9")
        .build();
    let account = p
        .provision(&req)
        .await
        .expect("provision after a lost answer");
    p.change_plan(&account.id, &PlanChange::new().add("LightAutomation"))
        .await
        .expect("change");
    let bad = AlarmCom::builder(&sim.config_for(DEFAULT_LOGIN, "wrong-Pw-9911"))
        .transport_options(options)
        .build()
        .expect("provider");
    assert!(bad.validate_credentials().await.is_err());

    let lines = capture.lines();
    for secret in [DEFAULT_PASSWORD, "wrong-Pw-9911"] {
        let leaks: Vec<_> = lines.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "secret in tracing output: {leaks:?}");
    }
    // One span per call with provider, operation and attempt; outcomes recorded.
    let calls: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("span isp_call"))
        .collect();
    assert!(calls.len() >= 8, "{calls:?}");
    assert!(calls.iter().all(|l| l.contains("provider=alarm_com")
        && l.contains("operation=")
        && l.contains("attempt=")));
    assert!(
        calls
            .iter()
            .any(|l| l.contains("operation=\"GetPackageIds\"") && l.contains("attempt=2"))
    );
    assert!(lines.iter().any(|l| l.contains("outcome=\"retry\"")));
    assert!(lines.iter().any(|l| l.contains("outcome=\"ok\"")));
    assert!(
        lines.iter().any(|l| l.contains("outcome=\"error\"")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event WARN") && l.contains("looking the customer up")),
        "the lost CreateCustomer answer is logged"
    );
}
