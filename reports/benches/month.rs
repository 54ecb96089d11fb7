//! A month of 1,000,000 calls (with their queue events, surveys and tags)
//! in a real SQLite store: how long the aggregation takes (the whole month
//! once, one day as the nightly run, the 15-minute run) and how long a
//! report over the month takes from the summaries.
//!
//! `cargo bench -p reports --bench month`. The generated store is kept in
//! `$PBX_REPORTS_BENCH_DIR` (default `/var/cache/pbx-reports-bench`) and
//! reused while its plan matches; `REPORTS_BENCH_CALLS` changes the size.
//! The month's store takes about 2.2 GB of disk: delete the directory
//! after measuring on a shared machine.

use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use reports::catalog::{self, days_from_civil, Query};
use reports::generate::{self, Plan};
use reports::settings::DAY_MS;
use reports::ReportDb;

fn plan() -> Plan {
    let calls: u64 = std::env::var("REPORTS_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    Plan {
        start_ms: days_from_civil(2026, 10, 1) * DAY_MS,
        days: 31,
        calls_per_day: calls.div_ceil(31),
        agents: 50,
        seed: 42,
    }
}

fn store(plan: &Plan) -> PathBuf {
    let dir = std::env::var_os("PBX_REPORTS_BENCH_DIR").map_or_else(
        || PathBuf::from("/var/cache/pbx-reports-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let name = format!(
        "month-{}x{}-{}.sqlite",
        plan.days, plan.calls_per_day, plan.seed
    );
    let path = dir.join(&name);
    if !path.exists() {
        let tmp = dir.join(format!("{name}.partial"));
        let _ = std::fs::remove_file(&tmp);
        let t = Instant::now();
        let g = generate::generate(&tmp, plan).expect("generate");
        println!(
            "generated {} calls, {} queue events in {:.1} s",
            g.calls,
            g.events,
            t.elapsed().as_secs_f64()
        );
        std::fs::rename(&tmp, &path).expect("rename");
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::rename(
                dir.join(format!("{name}.partial{ext}")),
                dir.join(format!("{name}{ext}")),
            );
        }
    }
    path
}

fn benches(c: &mut Criterion) {
    let plan = plan();
    let path = store(&plan);
    let s = generate::settings(&plan);
    let mut db = ReportDb::open(&path).expect("open");
    let month = Query {
        from_ms: plan.start_ms,
        to_ms: plan.start_ms + plan.days * DAY_MS,
        ..Query::default()
    };

    // The whole month from nothing, once (timed by hand: it is one run).
    let t = Instant::now();
    let r = db.rebuild(month.from_ms, month.to_ms, &s).expect("rebuild");
    println!(
        "aggregation of the month: {} calls, {} queue events → {} summary rows in {:.2} s",
        r.calls,
        r.events,
        r.rows,
        t.elapsed().as_secs_f64()
    );
    let mut g = c.benchmark_group("aggregation");
    g.sample_size(10);
    let day = plan.start_ms + 14 * DAY_MS;
    g.bench_function("nightly rebuild of one day", |b| {
        b.iter(|| db.rebuild(day, day + DAY_MS, &s).expect("rebuild"))
    });
    g.bench_function("15-minute run (24 h look-back)", |b| {
        b.iter(|| {
            db.rebuild(day - DAY_MS + 15 * 60_000, day + 15 * 60_000, &s)
                .expect("rebuild")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("month query");
    g.sample_size(20);
    for name in [
        "queues",
        "queue-trend",
        "agent-workload",
        "inbound-trend",
        "inbound-regions",
        "call-quality",
        "call-tags",
    ] {
        let t = catalog::run(name, &month, &s, &db).expect("report");
        assert!(!t.rows.is_empty(), "{name} has rows");
        g.bench_function(name, |b| {
            b.iter(|| catalog::run(name, &month, &s, &db).expect("report"))
        });
    }
    // "Today" at 14:20 on the last day, the last run at 14:00: summaries
    // up to 14:00 plus 20 minutes of raw calls and events.
    let today_start = month.to_ms - DAY_MS;
    let wm = today_start + 14 * 3_600_000;
    db.conn()
        .execute("UPDATE rpt_meta SET watermark_ms = ?1", [wm])
        .expect("watermark");
    let today = Query {
        from_ms: today_start,
        to_ms: wm + 20 * 60_000,
        ..month.clone()
    };
    g.bench_function("queues today (raw tail of 20 min)", |b| {
        b.iter(|| catalog::run("queues", &today, &s, &db).expect("report"))
    });
    g.finish();
    db.rebuild(month.from_ms, month.to_ms, &s).expect("rebuild");
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
}
