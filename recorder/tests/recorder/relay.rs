//! The media relay's recording tap into a real recorder, over real sockets:
//! two endpoints on 127.0.0.1 send different tones through a relay session
//! (its own thread, as in pbx) set to record; the spooled WAV carries the
//! caller's tone left and the callee's right.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::codec::AudioEncoder;
use media::relay::driver::{Command, DriverConfig, RelayEvent, RelayHandle, SessionId};
use media::relay::{LegConfig, LegMedia, RecordStats, Side as Leg};
use media::rtp::{PayloadType, RtpHeader, Ssrc};
use media::sdp::Codec;
use recorder::{Recorder, RecordingState, RelayRecording, SampleRate};

use crate::common::*;

const PACKETS: u64 = 75; // 1.5 s of 20 ms frames per leg
const CALLER_HZ: f64 = 500.0;
const CALLEE_HZ: f64 = 1300.0;

/// One endpoint: its socket and an encoder for its codec.
struct Endpoint {
    socket: UdpSocket,
    codec: (PayloadType, Codec),
    enc: AudioEncoder,
    ssrc: u32,
    hz: f64,
}

impl Endpoint {
    fn new(codec: (PayloadType, Codec), ssrc: u32, hz: f64) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind endpoint");
        socket.set_nonblocking(true).expect("nonblocking");
        // Opus at 8 kHz: what the relay runs against G.711
        let enc = AudioEncoder::new(codec.1, 8000).expect("encoder");
        Self {
            socket,
            codec,
            enc,
            ssrc,
            hz,
        }
    }

    fn leg(&self) -> LegConfig {
        let a = self.socket.local_addr().expect("addr");
        LegConfig {
            remote_rtp: Some(a),
            remote_rtcp: Some(a),
            rtcp_mux: true,
        }
    }

    fn media(&self) -> LegMedia {
        LegMedia {
            codec: Some(self.codec),
            ..LegMedia::default()
        }
    }

    /// Sends frame `i` (20 ms of its tone) to the relay port `to`.
    fn send(&mut self, i: u64, to: SocketAddr) {
        let pcm = tone(self.hz, 8000, i * 160, 160, 8000.0);
        let mut payload = [0u8; 400];
        let n = self.enc.encode(&pcm, &mut payload).expect("encode");
        let step = self.codec.1.clock_rate() / 50;
        let h = RtpHeader {
            marker: i == 0,
            payload_type: self.codec.0,
            sequence: i as u16,
            timestamp: 1000 + i as u32 * step,
            ssrc: Ssrc(self.ssrc),
        };
        let mut buf = [0u8; 512];
        let len = h.write(&payload[..n], &mut buf).expect("rtp");
        self.socket.send_to(&buf[..len], to).expect("send");
        // what the relay forwards to us is not looked at
        let mut sink = [0u8; 2048];
        while self.socket.recv_from(&mut sink).is_ok() {}
    }
}

fn relay() -> RelayHandle {
    RelayHandle::spawn(DriverConfig {
        port_min: 46_000,
        port_max: 46_999,
        ..DriverConfig::default()
    })
    .expect("relay thread")
}

fn wait_record_stopped(relay: &RelayHandle, id: SessionId) -> RecordStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match relay
            .events
            .recv_timeout(left)
            .expect("RecordStopped within 5 s")
        {
            RelayEvent::RecordStopped { id: got, stats, .. } if got == id => return stats,
            _ => {}
        }
    }
}

/// Runs a recorded relay call between `a` (the caller) and `b` and checks
/// the WAV's channels by spectrum; returns the tap's counters.
fn recorded_call(name: &str, mut a: Endpoint, mut b: Endpoint, transcode: bool) -> RecordStats {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let relay = relay();
    let id = SessionId(7);
    let (pa, pb) = relay
        .open_sync(id, a.leg(), b.leg(), Duration::from_secs(1))
        .expect("open");
    if transcode {
        relay.send(Command::SetMedia {
            id,
            side: Leg::A,
            media: a.media(),
        });
        relay.send(Command::SetMedia {
            id,
            side: Leg::B,
            media: b.media(),
        });
    }
    let t0 = Instant::now();
    let tap = rec.start(start_req(name, SampleRate::Hz8000, t0)).unwrap();
    let recording = Arc::new(RelayRecording::new(tap, Leg::A));
    relay.send(Command::Record {
        id,
        sink: recording.clone(),
    });
    let (to_a, to_b) = (
        SocketAddr::from(([127, 0, 0, 1], pa.rtp)),
        SocketAddr::from(([127, 0, 0, 1], pb.rtp)),
    );
    for i in 0..PACKETS {
        a.send(i, to_a);
        b.send(i, to_b);
        if let Some(d) =
            (t0 + Duration::from_millis(20 * (i + 1))).checked_duration_since(Instant::now())
        {
            std::thread::sleep(d);
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    relay.send(Command::StopRecord(id));
    let stats = wait_record_stopped(&relay, id);
    recording.finish(Instant::now()).unwrap();
    relay.send(Command::Close(id));
    let meta = wait_closed(dir.path(), name);
    assert_eq!(meta.state, RecordingState::Spooled);
    assert_eq!(meta.dropped_frames, 0);
    let (rate, left, right) = read_stereo(&dir.path().join(format!("{name}.wav")));
    assert_eq!(rate, 8000);
    // 1.5 s of audio from the tap's start (a few ms after the recording's)
    assert!(
        (11_500..13_500).contains(&left.len()),
        "{} samples",
        left.len()
    );
    // the middle second: both tones present, each on its own channel
    let (l, r) = (&left[2000..10_000], &right[2000..10_000]);
    let (l_caller, l_callee) = (goertzel(l, CALLER_HZ, 8000), goertzel(l, CALLEE_HZ, 8000));
    let (r_caller, r_callee) = (goertzel(r, CALLER_HZ, 8000), goertzel(r, CALLEE_HZ, 8000));
    assert!(
        l_caller > 100.0 * l_callee,
        "left is the caller's {CALLER_HZ} Hz: {l_caller} vs {l_callee}"
    );
    assert!(
        r_callee > 100.0 * r_caller,
        "right is the callee's {CALLEE_HZ} Hz: {r_callee} vs {r_caller}"
    );
    // the tone is continuous: no 20 ms hole of silence in the middle second
    for (ch, x) in [("left", l), ("right", r)] {
        let quiet = x
            .chunks(160)
            .filter(|c| c.iter().all(|s| s.abs() < 200))
            .count();
        assert_eq!(quiet, 0, "{ch}: {quiet} silent 20 ms blocks");
    }
    drop(relay);
    rec.shutdown();
    stats
}

#[test]
fn relay_tap_records_caller_left_and_callee_right() {
    let a = Endpoint::new((PayloadType::PCMU, Codec::Pcmu), 0xa1, CALLER_HZ);
    let b = Endpoint::new((PayloadType::PCMA, Codec::Pcma), 0xb2, CALLEE_HZ);
    let stats = recorded_call("relay-g711", a, b, false);
    assert_eq!(
        (stats.frames, stats.dropped, stats.not_decoded),
        (2 * PACKETS, 0, 0),
        "{stats:?}"
    );
}

/// An Opus caller against a G.711 callee: the relay transcodes, and the
/// caller is recorded from the relay's G.711 output to the callee.
#[test]
fn relay_tap_records_a_transcoded_opus_leg() {
    let a = Endpoint::new((PayloadType(111), Codec::Opus), 0xa1, CALLER_HZ);
    let b = Endpoint::new((PayloadType::PCMU, Codec::Pcmu), 0xb2, CALLEE_HZ);
    let stats = recorded_call("relay-opus", a, b, true);
    assert_eq!(
        (stats.frames, stats.dropped, stats.not_decoded),
        (2 * PACKETS, 0, 0),
        "{stats:?}"
    );
}
