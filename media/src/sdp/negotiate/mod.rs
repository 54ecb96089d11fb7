//! RFC 3264 offer/answer for one audio stream: PCMU, PCMA, Opus and
//! telephone-event (RFC 4733), ptime and direction (hold).
//!
//! The answer keeps one `m=` line per offered line (§6); non-audio streams
//! and all but the first usable audio stream are rejected with port 0.

use std::net::{IpAddr, SocketAddr};

use super::{Attribute, Connection, Direction, MediaDescription, Origin, SessionDescription};
use crate::rtp::PayloadType;

/// Codecs this crate negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Opus (RFC 7587), always `opus/48000/2` in SDP.
    Opus,
}

impl Codec {
    /// SDP encoding name.
    pub fn encoding(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::Opus => "opus",
        }
    }
    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma => 8000,
            Self::Opus => 48000,
        }
    }
    fn channels(self) -> u8 {
        if self == Self::Opus {
            2
        } else {
            1
        }
    }
    fn default_pt(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::Opus => 111,
        }
    }
    fn matches(self, enc: &str, rate: u32) -> bool {
        enc.eq_ignore_ascii_case(self.encoding()) && rate == self.clock_rate()
    }
    fn static_for(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(Self::Pcmu),
            8 => Some(Self::Pcma),
            _ => None,
        }
    }
}

/// Why an offer could not be answered (SIP: 488 Not Acceptable Here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No audio stream with a non-zero port.
    #[error("no active audio stream in the offer")]
    NoAudio,
    /// No codec in common (lists what we support).
    #[error("no common codec (we support PCMU, PCMA, opus) in m= line {media_index}")]
    NoCommonCodec {
        /// Index of the audio `m=` line.
        media_index: usize,
    },
    /// Stream has no connection address.
    #[error("m= line {0} has no c= connection address")]
    NoConnection(usize),
    /// The answer does not mirror the offer (RFC 3264 §6).
    #[error("answer has {answer} m= lines, offer has {offer}")]
    MediaCountMismatch {
        /// Lines in the offer.
        offer: usize,
        /// Lines in the answer.
        answer: usize,
    },
}

impl NegotiationError {
    /// SIP status for this failure.
    pub fn status(&self) -> u16 {
        488
    }
}

/// What we can do locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address we receive on (relay or endpoint).
    pub address: IpAddr,
    /// RTP port (RTCP is port + 1 unless rtcp-mux).
    pub port: u16,
    /// Codecs in preference order.
    pub codecs: Vec<Codec>,
    /// Offer/accept RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// Packetization time in ms.
    pub ptime: u32,
    /// Our wanted direction (e.g. sendonly to hold the peer).
    pub direction: Direction,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version; bump for every new offer.
    pub session_version: u64,
}

impl Default for LocalMedia {
    fn default() -> Self {
        Self {
            address: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::Opus],
            telephone_event: true,
            ptime: 20,
            direction: Direction::SendRecv,
            session_id: 1,
            session_version: 1,
        }
    }
}

/// The outcome of offer/answer for the audio stream, from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the audio `m=` line.
    pub media_index: usize,
    /// Codec to send.
    pub codec: Codec,
    /// Payload type for `codec` (the peer's numbering).
    pub payload_type: PayloadType,
    /// telephone-event payload type, if both sides support it.
    pub telephone_event: Option<PayloadType>,
    /// ptime the peer asked for (or ours).
    pub ptime: u32,
    /// Our direction.
    pub direction: Direction,
    /// Where to send RTP (`None` on hold with `0.0.0.0`).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP.
    pub remote_rtcp: Option<SocketAddr>,
    /// rtcp-mux in use.
    pub rtcp_mux: bool,
}

fn codec_of(m: &MediaDescription, fmt: &str) -> Option<(Codec, u8)> {
    let pt: u8 = fmt.parse().ok()?;
    if let Some(map) = m.rtpmaps().find(|r| r.payload_type == pt) {
        for c in [Codec::Pcmu, Codec::Pcma, Codec::Opus] {
            if c.matches(map.encoding, map.clock_rate) {
                return Some((c, pt));
            }
        }
        return None;
    }
    Codec::static_for(pt).map(|c| (c, pt))
}

/// The codecs of an audio `m=` line this crate knows, in the line's order,
/// with their payload type numbers (rtpmap, or static 0/8 without one).
pub fn audio_formats(m: &MediaDescription) -> Vec<(Codec, PayloadType)> {
    m.formats
        .iter()
        .filter_map(|f| codec_of(m, f))
        .map(|(c, pt)| (c, PayloadType(pt)))
        .collect()
}

/// The telephone-event (RFC 4733 §7.1.1) payload type of an audio `m=`
/// line and its clock rate, preferring one at `rate`.
pub fn telephone_event(m: &MediaDescription, rate: u32) -> Option<(PayloadType, u32)> {
    telephone_event_pt(m, rate).map(|(pt, r)| (PayloadType(pt), r))
}

/// The rtpmap value (`PCMU/8000`, `opus/48000/2`) of a codec.
pub fn rtpmap_value(codec: Codec) -> String {
    if codec.channels() > 1 {
        format!(
            "{}/{}/{}",
            codec.encoding(),
            codec.clock_rate(),
            codec.channels()
        )
    } else {
        format!("{}/{}", codec.encoding(), codec.clock_rate())
    }
}

/// The payload type a codec usually gets (static 0/8, 111 for Opus).
pub fn default_payload_type(codec: Codec) -> PayloadType {
    PayloadType(codec.default_pt())
}

/// telephone-event payload type and clock rate, preferring `rate` (the
/// audio codec's, RFC 4733 §2.1).
fn telephone_event_pt(m: &MediaDescription, rate: u32) -> Option<(u8, u32)> {
    let maps = || {
        m.rtpmaps()
            .filter(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
    };
    maps()
        .find(|r| r.clock_rate == rate)
        .or_else(|| maps().next())
        .map(|r| (r.payload_type, r.clock_rate))
}

fn audio_section(
    local: &LocalMedia,
    offered: &[(Codec, u8)],
    te: Option<(u8, u32)>,
    dir: Direction,
    mux: bool,
) -> MediaDescription {
    let mut attributes = Vec::new();
    let mut formats = Vec::new();
    for (c, pt) in offered {
        formats.push(pt.to_string());
        let ch = if c.channels() > 1 {
            format!("/{}", c.channels())
        } else {
            String::new()
        };
        attributes.push(Attribute::new(
            "rtpmap",
            format!("{pt} {}/{}{ch}", c.encoding(), c.clock_rate()),
        ));
    }
    if let Some((pt, rate)) = te {
        formats.push(pt.to_string());
        attributes.push(Attribute::new(
            "rtpmap",
            format!("{pt} telephone-event/{rate}"),
        ));
        attributes.push(Attribute::new("fmtp", format!("{pt} 0-16")));
    }
    attributes.push(Attribute::new("ptime", local.ptime.to_string()));
    if mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    attributes.push(Attribute::flag(dir.as_str()));
    MediaDescription {
        media: "audio".into(),
        port: local.port,
        port_count: None,
        protocol: "RTP/AVP".into(),
        formats,
        connection: None,
        bandwidths: Vec::new(),
        attributes,
    }
}

fn session(local: &LocalMedia, media: Vec<MediaDescription>) -> SessionDescription {
    SessionDescription {
        origin: Origin {
            username: "pbx".into(),
            session_id: local.session_id,
            session_version: local.session_version,
            address: local.address,
        },
        session_name: "pbx".into(),
        connection: Some(Connection {
            address: local.address,
        }),
        bandwidths: Vec::new(),
        timing: (0, 0),
        attributes: Vec::new(),
        media,
    }
}

/// Builds an offer with one audio stream.
pub fn create_offer(local: &LocalMedia) -> SessionDescription {
    let codecs: Vec<(Codec, u8)> = local.codecs.iter().map(|c| (*c, c.default_pt())).collect();
    let te = local.telephone_event.then_some((101, 8000));
    session(
        local,
        vec![audio_section(local, &codecs, te, local.direction, false)],
    )
}

fn remote_addrs(
    sdp: &SessionDescription,
    i: usize,
) -> Result<(Option<SocketAddr>, Option<SocketAddr>, bool), NegotiationError> {
    let m = &sdp.media[i];
    let c = sdp
        .media_connection(i)
        .ok_or(NegotiationError::NoConnection(i))?;
    if c.address.is_unspecified() {
        return Ok((None, None, m.rtcp_mux()));
    }
    let rtp = SocketAddr::new(c.address, m.port);
    let mux = m.rtcp_mux();
    let rtcp_port = if mux {
        m.port
    } else {
        m.rtcp_port().unwrap_or(m.port.wrapping_add(1))
    };
    Ok((Some(rtp), Some(SocketAddr::new(c.address, rtcp_port)), mux))
}

/// Answers `offer` (RFC 3264 §6.1): first audio stream with a common codec
/// is accepted with the offerer's payload type numbers, the codecs listed in
/// our preference order; every other stream is rejected (port 0). The
/// answered direction is the offer's reversed, intersected with ours.
pub fn create_answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, Negotiated), NegotiationError> {
    let mut chosen = None;
    for (i, m) in offer.media.iter().enumerate() {
        if m.media != "audio" || m.port == 0 || !m.protocol.starts_with("RTP/") {
            continue;
        }
        let offered: Vec<(Codec, u8)> = m.formats.iter().filter_map(|f| codec_of(m, f)).collect();
        let mut common: Vec<(Codec, u8)> = Vec::new();
        for c in &local.codecs {
            if let Some(o) = offered.iter().find(|(oc, _)| oc == c) {
                common.push(*o);
            }
        }
        if common.is_empty() {
            if chosen.is_none() {
                chosen = Some(Err(NegotiationError::NoCommonCodec { media_index: i }));
            }
            continue;
        }
        chosen = Some(Ok((i, common)));
        break;
    }
    let (idx, common) = match chosen {
        Some(r) => r?,
        None => return Err(NegotiationError::NoAudio),
    };
    let om = &offer.media[idx];
    let te = if local.telephone_event {
        telephone_event_pt(om, common[0].0.clock_rate())
    } else {
        None
    };
    let offer_dir = offer.media_direction(idx);
    let dir = Direction::from_flags(
        offer_dir.receives() && local.direction.sends(),
        offer_dir.sends() && local.direction.receives(),
    );
    let mux = om.rtcp_mux();
    let (remote_rtp, remote_rtcp, _) = remote_addrs(offer, idx)?;
    let ptime = om.ptime().unwrap_or(local.ptime);
    let mut media = Vec::with_capacity(offer.media.len());
    for (i, m) in offer.media.iter().enumerate() {
        if i == idx {
            let mut local = local.clone();
            local.ptime = ptime;
            media.push(audio_section(&local, &common, te, dir, mux));
        } else {
            media.push(MediaDescription {
                port: 0,
                port_count: None,
                connection: None,
                bandwidths: Vec::new(),
                attributes: Vec::new(),
                formats: m.formats.iter().take(1).cloned().collect(),
                ..m.clone()
            });
        }
    }
    let (codec, pt) = common[0];
    Ok((
        session(local, media),
        Negotiated {
            media_index: idx,
            codec,
            payload_type: PayloadType(pt),
            telephone_event: te.map(|(pt, _)| PayloadType(pt)),
            ptime,
            direction: dir,
            remote_rtp,
            remote_rtcp,
            rtcp_mux: mux,
        },
    ))
}

/// Processes the answer to our `offer` (RFC 3264 §7): the first codec of the
/// answer's accepted audio stream is used for sending.
pub fn process_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Negotiated, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let idx = answer
        .media
        .iter()
        .position(|m| m.media == "audio" && m.port != 0)
        .ok_or(NegotiationError::NoAudio)?;
    let m = &answer.media[idx];
    let (codec, pt) = m
        .formats
        .iter()
        .find_map(|f| codec_of(m, f))
        .ok_or(NegotiationError::NoCommonCodec { media_index: idx })?;
    let offer_has_te = offer
        .media
        .get(idx)
        .and_then(|om| telephone_event_pt(om, 8000))
        .is_some();
    let te = if offer_has_te {
        telephone_event_pt(m, codec.clock_rate())
    } else {
        None
    };
    let (remote_rtp, remote_rtcp, mux) = remote_addrs(answer, idx)?;
    Ok(Negotiated {
        media_index: idx,
        codec,
        payload_type: PayloadType(pt),
        telephone_event: te.map(|(pt, _)| PayloadType(pt)),
        ptime: m.ptime().unwrap_or(20),
        direction: answer.media_direction(idx).reverse(),
        remote_rtp,
        remote_rtcp,
        rtcp_mux: mux,
    })
}

#[cfg(test)]
mod tests;
