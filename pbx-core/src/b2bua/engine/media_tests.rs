//! Media actions in virtual time: a caller's user agent, the engine, a
//! scripted application and a fake endpoint service that logs its calls.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::media::endpoint::{EndpointError, EndpointEvent, EndpointId};
use ::media::mixer::{ParticipantId, Role, RoomEvent, RoomId};
use sip_stack::message::{SipMessage, StatusCode, Uri};
use sip_stack::ua::{Body, EndReason, Output, UaConfig, UaEvent, UserAgent};
use sip_stack::Peer;

use super::*;
use crate::b2bua::app::{RoomControl, RoomRole};
use crate::b2bua::call::{CallInput, Side};
use crate::b2bua::cdr::MemoryCdrSink;
use crate::b2bua::media::{MediaEndpoints, RoomOp};

const PBX: &str = "10.0.0.1:5060";
const ALICE: &str = "10.0.0.2:5060";
const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const EP_ANSWER: &str = "v=0\r\no=- 9 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Logs every call; endpoint ids count from 1.
#[derive(Default)]
struct FakeEndpoints {
    log: Mutex<Vec<String>>,
    fail_open: bool,
}

impl FakeEndpoints {
    fn note(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl MediaEndpoints for FakeEndpoints {
    fn open(&self, offer: &str) -> Result<(EndpointId, String), EndpointError> {
        if self.fail_open {
            return Err(EndpointError::Ports(
                ::media::relay::ports::PortError::Exhausted,
            ));
        }
        assert!(offer.contains("m=audio 4000"), "{offer}");
        self.note("open".into());
        Ok((EndpointId(1), EP_ANSWER.into()))
    }
    fn update(&self, id: EndpointId, _offer: &str) -> Result<String, EndpointError> {
        self.note(format!("update {}", id.0));
        Ok(EP_ANSWER.into())
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
        self.note(format!("play {} {play} {} {repeat}", id.0, prompts.len()));
        Ok(())
    }
    fn stop_play(&self, id: EndpointId, play: u64) {
        self.note(format!("stop {} {play}", id.0));
    }
    fn record(
        &self,
        id: EndpointId,
        name: &str,
        beep: bool,
        max: Duration,
    ) -> Result<PathBuf, EndpointError> {
        self.note(format!("record {} {beep} {}", id.0, max.as_secs()));
        Ok(PathBuf::from(name))
    }
    fn stop_recording(&self, id: EndpointId) {
        self.note(format!("stop-record {}", id.0));
    }
    fn join(&self, id: EndpointId, room: &str, role: Role, display: &str) -> RoomId {
        self.note(format!("join {} {room} {role:?} {display}", id.0));
        RoomId(7)
    }
    fn room_op(&self, id: EndpointId, op: RoomOp) {
        self.note(format!("op {} {op:?}", id.0));
    }
}

/// Answers with media, plays, records, joins room 300 on `5`, mutes
/// guests on `6`, hangs up when it leaves the room.
struct Script(Arc<Mutex<Vec<LegEvent>>>);

impl Application for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn handle(&mut self, _view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        self.0.lock().unwrap().push(event.clone());
        let leg = LegId::CALLER;
        match event {
            LegEvent::Incoming { .. } => {
                out.push(Action::AnswerMedia { leg });
                out.push(Action::Call(CallInput::Answered));
                out.push(Action::Play {
                    leg,
                    id: 1,
                    prompts: vec!["a.wav".into(), "b.wav".into()],
                    repeat: false,
                });
            }
            LegEvent::PlayDone(_, 1) => out.push(Action::StartRecording {
                leg,
                beep: true,
                max: Duration::from_secs(30),
            }),
            LegEvent::Dtmf(_, '5') => out.push(Action::JoinRoom {
                leg,
                room: "300".into(),
                role: RoomRole::Moderator,
            }),
            LegEvent::Dtmf(_, '6') => out.push(Action::RoomControl {
                leg,
                op: RoomControl::MuteGuests,
            }),
            LegEvent::RoomLeft(_) => {
                out.push(Action::Hangup(leg));
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Normal,
                    Side::Pbx,
                )));
            }
            LegEvent::Ended(_) => {
                out.push(Action::Call(CallInput::Hangup(
                    HangupCause::Normal,
                    Side::Caller,
                )));
            }
            _ => {}
        }
    }
}

struct ToScript(Arc<Mutex<Vec<LegEvent>>>);

impl Router for ToScript {
    fn route(&self, _caller: &str, _dialed: &str) -> Routing {
        Routing::App(Box::new(Script(self.0.clone())))
    }
}

struct World {
    now: Instant,
    engine: Engine,
    router: ToScript,
    eps: FakeEndpoints,
    alice: UserAgent,
    alice_events: Vec<UaEvent>,
    sink: Arc<MemoryCdrSink>,
    seen: Arc<Mutex<Vec<LegEvent>>>,
}

impl World {
    fn new(eps: FakeEndpoints) -> Self {
        let now = Instant::now();
        let mut a = UaConfig::new(Uri::parse("sip:alice@pbx.test").unwrap(), addr(ALICE));
        a.outbound_proxy = Some(addr(PBX));
        let mut p = UaConfig::new(Uri::parse("sip:pbx@pbx.test").unwrap(), addr(PBX));
        p.seed = 3;
        let sink = Arc::new(MemoryCdrSink::default());
        let engine = Engine::new(EngineConfig {
            ua: p,
            domain: "pbx.test".into(),
            ring_timeout: Duration::from_secs(30),
            epoch: Timestamp {
                instant: now,
                unix_ms: 1_000_000,
            },
            music_on_hold: None,
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        Self {
            now,
            engine,
            router: ToScript(seen.clone()),
            eps,
            alice: UserAgent::new(a),
            alice_events: Vec::new(),
            sink,
            seen,
        }
    }

    fn deliver(&mut self, out: Vec<(Peer, bytes::Bytes)>) {
        for (_, data) in out {
            let msg = SipMessage::parse(data).unwrap();
            self.alice
                .handle_message(self.now, msg, Peer::udp(addr(PBX)));
        }
    }

    fn run(&mut self) {
        for _ in 0..50 {
            let mut wire = Vec::new();
            while let Some(o) = self.alice.poll_output() {
                match o {
                    Output::Transmit { data, .. } => wire.push(data),
                    Output::Event(e) => self.alice_events.push(e),
                }
            }
            if wire.is_empty() {
                self.drain_engine();
                return;
            }
            for data in wire {
                let msg = SipMessage::parse(data).unwrap();
                let mut out = Vec::new();
                let svc = Services {
                    router: &self.router,
                    anchor: None,
                    endpoints: Some(&self.eps),
                };
                self.engine
                    .handle_message(self.now, msg, Peer::udp(addr(ALICE)), svc, &mut out);
                self.deliver(out);
            }
        }
        panic!("the network never went quiet");
    }

    /// The engine's records to the sink (call events are not looked at here).
    fn drain_engine(&mut self) {
        super::tests::drain_into(&mut self.engine, &self.sink, &mut Vec::new());
    }

    fn media_event(&mut self, ev: EndpointEvent) {
        let mut out = Vec::new();
        let svc = Services {
            router: &self.router,
            anchor: None,
            endpoints: Some(&self.eps),
        };
        self.engine.handle_media_event(self.now, ev, svc, &mut out);
        self.deliver(out);
        self.run();
    }

    fn call(&mut self) -> sip_stack::ua::SessionId {
        let uri = Uri::parse("sip:300@pbx.test").unwrap();
        let s = self
            .alice
            .call(self.now, uri, Some(Body::sdp(OFFER)))
            .unwrap();
        self.run();
        s
    }
}

#[test]
fn answer_media_plays_records_joins_and_ends_with_the_room() {
    let mut w = World::new(FakeEndpoints::default());
    w.call();
    // Alice is answered with the endpoint's SDP (no relay in this test)
    assert!(w.alice_events.iter().any(
        |e| matches!(e, UaEvent::Answered { body: Some(b), .. } if b.data == EP_ANSWER.as_bytes())
    ));
    assert_eq!(w.eps.log(), ["open", "play 1 1 2 false"]);
    let ep = EndpointId(1);
    w.media_event(EndpointEvent::PlayDone { id: ep, play: 1 });
    assert_eq!(w.eps.log()[2], "record 1 true 30");
    w.media_event(EndpointEvent::Dtmf {
        id: ep,
        digit: ::media::dtmf::Digit::D5,
    });
    w.media_event(EndpointEvent::Dtmf {
        id: ep,
        digit: ::media::dtmf::Digit::D6,
    });
    assert_eq!(
        w.eps.log()[3..],
        ["join 1 300 Moderator alice", "op 1 MuteGuests"],
        "the caller joins with its name tag"
    );
    // events of unknown endpoints are ignored
    w.media_event(EndpointEvent::PlayDone {
        id: EndpointId(99),
        play: 1,
    });
    w.media_event(EndpointEvent::Room {
        room: RoomId(7),
        event: RoomEvent::Ended,
    });
    // the app hung up: BYE to Alice, endpoint closed, record written
    assert!(w.alice_events.iter().any(|e| matches!(
        e,
        UaEvent::Terminated {
            reason: EndReason::RemoteHangup,
            ..
        }
    )));
    assert_eq!(w.eps.log().last().unwrap(), "close 1");
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].disposition, "ANSWERED");
    assert_eq!(records[0].legs[0].codec.as_deref(), Some("PCMU/8000"));
    let seen = w.seen.lock().unwrap().clone();
    assert!(seen.contains(&LegEvent::Dtmf(LegId::CALLER, '5')));
    assert!(seen.contains(&LegEvent::RoomLeft(LegId::CALLER)));
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, LegEvent::PlayDone(..)))
            .count(),
        1
    );
    // a kick after the call is gone changes nothing
    w.media_event(EndpointEvent::Room {
        room: RoomId(7),
        event: RoomEvent::Kicked {
            participant: ParticipantId(1),
            banned: false,
        },
    });
    w.media_event(EndpointEvent::Closed {
        id: ep,
        stats: Default::default(),
    });
    assert!(w.engine.endpoints.is_empty());
}

#[test]
fn reoffer_on_a_media_leg_is_answered_by_the_endpoint() {
    let mut w = World::new(FakeEndpoints::default());
    let call = w.call();
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(OFFER)))
        .unwrap();
    w.run();
    assert!(w.eps.log().contains(&"update 1".to_string()));
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Updated { body: Some(_), .. })));
    assert!(!w
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, LegEvent::Reoffer(..))));
    // the caller hangs up: the endpoint is closed with the call
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(w.eps.log().last().unwrap(), "close 1");
}

#[test]
fn answer_media_without_ports_refuses_the_call() {
    let mut w = World::new(FakeEndpoints {
        fail_open: true,
        ..FakeEndpoints::default()
    });
    w.call();
    assert!(w.alice_events.iter().any(|e| matches!(
        e,
        UaEvent::Terminated {
            reason: EndReason::Rejected(StatusCode(503)),
            ..
        }
    )));
    assert!(w.engine.is_empty());
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.hangup_cause, "media.unavailable");
}

#[test]
fn refused_join_ends_the_call() {
    let mut w = World::new(FakeEndpoints::default());
    w.call();
    let ep = EndpointId(1);
    w.media_event(EndpointEvent::Dtmf {
        id: ep,
        digit: ::media::dtmf::Digit::D5,
    });
    w.media_event(EndpointEvent::JoinRefused {
        id: ep,
        error: ::media::mixer::ConferenceError::Full(Role::Speaker),
    });
    assert!(w
        .seen
        .lock()
        .unwrap()
        .contains(&LegEvent::RoomLeft(LegId::CALLER)));
    assert!(w.engine.is_empty());
    assert_eq!(w.eps.log().last().unwrap(), "close 1");
}
