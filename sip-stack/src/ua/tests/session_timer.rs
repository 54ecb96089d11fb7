//! Session timers (RFC 4028) between two user agents in virtual time.

use super::*;

fn callee_uri() -> Uri {
    Uri::parse("sip:u2@10.0.0.2:5060").expect("uri")
}

/// A (asking for `secs` session timers) calls B (no preference); B answers.
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

fn net_with_timer(secs: u64) -> Net {
    let mut a = config(1, 2);
    a.session_expires = Some(Duration::from_secs(secs));
    a.outbound_proxy = None;
    let mut b = config(2, 1);
    b.outbound_proxy = None;
    Net::new(vec![a, b])
}

fn terminated(net: &Net, i: usize) -> Option<EndReason> {
    net.events_of(i).into_iter().find_map(|e| match e {
        UaEvent::Terminated { reason, .. } => Some(reason),
        _ => None,
    })
}

#[test]
fn negotiated_in_invite_and_2xx() {
    let mut net = net_with_timer(120);
    connected(&mut net);
    let invite = net
        .log
        .iter()
        .find(|l| l.2.starts_with("INVITE"))
        .expect("INVITE");
    assert!(
        invite.2.contains("Session-Expires: 120\r\n"),
        "{}",
        invite.2
    );
    assert!(invite.2.contains("Supported: timer"));
    let ok = net
        .log
        .iter()
        .find(|l| l.2.starts_with("SIP/2.0 200") && l.2.contains("INVITE"))
        .expect("2xx");
    assert!(
        ok.2.contains("Session-Expires: 120;refresher=uac"),
        "{}",
        ok.2
    );
    assert!(ok.2.contains("Require: timer"));
}

#[test]
fn refresher_keeps_the_call_alive_with_update() {
    let mut net = net_with_timer(90);
    connected(&mut net);
    // Four intervals: the caller refreshes every 45 s.
    for _ in 0..36 {
        net.advance(Duration::from_secs(10));
    }
    assert!(net.count("UPDATE") >= 7, "updates: {}", net.count("UPDATE"));
    assert_eq!(terminated(&net, 0), None);
    assert_eq!(terminated(&net, 1), None);
    // Refreshes are not re-offers: the application hears nothing of them.
    assert!(!net
        .events_of(1)
        .iter()
        .any(|e| matches!(e, UaEvent::Reoffer { .. })));
}

#[test]
fn missing_refresh_ends_the_call_with_bye() {
    let mut net = net_with_timer(90);
    connected(&mut net);
    // The refresher's UPDATEs are lost: B ends the call at 90 - 30 s.
    net.drop = Box::new(|m| m.starts_with("UPDATE"));
    for _ in 0..7 {
        net.advance(Duration::from_secs(10));
    }
    assert_eq!(terminated(&net, 1), Some(EndReason::SessionExpired));
    assert_eq!(terminated(&net, 0), Some(EndReason::RemoteHangup));
}

#[test]
fn refresh_by_reinvite_when_update_is_not_allowed() {
    let mut net = net_with_timer(90);
    // B's 2xx is seen without UPDATE in Allow: A must refresh by re-INVITE.
    net.drop = Box::new(|_| false);
    let a = net.uas[0]
        .call(net.now, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer");
    net.advance(Duration::from_millis(10));
    if let Some(s) = net.uas[0].sessions.get_mut(&a) {
        if let Some(t) = s.timer.as_mut() {
            t.peer_update = false;
        }
    }
    net.advance(Duration::from_secs(46));
    // B sees the refresh as a re-INVITE and answers it like any other.
    assert!(net
        .events_of(1)
        .iter()
        .any(|e| matches!(e, UaEvent::Reoffer { .. })));
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer refresh");
    net.advance(Duration::from_millis(10));
    // A's application hears nothing of its own refresh.
    assert!(!net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Updated { .. })));
    // B's answer restarted its interval: 40 s later (past the first
    // interval's end) the call is still up.
    net.advance(Duration::from_secs(40));
    assert_eq!(terminated(&net, 0), None);
    assert_eq!(terminated(&net, 1), None);
}

#[test]
fn too_short_interval_gets_422_and_unknown_require_420() {
    let mut net = net_with_timer(120);
    let mut invite = Request::new(Method::Invite, callee_uri());
    let h = &mut invite.headers;
    h.push(Header::new(
        HeaderName::Via,
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx1",
    ));
    h.push(Header::new(HeaderName::From, "<sip:u1@example.com>;tag=a"));
    h.push(Header::new(HeaderName::To, "<sip:u2@example.com>"));
    h.push(Header::new(HeaderName::CallId, "st1"));
    h.push(Header::new(HeaderName::CSeq, "1 INVITE"));
    h.push(Header::new(HeaderName::MaxForwards, "70"));
    h.push(Header::new(HeaderName::Contact, "<sip:u1@10.0.0.1>"));
    let mut short = invite.clone();
    short.headers.push(Header::new(
        HeaderName::Other("Session-Expires".into()),
        "30",
    ));
    net.uas[1].handle_message(net.now, SipMessage::Request(short), Peer::udp(addr(1)));
    let mut reliable = invite;
    reliable.headers.remove_all(&HeaderName::Via);
    reliable.headers.push_front(Header::new(
        HeaderName::Via,
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx2",
    ));
    reliable.headers.remove_all(&HeaderName::CallId);
    reliable
        .headers
        .push(Header::new(HeaderName::CallId, "st2"));
    reliable
        .headers
        .push(Header::new(HeaderName::Require, "100rel, foo"));
    net.uas[1].handle_message(net.now, SipMessage::Request(reliable), Peer::udp(addr(1)));
    let mut sent = Vec::new();
    while let Some(o) = net.uas[1].poll_output() {
        if let Output::Transmit { data, .. } = o {
            sent.push(String::from_utf8_lossy(&data).into_owned());
        }
    }
    assert!(sent
        .iter()
        .any(|m| m.starts_with("SIP/2.0 422") && m.contains("Min-SE: 90")));
    assert!(sent
        .iter()
        .any(|m| m.starts_with("SIP/2.0 420") && m.contains("Unsupported: foo\r\n")));
    assert!(net.events_of(1).is_empty());
}
