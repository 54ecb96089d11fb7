//! Malformed input never crashes the server: garbage, truncation, bad headers
//! (400 naming the header), oversized datagrams, binary junk over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{Pbx, RawUa};

/// A deterministic xorshift byte stream.
fn junk(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn assert_alive(pbx: &mut Pbx) {
    assert!(pbx.is_running(), "pbx exited:\n{}", pbx.log_text());
    let r = RawUa::new()
        .options(pbx.addr(), Duration::from_secs(2))
        .expect("OPTIONS answered after malformed input");
    assert_eq!(r.status(), 200);
}

fn request(ua: &RawUa, method: &str, cseq: &str, via: &str, from: &str) -> String {
    let id = ua.unique();
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: bad-{id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn bad_headers_get_400_naming_the_header() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    let via = ua.via();
    let from = format!("<sip:x@example.org>;tag={}", ua.unique());
    let cases = [
        ("CSeq", request(&ua, "INVITE", "abc INVITE", &via, &from)),
        ("CSeq", request(&ua, "INVITE", "1 BYE", &via, &from)),
        (
            "From",
            request(&ua, "OPTIONS", "1 OPTIONS", &via, "<sip:x@example.org"),
        ),
        (
            "Via",
            request(
                &ua,
                "OPTIONS",
                "1 OPTIONS",
                &format!("{via}\r\nVia: SIP/2.0/SCTP"),
                &from,
            ),
        ),
    ];
    for (header, msg) in cases {
        let r = ua
            .transact(pbx.addr(), &msg, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("no answer to bad {header}:\n{msg}"));
        assert_eq!(r.status(), 400, "bad {header}: {}", r.raw);
        assert!(
            r.reason().contains(header),
            "reason `{}` names {header}",
            r.reason()
        );
    }
    assert_alive(&mut pbx);
}

#[test]
fn garbage_truncated_and_oversized_datagrams() {
    let mut pbx = Pbx::start("");
    let ua = RawUa::new();
    for (i, len) in [1usize, 7, 64, 512, 1400, 4000].into_iter().enumerate() {
        ua.send_bytes(pbx.addr(), &junk(len, 0x9e37_79b9 + i as u64));
    }
    for g in [
        "\r\n\r\n",
        "SIP/2.0 200\r\n\r\n",
        "INVITE\r\n\r\n",
        "INVITE sip: SIP/2.0\r\n\r\n",
        "\0\0\0\0",
    ] {
        ua.send_bytes(pbx.addr(), g.as_bytes());
    }
    assert!(
        ua.recv(Duration::from_millis(300)).is_none(),
        "unparseable datagrams are dropped, not answered"
    );

    // Every proper prefix of an OPTIONS with a body, each with its own Call-ID.
    // Cut inside the body (header section complete): RFC 3261 §18.3, dropped or 400.
    // Cut inside the header section: the parser tolerates a missing empty line on
    // datagrams, so a prefix that still holds every mandatory header may be routed
    // (bob is not registered: 480); anything else is refused with 400 or dropped.
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n";
    let message = |cut: usize| {
        format!(
            "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: {}\r\nCall-ID: trunc-{cut:04}\r\nMax-Forwards: 70\r\n\
             From: <sip:x@example.org>;tag=t1\r\nTo: <sip:bob@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            ua.via(),
            body.len()
        )
    };
    let full_len = message(0).len();
    let mut headers_complete = std::collections::HashSet::new();
    for cut in 1..full_len {
        let m = message(cut);
        if m[..cut].contains("\r\n\r\n") {
            headers_complete.insert(format!("trunc-{cut:04}"));
        }
        ua.send_bytes(pbx.addr(), &m.as_bytes()[..cut]);
    }
    let mut answered = 0;
    while let Some(r) = ua.recv(Duration::from_millis(300)) {
        answered += 1;
        let call_id = r.header("Call-ID").unwrap_or("").to_owned();
        if headers_complete.contains(&call_id) {
            assert_eq!(
                r.status(),
                400,
                "body shorter than Content-Length must not be processed: {}",
                r.raw
            );
        } else {
            assert!(
                matches!(r.status(), 400 | 480),
                "truncated header section: {}",
                r.raw
            );
        }
    }
    assert!(
        answered < full_len,
        "most truncated datagrams are dropped or refused"
    );

    // A datagram of 60,000 bytes: a huge header.
    let huge = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: {}\r\nX-Filler: {}\r\nContent-Length: 0\r\n\r\n",
        ua.via(),
        "a".repeat(60_000)
    );
    ua.send_bytes(pbx.addr(), huge.as_bytes());
    if let Some(r) = ua.recv(Duration::from_millis(500)) {
        assert!(
            r.status() >= 400,
            "an oversized datagram is not accepted: {}",
            r.start
        );
    }
    assert_alive(&mut pbx);
}

#[test]
fn binary_junk_over_tcp() {
    let mut pbx = Pbx::start("");
    for seed in 1..4u64 {
        let mut s = TcpStream::connect(pbx.addr()).expect("connect TCP");
        s.set_write_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        // The server may close the connection mid-way: that is a fine reaction.
        let _ = s.write_all(&junk(70_000, seed));
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    // A well-formed OPTIONS on a fresh TCP connection is answered over TCP.
    let mut s = TcpStream::connect(pbx.addr()).expect("connect TCP");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let local = s.local_addr().expect("local");
    let msg = format!(
        "OPTIONS sip:{a} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-tcp-1\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=tcp1\r\nTo: <sip:{a}>\r\nCall-ID: tcp-probe-{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        a = pbx.addr()
    );
    s.write_all(msg.as_bytes()).expect("send OPTIONS over TCP");
    let mut buf = vec![0u8; 4096];
    let n = loop {
        match s.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.expect("read the answer over TCP"),
        }
    };
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert_alive(&mut pbx);
}
