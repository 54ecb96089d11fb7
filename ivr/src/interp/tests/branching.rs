//! Interpreter unit tests: condition, http, set, record, hang-up, loops,
//! trajectory serialization.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta};

use super::*;
use crate::trajectory::{Outcome, TrajectoryEvent};

const HOURS: &str = r#"
[nodes.start]
type = "condition"
rules = [
  { exit = "holiday", holiday = true },
  { exit = "open", days = ["mon-fri"], time = "09:00-18:00" },
  { exit = "night", time = "22:00-06:00" },
  { exit = "berlin", caller_prefix = ["+4930"], region = "Berlin" },
]
exits = { holiday = "h", open = "o", night = "n", berlin = "b", default = "d" }
[nodes.h]
type = "transfer"
target = "queue:h"
[nodes.o]
type = "transfer"
target = "queue:o"
[nodes.n]
type = "transfer"
target = "queue:n"
[nodes.b]
type = "transfer"
target = "queue:b"
[nodes.d]
type = "transfer"
target = "queue:d"
"#;

fn hours_at(at: &str, cal: Calendar, region: Option<&str>) -> Option<String> {
    let src = HOURS;
    let ctx = CallContext {
        caller: "+4930555".into(),
        caller_region: region.map(Into::into),
        ..Default::default()
    };
    let at = DateTime::parse_from_rfc3339(at).expect("valid literal");
    transferred_to(&Call::with(flow(src), ctx, cal, at))
}

#[test]
fn condition_by_time_weekday_holiday_and_caller() {
    let none = Calendar::default;
    // Thursday inside hours; local time is what counts, not UTC.
    assert_eq!(
        hours_at("2026-11-26T09:30:00+01:00", none(), None).as_deref(),
        Some("queue:o")
    );
    assert_eq!(
        hours_at("2026-11-26T08:30:00-01:00", none(), None).as_deref(),
        Some("queue:d")
    );
    // End is exclusive.
    assert_eq!(
        hours_at("2026-11-26T18:00:00+01:00", none(), None).as_deref(),
        Some("queue:d")
    );
    // Saturday inside the time range but not a listed weekday.
    assert_eq!(
        hours_at("2026-11-28T10:00:00+01:00", none(), None).as_deref(),
        Some("queue:d")
    );
    // Range wrapping midnight, both sides.
    assert_eq!(
        hours_at("2026-11-28T23:00:00+01:00", none(), None).as_deref(),
        Some("queue:n")
    );
    assert_eq!(
        hours_at("2026-11-29T05:59:00+01:00", none(), None).as_deref(),
        Some("queue:n")
    );
    // Holiday from the injected calendar wins over opening hours.
    let xmas = Calendar::new([NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date")]);
    assert_eq!(
        hours_at("2026-11-26T10:00:00+01:00", xmas, None).as_deref(),
        Some("queue:h")
    );
    // Caller prefix and region both required.
    assert_eq!(
        hours_at("2026-11-28T12:00:00+01:00", none(), Some("berlin")).as_deref(),
        Some("queue:b")
    );
    assert_eq!(
        hours_at("2026-11-28T12:00:00+01:00", none(), Some("Hamburg")).as_deref(),
        Some("queue:d")
    );
}

#[test]
fn condition_holiday_from_flow_list() {
    let text = format!(
        "[flow]\nprompts = \"../prompts\"\nstart = \"start\"\nholidays = [\"2026-11-26\"]\n{HOURS}"
    );
    let f = Arc::new(crate::parse_flow(FLOW_PATH, text).expect("valid flow"));
    let c = Call::with(
        f,
        CallContext::default(),
        Calendar::default(),
        thursday_10am(),
    );
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:h"));
}

const HTTP: &str = r#"
[nodes.start]
type = "set"
vars = { greeting = "hi ${caller}", n = 3 }
exits = { next = "ask" }
[nodes.ask]
type = "http"
url = "http://127.0.0.1:9/lookup?c=${caller}"
timeout = "2s"
map = { vip = "/customer/vip", route = "route", score = "/score" }
exit_var = "route"
exits = { ok = "is_vip", error = "err", timeout = "slow", closed = "closed" }
[nodes.is_vip]
type = "condition"
rules = [{ exit = "vip", var = "vip", eq = "true" }, { exit = "high", var = "score", gt = 50 }]
exits = { vip = "vip", high = "high", default = "plain" }
[nodes.vip]
type = "transfer"
target = "queue:vip"
[nodes.high]
type = "transfer"
target = "queue:high"
[nodes.plain]
type = "transfer"
target = "queue:plain"
[nodes.err]
type = "transfer"
target = "queue:err"
[nodes.slow]
type = "transfer"
target = "queue:slow"
[nodes.closed]
type = "hangup"
"#;

fn http_call() -> (Call, RequestId) {
    let c = Call::new(flow(HTTP));
    let (id, url, body) = c.http_request().expect("http request sent");
    assert_eq!(url, "http://127.0.0.1:9/lookup?c=+4930123");
    let body: serde_json::Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(body["caller"], "+4930123");
    assert_eq!(body["vars"]["greeting"], "hi +4930123");
    assert_eq!(body["vars"]["n"], "3");
    (c, id)
}

fn respond(c: &mut Call, id: RequestId, outcome: HttpOutcome) {
    c.advance(Duration::from_millis(150));
    c.event(Event::HttpResult { id, outcome });
}

#[test]
fn http_success_maps_variables_and_records_result() {
    let (mut c, id) = http_call();
    respond(
        &mut c,
        id,
        HttpOutcome::Response {
            status: 200,
            body: r#"{"customer":{"vip":true},"score":10}"#.into(),
        },
    );
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:vip"));
    assert_eq!(
        c.ivr.variables().get("vip").map(String::as_str),
        Some("true")
    );
    let e = c
        .ivr
        .trajectory()
        .entries
        .iter()
        .find(|e| e.event == TrajectoryEvent::CallurlResult)
        .expect("callurl entry");
    let r = e.callurl.as_ref().expect("callurl");
    assert_eq!((r.status, r.latency_ms), (Some(200), 150));
    assert_eq!(r.result, serde_json::json!({"vip": true, "score": 10}));
}

#[test]
fn http_numeric_comparison_and_exit_var() {
    let (mut c, id) = http_call();
    respond(
        &mut c,
        id,
        HttpOutcome::Response {
            status: 200,
            body: r#"{"score":80}"#.into(),
        },
    );
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:high"));
    let (mut c, id) = http_call();
    respond(
        &mut c,
        id,
        HttpOutcome::Response {
            status: 200,
            body: r#"{"route":"closed"}"#.into(),
        },
    );
    assert!(matches!(c.outcome(), Some(Outcome::Hangup { .. })));
    assert_eq!(c.exits().get(1).map(|e| e.1.as_str()), Some("closed"));
}

#[test]
fn http_error_status_failure_and_bad_json_take_error_exit() {
    for outcome in [
        HttpOutcome::Response {
            status: 503,
            body: String::new(),
        },
        HttpOutcome::Failed {
            reason: "connection refused".into(),
        },
        HttpOutcome::Response {
            status: 200,
            body: "{not json".into(),
        },
    ] {
        let (mut c, id) = http_call();
        respond(&mut c, id, outcome);
        assert_eq!(transferred_to(&c).as_deref(), Some("queue:err"));
    }
}

#[test]
fn http_timeout_fires_and_late_result_is_ignored() {
    let (mut c, id) = http_call();
    assert_eq!(c.ivr.poll_timeout(), Some(c.now + TimeDelta::seconds(2)));
    c.advance(Duration::from_secs(2));
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:slow"));
    let n = c.ivr.trajectory().entries.len();
    respond(
        &mut c,
        id,
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    );
    assert_eq!(c.ivr.trajectory().entries.len(), n);
}

#[test]
fn http_timeout_without_timeout_exit_takes_error() {
    let src = HTTP.replace(", timeout = \"slow\"", "").replace(
        "[nodes.slow]\ntype = \"transfer\"\ntarget = \"queue:slow\"\n",
        "",
    );
    let mut c = Call::new(flow(&src));
    c.advance(Duration::from_secs(3));
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:err"));
}

#[test]
fn http_result_for_other_request_is_ignored() {
    let (mut c, id) = http_call();
    respond(
        &mut c,
        RequestId(id.0 + 100),
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    );
    assert!(c.outcome().is_none());
}

const RECORD: &str = r##"
[nodes.start]
type = "record"
prompts = ["leave_message"]
max_duration = "30s"
terminator = "#"
variable = "msg"
exits = { next = "bye" }
[nodes.bye]
type = "hangup"
reason = "voicemail"
"##;

#[test]
fn record_terminator_stops_and_stores_reference() {
    let mut c = Call::new(flow(RECORD));
    c.finish_prompt();
    assert!(c.log.contains(&Action::StartRecording {
        beep: true,
        max_duration: Duration::from_secs(30)
    }));
    c.advance(Duration::from_secs(4));
    c.digit('#');
    assert_eq!(c.log.last(), Some(&Action::StopRecording));
    c.event(Event::RecordFinished {
        reference: "rec-1".into(),
        duration: Duration::from_secs(4),
    });
    assert_eq!(
        c.ivr.variables().get("msg").map(String::as_str),
        Some("rec-1")
    );
    assert!(matches!(c.outcome(), Some(Outcome::Hangup { reason: Some(r) }) if r == "voicemail"));
}

#[test]
fn record_max_duration_stops_recording_and_grace_moves_on() {
    let mut c = Call::new(flow(RECORD));
    c.finish_prompt();
    c.advance(Duration::from_secs(30));
    assert_eq!(c.log.last(), Some(&Action::StopRecording));
    // The driver never reports the recording: the flow moves on anyway.
    c.advance(Duration::from_secs(5));
    assert!(c.outcome().is_some());
    assert!(!c.ivr.variables().contains_key("msg"));
}

#[test]
fn caller_hangup_is_abandon_with_node() {
    let mut c = Call::new(flow(MENU));
    c.finish_prompt();
    c.event(Event::Hangup);
    assert_eq!(
        c.outcome(),
        Some(&Outcome::Abandon {
            node: "start".into()
        })
    );
    assert!(c.ivr.is_finished());
    // Nothing happens after the end.
    c.digit('1');
    c.advance(Duration::from_secs(60));
    assert_eq!(
        c.outcome(),
        Some(&Outcome::Abandon {
            node: "start".into()
        })
    );
}

#[test]
fn busy_loop_is_cut_at_runtime() {
    // The validator rejects this flow; build it through the loader alone to
    // check the interpreter's own guard.
    let src = crate::SourceFile::new(FLOW_PATH, "[nodes.a]\ntype = \"set\"\nvars = { x = \"1\" }\nexits = { next = \"b\" }\n[nodes.b]\ntype = \"set\"\nvars = { y = \"2\" }\nexits = { next = \"a\" }\n");
    let src = Arc::new(src);
    let mut d = crate::diag::Diagnostics::new(&src);
    let loaded = crate::load::load(&src, &mut d).expect("loads");
    let mut c = Call::new(Arc::new(loaded.flow));
    assert!(matches!(c.outcome(), Some(Outcome::Hangup { reason: Some(r) }) if r == "ivr.loop"));
    c.drain();
}

#[test]
fn trajectory_times_are_utc_and_serialize() {
    let mut c = Call::new(flow(MENU));
    c.finish_prompt();
    c.digit('1');
    let t = c.ivr.trajectory();
    assert_eq!(t.started_at, thursday_10am().to_utc());
    assert_eq!(
        t.entries.first().map(|e| e.at.to_rfc3339()),
        Some("2026-11-26T09:00:00+00:00".to_owned())
    );
    let seqs: Vec<u32> = t.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..t.entries.len() as u32).collect::<Vec<_>>());
    let json = serde_json::to_string(t).expect("serializes");
    assert!(json.contains(r#""event":"key_press""#) && json.contains(r#""key":"1""#));
    let back: crate::Trajectory = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(&back, t);
}

#[test]
fn events_before_start_are_ignored_and_start_is_idempotent() {
    let f = flow(MENU);
    let mut ivr = Interpreter::new(f, CallContext::default(), Calendar::default());
    let at = thursday_10am();
    ivr.handle_event(at, Event::Digit(Digit::D1));
    ivr.handle_timeout(at);
    assert!(ivr.poll_action().is_none());
    assert!(ivr.trajectory().entries.is_empty());
    ivr.start(at);
    let first: Vec<Action> = std::iter::from_fn(|| ivr.poll_action()).collect();
    ivr.start(at);
    assert!(ivr.poll_action().is_none());
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(ivr.current_node(), Some("start"));
    assert_eq!(
        ivr.variables().get("flow").map(String::as_str),
        Some("inline-test")
    );
}
