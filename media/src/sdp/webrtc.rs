//! The WebRTC side of an SDP body (RFC 8829 JSEP, RFC 8839 ICE SDP, RFC 8842
//! DTLS-SRTP SDP): what a browser offer must carry for pbx to bridge it, read
//! from a parsed [`SessionDescription`].
//!
//! pbx terminates one audio stream per WebRTC leg: exactly one `m=audio`
//! line with `UDP/TLS/RTP/SAVPF`, `a=rtcp-mux` (RFC 8843 BUNDLE of that one
//! line is allowed, nothing else is bundled), ICE credentials, a certificate
//! fingerprint and a DTLS role. Each attribute may sit at media or session
//! level; media level wins (RFC 8839 §5.4, RFC 8122 §5).

use std::net::SocketAddr;

use super::{MediaDescription, SessionDescription};

/// The transport protocol of a WebRTC media line (RFC 5764 §8, RFC 8829 §5.1.2).
pub const WEBRTC_PROTOCOL: &str = "UDP/TLS/RTP/SAVPF";

/// `a=setup` (RFC 4145 §4, RFC 8842 §5): who starts the DTLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The endpoint is the DTLS client.
    Active,
    /// The endpoint is the DTLS server.
    Passive,
    /// Either; the answerer picks (what offers must say, RFC 8842 §5.2).
    ActPass,
}

impl Setup {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::ActPass => "actpass",
        }
    }
}

/// `a=fingerprint` (RFC 8122 §5): hash function and certificate digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function, lower case (`sha-256`, `sha-1`, ...).
    pub hash: String,
    /// The digest bytes.
    pub digest: Vec<u8>,
}

/// One `a=candidate` (RFC 8839 §5.1) that pbx can use: UDP, any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// Component (1 = RTP; with rtcp-mux the only one).
    pub component: u16,
    /// Address and port.
    pub addr: SocketAddr,
    /// `host`, `srflx`, `prflx` or `relay`.
    pub kind: String,
}

/// Everything pbx needs from a WebRTC SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcMedia {
    /// Index of the audio `m=` line.
    pub audio_index: usize,
    /// `a=mid` of the audio line, if any.
    pub mid: Option<String>,
    /// `a=ice-ufrag`.
    pub ice_ufrag: String,
    /// `a=ice-pwd`.
    pub ice_pwd: String,
    /// Whether the peer is ICE-lite (`a=ice-lite`, session level).
    pub ice_lite: bool,
    /// The certificate fingerprint the DTLS peer must present.
    pub fingerprint: Fingerprint,
    /// DTLS role.
    pub setup: Setup,
    /// UDP candidates (a browser may send none yet: trickle ICE).
    pub candidates: Vec<IceCandidate>,
    /// `a=group:BUNDLE` mids, empty without a group.
    pub bundle: Vec<String>,
}

/// Why an SDP body is not a WebRTC description pbx can bridge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebRtcSdpError {
    /// No media line uses `UDP/TLS/RTP/SAVPF`.
    #[error("no UDP/TLS/RTP/SAVPF media line: not a WebRTC description")]
    NotWebRtc,
    /// Other media than exactly one active audio line.
    #[error("exactly one audio media line is supported, found {audio} audio and {other} other")]
    UnsupportedMedia {
        /// Active audio lines.
        audio: usize,
        /// Active lines of other media.
        other: usize,
    },
    /// A required attribute is missing.
    #[error("missing a={0}")]
    Missing(&'static str),
    /// An attribute is present but unreadable.
    #[error("malformed a={0}")]
    Malformed(&'static str),
    /// WebRTC requires RTP and RTCP on one port (RFC 8829 §5.1.1).
    #[error("a=rtcp-mux is required")]
    NoRtcpMux,
    /// BUNDLE names a media line other than the audio one.
    #[error("BUNDLE groups media other than the one audio line")]
    BundlesOtherMedia,
}

/// Whether any media line of `sdp` is WebRTC (`UDP/TLS/RTP/SAVPF`): the
/// test for "this offer needs a WebRTC leg".
pub fn is_webrtc(sdp: &SessionDescription) -> bool {
    sdp.media
        .iter()
        .any(|m| m.protocol.eq_ignore_ascii_case(WEBRTC_PROTOCOL))
}

/// Reads and checks the WebRTC attributes of `sdp`.
pub fn webrtc_media(sdp: &SessionDescription) -> Result<WebRtcMedia, WebRtcSdpError> {
    if !is_webrtc(sdp) {
        return Err(WebRtcSdpError::NotWebRtc);
    }
    let active = |m: &&MediaDescription| m.port != 0;
    let audio: Vec<usize> = (0..sdp.media.len())
        .filter(|&i| active(&&sdp.media[i]) && sdp.media[i].media == "audio")
        .collect();
    let other = sdp.media.iter().filter(active).count() - audio.len();
    let [audio_index] = audio[..] else {
        return Err(WebRtcSdpError::UnsupportedMedia {
            audio: audio.len(),
            other,
        });
    };
    if other > 0 {
        return Err(WebRtcSdpError::UnsupportedMedia { audio: 1, other });
    }
    let m = &sdp.media[audio_index];
    if !m.protocol.eq_ignore_ascii_case(WEBRTC_PROTOCOL) {
        return Err(WebRtcSdpError::NotWebRtc);
    }
    if !m.rtcp_mux() {
        return Err(WebRtcSdpError::NoRtcpMux);
    }
    let attr = |name: &str| m.attribute(name).or_else(|| session_attribute(sdp, name));
    let ice_ufrag = attr("ice-ufrag")
        .ok_or(WebRtcSdpError::Missing("ice-ufrag"))?
        .trim()
        .to_owned();
    let ice_pwd = attr("ice-pwd")
        .ok_or(WebRtcSdpError::Missing("ice-pwd"))?
        .trim()
        .to_owned();
    // RFC 8839 §5.4: ufrag 4-256 and pwd 22-256 ice-chars.
    if !(4..=256).contains(&ice_ufrag.len()) || !ice_ufrag.bytes().all(is_ice_char) {
        return Err(WebRtcSdpError::Malformed("ice-ufrag"));
    }
    if !(22..=256).contains(&ice_pwd.len()) || !ice_pwd.bytes().all(is_ice_char) {
        return Err(WebRtcSdpError::Malformed("ice-pwd"));
    }
    let fingerprint =
        parse_fingerprint(attr("fingerprint").ok_or(WebRtcSdpError::Missing("fingerprint"))?)?;
    let setup = match attr("setup").map(str::trim) {
        Some("active") => Setup::Active,
        Some("passive") => Setup::Passive,
        Some("actpass") => Setup::ActPass,
        Some(_) => return Err(WebRtcSdpError::Malformed("setup")),
        None => return Err(WebRtcSdpError::Missing("setup")),
    };
    let mid = m.attribute("mid").map(|s| s.trim().to_owned());
    let bundle: Vec<String> = session_attribute(sdp, "group")
        .and_then(|g| g.strip_prefix("BUNDLE"))
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if !bundle.is_empty() && (bundle.len() != 1 || mid.as_deref() != Some(bundle[0].as_str())) {
        return Err(WebRtcSdpError::BundlesOtherMedia);
    }
    let candidates = m
        .attributes
        .iter()
        .filter(|a| a.name == "candidate")
        .filter_map(|a| parse_candidate(a.value.as_deref()?))
        .collect();
    Ok(WebRtcMedia {
        audio_index,
        mid,
        ice_ufrag,
        ice_pwd,
        ice_lite: sdp.attributes.iter().any(|a| a.name == "ice-lite"),
        fingerprint,
        setup,
        candidates,
        bundle,
    })
}

fn session_attribute<'a>(sdp: &'a SessionDescription, name: &str) -> Option<&'a str> {
    sdp.attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.as_deref())
}

/// RFC 8839 §5.4 `ice-char = ALPHA / DIGIT / "+" / "/"`.
fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// `sha-256 AB:CD:...` (RFC 8122 §5).
fn parse_fingerprint(value: &str) -> Result<Fingerprint, WebRtcSdpError> {
    let bad = WebRtcSdpError::Malformed("fingerprint");
    let (hash, hex) = value.trim().split_once(' ').ok_or(bad.clone())?;
    let digest = hex
        .trim()
        .split(':')
        .map(|h| {
            (h.len() == 2)
                .then(|| u8::from_str_radix(h, 16).ok())
                .flatten()
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(bad.clone())?;
    let expected = match hash.to_ascii_lowercase().as_str() {
        "sha-1" => 20,
        "sha-224" => 28,
        "sha-256" => 32,
        "sha-384" => 48,
        "sha-512" => 64,
        _ => return Err(bad),
    };
    if digest.len() != expected {
        return Err(bad);
    }
    Ok(Fingerprint {
        hash: hash.to_ascii_lowercase(),
        digest,
    })
}

/// `foundation component transport priority address port typ kind ...`;
/// `None` for TCP candidates and anything unreadable (ignored, RFC 8839 §5.1).
fn parse_candidate(value: &str) -> Option<IceCandidate> {
    let f: Vec<&str> = value.split_whitespace().collect();
    if f.len() < 8 || !f[2].eq_ignore_ascii_case("udp") || f[6] != "typ" {
        return None;
    }
    let ip = f[4].parse().ok()?;
    let port = f[5].parse().ok()?;
    Some(IceCandidate {
        component: f[1].parse().ok()?,
        addr: SocketAddr::new(ip, port),
        kind: f[7].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a Chromium audio-only offer (trimmed).
    pub(crate) const CHROME_OFFER: &str = "v=0\r\n\
        o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        t=0 0\r\n\
        a=group:BUNDLE 0\r\n\
        a=msid-semantic: WMS\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\n\
        c=IN IP4 0.0.0.0\r\n\
        a=rtcp:9 IN IP4 0.0.0.0\r\n\
        a=candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host generation 0\r\n\
        a=candidate:2 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active\r\n\
        a=ice-ufrag:Ab3x\r\n\
        a=ice-pwd:Zq9m1Xo0vU2pLk3Jh4Gf5De6\r\n\
        a=ice-options:trickle\r\n\
        a=fingerprint:sha-256 5B:6C:9A:2E:61:4F:BD:77:10:C0:93:8E:25:11:5D:44:CF:3A:80:0B:E9:72:16:A8:4B:31:DA:6F:0E:52:C7:99\r\n\
        a=setup:actpass\r\n\
        a=mid:0\r\n\
        a=sendrecv\r\n\
        a=rtcp-mux\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n";

    fn parse(text: &str) -> Result<WebRtcMedia, WebRtcSdpError> {
        webrtc_media(&SessionDescription::parse(text).expect("valid SDP"))
    }

    #[test]
    fn chrome_offer_is_read() {
        let w = parse(CHROME_OFFER).expect("WebRTC offer");
        assert_eq!(w.audio_index, 0);
        assert_eq!(w.mid.as_deref(), Some("0"));
        assert_eq!((w.ice_ufrag.as_str(), w.ice_lite), ("Ab3x", false));
        assert_eq!(w.setup, Setup::ActPass);
        assert_eq!(w.fingerprint.hash, "sha-256");
        assert_eq!(w.fingerprint.digest.len(), 32);
        assert_eq!(w.fingerprint.digest[0], 0x5b);
        assert_eq!(w.bundle, ["0"]);
        assert_eq!(
            w.candidates,
            [IceCandidate {
                component: 1,
                addr: "192.0.2.10:54321".parse().expect("literal"),
                kind: "host".into()
            }],
            "the TCP candidate is ignored"
        );
    }

    #[test]
    fn session_level_attributes_count() {
        let moved = CHROME_OFFER.replace("a=setup:actpass\r\n", "").replace(
            "a=msid-semantic: WMS\r\n",
            "a=setup:passive\r\na=ice-lite\r\n",
        );
        let w = parse(&moved).expect("valid");
        assert_eq!((w.setup, w.ice_lite), (Setup::Passive, true));
    }

    #[test]
    fn plain_rtp_is_not_webrtc() {
        let plain = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                     m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let sdp = SessionDescription::parse(plain).expect("valid");
        assert!(!is_webrtc(&sdp));
        assert_eq!(webrtc_media(&sdp), Err(WebRtcSdpError::NotWebRtc));
    }

    #[test]
    fn broken_offers_are_refused_with_the_reason() {
        let cases: [(&str, &str, WebRtcSdpError); 8] = [
            ("a=rtcp-mux\r\n", "", WebRtcSdpError::NoRtcpMux),
            ("a=setup:actpass\r\n", "", WebRtcSdpError::Missing("setup")),
            (
                "a=setup:actpass",
                "a=setup:both",
                WebRtcSdpError::Malformed("setup"),
            ),
            (
                "a=ice-ufrag:Ab3x\r\n",
                "",
                WebRtcSdpError::Missing("ice-ufrag"),
            ),
            (
                "a=ice-pwd:Zq9m1Xo0vU2pLk3Jh4Gf5De6",
                "a=ice-pwd:short",
                WebRtcSdpError::Malformed("ice-pwd"),
            ),
            (
                "sha-256 5B:",
                "sha-256 5B",
                WebRtcSdpError::Malformed("fingerprint"),
            ),
            ("sha-256", "md5", WebRtcSdpError::Malformed("fingerprint")),
            (
                "a=group:BUNDLE 0",
                "a=group:BUNDLE 0 1",
                WebRtcSdpError::BundlesOtherMedia,
            ),
        ];
        for (from, to, want) in cases {
            assert_eq!(
                parse(&CHROME_OFFER.replacen(from, to, 1)),
                Err(want.clone()),
                "{from} -> {to}"
            );
        }
        let no_fp = CHROME_OFFER
            .lines()
            .filter(|l| !l.starts_with("a=fingerprint"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
        assert_eq!(parse(&no_fp), Err(WebRtcSdpError::Missing("fingerprint")));
        let video =
            format!("{CHROME_OFFER}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n");
        assert_eq!(
            parse(&video),
            Err(WebRtcSdpError::UnsupportedMedia { audio: 1, other: 1 })
        );
    }
}
