//! `pbx phone` over TCP and TLS: two phones register at `pbx serve` on a
//! stream transport and call each other through it; each recording holds
//! the other side's tone and the callee gets the caller's digits.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

use super::*;

/// Alice (2001, 440 Hz) calls bob (2002, 1000 Hz) through the pbx at
/// `server`, each phone with `args` (transport flags) before its mode.
fn call_over(root: &Path, config: &Path, server: &str, args: &[&str]) {
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 10.0);
    write_tone(&tone_b, 1000.0, 10.0);
    let (heard_a, heard_b) = (root.join("a-heard.wav"), root.join("b-heard.wav"));
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args(["phone", "--user", "2002", "--password", "2002-pw"])
            .args(["--server", server])
            .args(args)
            .args(["answer", "--duration", "5s", "--wait", "20s"])
            .arg("--play")
            .arg(&tone_b)
            .arg("--record")
            .arg(&heard_b)
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(config, "2002@127.0.0.1", root);
    if let Some(transport) = args
        .windows(2)
        .find(|w| w[0] == "--transport")
        .map(|w| w[1])
    {
        assert_registered_over(config, transport);
    }
    let alice = pbx()
        .args(["phone", "--user", "2001", "--password", "2001-pw"])
        .args(["--server", server])
        .args(args)
        .args(["call", "2002", "--duration", "3s", "--dtmf", "9"])
        .arg("--play")
        .arg(&tone_a)
        .arg("--record")
        .arg(&heard_a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice.stderr).into_owned();
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    let pbx_text = std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    assert!(
        alice.status.success(),
        "alice's call connected:\n{alice_log}\nbob:\n{bob_text}\npbx:\n{pbx_text}"
    );
    assert!(bob_status.success(), "bob answered:\n{bob_text}");
    assert!(bob_text.contains("call ended: remote hangup"), "{bob_text}");
    assert!(bob_text.contains("DTMF 9 received"), "{bob_text}");
    assert_hears(&heard_a, 1000.0, 440.0, "alice");
    assert_hears(&heard_b, 440.0, 1000.0, "bob");
}

/// The registrations listing shows bob's contact on `transport`, learnt
/// from the connection (its port is the one the registration came from).
pub(crate) fn assert_registered_over(config: &Path, transport: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = pbx()
            .args(["--config", config.to_str().unwrap(), "registrations"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // 2002@127.0.0.1 <tab> contact <tab> expires <tab> q <tab> via TRANSPORT ADDR ...
        let learnt = text.lines().filter(|l| l.starts_with("2002@")).any(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let port = fields[1]
                .rsplit_once(':')
                .and_then(|(_, rest)| rest.split(';').next())
                .unwrap_or_default();
            let source = format!("via {} 127.0.0.1:{port}", transport.to_ascii_uppercase());
            fields[1].ends_with(&format!(";transport={transport}")) && line.contains(&source)
        });
        if learnt {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "bob's contact is his {transport} connection:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_phones_call_each_other_over_tcp() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    // A 1 s keep-alive: CRLF pings run during the call without disturbing it.
    call_over(
        root,
        &config,
        &server,
        &["--transport", "tcp", "--keepalive", "1s"],
    );
}

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`;
/// returns the CA's path.
fn pki(dir: &Path) -> std::path::PathBuf {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pbx phone test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

#[test]
fn two_phones_call_each_other_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ca = pki(root);
    let tls_port = free_udp_port();
    let tls = format!(
        "[[server.tls]]\nlisten = \"127.0.0.1:{tls_port}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        root.join("cert.pem").display(),
        root.join("key.pem").display()
    );
    let (_server, _, config) = start_server_with(root, &tls);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{tls_port}");
    let ca = ca.to_str().unwrap().to_owned();
    call_over(
        root,
        &config,
        &server,
        &["--transport", "tls", "--tls-ca", &ca],
    );
}

/// Network loss on TCP: the server goes away (its connections die with
/// it) and comes back on the same address. The console's next refresh
/// opens a new connection, learns its new address from the server and
/// registers it.
#[test]
fn tcp_console_re_registers_on_a_new_connection_after_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (server, port, config) = start_server_with(root, "[registrar]\nmin_expires = 2\n");
    std::thread::sleep(Duration::from_millis(300));
    let mut alice = pbx()
        .args(["phone", "--user", "2002", "--password", "2002-pw"])
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["--transport", "tcp", "--expires", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = alice.stdin.take().unwrap();
    wait_registered(&config, "2002@127.0.0.1", root);
    assert_registered_over(&config, "tcp");
    drop(server);
    let _restarted = restart_server(root, &config);
    // The 4 s binding is refreshed after 2 s, on a new connection.
    std::thread::sleep(Duration::from_millis(3500));
    assert_registered_over(&config, "tcp");
    let bindings = pbx()
        .args(["--config", config.to_str().unwrap(), "registrations"])
        .output()
        .unwrap();
    let bindings = String::from_utf8_lossy(&bindings.stdout).into_owned();
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    let out = alice.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let learnt: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("contact learnt from the server"))
        .collect();
    assert_eq!(learnt.len(), 2, "one contact per connection:\n{text}");
    assert_ne!(learnt[0], learnt[1], "{text}");
    // The new connection's contact replaced the old one.
    let contact = |line: &str| line.rsplit(' ').next().unwrap_or_default().to_owned();
    assert!(bindings.contains(&contact(learnt[1])), "{bindings}");
    assert!(!bindings.contains(&contact(learnt[0])), "{bindings}");
    assert!(text.contains("registered again (4 s)"), "{text}");
}

/// Runs `pbx phone call` against `server` (which never answers) with
/// 200 ms keep-alives for about 1.5 s.
fn call_silent_server(server: &str, transport: &str) -> std::process::Child {
    pbx()
        .args(["phone", "--user", "alice", "--server", server])
        .args(["--transport", transport, "--keepalive", "200ms"])
        .args(["call", &format!("sip:nobody@{server}"), "--wait", "1500ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// RFC 5626 §4.4.1 keep-alives: a double CRLF to the server every
/// `--keepalive`, on UDP (one datagram each) and on TCP (on the flow).
#[test]
fn crlf_keep_alives_reach_the_server_on_udp_and_tcp() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let server = udp.local_addr().unwrap().to_string();
    let phone = Kill(call_silent_server(&server, "udp"));
    let (mut pings, mut invites) = (0, 0);
    let end = Instant::now() + Duration::from_millis(1300);
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok((n, _)) = udp.recv_from(&mut buf) {
            match &buf[..n] {
                b"\r\n\r\n" => pings += 1,
                m if m.starts_with(b"INVITE ") => invites += 1,
                _ => {}
            }
        }
    }
    drop(phone);
    assert!(invites >= 1, "the INVITE arrived");
    assert!(pings >= 4, "{pings} UDP keep-alives in 1.3 s at 200 ms");

    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = tcp.local_addr().unwrap().to_string();
    let phone = Kill(call_silent_server(&server, "tcp"));
    let (mut conn, _) = tcp.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut data = Vec::new();
    let end = Instant::now() + Duration::from_millis(1300);
    while Instant::now() < end {
        if let Ok(n) = std::io::Read::read(&mut conn, &mut buf) {
            data.extend_from_slice(&buf[..n]);
        }
    }
    drop(phone);
    let text = String::from_utf8_lossy(&data).into_owned();
    assert!(text.starts_with("INVITE sip:nobody@"), "{text}");
    // A message never holds two empty lines in a row: these are pings.
    assert!(text.contains("\r\n\r\n\r\n\r\n\r\n\r\n"), "{text:?}");
}
