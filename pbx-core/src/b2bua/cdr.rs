//! Call-detail records: one [`CallRecord`] per call, built from the call
//! state machine at hangup and handed to a [`CdrSink`] (the SQLite store in
//! `pbx serve`, [`MemoryCdrSink`] in tests). Per-leg media quality arrives
//! later from the relay and is added with [`CdrSink::quality`].

use std::time::Instant;

use parking_lot::Mutex;

use super::call::Call;

/// Media quality of one leg as the relay measured it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegQuality {
    /// RTP packets received from the leg's endpoint.
    pub packets: u64,
    /// Lost packets (RFC 3550 A.3).
    pub lost: i64,
    /// Interarrival jitter, ms.
    pub jitter_ms: f64,
    /// E-model MOS estimate.
    pub mos: f64,
    /// Over the call's 10 s quality samples (SPEC §21): average and worst
    /// MOS, highest loss and jitter; `None` for calls shorter than a sample.
    pub window: Option<media::quality::QualitySummary>,
}

impl From<&media::relay::session::LegStats> for LegQuality {
    fn from(s: &media::relay::session::LegStats) -> Self {
        Self {
            packets: s.packets_in,
            lost: s.lost,
            jitter_ms: s.jitter_ms,
            mos: s.mos,
            window: s.window,
        }
    }
}

/// One leg in a record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LegRecord {
    /// Leg number (0: caller).
    pub leg: u32,
    /// The leg's SIP Call-ID.
    pub sip_call_id: String,
    /// The party (caller AOR or the contact dialed).
    pub party: String,
    /// Final SIP status of the leg (200 when answered).
    pub status: u16,
    /// Audio codec of the leg's last SDP (e.g. `PCMU/8000`).
    pub codec: Option<String>,
}

/// The record of one call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallRecord {
    /// pbx's call id (`c…`).
    pub call_id: String,
    /// Calling user.
    pub caller: String,
    /// Dialed number.
    pub callee: String,
    /// `internal`, `inbound` or `outbound`.
    pub direction: String,
    /// The service number (DID) of an inbound call.
    pub did: Option<String>,
    /// The trunk that carried the call.
    pub trunk: Option<String>,
    /// The caller's number in E.164, when known (inbound calls).
    pub caller_e164: Option<String>,
    /// The called number in E.164, when known (the DID of an inbound call,
    /// the number sent to the trunk of an outbound one).
    pub callee_e164: Option<String>,
    /// Creation, Unix ms.
    pub start_ms: u64,
    /// First ringing / early media, Unix ms.
    pub ring_ms: Option<u64>,
    /// Answer, Unix ms.
    pub answer_ms: Option<u64>,
    /// End, Unix ms.
    pub end_ms: u64,
    /// Whole seconds from start to end (rounded up).
    pub duration_s: u64,
    /// Whole seconds from answer to end (rounded up; 0 if unanswered).
    pub billsec: u64,
    /// `ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CANCELLED`.
    pub disposition: String,
    /// Stable hangup cause code (`call.normal`, `call.busy`, ...).
    pub hangup_cause: String,
    /// `caller`, `callee` or `pbx`.
    pub hangup_side: String,
    /// Seconds on hold.
    pub hold_s: u64,
    /// Legs, caller first.
    pub legs: Vec<LegRecord>,
}

fn ceil_s(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

impl CallRecord {
    /// The record of an ended call (None while it is live).
    pub fn of(call: &Call, legs: Vec<LegRecord>, now: Instant) -> Option<Self> {
        let end = call.end_at()?;
        let (cause, side) = call.ending()?;
        let disposition = call.disposition()?;
        Some(Self {
            call_id: call.id().to_string(),
            caller: call.caller().to_owned(),
            callee: call.callee().to_owned(),
            direction: "internal".into(),
            did: None,
            trunk: None,
            caller_e164: None,
            callee_e164: None,
            start_ms: call.created().unix_ms,
            ring_ms: call.ring_at().map(|t| t.unix_ms),
            answer_ms: call.answer_at().map(|t| t.unix_ms),
            end_ms: end.unix_ms,
            duration_s: ceil_s(call.duration_ms(now)),
            billsec: ceil_s(call.billsec_ms(now)),
            disposition: disposition.as_str().into(),
            hangup_cause: cause.code().into(),
            hangup_side: side.as_str().into(),
            hold_s: call.hold_total().as_secs(),
            legs,
        })
    }
}

/// Where records go. Implementations must not block the caller for long
/// (the SQLite sink queues to a writer thread).
pub trait CdrSink: Send + Sync {
    /// A finished call.
    fn write(&self, record: CallRecord);
    /// Media quality of a call's legs (caller side first), once the relay
    /// closed the call's ports.
    fn quality(&self, call_id: &str, legs: [LegQuality; 2]);
}

/// Records kept in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryCdrSink {
    /// Written records.
    pub records: Mutex<Vec<CallRecord>>,
    /// Quality updates.
    pub qualities: Mutex<Vec<(String, [LegQuality; 2])>>,
}

impl CdrSink for MemoryCdrSink {
    fn write(&self, record: CallRecord) {
        self.records.lock().push(record);
    }

    fn quality(&self, call_id: &str, legs: [LegQuality; 2]) {
        self.qualities.lock().push((call_id.to_owned(), legs));
    }
}
