//! Commands from outside SIP: an administrator's hangup of one call, the
//! shutdown's hangup of all, and the events they leave.

use super::*;
use crate::b2bua::{Command, CommandError};

impl World {
    fn command(&mut self, command: Command) -> Result<usize, CommandError> {
        let mut out = Vec::new();
        let r = self.engine.handle_command(
            self.now,
            command,
            services(&self.router, &self.anchor, &self.eps),
            &mut out,
        );
        self.deliver_from_pbx(out);
        self.run();
        r
    }
}

#[test]
fn admin_hangup_ends_an_answered_call_on_both_sides_and_says_so_in_the_record() {
    let mut w = World::new();
    w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    w.advance(Duration::from_secs(5));
    assert_eq!(w.command(Command::Hangup(id)), Ok(1));
    assert!(w.engine.is_empty());
    assert_eq!(ended(&w.alice_events), Some(EndReason::RemoteHangup));
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.disposition, "ANSWERED");
    assert_eq!(
        (r.hangup_cause.as_str(), r.hangup_side.as_str()),
        ("admin.hangup", "pbx")
    );
    assert_eq!(r.billsec, 5);
    let kinds = w.event_kinds();
    assert!(
        matches!(
            kinds.last(),
            Some(CallEventKind::Ended {
                cause: HangupCause::Administrative,
                ..
            })
        ),
        "{kinds:?}"
    );
    assert_eq!(
        w.command(Command::Hangup(id)),
        Err(CommandError::NoSuchCall(id)),
        "the call is gone"
    );
}

#[test]
fn hangup_all_rejects_ringing_callers_and_ends_answered_calls() {
    let mut w = World::new();
    w.answered_call();
    // A second call from Alice that rings at Bob, unanswered.
    let ringing = w.call("bob");
    assert_eq!(w.engine.len(), 2);
    assert_eq!(w.command(Command::HangupAll), Ok(2));
    assert!(w.engine.is_empty());
    let mut records = w.sink.records.lock().clone();
    records.sort_by_key(|r| r.answer_ms.is_none());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].hangup_cause, "pbx.shutdown");
    assert_eq!(records[0].disposition, "ANSWERED");
    assert_eq!(records[1].hangup_cause, "pbx.shutdown");
    assert_eq!(
        records[1].legs[0].status, 503,
        "the ringing caller gets 503"
    );
    let caller_end = w.alice_events.iter().find_map(|e| match e {
        UaEvent::Terminated { session, reason } if *session == ringing => Some(reason.clone()),
        _ => None,
    });
    assert!(
        matches!(caller_end, Some(EndReason::Rejected(StatusCode(503)))),
        "{caller_end:?}"
    );
    assert_eq!(w.command(Command::HangupAll), Ok(0), "nothing left");
}

#[test]
fn call_ids_read_back_from_their_printed_form() {
    let id = crate::b2bua::CallId(0x0123_4567_89ab_cdef);
    assert_eq!(crate::b2bua::CallId::parse(&id.to_string()), Some(id));
    for bad in [
        "",
        "c",
        "0123456789abcdef",
        "c0123",
        "c0123456789abcdeg",
        "c0123456789abcdef0",
    ] {
        assert_eq!(crate::b2bua::CallId::parse(bad), None, "{bad}");
    }
}

#[test]
fn api_hold_plays_music_to_the_caller_and_unhold_brings_it_back() {
    use super::moh::with_music;
    use super::xfer::reoffers;
    let (mut w, music) = with_music();
    let (call, _bob) = w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    w.event_kinds();
    assert!(matches!(
        w.command(Command::Unhold(id)),
        Err(CommandError::Refused(..))
    ));
    assert_eq!(w.command(Command::Hold(id)), Ok(1));
    // The caller (Alice) is re-INVITEd to the music; Bob's phone is asked nothing.
    let offers = reoffers(&w.alice_events);
    assert_eq!(offers.len(), 1);
    assert!(String::from_utf8_lossy(&offers[0].as_ref().unwrap().data).contains("a=sendonly"));
    assert!(reoffers(&w.bob_events).is_empty());
    assert!(
        matches!(w.command(Command::Hold(id)), Err(CommandError::Refused(..))),
        "already held"
    );
    let alice_held = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.alice
        .answer(w.now, call, Some(Body::sdp(alice_held)))
        .unwrap();
    w.run();
    assert_eq!(
        music.log()[2],
        "play 1 [\"moh.wav\"] true",
        "{:?}",
        music.log()
    );
    assert!(w.event_kinds().contains(&CallEventKind::Held {
        by: crate::b2bua::Side::Callee
    }));
    assert!(
        matches!(
            w.command(Command::Transfer(id, "carol".into())),
            Err(CommandError::Refused(..))
        ),
        "no transfer while held"
    );
    w.advance(Duration::from_secs(4));
    assert_eq!(w.command(Command::Unhold(id)), Ok(1));
    assert_eq!(music.log().last().map(String::as_str), Some("close 1"));
    // Back to the relay: Alice gets Bob's media description again.
    let offers = reoffers(&w.alice_events);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].as_ref().unwrap().data, ANSWER.as_bytes());
    w.alice.answer(w.now, call, Some(Body::sdp(OFFER))).unwrap();
    w.run();
    assert!(w.event_kinds().contains(&CallEventKind::Resumed {
        by: crate::b2bua::Side::Callee
    }));
    assert_eq!(ended(&w.alice_events), None);
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.hold_s, 4);
}

#[test]
fn api_hold_needs_music_on_hold_and_an_answered_call() {
    let mut w = World::new();
    w.call("bob");
    w.bob_incoming();
    let id = w.engine.live_calls(w.now)[0].id;
    assert!(
        matches!(w.command(Command::Hold(id)), Err(CommandError::Refused(..))),
        "ringing"
    );
    let mut w = World::new();
    w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    let Err(CommandError::Refused(_, why)) = w.command(Command::Hold(id)) else {
        panic!("no music on hold configured")
    };
    assert!(why.contains("music_on_hold"), "{why}");
}

#[test]
fn api_transfer_moves_the_caller_to_the_target_without_notifying_the_agent() {
    let mut w = World::new();
    let (call, _bob) = w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    assert_eq!(w.command(Command::Transfer(id, "carol".into())), Ok(1));
    assert!(w
        .event_kinds()
        .contains(&CallEventKind::Transferred { to: "carol".into() }));
    let carol = incoming_of(&w.carol_events).expect("carol is called");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert_eq!(
        transfer_statuses(&w.bob_events),
        Vec::<u16>::new(),
        "no REFER, no NOTIFY"
    );
    assert_eq!(
        ended(&w.bob_events),
        Some(EndReason::RemoteHangup),
        "the agent leaves"
    );
    assert_eq!(ended(&w.alice_events), None, "the caller stays");
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.carol_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.legs.len(), 3);
    assert!(matches!(
        w.command(Command::Transfer(id, "carol".into())),
        Err(CommandError::NoSuchCall(_))
    ));
}

#[test]
fn api_unhold_leaves_a_phones_hold_to_the_phone() {
    let (mut w, _music) = super::moh::with_music();
    let (call, bob) = w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    w.alice_holds(call);
    let bob_held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(bob_held))).unwrap();
    w.run();
    let Err(CommandError::Refused(_, why)) = w.command(Command::Unhold(id)) else {
        panic!("the phone's hold is the phone's to end")
    };
    assert!(why.contains("phone"), "{why}");
    assert!(matches!(
        w.command(Command::Hold(id)),
        Err(CommandError::Refused(..))
    ));
}
