//! SIP over WebSocket (RFC 7118) against a real tokio-tungstenite client on
//! 127.0.0.1: REGISTER/OPTIONS answered over WS and WSS, the `sip`
//! subprotocol required, the connection reused as the contact, keep-alives,
//! idle timeout, limits, and malformed frames closing only their connection.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sip_stack::transport::{Handler, Incoming, SendError, TransportConfig, Transports};
use sip_stack::{Peer, Response, SipMessage, StatusCode, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::common::{eventually, loopback, WAIT};
use crate::tls::Pki;

/// Answers every request with 200 OK on the connection it came in on, and
/// reports what it saw.
struct Answerer {
    transports: OnceLock<Transports>,
    seen: mpsc::UnboundedSender<Incoming>,
}

impl Handler for Answerer {
    fn on_message(&self, incoming: Incoming) {
        if let (Some(t), Ok(SipMessage::Request(req))) = (
            self.transports.get(),
            SipMessage::parse(incoming.data.clone()),
        ) {
            let resp = Response::for_request(&req, StatusCode::OK, Some("srv"));
            t.send(&incoming.peer, resp.to_bytes()).expect("answer");
        }
        let _ = self.seen.send(incoming);
    }
}

struct Server {
    transports: Transports,
    seen: mpsc::UnboundedReceiver<Incoming>,
    answerer: Arc<Answerer>,
}

impl Server {
    async fn start(config: TransportConfig) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let answerer = Arc::new(Answerer {
            transports: OnceLock::new(),
            seen: tx,
        });
        let transports = Transports::start(config, answerer.clone())
            .await
            .expect("start");
        let _ = answerer.transports.set(transports.clone());
        Self {
            transports,
            seen,
            answerer,
        }
    }

    fn ws_addr(&self) -> std::net::SocketAddr {
        self.transports.local_addr(Transport::Ws).expect("WS bound")
    }

    async fn next(&mut self) -> Incoming {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("in time")
            .expect("open")
    }

    fn received(&self) -> u64 {
        self.transports.stats().snapshot().received
    }

    async fn shutdown(self) {
        drop(self.answerer);
        tokio::time::timeout(WAIT, self.transports.shutdown())
            .await
            .expect("shutdown");
    }
}

fn ws_config() -> TransportConfig {
    TransportConfig {
        ws: vec![loopback()],
        ..Default::default()
    }
}

fn upgrade_request(url: &str, protocol: Option<&str>) -> tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().expect("request");
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().expect("header"));
    }
    req
}

async fn connect_ws(addr: std::net::SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (ws, resp) = tokio_tungstenite::client_async(
        upgrade_request(&format!("ws://{addr}/"), Some("sip")),
        tcp,
    )
    .await
    .expect("upgrade");
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some("sip")
    );
    ws
}

/// A request as a browser phone sends it: Via `WS` with an invalid host, no
/// Content-Length (RFC 7118 §5 makes it optional).
fn browser_request(method: &str, cseq: u32) -> String {
    format!(
        "{method} sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK{cseq}x;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:alice@127.0.0.1>\r\n\
         Call-ID: ws-{method}-{cseq}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n\r\n"
    )
}

/// Reads until a text or binary frame arrives; pings are answered by tungstenite.
async fn next_data<S>(ws: &mut WebSocketStream<S>) -> Bytes
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
            .expect("stream open")
            .expect("valid frame");
        match frame {
            Message::Text(t) => return t.into(),
            Message::Binary(b) => return b,
            _ => continue,
        }
    }
}

fn status_and_cseq(data: Bytes) -> (u16, String) {
    match SipMessage::parse(data).expect("parse") {
        SipMessage::Response(r) => (r.status.0, r.cseq().expect("CSeq").to_string()),
        SipMessage::Request(r) => panic!("expected a response, got {:?}", r.method),
    }
}

#[tokio::test]
async fn ws_register_and_options_are_answered_on_the_connection() {
    let mut server = Server::start(ws_config()).await;
    let mut ws = connect_ws(server.ws_addr()).await;
    ws.send(Message::text(browser_request("REGISTER", 1)))
        .await
        .expect("send");
    let got = server.next().await;
    assert_eq!(got.peer.transport, Transport::Ws);
    assert!(got.peer.conn.is_some(), "the connection is the contact");
    assert_eq!(
        status_and_cseq(next_data(&mut ws).await),
        (200, "1 REGISTER".into())
    );
    ws.send(Message::binary(browser_request("OPTIONS", 2).into_bytes()))
        .await
        .expect("send");
    let again = server.next().await;
    assert_eq!(again.peer, got.peer, "same connection, same peer");
    assert_eq!(
        status_and_cseq(next_data(&mut ws).await),
        (200, "2 OPTIONS".into())
    );

    // A request from the server to that contact, addressed only by its
    // address (no connection id), reuses the open connection.
    let by_addr = Peer {
        conn: None,
        ..got.peer
    };
    let notify = Bytes::from(browser_request("NOTIFY", 3));
    server
        .transports
        .send(&by_addr, notify.clone())
        .expect("send");
    assert_eq!(next_data(&mut ws).await, notify);
    assert_eq!(server.transports.connection_count(), 1);

    // Once the browser is gone, nothing can reach it: no outbound WS.
    ws.close(None).await.expect("close");
    let t = server.transports.clone();
    eventually(|| t.connection_count() == 0).await;
    assert!(matches!(
        t.send(&got.peer, notify),
        Err(SendError::NoConnection(Transport::Ws))
    ));
    drop(t);
    server.shutdown().await;
}

#[tokio::test]
async fn ws_upgrade_without_sip_subprotocol_is_refused() {
    let server = Server::start(ws_config()).await;
    let addr = server.ws_addr();
    for protocol in [None, Some("chat"), Some("xmpp, mqtt")] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let err = tokio_tungstenite::client_async(
            upgrade_request(&format!("ws://{addr}/"), protocol),
            tcp,
        )
        .await
        .expect_err("refused");
        match err {
            tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 400, "{protocol:?}"),
            other => panic!("expected an HTTP refusal, got {other}"),
        }
    }
    // One offer among several is enough.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(
        upgrade_request(&format!("ws://{addr}/"), Some("chat, sip")),
        tcp,
    )
    .await
    .expect("upgrade");
    ws.send(Message::text(browser_request("OPTIONS", 1)))
        .await
        .expect("send");
    assert_eq!(status_and_cseq(next_data(&mut ws).await).0, 200);
    assert_eq!(server.transports.connection_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn wss_register_is_answered() {
    let pki = Pki::new("wss");
    let mut server = Server::start(TransportConfig {
        wss: vec![(loopback(), pki.server())],
        ..Default::default()
    })
    .await;
    let addr = server
        .transports
        .local_addr(Transport::Wss)
        .expect("WSS bound");
    assert!(server.transports.local_addr(Transport::Ws).is_none());

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(pki.ca()).expect("CA");
    for cert in rustls_pemfile_certs(&ca) {
        roots.add(cert).expect("root");
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS");
    let (mut ws, _) = tokio_tungstenite::client_async(
        upgrade_request(&format!("wss://localhost:{}/", addr.port()), Some("sip")),
        tls,
    )
    .await
    .expect("upgrade");
    ws.send(Message::text(
        browser_request("REGISTER", 7).replace("/WS ", "/WSS "),
    ))
    .await
    .expect("send");
    let got = server.next().await;
    assert_eq!(got.peer.transport, Transport::Wss);
    assert_eq!(
        status_and_cseq(next_data(&mut ws).await),
        (200, "7 REGISTER".into())
    );
    server.shutdown().await;
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .expect("PEM")
}

#[tokio::test]
async fn ws_crlf_keepalive_in_a_frame_gets_a_pong() {
    let server = Server::start(ws_config()).await;
    let mut ws = connect_ws(server.ws_addr()).await;
    ws.send(Message::text("\r\n\r\n")).await.expect("send");
    assert_eq!(&next_data(&mut ws).await[..], b"\r\n");
    assert_eq!(server.received(), 0, "a keep-alive is no message");
    server.shutdown().await;
}

#[tokio::test]
async fn ws_pings_keep_an_answering_client_and_idle_closes_a_silent_one() {
    let server = Server::start(TransportConfig {
        tcp_idle_timeout: Duration::from_millis(400),
        ws_ping_interval: Duration::from_millis(100),
        ..ws_config()
    })
    .await;
    let addr = server.ws_addr();
    // Reading makes tungstenite answer the server's pings with pongs.
    let mut alive = connect_ws(addr).await;
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        let until = tokio::time::Instant::now() + Duration::from_millis(1200);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until, alive.next()).await {
            if frame.is_ping() {
                pings += 1;
            }
        }
        (pings, alive)
    });
    // This one never reads, so it never pongs.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    silent
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Protocol: sip\r\n\r\n",
        )
        .await
        .expect("write");
    let started = tokio::time::Instant::now();
    let mut sink = Vec::new();
    tokio::time::timeout(WAIT, silent.read_to_end(&mut sink))
        .await
        .expect("silent client closed in time")
        .expect("EOF");
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "closed too early"
    );
    assert!(sink.starts_with(b"HTTP/1.1 101"), "it was upgraded first");

    let (pings, mut alive) = reader.await.expect("reader");
    assert!(pings >= 5, "server pinged every 100 ms: {pings}");
    alive
        .send(Message::text(browser_request("OPTIONS", 1)))
        .await
        .expect("still open after 3 idle timeouts");
    assert_eq!(status_and_cseq(next_data(&mut alive).await).0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn ws_connection_limit_refuses_extra_connections() {
    let server = Server::start(TransportConfig {
        max_connections: 1,
        ..ws_config()
    })
    .await;
    let addr = server.ws_addr();
    let _first = connect_ws(addr).await;
    let tcp = TcpStream::connect(addr).await.expect("TCP connect");
    let refused = tokio_tungstenite::client_async(
        upgrade_request(&format!("ws://{addr}/"), Some("sip")),
        tcp,
    )
    .await;
    assert!(refused.is_err(), "over the limit");
    assert_eq!(server.transports.stats().snapshot().connections_refused, 1);
    server.shutdown().await;
}

/// A raw masked client frame (RFC 6455 §5.2) with the given first byte.
fn raw_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Upgrades a raw TCP connection by hand, so the test can write any bytes.
async fn raw_upgraded(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: sip\r\n\r\n",
    )
    .await
    .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(n, 1, "upgrade response cut short");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    tcp
}

/// Waits for the server to close `tcp` (EOF or reset), ignoring what it sends first.
async fn closed_by_server(tcp: &mut TcpStream) {
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut sink))
        .await
        .expect("server closed the connection in time");
}

#[tokio::test]
async fn ws_malformed_frames_close_only_their_connection() {
    let server = Server::start(TransportConfig {
        max_message_size: 2048,
        ..ws_config()
    })
    .await;
    let addr = server.ws_addr();
    let mut good = connect_ws(addr).await;
    let sip = browser_request("OPTIONS", 9);
    let mut bad_cl = sip.replace("\r\n\r\n", "\r\nContent-Length: 10\r\n\r\n");
    bad_cl.push_str("short");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not SIP", raw_frame(0x81, b"hello world")),
        (
            "headers without end",
            raw_frame(0x81, b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n"),
        ),
        (
            "Content-Length mismatch",
            raw_frame(0x81, bad_cl.as_bytes()),
        ),
        ("empty frame", raw_frame(0x82, b"")),
        (
            "invalid UTF-8 text",
            raw_frame(0x81, b"OPTIONS \xff\xfe SIP/2.0\r\n\r\n"),
        ),
        ("reserved opcode", raw_frame(0x83, b"x")),
        ("reserved bits", raw_frame(0xf1, sip.as_bytes())),
        ("fragmented ping", raw_frame(0x09, b"p")),
        ("oversized", raw_frame(0x82, &vec![b'a'; 4000])),
        ("unmasked", {
            let mut f = vec![0x81, sip.len() as u8];
            f.extend_from_slice(sip.as_bytes());
            f
        }),
    ];
    for (name, bytes) in &cases {
        let mut tcp = raw_upgraded(addr).await;
        let _ = tcp.write_all(bytes).await;
        closed_by_server(&mut tcp).await;
        assert_eq!(server.received(), 0, "{name} reached the handler");
    }
    // Seeded garbage after a valid upgrade: closed, never a panic.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..40 {
        let len = 1 + (seed % 300) as usize;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let mut tcp = raw_upgraded(addr).await;
        let _ = tcp.write_all(&junk).await;
        // Half-close: a junk prefix that looks like an unfinished frame ends at EOF.
        let _ = tcp.shutdown().await;
        closed_by_server(&mut tcp).await;
    }
    let t = server.transports.clone();
    eventually(|| t.connection_count() == 1).await;
    drop(t);
    // The good connection never noticed.
    good.send(Message::text(sip)).await.expect("send");
    assert_eq!(status_and_cseq(next_data(&mut good).await).0, 200);
    assert!(server.transports.stats().snapshot().dropped >= cases.len() as u64);
    server.shutdown().await;
}
