//! Golden tests on real and torture messages in `fixtures/sip/` (RFC 4475 spirit).

use super::{assert_round_trip, fixture, kind, req, resp};
use crate::message::*;
use crate::peer::Transport;

#[test]
fn golden_register_with_digest_authorization() {
    let buf = fixture("register_baresip_auth.sip");
    let r = req(&buf);
    assert_eq!(r.method, Method::Register);
    assert_eq!(r.uri.host, "sip.example.com");
    r.validate().unwrap();
    assert_eq!(
        r.cseq().unwrap(),
        CSeq {
            seq: 25463,
            method: Method::Register
        }
    );
    assert_eq!(r.from().unwrap().tag(), Some("6e4b09fb37a3c6c1"));
    let via = r.top_via().unwrap();
    assert_eq!(
        (via.transport, via.host.as_str(), via.port),
        (Transport::Udp, "192.168.1.20", Some(45678))
    );
    assert_eq!(via.rport(), Some(None));
    let Contacts::List(contacts) = r.contacts().unwrap() else {
        panic!("star")
    };
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].param("expires"), Some(Some("3600")));
    assert_eq!(contacts[0].uri.transport(), Some(Transport::Udp));
    let auth = r
        .headers
        .get(&HeaderName::Authorization)
        .unwrap()
        .value_str()
        .unwrap();
    let auth = AuthParams::parse(auth).unwrap();
    assert_eq!(auth.scheme, "Digest");
    assert_eq!(auth.get("USERNAME"), Some("alice"));
    assert_eq!(auth.get("qop"), Some("auth"));
    assert_eq!(auth.get("nc"), Some("00000001"));
    assert_eq!(auth.get("cnonce"), Some("7ad35e2f"));
    assert_eq!(AuthParams::parse(&auth.to_string()).unwrap(), auth);
    assert!(
        auth.to_string().contains("qop=auth,") && auth.to_string().contains("username=\"alice\"")
    );
    assert_eq!(r.max_forwards().unwrap(), Some(70));
    assert!(r.body.is_empty());
    assert_round_trip(&SipMessage::Request(r));
}

#[test]
fn golden_invite_with_sdp_is_zero_copy() {
    let buf = fixture("invite_sdp.sip");
    let msg = SipMessage::parse(buf.clone()).unwrap();
    let SipMessage::Request(r) = &msg else {
        panic!()
    };
    r.validate().unwrap();
    assert!(r.body.starts_with(b"v=0\r\n") && r.body.ends_with(b"a=sendrecv\r\n"));
    assert_eq!(r.from().unwrap().display.as_deref(), Some("Alice Liddell"));
    assert_eq!(
        r.headers.get_str(&HeaderName::ContentType),
        Some("application/sdp")
    );
    let routes = r.headers.route_set(&HeaderName::Route).unwrap();
    assert_eq!(routes.len(), 1);
    assert!(routes[0].uri.has_lr());
    // Header values and the body point into the received buffer.
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    for h in r.headers.iter() {
        assert!(
            range.contains(&(h.value.as_ptr() as usize)),
            "{} was copied",
            h.name
        );
    }
    assert!(range.contains(&(r.body.as_ptr() as usize)));
    assert_round_trip(&msg);
}

#[test]
fn golden_200_with_record_route_and_via_list() {
    let r = resp(fixture("ok_record_route.sip"));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.reason, "OK");
    let vias: Vec<Via> = r.headers.vias().collect::<Result<_, _>>().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].received(), Some("192.0.2.5"));
    assert_eq!(vias[1].rport(), Some(Some(5060)));
    let rr = r.headers.route_set(&HeaderName::RecordRoute).unwrap();
    let hosts: Vec<_> = rr.iter().map(|a| a.uri.host_port()).collect();
    assert_eq!(
        hosts,
        [
            "proxy2.example.com",
            "proxy.example.com",
            "[2001:db8::1]:5070"
        ]
    );
    assert_eq!(rr[1].uri.transport(), Some(Transport::Tcp));
    assert_eq!(r.to().unwrap().tag(), Some("8321234356"));
    let mut r2 = r.clone();
    let top = r2.headers.remove_first_value(&HeaderName::Via).unwrap();
    assert_eq!(
        Via::parse(std::str::from_utf8(&top).unwrap()).unwrap(),
        vias[0]
    );
    assert_eq!(r2.top_via().unwrap(), vias[1]);
    assert_round_trip(&SipMessage::Response(r));
}

#[test]
fn golden_compact_forms_print_canonical_names() {
    let msg = SipMessage::parse(fixture("compact_form.sip")).unwrap();
    let SipMessage::Request(r) = &msg else {
        panic!()
    };
    r.validate().unwrap();
    assert_eq!(
        r.call_id().unwrap(),
        "3848276298220188512@atlanta.example.com"
    );
    assert_eq!(
        r.headers.get_str(&HeaderName::Supported),
        Some("replaces, timer")
    );
    assert!(r.body.starts_with(b"v=0"));
    let printed = msg.to_bytes();
    let text = std::str::from_utf8(&printed).unwrap();
    for name in [
        "\r\nVia: ",
        "\r\nFrom: ",
        "\r\nTo: ",
        "\r\nCall-ID: ",
        "\r\nContact: ",
        "\r\nSupported: ",
        "\r\nContent-Type: ",
    ] {
        assert!(text.contains(name), "{name} missing in {text}");
    }
    assert_eq!(text.matches("Content-Length: ").count(), 1);
    assert_round_trip(&msg);
}

#[test]
fn golden_folded_headers_are_unfolded() {
    let r = req(&fixture("folded_header.sip"));
    r.validate().unwrap();
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKfold1"));
    assert_eq!(r.from().unwrap().display.as_deref(), Some("Carol"));
    assert_eq!(
        r.cseq().unwrap(),
        CSeq {
            seq: 7,
            method: Method::Options
        }
    );
    let subject = HeaderName::Other("subject".into());
    assert_eq!(
        r.headers.get_str(&subject),
        Some("this subject is folded twice")
    );
    assert_round_trip(&SipMessage::Request(r));
}

#[test]
fn golden_lf_only_line_endings() {
    let r = req(&fixture("lf_only.sip"));
    r.validate().unwrap();
    assert_eq!(r.method, Method::Bye);
    assert_eq!(r.call_id().unwrap(), "lf-only@192.0.2.4");
    assert!(r.body.is_empty());
}

#[test]
fn golden_rfc4475_wsinv() {
    let r = req(&fixture("torture_wsinv.sip"));
    r.validate().unwrap();
    assert_eq!(r.uri.param("unknownparam"), Some(None));
    assert_eq!(r.to().unwrap().tag(), Some("1918181833n"));
    let from = r.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(r.max_forwards().unwrap(), Some(68));
    assert_eq!(
        r.cseq().unwrap(),
        CSeq {
            seq: 9,
            method: Method::Invite
        }
    );
    let vias: Vec<Via> = r.headers.vias().collect::<Result<_, _>>().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(
        (vias[1].transport, vias[1].host.as_str()),
        (Transport::Tcp, "spindle.example.com")
    );
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let Contacts::List(m) = r.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(m[0].display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(m[0].param("newparam"), Some(Some("newvalue")));
    assert_eq!(m[0].param("secondparam"), Some(None));
    assert_eq!(m[0].param("q"), Some(Some("0.33")));
    assert_eq!(r.headers.get_str(&"s".into()), Some(""));
    assert_eq!(
        r.headers.get_str(&"UnknownHeaderWithUnusualValue".into()),
        Some(";;,,;;,;")
    );
    assert_eq!(
        r.headers.get_str(&"newfangledheader".into()),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(r.body.len(), 150);
    assert_round_trip(&SipMessage::Request(r));
}

#[test]
fn golden_rfc4475_intmeth() {
    let r = req(&fixture("torture_intmeth.sip"));
    r.validate().unwrap();
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method, Method::Other(method.into()));
    assert_eq!(
        r.uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        r.uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(r.uri.host, "example.com");
    let to = r.to().unwrap();
    assert_eq!(to.display.as_deref(), Some("BEL:\u{7} NUL:\0 DEL:\u{7f}"));
    assert_eq!(to.uri.user, r.uri.user);
    let from = r.from().unwrap();
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.param("fromparam''~+*_!.-%"),
        Some(Some("\"работающий\""))
    );
    assert_eq!(
        r.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(r.max_forwards().unwrap(), Some(255));
    let ext = r
        .headers
        .get_str(&"EXTENSIONHEADER-!.%*+_`'~".into())
        .unwrap();
    assert_eq!(ext, "\u{feff}大停電");
    assert_round_trip(&SipMessage::Request(r));
}

#[test]
fn golden_invalid_messages() {
    let e = SipMessage::parse(fixture("bad_unknown_scheme.sip")).unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (ParseErrorKind::Scheme, StatusCode::UNSUPPORTED_URI_SCHEME)
    );
    assert_eq!(e.to_string(), "unsupported URI scheme");
    assert_eq!(
        kind(&fixture("bad_conflicting_content_length.sip")),
        ParseErrorKind::ContentLength
    );
    assert_eq!(kind(&fixture("bad_version.sip")), ParseErrorKind::Version);
    assert_eq!(
        kind(&fixture("bad_content_length_large.sip")),
        ParseErrorKind::BodyTruncated
    );
    let e = SipMessage::parse(fixture("bad_content_length_negative.sip")).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::ContentLength);
    assert_eq!(e.to_string(), "bad header: Content-Length");
}

#[test]
fn golden_many_vias_on_lines_lists_and_compact_form() {
    let buf = fixture("ok_many_vias_mixed.sip");
    let r = req(&buf);
    r.validate().unwrap();
    let vias: Vec<Via> = r.headers.vias().map(Result::unwrap).collect();
    // 20 lines holding 1, 2 or 3 values each: 39 in all, in order.
    assert_eq!(vias.len(), 39);
    let branches: Vec<&str> = vias.iter().map(|v| v.branch().unwrap()).collect();
    assert_eq!(
        branches[..4],
        ["z9hG4bK0", "z9hG4bK3", "z9hG4bK4", "z9hG4bK6"]
    );
    assert_round_trip(&SipMessage::Request(r));
}

#[test]
fn golden_vias_of_other_transports_and_duplicate_call_id() {
    req(&fixture("ok_via_sctp_below_top.sip"))
        .validate()
        .unwrap();
    let e = req(&fixture("bad_two_call_ids.sip"))
        .validate()
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string().as_str(), e.status()),
        (
            ParseErrorKind::Duplicate,
            "duplicate header: Call-ID",
            StatusCode::BAD_REQUEST
        )
    );
    // Two different Content-Lengths do not parse, but still get their 400.
    let buf = fixture("bad_conflicting_content_length.sip");
    let err = SipMessage::parse(buf.clone()).unwrap_err();
    let r = Response::for_unparseable(&buf, &err, "x").unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.call_id().unwrap(), "mcl01.a@192.0.2.15");
}
