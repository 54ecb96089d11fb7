use std::sync::Arc;

use bytes::Bytes;
use sip_stack::message::{HeaderName, Request, SipMessage, StatusCode};
use sip_stack::Peer;

use super::*;
use crossbeam_channel::Sender;

fn config() -> RegistrarConfig {
    RegistrarConfig {
        domain: "example.com".into(),
        min_expires: 60,
        max_expires: 3600,
        default_expires: 600,
        max_contacts: 3,
    }
}

fn register(cseq: u32, extra: &str) -> Request {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK{cseq}\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: reg-1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Max-Forwards: 70\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    match SipMessage::parse(Bytes::from(text)).expect("test REGISTER parses") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!("a request"),
    }
}

fn registrar() -> Registrar {
    Registrar::new(config(), Arc::new(Location::new()), None)
}

fn source() -> Peer {
    Peer::udp("10.0.0.1:5070".parse().unwrap())
}

fn contacts(resp: &Response) -> Vec<String> {
    resp.headers
        .get_all(&HeaderName::Contact)
        .map(|h| h.value_str().unwrap().to_owned())
        .collect()
}

#[test]
fn binds_with_default_expires_and_lists_contacts() {
    let r = registrar();
    let resp = r.register(
        &register(1, "Contact: <sip:alice@10.0.0.1:5070>\r\n"),
        "alice@example.com",
        source(),
        1000,
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        contacts(&resp),
        vec!["<sip:alice@10.0.0.1:5070>;expires=600"]
    );
    let b = r.location().lookup("alice@example.com", 1000);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].expires_at, 1600);
}

#[test]
fn too_brief_gets_423_with_min_expires() {
    let r = registrar();
    let resp = r.register(
        &register(1, "Contact: <sip:alice@10.0.0.1>;expires=30\r\n"),
        "alice@example.com",
        source(),
        0,
    );
    assert_eq!(resp.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(
        resp.headers
            .get(&HeaderName::MinExpires)
            .unwrap()
            .value_str()
            .unwrap(),
        "60"
    );
    assert!(r.location().is_empty());
}

#[test]
fn expires_is_clamped_and_header_expires_applies() {
    let r = registrar();
    let resp = r.register(
        &register(1, "Expires: 99999\r\nContact: <sip:alice@10.0.0.1>\r\n"),
        "alice@example.com",
        source(),
        0,
    );
    assert_eq!(contacts(&resp), vec!["<sip:alice@10.0.0.1>;expires=3600"]);
}

#[test]
fn q_values_order_contacts_and_star_removes_all() {
    let r = registrar();
    let aor = "alice@example.com";
    r.register(
        &register(
            1,
            "Contact: <sip:a@10.0.0.1>;q=0.2, <sip:a@10.0.0.2>;q=0.9\r\n",
        ),
        aor,
        source(),
        0,
    );
    let b = r.location().lookup(aor, 0);
    assert_eq!(b.iter().map(|b| b.q).collect::<Vec<_>>(), vec![900, 200]);
    let bad = r.register(&register(2, "Contact: *\r\n"), aor, source(), 0);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "* without Expires: 0");
    let ok = r.register(
        &register(3, "Contact: *\r\nExpires: 0\r\n"),
        aor,
        source(),
        0,
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert!(r.location().lookup(aor, 0).is_empty());
}

#[test]
fn expires_zero_removes_one_and_old_cseq_does_not_undo() {
    let r = registrar();
    let aor = "alice@example.com";
    r.register(
        &register(5, "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>\r\n"),
        aor,
        source(),
        0,
    );
    r.register(
        &register(6, "Contact: <sip:a@10.0.0.1>;expires=0\r\n"),
        aor,
        source(),
        0,
    );
    assert_eq!(r.location().lookup(aor, 0).len(), 1);
    // A delayed CSeq 4 from the same Call-ID must not resurrect or change anything.
    r.register(
        &register(4, "Contact: <sip:a@10.0.0.2>;expires=100\r\n"),
        aor,
        source(),
        0,
    );
    assert_eq!(r.location().lookup(aor, 0)[0].expires_at, 600);
}

#[test]
fn instance_and_reg_id_replace_binding_with_new_uri_and_path_is_kept() {
    let r = registrar();
    let aor = "alice@example.com";
    let inst = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";
    r.register(
        &register(1, &format!("Contact: <sip:a@10.0.0.1>;{inst}\r\n")),
        aor,
        source(),
        0,
    );
    let resp = r.register(
        &register(
            2,
            &format!("Path: <sip:edge.example.com;lr>\r\nContact: <sip:a@10.0.0.9>;{inst}\r\n"),
        ),
        aor,
        source(),
        0,
    );
    let b = r.location().lookup(aor, 0);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].uri, "sip:a@10.0.0.9");
    assert_eq!(b[0].reg_id, Some(1));
    assert_eq!(b[0].path, vec!["<sip:edge.example.com;lr>".to_owned()]);
    assert!(
        resp.headers.get(&HeaderName::Path).is_some(),
        "Path echoed in the 200"
    );
}

fn registrar_with(policy: MaxContactsPolicy, persist: Option<Sender<BindingChange>>) -> Registrar {
    Registrar::new(config(), Arc::new(Location::new()), persist).with_max_contacts_policy(policy)
}

/// A REGISTER of a new Call-ID (a restarted app) from `port` for one contact.
fn register_from(port: u16, call_id: &str, expires: u32) -> Request {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:{port};branch=z9hG4bK{port}\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@10.0.0.1:{port}>;expires={expires}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match SipMessage::parse(Bytes::from(text)).expect("test REGISTER parses") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!("a request"),
    }
}

fn uris(r: &Registrar, now: u64) -> Vec<String> {
    let mut v: Vec<String> = r
        .location()
        .lookup("alice@example.com", now)
        .into_iter()
        .map(|b| b.uri)
        .collect();
    v.sort();
    v
}

#[test]
fn rebinding_past_max_contacts_replaces_the_oldest_and_removes_it_from_the_store() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let r = registrar_with(MaxContactsPolicy::ReplaceOldest, Some(tx));
    let aor = "alice@example.com";
    // Three bindings from three ports (NAT rebinding), registered at t = 0, 10, 20.
    for (i, port) in [5001u16, 5002, 5003].into_iter().enumerate() {
        let now = 10 * i as u64;
        let resp = r.register(
            &register_from(port, &format!("c{port}"), 600),
            aor,
            source(),
            now,
        );
        assert_eq!(resp.status, StatusCode::OK);
    }
    while rx.try_recv().is_ok() {}
    // The 5001 binding is refreshed at t = 30: 5002 is now the one closest to expiry.
    r.register(&register_from(5001, "c5001", 600), aor, source(), 30);
    let resp = r.register(&register_from(5004, "c5004", 600), aor, source(), 40);
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        uris(&r, 40),
        vec![
            "sip:alice@10.0.0.1:5001",
            "sip:alice@10.0.0.1:5003",
            "sip:alice@10.0.0.1:5004"
        ]
    );
    assert_eq!(contacts(&resp).len(), 3, "the 200 lists what is bound now");
    let changes: Vec<BindingChange> = rx.try_iter().collect();
    assert!(
        changes.iter().any(
            |c| matches!(c, BindingChange::Remove { key, .. } if key == "sip:alice@10.0.0.1:5002")
        ),
        "the replaced binding is deleted from the store too: {changes:?}"
    );
    assert!(changes
        .iter()
        .any(|c| matches!(c, BindingChange::Upsert(b) if b.uri == "sip:alice@10.0.0.1:5004")));
}

#[test]
fn refuse_policy_answers_403_and_changes_nothing() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let r = registrar_with(MaxContactsPolicy::Refuse, Some(tx));
    let aor = "alice@example.com";
    for port in [5001u16, 5002, 5003] {
        r.register(
            &register_from(port, &format!("c{port}"), 600),
            aor,
            source(),
            0,
        );
    }
    while rx.try_recv().is_ok() {}
    let resp = r.register(&register_from(5004, "c5004", 600), aor, source(), 1);
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.reason, "Too many contacts");
    assert_eq!(uris(&r, 1).len(), 3);
    assert!(!uris(&r, 1).contains(&"sip:alice@10.0.0.1:5004".to_owned()));
    assert_eq!(
        rx.try_iter().count(),
        0,
        "nothing written for a refused REGISTER"
    );
    // A refresh of a bound contact is still accepted at the limit.
    let resp = r.register(&register_from(5002, "c5002", 600), aor, source(), 2);
    assert_eq!(resp.status, StatusCode::OK);
}

#[test]
fn replace_oldest_keeps_what_the_register_itself_refreshes() {
    let r = registrar_with(MaxContactsPolicy::ReplaceOldest, None);
    let aor = "alice@example.com";
    r.register(
        &register(1, "Contact: <sip:a@10.0.0.1>;expires=100, <sip:a@10.0.0.2>;expires=200, <sip:a@10.0.0.3>;expires=300\r\n"),
        aor,
        source(),
        0,
    );
    // Refreshes the soonest-expiring binding (.1) and adds .4: .2 must go, not .1.
    let resp = r.register(
        &register(
            2,
            "Contact: <sip:a@10.0.0.1>;expires=60, <sip:a@10.0.0.4>\r\n",
        ),
        aor,
        source(),
        10,
    );
    assert_eq!(resp.status, StatusCode::OK);
    let mut got: Vec<String> = r
        .location()
        .lookup(aor, 10)
        .into_iter()
        .map(|b| b.uri)
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec!["sip:a@10.0.0.1", "sip:a@10.0.0.3", "sip:a@10.0.0.4"]
    );
}

#[test]
fn lapsed_bindings_free_room_before_anything_is_replaced() {
    let r = registrar_with(MaxContactsPolicy::ReplaceOldest, None);
    let aor = "alice@example.com";
    r.register(&register_from(5001, "c1", 60), aor, source(), 0);
    r.register(&register_from(5002, "c2", 600), aor, source(), 0);
    r.register(&register_from(5003, "c3", 600), aor, source(), 0);
    // At t = 61 the 5001 binding has lapsed: 5004 takes its place, 5002/5003 stay.
    r.register(&register_from(5004, "c4", 600), aor, source(), 61);
    assert_eq!(
        uris(&r, 61),
        vec![
            "sip:alice@10.0.0.1:5002",
            "sip:alice@10.0.0.1:5003",
            "sip:alice@10.0.0.1:5004"
        ]
    );
}

#[test]
fn max_contacts_policy_parses_its_config_spelling() {
    for p in [MaxContactsPolicy::ReplaceOldest, MaxContactsPolicy::Refuse] {
        assert_eq!(p.as_str().parse::<MaxContactsPolicy>(), Ok(p));
    }
    assert!("oldest".parse::<MaxContactsPolicy>().is_err());
    assert_eq!(
        registrar().max_contacts_policy(),
        MaxContactsPolicy::ReplaceOldest
    );
}

#[test]
fn max_contacts_is_enforced() {
    let r = registrar();
    let resp = r.register(
        &register(
            1,
            "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>, <sip:a@10.0.0.3>, <sip:a@10.0.0.4>\r\n",
        ),
        "alice@example.com",
        source(),
        0,
    );
    assert_eq!(
        resp.status,
        StatusCode::FORBIDDEN,
        "one REGISTER listing too many"
    );
    assert!(r.location().is_empty(), "a refused REGISTER binds nothing");
}

#[test]
fn sweep_removes_lapsed_bindings() {
    let r = registrar();
    r.register(
        &register(1, "Contact: <sip:a@10.0.0.1>;expires=60\r\n"),
        "alice@example.com",
        source(),
        0,
    );
    assert_eq!(r.sweep(59), 0);
    assert_eq!(r.sweep(61), 1);
    assert!(r.location().is_empty());
}
