//! UPDATE with an offer (RFC 3311) in confirmed and early dialogs, in
//! virtual time: surfaced as a re-offer, answered or refused through
//! `answer`/`reject`, glare answered 491 / 500 (§5.2).

use super::*;
use crate::ua::helpers::set_body;

fn callee_uri() -> Uri {
    Uri::parse("sip:u2@10.0.0.2:5060").expect("uri")
}

/// A calls B; B answers.
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

/// UA `i` sends an UPDATE carrying `body` in session `id`'s dialog.
fn send_update(net: &mut Net, i: usize, id: SessionId, body: Body) {
    let now = net.now;
    let ua = &mut net.uas[i];
    let dialog = ua
        .sessions
        .get_mut(&id)
        .and_then(|s| s.dialog.as_mut())
        .expect("a dialog");
    let mut req = dialog.request(Method::Update);
    set_body(&mut req.headers, &mut req.body, Some(body));
    ua.send_in_dialog(now, id, req).expect("UPDATE sent");
    ua.pump(now);
    net.advance(Duration::from_millis(10));
}

/// Final responses to UPDATE delivered so far.
fn update_responses(net: &Net) -> Vec<String> {
    net.log
        .iter()
        .map(|l| l.2.clone())
        .filter(|m| m.starts_with("SIP/2.0 ") && !m.starts_with("SIP/2.0 1"))
        .filter(|m| {
            m.lines()
                .any(|l| l.starts_with("CSeq: ") && l.ends_with(" UPDATE"))
        })
        .collect()
}

fn reoffers(net: &Net, i: usize) -> Vec<Option<Body>> {
    net.events_of(i)
        .into_iter()
        .filter_map(|e| match e {
            UaEvent::Reoffer { body, .. } => Some(body),
            _ => None,
        })
        .collect()
}

fn terminated(net: &Net, i: usize) -> bool {
    net.events_of(i)
        .iter()
        .any(|e| matches!(e, UaEvent::Terminated { .. }))
}

#[test]
fn confirmed_update_offer_is_answered_with_the_answer_sdp() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    send_update(&mut net, 0, a, sdp("sendonly"));
    let offers = reoffers(&net, 1);
    assert_eq!(offers.len(), 1, "{offers:?}");
    let offer = offers[0].as_ref().expect("the offer");
    assert!(String::from_utf8_lossy(&offer.data).contains("a=sendonly"));
    assert!(
        update_responses(&net).is_empty(),
        "no answer before the app's"
    );

    net.uas[1]
        .answer(net.now, b, Some(sdp("recvonly")))
        .expect("answer the UPDATE");
    net.advance(Duration::from_millis(10));
    let responses = update_responses(&net);
    assert_eq!(responses.len(), 1, "{responses:?}");
    let ok = &responses[0];
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(
        ok.contains("a=recvonly") && ok.contains("Content-Type: application/sdp"),
        "{ok}"
    );
    assert!(ok.contains("Contact: "), "{ok}");
    assert!(!terminated(&net, 0) && !terminated(&net, 1));
    // No ACK for an UPDATE, and the INVITE session is untouched: a later
    // re-INVITE still works as before.
    assert_eq!(net.count("ACK"), 1);
    net.uas[0]
        .reinvite(net.now, a, Some(sdp("sendrecv")))
        .expect("re-INVITE after the UPDATE");
    net.advance(Duration::from_millis(10));
    assert_eq!(reoffers(&net, 1).len(), 2);
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer the re-INVITE");
    net.advance(Duration::from_millis(10));
    assert!(net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Updated { body: Some(_), .. })));
}

#[test]
fn rejected_update_keeps_the_session() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    send_update(&mut net, 0, a, sdp("sendonly"));
    net.uas[1]
        .reject(net.now, b, StatusCode::NOT_ACCEPTABLE_HERE)
        .expect("reject the UPDATE");
    net.advance(Duration::from_millis(10));
    let responses = update_responses(&net);
    assert!(responses[0].starts_with("SIP/2.0 488"), "{responses:?}");
    assert!(net.events_of(0).iter().any(|e| matches!(
        e,
        UaEvent::RequestFailed { method: Method::Update, status, .. } if *status == StatusCode::NOT_ACCEPTABLE_HERE
    )));
    assert!(!terminated(&net, 0) && !terminated(&net, 1));
    // Nothing is pending any more.
    assert!(net.uas[1].answer(net.now, b, None).is_err());
}

#[test]
fn update_offer_glare_gets_491_and_500() {
    let mut net = Net::pair();
    let (a, b) = connected(&mut net);
    // B has a re-INVITE of its own outstanding: A's UPDATE offer gets 491.
    net.uas[1]
        .reinvite(net.now, b, Some(sdp("sendonly")))
        .expect("B re-INVITEs");
    net.advance(Duration::from_millis(10));
    send_update(&mut net, 0, a, sdp("sendonly"));
    let responses = update_responses(&net);
    assert!(responses[0].starts_with("SIP/2.0 491"), "{responses:?}");
    assert!(reoffers(&net, 1).is_empty());
    net.uas[0]
        .answer(net.now, a, Some(sdp("recvonly")))
        .expect("A answers B's re-INVITE");
    net.advance(Duration::from_millis(10));

    // A's UPDATE offer is pending at B: a second UPDATE offer and a
    // re-INVITE get 500 with Retry-After; A may not re-INVITE either way.
    send_update(&mut net, 0, a, sdp("sendonly"));
    assert_eq!(reoffers(&net, 1).len(), 1);
    send_update(&mut net, 0, a, sdp("inactive"));
    let responses = update_responses(&net);
    let last = responses.last().expect("a response");
    assert!(last.starts_with("SIP/2.0 500"), "{responses:?}");
    let retry: u32 = last
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .expect("seconds");
    assert!(retry <= 10);
    assert!(net.uas[1]
        .reinvite(net.now, b, Some(sdp("sendonly")))
        .is_err());
    net.uas[0]
        .reinvite(net.now, a, Some(sdp("sendrecv")))
        .expect("A re-INVITEs");
    net.advance(Duration::from_millis(10));
    assert!(
        net.log
            .iter()
            .any(|l| l.2.starts_with("SIP/2.0 500") && l.2.contains(" INVITE\r\n")),
        "re-INVITE during a pending UPDATE offer: 500"
    );
    // The pending UPDATE is still answered normally.
    net.uas[1]
        .answer(net.now, b, Some(sdp("recvonly")))
        .expect("answer the UPDATE");
    net.advance(Duration::from_millis(10));
    let ok = update_responses(&net);
    assert!(
        ok.last()
            .is_some_and(|m| m.starts_with("SIP/2.0 200") && m.contains("a=recvonly")),
        "{ok:?}"
    );
    assert!(!terminated(&net, 0) && !terminated(&net, 1));
}

fn drain(ua: &mut UserAgent) -> Vec<String> {
    let mut sent = Vec::new();
    while let Some(o) = ua.poll_output() {
        if let Output::Transmit { data, .. } = o {
            sent.push(String::from_utf8_lossy(&data).into_owned());
        }
    }
    sent
}

/// A provisional response from the callee (tag `b`) to `invite`.
fn provisional(
    invite: &Request,
    status: StatusCode,
    reliable: bool,
    body: Option<Body>,
) -> Response {
    let mut resp = Response::for_request(invite, status, Some("b"));
    resp.headers
        .push(Header::new(HeaderName::Contact, "<sip:u2@10.0.0.2>"));
    if reliable {
        resp.headers
            .push(Header::new(HeaderName::Require, "100rel"));
        resp.headers
            .push(Header::new(HeaderName::Other("RSeq".into()), "7"));
    }
    set_body(&mut resp.headers, &mut resp.body, body);
    resp
}

/// An UPDATE from the callee in the early dialog of `invite`.
fn early_update(invite: &Request, branch: &str, seq: u32, body: Body) -> Request {
    let mut req = Request::new(Method::Update, Uri::parse("sip:u1@10.0.0.1").expect("uri"));
    let h = &mut req.headers;
    h.push(Header::new(
        HeaderName::Via,
        format!("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK{branch}"),
    ));
    h.push(Header::new(
        HeaderName::From,
        "<sip:u2@10.0.0.2:5060>;tag=b",
    ));
    h.push(Header::new(
        HeaderName::To,
        invite
            .headers
            .get_str(&HeaderName::From)
            .expect("From")
            .to_owned(),
    ));
    h.push(Header::new(
        HeaderName::CallId,
        invite.call_id().expect("Call-ID").to_owned(),
    ));
    h.push(Header::new(HeaderName::CSeq, format!("{seq} UPDATE")));
    h.push(Header::new(HeaderName::MaxForwards, "70"));
    h.push(Header::new(HeaderName::Contact, "<sip:u2@10.0.0.2>"));
    set_body(&mut req.headers, &mut req.body, Some(body));
    req
}

#[test]
fn early_dialog_update_after_a_reliable_early_answer() {
    let mut cfg = config(1, 2);
    cfg.outbound_proxy = None;
    let mut ua = UserAgent::new(cfg);
    let t0 = Instant::now();
    let peer = Peer::udp(addr(2));
    let a = ua
        .call(t0, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    let sent = drain(&mut ua);
    let invite = match SipMessage::parse(Bytes::from(sent[0].clone())) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not the INVITE: {other:?}"),
    };

    // A 180 without an answer: our offer is outstanding, UPDATE gets 491.
    let ringing = provisional(&invite, StatusCode::RINGING, false, None);
    ua.handle_message(t0, SipMessage::Response(ringing), peer);
    ua.handle_message(
        t0,
        SipMessage::Request(early_update(&invite, "u1", 1, sdp("sendonly"))),
        peer,
    );
    let sent = drain(&mut ua);
    assert!(
        sent.iter().any(|m| m.starts_with("SIP/2.0 491")),
        "{sent:?}"
    );

    // A reliable 183 with the answer: PRACKed, then UPDATE offers flow.
    let progress = provisional(
        &invite,
        StatusCode::SESSION_PROGRESS,
        true,
        Some(sdp("sendrecv")),
    );
    ua.handle_message(t0, SipMessage::Response(progress), peer);
    let sent = drain(&mut ua);
    assert!(sent.iter().any(|m| m.starts_with("PRACK")), "{sent:?}");
    ua.handle_message(
        t0,
        SipMessage::Request(early_update(&invite, "u2", 2, sdp("sendonly"))),
        peer,
    );
    let mut reoffer = None;
    while let Some(o) = ua.poll_output() {
        if let Output::Event(UaEvent::Reoffer { session, body }) = o {
            reoffer = Some((session, body));
        }
    }
    let (session, body) = reoffer.expect("the early UPDATE surfaces as a re-offer");
    assert_eq!(session, a);
    assert!(body.is_some_and(|b| String::from_utf8_lossy(&b.data).contains("a=sendonly")));
    ua.answer(t0, a, Some(sdp("recvonly")))
        .expect("answer the UPDATE");
    let sent = drain(&mut ua);
    assert!(
        sent.iter().any(|m| m.starts_with("SIP/2.0 200")
            && m.contains(" UPDATE\r\n")
            && m.contains("a=recvonly")),
        "{sent:?}"
    );
}

/// A request from the caller (tag `a`) in the early dialog of an incoming
/// INVITE `rel-up` whose To tag is `to`.
fn from_caller(method: Method, to: &str, seq: u32, branch: &str) -> Request {
    let mut req = Request::new(method.clone(), Uri::parse("sip:u2@10.0.0.2").expect("uri"));
    let h = &mut req.headers;
    h.push(Header::new(
        HeaderName::Via,
        format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}"),
    ));
    h.push(Header::new(HeaderName::From, "<sip:u1@example.com>;tag=a"));
    h.push(Header::new(HeaderName::To, to.to_owned()));
    h.push(Header::new(HeaderName::CallId, "rel-up"));
    h.push(Header::new(HeaderName::CSeq, format!("{seq} {method}")));
    h.push(Header::new(HeaderName::MaxForwards, "70"));
    h.push(Header::new(HeaderName::Contact, "<sip:u1@10.0.0.1>"));
    req
}

fn header_of<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

#[test]
fn uas_early_dialog_update_after_its_early_answer_is_pracked() {
    let mut cfg = config(2, 1);
    cfg.outbound_proxy = None;
    let mut ua = UserAgent::new(cfg);
    let t0 = Instant::now();
    let peer = Peer::udp(addr(1));
    let mut invite = from_caller(Method::Invite, "<sip:u2@example.com>", 1, "i1");
    invite
        .headers
        .push(Header::new(HeaderName::Require, "100rel"));
    set_body(&mut invite.headers, &mut invite.body, Some(sdp("sendrecv")));
    ua.handle_message(t0, SipMessage::Request(invite), peer);
    let sent = drain(&mut ua);
    let ringing = sent
        .iter()
        .find(|m| m.starts_with("SIP/2.0 180"))
        .expect("a reliable 180");
    let to = header_of(ringing, "To").expect("To").to_owned();
    let rseq: u32 = header_of(ringing, "RSeq")
        .and_then(|r| r.parse().ok())
        .expect("RSeq");
    let b = ua.sessions().next().expect("session");
    let prack = |rseq: u32, seq: u32, branch: &str| {
        let mut p = from_caller(Method::Prack, &to, seq, branch);
        p.headers.push(Header::new(
            HeaderName::Other("RAck".into()),
            format!("{rseq} 1 INVITE"),
        ));
        SipMessage::Request(p)
    };
    ua.handle_message(t0, prack(rseq, 2, "p1"), peer);
    drain(&mut ua);

    // The INVITE's offer is still unanswered: 500 with Retry-After.
    let mut update = from_caller(Method::Update, &to, 3, "u1");
    set_body(&mut update.headers, &mut update.body, Some(sdp("sendonly")));
    ua.handle_message(t0, SipMessage::Request(update.clone()), peer);
    let sent = drain(&mut ua);
    assert!(
        sent.iter()
            .any(|m| m.starts_with("SIP/2.0 500") && header_of(m, "Retry-After").is_some()),
        "{sent:?}"
    );

    // A reliable 183 with the answer, PRACKed: the next UPDATE offer is
    // a re-offer, answered apart from the still unanswered INVITE.
    ua.progress(t0, b, StatusCode::SESSION_PROGRESS, Some(sdp("sendrecv")))
        .expect("183");
    ua.handle_message(t0, prack(rseq + 1, 4, "p2"), peer);
    drain(&mut ua);
    let mut update = from_caller(Method::Update, &to, 5, "u2");
    set_body(&mut update.headers, &mut update.body, Some(sdp("sendonly")));
    ua.handle_message(t0, SipMessage::Request(update), peer);
    let mut reoffer = false;
    while let Some(o) = ua.poll_output() {
        if let Output::Event(UaEvent::Reoffer {
            session,
            body: Some(_),
        }) = o
        {
            reoffer = session == b;
        }
    }
    assert!(reoffer, "the early UPDATE surfaces as a re-offer");
    ua.answer(t0, b, Some(sdp("recvonly")))
        .expect("answer the UPDATE");
    let sent = drain(&mut ua);
    assert!(
        sent.iter().any(|m| m.starts_with("SIP/2.0 200")
            && header_of(m, "CSeq") == Some("5 UPDATE")
            && m.contains("a=recvonly")),
        "{sent:?}"
    );
    // The INVITE is still pending and answered next.
    ua.answer(t0, b, Some(sdp("recvonly")))
        .expect("answer the INVITE");
    let sent = drain(&mut ua);
    assert!(
        sent.iter()
            .any(|m| m.starts_with("SIP/2.0 200") && header_of(m, "CSeq") == Some("1 INVITE")),
        "{sent:?}"
    );
}
