//! SDP between the two halves of a WebRTC side: the browser's WebRTC
//! description (`UDP/TLS/RTP/SAVPF`, ICE, DTLS) and the plain RTP
//! description the relay and the rest of pbx see in its place.

use std::net::SocketAddr;

use media::sdp::webrtc::webrtc_media;
use media::sdp::{Attribute, Connection, MediaDescription, Origin, SessionDescription};
use media::webrtc::WebRtcCodecs;

/// Audio codecs a WebRTC side can carry (and telephone-event).
fn bridgeable(encoding: &str) -> bool {
    ["opus", "PCMU", "PCMA", "telephone-event"]
        .iter()
        .any(|e| e.eq_ignore_ascii_case(encoding))
}

/// The encoding of payload type `pt` of `m` (rtpmap, or the static 0 / 8).
fn encoding_of(m: &MediaDescription, pt: u8) -> Option<String> {
    m.rtpmaps()
        .find(|r| r.payload_type == pt)
        .map(|r| r.encoding.to_owned())
        .or_else(|| match pt {
            0 => Some("PCMU".into()),
            8 => Some("PCMA".into()),
            _ => None,
        })
}

/// The plain RTP description standing for WebRTC description `sdp` (an
/// offer or an answer of the browser): its one audio line with the codecs
/// pbx can bridge, at `local` (the WebRTC side's socket), `RTP/AVP`,
/// rtcp-mux, no ICE or DTLS attributes.
pub(crate) fn plain_of(sdp: &SessionDescription, local: SocketAddr) -> Result<String, String> {
    let webrtc = webrtc_media(sdp).map_err(|e| e.to_string())?;
    let m = &sdp.media[webrtc.audio_index];
    let pts: Vec<u8> = m
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter(|pt| encoding_of(m, *pt).is_some_and(|e| bridgeable(&e)))
        .collect();
    if pts.is_empty() {
        return Err("no audio codec pbx can bridge (opus, PCMU, PCMA)".into());
    }
    let keeps = |a: &Attribute| match a.name.as_str() {
        "rtpmap" | "fmtp" => a
            .value
            .as_deref()
            .and_then(|v| v.split_whitespace().next())
            .and_then(|pt| pt.parse::<u8>().ok())
            .is_some_and(|pt| pts.contains(&pt)),
        "ptime" | "maxptime" | "sendrecv" | "sendonly" | "recvonly" | "inactive" => true,
        _ => false,
    };
    let mut attributes: Vec<Attribute> =
        m.attributes.iter().filter(|a| keeps(a)).cloned().collect();
    attributes.push(Attribute::flag("rtcp-mux"));
    let address = local.ip();
    let plain = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: sdp.origin.session_id,
            session_version: sdp.origin.session_version,
            address,
        },
        session_name: "pbx webrtc".into(),
        connection: Some(Connection { address }),
        bandwidths: Vec::new(),
        timing: (0, 0),
        attributes: Vec::new(),
        media: vec![MediaDescription {
            media: "audio".into(),
            port: local.port(),
            port_count: None,
            protocol: "RTP/AVP".into(),
            formats: pts.iter().map(u8::to_string).collect(),
            connection: None,
            bandwidths: Vec::new(),
            attributes,
        }],
    };
    Ok(plain.to_string())
}

/// The codecs of the first active audio line of a plain description, in
/// order (lower-case encodings).
fn codecs_of(sdp: &SessionDescription) -> Vec<String> {
    let Some(m) = sdp.media.iter().find(|m| m.media == "audio" && m.port != 0) else {
        return Vec::new();
    };
    m.formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| encoding_of(m, pt))
        .map(|e| e.to_ascii_lowercase())
        .collect()
}

/// What a WebRTC leg answering the browser may accept, given the plain
/// answer pbx gives the caller: the codecs named in it.
pub(crate) fn codecs_answering(plain_answer: &SessionDescription) -> WebRtcCodecs {
    let codecs = codecs_of(plain_answer);
    let has = |c: &str| codecs.iter().any(|x| x == c);
    WebRtcCodecs {
        opus: has("opus"),
        pcmu: has("pcmu"),
        pcma: has("pcma"),
        telephone_event: has("telephone-event"),
    }
}

/// What a WebRTC leg offers to a browser for plain offer `plain_offer`
/// (MEDIA note 4): when the other party's first codec is G.711, only that
/// codec (the two meet on it without transcoding); otherwise the codecs
/// of the offer that a browser has.
pub(crate) fn codecs_offering(plain_offer: &SessionDescription) -> WebRtcCodecs {
    let codecs = codecs_of(plain_offer);
    let has = |c: &str| codecs.iter().any(|x| x == c);
    let te = has("telephone-event");
    match codecs.first().map(String::as_str) {
        Some("pcmu") => WebRtcCodecs {
            opus: false,
            pcmu: true,
            pcma: false,
            telephone_event: te,
        },
        Some("pcma") => WebRtcCodecs {
            opus: false,
            pcmu: false,
            pcma: true,
            telephone_event: te,
        },
        _ => WebRtcCodecs {
            opus: has("opus"),
            pcmu: has("pcmu"),
            pcma: has("pcma"),
            telephone_event: te,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n";

    #[test]
    fn chromium_offer_becomes_plain_rtp_at_the_side() {
        let sdp = SessionDescription::parse(CHROME).unwrap();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let plain = plain_of(&sdp, local).unwrap();
        assert!(
            plain.contains("m=audio 40000 RTP/AVP 111 0 8 110 126\r\n"),
            "{plain}"
        );
        assert!(plain.contains("c=IN IP4 127.0.0.1\r\n"));
        assert!(plain.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
        assert!(plain.contains("a=rtcp-mux\r\n") && plain.contains("a=sendrecv\r\n"));
        for gone in [
            "ice-",
            "fingerprint",
            "setup",
            "BUNDLE",
            "G722",
            "red/",
            "CN/",
        ] {
            assert!(!plain.contains(gone), "{gone} left in {plain}");
        }
        let parsed = SessionDescription::parse(&plain).unwrap();
        let answering = codecs_answering(&parsed);
        assert!(answering.opus && answering.pcmu && answering.telephone_event);
    }

    #[test]
    fn g711_first_is_offered_alone() {
        let desk = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n";
        let c = codecs_offering(&SessionDescription::parse(desk).unwrap());
        assert_eq!(
            c,
            WebRtcCodecs {
                opus: false,
                pcmu: true,
                pcma: false,
                telephone_event: true
            }
        );
        let opus = desk.replace("RTP/AVP 0 96 101", "RTP/AVP 96 0 101");
        let c = codecs_offering(&SessionDescription::parse(&opus).unwrap());
        assert!(c.opus && c.pcmu && !c.pcma);
    }

    #[test]
    fn non_webrtc_or_no_codec_is_refused() {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let plain = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert!(plain_of(&plain, local).is_err());
        let g722 = CHROME
            .replace("111 63 9 0 8 13 110 126", "9")
            .replace("a=rtpmap:0 PCMU/8000\r\n", "");
        let err = plain_of(&SessionDescription::parse(&g722).unwrap(), local).unwrap_err();
        assert!(err.contains("no audio codec"), "{err}");
    }
}
