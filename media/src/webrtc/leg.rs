//! [`WebRtcLeg`]: one str0m `Rtc` in ICE-lite, RTP mode, wrapped in pbx's
//! run-loop contract. str0m's own contract (every mutation is followed by a
//! full drain of `poll_output`) is kept inside: each `handle_*`/`send_rtp`
//! drains it into the leg's output queue before returning.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig, RtcError};

use super::{CloseReason, LegOutput, ReceivedRtp, WebRtcConfig, WebRtcError};
use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use crate::sdp::webrtc::webrtc_media;
use crate::sdp::SessionDescription;

/// A WebRTC audio leg (sans-IO). See the [module docs](super).
pub struct WebRtcLeg {
    rtc: Rtc,
    config: WebRtcConfig,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    out: VecDeque<LegOutput>,
    started: Instant,
    ice_connected_at: Option<Instant>,
    connected: bool,
    closed: bool,
    rtc_timeout: Option<Instant>,
    seq: SeqExtender,
}

impl std::fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("local", &self.config.local)
            .field("mid", &self.mid)
            .field("connected", &self.connected)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn rtc(config: &WebRtcConfig, now: Instant) -> Rtc {
    let c = &config.codecs;
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m_rust_crypto::default_provider()))
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(c.opus, false)
        .enable_pcmu(c.pcmu, false)
        .enable_pcma(c.pcma, false);
    if c.telephone_event {
        // str0m matches telephone-event by clock rate: one payload type per
        // rate (an answer keeps the offerer's numbers)
        for (pt, rate) in [
            (101, Frequency::EIGHT_KHZ),
            (110, Frequency::FORTY_EIGHT_KHZ),
        ] {
            rtc.codec_config().add_config(
                Pt::new_with_value(pt),
                None,
                Codec::Tele,
                rate,
                None,
                FormatParams::default(),
            );
        }
    }
    rtc.build(now)
}

fn negotiation(e: impl std::fmt::Display) -> WebRtcError {
    WebRtcError::Negotiation(e.to_string())
}

impl WebRtcLeg {
    fn new(config: WebRtcConfig, now: Instant) -> Result<Self, WebRtcError> {
        let mut rtc = rtc(&config, now);
        let host = Candidate::host(config.local, "udp").map_err(negotiation)?;
        rtc.add_local_candidate(host);
        Ok(Self {
            rtc,
            config,
            mid: None,
            pending: None,
            out: VecDeque::new(),
            started: now,
            ice_connected_at: None,
            connected: false,
            closed: false,
            rtc_timeout: None,
            seq: SeqExtender::default(),
        })
    }

    /// A leg answering a browser's offer (pbx is ICE-lite and, for an
    /// `actpass` offer, the DTLS server: `a=setup:passive`). Returns the
    /// leg and the answer SDP.
    pub fn accept_offer(
        config: WebRtcConfig,
        now: Instant,
        offer: &str,
    ) -> Result<(Self, String), WebRtcError> {
        let parsed = webrtc_media(&SessionDescription::parse(offer)?)?;
        let mut leg = Self::new(config, now)?;
        let offer = SdpOffer::from_sdp_string(offer).map_err(negotiation)?;
        let answer = leg
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(negotiation)?
            .to_sdp_string();
        leg.mid = parsed.mid.as_deref().map(Mid::from);
        leg.drain(now);
        check_codecs(&answer)?;
        Ok((leg, answer))
    }

    /// A leg offering to a browser (pbx calls it): returns the leg and the
    /// offer SDP (`a=setup:actpass`, `a=ice-lite`); feed the browser's
    /// answer to [`Self::accept_answer`].
    pub fn create_offer(config: WebRtcConfig, now: Instant) -> Result<(Self, String), WebRtcError> {
        let mut leg = Self::new(config, now)?;
        let mut api = leg.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api
            .apply()
            .ok_or(WebRtcError::Negotiation("empty offer".into()))?;
        leg.mid = Some(mid);
        leg.pending = Some(pending);
        leg.drain(now);
        Ok((leg, offer.to_sdp_string()))
    }

    /// Applies the browser's answer to [`Self::create_offer`].
    pub fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), WebRtcError> {
        webrtc_media(&SessionDescription::parse(answer)?)?;
        check_codecs(answer)?;
        let pending = self.pending.take().ok_or(WebRtcError::NoPendingOffer)?;
        let answer = SdpAnswer::from_sdp_string(answer).map_err(negotiation)?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(negotiation)?;
        self.drain(now);
        Ok(())
    }

    /// A datagram that arrived on the leg's socket from `from`. Anything that
    /// is neither STUN, DTLS nor SRTP is dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        let Ok(contents) = DatagramRecv::try_from(data) else {
            tracing::trace!(
                len = data.len(),
                "dropping a datagram that is not STUN/DTLS/SRTP"
            );
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.config.local,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            self.fail(e);
        }
        self.drain(now);
    }

    /// Time passed: runs ICE/DTLS retransmissions and the leg's deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if !self.connected {
            match self.ice_connected_at {
                None if now >= self.started + self.config.ice_timeout => {
                    return self.close_with(CloseReason::IceTimeout);
                }
                Some(t) if now >= t + self.config.dtls_timeout => {
                    return self.close_with(CloseReason::DtlsTimeout);
                }
                _ => {}
            }
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(e);
        }
        self.drain(now);
    }

    /// Sends one plain RTP packet (from the relay) to the peer as SRTP. Its
    /// payload type must be one negotiated on this leg; sequence numbers and
    /// timestamps are kept, the SSRC is the leg's own.
    pub fn send_rtp(&mut self, now: Instant, packet: &[u8]) -> Result<(), WebRtcError> {
        if !self.connected || self.closed {
            return Err(WebRtcError::NotConnected);
        }
        let rtp = RtpPacket::parse(packet)?;
        let mid = self.mid.ok_or(WebRtcError::NotConnected)?;
        let pt = Pt::from(rtp.payload_type().0);
        let negotiated = self
            .rtc
            .media(mid)
            .is_some_and(|m| m.remote_pts().contains(&pt));
        if !negotiated {
            return Err(WebRtcError::UnknownPayloadType(rtp.payload_type().0));
        }
        let seq = self.seq.extend(rtp.sequence());
        let mut api = self.rtc.direct_api();
        let tx = api
            .stream_tx_by_mid(mid, None)
            .ok_or(WebRtcError::NotConnected)?;
        tx.write_rtp(
            RtpWrite::new(pt, SeqNo::from(seq), rtp.timestamp(), now, rtp.payload())
                .marker(rtp.marker()),
        );
        self.drain(now);
        // str0m's pacer learns of the queued packet on its next timeout,
        // which is due at once: run it now so the SRTP datagram leaves in
        // this call rather than one driver wake-up later.
        if self.rtc_timeout.is_some_and(|t| t <= now) {
            self.handle_timeout(now);
        }
        Ok(())
    }

    /// Ends the leg: DTLS close_notify goes out, then [`LegOutput::Closed`].
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.rtc.close().is_ok() {
            self.drain(now);
        }
        self.close_with(CloseReason::Local);
    }

    /// The next output, `None` when drained.
    pub fn poll_output(&mut self) -> Option<LegOutput> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] is due; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let deadline = match (self.connected, self.ice_connected_at) {
            (true, _) => None,
            (false, None) => Some(self.started + self.config.ice_timeout),
            (false, Some(t)) => Some(t + self.config.dtls_timeout),
        };
        match (self.rtc_timeout, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether ICE and DTLS are done and media flows.
    pub fn is_connected(&self) -> bool {
        self.connected && !self.closed
    }

    /// The payload types negotiated on this leg (the peer's numbers).
    pub fn payload_types(&self) -> Vec<PayloadType> {
        self.mid
            .and_then(|mid| self.rtc.media(mid))
            .map(|m| m.remote_pts().iter().map(|pt| PayloadType(**pt)).collect())
            .unwrap_or_default()
    }

    fn drain(&mut self, now: Instant) {
        while !self.closed {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = Some(t);
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back(LegOutput::Transmit {
                    to: t.destination,
                    data: t.contents.into(),
                }),
                Ok(Output::Event(e)) => self.handle_event(now, e),
                Err(e) => self.fail(e),
            }
        }
    }

    fn handle_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                self.ice_connected_at.get_or_insert(now);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                if self.ice_connected_at.is_some() =>
            {
                self.close_with(CloseReason::IceDisconnected);
            }
            Event::Connected => {
                self.connected = true;
                tracing::debug!(local = %self.config.local, "WebRTC leg connected");
                self.out.push_back(LegOutput::Connected);
            }
            Event::MediaAdded(m) if self.mid.is_none() && m.kind == MediaKind::Audio => {
                self.mid = Some(m.mid);
            }
            Event::RtpPacket(p) => {
                let h = &p.header;
                self.out.push_back(LegOutput::Rtp(ReceivedRtp {
                    header: RtpHeader {
                        marker: h.marker,
                        payload_type: PayloadType(*h.payload_type),
                        sequence: h.sequence_number,
                        timestamp: h.timestamp,
                        ssrc: Ssrc(*h.ssrc),
                    },
                    payload: p.payload,
                }));
            }
            Event::Closed => self.close_with(CloseReason::RemoteClosed),
            _ => {}
        }
    }

    /// An error from str0m: fatal ones end the leg, others are logged.
    fn fail(&mut self, e: RtcError) {
        let reason = match &e {
            RtcError::RemoteSdp(msg) if msg.contains("fingerprint") => {
                Some(CloseReason::FingerprintMismatch)
            }
            RtcError::Dtls(d) => Some(CloseReason::DtlsFailed(d.to_string())),
            _ if !self.rtc.is_alive() => Some(CloseReason::DtlsFailed(e.to_string())),
            _ => None,
        };
        match reason {
            Some(reason) => self.close_with(reason),
            None => tracing::debug!(error = %e, "WebRTC leg: input ignored"),
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.rtc.disconnect();
        tracing::info!(code = reason.code(), %reason, "WebRTC leg ended");
        self.out.push_back(LegOutput::Closed(reason));
    }
}

/// The answer must keep the audio line (port not 0) with a codec.
fn check_codecs(sdp: &str) -> Result<(), WebRtcError> {
    let parsed = SessionDescription::parse(sdp)?;
    let ok = parsed
        .media
        .iter()
        .any(|m| m.media == "audio" && m.port != 0 && !m.formats.is_empty());
    if ok {
        Ok(())
    } else {
        Err(WebRtcError::NoCommonCodec)
    }
}

/// Extends 16-bit RTP sequence numbers to str0m's 64-bit ones (RFC 3711
/// §3.3.1 index estimation: the candidate closest to the last one).
#[derive(Debug, Default)]
struct SeqExtender {
    last: Option<u64>,
}

impl SeqExtender {
    fn extend(&mut self, seq: u16) -> u64 {
        let next = match self.last {
            None => u64::from(seq),
            Some(last) => {
                let delta = i64::from(seq.wrapping_sub(last as u16) as i16);
                last.saturating_add_signed(delta)
            }
        };
        self.last = Some(self.last.map_or(next, |l| l.max(next)));
        next
    }
}

#[cfg(test)]
mod seq_tests {
    use super::SeqExtender;

    #[test]
    fn sequence_numbers_extend_across_wrap_and_reorder() {
        let mut s = SeqExtender::default();
        assert_eq!(s.extend(65_534), 65_534);
        assert_eq!(s.extend(65_535), 65_535);
        assert_eq!(s.extend(0), 65_536);
        assert_eq!(s.extend(65_535), 65_535, "late packet before the wrap");
        assert_eq!(s.extend(2), 65_538);
    }
}
