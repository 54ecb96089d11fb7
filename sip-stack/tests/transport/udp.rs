use std::sync::atomic::Ordering;
use std::time::Duration;

use sip_stack::transport::TransportConfig;
use sip_stack::{Peer, Transport};

use crate::common::{eventually, loopback, request, Node, WAIT};

#[tokio::test]
async fn udp_receive_and_reply() {
    let mut node = Node::start(TransportConfig {
        udp: vec![loopback()],
        udp_threads: 2,
        ..Default::default()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Udp)
        .expect("UDP bound");
    assert_ne!(server.port(), 0);
    let client = std::net::UdpSocket::bind(loopback()).expect("client socket");
    client.set_read_timeout(Some(WAIT)).expect("timeout");
    // A CRLF keep-alive datagram is swallowed; the message after it is not.
    client
        .send_to(b"\r\n\r\n", server)
        .expect("send keep-alive");
    let msg = request(1, "hello");
    client.send_to(&msg, server).expect("send");

    let got = node.next().await;
    assert_eq!(got.data, msg);
    assert_eq!(
        got.peer,
        Peer::udp(client.local_addr().expect("client addr"))
    );
    assert_eq!(got.local, server);

    node.transports
        .send(&got.peer, request(2, "reply"))
        .expect("reply");
    let mut buf = [0u8; 2048];
    let (n, from) = client.recv_from(&mut buf).expect("reply arrives");
    assert_eq!(&buf[..n], &request(2, "reply")[..]);
    assert_eq!(from, server);

    let stats = node.transports.stats().snapshot();
    assert_eq!((stats.received, stats.sent), (1, 1));
    node.shutdown().await;
}

#[tokio::test]
async fn udp_send_needs_matching_family() {
    let node = Node::start(TransportConfig {
        udp: vec![loopback()],
        udp_threads: 1,
        ..Default::default()
    })
    .await;
    let v6 = Peer::udp("[::1]:5060".parse().expect("literal"));
    let err = node
        .transports
        .send(&v6, request(1, ""))
        .expect_err("no IPv6 socket");
    assert!(
        matches!(
            err,
            sip_stack::transport::SendError::NoTransport(Transport::Udp)
        ),
        "{err}"
    );
    let tcp = Peer {
        transport: Transport::Tcp,
        addr: loopback(),
        conn: None,
    };
    assert!(
        node.transports.send(&tcp, request(1, "")).is_err(),
        "no TCP listener bound"
    );
    node.shutdown().await;
}

/// 10 000 datagrams from one source socket, four receiver threads, no loss.
/// The sender keeps at most `WINDOW` datagrams in flight so the test does
/// not depend on the host's net.core.rmem_max.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_burst_with_four_threads() {
    const TOTAL: usize = 10_000;
    const WINDOW: usize = 500;
    let node = Node::start(TransportConfig {
        udp: vec![loopback()],
        udp_threads: 4,
        ..Default::default()
    })
    .await;
    let server = node
        .transports
        .local_addr(Transport::Udp)
        .expect("UDP bound");
    let recorder = node.recorder.clone();
    let sender = tokio::task::spawn_blocking(move || {
        let client = std::net::UdpSocket::bind(loopback()).expect("client socket");
        let msg = request(7, "burst");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for i in 0..TOTAL {
            while i >= recorder.count.load(Ordering::Relaxed) + WINDOW {
                assert!(
                    std::time::Instant::now() < deadline,
                    "receivers stalled at {i}"
                );
                std::thread::yield_now();
            }
            client.send_to(&msg, server).expect("send");
        }
    });
    sender.await.expect("sender finished");
    let recorder = node.recorder.clone();
    eventually(|| recorder.count.load(Ordering::Relaxed) == TOTAL).await;
    assert_eq!(node.transports.stats().snapshot().received, TOTAL as u64);
    drop(recorder);
    node.shutdown().await;
}
