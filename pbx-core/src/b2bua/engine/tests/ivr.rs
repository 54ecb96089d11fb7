//! An IVR call through the engine: the http node's request leaves as a job,
//! its result comes back through `handle_http_result`, the interpreter's
//! timers run through the engine's `poll_timeout`, the transfer dials a real
//! leg and the trajectory is stored once.
//!
//! The engine does not play prompts or answer with a media endpoint yet
//! (branch `endpoint`): the flows here start with an http node, and the
//! caller's leg stays unanswered until the flow ends or the transfer target
//! answers.

use std::sync::Arc;

use super::*;
use crate::b2bua::app::HttpOutcome;
use crate::b2bua::ivr_app::{IvrServices, MemoryTrajectorySink};

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
    w.router.1 = Some(IvrServices {
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
        "without a media endpoint the caller gets the target's answer"
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
