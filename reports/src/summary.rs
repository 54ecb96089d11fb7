//! The summary tables: additive figures per 30-minute slot and a few
//! dimensions, one table per report family. A summary row is a key (slot
//! start in Unix ms, dimension values) and integer metrics, each merged by
//! sum, min or max — so rows of any slots can be added up into any period,
//! and a report over a month reads a few thousand rows instead of a million
//! calls. The same [`Cube`] holds rows per slot (written to SQLite) and rows
//! per report period (read back, plus the raw tail).

use std::collections::HashMap;

/// How a metric of two rows with the same key merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Added.
    Sum,
    /// The smaller kept (worst MOS).
    Min,
    /// The larger kept (max loss, max jitter).
    Max,
}

/// Which summary table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Calls by direction, service number and trunk.
    Calls,
    /// Calls by direction and caller/callee region.
    Regions,
    /// Queue visits by skill group.
    Queues,
    /// Agent workload, pickup, survey and resolution figures.
    Agents,
    /// Tagged calls by tag.
    Tags,
    /// Leg quality by trunk and agent.
    Quality,
}

/// A summary table's shape.
#[derive(Debug)]
pub struct TableDef {
    /// Which.
    pub kind: Kind,
    /// Its SQLite table.
    pub sql: &'static str,
    /// Dimension columns (TEXT, '' for none).
    pub dims: &'static [&'static str],
    /// Metric columns (INTEGER) and how they merge.
    pub metrics: &'static [(&'static str, Op)],
}

use Op::{Max, Min, Sum};

/// Metric positions of [`Kind::Calls`] and [`Kind::Regions`].
pub mod calls {
    /// Calls.
    pub const CALLS: usize = 0;
    /// Inbound: connected to an agent; outbound: answered by the callee.
    pub const ANSWERED: usize = 1;
    /// Inbound: caller hung up while queued.
    pub const ABANDONED: usize = 2;
    /// Talk of answered calls (ms).
    pub const TALK_MS: usize = 3;
}

/// Metric positions of [`Kind::Queues`].
pub mod queues {
    /// Calls that entered the queue.
    pub const OFFERED: usize = 0;
    /// Connected to an agent.
    pub const ANSWERED: usize = 1;
    /// Hung up while queued.
    pub const ABANDONED: usize = 2;
    /// Left without an agent (timeout, full, empty).
    pub const OVERFLOWED: usize = 3;
    /// Answered with wait ≤ 15 s (then 20 s, 30 s at +1, +2).
    pub const WITHIN_15: usize = 4;
    /// Answered with wait ≤ the queue's threshold T, as configured when the
    /// slot was aggregated: after changing `service_level_s`, rebuild older
    /// slots (`pbx report aggregate --from --to`).
    pub const WITHIN_T: usize = 7;
    /// Σ wait of answered calls (ms).
    pub const ANSWERED_WAIT_MS: usize = 8;
    /// Σ wait of abandoned calls (ms).
    pub const ABANDONED_WAIT_MS: usize = 9;
    /// Σ talk of answered calls (ms).
    pub const TALK_MS: usize = 10;
    /// Answered calls judged for one-call resolution.
    pub const OCR_ANSWERED: usize = 11;
    /// Of those, resolved.
    pub const OCR_RESOLVED: usize = 12;
}

/// Metric positions of [`Kind::Agents`].
pub mod agents {
    /// Offers presented (the agent was rung).
    pub const PRESENTED: usize = 0;
    /// Offers answered within 15 s of ringing (then 20 s, 30 s at +1, +2).
    pub const PICKED_15: usize = 1;
    /// Offers answered at all.
    pub const PICKED: usize = 4;
    /// Logins.
    pub const LOGINS: usize = 5;
    /// Inbound (queue) calls answered.
    pub const IN_ANSWERED: usize = 6;
    /// Talk (hold included) of inbound calls (ms).
    pub const IN_TALK_MS: usize = 7;
    /// Wrap-up (after-call work) of inbound calls (ms).
    pub const IN_WRAP_MS: usize = 8;
    /// Outbound calls placed.
    pub const OUT_ATTEMPTS: usize = 9;
    /// Outbound calls answered.
    pub const OUT_ANSWERED: usize = 10;
    /// Talk of outbound calls (ms).
    pub const OUT_TALK_MS: usize = 11;
    /// Outbound billing minutes, each call rounded up.
    pub const BILLING_MIN: usize = 12;
    /// Survey transfers of inbound calls (then outbound, inbound-transferred at +1, +2).
    pub const SURVEY_IN: usize = 13;
    /// Survey answers with a valid score.
    pub const SURVEY_RESPONSES: usize = 16;
    /// Of those, satisfied.
    pub const SURVEY_SATISFIED: usize = 17;
    /// Σ scores.
    pub const SURVEY_SCORE_SUM: usize = 18;
    /// Answered calls judged for one-call resolution.
    pub const OCR_ANSWERED: usize = 19;
    /// Of those, resolved.
    pub const OCR_RESOLVED: usize = 20;
}

/// Metric positions of [`Kind::Quality`].
pub mod quality {
    /// Legs with quality figures.
    pub const LEGS: usize = 0;
    /// Σ average MOS × 1000.
    pub const MOS_SUM: usize = 1;
    /// Worst MOS × 1000.
    pub const MOS_WORST: usize = 2;
    /// Σ max loss % × 1000.
    pub const LOSS_SUM: usize = 3;
    /// Max loss % × 1000.
    pub const LOSS_MAX: usize = 4;
    /// Σ max jitter ms × 1000.
    pub const JITTER_SUM: usize = 5;
    /// Max jitter ms × 1000.
    pub const JITTER_MAX: usize = 6;
}

const CALL_METRICS: &[(&str, Op)] = &[
    ("calls", Sum),
    ("answered", Sum),
    ("abandoned", Sum),
    ("talk_ms", Sum),
];

/// Every summary table.
pub const TABLES: [TableDef; 6] = [
    TableDef {
        kind: Kind::Calls,
        sql: "rpt_calls",
        dims: &["dir", "service", "trunk"],
        metrics: CALL_METRICS,
    },
    TableDef {
        kind: Kind::Regions,
        sql: "rpt_regions",
        dims: &["dir", "region"],
        metrics: CALL_METRICS,
    },
    TableDef {
        kind: Kind::Queues,
        sql: "rpt_queues",
        dims: &["queue"],
        metrics: &[
            ("offered", Sum),
            ("answered", Sum),
            ("abandoned", Sum),
            ("overflowed", Sum),
            ("within_15", Sum),
            ("within_20", Sum),
            ("within_30", Sum),
            ("within_t", Sum),
            ("answered_wait_ms", Sum),
            ("abandoned_wait_ms", Sum),
            ("talk_ms", Sum),
            ("ocr_answered", Sum),
            ("ocr_resolved", Sum),
        ],
    },
    TableDef {
        kind: Kind::Agents,
        sql: "rpt_agents",
        dims: &["agent"],
        metrics: &[
            ("presented", Sum),
            ("picked_15", Sum),
            ("picked_20", Sum),
            ("picked_30", Sum),
            ("picked", Sum),
            ("logins", Sum),
            ("in_answered", Sum),
            ("in_talk_ms", Sum),
            ("in_wrap_ms", Sum),
            ("out_attempts", Sum),
            ("out_answered", Sum),
            ("out_talk_ms", Sum),
            ("billing_min", Sum),
            ("survey_in", Sum),
            ("survey_out", Sum),
            ("survey_transferred", Sum),
            ("survey_responses", Sum),
            ("survey_satisfied", Sum),
            ("survey_score_sum", Sum),
            ("ocr_answered", Sum),
            ("ocr_resolved", Sum),
        ],
    },
    TableDef {
        kind: Kind::Tags,
        sql: "rpt_tags",
        dims: &["tag"],
        metrics: &[("calls", Sum)],
    },
    TableDef {
        kind: Kind::Quality,
        sql: "rpt_quality",
        dims: &["trunk", "agent"],
        metrics: &[
            ("legs", Sum),
            ("mos_sum", Sum),
            ("mos_worst", Min),
            ("loss_sum", Sum),
            ("loss_max", Max),
            ("jitter_sum", Sum),
            ("jitter_max", Max),
        ],
    },
];

/// The definition of `kind`.
pub fn def(kind: Kind) -> &'static TableDef {
    TABLES
        .iter()
        .find(|t| t.kind == kind)
        .expect("every kind has a table")
}

/// A row key: slot (or period) and dimension values.
pub type Key = (i64, Vec<String>);

/// Rows of one summary table, keyed by slot or period.
#[derive(Debug, Clone)]
pub struct Cube {
    /// Which table.
    pub kind: Kind,
    /// The rows.
    pub rows: HashMap<Key, Vec<i64>>,
}

impl Cube {
    /// An empty cube.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            rows: HashMap::new(),
        }
    }

    /// Adds one row's metrics (as many as the table has; missing ones are 0).
    pub fn add(&mut self, key: Key, values: &[i64]) {
        let def = def(self.kind);
        match self.rows.get_mut(&key) {
            Some(row) => {
                for ((v, (_, op)), new) in row.iter_mut().zip(def.metrics).zip(values) {
                    *v = match op {
                        Op::Sum => *v + new,
                        Op::Min => (*v).min(*new),
                        Op::Max => (*v).max(*new),
                    };
                }
            }
            None => {
                let mut row = vec![0; def.metrics.len()];
                row[..values.len()].copy_from_slice(values);
                self.rows.insert(key, row);
            }
        }
    }

    /// Adds one to metric `i` (other metrics 0) — for Sum tables only.
    pub fn bump(&mut self, slot: i64, dims: Vec<String>, i: usize, by: i64) {
        let n = def(self.kind).metrics.len();
        let row = self.rows.entry((slot, dims)).or_insert_with(|| vec![0; n]);
        row[i] += by;
    }

    /// Adds every row of `other` (same kind).
    pub fn merge(&mut self, other: Self) {
        for (k, v) in other.rows {
            self.add(k, &v);
        }
    }

    /// The rows re-keyed by `period(slot)` and merged; rows for which
    /// `period` gives None are dropped.
    pub fn by_period(&self, period: impl Fn(i64) -> Option<i64>) -> Self {
        let mut out = Self::new(self.kind);
        for ((slot, dims), v) in &self.rows {
            if let Some(p) = period(*slot) {
                out.add((p, dims.clone()), v);
            }
        }
        out
    }
}

/// The floor of `ms` to its slot.
pub fn slot_of(ms: i64) -> i64 {
    ms.div_euclid(crate::settings::SLOT_MS) * crate::settings::SLOT_MS
}
