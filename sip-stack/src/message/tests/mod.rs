//! Unit tests for the message module; golden tests on `fixtures/sip/` are in `golden`.

use bytes::Bytes;

use super::*;

mod golden;
mod robustness;
use crate::peer::Transport;

pub(super) fn fixture(name: &str) -> Bytes {
    let path = format!("{}/../fixtures/sip/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into()
}

pub(super) fn req(raw: &[u8]) -> Request {
    match SipMessage::parse(Bytes::copy_from_slice(raw)).expect("parses") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("expected a request"),
    }
}

pub(super) fn resp(raw: Bytes) -> Response {
    match SipMessage::parse(raw).expect("parses") {
        SipMessage::Response(r) => r,
        SipMessage::Request(_) => panic!("expected a response"),
    }
}

pub(super) fn kind(raw: &[u8]) -> ParseErrorKind {
    SipMessage::parse(Bytes::copy_from_slice(raw))
        .expect_err("must fail")
        .kind()
}

/// Printing then parsing gives the same message, and printing is stable.
pub(super) fn assert_round_trip(msg: &SipMessage) {
    let printed = msg.to_bytes();
    let again = SipMessage::parse(printed.clone()).expect("printed message parses");
    assert_eq!(again.to_bytes(), printed);
    assert_eq!(again.body(), msg.body());
    let names = |m: &SipMessage| {
        m.headers()
            .iter()
            .filter(|h| h.name != HeaderName::ContentLength)
            .map(|h| h.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&again), names(msg));
}

const OPTIONS: &[u8] = b"OPTIONS sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\nFrom: <sip:a@example.com>;tag=1\r\n\
To: <sip:pbx.example.com>\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n";

fn with(extra: &str, body: &str) -> Vec<u8> {
    let mut v = OPTIONS.to_vec();
    v.extend_from_slice(extra.as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(body.as_bytes());
    v
}

#[test]
fn content_length_rules_on_datagrams() {
    assert_eq!(&req(&with("", "hello")).body[..], b"hello");
    assert_eq!(
        &req(&with("Content-Length: 3\r\n", "hello")).body[..],
        b"hel"
    );
    assert_eq!(&req(&with("l: 5\r\n", "hello")).body[..], b"hello");
    assert_eq!(
        kind(&with("Content-Length: 6\r\n", "hello")),
        ParseErrorKind::BodyTruncated
    );
    assert_eq!(
        kind(&with("Content-Length: 99999999999\r\n", "")),
        ParseErrorKind::ContentLength
    );
    assert_eq!(
        kind(&with("Content-Length: x\r\n", "")),
        ParseErrorKind::ContentLength
    );
}

#[test]
fn start_line_errors() {
    assert_eq!(kind(b""), ParseErrorKind::Empty);
    assert_eq!(kind(b"\r\n\r\n"), ParseErrorKind::Empty);
    assert_eq!(
        kind(b"OPTIONS sip:a SIP/2.0 extra\r\n\r\n"),
        ParseErrorKind::StartLine
    );
    assert_eq!(
        kind(b"OPTIONS sip:a HTTP/1.1\r\n\r\n"),
        ParseErrorKind::StartLine
    );
    assert_eq!(kind(b"OPTIONS sip:a\r\n\r\n"), ParseErrorKind::StartLine);
    assert_eq!(
        kind(b"OPT\xc3IONS sip:a SIP/2.0\r\n\r\n"),
        ParseErrorKind::Method
    );
    assert_eq!(
        kind(b"OPTIONS http://a SIP/2.0\r\n\r\n"),
        ParseErrorKind::Scheme
    );
    assert_eq!(
        kind(b"OPTIONS <sip:a@b> SIP/2.0\r\n\r\n"),
        ParseErrorKind::Uri
    );
    assert_eq!(kind(b"SIP/2.0 99 Low\r\n\r\n"), ParseErrorKind::StatusCode);
    assert_eq!(
        kind(b"SIP/2.0 700 High\r\n\r\n"),
        ParseErrorKind::StatusCode
    );
    assert_eq!(kind(b"SIP/3.0 200 OK\r\n\r\n"), ParseErrorKind::Version);
    assert_eq!(
        kind(b"OPTIONS sip:a SIP/2.0\r\nNo colon here\r\n\r\n"),
        ParseErrorKind::HeaderLine
    );
    assert_eq!(
        kind(b"OPTIONS sip:a SIP/2.0\r\n folded: first\r\n\r\n"),
        ParseErrorKind::HeaderLine
    );
    assert_eq!(
        kind(b"OPTIONS sip:a SIP/2.0\r\nBad Name: x\r\n\r\n"),
        ParseErrorKind::HeaderLine
    );
    assert_eq!(
        kind(&vec![b'a'; MAX_MESSAGE_LEN + 1]),
        ParseErrorKind::TooLarge
    );
    // Leading CRLFs are skipped (RFC 3261 §7.5); a response may have an empty reason.
    let r = resp(Bytes::from_static(
        b"\r\n\r\nSIP/2.0 183 \r\nCSeq: 1 INVITE\r\n\r\n",
    ));
    assert_eq!(
        (r.status, r.reason.as_str()),
        (StatusCode::SESSION_PROGRESS, "")
    );
}

#[test]
fn validate_reports_the_header() {
    let r = req(&with("", ""));
    r.validate().unwrap();
    let mut bad = r.clone();
    bad.headers.set(Header::new(HeaderName::CSeq, "1 INVITE"));
    assert_eq!(bad.validate().unwrap_err().to_string(), "bad header: CSeq");
    let mut bad = r.clone();
    bad.headers.remove_all(&HeaderName::CallId);
    let e = bad.validate().unwrap_err();
    assert_eq!(
        (e.to_string().as_str(), e.status()),
        ("missing header: Call-ID", StatusCode::BAD_REQUEST)
    );
    let mut bad = r.clone();
    bad.headers
        .push(Header::new(HeaderName::Via, "SIP/2.0 x;branch=z9hG4bK1"));
    assert_eq!(bad.validate().unwrap_err().to_string(), "bad header: Via");
    let mut bad = r.clone();
    bad.headers.set(Header::new(HeaderName::From, "<sip:a@b"));
    assert_eq!(
        bad.validate().unwrap_err().header(),
        Some(&HeaderName::From)
    );
    let mut bad = r;
    bad.headers.set(Header::new(HeaderName::MaxForwards, "-1"));
    assert_eq!(
        bad.max_forwards().unwrap_err().to_string(),
        "bad header: Max-Forwards"
    );
    assert_eq!(
        ParseError::new(ParseErrorKind::Version).status(),
        StatusCode::VERSION_NOT_SUPPORTED
    );
}

#[test]
fn response_for_request_copies_dialog_headers() {
    let mut r = req(&fixture("invite_sdp.sip"));
    r.headers.push_front(Header::new(
        HeaderName::Via,
        "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1",
    ));
    let resp = Response::for_request(&r, StatusCode::RINGING, Some("t1"));
    assert_eq!(resp.reason, "Ringing");
    let vias: Vec<_> = resp.headers.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(vias, ["proxy.example.com", "192.0.2.10"]);
    assert_eq!(resp.to().unwrap().tag(), Some("t1"));
    assert_eq!(resp.to().unwrap().display.as_deref(), Some("Bob"));
    assert_eq!(resp.from().unwrap(), r.from().unwrap());
    assert_eq!(resp.call_id().unwrap(), r.call_id().unwrap());
    assert_eq!(resp.cseq().unwrap(), r.cseq().unwrap());
    assert!(resp.headers.get(&HeaderName::Contact).is_none());
    // An existing To tag is kept.
    let again = Response::for_request(&r, StatusCode::OK, None);
    assert_eq!(again.to().unwrap().tag(), None);
    r.headers.set(Header::new(
        HeaderName::To,
        "sip:bob@biloxi.example.com;tag=old",
    ));
    let resp = Response::for_request(&r, StatusCode::OK, Some("new"));
    assert_eq!(resp.to().unwrap().tag(), Some("old"));
    assert_round_trip(&SipMessage::Response(resp));
}

#[test]
fn headers_editing() {
    let mut h = Headers::new();
    h.push(Header::new(HeaderName::From, "a"));
    h.push(Header::new(HeaderName::Via, "v1"));
    h.push(Header::new(HeaderName::Via, "v2, v3"));
    h.push_front(Header::new(HeaderName::Via, "v0"));
    h.push_front(Header::new(HeaderName::RecordRoute, "<sip:rr>"));
    let order: Vec<_> = h.iter().map(|x| &x.value[..]).collect();
    assert_eq!(order, [&b"<sip:rr>"[..], b"a", b"v0", b"v1", b"v2, v3"]);
    assert_eq!(
        h.remove_first_value(&HeaderName::Via).as_deref(),
        Some(&b"v0"[..])
    );
    assert_eq!(
        h.remove_first_value(&HeaderName::Via).as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        h.remove_first_value(&HeaderName::Via).as_deref(),
        Some(&b"v2"[..])
    );
    assert_eq!(
        h.get(&HeaderName::Via).map(|x| &x.value[..]),
        Some(&b"v3"[..])
    );
    h.push(Header::new(HeaderName::Via, "v4"));
    h.set(Header::new(HeaderName::Via, "only"));
    assert_eq!(h.get_all(&HeaderName::Via).count(), 1);
    assert_eq!(h.iter().position(|x| x.name == HeaderName::Via), Some(2));
    h.remove_all(&HeaderName::Via);
    assert_eq!(h.remove_first_value(&HeaderName::Via), None);
    assert_eq!(
        h.remove_first(&HeaderName::From).map(|x| x.value),
        Some(Bytes::from_static(b"a"))
    );
    assert_eq!(h.len(), 1);
    let mut h = Headers::new();
    h.push(Header::new(
        HeaderName::Route,
        " , <sip:a;lr>,\"x,y\" <sip:b>",
    ));
    assert_eq!(h.route_set(&HeaderName::Route).unwrap().len(), 2);
    assert_eq!(
        h.remove_first_value(&HeaderName::Route).as_deref(),
        Some(&b"<sip:a;lr>"[..])
    );
    assert_eq!(
        h.remove_first_value(&HeaderName::Route).as_deref(),
        Some(&b"\"x,y\" <sip:b>"[..])
    );
    assert!(h.is_empty());
}

#[test]
fn header_names() {
    assert_eq!(HeaderName::parse(b"cALL-iD"), HeaderName::CallId);
    assert_eq!(HeaderName::parse(b"i"), HeaderName::CallId);
    assert_eq!(
        HeaderName::parse(b"WWW-AUTHENTICATE").as_str(),
        "WWW-Authenticate"
    );
    for (c, full) in [
        ("v", "Via"),
        ("f", "From"),
        ("t", "To"),
        ("m", "Contact"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("x", "Session-Expires"),
        ("u", "Allow-Events"),
    ] {
        assert_eq!(HeaderName::parse(c.as_bytes()).as_str(), full);
        assert_eq!(
            HeaderName::parse(c.to_uppercase().as_bytes()),
            HeaderName::parse(full.as_bytes())
        );
    }
    let a = HeaderName::Other("X-Foo".into());
    let b = HeaderName::parse(b"x-foo");
    assert_eq!(a, b);
    use std::hash::{BuildHasher, RandomState};
    let s = RandomState::new();
    assert_eq!(s.hash_one(&a), s.hash_one(&b));
    // A hand-made Other never equals a known variant; parse() canonicalises.
    assert_ne!(HeaderName::Via, HeaderName::Other("Via".into()));
    assert_eq!(HeaderName::from("via"), HeaderName::Via);
}

#[test]
fn methods_and_status_codes() {
    assert_eq!("INVITE".parse::<Method>().unwrap(), Method::Invite);
    assert_eq!(
        "invite".parse::<Method>().unwrap(),
        Method::Other("invite".into())
    );
    assert_eq!(
        "NEWMETHOD".parse::<Method>().unwrap().to_string(),
        "NEWMETHOD"
    );
    assert!("BAD METHOD".parse::<Method>().is_err());
    assert!("".parse::<Method>().is_err());
    assert_eq!(
        StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST.reason_phrase(),
        "Call/Transaction Does Not Exist"
    );
    assert_eq!(StatusCode(299).reason_phrase(), "Success");
    assert!(StatusCode::TRYING.is_provisional() && !StatusCode::TRYING.is_final());
    assert!(StatusCode::OK.is_success() && StatusCode::OK.is_final());
    assert_eq!(StatusCode::DECLINE.class(), 6);
    assert_eq!(StatusCode::BUSY_HERE.to_string(), "486");
}

#[test]
fn uri_parse_and_print() {
    for s in [
        "sip:alice@atlanta.com",
        "sips:alice:secretword@atlanta.com;transport=tcp",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sip:alice@192.0.2.4:5070",
        "sip:[2001:db8::10]:5061;transport=tls;lr",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com&x=",
        "sip:host.example.com?to=a@b",
        "sip:a?b@host.example.com",
        "tel:+358-555-1234567;postd=pp22",
    ] {
        let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.to_string(), s);
    }
    let u = Uri::parse("sip:alice;day=tuesday@atlanta.com").unwrap();
    assert_eq!(u.user.as_deref(), Some("alice;day=tuesday"));
    let u = Uri::parse("SIPS:bob@[::1]:5061;TRANSPORT=tls;lr").unwrap();
    assert_eq!(
        (u.scheme, u.host.as_str(), u.port),
        (Scheme::Sips, "[::1]", Some(5061))
    );
    assert_eq!(u.transport(), Some(Transport::Tls));
    assert!(u.has_lr());
    assert_eq!(u.host_port(), "[::1]:5061");
    let u = Uri::parse("sip:host.example.com?to=a@b").unwrap();
    assert_eq!((u.user, u.host.as_str()), (None, "host.example.com"));
    assert_eq!(
        Uri::parse("sip:a?b@h").unwrap().user.as_deref(),
        Some("a?b")
    );
    let tel = Uri::parse("tel:+15551234").unwrap();
    assert_eq!(
        (tel.scheme, tel.user.as_deref()),
        (Scheme::Tel, Some("+15551234"))
    );
    for bad in [
        "",
        "sip:",
        "sip:@host",
        "sip:host:",
        "sip:host:99999",
        "sip:ho st",
        "http://x",
        "sip:[::1",
        "sip:a@b;=x",
        "sip:a@b?x",
        "sip:a<b@c",
        "tel:",
    ] {
        assert!(Uri::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn uri_comparison_rfc3261_19_1_4() {
    let eq = |a: &str, b: &str| Uri::parse(a).unwrap().matches(&Uri::parse(b).unwrap());
    assert!(eq(
        "sip:%61lice@atlanta.com;transport=TCP",
        "sip:alice@AtLanTa.CoM;Transport=tcp"
    ));
    assert!(eq(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;newparam=5"
    ));
    assert!(eq(
        "sip:carol@chicago.com;security=on",
        "sip:carol@chicago.com;newparam=5"
    ));
    assert!(eq(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
    ));
    assert!(eq(
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
    ));
    assert!(!eq(
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
        "sip:alice@AtLanTa.CoM;Transport=UDP"
    ));
    assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    assert!(!eq(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com;transport=udp"
    ));
    assert!(!eq(
        "sip:bob@biloxi.com;transport=udp",
        "sip:bob@biloxi.com"
    ));
    assert!(!eq(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com:6000;transport=tcp"
    ));
    assert!(!eq(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com?Subject=next%20meeting"
    ));
    assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    assert!(!eq("sips:bob@biloxi.com", "sip:bob@biloxi.com"));
}

#[test]
fn via_name_addr_cseq_views() {
    let mut v =
        Via::parse("SIP / 2.0 / TLS [2001:db8::2] : 5061 ; branch = z9hG4bKx ; rport").unwrap();
    assert_eq!(
        (v.transport, v.host.as_str(), v.port),
        (Transport::Tls, "[2001:db8::2]", Some(5061))
    );
    assert_eq!(v.rport(), Some(None));
    v.set_param("rport", Some("4000".into()));
    v.set_param("received", Some("198.51.100.7".into()));
    assert_eq!(
        v.to_string(),
        "SIP/2.0/TLS [2001:db8::2]:5061;branch=z9hG4bKx;rport=4000;received=198.51.100.7"
    );
    assert_eq!(Via::parse(&v.to_string()).unwrap(), v);
    assert_eq!(
        Via::parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK")
            .unwrap()
            .sent_by_port(),
        443
    );
    for bad in [
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host",
        "SIP/3.0/UDP host",
        "SIP/2.0/UDP host:abc",
        "SIP/2.0/UDP host;=x",
    ] {
        assert!(Via::parse(bad).is_err(), "{bad} accepted");
    }
    let a = NameAddr::parse("sip:alice@atlanta.com;tag=88sja8x").unwrap();
    assert_eq!((a.uri.params.len(), a.tag()), (0, Some("88sja8x")));
    let mut a = NameAddr::parse("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8").unwrap();
    assert_eq!(a.display.as_deref(), Some("Anonymous"));
    a.set_param("tag", Some("new".into()));
    assert_eq!(
        a.to_string(),
        "\"Anonymous\" <sip:c8oqz84zk7z@privacy.org>;tag=new"
    );
    assert_eq!(NameAddr::parse(&a.to_string()).unwrap(), a);
    let q = NameAddr::parse(r#""a \"b\" \\c" <sip:x@y;lr>;p="q;v""#).unwrap();
    assert_eq!(q.display.as_deref(), Some(r#"a "b" \c"#));
    assert_eq!(q.param("p"), Some(Some("\"q;v\"")));
    assert!(q.uri.has_lr());
    assert_eq!(NameAddr::parse(&q.to_string()).unwrap(), q);
    for bad in [
        "<sip:a@b",
        "\"unterminated <sip:a@b>",
        "<sip:a@b> junk",
        "a@b",
        "<>",
    ] {
        assert!(NameAddr::parse(bad).is_err(), "{bad} accepted");
    }
    assert_eq!(
        CSeq::parse(" 4711   ACK ").unwrap(),
        CSeq {
            seq: 4711,
            method: Method::Ack
        }
    );
    for bad in [
        "",
        "INVITE",
        "1",
        "-1 INVITE",
        "99999999999 INVITE",
        "1 IN VITE",
    ] {
        assert!(CSeq::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn contacts_star_and_lists() {
    let r = req(&with("Contact: *\r\nExpires: 0\r\n", ""));
    assert_eq!(r.contacts().unwrap(), Contacts::Star);
    assert_eq!(r.expires().unwrap(), Some(0));
    let r = req(&with("Contact: *, <sip:a@b>\r\n", ""));
    assert!(r.contacts().is_err());
    let r = req(&with("m: <sip:a@b>;q=0.5, \"Z, Y\" <sip:c@d>\r\nContact: sip:e@f;expires=60\r\nExpires: 99999999999\r\n", ""));
    let Contacts::List(l) = r.contacts().unwrap() else {
        panic!()
    };
    let hosts: Vec<_> = l.iter().map(|a| a.uri.host.as_str()).collect();
    assert_eq!(hosts, ["b", "d", "f"]);
    assert_eq!(l[2].param("expires"), Some(Some("60")));
    assert_eq!(r.expires().unwrap(), Some(u32::MAX));
    assert_eq!(
        req(&with("", "")).contacts().unwrap(),
        Contacts::List(vec![])
    );
}

#[test]
fn auth_challenge_printing() {
    let c = AuthParams::parse(
        "Digest realm=\"pbx\", nonce=\"abc\", qop=\"auth,auth-int\", algorithm=SHA-256, stale=FALSE, opaque=\"\"",
    )
    .unwrap();
    assert_eq!(c.get("qop"), Some("auth,auth-int"));
    assert_eq!(c.get("opaque"), Some(""));
    assert_eq!(
        c.to_string(),
        "Digest realm=\"pbx\", nonce=\"abc\", qop=\"auth,auth-int\", algorithm=SHA-256, stale=FALSE, opaque=\"\""
    );
    for bad in [
        "Digest realm",
        "Digest realm=\"x",
        "Digest a=b c=d",
        "Di gest",
    ] {
        assert!(AuthParams::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn stream_framing() {
    let one = with("Content-Length: 5\r\n", "hello");
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(&one);
    assert_eq!(frame(&stream).unwrap(), Framing::KeepAlive(4));
    let rest = &stream[4..];
    assert_eq!(frame(rest).unwrap(), Framing::Message(one.len()));
    for cut in 1..one.len() {
        assert_eq!(
            frame(&one[..cut]).unwrap(),
            Framing::Incomplete,
            "cut at {cut}"
        );
    }
    let msg = SipMessage::parse(Bytes::copy_from_slice(&rest[..one.len()])).unwrap();
    assert_eq!(&msg.body()[..], b"hello");
    let compact = with("l:0\r\n", "");
    assert_eq!(frame(&compact).unwrap(), Framing::Message(compact.len()));
    let e = frame(&with("", "")).unwrap_err();
    assert_eq!(e.to_string(), "missing header: Content-Length");
    assert_eq!(
        frame(&with("Content-Length: 70000\r\n", ""))
            .unwrap_err()
            .kind(),
        ParseErrorKind::TooLarge
    );
    assert_eq!(
        frame(&vec![b'a'; MAX_MESSAGE_LEN + 1]).unwrap_err().kind(),
        ParseErrorKind::TooLarge
    );
    assert_eq!(frame(b"").unwrap(), Framing::Incomplete);
}

#[test]
fn printing_replaces_content_length_and_sanitises_reason() {
    let mut r = req(&with("Content-Length: 2\r\n", "hi"));
    r.body = Bytes::from_static(b"longer body");
    let out = r.to_bytes();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.ends_with("Content-Length: 11\r\n\r\nlonger body"));
    assert_eq!(text.matches("Content-Length").count(), 1);
    let mut resp = Response::new(StatusCode::NOT_FOUND);
    resp.headers.push(Header::new(
        HeaderName::Other("X-Note".into()),
        "a\r\nVia: x",
    ));
    assert_eq!(
        resp.to_bytes()
            .windows(18)
            .filter(|w| w == b"X-Note: a  Via: x\r")
            .count(),
        1
    );
    resp.reason = "evil\r\nVia: x".into();
    assert!(resp.to_bytes().starts_with(b"SIP/2.0 404 Not Found\r\n"));
    let mut buf = bytes::BytesMut::new();
    SipMessage::Response(resp).write_to(&mut buf);
    assert!(buf.ends_with(b"Content-Length: 0\r\n\r\n"));
}
