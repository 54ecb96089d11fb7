//! The report catalog of SPEC §13.1: each report is a [`Table`] computed
//! from summed summary rows ([`Source`]) with the formulas of SPEC
//! §13.2/§13.3. Half-hour reports show only slots inside the working hours
//! and divide by `days_in_interval` (calendar days of the range, both ends
//! inclusive, SPEC §13.4). Agent rows follow the viewer's scope (SPEC §2).

use std::collections::{BTreeMap, BTreeSet};

use crate::db::{DimFilter, Period, ReportDb};
use crate::settings::{ReportSettings, Viewer, DAY_MS, SLOT_MS};
use crate::summary::{agents as ag, calls as ca, quality as qu, queues as qq, Cube, Kind};
use crate::value::{avg_seconds, ratio, Cell, Frac, Unit};
use crate::{Error, Result};

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

fn inbound_trend(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let p = q.trend();
    let c = src.cube(
        Kind::Calls,
        q.from_ms,
        q.to_ms,
        p,
        &filter(q, Some("in")),
        s,
    )?;
    let sums = fold(&c, None, 4);
    let rows = periods(q, s, p)
        .into_iter()
        .map(|k| {
            let v = sums
                .get(&(k, String::new()))
                .cloned()
                .unwrap_or_else(|| vec![0; 4]);
            let mut row = vec![Cell::Text(period_label(p, k, s))];
            row.extend(outcome_cells(&v));
            row
        })
        .collect();
    let chart = ChartSpec {
        kind: ChartKind::Line,
        x: 0,
        series: vec![1, 2, 3, 4],
        group: None,
    };
    Ok(table(outcome_columns(col("period", "period")), rows, chart))
}

fn by_dim(
    q: &Query,
    s: &ReportSettings,
    src: &dyn Source,
    kind: Kind,
    dir: &str,
    dim: usize,
    first: Column,
) -> Result<Table> {
    let c = src.cube(
        kind,
        q.from_ms,
        q.to_ms,
        Period::Total,
        &filter(q, Some(dir)),
        s,
    )?;
    let rows = fold(&c, Some(dim), 4)
        .into_iter()
        .map(|((_, d), v)| {
            let mut row = vec![Cell::Text(if d.is_empty() { "—".into() } else { d })];
            row.extend(outcome_cells(&v));
            row
        })
        .collect();
    let chart = ChartSpec {
        kind: ChartKind::Bar,
        x: 0,
        series: vec![1, 2, 3, 4],
        group: None,
    };
    Ok(table(outcome_columns(first), rows, chart))
}

/// Calendar days of the range, both ends inclusive (SPEC §13.4).
pub fn days_in_interval(q: &Query, s: &ReportSettings) -> i64 {
    s.local_day(q.to_ms - 1) - s.local_day(q.from_ms) + 1
}

fn in_hours(slot: i64, s: &ReportSettings) -> bool {
    let start = u32::try_from(slot * 30).unwrap_or(u32::MAX);
    start >= s.working_hours.0 && start + 30 <= s.working_hours.1
}

fn per_day(n: i64, days: i64) -> Cell {
    Cell::Decimal(
        Frac::new(n.max(0) as u128, days.max(0) as u128),
        Unit::PerDay,
    )
}

fn slots(
    q: &Query,
    s: &ReportSettings,
    src: &dyn Source,
    dir: &str,
    per_trunk: bool,
) -> Result<Table> {
    let c = src.cube(
        Kind::Calls,
        q.from_ms,
        q.to_ms,
        Period::HalfHourOfDay,
        &filter(q, Some(dir)),
        s,
    )?;
    let sums = fold(&c, per_trunk.then_some(2), 4);
    let days = days_in_interval(q, s);
    let trunks: BTreeSet<String> = if per_trunk {
        sums.keys().map(|(_, t)| t.clone()).collect()
    } else {
        BTreeSet::from([String::new()])
    };
    let mut rows = Vec::new();
    for trunk in &trunks {
        for slot in (0..48).filter(|&i| in_hours(i, s)) {
            let v = sums
                .get(&(slot, trunk.clone()))
                .cloned()
                .unwrap_or_else(|| vec![0; 4]);
            let mut row = vec![Cell::Text(half_hour_label(slot))];
            if per_trunk {
                row.insert(
                    0,
                    Cell::Text(if trunk.is_empty() {
                        "—".into()
                    } else {
                        trunk.clone()
                    }),
                );
            }
            row.push(per_day(v[ca::CALLS], days));
            row.push(per_day(v[ca::ANSWERED], days));
            row.push(per_day(v[ca::ABANDONED], days));
            row.push(Cell::Decimal(
                avg_seconds(v[ca::TALK_MS], v[ca::ANSWERED]),
                Unit::Seconds,
            ));
            rows.push(row);
        }
    }
    let mut columns = vec![
        col("slot", "slot"),
        col("calls_per_day", "calls/day"),
        col("answered_per_day", "answered/day"),
        col("abandoned_per_day", "abandoned/day"),
        col("avg_talk_s", "avg talk"),
    ];
    let chart = if per_trunk {
        columns.insert(0, col("trunk", "trunk"));
        ChartSpec {
            kind: ChartKind::Line,
            x: 1,
            series: vec![2],
            group: Some(0),
        }
    } else {
        ChartSpec {
            kind: ChartKind::Line,
            x: 0,
            series: vec![1, 2, 3],
            group: None,
        }
    };
    Ok(table(columns, rows, chart))
}

fn outbound_trend(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let c = src.cube(
        Kind::Calls,
        q.from_ms,
        q.to_ms,
        Period::HalfHourOfDay,
        &filter(q, Some("out")),
        s,
    )?;
    let sums = fold(&c, None, 4);
    let rows = (0..48)
        .filter(|&i| in_hours(i, s))
        .map(|slot| {
            let v = sums
                .get(&(slot, String::new()))
                .cloned()
                .unwrap_or_else(|| vec![0; 4]);
            vec![
                Cell::Text(half_hour_label(slot)),
                Cell::Count(v[ca::CALLS]),
                Cell::Count(v[ca::ANSWERED]),
                Cell::Percent(ratio(v[ca::ANSWERED], v[ca::CALLS])),
            ]
        })
        .collect();
    let columns = vec![
        col("slot", "slot"),
        col("attempts", "attempts"),
        col("connected", "connected"),
        col("answer_rate", "answer rate"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Line,
            x: 0,
            series: vec![3],
            group: None,
        },
    ))
}

fn outbound_regions(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let c = src.cube(
        Kind::Regions,
        q.from_ms,
        q.to_ms,
        Period::Total,
        &filter(q, Some("out")),
        s,
    )?;
    let rows = fold(&c, Some(1), 4)
        .into_iter()
        .map(|((_, region), v)| {
            vec![
                Cell::Text(region),
                Cell::Count(v[ca::CALLS]),
                Cell::Count(v[ca::ANSWERED]),
                Cell::Percent(ratio(v[ca::ANSWERED], v[ca::CALLS])),
                Cell::Decimal(avg_seconds(v[ca::TALK_MS], 1), Unit::Seconds),
                Cell::Decimal(avg_seconds(v[ca::TALK_MS], v[ca::ANSWERED]), Unit::Seconds),
            ]
        })
        .collect();
    let columns = vec![
        col("region", "region"),
        col("attempts", "attempts"),
        col("connected", "connected"),
        col("answer_rate", "answer rate"),
        col("talk_s", "talk"),
        col("avg_talk_s", "avg talk"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 0,
            series: vec![3],
            group: None,
        },
    ))
}

fn queues(q: &Query, s: &ReportSettings, src: &dyn Source, p: Period) -> Result<Table> {
    let c = src.cube(Kind::Queues, q.from_ms, q.to_ms, p, &filter(q, None), s)?;
    let n = crate::summary::def(Kind::Queues).metrics.len();
    let sums = fold(&c, Some(0), n);
    let names: BTreeSet<String> = sums.keys().map(|(_, k)| k.clone()).collect();
    let keys = periods(q, s, p);
    let mut rows = Vec::new();
    for name in &names {
        for &k in &keys {
            let v = sums
                .get(&(k, name.clone()))
                .cloned()
                .unwrap_or_else(|| vec![0; n]);
            let mut row = Vec::new();
            if p != Period::Total {
                row.push(Cell::Text(period_label(p, k, s)));
            }
            row.push(Cell::Text(name.clone()));
            let offered = v[qq::OFFERED];
            row.extend([
                Cell::Count(offered),
                Cell::Count(v[qq::ANSWERED]),
                Cell::Count(v[qq::ABANDONED]),
                Cell::Count(v[qq::OVERFLOWED]),
                Cell::Percent(ratio(v[qq::ANSWERED], offered)),
                Cell::Percent(ratio(v[qq::WITHIN_15], offered)),
                Cell::Percent(ratio(v[qq::WITHIN_15 + 1], offered)),
                Cell::Percent(ratio(v[qq::WITHIN_15 + 2], offered)),
                Cell::Percent(ratio(v[qq::WITHIN_T], offered)),
                Cell::Percent(ratio(v[qq::ABANDONED], offered)),
                Cell::Decimal(
                    avg_seconds(v[qq::ANSWERED_WAIT_MS], v[qq::ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(
                    avg_seconds(v[qq::ABANDONED_WAIT_MS], v[qq::ABANDONED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(avg_seconds(v[qq::TALK_MS], v[qq::ANSWERED]), Unit::Seconds),
            ]);
            rows.push(row);
        }
    }
    let mut columns = vec![
        col("queue", "queue"),
        col("offered", "offered"),
        col("answered", "answered"),
        col("abandoned", "abandoned"),
        col("overflowed", "overflowed"),
        col("answer_rate", "answer rate"),
        col("answer_rate_15s", "15 s"),
        col("answer_rate_20s", "20 s"),
        col("answer_rate_30s", "30 s"),
        col("service_level", "service level"),
        col("abandon_rate", "abandon rate"),
        col("avg_answered_wait_s", "avg answered wait"),
        col("avg_abandoned_wait_s", "avg abandoned wait"),
        col("avg_talk_s", "avg talk"),
    ];
    let chart = if p == Period::Total {
        ChartSpec {
            kind: ChartKind::Bar,
            x: 0,
            series: vec![5, 9],
            group: None,
        }
    } else {
        columns.insert(0, col("period", "period"));
        ChartSpec {
            kind: ChartKind::Line,
            x: 0,
            series: vec![10],
            group: Some(1),
        }
    };
    Ok(table(columns, rows, chart))
}

/// An agent's figures over the range, with its work days.
struct AgentSums {
    v: Vec<i64>,
    days: BTreeSet<i64>,
}

fn agent_sums(
    q: &Query,
    s: &ReportSettings,
    src: &dyn Source,
) -> Result<BTreeMap<String, AgentSums>> {
    let c = src.cube(
        Kind::Agents,
        q.from_ms,
        q.to_ms,
        Period::Day,
        &filter(q, None),
        s,
    )?;
    let n = crate::summary::def(Kind::Agents).metrics.len();
    let visible = s.visible_agents(&q.viewer);
    let mut out: BTreeMap<String, AgentSums> = BTreeMap::new();
    for ((day, dims), v) in &c.rows {
        let agent = &dims[0];
        if visible.as_ref().is_some_and(|set| !set.contains(agent)) {
            continue;
        }
        let e = out.entry(agent.clone()).or_insert_with(|| AgentSums {
            v: vec![0; n],
            days: BTreeSet::new(),
        });
        for (a, b) in e.v.iter_mut().zip(v) {
            *a += b;
        }
        if v[ag::LOGINS] + v[ag::IN_ANSWERED] + v[ag::OUT_ATTEMPTS] > 0 {
            e.days.insert(*day);
        }
    }
    // Visible agents without activity still get a row.
    if let Some(set) = &visible {
        for a in set {
            out.entry(a.clone()).or_insert_with(|| AgentSums {
                v: vec![0; n],
                days: BTreeSet::new(),
            });
        }
    }
    Ok(out)
}

fn handle_ms(v: &[i64]) -> i64 {
    v[ag::IN_TALK_MS] + v[ag::IN_WRAP_MS] + v[ag::OUT_TALK_MS]
}

fn agent_workload(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let rows = agent_sums(q, s, src)?
        .into_iter()
        .map(|(agent, a)| {
            let v = &a.v;
            vec![
                Cell::Text(s.department(&agent).unwrap_or("—").to_owned()),
                Cell::Text(agent),
                Cell::Count(v[ag::PRESENTED]),
                Cell::Percent(ratio(v[ag::PICKED_15], v[ag::PRESENTED])),
                Cell::Percent(ratio(v[ag::PICKED_15 + 1], v[ag::PRESENTED])),
                Cell::Percent(ratio(v[ag::PICKED_15 + 2], v[ag::PRESENTED])),
                Cell::Count(a.days.len() as i64),
                Cell::Count(v[ag::IN_ANSWERED]),
                Cell::Count(v[ag::OUT_ANSWERED]),
                Cell::Decimal(
                    avg_seconds(handle_ms(v), v[ag::IN_ANSWERED] + v[ag::OUT_ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(
                    avg_seconds(v[ag::IN_TALK_MS] + v[ag::IN_WRAP_MS], v[ag::IN_ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(
                    avg_seconds(v[ag::OUT_TALK_MS], v[ag::OUT_ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(
                    avg_seconds(v[ag::IN_WRAP_MS], v[ag::IN_ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Count(v[ag::BILLING_MIN]),
            ]
        })
        .map(|mut r| {
            r.swap(0, 1);
            r
        })
        .collect();
    let columns = vec![
        col("agent", "agent"),
        col("department", "department"),
        col("presented", "presented"),
        col("pickup_rate_15s", "pickup 15 s"),
        col("pickup_rate_20s", "pickup 20 s"),
        col("pickup_rate_30s", "pickup 30 s"),
        col("work_days", "work days"),
        col("inbound_answered", "in answered"),
        col("outbound_answered", "out answered"),
        col("aht_s", "AHT"),
        col("aht_in_s", "AHT in"),
        col("aht_out_s", "AHT out"),
        col("avg_wrap_up_in_s", "avg wrap-up in"),
        col("billing_minutes", "billing min"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 0,
            series: vec![3, 4, 5],
            group: None,
        },
    ))
}

fn department_workload(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let mut deps: BTreeMap<String, (i64, i64, Vec<i64>)> = BTreeMap::new();
    for (agent, a) in agent_sums(q, s, src)? {
        let d = s.department(&agent).unwrap_or("—").to_owned();
        let e = deps.entry(d).or_insert_with(|| (0, 0, vec![0; a.v.len()]));
        e.0 += 1;
        e.1 += a.days.len() as i64;
        for (x, y) in e.2.iter_mut().zip(&a.v) {
            *x += y;
        }
    }
    let rows = deps
        .into_iter()
        .map(|(d, (agents, days, v))| {
            vec![
                Cell::Text(d),
                Cell::Count(agents),
                Cell::Count(days),
                Cell::Count(v[ag::IN_ANSWERED]),
                Cell::Count(v[ag::OUT_ANSWERED]),
                Cell::Decimal(
                    avg_seconds(handle_ms(&v), v[ag::IN_ANSWERED] + v[ag::OUT_ANSWERED]),
                    Unit::Seconds,
                ),
                Cell::Decimal(avg_seconds(handle_ms(&v), 1), Unit::Seconds),
                Cell::Count(v[ag::BILLING_MIN]),
            ]
        })
        .collect();
    let columns = vec![
        col("department", "department"),
        col("agents", "agents"),
        col("agent_work_days", "agent work days"),
        col("inbound_answered", "in answered"),
        col("outbound_answered", "out answered"),
        col("aht_s", "AHT"),
        col("handle_s", "handle time"),
        col("billing_minutes", "billing min"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 0,
            series: vec![3, 4, 7],
            group: None,
        },
    ))
}

fn satisfaction(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let rows = agent_sums(q, s, src)?
        .into_iter()
        .map(|(agent, a)| {
            let v = &a.v;
            vec![
                Cell::Text(agent),
                Cell::Count(v[ag::SURVEY_RESPONSES]),
                Cell::Count(v[ag::SURVEY_SATISFIED]),
                Cell::Percent(ratio(v[ag::SURVEY_SATISFIED], v[ag::SURVEY_RESPONSES])),
                Cell::Decimal(
                    Frac::new(
                        v[ag::SURVEY_SCORE_SUM].max(0) as u128,
                        v[ag::SURVEY_RESPONSES].max(0) as u128,
                    ),
                    Unit::Score,
                ),
                Cell::Count(v[ag::SURVEY_IN]),
                Cell::Count(v[ag::SURVEY_IN + 1]),
                Cell::Count(v[ag::SURVEY_IN + 2]),
            ]
        })
        .collect();
    let columns = vec![
        col("agent", "agent"),
        col("responses", "responses"),
        col("satisfied", "satisfied"),
        col("satisfaction_rate", "satisfaction"),
        col("avg_score", "avg score"),
        col("survey_clicks_inbound", "clicks in"),
        col("survey_clicks_outbound", "clicks out"),
        col("survey_clicks_inbound_transferred", "clicks in-transferred"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 0,
            series: vec![3],
            group: None,
        },
    ))
}

fn one_call_resolution(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let mut rows = Vec::new();
    for (agent, a) in agent_sums(q, s, src)? {
        let (n, r) = (a.v[ag::OCR_ANSWERED], a.v[ag::OCR_RESOLVED]);
        rows.push(vec![
            Cell::text("agent"),
            Cell::Text(agent),
            Cell::Count(n),
            Cell::Count(r),
            Cell::Percent(ratio(r, n)),
        ]);
    }
    if matches!(q.viewer, Viewer::Admin) {
        let c = src.cube(
            Kind::Queues,
            q.from_ms,
            q.to_ms,
            Period::Total,
            &filter(q, None),
            s,
        )?;
        let n = crate::summary::def(Kind::Queues).metrics.len();
        for ((_, queue), v) in fold(&c, Some(0), n) {
            let (a, r) = (v[qq::OCR_ANSWERED], v[qq::OCR_RESOLVED]);
            rows.push(vec![
                Cell::text("queue"),
                Cell::Text(queue),
                Cell::Count(a),
                Cell::Count(r),
                Cell::Percent(ratio(r, a)),
            ]);
        }
    }
    let columns = vec![
        col("scope", "scope"),
        col("name", "name"),
        col("answered", "answered"),
        col("resolved", "resolved"),
        col("one_call_resolution", "resolution"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 1,
            series: vec![4],
            group: None,
        },
    ))
}

/// The tags kept per period (SPEC §13.4).
pub const TOP_TAGS: usize = 10;

fn call_tags(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let p = q.by.unwrap_or(Period::Day);
    let c = src.cube(Kind::Tags, q.from_ms, q.to_ms, p, &DimFilter::default(), s)?;
    let mut per: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for ((k, dims), v) in &c.rows {
        per.entry(*k).or_default().push((v[0], dims[0].clone()));
    }
    let mut rows = Vec::new();
    for (k, mut tags) in per {
        tags.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (rank, (n, tag)) in tags.into_iter().take(TOP_TAGS).enumerate() {
            rows.push(vec![
                Cell::Text(period_label(p, k, s)),
                Cell::Count(rank as i64 + 1),
                Cell::Text(tag),
                Cell::Count(n),
            ]);
        }
    }
    let columns = vec![
        col("period", "period"),
        col("rank", "rank"),
        col("tag", "tag"),
        col("calls", "calls"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 2,
            series: vec![3],
            group: None,
        },
    ))
}

fn call_quality(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
    let p = q.by.unwrap_or(Period::Day);
    let mut c = src.cube(Kind::Quality, q.from_ms, q.to_ms, p, &filter(q, None), s)?;
    let visible = s.visible_agents(&q.viewer);
    c.rows
        .retain(|(_, d), _| visible.as_ref().is_none_or(|set| set.contains(&d[1])));
    let mut keys: Vec<_> = c.rows.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    let milli = |v: i64| Frac::new(v.max(0) as u128, 1000);
    let mean = |sum: i64, n: i64| Frac::new(sum.max(0) as u128, n.max(0) as u128 * 1000);
    let rows = keys
        .into_iter()
        .map(|((k, d), v)| {
            let dash = |x: &String| {
                if x.is_empty() {
                    "—".to_owned()
                } else {
                    x.clone()
                }
            };
            let n = v[qu::LEGS];
            vec![
                Cell::Text(period_label(p, *k, s)),
                Cell::Text(dash(&d[0])),
                Cell::Text(dash(&d[1])),
                Cell::Count(n),
                Cell::Decimal(mean(v[qu::MOS_SUM], n), Unit::Mos),
                Cell::Decimal(
                    if n > 0 { milli(v[qu::MOS_WORST]) } else { None },
                    Unit::Mos,
                ),
                Cell::Decimal(mean(v[qu::LOSS_SUM], n), Unit::LossPercent),
                Cell::Decimal(
                    if n > 0 { milli(v[qu::LOSS_MAX]) } else { None },
                    Unit::LossPercent,
                ),
                Cell::Decimal(mean(v[qu::JITTER_SUM], n), Unit::Millis),
                Cell::Decimal(
                    if n > 0 {
                        milli(v[qu::JITTER_MAX])
                    } else {
                        None
                    },
                    Unit::Millis,
                ),
            ]
        })
        .collect();
    let columns = vec![
        col("period", "period"),
        col("trunk", "trunk"),
        col("agent", "agent"),
        col("legs", "legs"),
        col("avg_mos", "avg MOS"),
        col("worst_mos", "worst MOS"),
        col("avg_max_loss_pct", "avg max loss"),
        col("max_loss_pct", "max loss"),
        col("avg_max_jitter_ms", "avg max jitter"),
        col("max_jitter_ms", "max jitter"),
    ];
    Ok(table(
        columns,
        rows,
        ChartSpec {
            kind: ChartKind::Bar,
            x: 2,
            series: vec![4, 5],
            group: None,
        },
    ))
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
