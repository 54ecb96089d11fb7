//! Robustness: many Via values, duplicated singleton headers.

use bytes::Bytes;

use super::req;
use crate::message::*;

/// A valid OPTIONS with `n` Via values spread over separate lines, comma
/// lists and the compact form `v:` (RFC 3261 §7.3.1, §7.3.3).
pub(super) fn many_vias(n: usize) -> Vec<u8> {
    let mut s = String::from("OPTIONS sip:pbx.example.com SIP/2.0\r\n");
    let mut i = 0;
    while i < n {
        let via = |k: usize| {
            format!(
                "SIP/2.0/UDP 10.0.{}.{}:5060;branch=z9hG4bK{k}x;rport",
                k / 250,
                k % 250 + 1
            )
        };
        match i % 3 {
            0 => s.push_str(&format!("Via: {}\r\n", via(i))),
            1 if i + 1 < n => {
                s.push_str(&format!(
                    "Via: {}, {} ,{}\r\n",
                    via(i),
                    via(i + 1),
                    via(i + 2).as_str()
                ));
                i += 2;
            }
            _ => s.push_str(&format!("v: {}\r\n", via(i))),
        }
        i += 1;
    }
    s.push_str(
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n\
         Call-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    );
    s.into_bytes()
}

#[test]
fn many_vias_parse_and_validate() {
    for n in [1, 10, 40, 70, 100] {
        let raw = many_vias(n);
        let r = req(&raw);
        let count = r.headers.vias().count();
        assert!(count >= n, "{n}: {count}");
        r.validate().unwrap_or_else(|e| panic!("{n} vias: {e}"));
    }
}

const BASE: &str = "OPTIONS sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
From: <sip:a@example.com>;tag=1\r\n\
To: <sip:pbx.example.com>\r\n\
Call-ID: abc\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n";

fn base_with(extra: &str) -> Request {
    req(format!("{BASE}{extra}Content-Length: 0\r\n\r\n").as_bytes())
}

#[test]
fn a_second_singleton_header_with_another_value_is_refused() {
    for (extra, name) in [
        ("Call-ID: other\r\n", "Call-ID"),
        ("i: other\r\n", "Call-ID"),
        ("From: <sip:b@example.com>;tag=2\r\n", "From"),
        ("t: <sip:x@example.com>\r\n", "To"),
        ("CSeq: 2 OPTIONS\r\n", "CSeq"),
        ("Max-Forwards: 69\r\n", "Max-Forwards"),
    ] {
        let e = base_with(extra).validate().expect_err(extra);
        assert_eq!(e.kind(), ParseErrorKind::Duplicate, "{extra}");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.to_string(), format!("duplicate header: {name}"));
    }
    // An identical repetition is harmless; list headers may repeat freely.
    base_with("Call-ID: abc\r\ni: abc\r\n").validate().unwrap();
    base_with(
        "Supported: path\r\nSupported: outbound\r\nRoute: <sip:a;lr>\r\nRoute: <sip:b;lr>\r\n",
    )
    .validate()
    .unwrap();
}

#[test]
fn unparseable_requests_still_get_their_status() {
    let answer = |raw: &str| {
        let buf = Bytes::copy_from_slice(raw.as_bytes());
        let err = SipMessage::parse(buf.clone()).expect_err("must not parse");
        Response::for_unparseable(&buf, &err, "t1")
    };
    let two_cl = format!("{BASE}Content-Length: 3\r\nContent-Length: 0\r\n\r\nabc");
    let r = answer(&two_cl).expect("a 400");
    assert_eq!(
        (r.status, r.reason.as_str()),
        (StatusCode::BAD_REQUEST, "bad header: Content-Length")
    );
    assert_eq!(r.call_id().unwrap(), "abc");
    assert_eq!(r.to().unwrap().tag(), Some("t1"));
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK776"));
    let v3 = BASE.replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1) + "\r\n";
    assert_eq!(
        answer(&v3).unwrap().status,
        StatusCode::VERSION_NOT_SUPPORTED
    );
    let scheme = BASE.replacen("sip:pbx.example.com", "http://pbx.example.com", 1) + "\r\n";
    assert_eq!(
        answer(&scheme).unwrap().status,
        StatusCode::UNSUPPORTED_URI_SCHEME
    );
    // Nobody to answer: an ACK, a response, a request without Via, broken header lines.
    let ack = two_cl
        .replacen("OPTIONS sip", "ACK sip", 1)
        .replace("1 OPTIONS", "1 ACK");
    assert!(answer(&ack).is_none());
    assert!(answer("SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\n").is_none());
    assert!(answer("OPTIONS sip:a SIP/3.0\r\nCall-ID: x\r\n\r\n").is_none());
    assert!(answer("OPTIONS sip:a SIP/3.0\r\nVia SIP/2.0/UDP a\r\n\r\n").is_none());
}

#[test]
fn vias_of_other_transports_below_the_top_are_accepted() {
    // RFC 3261 §25.1: transport = "UDP" / "TCP" / "TLS" / "SCTP" / other-transport.
    let r = base_with(
        "Via: SIP/2.0/SCTP 192.0.2.9;branch=z9hG4bKs, SIP/2.0/DTLS-SCTP h;branch=z9hG4bKd\r\n",
    );
    r.validate().unwrap();
    assert_eq!(r.headers.vias().count(), 3);
    // ... but the top Via must be one we can answer over, and bad syntax stays bad.
    let top = req(BASE
        .replacen("SIP/2.0/UDP 192", "SIP/2.0/SCTP 192", 1)
        .as_bytes());
    assert!(top.validate().is_err());
    assert!(base_with("Via: SIP/2.0/S@TP h\r\n").validate().is_err());
    assert!(base_with("Via: SIP/2.0/SCTP\r\n").validate().is_err());
}

#[test]
fn via_sent_by_shapes_seen_in_the_wild_parse() {
    for s in [
        "SIP/2.0/UDP example.com.;branch=z9hG4bK1",
        "SIP/2.0/UDP a_b.example.com;branch=z9hG4bK1",
        "SIP/2.0/UDP [::1];branch=z9hG4bK1",
        "SIP/2.0/UDP 10.0.0.1:05060;branch=z9hG4bK1",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=10.0.0.1;rport=5060",
        "SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK1;alias;keep=30",
    ] {
        Via::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

mod checks_agree_with_parsers {
    //! `validate` checks To, From and Vias without building them: the checks
    //! must accept exactly what the owning parsers accept.
    use proptest::prelude::*;

    use crate::message::addr::check_name_addr;
    use crate::message::uri::check_uri;
    use crate::message::{NameAddr, Uri, Via};

    /// Text made of the characters that matter to these grammars.
    fn sipish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("sip:"),
                Just("sips:"),
                Just("tel:"),
                Just("a"),
                Just("@"),
                Just(":"),
                Just(";"),
                Just("="),
                Just("?"),
                Just("&"),
                Just("<"),
                Just(">"),
                Just("\""),
                Just("\\"),
                Just(" "),
                Just(","),
                Just("["),
                Just("]"),
                Just("5060"),
                Just("1.2.3.4"),
                Just("SIP/2.0/UDP "),
                Just("SIP/2.0/SCTP "),
                Just("/"),
                Just("tag=x"),
                Just("branch=z9hG4bK1"),
                Just("é"),
                Just("\t"),
            ],
            0..14,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn check_uri_agrees(s in sipish()) {
            prop_assert_eq!(check_uri(&s).is_ok(), Uri::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn check_name_addr_agrees(s in sipish()) {
            prop_assert_eq!(check_name_addr(&s).is_ok(), NameAddr::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn check_via_agrees(s in sipish()) {
            prop_assert_eq!(Via::check(&s, false), Via::parse(&s).is_ok(), "{:?}", s);
        }
    }
}
