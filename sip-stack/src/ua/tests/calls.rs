//! INVITE sessions between two user agents.

use super::*;

fn callee_uri() -> Uri {
    Uri::parse("sip:u2@10.0.0.2:5060").expect("uri")
}

/// A calls B; B answers. Returns (A's session, B's session).
fn connected(net: &mut Net) -> (SessionId, SessionId) {
    let a = net.uas[0]
        .call(net.now, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer");
    net.advance(Duration::from_millis(10));
    (a, b)
}

#[test]
fn call_answer_and_bye_from_caller() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    let ev_a = net.events_of(0);
    assert_eq!(ev_a[0], UaEvent::Ringing { session: a });
    assert!(
        matches!(&ev_a[1], UaEvent::Answered { session, body: Some(body) }
        if *session == a && body.content_type == "application/sdp")
    );
    let ev_b = net.events_of(1);
    assert!(
        matches!(&ev_b[0], UaEvent::IncomingCall { from, body: Some(_), .. }
        if from.uri.user.as_deref() == Some("u1"))
    );
    assert_eq!(
        ev_b[1],
        UaEvent::Confirmed {
            session: b,
            body: None
        }
    );
    assert_eq!(net.count("ACK"), 1);
    net.uas[0].hangup(net.now, a).expect("hangup");
    net.advance(Duration::from_millis(10));
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::LocalHangup
        })
    );
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::RemoteHangup
        })
    );
    assert_eq!(
        net.uas[0].sessions().count() + net.uas[1].sessions().count(),
        0
    );
    // Nothing left to do but the transactions' own timers.
    net.advance(Duration::from_secs(40));
    assert_eq!(net.uas[0].poll_timeout(), None);
    assert_eq!(net.uas[1].poll_timeout(), None);
}

#[test]
fn bye_from_callee() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    net.uas[1].hangup(net.now, b).expect("hangup");
    net.advance(Duration::from_millis(10));
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::RemoteHangup
        })
    );
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::LocalHangup
        })
    );
    let bye = net
        .log
        .iter()
        .find(|(_, _, t)| t.starts_with("BYE"))
        .expect("BYE");
    assert!(
        bye.2.starts_with("BYE sip:u1@10.0.0.1:5060 SIP/2.0"),
        "{}",
        bye.2
    );
}

#[test]
fn uas_retransmits_2xx_until_ack() {
    let mut net = Net::pair();
    let mut acks_dropped = 0;
    net.drop = Box::new(move |t| {
        if t.starts_with("ACK") && acks_dropped < 3 {
            acks_dropped += 1;
            return true;
        }
        false
    });
    let (_, b) = connected(&mut net);
    // 200 at 0, then T1 (0.5 s), 1.5 s (2*T1 later), 3.5 s: the 4th ACK passes.
    net.advance(Duration::from_secs(10));
    assert_eq!(net.count("SIP/2.0 200"), 4);
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Confirmed {
            session: b,
            body: None
        })
    );
    net.advance(Duration::from_secs(30));
    assert_eq!(
        net.count("SIP/2.0 200"),
        4,
        "no retransmission after the ACK"
    );
}

#[test]
fn uas_gives_up_after_64_t1_and_sends_bye() {
    let mut net = Net::pair();
    net.drop = Box::new(|t| t.starts_with("ACK"));
    let (a, b) = connected(&mut net);
    net.advance(Duration::from_secs(31));
    assert!(
        net.uas[1].sessions().any(|s| s == b),
        "still waiting at 31 s"
    );
    net.advance(Duration::from_secs(2));
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::NoAck
        })
    );
    // Sent at 0, 0.5, 1.5, 3.5, then every T2 (4 s) until 64*T1 = 32 s.
    assert_eq!(net.count("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1"), 11);
    assert!(net.events_of(0).contains(&UaEvent::Terminated {
        session: a,
        reason: EndReason::RemoteHangup
    }));
}

#[test]
fn caller_cancels_before_answer() {
    let mut net = Net::pair();
    let a = net.uas[0]
        .call(net.now, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    net.uas[0].hangup(net.now, a).expect("cancel");
    net.advance(Duration::from_millis(10));
    assert_eq!(net.count("CANCEL"), 1);
    assert_eq!(net.count("SIP/2.0 487"), 1);
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::Cancelled
        })
    );
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::RemoteCancelled
        })
    );
    assert_eq!(
        net.uas[1].answer(net.now, b, None),
        Err(UaError::NoSuchSession(b))
    );
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut net = Net::pair();
    let mut held = true;
    // Lose the first provisional (the 100 Trying): hangup comes before any 1xx.
    net.drop = Box::new(move |t| {
        if t.starts_with("SIP/2.0 1") && held {
            held = false;
            return true;
        }
        false
    });
    net.uas[1].config.auto_ringing = false;
    let a = net.uas[0].call(net.now, callee_uri(), None).expect("call");
    net.advance(Duration::from_millis(10));
    net.uas[0].hangup(net.now, a).expect("hangup");
    net.advance(Duration::from_millis(10));
    assert_eq!(
        net.count("CANCEL"),
        0,
        "no CANCEL before a provisional (§9.1)"
    );
    // The INVITE retransmission at T1 draws a 100 Trying: now CANCEL goes.
    net.advance(Duration::from_secs(1));
    assert_eq!(net.count("CANCEL"), 1);
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::Cancelled
        })
    );
}

#[test]
fn busy_callee() {
    let mut net = Net::pair();
    let a = net.uas[0].call(net.now, callee_uri(), None).expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    net.uas[1]
        .reject(net.now, b, StatusCode::BUSY_HERE)
        .expect("reject");
    net.advance(Duration::from_millis(10));
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::Rejected(StatusCode::BUSY_HERE)
        })
    );
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::Declined(StatusCode::BUSY_HERE)
        })
    );
    assert_eq!(net.count("ACK"), 1, "the transaction layer ACKs the 486");
}

#[test]
fn reinvite_hold_and_resume() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    for (offer, answer) in [("sendonly", "recvonly"), ("sendrecv", "sendrecv")] {
        net.uas[0]
            .reinvite(net.now, a, Some(sdp(offer)))
            .expect("re-INVITE");
        net.advance(Duration::from_millis(10));
        let reoffer = net.events_of(1).pop().expect("reoffer");
        assert!(
            matches!(&reoffer, UaEvent::Reoffer { session, body: Some(body) }
            if *session == b && String::from_utf8_lossy(&body.data).contains(offer))
        );
        net.uas[1]
            .answer(net.now, b, Some(sdp(answer)))
            .expect("answer");
        net.advance(Duration::from_millis(10));
        let updated = net.events_of(0).pop().expect("updated");
        assert!(
            matches!(&updated, UaEvent::Updated { session, body: Some(body) }
            if *session == a && String::from_utf8_lossy(&body.data).contains(answer))
        );
    }
    assert_eq!(net.count("INVITE sip:u2@10.0.0.2:5060 SIP/2.0"), 3);
    // The re-INVITEs carry increasing CSeq numbers.
    assert_eq!(net.count("ACK"), 3);
    net.advance(Duration::from_secs(5));
    assert_eq!(net.count("SIP/2.0 200"), 3, "every 2xx was ACKed once");
}

#[test]
fn invite_is_retried_with_proxy_credentials() {
    let mut net = Net::new(vec![config(1, PROXY), config(2, PROXY)]);
    let a = net.uas[0]
        .call(
            net.now,
            Uri::parse("sip:u2@example.com").expect("uri"),
            Some(sdp("sendrecv")),
        )
        .expect("call");
    net.advance(Duration::from_millis(10));
    assert_eq!(net.proxy.challenges, 1);
    let b = net.incoming(1);
    net.uas[1].answer(net.now, b, None).expect("answer");
    net.advance(Duration::from_millis(10));
    assert!(net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == a)));
    let invites: Vec<_> = net
        .log
        .iter()
        .filter(|(_, _, t)| t.starts_with("INVITE"))
        .collect();
    assert!(invites[0].2.contains("CSeq: 1 INVITE"));
    assert!(
        invites[1].2.contains("CSeq: 2 INVITE")
            && invites[1].2.contains("Proxy-Authorization: Digest")
    );
}

#[test]
fn invite_with_wrong_password_fails_once() {
    let mut cfg = config(1, PROXY);
    cfg.credentials = Some(Credentials {
        username: "u1".into(),
        password: "nope".into(),
    });
    let mut net = Net::new(vec![cfg, config(2, PROXY)]);
    let a = net.uas[0]
        .call(
            net.now,
            Uri::parse("sip:u2@example.com").expect("uri"),
            None,
        )
        .expect("call");
    net.advance(Duration::from_secs(1));
    assert_eq!(net.proxy.challenges, 2);
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::Rejected(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        })
    );
}

#[test]
fn dtmf_info_and_blind_transfer() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    net.uas[0]
        .send_dtmf_info(net.now, a, '5', 160)
        .expect("info");
    net.advance(Duration::from_millis(10));
    assert!(net.events_of(1).contains(&UaEvent::Dtmf {
        session: b,
        digit: '5',
        duration_ms: 160
    }));
    let target = Uri::parse("sip:u3@example.com").expect("uri");
    net.uas[0].refer(net.now, a, &target).expect("refer");
    net.advance(Duration::from_millis(10));
    assert!(net
        .events_of(1)
        .contains(&UaEvent::TransferRequested { session: b, target }));
    net.uas[1]
        .notify_transfer(net.now, b, StatusCode::OK)
        .expect("notify");
    net.advance(Duration::from_millis(10));
    let progress: Vec<StatusCode> = net
        .events_of(0)
        .into_iter()
        .filter_map(|e| match e {
            UaEvent::TransferProgress { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(
        progress,
        [StatusCode::ACCEPTED, StatusCode::TRYING, StatusCode::OK]
    );
}

#[test]
fn stale_in_dialog_cseq_gets_500() {
    let mut net = Net::pair();
    let (_, _) = connected(&mut net);
    // Replay A's ACK as an INFO with CSeq 1 (the INVITE's): lower than allowed.
    let ack = net
        .log
        .iter()
        .find(|(_, _, t)| t.starts_with("ACK"))
        .expect("ack")
        .2
        .clone();
    let info = ack
        .replacen("ACK ", "INFO ", 1)
        .replace("CSeq: 1 ACK", "CSeq: 1 INFO");
    let msg = SipMessage::parse(Bytes::from(info)).expect("parses");
    let now = net.now;
    net.uas[1].handle_message(now, msg, crate::Peer::udp(addr(1)));
    net.advance(Duration::from_millis(10));
    assert_eq!(net.count("SIP/2.0 500"), 1);
}

#[test]
fn cancel_crossing_the_2xx_ends_with_ack_and_bye() {
    let mut net = Net::pair();
    let a = net.uas[0]
        .call(net.now, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    // Both act at the same instant: the CANCEL and the 200 cross (§9.1).
    net.uas[0].hangup(net.now, a).expect("cancel");
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer");
    net.advance(Duration::from_millis(10));
    assert_eq!(net.count("CANCEL"), 1);
    assert_eq!(
        net.count("SIP/2.0 487"),
        0,
        "the INVITE was already answered"
    );
    assert_eq!(net.count("ACK"), 1);
    assert_eq!(net.count("BYE"), 1);
    assert!(!net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::RemoteHangup
        })
    );
    assert!(matches!(
        net.events_of(0).last(),
        Some(UaEvent::Terminated { session, .. }) if *session == a
    ));
}

#[test]
fn a_2xx_after_the_session_ended_is_acked_and_closed() {
    let mut net = Net::pair();
    let a = net.uas[0].call(net.now, callee_uri(), None).expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    net.uas[1].answer(net.now, b, None).expect("answer");
    // A's session is forgotten before the 200 arrives (e.g. a fork's
    // other branch already failed it): the answer must not leak a dialog.
    net.uas[0].sessions.remove(&a);
    net.advance(Duration::from_millis(10));
    assert_eq!(net.count("ACK"), 1);
    assert_eq!(net.count("BYE"), 1);
    assert_eq!(
        net.events_of(1).last(),
        Some(&UaEvent::Terminated {
            session: b,
            reason: EndReason::RemoteHangup
        })
    );
}

#[test]
fn a_second_forked_2xx_is_acked_and_closed() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    // The same 200 from another fork: a different To tag.
    let ok = net
        .log
        .iter()
        .find(|(_, _, t)| t.starts_with("SIP/2.0 200") && t.contains("INVITE"))
        .expect("200")
        .2
        .clone();
    let tag = net.uas[1]
        .sessions
        .get(&b)
        .expect("session")
        .local_tag
        .clone();
    let forked = ok.replace(&format!("tag={tag}"), "tag=fork2");
    let msg = SipMessage::parse(Bytes::from(forked)).expect("parses");
    let now = net.now;
    net.uas[0].handle_message(now, msg, crate::Peer::udp(addr(3)));
    net.advance(Duration::from_millis(10));
    let to_fork: Vec<_> = net
        .log
        .iter()
        .filter(|(_, _, t)| t.contains("tag=fork2") && !t.starts_with("SIP/2.0"))
        .map(|(_, _, t)| t.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(to_fork, ["ACK", "BYE"]);
    // The first dialog is untouched.
    assert_eq!(
        net.events_of(0)
            .iter()
            .filter(|e| matches!(e, UaEvent::Answered { .. }))
            .count(),
        1
    );
    assert!(net.uas[0].sessions().any(|s| s == a));
}
