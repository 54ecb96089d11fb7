//! SIP over WebSocket (RFC 7118) against `pbx serve`: a browser-like phone on
//! a `ws:` listener registers with digest auth, shows up in
//! `pbx registrations` with its connection as the contact, answers OPTIONS
//! and receives a call proxied to it over that same connection; a malformed
//! frame closes only its connection. The same REGISTER over `wss:`.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::harness::{free_port, password, users_toml, Pbx, BASE_USERS};
use crate::raw_ua::{challenge_param, Alg, Msg, RawUa};
use crate::register::wait_registrations;

const WAIT: Duration = Duration::from_secs(5);
/// The invalid host a browser phone puts in its Via and Contact (RFC 7118 §5.2).
const BROWSER_HOST: &str = "df7jal23ls0d.invalid";

struct WsPhone<S = TcpStream> {
    ws: WebSocketStream<S>,
    seq: u32,
}

impl WsPhone {
    async fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("TCP connect");
        Self::upgrade(&format!("ws://{addr}/"), tcp).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsPhone<S> {
    async fn upgrade(url: &str, stream: S) -> Self {
        let mut req = url.into_client_request().expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
        let (ws, _) = tokio_tungstenite::client_async(req, stream)
            .await
            .expect("WebSocket upgrade");
        Self { ws, seq: 0 }
    }

    async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send frame");
    }

    async fn recv(&mut self) -> Msg {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("valid frame");
            if let Message::Text(t) = frame {
                return Msg::parse(t.as_str()).expect("a SIP message");
            }
        }
    }

    fn register_msg_over(&mut self, via: &str, user: &str, auth: Option<&str>) -> String {
        self.seq += 1;
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        // JsSIP-shaped, without Content-Length (optional over WebSocket).
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/{via} {BROWSER_HOST};branch=z9hG4bKws{seq};rport\r\n\
             Max-Forwards: 69\r\nTo: <sip:{user}@127.0.0.1>\r\nFrom: <sip:{user}@127.0.0.1>;tag=wsphone\r\n\
             Call-ID: ws-register-{user}\r\nCSeq: {seq} REGISTER\r\n\
             Contact: <sip:{user}@{BROWSER_HOST};transport={transport}>;expires=600\r\n\
             User-Agent: ws-e2e\r\n{auth}\r\n",
            seq = self.seq,
            transport = via.to_ascii_lowercase()
        )
    }

    /// REGISTER → 401 → REGISTER with MD5 digest credentials; the final answer.
    async fn register(&mut self, user: &str, password: &str) -> Msg {
        self.register_over("WS", user, password).await
    }

    async fn register_over(&mut self, via: &str, user: &str, password: &str) -> Msg {
        let first = self.register_msg_over(via, user, None);
        self.send(first).await;
        let challenge = self.recv().await;
        assert_eq!(challenge.status(), 401, "{}", challenge.raw);
        let www = challenge
            .all("WWW-Authenticate")
            .into_iter()
            .find(|c| {
                challenge_param(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case("MD5"))
            })
            .unwrap_or_else(|| panic!("no MD5 challenge: {}", challenge.raw))
            .to_owned();
        let realm = challenge_param(&www, "realm").expect("realm");
        let nonce = challenge_param(&www, "nonce").expect("nonce");
        let uri = "sip:127.0.0.1";
        let ha1 = Alg::Md5.h(&format!("{user}:{realm}:{password}"));
        let ha2 = Alg::Md5.h(&format!("REGISTER:{uri}"));
        let response = Alg::Md5.h(&format!("{ha1}:{nonce}:00000001:wscnonce:auth:{ha2}"));
        let auth = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"wscnonce\""
        );
        let second = self.register_msg_over(via, user, Some(&auth));
        self.send(second).await;
        self.recv().await
    }
}

fn ws_pbx() -> (Pbx, SocketAddr) {
    let ws_port = free_port();
    let pbx = Pbx::start_config(|port, data| {
        format!(
            "[server]\ndomain = \"127.0.0.1\"\n\
             listen = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\", \"ws:127.0.0.1:{ws_port}\"]\n\
             data_dir = \"{}\"\nudp_threads = 1\n\n[metrics]\nlisten = \"off\"\n{}",
            data.display(),
            users_toml(&BASE_USERS)
        )
    });
    (pbx, SocketAddr::from(([127, 0, 0, 1], ws_port)))
}

#[test]
fn websocket_phone_registers_with_digest_and_is_reached_on_its_connection() {
    let (pbx, ws_addr) = ws_pbx();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut phone = WsPhone::connect(ws_addr).await;
        let local = phone.ws.get_ref().local_addr().expect("local addr");
        let ok = phone.register("alice", &password("alice")).await;
        assert_eq!(ok.status(), 200, "{}", ok.raw);
        // RFC 3581 over WebSocket: where the REGISTER really came from.
        let via = ok.header("Via").expect("Via");
        assert!(via.starts_with("SIP/2.0/WS "), "{via}");
        assert!(via.contains("received=127.0.0.1"), "{via}");
        assert!(via.contains(&format!("rport={}", local.port())), "{via}");

        let contact = format!("sip:alice@{BROWSER_HOST};transport=ws");
        let source = format!("via WS {local}");
        // Blocking is fine here: the current-thread runtime has nothing else to run.
        let out = wait_registrations(&pbx, |o| o.contains(&contact) && o.contains(&source));
        let line = out
            .lines()
            .find(|l| l.contains(&contact))
            .unwrap_or_else(|| panic!("{contact} not registered:\n{out}"));
        assert!(line.starts_with("alice@127.0.0.1\t"), "{line}");
        assert!(line.contains(&source) && line.contains("ws-e2e"), "{line}");

        // A call to alice from a UDP phone is proxied onto the WebSocket.
        let caller = RawUa::new();
        let invite = caller.invite_msg("sip:alice@127.0.0.1", "sip:someone@example.org", "");
        caller.send_bytes(pbx.addr(), invite.as_bytes());
        let forwarded = loop {
            let m = phone.recv().await;
            if m.start.starts_with("INVITE ") {
                break m;
            }
        };
        assert!(
            forwarded.start.contains(BROWSER_HOST),
            "Request-URI is the registered contact: {}",
            forwarded.start
        );
        let top_via = forwarded.header("Via").expect("Via");
        assert!(
            top_via.starts_with("SIP/2.0/WS "),
            "pbx's own Via names WS: {top_via}"
        );
        // The browser is busy: 486 travels back on the same connection to the caller.
        let mut busy = String::from("SIP/2.0 486 Busy Here\r\n");
        for v in forwarded.all("Via") {
            busy.push_str(&format!("Via: {v}\r\n"));
        }
        for h in ["From", "Call-ID", "CSeq"] {
            busy.push_str(&format!("{h}: {}\r\n", forwarded.header(h).expect(h)));
        }
        busy.push_str(&format!(
            "To: {};tag=busy\r\n\r\n",
            forwarded.header("To").expect("To")
        ));
        phone.send(busy).await;
        let answer = loop {
            let m = caller.recv(WAIT).expect("the caller gets a final answer");
            if m.status() >= 200 {
                break m;
            }
        };
        assert_eq!(answer.status(), 486, "{}", answer.raw);

        // A frame that is no SIP message closes only that connection, with
        // the reason in the log.
        let mut bad = WsPhone::connect(ws_addr).await;
        bad.send("hello, not SIP".into()).await;
        let end = tokio::time::timeout(WAIT, async {
            loop {
                match bad.ws.next().await {
                    Some(Ok(Message::Close(frame))) => break frame.map(|f| f.reason.to_string()),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break None,
                }
            }
        })
        .await
        .expect("the bad connection is closed");
        if let Some(reason) = end {
            assert!(reason.contains("malformed SIP frame"), "{reason}");
        }
        let deadline = std::time::Instant::now() + WAIT;
        while !pbx.log_text().contains("malformed SIP frame") {
            assert!(std::time::Instant::now() < deadline, "no logged reason:\n{}", pbx.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        let options = format!(
            "OPTIONS sip:{ws_addr} SIP/2.0\r\nVia: SIP/2.0/WS {BROWSER_HOST};branch=z9hG4bKwsopt;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=o1\r\nTo: <sip:{ws_addr}>\r\n\
             Call-ID: ws-options\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        phone.send(options).await;
        let pong = loop {
            let m = phone.recv().await;
            if m.header("CSeq") == Some("1 OPTIONS") {
                break m;
            }
        };
        assert_eq!(pong.status(), 200, "the good connection still works: {}", pong.raw);
    });
}

#[test]
fn websocket_phone_registers_over_wss() {
    let certs = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let (cert_pem, key_pem) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).expect("write");
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).expect("write");
    let wss_port = free_port();
    let pbx = Pbx::start_config(|port, data| {
        format!(
            "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\"]\n\
             data_dir = \"{}\"\nudp_threads = 1\n\n\
             [[server.tls]]\nlisten = \"127.0.0.1:{wss_port}\"\ntransport = \"wss\"\ncert = {cert_pem:?}\nkey = {key_pem:?}\n\n\
             [metrics]\nlisten = \"off\"\n{}",
            data.display(),
            users_toml(&BASE_USERS)
        )
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).expect("root");
        let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
        let tcp = TcpStream::connect(("127.0.0.1", wss_port))
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, tcp).await.expect("TLS handshake");
        let mut phone = WsPhone::upgrade(&format!("wss://localhost:{wss_port}/"), tls).await;
        let ok = phone.register_over("WSS", "bob", &password("bob")).await;
        assert_eq!(ok.status(), 200, "{}", ok.raw);
        let contact = format!("sip:bob@{BROWSER_HOST};transport=wss");
        let out = wait_registrations(&pbx, |o| {
            o.contains(&contact) && o.contains("via WSS 127.0.0.1:")
        });
        assert!(out.contains(&contact) && out.contains("via WSS"), "{out}");
    });
}
