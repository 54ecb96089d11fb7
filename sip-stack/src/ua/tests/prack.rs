//! Reliable provisional responses (RFC 3262) in both roles, driven by
//! crafted messages so every header can be checked.

use super::*;

fn drain(ua: &mut UserAgent) -> Vec<String> {
    let mut sent = Vec::new();
    while let Some(o) = ua.poll_output() {
        if let Output::Transmit { data, .. } = o {
            sent.push(String::from_utf8_lossy(&data).into_owned());
        }
    }
    sent
}

fn invite(require: &str) -> Request {
    let mut invite = Request::new(
        Method::Invite,
        Uri::parse("sip:u2@10.0.0.2:5060").expect("uri"),
    );
    let h = &mut invite.headers;
    h.push(Header::new(
        HeaderName::Via,
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp1",
    ));
    h.push(Header::new(HeaderName::From, "<sip:u1@example.com>;tag=a"));
    h.push(Header::new(HeaderName::To, "<sip:u2@example.com>"));
    h.push(Header::new(HeaderName::CallId, "rel1"));
    h.push(Header::new(HeaderName::CSeq, "1 INVITE"));
    h.push(Header::new(HeaderName::MaxForwards, "70"));
    h.push(Header::new(HeaderName::Contact, "<sip:u1@10.0.0.1>"));
    h.push(Header::new(HeaderName::Require, require.to_owned()));
    invite
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

#[test]
fn uas_sends_reliable_provisionals_until_prack() {
    let mut cfg = config(2, 1);
    cfg.outbound_proxy = None;
    let mut ua = UserAgent::new(cfg);
    let t0 = Instant::now();
    let peer = Peer::udp(addr(1));
    ua.handle_message(t0, SipMessage::Request(invite("100rel")), peer);
    let sent = drain(&mut ua);
    let ringing = sent
        .iter()
        .find(|m| m.starts_with("SIP/2.0 180"))
        .expect("180");
    assert_eq!(header(ringing, "Require"), Some("100rel"));
    let rseq: u32 = header(ringing, "RSeq")
        .expect("RSeq")
        .parse()
        .expect("number");
    let to = header(ringing, "To").expect("To").to_owned();
    // No PRACK: the 180 is re-sent at T1, then 2*T1.
    ua.handle_timeout(t0 + Duration::from_millis(500));
    assert!(drain(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 180")));
    ua.handle_timeout(t0 + Duration::from_millis(1500));
    assert!(drain(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 180")));
    // A second provisional waits for the PRACK of the first.
    let session = ua.sessions().next().expect("session");
    assert!(ua
        .progress(t0, session, StatusCode::SESSION_PROGRESS, None)
        .is_err());
    // A PRACK with the wrong RSeq gets 481, the right one 200.
    let prack = |rseq: u32, branch: &str| {
        let mut p = Request::new(Method::Prack, Uri::parse("sip:u2@10.0.0.2").expect("uri"));
        let h = &mut p.headers;
        h.push(Header::new(
            HeaderName::Via,
            format!("SIP/2.0/UDP 10.0.0.1:5060;branch={branch}"),
        ));
        h.push(Header::new(HeaderName::From, "<sip:u1@example.com>;tag=a"));
        h.push(Header::new(HeaderName::To, to.clone()));
        h.push(Header::new(HeaderName::CallId, "rel1"));
        h.push(Header::new(HeaderName::CSeq, "2 PRACK"));
        h.push(Header::new(HeaderName::MaxForwards, "70"));
        h.push(Header::new(
            HeaderName::Other("RAck".into()),
            format!("{rseq} 1 INVITE"),
        ));
        SipMessage::Request(p)
    };
    let t = t0 + Duration::from_millis(1600);
    ua.handle_message(t, prack(rseq + 7, "z9hG4bKpr1"), peer);
    assert!(drain(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 481")));
    ua.handle_message(t, prack(rseq, "z9hG4bKpr2"), peer);
    assert!(drain(&mut ua)
        .iter()
        .any(|m| m.starts_with("SIP/2.0 200") && m.contains("PRACK")));
    // Acknowledged: no more retransmissions; the next 18x is reliable with RSeq + 1.
    ua.handle_timeout(t0 + Duration::from_secs(5));
    assert!(!drain(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 180")));
    ua.progress(t, session, StatusCode::SESSION_PROGRESS, None)
        .expect("second provisional");
    let sent = drain(&mut ua);
    let progress = sent
        .iter()
        .find(|m| m.starts_with("SIP/2.0 183"))
        .expect("183");
    assert_eq!(
        header(progress, "RSeq"),
        Some((rseq + 1).to_string().as_str())
    );
}

#[test]
fn uas_gives_up_with_504_without_prack() {
    let mut cfg = config(2, 1);
    cfg.outbound_proxy = None;
    let mut ua = UserAgent::new(cfg);
    let t0 = Instant::now();
    ua.handle_message(
        t0,
        SipMessage::Request(invite("100rel")),
        Peer::udp(addr(1)),
    );
    let mut t = t0;
    let mut sent = Vec::new();
    while t < t0 + Duration::from_secs(40) {
        t += Duration::from_millis(250);
        ua.handle_timeout(t);
        sent.extend(drain(&mut ua));
    }
    assert!(
        sent.iter().any(|m| m.starts_with("SIP/2.0 504")),
        "{sent:?}"
    );
}

#[test]
fn uac_acknowledges_reliable_provisionals_once() {
    let mut net = Net::pair();
    net.uas[0].config.outbound_proxy = None;
    let a = net.uas[0]
        .call(
            net.now,
            Uri::parse("sip:u2@10.0.0.2:5060").expect("uri"),
            Some(sdp("sendrecv")),
        )
        .expect("call");
    let sent = drain(&mut net.uas[0]);
    let invite_text = sent
        .iter()
        .find(|m| m.starts_with("INVITE"))
        .expect("INVITE");
    assert!(invite_text.contains("Supported: 100rel"), "{invite_text}");
    let invite = match SipMessage::parse(Bytes::from(invite_text.clone())).expect("parse") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!("an INVITE was sent"),
    };
    let mut progress = Response::for_request(&invite, StatusCode::SESSION_PROGRESS, Some("b1"));
    progress
        .headers
        .push(Header::new(HeaderName::Contact, "<sip:u2@10.0.0.2:5060>"));
    progress
        .headers
        .push(Header::new(HeaderName::Require, "100rel"));
    progress
        .headers
        .push(Header::new(HeaderName::Other("RSeq".into()), "41"));
    progress
        .headers
        .push(Header::new(HeaderName::ContentType, "application/sdp"));
    progress.body = sdp("sendrecv").data;
    let peer = Peer::udp(addr(2));
    let mut sent = Vec::new();
    let mut early = 0;
    for _ in 0..2 {
        net.uas[0].handle_message(net.now, SipMessage::Response(progress.clone()), peer);
        while let Some(o) = net.uas[0].poll_output() {
            match o {
                Output::Transmit { data, .. } => {
                    sent.push(String::from_utf8_lossy(&data).into_owned())
                }
                Output::Event(UaEvent::EarlyMedia { session, .. }) if session == a => early += 1,
                Output::Event(_) => {}
            }
        }
    }
    let pracks: Vec<&String> = sent.iter().filter(|m| m.starts_with("PRACK")).collect();
    assert_eq!(pracks.len(), 1, "{sent:?}");
    assert_eq!(header(pracks[0], "RAck"), Some("41 1 INVITE"));
    // The retransmitted 183 is neither acknowledged nor reported again.
    assert_eq!(early, 1);
}
