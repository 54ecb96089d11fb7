//! Dialog creation, in-dialog requests and CSeq checks (RFC 3261 §12).

use bytes::Bytes;

use super::*;
use crate::message::{SipMessage, StatusCode};

fn parse(text: &str) -> SipMessage {
    SipMessage::parse(Bytes::from(text.replace('\n', "\r\n"))).expect("test message parses")
}

fn invite() -> Request {
    let SipMessage::Request(r) = parse(
        "INVITE sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\n\
         Max-Forwards: 70\n\
         From: Alice <sip:alice@example.com>;tag=a1\n\
         To: Bob <sip:bob@example.com>\n\
         Call-ID: c1\n\
         CSeq: 10 INVITE\n\
         Contact: <sip:alice@192.0.2.1:5070>\n\
         Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\n\n",
    ) else {
        unreachable!()
    };
    r
}

fn ok(req: &Request) -> Response {
    let mut r = Response::for_request(req, StatusCode::OK, Some("b1"));
    r.headers.push(crate::message::Header::new(
        HeaderName::RecordRoute,
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
    ));
    r.headers.push(crate::message::Header::new(
        HeaderName::Contact,
        "<sip:bob@192.0.2.2:5080>",
    ));
    r
}

#[test]
fn uac_dialog_from_2xx_reverses_record_route() {
    let req = invite();
    let d = Dialog::from_uac(&req, &ok(&req)).expect("dialog");
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.id.local_tag, "a1");
    assert_eq!(d.id.remote_tag, "b1");
    assert_eq!(d.remote_target.to_string(), "sip:bob@192.0.2.2:5080");
    let hosts: Vec<_> = d.route_set.iter().map(|r| r.uri.host.as_str()).collect();
    assert_eq!(hosts, ["p2.example.com", "p1.example.com"]);
    assert_eq!(d.local_seq, 10);
}

#[test]
fn uas_dialog_keeps_record_route_order_and_builds_bye() {
    let req = invite();
    let contact = NameAddr::parse("<sip:bob@192.0.2.2:5080>").expect("contact");
    let mut d = Dialog::from_uas(&req, "b1", contact, 1).expect("dialog");
    assert_eq!(d.route_set[0].uri.host, "p1.example.com");
    assert_eq!(d.remote_seq, Some(10));
    let bye = d.request(Method::Bye);
    assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5070");
    assert_eq!(bye.cseq().expect("cseq").seq, 2);
    assert_eq!(bye.from().expect("from").tag(), Some("b1"));
    assert_eq!(bye.to().expect("to").tag(), Some("a1"));
    assert_eq!(bye.to().expect("to").uri.user.as_deref(), Some("alice"));
    let routes = bye.headers.route_set(&HeaderName::Route).expect("routes");
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].uri.host, "p1.example.com");
    assert!(!bye.headers.contains(&HeaderName::Contact));
}

#[test]
fn early_dialog_from_1xx_confirmed_by_2xx() {
    let req = invite();
    let ringing = Response::for_request(&req, StatusCode::RINGING, Some("b1"));
    let mut ringing = ringing;
    ringing.headers.push(crate::message::Header::new(
        HeaderName::Contact,
        "<sip:bob@192.0.2.9>",
    ));
    let mut d = Dialog::from_uac(&req, &ringing).expect("early dialog");
    assert_eq!(d.state, DialogState::Early);
    assert!(d.route_set.is_empty());
    d.update_from_response(&ok(&req)).expect("confirm");
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.route_set.len(), 2);
    assert_eq!(d.remote_target.host, "192.0.2.2");
}

#[test]
fn non_dialog_responses_are_refused() {
    let req = invite();
    let busy = Response::for_request(&req, StatusCode::BUSY_HERE, Some("b1"));
    assert_eq!(
        Dialog::from_uac(&req, &busy),
        Err(DialogError::NotDialogCreating(486))
    );
    let trying = Response::for_request(&req, StatusCode::TRYING, None);
    assert_eq!(
        Dialog::from_uac(&req, &trying),
        Err(DialogError::NotDialogCreating(100))
    );
    let ringing = Response::for_request(&req, StatusCode::RINGING, None);
    assert_eq!(
        Dialog::from_uac(&req, &ringing),
        Err(DialogError::MissingTag("To"))
    );
}

#[test]
fn ack_reuses_invite_cseq_and_reinvite_carries_contact() {
    let req = invite();
    let mut d = Dialog::from_uac(&req, &ok(&req)).expect("dialog");
    let ack = d.ack(10);
    assert_eq!(ack.cseq().expect("cseq").seq, 10);
    assert_eq!(ack.cseq().expect("cseq").method, Method::Ack);
    assert_eq!(d.local_seq, 10, "ACK takes no new number");
    let re = d.request(Method::Invite);
    assert_eq!(re.cseq().expect("cseq").seq, 11);
    assert_eq!(
        re.headers.get_str(&HeaderName::Contact),
        Some("<sip:alice@192.0.2.1:5070>")
    );
    for m in [Method::Update, Method::Info, Method::Refer] {
        let r = d.request(m.clone());
        assert_eq!(r.method, m);
    }
    assert_eq!(d.local_seq, 14);
}

#[test]
fn strict_route_becomes_request_uri() {
    let req = invite();
    let mut d = Dialog::from_uac(&req, &ok(&req)).expect("dialog");
    d.route_set = vec![NameAddr::parse("<sip:strict.example.com>").expect("route")];
    let bye = d.request(Method::Bye);
    assert_eq!(bye.uri.host, "strict.example.com");
    let routes = bye.headers.route_set(&HeaderName::Route).expect("routes");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].uri.host, "192.0.2.2");
}

/// An in-dialog request as the peer (bob, tag b1) would send it to alice.
fn from_bob(method: &str, seq: u32, contact: &str) -> Request {
    let SipMessage::Request(r) = parse(&format!(
        "{method} sip:alice@192.0.2.1:5070 SIP/2.0\n\
         Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK{seq}\n\
         Max-Forwards: 70\n\
         From: <sip:bob@example.com>;tag=b1\n\
         To: <sip:alice@example.com>;tag=a1\n\
         Call-ID: c1\n\
         CSeq: {seq} {method}\n\
         Contact: <{contact}>\n\n"
    )) else {
        unreachable!()
    };
    r
}

#[test]
fn incoming_cseq_must_increase_and_reinvite_refreshes_target() {
    let req = invite();
    let mut d = Dialog::from_uac(&req, &ok(&req)).expect("dialog");
    d.receive_request(&from_bob("INVITE", 5, "sip:bob@198.51.100.7"))
        .expect("first request");
    assert_eq!(d.remote_target.host, "198.51.100.7");
    let err = d
        .receive_request(&from_bob("BYE", 5, "sip:bob@198.51.100.7"))
        .expect_err("same CSeq");
    assert_eq!(err, DialogError::CSeqOutOfOrder { got: 5, last: 5 });
    assert_eq!(err.status(), StatusCode::SERVER_INTERNAL_ERROR);
    // INFO is no target refresh: the Contact is ignored.
    d.receive_request(&from_bob("INFO", 6, "sip:bob@203.0.113.1"))
        .expect("higher CSeq");
    assert_eq!(d.remote_target.host, "198.51.100.7");
    let mut other = from_bob("BYE", 7, "sip:bob@198.51.100.7");
    other
        .headers
        .set(crate::message::Header::new(HeaderName::CallId, "zzz"));
    assert_eq!(
        d.receive_request(&other)
            .expect_err("other dialog")
            .status(),
        StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
    );
}
