//! DTMF reporting and transcoding in the sans-IO session.

use super::*;
use crate::dtmf::rfc4733::DtmfSender;
use crate::g711::Law;
use crate::rtp::{PayloadType, RtpHeader};
use crate::sdp::Codec;

const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn session(t0: Instant) -> RelaySession {
    let leg = |s: &str| LegConfig {
        remote_rtp: Some(addr(s)),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    RelaySession::new(RelayConfig::default(), t0, leg(A), leg(B))
}

fn media(pt: u8, codec: Codec, te: Option<(u8, u32)>) -> LegMedia {
    LegMedia {
        codec: Some((PayloadType(pt), codec)),
        telephone_event: te.map(|(p, r)| (PayloadType(p), r)),
        ..LegMedia::default()
    }
}

fn packet(buf: &mut [u8], pt: u8, seq: u16, ts: u32, payload: &[u8]) -> usize {
    RtpHeader {
        marker: false,
        payload_type: PayloadType(pt),
        sequence: seq,
        timestamp: ts,
        ssrc: Ssrc(0x1234),
    }
    .write(payload, buf)
    .unwrap()
}

fn tone(freq: f64, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// The packets of one key press (start, updates, three ends).
fn key(digit: Digit, ts: u32) -> Vec<[u8; 4]> {
    let mut s = DtmfSender::new(160);
    s.start(digit, ts, 800);
    std::iter::from_fn(|| s.poll_packet())
        .map(|p| p.payload.to_bytes())
        .collect()
}

#[test]
fn key_press_reported_once_and_forwarded_unchanged() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, Some((101, 8000))))
        .unwrap();
    s.set_media(Side::B, media(0, Codec::Pcmu, Some((96, 8000))))
        .unwrap();
    assert!(!s.is_transcoding());
    let mut buf = [0u8; 256];
    for (i, ev) in key(Digit::D5, 4000).iter().enumerate() {
        let n = packet(&mut buf, 101, 10 + i as u16, 4000, ev);
        let sent = buf[..n].to_vec();
        let f = s.handle_packet(t0, Side::A, Channel::Rtp, addr(A), &mut buf[..n]);
        assert!(matches!(f, Forward::Send { side: Side::B, len, .. } if len == n));
        assert_eq!(&buf[..n], &sent[..], "forwarded as is");
    }
    assert_eq!(s.poll_dtmf(), Some((Side::A, Digit::D5)));
    assert_eq!(s.poll_dtmf(), None);
    // B's numbering is its own: 101 from B is not an event, 96 is
    for (i, ev) in key(Digit::Pound, 9000).iter().enumerate() {
        let n = packet(&mut buf, 101, 50 + i as u16, 9000, ev);
        s.handle_packet(t0, Side::B, Channel::Rtp, addr(B), &mut buf[..n]);
    }
    assert_eq!(s.poll_dtmf(), None);
    for (i, ev) in key(Digit::Pound, 20000).iter().enumerate() {
        let n = packet(&mut buf, 96, 70 + i as u16, 20000, ev);
        s.handle_packet(t0, Side::B, Channel::Rtp, addr(B), &mut buf[..n]);
    }
    assert_eq!(s.poll_dtmf(), Some((Side::B, Digit::Pound)));
    // a new party behind B (transfer) with an earlier event timestamp: its
    // key is new, not a late packet of the old source's event
    let ev = key(Digit::D3, 100)[0];
    let n = packet(&mut buf, 96, 7, 100, &ev);
    buf[8..12].copy_from_slice(&0x9999u32.to_be_bytes());
    s.handle_packet(t0, Side::B, Channel::Rtp, addr(B), &mut buf[..n]);
    assert_eq!(s.poll_dtmf(), Some((Side::B, Digit::D3)));
}

#[test]
fn pcmu_to_pcma_and_back() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, Some((101, 8000))))
        .unwrap();
    s.set_media(Side::B, media(8, Codec::Pcma, None)).unwrap();
    assert!(s.is_transcoding());
    let mut buf = [0u8; 512];
    let (mut heard, mut sent) = (Vec::new(), Vec::new());
    let mut last: Option<(u16, u32)> = None;
    for i in 0..50u16 {
        let pcm = tone(1000.0, usize::from(i) * 160, 160);
        let mut mu = [0u8; 160];
        Law::Ulaw.encode(&pcm, &mut mu);
        let n = packet(&mut buf, 0, 1000 + i, 160 * u32::from(i), &mu);
        let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
        let Forward::Send {
            side: Side::B,
            len,
            to,
            ..
        } = f
        else {
            panic!("{f:?}");
        };
        assert_eq!((to, len), (addr(B), 172));
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(p.payload_type(), PayloadType::PCMA);
        assert_ne!(p.ssrc(), Ssrc(0x1234));
        if let Some((seq, ts)) = last {
            assert_eq!(p.sequence(), seq.wrapping_add(1));
            assert_eq!(p.timestamp(), ts.wrapping_add(160));
        }
        last = Some((p.sequence(), p.timestamp()));
        let mut d = [0i16; 160];
        Law::Alaw.decode(p.payload(), &mut d);
        heard.extend_from_slice(&d);
        sent.extend_from_slice(&pcm);
    }
    assert!(crate::g711::snr_db(&sent, &heard) > 25.0);
    // B back to A: A-law in, µ-law out with A's payload type
    let mut al = [0u8; 160];
    Law::Alaw.encode(&tone(440.0, 0, 160), &mut al);
    let n = packet(&mut buf, 8, 7, 0, &al);
    let f = s.handle_datagram(t0, Side::B, Channel::Rtp, addr(B), &mut buf, n);
    assert!(matches!(
        f,
        Forward::Send {
            side: Side::A,
            len: 172,
            ..
        }
    ));
    assert_eq!(
        RtpPacket::parse(&buf[..172]).unwrap().payload_type(),
        PayloadType::PCMU
    );
    // A's key press is reported, but B negotiated no telephone-event: dropped
    let ev = key(Digit::D1, 9000)[0];
    let n = packet(&mut buf, 101, 1100, 9000, &ev);
    let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
    assert_eq!(f, Forward::Drop(DropReason::Transcoding));
    assert_eq!(s.poll_dtmf(), Some((Side::A, Digit::D1)));
    // a payload type nobody negotiated, and a late packet: not forwarded
    let n = packet(&mut buf, 13, 1101, 9160, &[0]);
    let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
    assert_eq!(f, Forward::Drop(DropReason::Transcoding));
    let n = packet(&mut buf, 0, 1010, 1600, &[0xff; 160]);
    let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
    assert_eq!(f, Forward::Drop(DropReason::Transcoding));
    // same codecs again: forwarding resumes
    s.set_media(Side::B, media(0, Codec::Pcmu, None)).unwrap();
    assert!(!s.is_transcoding());
}

#[test]
fn telephone_events_translated_between_numberings() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, Some((101, 8000))))
        .unwrap();
    s.set_media(Side::B, media(8, Codec::Pcma, Some((100, 8000))))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = packet(&mut buf, 0, 1, 0, &[0xff; 160]);
    s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
    for (i, ev) in key(Digit::Star, 160).iter().enumerate() {
        let n = packet(&mut buf, 101, 2 + i as u16, 160, ev);
        let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
        assert!(matches!(f, Forward::Send { len: 16, .. }), "{f:?}");
        let p = RtpPacket::parse(&buf[..16]).unwrap();
        assert_eq!(p.payload_type(), PayloadType(100));
        assert_eq!(p.payload(), ev, "same event, same clock");
    }
    assert_eq!(s.poll_dtmf(), Some((Side::A, Digit::Star)));
}

#[cfg(feature = "opus")]
#[test]
fn pcmu_to_opus_and_back() {
    use crate::codec::AudioDecoder;
    use crate::dtmf::goertzel::goertzel_power;
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, Some((101, 8000))))
        .unwrap();
    s.set_media(Side::B, media(111, Codec::Opus, Some((101, 48000))))
        .unwrap();
    let mut dec = AudioDecoder::new(Codec::Opus, 8000).unwrap();
    let mut buf = [0u8; 1500];
    let mut heard = Vec::new();
    let mut last_ts = None;
    for i in 0..50u16 {
        let mut mu = [0u8; 160];
        Law::Ulaw.encode(&tone(1000.0, usize::from(i) * 160, 160), &mut mu);
        let n = packet(&mut buf, 0, i, 160 * u32::from(i), &mu);
        let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
        let Forward::Send { len, .. } = f else {
            panic!("{f:?}");
        };
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(p.payload_type(), PayloadType(111));
        if let Some(ts) = last_ts {
            assert_eq!(p.timestamp(), u32::wrapping_add(ts, 960), "48 kHz clock");
        }
        last_ts = Some(p.timestamp());
        let mut pcm = [0i16; 960];
        let m = dec.decode(Some(p.payload()), &mut pcm).unwrap();
        heard.extend_from_slice(&pcm[..m]);
    }
    let tail = &heard[heard.len() - 4000..];
    assert!(goertzel_power(tail, 1000.0, 8000.0) > 100.0 * goertzel_power(tail, 440.0, 8000.0));
    // and back: Opus from B becomes 160 bytes of µ-law for A
    let mut enc = crate::codec::AudioEncoder::new(Codec::Opus, 48000).unwrap();
    let mut out = Vec::new();
    for i in 0..50u16 {
        let pcm48: Vec<i16> = (0..960)
            .map(|k| {
                let t = (usize::from(i) * 960 + k) as f64 / 48000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect();
        let mut op = [0u8; 400];
        let m = enc.encode(&pcm48, &mut op).unwrap();
        let n = packet(&mut buf, 111, 300 + i, 960 * u32::from(i), &op[..m]);
        let f = s.handle_datagram(t0, Side::B, Channel::Rtp, addr(B), &mut buf, n);
        assert!(
            matches!(
                f,
                Forward::Send {
                    side: Side::A,
                    len: 172,
                    ..
                }
            ),
            "{f:?}"
        );
        let mut d = [0i16; 160];
        Law::Ulaw.decode(&buf[12..172], &mut d);
        out.extend_from_slice(&d);
    }
    let tail = &out[out.len() - 4000..];
    assert!(goertzel_power(tail, 440.0, 8000.0) > 100.0 * goertzel_power(tail, 1000.0, 8000.0));
    // a key press from A reaches B in B's clock: duration × 6
    let ev = key(Digit::D9, 8000)[1];
    let n = packet(&mut buf, 101, 50, 8000, &ev);
    let f = s.handle_datagram(t0, Side::A, Channel::Rtp, addr(A), &mut buf, n);
    assert!(matches!(f, Forward::Send { len: 16, .. }));
    let p = RtpPacket::parse(&buf[..16]).unwrap();
    assert_eq!(
        u16::from_be_bytes([p.payload()[2], p.payload()[3]]),
        320 * 6
    );
}

/// RFC 3264 §6.1: a leg may send any codec its SDP lists, not only the
/// first. While transcoding, the relay follows the switch (and back) and
/// the other leg keeps getting its own codec, in one continuous stream.
#[test]
fn follows_a_leg_switching_to_another_codec_of_its_sdp() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, None)).unwrap();
    let b = LegMedia {
        others: [Some((PayloadType(0), Codec::Pcmu)), None],
        ..media(8, Codec::Pcma, None)
    };
    s.set_media(Side::B, b).unwrap();
    assert!(s.is_transcoding());
    let mut buf = [0u8; 512];
    let mut last: Option<(u16, u32)> = None;
    let (mut sent, mut heard) = (Vec::new(), Vec::new());
    // B sends A-law (its first codec), then µ-law, then A-law again
    for i in 0..60u16 {
        let pcm = tone(440.0, usize::from(i) * 160, 160);
        let (pt, law) = if (20..40).contains(&i) {
            (0, Law::Ulaw)
        } else {
            (8, Law::Alaw)
        };
        let mut enc = [0u8; 160];
        law.encode(&pcm, &mut enc);
        let n = packet(&mut buf, pt, 500 + i, 160 * u32::from(i), &enc);
        let f = s.handle_datagram(t0, Side::B, Channel::Rtp, addr(B), &mut buf, n);
        let Forward::Send {
            side: Side::A, len, ..
        } = f
        else {
            panic!("packet {i} (pt {pt}): {f:?}");
        };
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(p.payload_type(), PayloadType::PCMU, "A gets its codec");
        if let Some((seq, ts)) = last {
            assert_eq!(p.sequence(), seq.wrapping_add(1), "packet {i}");
            assert_eq!(p.timestamp(), ts.wrapping_add(160), "packet {i}");
        }
        last = Some((p.sequence(), p.timestamp()));
        let mut d = [0i16; 160];
        Law::Ulaw.decode(p.payload(), &mut d);
        heard.extend_from_slice(&d);
        sent.extend_from_slice(&pcm);
    }
    assert!(crate::g711::snr_db(&sent, &heard) > 25.0);
    // a payload type B's SDP does not list is still not forwarded
    let n = packet(&mut buf, 18, 600, 160 * 100, &[0; 20]);
    let f = s.handle_datagram(t0, Side::B, Channel::Rtp, addr(B), &mut buf, n);
    assert_eq!(f, Forward::Drop(DropReason::Transcoding));
}

/// While transcoding, the relay reports on its own (RFC 3550 §6): an SR to
/// each leg about the stream it sends there, a block about what it receives
/// from that leg; the legs' RTCP is consumed and gives LSR/DLSR and RTT.
#[test]
fn transcoding_session_sends_its_own_reports_and_measures_rtt() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, None)).unwrap();
    s.set_media(Side::B, media(8, Codec::Pcma, None)).unwrap();
    let wall = NtpTime(0x0000_1000_0000_0000);
    let mut buf = [0u8; 512];
    assert_eq!(s.poll_report(t0, wall, &mut buf), None, "nothing sent yet");
    // 50 packets each way, 20 ms apart; remember the SSRC the relay sends to A
    let mut to_a = None;
    for i in 0..50u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        let n = packet(&mut buf, 0, i, u32::from(i) * 160, &[0xff; 160]);
        s.handle_packet(now, Side::A, Channel::Rtp, addr(A), &mut buf[..n]);
        let n = packet(&mut buf, 8, 100 + i, u32::from(i) * 160, &[0xd5; 160]);
        let f = s.handle_packet(now, Side::B, Channel::Rtp, addr(B), &mut buf[..n]);
        if let Forward::Send {
            side: Side::A, len, ..
        } = f
        {
            to_a = Some(RtpPacket::parse(&buf[..len]).unwrap().ssrc());
        }
    }
    let to_a = to_a.expect("B's packets reach A transcoded");
    // A's own SR (as an endpoint would send) is consumed, not forwarded
    let n = rtcp::write_sr(
        Ssrc(0x1234),
        &rtcp::SenderInfo {
            ntp: NtpTime(0x0000_2000_1111_0000),
            ..Default::default()
        },
        &[],
        &mut buf,
    )
    .unwrap();
    let at = t0 + Duration::from_millis(1000);
    let f = s.handle_packet(at, Side::A, Channel::Rtp, addr(A), &mut buf[..n]);
    assert_eq!(f, Forward::Drop(DropReason::Transcoding));

    // within 3.1 s (half of the longest RFC 3550 interval) a report goes to each leg
    let mut reports = Vec::new();
    let mut now = at;
    while now < t0 + Duration::from_millis(3800) {
        while let Some(Forward::Send { side, to, len, .. }) = s.poll_report(now, wall, &mut buf) {
            reports.push((now, side, to, buf[..len].to_vec()));
        }
        now += Duration::from_millis(250);
    }
    let (sent_at, _, to, sr) = reports
        .iter()
        .find(|r| r.1 == Side::A)
        .expect("a report to A")
        .clone();
    assert_eq!(to, addr(A), "rtcp-mux: to A's RTP address");
    assert!(reports.iter().any(|r| r.1 == Side::B), "a report to B");
    let compound = RtcpCompound::parse(&sr).unwrap();
    let p = compound.iter().next().unwrap();
    assert_eq!(p.packet_type(), rtcp::PT_SR);
    assert_eq!(
        p.sender_ssrc(),
        Some(to_a),
        "the SSRC of the relay's stream to A"
    );
    let our_sr = p.sender_info().unwrap();
    assert_eq!(our_sr.packet_count, 50);
    assert_eq!(p.sender_info().unwrap().octet_count, 50 * 160);
    let block = p.report_blocks().next().expect("a block on A's stream");
    assert_eq!(block.ssrc, Ssrc(0x1234));
    assert_eq!(block.highest_seq, 49);
    assert_eq!(block.cumulative_lost, 0);
    assert_eq!(block.lsr, 0x2000_1111, "LSR: A's SR");
    let held = sent_at.duration_since(at).as_secs_f64();
    assert_eq!(block.dlsr, (held * 65536.0) as u32, "DLSR: since A's SR");

    // A answers with an RR on the relay's stream, 40 ms round trip, held 10 ms
    let rr = rtcp::ReportBlock {
        ssrc: to_a,
        lsr: our_sr.ntp.compact(),
        dlsr: 655, // 10 ms
        ..Default::default()
    };
    let n = rtcp::write_rr(Ssrc(0x1234), &[rr], &mut buf).unwrap();
    let back = sent_at + Duration::from_millis(50);
    s.handle_packet(back, Side::A, Channel::Rtp, addr(A), &mut buf[..n]);
    let rtt = s.stats(Side::A).rtt_ms.expect("RTT measured");
    assert!((rtt - 40.0).abs() < 0.1, "rtt {rtt}");
}

/// Without transcoding the endpoints' RTCP passes and the relay sends none.
#[test]
fn no_reports_of_its_own_when_not_transcoding() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.set_media(Side::A, media(0, Codec::Pcmu, None)).unwrap();
    s.set_media(Side::B, media(0, Codec::Pcmu, None)).unwrap();
    let mut buf = [0u8; 512];
    for ms in (0..20_000).step_by(250) {
        let now = t0 + Duration::from_millis(ms);
        assert_eq!(s.poll_report(now, NtpTime(1), &mut buf), None);
    }
    let n = rtcp::write_rr(Ssrc(0x1234), &[], &mut buf).unwrap();
    let f = s.handle_packet(t0, Side::A, Channel::Rtp, addr(A), &mut buf[..n]);
    assert!(matches!(f, Forward::Send { side: Side::B, .. }));
}
