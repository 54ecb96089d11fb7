//! The simulator on the example flows (`fixtures/ivr`).

use std::sync::Arc;
use std::time::Duration;

use ivr::sim::CannedHttp;
use ivr::{load_flow, simulate, Outcome, SimScript, Simulation};

use crate::fixture;

fn run(flow: &str, digits: &str, at: &str) -> Simulation {
    run_with(flow, digits, at, |_| {})
}

fn run_with(flow: &str, digits: &str, at: &str, tweak: impl FnOnce(&mut SimScript)) -> Simulation {
    let flow = Arc::new(load_flow(&fixture(flow)).expect("valid fixture"));
    let mut script = SimScript {
        digits: SimScript::parse_digits(digits).expect("digits"),
        at: SimScript::parse_at(at).expect("time"),
        ..SimScript::default()
    };
    tweak(&mut script);
    simulate(flow, &script)
}

fn transfer(sim: &Simulation) -> Option<String> {
    match sim.trajectory.outcome.as_ref()? {
        Outcome::Transfer { target } => Some(target.to_string()),
        _ => None,
    }
}

const THU_10: &str = "2026-11-26T10:00";

#[test]
fn main_menu_in_business_hours() {
    let sim = run("main.toml", "1", THU_10);
    assert!(!sim.stalled);
    assert_eq!(transfer(&sim).as_deref(), Some("queue:sales"));
    assert_eq!(
        sim.trajectory.visited(),
        ["welcome", "hours", "menu", "sales"]
    );
    assert_eq!(sim.trajectory.key_path().summary, "1");
}

#[test]
fn main_menu_by_calendar() {
    // Christmas (flow holiday list), a Sunday, a Saturday inside and outside hours.
    for (at, node, target) in [
        ("2026-12-25T10:00", "holiday", "flow:voicemail"),
        ("2026-11-29T10:00", "closed", "flow:voicemail"),
        ("2026-11-28T11:00", "menu", "queue:sales"),
        ("2026-11-28T15:00", "closed", "flow:voicemail"),
        ("2026-11-26T18:30", "closed", "flow:voicemail"),
    ] {
        let sim = run("main.toml", "1", at);
        assert_eq!(sim.trajectory.visited().get(2).copied(), Some(node), "{at}");
        assert_eq!(transfer(&sim).as_deref(), Some(target), "{at}");
    }
    // With an offset, local time counts: 08:30 UTC is 09:30 in +01:00.
    let sim = run("main.toml", "1", "2026-11-26T09:30:00+01:00");
    assert_eq!(transfer(&sim).as_deref(), Some("queue:sales"));
    let sim = run("main.toml", "1", "2026-11-26T08:30:00+00:00");
    assert_eq!(transfer(&sim).as_deref(), Some("flow:voicemail"));
}

#[test]
fn main_menu_retries_then_exits() {
    // Two invalid keys, then a valid one on the last attempt.
    let sim = run("main.toml", "7,8,9", THU_10);
    assert_eq!(transfer(&sim).as_deref(), Some("flow:voicemail"));
    assert_eq!(sim.trajectory.key_path().summary, "7>8>9");
    // Three invalid keys: the `default` exit (operator).
    let sim = run("main.toml", "7,8,6", THU_10);
    assert_eq!(transfer(&sim).as_deref(), Some("ext:100"));
    // Silence: three timeouts, then the `timeout` exit to goodbye and hang-up.
    let sim = run("main.toml", "", THU_10);
    assert_eq!(
        sim.trajectory.outcome,
        Some(Outcome::Hangup {
            reason: Some("no_choice".into())
        })
    );
    assert_eq!(
        sim.trajectory.visited(),
        ["welcome", "hours", "menu", "goodbye", "bye"]
    );
    // Silence once (`-`), then a key.
    let sim = run("main.toml", "-,2", THU_10);
    assert_eq!(transfer(&sim).as_deref(), Some("flow:account"));
    let ended = sim.trajectory.ended_at.expect("ended");
    // Prompt lengths come from the WAV files: more than two menu prompts plus a 5 s timeout.
    assert!(
        (ended - sim.trajectory.started_at).num_seconds() >= 8,
        "{}",
        sim.render_text()
    );
}

#[test]
fn caller_hangs_up_in_menu() {
    let sim = run_with("main.toml", "", THU_10, |s| {
        s.hangup_after = Some(Duration::from_secs(3))
    });
    assert_eq!(
        sim.trajectory.outcome,
        Some(Outcome::Abandon {
            node: "menu".into()
        })
    );
}

fn lookup(canned: CannedHttp) -> impl FnOnce(&mut SimScript) {
    move |s| {
        s.http.insert("lookup".into(), canned);
    }
}

#[test]
fn account_lookup_success_routes_vip() {
    let fixture_path = fixture("http/lookup.toml");
    let http = SimScript::load_http_fixture(&fixture_path).expect("fixture");
    let sim = run_with("account.toml", "1234567#", THU_10, |s| s.http = http);
    assert_eq!(transfer(&sim).as_deref(), Some("queue:vip"));
    assert_eq!(sim.variables.get("tier").map(String::as_str), Some("gold"));
    assert_eq!(
        sim.variables.get("account").map(String::as_str),
        Some("1234567")
    );
    let r = sim
        .trajectory
        .entries
        .iter()
        .find_map(|e| e.callurl.clone())
        .expect("callurl entry");
    assert_eq!(r.url, "http://127.0.0.1:8080/ivr/lookup?account=1234567");
    assert_eq!((r.status, r.latency_ms), (Some(200), 120));
}

#[test]
fn account_lookup_failure_timeout_and_exit_choice() {
    for canned in [
        CannedHttp::Timeout,
        CannedHttp::Fail {
            reason: "refused".into(),
            delay: Duration::ZERO,
        },
        CannedHttp::Response {
            status: 500,
            body: String::new(),
            delay: Duration::from_millis(10),
        },
    ] {
        let sim = run_with("account.toml", "123456#", THU_10, lookup(canned.clone()));
        assert_eq!(
            transfer(&sim).as_deref(),
            Some("queue:support"),
            "{canned:?}"
        );
        assert_eq!(
            sim.variables.get("note").map(String::as_str),
            Some("caller +15550100 not identified")
        );
    }
    let body = r#"{"route": "closed"}"#.to_owned();
    let sim = run_with(
        "account.toml",
        "123456#",
        THU_10,
        lookup(CannedHttp::Response {
            status: 200,
            body,
            delay: Duration::ZERO,
        }),
    );
    assert_eq!(
        sim.trajectory.outcome,
        Some(Outcome::Hangup {
            reason: Some("closed_account".into())
        })
    );
    // Not VIP: plain support queue after the "connecting" prompt.
    let body = r#"{"customer": {"vip": false}}"#.to_owned();
    let sim = run_with(
        "account.toml",
        "123456#",
        THU_10,
        lookup(CannedHttp::Response {
            status: 200,
            body,
            delay: Duration::ZERO,
        }),
    );
    assert_eq!(
        sim.trajectory.visited(),
        ["ask", "lookup", "by_tier", "connecting", "support_queue"]
    );
}

#[test]
fn account_invalid_then_valid_number() {
    let sim = run_with(
        "account.toml",
        "12#,7654321#",
        THU_10,
        lookup(CannedHttp::Timeout),
    );
    assert_eq!(
        sim.variables.get("account").map(String::as_str),
        Some("7654321")
    );
    // Collected digits are not stored in the collect node's entries, only their count.
    let ask: Vec<_> = sim
        .trajectory
        .entries
        .iter()
        .filter(|e| e.node_id == "ask")
        .collect();
    let text = serde_json::to_string(&ask).expect("json");
    assert!(
        !text.contains("7654321") && !text.contains("\"12\""),
        "{text}"
    );
    assert!(
        ask.iter().any(|e| e.detail.as_deref() == Some("7 digits")),
        "{text}"
    );
    assert!(
        ask.iter()
            .any(|e| e.detail.as_deref() == Some("invalid, 2 digits")),
        "{text}"
    );
}

#[test]
fn voicemail_records_message() {
    let sim = run("voicemail.toml", "", THU_10);
    assert_eq!(
        sim.variables.get("message").map(String::as_str),
        Some("sim-recording-1")
    );
    assert_eq!(
        sim.trajectory.outcome,
        Some(Outcome::Hangup {
            reason: Some("voicemail".into())
        })
    );
    assert!(sim
        .steps
        .iter()
        .any(|s| s.line == "< record (beep: true, max 60s)"));
}

#[test]
fn simulate_cmd_text_and_json() {
    let script = SimScript {
        digits: SimScript::parse_digits("2").expect("digits"),
        at: SimScript::parse_at(THU_10).expect("time"),
        ..SimScript::default()
    };
    let (text, code) = ivr::cli::simulate_cmd(&fixture("main.toml"), &script);
    assert_eq!(code, 0);
    crate::golden("main.sim", &text);
    let (json, code) = ivr::cli::simulate_json_cmd(&fixture("main.toml"), &script);
    assert_eq!(code, 0);
    let t: ivr::Trajectory = serde_json::from_str(&json).expect("trajectory json");
    assert_eq!(t.key_path().summary, "2");
    let (out, code) = ivr::cli::simulate_cmd(&crate::data("nodes.toml"), &script);
    assert_eq!(code, 1);
    assert!(out.contains("nodes.toml:42:8: error: unknown node type"));
}

#[test]
fn script_parsing() {
    let d = SimScript::parse_digits("1, 2#,-,,*9").expect("digits");
    let s: Vec<String> = d
        .iter()
        .map(|g| g.iter().map(|k| k.as_char()).collect())
        .collect();
    assert_eq!(s, ["1", "2#", "", "", "*9"]);
    assert!(SimScript::parse_digits("1,x").is_err());
    assert_eq!(
        SimScript::parse_at("2026-11-26T10:00")
            .expect("at")
            .to_rfc3339(),
        "2026-11-26T10:00:00+00:00"
    );
    assert_eq!(
        SimScript::parse_at("2026-11-26T10:00:00+01:00")
            .expect("at")
            .to_rfc3339(),
        "2026-11-26T10:00:00+01:00"
    );
    assert!(SimScript::parse_at("tomorrow").is_err());
    let http = SimScript::parse_http_fixture(
        "[a]\ntimeout = true\n[b]\nerror = \"x\"\ndelay_ms = 5\n[c]\nstatus = 404\n",
    )
    .expect("fixture");
    assert_eq!(http.get("a"), Some(&CannedHttp::Timeout));
    assert_eq!(
        http.get("b"),
        Some(&CannedHttp::Fail {
            reason: "x".into(),
            delay: Duration::from_millis(5)
        })
    );
    assert!(matches!(
        http.get("c"),
        Some(CannedHttp::Response { status: 404, .. })
    ));
    assert!(SimScript::parse_http_fixture("[a]\nstatus = 70000\n").is_err());
    assert!(SimScript::parse_http_fixture("a = 1").is_err());
}
