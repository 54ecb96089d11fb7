//! Repeat callers (SPEC §11) as a pure function over inbound calls.
//!
//! Filters: the number matches exactly (no fragment, no fuzzy match); the
//! window is one of 1, 2, 3, 7, 14 days (rolling, ending now), up to the
//! configured maximum; the call count is a min–max range (inclusive,
//! default at least 2); a skill-group filter counts only the calls that
//! entered that group and were not answered by an agent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::{EventKind, QueueEvent};
use crate::ids::{CallId, QueueId};

/// One inbound call as the query sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundCall {
    /// The call.
    pub call: CallId,
    /// The caller's number.
    pub number: String,
    /// When it entered the first queue (Unix ms).
    pub at_unix_ms: u64,
    /// Queues it entered, in order.
    pub queues: Vec<QueueId>,
    /// Reached an agent.
    pub answered: bool,
}

/// The inbound calls in a stream of queue events.
pub fn inbound_calls(events: &[QueueEvent]) -> Vec<InboundCall> {
    let mut by_call: BTreeMap<CallId, usize> = BTreeMap::new();
    let mut out: Vec<InboundCall> = Vec::new();
    for e in events {
        let Some(call) = e.call else { continue };
        match &e.kind {
            EventKind::Enter { number, .. } => match by_call.get(&call) {
                Some(&i) => out[i].queues.extend(e.queue.clone()),
                None => {
                    by_call.insert(call, out.len());
                    out.push(InboundCall {
                        call,
                        number: number.clone(),
                        at_unix_ms: e.at_unix_ms,
                        queues: e.queue.clone().into_iter().collect(),
                        answered: false,
                    });
                }
            },
            EventKind::Connect { .. } | EventKind::CallbackConnected { .. } => {
                if let Some(&i) = by_call.get(&call) {
                    out[i].answered = true;
                }
            }
            _ => {}
        }
    }
    out
}

/// The query window.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub enum Window {
    /// Within 1 day (default).
    #[default]
    Day1,
    /// Within 2 days.
    Days2,
    /// Within 3 days.
    Days3,
    /// Within 7 days.
    Days7,
    /// Within 14 days.
    Days14,
}

impl Window {
    /// Length in days.
    pub fn days(self) -> u32 {
        match self {
            Self::Day1 => 1,
            Self::Days2 => 2,
            Self::Days3 => 3,
            Self::Days7 => 7,
            Self::Days14 => 14,
        }
    }
}

impl TryFrom<u32> for Window {
    type Error = RepeatError;

    fn try_from(d: u32) -> Result<Self, Self::Error> {
        Ok(match d {
            1 => Self::Day1,
            2 => Self::Days2,
            3 => Self::Days3,
            7 => Self::Days7,
            14 => Self::Days14,
            _ => return Err(RepeatError::Days(d)),
        })
    }
}

impl From<Window> for u32 {
    fn from(w: Window) -> Self {
        w.days()
    }
}

/// A query that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepeatError {
    /// Not one of 1, 2, 3, 7, 14.
    #[error("query days {0}: choose 1, 2, 3, 7 or 14")]
    Days(u32),
    /// Beyond the configured maximum.
    #[error("query days {asked}: the maximum is {max}")]
    BeyondMax {
        /// Asked.
        asked: u32,
        /// Allowed.
        max: u32,
    },
    /// min > max.
    #[error("call count range {min}-{max} is empty")]
    Range {
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
}

/// The filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepeatQuery {
    /// Window.
    pub window: Window,
    /// Exact number.
    pub number: Option<String>,
    /// Skill group in which the calls went unanswered.
    pub skill_group: Option<QueueId>,
    /// Fewest calls (default 2).
    pub min: Option<u32>,
    /// Most calls.
    pub max: Option<u32>,
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatCaller {
    /// The number.
    pub number: String,
    /// Calls in the window.
    pub count: u32,
    /// First call (Unix ms).
    pub first_at_unix_ms: u64,
    /// Last call (Unix ms).
    pub last_at_unix_ms: u64,
    /// Skill groups entered.
    pub skill_groups: Vec<QueueId>,
    /// Answered calls.
    pub answered: u32,
    /// Unanswered calls.
    pub unanswered: u32,
}

/// Runs the query at `now_unix_ms`; rows by descending count, then number.
pub fn repeat_callers(
    calls: &[InboundCall],
    now_unix_ms: u64,
    max_window: Window,
    q: &RepeatQuery,
) -> Result<Vec<RepeatCaller>, RepeatError> {
    if q.window > max_window {
        return Err(RepeatError::BeyondMax {
            asked: q.window.days(),
            max: max_window.days(),
        });
    }
    let min = q.min.unwrap_or(2);
    if let Some(max) = q.max {
        if min > max {
            return Err(RepeatError::Range { min, max });
        }
    }
    let since = now_unix_ms.saturating_sub(u64::from(q.window.days()) * 86_400_000);
    let mut rows: BTreeMap<&str, RepeatCaller> = BTreeMap::new();
    for c in calls {
        if c.at_unix_ms <= since || c.at_unix_ms > now_unix_ms {
            continue;
        }
        if q.number.as_deref().is_some_and(|n| n != c.number) {
            continue;
        }
        if let Some(g) = &q.skill_group {
            if c.answered || !c.queues.contains(g) {
                continue;
            }
        }
        let row = rows.entry(&c.number).or_insert_with(|| RepeatCaller {
            number: c.number.clone(),
            count: 0,
            first_at_unix_ms: c.at_unix_ms,
            last_at_unix_ms: c.at_unix_ms,
            skill_groups: Vec::new(),
            answered: 0,
            unanswered: 0,
        });
        row.count += 1;
        row.first_at_unix_ms = row.first_at_unix_ms.min(c.at_unix_ms);
        row.last_at_unix_ms = row.last_at_unix_ms.max(c.at_unix_ms);
        for g in &c.queues {
            if !row.skill_groups.contains(g) {
                row.skill_groups.push(g.clone());
            }
        }
        if c.answered {
            row.answered += 1;
        } else {
            row.unanswered += 1;
        }
    }
    let mut out: Vec<RepeatCaller> = rows
        .into_values()
        .filter(|r| r.count >= min && q.max.is_none_or(|m| r.count <= m))
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.number.cmp(&b.number)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000_000;
    const H: u64 = 3_600_000;

    fn call(n: u64, number: &str, hours_ago: u64, answered: bool) -> InboundCall {
        InboundCall {
            call: CallId(n),
            number: number.into(),
            at_unix_ms: NOW - hours_ago * H,
            queues: vec![QueueId::from("g")],
            answered,
        }
    }

    #[test]
    fn spec_11_acceptance() {
        let calls = vec![
            call(1, "+8613800138000", 40, false),
            call(2, "+8613800138000", 20, true),
            call(3, "+8613800138000", 1, false),
            call(4, "+8613900000000", 1, false),
        ];
        let q = |days: u32, min, max| RepeatQuery {
            window: Window::try_from(days).unwrap(),
            min,
            max,
            ..RepeatQuery::default()
        };
        let r = repeat_callers(&calls, NOW, Window::Days14, &q(2, Some(3), Some(5))).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].number.as_str(),
                r[0].count,
                r[0].answered,
                r[0].unanswered
            ),
            ("+8613800138000", 3, 1, 2)
        );
        assert!(
            repeat_callers(&calls, NOW, Window::Days14, &q(2, Some(4), Some(5)))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            repeat_callers(&calls, NOW, Window::Days14, &q(1, None, None)).unwrap()[0].count,
            2,
            "1 day: the 40 h old call is out"
        );
        let fragment = RepeatQuery {
            number: Some("3800138".into()),
            ..q(2, None, None)
        };
        assert!(
            repeat_callers(&calls, NOW, Window::Days14, &fragment)
                .unwrap()
                .is_empty(),
            "exact match only"
        );
        let exact = RepeatQuery {
            number: Some("+8613800138000".into()),
            ..q(2, None, None)
        };
        assert_eq!(
            repeat_callers(&calls, NOW, Window::Days14, &exact)
                .unwrap()
                .len(),
            1
        );
        let unanswered_in_g = RepeatQuery {
            skill_group: Some(QueueId::from("g")),
            ..q(2, None, None)
        };
        assert_eq!(
            repeat_callers(&calls, NOW, Window::Days14, &unanswered_in_g).unwrap()[0].count,
            2
        );
    }

    #[test]
    fn bad_queries_are_errors() {
        assert_eq!(Window::try_from(5), Err(RepeatError::Days(5)));
        let q = RepeatQuery {
            window: Window::Days14,
            ..RepeatQuery::default()
        };
        assert!(matches!(
            repeat_callers(&[], NOW, Window::Days7, &q),
            Err(RepeatError::BeyondMax { asked: 14, max: 7 })
        ));
        let q = RepeatQuery {
            min: Some(5),
            max: Some(3),
            ..RepeatQuery::default()
        };
        assert!(matches!(
            repeat_callers(&[], NOW, Window::Days7, &q),
            Err(RepeatError::Range { .. })
        ));
    }
}
