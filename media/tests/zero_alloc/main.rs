//! Proves the per-packet paths allocate nothing after warm-up: a counting
//! global allocator (counting only on the thread under test) wraps the
//! system allocator while the relay, the mixer, the jitter buffer and the
//! codecs process N packets — the relay paths also with a recording tap
//! set (G.711 decoded and handed to a sink per packet).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::dtmf::rfc4733::DtmfReceiver;
use media::g711::Law;
use media::jitter::{JitterBuffer, JitterConfig, Playout};
use media::mixer::{Mixer, ParticipantId, Role, RoomId, RoomLimits};
use media::relay::poller::{Events, Poller};
use media::relay::{
    Channel, Forward, LegConfig, RecordSink, RelayConfig, RelaySession, Side, TapFrame, TapPush,
};
use media::rtcp::{write_rr, write_sr, NtpTime, ReportBlock, RtcpCompound, SenderInfo};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCS.store(0, Ordering::SeqCst);
    ON.with(|c| c.set(true));
    let r = f();
    ON.with(|c| c.set(false));
    (ALLOCS.load(Ordering::SeqCst), r)
}

const N: usize = 20_000;

fn rtp_packet(buf: &mut [u8], ssrc: u32, seq: u16, payload: &[u8]) -> usize {
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(ssrc),
    }
    .write(payload, buf)
    .expect("buffer fits")
}

/// A recording sink that keeps sums (a real one queues the samples: see
/// the recorder crate's zero_alloc test of its adapter); refuses every
/// 97th frame to cover the dropped path.
#[derive(Debug, Default)]
struct SumSink {
    frames: [AtomicU64; 2],
    samples: AtomicU64,
    energy: AtomicI64,
}

impl RecordSink for SumSink {
    fn push(&self, f: &TapFrame<'_>) -> TapPush {
        let n = self.frames[f.side as usize].fetch_add(1, Ordering::Relaxed);
        if n % 97 == 96 {
            return TapPush::Dropped;
        }
        self.samples
            .fetch_add(f.pcm.len() as u64, Ordering::Relaxed);
        let e: i64 = f.pcm.iter().map(|s| i64::from(*s).abs()).sum();
        self.energy.fetch_add(e + 1, Ordering::Relaxed);
        TapPush::Accepted
    }
}

#[test]
fn counter_sees_allocations() {
    let (n, v) = count(|| vec![1u8; 10]);
    assert!(n >= 1 && v.len() == 10);
}

#[test]
fn relay_path_over_udp_allocates_nothing() {
    relay_path_over_udp(None);
}

#[test]
fn relay_path_over_udp_with_record_tap_allocates_nothing() {
    let sink = Arc::new(SumSink::default());
    relay_path_over_udp(Some(sink.clone()));
    // every packet of A (warm-up included) reached the sink
    assert_eq!(sink.frames[0].load(Ordering::Relaxed), N as u64 + 500);
    assert!(sink.energy.load(Ordering::Relaxed) > 0);
}

fn relay_path_over_udp(tap: Option<Arc<SumSink>>) {
    let relay_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ep_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ep_b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&relay_a, &relay_b, &ep_a, &ep_b] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let (a_addr, b_addr) = (ep_a.local_addr().unwrap(), ep_b.local_addr().unwrap());
    let leg = |a: SocketAddr| LegConfig {
        remote_rtp: Some(a),
        remote_rtcp: Some(a),
        rtcp_mux: true,
    };
    let mut session = RelaySession::new(
        RelayConfig::default(),
        Instant::now(),
        leg(a_addr),
        leg(b_addr),
    );
    if let Some(sink) = tap.clone() {
        assert!(session.set_record_sink(Instant::now(), sink).is_none());
    }
    let relay_a_addr = relay_a.local_addr().unwrap();
    // as the driver does: a level-triggered poll, and B's relay socket
    // connected to B once latching settled (`send`, not `send_to`)
    let poller = Poller::new().unwrap();
    let mut events = Events::with_capacity(64);
    poller.add(&relay_a, 1).unwrap();
    relay_b.connect(b_addr).unwrap();
    let payload = [0xd5u8; 160];
    let mut out = [0u8; 1500];
    let mut buf = [0u8; 2048];
    let mut step = |seq: u16| {
        // endpoint A sends; the relay receives, rewrites, forwards; B receives
        let n = rtp_packet(&mut out, 0xaaaa, seq, &payload);
        ep_a.send_to(&out[..n], relay_a_addr).unwrap();
        let mut ready = 0;
        poller
            .wait(&mut events, Duration::from_secs(2), |t| ready += t)
            .unwrap();
        assert_eq!(ready, 1);
        let (n, from) = relay_a.recv_from(&mut buf).unwrap();
        match session.handle_packet(Instant::now(), Side::A, Channel::Rtp, from, &mut buf[..n]) {
            Forward::Send { to, .. } => {
                assert_eq!(to, b_addr);
                relay_b.send(&buf[..n]).unwrap();
            }
            other => panic!("{other:?}"),
        }
        let (m, _) = ep_b.recv_from(&mut buf).unwrap();
        assert_eq!(RtpPacket::parse(&buf[..m]).unwrap().sequence(), seq);
        if seq.is_multiple_of(250) {
            // RTCP SR through the relay, parsed on the far side
            let info = SenderInfo {
                ntp: NtpTime(u64::from(seq) << 20),
                rtp_timestamp: 0,
                packet_count: 1,
                octet_count: 1,
            };
            let block = ReportBlock {
                ssrc: Ssrc(0xbbbb),
                ..ReportBlock::default()
            };
            let n = write_sr(Ssrc(0xaaaa), &info, &[block], &mut out).unwrap();
            buf[..n].copy_from_slice(&out[..n]);
            let f =
                session.handle_packet(Instant::now(), Side::A, Channel::Rtp, a_addr, &mut buf[..n]);
            assert!(matches!(f, Forward::Send { .. }));
            let c = RtcpCompound::parse(&buf[..n]).unwrap();
            assert_eq!(c.iter().count(), 1);
            let m = write_rr(Ssrc(0xbbbb), &[block], &mut out).unwrap();
            assert!(matches!(
                session.handle_packet(Instant::now(), Side::B, Channel::Rtp, b_addr, &mut out[..m]),
                Forward::Send { .. }
            ));
        }
    };
    for seq in 0..500u16 {
        step(seq);
    }
    let (allocs, ()) = count(|| {
        for i in 0..N {
            step(500u16.wrapping_add(i as u16));
        }
    });
    assert_eq!(
        allocs, 0,
        "relay path allocated {allocs} times for {N} packets"
    );
    assert!(session.stats(Side::A).packets_in >= N as u64);
    if tap.is_some() {
        let stats = session.record_stats().expect("tap set");
        assert_eq!(stats.frames + stats.dropped, N as u64 + 500);
        assert!(stats.dropped > 0 && stats.not_decoded == 0);
    }
}

#[test]
fn mixer_tick_allocates_nothing() {
    let mut m = Mixer::new(160);
    let room = RoomId(1);
    let limits = RoomLimits {
        max_speakers: 100,
        ..RoomLimits::default()
    };
    m.create_room(room, "bench", limits).unwrap();
    {
        let r = m.room_mut(room).unwrap();
        r.join(ParticipantId(0), Role::Moderator, "m", "m").unwrap();
        for i in 1..32 {
            r.join(ParticipantId(i), Role::Speaker, "s", &i.to_string())
                .unwrap();
        }
    }
    let frames: Vec<Vec<i16>> = (0..32)
        .map(|i| (0..160).map(|s| ((s * (i + 3)) % 2000) as i16).collect())
        .collect();
    let mut sink = 0i64;
    let mut tick = |m: &mut Mixer| {
        for (i, f) in frames.iter().enumerate() {
            m.push_audio(room, ParticipantId(i as u32), f).unwrap();
        }
        m.tick();
        m.for_each_output(|_, _, out| sink += i64::from(out[7]));
        while m.poll_event().is_some() {}
    };
    for _ in 0..100 {
        tick(&mut m);
    }
    let (allocs, ()) = count(|| {
        for _ in 0..N / 10 {
            tick(&mut m);
        }
    });
    assert_eq!(allocs, 0, "mixer allocated {allocs} times");
    assert_ne!(sink, 0);
}

#[test]
fn jitter_codec_dtmf_paths_allocate_nothing() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut dtmf = DtmfReceiver::new();
    let t0 = Instant::now();
    let pcm: Vec<i16> = (0..160).map(|i| (i * 100) as i16).collect();
    let mut enc = [0u8; 160];
    let mut dec = [0i16; 160];
    let mut played = 0u64;
    let mut run = |seq: u16, played: &mut u64| {
        Law::Ulaw.encode(&pcm, &mut enc);
        // mild reordering: swap pairs
        let s = if seq & 1 == 0 {
            seq.wrapping_add(1)
        } else {
            seq.wrapping_sub(1)
        };
        jb.push(
            t0 + Duration::from_millis(20 * u64::from(seq)),
            s,
            u32::from(s) * 160,
            &enc,
        );
        if let Playout::Frame { payload, .. } = jb.pop() {
            Law::Ulaw.decode(payload, &mut dec);
            *played += 1;
        }
        let ev = [5u8, 0x0a, 0, 160];
        let _ = dtmf.handle_packet(u32::from(seq / 10) * 1600, &ev);
    };
    for seq in 0..200u16 {
        run(seq, &mut played);
    }
    let (allocs, ()) = count(|| {
        for i in 0..N {
            run(200u16.wrapping_add(i as u16), &mut played);
        }
    });
    assert_eq!(allocs, 0, "allocated {allocs} times");
    assert!(played > N as u64 / 2);
}

#[test]
fn endpoint_session_path_allocates_nothing() {
    use media::endpoint::session::{EndpointSession, SessionEvent, FRAME, MAX_DECODED};
    use media::sdp::{Codec, Direction, Negotiated};
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let n = Negotiated {
        media_index: 0,
        codec: Codec::Pcmu,
        payload_type: PayloadType::PCMU,
        telephone_event: Some(PayloadType(101)),
        ptime: 20,
        direction: Direction::SendRecv,
        remote_rtp: Some(peer),
        remote_rtcp: None,
        rtcp_mux: false,
    };
    let t0 = Instant::now();
    let mut s = EndpointSession::new(&n, t0, media::rtcp::NtpTime(0), Ssrc(7));
    let clip: std::sync::Arc<[i16]> = (0..8000).map(|i| (i % 200) as i16 * 50).collect();
    s.play(1, vec![clip], true);
    let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
    let (mut pkt, mut out) = ([0u8; 512], [0u8; 512]);
    let mut pcm = [0i16; MAX_DECODED];
    let mut frame = [0i16; FRAME];
    let mut events = 0;
    let mut reports = 0;
    let mut emit = |_: SessionEvent| events += 1;
    let mut step = |i: usize| {
        // one packet in (decode, in-band DTMF check), one packet out (play)
        let now = t0 + Duration::from_millis(20 * i as u64);
        let len = rtp_packet(&mut pkt, 0xcafe, i as u16, &payload);
        let got = s.handle_rtp(now, peer, &pkt[..len], &mut pcm, &mut emit);
        assert_eq!(got, 160);
        assert!(s.tick(now, &mut frame, &mut emit));
        assert!(s.packetize(now, &frame, &mut out) > 160);
        // its RTCP (every few seconds), and the peer's answering it
        if let Some((n, _, _)) = s.poll_rtcp(now, &mut out) {
            reports += 1;
            s.handle_rtcp(now, peer, &out[..n]);
        }
    };
    for i in 0..100 {
        step(i);
    }
    let (allocs, ()) = count(|| (100..N).for_each(&mut step));
    assert_eq!(allocs, 0, "endpoint per-packet path allocated");
    assert!(reports > 10, "RTCP on the counted path: {reports}");
}

/// The relay's per-packet transcoding (decode, resample if needed, encode,
/// header rewrite) and telephone-event translation and reporting.
fn transcoding_allocates_nothing(b_codec: media::sdp::Codec, b_pt: u8, tap: Option<Arc<SumSink>>) {
    use media::dtmf::rfc4733::DtmfSender;
    use media::dtmf::Digit;
    use media::relay::LegMedia;
    let a_addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let b_addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let leg = |a: SocketAddr| LegConfig {
        remote_rtp: Some(a),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    let t0 = Instant::now();
    let mut s = RelaySession::new(RelayConfig::default(), t0, leg(a_addr), leg(b_addr));
    let media = |pt: u8, codec| LegMedia {
        codec: Some((PayloadType(pt), codec)),
        telephone_event: Some((PayloadType(101), 8000)),
        ..LegMedia::default()
    };
    s.set_media(Side::A, media(0, media::sdp::Codec::Pcmu))
        .unwrap();
    s.set_media(Side::B, media(b_pt, b_codec)).unwrap();
    assert!(s.is_transcoding());
    if let Some(sink) = tap.clone() {
        s.set_record_sink(t0, sink);
    }
    // the wall clock known: the relay's own RTCP starts with the first packets
    let mut report = [0u8; 512];
    let _ = s.poll_report(t0, media::rtcp::NtpTime(1), &mut report);
    // B's packets: A's µ-law frames coded for B, made outside the count
    let mut to_b =
        media::codec::transcode::Transcoder::new(media::sdp::Codec::Pcmu, b_codec, 8000).unwrap();
    let pcm: Vec<i16> = (0..160).map(|i| ((i * 37) % 4000) as i16 - 2000).collect();
    let mut mu = [0u8; 160];
    Law::Ulaw.encode(&pcm, &mut mu);
    let mut coded = [0u8; 400];
    let m = to_b.transcode(Some(&mu), &mut coded).unwrap();
    let (mut buf, mut keys, mut sent, mut reports) = ([0u8; 2048], 0, 0u64, 0);
    let mut dtmf = DtmfSender::new(160);
    let mut step = |i: usize| {
        let seq = i as u16;
        let mut h = RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence: seq,
            timestamp: (i as u32).wrapping_mul(160),
            ssrc: Ssrc(0xaaaa),
        };
        if i.is_multiple_of(100) {
            dtmf.start(Digit::D7, h.timestamp, 320);
        }
        let n = match dtmf.poll_packet() {
            Some(ev) => {
                h.payload_type = PayloadType(101);
                h.timestamp = ev.timestamp;
                h.write(&ev.payload.to_bytes(), &mut buf).unwrap()
            }
            None => h.write(&mu, &mut buf).unwrap(),
        };
        if let Forward::Send { len, .. } =
            s.handle_datagram(t0, Side::A, Channel::Rtp, a_addr, &mut buf, n)
        {
            sent += len as u64;
        }
        h.payload_type = PayloadType(b_pt);
        h.ssrc = Ssrc(0xbbbb);
        h.timestamp = (i as u32).wrapping_mul(b_codec.clock_rate() / 50);
        let n = h.write(&coded[..m], &mut buf).unwrap();
        if let Forward::Send { len, .. } =
            s.handle_datagram(t0, Side::B, Channel::Rtp, b_addr, &mut buf, n)
        {
            sent += len as u64;
        }
        while s.poll_dtmf().is_some() {
            keys += 1;
        }
        // the relay's RTCP, due every few seconds of its clock
        if i % 500 == 499 {
            let later = t0 + std::time::Duration::from_secs(i as u64);
            while s
                .poll_report(later, media::rtcp::NtpTime(1), &mut report)
                .is_some()
            {
                reports += 1;
            }
        }
    };
    for i in 0..200 {
        step(i);
    }
    let (allocs, ()) = count(|| (200..N).for_each(&mut step));
    assert_eq!(
        allocs, 0,
        "transcoding to {b_codec:?} allocated {allocs} times"
    );
    assert_eq!(keys, N / 100, "one report per key press");
    assert!(sent > N as u64 * 12);
    assert!(reports > 0, "the relay's own RTCP was on the counted path");
    if let Some(sink) = tap {
        // both legs recorded (B from the relay's G.711 output when B is
        // Opus), telephone-events skipped
        let stats = s.record_stats().expect("tap set");
        assert_eq!(stats.not_decoded, 0);
        assert!(stats.frames > N as u64 * 3 / 2, "{stats:?}");
        assert!(sink.frames[1].load(Ordering::Relaxed) >= N as u64 - 1);
    }
}

#[test]
fn transcoding_pcmu_pcma_allocates_nothing() {
    transcoding_allocates_nothing(media::sdp::Codec::Pcma, 8, None);
}

#[test]
fn transcoding_pcmu_pcma_with_record_tap_allocates_nothing() {
    transcoding_allocates_nothing(
        media::sdp::Codec::Pcma,
        8,
        Some(Arc::new(SumSink::default())),
    );
}

#[cfg(feature = "opus")]
#[test]
fn transcoding_pcmu_opus_allocates_nothing() {
    transcoding_allocates_nothing(media::sdp::Codec::Opus, 111, None);
}

#[cfg(feature = "opus")]
#[test]
fn transcoding_pcmu_opus_with_record_tap_allocates_nothing() {
    transcoding_allocates_nothing(
        media::sdp::Codec::Opus,
        111,
        Some(Arc::new(SumSink::default())),
    );
}
