//! RTCP reporting for a stream that pbx terminates (conference participant,
//! IVR, recorder): sender/receiver statistics, the randomized report
//! interval of RFC 3550 §6.2 / A.7 (two-party case: 5 s minimum, ×[0.5, 1.5],
//! ÷(e − 3/2)), SR or RR + SDES CNAME generation and RTT from the peer's
//! report blocks (§6.4.1). Sans-IO: time and the random seed are injected.

use std::time::{Duration, Instant};

use crate::rtcp::{self, NtpTime, RtcpCompound, SenderInfo};
use crate::rtp::{RtpPacket, Ssrc};
use crate::stats::ReceiverStats;

/// Minimum report interval (RFC 3550 §6.2).
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// Per-stream RTCP state.
#[derive(Debug, Clone)]
pub struct RtcpReporter {
    ssrc: Ssrc,
    cname: [u8; 64],
    cname_len: usize,
    clock_rate: u32,
    // wall-clock anchor: `anchor.1` is the NTP time at `anchor.0`
    anchor: (Instant, NtpTime),
    rng: u64,
    next_at: Instant,
    sent_packets: u32,
    sent_octets: u32,
    sent_since_report: bool,
    last_rtp: Option<(u32, Instant)>,
    remote: Option<(Ssrc, ReceiverStats)>,
    last_sr: Option<(u32, Instant)>,
    rtt: Option<Duration>,
    // the peer's latest report block on our stream
    remote_report: Option<rtcp::ReportBlock>,
}

impl RtcpReporter {
    /// New reporter at `now`; `wall_at_now` is the NTP wall clock at `now`
    /// (from the driver's clock), `seed` randomizes the interval.
    pub fn new(
        ssrc: Ssrc,
        cname: &str,
        clock_rate: u32,
        now: Instant,
        wall_at_now: NtpTime,
        seed: u64,
    ) -> Self {
        let mut c = [0u8; 64];
        let n = cname.len().min(64);
        c[..n].copy_from_slice(&cname.as_bytes()[..n]);
        let mut r = Self {
            ssrc,
            cname: c,
            cname_len: n,
            clock_rate,
            anchor: (now, wall_at_now),
            rng: seed | 1,
            next_at: now,
            sent_packets: 0,
            sent_octets: 0,
            sent_since_report: false,
            last_rtp: None,
            remote: None,
            last_sr: None,
            rtt: None,
            remote_report: None,
        };
        // first report after half the minimum interval (RFC 3550 §6.2)
        r.next_at = now + r.interval() / 2;
        r
    }

    fn random_factor(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        0.5 + (self.rng % 10_000) as f64 / 10_000.0
    }

    fn interval(&mut self) -> Duration {
        MIN_INTERVAL.mul_f64(self.random_factor() / COMPENSATION)
    }

    fn ntp_at(&self, now: Instant) -> NtpTime {
        let d = now.saturating_duration_since(self.anchor.0);
        NtpTime(self.anchor.1 .0.wrapping_add(NtpTime::from_duration(d).0))
    }

    /// Records an RTP packet we sent.
    pub fn on_rtp_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload_len as u32);
        self.sent_since_report = true;
        self.last_rtp = Some((rtp_timestamp, now));
    }

    /// Records an RTP packet we received.
    pub fn on_rtp_received(&mut self, now: Instant, p: &RtpPacket<'_>) {
        let arrival = (now.saturating_duration_since(self.anchor.0).as_micros() as u64
            * u64::from(self.clock_rate)
            / 1_000_000) as u32;
        let ssrc = p.ssrc();
        match &mut self.remote {
            Some((s, stats)) if *s == ssrc => {
                stats.update(p.sequence(), p.timestamp(), arrival, p.payload().len());
            }
            _ => {
                let mut stats = ReceiverStats::new();
                stats.update(p.sequence(), p.timestamp(), arrival, p.payload().len());
                self.remote = Some((ssrc, stats));
            }
        }
    }

    /// Handles a received compound: remembers its SR (for LSR/DLSR) and
    /// takes the RTT from a report block about our SSRC.
    pub fn handle_rtcp(&mut self, now: Instant, compound: &RtcpCompound<'_>) {
        for p in compound.iter() {
            if let Some(info) = p.sender_info() {
                self.last_sr = Some((info.ntp.compact(), now));
            }
            for b in p.report_blocks().filter(|b| b.ssrc == self.ssrc) {
                self.remote_report = Some(b);
                let now_c = self.ntp_at(now).compact();
                if let Some(rtt) = rtcp::round_trip_time(now_c, b.lsr, b.dlsr) {
                    self.rtt = Some(Duration::from_secs_f64(rtt));
                }
            }
        }
    }

    /// The SSRC this reporter speaks for.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The peer's latest report block on our stream (its loss and jitter
    /// of what we send), once it reported.
    pub fn remote_report(&self) -> Option<rtcp::ReportBlock> {
        self.remote_report
    }

    /// Latest round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
    /// Reception statistics of the remote source.
    pub fn receiver_stats(&self) -> Option<&ReceiverStats> {
        self.remote.as_ref().map(|(_, s)| s)
    }
    /// When the next report is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_at
    }

    /// When due, writes SR (if we sent RTP since the last report) or RR,
    /// followed by SDES CNAME, into `out`; returns its length.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if now < self.next_at {
            return None;
        }
        self.next_at = now + self.interval();
        let mut blocks = [rtcp::ReportBlock::default(); 1];
        let nblocks = match &mut self.remote {
            Some((ssrc, stats)) => {
                let (lsr, dlsr) = match self.last_sr {
                    Some((lsr, at)) => (
                        lsr,
                        (now.saturating_duration_since(at).as_secs_f64() * 65536.0) as u32,
                    ),
                    None => (0, 0),
                };
                blocks[0] = stats.report_block(*ssrc, lsr, dlsr);
                1
            }
            None => 0,
        };
        let n = if self.sent_since_report {
            let rtp_timestamp = self.last_rtp.map_or(0, |(ts, at)| {
                let d = now.saturating_duration_since(at).as_micros() as u64
                    * u64::from(self.clock_rate)
                    / 1_000_000;
                ts.wrapping_add(d as u32)
            });
            let info = SenderInfo {
                ntp: self.ntp_at(now),
                rtp_timestamp,
                packet_count: self.sent_packets,
                octet_count: self.sent_octets,
            };
            rtcp::write_sr(self.ssrc, &info, &blocks[..nblocks], out).ok()?
        } else {
            rtcp::write_rr(self.ssrc, &blocks[..nblocks], out).ok()?
        };
        self.sent_since_report = false;
        let m =
            rtcp::write_sdes_cname(self.ssrc, &self.cname[..self.cname_len], &mut out[n..]).ok()?;
        Some(n + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PayloadType, RtpHeader};

    #[test]
    fn two_peers_measure_rtt_and_loss_in_virtual_time() {
        let t0 = Instant::now();
        let one_way = Duration::from_millis(40);
        // peers' wall clocks differ; RTT must not depend on it
        let mut a = RtcpReporter::new(Ssrc(1), "a@pbx", 8000, t0, NtpTime(100 << 32), 7);
        let mut b = RtcpReporter::new(Ssrc(2), "b@pbx", 8000, t0, NtpTime(900 << 32), 9);
        let mut pkt = [0u8; 200];
        let mut rtcp_buf = [0u8; 512];
        let mut in_flight: Vec<(Instant, bool, Vec<u8>)> = Vec::new(); // (deliver at, to_b, bytes)
        let mut now = t0;
        let end = t0 + Duration::from_secs(30);
        let mut seq = 0u16;
        while now < end {
            // A sends 20 ms audio to B, losing every 20th packet
            let h = RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc: Ssrc(1),
            };
            let n = h.write(&[0xff; 160], &mut pkt).unwrap();
            a.on_rtp_sent(now, u32::from(seq) * 160, 160);
            if seq % 20 != 7 {
                in_flight.push((now + one_way, true, pkt[..n].to_vec()));
            }
            seq = seq.wrapping_add(1);
            for (r, to_b) in [(&mut a, true), (&mut b, false)] {
                if let Some(n) = r.handle_timeout(now, &mut rtcp_buf) {
                    in_flight.push((now + one_way, to_b, rtcp_buf[..n].to_vec()));
                }
            }
            now += Duration::from_millis(20);
            let (due, later): (Vec<_>, Vec<_>) =
                in_flight.into_iter().partition(|(t, _, _)| *t <= now);
            in_flight = later;
            for (t, to_b, bytes) in due {
                let r = if to_b { &mut b } else { &mut a };
                if crate::demux::classify(&bytes) == crate::demux::PacketKind::Rtcp {
                    r.handle_rtcp(t, &RtcpCompound::parse(&bytes).unwrap());
                } else {
                    r.on_rtp_received(t, &RtpPacket::parse(&bytes).unwrap());
                }
            }
        }
        let rtt = a.rtt().expect("A learned the RTT from B's RR");
        assert!((rtt.as_secs_f64() - 0.080).abs() < 0.002, "{rtt:?}");
        let s = b.receiver_stats().unwrap();
        let loss = s.cumulative_lost() as f64 / f64::from(s.expected());
        assert!((loss - 0.05).abs() < 0.01, "{loss}");
        assert!(b.rtt().is_none(), "B never sent RTP, so no SR to answer");
    }

    #[test]
    fn interval_is_randomized_around_minimum() {
        let t0 = Instant::now();
        let mut r = RtcpReporter::new(Ssrc(1), "x", 8000, t0, NtpTime(0), 42);
        let mut buf = [0u8; 256];
        let mut last = t0;
        let mut gaps = Vec::new();
        let mut now = t0;
        while gaps.len() < 50 {
            now = r.poll_timeout();
            assert!(r.handle_timeout(now, &mut buf).is_some());
            gaps.push(now - last);
            last = now;
        }
        let lo = MIN_INTERVAL.mul_f64(0.5 / COMPENSATION);
        let hi = MIN_INTERVAL.mul_f64(1.5 / COMPENSATION);
        assert!(gaps[1..].iter().all(|g| *g >= lo && *g <= hi));
        assert!(gaps[1..].iter().any(|g| *g != gaps[1]));
        // nothing received, nothing sent: an empty RR + SDES
        let n = r.handle_timeout(now + hi, &mut buf).unwrap();
        let c = RtcpCompound::parse(&buf[..n]).unwrap();
        let kinds: Vec<u8> = c.iter().map(|p| p.packet_type()).collect();
        assert_eq!(kinds, vec![rtcp::PT_RR, rtcp::PT_SDES]);
    }
}
