//! SDP parser (RFC 4566 §5). Errors name the 1-based line and what was wrong
//! so the SIP layer can answer 488 with a useful Warning/reason.

use std::net::IpAddr;

use super::{Attribute, Connection, MediaDescription, Origin, RtpMap, SessionDescription};

/// What was wrong with an SDP body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The body is empty.
    #[error("empty SDP body")]
    Empty,
    /// A line is not `<letter>=<value>`.
    #[error("line is not of the form <type>=<value>")]
    MalformedLine,
    /// `v=` is not first or not 0.
    #[error("first line must be v=0")]
    BadVersion,
    /// A required line is missing (line number is the end of the body).
    #[error("missing required {0}= line")]
    Missing(char),
    /// A line that may appear once appears twice.
    #[error("duplicate {0}= line")]
    Duplicate(char),
    /// `o=` malformed.
    #[error("malformed o= line (want: username sess-id sess-version IN IP4|IP6 address)")]
    BadOrigin,
    /// `c=` malformed or not an IP address.
    #[error("malformed c= line (want: IN IP4|IP6 address)")]
    BadConnection,
    /// `t=` malformed.
    #[error("malformed t= line (want: start stop)")]
    BadTiming,
    /// `m=` malformed.
    #[error("malformed m= line (want: media port[/count] proto fmt...)")]
    BadMedia,
    /// An RTP attribute we interpret is malformed.
    #[error("malformed a={0} attribute")]
    BadAttribute(&'static str),
    /// Not valid UTF-8 (the caller passes bytes via [`parse_bytes`]).
    #[error("SDP is not valid UTF-8")]
    NotUtf8,
}

/// A parse error with its 1-based line number (0: the body as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {kind}")]
pub struct SdpError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub kind: SdpErrorKind,
}

impl SdpError {
    /// SIP status for a bad offer: 488 Not Acceptable Here (RFC 3261 §21.4.26).
    pub fn status(&self) -> u16 {
        488
    }
}

fn err(line: usize, kind: SdpErrorKind) -> SdpError {
    SdpError { line, kind }
}

/// Parses bytes (checks UTF-8 first).
pub fn parse_bytes(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| err(0, SdpErrorKind::NotUtf8))?;
    parse(text)
}

fn ip(addr_type: &str, addr: &str) -> Option<IpAddr> {
    // strip multicast /ttl[/n]
    let addr = addr.split('/').next()?;
    let ip: IpAddr = addr.parse().ok()?;
    match (addr_type, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

fn origin(v: &str) -> Option<Origin> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != 6 || f[3] != "IN" {
        return None;
    }
    Some(Origin {
        username: f[0].to_owned(),
        session_id: f[1].parse().ok()?,
        session_version: f[2].parse().ok()?,
        address: ip(f[4], f[5])?,
    })
}

fn connection(v: &str) -> Option<Connection> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != 3 || f[0] != "IN" {
        return None;
    }
    Some(Connection {
        address: ip(f[1], f[2])?,
    })
}

fn media(v: &str) -> Option<MediaDescription> {
    let mut f = v.split_whitespace();
    let media = f.next()?.to_owned();
    let port_s = f.next()?;
    let (port, port_count) = match port_s.split_once('/') {
        Some((p, n)) => (p.parse().ok()?, Some(n.parse().ok()?)),
        None => (port_s.parse().ok()?, None),
    };
    let protocol = f.next()?.to_owned();
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if formats.is_empty() {
        return None;
    }
    if protocol.contains("RTP")
        && formats
            .iter()
            .any(|p| p.parse::<u8>().map_or(true, |n| n > 127))
    {
        return None;
    }
    Some(MediaDescription {
        media,
        port,
        port_count,
        protocol,
        formats,
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
    })
}

/// Parses `a=rtpmap` values: `<pt> <encoding>/<clock>[/<channels>]`.
pub(crate) fn rtpmap(v: &str) -> Option<RtpMap<'_>> {
    let (pt, rest) = v.trim().split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?;
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = match parts.next() {
        Some(c) => c.parse().ok()?,
        None => 1,
    };
    let payload_type: u8 = pt.parse().ok()?;
    (payload_type < 128 && !encoding.is_empty()).then_some(RtpMap {
        payload_type,
        encoding,
        clock_rate,
        channels,
    })
}

fn check_attribute(a: &Attribute) -> Result<(), SdpErrorKind> {
    let v = a.value.as_deref().unwrap_or("");
    match a.name.as_str() {
        "rtpmap" if rtpmap(v).is_none() => Err(SdpErrorKind::BadAttribute("rtpmap")),
        "ptime" if v.trim().parse::<u32>().map_or(true, |p| p == 0) => {
            Err(SdpErrorKind::BadAttribute("ptime"))
        }
        "rtcp"
            if v.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .is_none() =>
        {
            Err(SdpErrorKind::BadAttribute("rtcp"))
        }
        _ => Ok(()),
    }
}

/// Parses an SDP body. Accepts CRLF or LF line ends and tolerates the
/// optional lines (i, u, e, p, r, z, k) in any order; enforces `v=0` first
/// and one each of `o=`, `s=`, `t=` (RFC 4566 §5).
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut origin_ = None;
    let mut session_name = None;
    let mut connection_ = None;
    let mut bandwidths = Vec::new();
    let mut timing = None;
    let mut attributes = Vec::new();
    let mut media_: Vec<MediaDescription> = Vec::new();
    let mut saw_version = false;
    let mut last = 0;
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        last = line_no;
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(err(line_no, SdpErrorKind::MalformedLine));
        }
        let (kind, value) = (b[0] as char, &line[2..]);
        if !saw_version {
            if kind != 'v' || value.trim() != "0" {
                return Err(err(line_no, SdpErrorKind::BadVersion));
            }
            saw_version = true;
            continue;
        }
        let e = |k| err(line_no, k);
        match kind {
            'v' => return Err(e(SdpErrorKind::Duplicate('v'))),
            'o' if origin_.is_some() => return Err(e(SdpErrorKind::Duplicate('o'))),
            'o' => origin_ = Some(origin(value).ok_or(e(SdpErrorKind::BadOrigin))?),
            's' if session_name.is_some() => return Err(e(SdpErrorKind::Duplicate('s'))),
            's' => session_name = Some(value.to_owned()),
            'c' => {
                let c = connection(value).ok_or(e(SdpErrorKind::BadConnection))?;
                match media_.last_mut() {
                    Some(m) => m.connection = Some(c),
                    None => connection_ = Some(c),
                }
            }
            'b' => match media_.last_mut() {
                Some(m) => m.bandwidths.push(value.to_owned()),
                None => bandwidths.push(value.to_owned()),
            },
            't' => {
                let mut f = value.split_whitespace().map(str::parse::<u64>);
                let t = match (f.next(), f.next(), f.next()) {
                    (Some(Ok(a)), Some(Ok(b)), None) => (a, b),
                    _ => return Err(e(SdpErrorKind::BadTiming)),
                };
                timing.get_or_insert(t);
            }
            'm' => media_.push(media(value).ok_or(e(SdpErrorKind::BadMedia))?),
            'a' => {
                let a = match value.split_once(':') {
                    Some((n, v)) => Attribute::new(n, v),
                    None => Attribute::flag(value),
                };
                check_attribute(&a).map_err(e)?;
                match media_.last_mut() {
                    Some(m) => m.attributes.push(a),
                    None => attributes.push(a),
                }
            }
            _ => {} // i, u, e, p, r, z, k and unknown types are ignored (RFC 4566 §5)
        }
    }
    if !saw_version {
        return Err(err(0, SdpErrorKind::Empty));
    }
    let end = last + 1;
    let origin = origin_.ok_or(err(end, SdpErrorKind::Missing('o')))?;
    let session_name = session_name.ok_or(err(end, SdpErrorKind::Missing('s')))?;
    let timing = timing.ok_or(err(end, SdpErrorKind::Missing('t')))?;
    Ok(SessionDescription {
        origin,
        session_name,
        connection: connection_,
        bandwidths,
        timing,
        attributes,
        media: media_,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Direction;
    use proptest::prelude::*;

    pub(crate) const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n\
s=-\r\n\
c=IN IP4 198.51.100.1\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 96 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
m=video 51372 RTP/AVP 31\r\n";

    #[test]
    fn parses_and_prints_round_trip() {
        let s = parse(OFFER).unwrap();
        assert_eq!(s.origin.session_id, 2890844526);
        assert_eq!(s.media.len(), 2);
        let m = &s.media[0];
        assert_eq!(m.port, 49170);
        assert_eq!(m.rtpmaps().count(), 4);
        assert_eq!(m.fmtp(96), Some("useinbandfec=1"));
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(s.media_direction(0), Direction::SendRecv);
        assert_eq!(s.to_string(), OFFER);
        assert_eq!(parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn lf_only_and_media_level_connection() {
        let text = "v=0\no=- 1 1 IN IP6 ::1\ns=x\nt=0 0\nm=audio 4000 RTP/AVP 0\nc=IN IP6 2001:db8::1\na=inactive\n";
        let s = parse(text).unwrap();
        assert_eq!(
            s.media_connection(0).unwrap().address,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(s.media_direction(0), Direction::Inactive);
    }

    #[test]
    fn precise_errors() {
        let cases: &[(&str, usize, SdpErrorKind)] = &[
            ("", 0, SdpErrorKind::Empty),
            ("o=- 1 1 IN IP4 1.2.3.4\r\n", 1, SdpErrorKind::BadVersion),
            ("v=0\r\nbogus\r\n", 2, SdpErrorKind::MalformedLine),
            ("v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n", 2, SdpErrorKind::BadOrigin),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 host.example\r\n", 4, SdpErrorKind::BadConnection),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP6 1.2.3.4\r\n", 4, SdpErrorKind::BadConnection),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0\r\n", 4, SdpErrorKind::BadTiming),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n", 5, SdpErrorKind::BadMedia),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", 6, SdpErrorKind::BadAttribute("rtpmap")),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\na=ptime:0\r\n", 6, SdpErrorKind::BadAttribute("ptime")),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n", 4, SdpErrorKind::Missing('s')),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\ns=-\r\n", 4, SdpErrorKind::Duplicate('s')),
        ];
        for (text, line, kind) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, &e.kind), (*line, kind), "{text:?}");
            assert_eq!(e.status(), 488);
        }
        let e = parse("v=0\r\nbogus\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "SDP line 2: line is not of the form <type>=<value>"
        );
        assert_eq!(
            parse_bytes(&[0xff, 0xfe]).unwrap_err().kind,
            SdpErrorKind::NotUtf8
        );
    }

    #[test]
    fn anchor_rewrite() {
        let with_ice = OFFER.replace("a=ptime:20\r\n", "a=ptime:20\r\na=ice-ufrag:abcd\r\na=candidate:1 1 UDP 2130706431 198.51.100.1 49170 typ host\r\n");
        let mut s = parse(&with_ice).unwrap();
        let relay: IpAddr = "203.0.113.5".parse().unwrap();
        s.rewrite_for_anchor(relay, &[30000, 30002]);
        let text = s.to_string();
        assert!(text.contains("c=IN IP4 203.0.113.5\r\n"));
        assert!(text.contains("o=alice 2890844526 2890844526 IN IP4 203.0.113.5\r\n"));
        assert!(text.contains("m=audio 30000 RTP/AVP"));
        assert!(text.contains("a=rtcp:30001 IN IP4 203.0.113.5\r\n"));
        assert!(!text.contains("198.51.100.1"));
        assert!(!text.contains("candidate") && !text.contains("ice-ufrag"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "(v=0\r\n)?([a-z]=[ -~]{0,30}\r?\n){0,12}") {
            let _ = parse(&s);
        }
        #[test]
        fn print_parse_round_trip(
            sess in 0u64..u64::MAX,
            ver in 0u64..1000,
            lines in proptest::collection::vec(prop_oneof![
                (1u16..65535, proptest::collection::vec(0u8..128, 1..5)).prop_map(|(p, f)| {
                    let f: Vec<String> = f.iter().map(|x| x.to_string()).collect();
                    format!("m=audio {p} RTP/AVP {}", f.join(" "))
                }),
                Just("c=IN IP4 192.0.2.1".to_owned()),
                Just("c=IN IP6 2001:db8::2".to_owned()),
                (0u8..128, 8000u32..48001).prop_map(|(pt, r)| format!("a=rtpmap:{pt} X/{r}")),
                "[a-z-]{1,10}".prop_map(|n| format!("a={n}")),
                "[a-z]{1,6}:[ -~]{0,12}".prop_map(|n| format!("a={n}")),
                (1u32..200).prop_map(|p| format!("a=ptime:{p}")),
                "[A-Z]{2}:[0-9]{1,4}".prop_map(|b| format!("b={b}")),
            ], 0..12),
        ) {
            let mut text = format!("v=0\r\no=- {sess} {ver} IN IP4 10.1.2.3\r\ns=-\r\nt=0 0\r\n");
            for l in lines {
                text.push_str(&l);
                text.push_str("\r\n");
            }
            let Ok(first) = parse(&text) else { return Ok(()) };
            let again = parse(&first.to_string()).unwrap();
            prop_assert_eq!(first, again);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_bytes(&b);
        }
    }
}
