//! The few facts the engine reads from SDP bodies without parsing them fully:
//! hold direction (RFC 3264 §8.4) and the first audio codec (for records).

/// Whether an offer puts the other side on hold: `a=sendonly`,
/// `a=inactive`, or the RFC 2543 style `c=IN IP4 0.0.0.0`.
pub fn is_hold(sdp: &[u8]) -> bool {
    let text = String::from_utf8_lossy(sdp);
    text.lines()
        .map(str::trim)
        .any(|l| l == "a=sendonly" || l == "a=inactive" || l.starts_with("c=IN IP4 0.0.0.0"))
}

pub use crate::media_anchor::with_direction;

/// The SDP with every IPv4/IPv6 connection address replaced by the
/// unspecified address (`c=IN IP4 0.0.0.0`): the relay sends nothing toward
/// a party parked this way (RFC 3264 §8.4 style).
pub fn parked(sdp: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(sdp);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("c=IN IP4 ") {
            out.push_str("c=IN IP4 0.0.0.0\r\n");
        } else if line.starts_with("c=IN IP6 ") {
            out.push_str("c=IN IP6 ::\r\n");
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// The first codec of the first audio stream, as `encoding/clock`
/// (`PCMU/8000`); static payload types 0 and 8 without rtpmap are named too.
pub fn first_audio_codec(sdp: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(sdp);
    let mut lines = text.lines().map(str::trim);
    let m = lines.find(|l| l.starts_with("m=audio "))?;
    let pt = m.split_whitespace().nth(3)?.to_owned();
    let rtpmap = format!("a=rtpmap:{pt} ");
    let named = lines
        .take_while(|l| !l.starts_with("m="))
        .find_map(|l| l.strip_prefix(rtpmap.as_str()).map(str::to_owned));
    named.or_else(|| match pt.as_str() {
        "0" => Some("PCMU/8000".into()),
        "8" => Some("PCMA/8000".into()),
        "9" => Some("G722/8000".into()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_and_codec() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
        assert!(is_hold(offer));
        assert_eq!(first_audio_codec(offer).as_deref(), Some("PCMA/8000"));
        let resume =
            b"v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=sendrecv\r\n";
        assert!(!is_hold(resume));
        assert_eq!(first_audio_codec(resume).as_deref(), Some("opus/48000/2"));
        assert_eq!(first_audio_codec(b"garbage\xff"), None);
    }

    #[test]
    fn parked_has_no_address() {
        let sdp = b"v=0\r\nc=IN IP4 10.0.0.3\r\nm=audio 5000 RTP/AVP 0\r\nc=IN IP6 ::1\r\n";
        assert_eq!(
            parked(sdp),
            b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5000 RTP/AVP 0\r\nc=IN IP6 ::\r\n"
        );
    }

    #[test]
    fn direction_is_replaced_or_added() {
        let held = b"v=0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n";
        let back = with_direction(held, "sendrecv");
        assert_eq!(back, b"v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n");
        assert!(!is_hold(&back));
        let bare = with_direction(b"v=0\r\nm=audio 4000 RTP/AVP 0", "sendonly");
        assert_eq!(bare, b"v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
        assert!(is_hold(&bare));
    }
}
