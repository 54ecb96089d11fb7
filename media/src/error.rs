//! Packet-level errors shared by the RTP and RTCP parsers. They carry only
//! integers so producing one never allocates.

/// Why a packet could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Fewer bytes than the header announces.
    #[error("packet too short: need {needed} bytes, got {got}")]
    TooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// Version field is not 2 (RFC 3550 §5.1).
    #[error("unsupported RTP/RTCP version {0}")]
    BadVersion(u8),
    /// Padding count is zero or larger than the packet (RFC 3550 §5.1).
    #[error("invalid padding")]
    BadPadding,
    /// RTCP length field disagrees with the datagram (RFC 3550 §6.4.1).
    #[error("RTCP length field {words} words exceeds the {remaining} remaining bytes")]
    BadLength {
        /// Length field in 32-bit words minus one.
        words: usize,
        /// Bytes left in the compound packet.
        remaining: usize,
    },
    /// Report count larger than the packet carries.
    #[error("RTCP report count {0} does not fit the packet")]
    BadReportCount(u8),
    /// First RTCP packet of a compound is not SR or RR (RFC 3550 §6.1).
    #[error("compound RTCP must start with SR or RR, found packet type {0}")]
    BadCompoundStart(u8),
    /// Output buffer too small.
    #[error("output buffer too small: need {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// Too many items for a 5-bit count field.
    #[error("too many report blocks: {0} (max 31)")]
    TooManyBlocks(usize),
}
