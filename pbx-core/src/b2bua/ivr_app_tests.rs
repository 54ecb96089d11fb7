//! The IVR application fed leg events directly, in virtual time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::b2bua::app::{LegState, LegView};
use crate::b2bua::call::Call;
use crate::b2bua::CallId;

const PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/prompts");

fn main_flow() -> String {
    format!(
        r##"
[flow]
name = "main"
start = "menu"
prompts = "{PROMPTS}"

[nodes.menu]
type = "menu"
prompts = ["main_menu"]
timeout = "5s"
retries = 0
exits = {{ "1" = "acct", "2" = "sales", "3" = "other", "4" = "gone", default = "bye" }}

[nodes.acct]
type = "collect"
prompts = ["enter_account"]
variable = "acct"
max_digits = 4
terminator = "#"
exits = {{ ok = "lookup", fail = "bye" }}

[nodes.lookup]
type = "http"
url = "http://127.0.0.1:8080/lookup?acct=${{acct}}"
timeout = "2s"
map = {{ name = "/name" }}
exits = {{ ok = "op", error = "bye" }}

[nodes.op]
type = "transfer"
target = "ext:1002"

[nodes.sales]
type = "transfer"
target = "queue:sales"

[nodes.other]
type = "transfer"
target = "flow:second"

[nodes.gone]
type = "transfer"
target = "flow:missing"

[nodes.bye]
type = "hangup"
reason = "done"
"##
    )
}

fn second_flow() -> String {
    format!(
        "[flow]\nname = \"second\"\nprompts = \"{PROMPTS}\"\n[nodes.thanks]\ntype = \"play\"\n\
         prompts = [\"thanks\"]\nexits = {{ next = \"bye\" }}\n[nodes.bye]\ntype = \"hangup\"\n"
    )
}

/// `ping` and `pong` hand the call to each other at once, forever.
const PING: &str =
    "[flow]\nname = \"ping\"\n[nodes.go]\ntype = \"transfer\"\ntarget = \"flow:pong\"\n";
const PONG: &str =
    "[flow]\nname = \"pong\"\n[nodes.go]\ntype = \"transfer\"\ntarget = \"flow:ping\"\n";

/// A flow that sets the caller's queue priority (`vip`: 7, `junk`: no
/// number) and transfers to the sales queue.
fn priority_flow(name: &str, value: &str) -> String {
    format!(
        "[flow]\nname = \"{name}\"\nstart = \"mark\"\n[nodes.mark]\ntype = \"set\"\nvars = {{ priority = \"{value}\" }}\nexits = {{ next = \"go\" }}\n[nodes.go]\ntype = \"transfer\"\ntarget = \"queue:sales\"\n"
    )
}

fn prompt(name: &str) -> PathBuf {
    PathBuf::from(PROMPTS).join(format!("{name}.wav"))
}

/// One call: the app, the call state machine and the legs as the engine
/// would keep them (Call inputs applied, legs added by DialNumber).
struct Harness {
    app: IvrApp,
    call: Call,
    legs: Vec<LegView>,
    now: Timestamp,
    sink: Arc<MemoryTrajectorySink>,
}

impl Harness {
    fn new() -> Self {
        let mut registry = ivr::FlowRegistry::new();
        let dir = tempfile::tempdir().unwrap();
        let flows = [
            ("main", main_flow()),
            ("second", second_flow()),
            ("ping", PING.to_owned()),
            ("pong", PONG.to_owned()),
            ("vip", priority_flow("vip", "7")),
            ("junk", priority_flow("junk", "high")),
        ];
        for (name, text) in flows {
            let path = dir.path().join(format!("{name}.toml"));
            std::fs::write(&path, text).unwrap();
            let report = registry.reload_file(&path);
            assert!(report.applied, "{:?}", report.diagnostics);
        }
        let flow = registry.get("main").unwrap();
        let sink = Arc::new(MemoryTrajectorySink::default());
        let svc = IvrServices {
            flows: Arc::new(parking_lot::RwLock::new(registry)),
            sink: sink.clone(),
            utc_offset_secs: 3600,
        };
        // 2026-11-26 10:00 UTC.
        let now = Timestamp {
            instant: Instant::now(),
            unix_ms: 1_795_687_200_000,
        };
        Self {
            app: IvrApp::new(svc, flow),
            call: Call::new(
                CallId(7),
                "1001".into(),
                "500".into(),
                now,
                Duration::from_secs(60),
            ),
            legs: vec![LegView {
                id: LegId::CALLER,
                state: LegState::Calling,
            }],
            now,
            sink,
        }
    }

    /// A harness whose call runs flow `name`.
    fn with_flow(name: &str) -> Self {
        let mut h = Self::new();
        let flow = h.app.svc.flows.read().get(name).unwrap();
        h.app = IvrApp::new(h.app.svc.clone(), flow);
        h
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.at(self.now.instant + d);
    }

    fn ev(&mut self, event: LegEvent) -> Vec<Action> {
        let mut out = Vec::new();
        let view = AppView {
            call: &self.call,
            legs: &self.legs,
            now: self.now,
        };
        self.app.handle(&view, &event, &mut out);
        for a in &out {
            match a {
                Action::Call(input) => {
                    let _ = self.call.handle_input(self.now.instant, input.clone());
                }
                Action::AnswerMedia { leg } => self.set(*leg, LegState::Answered),
                Action::Hangup(leg) => self.set(*leg, LegState::Ended),
                Action::DialNumber { .. } => self.legs.push(LegView {
                    id: LegId(self.legs.len() as u32),
                    state: LegState::Calling,
                }),
                _ => {}
            }
        }
        out
    }

    fn set(&mut self, leg: LegId, state: LegState) {
        if let Some(l) = self.legs.iter_mut().find(|l| l.id == leg) {
            l.state = state;
        }
    }

    fn digit(&mut self, c: char) -> Vec<Action> {
        self.advance(Duration::from_millis(300));
        self.ev(LegEvent::Dtmf(LegId::CALLER, c))
    }

    /// Incoming call; the menu prompt played to its end.
    fn at_menu(&mut self) {
        let out = self.ev(LegEvent::Incoming { offer: None });
        let play = out.iter().find_map(|a| match a {
            Action::Play { id, .. } => Some(*id),
            _ => None,
        });
        self.advance(Duration::from_secs(3));
        self.ev(LegEvent::PlayDone(
            LegId::CALLER,
            play.expect("menu prompt"),
        ));
    }

    fn stored(&self) -> Vec<TrajectoryRecord> {
        self.sink.records.lock().clone()
    }
}

fn hangs_up_caller(out: &[Action]) -> bool {
    out.contains(&Action::Hangup(LegId::CALLER))
        && out
            .iter()
            .any(|a| matches!(a, Action::Call(CallInput::Hangup(..))))
}

#[test]
fn incoming_call_is_answered_by_the_media_endpoint_and_the_menu_plays() {
    let mut h = Harness::new();
    let out = h.ev(LegEvent::Incoming { offer: None });
    assert_eq!(
        out,
        vec![
            Action::AnswerMedia { leg: LegId::CALLER },
            Action::Call(CallInput::Answered),
            Action::Play {
                leg: LegId::CALLER,
                id: 1,
                prompts: vec![prompt("main_menu")],
                repeat: false,
            },
        ]
    );
    assert_eq!(h.app.name(), "ivr");
    assert_eq!(
        h.app.poll_timeout(),
        None,
        "no timer while the prompt plays"
    );
}

#[test]
fn menu_timeout_fires_through_poll_timeout_and_hangs_up() {
    let mut h = Harness::new();
    h.at_menu();
    let due = h.app.poll_timeout().expect("menu timer");
    assert_eq!(due, h.now.instant + Duration::from_secs(5));
    h.advance(Duration::from_secs(5));
    let out = h.ev(LegEvent::Timer);
    assert!(hangs_up_caller(&out), "{out:?}");
    assert_eq!(h.app.poll_timeout(), None);
    let stored = h.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].call_id, "c0000000000000007");
    assert_eq!(
        stored[0].trajectory.outcome,
        Some(Outcome::Hangup {
            reason: Some("done".into())
        })
    );
}

#[test]
fn menu_collect_http_then_transfer_is_bridged() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.digit('1');
    let play = out.iter().find_map(|a| match a {
        Action::Play { id, prompts, .. } if prompts == &vec![prompt("enter_account")] => Some(*id),
        _ => None,
    });
    h.advance(Duration::from_secs(2));
    h.ev(LegEvent::PlayDone(
        LegId::CALLER,
        play.expect("collect prompt"),
    ));
    for c in ['4', '2'] {
        assert!(h.digit(c).is_empty());
    }
    let out = h.digit('#');
    let (id, url, body) = match out.as_slice() {
        [Action::Http {
            id,
            url,
            body_json,
            timeout,
        }] => {
            assert_eq!(*timeout, Duration::from_secs(2));
            (*id, url.clone(), body_json.clone())
        }
        other => panic!("expected one Http action, got {other:?}"),
    };
    assert_eq!(url, "http://127.0.0.1:8080/lookup?acct=42");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["caller"], "1001", "the call context: {body}");

    h.advance(Duration::from_millis(120));
    let out = h.ev(LegEvent::HttpResult(
        id,
        HttpOutcome::Response {
            status: 200,
            body: r#"{"name":"Ada"}"#.into(),
        },
    ));
    assert_eq!(
        out,
        vec![
            Action::ReleaseMedia { leg: LegId::CALLER },
            Action::Call(CallInput::Transferred("ext:1002".into())),
            Action::DialNumber {
                number: "1002".into()
            },
        ]
    );
    assert!(h.stored().is_empty(), "stored once the transfer is settled");
    assert!(h.ev(LegEvent::Ringing(LegId(1))).is_empty());
    h.set(LegId(1), LegState::Answered);
    let out = h.ev(LegEvent::Answered(LegId(1), None));
    assert_eq!(
        out,
        vec![Action::Call(CallInput::Bridged(LegId::CALLER, LegId(1)))]
    );
    let stored = h.stored();
    assert_eq!(stored.len(), 1);
    let t = &stored[0].trajectory;
    assert_eq!(t.key_path().summary, "1");
    assert_eq!(t.visited(), ["menu", "acct", "lookup", "op"]);
    assert_eq!(
        t.outcome,
        Some(Outcome::Transfer {
            target: TransferTarget::Extension("1002".into())
        })
    );
    let http = t
        .entries
        .iter()
        .find_map(|e| e.callurl.clone())
        .expect("callurl entry");
    assert_eq!((http.status, http.latency_ms), (Some(200), 120));
    assert_eq!(http.result["name"], "Ada");

    // From now on it is a plain bridge: the callee's BYE ends the call.
    let out = h.ev(LegEvent::Ended(LegId(1)));
    assert!(hangs_up_caller(&out), "{out:?}");
    assert_eq!(h.stored().len(), 1);
}

#[test]
fn failed_transfer_hangs_up_and_says_why() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.digit('1');
    let play = out.iter().find_map(|a| match a {
        Action::Play { id, .. } => Some(*id),
        _ => None,
    });
    h.ev(LegEvent::PlayDone(LegId::CALLER, play.unwrap()));
    h.digit('7');
    let out = h.digit('#');
    let Some(Action::Http { id, .. }) = out.first() else {
        panic!("{out:?}")
    };
    h.ev(LegEvent::HttpResult(
        *id,
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    ));
    h.set(LegId(1), LegState::Ended);
    h.advance(Duration::from_secs(4));
    let out = h.ev(LegEvent::Failed(LegId(1), 480));
    assert!(hangs_up_caller(&out), "{out:?}");
    let t = &h.stored()[0].trajectory;
    assert_eq!(
        t.outcome,
        Some(Outcome::Hangup {
            reason: Some("ivr.transfer_failed".into())
        })
    );
    let last = t.entries.last().unwrap();
    assert_eq!(
        last.detail.as_deref(),
        Some("transfer to ext:1002 failed (480)")
    );
    assert_eq!(
        (last.at - t.ended_at.unwrap()).num_milliseconds(),
        4000,
        "the failure is dated when it happened"
    );
}

#[test]
fn http_failure_and_timeout_take_the_error_exit() {
    for outcome in [
        HttpOutcome::Failed("connection refused".into()),
        HttpOutcome::TimedOut,
        HttpOutcome::Response {
            status: 503,
            body: String::new(),
        },
    ] {
        let mut h = Harness::new();
        h.at_menu();
        let out = h.digit('1');
        let Some(Action::Play { id, .. }) = out.iter().find(|a| matches!(a, Action::Play { .. }))
        else {
            panic!("{out:?}")
        };
        h.ev(LegEvent::PlayDone(LegId::CALLER, *id));
        h.digit('9');
        let out = h.digit('#');
        let Some(Action::Http { id, .. }) = out.first() else {
            panic!("{out:?}")
        };
        let out = h.ev(LegEvent::HttpResult(*id, outcome.clone()));
        assert!(hangs_up_caller(&out), "{outcome:?}: {out:?}");
        let t = &h.stored()[0].trajectory;
        assert_eq!(
            t.visited(),
            ["menu", "acct", "lookup", "bye"],
            "{outcome:?}"
        );
    }
}

#[test]
fn queue_transfer_hands_the_caller_to_the_queue() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.digit('2');
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::DialNumber { number } if number == "queue:sales")),
        "{out:?}"
    );
    assert!(!hangs_up_caller(&out), "{out:?}");
}

fn dialed(out: &[Action]) -> Vec<&str> {
    out.iter()
        .filter_map(|a| match a {
            Action::DialNumber { number } => Some(number.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn priority_variable_goes_with_the_queue_transfer() {
    let mut h = Harness::with_flow("vip");
    let out = h.ev(LegEvent::Incoming { offer: None });
    assert_eq!(dialed(&out), ["queue:sales;priority=7"], "{out:?}");
    assert!(!hangs_up_caller(&out), "{out:?}");
    // not a number: the caller still queues, with priority 0
    let mut h = Harness::with_flow("junk");
    let out = h.ev(LegEvent::Incoming { offer: None });
    assert_eq!(dialed(&out), ["queue:sales"], "{out:?}");
}

#[test]
fn flow_transfer_switches_flows_and_stores_both_parts() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.digit('3');
    let new_play = (1u64 << 32) | 1;
    assert_eq!(
        out,
        vec![Action::Play {
            leg: LegId::CALLER,
            id: new_play,
            prompts: vec![prompt("thanks")],
            repeat: false,
        }]
    );
    // A late event of the first flow's play id 1 is stale.
    assert!(h.ev(LegEvent::PlayDone(LegId::CALLER, 1)).is_empty());
    let out = h.ev(LegEvent::PlayDone(LegId::CALLER, new_play));
    assert!(hangs_up_caller(&out), "{out:?}");
    let stored = h.stored();
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].part, stored[1].part), (0, 1));
    assert_eq!(stored[0].trajectory.flow, "main");
    assert_eq!(
        stored[0].trajectory.outcome,
        Some(Outcome::Transfer {
            target: TransferTarget::Flow("second".into())
        })
    );
    assert_eq!(stored[1].trajectory.flow, "second");
    assert_eq!(stored[1].trajectory.call_id, "c0000000000000007");
    assert_eq!(stored[1].trajectory.visited(), ["thanks", "bye"]);
}

#[test]
fn transfer_to_an_unknown_flow_is_refused() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.digit('4');
    assert!(hangs_up_caller(&out), "{out:?}");
    assert_eq!(
        h.stored()[0]
            .trajectory
            .entries
            .last()
            .and_then(|e| e.detail.as_deref()),
        Some("transfer to flow:missing refused: flow not loaded")
    );
}

#[test]
fn caller_hangup_is_an_abandon() {
    let mut h = Harness::new();
    h.at_menu();
    let out = h.ev(LegEvent::Ended(LegId::CALLER));
    assert_eq!(
        out,
        vec![Action::Call(CallInput::Hangup(
            HangupCause::Normal,
            Side::Caller
        ))]
    );
    let t = &h.stored()[0].trajectory;
    assert_eq!(
        t.outcome,
        Some(Outcome::Abandon {
            node: "menu".into()
        })
    );
    // Nothing happens after the end.
    assert!(h.ev(LegEvent::Timer).is_empty());
    assert_eq!(h.stored().len(), 1);
}

#[test]
fn reloads_do_not_touch_a_running_call() {
    let h = Harness::new();
    let running = Arc::clone(h.app.flow());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.toml");
    std::fs::write(&path, main_flow().replace("retries = 0", "retries = 1")).unwrap();
    assert!(h.app.svc.flows.write().reload_file(&path).applied);
    assert!(Arc::ptr_eq(&running, h.app.flow()));
    assert!(!Arc::ptr_eq(
        &running,
        &h.app.svc.flows.read().get("main").unwrap()
    ));
}

#[test]
fn flows_handing_the_call_back_and_forth_are_cut_off() {
    let mut h = Harness::with_flow("ping");
    let out = h.ev(LegEvent::Incoming { offer: None });
    assert!(hangs_up_caller(&out), "{out:?}");
    let stored = h.stored();
    assert_eq!(stored.len(), MAX_FLOW_SWITCHES as usize + 1);
    let last = &stored.last().unwrap().trajectory;
    assert_eq!(
        last.entries.last().and_then(|e| e.detail.as_deref()),
        Some("transfer to flow:pong refused: too many flow transfers in this call")
    );
}

#[test]
fn a_call_dropped_by_the_engine_still_stores_its_trajectory() {
    let mut h = Harness::new();
    h.at_menu();
    let sink = h.sink.clone();
    drop(h);
    let stored = sink.records.lock().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].trajectory.outcome,
        Some(Outcome::Hangup {
            reason: Some("ivr.call_ended".into())
        })
    );
    // A call that never started leaves nothing.
    let h = Harness::new();
    let sink = h.sink.clone();
    drop(h);
    assert!(sink.records.lock().is_empty());
}
