//! Codec bridging for B2BUA calls (issue 5: "media anchored and transcoded
//! when codecs differ"), on the SDP side; the relay does the per-packet
//! work (`media::relay::media`).
//!
//! - The caller's offer, before it goes to the callee, lists the caller's
//!   codecs (first, in the caller's order) plus those pbx can transcode to
//!   that the caller lacks ([`augment_offer`]).
//! - When the callee answers with a codec the caller offered, nothing
//!   changes: the relay forwards. When it answers with one the caller did
//!   not offer, the answer sent to the caller names the caller's preferred
//!   codec (and its telephone-event, RFC 4733) instead ([`plan`]), and the
//!   relay transcodes between the two.
//!
//! Payload type numbers are each side's own (RFC 3264 §6.1: the answer
//! uses the offer's numbers; the relay maps between the two legs).

use media::codec::transcodable;
use media::relay::LegMedia;
use media::rtp::PayloadType;
use media::sdp::negotiate::{audio_formats, default_payload_type, rtpmap_value, telephone_event};
use media::sdp::{Attribute, Codec, MediaDescription, SessionDescription};

/// What the caller offered in its first active audio stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerMedia {
    /// Known codecs in the caller's order, with the caller's numbers.
    pub codecs: Vec<(Codec, PayloadType)>,
    /// The caller's telephone-event payload type and clock rate.
    pub telephone_event: Option<(PayloadType, u32)>,
}

impl CallerMedia {
    /// The caller's payloads for the relay before the callee answered: its
    /// preferred codec and telephone-event.
    pub fn leg_media(&self) -> LegMedia {
        LegMedia {
            codec: self.codecs.first().map(|(c, pt)| (*pt, *c)),
            telephone_event: self.telephone_event,
            ..LegMedia::default()
        }
    }

    /// The caller's preferred codec that pbx can transcode.
    fn preferred_transcodable(&self) -> Option<(Codec, PayloadType)> {
        self.codecs
            .iter()
            .find(|(c, _)| transcodable().contains(c))
            .copied()
    }
}

fn audio_index(sdp: &SessionDescription) -> Option<usize> {
    sdp.media
        .iter()
        .position(|m| m.media == "audio" && m.port != 0 && m.protocol.starts_with("RTP/"))
}

/// A payload type for `codec` not used in `m`: its usual number when free,
/// else the first free dynamic one (96-127, RFC 3551 §3).
fn free_payload_type(m: &MediaDescription, codec: Codec) -> Option<u8> {
    let used = |pt: u8| m.formats.iter().any(|f| f.parse::<u8>() == Ok(pt));
    let usual = default_payload_type(codec).0;
    if !used(usual) {
        return Some(usual);
    }
    (96..=127u8).find(|pt| !used(*pt))
}

/// Adds the codecs pbx can transcode to that the caller did not offer to
/// the caller's audio stream (after the caller's own formats) and returns
/// what the caller offered. Without an audio stream: `None`. When the
/// caller offers no codec pbx can decode, nothing is added.
pub fn augment_offer(sdp: &mut SessionDescription) -> Option<CallerMedia> {
    let i = audio_index(sdp)?;
    let m = &mut sdp.media[i];
    let codecs = audio_formats(m);
    let rate = codecs.first().map_or(8000, |(c, _)| c.clock_rate());
    let caller = CallerMedia {
        telephone_event: telephone_event(m, rate),
        codecs,
    };
    if caller.preferred_transcodable().is_none() {
        return Some(caller);
    }
    // new rtpmaps go after the last existing one
    let mut at = m
        .attributes
        .iter()
        .rposition(|a| a.name == "rtpmap" || a.name == "fmtp")
        .map_or(0, |p| p + 1);
    for codec in transcodable() {
        if caller.codecs.iter().any(|(c, _)| c == codec) {
            continue;
        }
        let Some(pt) = free_payload_type(m, *codec) else {
            break;
        };
        m.formats.push(pt.to_string());
        m.attributes.insert(
            at,
            Attribute::new("rtpmap", format!("{pt} {}", rtpmap_value(*codec))),
        );
        at += 1;
    }
    Some(caller)
}

/// The callee's SDP (its answer, or a later offer) against what the caller
/// offered: the payloads of (caller, callee) for the relay. `current` is
/// the codec the caller already uses, once it got an answer: a later party
/// (a transfer target, the callee after pbx's own media) does not
/// renegotiate with the caller, so that codec stays. When the callee's
/// codec is not the caller's (not offered, or not the one in use),
/// `callee_sdp` is rewritten to carry the caller's codec and
/// telephone-event instead (it goes to the caller, if anywhere), and the
/// two differ: the relay transcodes. `None` when the callee's codec is
/// unknown or cannot be transcoded (the body is left as is).
pub fn plan(
    caller: &CallerMedia,
    current: Option<(Codec, PayloadType)>,
    callee_sdp: &mut SessionDescription,
) -> Option<(LegMedia, LegMedia)> {
    let callee = LegMedia::from_sdp(callee_sdp)?;
    let (_, codec) = callee.codec?;
    let shared = match current {
        Some(cur) => (cur.0 == codec).then_some(cur),
        None => caller.codecs.iter().find(|(c, _)| *c == codec).copied(),
    };
    if let Some((c, pt)) = shared {
        let a = LegMedia {
            codec: Some((pt, c)),
            telephone_event: caller.telephone_event,
            ..LegMedia::default()
        };
        return Some((a, callee));
    }
    if !transcodable().contains(&codec) {
        return None;
    }
    let (c, pt) = match current {
        Some(cur) if transcodable().contains(&cur.0) => cur,
        Some(_) => return None,
        None => caller.preferred_transcodable()?,
    };
    let i = audio_index(callee_sdp)?;
    let m = &mut callee_sdp.media[i];
    m.formats = vec![pt.0.to_string()];
    m.attributes
        .retain(|a| a.name != "rtpmap" && a.name != "fmtp");
    let mut maps = vec![Attribute::new(
        "rtpmap",
        format!("{} {}", pt.0, rtpmap_value(c)),
    )];
    if let Some((te, rate)) = caller.telephone_event {
        m.formats.push(te.0.to_string());
        maps.push(Attribute::new(
            "rtpmap",
            format!("{} telephone-event/{rate}", te.0),
        ));
        maps.push(Attribute::new("fmtp", format!("{} 0-16", te.0)));
    }
    m.attributes.splice(0..0, maps);
    let a = LegMedia {
        codec: Some((pt, c)),
        telephone_event: caller.telephone_event,
        ..LegMedia::default()
    };
    Some((a, callee))
}

/// Takes back what [`augment_offer`] added (codecs the caller did not
/// offer): the offer for pbx's own media, which decodes the caller's codecs
/// itself and needs no transcoding relay in between.
pub fn without_added(sdp: &mut SessionDescription, caller: &CallerMedia) {
    let Some(i) = audio_index(sdp) else {
        return;
    };
    let m = &mut sdp.media[i];
    let added: Vec<String> = audio_formats(m)
        .into_iter()
        .filter(|f| !caller.codecs.contains(f))
        .map(|(_, pt)| pt.0.to_string())
        .collect();
    if added.is_empty() {
        return;
    }
    m.formats.retain(|f| !added.contains(f));
    m.attributes.retain(|a| {
        let pt = a.value.as_deref().and_then(|v| v.split(' ').next());
        !(matches!(a.name.as_str(), "rtpmap" | "fmtp")
            && pt.is_some_and(|p| added.iter().any(|x| x == p)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(m: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{m}"
        ))
        .unwrap()
    }

    #[test]
    fn offer_gets_transcodable_codecs_after_the_callers() {
        let mut offer = sdp("m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n");
        let caller = augment_offer(&mut offer).unwrap();
        assert_eq!(caller.codecs, vec![(Codec::Pcma, PayloadType(8))]);
        assert_eq!(caller.telephone_event, Some((PayloadType(101), 8000)));
        let m = &offer.media[0];
        assert_eq!(m.formats[..3], ["8", "101", "0"]);
        let formats = audio_formats(m);
        assert_eq!(
            formats[0],
            (Codec::Pcma, PayloadType(8)),
            "caller's first stays first"
        );
        assert!(formats.contains(&(Codec::Pcmu, PayloadType(0))));
        if transcodable().contains(&Codec::Opus) {
            assert!(formats.contains(&(Codec::Opus, PayloadType(111))));
        }
        assert_eq!(m.direction(), Some(media::sdp::Direction::SendRecv));
        // reparses after printing
        let again = SessionDescription::parse(&offer.to_string()).unwrap();
        assert_eq!(audio_formats(&again.media[0]), formats);
    }

    #[test]
    fn taken_numbers_and_unknown_codecs() {
        // 0 is PCMU already; 111 is taken by something else: opus gets 96
        let mut offer = sdp("m=audio 4000 RTP/AVP 0 111\r\na=rtpmap:111 G7221/16000\r\n");
        augment_offer(&mut offer).unwrap();
        let f = audio_formats(&offer.media[0]);
        assert_eq!(f[0], (Codec::Pcmu, PayloadType(0)));
        assert!(f.contains(&(Codec::Pcma, PayloadType(8))));
        if transcodable().contains(&Codec::Opus) {
            assert!(f.contains(&(Codec::Opus, PayloadType(96))));
        }
        // a caller with nothing pbx decodes: left alone
        let mut g722 = sdp("m=audio 4000 RTP/AVP 9\r\n");
        let caller = augment_offer(&mut g722).unwrap();
        assert!(caller.codecs.is_empty());
        assert_eq!(g722.media[0].formats, ["9"]);
        assert!(augment_offer(&mut sdp("m=video 4000 RTP/AVP 96\r\n")).is_none());
    }

    #[test]
    fn answer_in_a_caller_codec_is_forwarded() {
        let mut offer =
            sdp("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let caller = augment_offer(&mut offer).unwrap();
        let mut answer = sdp("m=audio 5000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let before = answer.to_string();
        let (a, b) = plan(&caller, None, &mut answer).unwrap();
        assert_eq!(answer.to_string(), before, "untouched");
        assert_eq!(a.codec, Some((PayloadType(8), Codec::Pcma)));
        assert_eq!(b.codec, a.codec);
        assert_eq!(b.telephone_event, Some((PayloadType(101), 8000)));
    }

    #[test]
    fn answer_in_another_codec_is_rewritten_for_the_caller() {
        let mut offer = sdp("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let caller = augment_offer(&mut offer).unwrap();
        let mut answer =
            sdp("m=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n");
        let (a, b) = plan(&caller, None, &mut answer).unwrap();
        assert_eq!(a.codec, Some((PayloadType(0), Codec::Pcmu)));
        assert_eq!(a.telephone_event, Some((PayloadType(101), 8000)));
        assert_eq!(b.codec, Some((PayloadType(8), Codec::Pcma)));
        assert_eq!(b.telephone_event, None);
        let text = answer.to_string();
        let again = SessionDescription::parse(&text).unwrap();
        let m = &again.media[0];
        assert_eq!(m.formats, ["0", "101"]);
        assert_eq!(audio_formats(m), vec![(Codec::Pcmu, PayloadType(0))]);
        assert_eq!(telephone_event(m, 8000), Some((PayloadType(101), 8000)));
        assert!(!text.contains("PCMA"), "{text}");
        assert_eq!(m.ptime(), Some(20));
        // the caller keeps the codec it was answered with: a transfer target
        // in another codec the caller offered is transcoded to it
        let mut two = sdp("m=audio 4000 RTP/AVP 8 0\r\n");
        let both = augment_offer(&mut two).unwrap();
        let mut target = sdp("m=audio 6000 RTP/AVP 8\r\n");
        let cur = Some((Codec::Pcmu, PayloadType(0)));
        let (a, b) = plan(&both, cur, &mut target).unwrap();
        assert_eq!(a.codec, Some((PayloadType(0), Codec::Pcmu)));
        assert_eq!(b.codec, Some((PayloadType(8), Codec::Pcma)));
        assert_eq!(target.media[0].formats, ["0"]);
        let mut target = sdp("m=audio 6000 RTP/AVP 0\r\n");
        let (a, b) = plan(&both, cur, &mut target).unwrap();
        assert_eq!(
            (a.codec, b.codec),
            (b.codec, Some((PayloadType(0), Codec::Pcmu)))
        );
        // pbx's own media gets the caller's offer back
        let mut again = offer.clone();
        without_added(&mut again, &caller);
        assert_eq!(again.media[0].formats, ["0", "101"]);
        assert_eq!(
            audio_formats(&again.media[0]),
            vec![(Codec::Pcmu, PayloadType(0))]
        );
        assert!(!again.to_string().contains("PCMA"));
        // an answer in a codec pbx does not know: left alone
        let mut g722 = sdp("m=audio 5000 RTP/AVP 9\r\n");
        assert!(plan(&caller, None, &mut g722).is_none());
    }
}
