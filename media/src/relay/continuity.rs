//! SSRC and sequence-number continuity across re-anchoring (RFC 3550 §8.2,
//! RFC 7667 §3.2.1.2 "translator"): when the source behind a leg changes
//! (transfer, re-INVITE to another endpoint) the far end keeps seeing one
//! SSRC with contiguous sequence numbers and a timestamp that advances with
//! wall time, so its jitter buffer does not reset or drop the new stream.

use std::time::Instant;

use crate::rtp::{self, Ssrc};

/// Rewriting state for one direction.
#[derive(Debug, Clone, Default)]
pub struct Continuity {
    out_ssrc: Option<Ssrc>,
    in_ssrc: Ssrc,
    seq_offset: u16,
    ts_offset: u32,
    last_out_seq: u16,
    last_out_ts: u32,
    last_at: Option<Instant>,
    /// Source changes seen.
    pub source_changes: u32,
}

impl Continuity {
    /// Outgoing SSRC (the first source's), once a packet was seen.
    pub fn out_ssrc(&self) -> Option<Ssrc> {
        self.out_ssrc
    }
    /// Current incoming SSRC.
    pub fn in_ssrc(&self) -> Ssrc {
        self.in_ssrc
    }
    /// Maps an incoming RTP timestamp to the outgoing space.
    pub fn map_timestamp(&self, ts: u32) -> u32 {
        ts.wrapping_add(self.ts_offset)
    }

    /// Rewrites a validated RTP packet in place. `clock_rate` converts the
    /// gap between the last old-source packet and the first new one.
    pub fn rewrite(
        &mut self,
        now: Instant,
        clock_rate: u32,
        buf: &mut [u8],
        ssrc: Ssrc,
        seq: u16,
        ts: u32,
    ) {
        match self.out_ssrc {
            None => {
                self.out_ssrc = Some(ssrc);
                self.in_ssrc = ssrc;
            }
            Some(_) if ssrc != self.in_ssrc => {
                let elapsed = self.last_at.map_or(0, |t| {
                    now.duration_since(t).as_micros() as u64 * u64::from(clock_rate) / 1_000_000
                });
                let elapsed = (elapsed as u32).max(1);
                self.seq_offset = self.last_out_seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_offset = self.last_out_ts.wrapping_add(elapsed).wrapping_sub(ts);
                self.in_ssrc = ssrc;
                self.source_changes += 1;
            }
            Some(_) => {}
        }
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        if let Some(out) = self.out_ssrc {
            if out != ssrc {
                rtp::set_ssrc(buf, out);
            }
        }
        if self.seq_offset != 0 {
            rtp::set_sequence(buf, out_seq);
        }
        if self.ts_offset != 0 {
            rtp::set_timestamp(buf, out_ts);
        }
        // keep the newest position (reordered packets do not move it back)
        if (out_seq.wrapping_sub(self.last_out_seq) as i16) > 0 || self.last_at.is_none() {
            self.last_out_seq = out_seq;
            self.last_out_ts = out_ts;
        }
        self.last_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PayloadType, RtpHeader, RtpPacket};
    use std::time::Duration;

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> [u8; 20] {
        let mut b = [0u8; 20];
        RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence: seq,
            timestamp: ts,
            ssrc: Ssrc(ssrc),
        }
        .write(&[0; 8], &mut b)
        .unwrap();
        b
    }

    #[test]
    fn new_source_continues_old_numbering() {
        let t0 = Instant::now();
        let mut c = Continuity::default();
        for i in 0..5u16 {
            let mut b = pkt(111, 1000 + i, 8000 + u32::from(i) * 160);
            c.rewrite(
                t0 + Duration::from_millis(20 * u64::from(i)),
                8000,
                &mut b,
                Ssrc(111),
                1000 + i,
                8000 + u32::from(i) * 160,
            );
            assert_eq!(RtpPacket::parse(&b).unwrap().sequence(), 1000 + i);
        }
        // re-anchored: new endpoint, random ssrc/seq/ts, 100 ms later
        let at = t0 + Duration::from_millis(180);
        let mut b = pkt(222, 50, 999_999);
        c.rewrite(at, 8000, &mut b, Ssrc(222), 50, 999_999);
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.ssrc(), Ssrc(111));
        assert_eq!(p.sequence(), 1005);
        assert_eq!(p.timestamp(), 8000 + 4 * 160 + 800);
        let mut b = pkt(222, 51, 999_999 + 160);
        c.rewrite(
            at + Duration::from_millis(20),
            8000,
            &mut b,
            Ssrc(222),
            51,
            999_999 + 160,
        );
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!((p.sequence(), p.timestamp()), (1006, 8000 + 4 * 160 + 960));
        assert_eq!(c.source_changes, 1);
    }
}
