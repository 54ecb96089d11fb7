//! Every strategy, relaxing rules, and the one matcher across queues.

use super::*;
use crate::config::{RelaxStep, Strategy};

fn with_strategy(s: Strategy) -> H {
    H::new(vec![QueueConfig {
        strategy: s,
        ..q("sales")
    }])
}

/// Serves `n` callers one after the other (each answered and hung up at
/// once, 1 s apart) and returns who took each.
fn serve_sequence(h: &mut H, n: u64) -> Vec<String> {
    let mut out = Vec::new();
    for c in 0..n {
        h.advance(1_000);
        h.enter(100 + c, "sales");
        out.push(h.serve_next());
        h.advance(1_000);
        h.hangup(100 + c);
    }
    out
}

#[test]
fn ring_all_rings_every_eligible_agent_and_first_answer_wins() {
    let mut h = with_strategy(Strategy::RingAll);
    for n in ["a", "b", "c"] {
        h.agent(n, &["sales:5"]);
    }
    h.enter(1, "sales");
    let offers = h.offers();
    assert_eq!(offers.len(), 3);
    h.answer(offers[1].0);
    let cancels: Vec<_> = h
        .take()
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::CancelOffer {
                    reason: CancelReason::AnsweredElsewhere,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(cancels.len(), 2);
    assert_eq!(h.state("a"), AgentState::Available);
    assert_eq!(
        h.state(&offers[1].2),
        AgentState::OnCall(crate::state::CallKind::Queue)
    );
}

#[test]
fn longest_idle_picks_who_finished_first() {
    let mut h = with_strategy(Strategy::LongestIdle);
    h.agent("a", &["sales:5"]);
    h.advance(10);
    h.agent("b", &["sales:5"]);
    assert_eq!(serve_sequence(&mut h, 4), ["a", "b", "a", "b"]);
}

#[test]
fn round_robin_remembers_where_it_stopped() {
    let mut h = with_strategy(Strategy::RoundRobin);
    for n in ["a", "b", "c"] {
        h.agent(n, &["sales:5"]);
    }
    assert_eq!(serve_sequence(&mut h, 2), ["a", "b"]);
    // b goes on break: the next turn skips it and continues after b.
    h.acd
        .handle_agent_break(h.now, &id("b"), crate::ids::ReasonCode::from("x"))
        .unwrap();
    assert_eq!(serve_sequence(&mut h, 3), ["c", "a", "c"]);
}

#[test]
fn linear_always_starts_at_the_top() {
    let mut h = with_strategy(Strategy::Linear);
    for n in ["a", "b", "c"] {
        h.agent(n, &["sales:5"]);
    }
    assert_eq!(serve_sequence(&mut h, 3), ["a", "a", "a"]);
    h.enter(1, "sales");
    h.enter(2, "sales");
    let o = h.offers();
    assert_eq!((o[0].2.as_str(), o[1].2.as_str()), ("a", "b"), "a busy → b");
}

#[test]
fn fewest_calls_today_and_resets_at_local_midnight() {
    let mut h = with_strategy(Strategy::FewestCalls);
    h.agent("a", &["sales:5"]);
    h.agent("b", &["sales:5"]);
    assert_eq!(serve_sequence(&mut h, 3), ["a", "b", "a"]);
    // b takes a second call so both have 2; a idle longer → a.
    assert_eq!(serve_sequence(&mut h, 2), ["b", "a"]);
    assert_eq!(h.acd.agents[0].as_ref().unwrap().members[0].calls_today, 3);
    h.advance(24 * 3_600_000);
    assert_eq!(
        h.acd.agents[0].as_ref().unwrap().members[0].calls_today,
        0,
        "new day"
    );
}

#[test]
fn least_talk_time_prefers_who_talked_least() {
    let mut h = with_strategy(Strategy::LeastTalkTime);
    h.agent("a", &["sales:5"]);
    h.agent("b", &["sales:5"]);
    h.enter(1, "sales");
    assert_eq!(h.serve_next(), "a");
    h.advance(300_000);
    h.hangup(1);
    h.enter(2, "sales");
    assert_eq!(h.serve_next(), "b");
    h.advance(10_000);
    h.hangup(2);
    // a talked 300 s, b 10 s: b twice even though a idles longer.
    assert_eq!(serve_sequence(&mut h, 2), ["b", "b"]);
}

#[test]
fn random_is_seeded_and_spreads() {
    let run = |seed: u64| {
        let mut h = H::with(
            AcdConfig {
                seed,
                ..AcdConfig::default()
            },
            vec![QueueConfig {
                strategy: Strategy::Random,
                ..q("sales")
            }],
        );
        for n in ["a", "b", "c", "d"] {
            h.agent(n, &["sales:5"]);
        }
        serve_sequence(&mut h, 40)
    };
    let x = run(7);
    assert_eq!(x, run(7), "same seed, same choices");
    assert_ne!(x, run(8));
    for n in ["a", "b", "c", "d"] {
        let k = x.iter().filter(|s| *s == n).count();
        assert!((3..=20).contains(&k), "{n} got {k} of 40");
    }
}

#[test]
fn skills_highest_level_first_then_longest_idle() {
    let mut h = with_strategy(Strategy::Skills);
    h.agent("junior", &["sales:3"]);
    h.agent("senior1", &["sales:9"]);
    h.advance(5);
    h.agent("senior2", &["sales:9"]);
    h.enter(1, "sales");
    h.enter(2, "sales");
    h.enter(3, "sales");
    let o: Vec<String> = h.offers().into_iter().map(|o| o.2).collect();
    assert_eq!(o, ["senior1", "senior2", "junior"]);
}

#[test]
fn relaxing_rules_widen_the_pool_over_time() {
    let mut cfg = QueueConfig {
        strategy: Strategy::Skills,
        ..q("sales")
    };
    cfg.relax = vec![
        RelaxStep {
            after_s: 0,
            min_level: 7,
        },
        RelaxStep {
            after_s: 30,
            min_level: 3,
        },
        RelaxStep {
            after_s: 60,
            min_level: 0,
        },
    ];
    let mut h = H::new(vec![cfg]);
    h.agent("l5", &["sales:5"]);
    h.agent("l1", &["sales:1"]);
    h.enter(1, "sales");
    h.enter(2, "sales");
    assert!(h.offers().is_empty(), "nobody at level ≥ 7");
    h.advance(29_999);
    assert!(h.offers().is_empty());
    h.advance(1);
    let o = h.offers();
    assert_eq!(
        o.iter().map(|o| (o.1, o.2.as_str())).collect::<Vec<_>>(),
        [(CallId(1), "l5")],
        "30 s: ≥ 3; longest waiting first"
    );
    h.answer(o[0].0);
    h.advance(30_000);
    let o = h.offers();
    assert_eq!(
        o.iter().map(|o| (o.1, o.2.as_str())).collect::<Vec<_>>(),
        [(CallId(2), "l1")],
        "60 s: anyone"
    );
}

#[test]
fn an_agent_in_several_queues_gets_one_offer_and_the_longest_waiter() {
    let mut h = H::new(vec![q("sales"), q("support"), q("billing")]);
    h.agent("x", &["sales:5", "support:5", "billing:5"]);
    h.acd
        .handle_agent_break(h.now, &id("x"), crate::ids::ReasonCode::from("b"))
        .unwrap();
    h.enter(1, "support");
    h.advance(1_000);
    h.enter(2, "sales");
    h.advance(1_000);
    h.enter(3, "billing");
    h.acd.handle_agent_ready(h.now, &id("x")).unwrap();
    h.drain();
    let o = h.offers();
    assert_eq!(o.len(), 1, "one offer at a time");
    assert_eq!(o[0].1, CallId(1), "longest waiting across queues");
    h.answer(o[0].0);
    h.hangup(1);
    assert_eq!(h.one_offer().1, CallId(2));
}

#[test]
fn queue_weight_and_caller_priority_credit_wait_time() {
    let mut vip = q("vip");
    vip.weight_s = 120;
    let mut h = H::new(vec![q("sales"), vip]);
    h.agent("x", &["sales:5", "vip:5"]);
    h.acd
        .handle_agent_break(h.now, &id("x"), crate::ids::ReasonCode::from("b"))
        .unwrap();
    h.enter(1, "sales");
    h.advance(60_000);
    h.enter(2, "vip"); // waited 0 s + 120 s credit > 60 s
    h.advance(10_000);
    h.enter_with(3, "sales", "+31", 3); // priority 3 × 60 s credit = 180 s
    h.acd.handle_agent_ready(h.now, &id("x")).unwrap();
    h.drain();
    let mut order = Vec::new();
    for _ in 0..3 {
        let (offer, call, _) = h.one_offer();
        order.push(call.0);
        h.answer(offer);
        h.hangup(call.0);
    }
    assert_eq!(order, [3, 2, 1]);
}
