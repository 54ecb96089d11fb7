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

const EP_ANSWER: &str = "v=0\r\no=- 9 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Answers every offer; nothing else is used by these flows.
struct Endpoints;

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
    fn join(&self, _id: EndpointId, _room: &str, _role: Role) -> RoomId {
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

fn ivr_world() -> (World, Arc<MemoryTrajectorySink>) {
    let mut w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, FLOW).unwrap();
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

fn http_result(w: &mut World, job: &HttpJob, outcome: HttpOutcome) {
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
