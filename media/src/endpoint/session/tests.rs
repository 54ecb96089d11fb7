//! Unit tests of the endpoint session (sans-IO, virtual time).

use super::*;
use crate::sdp::Direction;

fn negotiated() -> Negotiated {
    Negotiated {
        media_index: 0,
        codec: Codec::Pcma,
        payload_type: PayloadType(8),
        telephone_event: Some(PayloadType(101)),
        ptime: 20,
        direction: Direction::SendRecv,
        remote_rtp: Some("127.0.0.1:4000".parse().unwrap()),
        remote_rtcp: None,
        rtcp_mux: false,
    }
}

fn packet(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    RtpHeader {
        marker: false,
        payload_type: PayloadType(pt),
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(1),
    }
    .write(payload, &mut buf)
    .unwrap();
    buf
}

#[test]
fn player_crosses_clips_pads_the_end_and_loops() {
    let t = Instant::now();
    let mut s = EndpointSession::new(&negotiated(), t, NtpTime(0), Ssrc(5));
    let a: Arc<[i16]> = vec![1; 100].into();
    let b: Arc<[i16]> = vec![2; 100].into();
    s.play(3, vec![a.clone(), b], false);
    let mut f = [0i16; FRAME];
    let mut events = Vec::new();
    let mut emit = |e| events.push(e);
    assert!(s.tick(t, &mut f, &mut emit));
    assert_eq!((f[99], f[100], f[159]), (1, 2, 2));
    assert!(s.tick(t, &mut f, &mut emit));
    assert_eq!((f[39], f[40]), (2, 0), "last frame padded with silence");
    assert!(!s.tick(t, &mut f, &mut emit));
    assert_eq!(events, [SessionEvent::PlayDone(3)]);
    // looping never ends and reports nothing; stop is silent
    s.play(4, vec![a], true);
    for _ in 0..10 {
        assert!(s.tick(t, &mut f, &mut |_| panic!("no event")));
        assert!(f.iter().all(|&x| x == 1));
    }
    s.stop_play(4);
    assert!(!s.tick(t, &mut f, &mut |_| panic!("no event")));
}

/// RTCP (RFC 3550 §6): an SR on what the endpoint sent with a block on
/// what it received, to RTP port + 1 (or the RTP address with
/// rtcp-mux); the peer's RR on that SR gives the RTT in the stats.
#[test]
fn sends_reports_and_learns_the_round_trip() {
    use crate::rtcp::{self, PT_SDES, PT_SR};
    let t = Instant::now();
    let wall = NtpTime(0x0000_0100_0000_0000);
    let mut s = EndpointSession::new(&negotiated(), t, wall, Ssrc(5));
    let from: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let mut pcm = [0i16; MAX_DECODED];
    let mut buf = [0u8; 512];
    for i in 0..100u16 {
        let now = t + Duration::from_millis(20 * u64::from(i));
        s.handle_rtp(
            now,
            from,
            &packet(8, i, &[0xd5; 160]),
            &mut pcm,
            &mut |_| {},
        );
        s.packetize(now, &[0; FRAME], &mut buf);
    }
    let due = s.rtcp_timeout();
    assert!(
        due < t + Duration::from_secs(4),
        "first report within half the max interval"
    );
    assert_eq!(
        s.poll_rtcp(due - Duration::from_millis(1), &mut buf),
        None,
        "not yet"
    );
    let (n, to, mux) = s.poll_rtcp(due, &mut buf).expect("a report");
    assert_eq!((to, mux), ("127.0.0.1:4001".parse().unwrap(), false));
    let c = RtcpCompound::parse(&buf[..n]).unwrap();
    let kinds: Vec<u8> = c.iter().map(|p| p.packet_type()).collect();
    assert_eq!(kinds, [PT_SR, PT_SDES]);
    let sr = c.iter().next().unwrap();
    assert_eq!(sr.sender_ssrc(), Some(Ssrc(5)));
    let info = sr.sender_info().unwrap();
    assert_eq!((info.packet_count, info.octet_count), (100, 100 * 160));
    let block = sr
        .report_blocks()
        .next()
        .expect("a block on the peer's stream");
    assert_eq!(
        (block.ssrc, block.highest_seq, block.cumulative_lost),
        (Ssrc(1), 99, 0)
    );
    // the peer answers 30 ms later, having held the SR 10 ms: RTT 20 ms
    let rr = rtcp::ReportBlock {
        ssrc: Ssrc(5),
        lsr: info.ntp.compact(),
        dlsr: 655,
        ..Default::default()
    };
    let m = rtcp::write_rr(Ssrc(1), &[rr], &mut buf).unwrap();
    s.handle_rtcp(due + Duration::from_millis(30), from, &buf[..m]);
    let rtt = s.stats().rtt_ms.expect("RTT");
    assert!((rtt - 20.0).abs() < 0.1, "{rtt}");
    assert_eq!(s.stats().rtcp_in, 1);
    s.handle_rtcp(due, from, b"garbage");
    assert_eq!(s.stats().dropped, 1);
    // with rtcp-mux the report goes to the (latched) RTP address
    s.update(&Negotiated {
        rtcp_mux: true,
        ..negotiated()
    });
    s.handle_rtp(
        due,
        from,
        &packet(8, 100, &[0xd5; 160]),
        &mut pcm,
        &mut |_| {},
    );
    let later = s.rtcp_timeout();
    let (_, to, mux) = s.poll_rtcp(later, &mut buf).expect("a report");
    assert_eq!((to, mux), (from, true));
}

#[test]
fn rtp_out_sequence_timestamp_and_marker_after_a_pause() {
    let t = Instant::now();
    let mut s = EndpointSession::new(&negotiated(), t, NtpTime(0), Ssrc(0x0102_0304));
    let mut buf = [0u8; 256];
    let mut sent = Vec::new();
    for ms in [0u64, 20, 40, 1040] {
        let n = s.packetize(t + Duration::from_millis(ms), &[0; FRAME], &mut buf);
        assert_eq!(n, PACKET_LEN);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(
            (p.payload_type(), p.ssrc()),
            (PayloadType(8), Ssrc(0x0102_0304))
        );
        assert_eq!(p.payload()[0], Law::Alaw.silence());
        sent.push((p.marker(), p.sequence(), p.timestamp()));
    }
    assert_eq!(
        sent.iter().map(|x| x.0).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    assert_eq!(sent[1].1, sent[0].1.wrapping_add(1));
    assert_eq!(sent[3].1, sent[0].1.wrapping_add(3));
    assert_eq!(sent[2].2.wrapping_sub(sent[0].2), 320);
    // 1 s after the third frame: the clock moved 50 frames
    assert_eq!(sent[3].2.wrapping_sub(sent[2].2), 50 * 160);
    assert_eq!(s.stats().packets_out, 4);
    assert_eq!(
        s.packetize(t, &[0; FRAME], &mut [0u8; 20]),
        0,
        "buffer too small"
    );
}

#[test]
fn latches_to_the_first_source_and_drops_others() {
    let t = Instant::now();
    let mut s = EndpointSession::new(&negotiated(), t, NtpTime(0), Ssrc(5));
    let real = "127.0.0.1:5555".parse().unwrap();
    let other = "127.0.0.1:6666".parse().unwrap();
    let mut pcm = [0i16; MAX_DECODED];
    let mut emit = |_| {};
    assert_eq!(
        s.handle_rtp(t, real, &packet(8, 1, &[0xd5; 160]), &mut pcm, &mut emit),
        160
    );
    assert_eq!(s.remote(), Some(real));
    assert_eq!(
        s.handle_rtp(t, other, &packet(8, 2, &[0xd5; 160]), &mut pcm, &mut emit),
        0
    );
    // unknown payload types and garbage are dropped too
    assert_eq!(
        s.handle_rtp(t, real, &packet(0, 3, &[0xff; 160]), &mut pcm, &mut emit),
        0
    );
    assert_eq!(s.handle_rtp(t, real, &[1, 2, 3], &mut pcm, &mut emit), 0);
    let st = s.stats();
    assert_eq!((st.packets_in, st.dropped), (1, 3));
    // a hold (we answered recvonly): nothing is sent, resume sends again
    s.update(&Negotiated {
        direction: Direction::RecvOnly,
        ..negotiated()
    });
    assert_eq!(s.remote(), None);
    // a re-offer starts latching over
    s.update(&negotiated());
    assert_eq!(
        s.handle_rtp(t, other, &packet(8, 4, &[0xd5; 160]), &mut pcm, &mut emit),
        160
    );
    assert_eq!(s.remote(), Some(other));
}

#[test]
fn rfc4733_turns_in_band_detection_off() {
    let t = Instant::now();
    let mut s = EndpointSession::new(&negotiated(), t, NtpTime(0), Ssrc(5));
    let from = "127.0.0.1:5555".parse().unwrap();
    let mut pcm = [0i16; MAX_DECODED];
    let mut digits = Vec::new();
    let ev = crate::dtmf::rfc4733::TelephoneEvent {
        event: 1,
        end: true,
        volume: 10,
        duration: 800,
    };
    for seq in 0..3 {
        let mut p = packet(101, 7, &ev.to_bytes());
        crate::rtp::set_sequence(&mut p, seq);
        s.handle_rtp(t, from, &p, &mut pcm, &mut |e| digits.push(e));
    }
    assert_eq!(digits, [SessionEvent::Dtmf(Digit::D1)]);
    // an in-band 5 afterwards is ignored (the peer signals RFC 4733)
    let (lo, hi) = Digit::D5.frequencies();
    let tone: Vec<i16> = (0..160 * 8)
        .map(|i| {
            let x = i as f32 / 8000.0 * 2.0 * std::f32::consts::PI;
            ((lo * x).sin() * 6000.0 + (hi * x).sin() * 6000.0) as i16
        })
        .collect();
    for (k, chunk) in tone.chunks(160).enumerate() {
        let mut enc = [0u8; 160];
        Law::Alaw.encode(chunk, &mut enc);
        s.handle_rtp(
            t,
            from,
            &packet(8, 10 + k as u16, &enc),
            &mut pcm,
            &mut |e| digits.push(e),
        );
    }
    assert_eq!(digits.len(), 1);
}

proptest::proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let t = Instant::now();
        let mut s = EndpointSession::new(&negotiated(), t, NtpTime(0), Ssrc(5));
        let mut pcm = [0i16; MAX_DECODED];
        let n = s.handle_rtp(t, "127.0.0.1:1".parse().unwrap(), &data, &mut pcm, &mut |_| {});
        proptest::prop_assert!(n <= MAX_DECODED);
    }
}
