//! Call-volume reports: inbound and outbound trends, service numbers,
//! regions, and the half-hour averages over working hours.

use std::collections::BTreeSet;

use super::{
    col, filter, fold, half_hour_label, outcome_cells, outcome_columns, period_label, periods,
    table,
};
use super::{ChartKind, ChartSpec, Column, Query, Source, Table};
use crate::db::Period;
use crate::settings::ReportSettings;
use crate::summary::{calls as ca, Kind};
use crate::value::{avg_seconds, ratio, Cell, Frac, Unit};
use crate::Result;

pub(super) fn inbound_trend(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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

pub(super) fn by_dim(
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

pub(super) fn in_hours(slot: i64, s: &ReportSettings) -> bool {
    let start = u32::try_from(slot * 30).unwrap_or(u32::MAX);
    start >= s.working_hours.0 && start + 30 <= s.working_hours.1
}

pub(super) fn per_day(n: i64, days: i64) -> Cell {
    Cell::Decimal(
        Frac::new(n.max(0) as u128, days.max(0) as u128),
        Unit::PerDay,
    )
}

pub(super) fn slots(
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

pub(super) fn outbound_trend(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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

pub(super) fn outbound_regions(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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
