use super::*;
use crate::rtcp::{write_rr, write_sr, ReportBlock, SenderInfo};
use crate::rtp::{PayloadType, RtpHeader};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";

fn session(t0: Instant) -> RelaySession {
    let leg = |s: &str| LegConfig {
        remote_rtp: Some(addr(s)),
        remote_rtcp: Some(SocketAddr::new(addr(s).ip(), addr(s).port() + 1)),
        rtcp_mux: false,
    };
    RelaySession::new(RelayConfig::default(), t0, leg(A), leg(B))
}

fn rtp(ssrc: u32, seq: u16, ts: u32) -> Vec<u8> {
    let mut b = vec![0u8; 12 + 160];
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence: seq,
        timestamp: ts,
        ssrc: Ssrc(ssrc),
    }
    .write(&[0xff; 160], &mut b)
    .unwrap();
    b
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn forwards_both_ways_and_latches_nat_source() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let nat_a = addr("198.51.100.7:61000");
    let mut p = rtp(1, 10, 0);
    assert_eq!(
        s.handle_packet(t0, Side::A, Channel::Rtp, nat_a, &mut p),
        Forward::Send {
            side: Side::B,
            channel: Channel::Rtp,
            to: addr(B),
            len: p.len()
        }
    );
    let mut q = rtp(2, 500, 0);
    // B answers; goes to A's latched (NAT) address, not the signalled one
    assert_eq!(
        s.handle_packet(t0, Side::B, Channel::Rtp, addr(B), &mut q),
        Forward::Send {
            side: Side::A,
            channel: Channel::Rtp,
            to: nat_a,
            len: q.len()
        }
    );
    let st = s.stats(Side::A);
    assert_eq!((st.packets_in, st.packets_out), (1, 1));
    assert!(st.mos > 4.0);
}

#[test]
fn rejects_hijack_after_window() {
    let t0 = Instant::now();
    let mut s = session(t0);
    for i in 0..20u16 {
        let mut p = rtp(1, i, u32::from(i) * 160);
        s.handle_packet(
            ms(t0, 20 * u64::from(i)),
            Side::A,
            Channel::Rtp,
            addr(A),
            &mut p,
        );
    }
    let mut evil = rtp(666, 0, 0);
    assert_eq!(
        s.handle_packet(
            ms(t0, 500),
            Side::A,
            Channel::Rtp,
            addr("203.0.113.66:1234"),
            &mut evil
        ),
        Forward::Drop(DropReason::Hijack)
    );
    // B still sends to A
    let mut q = rtp(2, 0, 0);
    assert!(
        matches!(s.handle_packet(ms(t0, 520), Side::B, Channel::Rtp, addr(B), &mut q), Forward::Send { to, .. } if to == addr(A))
    );
    assert_eq!(s.stats(Side::A).dropped, 1);
}

#[test]
fn reanchor_keeps_ssrc_and_sequence() {
    let t0 = Instant::now();
    let mut s = session(t0);
    for i in 0..5u16 {
        let mut p = rtp(1, 100 + i, u32::from(i) * 160);
        s.handle_packet(
            ms(t0, 20 * u64::from(i)),
            Side::A,
            Channel::Rtp,
            addr(A),
            &mut p,
        );
    }
    // transfer: A's side is now another phone
    let new_a = addr("10.0.0.9:7000");
    s.reanchor(
        ms(t0, 2000),
        Side::A,
        LegConfig {
            remote_rtp: Some(new_a),
            remote_rtcp: None,
            rtcp_mux: true,
        },
    );
    let mut p = rtp(77, 9000, 123_456);
    let f = s.handle_packet(ms(t0, 2020), Side::A, Channel::Rtp, new_a, &mut p);
    assert!(matches!(f, Forward::Send { to, .. } if to == addr(B)));
    let out = RtpPacket::parse(&p).unwrap();
    assert_eq!((out.ssrc(), out.sequence()), (Ssrc(1), 105));
    // B's packets now go to the new phone
    let mut q = rtp(2, 0, 0);
    assert!(
        matches!(s.handle_packet(ms(t0, 2030), Side::B, Channel::Rtp, addr(B), &mut q), Forward::Send { to, .. } if to == new_a)
    );
}

#[test]
fn rtcp_relayed_with_rtt() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let a_rtcp = addr("10.0.0.1:4001");
    let b_rtcp = addr("10.0.0.2:5001");
    let mut p = rtp(1, 1, 0);
    s.handle_packet(t0, Side::A, Channel::Rtp, addr(A), &mut p);
    let mut buf = [0u8; 128];
    let ntp = NtpTime(0x0000_1234_8000_0000);
    let n = write_sr(
        Ssrc(1),
        &SenderInfo {
            ntp,
            rtp_timestamp: 0,
            packet_count: 1,
            octet_count: 160,
        },
        &[],
        &mut buf,
    )
    .unwrap();
    let f = s.handle_packet(ms(t0, 100), Side::A, Channel::Rtcp, a_rtcp, &mut buf[..n]);
    assert_eq!(
        f,
        Forward::Send {
            side: Side::B,
            channel: Channel::Rtcp,
            to: b_rtcp,
            len: n
        }
    );
    // B answers 60 ms later, having held the SR 10 ms: RTT relay<->B = 50 ms
    let block = ReportBlock {
        ssrc: Ssrc(1),
        lsr: ntp.compact(),
        dlsr: 655,
        ..ReportBlock::default()
    };
    let n = write_rr(Ssrc(2), &[block], &mut buf).unwrap();
    let f = s.handle_packet(ms(t0, 160), Side::B, Channel::Rtcp, b_rtcp, &mut buf[..n]);
    assert_eq!(
        f,
        Forward::Send {
            side: Side::A,
            channel: Channel::Rtcp,
            to: a_rtcp,
            len: n
        }
    );
    let rtt = s.stats(Side::B).rtt_ms.unwrap();
    assert!((rtt - 50.0).abs() < 0.5, "{rtt}");
    // garbage on the RTCP port is dropped
    assert_eq!(
        s.handle_packet(
            ms(t0, 170),
            Side::B,
            Channel::Rtcp,
            b_rtcp,
            &mut [0x80, 200, 0, 9]
        ),
        Forward::Drop(DropReason::Malformed)
    );
}

#[test]
fn loss_lowers_mos_and_inactivity_expires() {
    let t0 = Instant::now();
    let mut s = session(t0);
    for i in 0..200u16 {
        if i % 10 == 3 {
            continue; // 10 % loss
        }
        let mut p = rtp(1, i, u32::from(i) * 160);
        s.handle_packet(
            ms(t0, 20 * u64::from(i)),
            Side::A,
            Channel::Rtp,
            addr(A),
            &mut p,
        );
    }
    let st = s.stats(Side::A);
    assert_eq!(st.lost, 20);
    assert_eq!(st.expected, 200);
    assert!(st.mos < 3.6, "{}", st.mos);
    // quality samples are due every 10 s
    assert_eq!(s.poll_timeout(), Some(ms(t0, 10_000)));
    assert!(!s.handle_timeout(ms(t0, 10_000)));
    let q = *s.quality(Side::A).latest().unwrap();
    assert!((q.loss_pct - 10.0).abs() < 0.01, "{}", q.loss_pct);
    assert!((q.packets_per_s - 18.0).abs() < 0.01);
    let mut deadline = s.poll_timeout().unwrap();
    while deadline < ms(t0, 20 * 199) + Duration::from_secs(60) {
        assert!(!s.handle_timeout(deadline));
        deadline = s.poll_timeout().unwrap();
    }
    assert_eq!(deadline, ms(t0, 20 * 199) + Duration::from_secs(60));
    assert_eq!(s.quality(Side::A).samples().len(), 6);
    assert!(!s.handle_timeout(deadline - Duration::from_millis(1)));
    assert!(s.handle_timeout(deadline));
    let mut p = rtp(1, 300, 0);
    assert_eq!(
        s.handle_packet(deadline, Side::A, Channel::Rtp, addr(A), &mut p),
        Forward::Drop(DropReason::Expired)
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn continuity_off_leaves_packets_untouched_for_srtp() {
    let t0 = Instant::now();
    let leg = |s: &str| LegConfig {
        remote_rtp: Some(addr(s)),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    let cfg = RelayConfig {
        continuity: false,
        ..RelayConfig::default()
    };
    let mut s = RelaySession::new(cfg, t0, leg(A), leg(B));
    let mut p = rtp(1, 10, 1600);
    s.handle_packet(t0, Side::A, Channel::Rtp, addr(A), &mut p);
    let original = rtp(99, 5000, 7);
    let mut q = original.clone();
    assert!(matches!(
        s.handle_packet(ms(t0, 20), Side::A, Channel::Rtp, addr(A), &mut q),
        Forward::Send { .. }
    ));
    assert_eq!(q, original);
}

#[test]
fn leg_config_from_sdp() {
    let sdp = crate::sdp::SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 31\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4005\r\n",
    )
    .unwrap();
    let l = LegConfig::from_sdp(&sdp).unwrap();
    assert_eq!(l.remote_rtp, Some(addr("10.0.0.1:4000")));
    assert_eq!(l.remote_rtcp, Some(addr("10.0.0.1:4005")));
    assert!(!l.rtcp_mux);
    let hold = crate::sdp::SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\n").unwrap();
    assert_eq!(
        LegConfig::from_sdp(&hold),
        Some(LegConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: true
        })
    );
}

#[test]
fn settled_peer_per_socket() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let nat_a = addr("198.51.100.7:61000");
    for seq in 0..10 {
        assert_eq!(
            s.settled_peer(ms(t0, 20 * u64::from(seq)), Side::A, Channel::Rtp),
            None
        );
        s.handle_packet(t0, Side::A, Channel::Rtp, nat_a, &mut rtp(1, seq, 0));
    }
    // ten packets closed A's RTP latch window; its RTCP latch, B's and the
    // unlatched sockets stay open until their own windows close
    assert_eq!(s.settled_peer(t0, Side::A, Channel::Rtp), Some(nat_a));
    assert_eq!(s.settled_peer(t0, Side::A, Channel::Rtcp), None);
    assert_eq!(
        s.settled_peer(ms(t0, 5000), Side::B, Channel::Rtp),
        None,
        "never latched"
    );
    // re-anchoring reopens it; with rtcp-mux the RTCP socket is never connected
    let muxed = LegConfig {
        remote_rtp: Some(addr(A)),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    s.reanchor(ms(t0, 300), Side::A, muxed);
    assert_eq!(s.settled_peer(ms(t0, 300), Side::A, Channel::Rtp), None);
    s.handle_packet(
        ms(t0, 320),
        Side::A,
        Channel::Rtp,
        addr(A),
        &mut rtp(1, 10, 0),
    );
    let later = ms(t0, 4000);
    assert_eq!(s.settled_peer(later, Side::A, Channel::Rtp), Some(addr(A)));
    assert_eq!(s.settled_peer(later, Side::A, Channel::Rtcp), None);
}
