//! Music on hold in virtual time: a fake endpoint service that offers and
//! logs; the holder is answered by pbx, the held party re-INVITEd to the
//! endpoint and back to the relay on resume.

use std::path::PathBuf;
use std::sync::Mutex;

use ::media::endpoint::{EndpointError, EndpointId};
use ::media::mixer::{Role, RoomId};

use super::xfer::{consulting_in, reoffers, CAROL_ANSWER};
use super::*;
use crate::b2bua::media::{MediaEndpoints, RoomOp};

const EP_OFFER: &str = "v=0\r\no=- 9 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";

/// Offers music and logs what it is asked.
#[derive(Clone, Default)]
pub(super) struct Music(Arc<Mutex<Vec<String>>>);

impl Music {
    pub(super) fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn note(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
}

impl MediaEndpoints for Music {
    fn open(&self, _offer: &str) -> Result<(EndpointId, String), EndpointError> {
        Err(EndpointError::Stopped)
    }
    fn update(&self, id: EndpointId, _offer: &str) -> Result<String, EndpointError> {
        Err(EndpointError::Unknown(id))
    }
    fn open_offer(
        &self,
        direction: ::media::sdp::Direction,
    ) -> Result<(EndpointId, String), EndpointError> {
        self.note(format!("offer {direction:?}"));
        Ok((EndpointId(1), EP_OFFER.into()))
    }
    fn set_answer(&self, id: EndpointId, answer: &str) -> Result<(), EndpointError> {
        let port = answer.contains("m=audio 5000");
        self.note(format!("answer {} {port}", id.0));
        Ok(())
    }
    fn close(&self, id: EndpointId) {
        self.note(format!("close {}", id.0));
    }
    fn play(
        &self,
        id: EndpointId,
        play: u64,
        prompts: &[PathBuf],
        repeat: bool,
    ) -> Result<(), EndpointError> {
        let _ = play;
        self.note(format!("play {} {:?} {repeat}", id.0, prompts));
        Ok(())
    }
    fn stop_play(&self, _id: EndpointId, _play: u64) {}
    fn record(
        &self,
        _id: EndpointId,
        _name: &str,
        _beep: bool,
        _max: Duration,
    ) -> Result<PathBuf, EndpointError> {
        Err(EndpointError::Stopped)
    }
    fn stop_recording(&self, _id: EndpointId) {}
    fn join(&self, _id: EndpointId, _room: &str, _role: Role, _display: &str) -> RoomId {
        RoomId(0)
    }
    fn room_op(&self, _id: EndpointId, _op: RoomOp) {}
}

pub(super) fn with_music() -> (World, Music) {
    let mut w = World::new();
    let music = Music::default();
    w.eps = Some(Box::new(music.clone()));
    w.engine.config.music_on_hold = Some(PathBuf::from("moh.wav"));
    (w, music)
}

fn updated(events: &[UaEvent], session: SessionId) -> Vec<Option<Body>> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Updated { session: s, body } if *s == session => Some(body.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn held_party_hears_music_until_the_holder_resumes() {
    let (mut w, music) = with_music();
    let (call, bob) = w.answered_call();
    w.event_kinds();
    w.alice_holds(call);
    // pbx answers the holder itself, recvonly, with Bob's codec.
    let answers = updated(&w.alice_events, call);
    assert_eq!(answers.len(), 1);
    let text = String::from_utf8_lossy(&answers[0].as_ref().unwrap().data).into_owned();
    assert!(
        text.contains("a=recvonly") && text.contains("RTP/AVP 0"),
        "{text}"
    );
    // Bob is re-INVITEd to the endpoint's sendonly offer.
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].as_ref().unwrap().data, EP_OFFER.as_bytes());
    assert_eq!(music.log(), vec!["offer SendOnly"]);
    let bob_held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(bob_held))).unwrap();
    w.run();
    assert_eq!(
        music.log(),
        vec![
            "offer SendOnly",
            "answer 1 true",
            "play 1 [\"moh.wav\"] true"
        ]
    );
    assert!(w.event_kinds().contains(&CallEventKind::Held {
        by: crate::b2bua::Side::Caller
    }));
    // A repeated hold (refresh) is answered the same way, Bob untouched.
    let hold2 = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(hold2)))
        .unwrap();
    w.run();
    assert_eq!(updated(&w.alice_events, call).len(), 2);
    assert_eq!(reoffers(&w.bob_events).len(), 1);
    // Resume: the music stops, Bob gets Alice's offer through the relay.
    w.advance(Duration::from_secs(3));
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(OFFER)))
        .unwrap();
    w.run();
    assert_eq!(music.log().last().map(String::as_str), Some("close 1"));
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].as_ref().unwrap().data, OFFER.as_bytes());
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    let answers = updated(&w.alice_events, call);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[2].as_ref().unwrap().data, ANSWER.as_bytes());
    assert!(w.event_kinds().contains(&CallEventKind::Resumed {
        by: crate::b2bua::Side::Caller
    }));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.hold_s, 3);
    assert_eq!(music.log().len(), 4, "closed once: {:?}", music.log());
}

#[test]
fn refused_music_leaves_the_held_party_on_the_relay() {
    let (mut w, music) = with_music();
    let (call, bob) = w.answered_call();
    w.alice_holds(call);
    w.bob.reject(w.now, bob, StatusCode(488)).unwrap();
    w.run();
    assert_eq!(music.log(), vec!["offer SendOnly", "close 1"]);
    // The next hold tries again; the call is still up.
    assert_eq!(ended(&w.bob_events), None);
    assert_eq!(w.engine.len(), 1);
}

#[test]
fn attended_transfer_stops_the_music() {
    let (w, music) = with_music();
    let (mut w, to_bob, to_carol, bob, carol) = consulting_in(w);
    assert_eq!(music.log().len(), 3, "{:?}", music.log());
    w.alice.refer_replacing(w.now, to_bob, to_carol).unwrap();
    w.run();
    assert_eq!(music.log().last().map(String::as_str), Some("close 1"));
    w.carol
        .answer(w.now, carol, Some(Body::sdp(CAROL_ANSWER)))
        .unwrap();
    w.run();
    // Bob: the music offer, then Carol's media.
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].as_ref().unwrap().data, CAROL_ANSWER.as_bytes());
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert_eq!(w.engine.len(), 1);
}

/// The re-INVITEs Alice's phone saw fail (status codes).
fn alice_failures(w: &World) -> Vec<u16> {
    w.alice_events
        .iter()
        .filter_map(|e| match e {
            UaEvent::RequestFailed { status, .. } => Some(status.0),
            _ => None,
        })
        .collect()
}

/// Alice calls Bob, Bob answers, Alice holds: Bob is re-INVITEd to the
/// music and has not answered yet.
fn holding_before_the_music_answer() -> (World, Music, SessionId, SessionId) {
    let (mut w, music) = with_music();
    let (call, bob) = w.answered_call();
    w.alice_holds(call);
    assert_eq!(updated(&w.alice_events, call).len(), 1, "hold answered");
    assert_eq!(reoffers(&w.bob_events).len(), 1, "music offered to Bob");
    (w, music, call, bob)
}

/// Resume before Bob answered the music offer: Alice's re-INVITE waits
/// (no 500, no 491), then Bob goes straight back to Alice and her resume
/// is answered with Bob's answer — one re-INVITE, no retry.
#[test]
fn a_resume_before_the_music_answer_waits_for_it() {
    let (mut w, music, call, bob) = holding_before_the_music_answer();
    w.advance(Duration::from_secs(1));
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(OFFER)))
        .unwrap();
    w.run();
    assert_eq!(alice_failures(&w), Vec::<u16>::new());
    assert_eq!(updated(&w.alice_events, call).len(), 1, "resume pending");
    assert_eq!(reoffers(&w.bob_events).len(), 1, "Bob's re-INVITE pending");
    // Bob's phone answers the music offer late.
    let bob_held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.advance(Duration::from_millis(800));
    w.bob.answer(w.now, bob, Some(Body::sdp(bob_held))).unwrap();
    w.run();
    // No music was played; Bob gets Alice's offer through the relay.
    assert_eq!(music.log(), vec!["offer SendOnly", "close 1"]);
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].as_ref().unwrap().data, OFFER.as_bytes());
    assert_eq!(updated(&w.alice_events, call).len(), 1, "still pending");
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    let answers = updated(&w.alice_events, call);
    assert_eq!(answers.len(), 2, "resume answered");
    assert_eq!(answers[1].as_ref().unwrap().data, ANSWER.as_bytes());
    assert_eq!(alice_failures(&w), Vec::<u16>::new());
    let kinds = w.event_kinds();
    assert!(kinds.contains(&CallEventKind::Resumed {
        by: crate::b2bua::Side::Caller
    }));
    // Held again later: the music works as before.
    w.alice_holds(call);
    assert_eq!(updated(&w.alice_events, call).len(), 3);
    assert_eq!(reoffers(&w.bob_events).len(), 3);
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(w.engine.len(), 0);
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.hold_s, 1, "held from the hold to the resume");
}

/// Bob's phone refuses the music offer while Alice's resume waits: the
/// resume is relayed all the same.
#[test]
fn a_resume_waiting_for_refused_music_is_relayed() {
    let (mut w, music, call, bob) = holding_before_the_music_answer();
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(OFFER)))
        .unwrap();
    w.run();
    w.bob.reject(w.now, bob, StatusCode(488)).unwrap();
    w.run();
    assert_eq!(music.log(), vec!["offer SendOnly", "close 1"]);
    let offers = reoffers(&w.bob_events);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].as_ref().unwrap().data, OFFER.as_bytes());
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    let answers = updated(&w.alice_events, call);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1].as_ref().unwrap().data, ANSWER.as_bytes());
    assert_eq!(alice_failures(&w), Vec::<u16>::new());
    assert_eq!(ended(&w.bob_events), None);
}

/// An attended transfer while Bob's phone has not answered the music offer
/// yet: NOTIFY 491 (Bob cannot be re-INVITEd now), every call goes on.
#[test]
fn attended_transfer_before_the_music_answer_is_request_pending() {
    let (mut w, _music, to_bob, bob) = holding_before_the_music_answer();
    let to_carol = w.call("carol");
    let carol = carol_incoming(&w);
    w.carol
        .answer(w.now, carol, Some(Body::sdp(CAROL_ANSWER)))
        .unwrap();
    w.run();
    w.alice.refer_replacing(w.now, to_bob, to_carol).unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 491]);
    assert_eq!(w.engine.len(), 2);
    // Bob's phone answers the music late; the held call is intact.
    let bob_held = ANSWER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    w.bob.answer(w.now, bob, Some(Body::sdp(bob_held))).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), None);
    assert_eq!(ended(&w.carol_events), None);
}
