//! A queue call through the engine, with the contact-center engine's part
//! played by the test: the caller is answered with music and enters the
//! queue, an offer rings Bob while the music goes on, Bob's answer is
//! reported, the connect bridges them, the hangup completes the call; and
//! the failure paths (no answer reported once, the caller abandoning).

use super::ivr::Endpoints;
use super::*;
use crate::b2bua::app::{AcdEvent, AcdRequest};

impl World {
    fn queue_world() -> Self {
        let mut w = World::new();
        w.eps = Some(Box::new(Endpoints));
        w
    }

    fn acd_requests(&mut self) -> Vec<AcdRequest> {
        std::iter::from_fn(|| self.engine.poll_acd_request())
            .map(|(_, r)| r)
            .collect()
    }

    fn acd(&mut self, event: AcdEvent) {
        let id = self.engine.live_calls(self.now)[0].id;
        let mut out = Vec::new();
        self.engine.handle_acd_event(
            self.now,
            id,
            event,
            services(&self.router, &self.anchor, &self.eps),
            &mut out,
        );
        self.deliver_from_pbx(out);
        self.run();
    }
}

fn offer_bob(offer: u64) -> AcdEvent {
    AcdEvent::Offer {
        offer,
        agent: "bob".into(),
        ring_timeout: Duration::from_secs(15),
    }
}

#[test]
fn a_queue_call_waits_with_music_rings_the_agent_and_is_bridged() {
    let mut w = World::queue_world();
    let call = w.call("queue");
    assert!(
        w.alice_events
            .iter()
            .any(|e| matches!(e, UaEvent::Answered { .. })),
        "the caller is answered by pbx's media at once"
    );
    assert_eq!(
        w.acd_requests(),
        [AcdRequest::Enter {
            queue: "support".into(),
            number: "alice".into(),
            priority: 0
        }]
    );
    w.acd(offer_bob(7));
    let bob = w.bob_incoming();
    assert!(
        w.acd_requests().is_empty(),
        "ringing is no news for the ACD"
    );
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert_eq!(w.acd_requests(), [AcdRequest::OfferAnswered(7)]);
    w.acd(AcdEvent::Connect(7));
    assert_eq!(w.engine.live_calls(w.now)[0].app, "queue");
    w.advance(Duration::from_secs(20));
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    assert_eq!(w.acd_requests(), [AcdRequest::Completed]);
    assert!(w.engine.is_empty());
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.disposition, "ANSWERED");
    assert_eq!(r.legs.len(), 2);
    assert_eq!(r.legs[1].status, 200);
    let kinds = w.event_kinds();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, CallEventKind::Bridged { .. })),
        "{kinds:?}"
    );
}

#[test]
fn an_unanswered_offer_is_reported_once_and_the_caller_can_abandon() {
    let mut w = World::queue_world();
    let mut b = UaConfig::new(Uri::parse("sip:bob@pbx.test").unwrap(), addr(BOB));
    b.seed = 2;
    w.bob = UserAgent::new(b);
    let call = w.call("queue");
    w.acd_requests();
    w.acd(offer_bob(1));
    let bob = w.bob_incoming();
    w.bob.reject(w.now, bob, StatusCode(486)).unwrap();
    w.run();
    assert_eq!(
        w.acd_requests(),
        [AcdRequest::OfferFailed {
            offer: 1,
            status: 486
        }]
    );
    // A second offer is withdrawn by the ACD (ring timeout): Bob's leg is
    // cancelled, nothing more is reported for it.
    w.acd(offer_bob(2));
    assert_eq!(
        w.bob_events
            .iter()
            .filter(|e| matches!(e, UaEvent::IncomingCall { .. }))
            .count(),
        2
    );
    w.acd(AcdEvent::CancelOffer(2));
    assert!(w.acd_requests().is_empty());
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert_eq!(w.acd_requests(), [AcdRequest::Hangup], "an abandon");
    assert!(w.engine.is_empty());
}

#[test]
fn overflow_dials_the_target_and_a_refusal_ends_the_call() {
    let mut w = World::queue_world();
    w.call("queue");
    w.acd_requests();
    w.acd(AcdEvent::Overflow(Some("bob".into())));
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert_eq!(w.engine.live_calls(w.now)[0].legs, 2);
    assert!(
        w.acd_requests().is_empty(),
        "an overflowed call is no more the ACD's"
    );

    let mut w = World::queue_world();
    w.call("queue");
    w.acd_requests();
    w.acd(AcdEvent::Refused);
    assert!(w.engine.is_empty());
    assert!(ended(&w.alice_events).is_some());
}
