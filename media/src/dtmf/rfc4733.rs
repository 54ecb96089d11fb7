//! RFC 4733 telephone-event payloads: a sans-IO sender that produces the
//! start packet, duration updates and three redundant end packets (§2.5.1),
//! and a receiver that de-duplicates by RTP timestamp (§2.5.2).

use super::Digit;

/// The 4-octet telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15 DTMF).
    pub event: u8,
    /// E bit: end of event.
    pub end: bool,
    /// Volume in -dBm0 (0-63).
    pub volume: u8,
    /// Duration in timestamp units since the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload (at least 4 bytes; extra are redundancy we ignore).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 4 {
            return None;
        }
        Some(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }
    /// Serializes into 4 bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// One packet the sender wants sent: the RTP header fields besides SSRC and
/// sequence are given; the caller assigns the next sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP marker: set on the first packet of an event (§2.5.1.1).
    pub marker: bool,
    /// RTP timestamp: the event start, the same for all packets of the event.
    pub timestamp: u32,
    /// Payload.
    pub payload: TelephoneEvent,
}

/// Sends one digit at a time. Call [`DtmfSender::poll_packet`] once per
/// packetization interval (ptime) while it returns `Some`.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    step: u16,
    state: Option<Sending>,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    digit: Digit,
    timestamp: u32,
    total: u16,
    elapsed: u16,
    ends_left: u8,
    started: bool,
}

/// Redundant end packets (RFC 4733 §2.5.1.4 recommends three).
pub const END_REPEATS: u8 = 3;
const VOLUME: u8 = 10;

impl DtmfSender {
    /// `step`: timestamp units per packet (8000 Hz × 20 ms = 160).
    pub fn new(step: u16) -> Self {
        Self { step, state: None }
    }
    /// Starts `digit` at RTP `timestamp` lasting `duration` timestamp units.
    /// Replaces a digit in progress.
    pub fn start(&mut self, digit: Digit, timestamp: u32, duration: u16) {
        self.state = Some(Sending {
            digit,
            timestamp,
            total: duration.max(self.step),
            elapsed: 0,
            ends_left: END_REPEATS,
            started: false,
        });
    }
    /// Whether a digit is still being sent.
    pub fn is_busy(&self) -> bool {
        self.state.is_some()
    }
    /// Next packet of the event, if any.
    pub fn poll_packet(&mut self) -> Option<EventPacket> {
        let s = self.state.as_mut()?;
        let marker = !s.started;
        s.started = true;
        let end = if s.elapsed < s.total {
            s.elapsed = s.elapsed.saturating_add(self.step).min(s.total);
            false
        } else {
            s.ends_left -= 1;
            true
        };
        let pkt = EventPacket {
            marker,
            timestamp: s.timestamp,
            payload: TelephoneEvent {
                event: s.digit.event_code(),
                end,
                volume: VOLUME,
                duration: s.elapsed,
            },
        };
        if end && s.ends_left == 0 {
            self.state = None;
        }
        Some(pkt)
    }
}

/// What the receiver learned from one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A new digit started (first packet seen for its timestamp).
    Began {
        /// The key.
        digit: Digit,
        /// Event timestamp.
        timestamp: u32,
    },
    /// The digit ended; reported once even though ends are repeated.
    Ended {
        /// The key.
        digit: Digit,
        /// Event timestamp.
        timestamp: u32,
        /// Final duration in timestamp units.
        duration: u16,
    },
}

/// Receives telephone-events. Packets of one event share a timestamp
/// (§2.5.2.1); a new timestamp means a new event, an end for an event
/// already ended is a duplicate.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<(u32, Digit)>,
    ended: Option<u32>,
    /// Packets ignored as duplicates or stale.
    pub duplicates: u64,
}

impl DtmfReceiver {
    /// New receiver.
    pub fn new() -> Self {
        Self::default()
    }
    /// Handles one telephone-event RTP packet. Returns up to two events in
    /// order (a lost start packet yields `Began` and `Ended` together).
    pub fn handle_packet(&mut self, timestamp: u32, payload: &[u8]) -> [Option<DtmfEvent>; 2] {
        let mut out = [None, None];
        let Some(ev) = TelephoneEvent::parse(payload) else {
            return out;
        };
        let Some(digit) = Digit::from_event_code(ev.event) else {
            return out;
        };
        if self.ended == Some(timestamp) {
            self.duplicates += 1;
            return out;
        }
        let is_new = self.current.map(|(ts, _)| ts) != Some(timestamp);
        if is_new {
            // a packet older than the current event is a late retransmission
            if let Some((ts, _)) = self.current {
                if (timestamp.wrapping_sub(ts) as i32) < 0 {
                    self.duplicates += 1;
                    return out;
                }
            }
            self.current = Some((timestamp, digit));
            out[0] = Some(DtmfEvent::Began { digit, timestamp });
        }
        if ev.end {
            self.ended = Some(timestamp);
            let slot = usize::from(is_new);
            out[slot] = Some(DtmfEvent::Ended {
                digit,
                timestamp,
                duration: ev.duration,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_packets(digit: Digit, ts: u32, dur: u16) -> Vec<EventPacket> {
        let mut s = DtmfSender::new(160);
        s.start(digit, ts, dur);
        std::iter::from_fn(|| s.poll_packet()).collect()
    }

    #[test]
    fn sender_sequence() {
        let p = all_packets(Digit::D5, 1000, 800);
        // 5 updates (160..800) + 3 ends
        assert_eq!(p.len(), 8);
        assert!(p[0].marker && p[1..].iter().all(|x| !x.marker));
        assert!(p
            .iter()
            .all(|x| x.timestamp == 1000 && x.payload.event == 5));
        assert_eq!(
            p.iter().map(|x| x.payload.duration).collect::<Vec<_>>(),
            vec![160, 320, 480, 640, 800, 800, 800, 800]
        );
        assert_eq!(p.iter().filter(|x| x.payload.end).count(), 3);
        let b = p[7].payload.to_bytes();
        assert_eq!(TelephoneEvent::parse(&b), Some(p[7].payload));
    }

    fn receive(packets: &[EventPacket], r: &mut DtmfReceiver) -> Vec<DtmfEvent> {
        packets
            .iter()
            .flat_map(|p| r.handle_packet(p.timestamp, &p.payload.to_bytes()))
            .flatten()
            .collect()
    }

    #[test]
    fn receiver_dedups_and_survives_loss_and_reorder() {
        let mut pk = all_packets(Digit::Pound, 5000, 480);
        pk.extend(all_packets(Digit::D1, 9000, 320));
        let mut r = DtmfReceiver::new();
        let ev = receive(&pk, &mut r);
        assert_eq!(
            ev,
            vec![
                DtmfEvent::Began {
                    digit: Digit::Pound,
                    timestamp: 5000
                },
                DtmfEvent::Ended {
                    digit: Digit::Pound,
                    timestamp: 5000,
                    duration: 480
                },
                DtmfEvent::Began {
                    digit: Digit::D1,
                    timestamp: 9000
                },
                DtmfEvent::Ended {
                    digit: Digit::D1,
                    timestamp: 9000,
                    duration: 320
                },
            ]
        );
        assert_eq!(r.duplicates, 4);
        // lose everything but the last end packet of each, and swap order within digit 2
        let mut lossy: Vec<EventPacket> = vec![pk[5], pk[pk.len() - 1], pk[7]];
        lossy.swap(1, 2);
        let mut r = DtmfReceiver::new();
        let ev = receive(&lossy, &mut r);
        let ended: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, DtmfEvent::Ended { .. }))
            .collect();
        assert_eq!(ended.len(), 2);
        assert!(matches!(
            ev[0],
            DtmfEvent::Began {
                digit: Digit::Pound,
                ..
            }
        ));
    }

    #[test]
    fn late_packet_of_previous_event_ignored() {
        let a = all_packets(Digit::D2, 100, 160);
        let b = all_packets(Digit::D3, 2000, 160);
        let mut r = DtmfReceiver::new();
        receive(&b, &mut r);
        assert!(receive(&a[..1], &mut r).is_empty());
    }

    /// Seeded fake network: drops `loss_pct` % and swaps neighbours.
    fn lossy_reordering(packets: &[EventPacket], seed: u64, loss_pct: u64) -> Vec<EventPacket> {
        let mut x = seed;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 100
        };
        let mut out: Vec<EventPacket> = packets
            .iter()
            .copied()
            .filter(|_| rnd() >= loss_pct)
            .collect();
        for i in 1..out.len() {
            if rnd() < 30 {
                out.swap(i - 1, i);
            }
        }
        out
    }

    #[test]
    fn digit_string_survives_loss_and_reordering() {
        let digits: Vec<Digit> = "0123456789*#ABCD"
            .chars()
            .filter_map(Digit::from_char)
            .collect();
        for seed in 1..=50u64 {
            let mut sent = Vec::new();
            let mut ts = 0u32;
            for d in &digits {
                sent.extend(all_packets(*d, ts, 800)); // 100 ms digits
                ts += 1600; // 100 ms gap
            }
            let got = lossy_reordering(&sent, seed, 20);
            let mut r = DtmfReceiver::new();
            let ended: Vec<Digit> = receive(&got, &mut r)
                .into_iter()
                .filter_map(|e| match e {
                    DtmfEvent::Began { digit, .. } => Some(digit),
                    DtmfEvent::Ended { .. } => None,
                })
                .collect();
            // each digit has 8 packets; with 20 % loss every digit survives
            // unless all 8 are lost; it is reported once and in order
            assert_eq!(ended, digits, "seed {seed}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(ts: u32, b in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut r = DtmfReceiver::new();
            let _ = r.handle_packet(ts, &b);
        }
    }
}
