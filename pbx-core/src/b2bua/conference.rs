//! The conference application (SPEC §20): the caller is answered by pbx's
//! media endpoint and joins a room of the mixer.
//!
//! - A room with a moderator PIN asks for it (`enter_pin.wav`) and collects
//!   keys up to `#`: the right PIN makes the caller the moderator; an empty
//!   `#`, or no `#` within [`PIN_TIMEOUT`], makes a guest; a wrong PIN is
//!   asked again (`invalid.wav`), and after [`PIN_TRIES`] wrong PINs the
//!   caller joins as a guest. A room without a PIN takes everyone as a
//!   guest. Room limits are the mixer's (SPEC §20: one moderator and 15
//!   speaking guests).
//! - In the room, the moderator's keys: `*6` mutes every guest at once; the
//!   next `*6` asks them to unmute (each guest stays muted until they press
//!   `1`, SPEC §20 consent); `*5` locks / unlocks the room; `*9` ends the
//!   room; `**` toggles the moderator's own microphone.
//! - A guest's keys go to the room: `1` / `2` accept / decline an unmute
//!   request, `*` toggles self-mute.
//! - Leaving: the caller's BYE ends the call; a kick or the end of the room
//!   ([`LegEvent::RoomLeft`]) hangs the caller up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::app::{Action, AppView, Application, LegEvent, RoomControl, RoomRole};
use super::call::{CallInput, HangupCause, Side};
use super::LegId;

/// How long the caller has to finish the PIN with `#`.
pub const PIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Wrong PINs before the caller joins as a guest.
pub const PIN_TRIES: u32 = 3;
/// Longest PIN collected (extra keys are ignored).
const MAX_PIN_LEN: usize = 16;

const PROMPT_PLAY: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the caller's INVITE.
    Start,
    /// Prompted for the PIN, collecting keys.
    Pin,
    /// In the room.
    Joined(RoomRole),
    /// Over.
    Ended,
}

/// The application of one caller of a conference room.
#[derive(Debug)]
pub struct Conference {
    room: String,
    moderator_pin: Option<String>,
    prompts: PathBuf,
    state: State,
    digits: String,
    wrong: u32,
    deadline: Option<Instant>,
    /// The moderator pressed `*`: the next key is a command.
    star: bool,
    guests_muted: bool,
    locked: bool,
}

impl Conference {
    /// A caller of room `room`; prompts are read from `prompts`.
    pub fn new(room: String, moderator_pin: Option<String>, prompts: &Path) -> Self {
        Self {
            room,
            moderator_pin: moderator_pin.filter(|p| !p.is_empty()),
            prompts: prompts.to_owned(),
            state: State::Start,
            digits: String::new(),
            wrong: 0,
            deadline: None,
            star: false,
            guests_muted: false,
            locked: false,
        }
    }

    fn prompt(&self, name: &str) -> PathBuf {
        self.prompts.join(name)
    }

    fn join(&mut self, role: RoomRole, out: &mut Vec<Action>) {
        let leg = LegId::CALLER;
        if self.state == State::Pin {
            out.push(Action::StopPlay {
                leg,
                id: PROMPT_PLAY,
            });
        }
        self.state = State::Joined(role);
        self.deadline = None;
        out.push(Action::JoinRoom {
            leg,
            room: self.room.clone(),
            role,
        });
    }

    fn pin_key(&mut self, key: char, out: &mut Vec<Action>) {
        if key != '#' {
            if self.digits.len() < MAX_PIN_LEN {
                self.digits.push(key);
            }
            return;
        }
        let entered = std::mem::take(&mut self.digits);
        if entered.is_empty() {
            return self.join(RoomRole::Guest, out);
        }
        if self.moderator_pin.as_deref() == Some(entered.as_str()) {
            return self.join(RoomRole::Moderator, out);
        }
        self.wrong += 1;
        if self.wrong >= PIN_TRIES {
            return self.join(RoomRole::Guest, out);
        }
        out.push(Action::Play {
            leg: LegId::CALLER,
            id: PROMPT_PLAY,
            prompts: vec![self.prompt("invalid.wav"), self.prompt("enter_pin.wav")],
            repeat: false,
        });
    }

    fn room_key(&mut self, role: RoomRole, key: char, out: &mut Vec<Action>) {
        let leg = LegId::CALLER;
        if role == RoomRole::Guest {
            out.push(Action::RoomControl {
                leg,
                op: RoomControl::Key(key),
            });
            return;
        }
        if !self.star {
            self.star = key == '*';
            return;
        }
        self.star = false;
        let op = match key {
            '6' => {
                self.guests_muted = !self.guests_muted;
                if self.guests_muted {
                    RoomControl::MuteGuests
                } else {
                    RoomControl::RequestUnmuteGuests
                }
            }
            '5' => {
                self.locked = !self.locked;
                RoomControl::Lock(self.locked)
            }
            '9' => RoomControl::End,
            '*' => RoomControl::Key('*'),
            _ => return,
        };
        out.push(Action::RoomControl { leg, op });
    }

    fn end(&mut self, side: Side, out: &mut Vec<Action>) {
        if self.state == State::Ended {
            return;
        }
        self.state = State::Ended;
        self.deadline = None;
        if side == Side::Pbx {
            out.push(Action::Hangup(LegId::CALLER));
        }
        out.push(Action::Call(CallInput::Hangup(HangupCause::Normal, side)));
    }
}

impl Application for Conference {
    fn name(&self) -> &'static str {
        "conference"
    }

    fn handle(&mut self, view: &AppView<'_>, event: &LegEvent, out: &mut Vec<Action>) {
        let leg = LegId::CALLER;
        match (self.state, event) {
            (State::Start, LegEvent::Incoming { .. }) => {
                out.push(Action::AnswerMedia { leg });
                out.push(Action::Call(CallInput::Answered));
                if self.moderator_pin.is_some() {
                    self.state = State::Pin;
                    self.deadline = Some(view.now.instant + PIN_TIMEOUT);
                    out.push(Action::Play {
                        leg,
                        id: PROMPT_PLAY,
                        prompts: vec![self.prompt("enter_pin.wav")],
                        repeat: false,
                    });
                } else {
                    self.join(RoomRole::Guest, out);
                }
            }
            (State::Pin, LegEvent::Dtmf(LegId::CALLER, key)) => self.pin_key(*key, out),
            (State::Pin, LegEvent::Timer)
                if self.deadline.is_some_and(|d| d <= view.now.instant) =>
            {
                self.join(RoomRole::Guest, out);
            }
            (State::Joined(role), LegEvent::Dtmf(LegId::CALLER, key)) => {
                self.room_key(role, *key, out);
            }
            (_, LegEvent::Ended(LegId::CALLER)) => self.end(Side::Caller, out),
            (State::Joined(_), LegEvent::RoomLeft(_)) => self.end(Side::Pbx, out),
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b2bua::app::LegView;
    use crate::b2bua::call::Call;
    use crate::b2bua::{CallId, Timestamp};

    struct Run {
        call: Call,
        now: Timestamp,
    }

    impl Run {
        fn new() -> Self {
            let now = Timestamp {
                instant: Instant::now(),
                unix_ms: 1_000,
            };
            Self {
                call: Call::new(
                    CallId(1),
                    "alice".into(),
                    "800".into(),
                    now,
                    Duration::from_secs(60),
                ),
                now,
            }
        }
        fn feed(&self, app: &mut Conference, ev: LegEvent) -> Vec<Action> {
            let legs = [LegView {
                id: LegId::CALLER,
                state: crate::b2bua::app::LegState::Answered,
            }];
            let mut out = Vec::new();
            let view = AppView {
                call: &self.call,
                legs: &legs,
                now: self.now,
            };
            app.handle(&view, &ev, &mut out);
            out
        }
        fn keys(&self, app: &mut Conference, keys: &str) -> Vec<Action> {
            keys.chars()
                .flat_map(|k| self.feed(app, LegEvent::Dtmf(LegId::CALLER, k)))
                .collect()
        }
    }

    fn joined(out: &[Action]) -> Option<RoomRole> {
        out.iter().find_map(|a| match a {
            Action::JoinRoom { role, room, .. } if room == "800" => Some(*role),
            _ => None,
        })
    }

    fn ops(out: &[Action]) -> Vec<RoomControl> {
        out.iter()
            .filter_map(|a| match a {
                Action::RoomControl { op, .. } => Some(*op),
                _ => None,
            })
            .collect()
    }

    fn app(pin: Option<&str>) -> Conference {
        Conference::new("800".into(), pin.map(str::to_owned), Path::new("p"))
    }

    #[test]
    fn room_without_pin_takes_a_guest_at_once() {
        let r = Run::new();
        let mut a = app(None);
        let out = r.feed(&mut a, LegEvent::Incoming { offer: None });
        assert!(matches!(out[0], Action::AnswerMedia { leg: LegId::CALLER }));
        assert_eq!(out[1], Action::Call(CallInput::Answered));
        assert_eq!(joined(&out), Some(RoomRole::Guest));
        assert_eq!(a.poll_timeout(), None);
        // a guest's keys go to the room
        assert_eq!(
            ops(&r.keys(&mut a, "1*")),
            [RoomControl::Key('1'), RoomControl::Key('*')]
        );
    }

    #[test]
    fn pin_makes_the_moderator_and_empty_pound_a_guest() {
        let r = Run::new();
        let mut m = app(Some("4242"));
        let out = r.feed(&mut m, LegEvent::Incoming { offer: None });
        assert!(out.iter().any(|a| matches!(a, Action::Play { prompts, .. } if prompts == &[PathBuf::from("p/enter_pin.wav")])));
        assert_eq!(joined(&out), None);
        assert_eq!(m.poll_timeout(), Some(r.now.instant + PIN_TIMEOUT));
        assert_eq!(joined(&r.keys(&mut m, "424")), None);
        let out = r.keys(&mut m, "2#");
        assert_eq!(
            out[0],
            Action::StopPlay {
                leg: LegId::CALLER,
                id: PROMPT_PLAY
            }
        );
        assert_eq!(joined(&out), Some(RoomRole::Moderator));
        let mut g = app(Some("4242"));
        r.feed(&mut g, LegEvent::Incoming { offer: None });
        assert_eq!(joined(&r.keys(&mut g, "#")), Some(RoomRole::Guest));
    }

    #[test]
    fn wrong_pin_is_asked_again_then_guest() {
        let r = Run::new();
        let mut a = app(Some("1"));
        r.feed(&mut a, LegEvent::Incoming { offer: None });
        let out = r.keys(&mut a, "9#");
        assert_eq!(joined(&out), None);
        assert!(out
            .iter()
            .any(|a| matches!(a, Action::Play { prompts, .. } if prompts.len() == 2)));
        assert_eq!(joined(&r.keys(&mut a, "8#")), None);
        assert_eq!(joined(&r.keys(&mut a, "7#")), Some(RoomRole::Guest));
    }

    #[test]
    fn pin_timeout_joins_as_guest() {
        let mut r = Run::new();
        let mut a = app(Some("1"));
        r.feed(&mut a, LegEvent::Incoming { offer: None });
        assert!(r.feed(&mut a, LegEvent::Timer).is_empty(), "not due yet");
        r.now = r.now.at(r.now.instant + PIN_TIMEOUT);
        assert_eq!(
            joined(&r.feed(&mut a, LegEvent::Timer)),
            Some(RoomRole::Guest)
        );
        assert_eq!(a.poll_timeout(), None);
    }

    #[test]
    fn moderator_star_codes() {
        let r = Run::new();
        let mut m = app(Some("1"));
        r.feed(&mut m, LegEvent::Incoming { offer: None });
        r.keys(&mut m, "1#");
        assert_eq!(
            ops(&r.keys(&mut m, "*6*6*5**7*9")),
            [
                RoomControl::MuteGuests,
                RoomControl::RequestUnmuteGuests,
                RoomControl::Lock(true),
                RoomControl::Key('*'),
                RoomControl::End,
            ]
        );
        assert!(
            ops(&r.keys(&mut m, "6")).is_empty(),
            "6 without * is no command"
        );
    }

    #[test]
    fn leaving() {
        let r = Run::new();
        let mut a = app(None);
        r.feed(&mut a, LegEvent::Incoming { offer: None });
        let out = r.feed(&mut a, LegEvent::RoomLeft(LegId::CALLER));
        assert_eq!(
            out,
            [
                Action::Hangup(LegId::CALLER),
                Action::Call(CallInput::Hangup(HangupCause::Normal, Side::Pbx))
            ]
        );
        assert!(r.feed(&mut a, LegEvent::Ended(LegId::CALLER)).is_empty());
        let mut b = app(Some("1"));
        r.feed(&mut b, LegEvent::Incoming { offer: None });
        assert_eq!(
            r.feed(&mut b, LegEvent::Ended(LegId::CALLER)),
            [Action::Call(CallInput::Hangup(
                HangupCause::Normal,
                Side::Caller
            ))]
        );
    }
}
