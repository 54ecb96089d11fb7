//! Skill-group, agent and department reports: answer rates and service
//! level, workload and AHT, satisfaction, one-call resolution, tags and
//! call quality.

use std::collections::{BTreeMap, BTreeSet};

use super::{col, filter, fold, period_label, periods, table};
use super::{ChartKind, ChartSpec, Query, Source, Table};
use crate::db::{DimFilter, Period};
use crate::settings::{ReportSettings, Viewer};
use crate::summary::{agents as ag, quality as qu, queues as qq, Kind};
use crate::value::{avg_seconds, ratio, Cell, Frac, Unit};
use crate::Result;

pub(super) fn queues(q: &Query, s: &ReportSettings, src: &dyn Source, p: Period) -> Result<Table> {
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
pub(super) struct AgentSums {
    v: Vec<i64>,
    days: BTreeSet<i64>,
}

pub(super) fn agent_sums(
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

pub(super) fn handle_ms(v: &[i64]) -> i64 {
    v[ag::IN_TALK_MS] + v[ag::IN_WRAP_MS] + v[ag::OUT_TALK_MS]
}

pub(super) fn agent_workload(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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

pub(super) fn department_workload(
    q: &Query,
    s: &ReportSettings,
    src: &dyn Source,
) -> Result<Table> {
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

pub(super) fn satisfaction(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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

pub(super) fn one_call_resolution(
    q: &Query,
    s: &ReportSettings,
    src: &dyn Source,
) -> Result<Table> {
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

pub(super) fn call_tags(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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

pub(super) fn call_quality(q: &Query, s: &ReportSettings, src: &dyn Source) -> Result<Table> {
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
