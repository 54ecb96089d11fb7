//! One relayed call: two legs (A = caller side, B = callee side), each with
//! an RTP and an RTCP socket on the relay. Sans-IO: the driver passes each
//! datagram with the socket it arrived on and sends it where
//! [`RelaySession::handle_packet`] says, after the packet was rewritten in
//! place (SSRC/sequence continuity, RTCP SSRC mapping).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::continuity::Continuity;
use super::latch::{Latch, LatchConfig, LatchDecision};
use super::media::{LegMedia, MediaState};
use super::record::{RecordSink, RecordStats, Tap, TapPayload, TapSlot};
use crate::codec::CodecError;
use crate::demux::{classify, PacketKind};
use crate::dtmf::Digit;
use crate::quality::{QualityMonitor, QualitySummary, StreamCounters};
use crate::reporter::RtcpReporter;
use crate::rtcp::{self, NtpTime, RtcpCompound};
use crate::rtp::{RtpPacket, Ssrc};
use crate::sdp::SessionDescription;
use crate::stats::{mos_g711, ReceiverStats};

/// Which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Caller side.
    A,
    /// Callee side.
    B,
}

impl Side {
    /// The other leg.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
    pub(crate) fn idx(self) -> usize {
        self as usize
    }
}

/// Socket of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// RTP port (also RTCP with rtcp-mux).
    Rtp,
    /// RTCP port.
    Rtcp,
}

/// What the SDP said about one leg's endpoint. A leg whose SDP is not
/// known yet (the callee before its answer) starts with `Default`; send
/// [`RelaySession::reanchor`] when the answer arrives, which also reopens the
/// latch window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegConfig {
    /// Endpoint's RTP address from SDP (None: unknown yet or hold).
    pub remote_rtp: Option<SocketAddr>,
    /// Endpoint's RTCP address.
    pub remote_rtcp: Option<SocketAddr>,
    /// rtcp-mux negotiated.
    pub rtcp_mux: bool,
}

impl LegConfig {
    /// From the first active audio stream of an SDP body (offer or answer):
    /// its connection address, port, `a=rtcp` port (RFC 3605) and rtcp-mux.
    /// Hold with `c=0.0.0.0` yields no addresses.
    pub fn from_sdp(sdp: &SessionDescription) -> Option<Self> {
        let i = sdp
            .media
            .iter()
            .position(|m| m.media == "audio" && m.port != 0)?;
        let m = &sdp.media[i];
        let c = sdp.media_connection(i)?;
        let rtcp_mux = m.rtcp_mux();
        if c.address.is_unspecified() {
            return Some(Self {
                remote_rtp: None,
                remote_rtcp: None,
                rtcp_mux,
            });
        }
        let rtcp_port = if rtcp_mux {
            m.port
        } else {
            m.rtcp_port().unwrap_or(m.port.wrapping_add(1))
        };
        Some(Self {
            remote_rtp: Some(SocketAddr::new(c.address, m.port)),
            remote_rtcp: Some(SocketAddr::new(c.address, rtcp_port)),
            rtcp_mux,
        })
    }
}

/// Session policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Latching policy.
    pub latch: LatchConfig,
    /// Free the session when no packet arrived on any leg for this long.
    pub inactivity_timeout: Duration,
    /// Clock rate for jitter/continuity (8000 for G.711).
    pub clock_rate: u32,
    /// Rewrite SSRC/sequence/timestamp after a source change. Must be off
    /// for SRTP (RTP/SAVP): rewriting would break authentication (RFC 3711).
    pub continuity: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            latch: LatchConfig::default(),
            inactivity_timeout: Duration::from_secs(60),
            clock_rate: 8000,
            continuity: true,
        }
    }
}

/// Why a packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Not RTP/RTCP or failed validation.
    Malformed,
    /// Source not latched and not allowed to latch.
    Hijack,
    /// The other leg has no destination yet.
    NoDestination,
    /// Session expired.
    Expired,
    /// Not forwarded while transcoding: RTCP (the relay is the source of
    /// the transcoded streams and sends its own reports, see
    /// [`RelaySession::poll_report`]), payload types the other leg has no
    /// counterpart for, late packets, frames the codec refused.
    Transcoding,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Send the (rewritten) bytes from `side`'s `channel` socket to `to`.
    Send {
        /// Leg whose socket sends.
        side: Side,
        /// Which socket.
        channel: Channel,
        /// Destination.
        to: SocketAddr,
        /// Bytes of the buffer to send (differs from the datagram's length
        /// when transcoded).
        len: usize,
    },
    /// Drop it.
    Drop(DropReason),
}

/// Per-leg counters and quality (packets *from* the leg's endpoint unless
/// named `_out`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegStats {
    /// RTP packets received from the endpoint.
    pub packets_in: u64,
    /// RTP bytes received.
    pub bytes_in: u64,
    /// Packets (RTP+RTCP) sent to the endpoint.
    pub packets_out: u64,
    /// Bytes sent to the endpoint.
    pub bytes_out: u64,
    /// RTCP packets received.
    pub rtcp_in: u64,
    /// Packets dropped (hijack, malformed).
    pub dropped: u64,
    /// Expected RTP packets (RFC 3550 A.3).
    pub expected: u64,
    /// Lost RTP packets (cumulative).
    pub lost: i64,
    /// Interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Relay↔endpoint round trip from RTCP, ms.
    pub rtt_ms: Option<f64>,
    /// E-model MOS estimate.
    pub mos: f64,
    /// Summary of the 10 s quality samples kept (SPEC §21: average and
    /// worst MOS, highest loss and jitter); `None` before the first sample.
    pub window: Option<QualitySummary>,
}

#[derive(Debug, Clone)]
struct Leg {
    cfg: LegConfig,
    rtp: Latch,
    rtcp: Latch,
    recv: ReceiverStats,
    recv_ssrc: Option<Ssrc>,
    cont: Continuity,
    stats: LegStats,
    // SRs forwarded *to* this leg's endpoint: (compact NTP, when) for RTT
    sr_sent: [(u32, Option<Instant>); 4],
    sr_next: usize,
    quality: QualityMonitor,
    // the relay's own RTCP to this leg while it transcodes: created with
    // the first transcoded packet sent to the leg (its SSRC is the stream's)
    report: Option<RtcpReporter>,
    seed: u64,
}

impl Leg {
    fn new(cfg: LegConfig, latch: LatchConfig, now: Instant, seed: u64) -> Self {
        Self {
            cfg,
            rtp: Latch::new(latch, now, cfg.remote_rtp),
            rtcp: Latch::new(
                latch,
                now,
                if cfg.rtcp_mux {
                    cfg.remote_rtp
                } else {
                    cfg.remote_rtcp
                },
            ),
            recv: ReceiverStats::new(),
            recv_ssrc: None,
            cont: Continuity::default(),
            stats: LegStats::default(),
            sr_sent: [(0, None); 4],
            sr_next: 0,
            quality: {
                let mut q = QualityMonitor::new();
                q.observe(now, StreamCounters::default());
                q
            },
            report: None,
            seed,
        }
    }

    /// Round trip from a report block answering an SR sent to this leg
    /// (LSR = that SR's compact NTP time, DLSR = how long the leg held it).
    fn note_rtt(&mut self, now: Instant, lsr: u32, dlsr: u32) {
        if let Some((_, Some(sent))) = self
            .sr_sent
            .iter()
            .find(|(c, t)| *c == lsr && t.is_some() && lsr != 0)
        {
            let held = f64::from(dlsr) / 65536.0;
            let rtt = now.duration_since(*sent).as_secs_f64() - held;
            if rtt >= 0.0 {
                self.stats.rtt_ms = Some(rtt * 1000.0);
            }
        }
    }

    /// Notes a transcoded packet (the whole datagram in `packet`) sent to
    /// this leg at `now`; the first starts the relay's reports to the leg.
    fn transcoded_sent(&mut self, now: Instant, wall: Option<(Instant, NtpTime)>, packet: &[u8]) {
        let Ok(p) = RtpPacket::parse(packet) else {
            return;
        };
        let (ssrc, ts, size) = (p.ssrc(), p.timestamp(), p.payload().len());
        let report = match &mut self.report {
            Some(r) if r.ssrc() == ssrc => r,
            _ => {
                // the wall clock is known from the first sweep on
                let Some((at, ntp)) = wall else { return };
                let d = now.saturating_duration_since(at);
                let ntp = NtpTime(ntp.0.wrapping_add(NtpTime::from_duration(d).0));
                let rate = clock_rate_of(p.payload_type().0);
                self.report = Some(RtcpReporter::new(ssrc, CNAME, rate, now, ntp, self.seed));
                self.report.as_mut().expect("just set")
            }
        };
        report.on_rtp_sent(now, ts, size);
    }

    fn remember_sr(&mut self, now: Instant, compact: u32) {
        self.sr_sent[self.sr_next] = (compact, Some(now));
        self.sr_next = (self.sr_next + 1) % self.sr_sent.len();
    }
    fn rtcp_destination(&self) -> Option<(Channel, SocketAddr)> {
        if self.cfg.rtcp_mux {
            self.rtp.destination().map(|a| (Channel::Rtp, a))
        } else {
            self.rtcp
                .destination()
                .or_else(|| {
                    self.rtp
                        .destination()
                        .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)))
                })
                .map(|a| (Channel::Rtcp, a))
        }
    }
}

/// The relay state of one call.
#[derive(Debug, Clone)]
pub struct RelaySession {
    cfg: RelayConfig,
    legs: [Leg; 2],
    created: Instant,
    last_activity: Instant,
    expired: bool,
    media: MediaState,
    // (instant, NTP wall clock then), from `poll_report`
    wall: Option<(Instant, NtpTime)>,
    // the recording tap (see `super::record`)
    tap: TapSlot,
}

impl RelaySession {
    /// New session at `now`.
    pub fn new(cfg: RelayConfig, now: Instant, a: LegConfig, b: LegConfig) -> Self {
        Self {
            legs: [
                Leg::new(a, cfg.latch, now, seed(&a, 0x51)),
                Leg::new(b, cfg.latch, now, seed(&b, 0xa2)),
            ],
            wall: None,
            cfg,
            created: now,
            last_activity: now,
            expired: false,
            media: MediaState::default(),
            tap: TapSlot::default(),
        }
    }

    /// The payloads `side` negotiated (from its SDP): the telephone-event
    /// payload type makes the relay report key presses
    /// ([`RelaySession::poll_dtmf`]); when both legs have a codec and they
    /// differ, packets are transcoded (see [`super::media`]). An error
    /// (a codec missing in this build) leaves the session forwarding as is.
    pub fn set_media(&mut self, side: Side, media: LegMedia) -> Result<(), CodecError> {
        self.media.set(side, media)
    }

    /// The payloads last set for `side`.
    pub fn media(&self, side: Side) -> LegMedia {
        self.media.leg(side)
    }

    /// Whether the legs' codecs differ and packets are transcoded.
    pub fn is_transcoding(&self) -> bool {
        self.media.is_transcoding()
    }

    /// The next DTMF key pressed on a leg (RFC 4733 telephone-event seen
    /// passing through, reported once per key press), oldest first.
    pub fn poll_dtmf(&mut self) -> Option<(Side, Digit)> {
        self.media.poll_dtmf()
    }

    /// New SDP for `side` (re-INVITE/UPDATE): reopens its latch windows.
    pub fn reanchor(&mut self, now: Instant, side: Side, cfg: LegConfig) {
        let leg = &mut self.legs[side.idx()];
        leg.cfg = cfg;
        leg.rtp.reopen(now, cfg.remote_rtp);
        leg.rtcp.reopen(
            now,
            if cfg.rtcp_mux {
                cfg.remote_rtp
            } else {
                cfg.remote_rtcp
            },
        );
    }

    /// The only source `side`'s `channel` socket still accepts at `now`:
    /// its latched peer once the latch window has closed (see
    /// [`Latch::settled`]). A driver may then `connect()` that socket to it
    /// — the kernel skips the route lookup on send and drops other sources
    /// before they are read, the same verdict [`Latch::check`] gives them —
    /// and must undo that when this turns `None` again (after
    /// [`RelaySession::reanchor`]: a new latch window, or hold). `None`
    /// for the RTCP socket with rtcp-mux (RTCP then uses the RTP socket).
    pub fn settled_peer(&self, now: Instant, side: Side, channel: Channel) -> Option<SocketAddr> {
        let leg = &self.legs[side.idx()];
        match channel {
            Channel::Rtp => leg.rtp.settled(now),
            Channel::Rtcp if leg.cfg.rtcp_mux => None,
            Channel::Rtcp => leg.rtcp.settled(now),
        }
    }

    /// Earliest deadline for [`RelaySession::handle_timeout`]: the
    /// inactivity timeout or the next 10 s quality sample.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        let idle = self.last_activity + self.cfg.inactivity_timeout;
        let transcoding = self.media.is_transcoding();
        let sample = self
            .legs
            .iter()
            .filter_map(|l| l.quality.next_sample_at())
            .chain(
                self.legs
                    .iter()
                    .filter(|_| transcoding)
                    .filter_map(|l| l.report.as_ref().map(RtcpReporter::poll_timeout)),
            )
            .min();
        Some(sample.map_or(idle, |s| s.min(idle)))
    }

    /// Takes due quality samples; returns true once the session has
    /// expired (inactivity), after which the driver frees the ports.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.expired {
            return true;
        }
        for side in [Side::A, Side::B] {
            let s = self.stats(side);
            let counters = StreamCounters {
                packets: s.packets_in,
                bytes: s.bytes_in,
                expected: s.expected,
                lost: s.lost,
                jitter_ms: s.jitter_ms,
                rtt_ms: s.rtt_ms.unwrap_or(0.0),
            };
            self.legs[side.idx()].quality.observe(now, counters);
        }
        if now >= self.last_activity + self.cfg.inactivity_timeout {
            self.expired = true;
        }
        self.expired
    }

    /// The relay's own RTCP while it transcodes: a transcoded stream is
    /// the relay's (its SSRC, timestamps and payload), so forwarding the far
    /// endpoint's reports would describe packets the leg never saw. The
    /// relay is then an RTP end system towards each leg ([`RtcpReporter`]:
    /// SR + SDES CNAME at the RFC 3550 §6.2 interval, a block on what it
    /// receives from the leg); the legs' own reports are taken in, not
    /// forwarded. Returns a due report for one leg, written into `buf`, and
    /// where to send it; call until `None` (the driver does every sweep).
    /// `wall` is the NTP wall-clock time at `now` (the session reads no
    /// clock).
    pub fn poll_report(&mut self, now: Instant, wall: NtpTime, buf: &mut [u8]) -> Option<Forward> {
        self.wall = Some((now, wall));
        if !self.media.is_transcoding() || self.expired {
            for leg in &mut self.legs {
                leg.report = None;
            }
            return None;
        }
        for side in [Side::A, Side::B] {
            let leg = &mut self.legs[side.idx()];
            let Some(report) = &mut leg.report else {
                continue;
            };
            if report.poll_timeout() > now {
                continue;
            }
            let len = report.handle_timeout(now, buf)?;
            let Some((channel, to)) = leg.rtcp_destination() else {
                continue;
            };
            leg.stats.packets_out += 1;
            leg.stats.bytes_out += len as u64;
            return Some(Forward::Send {
                side,
                channel,
                to,
                len,
            });
        }
        None
    }

    /// Quality samples of what the relay receives from `side`'s endpoint
    /// (SPEC §21, proposed: kept for two-party legs too).
    pub fn quality(&self, side: Side) -> &QualityMonitor {
        &self.legs[side.idx()].quality
    }

    /// Whether the session has expired.
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// Stats of one leg.
    pub fn stats(&self, side: Side) -> LegStats {
        let leg = &self.legs[side.idx()];
        let mut s = leg.stats;
        s.expected = u64::from(leg.recv.expected());
        s.lost = leg.recv.cumulative_lost();
        s.jitter_ms = leg.recv.jitter() * 1000.0 / f64::from(self.cfg.clock_rate);
        let loss = if s.expected > 0 {
            s.lost.max(0) as f64 / s.expected as f64
        } else {
            0.0
        };
        // one-way delay: half the RTT plus a jitter buffer of ~2x jitter plus one frame
        let delay = s.rtt_ms.unwrap_or(0.0) / 2.0 + 2.0 * s.jitter_ms + 20.0;
        s.mos = mos_g711(delay, loss);
        s.window = leg.quality.summary();
        s
    }

    /// Handles one datagram that arrived at `now` on `side`'s `channel`
    /// socket from `from`. `buf` is rewritten in place; a transcoded packet
    /// that does not fit is dropped (use [`RelaySession::handle_datagram`]
    /// with room to spare).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        side: Side,
        channel: Channel,
        from: SocketAddr,
        buf: &mut [u8],
    ) -> Forward {
        let len = buf.len();
        self.handle_datagram(now, side, channel, from, buf, len)
    }

    /// Like [`RelaySession::handle_packet`] for the datagram in
    /// `buf[..len]`; the rest of `buf` is room for a transcoded packet,
    /// whose length is in [`Forward::Send`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        side: Side,
        channel: Channel,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Forward {
        if len > buf.len() {
            return Forward::Drop(DropReason::Malformed);
        }
        if self.expired {
            return Forward::Drop(DropReason::Expired);
        }
        let kind = classify(&buf[..len]);
        let leg = &mut self.legs[side.idx()];
        match (channel, kind) {
            (Channel::Rtp, PacketKind::Rtp) => {}
            (_, PacketKind::Rtcp) if channel == Channel::Rtcp || leg.cfg.rtcp_mux => {
                return self.handle_rtcp(now, side, from, &mut buf[..len]);
            }
            // RTCP on the RTP port without negotiated mux: still accept (lenient peers)
            (Channel::Rtp, PacketKind::Rtcp) => {
                return self.handle_rtcp(now, side, from, &mut buf[..len])
            }
            _ => {
                leg.stats.dropped += 1;
                return Forward::Drop(DropReason::Malformed);
            }
        }
        let Ok(p) = RtpPacket::parse(&buf[..len]) else {
            leg.stats.dropped += 1;
            return Forward::Drop(DropReason::Malformed);
        };
        let (ssrc, seq, ts, size) = (p.ssrc(), p.sequence(), p.timestamp(), p.payload().len());
        if leg.rtp.check(now, from) == LatchDecision::Reject {
            leg.stats.dropped += 1;
            return Forward::Drop(DropReason::Hijack);
        }
        self.last_activity = now;
        leg.stats.packets_in += 1;
        leg.stats.bytes_in += len as u64;
        let arrival = (now.duration_since(self.created).as_micros() as u64
            * u64::from(self.cfg.clock_rate)
            / 1_000_000) as u32;
        if leg.recv_ssrc != Some(ssrc) {
            // new source (RFC 3550 §8.2): statistics restart for it
            if leg.recv_ssrc.is_some() {
                leg.recv = ReceiverStats::new();
            }
            leg.recv_ssrc = Some(ssrc);
        }
        leg.recv.update(seq, ts, arrival, size);
        if let Some(r) = &mut leg.report {
            r.on_rtp_received(now, &p);
        }
        self.media
            .observe(side, ssrc, p.payload_type(), ts, p.payload());
        // recorded from the packet as received, or (another codec while
        // transcoding) from the relay's G.711 output to the other leg
        let tap_output = match self.tap.0.as_mut() {
            None => false,
            Some(tap) => match TapPayload::of(&self.media.leg(side), p.payload_type()) {
                TapPayload::G711(law) => {
                    tap.record(now, side, law, (ssrc, ts), p.payload());
                    false
                }
                TapPayload::Other if self.media.is_transcoding() => true,
                TapPayload::Other => {
                    tap.not_decoded();
                    false
                }
                TapPayload::Skip => false,
            },
        };
        let len = match self.media.transcoding_mut() {
            Some(t) => match t.process(side, buf, len) {
                Some(n) => {
                    if tap_output {
                        self.record_output(now, side, &buf[..n]);
                    }
                    n
                }
                None => return Forward::Drop(DropReason::Transcoding),
            },
            None => {
                if self.cfg.continuity {
                    leg.cont
                        .rewrite(now, self.cfg.clock_rate, &mut buf[..len], ssrc, seq, ts);
                }
                len
            }
        };
        let transcoded = self.media.is_transcoding();
        let other = &mut self.legs[side.other().idx()];
        match other.rtp.destination() {
            Some(to) => {
                other.stats.packets_out += 1;
                other.stats.bytes_out += len as u64;
                if transcoded {
                    other.transcoded_sent(now, self.wall, &buf[..len]);
                }
                Forward::Send {
                    side: side.other(),
                    channel: Channel::Rtp,
                    to,
                    len,
                }
            }
            None => Forward::Drop(DropReason::NoDestination),
        }
    }

    fn handle_rtcp(
        &mut self,
        now: Instant,
        side: Side,
        from: SocketAddr,
        buf: &mut [u8],
    ) -> Forward {
        let leg = &mut self.legs[side.idx()];
        if RtcpCompound::parse(buf).is_err() {
            leg.stats.dropped += 1;
            return Forward::Drop(DropReason::Malformed);
        }
        let latch = if leg.cfg.rtcp_mux {
            &mut leg.rtp
        } else {
            &mut leg.rtcp
        };
        if latch.check(now, from) == LatchDecision::Reject {
            leg.stats.dropped += 1;
            return Forward::Drop(DropReason::Hijack);
        }
        self.last_activity = now;
        leg.stats.rtcp_in += 1;
        if self.media.is_transcoding() {
            absorb_rtcp(now, leg, buf);
            return Forward::Drop(DropReason::Transcoding);
        }
        let (this, other) = match side {
            Side::A => {
                let (a, b) = self.legs.split_at_mut(1);
                (&mut a[0], &mut b[0])
            }
            Side::B => {
                let (a, b) = self.legs.split_at_mut(1);
                (&mut b[0], &mut a[0])
            }
        };
        rewrite_rtcp(now, this, other, buf);
        match other.rtcp_destination() {
            Some((channel, to)) => {
                other.stats.packets_out += 1;
                other.stats.bytes_out += buf.len() as u64;
                Forward::Send {
                    side: side.other(),
                    channel,
                    to,
                    len: buf.len(),
                }
            }
            None => Forward::Drop(DropReason::NoDestination),
        }
    }
}

/// Seeds a leg's report interval generator from its signalled address.
fn seed(cfg: &LegConfig, salt: u64) -> u64 {
    let port = cfg.remote_rtp.map_or(0, |a| u64::from(a.port()));
    0x9e37_79b9_7f4a_7c15 ^ (port << 8) ^ salt
}

/// Takes in an RTCP compound from `leg` while the relay transcodes (not
/// forwarded, see [`RelaySession::poll_report`]): its SR feeds the LSR/DLSR
/// of the relay's next report to the leg, its block on the relay's stream
/// gives the round trip time.
fn absorb_rtcp(now: Instant, leg: &mut Leg, buf: &[u8]) {
    let (Some(report), Ok(compound)) = (&mut leg.report, RtcpCompound::parse(buf)) else {
        return;
    };
    report.handle_rtcp(now, &compound);
    if let Some(rtt) = report.rtt() {
        leg.stats.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
    }
}

/// CNAME of the relay's own streams (RFC 3550 §6.5.1).
const CNAME: &str = "pbx-relay";

/// RTP clock of a transcoded stream's payload type: Opus is the only
/// codec the relay transcodes into that is not at 8 kHz, and it always
/// uses a dynamic payload type (RFC 7587 §4.1).
fn clock_rate_of(payload_type: u8) -> u32 {
    if payload_type >= 96 {
        48_000
    } else {
        8_000
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the compound in place: measures RTT of `this` leg from report
/// blocks answering SRs we forwarded to it, remembers SRs forwarded to
/// `other`, and maps SSRCs/timestamps into the rewritten spaces.
///
/// With continuity off the maps are identities, so nothing is modified
/// (required for SRTCP, whose authentication covers these fields).
fn rewrite_rtcp(now: Instant, this: &mut Leg, other: &mut Leg, buf: &mut [u8]) {
    let mut off = 0;
    while off + 8 <= buf.len() {
        let words = usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]]));
        let len = (words + 1) * 4;
        let pt = buf[off + 1];
        let count = usize::from(buf[off] & 0x1f);
        if pt == rtcp::PT_SR || pt == rtcp::PT_RR {
            let sender = Ssrc(be32(buf, off + 4));
            if let Some(out) = this.cont.out_ssrc() {
                if sender == this.cont.in_ssrc() {
                    buf[off + 4..off + 8].copy_from_slice(&out.0.to_be_bytes());
                }
            }
            let mut blocks = off + 8;
            if pt == rtcp::PT_SR {
                let ntp = (u64::from(be32(buf, off + 8)) << 32) | u64::from(be32(buf, off + 12));
                let ts = be32(buf, off + 16);
                let mapped = this.cont.map_timestamp(ts);
                if mapped != ts {
                    buf[off + 16..off + 20].copy_from_slice(&mapped.to_be_bytes());
                }
                other.remember_sr(now, NtpTime(ntp).compact());
                blocks += 20;
            }
            for i in 0..count {
                let b = blocks + i * 24;
                if b + 24 > off + len {
                    break;
                }
                // block reports on the stream `this` receives = other's output
                let about = Ssrc(be32(buf, b));
                if Some(about) == other.cont.out_ssrc() {
                    buf[b..b + 4].copy_from_slice(&other.cont.in_ssrc().0.to_be_bytes());
                }
                this.note_rtt(now, be32(buf, b + 16), be32(buf, b + 20));
            }
        }
        off += len;
    }
}

#[cfg(test)]
mod media_tests;
mod record_tap;
#[cfg(test)]
mod tests;
