//! Verification of callback deliveries: a signed delivery becomes one event; a flipped bit, a
//! malformed header, a timestamp outside the window or an unknown secret is its own typed
//! rejection; both secrets are accepted during a rotation; hostile bodies are rejected in
//! bounded time and memory. Time is a [`ManualClock`]: nothing waits on the wall clock.

#[path = "callbacks_common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use common::{
    CONFIG, OLD_SECRET, OTHER_SECRET, SECRET, add, body, service, settings, signed, start,
    tc_config,
};
use interactive_services::callbacks::{
    HealthPolicy, MatchedSecret, Receipt, Rejection, RejectionReason, Verifier, sign,
    signature_header,
};
use interactive_services::providers::total_connect::callback::{CallbackEvent, parse};
use interactive_services::sync::ManualClock;
use interactive_services::{AccountId, AccountStatus, EventId, EventKind};

/// A closed loopback port: receiving never calls the vendor.
const NO_VENDOR: &str = "http://127.0.0.1:9/";

// ---------------------------------------------------------------------------------------------
// Heap accounting per thread, for the bounded-memory checks (the hostile cases run on a
// current-thread runtime, so everything they allocate is counted on this thread).

struct Counting;

thread_local! {
    static NOW: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    let _ = NOW.try_with(|now| {
        let n = now.get() + delta;
        now.set(n);
        let _ = PEAK.try_with(|peak| {
            if n > peak.get() {
                peak.set(n);
            }
        });
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and answers its output and the most heap it held at once on this thread, beyond
/// what was held when it started.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let base = NOW.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak)
}

// ---------------------------------------------------------------------------------------------

fn verifier() -> Verifier {
    Verifier::new(SECRET)
}

fn reason(r: Result<impl std::fmt::Debug, Rejection>) -> RejectionReason {
    match r {
        Err(rejection) => rejection.reason(),
        Ok(v) => panic!("expected a rejection, got {v:?}"),
    }
}

#[tokio::test]
async fn a_signed_delivery_becomes_one_event() {
    let clock = ManualClock::new(start());
    let (service, sink) = service(&clock, HealthPolicy::default());
    let segment = add(
        &service,
        &tc_config(CONFIG, NO_VENDOR, Some(settings(false))),
    );
    assert_eq!(segment, "total-connect-main");

    let at = start();
    let payload = CallbackEvent::new("an-0001", "AccountStatusChanged", "5100001", at)
        .account_numbers("12", "34", "5678")
        .data(serde_json::json!({ "Status": "Suspended" }))
        .to_body();
    let header = signed(at, &payload, &[SECRET]);
    let receipt = service
        .receive(&segment, Some(header.as_bytes()), &payload)
        .await;
    assert_eq!(receipt, Receipt::Accepted { events: 1 });
    assert_eq!(receipt.http_status(), 200);

    let events = sink.events();
    assert_eq!(events.len(), 1, "exactly one event reaches the sink");
    let event = &events[0];
    assert_eq!(event.id, EventId::new("an-0001"));
    assert_eq!(event.account, AccountId::new("5100001"));
    assert_eq!(event.occurred_at, at);
    assert_eq!(
        event.kind,
        EventKind::AccountStatusChanged {
            status: AccountStatus::Other("Suspended".into())
        }
    );
}

#[test]
fn one_flipped_bit_in_the_body_or_the_signature_is_rejected() {
    let now = start();
    let payload = body("an-0002", "Alarm", now);
    let header = signed(now, &payload, &[SECRET]);
    assert!(
        verifier()
            .verify(Some(header.as_bytes()), &payload, now)
            .is_ok()
    );

    // Every bit of the body, one at a time.
    for byte in 0..payload.len() {
        for bit in 0..8 {
            let mut tampered = payload.clone();
            tampered[byte] ^= 1 << bit;
            assert_eq!(
                verifier().verify(Some(header.as_bytes()), &tampered, now),
                Err(Rejection::BadSignature),
                "bit {bit} of byte {byte} flipped"
            );
        }
    }

    // Every bit of the signature.
    let signature = sign(SECRET, now.timestamp(), &payload);
    let raw = hex::decode(&signature).expect("hex");
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut flipped = raw.clone();
            flipped[byte] ^= 1 << bit;
            let header = format!("t={},v1={}", now.timestamp(), hex::encode(&flipped));
            assert_eq!(
                verifier().verify(Some(header.as_bytes()), &payload, now),
                Err(Rejection::BadSignature),
                "bit {bit} of signature byte {byte} flipped"
            );
        }
    }
}

#[test]
fn each_header_problem_is_its_own_reason() {
    let now = start();
    let payload = body("an-0003", "Trouble", now);
    let signature = sign(SECRET, now.timestamp(), &payload);
    let t = now.timestamp();

    let missing_t =
        reason(verifier().verify(Some(format!("v1={signature}").as_bytes()), &payload, now));
    let missing_v1 = reason(verifier().verify(Some(format!("t={t}").as_bytes()), &payload, now));
    let not_hex = reason(verifier().verify(
        Some(format!("t={t},v1={}", "zz".repeat(32)).as_bytes()),
        &payload,
        now,
    ));
    let empty = reason(verifier().verify(Some(b""), &payload, now));
    let absent = reason(verifier().verify(None, &payload, now));

    assert_eq!(missing_t, RejectionReason::MissingTimestamp);
    assert_eq!(missing_v1, RejectionReason::MissingSignatureValue);
    assert_eq!(not_hex, RejectionReason::SignatureNotHex);
    assert_eq!(empty, RejectionReason::MalformedSignature);
    assert_eq!(absent, RejectionReason::MissingSignature);
    let distinct: HashSet<_> = [missing_t, missing_v1, not_hex, empty, absent].into();
    assert_eq!(distinct.len(), 5, "each problem has its own reason");

    // More malformed forms, each a malformed header (never a panic, never accepted).
    for header in [
        "   ".to_owned(),
        "t".to_owned(),
        format!("t={t},t={t},v1={signature}"),
        format!("t=-5,v1={signature}"),
        format!("t=99999999999999999999,v1={signature}"),
        format!("t=12a,v1={signature}"),
        format!("t={t},v1={signature}\u{7f}"),
        format!("t={t},{}", vec![format!("v1={signature}"); 9].join(",")),
        "x".repeat(5000),
    ] {
        assert_eq!(
            reason(verifier().verify(Some(header.as_bytes()), &payload, now)),
            RejectionReason::MalformedSignature,
            "{:.60}",
            header
        );
    }
    // A signature of the right form but the wrong length is not a signature.
    assert_eq!(
        reason(verifier().verify(Some(format!("t={t},v1=abcd").as_bytes()), &payload, now)),
        RejectionReason::SignatureNotHex
    );
    // Not UTF-8 at all.
    assert_eq!(
        reason(verifier().verify(Some(&[0x74, 0x3d, 0xff, 0xfe][..]), &payload, now)),
        RejectionReason::MalformedSignature
    );
    // Unknown schemes next to v1 are ignored.
    let with_v0 = format!("t={t},v0=whatever,v1={signature}");
    assert!(
        verifier()
            .verify(Some(with_v0.as_bytes()), &payload, now)
            .is_ok()
    );
}

#[test]
fn the_window_is_300_seconds_both_ways() {
    let now = start();
    let payload = body("an-0004", "Alarm", now);
    let at = |offset: i64| {
        let t = now + TimeDelta::seconds(offset);
        signed(t, &payload, &[SECRET])
    };
    let verify = |header: String| verifier().verify(Some(header.as_bytes()), &payload, now);

    assert_eq!(
        verify(at(-301)),
        Err(Rejection::TimestampTooOld {
            age_seconds: 301,
            tolerance_seconds: 300
        })
    );
    assert_eq!(
        verify(at(301)),
        Err(Rejection::TimestampInFuture {
            ahead_seconds: 301,
            tolerance_seconds: 300
        })
    );
    for ok in [-299, 299, -300, 300, 0] {
        assert!(
            verify(at(ok)).is_ok(),
            "{ok} s from now is within the window"
        );
    }

    // The window is the configuration's.
    let narrow = Verifier::from_config(&{
        let mut c = settings(false);
        c.tolerance_seconds = 30;
        c
    });
    assert_eq!(
        reason(narrow.verify(Some(at(-31).as_bytes()), &payload, now)),
        RejectionReason::TimestampTooOld
    );
    assert!(
        narrow
            .verify(Some(at(-29).as_bytes()), &payload, now)
            .is_ok()
    );
}

#[tokio::test]
async fn old_and_new_secrets_are_both_accepted_during_a_rotation() {
    let now = start();
    let payload = body("an-0005", "Alarm", now);
    let rotating = Verifier::from_config(&settings(true));

    let new_only = signed(now, &payload, &[SECRET]);
    let old_only = signed(now, &payload, &[OLD_SECRET]);
    let both = signed(now, &payload, &[SECRET, OLD_SECRET]);
    let stranger = signed(now, &payload, &[OTHER_SECRET]);

    let check = |header: &str| rotating.verify(Some(header.as_bytes()), &payload, now);
    assert_eq!(
        check(&new_only).map(|v| v.secret),
        Ok(MatchedSecret::Current)
    );
    assert_eq!(
        check(&old_only).map(|v| v.secret),
        Ok(MatchedSecret::Previous)
    );
    assert_eq!(check(&both).map(|v| v.secret), Ok(MatchedSecret::Current));
    assert_eq!(check(&stranger), Err(Rejection::NoSecretMatches));

    // Through the service: the vendor still signing with the old secret is accepted.
    let clock = ManualClock::new(now);
    let (service, sink) = service(&clock, HealthPolicy::default());
    let segment = add(
        &service,
        &tc_config(CONFIG, NO_VENDOR, Some(settings(true))),
    );
    let r1 = service
        .receive(&segment, Some(old_only.as_bytes()), &payload)
        .await;
    let payload2 = body("an-0006", "Alarm", now);
    let header2 = signed(now, &payload2, &[SECRET]);
    let r2 = service
        .receive(&segment, Some(header2.as_bytes()), &payload2)
        .await;
    assert_eq!(r1, Receipt::Accepted { events: 1 });
    assert_eq!(r2, Receipt::Accepted { events: 1 });
    assert_eq!(sink.calls(), 2);

    // Without the rotation, the old secret is refused.
    let single = Verifier::from_config(&settings(false));
    assert_eq!(
        single.verify(Some(old_only.as_bytes()), &payload, now),
        Err(Rejection::BadSignature)
    );
}

#[tokio::test]
async fn rejections_never_reach_the_sink_and_answer_4xx() {
    let clock = ManualClock::new(start());
    let (service, sink) = service(&clock, HealthPolicy::default());
    let segment = add(
        &service,
        &tc_config(CONFIG, NO_VENDOR, Some(settings(false))),
    );
    let now = start();
    let payload = body("an-0007", "Alarm", now);
    let mut tampered = payload.clone();
    tampered[10] ^= 0x01;
    let header = signed(now, &payload, &[SECRET]);

    let r = service
        .receive(&segment, Some(header.as_bytes()), &tampered)
        .await;
    assert_eq!(r, Receipt::Rejected(Rejection::BadSignature));
    assert_eq!(r.http_status(), 401);
    let json = r.to_json();
    assert!(json.contains("bad_signature"), "{json}");
    assert!(!json.contains(SECRET) && !json.contains(&header), "{json}");

    let r = service.receive(&segment, None, &payload).await;
    assert_eq!(r.http_status(), 400);
    assert_eq!(
        service
            .receive("nobody", Some(header.as_bytes()), &payload)
            .await,
        Receipt::UnknownConfiguration
    );
    assert_eq!(sink.calls(), 0);

    // A configuration without callback settings takes none.
    let plain = tc_config("Total Connect (no callbacks)", NO_VENDOR, None);
    let plain_segment = add(&service, &plain);
    assert_eq!(
        service
            .receive(&plain_segment, Some(header.as_bytes()), &payload)
            .await,
        Receipt::NotConfigured
    );
}

#[tokio::test]
async fn unknown_types_are_kept_and_unreadable_details_are_malformed_events() {
    let clock = ManualClock::new(start());
    let (service, sink) = service(&clock, HealthPolicy::default());
    let segment = add(
        &service,
        &tc_config(CONFIG, NO_VENDOR, Some(settings(false))),
    );
    let now = start();
    let deliveries = [
        CallbackEvent::new("an-1", "FirmwareUpdated", "5100001", now).to_body(),
        CallbackEvent::new("an-2", "PaymentApplied", "5100001", now)
            .data(serde_json::json!({ "PaymentId": "p-1", "AmountMinorUnits": "lots", "Currency": "USD" }))
            .to_body(),
        CallbackEvent::new("an-3", "PanelNotResponding", "5100001", now)
            .data(serde_json::json!({ "LastContactAt": "2026-05-01T10:00:00Z" }))
            .to_body(),
        CallbackEvent::new("an-4", "PaymentApplied", "5100001", now)
            .data(serde_json::json!({ "PaymentId": "p-2", "AmountMinorUnits": 3999, "Currency": "USD", "Method": "Visa ending 4242" }))
            .to_body(),
        CallbackEvent::new("an-5", "ServicePlanChanged", "5100001", now)
            .data(serde_json::json!({ "PlanCode": "TC-AUTO", "Features": ["Automation"] }))
            .to_body(),
        CallbackEvent::new("an-6", "AccountStatusChanged", "5100001", now)
            .data(serde_json::json!({ "Status": "Terminated" }))
            .to_body(),
    ];
    for payload in &deliveries {
        let header = signed(now, payload, &[SECRET]);
        let r = service
            .receive(&segment, Some(header.as_bytes()), payload)
            .await;
        assert_eq!(r, Receipt::Accepted { events: 1 });
    }
    let kinds: Vec<EventKind> = sink.events().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds[0],
        EventKind::Other {
            vendor_type: "FirmwareUpdated".into()
        }
    );
    assert!(
        matches!(&kinds[1], EventKind::Malformed { vendor_type, problem }
            if vendor_type == "PaymentApplied" && problem.contains("AmountMinorUnits")),
        "{:?}",
        kinds[1]
    );
    assert!(matches!(
        kinds[2],
        EventKind::PanelNotResponding {
            last_contact: Some(_)
        }
    ));
    assert!(matches!(&kinds[3], EventKind::PaymentApplied(p) if p.amount.minor_units == 3999));
    assert!(
        matches!(&kinds[4], EventKind::PlanChanged { plan: Some(p) } if p.as_str() == "TC-AUTO")
    );
    assert_eq!(kinds[5], EventKind::AccountTerminated);
}

#[test]
fn hostile_bodies_are_typed_rejections_in_bounded_time_and_memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let clock = ManualClock::new(start());
    let (service, sink) = service(&clock, HealthPolicy::default());
    let segment = add(
        &service,
        &tc_config(CONFIG, NO_VENDOR, Some(settings(false))),
    );
    let cap = service.max_body_bytes();
    let now = start();

    let envelope = |data: &str| {
        format!(
            r#"{{"EventId":"an-h","EventType":"Alarm","OccurredAt":"2026-05-01T12:00:00Z","Account":{{"AccountId":"5100001"}},"Data":{data}}}"#
        )
        .into_bytes()
    };
    let deep = {
        let depth = cap / 2 - 200;
        envelope(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
    };
    let deep_objects = envelope(&format!(
        "{}1{}",
        "{\"a\":".repeat(20_000),
        "}".repeat(20_000)
    ));
    let huge_number = envelope(&format!("1{}", "0".repeat(100_000)));
    let huge_exponent = envelope("1e999999999999");
    let mut invalid_utf8 = envelope(r#"{"Description":"caf\u00e9"}"#);
    let at = invalid_utf8
        .iter()
        .position(|b| *b == b'\\')
        .expect("an escape");
    invalid_utf8.splice(at..at + 6, [0xc3, 0x28]);
    let ten_mb = vec![b'['; 10 * 1024 * 1024];
    let huge_id = br#"{"EventId":123456789012345678901234567890,"EventType":"Alarm","OccurredAt":"2026-05-01T12:00:00Z","Account":{"AccountId":"5100001"}}"#.to_vec();
    let huge_account = br#"{"EventId":"an-x","EventType":"Alarm","OccurredAt":"2026-05-01T12:00:00Z","Account":{"AccountId":1e308}}"#.to_vec();
    let not_json = b"\x00\x01\x02 definitely not json".to_vec();
    // Values of the wrong type are not quoted back.
    let account_text = br#"{"EventId":"an-q","EventType":"Alarm","OccurredAt":"2026-05-01T12:00:00Z","Account":"QUOTE-ME-NOT"}"#.to_vec();
    let bare_string = br#""QUOTE-ME-NOT""#.to_vec();

    let cases: Vec<(&str, Vec<u8>, RejectionReason)> = vec![
        ("deep arrays", deep, RejectionReason::MalformedBody),
        ("deep objects", deep_objects, RejectionReason::MalformedBody),
        (
            "a 100,000-digit number",
            huge_number,
            RejectionReason::MalformedBody,
        ),
        (
            "an exponent out of range",
            huge_exponent,
            RejectionReason::MalformedBody,
        ),
        (
            "invalid UTF-8",
            invalid_utf8,
            RejectionReason::MalformedBody,
        ),
        ("10 MB", ten_mb, RejectionReason::BodyTooLarge),
        (
            "a 30-digit event id",
            huge_id,
            RejectionReason::MalformedBody,
        ),
        (
            "a float account id",
            huge_account,
            RejectionReason::MalformedBody,
        ),
        ("not JSON", not_json, RejectionReason::MalformedBody),
        (
            "a string account",
            account_text,
            RejectionReason::MalformedBody,
        ),
        ("a bare string", bare_string, RejectionReason::MalformedBody),
    ];
    for (name, payload, expected) in cases {
        // Signed correctly: the body itself is what is hostile.
        let header = signed(now, &payload, &[SECRET]);
        let started = Instant::now();
        let (receipt, peak) = peak_heap(|| {
            runtime.block_on(service.receive(&segment, Some(header.as_bytes()), &payload))
        });
        let took = started.elapsed();
        match &receipt {
            Receipt::Rejected(r) => assert_eq!(r.reason(), expected, "{name}: {r}"),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        }
        assert!(took < Duration::from_secs(2), "{name}: took {took:?}");
        // At most a few times the cap (serde's scratch, the rejection's text), never the
        // body's size again when it is over the cap.
        let bound = i64::try_from(4 * cap).expect("fits");
        assert!(
            peak < bound,
            "{name}: held {peak} bytes at once (bound {bound})"
        );
        let message = receipt.to_json();
        assert!(
            message.len() < 1024,
            "{name}: the answer quotes too much: {message}"
        );
        assert!(!message.contains("QUOTE-ME-NOT"), "{name}: {message}");
    }
    assert_eq!(sink.calls(), 0, "no hostile body reached the sink");

    // A huge amount inside a known type's details is a malformed *event*, kept for parking.
    let big_amount = CallbackEvent::new("an-big", "PaymentApplied", "5100001", now)
        .data(serde_json::json!({ "PaymentId": "p", "AmountMinorUnits": 1e30, "Currency": "USD" }))
        .to_body();
    let events = parse(&big_amount).expect("the envelope is fine");
    assert!(
        matches!(events[0].kind, EventKind::Malformed { .. }),
        "{:?}",
        events[0].kind
    );
}

#[test]
fn signing_is_the_inverse_of_verification() {
    let now = start();
    let payload = b"{\"EventId\":\"x\"}";
    let header = signature_header(now.timestamp(), payload, &[SECRET, OLD_SECRET]);
    let parts: Vec<&str> = header.split(',').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], format!("t={}", now.timestamp()));
    assert_eq!(
        parts[1],
        format!("v1={}", sign(SECRET, now.timestamp(), payload))
    );
    let verified = Verifier::new(OLD_SECRET)
        .verify(Some(header.as_bytes()), payload, now)
        .expect("verified");
    assert_eq!(verified.timestamp, now);
    // HMAC-SHA256 over "{t}.{body}", as computed independently (Python's hmac module).
    assert_eq!(
        sign(SECRET, 1_777_636_800, payload),
        "1938f196b33ec62dfaaee6832276ff45245be36c2cd34038e4164b019c78d02b"
    );

    // Debug never shows a secret.
    let shown = format!("{:?}", Verifier::from_config(&settings(true)));
    assert!(
        !shown.contains(SECRET) && !shown.contains(OLD_SECRET),
        "{shown}"
    );
}
