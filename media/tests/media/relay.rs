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
    assert_eq!(stats.0.dropped, 1);
    assert_eq!(stats.1.packets_in, 50);
    assert_eq!(stats.0.lost, 0);
    assert!(stats.0.mos > 4.0);
    relay.send(Command::Close(SessionId(1)));
    let ev = relay.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(matches!(ev, RelayEvent::Closed { expired: false, .. }));
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
