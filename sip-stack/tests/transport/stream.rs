use std::time::Duration;

use bytes::BytesMut;
use sip_stack::transport::{SendError, TransportConfig};
use sip_stack::{Peer, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{eventually, loopback, request, Node, WAIT};

fn tcp_config() -> TransportConfig {
    TransportConfig {
        tcp: vec![loopback()],
        ..Default::default()
    }
}

async fn read_exactly(stream: &mut TcpStream, len: usize) -> BytesMut {
    let mut buf = BytesMut::zeroed(len);
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    buf
}

#[tokio::test]
async fn tcp_split_and_coalesced_messages() {
    let mut node = Node::start(tcp_config()).await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    let (m1, m2, m3) = (
        request(1, "first body"),
        request(2, ""),
        request(3, "third"),
    );
    // m1 split inside the headers and inside the body.
    for part in [&m1[..10], &m1[10..m1.len() - 4], &m1[m1.len() - 4..]] {
        client.write_all(part).await.expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut both = m2.to_vec();
    both.extend_from_slice(&m3);
    client.write_all(&both).await.expect("write");

    let got: Vec<_> = [node.next().await, node.next().await, node.next().await].into();
    assert_eq!(
        got.iter().map(|i| i.data.clone()).collect::<Vec<_>>(),
        vec![m1, m2, m3]
    );
    let peer = got[0].peer;
    assert_eq!(peer.transport, Transport::Tcp);
    assert_eq!(peer.addr, client.local_addr().expect("client addr"));
    assert!(peer.conn.is_some());
    assert!(
        got.iter().all(|i| i.peer == peer),
        "same connection for all three"
    );
    assert!(node.rx.try_recv().is_err(), "exactly three messages");
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_crlf_ping_gets_pong() {
    let mut node = Node::start(tcp_config()).await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    // RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong; a message after it still frames.
    client.write_all(b"\r\n\r\n").await.expect("ping");
    assert_eq!(&read_exactly(&mut client, 2).await[..], b"\r\n");
    client.write_all(b"\r\n").await.expect("pong from client");
    let msg = request(1, "after keep-alive");
    client.write_all(&msg).await.expect("write");
    assert_eq!(node.next().await.data, msg);
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_reply_reuses_accepted_connection() {
    let mut node = Node::start(tcp_config()).await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    client.write_all(&request(1, "")).await.expect("write");
    let got = node.next().await;

    // By connection id.
    let reply = request(2, "by id");
    node.transports
        .send(&got.peer, reply.clone())
        .expect("send");
    assert_eq!(read_exactly(&mut client, reply.len()).await, reply);
    // By address only: the accepted connection is reused, none is opened.
    let by_addr = Peer {
        conn: None,
        ..got.peer
    };
    let reply = request(3, "by address");
    node.transports.send(&by_addr, reply.clone()).expect("send");
    assert_eq!(read_exactly(&mut client, reply.len()).await, reply);
    let stats = node.transports.stats().snapshot();
    assert_eq!(
        (
            stats.connections_accepted,
            stats.connections_connected,
            stats.sent
        ),
        (1, 0, 2)
    );
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_send_opens_outbound_connection() {
    let a = Node::start(tcp_config()).await;
    let mut b = Node::start(tcp_config()).await;
    b.echo();
    let b_addr = b.transports.local_addr(Transport::Tcp).expect("TCP bound");
    let to_b = Peer {
        transport: Transport::Tcp,
        addr: b_addr,
        conn: None,
    };
    // Both are queued before the connection exists; one connection carries both.
    a.transports.send(&to_b, request(1, "one")).expect("send");
    a.transports.send(&to_b, request(2, "two")).expect("send");
    assert_eq!(b.next().await.data, request(1, "one"));
    let second = b.next().await;
    assert_eq!(second.data, request(2, "two"));
    // The echo came back to A over the connection A opened.
    let mut a = a;
    let echoed = a.next().await;
    assert_eq!(echoed.data, request(1, "one"));
    assert_eq!(echoed.peer.addr, b_addr);
    assert_eq!(a.next().await.data, request(2, "two"));
    assert_eq!(a.transports.stats().snapshot().connections_connected, 1);
    assert_eq!(b.transports.stats().snapshot().connections_accepted, 1);
    assert_eq!(a.transports.connection_count(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn tcp_connect_failure_drops_queued_data() {
    let a = Node::start(tcp_config()).await;
    // A port with no listener: bind, note it, close.
    let dead = std::net::TcpListener::bind(loopback())
        .expect("bind")
        .local_addr()
        .expect("addr");
    let peer = Peer {
        transport: Transport::Tcp,
        addr: dead,
        conn: None,
    };
    a.transports.send(&peer, request(1, "")).expect("queued");
    let t = a.transports.clone();
    eventually(|| t.stats().snapshot().connections_closed == 1).await;
    let stats = t.stats().snapshot();
    assert_eq!((stats.dropped, stats.connections_open), (1, 0));
    assert_eq!(t.connection_count(), 0);
    drop(t);
    a.shutdown().await;
}

#[tokio::test]
async fn tcp_garbage_closes_only_that_connection() {
    let mut node = Node::start(tcp_config()).await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut good = TcpStream::connect(server).await.expect("connect");
    let mut bad = TcpStream::connect(server).await.expect("connect");
    // A header section without Content-Length: framing is lost (RFC 3261 §18.3).
    bad.write_all(b"NOT SIP AT ALL\r\nFoo: bar\r\n\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WAIT, bad.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert_eq!(
        n.map(|_| rest.len()).unwrap_or(0),
        0,
        "server closed the bad connection"
    );

    let msg = request(1, "still fine");
    good.write_all(&msg).await.expect("write");
    assert_eq!(node.next().await.data, msg);
    let stats = node.transports.stats().snapshot();
    assert_eq!(
        (stats.dropped, stats.received, stats.connections_closed),
        (1, 1, 1)
    );
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_oversized_message_closes_connection() {
    let node = Node::start(TransportConfig {
        max_message_size: 1024,
        ..tcp_config()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    let huge = request(1, &"x".repeat(4096));
    // The write may fail once the server has closed; either way it must close.
    let _ = client.write_all(&huge).await;
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, client.read_to_end(&mut sink))
        .await
        .expect("closed in time");
    let t = node.transports.clone();
    eventually(|| t.stats().snapshot().connections_closed == 1).await;
    assert_eq!(t.stats().snapshot().received, 0);
    drop(t);
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_idle_connection_closes() {
    let node = Node::start(TransportConfig {
        tcp_idle_timeout: Duration::from_millis(200),
        ..tcp_config()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    let started = tokio::time::Instant::now();
    let mut sink = [0u8; 16];
    let n = tokio::time::timeout(WAIT, client.read(&mut sink))
        .await
        .expect("closed in time")
        .expect("clean EOF");
    assert_eq!(n, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "not closed before the idle timeout"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn tcp_connection_limit_refuses_extra_accepts() {
    let mut node = Node::start(TransportConfig {
        max_connections: 1,
        ..tcp_config()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut first = TcpStream::connect(server).await.expect("connect");
    first.write_all(&request(1, "")).await.expect("write");
    let got = node.next().await;
    let mut second = TcpStream::connect(server).await.expect("connect");
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, second.read_to_end(&mut sink))
        .await
        .expect("refused connection closes");
    assert_eq!(node.transports.stats().snapshot().connections_refused, 1);
    // Outbound opens are refused too while the limit is reached.
    let other = Peer {
        transport: Transport::Tcp,
        addr: "127.0.0.1:9".parse().expect("literal"),
        conn: None,
    };
    assert!(matches!(
        node.transports.send(&other, request(2, "")),
        Err(SendError::TooManyConnections)
    ));
    node.transports
        .send(&got.peer, request(3, ""))
        .expect("existing connection still works");
    assert_eq!(
        read_exactly(&mut first, request(3, "").len()).await,
        request(3, "")
    );
    node.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_rejects_sends() {
    let mut node = Node::start(TransportConfig {
        udp: vec![loopback()],
        udp_threads: 2,
        ..tcp_config()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Tcp)
        .expect("TCP bound");
    let mut client = TcpStream::connect(server).await.expect("connect");
    client.write_all(&request(1, "")).await.expect("write");
    let got = node.next().await;
    let handle = node.transports.clone();
    node.shutdown().await;
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, client.read_to_end(&mut sink))
        .await
        .expect("closed by shutdown");
    assert!(matches!(
        handle.send(&got.peer, request(2, "")),
        Err(SendError::ShuttingDown)
    ));
    assert_eq!(handle.stats().snapshot().connections_open, 0);
    assert!(TcpStream::connect(server).await.is_err(), "listener closed");
}
