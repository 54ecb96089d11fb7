//! The SIP core without sockets: messages in, messages out, virtual time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_stack::message::{HeaderName, Request, Response, SipMessage};
use sip_stack::transaction::TimerConfig;
use sip_stack::{Peer, Transport};

use super::*;
use crate::auth::{Credentials, NonceBook, Users};
use crate::config::DigestAlgorithm;
use crate::registrar::{Location, RegistrarConfig};

const PROXY: &str = "127.0.0.1:5060";

struct Harness {
    core: SipCore,
    start: Instant,
    t: Duration,
}

impl Harness {
    fn new() -> Self {
        let users = Users::default();
        for u in ["alice", "bob", "carol"] {
            users.insert(u.into(), Credentials::from_password(u, "127.0.0.1", "pw"));
        }
        let core = SipCore::new(SipCoreParts {
            locals: Locals {
                domain: "127.0.0.1".into(),
                aliases: vec![],
                listeners: vec![(Transport::Udp, PROXY.parse().unwrap())],
            },
            auth: Authenticator::new(
                "127.0.0.1".into(),
                vec![DigestAlgorithm::Md5],
                NonceBook::new([1; 32], 300),
                users,
            ),
            registrar: Registrar::new(
                RegistrarConfig {
                    domain: "127.0.0.1".into(),
                    min_expires: 60,
                    max_expires: 3600,
                    default_expires: 600,
                    max_contacts: 5,
                },
                Arc::new(Location::new()),
                None,
            ),
            bans: BanList::new(3, 60_000, 300_000),
            metrics: Arc::new(Metrics::default()),
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
            register_auth: false,
            seed: 9,
            shards: 4,
            timers: TimerConfig::default(),
            anchor: None,
            route_key: [5; 32],
        });
        Self {
            core,
            start: Instant::now(),
            t: Duration::ZERO,
        }
    }

    fn now(&self) -> Now {
        Now {
            instant: self.start + self.t,
            unix_secs: 1_000_000 + self.t.as_secs(),
            mono_ms: self.t.as_millis() as u64,
        }
    }

    fn send(&self, from: &str, text: &str) -> Vec<(Peer, SipMessage)> {
        let mut out = Vec::new();
        let data = Bytes::from(text.replace('\n', "\r\n"));
        self.core.handle_incoming(
            &self.now(),
            data,
            Peer::udp(from.parse().unwrap()),
            &mut out,
        );
        out.into_iter()
            .map(|(p, b)| {
                (
                    p,
                    SipMessage::parse(b).expect("the core sends parseable messages"),
                )
            })
            .collect()
    }

    fn advance(&mut self, d: Duration) -> Vec<(Peer, SipMessage)> {
        self.t += d;
        let mut out = Vec::new();
        self.core.handle_timers(&self.now(), &mut out);
        out.into_iter()
            .map(|(p, b)| (p, SipMessage::parse(b).unwrap()))
            .collect()
    }

    fn register(&self, user: &str, contact: &str) {
        let out = self.send(
            contact,
            &format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {contact};branch=z9hG4bKr{user}{contact}\n\
                 From: <sip:{user}@127.0.0.1>;tag=r\nTo: <sip:{user}@127.0.0.1>\nCall-ID: reg-{user}-{contact}\n\
                 CSeq: 1 REGISTER\nContact: <sip:{user}@{contact}>\nMax-Forwards: 70\nContent-Length: 0\n\n"
            ),
        );
        assert_eq!(status(&out[0].1), 200);
    }
}

fn invite(branch: &str, to: &str, extra: &str) -> String {
    format!(
        "INVITE sip:{to} SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK{branch}\nFrom: <sip:alice@127.0.0.1>;tag=a1\n\
         To: <sip:{to}>\nCall-ID: call-{branch}\nCSeq: 1 INVITE\nContact: <sip:alice@10.0.0.1:5070>\n{extra}Content-Length: 0\n\n"
    )
}

fn status(m: &SipMessage) -> u16 {
    match m {
        SipMessage::Response(r) => r.status.0,
        SipMessage::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

fn req(m: &SipMessage) -> &Request {
    match m {
        SipMessage::Request(r) => r,
        SipMessage::Response(r) => panic!("expected a request, got {}", r.status.0),
    }
}

/// A response of the UAS at `uas` to a request the proxy forwarded.
fn answer(fwd: &Request, code: u16, to_tag: &str) -> String {
    let mut r = Response::for_request(fwd, sip_stack::message::StatusCode(code), Some(to_tag));
    for h in fwd.headers.get_all(&HeaderName::RecordRoute) {
        r.headers.push(h.clone());
    }
    String::from_utf8(r.to_bytes().to_vec())
        .unwrap()
        .replace("\r\n", "\n")
}

#[test]
fn invite_forks_first_200_wins_and_the_other_branch_is_cancelled() {
    let h = Harness::new();
    h.register("bob", "10.0.0.2:5060");
    h.register("bob", "10.0.0.3:5060");
    let out = h.send(
        "10.0.0.1:5070",
        &invite("f1", "bob@127.0.0.1", "Max-Forwards: 70\n"),
    );
    assert_eq!(status(&out[0].1), 100, "100 Trying at once");
    let branches: Vec<_> = out[1..]
        .iter()
        .map(|(p, m)| (p.addr.to_string(), req(m).clone()))
        .collect();
    assert_eq!(branches.len(), 2, "forked to both contacts");
    for (addr, r) in &branches {
        assert_eq!(r.uri.to_string(), format!("sip:bob@{addr}"));
        let rr = format!(
            "<sip:127.0.0.1:5060;lr;pbx={}>",
            h.core.route_token("call-f1")
        );
        assert_eq!(
            r.headers.get_str(&HeaderName::RecordRoute),
            Some(rr.as_str())
        );
        assert_eq!(r.max_forwards().unwrap(), Some(69));
        assert_eq!(r.headers.vias().count(), 2);
    }
    let (a_addr, a) = &branches[0];
    let (b_addr, b) = &branches[1];
    let out = h.send(a_addr, &answer(a, 180, "ta"));
    assert_eq!((out.len(), status(&out[0].1)), (1, 180));
    assert_eq!(out[0].0.addr.to_string(), "10.0.0.1:5070");
    assert_eq!(out[0].1.headers().vias().count(), 1, "our Via removed");
    let out = h.send(b_addr, &answer(b, 200, "tb"));
    let to_caller: Vec<_> = out
        .iter()
        .filter(|(p, _)| p.addr.to_string() == "10.0.0.1:5070")
        .collect();
    assert_eq!(status(&to_caller[0].1), 200);
    let cancels: Vec<_> = out
        .iter()
        .filter(|(p, m)| {
            p.addr.to_string() == *a_addr
                && matches!(m, SipMessage::Request(r) if r.method == Method::Cancel)
        })
        .collect();
    assert_eq!(cancels.len(), 1, "ringing branch cancelled: {out:?}");
    // The cancelled branch answers 487: acknowledged hop by hop, not forwarded.
    let out = h.send(a_addr, &answer(a, 487, "ta"));
    assert!(
        out.iter().all(|(p, _)| p.addr.to_string() == *a_addr),
        "{out:?}"
    );
    assert!(matches!(&out[0].1, SipMessage::Request(r) if r.method == Method::Ack));
}

#[test]
fn caller_cancel_reaches_the_callee_and_487_comes_back() {
    let h = Harness::new();
    h.register("bob", "10.0.0.2:5060");
    let out = h.send(
        "10.0.0.1:5070",
        &invite("c1", "bob@127.0.0.1", "Max-Forwards: 70\n"),
    );
    let fwd = req(&out[1].1).clone();
    h.send("10.0.0.2:5060", &answer(&fwd, 180, "tb"));
    let cancel = "CANCEL sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKc1\nFrom: <sip:alice@127.0.0.1>;tag=a1\n\
                  To: <sip:bob@127.0.0.1>\nCall-ID: call-c1\nCSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0\n\n";
    let out = h.send("10.0.0.1:5070", cancel);
    assert_eq!(status(&out[0].1), 200, "CANCEL answered");
    let c = out
        .iter()
        .find(|(p, _)| p.addr.to_string() == "10.0.0.2:5060")
        .expect("CANCEL forwarded");
    assert_eq!(req(&c.1).method, Method::Cancel);
    assert_eq!(
        req(&c.1).top_via().unwrap().branch(),
        fwd.top_via().unwrap().branch(),
        "same branch as the INVITE (§9.1)"
    );
    let out = h.send("10.0.0.2:5060", &answer(&fwd, 487, "tb"));
    let up = out
        .iter()
        .find(|(p, _)| p.addr.to_string() == "10.0.0.1:5070")
        .expect("487 upstream");
    assert_eq!(status(&up.1), 487);
}

#[test]
fn busy_callee_486_reaches_the_caller() {
    let h = Harness::new();
    h.register("bob", "10.0.0.2:5060");
    let out = h.send(
        "10.0.0.1:5070",
        &invite("b1", "bob@127.0.0.1", "Max-Forwards: 70\n"),
    );
    let fwd = req(&out[1].1).clone();
    let out = h.send("10.0.0.2:5060", &answer(&fwd, 486, "tb"));
    let up = out
        .iter()
        .find(|(p, _)| p.addr.to_string() == "10.0.0.1:5070")
        .expect("486 upstream");
    assert_eq!(status(&up.1), 486);
}

#[test]
fn local_decisions_404_480_403_483_407() {
    let h = Harness::new();
    let first_final = |out: Vec<(Peer, SipMessage)>| {
        out.iter()
            .map(|(_, m)| status(m))
            .find(|s| *s >= 200)
            .unwrap()
    };
    assert_eq!(
        first_final(h.send("10.0.0.1:5070", &invite("n1", "nobody@127.0.0.1", ""))),
        404
    );
    assert_eq!(
        first_final(h.send("10.0.0.1:5070", &invite("n2", "carol@127.0.0.1", ""))),
        480
    );
    assert_eq!(
        first_final(h.send("10.0.0.1:5070", &invite("n3", "bob@example.org", ""))),
        403
    );
    assert_eq!(
        first_final(h.send(
            "10.0.0.1:5070",
            &invite("n4", "bob@127.0.0.1", "Max-Forwards: 0\n")
        )),
        483
    );
    let out = h.send("192.0.2.9:5070", &invite("n5", "bob@127.0.0.1", "")); // untrusted local user
    let resp = out.iter().find(|(_, m)| status(m) >= 200).unwrap();
    assert_eq!(status(&resp.1), 407);
    assert!(resp
        .1
        .headers()
        .get_str(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .contains("realm=\"127.0.0.1\""));
}

#[test]
fn a_request_looping_back_is_refused_with_482() {
    let h = Harness::new();
    // bob's contact is the proxy itself: the forwarded request comes straight back.
    h.register("bob", PROXY);
    let out = h.send(
        "10.0.0.1:5070",
        &invite("l1", "bob@127.0.0.1", "Max-Forwards: 70\n"),
    );
    let mut msg = out[1].1.clone();
    let mut finals = Vec::new();
    for _ in 0..5 {
        let text = String::from_utf8(msg.to_bytes().to_vec())
            .unwrap()
            .replace("\r\n", "\n");
        let out = h.send(PROXY, &text);
        finals.extend(
            out.iter()
                .filter(|(_, m)| matches!(m, SipMessage::Response(r) if r.status.0 >= 200))
                .map(|(_, m)| status(m)),
        );
        match out
            .iter()
            .find(|(_, m)| matches!(m, SipMessage::Request(_)))
        {
            Some((_, m)) => msg = m.clone(),
            None => break,
        }
    }
    assert_eq!(finals, vec![482], "spiral once, then a loop");
}

#[test]
fn ack_for_2xx_is_routed_by_its_route_header() {
    let h = Harness::new();
    h.register("bob", "10.0.0.2:5060");
    let token = h.core.route_token("call-ack");
    let ack = format!("ACK sip:bob@10.0.0.2:5060 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKack1\nRoute: <sip:127.0.0.1:5060;lr;pbx={token}>\n\
               From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>;tag=tb\nCall-ID: call-ack\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n");
    let out = h.send("10.0.0.1:5070", &ack);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.addr.to_string(), "10.0.0.2:5060");
    let fwd = req(&out[0].1);
    assert_eq!(fwd.method, Method::Ack);
    assert!(
        !fwd.headers.contains(&HeaderName::Route),
        "our Route popped"
    );
    assert_eq!(fwd.headers.vias().count(), 2);
    // Without the dialog's route token the same ACK goes nowhere.
    let forged = ack
        .replace(&format!(";pbx={token}"), "")
        .replace("ack1", "ack2");
    assert!(h.send("10.0.0.1:5070", &forged).is_empty());
}

#[test]
fn forged_in_dialog_route_is_not_an_open_relay() {
    let h = Harness::new();
    let token = h.core.route_token("relay-1");
    let req = |route: &str| {
        format!(
            "INVITE sip:victim@198.51.100.7 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bKrelay{}\nRoute: {route}\n\
             From: <sip:x@example.org>;tag=x\nTo: <sip:victim@198.51.100.7>;tag=y\nCall-ID: relay-1\nCSeq: 2 INVITE\n\
             Max-Forwards: 70\nContent-Length: 0\n\n",
            route.len()
        )
    };
    let finals = |out: Vec<(Peer, SipMessage)>| -> Vec<u16> {
        out.iter()
            .filter(|(_, m)| matches!(m, SipMessage::Response(r) if r.status.0 >= 200))
            .map(|(_, m)| status(m))
            .collect()
    };
    assert_eq!(
        finals(h.send("192.0.2.9:5070", &req("<sip:127.0.0.1:5060;lr>"))),
        vec![403]
    );
    let out = h.send(
        "192.0.2.9:5070",
        &req(&format!("<sip:127.0.0.1:5060;lr;pbx={token}>")),
    );
    assert!(
        out.iter()
            .any(|(p, m)| p.addr.to_string() == "198.51.100.7:5060"
                && matches!(m, SipMessage::Request(_))),
        "genuine dialog routes: {out:?}"
    );
}

#[test]
fn unanswered_branch_times_out_with_408() {
    let mut h = Harness::new();
    h.register("bob", "10.0.0.2:5060");
    h.send(
        "10.0.0.1:5070",
        &invite("t1", "bob@127.0.0.1", "Max-Forwards: 70\n"),
    );
    let mut finals = Vec::new();
    for _ in 0..70 {
        let out = h.advance(Duration::from_millis(500));
        finals.extend(
            out.iter()
                .filter(|(p, m)| {
                    p.addr.to_string() == "10.0.0.1:5070" && matches!(m, SipMessage::Response(_))
                })
                .map(|(_, m)| status(m)),
        );
    }
    assert!(
        !finals.is_empty() && finals.iter().all(|s| *s == 408),
        "Timer B → 408 upstream (retransmitted until ACKed): {finals:?}"
    );
}

#[test]
fn malformed_header_gets_400_naming_it_and_garbage_is_dropped() {
    let h = Harness::new();
    let bad = invite("m1", "bob@127.0.0.1", "").replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    let out = h.send("10.0.0.1:5070", &bad);
    match &out[0].1 {
        SipMessage::Response(r) => {
            assert_eq!((r.status.0, r.reason.as_str()), (400, "bad header: CSeq"))
        }
        SipMessage::Request(_) => panic!("expected 400"),
    }
    assert!(h.send("10.0.0.1:5070", "\u{1}\u{2}garbage").is_empty());
    assert_eq!(h.core.metrics.parse_errors.get(), 1);
}

#[test]
fn a_disabled_users_register_is_refused_with_403() {
    let h = Harness::new();
    h.register("carol", "10.0.0.4:5060");
    h.core.auth.users().set_disabled(["carol".to_owned()]);
    let out = h.send(
        "10.0.0.4:5060",
        "REGISTER sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.4:5060;branch=z9hG4bKdis1\n\
         From: <sip:carol@127.0.0.1>;tag=r\nTo: <sip:carol@127.0.0.1>\nCall-ID: reg-dis\n\
         CSeq: 2 REGISTER\nContact: <sip:carol@10.0.0.4:5060>\nMax-Forwards: 70\nContent-Length: 0\n\n",
    );
    assert_eq!(status(&out[0].1), 403);
    h.core.auth.users().set_disabled([]);
    h.register("carol", "10.0.0.4:5061");
}
