//! The SQLite path: fixtures written into a real store file, summaries
//! rebuilt, and every report read back (summaries + raw tail) equal to the
//! same report computed from the raw rows in memory.

use std::path::Path;

use rusqlite::params;

use super::more::inbound_day as inbound_day_for_db;
use super::{acceptance_day, at, day0, day_query, settings, workload_fixture, Fx, Memory};
use crate::catalog::{self, Query, REPORTS};
use crate::db::ReportDb;
use crate::generate::{self, Plan, RAW_SCHEMA};
use crate::settings::{ReportSettings, DAY_MS};
use crate::Error;

fn write_store(path: &Path, fx: &Fx) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(RAW_SCHEMA).unwrap();
    let tx = conn.transaction().unwrap();
    for c in &fx.batch.calls {
        tx.execute(
            "INSERT INTO cdr (call_id, caller, callee, direction, start_ms, end_ms, duration_s, billsec, disposition, \
             hangup_cause, hangup_side, hold_s, did, trunk, caller_e164, callee_e164) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6, ?7, 'call.normal', 'caller', 0, ?8, ?9, ?10, ?11)",
            params![c.call_id, c.caller, c.callee, c.direction, c.start_ms, c.billsec, c.disposition, c.did, c.trunk, c.caller_e164, c.callee_e164],
        )
        .unwrap();
        for (i, l) in c.legs.iter().enumerate() {
            tx.execute(
                "INSERT INTO cdr_legs (call_id, leg, sip_call_id, party, status, mos_avg, mos_worst, loss_max_pct, jitter_max_ms) \
                 VALUES (?1, ?2, 'x', 'p', 200, ?3, ?4, ?5, ?6)",
                params![c.call_id, i as i64, l.mos_avg, l.mos_worst, l.loss_max_pct, l.jitter_max_ms],
            )
            .unwrap();
        }
    }
    for e in &fx.batch.events {
        tx.execute(
            "INSERT INTO queue_events (at_ms, kind, queue, agent, call_id, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                e.at_unix_ms as i64,
                e.kind.name(),
                e.queue.as_ref().map(ToString::to_string),
                e.agent.as_ref().map(ToString::to_string),
                e.call.map(|c| c.to_string()),
                serde_json::to_string(e).unwrap()
            ],
        )
        .unwrap();
    }
    for s in &fx.batch.surveys {
        tx.execute(
            "INSERT INTO ivr_trajectory (call_id, part, flow, started_ms, key_path, key_steps, trajectory) \
             VALUES (?1, 1, 'survey', ?2, ?3, '[]', '{}')",
            params![s.call_id, s.started_ms, s.key_path],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let db = ReportDb::open(path).unwrap();
    for (call, tag) in &fx.batch.tags {
        db.tag_call(call, tag).unwrap();
    }
}

fn combined() -> Fx {
    // Ids of the fixtures do not overlap: acceptance 1..22, workload +100, inbound +200.
    let mut fx = acceptance_day();
    let shift = |mut other: Fx, by: u64, fx: &mut Fx| {
        for c in &mut other.batch.calls {
            let n = u64::from_str_radix(&c.call_id[1..], 16).unwrap();
            c.call_id = acd::CallId(n + by).to_string();
        }
        for e in &mut other.batch.events {
            e.call = e.call.map(|c| acd::CallId(c.0 + by));
        }
        fx.batch.calls.extend(other.batch.calls);
        fx.batch.events.extend(other.batch.events);
    };
    shift(workload_fixture(), 100, &mut fx);
    shift(inbound_day_for_db(), 200, &mut fx);
    fx.batch.events.sort_by_key(|e| e.at_unix_ms);
    fx.survey(1, at(0, 10, 20, 0), "5");
    fx.batch
        .tags
        .push((acd::CallId(1).to_string(), "billing".into()));
    fx
}

fn all_reports(src: &dyn catalog::Source, q: &Query, s: &ReportSettings) -> Vec<catalog::Table> {
    REPORTS
        .iter()
        .map(|r| catalog::run(r.name, q, s, src).unwrap())
        .collect()
}

#[test]
fn summaries_and_the_raw_tail_give_the_raw_figures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pbx.sqlite");
    let fx = combined();
    write_store(&path, &fx);
    let s = settings();
    let q = day_query(3);
    let want = all_reports(&Memory(&fx.batch), &q, &s);
    let mut db = ReportDb::open(&path).unwrap();
    assert_eq!(db.watermark().unwrap(), 0);
    assert_eq!(
        all_reports(&db, &q, &s),
        want,
        "nothing summarized: all from the raw rows"
    );
    // Summaries up to day 1 10:00, the rest raw.
    let r = db.rebuild(day0(), at(1, 10, 0, 0), &s).unwrap();
    assert!(r.rows > 0 && r.calls > 0, "{r:?}");
    assert_eq!(db.watermark().unwrap(), at(1, 10, 0, 0));
    assert_eq!(all_reports(&db, &q, &s), want, "summaries + raw tail");
    // A range starting mid-slot, and one inside the summarized part.
    for q in [
        Query {
            from_ms: at(0, 9, 15, 0),
            to_ms: at(2, 0, 0, 0),
            ..Query::default()
        },
        Query {
            from_ms: at(0, 10, 0, 0),
            to_ms: at(0, 12, 0, 0),
            ..Query::default()
        },
    ] {
        assert_eq!(
            all_reports(&db, &q, &s),
            all_reports(&Memory(&fx.batch), &q, &s)
        );
    }
    // Everything summarized; rebuilding twice changes nothing.
    db.rebuild(day0() - DAY_MS, day0() + 4 * DAY_MS, &s)
        .unwrap();
    db.rebuild(day0() - DAY_MS, day0() + 4 * DAY_MS, &s)
        .unwrap();
    assert_eq!(all_reports(&db, &q, &s), want);
    let sales = &want[REPORTS.iter().position(|r| r.name == "queues").unwrap()];
    assert_eq!(
        super::shown(sales, "sales", "answer_rate"),
        "66.67 %",
        "15 offered, 10 answered"
    );
}

#[test]
fn incremental_and_nightly_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pbx.sqlite");
    let fx = combined();
    write_store(&path, &fx);
    let s = settings();
    let mut db = ReportDb::open(&path).unwrap();
    let now = at(1, 10, 7, 0);
    let r = db.run_incremental(now, &s).unwrap();
    assert_eq!(
        (r.from_ms, r.to_ms),
        (at(0, 10, 0, 0), at(1, 10, 0, 0)),
        "first run: a day back to the current slot"
    );
    // 15 minutes later: from the watermark less the 24 h window.
    let r = db.run_incremental(now + 15 * 60_000, &s).unwrap();
    assert_eq!((r.from_ms, r.to_ms), (at(0, 10, 0, 0), at(1, 10, 0, 0)));
    let r = db.run_incremental(now + 30 * 60_000, &s).unwrap();
    assert_eq!(r.to_ms, at(1, 10, 30, 0));
    let night = db.run_nightly(at(2, 0, 20, 0), &s).unwrap().unwrap();
    assert_eq!(
        (night.from_ms, night.to_ms),
        (at(1, 0, 0, 0), at(2, 0, 0, 0))
    );
    assert!(
        db.run_nightly(at(2, 5, 0, 0), &s).unwrap().is_none(),
        "once a day"
    );
    assert!(db.run_nightly(at(3, 0, 5, 0), &s).unwrap().is_some());
    // Today's figures include the minutes after the watermark.
    let q = Query {
        from_ms: at(1, 0, 0, 0),
        to_ms: at(2, 0, 0, 0),
        ..Query::default()
    };
    assert_eq!(
        all_reports(&db, &q, &s),
        all_reports(&Memory(&fx.batch), &q, &s)
    );
}

#[test]
fn a_generated_store_reports_the_same_from_summaries_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pbx.sqlite");
    let plan = Plan {
        start_ms: day0(),
        days: 2,
        calls_per_day: 1500,
        agents: 12,
        seed: 7,
    };
    let g = generate::generate(&path, &plan).unwrap();
    assert_eq!(g.calls, 3000);
    assert!(g.events > 3000 * 3, "{g:?}");
    let s = generate::settings(&plan);
    let mut db = ReportDb::open(&path).unwrap();
    let q = day_query(2);
    let raw = db.load_raw(q.from_ms, q.to_ms, &s).unwrap();
    let want = all_reports(&Memory(&raw), &q, &s);
    db.rebuild(q.from_ms, q.to_ms, &s).unwrap();
    let got = all_reports(&db, &q, &s);
    assert_eq!(got, want);
    let queues = &got[REPORTS.iter().position(|r| r.name == "queues").unwrap()];
    assert_eq!(queues.rows.len(), generate::QUEUES.len());
    // A leader of the generated org sees half the agents.
    let lead = Query {
        viewer: crate::Viewer::Leader("a01".into()),
        ..q.clone()
    };
    let t = catalog::run("agent-workload", &lead, &s, &db).unwrap();
    assert_eq!(t.rows.len(), 5, "a01 and a03..a06");
}

#[test]
fn clear_errors_for_missing_stores_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite");
    assert!(matches!(ReportDb::open(&missing), Err(Error::NoStore(_))));
    let empty = dir.path().join("empty.sqlite");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE x (a)")
        .unwrap();
    let db = ReportDb::open(&empty).unwrap();
    let err = catalog::run("queues", &day_query(1), &settings(), &db).unwrap_err();
    assert!(matches!(err, Error::NoRawTables { .. }), "{err}");
    assert!(err.to_string().contains("run `pbx serve`"));
    let bad = crate::settings::Regions::parse("r.csv", "prefix,region\n+31\n").unwrap_err();
    assert_eq!(bad.to_string(), "r.csv:2: expected `prefix,region`");
    assert!(
        crate::settings::Regions::parse("r.csv", "+31,NL\n").is_err(),
        "header required"
    );
}
