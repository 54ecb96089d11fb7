//! Queue behaviour: abandon, overflow (max wait, full, empty, to another
//! queue), announcements and wait estimates, hold and transfer.

use super::*;
use crate::config::OverflowTarget;
use crate::events::OverflowReason;

fn overflows(acts: &[Action]) -> Vec<(CallId, OverflowReason, Option<OverflowTarget>)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Overflow {
                call,
                reason,
                target,
                ..
            } => Some((*call, *reason, target.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn abandon_reports_position_and_wait() {
    let mut h = H::new(vec![q("sales")]);
    h.enter(1, "sales");
    h.enter(2, "sales");
    h.enter(3, "sales");
    h.advance(40_000);
    h.hangup(2);
    let e = h
        .events
        .iter()
        .find(|e| e.kind.name() == "abandon")
        .unwrap();
    assert_eq!(
        e.kind,
        EventKind::Abandon {
            position: 2,
            wait_ms: 40_000
        }
    );
    assert_eq!(e.call, Some(CallId(2)));
    assert_eq!(h.acd.position_of(CallId(3)), Some(2), "positions close up");
    h.hangup(2); // twice: ignored
    assert_eq!(h.kinds().iter().filter(|k| **k == "abandon").count(), 1);
}

#[test]
fn max_wait_overflows_to_the_target_and_to_another_queue_inside_the_engine() {
    let mut a = q("a");
    a.limits.max_wait_s = Some(30);
    a.limits.overflow = Some(OverflowTarget::Queue(QueueId::from("b")));
    let mut b = QueueConfig {
        ring_timeout_s: 25,
        ..q("b")
    };
    b.limits.max_wait_s = Some(20);
    b.limits.overflow = Some("ivr:after-hours".parse().unwrap());
    let mut h = H::new(vec![a, b]);
    h.enter(1, "a");
    h.advance(30_000);
    assert!(
        overflows(&h.take()).is_empty(),
        "moved to b inside the engine"
    );
    assert_eq!(h.acd.queue_status(&QueueId::from("b")).unwrap().waiting, 1);
    h.agent("bo", &["b:5"]);
    let (offer, ..) = h.one_offer();
    h.advance(10_000);
    // Max wait in b passes while the offer rings: overflow only when it fails.
    h.advance(10_000);
    assert!(overflows(&h.actions).is_empty());
    h.acd
        .handle_offer_failed(h.now, offer, crate::events::OfferFailure::Rejected)
        .unwrap();
    h.drain();
    let o = overflows(&h.take());
    assert_eq!(
        o,
        [(
            CallId(1),
            OverflowReason::MaxWait,
            Some(OverflowTarget::Ivr("after-hours".into()))
        )]
    );
    let ov: Vec<_> = h
        .events
        .iter()
        .filter(|e| e.kind.name() == "overflow")
        .map(|e| (e.queue.clone().unwrap().to_string(), e.kind.clone()))
        .collect();
    assert_eq!(ov.len(), 2);
    assert_eq!(
        ov[0].1,
        EventKind::Overflow {
            reason: OverflowReason::MaxWait,
            target: Some(OverflowTarget::Queue("b".into())),
            wait_ms: 30_000
        }
    );
    assert_eq!(ov[1].0, "b");
    assert_eq!(h.acd.timer_count(), 1, "only the midnight timer is left");
}

#[test]
fn overflow_cycles_stop_after_the_hop_limit() {
    let mut a = q("a");
    a.limits.max_length = Some(1);
    a.limits.overflow = Some(OverflowTarget::Queue(QueueId::from("b")));
    let mut b = q("b");
    b.limits.max_length = Some(1);
    b.limits.overflow = Some(OverflowTarget::Queue(QueueId::from("a")));
    let mut h = H::new(vec![a, b]);
    h.enter(1, "a");
    h.enter(2, "b");
    h.enter(3, "a");
    let o = overflows(&h.take());
    assert_eq!(o, [(CallId(3), OverflowReason::Full, None)]);
    let hops = h
        .events
        .iter()
        .filter(|e| e.call == Some(CallId(3)) && e.kind.name() == "overflow")
        .count();
    assert_eq!(hops, usize::from(MAX_OVERFLOW_HOPS) + 1);
}

#[test]
fn full_and_join_empty_refuse_at_the_door() {
    let mut a = q("a");
    a.limits.max_length = Some(2);
    a.limits.overflow = Some("voicemail:a".parse().unwrap());
    let mut b = q("b");
    b.limits.join_empty = false;
    let mut h = H::new(vec![a, b]);
    h.enter(1, "a");
    h.enter(2, "a");
    h.enter(3, "a");
    h.enter(4, "b");
    let o = overflows(&h.take());
    assert_eq!(
        o,
        [
            (
                CallId(3),
                OverflowReason::Full,
                Some(OverflowTarget::Voicemail("a".into()))
            ),
            (CallId(4), OverflowReason::JoinEmpty, None)
        ]
    );
    assert!(
        !h.events
            .iter()
            .any(|e| e.call == Some(CallId(3)) && e.kind.name() == "enter"),
        "never entered: not offered"
    );
    h.agent("x", &["b:5"]);
    h.acd
        .handle_agent_break(h.now, &id("x"), crate::ids::ReasonCode::from("b"))
        .unwrap();
    h.enter(5, "b");
    assert!(
        overflows(&h.take()).is_empty(),
        "logged in (even on break) is not empty"
    );
}

#[test]
fn announcements_position_wait_and_periodic() {
    let mut cfg = q("sales");
    cfg.announce.position = true;
    cfg.announce.estimated_wait = true;
    cfg.announce.frequency_s = 60;
    cfg.announce.periodic_prompt = Some("we-value-your-call".into());
    cfg.announce.periodic_s = 45;
    cfg.ewt.default_handle_s = 120;
    let mut h = H::new(vec![cfg]);
    h.agent("a", &["sales:5"]);
    h.agent("b", &["sales:5"]);
    h.enter(1, "sales");
    h.enter(2, "sales");
    for (offer, ..) in h.offers() {
        h.answer(offer);
    }
    let _ = h.take();
    h.enter(3, "sales");
    h.enter(4, "sales");
    let anns: Vec<(CallId, Announcement)> = h
        .take()
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce {
                call, announcement, ..
            } => Some((call, announcement)),
            _ => None,
        })
        .collect();
    // 2 staffed, both busy, 120 s handle: position 1 → 60 s, position 2 → 120 s.
    assert_eq!(
        anns,
        [
            (CallId(3), Announcement::Position(1)),
            (CallId(3), Announcement::EstimatedWait { seconds: 60 }),
            (CallId(4), Announcement::Position(2)),
            (CallId(4), Announcement::EstimatedWait { seconds: 120 }),
        ]
    );
    assert_eq!(h.acd.estimated_wait_ms(CallId(4)), Some(120_000));
    h.advance(45_000);
    let p: Vec<_> = h
        .take()
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::Announce {
                    announcement: Announcement::Periodic { .. },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(p.len(), 2);
    h.hangup(3);
    h.advance(15_000);
    let anns: Vec<_> = h
        .take()
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce {
                call,
                announcement: Announcement::Position(p),
                ..
            } => Some((call, p)),
            _ => None,
        })
        .collect();
    assert_eq!(anns, [(CallId(4), 1)], "at 60 s only 4 is left, now first");
}

#[test]
fn ewt_follows_the_rolling_handle_time() {
    let mut h = H::new(vec![QueueConfig {
        wrap_up_s: 20,
        ..q("sales")
    }]);
    h.agent("a", &["sales:5"]);
    for c in 0..3 {
        h.enter(c, "sales");
        let (offer, ..) = h.one_offer();
        h.answer(offer);
        h.advance(100_000);
        h.hangup(c);
        h.advance(20_000);
    }
    let s = h.acd.queue_status(&QueueId::from("sales")).unwrap();
    assert_eq!(s.mean_handle_ms, 120_000, "talk 100 s + wrap-up 20 s");
    h.enter(10, "sales");
    let (offer, ..) = h.one_offer();
    h.answer(offer);
    h.enter(11, "sales");
    h.enter(12, "sales");
    assert_eq!(h.acd.estimated_wait_ms(CallId(12)), Some(240_000));
}

#[test]
fn hold_and_transfer_are_measured() {
    let mut h = H::new(vec![QueueConfig {
        wrap_up_s: 5,
        ..q("sales")
    }]);
    h.agent("a", &["sales:5"]);
    h.enter(1, "sales");
    let (offer, ..) = h.one_offer();
    h.advance(3_000);
    h.answer(offer);
    h.advance(10_000);
    h.acd.handle_hold(h.now, CallId(1), true).unwrap();
    h.advance(7_000);
    h.acd.handle_hold(h.now, CallId(1), false).unwrap();
    h.advance(3_000);
    h.hangup(1);
    let k: Vec<_> = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Connect { .. } | EventKind::Complete { .. }
            )
        })
        .map(|e| e.kind.clone())
        .collect();
    assert!(matches!(
        k[0],
        EventKind::Connect {
            wait_ms: 3_000,
            ring_ms: 3_000,
            ..
        }
    ));
    assert_eq!(
        k[1],
        EventKind::Complete {
            talk_ms: 20_000,
            hold_ms: 7_000
        }
    );
    h.advance(5_000);
    h.enter(2, "sales");
    let (offer, ..) = h.one_offer();
    h.answer(offer);
    h.advance(4_000);
    h.acd.handle_transfer(h.now, CallId(2), "1002").unwrap();
    h.drain();
    assert_eq!(
        h.events
            .iter()
            .rev()
            .find(|e| e.kind.name() == "transfer")
            .unwrap()
            .kind,
        EventKind::Transfer {
            target: "1002".into(),
            talk_ms: 4_000
        }
    );
    assert_eq!(h.state("a"), AgentState::WrapUp);
    assert!(matches!(
        h.acd.handle_transfer(h.now, CallId(2), "x"),
        Err(Error::UnknownCall(_))
    ));
}

#[test]
fn unknown_queue_and_duplicate_call_are_errors() {
    let mut h = H::new(vec![q("sales")]);
    let info = |queue: &str| CallerInfo {
        call: CallId(1),
        queue: QueueId::from(queue),
        number: "1".into(),
        service_number: None,
        priority: 0,
    };
    assert!(matches!(
        h.acd.handle_caller_enter(h.now, info("nope")),
        Err(Error::UnknownQueue(_))
    ));
    h.acd.handle_caller_enter(h.now, info("sales")).unwrap();
    assert!(matches!(
        h.acd.handle_caller_enter(h.now, info("sales")),
        Err(Error::DuplicateCall(_))
    ));
}
