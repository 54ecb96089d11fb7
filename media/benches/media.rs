//! Criterion micro-benches for the media hot paths. Run briefly with
//! `cargo bench -p media -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use media::g711::Law;
use media::jitter::{JitterBuffer, JitterConfig};
use media::mixer::{Mixer, ParticipantId, Role, RoomId, RoomLimits};
use media::relay::{Channel, Forward, LegConfig, RelayConfig, RelaySession, Side};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};

fn pcm() -> Vec<i16> {
    (0..160)
        .map(|i| ((i as f32 * 0.3).sin() * 12000.0) as i16)
        .collect()
}

fn g711(c: &mut Criterion) {
    let mut g = c.benchmark_group("g711_20ms_frame");
    g.throughput(Throughput::Elements(160));
    let pcm = pcm();
    let mut enc = [0u8; 160];
    let mut dec = [0i16; 160];
    for law in [Law::Ulaw, Law::Alaw] {
        g.bench_function(format!("{law:?}_encode"), |b| {
            b.iter(|| law.encode(black_box(&pcm), &mut enc))
        });
        law.encode(&pcm, &mut enc);
        g.bench_function(format!("{law:?}_decode"), |b| {
            b.iter(|| law.decode(black_box(&enc), &mut dec))
        });
    }
    g.finish();
}

#[cfg(feature = "opus")]
fn opus(c: &mut Criterion) {
    use media::codec::opus::{OpusDecoder, OpusEncoder};
    let mut g = c.benchmark_group("opus_20ms_frame");
    for rate in [8000u32, 16000, 48000] {
        let frame: Vec<i16> = (0..rate / 50)
            .map(|i| ((i as f32 * 0.05).sin() * 10000.0) as i16)
            .collect();
        let mut enc = OpusEncoder::new(rate).unwrap();
        let mut dec = OpusDecoder::new(rate).unwrap();
        let mut out = [0u8; 400];
        let n = enc.encode(&frame, &mut out).unwrap();
        let pkt = out[..n].to_vec();
        let mut pcm = vec![0i16; 960];
        g.bench_function(BenchmarkId::new("encode", rate), |b| {
            b.iter(|| enc.encode(black_box(&frame), &mut out).unwrap())
        });
        g.bench_function(BenchmarkId::new("decode", rate), |b| {
            b.iter(|| dec.decode(Some(black_box(&pkt)), &mut pcm).unwrap())
        });
    }
    g.finish();
}

#[cfg(not(feature = "opus"))]
fn opus(_: &mut Criterion) {}

fn jitter(c: &mut Criterion) {
    let mut g = c.benchmark_group("jitter_buffer");
    g.throughput(Throughput::Elements(1));
    let payload = [0xffu8; 160];
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    let mut seq = 0u16;
    g.bench_function("push_pop_reordered", |b| {
        b.iter(|| {
            let s = if seq & 1 == 0 {
                seq.wrapping_add(1)
            } else {
                seq.wrapping_sub(1)
            };
            jb.push(
                t0 + Duration::from_millis(20 * u64::from(seq)),
                s,
                u32::from(s) * 160,
                &payload,
            );
            black_box(jb.pop());
            seq = seq.wrapping_add(1);
        })
    });
    g.finish();
}

fn mixer(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer_tick_all_speaking");
    for n in [16u32, 100, 1000] {
        let mut m = Mixer::new(160);
        let room = RoomId(1);
        m.create_room(
            room,
            "b",
            RoomLimits {
                max_speakers: 2000,
                ..RoomLimits::default()
            },
        )
        .unwrap();
        let r = m.room_mut(room).unwrap();
        r.join(ParticipantId(0), Role::Moderator, "m", "m").unwrap();
        for i in 1..n {
            r.join(ParticipantId(i), Role::Speaker, "s", &i.to_string())
                .unwrap();
        }
        let frames: Vec<Vec<i16>> = (0..n)
            .map(|i| (0..160).map(|s| ((s * (i + 3)) % 700) as i16).collect())
            .collect();
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let r = m.room_mut(room).unwrap();
                for (i, f) in frames.iter().enumerate() {
                    r.push_audio(ParticipantId(i as u32), f).unwrap();
                }
                m.tick();
                let mut s = 0i32;
                m.for_each_output(|_, _, o| s += i32::from(o[0]));
                while m.poll_event().is_some() {}
                black_box(s)
            })
        });
    }
    g.finish();
}

/// Whole G.711 conference path per tick: decode every sender's payload,
/// mix, encode each distinct output (personal mixes of contributors, one
/// shared full mix for everyone else).
fn conference_g711(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference_g711_tick");
    for (n, speakers) in [(1000u32, 1000u32), (1000, 16)] {
        let mut m = Mixer::new(160);
        let room = RoomId(1);
        m.create_room(
            room,
            "b",
            RoomLimits {
                max_speakers: 2000,
                max_attendees: 2000,
                ..RoomLimits::default()
            },
        )
        .unwrap();
        let r = m.room_mut(room).unwrap();
        r.join(ParticipantId(0), Role::Moderator, "m", "m").unwrap();
        for i in 1..n {
            let role = if i < speakers {
                Role::Speaker
            } else {
                Role::Attendee
            };
            r.join(ParticipantId(i), role, "s", &i.to_string()).unwrap();
        }
        let payloads: Vec<[u8; 160]> = (0..speakers)
            .map(|i| {
                let pcm: Vec<i16> = (0..160)
                    .map(|s| (((s * (i + 3)) % 700) as i16) * 8)
                    .collect();
                let mut p = [0u8; 160];
                Law::Ulaw.encode(&pcm, &mut p);
                p
            })
            .collect();
        let mut pcm = [0i16; 160];
        let mut out = [0u8; 160];
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(BenchmarkId::new(format!("{speakers}_speaking"), n), |b| {
            b.iter(|| {
                let r = m.room_mut(room).unwrap();
                for (i, p) in payloads.iter().enumerate() {
                    Law::Ulaw.decode(p, &mut pcm);
                    r.push_audio(ParticipantId(i as u32), &pcm).unwrap();
                }
                m.tick();
                let r = m.room(room).unwrap();
                Law::Ulaw.encode(r.full_mix(), &mut out);
                let mut sink = u32::from(out[0]);
                for p in r.roster().filter(|p| !p.hears_full_mix()) {
                    Law::Ulaw.encode(p.output(), &mut out);
                    sink += u32::from(out[0]);
                }
                while m.poll_event().is_some() {}
                black_box(sink)
            })
        });
    }
    g.finish();
}

fn rtp_packet(buf: &mut [u8], seq: u16) -> usize {
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(7),
    }
    .write(&[0xff; 160], buf)
    .unwrap()
}

/// A recording sink that only sums the samples.
#[derive(Debug, Default)]
struct SumSink(std::sync::atomic::AtomicI64);

impl media::relay::RecordSink for SumSink {
    fn push(&self, f: &media::relay::TapFrame<'_>) -> media::relay::TapPush {
        let sum: i64 = f.pcm.iter().map(|s| i64::from(*s)).sum();
        self.0.fetch_add(sum, std::sync::atomic::Ordering::Relaxed);
        media::relay::TapPush::Accepted
    }
}

fn relay(c: &mut Criterion) {
    let mut g = c.benchmark_group("relay_packet");
    g.throughput(Throughput::Elements(1));
    let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let b: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let leg = |x| LegConfig {
        remote_rtp: Some(x),
        remote_rtcp: Some(x),
        rtcp_mux: true,
    };
    let mut s = RelaySession::new(RelayConfig::default(), Instant::now(), leg(a), leg(b));
    let mut buf = [0u8; 256];
    let mut seq = 0u16;
    g.bench_function("sans_io_handle_packet", |bch| {
        bch.iter(|| {
            let n = rtp_packet(&mut buf, seq);
            seq = seq.wrapping_add(1);
            black_box(s.handle_packet(Instant::now(), Side::A, Channel::Rtp, a, &mut buf[..n]))
        })
    });
    // the same path with a recording tap set: decode + position + a sink
    // that only sums (the recorder's queue push is benched in its crate)
    let mut tapped = RelaySession::new(RelayConfig::default(), Instant::now(), leg(a), leg(b));
    tapped.set_record_sink(Instant::now(), std::sync::Arc::new(SumSink::default()));
    g.bench_function("sans_io_handle_packet_tapped", |bch| {
        bch.iter(|| {
            let n = rtp_packet(&mut buf, seq);
            seq = seq.wrapping_add(1);
            black_box(tapped.handle_packet(Instant::now(), Side::A, Channel::Rtp, a, &mut buf[..n]))
        })
    });
    g.bench_function("rtp_parse", |bch| {
        let n = rtp_packet(&mut buf, 1);
        bch.iter(|| black_box(RtpPacket::parse(black_box(&buf[..n])).unwrap().sequence()))
    });
    // Relay-side cost over real loopback sockets: recv_from + handle + send_to.
    // The client sends a batch first (outside the timing), then the relay
    // drains it; the far endpoint's receive is not timed either.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_in = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    far.set_nonblocking(true).unwrap();
    let (client_addr, far_addr) = (client.local_addr().unwrap(), far.local_addr().unwrap());
    let mut s = RelaySession::new(
        RelayConfig::default(),
        Instant::now(),
        leg(client_addr),
        leg(far_addr),
    );
    let relay_addr = relay_in.local_addr().unwrap();
    let mut rbuf = [0u8; 2048];
    g.bench_function("udp_recv_handle_send", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(64);
                for _ in 0..batch {
                    let n = rtp_packet(&mut buf, seq);
                    seq = seq.wrapping_add(1);
                    client.send_to(&buf[..n], relay_addr).unwrap();
                }
                let t = Instant::now();
                for _ in 0..batch {
                    let (n, from) = relay_in.recv_from(&mut rbuf).unwrap();
                    if let Forward::Send { to, .. } =
                        s.handle_packet(Instant::now(), Side::A, Channel::Rtp, from, &mut rbuf[..n])
                    {
                        relay_out.send_to(&rbuf[..n], to).unwrap();
                    }
                }
                total += t.elapsed();
                while far.recv_from(&mut rbuf).is_ok() {}
                left -= batch;
            }
            total
        })
    });
    // Same path on a tokio current-thread runtime, to compare runtimes.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let (t_in, t_out) = rt.block_on(async {
        (
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    let t_in_addr = t_in.local_addr().unwrap();
    let mut s = RelaySession::new(
        RelayConfig::default(),
        Instant::now(),
        leg(client_addr),
        leg(far_addr),
    );
    g.bench_function("udp_recv_handle_send_tokio", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(64);
                for _ in 0..batch {
                    let n = rtp_packet(&mut buf, seq);
                    seq = seq.wrapping_add(1);
                    client.send_to(&buf[..n], t_in_addr).unwrap();
                }
                let t = Instant::now();
                rt.block_on(async {
                    for _ in 0..batch {
                        let (n, from) = t_in.recv_from(&mut rbuf).await.unwrap();
                        if let Forward::Send { to, .. } = s.handle_packet(
                            Instant::now(),
                            Side::A,
                            Channel::Rtp,
                            from,
                            &mut rbuf[..n],
                        ) {
                            t_out.send_to(&rbuf[..n], to).await.unwrap();
                        }
                    }
                });
                total += t.elapsed();
                while far.recv_from(&mut rbuf).is_ok() {}
                left -= batch;
            }
            total
        })
    });
    g.finish();
}

/// The endpoint's per-packet work without sockets: one G.711 packet in
/// (parse, stats, decode, in-band DTMF check) and one prompt frame out
/// (20 ms of a cached clip, encode, RTP header).
fn endpoint(c: &mut Criterion) {
    use media::endpoint::session::{EndpointSession, FRAME, MAX_DECODED};
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
    let mut s = EndpointSession::new(&n, t0, media::rtcp::NtpTime(0), Ssrc(9));
    let clip: std::sync::Arc<[i16]> = pcm().repeat(50).into();
    s.play(1, vec![clip], true);
    let (mut pkt, mut out) = ([0u8; 512], [0u8; 512]);
    let (mut dec, mut frame) = ([0i16; MAX_DECODED], [0i16; FRAME]);
    let mut g = c.benchmark_group("endpoint_packet");
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u16;
    // a loud (speech-level) payload: the in-band detector does its full work
    let mut voice = [0u8; 160];
    Law::Ulaw.encode(&pcm(), &mut voice);
    g.bench_function("rx_decode_dtmf", |bch| {
        bch.iter(|| {
            seq = seq.wrapping_add(1);
            let len = RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc: Ssrc(7),
            }
            .write(&voice, &mut pkt)
            .unwrap();
            let now = t0 + Duration::from_millis(20 * u64::from(seq));
            black_box(s.handle_rtp(now, peer, &pkt[..len], &mut dec, &mut |_| {}))
        })
    });
    let mut k = 0u64;
    g.bench_function("tx_prompt_frame", |bch| {
        bch.iter(|| {
            k += 1;
            let now = t0 + Duration::from_millis(20 * k);
            s.tick(now, &mut frame, &mut |_| {});
            black_box(s.packetize(now, &frame, &mut out))
        })
    });
    g.finish();
}

/// Per-packet cost of the relay transcoding (sans-IO `handle_datagram`:
/// parse, decode, resample if needed, encode, write the header), for
/// packets from leg A (`from`) to leg B (`to`).
fn transcode(c: &mut Criterion) {
    use media::codec::transcode::Transcoder;
    use media::relay::LegMedia;
    use media::sdp::Codec;
    let mut g = c.benchmark_group("relay_transcode_packet");
    g.throughput(Throughput::Elements(1));
    let mut pairs = vec![
        (Codec::Pcmu, 0u8, Codec::Pcma, 8u8),
        (Codec::Pcma, 8, Codec::Pcmu, 0),
    ];
    if media::codec::transcodable().contains(&Codec::Opus) {
        pairs.push((Codec::Pcmu, 0, Codec::Opus, 111));
        pairs.push((Codec::Opus, 111, Codec::Pcmu, 0));
    }
    let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let b: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let leg = |x| LegConfig {
        remote_rtp: Some(x),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    for (from, fpt, to, tpt) in pairs {
        let t0 = Instant::now();
        let mut s = RelaySession::new(RelayConfig::default(), t0, leg(a), leg(b));
        let media = |pt, codec| LegMedia {
            codec: Some((PayloadType(pt), codec)),
            telephone_event: None,
            ..LegMedia::default()
        };
        s.set_media(Side::A, media(fpt, from)).unwrap();
        s.set_media(Side::B, media(tpt, to)).unwrap();
        // 50 frames of a tone in the input codec, made once
        let mut coder = Transcoder::new(Codec::Pcmu, from, 8000).unwrap();
        let frames: Vec<Vec<u8>> = (0..50)
            .map(|k| {
                let pcm: Vec<i16> = (0..160)
                    .map(|i| (((k * 160 + i) as f32 * 0.3).sin() * 12000.0) as i16)
                    .collect();
                let mut mu = [0u8; 160];
                Law::Ulaw.encode(&pcm, &mut mu);
                let mut out = [0u8; 400];
                let n = coder.transcode(Some(&mu), &mut out).unwrap();
                out[..n].to_vec()
            })
            .collect();
        let mut buf = [0u8; 2048];
        let mut i = 0u32;
        g.bench_function(format!("{from:?}_to_{to:?}"), |bch| {
            bch.iter(|| {
                let n = RtpHeader {
                    marker: false,
                    payload_type: PayloadType(fpt),
                    sequence: i as u16,
                    timestamp: i.wrapping_mul(from.clock_rate() / 50),
                    ssrc: Ssrc(1),
                }
                .write(&frames[i as usize % frames.len()], &mut buf)
                .unwrap();
                i += 1;
                let f = s.handle_datagram(t0, Side::A, Channel::Rtp, a, &mut buf, n);
                assert!(matches!(f, Forward::Send { .. }));
                black_box(f)
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    g711,
    opus,
    jitter,
    mixer,
    conference_g711,
    relay,
    transcode,
    endpoint
);
criterion_main!(benches);
