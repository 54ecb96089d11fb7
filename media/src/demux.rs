//! Demultiplexing of one UDP port carrying RTP, RTCP (rtcp-mux, RFC 5761 §4)
//! and, for completeness, STUN/DTLS (RFC 7983 §7 first-octet ranges).

/// What a datagram on a multiplexed port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketKind {
    /// RTP (RFC 3550).
    Rtp,
    /// RTCP: second octet 192..=223 (RFC 5761 §4, payload types 64-95 with the marker bit).
    Rtcp,
    /// STUN (first octet 0..=3).
    Stun,
    /// DTLS (first octet 20..=63).
    Dtls,
    /// Anything else; drop it.
    Unknown,
}

/// Classifies a datagram by its first two octets. Never panics.
pub fn classify(buf: &[u8]) -> PacketKind {
    match buf.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(20..=63) => PacketKind::Dtls,
        Some(128..=191) => match buf.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(&[0x80, 0x00]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 8]), PacketKind::Rtp); // PCMA with marker
        assert_eq!(classify(&[0x81, 200]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 201]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x00, 0x01]), PacketKind::Stun);
        assert_eq!(classify(&[22, 0]), PacketKind::Dtls);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[255, 0]), PacketKind::Unknown);
    }
}
