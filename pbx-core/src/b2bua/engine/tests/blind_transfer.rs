//! Blind transfer (REFER, RFC 3515) through the engine: the caller reaches
//! the target, failures after the transferor left, refusals and timeouts.

use super::*;

#[test]
fn blind_transfer_connects_the_caller_to_the_target() {
    let (mut w, call) = transferred_call(false);
    assert_eq!(transfer_statuses(&w.bob_events), vec![202, 100]);
    let carol = incoming_of(&w.carol_events).expect("carol is called");
    if let Some(UaEvent::IncomingCall { from, to, .. }) = w.carol_events.first() {
        assert_eq!(
            from.uri.user.as_deref(),
            Some("alice"),
            "carol sees the caller"
        );
        assert_eq!(to.uri.user.as_deref(), Some("carol"));
    }
    w.advance(Duration::from_secs(1));
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.bob_events), vec![202, 100, 200]);
    assert_eq!(
        ended(&w.bob_events),
        Some(EndReason::RemoteHangup),
        "bob is released"
    );
    assert_eq!(ended(&w.alice_events), None, "alice stays in the call");
    w.advance(Duration::from_secs(5));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.carol_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("ANSWERED", "caller")
    );
    assert_eq!(r.legs.len(), 3);
    assert_eq!(r.legs[2].party, "sip:carol@10.0.0.4:5060");
    assert_eq!(r.billsec, 6);
    assert!(w
        .event_kinds()
        .contains(&CallEventKind::Transferred { to: "carol".into() }));
}

#[test]
fn failed_transfer_after_the_transferor_left_ends_the_call() {
    let (mut w, _) = transferred_call(true);
    assert_eq!(ended(&w.alice_events), None, "alice waits for the transfer");
    let carol = incoming_of(&w.carol_events).expect("carol is called");
    w.carol.reject(w.now, carol, StatusCode::BUSY_HERE).unwrap();
    w.run();
    assert_eq!(ended(&w.alice_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("ANSWERED", "callee")
    );
    assert!(w.engine.is_empty());
}

#[test]
fn transfer_asked_by_the_caller_is_refused() {
    let mut w = World::new();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    w.alice
        .refer(w.now, call, &Uri::parse("sip:carol@pbx.test").unwrap())
        .unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 501]);
    assert!(incoming_of(&w.carol_events).is_none());
}

#[test]
fn unanswered_transfer_target_times_out() {
    let (mut w, _) = transferred_call(false);
    assert!(incoming_of(&w.carol_events).is_some());
    w.advance(Duration::from_secs(31));
    assert_eq!(ended(&w.carol_events), Some(EndReason::RemoteCancelled));
    assert_eq!(transfer_statuses(&w.bob_events), vec![202, 100, 408]);
    assert_eq!(ended(&w.alice_events), None, "alice stays with bob");
    assert_eq!(w.engine.len(), 1);
}
