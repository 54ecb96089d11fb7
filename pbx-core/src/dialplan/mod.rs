//! The dial plan (`[[dialplan]]` entries): what a dialed number means. Each
//! entry has one pattern (an exact extension, a prefix, or a regex whose
//! captures `$1`..`$9` may be used in the target) and one typed target: a
//! local user, a trunk, a conference room, an IVR flow or a queue. Entries are
//! tried in file order; the first match wins. With no entry matching, a
//! dialed number that names a local user goes to that user (the implicit
//! extension plan), so a config without `[[dialplan]]` behaves as before.
//!
//! An entry may also set the caller id presented on the legs pbx places
//! for it ([`CallerId`]: number and name templates, RFC 3323 privacy).
//!
//! Unknown target types are configuration errors with `file:line:column`
//! (see [`raw`]); IVR and queue targets validate today and are answered with
//! 501 / 480 until their features land.

pub mod raw;
mod recording_policy;
pub use recording_policy::RecordingPolicy;
#[cfg(test)]
mod tests;

use regex::Regex;

/// How an entry matches the dialed number.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pattern {
    /// The whole number, e.g. an extension `1001`.
    Exact(String),
    /// A leading part, e.g. `9` for an outside line.
    Prefix(String),
    /// A regular expression (anchored by the author); captures feed `$n`.
    Regex(Regex),
}

/// Where a matching call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A local user (extension); the name may use `$n` captures.
    User(String),
    /// A SIP trunk by name, dialing `number` (with `$n` captures, after `strip`).
    Trunk {
        /// Trunk name (trunks themselves are configured in a later issue).
        trunk: String,
        /// Number template; `None`: the dialed number after `strip`.
        number: Option<String>,
        /// Leading digits removed from the dialed number (prefix routes).
        strip: usize,
    },
    /// A conference room of the mixer.
    Conference {
        /// Room number.
        room: String,
        /// PIN that makes a participant the moderator.
        moderator_pin: Option<String>,
    },
    /// An IVR flow.
    Ivr {
        /// Flow name.
        flow: String,
    },
    /// A skill-group queue.
    Queue {
        /// Queue name.
        queue: String,
        /// Caller priority in the queue (0 default; higher is served sooner).
        priority: u8,
    },
}

/// Day of the week, Monday first (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// The weekday of a Unix time (1970-01-01 was a Thursday).
    pub fn of_unix_secs(secs: i64) -> Self {
        const DAYS: [Weekday; 7] = [
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
        ];
        DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize]
    }
}

/// When an entry applies (all given parts must hold), in the dial plan's
/// UTC offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// Days the entry applies on (empty: every day).
    pub days: Vec<Weekday>,
    /// Minutes after midnight `[from, to)`; `from > to` wraps past midnight.
    pub time: Option<(u16, u16)>,
}

impl Condition {
    /// Whether the condition holds at local Unix seconds `local_secs`.
    pub fn holds(&self, local_secs: i64) -> bool {
        if !self.days.is_empty() && !self.days.contains(&Weekday::of_unix_secs(local_secs)) {
            return false;
        }
        match self.time {
            None => true,
            Some((from, to)) => {
                let minute = (local_secs.rem_euclid(86_400) / 60) as u16;
                if from <= to {
                    (from..to).contains(&minute)
                } else {
                    minute >= from || minute < to
                }
            }
        }
    }
}

/// Caller-id presentation of an entry (`caller_id_number`,
/// `caller_id_name`, `privacy`): what the parties pbx calls for the route
/// see of the caller. In an [`Entry`] the number and name are templates
/// (`$n` captures of the dialed number); in a [`Routed`] they are expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    /// The number (user part of From); None: the caller's own.
    pub number: Option<String>,
    /// The display name; None: the caller's own.
    pub name: Option<String>,
    /// Privacy requested (RFC 3323 §4.1 `id`): From becomes
    /// `"Anonymous" <sip:anonymous@anonymous.invalid>`, `Privacy: id` is
    /// added, and the identity travels in `P-Asserted-Identity` only to
    /// trusted trunks (RFC 3325 §5).
    pub privacy: bool,
}

impl CallerId {
    /// Whether the caller is shown as they are.
    pub fn is_unchanged(&self) -> bool {
        *self == Self::default()
    }
}

/// One `[[dialplan]]` entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What it matches.
    pub pattern: Pattern,
    /// Where it sends the call.
    pub target: Target,
    /// When it applies.
    pub condition: Condition,
    /// How the caller is presented on the route's legs (templates).
    pub caller_id: CallerId,
    /// The entry's recording policy (`recording = "always" | "never" |
    /// "on_demand"`; None: the other levels decide).
    pub recording: Option<RecordingPolicy>,
}

/// A dialed number resolved by the dial plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// Where the call goes.
    pub route: Route,
    /// How the caller is presented (templates expanded).
    pub caller_id: CallerId,
}

/// The result of routing a dialed number: the target with captures applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// Ring this local user.
    User(String),
    /// Send `number` out through `trunk`.
    Trunk {
        /// Trunk name.
        trunk: String,
        /// Number to dial on the trunk.
        number: String,
    },
    /// Join a conference room.
    Conference {
        /// Room number.
        room: String,
        /// Moderator PIN.
        moderator_pin: Option<String>,
    },
    /// Run an IVR flow.
    Ivr(String),
    /// Enter a queue with a caller priority.
    Queue {
        /// The queue.
        queue: String,
        /// Caller priority (0 default).
        priority: u8,
    },
}

/// The whole dial plan.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    /// Entries in file order.
    pub entries: Vec<Entry>,
    /// Offset of the local time used by conditions, in seconds east of UTC.
    pub utc_offset_secs: i32,
}

impl Dialplan {
    /// The route of `dialed` at Unix time `unix_secs`: the first entry that
    /// matches and whose condition holds; `None` leaves it to the implicit
    /// extension plan.
    pub fn route(&self, dialed: &str, unix_secs: u64) -> Option<Route> {
        self.lookup(dialed, unix_secs).map(|r| r.route)
    }

    /// The first entry that routes `dialed` at `unix_secs` (what
    /// [`Self::lookup`] resolves).
    pub fn entry_for(&self, dialed: &str, unix_secs: u64) -> Option<&Entry> {
        let local = unix_secs as i64 + i64::from(self.utc_offset_secs);
        self.entries
            .iter()
            .filter(|e| e.condition.holds(local))
            .find(|e| e.resolve(dialed).is_some())
    }

    /// Like [`Self::route`], with the entry's caller-id presentation.
    pub fn lookup(&self, dialed: &str, unix_secs: u64) -> Option<Routed> {
        let local = unix_secs as i64 + i64::from(self.utc_offset_secs);
        self.entries
            .iter()
            .filter(|e| e.condition.holds(local))
            .find_map(|e| e.resolve(dialed))
    }
}

impl Entry {
    /// The route of `dialed` if this entry's pattern matches.
    pub fn apply(&self, dialed: &str) -> Option<Route> {
        self.resolve(dialed).map(|r| r.route)
    }

    /// The route and the presentation of `dialed` if the pattern matches.
    pub fn resolve(&self, dialed: &str) -> Option<Routed> {
        let captures: Vec<String> = match &self.pattern {
            // `$0` is the whole dialed number for every kind of pattern.
            Pattern::Exact(x) => (x == dialed).then(|| vec![dialed.to_owned()])?,
            Pattern::Prefix(p) => dialed
                .starts_with(p.as_str())
                .then(|| vec![dialed.to_owned()])?,
            Pattern::Regex(re) => {
                let caps = re.captures(dialed)?;
                caps.iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_owned()))
                    .collect()
            }
        };
        let expand = |t: &str| expand(t, &captures);
        let caller_id = CallerId {
            number: self.caller_id.number.as_deref().map(expand),
            name: self.caller_id.name.as_deref().map(expand),
            privacy: self.caller_id.privacy,
        };
        let route = match &self.target {
            Target::User(u) => Route::User(expand(u)),
            Target::Trunk {
                trunk,
                number,
                strip,
            } => Route::Trunk {
                trunk: trunk.clone(),
                number: match number {
                    Some(n) => expand(n),
                    None => dialed.get(*strip..).unwrap_or("").to_owned(),
                },
            },
            Target::Conference {
                room,
                moderator_pin,
            } => Route::Conference {
                room: room.clone(),
                moderator_pin: moderator_pin.clone(),
            },
            Target::Ivr { flow } => Route::Ivr(flow.clone()),
            Target::Queue { queue, priority } => Route::Queue {
                queue: queue.clone(),
                priority: *priority,
            },
        };
        Some(Routed { route, caller_id })
    }
}

/// Replaces `$0`..`$9` in `template` with regex captures (missing ones: empty).
pub fn expand(template: &str, captures: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                chars.next();
                if let Some(s) = captures.get(d as usize) {
                    out.push_str(s);
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}
