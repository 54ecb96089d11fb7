//! Property tests for `sip_stack::message`: print→parse round trips of
//! generated messages, and "arbitrary bytes never panic" for the parser,
//! the framer and every typed getter.

use bytes::Bytes;
use proptest::prelude::*;
use sip_stack::message::{
    frame, AuthParams, CSeq, Header, HeaderName, Headers, Method, NameAddr, Param, Request,
    Response, Scheme, SipMessage, StatusCode, Uri, Via,
};
use sip_stack::Transport;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn param() -> impl Strategy<Value = Param> {
    (token(), proptest::option::of("[a-zA-Z0-9._~-]{1,12}"))
        .prop_map(|(name, value)| Param { name, value })
}

fn uri() -> impl Strategy<Value = Uri> {
    (
        prop_oneof![Just(Scheme::Sip), Just(Scheme::Sips)],
        proptest::option::of("[a-zA-Z0-9._~+-]{1,16}"),
        proptest::option::of("[a-zA-Z0-9]{1,8}"),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(param(), 0..4),
        proptest::collection::vec(("[a-zA-Z][a-zA-Z0-9-]{0,8}", "[a-zA-Z0-9%._-]{0,10}"), 0..3),
    )
        .prop_map(|(scheme, user, password, host, port, params, headers)| {
            let password = user.as_ref().and(password);
            Uri {
                scheme,
                user,
                password,
                host,
                port,
                params,
                headers,
            }
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Register),
        Just(Method::Options),
        Just(Method::Subscribe),
        "[A-Z]{3,10}".prop_map(|s| s.parse().expect("token")),
    ]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        proptest::option::of("[ -~]{0,16}"),
        uri(),
        proptest::collection::vec(param(), 0..3),
    )
        .prop_map(|(display, uri, params)| NameAddr {
            display,
            uri,
            params,
        })
}

fn via() -> impl Strategy<Value = Via> {
    let transport = prop_oneof![
        Just(Transport::Udp),
        Just(Transport::Tcp),
        Just(Transport::Tls),
        Just(Transport::Ws),
        Just(Transport::Wss)
    ];
    (
        transport,
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(param(), 0..4),
    )
        .prop_map(|(transport, host, port, params)| Via {
            transport,
            host,
            port,
            params,
        })
}

/// Printable header values without leading/trailing whitespace.
fn value() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,30}[!-~])?"
}

fn headers(m: Method) -> impl Strategy<Value = Headers> {
    (
        proptest::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[a-zA-Z0-9.@_-]{1,24}",
        any::<u32>(),
        proptest::collection::vec(("X-[a-zA-Z0-9-]{1,10}", value()), 0..5),
    )
        .prop_map(move |(vias, from, to, call_id, seq, extra)| {
            let mut h = Headers::new();
            for v in vias {
                h.push(Header::new(HeaderName::Via, v.to_string()));
            }
            h.push(Header::new(HeaderName::From, from.to_string()));
            h.push(Header::new(HeaderName::To, to.to_string()));
            h.push(Header::new(HeaderName::CallId, call_id));
            h.push(Header::new(
                HeaderName::CSeq,
                CSeq {
                    seq,
                    method: m.clone(),
                }
                .to_string(),
            ));
            for (n, v) in extra {
                h.push(Header::new(HeaderName::parse(n.as_bytes()), v));
            }
            h
        })
}

fn request() -> impl Strategy<Value = Request> {
    (method(), uri()).prop_flat_map(|(method, uri)| {
        (
            headers(method.clone()),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(move |(headers, body)| Request {
                method: method.clone(),
                uri: uri.clone(),
                headers,
                body: Bytes::from(body),
            })
    })
}

fn response() -> impl Strategy<Value = Response> {
    (100u16..700, "[ -~]{0,20}", method()).prop_flat_map(|(code, reason, m)| {
        (headers(m), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
            move |(headers, body)| Response {
                status: StatusCode(code),
                reason: reason.trim().to_owned(),
                headers,
                body: Bytes::from(body),
            },
        )
    })
}

/// Exercises every getter; none may panic whatever the input.
fn poke(msg: &SipMessage) {
    let _ = msg.to_bytes();
    let h = msg.headers();
    let _ = h.vias().count();
    for name in [
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Contact,
        HeaderName::Path,
    ] {
        let _ = h.route_set(&name);
    }
    for hd in h.iter() {
        if let Ok(s) = hd.value_str() {
            let _ = (
                AuthParams::parse(s),
                NameAddr::parse(s),
                Via::parse(s),
                CSeq::parse(s),
                Uri::parse(s),
            );
        }
    }
    let mut h2 = h.clone();
    while h2.remove_first_value(&HeaderName::Via).is_some() {}
    match msg {
        SipMessage::Request(r) => {
            let _ = (r.validate(), r.contacts(), r.expires(), r.max_forwards());
            let _ = Response::for_request(r, StatusCode::OK, Some("tag")).to_bytes();
        }
        SipMessage::Response(r) => {
            let _ = (r.top_via(), r.cseq(), r.call_id(), r.from(), r.to());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn request_round_trip(r in request()) {
        r.validate().expect("generated request is valid");
        let printed = r.to_bytes();
        let SipMessage::Request(back) = SipMessage::parse(printed.clone()).expect("parses") else {
            panic!("not a request")
        };
        prop_assert_eq!(&back.method, &r.method);
        prop_assert_eq!(&back.uri, &r.uri);
        prop_assert_eq!(&back.body, &r.body);
        let without_cl: Headers =
            back.headers.iter().filter(|h| h.name != HeaderName::ContentLength).cloned().collect();
        prop_assert_eq!(&without_cl, &r.headers);
        prop_assert_eq!(back.to_bytes(), printed);
        back.validate().expect("still valid");
        prop_assert_eq!(back.top_via().unwrap(), r.top_via().unwrap());
        prop_assert_eq!(back.from().unwrap(), r.from().unwrap());
    }

    #[test]
    fn response_round_trip(r in response()) {
        let printed = r.to_bytes();
        prop_assert_eq!(frame(&printed).unwrap(), sip_stack::message::Framing::Message(printed.len()));
        let SipMessage::Response(back) = SipMessage::parse(printed.clone()).expect("parses") else {
            panic!("not a response")
        };
        prop_assert_eq!(back.status, r.status);
        prop_assert_eq!(&back.reason, &r.reason);
        prop_assert_eq!(&back.body, &r.body);
        prop_assert_eq!(back.to_bytes(), printed);
        prop_assert_eq!(back.cseq().unwrap(), r.cseq().unwrap());
    }

    #[test]
    fn typed_values_round_trip(u in uri(), n in name_addr(), v in via()) {
        prop_assert_eq!(Uri::parse(&u.to_string()).unwrap(), u);
        prop_assert_eq!(NameAddr::parse(&n.to_string()).unwrap(), n);
        prop_assert_eq!(Via::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = frame(&data);
        if let Ok(msg) = SipMessage::parse(Bytes::from(data)) {
            poke(&msg);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        base in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let bases: [&[u8]; 3] = [
            b"INVITE sip:bob@example.com;transport=tcp SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP [::1]\r\nFrom: \"A\" <sip:a@b>;tag=1\r\nTo: sip:c@d\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContact: *\r\nRoute: <sip:p;lr>, <sip:q>\r\nl: 4\r\n\r\nbody",
            b"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\nv: SIP/2.0/UDP h\r\nf: <sip:a@b>;tag=1\r\nt: <sip:a@b>\r\ni: y\r\nCSeq: 2 REGISTER\r\n\r\n",
            b"REGISTER sip:r SIP/2.0\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK2\nm: <sip:u@h>;expires=60, sip:v@h\nExpires: 3600\nCall-ID: z\nCSeq: 3 REGISTER\n\n",
        ];
        let mut data = bases[base].to_vec();
        for (i, b) in edits {
            let at = i.index(data.len());
            data[at] = b;
        }
        let _ = frame(&data);
        if let Ok(msg) = SipMessage::parse(Bytes::from(data)) {
            poke(&msg);
        }
    }

    /// Tens of Via values spread over `Via:` and `v:` lines and comma lists
    /// in any grouping are the same Via list (RFC 3261 §7.3.1), and valid.
    #[test]
    fn many_vias_in_any_grouping_are_one_list(
        vias in proptest::collection::vec(via(), 10..60),
        cuts in proptest::collection::vec(any::<bool>(), 60),
        compact in proptest::collection::vec(any::<bool>(), 60),
    ) {
        let mut text = String::from("OPTIONS sip:pbx.example.com SIP/2.0\r\n");
        let mut line = 0;
        for (i, v) in vias.iter().enumerate() {
            if i == 0 || cuts[i] {
                if i > 0 {
                    text.push_str("\r\n");
                }
                text.push_str(if compact[line] { "v: " } else { "Via: " });
                line += 1;
            } else {
                text.push_str(" , ");
            }
            text.push_str(&v.to_string());
        }
        text.push_str("\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n\
                       Call-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n");
        let SipMessage::Request(r) = SipMessage::parse(Bytes::from(text)).expect("parses") else {
            panic!("not a request")
        };
        r.validate().expect("valid");
        let got: Vec<Via> = r.headers.vias().map(|v| v.expect("via parses")).collect();
        prop_assert_eq!(got, vias);
    }

    /// A second Call-ID, From, To, CSeq or Max-Forwards with another value
    /// is refused by validate; the same value again is not.
    #[test]
    fn a_repeated_singleton_must_repeat_its_value(r in request(), which in 0usize..5, value in value()) {
        let name = [HeaderName::CallId, HeaderName::From, HeaderName::To, HeaderName::CSeq,
                    HeaderName::MaxForwards][which].clone();
        let mut same = r.clone();
        if let Some(h) = r.headers.get(&name) {
            same.headers.push(h.clone());
            prop_assert!(same.validate().is_ok());
        }
        let original = r.headers.get(&name).map(|h| h.value.clone());
        prop_assume!(original.is_some() && original.as_deref() != Some(value.as_bytes()));
        let mut twice = r.clone();
        twice.headers.push(Header::new(name.clone(), value.clone()));
        let err = twice.validate().expect_err("two different values");
        prop_assert_eq!(err.kind(), sip_stack::message::ParseErrorKind::Duplicate);
        prop_assert_eq!(err.header(), Some(&name));
    }

    #[test]
    fn answering_unparseable_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let buf = Bytes::from(data);
        if let Err(e) = SipMessage::parse(buf.clone()) {
            if let Some(resp) = Response::for_unparseable(&buf, &e, "t") {
                prop_assert_eq!(resp.status, e.status());
                let _ = resp.to_bytes();
            }
        }
    }
}
