//! The engine between two in-memory user agents (a caller and a callee
//! phone), in virtual time: no sockets, no sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_stack::message::{SipMessage, StatusCode, Uri};
use sip_stack::ua::{Body, EndReason, Output, SessionId, UaConfig, UaEvent, UserAgent};
use sip_stack::Peer;

use super::*;
use crate::b2bua::cdr::MemoryCdrSink;
use crate::b2bua::events::CallEventKind;
use crate::media_anchor::MediaAnchor;

const PBX: &str = "10.0.0.1:5060";
const ALICE: &str = "10.0.0.2:5060";
const BOB: &str = "10.0.0.3:5060";
const CAROL: &str = "10.0.0.4:5060";
const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

mod ivr;
mod presentation;
mod relay;

/// Routes: `bob` (forks to the targets), `carol` (or 1003), `ivr` (the IVR flow `t`
/// when the services are set, else 501), two trunk numbers, conference room
/// 700, anything else 404.
struct Bob(
    Vec<DialTarget>,
    Arc<crate::trunks::Slots>,
    Option<crate::b2bua::ivr_app::IvrServices>,
);

impl Router for Bob {
    fn route(&self, _caller: &str, dialed: &str) -> Routing {
        match dialed {
            "bob" => Routing::Dial(self.0.clone()),
            // Bob with a presentation rule: `*31bob` hides the caller,
            // `sales-bob` shows the sales number and name.
            "*31bob" | "sales-bob" => Routing::Presented {
                routing: Box::new(Routing::Dial(self.0.clone())),
                caller_id: crate::dialplan::CallerId {
                    number: (dialed == "sales-bob").then(|| "+49301234".into()),
                    name: (dialed == "sales-bob").then(|| "Sales".into()),
                    privacy: dialed == "*31bob",
                },
            },
            "700" => Routing::App(Box::new(crate::b2bua::conference::Conference::new(
                "700".into(),
                None,
                std::path::Path::new("/nonexistent/prompts"),
            ))),
            "carol" | "1003" => Routing::Dial(vec![DialTarget {
                uri: Uri::parse("sip:carol@10.0.0.4:5060").unwrap(),
                flow: None,
            }]),
            // Out through two trunks: Bob's carrier first, then Carol's.
            "0201234567" => Routing::App(Box::new(trunk_route(self.1.clone()))),
            // One host-named trunk resolved to three targets.
            "0201230000" => Routing::App(Box::new(trunks_targets::route(self.1.clone()))),
            // No trunk up for the number.
            "0209999999" => Routing::App(Box::new(crate::b2bua::trunk_route::TrunkRoute::new(
                Vec::new(),
                self.1.clone(),
            ))),
            "queue" => Routing::App(Box::new(crate::b2bua::queue_app::QueueApp::new(
                "support",
                0,
                Some(std::path::PathBuf::from("moh.wav")),
            ))),
            "ivr" => match &self.2 {
                Some(svc) => match svc.flows.read().get("t") {
                    Some(flow) => Routing::App(Box::new(crate::b2bua::ivr_app::IvrApp::new(
                        svc.clone(),
                        flow,
                    ))),
                    None => Routing::Refuse(HangupCause::NoRoute),
                },
                None => Routing::Refuse(HangupCause::NotImplemented),
            },
            _ => Routing::Refuse(HangupCause::NoRoute),
        }
    }
}

/// Alice, pbx and Bob on a lossless in-memory network.
struct World {
    now: Instant,
    engine: Engine,
    router: Bob,
    alice: UserAgent,
    bob: UserAgent,
    carol: UserAgent,
    sink: Arc<MemoryCdrSink>,
    alice_events: Vec<UaEvent>,
    bob_events: Vec<UaEvent>,
    carol_events: Vec<UaEvent>,
    /// Raw messages pbx sent to Alice (to inspect tags and Contact).
    to_alice: Vec<SipMessage>,
    /// Raw messages pbx sent to Bob (to inspect From and privacy headers).
    to_bob: Vec<SipMessage>,
    /// Call events the engine emitted, not yet read by a test.
    events: Vec<crate::b2bua::CallEvent>,
    /// pbx's media endpoints (IVR tests; None elsewhere).
    eps: Option<Box<dyn crate::b2bua::media::MediaEndpoints>>,
    /// The media relay (relay tests; None elsewhere).
    anchor: Option<MediaAnchor>,
}

impl World {
    /// Alice calls `number`; Bob stays silent on the INVITE (no automatic
    /// 180: a trunk that does not respond) until the 3 s setup timeout
    /// moves the call on to Carol: her incoming session.
    fn silent_bob_then_carol(&mut self, number: &str) -> SessionId {
        let mut b = UaConfig::new(Uri::parse("sip:bob@pbx.test").unwrap(), addr(BOB));
        b.seed = 2;
        b.auto_ringing = false;
        self.bob = UserAgent::new(b);
        self.call(number);
        self.bob_incoming();
        self.advance(Duration::from_secs(2));
        assert!(self.carol_events.is_empty(), "not before the setup timeout");
        self.advance(Duration::from_secs(2));
        carol_incoming(self)
    }

    /// Alice calls Bob and Bob answers: (Alice's call, Bob's session).
    fn answered_call(&mut self) -> (SessionId, SessionId) {
        let call = self.call("bob");
        let bob = self.bob_incoming();
        self.bob
            .answer(self.now, bob, Some(Body::sdp(ANSWER)))
            .unwrap();
        self.run();
        (call, bob)
    }

    /// Alice puts `call` on hold (a sendonly re-offer).
    fn alice_holds(&mut self, call: SessionId) {
        let hold = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        self.alice
            .reinvite(self.now, call, Some(Body::sdp(hold)))
            .unwrap();
        self.run();
    }

    fn new() -> Self {
        let now = Instant::now();
        let mut a = UaConfig::new(Uri::parse("sip:alice@pbx.test").unwrap(), addr(ALICE));
        a.outbound_proxy = Some(addr(PBX));
        let mut b = UaConfig::new(Uri::parse("sip:bob@pbx.test").unwrap(), addr(BOB));
        b.seed = 2;
        let mut c = UaConfig::new(Uri::parse("sip:carol@pbx.test").unwrap(), addr(CAROL));
        c.seed = 4;
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
        Self {
            now,
            engine,
            router: Bob(
                vec![DialTarget {
                    uri: Uri::parse("sip:bob@10.0.0.3:5060").unwrap(),
                    flow: None,
                }],
                crate::trunks::Slots::new(2),
                None,
            ),
            alice: UserAgent::new(a),
            bob: UserAgent::new(b),
            carol: UserAgent::new(c),
            sink,
            alice_events: Vec::new(),
            bob_events: Vec::new(),
            carol_events: Vec::new(),
            to_alice: Vec::new(),
            to_bob: Vec::new(),
            events: Vec::new(),
            eps: None,
            anchor: None,
        }
    }

    /// Delivers everything until the network is quiet.
    fn run(&mut self) {
        for _ in 0..100 {
            let mut wire: Vec<(SocketAddr, SocketAddr, bytes::Bytes)> = Vec::new();
            for (from, ua, log) in [
                (ALICE, &mut self.alice, &mut self.alice_events),
                (BOB, &mut self.bob, &mut self.bob_events),
                (CAROL, &mut self.carol, &mut self.carol_events),
            ] {
                while let Some(o) = ua.poll_output() {
                    match o {
                        Output::Transmit { peer, data } => wire.push((addr(from), peer.addr, data)),
                        Output::Event(e) => log.push(e),
                    }
                }
            }
            if wire.is_empty() {
                self.drain_engine();
                return;
            }
            for (from, to, data) in wire {
                let msg = SipMessage::parse(data).unwrap();
                let peer = Peer::udp(from);
                let mut out = Vec::new();
                let svc = Services {
                    router: &self.router,
                    anchor: self
                        .anchor
                        .as_ref()
                        .map(|a| a as &dyn crate::media_anchor::MediaRelay),
                    endpoints: self.eps.as_deref(),
                };
                match to {
                    t if t == addr(PBX) => self
                        .engine
                        .handle_message(self.now, msg, peer, svc, &mut out),
                    t if t == addr(ALICE) => self.alice.handle_message(self.now, msg, peer),
                    t if t == addr(BOB) => self.bob.handle_message(self.now, msg, peer),
                    t if t == addr(CAROL) => self.carol.handle_message(self.now, msg, peer),
                    t => panic!("nobody at {t}"),
                }
                for (peer, data) in out {
                    let msg = SipMessage::parse(data).unwrap();
                    let from = Peer::udp(addr(PBX));
                    match peer.addr {
                        a if a == addr(ALICE) => {
                            self.to_alice.push(msg.clone());
                            self.alice.handle_message(self.now, msg, from);
                        }
                        a if a == addr(BOB) => {
                            self.to_bob.push(msg.clone());
                            self.bob.handle_message(self.now, msg, from);
                        }
                        a if a == addr(CAROL) => self.carol.handle_message(self.now, msg, from),
                        a => panic!("pbx sent to {a}"),
                    }
                }
            }
        }
        panic!("the network never went quiet");
    }

    /// What pbx sent outside a SIP input (timers, commands, ACD events),
    /// delivered to the phones; the network then runs until quiet.
    fn deliver_from_pbx(&mut self, out: crate::sans_io::Outbox) {
        for (peer, data) in out {
            let msg = SipMessage::parse(data).unwrap();
            let from = Peer::udp(addr(PBX));
            match peer.addr {
                a if a == addr(ALICE) => self.alice.handle_message(self.now, msg, from),
                a if a == addr(BOB) => self.bob.handle_message(self.now, msg, from),
                _ => self.carol.handle_message(self.now, msg, from),
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        let mut out = Vec::new();
        let svc = Services {
            router: &self.router,
            anchor: self
                .anchor
                .as_ref()
                .map(|a| a as &dyn crate::media_anchor::MediaRelay),
            endpoints: self.eps.as_deref(),
        };
        self.engine.handle_timeout(self.now, svc, &mut out);
        self.deliver_from_pbx(out);
        self.alice.handle_timeout(self.now);
        self.bob.handle_timeout(self.now);
        self.carol.handle_timeout(self.now);
        self.run();
    }

    fn call(&mut self, to: &str) -> SessionId {
        let uri = Uri::parse(&format!("sip:{to}@pbx.test")).unwrap();
        let s = self
            .alice
            .call(self.now, uri, Some(Body::sdp(OFFER)))
            .unwrap();
        self.run();
        s
    }

    fn bob_incoming(&self) -> SessionId {
        self.bob_events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { session, .. } => Some(*session),
                _ => None,
            })
            .expect("bob was called")
    }

    fn event_kinds(&mut self) -> Vec<CallEventKind> {
        self.drain_engine();
        self.events.drain(..).map(|e| e.kind).collect()
    }

    /// What the engine emitted, as its driver delivers it: records and
    /// quality to the sink, call events to the test; the sequence numbers
    /// have no gap.
    fn drain_engine(&mut self) {
        drain_into(&mut self.engine, &self.sink, &mut self.events);
    }
}

/// The services the engine gets in these tests (from the world's fields,
/// so that the engine can be borrowed beside them).
fn services<'a>(
    router: &'a Bob,
    anchor: &'a Option<MediaAnchor>,
    eps: &'a Option<Box<dyn crate::b2bua::media::MediaEndpoints>>,
) -> Services<'a> {
    Services {
        router,
        anchor: anchor
            .as_ref()
            .map(|a| a as &dyn crate::media_anchor::MediaRelay),
        endpoints: eps.as_deref(),
    }
}

/// Delivers the engine's output events; checks that their numbers follow
/// one another.
pub(super) fn drain_into(
    engine: &mut Engine,
    sink: &MemoryCdrSink,
    events: &mut Vec<crate::b2bua::CallEvent>,
) {
    use crate::b2bua::cdr::CdrSink;
    use crate::b2bua::EngineEventKind;
    let mut last: Option<u64> = None;
    while let Some(ev) = engine.poll_event() {
        if let Some(l) = last {
            assert_eq!(ev.seq, l + 1, "engine events are numbered without gaps");
        }
        last = Some(ev.seq);
        match ev.kind {
            EngineEventKind::Call(c) => events.push(c),
            EngineEventKind::Record(r) => sink.write(*r),
            EngineEventKind::Quality { call_id, legs } => sink.quality(&call_id, legs),
        }
    }
}

fn ended(events: &[UaEvent]) -> Option<EndReason> {
    events.iter().find_map(|e| match e {
        UaEvent::Terminated { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

#[test]
fn answered_call_is_bridged_and_recorded() {
    let mut w = World::new();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    if let Some(UaEvent::IncomingCall { from, body, .. }) = w.bob_events.first() {
        assert_eq!(
            from.uri.user.as_deref(),
            Some("alice"),
            "callee sees the caller"
        );
        assert_eq!(body.as_ref().map(|b| &b.data[..]), Some(OFFER.as_bytes()));
    }
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Ringing { .. })));
    w.advance(Duration::from_secs(2));
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert!(w.alice_events.iter().any(
        |e| matches!(e, UaEvent::Answered { body: Some(b), .. } if b.data == ANSWER.as_bytes())
    ));
    // The caller's 200 carries pbx's To tag and Contact, not Bob's.
    let ok = w
        .to_alice
        .iter()
        .find_map(|m| match m {
            SipMessage::Response(r) if r.status == StatusCode::OK => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    let contact = ok
        .headers
        .get_str(&sip_stack::message::HeaderName::Contact)
        .unwrap();
    assert!(contact.contains("10.0.0.1:5060"), "{contact}");
    assert_eq!(w.engine.live_calls(w.now).len(), 1);
    w.advance(Duration::from_secs(10));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.caller.as_str(), r.callee.as_str()), ("alice", "bob"));
    assert_eq!(r.disposition, "ANSWERED");
    assert_eq!(
        (r.hangup_cause.as_str(), r.hangup_side.as_str()),
        ("call.normal", "caller")
    );
    assert_eq!((r.duration_s, r.billsec), (12, 10));
    assert_eq!(r.start_ms, 1_000_000);
    assert_eq!(r.answer_ms, Some(1_002_000));
    assert_eq!(r.legs.len(), 2);
    assert_eq!(r.legs[1].status, 200);
    assert_eq!(r.legs[1].codec.as_deref(), Some("PCMU/8000"));
    assert_ne!(
        r.legs[0].sip_call_id, r.legs[1].sip_call_id,
        "legs are separate dialogs"
    );
    let kinds = w.event_kinds();
    assert!(matches!(kinds.first(), Some(CallEventKind::Created { .. })));
    assert!(kinds.contains(&CallEventKind::Answered));
    assert!(matches!(kinds.last(), Some(CallEventKind::Ended { .. })));
}

#[test]
fn busy_callee_is_busy_for_the_caller() {
    let mut w = World::new();
    w.call("bob");
    let bob = w.bob_incoming();
    w.bob.reject(w.now, bob, StatusCode::BUSY_HERE).unwrap();
    w.run();
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode::BUSY_HERE))
    );
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_cause.as_str()),
        ("BUSY", "call.busy")
    );
    assert_eq!(r.hangup_side, "callee");
    assert_eq!(r.billsec, 0);
}

#[test]
fn caller_cancel_cancels_the_callee() {
    let mut w = World::new();
    let call = w.call("bob");
    w.advance(Duration::from_secs(3));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteCancelled));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("CANCELLED", "caller")
    );
    assert_eq!(r.duration_s, 3);
}

#[test]
fn ring_timeout_is_no_answer() {
    let mut w = World::new();
    w.call("bob");
    w.advance(Duration::from_secs(31));
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode::TEMPORARILY_UNAVAILABLE))
    );
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteCancelled));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("NO ANSWER", "pbx")
    );
}

#[test]
fn unknown_and_unimplemented_targets_are_refused() {
    let mut w = World::new();
    w.call("nobody");
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode::NOT_FOUND))
    );
    let mut w = World::new();
    w.call("ivr");
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode(501)))
    );
    assert_eq!(
        w.sink.records.lock()[0].hangup_cause,
        "routing.not_implemented"
    );
}

#[test]
fn hold_passes_through_and_callee_bye_ends_the_call() {
    let mut w = World::new();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    let hold = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    w.alice
        .reinvite(w.now, call, Some(Body::sdp(hold.clone())))
        .unwrap();
    w.run();
    let reoffer = w.bob_events.iter().find_map(|e| match e {
        UaEvent::Reoffer { body, .. } => body.clone(),
        _ => None,
    });
    assert_eq!(reoffer.map(|b| b.data), Some(bytes::Bytes::from(hold)));
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Updated { .. })));
    assert!(w.event_kinds().contains(&CallEventKind::Held {
        by: crate::b2bua::Side::Caller
    }));
    w.bob.hangup(w.now, bob).unwrap();
    w.run();
    assert_eq!(ended(&w.alice_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("ANSWERED", "callee")
    );
}

#[test]
fn early_media_reaches_the_caller_before_the_answer() {
    let mut w = World::new();
    w.call("bob");
    let bob = w.bob_incoming();
    w.bob
        .progress(w.now, bob, StatusCode(183), Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::EarlyMedia { body, .. } if body.data == ANSWER.as_bytes())));
    assert!(w.event_kinds().contains(&CallEventKind::EarlyMedia));
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
}

#[test]
fn dtmf_info_is_an_event() {
    let mut w = World::new();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    w.alice.send_dtmf_info(w.now, call, '7', 160).unwrap();
    w.run();
    assert!(w.event_kinds().contains(&CallEventKind::Dtmf {
        leg: LegId::CALLER,
        digit: '7'
    }));
}

fn incoming_of(events: &[UaEvent]) -> Option<SessionId> {
    events.iter().find_map(|e| match e {
        UaEvent::IncomingCall { session, .. } => Some(*session),
        _ => None,
    })
}

fn transfer_statuses(events: &[UaEvent]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::TransferProgress { status, .. } => Some(status.0),
            _ => None,
        })
        .collect()
}

/// Bob answers Alice, then REFERs her to Carol (blind transfer).
fn transferred_call(bob_hangs_up_at_once: bool) -> (World, SessionId) {
    let mut w = World::new();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    w.bob
        .refer(w.now, bob, &Uri::parse("sip:carol@pbx.test").unwrap())
        .unwrap();
    w.run();
    if bob_hangs_up_at_once {
        w.bob.hangup(w.now, bob).unwrap();
        w.run();
    }
    (w, call)
}

/// Trunk 0 reaches Bob, trunk 1 Carol (one call each at most).
fn trunk_route(slots: Arc<crate::trunks::Slots>) -> crate::b2bua::trunk_route::TrunkRoute {
    use crate::b2bua::app::LegSpec;
    use crate::b2bua::trunk_route::TrunkAttempt;
    let attempt = |i: usize, name: &str, host: &str| TrunkAttempt {
        trunk: i,
        name: name.into(),
        leg: LegSpec {
            uri: Uri::parse(&format!("sip:+31201234567@{host}")).unwrap(),
            from: None,
            to: None,
            credentials: None,
        },
        max_calls: Some(1),
        setup_timeout: Duration::from_secs(3),
    };
    crate::b2bua::trunk_route::TrunkRoute::new(
        vec![
            attempt(0, "bob-carrier", BOB),
            attempt(1, "carol-carrier", CAROL),
        ],
        slots,
    )
}

fn carol_incoming(w: &World) -> SessionId {
    w.carol_events
        .iter()
        .find_map(|e| match e {
            UaEvent::IncomingCall { session, .. } => Some(*session),
            _ => None,
        })
        .expect("carol was called")
}

#[test]
fn trunk_route_fails_over_on_503_and_holds_a_slot() {
    let mut w = World::new();
    let call = w.call("0201234567");
    let bob = w.bob_incoming();
    assert_eq!(w.router.1.used(0), 1, "the first trunk's slot is taken");
    w.bob.reject(w.now, bob, StatusCode(503)).unwrap();
    w.run();
    assert!(
        ended(&w.alice_events).is_none(),
        "the caller waits for the next trunk"
    );
    let carol = carol_incoming(&w);
    assert_eq!((w.router.1.used(0), w.router.1.used(1)), (0, 1));
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
    w.advance(Duration::from_secs(5));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.carol_events), Some(EndReason::RemoteHangup));
    assert_eq!(
        (w.router.1.used(0), w.router.1.used(1)),
        (0, 0),
        "slots freed"
    );
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.direction, "outbound");
    assert_eq!(r.trunk.as_deref(), Some("carol-carrier"));
    assert_eq!(r.disposition, "ANSWERED");
    let statuses: Vec<u16> = r.legs.iter().map(|l| l.status).collect();
    assert_eq!(statuses, [200, 503, 200]);
}

#[test]
fn trunk_route_fails_over_when_the_trunk_stays_silent() {
    let mut w = World::new();
    let carol = w.silent_bob_then_carol("0201234567");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert!(w
        .alice_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
}

#[test]
fn trunk_route_skips_a_full_trunk_and_refuses_when_all_fail() {
    let mut w = World::new();
    let held = w.router.1.try_acquire(0, Some(1)).expect("slot");
    w.call("0201234567");
    assert!(w.bob_events.is_empty(), "the full trunk is skipped");
    let carol = carol_incoming(&w);
    w.carol.reject(w.now, carol, StatusCode(502)).unwrap();
    w.run();
    // No trunk left: the caller gets the last trunk's failure.
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode(502)))
    );
    drop(held);
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.direction.as_str(), r.disposition.as_str()),
        ("outbound", "FAILED")
    );
    assert_eq!(w.router.1.used(1), 0);
}

#[test]
fn trunk_route_without_candidates_refuses_503_as_outbound() {
    let mut w = World::new();
    w.call("0209999999");
    assert_eq!(
        ended(&w.alice_events),
        Some(EndReason::Rejected(StatusCode(503)))
    );
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(
        (r.direction.as_str(), r.trunk.as_deref()),
        ("outbound", None)
    );
    assert_eq!(r.hangup_side, "pbx");
}

mod blind_transfer;
mod commands;
mod moh;
mod queue;
mod trunks_targets;
mod xfer;
mod xfer_app;
