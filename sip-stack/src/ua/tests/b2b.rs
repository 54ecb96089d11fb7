//! The B2BUA commands: INVITEs on behalf of another party and provisional
//! responses sent by the application.

use super::*;

fn callee_uri() -> Uri {
    Uri::parse("sip:u2@10.0.0.2:5060").expect("uri")
}

#[test]
fn call_with_presents_the_given_identities() {
    let mut net = Net::pair();
    let mut opts = CallOptions::new(callee_uri());
    opts.from = Some(NameAddr::parse("\"Alice\" <sip:alice@pbx.test>").expect("from"));
    opts.to = Some(NameAddr::parse("<sip:bob@pbx.test>").expect("to"));
    let a = net.uas[0].call_with(net.now, opts).expect("call");
    let sip_call_id = net.uas[0].session_call_id(a).expect("call id");
    net.advance(Duration::from_millis(10));
    let ev = net.events_of(1);
    let Some(UaEvent::IncomingCall {
        from, to, call_id, ..
    }) = ev.first()
    else {
        panic!("no incoming call: {ev:?}");
    };
    assert_eq!(from.uri.user.as_deref(), Some("alice"));
    assert_eq!(from.display.as_deref(), Some("Alice"));
    assert!(from.tag().is_some(), "the UA adds its own From tag");
    assert_eq!(to.uri.user.as_deref(), Some("bob"));
    assert_eq!(call_id.0, sip_call_id);
}

#[test]
fn progress_sends_ringing_and_early_media_until_the_answer() {
    let mut cfg = config(2, 1);
    cfg.auto_ringing = false;
    let mut net = Net::new(vec![config(1, 2), cfg]);
    let a = net.uas[0]
        .call(net.now, callee_uri(), Some(sdp("sendrecv")))
        .expect("call");
    net.advance(Duration::from_millis(10));
    let b = net.incoming(1);
    assert_eq!(net.count("SIP/2.0 180"), 0, "no automatic 180");
    assert_eq!(
        net.uas[1].session_call_id(b),
        net.uas[0].session_call_id(a),
        "the Call-ID of an incoming call is known before the answer"
    );
    net.uas[1]
        .progress(net.now, b, StatusCode::RINGING, None)
        .expect("180");
    net.uas[1]
        .progress(net.now, b, StatusCode(183), Some(sdp("sendrecv")))
        .expect("183");
    assert!(net.uas[1]
        .progress(net.now, b, StatusCode::OK, None)
        .is_err());
    net.advance(Duration::from_millis(10));
    let ev = net.events_of(0);
    assert_eq!(ev[0], UaEvent::Ringing { session: a });
    assert!(matches!(&ev[1], UaEvent::EarlyMedia { session, .. } if *session == a));
    net.uas[1]
        .answer(net.now, b, Some(sdp("sendrecv")))
        .expect("answer");
    assert!(
        net.uas[1]
            .progress(net.now, b, StatusCode::RINGING, None)
            .is_err(),
        "no provisional response after the answer"
    );
    net.advance(Duration::from_millis(10));
    assert!(net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == a)));
}

#[test]
fn call_with_answers_the_challenge_with_the_call_credentials() {
    // The account has no credentials (a B2BUA's own agent): the INVITE's
    // own credentials (a trunk account) answer the 407.
    let mut cfg = config(1, PROXY);
    cfg.credentials = None;
    let mut net = Net::new(vec![cfg, config(2, PROXY)]);
    let mut opts = CallOptions::new(Uri::parse("sip:u2@example.com").expect("uri"));
    opts.credentials = Some(Credentials {
        username: "u1".into(),
        password: PASSWORD.into(),
    });
    let a = net.uas[0].call_with(net.now, opts).expect("call");
    net.advance(Duration::from_millis(10));
    assert_eq!(net.proxy.challenges, 1);
    let b = net.incoming(1);
    net.uas[1].answer(net.now, b, None).expect("answer");
    net.advance(Duration::from_millis(10));
    assert!(net
        .events_of(0)
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { session, .. } if *session == a)));
    let retry = net
        .log
        .iter()
        .filter(|(_, _, t)| t.starts_with("INVITE"))
        .nth(1)
        .expect("a second INVITE");
    assert!(retry
        .2
        .contains("Proxy-Authorization: Digest username=\"u1\""));
}

#[test]
fn call_without_any_credentials_ends_with_the_challenge() {
    let mut cfg = config(1, PROXY);
    cfg.credentials = None;
    let mut net = Net::new(vec![cfg, config(2, PROXY)]);
    let a = net.uas[0]
        .call_with(
            net.now,
            CallOptions::new(Uri::parse("sip:u2@example.com").expect("uri")),
        )
        .expect("call");
    net.advance(Duration::from_secs(1));
    assert_eq!(net.proxy.challenges, 1);
    assert_eq!(
        net.events_of(0).last(),
        Some(&UaEvent::Terminated {
            session: a,
            reason: EndReason::Rejected(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        })
    );
}

#[test]
fn a_target_that_is_no_address_is_reached_on_the_given_flow() {
    let mut caller = config(1, 2);
    caller.outbound_proxy = None;
    let mut net = Net::new(vec![caller, config(2, 1)]);
    // a browser's contact (RFC 7118 §5.2): no address to send to
    let browser = Uri::parse("sip:u2@df7jal23ls0d.invalid;transport=ws").expect("uri");
    let no_flow = net.uas[0].call_with(net.now, CallOptions::new(browser.clone()));
    assert!(matches!(no_flow, Err(UaError::NoRoute(_))), "{no_flow:?}");
    let mut opts = CallOptions::new(browser);
    opts.flow = Some(crate::Peer::udp(addr(2)));
    opts.body = Some(sdp("sendrecv"));
    net.uas[0]
        .call_with(net.now, opts)
        .expect("call on the flow");
    net.advance(Duration::from_millis(10));
    assert!(
        matches!(net.events_of(1).first(), Some(UaEvent::IncomingCall { .. })),
        "the INVITE went on the flow: {:?}",
        net.events_of(1)
    );
}
