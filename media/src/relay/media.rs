//! What the relay knows about each leg's payloads, learned from the
//! negotiated SDP ([`LegMedia`]): the audio codec with its payload type and
//! the RFC 4733 telephone-event payload type. With it the relay
//! - reports the DTMF keys passing through, once per key press: packets of
//!   one event share a timestamp and the end packet is sent three times
//!   (RFC 4733 §2.5.1.4, §2.5.2), de-duplicated by
//!   [`DtmfReceiver`]; the packets themselves flow on unchanged;
//! - transcodes per packet when the legs' codecs differ: decode (with
//!   concealment), resample if the rates differ, encode, all into buffers
//!   sized when the codecs were set. The relay is then the source of the
//!   output stream (RFC 3550 §7.1: a translator that changes the encoding
//!   acts as a new source): its own SSRC, sequence numbers and timestamps in
//!   the output codec's clock. telephone-events are translated to the other
//!   leg's payload type (timestamps mapped, duration rescaled) or dropped
//!   when that leg did not negotiate them; other payload types are not
//!   forwarded while transcoding, and RTCP is answered by the relay's own
//!   reports on its streams (`RelaySession::poll_report`).

use super::session::Side;
use crate::codec::transcode::Transcoder;
use crate::codec::CodecError;
use crate::dtmf::rfc4733::{DtmfEvent, DtmfReceiver};
use crate::dtmf::Digit;
use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use crate::sdp::negotiate::{audio_formats, telephone_event};
use crate::sdp::{Codec, SessionDescription};

/// The payloads of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegMedia {
    /// The audio codec the leg receives (and is expected to send), with its
    /// payload type.
    pub codec: Option<(PayloadType, Codec)>,
    /// The telephone-event payload type and its clock rate.
    pub telephone_event: Option<(PayloadType, u32)>,
    /// Other codecs the leg's SDP lists, which it may send instead
    /// (RFC 3264 §6.1: any codec of the answer): while transcoding, the
    /// relay follows such a switch.
    pub others: [Option<(PayloadType, Codec)>; 2],
}

impl LegMedia {
    /// From the first active audio stream of an SDP body: its first codec
    /// this crate knows and its telephone-event (preferring the codec's rate,
    /// RFC 4733 §2.1).
    pub fn from_sdp(sdp: &SessionDescription) -> Option<Self> {
        let m = sdp
            .media
            .iter()
            .find(|m| m.media == "audio" && m.port != 0)?;
        let formats = audio_formats(m);
        let codec = formats.first().map(|(c, pt)| (*pt, *c));
        let rate = codec.map_or(8000, |(_, c)| c.clock_rate());
        let mut others = [None; 2];
        for (slot, (c, pt)) in others.iter_mut().zip(formats.iter().skip(1)) {
            *slot = Some((*pt, *c));
        }
        Some(Self {
            codec,
            telephone_event: telephone_event(m, rate),
            others,
        })
    }
}

/// Keys reported but not polled yet (a full queue drops the oldest).
const QUEUE: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct DtmfQueue {
    items: [Option<(Side, Digit)>; QUEUE],
    head: usize,
    len: usize,
}

impl DtmfQueue {
    fn push(&mut self, item: (Side, Digit)) {
        if self.len == QUEUE {
            self.head = (self.head + 1) % QUEUE;
            self.len -= 1;
        }
        self.items[(self.head + self.len) % QUEUE] = Some(item);
        self.len += 1;
    }
    fn pop(&mut self) -> Option<(Side, Digit)> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head].take();
        self.head = (self.head + 1) % QUEUE;
        self.len -= 1;
        item
    }
}

/// The relay's output stream in one direction while transcoding: sequence
/// numbers follow the input's (gaps stay gaps, so the far end conceals
/// them), timestamps are the input's scaled to the output clock, and a new
/// input source continues the output seamlessly.
#[derive(Debug, Clone, Copy)]
struct OutStream {
    ssrc: Option<Ssrc>,
    in_ssrc: Option<Ssrc>,
    last_in_seq: u16,
    last_out_seq: u16,
    base_in_ts: u32,
    base_out_ts: u32,
    last_out_ts: u32,
    step: u32,
}

impl OutStream {
    fn new(step: u32) -> Self {
        Self {
            ssrc: None,
            in_ssrc: None,
            last_in_seq: 0,
            last_out_seq: 0,
            base_in_ts: 0,
            base_out_ts: 0,
            last_out_ts: 0,
            step,
        }
    }

    /// Output (SSRC, sequence, timestamp) of an input packet; `None` for a
    /// late or duplicated packet (the output stays in order).
    fn map(
        &mut self,
        ssrc: Ssrc,
        seq: u16,
        ts: u32,
        rates: (u32, u32),
    ) -> Option<(Ssrc, u16, u32)> {
        let (in_rate, out_rate) = (i64::from(rates.0), i64::from(rates.1));
        if self.in_ssrc != Some(ssrc) {
            // first packet, or a new source behind the leg (transfer)
            let out = match self.ssrc {
                // any value will do; not the input's, the stream is ours
                None => {
                    self.ssrc = Some(Ssrc(ssrc.0 ^ 0x5bd1_e995));
                    (seq, ts)
                }
                Some(_) => (
                    self.last_out_seq.wrapping_add(1),
                    self.last_out_ts.wrapping_add(self.step),
                ),
            };
            self.in_ssrc = Some(ssrc);
            self.base_in_ts = ts;
            self.base_out_ts = out.1;
            self.last_in_seq = seq;
            self.last_out_seq = out.0;
            self.last_out_ts = out.1;
            return Some((self.ssrc?, out.0, out.1));
        }
        let d = seq.wrapping_sub(self.last_in_seq) as i16;
        if d <= 0 {
            return None;
        }
        let dt = i64::from(ts.wrapping_sub(self.base_in_ts) as i32);
        let out_ts = self
            .base_out_ts
            .wrapping_add((dt * out_rate / in_rate) as u32);
        let out_seq = self.last_out_seq.wrapping_add(d as u16);
        let step = out_ts.wrapping_sub(self.last_out_ts);
        if d == 1 && step > 0 && i64::from(step) <= out_rate {
            self.step = step;
        }
        if dt.unsigned_abs() > 1 << 30 {
            self.base_in_ts = ts;
            self.base_out_ts = out_ts;
        }
        self.last_in_seq = seq;
        self.last_out_seq = out_seq;
        self.last_out_ts = out_ts;
        Some((self.ssrc?, out_seq, out_ts))
    }

    /// The next packet starts the output over from the last one sent.
    fn restart(&mut self) {
        self.in_ssrc = None;
    }
}

/// One direction of transcoding (packets from one leg to the other).
#[derive(Debug)]
struct Direction {
    coder: Transcoder,
    from: (PayloadType, Codec),
    to: (PayloadType, Codec),
    te_from: Option<(PayloadType, u32)>,
    te_to: Option<(PayloadType, u32)>,
    // other codecs the sending leg may switch to
    others: [Option<(PayloadType, Codec)>; 2],
    out: OutStream,
}

/// Opus runs at 8 kHz against G.711 (narrowband: no resampling), at 48
/// kHz between two Opus legs.
fn opus_rate(from: Codec, to: Codec) -> u32 {
    if from == Codec::Opus && to == Codec::Opus {
        48000
    } else {
        8000
    }
}

impl Direction {
    /// `from`/`to`: the legs' media and their codecs.
    fn new(
        (from, f): (LegMedia, (PayloadType, Codec)),
        (to, t): (LegMedia, (PayloadType, Codec)),
        out: Option<OutStream>,
    ) -> Result<Self, CodecError> {
        let mut out = out.unwrap_or(OutStream::new(t.1.clock_rate() / 50));
        out.restart();
        Ok(Self {
            coder: Transcoder::new(f.1, t.1, opus_rate(f.1, t.1))?,
            from: f,
            to: t,
            te_from: from.telephone_event,
            te_to: to.telephone_event,
            others: from.others,
            out,
        })
    }

    /// The sending leg switched to `pt` if it is one of its other codecs:
    /// the decoder follows (a new coder — allocated once per switch, not
    /// per packet) and the output continues seamlessly. False for an
    /// unknown payload type or a codec this build cannot decode.
    fn follow_switch(&mut self, pt: PayloadType) -> bool {
        let Some(next) = self
            .others
            .iter()
            .flatten()
            .find(|(p, _)| *p == pt)
            .copied()
        else {
            return false;
        };
        if next.1 != self.from.1 {
            match Transcoder::new(next.1, self.to.1, opus_rate(next.1, self.to.1)) {
                Ok(coder) => self.coder = coder,
                Err(_) => return false,
            }
        }
        // the old codec becomes an alternative (the leg may switch back)
        if let Some(slot) = self.others.iter_mut().find(|o| **o == Some(next)) {
            *slot = Some(self.from);
        }
        self.from = next;
        // timestamps of the new payload run on its own clock
        self.out.restart();
        true
    }

    fn rates(&self) -> (u32, u32) {
        (self.from.1.clock_rate(), self.to.1.clock_rate())
    }
}

/// Largest payload written (60 ms of G.711 is 480 bytes; Opus less).
const SCRATCH: usize = 1500;

/// Both directions of a transcoding session and the payload scratch space.
#[derive(Debug)]
pub(super) struct Transcoding {
    dirs: [Direction; 2],
    scratch: Box<[u8; SCRATCH]>,
}

impl Transcoding {
    /// Transcodes the RTP packet in `buf[..len]` from `from`'s leg in place;
    /// returns the new length, or `None` when the packet is not forwarded
    /// (unknown payload type, telephone-event the other leg lacks, late,
    /// codec failure, `buf` too small).
    pub(super) fn process(&mut self, from: Side, buf: &mut [u8], len: usize) -> Option<usize> {
        let d = &mut self.dirs[from.idx()];
        let p = RtpPacket::parse(&buf[..len]).ok()?;
        let (pt, marker) = (p.payload_type(), p.marker());
        let (ssrc, seq, ts) = (p.ssrc(), p.sequence(), p.timestamp());
        let audio =
            pt == d.from.0 || (d.te_from.is_none_or(|(te, _)| te != pt) && d.follow_switch(pt));
        let (out_pt, n) = if audio {
            let n = d.coder.transcode(Some(p.payload()), &mut self.scratch[..]);
            (d.to.0, n.ok()?)
        } else if d.te_from.is_some_and(|(te, _)| te == pt) {
            let ((_, rate_in), (te_out, rate_out)) = (d.te_from?, d.te_to?);
            let ev = p.payload().get(..4)?;
            self.scratch[..4].copy_from_slice(ev);
            // duration is in telephone-event clock units (RFC 4733 §2.3.5)
            let dur = u64::from(u16::from_be_bytes([ev[2], ev[3]]));
            let dur = (dur * u64::from(rate_out) / u64::from(rate_in.max(1))).min(0xffff) as u16;
            self.scratch[2..4].copy_from_slice(&dur.to_be_bytes());
            (te_out, 4)
        } else {
            return None;
        };
        let rates = d.rates();
        let (ssrc, sequence, timestamp) = d.out.map(ssrc, seq, ts, rates)?;
        RtpHeader {
            marker,
            payload_type: out_pt,
            sequence,
            timestamp,
            ssrc,
        }
        .write(&self.scratch[..n], buf)
        .ok()
    }
}

/// The payload state of a relay session.
#[derive(Debug, Default)]
pub(super) struct MediaState {
    legs: [LegMedia; 2],
    dtmf: [DtmfReceiver; 2],
    /// The source each receiver follows: a new one (transfer) starts afresh.
    dtmf_ssrc: [Option<Ssrc>; 2],
    queue: DtmfQueue,
    transcoding: Option<Transcoding>,
}

impl Clone for MediaState {
    /// Coders carry no clonable state: a clone starts them afresh.
    fn clone(&self) -> Self {
        let mut m = Self {
            legs: self.legs,
            dtmf: self.dtmf.clone(),
            dtmf_ssrc: self.dtmf_ssrc,
            queue: self.queue,
            transcoding: None,
        };
        let _ = m.rebuild();
        m
    }
}

impl MediaState {
    /// Sets one leg's payloads; transcoding starts when both legs have a
    /// codec and they differ, and stops when they agree.
    pub(super) fn set(&mut self, side: Side, media: LegMedia) -> Result<(), CodecError> {
        if self.legs[side.idx()] == media {
            return Ok(());
        }
        self.legs[side.idx()] = media;
        self.rebuild()
    }

    fn rebuild(&mut self) -> Result<(), CodecError> {
        let outs = self
            .transcoding
            .take()
            .map(|t| [t.dirs[0].out, t.dirs[1].out]);
        let [a, b] = self.legs;
        let (Some(ca), Some(cb)) = (a.codec, b.codec) else {
            return Ok(());
        };
        if ca.1 == cb.1 {
            return Ok(());
        }
        self.transcoding = Some(Transcoding {
            dirs: [
                Direction::new((a, ca), (b, cb), outs.map(|o| o[0]))?,
                Direction::new((b, cb), (a, ca), outs.map(|o| o[1]))?,
            ],
            scratch: Box::new([0; SCRATCH]),
        });
        Ok(())
    }

    /// The payloads of a leg.
    pub(super) fn leg(&self, side: Side) -> LegMedia {
        self.legs[side.idx()]
    }

    /// Whether packets are transcoded.
    pub(super) fn is_transcoding(&self) -> bool {
        self.transcoding.is_some()
    }

    /// Looks at an RTP packet from `side` for a telephone-event key press.
    pub(super) fn observe(
        &mut self,
        side: Side,
        ssrc: Ssrc,
        pt: PayloadType,
        ts: u32,
        payload: &[u8],
    ) {
        let i = side.idx();
        if self.legs[i].telephone_event.is_none_or(|(te, _)| te != pt) {
            return;
        }
        if self.dtmf_ssrc[i] != Some(ssrc) {
            // events are told apart by timestamp within one source only
            self.dtmf_ssrc[i] = Some(ssrc);
            self.dtmf[i] = DtmfReceiver::new();
        }
        for ev in self.dtmf[i].handle_packet(ts, payload) {
            if let Some(DtmfEvent::Began { digit, .. }) = ev {
                self.queue.push((side, digit));
            }
        }
    }

    /// The next key press seen, oldest first.
    pub(super) fn poll_dtmf(&mut self) -> Option<(Side, Digit)> {
        self.queue.pop()
    }

    pub(super) fn transcoding_mut(&mut self) -> Option<&mut Transcoding> {
        self.transcoding.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_stream_maps_clock_and_skips_late_packets() {
        let mut o = OutStream::new(960);
        let r = (8000, 48000);
        let (ssrc, s0, t0) = o.map(Ssrc(7), 100, 1000, r).unwrap();
        assert_ne!(ssrc, Ssrc(7));
        assert_eq!((s0, t0), (100, 1000));
        assert_eq!(o.map(Ssrc(7), 101, 1160, r), Some((ssrc, 101, 1960)));
        // a lost packet stays a gap
        assert_eq!(o.map(Ssrc(7), 103, 1480, r), Some((ssrc, 103, 3880)));
        assert_eq!(o.map(Ssrc(7), 102, 1320, r), None);
        // a new source continues the output
        assert_eq!(o.map(Ssrc(9), 5, 77, r), Some((ssrc, 104, 3880 + 960)));
        assert_eq!(o.map(Ssrc(9), 6, 237, r), Some((ssrc, 105, 3880 + 1920)));
        // wrap-around of the input timestamp
        let mut o = OutStream::new(160);
        let r = (48000, 8000);
        o.map(Ssrc(1), 0, u32::MAX - 959, r).unwrap();
        let (_, _, t) = o.map(Ssrc(1), 1, 0, r).unwrap();
        assert_eq!(t, (u32::MAX - 959).wrapping_add(160));
    }

    #[test]
    fn leg_media_from_sdp_lists_the_other_codecs() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 8 0 9 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
        .unwrap();
        let m = LegMedia::from_sdp(&sdp).unwrap();
        assert_eq!(m.codec, Some((PayloadType::PCMA, Codec::Pcma)));
        // G.722 (9) is not a codec of this crate: not listed
        assert_eq!(m.others, [Some((PayloadType::PCMU, Codec::Pcmu)), None]);
        assert_eq!(m.telephone_event, Some((PayloadType(101), 8000)));
    }

    #[test]
    fn dtmf_queue_keeps_the_newest() {
        let mut q = DtmfQueue::default();
        for i in 0..20u8 {
            q.push((Side::A, Digit::from_event_code(i % 10).unwrap()));
        }
        assert_eq!(q.pop(), Some((Side::A, Digit::from_event_code(4).unwrap())));
        assert_eq!(std::iter::from_fn(|| q.pop()).count(), 15);
    }
}
