//! The report catalog of SPEC §13.1: each report is a [`Table`] computed
//! from summed summary rows ([`Source`]) with the formulas of SPEC
//! §13.2/§13.3. Half-hour reports show only slots inside the working hours
//! and divide by `days_in_interval` (calendar days of the range, both ends
//! inclusive, SPEC §13.4). Agent rows follow the viewer's scope (SPEC §2).

use std::collections::BTreeMap;

use crate::db::{DimFilter, Period, ReportDb};

mod calls;
mod people;

use crate::settings::{ReportSettings, Viewer, DAY_MS, SLOT_MS};
use crate::summary::{calls as ca, Cube, Kind};
use crate::value::{avg_seconds, ratio, Cell, Unit};
use crate::{Error, Result};
pub use calls::days_in_interval;
use calls::{by_dim, inbound_trend, outbound_regions, outbound_trend, slots};
pub use people::TOP_TAGS;
use people::{
    agent_workload, call_quality, call_tags, department_workload, one_call_resolution, queues,
    satisfaction,
};

/// A report query.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Start, Unix ms (inclusive).
    pub from_ms: i64,
    /// End, Unix ms (exclusive).
    pub to_ms: i64,
    /// Only this skill group.
    pub queue: Option<String>,
    /// Only this agent.
    pub agent: Option<String>,
    /// Only this trunk.
    pub trunk: Option<String>,
    /// How trends group time (None: hours for ranges up to 2 days, else days).
    pub by: Option<Period>,
    /// Who asks.
    pub viewer: Viewer,
}

impl Query {
    /// Checks the range.
    pub fn validate(&self) -> Result<()> {
        if self.from_ms >= self.to_ms {
            return Err(Error::Argument(
                "the range is empty: --from must be before --to".into(),
            ));
        }
        if self.to_ms - self.from_ms > 400 * DAY_MS {
            return Err(Error::Argument("the range is longer than 400 days".into()));
        }
        Ok(())
    }

    fn trend(&self) -> Period {
        self.by
            .unwrap_or(if self.to_ms - self.from_ms <= 2 * DAY_MS {
                Period::Hour
            } else {
                Period::Day
            })
    }
}

/// Where summed rows come from: the store ([`ReportDb`]) or, in tests, an
/// in-memory aggregation.
pub trait Source {
    /// Rows of `kind` for the range, grouped by `period`, filtered.
    fn cube(
        &self,
        kind: Kind,
        from_ms: i64,
        to_ms: i64,
        period: Period,
        filter: &DimFilter,
        s: &ReportSettings,
    ) -> Result<Cube>;
}

impl Source for ReportDb {
    fn cube(
        &self,
        kind: Kind,
        from_ms: i64,
        to_ms: i64,
        period: Period,
        filter: &DimFilter,
        s: &ReportSettings,
    ) -> Result<Cube> {
        ReportDb::cube(self, kind, from_ms, to_ms, period, filter, s)
    }
}

/// A chart's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Bars per category.
    Bar,
    /// Lines over time.
    Line,
}

/// What a table's chart draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    /// Bars or lines.
    pub kind: ChartKind,
    /// The column whose values label the x axis.
    pub x: usize,
    /// The columns drawn as series.
    pub series: Vec<usize>,
    /// A column splitting rows into one series per value (queue, trunk).
    pub group: Option<usize>,
}

/// A column: a stable key (CSV header, JSON field) and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// CSV/JSON name.
    pub key: &'static str,
    /// Terminal header.
    pub label: &'static str,
}

/// A computed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The report's name.
    pub report: &'static str,
    /// Title with the range.
    pub title: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
    /// The chart.
    pub chart: ChartSpec,
}

impl Table {
    /// The cell of `row` in the column keyed `key`.
    pub fn cell(&self, row: usize, key: &str) -> Option<&Cell> {
        let i = self.columns.iter().position(|c| c.key == key)?;
        self.rows.get(row)?.get(i)
    }

    /// The first row whose first cell is `label`.
    pub fn row_of(&self, label: &str) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| matches!(r.first(), Some(Cell::Text(t)) if t == label))
    }
}

/// A report of the catalog.
#[derive(Debug)]
pub struct Report {
    /// Its name (`pbx report NAME`, `/api/v1/reports/NAME`).
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
}

/// Every report.
pub const REPORTS: &[Report] = &[
    Report {
        name: "inbound-trend",
        about: "inbound calls and outcomes per hour/day",
    },
    Report {
        name: "service-numbers",
        about: "inbound calls and outcomes per service number",
    },
    Report {
        name: "inbound-slots",
        about: "inbound calls per half-hour of working hours, averaged per day",
    },
    Report {
        name: "inbound-regions",
        about: "inbound calls and outcomes per caller region",
    },
    Report {
        name: "queue-trend",
        about: "skill groups per hour/day: answer rates, service level, waits, talk",
    },
    Report {
        name: "queues",
        about: "skill-group comparison: answer rates, service level, waits, talk",
    },
    Report {
        name: "department-workload",
        about: "answered calls, AHT and outbound billing minutes per department",
    },
    Report {
        name: "agent-workload",
        about: "pickup rates, work days, AHT, billing minutes per agent",
    },
    Report {
        name: "agent-satisfaction",
        about: "survey results and survey transfers per agent",
    },
    Report {
        name: "outbound-trend",
        about: "outbound answer rate per half-hour of working hours",
    },
    Report {
        name: "outbound-regions",
        about: "outbound answer rate and talk per callee region",
    },
    Report {
        name: "one-call-resolution",
        about: "one-call resolution rate per agent and skill group",
    },
    Report {
        name: "call-tags",
        about: "top 10 call tags per day",
    },
    Report {
        name: "trunk-slots",
        about: "inbound calls per trunk and half-hour of working hours, averaged per day",
    },
    Report {
        name: "call-quality",
        about: "MOS, loss and jitter per day, trunk and agent",
    },
];

const fn col(key: &'static str, label: &'static str) -> Column {
    Column { key, label }
}

/// Computes report `name` for `q`.
pub fn run(name: &str, q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    q.validate()?;
    let r = REPORTS
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::UnknownReport(name.to_owned()))?;
    let mut t = match r.name {
        "inbound-trend" => inbound_trend(q, s, src)?,
        "service-numbers" => by_dim(
            q,
            s,
            src,
            Kind::Calls,
            "in",
            1,
            col("service_number", "service number"),
        )?,
        "inbound-regions" => by_dim(q, s, src, Kind::Regions, "in", 1, col("region", "region"))?,
        "inbound-slots" => slots(q, s, src, "in", false)?,
        "trunk-slots" => slots(q, s, src, "in", true)?,
        "outbound-trend" => outbound_trend(q, s, src)?,
        "outbound-regions" => outbound_regions(q, s, src)?,
        "queue-trend" => queues(q, s, src, q.trend())?,
        "queues" => queues(q, s, src, Period::Total)?,
        "agent-workload" => agent_workload(q, s, src)?,
        "department-workload" => department_workload(q, s, src)?,
        "agent-satisfaction" => satisfaction(q, s, src)?,
        "one-call-resolution" => one_call_resolution(q, s, src)?,
        "call-tags" => call_tags(q, s, src)?,
        _ => call_quality(q, s, src)?,
    };
    t.report = r.name;
    t.title = format!(
        "{} — {} to {}",
        r.about,
        label_ms(q.from_ms, s, false),
        label_ms(q.to_ms, s, false)
    );
    Ok(t)
}

fn filter(q: &Query, dir: Option<&str>) -> DimFilter {
    let mut f = DimFilter::default();
    if let Some(d) = dir {
        f.equal.push(("dir", d.to_owned()));
    }
    for (dim, v) in [
        ("queue", &q.queue),
        ("agent", &q.agent),
        ("trunk", &q.trunk),
    ] {
        if let Some(v) = v {
            f.equal.push((dim, v.clone()));
        }
    }
    f
}

fn table(columns: Vec<Column>, rows: Vec<Vec<Cell>>, chart: ChartSpec) -> Table {
    Table {
        report: "",
        title: String::new(),
        columns,
        rows,
        chart,
    }
}

/// Sums a cube's rows per (period, one dimension).
fn fold(c: &Cube, dim: Option<usize>, n: usize) -> BTreeMap<(i64, String), Vec<i64>> {
    let mut out: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for ((p, dims), v) in &c.rows {
        let d = dim.map(|i| dims[i].clone()).unwrap_or_default();
        let row = out.entry((*p, d)).or_insert_with(|| vec![0; n]);
        for (a, b) in row.iter_mut().zip(v) {
            *a += b;
        }
    }
    out
}

fn outcome_cells(v: &[i64]) -> Vec<Cell> {
    let missed = v[ca::CALLS] - v[ca::ANSWERED] - v[ca::ABANDONED];
    vec![
        Cell::Count(v[ca::CALLS]),
        Cell::Count(v[ca::ANSWERED]),
        Cell::Count(v[ca::ABANDONED]),
        Cell::Count(missed),
        Cell::Percent(ratio(v[ca::ANSWERED], v[ca::CALLS])),
        Cell::Decimal(avg_seconds(v[ca::TALK_MS], v[ca::ANSWERED]), Unit::Seconds),
    ]
}

fn outcome_columns(first: Column) -> Vec<Column> {
    vec![
        first,
        col("calls", "calls"),
        col("answered", "answered"),
        col("abandoned", "abandoned"),
        col("missed", "missed"),
        col("answer_rate", "answer rate"),
        col("avg_talk_s", "avg talk"),
    ]
}

/// Every period key of the range (so a trend shows empty periods as 0).
fn periods(q: &Query, s: &ReportSettings, p: Period) -> Vec<i64> {
    let off = s.offset_ms();
    let step = match p {
        Period::Slot => SLOT_MS,
        Period::Hour => 3_600_000,
        Period::Day => DAY_MS,
        Period::Total | Period::HalfHourOfDay => return vec![p.key(q.from_ms, off)],
    };
    let mut out = Vec::new();
    let mut k = p.key(crate::summary::slot_of(q.from_ms), off);
    while k < q.to_ms && out.len() < 20_000 {
        out.push(k);
        k += step;
        if p == Period::Day {
            k = p.key(k, off);
        }
    }
    out
}

/// `HH:MM-HH:MM` of half-hour `i` of the day.
pub fn half_hour_label(i: i64) -> String {
    let (a, b) = (i * 30, i * 30 + 30);
    format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60)
}

fn period_label(p: Period, key: i64, s: &ReportSettings) -> String {
    match p {
        Period::Total => "total".into(),
        Period::HalfHourOfDay => half_hour_label(key),
        Period::Day => label_ms(key, s, false),
        Period::Hour | Period::Slot => label_ms(key, s, true),
    }
}

/// A Unix ms instant as local `YYYY-MM-DD[ HH:MM]`.
pub fn label_ms(ms: i64, s: &ReportSettings, with_time: bool) -> String {
    let local = ms + s.offset_ms();
    let days = local.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    if with_time {
        let min = local.rem_euclid(DAY_MS) / 60_000;
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", min / 60, min % 60)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
