//! Agent states across queues: legal and refused moves, records, wrap-up,
//! no-answer, non-queue calls, restart recovery.

use std::collections::HashSet;

use super::*;
use crate::events::OfferFailure;
use crate::ids::ReasonCode;
use crate::state::{AgentStateRecord, CallKind, StateCause};
use crate::Error;

fn records(h: &H, name: &str) -> Vec<(String, String, StateCause)> {
    h.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentState(r) if r.agent.as_str() == name => {
                Some((r.from.to_string(), r.to.to_string(), r.cause))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn impossible_moves_are_refused_with_a_typed_error_and_change_nothing() {
    let mut h = H::new(vec![q("sales")]);
    let p = AgentProfile::new("bob", &["sales:3"]).unwrap();
    h.acd.add_agent(h.now, p).unwrap();
    let err = h.acd.handle_agent_ready(h.now, &id("bob")).unwrap_err();
    assert!(
        matches!(err, Error::State(ref e) if e.from == AgentState::LoggedOut && e.to == AgentState::Available),
        "{err}"
    );
    assert_eq!(h.state("bob"), AgentState::LoggedOut);
    h.acd.handle_agent_login(h.now, &id("bob")).unwrap();
    assert!(matches!(
        h.acd.handle_agent_login(h.now, &id("bob")),
        Err(Error::State(_))
    ));
    h.enter(1, "sales");
    let (offer, ..) = h.one_offer();
    h.answer(offer);
    // On a queue call: no logout, no break.
    assert!(matches!(
        h.acd.handle_agent_logout(h.now, &id("bob")),
        Err(Error::State(_))
    ));
    assert!(matches!(
        h.acd
            .handle_agent_break(h.now, &id("bob"), ReasonCode::from("lunch")),
        Err(Error::State(_))
    ));
    assert_eq!(h.state("bob"), AgentState::OnCall(CallKind::Queue));
    assert!(matches!(
        h.acd.handle_agent_login(h.now, &id("nobody")),
        Err(Error::UnknownAgent(_))
    ));
}

#[test]
fn every_change_is_a_record_with_cause_reason_and_duration() {
    let mut h = H::new(vec![QueueConfig {
        wrap_up_s: 30,
        ..q("sales")
    }]);
    h.agent("alice", &["sales:5"]);
    h.advance(5_000);
    h.acd
        .handle_agent_break(h.now, &id("alice"), ReasonCode::from("lunch"))
        .unwrap();
    h.drain();
    h.advance(60_000);
    h.acd.handle_agent_ready(h.now, &id("alice")).unwrap();
    h.enter(7, "sales");
    let (offer, ..) = h.one_offer();
    h.advance(2_000);
    h.answer(offer);
    h.advance(40_000);
    h.hangup(7);
    h.advance(30_000);
    let r = records(&h, "alice");
    let expect = [
        ("logged_out", "available", StateCause::Login),
        ("available", "break(lunch)", StateCause::Break),
        ("break(lunch)", "available", StateCause::Ready),
        ("available", "reserved", StateCause::Offer),
        ("reserved", "on_call(Queue)", StateCause::Answered),
        ("on_call(Queue)", "wrap_up", StateCause::CallEnded),
        ("wrap_up", "available", StateCause::WrapUpExpired),
    ];
    let got: Vec<(&str, &str, StateCause)> = r
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
        .collect();
    assert_eq!(got, expect);
    let recs: Vec<&AgentStateRecord> = h
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentState(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(recs[1].reason, Some(ReasonCode::from("lunch")));
    assert_eq!(recs[2].from_duration_ms, 60_000, "time on break");
    assert_eq!(recs[4].call, Some(CallId(7)));
    assert_eq!(
        recs[6].from_duration_ms, 30_000,
        "wrap-up lasted the queue's 30 s"
    );
    assert_eq!(recs[6].at_unix_ms - recs[0].at_unix_ms, 137_000);
}

#[test]
fn wrap_up_can_be_ended_early_and_agent_override_wins() {
    let mut h = H::new(vec![QueueConfig {
        wrap_up_s: 30,
        ..q("sales")
    }]);
    let mut p = AgentProfile::new("carol", &["sales:5"]).unwrap();
    p.wrap_up_s = Some(120);
    h.acd.add_agent(h.now, p).unwrap();
    h.acd.handle_agent_login(h.now, &id("carol")).unwrap();
    h.enter(1, "sales");
    let (offer, ..) = h.one_offer();
    h.answer(offer);
    h.hangup(1);
    h.advance(60_000);
    assert_eq!(
        h.state("carol"),
        AgentState::WrapUp,
        "override: 120 s, not 30 s"
    );
    h.enter(2, "sales");
    assert!(h.offers().is_empty(), "no offers in wrap-up");
    h.acd.handle_agent_ready(h.now, &id("carol")).unwrap();
    h.drain();
    let (_, call, agent) = h.one_offer();
    assert_eq!(
        (call, agent.as_str()),
        (CallId(2), "carol"),
        "ending wrap-up early serves the waiting caller"
    );
}

#[test]
fn ring_no_answer_goes_to_next_agent_and_max_no_answer_pauses() {
    let cfg = AcdConfig {
        max_no_answer: 2,
        ..AcdConfig::default()
    };
    let mut h = H::with(
        cfg,
        vec![QueueConfig {
            ring_timeout_s: 15,
            ..q("sales")
        }],
    );
    h.agent("a1", &["sales:5"]);
    h.advance(1_000);
    h.agent("a2", &["sales:5"]);
    h.enter(1, "sales");
    let (_, _, first) = h.one_offer();
    assert_eq!(first, "a1", "longest idle first");
    h.advance(15_000);
    let acts = h.take();
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::CancelOffer {
            reason: CancelReason::RingTimeout,
            ..
        }
    )));
    let next: Vec<_> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Offer { agent, .. } => Some(agent.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(next, ["a2"], "ring-no-answer → next agent");
    assert!(h.kinds().contains(&"ring_no_answer"));
    // a2 declines: back to a1 (the only one left), who misses again → no-answer.
    let offer = h.acd.offers.keys().copied().next().unwrap();
    h.acd
        .handle_offer_failed(h.now, offer, OfferFailure::Rejected)
        .unwrap();
    h.drain();
    let (offer, _, agent) = h.one_offer();
    assert_eq!(agent, "a1");
    h.acd
        .handle_offer_failed(h.now, offer, OfferFailure::NoAnswer)
        .unwrap();
    h.drain();
    assert_eq!(h.state("a1"), AgentState::NoAnswer);
    let (offer, _, agent) = h.one_offer();
    assert_eq!(agent, "a2");
    h.answer(offer);
    assert_eq!(h.state("a2"), AgentState::OnCall(CallKind::Queue));
    assert_eq!(
        h.acd.agents[1].as_ref().unwrap().no_answer,
        0,
        "an answer resets the count"
    );
    assert!(matches!(
        h.acd.handle_offer_answered(h.now, offer),
        Err(Error::UnknownOffer(_))
    ));
    h.acd.handle_agent_ready(h.now, &id("a1")).unwrap();
    assert_eq!(h.state("a1"), AgentState::Available);
}

#[test]
fn non_queue_calls_make_agents_busy_for_every_queue_and_return_to_their_state() {
    let mut h = H::new(vec![q("sales"), q("support")]);
    h.agent("dave", &["sales:5", "support:5"]);
    h.acd
        .handle_agent_busy(h.now, &id("dave"), CallId(900), CallKind::Outbound)
        .unwrap();
    h.enter(1, "sales");
    h.enter(2, "support");
    assert!(h.offers().is_empty(), "busy on an outbound call");
    assert_eq!(h.state("dave"), AgentState::OnCall(CallKind::Outbound));
    h.acd.handle_agent_idle(h.now, &id("dave")).unwrap();
    h.drain();
    assert_eq!(
        h.one_offer().1,
        CallId(1),
        "first come, first served across queues"
    );
    // Busy while on break returns to the break.
    let mut h = H::new(vec![q("sales")]);
    h.agent("erin", &["sales:5"]);
    h.acd
        .handle_agent_break(h.now, &id("erin"), ReasonCode::from("training"))
        .unwrap();
    h.acd
        .handle_agent_busy(h.now, &id("erin"), CallId(5), CallKind::Direct)
        .unwrap();
    h.acd.handle_agent_idle(h.now, &id("erin")).unwrap();
    assert_eq!(
        h.state("erin"),
        AgentState::Break(ReasonCode::from("training"))
    );
}

#[test]
fn a_direct_call_while_ringing_withdraws_the_offer_without_counting_it() {
    let mut h = H::new(vec![q("sales")]);
    h.agent("a1", &["sales:5"]);
    h.enter(1, "sales");
    let (offer, ..) = h.one_offer();
    h.acd
        .handle_agent_busy(h.now, &id("a1"), CallId(50), CallKind::Direct)
        .unwrap();
    h.drain();
    assert!(h.take().iter().any(|a| matches!(a, Action::CancelOffer { offer: o, reason: CancelReason::AgentUnavailable, .. } if *o == offer)));
    assert_eq!(h.acd.agents[0].as_ref().unwrap().no_answer, 0);
    h.acd.handle_agent_idle(h.now, &id("a1")).unwrap();
    h.drain();
    assert_eq!(h.one_offer().1, CallId(1));
}

#[test]
fn restart_leaves_nobody_reserved_or_on_call_without_a_live_call() {
    let mut h = H::new(vec![QueueConfig {
        wrap_up_s: 60,
        ..q("sales")
    }]);
    for n in ["ann", "ben", "cat", "dan", "eve"] {
        h.agent(n, &["sales:5"]);
    }
    // ann: on call 1 (live after restart); ben: on call 2 (dead);
    // cat: ringing for 3; dan: wrap-up; eve: break.
    h.enter(1, "sales");
    let (o, ..) = h.one_offer();
    h.answer(o);
    h.enter(2, "sales");
    let (o, ..) = h.one_offer();
    h.answer(o);
    h.enter(3, "sales");
    let _ = h.one_offer();
    h.enter(4, "sales");
    let (o, ..) = h.one_offer();
    h.answer(o);
    h.hangup(4);
    h.acd
        .handle_agent_break(h.now, &id("eve"), ReasonCode::from("lunch"))
        .unwrap();
    h.drain();
    let snaps = h.acd.agent_snapshots();
    let json = serde_json::to_string(&snaps).unwrap();
    // From the records too: the last record per agent gives the same snapshot.
    let mut last: std::collections::HashMap<String, AgentSnapshot> = Default::default();
    for e in &h.events {
        if let EventKind::AgentState(r) = &e.kind {
            last.insert(r.agent.to_string(), AgentSnapshot::from(r));
        }
    }
    for s in &snaps {
        assert_eq!(last[s.agent.as_str()].state, s.state);
    }

    let mut h2 = H::new(vec![QueueConfig {
        wrap_up_s: 60,
        ..q("sales")
    }]);
    for n in ["ann", "ben", "cat", "dan", "eve"] {
        h2.acd
            .add_agent(h2.now, AgentProfile::new(n, &["sales:5"]).unwrap())
            .unwrap();
    }
    let snaps: Vec<AgentSnapshot> = serde_json::from_str(&json).unwrap();
    let live: HashSet<CallId> = [CallId(1), CallId(3)].into();
    h2.acd.recover(h2.now, &snaps, &live).unwrap();
    h2.drain();
    assert_eq!(h2.state("ann"), AgentState::OnCall(CallKind::Queue));
    for n in ["ben", "cat", "dan"] {
        assert_eq!(h2.state(n), AgentState::Available, "{n}");
    }
    assert_eq!(
        h2.state("eve"),
        AgentState::Break(ReasonCode::from("lunch"))
    );
    let restarts = h2
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::AgentState(r) if r.cause == StateCause::Restart))
        .count();
    assert_eq!(restarts, 3);
    // ann's call is re-attached: its end is a normal completion into wrap-up.
    h2.advance(10_000);
    h2.hangup(1);
    assert_eq!(h2.state("ann"), AgentState::WrapUp);
    assert_eq!(h2.kinds().last(), Some(&"complete"));
}

#[test]
fn logout_while_ringing_cancels_and_leave_when_empty_empties_the_queue() {
    let mut cfg = q("sales");
    cfg.limits.leave_when_empty = true;
    cfg.limits.overflow = Some("voicemail:sales".parse().unwrap());
    let mut h = H::new(vec![cfg]);
    h.agent("a1", &["sales:5"]);
    h.enter(1, "sales");
    let _ = h.one_offer();
    h.enter(2, "sales");
    h.acd.handle_agent_logout(h.now, &id("a1")).unwrap();
    h.drain();
    let acts = h.take();
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::CancelOffer {
            reason: CancelReason::AgentUnavailable,
            ..
        }
    )));
    let gone: Vec<CallId> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Overflow {
                call,
                reason: OverflowReason::LeaveEmpty,
                ..
            } => Some(*call),
            _ => None,
        })
        .collect();
    assert_eq!(
        gone,
        [CallId(1), CallId(2)],
        "both callers leave, longest waiting first"
    );
    assert_eq!(
        h.acd.queue_status(&QueueId::from("sales")).unwrap().entries,
        0
    );
}

#[test]
fn after_the_retry_delay_a_ring_no_answer_moves_on_to_the_next_agent() {
    let mut h = H::with(
        AcdConfig::default(),
        vec![QueueConfig {
            ring_timeout_s: 15,
            retry_delay_s: 5,
            ..q("sales")
        }],
    );
    h.agent("a1", &["sales:5"]);
    h.advance(1_000);
    h.agent("a2", &["sales:5"]);
    h.enter(1, "sales");
    let (_, _, first) = h.one_offer();
    assert_eq!(first, "a1", "longest idle first");
    h.advance(15_000);
    let now: Vec<_> = h
        .take()
        .into_iter()
        .filter(|a| matches!(a, Action::Offer { .. }))
        .collect();
    assert!(now.is_empty(), "the caller waits the retry delay: {now:?}");
    h.advance(5_000);
    let (_, _, next) = h.one_offer();
    assert_eq!(next, "a2", "the agent that rang out is skipped once");
}
