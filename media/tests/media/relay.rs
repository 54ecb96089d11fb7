use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use media::relay::driver::{Command, DriverConfig, RelayEvent, RelayHandle, SessionId};
use media::relay::{LegConfig, RelayConfig};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};

fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn leg(s: &UdpSocket) -> LegConfig {
    LegConfig {
        remote_rtp: Some(s.local_addr().unwrap()),
        remote_rtcp: None,
        rtcp_mux: true,
    }
}

fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut b = vec![0u8; 172];
    let payload: Vec<u8> = (0..160)
        .map(|i| (i as u8).wrapping_add(seq as u8))
        .collect();
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(ssrc),
    }
    .write(&payload, &mut b)
    .unwrap();
    b
}

fn cfg(port_min: u16, timeout: Duration) -> DriverConfig {
    DriverConfig {
        port_min,
        port_max: port_min + 40,
        relay: RelayConfig {
            inactivity_timeout: timeout,
            ..RelayConfig::default()
        },
        ..DriverConfig::default()
    }
}

#[test]
fn relays_between_two_endpoints_and_blocks_hijack() {
    let relay = RelayHandle::spawn(cfg(41000, Duration::from_secs(30))).unwrap();
    let (a, b, evil) = (endpoint(), endpoint(), endpoint());
    relay.send(Command::Open {
        id: SessionId(1),
        a: leg(&a),
        b: leg(&b),
    });
    let RelayEvent::Opened { ports, .. } =
        relay.events.recv_timeout(Duration::from_secs(2)).unwrap()
    else {
        panic!("open failed")
    };
    let to_a_side: SocketAddr = format!("127.0.0.1:{}", ports.0.rtp).parse().unwrap();
    let to_b_side: SocketAddr = format!("127.0.0.1:{}", ports.1.rtp).parse().unwrap();
    let mut buf = [0u8; 2048];
    for seq in 0..50u16 {
        a.send_to(&rtp(0xa, seq), to_a_side).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(from, to_b_side, "B hears the relay, not A");
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!((p.sequence(), p.ssrc()), (seq, Ssrc(0xa)));
        assert_eq!(p.payload(), &rtp(0xa, seq)[12..]);
        b.send_to(&rtp(0xb, seq), to_b_side).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!(from, to_a_side);
        assert_eq!(RtpPacket::parse(&buf[..n]).unwrap().ssrc(), Ssrc(0xb));
    }
    // a third party tries to inject into A's relay port after latching
    evil.send_to(&rtp(0xe, 1), to_a_side).unwrap();
    a.send_to(&rtp(0xa, 50), to_a_side).unwrap();
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(
        RtpPacket::parse(&buf[..n]).unwrap().ssrc(),
        Ssrc(0xa),
        "hijack packet must not be relayed"
    );
    relay.send(Command::QueryStats(SessionId(1)));
    let RelayEvent::Stats { stats, .. } =
        relay.events.recv_timeout(Duration::from_secs(2)).unwrap()
    else {
        panic!("no stats")
    };
    assert_eq!(stats.0.packets_in, 51);
    // the latch settled after 10 packets and A's relay socket was connected
    // to A: the kernel drops the foreign datagram before the relay reads it
    assert_eq!(stats.0.dropped, 0);
    assert_eq!(stats.1.packets_in, 50);
    assert_eq!(stats.0.lost, 0);
    assert!(stats.0.mos > 4.0);
    relay.send(Command::Close(SessionId(1)));
    let ev = relay.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(matches!(ev, RelayEvent::Closed { expired: false, .. }));
}

/// Sends `count` packets from `from` into `relay_port` and checks that
/// `to` receives them through the relay.
#[track_caller]
fn relayed(
    from: &UdpSocket,
    relay_port: SocketAddr,
    to: &UdpSocket,
    ssrc: u32,
    seqs: std::ops::Range<u16>,
) {
    let mut buf = [0u8; 2048];
    for seq in seqs {
        from.send_to(&rtp(ssrc, seq), relay_port).unwrap();
        let (n, _) = to
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("seq {seq} not relayed: {e}"));
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.payload(), &rtp(ssrc, seq)[12..], "seq {seq}");
    }
}

/// Waits until the relay thread has handled the commands sent before
/// (a packet racing a `Reanchor` would be refused, as by the latch before).
fn barrier(relay: &RelayHandle, id: SessionId) {
    relay.send(Command::QueryStats(id));
    let ev = relay.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(matches!(ev, RelayEvent::Stats { .. }));
}

/// Nothing arrives at `s` within 150 ms.
fn silent(s: &UdpSocket) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let quiet = s.recv_from(&mut buf).is_err();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    quiet
}

#[test]
fn relatches_within_the_window_and_after_reanchor_or_hold() {
    let relay = RelayHandle::spawn(cfg(43500, Duration::from_secs(30))).unwrap();
    let (a, b, a_nat, a_new) = (endpoint(), endpoint(), endpoint(), endpoint());
    let ports = relay
        .open_sync(SessionId(3), leg(&a), leg(&b), Duration::from_secs(2))
        .unwrap();
    let to_a_side: SocketAddr = format!("127.0.0.1:{}", ports.0.rtp).parse().unwrap();
    let to_b_side: SocketAddr = format!("127.0.0.1:{}", ports.1.rtp).parse().unwrap();
    // inside the latch window (10 packets) A's source may still move (NAT
    // rebinding): the socket is not connected yet
    relayed(&a, to_a_side, &b, 0xa, 0..3);
    relayed(&a_nat, to_a_side, &b, 0xa, 3..20);
    relayed(&b, to_b_side, &a_nat, 0xb, 0..20);
    // window closed: the old source is refused (by the kernel now)
    a.send_to(&rtp(0xa, 20), to_a_side).unwrap();
    assert!(silent(&b), "a stale source must not be relayed");
    // re-INVITE with a new address: the socket is unconnected, the new
    // source latches and gets B's packets
    relay.send(Command::Reanchor {
        id: SessionId(3),
        side: media::relay::Side::A,
        leg: leg(&a_new),
    });
    barrier(&relay, SessionId(3));
    relayed(&a_new, to_a_side, &b, 0xa, 21..40);
    relayed(&b, to_b_side, &a_new, 0xb, 20..40);
    assert!(silent(&a_nat), "nothing goes to the old source");
    // hold with c=0.0.0.0 (no address), then the first endpoint comes back
    relay.send(Command::Reanchor {
        id: SessionId(3),
        side: media::relay::Side::A,
        leg: LegConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: true,
        },
    });
    barrier(&relay, SessionId(3));
    relayed(&a, to_a_side, &b, 0xa, 40..60);
    relayed(&b, to_b_side, &a, 0xb, 40..60);
    relay.send(Command::QueryStats(SessionId(3)));
    let RelayEvent::Stats { stats, .. } =
        relay.events.recv_timeout(Duration::from_secs(2)).unwrap()
    else {
        panic!("no stats")
    };
    assert_eq!(stats.0.packets_in, 59, "all but the stale packet");
    assert_eq!(stats.1.packets_in, 60);
}

#[test]
fn inactivity_frees_ports() {
    let relay = RelayHandle::spawn(cfg(41100, Duration::from_millis(300))).unwrap();
    let (a, b) = (endpoint(), endpoint());
    let ports = relay
        .open_sync(SessionId(7), leg(&a), leg(&b), Duration::from_secs(2))
        .unwrap();
    let ev = relay.events.recv_timeout(Duration::from_secs(3)).unwrap();
    assert!(
        matches!(
            ev,
            RelayEvent::Closed {
                id: SessionId(7),
                expired: true,
                ..
            }
        ),
        "{ev:?}"
    );
    // the ports are free again: we can bind them ourselves
    UdpSocket::bind(("127.0.0.1", ports.0.rtp)).expect("port released");
}

#[test]
fn pool_routes_sessions_to_shards() {
    use media::relay::pool::RelayPool;
    let pool = RelayPool::spawn(cfg(41200, Duration::from_secs(30)), 2).unwrap();
    assert_eq!(pool.threads(), 2);
    let mut buf = [0u8; 2048];
    for id in 0..4u64 {
        let (a, b) = (endpoint(), endpoint());
        let (pa, _) = pool
            .open_sync(SessionId(id), leg(&a), leg(&b), Duration::from_secs(2))
            .unwrap();
        a.send_to(&rtp(1, 0), ("127.0.0.1", pa.rtp)).unwrap();
        let (n, _) = b.recv_from(&mut buf).unwrap();
        assert_eq!(n, 172);
        pool.send(Command::Close(SessionId(id)));
        let ev = pool.events.recv_timeout(Duration::from_secs(2)).unwrap();
        assert!(matches!(ev, RelayEvent::Closed { id: got, .. } if got == SessionId(id)));
    }
}

#[test]
fn config_is_validated() {
    use media::relay::driver::ConfigError;
    let bad = DriverConfig {
        port_min: 5000,
        port_max: 5000,
        ..DriverConfig::default()
    };
    assert_eq!(bad.validate(), Err(ConfigError::PortRange(5000, 5000)));
    assert!(RelayHandle::spawn(bad).is_err());
    let zero = cfg(41300, Duration::ZERO);
    assert_eq!(zero.validate(), Err(ConfigError::Timeout));
    assert!(DriverConfig::default().validate().is_ok());
}
