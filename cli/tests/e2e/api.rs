//! The CRM API's admin side end to end: `pbx tokens create|list|revoke`,
//! a user disabled through `/api/v1` whose REGISTER then gets 403 (SPEC
//! §16), and `pbx cdr export` to CSV and XLSX (masked on request).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::{free_port, password, Alg, Pbx, RawUa};

/// One HTTP/1.1 request to the server's API; (status, body).
fn http(port: u16, method: &str, path: &str, token: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn tokens_a_disabled_users_register_and_the_records_export() {
    let http_port = free_port();
    let pbx = Pbx::start_with_metrics("", &format!("127.0.0.1:{http_port}"));
    // tokens: printed once, listed without the secret, revoked
    let out = pbx.admin(&["tokens", "create", "--name", "crm", "--scope", "read,admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("pbx_"), "{token}");
    let out = pbx.admin(&["tokens", "create", "--name", "bad", "--scope", "root"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    let list = String::from_utf8_lossy(&pbx.admin(&["tokens", "list"]).stdout).into_owned();
    assert!(
        list.contains("crm\tread,admin") && !list.contains(&token[4..]),
        "{list}"
    );

    // disable alice through the API: her REGISTER is refused with 403
    let ua = RawUa::new();
    let contact = format!("sip:alice@{}", ua.local());
    let full = |ua: &RawUa| {
        ua.register(pbx.addr(), "alice", &password("alice"), &contact, Alg::Md5)
            .answer
            .map_or(0, |m| m.status())
    };
    // the answer to a REGISTER without credentials: 401 (a challenge) for
    // an enabled user, 403 for a disabled one (refused before any challenge)
    let first = |ua: &RawUa| {
        let msg = ua.register_msg(
            pbx.addr(),
            "alice",
            &contact,
            &format!("reg-{}", ua.unique()),
            1,
            None,
        );
        ua.transact(pbx.addr(), &msg, Duration::from_secs(2))
            .map_or(0, |m| m.status())
    };
    assert_eq!(full(&ua), 200);
    let (code, body) = http(http_port, "POST", "/api/v1/users/alice/disable", &token);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"enabled\":false"), "{body}");
    let start = Instant::now();
    while first(&ua) != 403 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "alice still registers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = http(http_port, "POST", "/api/v1/users/alice/enable", &token);
    assert_eq!(code, 200);
    let start = Instant::now();
    while first(&ua) != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "alice still refused"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(full(&ua), 200, "alice registers again");
    assert!(pbx.admin(&["tokens", "revoke", "crm"]).status.success());
    assert_eq!(http(http_port, "GET", "/api/v1/records", &token).0, 401);

    // the export: 300 synthetic records in 2023-11
    {
        let mut store =
            pbx_core::store::Store::open(&pbx.dir().join("data/pbx.sqlite")).expect("store");
        let spec = pbx_core::store::synthetic::SyntheticSpec {
            records: 300,
            first_start_ms: 1_700_000_000_000,
            ..Default::default()
        };
        pbx_core::store::synthetic::generate(&mut store, &spec, |_| {}).expect("records");
    }
    let csv = pbx.dir().join("records.csv");
    let window = ["--from", "2023-11-01", "--to", "2023-12-01"];
    let mut args = vec![
        "cdr",
        "export",
        "--format",
        "csv",
        "-o",
        csv.to_str().unwrap(),
    ];
    args.extend(window);
    let out = pbx.admin(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(text.lines().count(), 301, "header + 300 records");
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("call_id,pbx_id,direction,caller"));
    assert!(text.contains(",138000"), "numbers in full");
    args.push("--mask-numbers");
    assert!(pbx.admin(&args).status.success());
    let masked = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(masked.lines().count(), 301);
    assert!(
        !masked.contains(",138000") && masked.contains("138****"),
        "masked"
    );
    let xlsx = pbx.dir().join("records.xlsx");
    let mut args = vec![
        "cdr",
        "export",
        "--format",
        "xlsx",
        "-o",
        xlsx.to_str().unwrap(),
        "--outcome",
        "answered",
    ];
    args.extend(window);
    let out = pbx.admin(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&xlsx).expect("xlsx");
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");
    assert!(String::from_utf8_lossy(&out.stderr).contains("call records written"));
}
