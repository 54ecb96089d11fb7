//! The missed-call list (SPEC §10) as a pure function over queue events
//! and quick-callback attempts.
//!
//! - A call becomes missed when it leaves the ACD without reaching an
//!   agent: abandon, overflow out of the queues (not to another queue), or a
//!   callback request that gave up. It is assigned to the skill group it
//!   last waited in (every agent of that group sees it).
//! - It leaves the list only when a connected call with that number
//!   resolves it: a quick callback from the list that connects, or a new
//!   inbound call from the same number that reaches an agent. The first one
//!   resolves every open entry of that number. Unanswered or failed
//!   callbacks leave it in the list and count one attempt.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::OverflowTarget;
use crate::events::{EventKind, QueueEvent};
use crate::ids::{AgentId, CallId, QueueId};

/// One entry of the list (SPEC §3 MissedCall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedCall {
    /// The sequence number of the event that made it missed (stable id).
    pub id: u64,
    /// The call.
    pub call: CallId,
    /// The caller's number.
    pub caller: String,
    /// The service number dialed.
    pub service_number: Option<String>,
    /// The skill group it went unanswered in.
    pub skill_group: QueueId,
    /// When (Unix ms).
    pub missed_at_unix_ms: u64,
    /// Quick callbacks tried.
    pub callback_attempts: u32,
    /// The connected call that resolved it.
    pub resolved_by_call: Option<CallId>,
    /// The agent of that call, when known.
    pub resolved_by_agent: Option<AgentId>,
}

impl MissedCall {
    /// Still in the list.
    pub fn is_open(&self) -> bool {
        self.resolved_by_call.is_none()
    }
}

/// An input of [`missed_calls`], in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissedInput<'a> {
    /// A queue event.
    Queue(&'a QueueEvent),
    /// A quick callback from the list (`pbx callback ID --agent A`) ended.
    Callback {
        /// The entry called back.
        missed_id: u64,
        /// The outbound call.
        call: CallId,
        /// The agent who called.
        agent: AgentId,
        /// Whether the customer answered.
        connected: bool,
    },
}

/// The list, open and resolved entries, in the order they were missed.
pub fn missed_calls(inputs: &[MissedInput<'_>]) -> Vec<MissedCall> {
    let mut out: Vec<MissedCall> = Vec::new();
    // Per call: number, service number, last queue.
    let mut calls: HashMap<CallId, (String, Option<String>)> = HashMap::new();
    let resolve = |out: &mut Vec<MissedCall>, number: &str, by: CallId, agent: Option<AgentId>| {
        for m in out.iter_mut().filter(|m| m.is_open() && m.caller == number) {
            m.resolved_by_call = Some(by);
            m.resolved_by_agent = agent.clone();
        }
    };
    for input in inputs {
        match input {
            MissedInput::Callback {
                missed_id,
                call,
                agent,
                connected,
            } => {
                let Some(m) = out.iter_mut().find(|m| m.id == *missed_id) else {
                    continue;
                };
                if !m.is_open() {
                    continue;
                }
                m.callback_attempts += 1;
                if *connected {
                    let number = m.caller.clone();
                    resolve(&mut out, &number, *call, Some(agent.clone()));
                }
            }
            MissedInput::Queue(e) => {
                let Some(call) = e.call else { continue };
                let missed = match &e.kind {
                    EventKind::Enter {
                        number,
                        service_number,
                        ..
                    } => {
                        calls.insert(call, (number.clone(), service_number.clone()));
                        false
                    }
                    EventKind::Connect { .. } | EventKind::CallbackConnected { .. } => {
                        if let Some((number, _)) = calls.get(&call) {
                            let number = number.clone();
                            let by = match &e.kind {
                                EventKind::CallbackConnected { callback_call, .. } => {
                                    *callback_call
                                }
                                _ => call,
                            };
                            resolve(&mut out, &number, by, e.agent.clone());
                        }
                        false
                    }
                    EventKind::Abandon { .. } => true,
                    EventKind::Overflow { target, .. } => {
                        !matches!(target, Some(OverflowTarget::Queue(_)))
                    }
                    EventKind::CallbackFailed { gave_up, .. } => *gave_up,
                    _ => false,
                };
                if !missed {
                    continue;
                }
                let (Some((number, service)), Some(queue)) = (calls.get(&call), &e.queue) else {
                    continue;
                };
                out.push(MissedCall {
                    id: e.seq,
                    call,
                    caller: number.clone(),
                    service_number: service.clone(),
                    skill_group: queue.clone(),
                    missed_at_unix_ms: e.at_unix_ms,
                    callback_attempts: 0,
                    resolved_by_call: None,
                    resolved_by_agent: None,
                });
            }
        }
    }
    out
}

/// The open entries, optionally of one skill group (an agent sees those of
/// its groups).
pub fn open_missed<'a>(
    list: &'a [MissedCall],
    skill_group: Option<&QueueId>,
) -> Vec<&'a MissedCall> {
    list.iter()
        .filter(|m| m.is_open() && skill_group.is_none_or(|g| &m.skill_group == g))
        .collect()
}

/// Wraps queue events as inputs.
pub fn from_events(events: &[QueueEvent]) -> Vec<MissedInput<'_>> {
    events.iter().map(MissedInput::Queue).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Acd, AcdConfig, Action, AgentProfile, CallerInfo, Now, QueueConfig};

    fn run(acd: &mut Acd, events: &mut Vec<QueueEvent>) -> Vec<Action> {
        let mut acts = Vec::new();
        while let Some(a) = acd.poll_action() {
            acts.push(a);
        }
        while let Some(e) = acd.poll_event() {
            events.push(e);
        }
        acts
    }

    fn enter(acd: &mut Acd, now: Now, call: u64, queue: &str, number: &str) {
        let info = CallerInfo {
            call: CallId(call),
            queue: QueueId::from(queue),
            number: number.into(),
            service_number: Some("400".into()),
            priority: 0,
        };
        acd.handle_caller_enter(now, info).unwrap();
    }

    #[test]
    fn spec_10_missed_list_lifecycle() {
        let mut g = QueueConfig {
            wrap_up_s: 0,
            ..QueueConfig::named("g")
        };
        g.limits.max_wait_s = Some(30);
        g.limits.overflow = Some(OverflowTarget::Queue(QueueId::from("h")));
        let mut h = QueueConfig {
            wrap_up_s: 0,
            ..QueueConfig::named("h")
        };
        h.limits.max_wait_s = Some(30);
        h.limits.overflow = Some("voicemail:h".parse().unwrap());
        let mut acd = Acd::new(AcdConfig::default(), vec![g, h]).unwrap();
        let mut ev = Vec::new();
        let mut now = Now::new(0, 1_764_000_000_000);
        // 1: abandons in g. 2: overflows g → h → voicemail: missed in h.
        enter(&mut acd, now, 1, "g", "+311");
        enter(&mut acd, now, 2, "g", "+312");
        now = now.plus_ms(10_000);
        acd.handle_hangup(now, CallId(1));
        now = now.plus_ms(60_000);
        acd.handle_timeout(now);
        run(&mut acd, &mut ev);
        let list = missed_calls(&from_events(&ev));
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].call, list[0].skill_group.as_str()),
            (CallId(1), "g")
        );
        assert_eq!(
            (list[1].call, list[1].skill_group.as_str()),
            (CallId(2), "h"),
            "assigned to the group it last waited in"
        );
        assert_eq!(list[1].service_number.as_deref(), Some("400"));
        // A quick callback to 1 that nobody answers: stays, one attempt.
        let agent = AgentId::from("a");
        let mut inputs = from_events(&ev);
        inputs.push(MissedInput::Callback {
            missed_id: list[0].id,
            call: CallId(90),
            agent: agent.clone(),
            connected: false,
        });
        let l = missed_calls(&inputs);
        assert!(l[0].is_open());
        assert_eq!(l[0].callback_attempts, 1);
        inputs.push(MissedInput::Callback {
            missed_id: list[0].id,
            call: CallId(91),
            agent: agent.clone(),
            connected: true,
        });
        let l = missed_calls(&inputs);
        assert_eq!(
            (l[0].callback_attempts, l[0].resolved_by_call),
            (2, Some(CallId(91)))
        );
        assert_eq!(open_missed(&l, None).len(), 1);
        assert_eq!(open_missed(&l, Some(&QueueId::from("g"))).len(), 0);
        // 2 calls again and reaches an agent: resolved by the new call.
        acd.add_agent(now, AgentProfile::new("a", &["g:5"]).unwrap())
            .unwrap();
        acd.handle_agent_login(now, &agent).unwrap();
        enter(&mut acd, now, 3, "g", "+312");
        let offer = run(&mut acd, &mut ev)
            .into_iter()
            .find_map(|a| match a {
                Action::Offer { offer, .. } => Some(offer),
                _ => None,
            })
            .unwrap();
        acd.handle_offer_answered(now, offer).unwrap();
        run(&mut acd, &mut ev);
        let l = missed_calls(&from_events(&ev));
        assert_eq!(l[1].resolved_by_call, Some(CallId(3)));
        assert_eq!(l[1].resolved_by_agent, Some(agent));
        assert!(
            !l.iter().any(|m| m.call == CallId(3)),
            "answered calls are never missed"
        );
    }
}
