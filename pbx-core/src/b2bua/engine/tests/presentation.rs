//! Dial plan presentation rules on the legs the engine places: number and
//! name in From, privacy with an anonymous From and `Privacy: id`.

use super::*;

/// The INVITE pbx sent Bob.
fn invite_to_bob(w: &World) -> sip_stack::message::Request {
    w.to_bob
        .iter()
        .find_map(|m| match m {
            SipMessage::Request(r) if r.method == sip_stack::message::Method::Invite => {
                Some(r.clone())
            }
            _ => None,
        })
        .expect("bob got an INVITE")
}

fn header(r: &sip_stack::message::Request, name: &str) -> Option<String> {
    r.headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .map(|h| String::from_utf8_lossy(&h.value).into_owned())
}

#[test]
fn presentation_rules_rewrite_the_from_of_the_callee_leg() {
    let mut w = World::new();
    w.call("sales-bob");
    let invite = invite_to_bob(&w);
    let from = header(&invite, "From").unwrap();
    assert!(
        from.starts_with("\"Sales\" <sip:+49301234@pbx.test>;tag="),
        "{from}"
    );
    assert_eq!(header(&invite, "Privacy"), None);
    assert_eq!(invite.uri.to_string(), "sip:bob@10.0.0.3:5060");
}

#[test]
fn privacy_sends_anonymous_and_no_asserted_identity_to_phones() {
    let mut w = World::new();
    let call = w.call("*31bob");
    let invite = invite_to_bob(&w);
    let from = header(&invite, "From").unwrap();
    assert!(
        from.starts_with(crate::b2bua::presentation::ANONYMOUS),
        "{from}"
    );
    assert_eq!(header(&invite, "Privacy").as_deref(), Some("id"));
    assert_eq!(
        header(&invite, "P-Asserted-Identity"),
        None,
        "a phone is not trusted"
    );
    let bob = w.bob_incoming();
    w.bob.answer(w.now, bob, Some(Body::sdp(ANSWER))).unwrap();
    w.run();
    w.alice.hangup(w.now, call).unwrap();
    w.run();
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.caller, "alice", "the record keeps the real caller");
    assert_eq!(r.legs[1].party, "sip:bob@10.0.0.3:5060");
}
