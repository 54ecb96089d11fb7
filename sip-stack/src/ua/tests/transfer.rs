//! Attended transfer between three agents through the test proxy
//! (RFC 5589 §7: REFER with Replaces, RFC 3891 INVITE with Replaces).

use super::*;

fn uri(n: u8) -> Uri {
    Uri::parse(&format!("sip:u{n}@10.0.0.{n}:5060")).expect("uri")
}

/// The newest IncomingCall session of UA `i`.
fn last_incoming(net: &Net, i: usize) -> SessionId {
    net.events_of(i)
        .into_iter()
        .filter_map(|e| match e {
            UaEvent::IncomingCall { session, .. } => Some(session),
            _ => None,
        })
        .last()
        .expect("an incoming call")
}

/// UA `from` calls UA `to` (indices), which answers.
fn call(net: &mut Net, from: usize, to: usize) -> (SessionId, SessionId) {
    let n = u8::try_from(to + 1).expect("small");
    let s = net.uas[from]
        .call(net.now, uri(n), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(50));
    let t = last_incoming(net, to);
    net.uas[to]
        .answer(net.now, t, Some(sdp("sendrecv")))
        .expect("answer");
    net.advance(Duration::from_millis(50));
    assert!(net
        .events_of(from)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == s)));
    (s, t)
}

fn three() -> Net {
    Net::new(vec![config(1, PROXY), config(2, PROXY), config(3, PROXY)])
}

#[test]
fn attended_transfer_replaces_the_consultation_call() {
    let mut net = three();
    // A (0) talks to B (1), then consults C (2).
    let (a_b, b_a) = call(&mut net, 0, 1);
    let (a_c, c_a) = call(&mut net, 0, 2);
    net.uas[0]
        .refer_replacing(net.now, a_b, a_c)
        .expect("refer");
    net.advance(Duration::from_millis(50));
    let refer = net
        .log
        .iter()
        .find(|(_, _, t)| t.starts_with("REFER"))
        .expect("REFER sent")
        .2
        .clone();
    assert!(refer.contains("Refer-To: <sip:u3@10.0.0.3:5060?Replaces="));
    let target = net
        .events_of(1)
        .into_iter()
        .find_map(|e| match e {
            UaEvent::TransferRequested { session, target } if session == b_a => Some(target),
            _ => None,
        })
        .expect("B asked to transfer");
    assert_eq!(target.headers.len(), 1);
    // B calls the target; the URI's Replaces becomes a header.
    let b_c = net.uas[1]
        .call(net.now, target, Some(sdp("sendrecv")))
        .expect("call target");
    net.advance(Duration::from_millis(50));
    let c_b = last_incoming(&net, 2);
    assert_ne!(c_b, c_a);
    assert_eq!(net.uas[2].replaces(c_b), Some(c_a));
    let invite = net
        .log
        .iter()
        .rev()
        .find(|(_, to, t)| *to == addr(3) && t.starts_with("INVITE sip:u3@10.0.0.3:5060 SIP/2.0"))
        .expect("INVITE to C")
        .2
        .clone();
    let (_, c_local, a_remote) = {
        let d = net.uas[2]
            .sessions
            .get(&c_a)
            .and_then(|s| s.dialog.as_ref())
            .expect("dialog");
        (
            d.id.call_id.clone(),
            d.id.local_tag.clone(),
            d.id.remote_tag.clone(),
        )
    };
    assert!(invite.contains(&format!(";to-tag={c_local};from-tag={a_remote}")));
    net.uas[2]
        .answer(net.now, c_b, Some(sdp("sendrecv")))
        .expect("answer");
    net.advance(Duration::from_millis(50));
    // C ended the replaced dialog with A by BYE; B and C talk.
    assert!(net.events_of(0).contains(&UaEvent::Terminated {
        session: a_c,
        reason: EndReason::RemoteHangup
    }));
    assert!(net.events_of(2).contains(&UaEvent::Terminated {
        session: c_a,
        reason: EndReason::LocalHangup
    }));
    assert!(net
        .events_of(1)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == b_c)));
    // B reports success; A drops its leg to B.
    net.uas[1]
        .notify_transfer(net.now, b_a, StatusCode::OK)
        .expect("notify");
    net.advance(Duration::from_millis(50));
    assert!(net.events_of(0).contains(&UaEvent::TransferProgress {
        session: a_b,
        status: StatusCode::OK
    }));
    net.uas[0].hangup(net.now, a_b).expect("hangup");
    net.advance(Duration::from_millis(50));
    assert_eq!(net.uas[0].sessions().count(), 0);
    assert_eq!(net.uas[1].sessions().collect::<Vec<_>>(), [b_c]);
    assert_eq!(net.uas[2].sessions().collect::<Vec<_>>(), [c_b]);
}

#[test]
fn replaces_naming_no_dialog_gets_481() {
    let mut net = three();
    let (_, c_a) = call(&mut net, 0, 2);
    let target =
        Uri::parse("sip:u3@10.0.0.3:5060?Replaces=nope%3Bto-tag%3Dx%3Bfrom-tag%3Dy").expect("uri");
    let b = net.uas[1]
        .call(net.now, target, Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(50));
    assert!(net.events_of(1).contains(&UaEvent::Terminated {
        session: b,
        reason: EndReason::Rejected(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST)
    }));
    assert_eq!(net.uas[2].sessions().collect::<Vec<_>>(), [c_a]);
    assert_eq!(net.count("BYE"), 0);
}
