//! Commands from outside SIP: an administrator's hangup of one call, the
//! shutdown's hangup of all, and the events they leave.

use super::*;
use crate::b2bua::{Command, CommandError};

impl World {
    fn command(&mut self, command: Command) -> Result<usize, CommandError> {
        let mut out = Vec::new();
        let r = self.engine.handle_command(
            self.now,
            command,
            services(&self.router, &self.anchor, &self.eps),
            &mut out,
        );
        self.deliver_from_pbx(out);
        self.run();
        r
    }
}

#[test]
fn admin_hangup_ends_an_answered_call_on_both_sides_and_says_so_in_the_record() {
    let mut w = World::new();
    w.answered_call();
    let id = w.engine.live_calls(w.now)[0].id;
    w.advance(Duration::from_secs(5));
    assert_eq!(w.command(Command::Hangup(id)), Ok(1));
    assert!(w.engine.is_empty());
    assert_eq!(ended(&w.alice_events), Some(EndReason::RemoteHangup));
    assert_eq!(ended(&w.bob_events), Some(EndReason::RemoteHangup));
    let r = w.sink.records.lock()[0].clone();
    assert_eq!(r.disposition, "ANSWERED");
    assert_eq!(
        (r.hangup_cause.as_str(), r.hangup_side.as_str()),
        ("admin.hangup", "pbx")
    );
    assert_eq!(r.billsec, 5);
    let kinds = w.event_kinds();
    assert!(
        matches!(
            kinds.last(),
            Some(CallEventKind::Ended {
                cause: HangupCause::Administrative,
                ..
            })
        ),
        "{kinds:?}"
    );
    assert_eq!(
        w.command(Command::Hangup(id)),
        Err(CommandError::NoSuchCall(id)),
        "the call is gone"
    );
}

#[test]
fn hangup_all_rejects_ringing_callers_and_ends_answered_calls() {
    let mut w = World::new();
    w.answered_call();
    // A second call from Alice that rings at Bob, unanswered.
    let ringing = w.call("bob");
    assert_eq!(w.engine.len(), 2);
    assert_eq!(w.command(Command::HangupAll), Ok(2));
    assert!(w.engine.is_empty());
    let mut records = w.sink.records.lock().clone();
    records.sort_by_key(|r| r.answer_ms.is_none());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].hangup_cause, "pbx.shutdown");
    assert_eq!(records[0].disposition, "ANSWERED");
    assert_eq!(records[1].hangup_cause, "pbx.shutdown");
    assert_eq!(
        records[1].legs[0].status, 503,
        "the ringing caller gets 503"
    );
    let caller_end = w.alice_events.iter().find_map(|e| match e {
        UaEvent::Terminated { session, reason } if *session == ringing => Some(reason.clone()),
        _ => None,
    });
    assert!(
        matches!(caller_end, Some(EndReason::Rejected(StatusCode(503)))),
        "{caller_end:?}"
    );
    assert_eq!(w.command(Command::HangupAll), Ok(0), "nothing left");
}

#[test]
fn call_ids_read_back_from_their_printed_form() {
    let id = crate::b2bua::CallId(0x0123_4567_89ab_cdef);
    assert_eq!(crate::b2bua::CallId::parse(&id.to_string()), Some(id));
    for bad in [
        "",
        "c",
        "0123456789abcdef",
        "c0123",
        "c0123456789abcdeg",
        "c0123456789abcdef0",
    ] {
        assert_eq!(crate::b2bua::CallId::parse(bad), None, "{bad}");
    }
}
