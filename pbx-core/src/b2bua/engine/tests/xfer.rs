//! Attended transfer across two calls (RFC 5589 §7) and consultation:
//! Alice talks to Bob, holds him, calls Carol, then either REFERs Bob's
//! call to Carol's dialog with `Replaces` or returns to Bob.

use super::*;

pub(super) const CAROL_ANSWER: &str = "v=0\r\no=- 3 3 IN IP4 10.0.0.4\r\ns=-\r\nc=IN IP4 10.0.0.4\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";

pub(super) fn reoffers(events: &[UaEvent]) -> Vec<Option<Body>> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Reoffer { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn terminated(events: &[UaEvent], session: SessionId) -> Option<EndReason> {
    events.iter().find_map(|e| match e {
        UaEvent::Terminated { session: s, reason } if *s == session => Some(reason.clone()),
        _ => None,
    })
}

/// Alice → Bob answered and held by Alice, Alice → Carol answered.
/// Returns (world, alice's call to bob, alice's call to carol, bob, carol).
fn consulting() -> (World, SessionId, SessionId, SessionId, SessionId) {
    consulting_in(World::new())
}

/// [`consulting`] in a prepared world.
pub(super) fn consulting_in(mut w: World) -> (World, SessionId, SessionId, SessionId, SessionId) {
    let (to_bob, bob) = w.answered_call();
    w.alice_holds(to_bob);
    let held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(held))).unwrap();
    w.run();
    w.advance(Duration::from_secs(1));
    let to_carol = w.call("carol");
    let carol = carol_incoming(&w);
    w.carol
        .answer(w.now, carol, Some(Body::sdp(CAROL_ANSWER)))
        .unwrap();
    w.run();
    assert_eq!(w.engine.len(), 2);
    w.advance(Duration::from_secs(5));
    (w, to_bob, to_carol, bob, carol)
}

#[test]
fn attended_transfer_joins_the_held_party_and_the_target() {
    let (mut w, to_bob, to_carol, bob, carol) = consulting();
    w.event_kinds();
    w.alice.refer_replacing(w.now, to_bob, to_carol).unwrap();
    w.run();
    // Alice: 202, 100 Trying, then 200 (sipfrag); both her dialogs end.
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 200]);
    assert_eq!(
        terminated(&w.alice_events, to_bob),
        Some(EndReason::RemoteHangup)
    );
    assert_eq!(
        terminated(&w.alice_events, to_carol),
        Some(EndReason::RemoteHangup)
    );
    assert_eq!(ended(&w.bob_events), None, "bob stays");
    assert_eq!(ended(&w.carol_events), None, "carol stays");
    // Carol is offered Bob's media, sendrecv (off hold).
    let to_carol_offer = reoffers(&w.carol_events);
    assert_eq!(to_carol_offer.len(), 1);
    let offer = to_carol_offer[0].clone().unwrap();
    let text = String::from_utf8_lossy(&offer.data).into_owned();
    assert!(
        text.contains("10.0.0.3") && text.contains("a=sendrecv"),
        "{text}"
    );
    assert!(reoffers(&w.bob_events).len() == 1, "bob not re-invited yet");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(CAROL_ANSWER)))
        .unwrap();
    w.run();
    // ... then Bob gets Carol's media (his second re-offer), and answers.
    let to_bob_offers = reoffers(&w.bob_events);
    assert_eq!(to_bob_offers.len(), 2);
    let offer = to_bob_offers[1].clone().unwrap();
    assert_eq!(offer.data, CAROL_ANSWER.as_bytes());
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    // The consultation call is over and recorded as transferred.
    assert_eq!(w.engine.len(), 1);
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1);
    let consult = &records[0];
    assert_eq!(consult.callee, "carol");
    assert_eq!(consult.disposition, "ANSWERED");
    assert_eq!(
        (consult.hangup_cause.as_str(), consult.hangup_side.as_str()),
        ("call.transferred", "caller")
    );
    assert_eq!(consult.legs.len(), 2);
    let kinds = w.event_kinds();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, CallEventKind::Transferred { to } if to.contains("carol"))),
        "{kinds:?}"
    );
    assert!(kinds.contains(&CallEventKind::Resumed {
        by: crate::b2bua::Side::Caller
    }));
    // Bob and Carol talk; a re-INVITE from Carol reaches Bob.
    let hold = CAROL_ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    w.carol
        .reinvite(w.now, carol, Some(Body::sdp(hold.clone())))
        .unwrap();
    w.run();
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 3);
    assert_eq!(
        offers[2].as_ref().map(|b| b.data.clone()),
        Some(hold.into())
    );
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    // Carol hangs up: Bob is hung up and call 1 recorded with three legs.
    w.advance(Duration::from_secs(10));
    w.carol.hangup(w.now, carol).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 2);
    let main = &records[1];
    assert_eq!(
        (main.caller.as_str(), main.callee.as_str()),
        ("alice", "bob")
    );
    assert_eq!(main.hangup_cause, "call.normal");
    assert_eq!(main.legs.len(), 3);
    assert_eq!(
        main.legs[2].sip_call_id, consult.legs[1].sip_call_id,
        "carol's leg moved from call 2 to call 1"
    );
}

#[test]
fn attended_transfer_to_an_unknown_dialog_is_refused() {
    let (mut w, to_bob, to_carol, _bob, carol) = consulting();
    // Carol hangs up before Alice transfers: the dialog is gone.
    w.carol.hangup(w.now, carol).unwrap();
    w.run();
    assert_eq!(
        terminated(&w.alice_events, to_carol),
        Some(EndReason::RemoteHangup)
    );
    // A Refer-To naming a dialog pbx does not have.
    let mut target = Uri::parse("sip:pbx@10.0.0.1:5060").unwrap();
    target.headers = vec![("Replaces".into(), "nope%3Bto-tag%3Da%3Bfrom-tag%3Db".into())];
    w.alice.refer(w.now, to_bob, &target).unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 481]);
    assert_eq!(terminated(&w.alice_events, to_bob), None, "the call stays");
    assert_eq!(w.engine.len(), 1);
}

#[test]
fn consultation_returns_to_the_held_party() {
    let (mut w, to_bob, to_carol, bob, _carol) = consulting();
    w.alice.hangup(w.now, to_carol).unwrap();
    w.run();
    assert_eq!(w.engine.len(), 1);
    // Alice resumes Bob: the sendrecv offer reaches Bob, his answer her.
    w.alice
        .reinvite(w.now, to_bob, Some(Body::sdp(OFFER)))
        .unwrap();
    w.run();
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2);
    assert!(!crate::b2bua::sdp::is_hold(
        &offers[1].as_ref().unwrap().data
    ));
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert!(w.event_kinds().contains(&CallEventKind::Resumed {
        by: crate::b2bua::Side::Caller
    }));
    let updated = w
        .alice_events
        .iter()
        .filter(|e| matches!(e, UaEvent::Updated { session, .. } if *session == to_bob))
        .count();
    assert_eq!(updated, 2, "hold and resume answered");
    assert_eq!(ended(&w.bob_events), None);
}

#[test]
fn attended_transfer_the_other_way_moves_the_held_party() {
    // Alice REFERs Carol (the consultation call) to Bob's dialog: Bob's leg
    // moves into Carol's call and Bob's call ends as transferred.
    let (mut w, to_bob, to_carol, bob, carol) = consulting();
    w.alice.refer_replacing(w.now, to_carol, to_bob).unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 200]);
    assert!(terminated(&w.alice_events, to_bob).is_some());
    assert!(terminated(&w.alice_events, to_carol).is_some());
    // Bob (moved) is offered Carol's media, sendrecv.
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2, "hold, then the join");
    let text = String::from_utf8_lossy(&offers[1].as_ref().unwrap().data).into_owned();
    assert!(
        text.contains("10.0.0.4") && text.contains("a=sendrecv"),
        "{text}"
    );
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    let offers = reoffers(&w.carol_events);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].as_ref().unwrap().data, ANSWER.as_bytes());
    w.carol
        .answer(w.now, carol, Some(Body::sdp(CAROL_ANSWER)))
        .unwrap();
    w.run();
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].callee.as_str(), records[0].hangup_cause.as_str()),
        ("bob", "call.transferred")
    );
    // Bob hangs up: Carol is hung up, the consultation call is recorded.
    w.bob.hangup(w.now, bob).unwrap();
    w.run();
    assert_eq!(ended(&w.carol_events), Some(EndReason::RemoteHangup));
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records[1].callee, "carol");
    assert_eq!(records[1].legs.len(), 3);
}
