//! An IVR call through the engine: the http node's request leaves as a job,
//! its result comes back through `handle_http_result`, the interpreter's
//! timers run through the engine's `poll_timeout`, the transfer dials a real
//! leg and the trajectory is stored once.
//!
//! The caller is answered by a fake media endpoint service (no prompts in
//! these flows).

use std::path::PathBuf;
use std::sync::Arc;

use ::media::endpoint::{EndpointError, EndpointId};
use ::media::mixer::{Role, RoomId};

use super::*;
use crate::b2bua::app::HttpOutcome;
use crate::b2bua::ivr_app::{IvrServices, MemoryTrajectorySink};
use crate::b2bua::media::{MediaEndpoints, RoomOp};

pub(super) const EP_ANSWER: &str = "v=0\r\no=- 9 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Answers every offer; nothing else is used by these flows.
pub(super) struct Endpoints;

impl MediaEndpoints for Endpoints {
    fn open(&self, _offer: &str) -> Result<(EndpointId, String), EndpointError> {
        Ok((EndpointId(1), EP_ANSWER.into()))
    }
    fn update(&self, _id: EndpointId, _offer: &str) -> Result<String, EndpointError> {
        Ok(EP_ANSWER.into())
    }
    fn close(&self, _id: EndpointId) {}
    fn play(&self, _: EndpointId, _: u64, _: &[PathBuf], _: bool) -> Result<(), EndpointError> {
        Ok(())
    }
    fn stop_play(&self, _id: EndpointId, _play: u64) {}
    fn record(
        &self,
        _: EndpointId,
        name: &str,
        _: bool,
        _: Duration,
    ) -> Result<PathBuf, EndpointError> {
        Ok(PathBuf::from(name))
    }
    fn stop_recording(&self, _id: EndpointId) {}
    fn join(&self, _id: EndpointId, _room: &str, _role: Role, _display: &str) -> RoomId {
        RoomId(1)
    }
    fn room_op(&self, _id: EndpointId, _op: RoomOp) {}
}

const FLOW: &str = r#"
[flow]
name = "t"
[nodes.lookup]
type = "http"
url = "http://127.0.0.1:9/lookup?caller=${caller}"
timeout = "2s"
exits = { ok = "op", error = "bye" }
[nodes.op]
type = "transfer"
target = "ext:1003"
[nodes.bye]
type = "hangup"
reason = "lookup_failed"
"#;

pub(super) fn ivr_world() -> (World, Arc<MemoryTrajectorySink>) {
    ivr_world_with(FLOW)
}

/// The world with flow `t` read from `flow`.
fn ivr_world_with(flow: &str) -> (World, Arc<MemoryTrajectorySink>) {
    let mut w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, flow).unwrap();
    let mut flows = ::ivr::FlowRegistry::new();
    assert!(flows.reload_file(&path).applied);
    let sink = Arc::new(MemoryTrajectorySink::default());
    w.eps = Some(Box::new(Endpoints));
    w.router.2 = Some(IvrServices {
        flows: Arc::new(parking_lot::RwLock::new(flows)),
        sink: sink.clone(),
        utc_offset_secs: 0,
    });
    (w, sink)
}

pub(super) fn http_result(w: &mut World, job: &HttpJob, outcome: HttpOutcome) {
    let mut out = Vec::new();
    let svc = Services {
        router: &w.router,
        anchor: None,
        endpoints: w.eps.as_deref(),
    };
    w.engine
        .handle_http_result(w.now, job.call, job.id, outcome, svc, &mut out);
    for (peer, data) in out {
        let msg = SipMessage::parse(data).unwrap();
        let from = Peer::udp(addr(PBX));
        match peer.addr {
            a if a == addr(ALICE) => w.alice.handle_message(w.now, msg, from),
            a if a == addr(BOB) => w.bob.handle_message(w.now, msg, from),
            _ => w.carol.handle_message(w.now, msg, from),
        }
    }
    w.run();
}

#[test]
fn http_job_result_leads_to_a_transfer_that_is_bridged() {
    let (mut w, sink) = ivr_world();
    let call = w.call("ivr");
    let job = w
        .engine
        .poll_job()
        .expect("the http node's request is queued");
    assert_eq!(job.url, "http://127.0.0.1:9/lookup?caller=alice");
    assert_eq!(job.timeout, Duration::from_secs(2));
    assert!(
        job.body_json.contains("\"node\":\"lookup\""),
        "{}",
        job.body_json
    );
    assert!(w.engine.poll_job().is_none());

    w.now += Duration::from_millis(150);
    http_result(
        &mut w,
        &job,
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    );
    let carol = incoming_of(&w.carol_events).expect("the transfer dials carol");
    assert!(
        sink.records.lock().is_empty(),
        "stored once the transfer settles"
    );
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    assert!(
        w.alice_events
            .iter()
            .any(|e| matches!(e, UaEvent::Answered { .. })),
        "the media endpoint answered the caller"
    );
    let kinds = w.event_kinds();
    assert!(
        kinds.contains(&CallEventKind::Transferred {
            to: "ext:1003".into()
        }),
        "{kinds:?}"
    );
    assert!(kinds
        .iter()
        .any(|k| matches!(k, CallEventKind::Bridged { .. })));
    let stored = sink.records.lock().clone();
    assert_eq!(stored.len(), 1);
    let t = &stored[0].trajectory;
    assert_eq!(t.visited(), ["lookup", "op"]);
    let callurl = t.entries.iter().find_map(|e| e.callurl.clone()).unwrap();
    assert_eq!((callurl.status, callurl.latency_ms), (Some(200), 150));

    // Carol hangs up: the bridge ends the call and the record is written.
    w.carol.hangup(w.now, carol).unwrap();
    w.run();
    assert!(w.engine.is_empty());
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.call_id, stored[0].call_id, "the CDR's call id");
    assert_eq!(r.legs.len(), 2);
    let _ = call;
}

#[test]
fn http_timeout_fires_through_the_engine_clock() {
    let (mut w, sink) = ivr_world();
    w.call("ivr");
    let job = w.engine.poll_job().expect("queued");
    let due = w.engine.poll_timeout().expect("the http node's deadline");
    assert!(due <= w.now + Duration::from_secs(2));
    w.advance(Duration::from_secs(2));
    assert!(w.engine.is_empty(), "the flow hung up after the timeout");
    let stored = sink.records.lock().clone();
    let t = &stored[0].trajectory;
    assert_eq!(t.visited(), ["lookup", "bye"]);
    assert_eq!(
        t.outcome,
        Some(::ivr::Outcome::Hangup {
            reason: Some("lookup_failed".into())
        })
    );
    // A late result of the ended call is ignored.
    http_result(&mut w, &job, HttpOutcome::TimedOut);
    assert_eq!(sink.records.lock().len(), 1);
    assert_eq!(w.sink.records.lock().len(), 1);
}

/// Bob answers Alice and REFERs her to the IVR number: the IVR takes the
/// call over (Bob gets NOTIFY 200 and a BYE, Alice a re-INVITE with pbx's
/// media), runs its flow and transfers her on to Carol; one record covers
/// the whole call.
#[test]
fn blind_transfer_hands_the_caller_to_the_ivr() {
    let (mut w, sink) = ivr_world();
    let call = w.call("bob");
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    assert!(w.engine.poll_job().is_none(), "no flow runs yet");
    w.now += Duration::from_secs(2);
    w.bob
        .refer(w.now, bob, &Uri::parse("sip:ivr@pbx.test").unwrap())
        .unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.bob_events), vec![202, 100, 200]);
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    assert_eq!(ended(&w.alice_events), None, "alice stays in the call");
    let reoffer = w.alice_events.iter().find_map(|e| match e {
        UaEvent::Reoffer { body, .. } => body.clone(),
        _ => None,
    });
    assert_eq!(
        reoffer.map(|b| b.data),
        Some(bytes::Bytes::from(EP_ANSWER)),
        "pbx's media is offered to alice"
    );
    w.alice.answer(w.now, call, Some(Body::sdp(OFFER))).unwrap();
    w.run();
    assert_eq!(
        w.engine.live_calls(w.now)[0].app,
        "ivr",
        "the IVR owns the call"
    );

    let job = w.engine.poll_job().expect("the flow runs for alice");
    assert_eq!(job.url, "http://127.0.0.1:9/lookup?caller=alice");
    http_result(
        &mut w,
        &job,
        HttpOutcome::Response {
            status: 200,
            body: "{}".into(),
        },
    );
    let carol = incoming_of(&w.carol_events).expect("the IVR transfers to carol");
    w.carol
        .answer(w.now, carol, Some(Body::sdp(ANSWER)))
        .unwrap();
    w.run();
    let stored = sink.records.lock().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].trajectory.visited(), ["lookup", "op"]);

    w.now += Duration::from_secs(3);
    w.carol.hangup(w.now, carol).unwrap();
    w.run();
    assert_eq!(ended(&w.alice_events), Some(EndReason::RemoteHangup));
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1, "one record for the whole call");
    let r = &records[0];
    assert_eq!(r.call_id, stored[0].call_id);
    assert_eq!(
        (r.disposition.as_str(), r.hangup_side.as_str()),
        ("ANSWERED", "callee")
    );
    let parties: Vec<&str> = r.legs.iter().map(|l| l.party.as_str()).collect();
    assert_eq!(
        parties,
        [
            "sip:alice@pbx.test",
            "sip:bob@10.0.0.3:5060",
            "sip:carol@10.0.0.4:5060"
        ]
    );
    assert_eq!(r.billsec, 5);
    let kinds = w.event_kinds();
    for to in ["ivr", "ext:1003"] {
        assert!(
            kinds.contains(&CallEventKind::Transferred { to: to.into() }),
            "{kinds:?}"
        );
    }
}

/// A REFER from the caller inside a flow (the IVR refuses transfers asked
/// during its flow): NOTIFY 501, the IVR keeps the call.
#[test]
fn transfer_requested_inside_the_ivr_is_refused() {
    let (mut w, _) = ivr_world();
    let call = w.call("ivr");
    assert!(w.engine.poll_job().is_some());
    w.alice
        .refer(w.now, call, &Uri::parse("sip:ivr@pbx.test").unwrap())
        .unwrap();
    w.run();
    assert_eq!(transfer_statuses(&w.alice_events), vec![202, 100, 501]);
    assert_eq!(w.engine.live_calls(w.now)[0].app, "ivr");
}

/// An IVR transfer node to conference room 700: the room takes the caller
/// over (re-INVITE with pbx's media), the trajectory ends with the transfer,
/// and the call's one record is written when the caller leaves the room.
#[test]
fn ivr_transfer_node_hands_the_caller_to_a_conference_room() {
    let (mut w, sink) = ivr_world_with(
        "[flow]\nname = \"t\"\n[nodes.room]\ntype = \"transfer\"\ntarget = \"ext:700\"\n",
    );
    let call = w.call("ivr");
    assert!(
        w.alice_events
            .iter()
            .any(|e| matches!(e, UaEvent::Answered { .. })),
        "the IVR answered"
    );
    assert_eq!(w.engine.live_calls(w.now)[0].app, "conference");
    let stored = sink.records.lock().clone();
    assert_eq!(stored.len(), 1, "the flow's part is stored at the handover");
    assert_eq!(
        stored[0].trajectory.outcome,
        Some(::ivr::Outcome::Transfer {
            target: ::ivr::TransferTarget::Extension("700".into())
        })
    );
    assert!(
        w.alice_events
            .iter()
            .any(|e| matches!(e, UaEvent::Reoffer { .. })),
        "the room's media is offered to alice"
    );
    w.alice.answer(w.now, call, Some(Body::sdp(OFFER))).unwrap();
    w.run();
    w.now += Duration::from_secs(4);
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    assert!(w.engine.is_empty());
    let records = w.sink.records.lock().clone();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (
            records[0].disposition.as_str(),
            records[0].hangup_side.as_str()
        ),
        ("ANSWERED", "caller")
    );
    assert_eq!(records[0].billsec, 4);
}
