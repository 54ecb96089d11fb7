//! Media endpoints over real UDP sockets on 127.0.0.1: prompts, DTMF (RFC
//! 4733 and in-band), recording, and conference rooms with mix-minus.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use media::dtmf::goertzel::goertzel_power;
use media::dtmf::rfc4733::TelephoneEvent;
use media::dtmf::Digit;
use media::endpoint::{EndpointConfig, EndpointEvent, EndpointHost, EndpointId, RoomOp};
use media::g711::Law;
use media::mixer::Role;
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};

fn host(port_min: u16) -> EndpointHost {
    EndpointHost::spawn(EndpointConfig {
        port_min,
        port_max: port_min + 99,
        ..EndpointConfig::default()
    })
    .expect("endpoint thread")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pbx-endpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn tone(freq: f64, samples: usize, amp: f64) -> Vec<i16> {
    (0..samples)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn dual(f1: f64, f2: f64, samples: usize) -> Vec<i16> {
    let (a, b) = (tone(f1, samples, 6000.0), tone(f2, samples, 6000.0));
    a.iter().zip(&b).map(|(x, y)| x + y).collect()
}

/// Estimated amplitude of `freq` in `s` (Goertzel: power ≈ (A·N/2)²).
fn amplitude(s: &[i16], freq: f64) -> f64 {
    2.0 * f64::from(goertzel_power(s, freq as f32, 8000.0)).sqrt() / s.len() as f64
}

/// A test phone: a socket and the endpoint it talks to.
struct Phone {
    sock: UdpSocket,
    /// Where the endpoint's RTCP reports go (signalled with `a=rtcp`).
    rtcp: UdpSocket,
    id: EndpointId,
    to: SocketAddr,
    seq: u16,
}

impl Phone {
    fn open(h: &EndpointHost) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp_port = rtcp.local_addr().unwrap().port();
        let offer = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=rtcp:{rtcp_port}\r\n"
        );
        let (id, answer) = h.open(&offer).expect("open");
        assert!(answer.contains("RTP/AVP 0 101"), "{answer}");
        let ep_port: u16 = answer
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split(' ').next())
            .and_then(|p| p.parse().ok())
            .expect("answer port");
        sock.set_nonblocking(true).unwrap();
        Self {
            sock,
            rtcp,
            id,
            to: SocketAddr::from(([127, 0, 0, 1], ep_port)),
            seq: 0,
        }
    }

    fn send(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let mut buf = [0u8; 512];
        let n = RtpHeader {
            marker: false,
            payload_type: PayloadType(pt),
            sequence: self.seq,
            timestamp: ts,
            ssrc: Ssrc(0x1234_0000 + u32::from(self.sock.local_addr().unwrap().port())),
        }
        .write(payload, &mut buf)
        .unwrap();
        self.seq = self.seq.wrapping_add(1);
        self.sock.send_to(&buf[..n], self.to).unwrap();
    }

    fn send_pcm(&mut self, pcm: &[i16]) {
        let mut enc = [0u8; 160];
        let n = Law::Ulaw.encode(pcm, &mut enc);
        let ts = u32::from(self.seq) * 160;
        self.send(0, ts, &enc[..n]);
    }

    /// Decoded audio of every packet waiting (and headers).
    fn drain(&self, pcm: &mut Vec<i16>, headers: &mut Vec<(bool, u16, u32, u32)>) {
        let mut buf = [0u8; 2048];
        while let Ok(n) = self.sock.recv(&mut buf) {
            let p = RtpPacket::parse(&buf[..n]).expect("valid RTP");
            assert_eq!(p.payload_type(), PayloadType::PCMU);
            headers.push((p.marker(), p.sequence(), p.timestamp(), p.ssrc().0));
            let mut out = [0i16; 480];
            let k = Law::Ulaw.decode(p.payload(), &mut out);
            pcm.extend_from_slice(&out[..k]);
        }
    }
}

fn next_event(h: &EndpointHost, want: impl Fn(&EndpointEvent) -> bool) -> EndpointEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(ev) = h.events().recv_timeout(Duration::from_millis(50)) {
            if want(&ev) {
                return ev;
            }
        }
    }
    panic!("no such endpoint event");
}

#[test]
fn plays_a_wav_as_paced_g711_rtp() {
    let h = host(41000);
    let wav = tmp("play-700.wav");
    let mut w = hound::WavWriter::create(&wav, media::endpoint::clip::wav_spec()).unwrap();
    let src = tone(700.0, 4000, 8000.0); // 500 ms
    src.iter().for_each(|&s| w.write_sample(s).unwrap());
    w.finalize().unwrap();
    let phone = Phone::open(&h);
    let started = Instant::now();
    h.play(phone.id, 7, std::slice::from_ref(&wav), false)
        .unwrap();
    let done = next_event(&h, |e| matches!(e, EndpointEvent::PlayDone { .. }));
    assert_eq!(
        done,
        EndpointEvent::PlayDone {
            id: phone.id,
            play: 7
        }
    );
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(60));
    let (mut pcm, mut hdr) = (Vec::new(), Vec::new());
    phone.drain(&mut pcm, &mut hdr);
    // 25 packets of 20 ms, paced over ~500 ms
    assert_eq!(hdr.len(), 25, "packets");
    assert!(elapsed >= Duration::from_millis(440), "paced: {elapsed:?}");
    assert!(hdr[0].0, "marker on the first packet");
    for w in hdr.windows(2) {
        assert!(!w[1].0);
        assert_eq!(w[1].1, w[0].1.wrapping_add(1), "sequence");
        assert_eq!(w[1].2, w[0].2.wrapping_add(160), "timestamp");
        assert_eq!(w[1].3, w[0].3, "ssrc");
    }
    // the decoded audio is the tone (G.711 SNR ≈ 38 dB)
    assert!(media::g711::snr_db(&src, &pcm[..src.len()]) > 30.0);
    assert!(amplitude(&pcm, 700.0) > 7000.0);
    // nothing is sent once the play is over
    std::thread::sleep(Duration::from_millis(100));
    phone.drain(&mut pcm, &mut hdr);
    assert_eq!(hdr.len(), 25);
    // a repeated play loops until stopped, without PlayDone
    h.play(phone.id, 8, &[wav], true).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    h.stop_play(phone.id, 8);
    std::thread::sleep(Duration::from_millis(60));
    phone.drain(&mut pcm, &mut hdr);
    assert!(hdr.len() >= 25 + 30, "looped: {}", hdr.len());
    assert!(hdr[25].0, "new talkspurt has the marker");
    h.close(phone.id);
    let closed = next_event(&h, |e| matches!(e, EndpointEvent::Closed { .. }));
    let EndpointEvent::Closed { stats, .. } = closed else {
        unreachable!()
    };
    // the RTP packets, and at most one RTCP report in these ~1.5 s (the
    // first is due 1-3 s after opening)
    let rtp = hdr.len() as u64;
    assert!(
        (rtp..=rtp + 1).contains(&stats.packets_out),
        "{} sent, {rtp} RTP",
        stats.packets_out
    );
    assert!(h.play(phone.id, 9, &[tmp("missing.wav")], false).is_err());
}

#[test]
fn dtmf_from_rfc4733_and_in_band_reported_once() {
    let h = host(41200);
    let mut a = Phone::open(&h);
    // RFC 4733: digit 5, three updates and the end repeated three times
    for (dur, end) in [
        (160, false),
        (320, false),
        (480, false),
        (640, true),
        (640, true),
        (640, true),
    ] {
        let ev = TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration: dur,
        };
        a.send(101, 8000, &ev.to_bytes());
    }
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::Dtmf { .. }));
    assert_eq!(
        ev,
        EndpointEvent::Dtmf {
            id: a.id,
            digit: Digit::D5
        }
    );
    // in-band 7 (852 + 1209 Hz) on another endpoint, 120 ms
    let mut b = Phone::open(&h);
    let key = dual(852.0, 1209.0, 960);
    for chunk in key.chunks(160) {
        b.send_pcm(chunk);
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..5 {
        b.send_pcm(&[0; 160]);
    }
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::Dtmf { .. }));
    assert_eq!(
        ev,
        EndpointEvent::Dtmf {
            id: b.id,
            digit: Digit::D7
        }
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        h.events()
            .try_iter()
            .all(|e| !matches!(e, EndpointEvent::Dtmf { .. })),
        "each key press reported once"
    );
}

#[test]
fn records_incoming_audio_after_a_beep() {
    let h = host(41400);
    let mut a = Phone::open(&h);
    let path = tmp("rec.wav");
    h.record(a.id, &path, true, Duration::from_secs(10))
        .unwrap();
    // the beep comes first (250 ms of 1 kHz)
    std::thread::sleep(Duration::from_millis(320));
    let (mut pcm, mut hdr) = (Vec::new(), Vec::new());
    a.drain(&mut pcm, &mut hdr);
    assert!(amplitude(&pcm, 1000.0) > 4000.0, "beep heard");
    let src = tone(600.0, 8000, 8000.0);
    for chunk in src.chunks(160) {
        a.send_pcm(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    h.stop_recording(a.id);
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::RecordDone { .. }));
    let EndpointEvent::RecordDone {
        path: p, duration, ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(
        (p.as_path(), duration),
        (path.as_path(), Duration::from_secs(1))
    );
    let rec: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rec.len(), 8000);
    assert!(media::g711::snr_db(&src, &rec) > 30.0);
    // max duration stops by itself
    h.record(a.id, &path, false, Duration::from_millis(100))
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    for chunk in src[..1600].chunks(160) {
        a.send_pcm(chunk);
    }
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::RecordDone { .. }));
    assert!(
        matches!(ev, EndpointEvent::RecordDone { duration, .. } if duration == Duration::from_millis(100))
    );
}

/// Runs three phones sending their tones for `frames` × 20 ms (in bursts
/// of two frames every 40 ms if `bursty`); returns what each heard in the
/// last half.
fn talk(phones: &mut [Phone], tones: &[Vec<i16>], frames: usize, bursty: bool) -> Vec<Vec<i16>> {
    let mut heard = vec![Vec::new(); phones.len()];
    let mut hdr = Vec::new();
    let start = Instant::now();
    for f in 0..frames {
        for (p, t) in phones.iter_mut().zip(tones) {
            let k = (f * 160) % (t.len() - 160);
            p.send_pcm(&t[k..k + 160]);
        }
        let due = if bursty {
            40 * ((f as u64 + 2) / 2)
        } else {
            20 * (f as u64 + 1)
        };
        let next = start + Duration::from_millis(due);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        for (p, h) in phones.iter().zip(&mut heard) {
            if f == frames / 2 {
                h.clear();
            }
            p.drain(h, &mut hdr);
        }
    }
    heard
}

#[test]
fn room_mix_minus_and_moderator_mute() {
    let h = host(41600);
    let mut phones: Vec<Phone> = (0..3).map(|_| Phone::open(&h)).collect();
    h.join(phones[0].id, "300", Role::Moderator, "");
    h.join(phones[1].id, "300", Role::Speaker, "");
    h.join(phones[2].id, "300", Role::Speaker, "");
    let freqs = [500.0, 800.0, 1100.0];
    // 8000 samples hold whole periods of each: loops without a click
    let tones: Vec<Vec<i16>> = freqs.iter().map(|&f| tone(f, 8000, 5000.0)).collect();
    let heard = talk(&mut phones, &tones, 80, false);
    for (i, got) in heard.iter().enumerate() {
        assert!(got.len() > 4000, "phone {i} hears the room: {}", got.len());
        for (j, &f) in freqs.iter().enumerate() {
            let a = amplitude(got, f);
            if i == j {
                assert!(a < 300.0, "phone {i} hears itself: {a}");
            } else {
                assert!(a > 1500.0, "phone {i} hears {f} Hz: {a}");
            }
        }
    }
    h.room_op(phones[0].id, RoomOp::MuteGuests);
    let heard = talk(&mut phones, &tones, 60, false);
    let expect = [
        [false, false, false],
        [true, false, false],
        [true, false, false],
    ];
    for (i, got) in heard.iter().enumerate() {
        for (j, &f) in freqs.iter().enumerate() {
            let a = amplitude(got, f);
            assert_eq!(a > 1500.0, expect[i][j], "phone {i}, {f} Hz: {a}");
        }
    }
    // the mixer reported the mutes
    let muted = next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: media::mixer::RoomEvent::Muted(_),
                ..
            }
        )
    });
    assert!(matches!(muted, EndpointEvent::Room { .. }));
    for p in &phones {
        h.close(p.id);
    }
}

#[test]
fn room_refuses_a_16th_speaker_and_joins_when_locked() {
    let h = host(41800);
    let phones: Vec<Phone> = (0..18).map(|_| Phone::open(&h)).collect();
    h.join(phones[0].id, "400", Role::Moderator, "");
    // a second moderator PIN holder joins as a speaker: 15 speakers in all
    for p in &phones[1..16] {
        h.join(p.id, "400", Role::Moderator, "");
    }
    h.join(phones[16].id, "400", Role::Speaker, "");
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::JoinRefused { .. }));
    assert_eq!(
        ev,
        EndpointEvent::JoinRefused {
            id: phones[16].id,
            error: media::mixer::ConferenceError::Full(Role::Speaker)
        }
    );
    // only the first moderator is one; nothing else was refused by the mixer
    std::thread::sleep(Duration::from_millis(100));
    let events: Vec<EndpointEvent> = h.events().try_iter().collect();
    assert!(
        !events.iter().any(|e| matches!(
            e,
            EndpointEvent::RoomRefused(_) | EndpointEvent::JoinRefused { .. }
        )),
        "{events:?}"
    );
    // the moderator locks the room: a newcomer is refused, even after a guest left
    h.leave(phones[1].id);
    h.room_op(phones[0].id, RoomOp::Lock(true));
    h.join(phones[17].id, "400", Role::Speaker, "");
    let ev = next_event(&h, |e| matches!(e, EndpointEvent::JoinRefused { .. }));
    assert!(
        matches!(ev, EndpointEvent::JoinRefused { id, error: media::mixer::ConferenceError::Locked } if id == phones[17].id)
    );
    h.room_op(phones[0].id, RoomOp::Lock(false));
    h.join(phones[17].id, "400", Role::Speaker, "");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!h.events().try_iter().any(|e| matches!(
        e,
        EndpointEvent::JoinRefused { .. } | EndpointEvent::RoomRefused(_)
    )));
    // locked, then everyone leaves: the next caller finds a fresh room
    h.room_op(phones[0].id, RoomOp::Lock(true));
    std::thread::sleep(Duration::from_millis(60));
    for p in &phones {
        h.leave(p.id);
    }
    h.join(phones[5].id, "400", Role::Speaker, "");
    let joined = next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: media::mixer::RoomEvent::Joined { .. },
                ..
            } | EndpointEvent::JoinRefused { .. }
                | EndpointEvent::RoomRefused(_)
        )
    });
    assert!(
        matches!(&joined, EndpointEvent::Room { event: media::mixer::RoomEvent::Joined { participant, .. }, .. } if participant.0 == phones[5].id.0),
        "{joined:?}"
    );
}

#[test]
fn bursty_senders_are_paced_into_the_mixer() {
    // two frames every 40 ms: without pacing the mixer would keep one of
    // each pair (it mixes one frame per 20 ms tick) and half the mix would
    // lack that speaker
    let h = host(42000);
    let mut phones: Vec<Phone> = (0..3).map(|_| Phone::open(&h)).collect();
    for p in &phones {
        h.join(p.id, "500", Role::Speaker, "");
    }
    let tones: Vec<Vec<i16>> = [500.0, 800.0, 1100.0]
        .iter()
        .map(|&f| tone(f, 8000, 5000.0))
        .collect();
    let heard = talk(&mut phones, &tones, 80, true);
    for (i, got) in heard.iter().enumerate() {
        // both other tones in a frame: RMS ≈ 5000; one missing: ≈ 3500
        let frames: Vec<f64> = got
            .chunks_exact(160)
            .map(|f| (f.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / 160.0).sqrt())
            .collect();
        let full = frames.iter().filter(|&&r| r > 4200.0).count();
        assert!(frames.len() >= 30, "phone {i}: {} frames", frames.len());
        assert!(
            full + 3 >= frames.len(),
            "phone {i}: {full}/{} full frames",
            frames.len()
        );
    }
}

#[test]
fn an_offering_endpoint_sends_once_answered() {
    let h = host(42200);
    let wav = tmp("moh-600.wav");
    let mut w = hound::WavWriter::create(&wav, media::endpoint::clip::wav_spec()).unwrap();
    tone(600.0, 1600, 8000.0)
        .iter()
        .for_each(|&s| w.write_sample(s).unwrap());
    w.finalize().unwrap();
    let (id, offer) = h
        .open_offer(media::sdp::Direction::SendOnly)
        .expect("offer");
    assert!(offer.contains("a=sendonly"), "{offer}");
    assert!(
        offer.contains("a=rtpmap:101 telephone-event/8000"),
        "{offer}"
    );
    let ep_port: u16 = offer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("offer port");
    assert!((42200..=42299).contains(&ep_port));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    let phone = Phone {
        to: SocketAddr::from(([127, 0, 0, 1], ep_port)),
        sock,
        rtcp: UdpSocket::bind("127.0.0.1:0").unwrap(),
        id,
        seq: 0,
    };
    // Looping music before the answer: no peer yet, nothing sent.
    h.play(id, 1, std::slice::from_ref(&wav), true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (mut pcm, mut hdr) = (Vec::new(), Vec::new());
    phone.drain(&mut pcm, &mut hdr);
    assert!(hdr.is_empty(), "nothing before the answer");
    let port = phone.sock.local_addr().unwrap().port();
    let rtcp_port = phone.rtcp.local_addr().unwrap().port();
    let answer = format!(
        "v=0\r\no=- 5 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=recvonly\r\na=rtcp:{rtcp_port}\r\n"
    );
    h.set_answer(id, &answer).expect("answer");
    std::thread::sleep(Duration::from_millis(500));
    h.stop_play(id, 1);
    std::thread::sleep(Duration::from_millis(60));
    phone.drain(&mut pcm, &mut hdr);
    assert!(
        hdr.len() >= 15,
        "music after the answer: {} packets",
        hdr.len()
    );
    assert!(amplitude(&pcm, 600.0) > 5000.0, "the WAV's tone");
    // One answer per offer; unknown endpoints are refused.
    assert_eq!(
        h.set_answer(id, &answer),
        Err(media::endpoint::EndpointError::NoOffer(id))
    );
    assert_eq!(
        h.set_answer(EndpointId(9999), &answer),
        Err(media::endpoint::EndpointError::Unknown(EndpointId(9999)))
    );
    // An answer without a common codec is refused.
    let (id2, _) = h.open_offer(media::sdp::Direction::SendRecv).unwrap();
    let g729 = answer.replace("RTP/AVP 0", "RTP/AVP 18");
    assert!(matches!(
        h.set_answer(id2, &g729),
        Err(media::endpoint::EndpointError::Negotiation(_))
    ));
    h.close(id);
    h.close(id2);
}

/// The endpoint is an RTP end system (RFC 3550 §6): while it plays it sends
/// sender reports — to the RTCP port the offer signalled (`a=rtcp`, RFC
/// 3605) — with a block on what it receives, and learns the RTT from the
/// peer's answer.
#[test]
fn sends_rtcp_reports_and_learns_the_round_trip() {
    use media::rtcp::{self, RtcpCompound};
    let h = host(42400);
    let mut phone = Phone::open(&h);
    let wav = tmp("rtcp-tone.wav");
    let mut w = hound::WavWriter::create(&wav, media::endpoint::clip::wav_spec()).unwrap();
    for x in tone(700.0, 8000 * 5, 8000.0) {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
    h.play(phone.id, 1, &[wav], true).unwrap();
    phone
        .rtcp
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 512];
    let started = Instant::now();
    let (n, from) = loop {
        phone.send_pcm(&tone(440.0, 160, 4000.0));
        if let Ok(x) = phone.rtcp.recv_from(&mut buf) {
            break x;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no RTCP in 5 s");
    };
    assert_eq!(
        from.port(),
        phone.to.port() + 1,
        "from the endpoint's RTCP port"
    );
    let c = RtcpCompound::parse(&buf[..n]).expect("a valid compound");
    let sr = c.iter().next().unwrap();
    assert_eq!(sr.packet_type(), rtcp::PT_SR, "it is sending a prompt");
    let info = sr.sender_info().unwrap();
    assert!(info.packet_count > 20, "{}", info.packet_count);
    let block = sr
        .report_blocks()
        .next()
        .expect("a block on the phone's stream");
    assert_eq!(block.cumulative_lost, 0);
    // answer with an RR on the endpoint's stream, from the RTCP socket
    let rr = rtcp::ReportBlock {
        ssrc: sr.sender_ssrc().unwrap(),
        lsr: info.ntp.compact(),
        dlsr: 0,
        ..Default::default()
    };
    let m = rtcp::write_rr(Ssrc(7), &[rr], &mut buf).unwrap();
    phone.rtcp.send_to(&buf[..m], from).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    h.close(phone.id);
    let closed = next_event(&h, |e| matches!(e, EndpointEvent::Closed { .. }));
    let EndpointEvent::Closed { stats, .. } = closed else {
        unreachable!()
    };
    assert_eq!(stats.rtcp_in, 1);
    let rtt = stats.rtt_ms.expect("RTT from the phone's RR");
    assert!((0.0..200.0).contains(&rtt), "loopback RTT {rtt} ms");
}

/// The administrator's view and hands (what `pbx conference` uses): live
/// rooms, the roster with name tags, mute / unmute request / kick with a
/// moderator's rights from outside the room, the quality window.
#[test]
fn admin_sees_the_roster_and_mutes_and_kicks() {
    use media::mixer::RoomEvent;
    let h = host(42600);
    let mut phones: Vec<Phone> = (0..3).map(|_| Phone::open(&h)).collect();
    h.join(phones[0].id, "600", Role::Moderator, "Host");
    h.join(phones[1].id, "600", Role::Speaker, "Guest One");
    h.join(phones[2].id, "600", Role::Speaker, "Guest Two");
    let tones: Vec<Vec<i16>> = [500.0, 800.0, 1100.0]
        .iter()
        .map(|&f| tone(f, 8000, 5000.0))
        .collect();
    talk(&mut phones, &tones, 10, false);
    assert_eq!(h.rooms(), ["600"]);
    let roster = h.roster("600").unwrap();
    let names: Vec<&str> = roster.iter().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names, ["Host", "Guest One", "Guest Two"]);
    assert_eq!(roster[0].role, Role::Moderator);

    h.admin("600", RoomOp::Mute(phones[1].id)).unwrap();
    next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: RoomEvent::Muted(_),
                ..
            }
        )
    });
    let muted = h.roster("600").unwrap();
    assert!(muted[1].moderator_muted && !muted[2].moderator_muted);
    h.admin("600", RoomOp::RequestUnmute(phones[1].id)).unwrap();
    next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: RoomEvent::UnmuteRequested(_),
                ..
            }
        )
    });
    assert!(
        h.roster("600").unwrap()[1].unmute_request_pending,
        "consent pending"
    );

    let (inbound, outbound) = h.quality("600", phones[2].id).unwrap();
    // the first sample is taken 10 s after joining
    assert!(inbound.len() <= 1 && outbound.len() <= 1);
    assert!(matches!(
        h.quality("600", EndpointId(999_999)),
        Err(media::endpoint::EndpointError::UnknownParticipant(..))
    ));

    h.admin(
        "600",
        RoomOp::Kick {
            target: phones[2].id,
            ban: true,
        },
    )
    .unwrap();
    let kicked = next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: RoomEvent::Kicked { .. },
                ..
            }
        )
    });
    assert!(matches!(
        kicked,
        EndpointEvent::Room {
            event: RoomEvent::Kicked { banned: true, .. },
            ..
        }
    ));
    assert_eq!(h.roster("600").unwrap().len(), 2);
    assert!(matches!(
        h.roster("nope"),
        Err(media::endpoint::EndpointError::UnknownRoom(_))
    ));
    h.admin("600", RoomOp::End).unwrap();
    next_event(&h, |e| {
        matches!(
            e,
            EndpointEvent::Room {
                event: RoomEvent::Ended,
                ..
            }
        )
    });
    assert!(h.rooms().is_empty(), "an ended room is no longer listed");
    assert!(h.admin("600", RoomOp::End).is_err());
    for p in &phones {
        h.close(p.id);
    }
}
