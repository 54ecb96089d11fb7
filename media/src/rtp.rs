//! RTP packets (RFC 3550 §5.1): a borrowed, allocation-free view for parsing
//! and a header builder that writes into a caller-supplied buffer.
//!
//! The relay rewrites SSRC, sequence number and timestamp in place
//! ([`set_sequence`], [`set_timestamp`], [`set_ssrc`]) so the per-packet path
//! never copies the payload.

use crate::error::PacketError;

/// RTP version carried in the two top bits of the first octet (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;
/// Size of the fixed RTP header without CSRCs or extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// Synchronization source identifier (RFC 3550 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

/// RTP payload type, 7 bits (RFC 3551 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PayloadType(pub u8);

impl PayloadType {
    /// Static payload type of G.711 µ-law (RFC 3551 table 4).
    pub const PCMU: Self = Self(0);
    /// Static payload type of G.711 A-law (RFC 3551 table 4).
    pub const PCMA: Self = Self(8);
}

/// A parsed RTP packet borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Parses `buf` as one RTP packet (RFC 3550 §5.1, §5.3.1 for the
    /// extension, padding per §5.1 "P"). Never panics on any input.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(PacketError::TooShort {
                needed: FIXED_HEADER_LEN,
                got: buf.len(),
            });
        }
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(PacketError::BadVersion(version));
        }
        let csrc_count = usize::from(buf[0] & 0x0f);
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count;
        if buf[0] & 0x10 != 0 {
            let ext_start = header_len;
            if buf.len() < ext_start + 4 {
                return Err(PacketError::TooShort {
                    needed: ext_start + 4,
                    got: buf.len(),
                });
            }
            let words = usize::from(u16::from_be_bytes([buf[ext_start + 2], buf[ext_start + 3]]));
            header_len = ext_start + 4 + 4 * words;
        }
        if buf.len() < header_len {
            return Err(PacketError::TooShort {
                needed: header_len,
                got: buf.len(),
            });
        }
        let mut payload_end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 || header_len + pad > buf.len() {
                return Err(PacketError::BadPadding);
            }
            payload_end -= pad;
        }
        Ok(Self {
            buf,
            header_len,
            payload_end,
        })
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    /// Payload type.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType(self.buf[1] & 0x7f)
    }
    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }
    /// Media timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
    /// Synchronization source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.buf[8],
            self.buf[9],
            self.buf[10],
            self.buf[11],
        ]))
    }
    /// Contributing sources (RFC 3550 §5.1 "CSRC list").
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        let n = usize::from(self.buf[0] & 0x0f);
        self.buf[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 * n]
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }
    /// Header extension (profile-defined id, data), RFC 3550 §5.3.1.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        if self.buf[0] & 0x10 == 0 {
            return None;
        }
        let start = FIXED_HEADER_LEN + 4 * usize::from(self.buf[0] & 0x0f);
        let id = u16::from_be_bytes([self.buf[start], self.buf[start + 1]]);
        Some((id, &self.buf[start + 4..self.header_len]))
    }
    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// Payload without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }
    /// Whole packet bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// Fields needed to build an RTP header (no CSRCs, no extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// Marker bit (start of talkspurt for audio, RFC 3551 §4.1).
    pub marker: bool,
    /// Payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: Ssrc,
}

impl RtpHeader {
    /// Writes header + `payload` into `out`, returning the packet length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, PacketError> {
        let len = FIXED_HEADER_LEN + payload.len();
        if out.len() < len {
            return Err(PacketError::BufferTooSmall {
                needed: len,
                got: out.len(),
            });
        }
        out[0] = RTP_VERSION << 6;
        out[1] = (u8::from(self.marker) << 7) | (self.payload_type.0 & 0x7f);
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        out[FIXED_HEADER_LEN..len].copy_from_slice(payload);
        Ok(len)
    }
}

/// Overwrites the sequence number of a packet that [`RtpPacket::parse`] accepted.
pub fn set_sequence(buf: &mut [u8], seq: u16) {
    if buf.len() >= FIXED_HEADER_LEN {
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }
}
/// Overwrites the timestamp of a packet that [`RtpPacket::parse`] accepted.
pub fn set_timestamp(buf: &mut [u8], ts: u32) {
    if buf.len() >= FIXED_HEADER_LEN {
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }
}
/// Overwrites the SSRC of a packet that [`RtpPacket::parse`] accepted.
pub fn set_ssrc(buf: &mut [u8], ssrc: Ssrc) {
    if buf.len() >= FIXED_HEADER_LEN {
        buf[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn build_then_parse() {
        let h = RtpHeader {
            marker: true,
            payload_type: PayloadType(96),
            sequence: 65535,
            timestamp: 0xdead_beef,
            ssrc: Ssrc(0x1234_5678),
        };
        let mut buf = [0u8; 64];
        let n = h.write(&[1, 2, 3], &mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), PayloadType(96));
        assert_eq!(p.sequence(), 65535);
        assert_eq!(p.timestamp(), 0xdead_beef);
        assert_eq!(p.ssrc(), Ssrc(0x1234_5678));
        assert_eq!(p.payload(), &[1, 2, 3]);
        assert_eq!(p.csrcs().count(), 0);
        assert!(p.extension().is_none());
    }

    #[test]
    fn csrc_extension_padding() {
        // V=2 P=1 X=1 CC=1
        let mut b = vec![0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend_from_slice(&[0, 0, 0, 9]); // CSRC 9
        b.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // ext 1 word
        b.extend_from_slice(&[7, 7]); // payload
        b.extend_from_slice(&[0, 0, 3]); // 3 bytes padding
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![Ssrc(9)]);
        assert_eq!(p.extension(), Some((0xbede, &[1u8, 2, 3, 4][..])));
        assert_eq!(p.payload(), &[7, 7]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            RtpPacket::parse(&[0x80; 5]),
            Err(PacketError::TooShort { .. })
        ));
        assert_eq!(
            RtpPacket::parse(&[0x40; 12]),
            Err(PacketError::BadVersion(1))
        );
        let mut pad = [0u8; 13];
        pad[0] = 0xa0;
        pad[12] = 200;
        assert_eq!(RtpPacket::parse(&pad), Err(PacketError::BadPadding));
        let mut small = [0u8; 4];
        assert!(RtpHeader::default().write(&[], &mut small).is_err());
    }

    #[test]
    fn in_place_rewrite() {
        let mut buf = [0u8; 20];
        let n = RtpHeader::default().write(&[5; 8], &mut buf).unwrap();
        set_sequence(&mut buf, 7);
        set_timestamp(&mut buf, 8);
        set_ssrc(&mut buf, Ssrc(9));
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!((p.sequence(), p.timestamp(), p.ssrc()), (7, 8, Ssrc(9)));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                let _ = (p.payload(), p.extension(), p.csrcs().count(), p.sequence());
            }
        }

        #[test]
        fn round_trip(m: bool, pt in 0u8..128, seq: u16, ts: u32, ssrc: u32,
                      payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let h = RtpHeader { marker: m, payload_type: PayloadType(pt), sequence: seq, timestamp: ts, ssrc: Ssrc(ssrc) };
            let mut buf = vec![0u8; 400];
            let n = h.write(&payload, &mut buf).unwrap();
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            prop_assert_eq!((p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc()), (m, PayloadType(pt), seq, ts, Ssrc(ssrc)));
            prop_assert_eq!(p.payload(), &payload[..]);
        }
    }
}
