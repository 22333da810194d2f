//! The simulator core's latency: it counts from the moment a request arrived (the simulator's
//! own work is inside it, as a vendor's is), it is never short, a delay knob adds to it, and the
//! marker that carries it never reaches a client. Only lower bounds on time are asserted: an
//! answer that comes early is a bug; one that comes late on a busy machine is not.

use std::time::{Duration, Instant};

use interactive_services::testkit::faults::{FaultKind, FaultRule};
use interactive_services::testkit::sim::{Routed, Simulator, Wire};
use wiremock::{Request, ResponseTemplate};

/// Counts visits; `POST /visit` is its only operation.
struct Visits;

impl Wire for Visits {
    type State = u32;
    type Call = ();
    type Record = String;

    fn route(&self, _: &mut u32, request: &Request) -> Routed<(), String> {
        if request.url.path() != "/visit" || request.method.as_str() != "POST" {
            return Routed::Answer(ResponseTemplate::new(404));
        }
        Routed::Call {
            record: "Visit".to_owned(),
            call: (),
        }
    }

    fn handle(&self, visits: &mut u32, _: ()) -> ResponseTemplate {
        *visits += 1;
        ResponseTemplate::new(200).set_body_string(visits.to_string())
    }

    fn fault(&self, _: &(), text: &str) -> ResponseTemplate {
        ResponseTemplate::new(500).set_body_string(text)
    }

    fn truncated(&self, _: &()) -> ResponseTemplate {
        interactive_services::testkit::faults::cut_off("1234")
    }
}

/// One visit: how long it took, its status, and whether a simulator marker leaked.
async fn visit(client: &reqwest::Client, uri: &str) -> (Duration, u16, bool) {
    let started = Instant::now();
    let answer = client
        .post(format!("{uri}/visit"))
        .send()
        .await
        .expect("the simulator answers");
    let leaked = answer
        .headers()
        .keys()
        .any(|name| name.as_str().starts_with("x-simulator"));
    let status = answer.status().as_u16();
    answer.bytes().await.expect("the whole body");
    (started.elapsed(), status, leaked)
}

#[tokio::test]
async fn every_answer_waits_its_latency_from_arrival_never_less() {
    let sim = Simulator::start(Visits, 0).await;
    let latency = Duration::from_millis(50);
    sim.set_latency(latency);
    let client = reqwest::Client::new();
    let uri = sim.uri();
    let visits = (0..32).map(|_| visit(&client, &uri));
    let answers = futures::future::join_all(visits).await;
    for (took, status, leaked) in &answers {
        assert_eq!(*status, 200);
        assert!(
            *took >= latency,
            "an answer came after {took:?}, before its latency"
        );
        assert!(!leaked, "a simulator marker reached the client");
    }
    assert_eq!(sim.with_state(|v| *v), 32, "every visit was served once");
    assert_eq!(sim.call_count("Visit"), 32);
}

#[tokio::test]
async fn a_delay_knob_adds_to_the_latency_and_a_refusal_before_routing_has_none() {
    let sim = Simulator::start(Visits, 0).await;
    let latency = Duration::from_millis(30);
    sim.set_latency(latency);
    sim.inject(FaultRule::next(FaultKind::Delay(Duration::from_millis(40))).on("Visit"));
    let client = reqwest::Client::new();
    let (took, status, leaked) = visit(&client, &sim.uri()).await;
    assert_eq!(status, 200);
    assert!(took >= latency + Duration::from_millis(40), "{took:?}");
    assert!(!leaked);
    // The knob was used up: the next visit waits the latency alone (and at least that).
    let (took, status, _) = visit(&client, &sim.uri()).await;
    assert_eq!(status, 200);
    assert!(took >= latency, "{took:?}");
    assert_eq!(sim.call_count("Visit"), 2);
    // A request the simulator refuses before any operation is not a vendor answer: no latency
    // marker on it either.
    let answer = client
        .get(format!("{}/elsewhere", sim.uri()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 404);
    assert!(
        !answer
            .headers()
            .keys()
            .any(|name| name.as_str().starts_with("x-simulator"))
    );
}

#[tokio::test]
async fn commit_late_closes_the_connection_after_its_delay_and_still_commits() {
    let sim = Simulator::start(Visits, 0).await;
    let late = Duration::from_millis(60);
    sim.inject(FaultRule::next(FaultKind::CommitLate(late)).on("Visit"));
    let client = reqwest::Client::new();
    let started = Instant::now();
    let sent = client.post(format!("{}/visit", sim.uri())).send().await;
    assert!(sent.is_err(), "the connection closes without an answer");
    assert!(started.elapsed() >= late, "{:?}", started.elapsed());
    // The late commit lands (its thread sleeps the same delay).
    for _ in 0..200 {
        if sim.with_state(|v| *v) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the late commit never landed");
}
