//! The recording tap of a relay session: decoded 8 kHz PCM of each leg,
//! handed to a [`RecordSink`] on the relay thread as packets pass.
//!
//! The sink is set per session ([`super::RelaySession::set_record_sink`], or
//! `Command::Record` through the driver) and lives outside this crate: the
//! `recorder` crate's adapter queues the samples for its writer thread. The
//! per-packet path allocates nothing: G.711 payloads are decoded with
//! [`crate::g711`] into a buffer sized once when the tap is set, and the
//! sink gets a borrowed [`TapFrame`]. A sink must not block or allocate
//! either (a bounded queue with `try_send` is the intended shape); a frame it
//! refuses is counted in [`RecordStats::dropped`], never retried.
//!
//! What is recorded: every RTP audio packet a leg sends whose payload is
//! G.711 (PCMU/PCMA, by the leg's negotiated payload types or the static
//! types 0 and 8). While the session transcodes, a leg sending another codec
//! (Opus) is recorded from the relay's G.711 output to the other leg — what
//! that leg hears. Opus legs of a session that does not transcode (both legs
//! Opus) are not recorded yet (decoding only for the recording would cost an
//! Opus decoder per leg): their packets are counted in
//! [`RecordStats::not_decoded`]. RFC 4733 telephone-events and comfort noise
//! are not audio samples and are skipped; the recording has silence there.
//!
//! Timing: each frame carries its arrival instant and a sample position on
//! the tap's timeline (0 at [`TapFrame::origin`], when the tap was set),
//! derived from RTP timestamps so that jitter does not move audio and a lost
//! packet leaves a gap of its exact length. A new source (SSRC change after
//! a transfer), a timestamp jump or a drift of more than
//! [`REANCHOR_SAMPLES`] from the arrival time re-anchors the side at its
//! arrival time.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::media::LegMedia;
use super::session::Side;
use crate::g711::Law;
use crate::rtp::{PayloadType, Ssrc};
use crate::sdp::Codec;

/// The sample rate of every [`TapFrame`] (G.711 is narrowband).
pub const TAP_RATE: u32 = 8000;

/// Most samples one frame holds: the largest G.711 payload a relay datagram
/// (2048 bytes) can carry. Longer payloads are cut there.
pub const MAX_TAP_SAMPLES: usize = 2048;

/// How far (in samples, 0.5 s) a side's RTP-derived position may drift from
/// its arrival time before the side is re-anchored at the arrival time.
pub const REANCHOR_SAMPLES: u64 = 4000;

/// Decoded audio of one packet of one leg.
#[derive(Debug, Clone, Copy)]
pub struct TapFrame<'a> {
    /// The leg that sent it.
    pub side: Side,
    /// When the packet reached the relay.
    pub arrival: Instant,
    /// When the tap was set: the zero of [`TapFrame::position`].
    pub origin: Instant,
    /// Position of the first sample, in samples at [`TapFrame::sample_rate`]
    /// since [`TapFrame::origin`] (see the module docs).
    pub position: u64,
    /// The RTP source of the decoded packet.
    pub ssrc: Ssrc,
    /// Its RTP timestamp.
    pub rtp_timestamp: u32,
    /// Samples per second ([`TAP_RATE`]).
    pub sample_rate: u32,
    /// Mono 16-bit PCM.
    pub pcm: &'a [i16],
}

/// What a sink did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapPush {
    /// Taken.
    Accepted,
    /// Refused for now (queue full): counted as dropped.
    Dropped,
    /// The sink will take no more frames (recording stopped): the tap stops
    /// pushing to it.
    Closed,
}

/// Where a relay session's recording tap sends its frames. Called on the
/// relay thread for every recorded packet: must not block, must not
/// allocate.
pub trait RecordSink: Send + Sync + fmt::Debug {
    /// Takes one frame (the PCM is borrowed for the call only).
    fn push(&self, frame: &TapFrame<'_>) -> TapPush;
}

/// Counters of a session's tap since it was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordStats {
    /// Frames the sink accepted.
    pub frames: u64,
    /// Samples in those frames.
    pub samples: u64,
    /// Frames the sink refused ([`TapPush::Dropped`]).
    pub dropped: u64,
    /// Audio packets not recorded because their codec is not decoded for
    /// recording (Opus without transcoding; unknown payload types).
    pub not_decoded: u64,
    /// Whether the sink said [`TapPush::Closed`].
    pub closed: bool,
}

/// How a payload type of a leg is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TapPayload {
    /// G.711: decoded and recorded.
    G711(Law),
    /// Audio in another codec.
    Other,
    /// Not audio samples (telephone-event, comfort noise).
    Skip,
}

impl TapPayload {
    /// Classifies `pt` as sent by a leg with payloads `media`.
    pub(super) fn of(media: &LegMedia, pt: PayloadType) -> Self {
        if media.telephone_event.is_some_and(|(te, _)| te == pt) || pt == PayloadType(13) {
            return Self::Skip;
        }
        let codec = media
            .codec
            .iter()
            .chain(media.others.iter().flatten())
            .find(|(p, _)| *p == pt)
            .map(|(_, c)| *c)
            .or(match pt {
                PayloadType::PCMU => Some(Codec::Pcmu),
                PayloadType::PCMA => Some(Codec::Pcma),
                _ => None,
            });
        match codec {
            Some(Codec::Pcmu) => Self::G711(Law::Ulaw),
            Some(Codec::Pcma) => Self::G711(Law::Alaw),
            _ => Self::Other,
        }
    }
}

/// Where a side's RTP timestamps sit on the tap's timeline.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: Ssrc,
    ts: u32,
    pos: u64,
}

/// The tap state of a session (sink, timeline, counters, decode buffer).
pub(super) struct Tap {
    sink: Arc<dyn RecordSink>,
    origin: Instant,
    anchors: [Option<Anchor>; 2],
    stats: RecordStats,
    pcm: Box<[i16; MAX_TAP_SAMPLES]>,
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap")
            .field("sink", &self.sink)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Tap {
    /// A tap into `sink` whose timeline starts at `origin`.
    pub(super) fn new(sink: Arc<dyn RecordSink>, origin: Instant) -> Self {
        Self {
            sink,
            origin,
            anchors: [None; 2],
            stats: RecordStats::default(),
            pcm: Box::new([0; MAX_TAP_SAMPLES]),
        }
    }

    pub(super) fn stats(&self) -> RecordStats {
        self.stats
    }

    /// The sink and the final counters.
    pub(super) fn into_parts(self) -> (Arc<dyn RecordSink>, RecordStats) {
        (self.sink, self.stats)
    }

    /// Counts an audio packet that cannot be recorded.
    pub(super) fn not_decoded(&mut self) {
        self.stats.not_decoded += 1;
    }

    /// Decodes a G.711 `payload` that `side` sent (or the relay sent on its
    /// behalf, transcoded) with RTP `ssrc`/`ts`, arrived at `now`, and pushes it.
    pub(super) fn record(
        &mut self,
        now: Instant,
        side: Side,
        law: Law,
        (ssrc, ts): (Ssrc, u32),
        payload: &[u8],
    ) {
        if self.stats.closed {
            return;
        }
        let n = law.decode(payload, &mut self.pcm[..]);
        if n == 0 {
            return;
        }
        let position = self.position(now, side, ssrc, ts);
        let frame = TapFrame {
            side,
            arrival: now,
            origin: self.origin,
            position,
            ssrc,
            rtp_timestamp: ts,
            sample_rate: TAP_RATE,
            pcm: &self.pcm[..n],
        };
        match self.sink.push(&frame) {
            TapPush::Accepted => {
                self.stats.frames += 1;
                self.stats.samples += n as u64;
            }
            TapPush::Dropped => self.stats.dropped += 1,
            TapPush::Closed => self.stats.closed = true,
        }
    }

    /// The timeline position of a packet (see the module docs).
    fn position(&mut self, now: Instant, side: Side, ssrc: Ssrc, ts: u32) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        let arrived = (nanos * u128::from(TAP_RATE) / 1_000_000_000) as u64;
        let slot = &mut self.anchors[side.idx()];
        if let Some(a) = slot.as_mut().filter(|a| a.ssrc == ssrc) {
            let delta = i64::from(ts.wrapping_sub(a.ts) as i32);
            let pos = a.pos as i64 + delta;
            if pos >= 0 && (pos as u64).abs_diff(arrived) <= REANCHOR_SAMPLES {
                // advancing keeps `delta` small (no 32-bit wrap ambiguity)
                if delta > 0 {
                    a.ts = ts;
                    a.pos = pos as u64;
                }
                return pos as u64;
            }
        }
        *slot = Some(Anchor {
            ssrc,
            ts,
            pos: arrived,
        });
        arrived
    }
}

/// A session's tap slot: a cloned session does not record (the sink stays
/// with the original).
#[derive(Debug, Default)]
pub(super) struct TapSlot(pub(super) Option<Tap>);

impl Clone for TapSlot {
    fn clone(&self) -> Self {
        Self(None)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Default)]
    struct Collect {
        frames: Mutex<Vec<(Side, u64, Vec<i16>)>>,
        refuse: std::sync::atomic::AtomicBool,
    }

    impl RecordSink for Collect {
        fn push(&self, f: &TapFrame<'_>) -> TapPush {
            if self.refuse.load(std::sync::atomic::Ordering::Relaxed) {
                return TapPush::Dropped;
            }
            self.frames
                .lock()
                .unwrap()
                .push((f.side, f.position, f.pcm.to_vec()));
            TapPush::Accepted
        }
    }

    #[test]
    fn positions_follow_rtp_timestamps_and_reanchor_on_new_source() {
        let sink = Arc::new(Collect::default());
        let t0 = Instant::now();
        let mut tap = Tap::new(sink.clone(), t0);
        let ms = |m| t0 + Duration::from_millis(m);
        let payload = [0xffu8; 160];
        // first packet 100 ms in: anchored at its arrival
        tap.record(ms(100), Side::A, Law::Ulaw, (Ssrc(1), 5000), &payload);
        // jitter: arrives 15 ms late, placed by its timestamp
        tap.record(ms(135), Side::A, Law::Ulaw, (Ssrc(1), 5160), &payload);
        // one packet lost: a gap of exactly 160 samples
        tap.record(ms(160), Side::A, Law::Ulaw, (Ssrc(1), 5480), &payload);
        // a new source: re-anchored at its arrival
        tap.record(ms(300), Side::A, Law::Ulaw, (Ssrc(2), 77), &payload);
        // a timestamp jump of 10 s: re-anchored
        tap.record(ms(320), Side::A, Law::Ulaw, (Ssrc(2), 80_237), &payload);
        // the other side has its own anchor
        tap.record(ms(40), Side::B, Law::Alaw, (Ssrc(9), 0), &[0xd5; 80]);
        let f = sink.frames.lock().unwrap();
        let pos: Vec<_> = f.iter().map(|(s, p, pcm)| (*s, *p, pcm.len())).collect();
        assert_eq!(
            pos,
            [
                (Side::A, 800, 160),
                (Side::A, 960, 160),
                (Side::A, 1280, 160),
                (Side::A, 2400, 160),
                (Side::A, 2560, 160),
                (Side::B, 320, 80),
            ]
        );
        // µ-law 0xff and A-law 0xd5 are silence
        assert!(f.iter().all(|(_, _, pcm)| pcm.iter().all(|s| s.abs() <= 8)));
        assert_eq!(tap.stats().frames, 6);
        assert_eq!(tap.stats().samples, 5 * 160 + 80);
    }

    #[test]
    fn refused_and_closed_frames_are_counted() {
        #[derive(Debug)]
        struct Closed;
        impl RecordSink for Closed {
            fn push(&self, _: &TapFrame<'_>) -> TapPush {
                TapPush::Closed
            }
        }
        let t0 = Instant::now();
        let sink = Arc::new(Collect::default());
        sink.refuse
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tap = Tap::new(sink, t0);
        for i in 0..3 {
            tap.record(t0, Side::B, Law::Ulaw, (Ssrc(1), i * 160), &[0; 160]);
        }
        tap.not_decoded();
        let s = tap.stats();
        assert_eq!(
            (s.frames, s.dropped, s.not_decoded, s.closed),
            (0, 3, 1, false)
        );
        let mut tap = Tap::new(Arc::new(Closed), t0);
        tap.record(t0, Side::A, Law::Ulaw, (Ssrc(1), 0), &[0; 160]);
        tap.record(t0, Side::A, Law::Ulaw, (Ssrc(1), 160), &[0; 160]);
        assert!(tap.stats().closed);
        assert_eq!(tap.stats().frames + tap.stats().dropped, 0);
    }

    #[test]
    fn payload_types_are_classified_by_the_legs_media() {
        let media = LegMedia {
            codec: Some((PayloadType(111), Codec::Opus)),
            telephone_event: Some((PayloadType(101), 48000)),
            others: [Some((PayloadType(8), Codec::Pcma)), None],
        };
        assert_eq!(TapPayload::of(&media, PayloadType(111)), TapPayload::Other);
        assert_eq!(TapPayload::of(&media, PayloadType(101)), TapPayload::Skip);
        assert_eq!(TapPayload::of(&media, PayloadType(13)), TapPayload::Skip);
        assert_eq!(
            TapPayload::of(&media, PayloadType(8)),
            TapPayload::G711(Law::Alaw)
        );
        // nothing negotiated: the static payload types
        let none = LegMedia::default();
        assert_eq!(
            TapPayload::of(&none, PayloadType::PCMU),
            TapPayload::G711(Law::Ulaw)
        );
        assert_eq!(TapPayload::of(&none, PayloadType(96)), TapPayload::Other);
    }
}
