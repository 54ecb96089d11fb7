//! Receiver-side RTP statistics: sequence tracking (RFC 3550 A.1), loss
//! (A.3), interarrival jitter (A.8) and report-block generation, plus the
//! simplified E-model MOS of SPEC §21.

use crate::rtcp::ReportBlock;
use crate::rtp::Ssrc;

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// Per-source reception state (RFC 3550 appendix A.1 `source` struct).
#[derive(Debug, Clone, Default)]
pub struct ReceiverStats {
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u8,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: i64,
    jitter: f64,
    initialized: bool,
    bytes: u64,
    /// Packets discarded by the A.1 validity check.
    pub invalid: u32,
}

impl ReceiverStats {
    /// New, empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Feeds one packet: sequence number, RTP timestamp, arrival time in RTP
    /// timestamp units (A.8), payload bytes. Returns whether the packet is valid.
    pub fn update(&mut self, seq: u16, rtp_ts: u32, arrival_ts: u32, len: usize) -> bool {
        if !self.initialized {
            // The relay validates sources by latching, so unlike A.1 the
            // first packet is counted instead of being held in probation.
            self.initialized = true;
            self.init_seq(seq);
            self.received = 1;
            self.bytes += len as u64;
            self.transit = i64::from(arrival_ts.wrapping_sub(rtp_ts) as i32);
            return true;
        }
        if !self.update_seq(seq) {
            self.invalid += 1;
            return false;
        }
        self.bytes += len as u64;
        // A.8: transit = arrival - timestamp; d = |transit - last|; J += (d - J)/16
        let transit = i64::from(arrival_ts.wrapping_sub(rtp_ts) as i32);
        if self.received > 1 {
            let d = (transit - self.transit).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = transit;
        true
    }

    /// RFC 3550 A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
        } else if udelta
            <= (RTP_SEQ_MOD as u16)
                .wrapping_sub(MAX_MISORDER)
                .wrapping_sub(1)
        {
            // udelta <= RTP_SEQ_MOD - MAX_MISORDER: very large jump
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // else: duplicate or reordered packet
        self.received += 1;
        true
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }
    /// Packets expected (A.3).
    pub fn expected(&self) -> u32 {
        if self.received == 0 && self.probation > 0 {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }
    /// Packets received (valid).
    pub fn received(&self) -> u32 {
        self.received
    }
    /// Payload bytes received.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Cumulative lost, A.3 (negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }
    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Builds a report block and advances the "prior" counters (A.3 fraction).
    /// `lsr`/`dlsr` come from the caller's last-SR bookkeeping.
    pub fn report_block(&mut self, ssrc: Ssrc, lsr: u32, dlsr: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter as u32,
            lsr,
            dlsr,
        }
    }
}

/// Simplified E-model (ITU-T G.107) as given in SPEC §21:
/// `R = 93.2 − Id − Ie_eff`, `MOS = 1 + 0.035 R + 7e-6 R (R − 60)(100 − R)`,
/// clamped to [1, 4.5]. `one_way_delay_ms` includes jitter-buffer delay;
/// `loss_ratio` in 0..=1; `ie`/`bpl` are codec constants (G.711: 0 / 25.1
/// with PLC, G.113 appendix I).
pub fn mos(one_way_delay_ms: f64, loss_ratio: f64, ie: f64, bpl: f64) -> f64 {
    let d = one_way_delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = (loss_ratio.clamp(0.0, 1.0)) * 100.0;
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    let r = (93.2 - id - ie_eff).clamp(0.0, 100.0);
    let m = 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r);
    m.clamp(1.0, 4.5)
}

/// E-model MOS for G.711 with PLC (Ie = 0, Bpl = 25.1).
pub fn mos_g711(one_way_delay_ms: f64, loss_ratio: f64) -> f64 {
    mos(one_way_delay_ms, loss_ratio, 0.0, 25.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut ReceiverStats, seqs: impl IntoIterator<Item = u16>) {
        for seq in seqs {
            let ts = u32::from(seq) * 160;
            s.update(seq, ts, ts + 1000, 160);
        }
    }

    #[test]
    fn counts_loss_and_wrap() {
        let mut s = ReceiverStats::new();
        // 65530..=65535, 0..=9 with 3 and 7 missing
        let seqs = (65530u16..=65535).chain((0u16..10).filter(|s| *s != 3 && *s != 7));
        feed(&mut s, seqs);
        assert_eq!(s.expected(), 16);
        assert_eq!(s.received(), 14);
        assert_eq!(s.cumulative_lost(), 2);
        assert_eq!(s.extended_max(), 65536 + 9);
        let b = s.report_block(Ssrc(1), 0, 0);
        assert_eq!(b.fraction_lost, (2 * 256 / 16) as u8);
        assert_eq!(b.cumulative_lost, 2);
        // next interval without loss
        feed(&mut s, 10..20);
        assert_eq!(s.report_block(Ssrc(1), 0, 0).fraction_lost, 0);
    }

    #[test]
    fn jitter_matches_a8() {
        let mut s = ReceiverStats::new();
        // arrival alternates +0/+80 timestamp units around the nominal
        for i in 0u16..400 {
            let ts = u32::from(i) * 160;
            let arrival = ts + if i % 2 == 0 { 0 } else { 80 };
            s.update(i, ts, arrival, 160);
        }
        // |D| is always 80 -> J converges to 80
        assert!((s.jitter() - 80.0).abs() < 1.0, "{}", s.jitter());
        let mut flat = ReceiverStats::new();
        feed(&mut flat, 0..100);
        assert!(flat.jitter() < 1e-9);
    }

    #[test]
    fn mos_drops_with_loss() {
        let clean = mos_g711(20.0, 0.0);
        let lossy = mos_g711(20.0, 0.05);
        assert!(clean > 4.3 && clean <= 4.5, "{clean}");
        assert!(lossy < clean - 0.4, "{lossy}");
        assert!(mos_g711(400.0, 0.0) < clean);
        assert!(mos_g711(0.0, 1.0) < 1.5);
    }
}
