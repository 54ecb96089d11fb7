//! The session's recording tap ([`super::super::record`]): setting and
//! taking the sink, and handing it the audio the relay itself sends on a
//! leg's behalf while it transcodes.

use std::sync::Arc;
use std::time::Instant;

use super::*;

impl RelaySession {
    /// Starts handing the decoded audio of both legs to `sink` (see
    /// [`super::record`]), on a timeline that starts at `now`. Returns the
    /// sink it replaces, with that one's counters. Allocates the decode
    /// buffer once, here; the per-packet path then allocates nothing.
    pub fn set_record_sink(
        &mut self,
        now: Instant,
        sink: Arc<dyn RecordSink>,
    ) -> Option<(Arc<dyn RecordSink>, RecordStats)> {
        self.tap.0.replace(Tap::new(sink, now)).map(Tap::into_parts)
    }

    /// Stops the recording tap: the sink and its final counters.
    pub fn take_record_sink(&mut self) -> Option<(Arc<dyn RecordSink>, RecordStats)> {
        self.tap.0.take().map(Tap::into_parts)
    }

    /// The tap's counters, while a sink is set.
    pub fn record_stats(&self) -> Option<RecordStats> {
        self.tap.0.as_ref().map(Tap::stats)
    }

    /// Records the transcoded packet the relay sends to `side`'s other leg
    /// on `side`'s behalf, when that leg's codec is G.711.
    pub(super) fn record_output(&mut self, now: Instant, side: Side, packet: &[u8]) {
        let (Some(tap), Ok(p)) = (self.tap.0.as_mut(), RtpPacket::parse(packet)) else {
            return;
        };
        match TapPayload::of(&self.media.leg(side.other()), p.payload_type()) {
            TapPayload::G711(law) => {
                tap.record(now, side, law, (p.ssrc(), p.timestamp()), p.payload());
            }
            TapPayload::Other => tap.not_decoded(),
            TapPayload::Skip => {}
        }
    }
}
