//! Interpreter unit tests in virtual time: every node type and every exit.
//! This file holds the harness and the input nodes (menu, collect, play);
//! `branching.rs` the rest.

mod branching;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta};

use super::*;
use crate::trajectory::{Outcome, TrajectoryEvent};

pub(super) const FLOW_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/ivr/inline-test.toml"
);

/// Parses a flow whose prompts come from `fixtures/prompts`.
pub(crate) fn flow(src: &str) -> Arc<Flow> {
    let text = format!("[flow]\nprompts = \"../prompts\"\nstart = \"start\"\n{src}");
    match crate::parse_flow(FLOW_PATH, text) {
        Ok(f) => Arc::new(f),
        Err(crate::Error::Invalid { diagnostics, .. }) => {
            panic!(
                "test flow invalid: {:#?}",
                diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            )
        }
        Err(e) => panic!("{e}"),
    }
}

/// Thursday 2026-11-26 10:00 local (+01:00).
pub(super) fn thursday_10am() -> Time {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00+01:00").expect("valid literal")
}

pub(super) struct Call {
    pub(super) ivr: Interpreter,
    pub(super) now: Time,
    pub(super) log: Vec<Action>,
}

impl Call {
    pub(super) fn new(flow: Arc<Flow>) -> Self {
        Self::with(
            flow,
            CallContext {
                call_id: "c1".into(),
                caller: "+4930123".into(),
                ..Default::default()
            },
            Calendar::default(),
            thursday_10am(),
        )
    }

    pub(super) fn with(flow: Arc<Flow>, ctx: CallContext, cal: Calendar, at: Time) -> Self {
        let mut c = Self {
            ivr: Interpreter::new(flow, ctx, cal),
            now: at,
            log: Vec::new(),
        };
        c.ivr.start(at);
        c.drain();
        c
    }

    pub(super) fn drain(&mut self) {
        while let Some(a) = self.ivr.poll_action() {
            self.log.push(a);
        }
    }

    pub(super) fn event(&mut self, e: Event) {
        self.ivr.handle_event(self.now, e);
        self.drain();
    }

    pub(super) fn digit(&mut self, c: char) {
        self.event(Event::Digit(Digit::from_char(c).expect("test digit")));
    }

    fn digits(&mut self, s: &str) {
        for c in s.chars() {
            self.advance(Duration::from_millis(200));
            self.digit(c);
        }
    }

    /// Moves virtual time forward, firing every timer that falls due.
    pub(super) fn advance(&mut self, d: Duration) {
        let target = self.now + TimeDelta::from_std(d).expect("small duration");
        while let Some(t) = self.ivr.poll_timeout().filter(|t| *t <= target) {
            self.now = t;
            self.ivr.handle_timeout(t);
            self.drain();
        }
        self.now = target;
    }

    pub(super) fn last_play(&self) -> Option<(PlayId, Vec<String>)> {
        self.log.iter().rev().find_map(|a| match a {
            Action::Play { id, prompts, .. } => Some((
                *id,
                prompts
                    .iter()
                    .map(|p| {
                        p.file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })
                    .collect(),
            )),
            _ => None,
        })
    }

    pub(super) fn finish_prompt(&mut self) {
        let (id, _) = self.last_play().expect("a prompt is playing");
        self.advance(Duration::from_secs(1));
        self.event(Event::PromptFinished { id });
    }

    pub(super) fn outcome(&self) -> Option<&Outcome> {
        self.ivr.trajectory().outcome.as_ref()
    }

    pub(super) fn exits(&self) -> Vec<(String, String)> {
        self.ivr
            .trajectory()
            .entries
            .iter()
            .filter(|e| e.event == TrajectoryEvent::ExitNode)
            .map(|e| (e.node_id.clone(), e.exit.clone().unwrap_or_default()))
            .collect()
    }

    pub(super) fn http_request(&self) -> Option<(RequestId, String, String)> {
        self.log.iter().rev().find_map(|a| match a {
            Action::HttpRequest {
                id, url, body_json, ..
            } => Some((*id, url.clone(), body_json.clone())),
            _ => None,
        })
    }
}

pub(super) fn transferred_to(c: &Call) -> Option<String> {
    match c.outcome()? {
        Outcome::Transfer { target } => Some(target.to_string()),
        _ => None,
    }
}

pub(super) const MENU: &str = r#"
[nodes.start]
type = "menu"
prompts = ["main_menu"]
invalid_prompts = ["invalid"]
timeout_prompts = ["no_input"]
timeout = "5s"
retries = 2
[nodes.start.exits]
"1" = "one"
"2|3" = "two"
default = "fallback"
[nodes.one]
type = "transfer"
target = "queue:one"
[nodes.two]
type = "transfer"
target = "queue:two"
[nodes.fallback]
type = "transfer"
target = "ext:100"
"#;

#[test]
fn menu_key_takes_digit_exit_and_records_key_press() {
    let mut c = Call::new(flow(MENU));
    assert!(c.log.contains(&Action::StartCollecting));
    c.finish_prompt();
    assert!(c.ivr.awaiting_input());
    c.advance(Duration::from_secs(2));
    c.digit('3');
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:two"));
    assert_eq!(c.ivr.trajectory().key_path().summary, "3");
    assert_eq!(c.exits(), vec![("start".into(), "2|3".into())]);
    assert!(matches!(c.log.last(), Some(Action::Transfer { .. })));
    assert!(c.ivr.is_finished());
}

#[test]
fn menu_barge_in_stops_prompt() {
    let mut c = Call::new(flow(MENU));
    let (id, _) = c.last_play().expect("menu prompt");
    c.digit('1');
    assert!(c.log.contains(&Action::StopPlayback { id }));
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:one"));
}

#[test]
fn menu_without_barge_in_ignores_keys_during_prompt() {
    let src = MENU.replace("retries = 2", "retries = 2\nbarge_in = false");
    let mut c = Call::new(flow(&src));
    c.digit('1');
    assert!(c.outcome().is_none());
    c.finish_prompt();
    c.digit('1');
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:one"));
}

#[test]
fn menu_timeouts_retry_with_timeout_prompt_then_default() {
    let mut c = Call::new(flow(MENU));
    for attempt in 1..=3 {
        c.finish_prompt();
        assert_eq!(c.ivr.poll_timeout(), Some(c.now + TimeDelta::seconds(5)));
        c.advance(Duration::from_secs(5));
        if attempt < 3 {
            assert_eq!(
                c.last_play().map(|p| p.1),
                Some(vec!["no_input".to_owned(), "main_menu".to_owned()])
            );
        }
    }
    // No `timeout` exit: the `default` exit is taken after three attempts.
    assert_eq!(transferred_to(&c).as_deref(), Some("ext:100"));
    let retries: Vec<_> = c
        .ivr
        .trajectory()
        .entries
        .iter()
        .filter(|e| e.event == TrajectoryEvent::Retry)
        .collect();
    assert_eq!(retries.len(), 2);
    assert!(retries
        .iter()
        .all(|e| e.detail.as_deref() == Some("timeout")));
}

#[test]
fn menu_invalid_keys_exhaust_to_invalid_exit_when_declared() {
    let src = MENU.replace(
        "default = \"fallback\"",
        "default = \"fallback\"\ninvalid = \"one\"",
    );
    let mut c = Call::new(flow(&src));
    c.finish_prompt();
    c.digit('7');
    assert_eq!(
        c.last_play().map(|p| p.1),
        Some(vec!["invalid".to_owned(), "main_menu".to_owned()])
    );
    c.finish_prompt();
    c.digit('8');
    c.finish_prompt();
    c.digit('9');
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:one"));
    assert_eq!(c.ivr.trajectory().key_path().summary, "7>8>9");
}

#[test]
fn menu_recovers_after_invalid_key() {
    let mut c = Call::new(flow(MENU));
    c.finish_prompt();
    c.digit('#');
    c.finish_prompt();
    c.digit('1');
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:one"));
}

const COLLECT: &str = r##"
[nodes.start]
type = "collect"
prompts = ["enter_account"]
invalid_prompts = ["invalid_account"]
min_digits = 4
max_digits = 6
terminator = "#"
timeout = "10s"
inter_digit_timeout = "3s"
pattern = "1[0-9]+"
variable = "account"
retries = 1
exits = { ok = "good", fail = "bad" }
[nodes.good]
type = "transfer"
target = "queue:good"
[nodes.bad]
type = "hangup"
reason = "no_account"
"##;

#[test]
fn collect_terminator_ends_input_and_stores_variable() {
    let mut c = Call::new(flow(COLLECT));
    c.finish_prompt();
    c.digits("1234#");
    assert_eq!(
        c.ivr.variables().get("account").map(String::as_str),
        Some("1234")
    );
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:good"));
}

#[test]
fn collect_max_digits_ends_input() {
    let mut c = Call::new(flow(COLLECT));
    c.digits("123456");
    assert_eq!(
        c.ivr.variables().get("account").map(String::as_str),
        Some("123456")
    );
    assert!(c.outcome().is_some());
}

#[test]
fn collect_inter_digit_timeout_ends_input() {
    let mut c = Call::new(flow(COLLECT));
    c.finish_prompt();
    c.digits("10001");
    assert!(c.outcome().is_none());
    c.advance(Duration::from_millis(2999));
    assert!(c.outcome().is_none());
    c.advance(Duration::from_millis(1));
    assert_eq!(
        c.ivr.variables().get("account").map(String::as_str),
        Some("10001")
    );
}

#[test]
fn collect_validation_failure_retries_then_fails() {
    let mut c = Call::new(flow(COLLECT));
    c.finish_prompt();
    c.digits("9999#"); // does not match 1[0-9]+
    assert_eq!(
        c.last_play().map(|p| p.1),
        Some(vec![
            "invalid_account".to_owned(),
            "enter_account".to_owned()
        ])
    );
    c.finish_prompt();
    c.digits("12#"); // too short
    assert!(matches!(c.outcome(), Some(Outcome::Hangup { reason: Some(r) }) if r == "no_account"));
    assert!(!c.ivr.variables().contains_key("account"));
    assert_eq!(c.exits(), vec![("start".into(), "fail".into())]);
}

#[test]
fn collect_no_input_times_out_overall() {
    let mut c = Call::new(flow(COLLECT));
    c.finish_prompt();
    c.advance(Duration::from_secs(10));
    let retry = c
        .ivr
        .trajectory()
        .entries
        .iter()
        .find(|e| e.event == TrajectoryEvent::Retry)
        .cloned();
    assert_eq!(
        retry.and_then(|e| e.detail).as_deref(),
        Some("no_input, 0 digits")
    );
    c.finish_prompt();
    c.advance(Duration::from_secs(10));
    assert_eq!(c.exits(), vec![("start".into(), "fail".into())]);
}

#[test]
fn collect_overall_timeout_cuts_slow_typist() {
    let src = COLLECT.replace(
        "inter_digit_timeout = \"3s\"",
        "inter_digit_timeout = \"5s\"",
    );
    let mut c = Call::new(flow(&src));
    c.finish_prompt();
    for d in ['1', '2', '3', '4'] {
        c.advance(Duration::from_secs(4));
        c.digit(d);
    }
    // Overall 10 s from the prompt end passed during the third gap; input ended
    // with "12" (too short) and was retried.
    assert!(c
        .ivr
        .trajectory()
        .entries
        .iter()
        .any(|e| e.event == TrajectoryEvent::Retry));
}

#[test]
fn play_barge_in_key_is_type_ahead_for_next_menu() {
    let src = format!(
        r#"
[nodes.start]
type = "play"
prompts = ["welcome"]
barge_in = true
exits = {{ next = "menu" }}
{}"#,
        MENU.replace("[nodes.start", "[nodes.menu")
    );
    let mut c = Call::new(flow(&src));
    c.digit('2');
    assert_eq!(transferred_to(&c).as_deref(), Some("queue:two"));
    // The menu prompt was never played.
    assert_eq!(
        c.log
            .iter()
            .filter(|a| matches!(a, Action::Play { .. }))
            .count(),
        1
    );
}

#[test]
fn play_without_barge_in_waits_for_prompt() {
    let src = r#"
[nodes.start]
type = "play"
prompts = ["welcome", "thanks"]
exits = { next = "bye" }
[nodes.bye]
type = "hangup"
"#;
    let mut c = Call::new(flow(src));
    assert_eq!(
        c.last_play().map(|p| p.1),
        Some(vec!["welcome".to_owned(), "thanks".to_owned()])
    );
    c.digit('1');
    assert!(c.outcome().is_none());
    c.finish_prompt();
    assert!(matches!(
        c.outcome(),
        Some(Outcome::Hangup { reason: None })
    ));
    assert!(matches!(c.log.last(), Some(Action::Hangup { .. })));
}

#[test]
fn interpreter_and_flow_can_move_to_a_call_task() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Interpreter>();
    assert_send_sync::<Flow>();
    assert_send_sync::<crate::FlowRegistry>();
}
