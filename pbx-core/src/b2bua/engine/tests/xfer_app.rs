//! Attended transfer into an application: Alice talks to Bob, holds him,
//! calls an IVR flow or a conference room, then transfers Bob into it
//! (REFER with `Replaces`): Bob takes Alice's place as the application's
//! caller.

use super::ivr::{http_result, ivr_world, EP_ANSWER};
use super::xfer::{reoffers, terminated};
use super::*;
use crate::b2bua::app::HttpOutcome;

/// Alice → Bob answered and held; Alice → `number` answered by pbx's
/// media. Returns (world, alice's call to bob, alice's call to the app, bob).
fn consulting_app(number: &str) -> (World, SessionId, SessionId, SessionId) {
    let (mut w, _) = ivr_world();
    let (to_bob, bob) = w.answered_call();
    w.alice_holds(to_bob);
    let held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(held))).unwrap();
    w.run();
    w.advance(Duration::from_secs(1));
    let to_app = w.call(number);
    let answered = w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == to_app));
    assert!(answered, "{number} answered alice with pbx's media");
    assert_eq!(w.engine.len(), 2);
    // Within the IVR flow's 2 s http timeout.
    w.advance(Duration::from_secs(1));
    w.event_kinds();
    (w, to_bob, to_app, bob)
}

/// Alice is released (NOTIFY 200, both dialogs ended), Bob is offered
/// pbx's media (his second re-INVITE) and answers; the bridged call is
/// recorded as transferred.
fn assert_bob_handed_over(w: &mut World, to_bob: SessionId, to_app: SessionId, bob: SessionId) {
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 200]);
    for s in [to_bob, to_app] {
        assert_eq!(
            terminated(&w.alice_events, s),
            Some(EndReason::RemoteHangup)
        );
    }
    assert_eq!(ended(&w.bob_events), None, "bob stays");
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2, "the hold, then pbx's media");
    assert_eq!(offers[1].as_ref().unwrap().data, EP_ANSWER.as_bytes());
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert_eq!(w.engine.len(), 1);
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1, "the bridged call ended");
    assert_eq!(records[0].callee, "bob");
    assert_eq!(records[0].hangup_cause, "call.transferred");
    let kinds = w.event_kinds();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, CallEventKind::Transferred { to } if to.contains("bob"))),
        "{kinds:?}"
    );
}

#[test]
fn attended_transfer_into_a_conference_room() {
    let (mut w, to_bob, to_app, bob) = consulting_app("700");
    w.alice.refer_replacing(w.now, to_bob, to_app).unwrap();
    w.run();
    assert_bob_handed_over(&mut w, to_bob, to_app, bob);
    assert_eq!(w.engine.live_calls(w.now)[0].app, "conference");
    // Bob is the room's caller now: his BYE ends the room's call.
    w.advance(Duration::from_secs(4));
    w.bob.hangup(w.now, bob).unwrap();
    w.run();
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    let room = &records[1];
    assert_eq!(room.callee, "700");
    assert_eq!(
        (room.disposition.as_str(), room.hangup_side.as_str()),
        ("ANSWERED", "caller")
    );
    let parties: Vec<&str> = room.legs.iter().map(|l| l.party.as_str()).collect();
    assert_eq!(parties, ["sip:alice@pbx.test", "sip:bob@10.0.0.3:5060"]);
    assert_eq!(room.billsec, 5);
}

/// The REFER may come on either dialog: here on the room's, replacing
/// the dialog with Bob.
#[test]
fn attended_transfer_into_a_room_referred_on_the_room_dialog() {
    let (mut w, to_bob, to_app, bob) = consulting_app("700");
    w.alice.refer_replacing(w.now, to_app, to_bob).unwrap();
    w.run();
    assert_bob_handed_over(&mut w, to_bob, to_app, bob);
    assert_eq!(w.engine.live_calls(w.now)[0].app, "conference");
}

/// The IVR flow goes on with Bob where Alice left it: its http node's
/// answer comes, the transfer node dials Carol and bridges her to Bob; her
/// BYE ends Bob's call.
#[test]
fn attended_transfer_into_an_ivr_flow() {
    let (mut w, to_bob, to_app, bob) = consulting_app("ivr");
    let job = w.engine.poll_job().expect("the flow's http node runs");
    w.alice.refer_replacing(w.now, to_bob, to_app).unwrap();
    w.run();
    assert_bob_handed_over(&mut w, to_bob, to_app, bob);
    assert_eq!(w.engine.live_calls(w.now)[0].app, "ivr");
    http_result(
        &mut w,
        &job,
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    );
    let carol = incoming_of(&w.carol_events).expect("the flow's transfer dials carol");
    // Carol is offered Bob's media, not Alice's (no relay here: as sent).
    let offer = w.carol_events.iter().find_map(|e| match e {
        UaEvent::IncomingCall { body, .. } => body.clone(),
        _ => None,
    });
    let offer = String::from_utf8_lossy(&offer.expect("an offer").data).into_owned();
    assert!(
        offer.contains("10.0.0.3") && offer.contains("a=sendrecv"),
        "{offer}"
    );
    w.carol
        .answer(w.now, carol, Some(Body::sdp(super::xfer::CAROL_ANSWER)))
        .unwrap();
    w.run();
    // (Media stays on the relay's caller side, where Bob now stands.)
    let kinds = w.event_kinds();
    assert!(
        kinds.iter().any(|k| matches!(
            k,
            CallEventKind::Bridged {
                a: LegId::CALLER,
                ..
            }
        )),
        "{kinds:?}"
    );
    w.carol.hangup(w.now, carol).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    assert!(w.engine.is_empty());
}

/// Two applications (Alice in an IVR flow and in a room): nobody to move,
/// NOTIFY 501, both calls go on.
#[test]
fn attended_transfer_between_two_applications_is_refused() {
    let (mut w, _) = ivr_world();
    let to_ivr = w.call("ivr");
    let to_room = w.call("700");
    assert_eq!(w.engine.len(), 2);
    w.alice.refer_replacing(w.now, to_ivr, to_room).unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 501]);
    assert_eq!(w.engine.len(), 2);
    assert_eq!(terminated(&w.alice_events, to_ivr), None);
    assert_eq!(terminated(&w.alice_events, to_room), None);
}
