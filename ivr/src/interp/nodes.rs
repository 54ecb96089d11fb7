//! Per-node behaviour of the interpreter. Every handler returns the exit to
//! take now, if any; the caller ([`Interpreter::follow`]) records it and
//! enters the next node.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{
    after, Action, HttpOutcome, Interpreter, NodeState, Phase, PlayId, RecordPhase, RequestId, Time,
};
use crate::model::{Collect, Digit, Menu, NodeKind, Play, Prompt};
use crate::trajectory::{CallUrlResult, Outcome, TrajectoryEvent};

/// Grace period for the driver to report a stopped recording.
const RECORD_STOP_GRACE: Duration = Duration::from_secs(5);

fn paths<'a>(lists: impl IntoIterator<Item = &'a Vec<Prompt>>) -> Vec<PathBuf> {
    lists
        .into_iter()
        .flatten()
        .map(|p| p.path.clone())
        .collect()
}

impl Interpreter {
    /// Enters node `idx`; returns an exit when the node finishes at once.
    pub(super) fn enter(&mut self, now: Time, idx: usize) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let node = &flow.nodes[idx];
        self.entered_at = Some(now);
        self.push_entry(now, idx, TrajectoryEvent::EnterNode, |_| {});
        // Nodes that finish at once, or end the call, stay `Passing`.
        self.current = Some((idx, NodeState::Passing));
        match &node.kind {
            NodeKind::Play(p) => self.enter_play(idx, p),
            NodeKind::Menu(m) => self.enter_menu(now, idx, m),
            NodeKind::Collect(c) => self.enter_collect(now, idx, c),
            NodeKind::Condition(c) => Some(self.evaluate(now, c).to_owned()),
            NodeKind::Set(s) => {
                for (var, template) in &s.assignments {
                    let value = template.expand(|v| self.vars.get(v).map(String::as_str));
                    self.vars.insert(var.clone(), value);
                }
                Some("next".into())
            }
            NodeKind::Http(h) => {
                let url = h.url.expand(|v| self.vars.get(v).map(String::as_str));
                let id = RequestId(self.next_id());
                let body_json = self.http_body(&node.id).to_string();
                let timeout = h.timeout;
                self.actions.push_back(Action::HttpRequest {
                    id,
                    url: url.clone(),
                    body_json,
                    timeout,
                });
                let deadline = after(now, timeout);
                self.current = Some((
                    idx,
                    NodeState::Http {
                        id,
                        url,
                        sent_at: now,
                        deadline,
                    },
                ));
                None
            }
            NodeKind::Transfer(t) => {
                self.stop_collecting();
                let target = t.target.clone();
                self.push_entry(now, idx, TrajectoryEvent::Transfer, |e| {
                    e.detail = Some(target.to_string())
                });
                self.actions.push_back(Action::Transfer {
                    target: target.clone(),
                });
                self.end(now, Outcome::Transfer { target });
                None
            }
            NodeKind::Record(r) => {
                if r.terminator.is_some() {
                    self.start_collecting();
                }
                if r.prompts.is_empty() {
                    self.start_recording(now, idx, r.beep, r.max_duration);
                } else {
                    let play = self.play(paths([&r.prompts]), false);
                    let phase = RecordPhase::Prompting(play);
                    self.current = Some((
                        idx,
                        NodeState::Record {
                            phase,
                            deadline: None,
                        },
                    ));
                }
                None
            }
            NodeKind::Hangup(h) => {
                self.finish_hangup(now, h.reason.clone());
                None
            }
        }
    }

    fn enter_play(&mut self, idx: usize, p: &Play) -> Option<String> {
        if p.barge_in && !self.type_ahead.is_empty() {
            // The caller already typed ahead: skip the prompt.
            return Some("next".into());
        }
        if p.barge_in {
            self.start_collecting();
        }
        let play = self.play(paths([&p.prompts]), p.barge_in);
        self.current = Some((
            idx,
            NodeState::Play {
                play,
                barge_in: p.barge_in,
            },
        ));
        None
    }

    fn enter_menu(&mut self, now: Time, idx: usize, m: &Menu) -> Option<String> {
        self.start_collecting();
        let waiting = NodeState::Menu {
            attempt: 1,
            phase: Phase::Waiting,
            deadline: None,
        };
        self.current = Some((idx, waiting));
        if let Some(d) = self.type_ahead.pop_front() {
            self.type_ahead.clear();
            return self.menu_digit(now, idx, m, d);
        }
        let play = self.play(paths([&m.prompts]), m.barge_in);
        let prompting = NodeState::Menu {
            attempt: 1,
            phase: Phase::Prompting(play),
            deadline: None,
        };
        self.current = Some((idx, prompting));
        None
    }

    fn enter_collect(&mut self, now: Time, idx: usize, c: &Collect) -> Option<String> {
        self.start_collecting();
        if self.type_ahead.is_empty() {
            let play = self.play(paths([&c.prompts]), true);
            self.current = Some((idx, collect_state(1, Phase::Prompting(play))));
            return None;
        }
        self.current = Some((idx, collect_state(1, Phase::Waiting)));
        let typed: Vec<Digit> = self.type_ahead.drain(..).collect();
        typed
            .into_iter()
            .find_map(|d| self.collect_digit(now, idx, c, d))
    }

    fn start_recording(&mut self, now: Time, idx: usize, beep: bool, max_duration: Duration) {
        self.actions
            .push_back(Action::StartRecording { beep, max_duration });
        let deadline = Some(after(now, max_duration));
        self.current = Some((
            idx,
            NodeState::Record {
                phase: RecordPhase::Recording,
                deadline,
            },
        ));
    }

    fn http_body(&self, node: &str) -> Value {
        let vars: Map<String, Value> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let get = |k: &str| self.vars.get(k).cloned().map_or(Value::Null, Value::String);
        json!({
            "call_id": get("call_id"),
            "caller": get("caller"),
            "callee": get("callee"),
            "caller_region": get("caller_region"),
            "flow": self.flow.name,
            "node": node,
            "keys": self.trajectory.key_path().summary,
            "vars": vars,
        })
    }

    pub(super) fn on_digit(&mut self, now: Time, d: Digit) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let (idx, state) = self.current.clone()?;
        match (&flow.nodes[idx].kind, state) {
            (
                NodeKind::Play(_),
                NodeState::Play {
                    play,
                    barge_in: true,
                },
            ) => {
                self.actions.push_back(Action::StopPlayback { id: play });
                self.type_ahead.push_back(d);
                Some("next".into())
            }
            (NodeKind::Menu(m), NodeState::Menu { phase, .. }) => {
                if let Phase::Prompting(play) = phase {
                    if !m.barge_in {
                        return None;
                    }
                    self.actions.push_back(Action::StopPlayback { id: play });
                }
                self.menu_digit(now, idx, m, d)
            }
            (NodeKind::Collect(c), NodeState::Collect { .. }) => self.collect_digit(now, idx, c, d),
            (
                NodeKind::Record(r),
                NodeState::Record {
                    phase: RecordPhase::Recording,
                    ..
                },
            ) if r.terminator == Some(d) => {
                self.actions.push_back(Action::StopRecording);
                let deadline = Some(after(now, RECORD_STOP_GRACE));
                self.current = Some((
                    idx,
                    NodeState::Record {
                        phase: RecordPhase::Stopping,
                        deadline,
                    },
                ));
                None
            }
            _ => None,
        }
    }

    fn menu_digit(&mut self, now: Time, idx: usize, m: &Menu, d: Digit) -> Option<String> {
        let option = m.options.get(&d).cloned();
        self.push_entry(now, idx, TrajectoryEvent::KeyPress, |e| {
            e.key = Some(d);
            if option.is_none() {
                e.detail = Some("invalid".into());
            }
        });
        match option {
            Some(exit) => Some(exit),
            None => self.menu_retry(now, idx, m, "invalid"),
        }
    }

    fn menu_retry(&mut self, now: Time, idx: usize, m: &Menu, reason: &str) -> Option<String> {
        let Some((_, NodeState::Menu { attempt, .. })) = self.current else {
            return None;
        };
        if attempt >= m.attempts {
            let exit = if self.flow.nodes[idx].exit(reason).is_some() {
                reason
            } else {
                "default"
            };
            return Some(exit.to_owned());
        }
        self.push_entry(now, idx, TrajectoryEvent::Retry, |e| {
            e.detail = Some(reason.into())
        });
        let first = if reason == "timeout" {
            &m.timeout_prompts
        } else {
            &m.invalid_prompts
        };
        let play = self.play(paths([first, &m.prompts]), m.barge_in);
        self.current = Some((
            idx,
            NodeState::Menu {
                attempt: attempt + 1,
                phase: Phase::Prompting(play),
                deadline: None,
            },
        ));
        None
    }

    fn collect_digit(&mut self, now: Time, idx: usize, c: &Collect, d: Digit) -> Option<String> {
        let Some((
            _,
            NodeState::Collect {
                attempt,
                phase,
                mut digits,
                overall,
                ..
            },
        )) = self.current.clone()
        else {
            return None;
        };
        if let Phase::Prompting(play) = phase {
            self.actions.push_back(Action::StopPlayback { id: play });
        }
        if c.terminator == Some(d) {
            return self.collect_finish(now, idx, c);
        }
        digits.push(d.as_char());
        let overall = overall.or(Some(after(now, c.timeout)));
        let inter = Some(after(now, c.inter_digit_timeout));
        let full = digits.len() >= c.max_digits as usize;
        self.current = Some((
            idx,
            NodeState::Collect {
                attempt,
                phase: Phase::Waiting,
                digits,
                overall,
                inter,
            },
        ));
        if full {
            return self.collect_finish(now, idx, c);
        }
        None
    }

    fn collect_finish(&mut self, now: Time, idx: usize, c: &Collect) -> Option<String> {
        let Some((_, NodeState::Collect { digits, .. })) = self.current.clone() else {
            return None;
        };
        if digits.is_empty() {
            return self.collect_retry(now, idx, c, "no_input");
        }
        let long_enough = digits.len() >= c.min_digits as usize;
        let matches = c.pattern.as_ref().is_none_or(|re| re.is_match(&digits));
        if long_enough && matches {
            self.exit_detail = Some(format!("{} digits", digits.len()));
            self.vars.insert(c.variable.clone(), digits);
            return Some("ok".into());
        }
        self.collect_retry(now, idx, c, "invalid")
    }

    fn collect_retry(
        &mut self,
        now: Time,
        idx: usize,
        c: &Collect,
        reason: &str,
    ) -> Option<String> {
        let Some((
            _,
            NodeState::Collect {
                attempt, digits, ..
            },
        )) = self.current.clone()
        else {
            return None;
        };
        let detail = format!("{reason}, {} digits", digits.len());
        if attempt >= c.attempts {
            self.push_entry(now, idx, TrajectoryEvent::Retry, |e| {
                e.detail = Some(format!("{detail}, attempts exhausted"))
            });
            return Some("fail".into());
        }
        self.push_entry(now, idx, TrajectoryEvent::Retry, |e| {
            e.detail = Some(detail)
        });
        let play = self.play(paths([&c.invalid_prompts, &c.prompts]), true);
        self.current = Some((
            idx,
            NodeState::Collect {
                attempt: attempt + 1,
                phase: Phase::Prompting(play),
                digits: String::new(),
                overall: None,
                inter: None,
            },
        ));
        None
    }

    pub(super) fn on_prompt_finished(&mut self, now: Time, id: PlayId) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let (idx, state) = self.current.clone()?;
        match (&flow.nodes[idx].kind, state) {
            (NodeKind::Play(_), NodeState::Play { play, .. }) if play == id => Some("next".into()),
            (
                NodeKind::Menu(m),
                NodeState::Menu {
                    attempt,
                    phase: Phase::Prompting(p),
                    ..
                },
            ) if p == id => {
                let deadline = Some(after(now, m.timeout));
                self.current = Some((
                    idx,
                    NodeState::Menu {
                        attempt,
                        phase: Phase::Waiting,
                        deadline,
                    },
                ));
                None
            }
            (
                NodeKind::Collect(c),
                NodeState::Collect {
                    attempt,
                    phase: Phase::Prompting(p),
                    digits,
                    ..
                },
            ) if p == id => {
                let overall = Some(after(now, c.timeout));
                self.current = Some((
                    idx,
                    NodeState::Collect {
                        attempt,
                        phase: Phase::Waiting,
                        digits,
                        overall,
                        inter: None,
                    },
                ));
                None
            }
            (
                NodeKind::Record(r),
                NodeState::Record {
                    phase: RecordPhase::Prompting(p),
                    ..
                },
            ) if p == id => {
                self.start_recording(now, idx, r.beep, r.max_duration);
                None
            }
            _ => None,
        }
    }

    pub(super) fn on_timeout(&mut self, now: Time) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let due = self.poll_timeout().is_some_and(|t| t <= now);
        if !due {
            return None;
        }
        let (idx, state) = self.current.clone()?;
        match (&flow.nodes[idx].kind, state) {
            (NodeKind::Menu(m), NodeState::Menu { .. }) => self.menu_retry(now, idx, m, "timeout"),
            (NodeKind::Collect(c), NodeState::Collect { .. }) => self.collect_finish(now, idx, c),
            (NodeKind::Http(_), NodeState::Http { url, sent_at, .. }) => {
                let result = CallUrlResult {
                    url,
                    status: None,
                    result: json!({ "error": "timeout" }),
                    latency_ms: (now - sent_at).num_milliseconds().max(0) as u64,
                };
                self.push_entry(now, idx, TrajectoryEvent::CallurlResult, |e| {
                    e.callurl = Some(result);
                    e.detail = Some("timeout".into());
                });
                let has_timeout = flow.nodes[idx].exit("timeout").is_some();
                Some(if has_timeout { "timeout" } else { "error" }.into())
            }
            (
                NodeKind::Record(_),
                NodeState::Record {
                    phase: RecordPhase::Recording,
                    ..
                },
            ) => {
                self.actions.push_back(Action::StopRecording);
                let deadline = Some(after(now, RECORD_STOP_GRACE));
                self.current = Some((
                    idx,
                    NodeState::Record {
                        phase: RecordPhase::Stopping,
                        deadline,
                    },
                ));
                None
            }
            (NodeKind::Record(_), NodeState::Record { .. }) => Some("next".into()),
            _ => None,
        }
    }

    pub(super) fn on_http_result(
        &mut self,
        now: Time,
        id: RequestId,
        outcome: HttpOutcome,
    ) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let (idx, state) = self.current.clone()?;
        let (
            NodeKind::Http(h),
            NodeState::Http {
                id: want,
                url,
                sent_at,
                ..
            },
        ) = (&flow.nodes[idx].kind, state)
        else {
            return None;
        };
        if want != id {
            return None;
        }
        let latency_ms = (now - sent_at).num_milliseconds().max(0) as u64;
        let (status, result, exit) = match outcome {
            HttpOutcome::Response { status, body } if (200..300).contains(&status) => {
                let parsed = if body.trim().is_empty() {
                    Ok(Value::Null)
                } else {
                    serde_json::from_str::<Value>(&body)
                };
                match parsed {
                    Ok(doc) => {
                        let mapped = self.map_response(h, &doc);
                        let chosen = h
                            .exit_var
                            .as_ref()
                            .and_then(|v| self.vars.get(v))
                            .filter(|name| flow.nodes[idx].exit(name).is_some())
                            .cloned();
                        (
                            Some(status),
                            Value::Object(mapped),
                            chosen.unwrap_or_else(|| "ok".into()),
                        )
                    }
                    Err(e) => (
                        Some(status),
                        json!({ "error": format!("invalid JSON: {e}") }),
                        "error".into(),
                    ),
                }
            }
            HttpOutcome::Response { status, .. } => (
                Some(status),
                json!({ "error": format!("HTTP {status}") }),
                "error".into(),
            ),
            HttpOutcome::Failed { reason } => (None, json!({ "error": reason }), "error".into()),
            HttpOutcome::TimedOut => {
                let exit = if flow.nodes[idx].exit("timeout").is_some() {
                    "timeout"
                } else {
                    "error"
                };
                (None, json!({ "error": "timeout" }), exit.into())
            }
        };
        let callurl = CallUrlResult {
            url,
            status,
            result,
            latency_ms,
        };
        self.push_entry(now, idx, TrajectoryEvent::CallurlResult, |e| {
            e.callurl = Some(callurl)
        });
        Some(exit)
    }

    fn map_response(&mut self, h: &crate::model::Http, doc: &Value) -> Map<String, Value> {
        let mut mapped = Map::new();
        for (var, pointer) in &h.map {
            let Some(v) = doc.pointer(pointer) else {
                continue;
            };
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            mapped.insert(var.clone(), v.clone());
            self.vars.insert(var.clone(), text);
        }
        mapped
    }

    pub(super) fn on_record_finished(
        &mut self,
        _now: Time,
        reference: String,
        duration: Duration,
    ) -> Option<String> {
        let flow = Arc::clone(&self.flow);
        let (idx, state) = self.current.clone()?;
        let (
            NodeKind::Record(r),
            NodeState::Record {
                phase: RecordPhase::Recording | RecordPhase::Stopping,
                ..
            },
        ) = (&flow.nodes[idx].kind, state)
        else {
            return None;
        };
        self.exit_detail = Some(format!(
            "recorded {reference} ({} ms)",
            duration.as_millis()
        ));
        if let Some(var) = &r.variable {
            self.vars.insert(var.clone(), reference);
        }
        Some("next".into())
    }
}

fn collect_state(attempt: u32, phase: Phase) -> NodeState {
    NodeState::Collect {
        attempt,
        phase,
        digits: String::new(),
        overall: None,
        inter: None,
    }
}
