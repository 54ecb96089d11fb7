//! The TOML form of `[[dialplan]]` entries and its validation. Every error
//! carries the byte offset of the offending value; `config` turns it into
//! `file:line:column`.
//!
//! ```toml
//! [[dialplan]]
//! extension = "1001"           # or prefix = "9", or regex = "^0(\\d+)$"
//! type = "user"                # user | trunk | conference | ivr | queue
//! user = "1001"                # user: the extension (default: the dialed number)
//! # trunk = "carrier"  number = "+49$1"  strip = 1        (trunk)
//! # room = "800"  moderator_pin = "1234"                  (conference)
//! # flow = "main"                                         (ivr)
//! # queue = "sales"                                       (queue)
//! # days = ["mon", "tue"]  time = "09:00-17:00"           (conditions)
//! # caller_id_number = "+4930123$1"  caller_id_name = "Sales"  privacy = true
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::{CallerId, Condition, Entry, Pattern, Target, Weekday};

/// Longest `caller_id_name` (a display name, RFC 3261 §25.1).
const MAX_NAME: usize = 64;

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    extension: Option<Spanned<String>>,
    prefix: Option<Spanned<String>>,
    regex: Option<Spanned<String>>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    user: Option<String>,
    trunk: Option<String>,
    number: Option<String>,
    strip: Option<usize>,
    room: Option<String>,
    moderator_pin: Option<String>,
    flow: Option<String>,
    queue: Option<String>,
    /// Caller priority of a queue target.
    priority: Option<u8>,
    #[serde(default)]
    days: Vec<Spanned<String>>,
    time: Option<Spanned<String>>,
    caller_id_number: Option<Spanned<String>>,
    caller_id_name: Option<Spanned<String>>,
    privacy: Option<bool>,
    /// Recording policy of the entry's calls.
    recording: Option<Spanned<String>>,
}

impl RawEntry {
    /// The entry's `recording` word with its offset.
    pub fn recording_at(&self) -> Option<(&str, usize)> {
        self.recording
            .as_ref()
            .map(|r| (r.get_ref().as_str(), r.span().start))
    }

    /// The flow of a `type = "ivr"` entry with the offset of its `type`.
    pub fn ivr_flow(&self) -> Option<(&str, usize)> {
        (self.kind.get_ref() == "ivr")
            .then(|| self.flow.as_deref().map(|f| (f, self.kind.span().start)))
            .flatten()
    }
}

/// A validation error at a byte offset of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawError {
    /// Byte offset of the value.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn at<T>(s: &Spanned<T>, message: impl Into<String>) -> RawError {
    RawError {
        offset: s.span().start,
        message: message.into(),
    }
}

/// Validates the entries (file order kept).
pub fn build(raw: &[RawEntry]) -> Result<Vec<Entry>, RawError> {
    raw.iter().map(build_entry).collect()
}

fn build_entry(r: &RawEntry) -> Result<Entry, RawError> {
    let pattern = match (&r.extension, &r.prefix, &r.regex) {
        (Some(x), None, None) => Pattern::Exact(x.get_ref().clone()),
        (None, Some(p), None) => Pattern::Prefix(p.get_ref().clone()),
        (None, None, Some(re)) => Pattern::Regex(
            regex::Regex::new(re.get_ref()).map_err(|e| at(re, format!("bad regex: {e}")))?,
        ),
        _ => {
            return Err(at(
                &r.kind,
                "a dialplan entry needs exactly one of `extension`, `prefix`, `regex`",
            ))
        }
    };
    let need = |v: &Option<String>, key: &str| {
        v.clone().ok_or_else(|| {
            at(
                &r.kind,
                format!("type `{}` needs `{key}`", r.kind.get_ref()),
            )
        })
    };
    let target = match r.kind.get_ref().as_str() {
        "user" => Target::User(r.user.clone().unwrap_or_else(|| match &pattern {
            Pattern::Exact(x) => x.clone(),
            _ => "$0".to_owned(),
        })),
        "trunk" => Target::Trunk {
            trunk: need(&r.trunk, "trunk")?,
            number: r.number.clone(),
            strip: r.strip.unwrap_or(0),
        },
        "conference" => Target::Conference {
            room: r.room.clone().unwrap_or_else(|| match &pattern {
                Pattern::Exact(x) => x.clone(),
                _ => String::new(),
            }),
            moderator_pin: r.moderator_pin.clone(),
        },
        "ivr" => Target::Ivr {
            flow: need(&r.flow, "flow")?,
        },
        "queue" => Target::Queue {
            queue: need(&r.queue, "queue")?,
            priority: r.priority.unwrap_or(0),
        },
        other => {
            return Err(at(
                &r.kind,
                format!(
                    "unknown dialplan target type `{other}`: use \"user\", \"trunk\", \"conference\", \"ivr\" or \"queue\""
                ),
            ))
        }
    };
    if let Target::Conference { room, .. } = &target {
        if room.is_empty() {
            return Err(at(&r.kind, "type `conference` needs `room`"));
        }
    }
    let caller_id = caller_id(r, &pattern)?;
    let recording = match &r.recording {
        None => None,
        Some(p) => Some(super::RecordingPolicy::parse(p.get_ref()).ok_or_else(|| {
            at(
                p,
                format!(
                    "dialplan recording `{}`: use \"always\", \"never\" or \"on_demand\"",
                    p.get_ref()
                ),
            )
        })?),
    };
    Ok(Entry {
        pattern,
        target,
        condition: condition(r)?,
        caller_id,
        recording,
    })
}

/// `caller_id_number`, `caller_id_name`, `privacy`: a number is digits,
/// letters and `+*#._-` (a SIP user part, RFC 3261 §25.1, without escapes),
/// a name has no quote, backslash or control character; both may use the
/// `$n` captures the pattern has (`$0`: the dialed number).
fn caller_id(r: &RawEntry, pattern: &Pattern) -> Result<CallerId, RawError> {
    let groups = match pattern {
        Pattern::Regex(re) => re.captures_len() - 1,
        _ => 0,
    };
    let captures_ok = |s: &Spanned<String>, key: &str| -> Result<(), RawError> {
        let mut chars = s.get_ref().chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                continue;
            }
            match chars.next().and_then(|d| d.to_digit(10)) {
                Some(n) if n as usize <= groups => {}
                Some(n) => {
                    return Err(at(
                        s,
                        format!("{key}: `${n}` but the pattern has {groups} capture group(s)"),
                    ))
                }
                None => return Err(at(s, format!("{key}: `$` must be followed by a digit"))),
            }
        }
        Ok(())
    };
    if let Some(n) = &r.caller_id_number {
        captures_ok(n, "caller_id_number")?;
        let bad = n.get_ref().chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '.' | '_' | '-' | '$'))
        });
        if n.get_ref().is_empty() || bad.is_some() {
            return Err(at(
                n,
                format!(
                    "caller_id_number must be digits, letters and + * # . _ - (with $n captures){}",
                    bad.map(|c| format!(", not {c:?}")).unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(name) = &r.caller_id_name {
        captures_ok(name, "caller_id_name")?;
        let text = name.get_ref();
        if text.trim().is_empty()
            || text.chars().count() > MAX_NAME
            || text
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Err(at(
                name,
                format!("caller_id_name must be 1 to {MAX_NAME} characters without quotes, backslashes or control characters"),
            ));
        }
    }
    Ok(CallerId {
        number: r.caller_id_number.as_ref().map(|s| s.get_ref().clone()),
        name: r.caller_id_name.as_ref().map(|s| s.get_ref().clone()),
        privacy: r.privacy.unwrap_or(false),
    })
}

fn condition(r: &RawEntry) -> Result<Condition, RawError> {
    let mut days = Vec::new();
    for d in &r.days {
        let day = match d.get_ref().to_ascii_lowercase().as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            other => return Err(at(d, format!("unknown day `{other}`: use mon..sun"))),
        };
        days.push(day);
    }
    let time = match &r.time {
        None => None,
        Some(t) => Some(
            parse_range(t.get_ref())
                .ok_or_else(|| at(t, "time must be \"HH:MM-HH:MM\" (24 h, end exclusive)"))?,
        ),
    };
    Ok(Condition { days, time })
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    Some((parse_hm(a.trim())?, parse_hm(b.trim())?))
}

fn parse_hm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}
