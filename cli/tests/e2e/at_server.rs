//! Requests addressed to the server itself and requests at the edges of
//! the grammar, over raw UDP: an unknown method gets 501 and a known one
//! pbx does not serve there 405, both with Allow (RFC 3261 §8.2.1); a bad
//! SIP version gets 505 (§8.2.2... §21.5.7); two different Call-ID header
//! fields get 400 (§20.8 allows one); forty Via values spread over header
//! lines, comma lists and the compact `v:` form are still answered
//! normally, every value echoed in order (§8.2.6.2, §7.3.1).

use std::net::SocketAddr;
use std::time::Duration;

use crate::harness::{Msg, Pbx, RawUa};

const WAIT: Duration = Duration::from_secs(2);

/// An out-of-dialog request to the server itself (`sip:IP:PORT`, no user
/// part) with `extra` header lines.
fn to_server(ua: &RawUa, to: SocketAddr, method: &str, extra: &str) -> String {
    let id = ua.unique();
    format!(
        "{method} sip:{to} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{l}>;tag={id}\r\n\
         To: <sip:{to}>\r\nCall-ID: srv-{id}\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n",
        ua.via(),
        l = ua.local(),
    )
}

/// The methods of an Allow header.
fn allowed(m: &Msg) -> Vec<String> {
    m.all("Allow")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The Via values of a message, in order, over every header line (full
/// and compact names, comma lists split).
fn via_values(m: &Msg) -> Vec<String> {
    m.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Via") || n.eq_ignore_ascii_case("v"))
        .flat_map(|(_, v)| v.split(','))
        .map(|v| v.trim().to_owned())
        .collect()
}

fn assert_alive(pbx: &mut Pbx) {
    assert!(pbx.is_running(), "pbx exited:\n{}", pbx.log_text());
    let r = RawUa::new()
        .options(pbx.addr(), WAIT)
        .expect("OPTIONS answered afterwards");
    assert_eq!(r.status(), 200, "{}", r.raw);
}

#[test]
fn an_unknown_method_to_the_server_gets_501_with_allow() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    for method in ["FOO", "options"] {
        let msg = to_server(&ua, pbx.addr(), method, "");
        let r = ua
            .transact(pbx.addr(), &msg, WAIT)
            .unwrap_or_else(|| panic!("no answer to {method}"));
        assert_eq!(r.status(), 501, "{method}: {}", r.raw);
        let allow = allowed(&r);
        for m in ["REGISTER", "OPTIONS"] {
            assert!(
                allow.iter().any(|a| a == m),
                "{method}: Allow {allow:?} lists {m}"
            );
        }
        assert!(
            !allow.iter().any(|a| a == method),
            "{method}: Allow {allow:?}"
        );
        assert!(
            r.header("To").is_some_and(|t| t.contains("tag=")),
            "a final answer carries a To tag: {}",
            r.raw
        );
    }
    assert_alive(&mut pbx);
}

#[test]
fn subscribe_and_message_to_the_server_get_405_with_allow() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    for (method, extra) in [
        (
            "SUBSCRIBE",
            "Event: presence\r\nExpires: 60\r\nContact: <sip:probe@127.0.0.1>\r\n",
        ),
        ("MESSAGE", ""),
    ] {
        let msg = to_server(&ua, pbx.addr(), method, extra);
        let r = ua
            .transact(pbx.addr(), &msg, WAIT)
            .unwrap_or_else(|| panic!("no answer to {method}"));
        assert_eq!(r.status(), 405, "{method}: {}", r.raw);
        let allow = allowed(&r);
        assert!(
            allow.iter().any(|a| a == "REGISTER") && allow.iter().any(|a| a == "OPTIONS"),
            "{method}: Allow {allow:?}"
        );
        assert!(
            !allow.iter().any(|a| a == method),
            "{method} is not allowed, so not in Allow {allow:?}"
        );
    }
    assert_alive(&mut pbx);
}

#[test]
fn a_bad_sip_version_gets_505() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    let msg = to_server(&ua, pbx.addr(), "OPTIONS", "").replacen(" SIP/2.0\r\n", " SIP/3.0\r\n", 1);
    assert!(msg.starts_with("OPTIONS sip:") && msg.contains(" SIP/3.0\r\n"));
    let r = ua
        .transact(pbx.addr(), &msg, WAIT)
        .expect("an answer to SIP/3.0");
    assert_eq!(r.status(), 505, "{}", r.raw);
    assert_alive(&mut pbx);
}

#[test]
fn two_different_call_ids_get_400() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    for method in ["OPTIONS", "REGISTER"] {
        let msg = to_server(
            &ua,
            pbx.addr(),
            method,
            &format!("Call-ID: other-{}\r\n", ua.unique()),
        );
        assert_eq!(
            msg.matches("Call-ID: ").count(),
            2,
            "two Call-ID header fields:\n{msg}"
        );
        ua.send_bytes(pbx.addr(), msg.as_bytes());
        let r = ua
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no answer to a {method} with two Call-IDs"));
        assert_eq!(r.status(), 400, "{method}: {}", r.raw);
        assert!(
            r.reason().contains("Call-ID"),
            "the reason names the header: {}",
            r.raw
        );
        // Nothing else follows (no 200 / 401 for the same request).
        if let Some(more) = ua.recv(Duration::from_millis(300)) {
            panic!("a second answer to {method}: {}", more.raw);
        }
    }
    assert_alive(&mut pbx);
}

/// Forty Via values: ours on top (the answer comes back to it), then 39
/// other hops on plain lines, comma lists and compact `v:` lines.
fn forty_vias(ua: &RawUa) -> (String, Vec<String>) {
    let mut values = vec![ua.via()];
    for i in 1..40 {
        values.push(format!(
            "SIP/2.0/UDP 192.0.2.{i}:5060;branch=z9hG4bK-hop{i}-{}",
            ua.unique()
        ));
    }
    let mut lines = format!("Via: {}\r\n", values[0]);
    let mut rest = values[1..].iter();
    let mut shape = 0;
    loop {
        let take = [1, 3, 1, 2][shape % 4];
        let name = ["Via", "Via", "v", "v"][shape % 4];
        let group: Vec<&str> = rest.by_ref().take(take).map(String::as_str).collect();
        if group.is_empty() {
            break;
        }
        let sep = if shape % 3 == 0 { ", " } else { "," };
        lines.push_str(&format!("{name}: {}\r\n", group.join(sep)));
        shape += 1;
    }
    (lines, values)
}

#[test]
fn forty_via_values_in_every_form_still_get_the_normal_answer() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    let to = pbx.addr();
    for (method, status) in [("OPTIONS", 200), ("REGISTER", 401)] {
        let (vias, sent) = forty_vias(&ua);
        assert_eq!(sent.len(), 40);
        let id = ua.unique();
        let user = if method == "REGISTER" {
            "alice@"
        } else {
            "probe@"
        };
        let extra = if method == "REGISTER" {
            format!("Contact: <sip:alice@{}>\r\nExpires: 60\r\n", ua.local())
        } else {
            String::new()
        };
        let msg = format!(
            "{method} sip:{host} SIP/2.0\r\n{vias}Max-Forwards: 70\r\nFrom: <sip:{user}{host}>;tag={id}\r\n\
             To: <sip:{user}{host}>\r\nCall-ID: vias-{id}\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            host = if method == "REGISTER" { to.ip().to_string() } else { to.to_string() },
        );
        assert!(msg.contains("\r\nv: ") && msg.contains(", ") && msg.len() < 8000);
        let r = ua
            .transact(to, &msg, WAIT)
            .unwrap_or_else(|| panic!("no answer to a {method} with 40 Vias"));
        assert_eq!(r.status(), status, "{method}: {}", r.raw);
        let echoed = via_values(&r);
        assert_eq!(echoed.len(), 40, "{method}: every Via echoed: {}", r.raw);
        // The top one gains received/rport (RFC 3581); the others come back as sent.
        assert!(echoed[0].starts_with(&sent[0][..sent[0].len() - ";rport".len()]));
        assert_eq!(&echoed[1..], &sent[1..], "{method}: order and values");
    }
    assert_alive(&mut pbx);
}
