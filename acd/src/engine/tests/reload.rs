//! `Acd::reconfigure` (`pbx reload` of `[[queues]]` / `[[agents]]`).

use super::*;
use crate::config::Strategy;

fn profile(name: &str, skills: &[&str]) -> AgentProfile {
    AgentProfile::new(name, skills).expect("valid skills")
}

fn ring_timeouts(acts: &[Action]) -> Vec<u64> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Offer {
                ring_timeout_ms, ..
            } => Some(*ring_timeout_ms),
            _ => None,
        })
        .collect()
}

#[test]
fn a_removed_queue_keeps_its_callers_and_an_added_one_works_at_once() {
    let mut h = H::new(vec![q("sales"), q("support")]);
    h.agent("ann", &["sales:5"]);
    h.agent("bob", &["support:5"]);
    // ann busy with caller 1; callers 2 and 3 wait in sales
    h.enter(1, "sales");
    h.serve_next();
    h.enter(2, "sales");
    h.enter(3, "sales");
    assert!(h.offers().is_empty());

    let summary = h
        .acd
        .reconfigure(
            h.now,
            vec![q("support"), q("billing")],
            vec![
                profile("ann", &["support:5"]),
                profile("bob", &["support:5", "billing:3"]),
                profile("cy", &["billing:9"]),
            ],
        )
        .expect("valid reload");
    h.drain();
    assert_eq!(
        summary.queues_removed,
        [(QueueId::from("sales"), 2)],
        "{summary:?}"
    );
    assert_eq!(summary.queues_added, [QueueId::from("billing")]);
    assert_eq!(summary.agents_added, [id("cy")]);
    assert_eq!(summary.agents_changed, [id("ann"), id("bob")]);
    assert_eq!(
        h.state("cy"),
        AgentState::LoggedOut,
        "added agents start logged out"
    );

    // no new callers for the removed queue
    let refused = h.acd.handle_caller_enter(
        h.now,
        CallerInfo {
            call: CallId(9),
            queue: QueueId::from("sales"),
            number: "+3120".into(),
            service_number: None,
            priority: 0,
        },
    );
    assert_eq!(refused, Err(Error::UnknownQueue(QueueId::from("sales"))));
    assert_eq!(
        h.acd.position_of(CallId(2)),
        Some(1),
        "callers keep their place"
    );
    assert_eq!(h.acd.position_of(CallId(3)), Some(2));

    // the added queue takes a caller at once and bob (now skilled) gets it
    h.enter(4, "billing");
    let (offer, call, agent) = h.one_offer();
    assert_eq!((call, agent.as_str()), (CallId(4), "bob"));
    h.answer(offer);

    // ann, who had the removed queue's skill, still serves its callers
    h.hangup(1);
    h.advance(1_000);
    let (offer, call, agent) = h.one_offer();
    assert_eq!((call, agent.as_str()), (CallId(2), "ann"));
    h.answer(offer);
    h.hangup(2);
    h.advance(1_000);
    let (offer, call, _) = h.one_offer();
    assert_eq!(call, CallId(3));
    h.answer(offer);
    h.hangup(3);
    h.advance(1_000);
    // the removed queue is empty now: a support caller goes to ann
    h.enter(5, "support");
    let (_, call, agent) = h.one_offer();
    assert_eq!((call, agent.as_str()), (CallId(5), "ann"));
}

#[test]
fn changed_timeouts_and_strategy_apply_to_the_next_offer() {
    let mut h = H::new(vec![q("sales")]);
    h.agent("ann", &["sales:5"]);
    h.agent("bob", &["sales:5"]);
    h.enter(1, "sales");
    assert_eq!(ring_timeouts(&h.take()), [20_000]);
    h.hangup(1);

    let mut sales = q("sales");
    sales.ring_timeout_s = 7;
    sales.strategy = Strategy::RingAll;
    let agents = vec![profile("ann", &["sales:5"]), profile("bob", &["sales:5"])];
    let summary = h
        .acd
        .reconfigure(h.now, vec![sales], agents)
        .expect("valid reload");
    h.drain();
    assert_eq!(summary.queues_changed, [QueueId::from("sales")]);
    assert!(summary.agents_changed.is_empty(), "{summary:?}");
    assert_eq!(h.state("ann"), AgentState::Available, "states are kept");
    h.take();
    h.enter(2, "sales");
    assert_eq!(
        ring_timeouts(&h.take()),
        [7_000, 7_000],
        "ring-all, 7 s per offer"
    );
}

#[test]
fn a_bad_reload_changes_nothing_and_an_engaged_agent_stays() {
    let mut h = H::new(vec![q("sales")]);
    h.agent("ann", &["sales:5"]);
    h.agent("bob", &["sales:5"]);
    let unknown = h
        .acd
        .reconfigure(h.now, vec![q("sales")], vec![profile("ann", &["nope:5"])]);
    assert!(matches!(unknown, Err(Error::Profile(_))), "{unknown:?}");
    let twice = h.acd.reconfigure(
        h.now,
        vec![q("sales")],
        vec![profile("ann", &["sales:5"]), profile("ann", &["sales:1"])],
    );
    assert_eq!(twice, Err(Error::DuplicateAgent(id("ann"))));
    assert_eq!(h.state("bob"), AgentState::Available);

    // ann rings for caller 1; both agents leave the configuration
    h.enter(1, "sales");
    let (offer, _, agent) = h.one_offer();
    let summary = h
        .acd
        .reconfigure(h.now, vec![q("sales")], vec![])
        .expect("valid reload");
    h.drain();
    let other = if agent == "ann" { "bob" } else { "ann" };
    assert_eq!(summary.agents_kept, [id(&agent)], "{summary:?}");
    assert_eq!(summary.agents_removed, [id(other)]);
    assert!(h.acd.agent_state(&id(other)).is_none());
    // the kept agent still takes its call
    h.answer(offer);
    assert_eq!(h.state(&agent).name(), "on_call");
}
