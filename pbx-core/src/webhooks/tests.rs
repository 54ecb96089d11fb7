use std::time::Duration;

use super::lookup::{CustomerMatch, MatchStatus};
use super::mask::{mask_json, mask_number};
use super::regions::RegionTable;
use super::retry::{backoff, decide, parse_retry_after, AttemptOutcome, Decision};
use super::signature::{signature_header, verify, Secret};
use super::{filters_match, DeliveryConfig, EventFilter, DEFAULT_REGIONS};

/// The reference vector of the Standard Webhooks specification (and its
/// libraries' tests).
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TS: i64 = 1614265330;
const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn signature_matches_the_standard_webhooks_reference_vector() {
    let s = Secret::parse(SPEC_SECRET).unwrap();
    assert_eq!(s.sign(SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()), SPEC_SIG);
    assert!(verify(&s, SPEC_SIG, SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()));
    // Any change of id, timestamp or body breaks it.
    assert!(!verify(
        &s,
        SPEC_SIG,
        "msg_other",
        SPEC_TS,
        SPEC_BODY.as_bytes()
    ));
    assert!(!verify(
        &s,
        SPEC_SIG,
        SPEC_ID,
        SPEC_TS + 1,
        SPEC_BODY.as_bytes()
    ));
    assert!(!verify(
        &s,
        SPEC_SIG,
        SPEC_ID,
        SPEC_TS,
        br#"{"test": 2432232315}"#
    ));
}

#[test]
fn rotating_secrets_sign_twice_and_either_verifies() {
    let new = Secret::parse("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=").unwrap();
    let old = Secret::parse(SPEC_SECRET).unwrap();
    let header = signature_header(
        &[new.clone(), old.clone()],
        SPEC_ID,
        SPEC_TS,
        SPEC_BODY.as_bytes(),
    );
    let parts: Vec<&str> = header.split(' ').collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1], SPEC_SIG);
    assert!(parts[0].starts_with("v1,") && parts[0] != SPEC_SIG);
    for s in [&new, &old] {
        assert!(verify(s, &header, SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()));
    }
    let stranger = Secret::parse("whsec_WldYWVo0NTY3ODlBQkNERUZHSElKS0xNTk9QUVJTVFVW").unwrap();
    assert!(!verify(
        &stranger,
        &header,
        SPEC_ID,
        SPEC_TS,
        SPEC_BODY.as_bytes()
    ));
}

#[test]
fn malformed_secrets_are_refused() {
    for bad in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_%%%",
        "whsec_c2hvcnQ=",
        "whsec_",
    ] {
        assert!(Secret::parse(bad).is_err(), "{bad}");
    }
    let dbg = format!("{:?}", Secret::parse(SPEC_SECRET).unwrap());
    assert!(!dbg.contains("MfKQ"), "Debug does not print the key: {dbg}");
}

#[test]
fn masking_follows_the_spec_18_examples() {
    // SPEC §18: 11-digit mobile and 8-digit numbers.
    assert_eq!(mask_number("13812345678"), "138****5678");
    assert_eq!(mask_number("12345678"), "12****78");
    // L <= 4: every digit.
    assert_eq!(mask_number("1001"), "****");
    assert_eq!(mask_number("42"), "**");
    // L = 5: keep 0 first, 1 last.
    assert_eq!(mask_number("12345"), "****5");
    // `+` and country code kept, the national number masked.
    assert_eq!(mask_number("+8613812345678"), "+86138****5678");
    assert_eq!(mask_number("+14155550123"), "+1415****123");
    // Not a phone number: unchanged.
    assert_eq!(
        mask_number("sip:alice@example.com"),
        "sip:alice@example.com"
    );
    assert_eq!(
        mask_number("sip:13812345678@10.0.0.1:5060"),
        "sip:138****5678@10.0.0.1:5060"
    );
    assert_eq!(mask_number("agent-7"), "agent-7");
}

#[test]
fn masking_reaches_every_number_field_of_a_payload() {
    let mut v = serde_json::json!({
        "type": "call.ringing",
        "data": {
            "caller": "13812345678",
            "service_number": "4008123456",
            "call_id": "c00000000000000a1",
            "last_call": { "agent": "1001", "call_id": "c1" },
            "record": { "caller_e164": "+8613812345678", "legs": [{ "party": "13812345678" }] },
        }
    });
    mask_json(&mut v);
    assert_eq!(v["data"]["caller"], "138****5678");
    assert_eq!(v["data"]["service_number"], "400****456");
    assert_eq!(v["data"]["record"]["caller_e164"], "+86138****5678");
    assert_eq!(v["data"]["record"]["legs"][0]["party"], "138****5678");
    assert_eq!(v["data"]["call_id"], "c00000000000000a1", "ids untouched");
    assert_eq!(
        v["data"]["last_call"]["agent"], "1001",
        "agents are not numbers to hide"
    );
}

#[test]
fn regions_by_longest_prefix() {
    let t = RegionTable::parse(DEFAULT_REGIONS, "regions.csv").unwrap();
    assert!(t.len() > 10);
    assert_eq!(
        t.region_of("13812345678"),
        Some("China Beijing (China Mobile)")
    );
    assert_eq!(t.region_of("13899999999"), Some("China Mobile"));
    assert_eq!(t.region_of("+862155550000"), Some("China Shanghai"));
    assert_eq!(t.region_of("+33123456789"), Some("France"));
    assert_eq!(t.region_of("+81312345678"), None);
    assert_eq!(
        t.region_of_any("1001", Some("+8610123")),
        Some("China Beijing")
    );
    let err = RegionTable::parse("# c\n138,ok\nabc,x\n", "r.csv").unwrap_err();
    assert_eq!(
        err.to_string(),
        "r.csv:3: the prefix must be digits, optionally after `+`"
    );
    assert!(RegionTable::parse("138\n", "r.csv").is_err());
}

#[test]
fn event_filters_with_wildcards() {
    let f = |s: &str| EventFilter::parse(s).unwrap();
    assert!(f("call.*").matches("call.ringing"));
    assert!(!f("call.*").matches("queue.offer"));
    assert!(f("*").matches("agent.state"));
    assert!(f("queue.offer").matches("queue.offer"));
    assert!(!f("queue.offer").matches("queue.offer_x"));
    for bad in ["", "call*", "*.ringing", "ca*ll.*"] {
        assert!(EventFilter::parse(bad).is_none(), "{bad}");
    }
    let stored = vec!["queue.*".to_owned(), "call.missed".to_owned()];
    assert!(filters_match(&stored, "call.missed"));
    assert!(!filters_match(&stored, "call.ended"));
}

fn delivery() -> DeliveryConfig {
    DeliveryConfig {
        retry_base: Duration::from_secs(1),
        retry_max_delay: Duration::from_secs(3600),
        retry_for: Duration::from_secs(86_400),
        client_error_attempts: 3,
        ..DeliveryConfig::default()
    }
}

fn answered(status: u16, retry_after: Option<u64>) -> AttemptOutcome {
    AttemptOutcome::Answered {
        status,
        retry_after: retry_after.map(Duration::from_secs),
    }
}

#[test]
fn backoff_doubles_with_jitter_and_caps() {
    let c = delivery();
    assert_eq!(backoff(&c, 1, 0.0), Duration::from_millis(500));
    assert_eq!(backoff(&c, 1, 1.0), Duration::from_secs(1));
    assert_eq!(backoff(&c, 4, 1.0), Duration::from_secs(8));
    let mid = backoff(&c, 4, 0.5);
    assert!(mid > Duration::from_secs(4) && mid < Duration::from_secs(8));
    assert_eq!(backoff(&c, 40, 1.0), Duration::from_secs(3600), "capped");
}

#[test]
fn decisions_per_status() {
    let c = delivery();
    let t0 = 1_000_000;
    assert_eq!(
        decide(&c, &answered(204, None), 1, t0, t0, 0.5),
        Decision::Delivered
    );
    assert_eq!(
        decide(&c, &answered(410, None), 1, t0, t0, 0.5),
        Decision::Disable
    );
    // 429: the subscription pauses for Retry-After.
    assert_eq!(
        decide(&c, &answered(429, Some(30)), 1, t0, t0, 0.5),
        Decision::Retry {
            at_ms: t0 + 30_000,
            pause_subscription: true,
            throttle: false
        }
    );
    // 503 with Retry-After: honoured, subscription throttled.
    assert_eq!(
        decide(&c, &answered(503, Some(7)), 2, t0, t0, 0.5),
        Decision::Retry {
            at_ms: t0 + 7_000,
            pause_subscription: false,
            throttle: true
        }
    );
    // 500 / timeout: backoff.
    match decide(&c, &AttemptOutcome::TimedOut, 3, t0, t0, 1.0) {
        Decision::Retry {
            at_ms,
            throttle: true,
            ..
        } => assert_eq!(at_ms, t0 + 4_000),
        d => panic!("{d:?}"),
    }
    // Other 4xx: retried, then dead after client_error_attempts.
    assert!(matches!(
        decide(&c, &answered(400, None), 2, t0, t0, 0.5),
        Decision::Retry { .. }
    ));
    assert_eq!(
        decide(&c, &answered(400, None), 3, t0, t0, 0.5),
        Decision::Dead
    );
    // About a day after the first attempt: dead.
    let later = t0 + 86_400_000 - 1_000;
    assert_eq!(
        decide(&c, &answered(500, None), 30, t0, later, 1.0),
        Decision::Dead
    );
}

#[test]
fn retry_after_seconds_and_dates() {
    assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
    // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s.
    let now = 784_111_777_000 - 5_000;
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(Duration::from_secs(5))
    );
    assert_eq!(parse_retry_after("soon", 0), None);
}

#[test]
fn lookup_answers_give_the_three_statuses() {
    let m = |b: &str| CustomerMatch::parse_answer(b).map(|m| m.status);
    assert_eq!(m(r#"{"customer_ids": []}"#), Some(MatchStatus::Unknown));
    assert_eq!(m(r#"{"customer_ids": ["cu1"]}"#), Some(MatchStatus::Unique));
    assert_eq!(
        m(r#"{"customer_ids": [1, 2, 3]}"#),
        Some(MatchStatus::Multiple)
    );
    assert_eq!(m(r#"{"customers": []}"#), None);
    assert_eq!(m("not json"), None);
    assert_eq!(
        CustomerMatch::parse_answer(r#"{"customer_ids": [7, "x"]}"#)
            .unwrap()
            .customer_ids,
        ["7", "x"]
    );
}

#[path = "store_tests.rs"]
mod store_tests;
