//! Callbacks that keep their place: agent first, then customer; retries;
//! persistence across a restart.

use super::*;
use crate::callback::CallbackRequest;
use crate::config::OverflowTarget;
use crate::ids::CallbackId;

fn cb_queue() -> QueueConfig {
    let mut c = q("sales");
    c.callback.enabled = true;
    c.callback.key = '*';
    c.callback.max_attempts = 2;
    c.callback.retry_interval_s = 120;
    c
}

fn press(h: &mut H, call: u64, key: char) -> Option<CallbackId> {
    h.acd.handle_dtmf(h.now, CallId(call), key);
    h.drain();
    h.take().into_iter().find_map(|a| match a {
        Action::CallbackAccepted { callback, .. } => Some(callback),
        _ => None,
    })
}

#[test]
fn a_callback_keeps_its_place_and_calls_the_agent_first() {
    let mut h = H::new(vec![cb_queue()]);
    h.enter(1, "sales");
    h.advance(1_000);
    h.enter(2, "sales");
    h.advance(1_000);
    assert_eq!(press(&mut h, 2, '1'), None, "not the callback key");
    let cb = press(&mut h, 1, '*').expect("accepted");
    h.hangup(1); // the driver hangs the caller up after the confirmation
    assert!(!h.kinds().contains(&"abandon"));
    assert_eq!(
        h.acd.position_of(CallId(2)),
        Some(2),
        "the callback still holds place 1"
    );
    h.agent("a", &["sales:5"]);
    let acts = h.take();
    let (offer, agent) = acts
        .iter()
        .find_map(|a| match a {
            Action::CallbackCallAgent {
                offer,
                callback,
                agent,
                number,
                ..
            } if *callback == cb => {
                assert_eq!(number, "+31200000001");
                Some((*offer, agent.clone()))
            }
            _ => None,
        })
        .expect("the callback goes first");
    assert_eq!(agent.as_str(), "a");
    h.answer(offer);
    let dial = h.take().into_iter().find_map(|a| match a {
        Action::CallbackCallCustomer {
            callback, number, ..
        } => Some((callback, number)),
        _ => None,
    });
    assert_eq!(
        dial,
        Some((cb, "+31200000001".to_string())),
        "then the customer"
    );
    h.advance(8_000);
    h.acd
        .handle_callback_answered(h.now, cb, CallId(500))
        .unwrap();
    h.drain();
    let connected = h
        .events
        .iter()
        .find(|e| e.kind.name() == "callback_connected")
        .unwrap();
    assert_eq!(connected.call, Some(CallId(1)));
    assert_eq!(
        connected.kind,
        EventKind::CallbackConnected {
            callback: cb,
            callback_call: CallId(500),
            wait_ms: 10_000,
            attempt: 1
        }
    );
    assert_eq!(h.acd.callbacks(), Vec::<CallbackRequest>::new());
    h.advance(60_000);
    h.hangup(500);
    assert!(
        h.kinds().ends_with(&["complete", "offer"]),
        "{:?}",
        h.kinds()
    );
    assert_eq!(h.one_offer().1, CallId(2), "the next caller comes after");
}

#[test]
fn failed_customer_attempts_retry_in_place_then_give_up() {
    let mut h = H::new(vec![cb_queue()]);
    h.agent("a", &["sales:5"]);
    h.acd
        .handle_agent_break(h.now, &id("a"), crate::ids::ReasonCode::from("b"))
        .unwrap();
    h.enter(1, "sales");
    let cb = press(&mut h, 1, '*').unwrap();
    h.advance(1_000);
    h.enter(2, "sales");
    h.acd.handle_agent_ready(h.now, &id("a")).unwrap();
    h.drain();
    let offer = h
        .take()
        .into_iter()
        .find_map(|a| match a {
            Action::CallbackCallAgent { offer, .. } => Some(offer),
            _ => None,
        })
        .unwrap();
    h.answer(offer);
    h.acd.handle_callback_failed(h.now, cb).unwrap();
    h.drain();
    // The agent is released and serves the next caller meanwhile.
    assert_eq!(h.one_offer().1, CallId(2));
    assert!(h.events.iter().any(|e| e.kind
        == EventKind::CallbackFailed {
            callback: cb,
            attempt: 1,
            gave_up: false
        }));
    assert_eq!(h.acd.callbacks()[0].attempts, 1);
    h.hangup(2);
    let (k, off) = h
        .acd
        .offers
        .iter()
        .next()
        .map(|(k, o)| (*k, o.entry))
        .unwrap_or((OfferId(0), 0));
    assert_eq!(
        (k, off),
        (OfferId(0), 0),
        "waiting out the retry interval: no offer"
    );
    h.advance(120_000);
    let acts = h.take();
    let offer = acts
        .iter()
        .find_map(|a| match a {
            Action::CallbackCallAgent { offer, .. } => Some(*offer),
            _ => None,
        })
        .expect("retry");
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::CallbackPlaced { attempt: 2, .. })));
    h.answer(offer);
    h.acd.handle_callback_failed(h.now, cb).unwrap();
    h.drain();
    assert!(h.events.iter().any(|e| e.kind
        == EventKind::CallbackFailed {
            callback: cb,
            attempt: 2,
            gave_up: true
        }));
    assert!(h.acd.callbacks().is_empty());
    assert_eq!(h.state("a"), AgentState::Available);
    assert!(matches!(
        h.acd.handle_callback_failed(h.now, cb),
        Err(Error::UnknownCallback(_))
    ));
}

#[test]
fn callbacks_survive_a_restart_in_their_place() {
    let mut h = H::new(vec![cb_queue()]);
    h.enter(1, "sales");
    h.advance(5_000);
    h.enter(2, "sales");
    let cb = press(&mut h, 2, '*').unwrap();
    h.advance(5_000);
    h.enter(3, "sales");
    let cb3 = press(&mut h, 3, '*').unwrap();
    let json = serde_json::to_string(&h.acd.callbacks()).unwrap();

    // A new process: a later monotonic origin, wall time moved on by 60 s.
    let mut h2 = H::new(vec![cb_queue()]);
    h2.now = Now::new(50, h.now.unix_ms + 60_000);
    let restored: Vec<CallbackRequest> = serde_json::from_str(&json).unwrap();
    assert!(h2.acd.restore_callbacks(h2.now, restored).is_empty());
    h2.enter(9, "sales");
    assert_eq!(
        h2.acd.position_of(CallId(9)),
        Some(3),
        "both callbacks kept their places ahead"
    );
    h2.agent("a", &["sales:5"]);
    let first = h2.take().into_iter().find_map(|a| match a {
        Action::CallbackCallAgent { callback, .. } => Some(callback),
        _ => None,
    });
    assert_eq!(first, Some(cb));
    assert!(cb3 > cb);
    let mut h3 = H::new(vec![q("other")]);
    let back: Vec<CallbackRequest> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        h3.acd.restore_callbacks(h3.now, back).len(),
        2,
        "unknown queue: handed back"
    );
    h3.drain();
}

#[test]
fn max_wait_with_callback_offer_keeps_the_caller_and_offers_the_key() {
    let mut c = cb_queue();
    c.limits.max_wait_s = Some(60);
    c.limits.overflow = Some(OverflowTarget::CallbackOffer);
    let mut h = H::new(vec![c]);
    h.enter(1, "sales");
    h.advance(60_000);
    let acts = h.take();
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Announce {
            announcement: Announcement::CallbackOffer { key: '*' },
            ..
        }
    )));
    assert!(!acts.iter().any(|a| matches!(a, Action::Overflow { .. })));
    assert_eq!(h.acd.position_of(CallId(1)), Some(1));
    assert!(press(&mut h, 1, '*').is_some());
}
