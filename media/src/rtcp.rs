//! RTCP (RFC 3550 §6): allocation-free iteration over a compound packet,
//! borrowed views of SR/RR/SDES/BYE, and builders writing SR, RR, SDES CNAME
//! and BYE into caller buffers.

use crate::error::PacketError;
use crate::rtp::Ssrc;

/// RTCP packet type: sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// RTCP packet type: receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// RTCP packet type: source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// RTCP packet type: goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// RTCP packet type: application-defined (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;

const REPORT_BLOCK_LEN: usize = 24;
const SENDER_INFO_LEN: usize = 20;

/// 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in the high 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The middle 32 bits used as LSR / for RTT (RFC 3550 §6.4.1).
    pub fn compact(self) -> u32 {
        (self.0 >> 16) as u32
    }
    /// Builds from a duration since an arbitrary epoch (the core never reads a clock).
    pub fn from_duration(d: std::time::Duration) -> Self {
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        Self((d.as_secs() << 32) | frac)
    }
    /// The system's wall clock now (seconds since 1900, RFC 3550 §4). For
    /// the socket drivers: the sans-IO state never reads a clock, it is
    /// handed this.
    pub fn now() -> Self {
        const UNIX_TO_NTP: std::time::Duration = std::time::Duration::from_secs(2_208_988_800);
        let since_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_duration(since_unix + UNIX_TO_NTP)
    }
}

/// Round-trip time in seconds from a report block (RFC 3550 §6.4.1, "A = now;
/// RTT = A - LSR - DLSR"), all in compact NTP (1/65536 s). `None` if no SR was
/// received yet (LSR = 0) or the result is negative.
pub fn round_trip_time(now_compact: u32, lsr: u32, dlsr: u32) -> Option<f64> {
    if lsr == 0 {
        return None;
    }
    let rtt = now_compact.wrapping_sub(lsr).wrapping_sub(dlsr);
    if rtt > 0x8000_0000 {
        return None;
    }
    Some(f64::from(rtt) / 65536.0)
}

/// Sender info of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wallclock time when the report was sent.
    pub ntp: NtpTime,
    /// RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Sender's packet count.
    pub packet_count: u32,
    /// Sender's octet count.
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, fixed point /256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (signed 24 bits).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Last SR timestamp (compact NTP).
    pub lsr: u32,
    /// Delay since last SR, 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let raw = (u32::from(b[5]) << 16) | (u32::from(b[6]) << 8) | u32::from(b[7]);
        // sign-extend 24 bits
        let cumulative_lost = ((raw << 8) as i32) >> 8;
        Self {
            ssrc: Ssrc(be(0)),
            fraction_lost: b[4],
            cumulative_lost,
            highest_seq: be(8),
            jitter: be(12),
            lsr: be(16),
            dlsr: be(20),
        }
    }
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        out[4] = self.fraction_lost;
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32;
        out[5..8].copy_from_slice(&lost.to_be_bytes()[1..4]);
        out[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.lsr.to_be_bytes());
        out[20..24].copy_from_slice(&self.dlsr.to_be_bytes());
    }
}

/// One RTCP packet inside a compound, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpPacket<'a> {
    /// Packet type (SR=200, RR=201, ...).
    pub fn packet_type(&self) -> u8 {
        self.buf[1]
    }
    /// The 5-bit count field (report count / source count / subtype).
    pub fn count(&self) -> u8 {
        self.buf[0] & 0x1f
    }
    /// Raw bytes of this packet (header included).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// SSRC of the sender (first word after the header) for SR, RR, and
    /// the first source of SDES/BYE.
    pub fn sender_ssrc(&self) -> Option<Ssrc> {
        let b = self.buf.get(4..8)?;
        Some(Ssrc(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }
    /// Sender info when this is an SR.
    pub fn sender_info(&self) -> Option<SenderInfo> {
        if self.packet_type() != PT_SR {
            return None;
        }
        let b = &self.buf[8..8 + SENDER_INFO_LEN];
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(SenderInfo {
            ntp: NtpTime((u64::from(be(0)) << 32) | u64::from(be(4))),
            rtp_timestamp: be(8),
            packet_count: be(12),
            octet_count: be(16),
        })
    }
    /// Offset of the first report block inside the packet (SR/RR only).
    pub fn report_blocks_offset(&self) -> Option<usize> {
        match self.packet_type() {
            PT_SR => Some(8 + SENDER_INFO_LEN),
            PT_RR => Some(8),
            _ => None,
        }
    }
    /// Reception report blocks (SR/RR only; empty otherwise).
    pub fn report_blocks(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        let (start, n) = match self.report_blocks_offset() {
            Some(o) => (o, usize::from(self.count())),
            None => (0, 0),
        };
        self.buf[start..start + n * REPORT_BLOCK_LEN]
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
    }
}

/// Validates and iterates the packets of a compound RTCP datagram
/// (RFC 3550 §6.1, validity checks of appendix A.2).
#[derive(Debug, Clone, Copy)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Checks every packet header in `buf`; afterwards iteration cannot fail.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let mut rest = buf;
        let mut first = true;
        if buf.is_empty() {
            return Err(PacketError::TooShort { needed: 4, got: 0 });
        }
        while !rest.is_empty() {
            let len = check_packet(rest)?;
            if first && rest[1] != PT_SR && rest[1] != PT_RR {
                return Err(PacketError::BadCompoundStart(rest[1]));
            }
            first = false;
            rest = &rest[len..];
        }
        Ok(Self { buf })
    }
    /// Iterates the packets.
    pub fn iter(&self) -> RtcpIter<'a> {
        RtcpIter { rest: self.buf }
    }
}

fn check_packet(b: &[u8]) -> Result<usize, PacketError> {
    if b.len() < 4 {
        return Err(PacketError::TooShort {
            needed: 4,
            got: b.len(),
        });
    }
    if b[0] >> 6 != 2 {
        return Err(PacketError::BadVersion(b[0] >> 6));
    }
    let words = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let len = (words + 1) * 4;
    if len > b.len() {
        return Err(PacketError::BadLength {
            words,
            remaining: b.len(),
        });
    }
    if b[0] & 0x20 != 0 {
        let pad = usize::from(b[len - 1]);
        if pad == 0 || pad > len - 4 {
            return Err(PacketError::BadPadding);
        }
    }
    let count = usize::from(b[0] & 0x1f);
    let needed = match b[1] {
        PT_SR => 8 + SENDER_INFO_LEN + count * REPORT_BLOCK_LEN,
        PT_RR => 8 + count * REPORT_BLOCK_LEN,
        _ => 4,
    };
    if needed > len {
        return Err(PacketError::BadReportCount(b[0] & 0x1f));
    }
    Ok(len)
}

/// Iterator over the packets of a validated compound.
#[derive(Debug, Clone)]
pub struct RtcpIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RtcpIter<'a> {
    type Item = RtcpPacket<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = (usize::from(u16::from_be_bytes([self.rest[2], self.rest[3]])) + 1) * 4;
        let len = len.min(self.rest.len());
        let (p, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(RtcpPacket { buf: p })
    }
}

fn header(out: &mut [u8], count: usize, pt: u8, len: usize) {
    out[0] = 0x80 | (count as u8 & 0x1f);
    out[1] = pt;
    out[2..4].copy_from_slice(&(((len / 4) - 1) as u16).to_be_bytes());
}

fn need(out: &[u8], len: usize) -> Result<(), PacketError> {
    if out.len() < len {
        return Err(PacketError::BufferTooSmall {
            needed: len,
            got: out.len(),
        });
    }
    Ok(())
}

/// Writes a sender report; returns its length.
pub fn write_sr(
    ssrc: Ssrc,
    info: &SenderInfo,
    blocks: &[ReportBlock],
    out: &mut [u8],
) -> Result<usize, PacketError> {
    if blocks.len() > 31 {
        return Err(PacketError::TooManyBlocks(blocks.len()));
    }
    let len = 8 + SENDER_INFO_LEN + blocks.len() * REPORT_BLOCK_LEN;
    need(out, len)?;
    header(out, blocks.len(), PT_SR, len);
    out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
    out[8..16].copy_from_slice(&info.ntp.0.to_be_bytes());
    out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    for (i, b) in blocks.iter().enumerate() {
        let o = 28 + i * REPORT_BLOCK_LEN;
        b.write(&mut out[o..o + REPORT_BLOCK_LEN]);
    }
    Ok(len)
}

/// Writes a receiver report; returns its length.
pub fn write_rr(ssrc: Ssrc, blocks: &[ReportBlock], out: &mut [u8]) -> Result<usize, PacketError> {
    if blocks.len() > 31 {
        return Err(PacketError::TooManyBlocks(blocks.len()));
    }
    let len = 8 + blocks.len() * REPORT_BLOCK_LEN;
    need(out, len)?;
    header(out, blocks.len(), PT_RR, len);
    out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
    for (i, b) in blocks.iter().enumerate() {
        let o = 8 + i * REPORT_BLOCK_LEN;
        b.write(&mut out[o..o + REPORT_BLOCK_LEN]);
    }
    Ok(len)
}

/// Writes an SDES packet with one chunk carrying a CNAME item (RFC 3550 §6.5.1).
pub fn write_sdes_cname(ssrc: Ssrc, cname: &[u8], out: &mut [u8]) -> Result<usize, PacketError> {
    let cname = &cname[..cname.len().min(255)];
    // ssrc + type + len + text + at least one null, padded to 4
    let chunk = (4 + 2 + cname.len() + 1).div_ceil(4) * 4;
    let len = 4 + chunk;
    need(out, len)?;
    header(out, 1, PT_SDES, len);
    out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
    out[8] = 1; // CNAME
    out[9] = cname.len() as u8;
    out[10..10 + cname.len()].copy_from_slice(cname);
    out[10 + cname.len()..len].fill(0);
    Ok(len)
}

/// Writes a BYE for one source (RFC 3550 §6.6).
pub fn write_bye(ssrc: Ssrc, out: &mut [u8]) -> Result<usize, PacketError> {
    need(out, 8)?;
    header(out, 1, PT_BYE, 8);
    out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
    Ok(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(n: u32) -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(n),
            fraction_lost: 12,
            cumulative_lost: -3,
            highest_seq: 70000 + n,
            jitter: 44,
            lsr: 0x1234_5678,
            dlsr: 65536,
        }
    }

    #[test]
    fn sr_sdes_bye_compound_round_trip() {
        let mut buf = [0u8; 256];
        let info = SenderInfo {
            ntp: NtpTime(0x0102_0304_0506_0708),
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut n = write_sr(Ssrc(1), &info, &[block(2), block(3)], &mut buf).unwrap();
        n += write_sdes_cname(Ssrc(1), b"pbx@host", &mut buf[n..]).unwrap();
        n += write_bye(Ssrc(1), &mut buf[n..]).unwrap();
        let c = RtcpCompound::parse(&buf[..n]).unwrap();
        let pkts: Vec<_> = c.iter().collect();
        assert_eq!(pkts.len(), 3);
        assert_eq!(pkts[0].sender_info(), Some(info));
        assert_eq!(pkts[0].sender_ssrc(), Some(Ssrc(1)));
        assert_eq!(
            pkts[0].report_blocks().collect::<Vec<_>>(),
            vec![block(2), block(3)]
        );
        assert_eq!(pkts[1].packet_type(), PT_SDES);
        assert_eq!(pkts[2].packet_type(), PT_BYE);
    }

    #[test]
    fn rr_round_trip_and_errors() {
        let mut buf = [0u8; 64];
        let n = write_rr(Ssrc(5), &[block(9)], &mut buf).unwrap();
        let c = RtcpCompound::parse(&buf[..n]).unwrap();
        let p = c.iter().next().unwrap();
        assert_eq!(p.report_blocks().next(), Some(block(9)));
        assert!(p.sender_info().is_none());
        // truncated
        assert!(matches!(
            RtcpCompound::parse(&buf[..n - 4]),
            Err(PacketError::BadLength { .. })
        ));
        // compound starting with BYE
        let m = write_bye(Ssrc(1), &mut buf).unwrap();
        assert_eq!(
            RtcpCompound::parse(&buf[..m]).unwrap_err(),
            PacketError::BadCompoundStart(PT_BYE)
        );
        assert!(write_rr(Ssrc(1), &[block(1); 32], &mut [0u8; 1024]).is_err());
    }

    #[test]
    fn rtt_from_lsr_dlsr() {
        // RFC 3550 §6.4.1 example: A=0xb710_8000, LSR=0xb705_2000, DLSR=0x0005_4000 -> 6.125 s
        let rtt = round_trip_time(0xb710_8000, 0xb705_2000, 0x0005_4000).unwrap();
        assert!((rtt - 6.125).abs() < 1e-9);
        assert_eq!(round_trip_time(5, 0, 0), None);
        let t = NtpTime::from_duration(std::time::Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, 1);
        assert_eq!(t.compact() & 0xffff, 0x8000);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(c) = RtcpCompound::parse(&bytes) {
                for p in c.iter() {
                    let _ = (p.sender_info(), p.report_blocks().count(), p.sender_ssrc());
                }
            }
        }

        #[test]
        fn report_block_round_trip(ssrc: u32, fl: u8, lost in -0x80_0000i32..0x80_0000, hs: u32, j: u32, lsr: u32, dlsr: u32) {
            let b = ReportBlock { ssrc: Ssrc(ssrc), fraction_lost: fl, cumulative_lost: lost, highest_seq: hs, jitter: j, lsr, dlsr };
            let mut buf = [0u8; 64];
            let n = write_rr(Ssrc(1), &[b], &mut buf).unwrap();
            let c = RtcpCompound::parse(&buf[..n]).unwrap();
            prop_assert_eq!(c.iter().next().unwrap().report_blocks().next(), Some(b));
        }
    }
}
