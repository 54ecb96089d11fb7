//! One endpoint's media state, sans-IO: the negotiated stream, the RTP
//! sender (sequence, timestamp, SSRC, marker; RFC 3550 §5.1), the prompt
//! player, DTMF detection (RFC 4733 events first, in-band Goertzel as a
//! fallback) and the recorder. The driver ([`super::driver`]) feeds it
//! packets and 20 ms ticks with the current time; nothing here allocates per
//! packet.

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dtmf::goertzel::GoertzelDetector;
use crate::dtmf::rfc4733::{DtmfEvent, DtmfReceiver};
use crate::dtmf::Digit;
use crate::g711::Law;
use crate::quality::StreamCounters;
use crate::relay::LegStats;
use crate::reporter::RtcpReporter;
use crate::rtcp::{NtpTime, RtcpCompound};
use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc, FIXED_HEADER_LEN};
use crate::sdp::{Codec, Negotiated};
use crate::stats::mos_g711;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
/// Largest payload decoded from one packet (60 ms of G.711).
pub const MAX_DECODED: usize = 480;
/// A recording WAV writer (8 kHz mono 16-bit).
pub type WavWriter = hound::WavWriter<BufWriter<File>>;

/// Something a session reports to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The play with this id reached its end.
    PlayDone(u64),
    /// A key press (reported once per press).
    Dtmf(Digit),
    /// A recording ended: file and length.
    RecordDone(PathBuf, Duration),
}

/// Plays a list of decoded clips in order, optionally looping.
#[derive(Debug, Clone)]
struct Player {
    id: u64,
    clips: Vec<Arc<[i16]>>,
    clip: usize,
    pos: usize,
    repeat: bool,
}

impl Player {
    /// Fills `out` with the next 20 ms (the last frame padded with silence);
    /// false once everything was played.
    fn next_frame(&mut self, out: &mut [i16; FRAME]) -> bool {
        let mut filled = 0;
        let loops = self.repeat && self.clips.iter().any(|c| !c.is_empty());
        while filled < FRAME {
            if self.clip >= self.clips.len() {
                if !loops {
                    break;
                }
                self.clip = 0;
            }
            let c = &self.clips[self.clip];
            let n = (c.len() - self.pos).min(FRAME - filled);
            out[filled..filled + n].copy_from_slice(&c[self.pos..self.pos + n]);
            filled += n;
            self.pos += n;
            if self.pos >= c.len() {
                self.clip += 1;
                self.pos = 0;
            }
        }
        out[filled..].fill(0);
        filled > 0
    }
}

/// A recording in progress.
struct Recorder {
    writer: WavWriter,
    path: PathBuf,
    samples: u64,
    max_samples: u64,
    /// Recording starts after the beep (20 ms frames left).
    beep_frames: u32,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

/// The RTP sender of one endpoint.
#[derive(Debug, Clone, Copy)]
struct RtpOut {
    ssrc: Ssrc,
    seq: u16,
    ts: u32,
    last: Option<Instant>,
}

impl RtpOut {
    /// Header of the next packet sent at `now`: after a pause longer than
    /// one frame the timestamp jumps by the pause and the marker starts the
    /// talkspurt (RFC 3551 §4.1).
    fn next(&mut self, now: Instant, payload_type: PayloadType) -> RtpHeader {
        let marker = match self.last {
            None => true,
            Some(last) => {
                let gap = now.saturating_duration_since(last);
                if gap > Duration::from_millis(40) {
                    let frames = (gap.as_millis() / 20) as u32;
                    self.ts = self
                        .ts
                        .wrapping_add(frames.saturating_sub(1) * FRAME as u32);
                    true
                } else {
                    false
                }
            }
        };
        self.last = Some(now);
        let h = RtpHeader {
            marker,
            payload_type,
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        h
    }
}

/// Per-endpoint media state; see the module docs.
#[derive(Debug)]
pub struct EndpointSession {
    law: Law,
    payload_type: PayloadType,
    telephone_event: Option<PayloadType>,
    remote: Option<SocketAddr>,
    // where RTCP goes: the offer's `a=rtcp` / RTP port + 1, or the RTP
    // address with rtcp-mux (RFC 5761)
    remote_rtcp: Option<SocketAddr>,
    rtcp_mux: bool,
    // where the peer's RTCP really comes from (symmetric RTCP)
    rtcp_source: Option<SocketAddr>,
    latched: bool,
    /// The answer allows us to send (not recvonly / inactive: a held peer).
    sends: bool,
    out: RtpOut,
    player: Option<Player>,
    beep: Option<Player>,
    dtmf: DtmfReceiver,
    inband: GoertzelDetector,
    rfc4733_seen: bool,
    recorder: Option<Recorder>,
    record_deadline: Option<Instant>,
    // RTCP (RFC 3550 §6): our SR/RR + SDES, the peer's reception
    // statistics of our stream (RTT) and ours of its stream (loss, jitter)
    rtcp: RtcpReporter,
    stats: LegStats,
}

/// CNAME of pbx's own media streams (RFC 3550 §6.5.1).
const CNAME: &str = "pbx-media";

/// `law` of a negotiated G.711 codec (the endpoint offers nothing else).
fn law_of(codec: Codec) -> Law {
    match codec {
        Codec::Pcma => Law::Alaw,
        _ => Law::Ulaw,
    }
}

impl EndpointSession {
    /// A session for a negotiated stream, sending with `ssrc`; `wall` is
    /// the NTP wall-clock time at `now` (for RTCP sender reports).
    pub fn new(n: &Negotiated, now: Instant, wall: NtpTime, ssrc: Ssrc) -> Self {
        Self {
            law: law_of(n.codec),
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            remote: n.remote_rtp,
            remote_rtcp: n.remote_rtcp,
            rtcp_mux: n.rtcp_mux,
            rtcp_source: None,
            latched: false,
            sends: n.direction.sends(),
            out: RtpOut {
                ssrc,
                seq: (ssrc.0 >> 16) as u16,
                ts: ssrc.0.rotate_left(7),
                last: None,
            },
            player: None,
            beep: None,
            dtmf: DtmfReceiver::new(),
            inband: GoertzelDetector::new(),
            rfc4733_seen: false,
            recorder: None,
            record_deadline: None,
            rtcp: RtcpReporter::new(ssrc, CNAME, 8000, now, wall, u64::from(ssrc.0)),
            stats: LegStats::default(),
        }
    }

    /// A re-offer: new codec / payload types / address; the sender keeps
    /// its SSRC and sequence (RFC 3264 §8), latching starts over.
    pub fn update(&mut self, n: &Negotiated) {
        self.law = law_of(n.codec);
        self.payload_type = n.payload_type;
        self.telephone_event = n.telephone_event;
        self.remote = n.remote_rtp;
        self.remote_rtcp = n.remote_rtcp;
        self.rtcp_mux = n.rtcp_mux;
        self.rtcp_source = None;
        self.latched = false;
        self.sends = n.direction.sends();
    }

    /// Where RTP goes (signalled, or latched to the real source); `None`
    /// while the peer holds the call (RFC 3264 §8.4: we answered recvonly
    /// or inactive, so nothing is sent; prompts keep their pace).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote.filter(|_| self.sends)
    }

    /// Starts play `id` of `clips` (replacing any play in progress, which
    /// reports nothing).
    pub fn play(&mut self, id: u64, clips: Vec<Arc<[i16]>>, repeat: bool) {
        self.player = Some(Player {
            id,
            clips,
            clip: 0,
            pos: 0,
            repeat,
        });
    }

    /// Stops play `id` if it is the current one.
    pub fn stop_play(&mut self, id: u64) {
        if self.player.as_ref().is_some_and(|p| p.id == id) {
            self.player = None;
        }
    }

    /// Whether a prompt or a beep is being sent (a conference mix waits).
    pub fn is_playing(&self) -> bool {
        self.player.is_some() || self.beep.is_some()
    }

    /// Starts recording into `writer` (replacing and finishing any current
    /// recording), after `beep` if given, for at most `max`.
    pub fn record(
        &mut self,
        now: Instant,
        writer: WavWriter,
        path: PathBuf,
        beep: Option<Arc<[i16]>>,
        max: Duration,
        emit: &mut impl FnMut(SessionEvent),
    ) {
        self.stop_recording(emit);
        let beep_frames = beep.as_ref().map_or(0, |b| b.len().div_ceil(FRAME)) as u32;
        if let Some(b) = beep {
            self.beep = Some(Player {
                id: 0,
                clips: vec![b],
                clip: 0,
                pos: 0,
                repeat: false,
            });
        }
        let max_samples = max.as_millis() as u64 * 8;
        self.record_deadline = Some(now + max + Duration::from_millis(20 * u64::from(beep_frames)));
        self.recorder = Some(Recorder {
            writer,
            path,
            samples: 0,
            max_samples,
            beep_frames,
        });
    }

    /// Finishes the recording (RecordDone), if any.
    pub fn stop_recording(&mut self, emit: &mut impl FnMut(SessionEvent)) {
        self.record_deadline = None;
        if let Some(r) = self.recorder.take() {
            if let Err(e) = r.writer.finalize() {
                tracing::warn!(path = %r.path.display(), error = %e, "recording not finalized");
            }
            let duration = Duration::from_millis(r.samples / 8);
            emit(SessionEvent::RecordDone(r.path, duration));
        }
    }

    /// One received datagram from `from` at `now`. Audio is decoded into
    /// `pcm` (its sample count is returned, 0 for anything else); DTMF and
    /// recording happen here.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        pcm: &mut [i16; MAX_DECODED],
        emit: &mut impl FnMut(SessionEvent),
    ) -> usize {
        let Ok(p) = RtpPacket::parse(data) else {
            self.stats.dropped += 1;
            return 0;
        };
        let pt = p.payload_type();
        if pt != self.payload_type && Some(pt) != self.telephone_event {
            self.stats.dropped += 1;
            return 0;
        }
        // symmetric RTP: answer to where the peer really sends from
        if !self.latched {
            self.latched = true;
            self.remote = Some(from);
        } else if self.remote != Some(from) {
            self.stats.dropped += 1;
            return 0;
        }
        self.stats.packets_in += 1;
        self.stats.bytes_in += data.len() as u64;
        self.rtcp.on_rtp_received(now, &p);
        if Some(pt) == self.telephone_event {
            self.rfc4733_seen = true;
            for ev in self.dtmf.handle_packet(p.timestamp(), p.payload()) {
                if let Some(DtmfEvent::Began { digit, .. }) = ev {
                    emit(SessionEvent::Dtmf(digit));
                }
            }
            return 0;
        }
        let n = self.law.decode(p.payload(), pcm);
        if !self.rfc4733_seen {
            // in-band fallback, off once the peer is seen to use RFC 4733
            self.inband.push(&pcm[..n], |d| emit(SessionEvent::Dtmf(d)));
        }
        self.write_recording(&pcm[..n], emit);
        n
    }

    fn write_recording(&mut self, pcm: &[i16], emit: &mut impl FnMut(SessionEvent)) {
        let Some(r) = self.recorder.as_mut() else {
            return;
        };
        if r.beep_frames > 0 {
            return;
        }
        let room = r.max_samples.saturating_sub(r.samples) as usize;
        for &s in &pcm[..pcm.len().min(room)] {
            if r.writer.write_sample(s).is_err() {
                break;
            }
        }
        r.samples += pcm.len().min(room) as u64;
        if r.samples >= r.max_samples {
            self.stop_recording(emit);
        }
    }

    /// The 20 ms tick: fills `pcm` with the next frame to send (beep, then
    /// prompts) and returns true, or false when there is nothing to send
    /// (the endpoint stays silent: no comfort noise). Ends recordings past
    /// their deadline.
    pub fn tick(
        &mut self,
        now: Instant,
        pcm: &mut [i16; FRAME],
        emit: &mut impl FnMut(SessionEvent),
    ) -> bool {
        if self.record_deadline.is_some_and(|d| now >= d) {
            self.stop_recording(emit);
        }
        if let Some(r) = self.recorder.as_mut() {
            r.beep_frames = r.beep_frames.saturating_sub(1);
        }
        if let Some(b) = self.beep.as_mut() {
            if b.next_frame(pcm) {
                return true;
            }
            self.beep = None;
        }
        if let Some(p) = self.player.as_mut() {
            if p.next_frame(pcm) {
                return true;
            }
            let id = p.id;
            self.player = None;
            emit(SessionEvent::PlayDone(id));
        }
        false
    }

    /// Writes one RTP packet carrying `pcm` (G.711-encoded) into `buf`;
    /// returns its length (0 if `buf` is too small).
    pub fn packetize(&mut self, now: Instant, pcm: &[i16], buf: &mut [u8]) -> usize {
        let n = pcm.len().min(MAX_DECODED);
        let mut payload = [0u8; MAX_DECODED];
        self.law.encode(&pcm[..n], &mut payload[..n]);
        let header = self.out.next(now, self.payload_type);
        let len = header.write(&payload[..n], buf).unwrap_or(0);
        if len > 0 {
            self.stats.packets_out += 1;
            self.stats.bytes_out += len as u64;
            self.rtcp.on_rtp_sent(now, header.timestamp, n);
        }
        len
    }

    /// An RTCP compound from `from` (on the RTCP port, or the RTP port
    /// with rtcp-mux): its SR feeds our next report's LSR/DLSR, its block
    /// on our stream the round-trip time, and its source is where our
    /// reports go from then on. Anything else is dropped.
    pub fn handle_rtcp(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        match RtcpCompound::parse(data) {
            Ok(c) => {
                self.stats.rtcp_in += 1;
                self.rtcp_source.get_or_insert(from);
                self.rtcp.handle_rtcp(now, &c);
            }
            Err(_) => self.stats.dropped += 1,
        }
    }

    /// When the next RTCP report is due.
    pub fn rtcp_timeout(&self) -> Instant {
        self.rtcp.poll_timeout()
    }

    /// A due RTCP report (SR while we send, else RR; + SDES CNAME) written
    /// into `buf`: its length, where it goes and whether on the RTP socket
    /// (rtcp-mux). Reports go on while the peer holds the call (RFC 3550
    /// §6: receivers report too); `None` before anyone is known to send to.
    pub fn poll_rtcp(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, SocketAddr, bool)> {
        if now < self.rtcp.poll_timeout() {
            return None;
        }
        let len = self.rtcp.handle_timeout(now, buf)?;
        let to = if self.rtcp_mux {
            self.remote?
        } else {
            self.rtcp_destination()?
        };
        self.stats.packets_out += 1;
        self.stats.bytes_out += len as u64;
        Some((len, to, self.rtcp_mux))
    }

    /// Where reports go without rtcp-mux: the source the peer's RTCP comes
    /// from; else the signalled RTCP address (`a=rtcp`, RFC 3605, or RTP
    /// port + 1) — unless RTP latched to another host (NAT: the signalled
    /// address is a private one), then that host's RTP port + 1.
    fn rtcp_destination(&self) -> Option<SocketAddr> {
        if let Some(src) = self.rtcp_source {
            return Some(src);
        }
        let rtp = self.remote?;
        let next_port = SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1));
        match self.remote_rtcp {
            Some(signalled) if signalled.ip() == rtp.ip() => Some(signalled),
            _ => Some(next_port),
        }
    }

    /// Cumulative counters for the quality monitor (SPEC §21), per
    /// direction: what we receive from the peer, and what we send to it as
    /// the peer's RTCP reports it (loss, jitter; zero until it reports).
    pub fn quality_counters(&self) -> (StreamCounters, StreamCounters) {
        let s = self.stats();
        let rtt_ms = s.rtt_ms.unwrap_or(0.0);
        let inbound = StreamCounters {
            packets: s.packets_in,
            bytes: s.bytes_in,
            expected: s.expected,
            lost: s.lost,
            jitter_ms: s.jitter_ms,
            rtt_ms,
        };
        let report = self.rtcp.remote_report();
        let outbound = StreamCounters {
            packets: s.packets_out,
            bytes: s.bytes_out,
            // what the peer should have had: what we sent (its loss is
            // counted against that)
            expected: report.map_or(0, |_| s.packets_out),
            lost: report.map_or(0, |r| i64::from(r.cumulative_lost)),
            jitter_ms: report.map_or(0.0, |r| f64::from(r.jitter) / 8.0),
            rtt_ms,
        };
        (inbound, outbound)
    }

    /// Counters so far (RFC 3550 A.3 loss, A.8 jitter, G.711 MOS).
    pub fn stats(&self) -> LegStats {
        let mut s = self.stats;
        if let Some(recv) = self.rtcp.receiver_stats() {
            s.expected = u64::from(recv.expected());
            s.lost = recv.cumulative_lost();
            s.jitter_ms = recv.jitter() / 8.0;
        }
        s.rtt_ms = self.rtcp.rtt().map(|d| d.as_secs_f64() * 1000.0);
        let loss = if s.expected > 0 {
            s.lost.max(0) as f64 / s.expected as f64
        } else {
            0.0
        };
        // one-way delay: half the RTT (0 before one is known)
        s.mos = mos_g711(s.rtt_ms.unwrap_or(0.0) / 2.0, loss);
        s
    }
}

/// Size of the RTP packets the endpoint sends for one frame.
pub const PACKET_LEN: usize = FIXED_HEADER_LEN + FRAME;

#[cfg(test)]
mod tests;
