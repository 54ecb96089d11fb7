//! Hand-computed fixtures of the other reports: inbound outcomes by time,
//! service number and region; half-hour averages; outbound; one-call
//! resolution; tags; satisfaction; quality; rendering and charts.

use acd::EventKind;

use super::{at, day0, day_query, run, settings, shown, Fx, Memory, Outcome};
use crate::catalog::{self, days_from_civil, Query};
use crate::db::Period;
use crate::settings::{ReportSettings, DAY_MS};

fn answered(agent: &'static str, wait_s: i64, talk_s: i64) -> Outcome {
    Outcome::Answered {
        agent,
        wait_s,
        ring_s: 2,
        talk_s,
        wrap_s: 5,
    }
}

pub(super) fn inbound_day() -> Fx {
    let mut fx = Fx::default();
    fx.queued(
        1,
        at(0, 9, 10, 0),
        "sales",
        "+3120111",
        answered("a01", 10, 100),
    );
    fx.queued(
        2,
        at(0, 9, 20, 0),
        "sales",
        "+3110222",
        Outcome::Abandoned { wait_s: 30 },
    );
    fx.queued(
        3,
        at(0, 10, 5, 0),
        "sales",
        "+4930333",
        Outcome::Overflow { wait_s: 90 },
    );
    // Direct calls to an agent (no queue): answered by the record.
    fx.cdr(
        4,
        "inbound",
        at(0, 10, 40, 0),
        "+3120444",
        "a03",
        true,
        30,
        "carrier-b",
    )
    .did = Some("+31201110001".into());
    fx.cdr(
        5,
        "inbound",
        at(0, 7, 10, 0),
        "0612345",
        "a03",
        false,
        0,
        "carrier-b",
    )
    .did = Some("+31201110001".into());
    fx
}

#[test]
fn inbound_trend_service_numbers_and_regions() {
    let fx = inbound_day();
    let t = run("inbound-trend", &day_query(1), &fx);
    assert_eq!(t.rows.len(), 24, "hours of a one-day range");
    let nine = "2026-11-02 09:00";
    assert_eq!(
        [
            shown(&t, nine, "calls"),
            shown(&t, nine, "answered"),
            shown(&t, nine, "abandoned"),
            shown(&t, nine, "missed")
        ],
        ["2", "1", "1", "0"]
    );
    assert_eq!(shown(&t, nine, "answer_rate"), "50.00 %");
    assert_eq!(shown(&t, "2026-11-02 10:00", "missed"), "1");
    assert_eq!(shown(&t, "2026-11-02 07:00", "missed"), "1");
    assert_eq!(shown(&t, "2026-11-02 03:00", "answer_rate"), "—");

    let s = run("service-numbers", &day_query(1), &fx);
    assert_eq!(shown(&s, "+31201110000", "calls"), "3");
    assert_eq!(shown(&s, "+31201110000", "answer_rate"), "33.33 %");
    assert_eq!(shown(&s, "+31201110001", "answer_rate"), "50.00 %");
    assert_eq!(shown(&s, "+31201110001", "avg_talk_s"), "30.00 s");

    let r = run("inbound-regions", &day_query(1), &fx);
    assert_eq!(
        shown(&r, "Amsterdam", "calls"),
        "2",
        "longest prefix +3120 wins over +31"
    );
    assert_eq!(shown(&r, "Amsterdam", "answer_rate"), "100.00 %");
    assert_eq!(
        shown(&r, "Amsterdam", "avg_talk_s"),
        "65.00 s",
        "(100 + 30) / 2"
    );
    assert_eq!(shown(&r, "Netherlands", "abandoned"), "1");
    assert_eq!(shown(&r, "Germany", "missed"), "1");
    assert_eq!(shown(&r, "unknown", "missed"), "1");

    // --trunk narrows every call report.
    let q = Query {
        trunk: Some("carrier-b".into()),
        ..day_query(1)
    };
    let s = run("service-numbers", &q, &fx);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(shown(&s, "+31201110001", "calls"), "2");
}

#[test]
fn half_hour_averages_divide_by_days_in_interval_within_working_hours() {
    let mut fx = Fx::default();
    fx.cdr(
        1,
        "inbound",
        at(0, 9, 5, 0),
        "+3120",
        "a01",
        true,
        60,
        "carrier-a",
    );
    fx.cdr(
        2,
        "inbound",
        at(0, 9, 10, 0),
        "+3120",
        "a01",
        false,
        0,
        "carrier-a",
    );
    fx.cdr(
        3,
        "inbound",
        at(1, 9, 29, 59),
        "+3120",
        "a01",
        true,
        30,
        "carrier-b",
    );
    fx.cdr(
        4,
        "inbound",
        at(1, 7, 10, 0),
        "+3120",
        "a01",
        true,
        30,
        "carrier-b",
    );
    let q = day_query(2);
    assert_eq!(catalog::days_in_interval(&q, &settings()), 2);
    let t = run("inbound-slots", &q, &fx);
    assert_eq!(t.rows.len(), 24, "08:00 to 20:00");
    assert_eq!(t.rows[0][0].display(), "08:00-08:30");
    assert_eq!(shown(&t, "09:00-09:30", "calls_per_day"), "1.50");
    assert_eq!(shown(&t, "09:00-09:30", "answered_per_day"), "1.00");
    assert_eq!(shown(&t, "09:00-09:30", "avg_talk_s"), "45.00 s");
    assert_eq!(shown(&t, "09:30-10:00", "calls_per_day"), "0.00");
    assert!(t.row_of("07:00-07:30").is_none(), "outside working hours");

    // Per trunk: carrier-a had 2 in the slot over 2 days, carrier-b 1.
    let t = run("trunk-slots", &q, &fx);
    let row = |trunk: &str| {
        t.rows
            .iter()
            .position(|r| r[0].display() == trunk && r[1].display() == "09:00-09:30")
            .unwrap()
    };
    assert_eq!(
        t.cell(row("carrier-a"), "calls_per_day").unwrap().display(),
        "1.00"
    );
    assert_eq!(
        t.cell(row("carrier-b"), "calls_per_day").unwrap().display(),
        "0.50"
    );

    // Calendar days, both ends inclusive: Nov 2 10:00 to Nov 4 09:00 is 3 days.
    let q = Query {
        from_ms: at(0, 10, 0, 0),
        to_ms: at(2, 9, 0, 0),
        ..Query::default()
    };
    assert_eq!(catalog::days_in_interval(&q, &settings()), 3);
    // The tenant's offset moves day boundaries: 23:30 UTC is the next day at +01:00.
    let s = ReportSettings {
        utc_offset_secs: 3600,
        ..settings()
    };
    let q = Query {
        from_ms: at(0, 23, 30, 0),
        to_ms: at(1, 1, 0, 0),
        ..Query::default()
    };
    assert_eq!(catalog::days_in_interval(&q, &s), 1);
    // Working hours 09:00-10:00 keep two slots.
    let s = ReportSettings {
        working_hours: ReportSettings::parse_hours("09:00-10:00").unwrap(),
        ..settings()
    };
    let t = catalog::run("inbound-slots", &day_query(2), &s, &Memory(&fx.batch)).unwrap();
    assert_eq!(t.rows.len(), 2);
    assert!(ReportSettings::parse_hours("09:15-10:00").is_err());
    assert!(ReportSettings::parse_hours("18:00-09:00").is_err());
    assert_eq!(
        ReportSettings::parse_hours("00:00-24:00").unwrap(),
        (0, 1440)
    );
}

#[test]
fn outbound_trend_and_regions() {
    let mut fx = Fx::default();
    for (i, (ok, talk, to)) in [
        (true, 60, "+4930"),
        (true, 120, "+4930"),
        (false, 0, "+3120"),
        (true, 30, "+3120"),
    ]
    .iter()
    .enumerate()
    {
        fx.cdr(
            i as u64 + 1,
            "outbound",
            at(0, 10, 5 * i as i64, 0),
            "a01",
            to,
            *ok,
            *talk,
            "carrier-b",
        );
    }
    fx.cdr(
        9,
        "outbound",
        at(1, 10, 0, 0),
        "a02",
        "+3120",
        false,
        0,
        "carrier-b",
    );
    let t = run("outbound-trend", &day_query(2), &fx);
    assert_eq!(shown(&t, "10:00-10:30", "attempts"), "5");
    assert_eq!(shown(&t, "10:00-10:30", "connected"), "3");
    assert_eq!(shown(&t, "10:00-10:30", "answer_rate"), "60.00 %");
    assert_eq!(shown(&t, "11:00-11:30", "answer_rate"), "—");
    let r = run("outbound-regions", &day_query(2), &fx);
    assert_eq!(shown(&r, "Germany", "answer_rate"), "100.00 %");
    assert_eq!(shown(&r, "Germany", "talk_s"), "180.00 s");
    assert_eq!(shown(&r, "Germany", "avg_talk_s"), "90.00 s");
    assert_eq!(shown(&r, "Amsterdam", "answer_rate"), "33.33 %");
}

#[test]
fn one_call_resolution_within_the_window() {
    let mut fx = Fx::default();
    // X reaches an agent at 10:00 and again at 12:00 (within 24 h: the
    // first is unresolved), then at 14:00 the next day (26 h later).
    fx.queued(
        1,
        at(0, 10, 0, 0),
        "sales",
        "+3120777",
        answered("a01", 5, 60),
    );
    fx.queued(
        2,
        at(0, 12, 0, 0),
        "sales",
        "+3120777",
        answered("a02", 5, 60),
    );
    fx.queued(
        3,
        at(1, 14, 0, 0),
        "sales",
        "+3120777",
        answered("a02", 5, 60),
    );
    fx.queued(
        4,
        at(0, 11, 0, 0),
        "sales",
        "+3120888",
        answered("a01", 5, 60),
    );
    // An abandoned call is no answer; its caller's later answer is resolved.
    fx.queued(
        5,
        at(0, 15, 0, 0),
        "sales",
        "+3120999",
        Outcome::Abandoned { wait_s: 20 },
    );
    let t = run("one-call-resolution", &day_query(2), &fx);
    let row = |scope: &str, name: &str| {
        t.rows
            .iter()
            .position(|r| r[0].display() == scope && r[1].display() == name)
            .unwrap()
    };
    assert_eq!(
        t.cell(row("agent", "a01"), "one_call_resolution")
            .unwrap()
            .display(),
        "50.00 %"
    );
    assert_eq!(
        t.cell(row("agent", "a02"), "one_call_resolution")
            .unwrap()
            .display(),
        "100.00 %"
    );
    assert_eq!(
        t.cell(row("queue", "sales"), "answered").unwrap().display(),
        "4"
    );
    assert_eq!(
        t.cell(row("queue", "sales"), "one_call_resolution")
            .unwrap()
            .display(),
        "75.00 %"
    );
    // With a 48 h window the second call is unresolved too.
    let s = ReportSettings {
        ocr_window_ms: 2 * DAY_MS,
        ..settings()
    };
    let t = catalog::run("one-call-resolution", &day_query(2), &s, &Memory(&fx.batch)).unwrap();
    let i = t
        .rows
        .iter()
        .position(|r| r[1].display() == "sales")
        .unwrap();
    assert_eq!(
        t.cell(i, "one_call_resolution").unwrap().display(),
        "50.00 %"
    );
}

#[test]
fn call_tags_keep_the_top_10_per_day() {
    let mut fx = Fx::default();
    let mut id = 0;
    // Day 0: t01 × 12, t02 × 11, … t12 × 1, and `aa` × 3 (ties with t10).
    let mut tags: Vec<(String, usize)> = (1..=12).map(|i| (format!("t{i:02}"), 13 - i)).collect();
    tags.push(("aa".into(), 3));
    for (tag, n) in &tags {
        for _ in 0..*n {
            id += 1;
            fx.cdr(
                id,
                "outbound",
                at(0, 12, 0, 0),
                "a01",
                "+3120",
                true,
                10,
                "carrier-b",
            );
            fx.batch
                .tags
                .push((acd::CallId(id).to_string(), tag.clone()));
        }
    }
    id += 1;
    fx.cdr(
        id,
        "outbound",
        at(1, 12, 0, 0),
        "a01",
        "+3120",
        true,
        10,
        "carrier-b",
    );
    fx.batch
        .tags
        .push((acd::CallId(id).to_string(), "t12".into()));
    let t = run("call-tags", &day_query(2), &fx);
    let day0_rows: Vec<(String, String, String)> = t
        .rows
        .iter()
        .filter(|r| r[0].display() == "2026-11-02")
        .map(|r| (r[1].display(), r[2].display(), r[3].display()))
        .collect();
    assert_eq!(day0_rows.len(), 10);
    assert_eq!(day0_rows[0], ("1".into(), "t01".into(), "12".into()));
    // Ties by count go alphabetically: `aa` (3) before t10 (3).
    assert_eq!(day0_rows[9], ("10".into(), "aa".into(), "3".into()));
    assert!(!day0_rows.iter().any(|r| r.1 == "t10" || r.1 == "t11"));
    let day1: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r[0].display() == "2026-11-03")
        .collect();
    assert_eq!(day1.len(), 1);
}

#[test]
fn satisfaction_from_the_survey_flow_key_press() {
    let mut fx = Fx::default();
    fx.queued(
        1,
        at(0, 9, 0, 0),
        "sales",
        "+3120001",
        answered("a01", 5, 60),
    );
    fx.survey(1, at(0, 9, 2, 0), "5");
    fx.queued(
        2,
        at(0, 9, 10, 0),
        "sales",
        "+3120002",
        answered("a01", 5, 60),
    );
    fx.survey(2, at(0, 9, 12, 0), "4>1");
    fx.queued(
        3,
        at(0, 9, 20, 0),
        "sales",
        "+3120003",
        answered("a01", 5, 60),
    );
    fx.ev(
        at(0, 9, 21, 0),
        3,
        Some("sales"),
        Some("a01"),
        EventKind::Transfer {
            target: "9000".into(),
            talk_ms: 1_000,
        },
    );
    fx.survey(3, at(0, 9, 23, 0), "2");
    fx.cdr(
        10,
        "outbound",
        at(0, 10, 0, 0),
        "a01",
        "+3120",
        true,
        40,
        "carrier-b",
    );
    fx.survey(10, at(0, 10, 1, 0), "9");
    // Call 4 went from a01 to a02 (a transfer into another queue): the
    // survey counts for the last agent.
    fx.queued(
        4,
        at(0, 11, 0, 0),
        "sales",
        "+3120004",
        answered("a01", 5, 60),
    );
    fx.ev(
        at(0, 11, 2, 0),
        4,
        Some("vip"),
        None,
        EventKind::Enter {
            number: "+3120004".into(),
            service_number: None,
            priority: 0,
            position: 1,
        },
    );
    fx.ev(
        at(0, 11, 2, 5),
        4,
        Some("vip"),
        Some("a02"),
        EventKind::Connect {
            offer: acd::OfferId(99),
            wait_ms: 5_000,
            ring_ms: 1_000,
        },
    );
    fx.survey(4, at(0, 11, 5, 0), "5");
    let t = run("agent-satisfaction", &day_query(1), &fx);
    assert_eq!(shown(&t, "a01", "responses"), "3", "`9` is no score");
    assert_eq!(shown(&t, "a01", "satisfied"), "2");
    assert_eq!(shown(&t, "a01", "satisfaction_rate"), "66.67 %");
    assert_eq!(shown(&t, "a01", "avg_score"), "3.67");
    assert_eq!(shown(&t, "a01", "survey_clicks_inbound"), "2");
    assert_eq!(shown(&t, "a01", "survey_clicks_outbound"), "1");
    assert_eq!(shown(&t, "a01", "survey_clicks_inbound_transferred"), "1");
    assert_eq!(shown(&t, "a02", "responses"), "1");
    assert_eq!(shown(&t, "a02", "satisfaction_rate"), "100.00 %");
    assert_eq!(crate::aggregate::survey_score("0"), None);
    assert_eq!(crate::aggregate::survey_score(""), None);
    assert_eq!(crate::aggregate::survey_score("3>4"), Some(3));
}

#[test]
fn call_quality_per_day_trunk_and_agent() {
    let mut fx = Fx::default();
    fx.queued(
        1,
        at(0, 9, 0, 0),
        "sales",
        "+3120001",
        answered("a01", 5, 60),
    );
    fx.leg(1, 4.2, 3.9, 1.5, 10.0);
    fx.leg(1, 3.9, 3.1, 0.5, 30.0);
    fx.queued(
        2,
        at(1, 9, 0, 0),
        "sales",
        "+3120002",
        answered("a01", 5, 60),
    );
    fx.leg(2, 4.4, 4.4, 0.0, 2.0);
    let t = run("call-quality", &day_query(2), &fx);
    assert_eq!(t.rows.len(), 2);
    let d0 = "2026-11-02";
    assert_eq!(shown(&t, d0, "trunk"), "carrier-a");
    assert_eq!(shown(&t, d0, "agent"), "a01");
    assert_eq!(shown(&t, d0, "legs"), "2");
    assert_eq!(shown(&t, d0, "avg_mos"), "4.05");
    assert_eq!(shown(&t, d0, "worst_mos"), "3.10");
    assert_eq!(shown(&t, d0, "avg_max_loss_pct"), "1.00 %");
    assert_eq!(shown(&t, d0, "max_loss_pct"), "1.50 %");
    assert_eq!(shown(&t, d0, "avg_max_jitter_ms"), "20.00 ms");
    assert_eq!(shown(&t, d0, "max_jitter_ms"), "30.00 ms");
    let total = run(
        "call-quality",
        &Query {
            by: Some(Period::Total),
            ..day_query(2)
        },
        &fx,
    );
    assert_eq!(shown(&total, "total", "legs"), "3");
    assert_eq!(
        shown(&total, "total", "avg_mos"),
        "4.17",
        "12.5 / 3 = 4.1666…"
    );
    assert_eq!(shown(&total, "total", "worst_mos"), "3.10");
    // An agent outside a leader's scope is not shown.
    let q = Query {
        viewer: crate::settings::Viewer::Agent("a02".into()),
        ..day_query(2)
    };
    assert!(run("call-quality", &q, &fx).rows.is_empty());
}

#[test]
fn terminal_csv_and_json_rendering() {
    let fx = inbound_day();
    let mut t = run("service-numbers", &day_query(1), &fx);
    let text = crate::render::terminal(&t);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0]
        .starts_with("inbound calls and outcomes per service number — 2026-11-02 to 2026-11-03"));
    assert!(lines[1].starts_with("service number  calls"), "{text}");
    assert!(lines[2].starts_with("──────────────"));
    // Numbers are right-aligned under their header.
    let header_end = lines[1].find("answer rate").unwrap() + "answer rate".len();
    let pct = lines[3].find("33.33 %").unwrap() + "33.33 %".len();
    assert_eq!(header_end, pct, "{text}");
    t.rows[0][0] = crate::value::Cell::text("a, \"b\"");
    let csv = crate::render::csv(&t);
    assert_eq!(
        csv.lines().next().unwrap(),
        "service_number,calls,answered,abandoned,missed,answer_rate,avg_talk_s"
    );
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("\"a, \"\"b\"\"\",3,1,1,1,33.33,"),
        "{csv}"
    );
    let json = crate::render::json(&t);
    assert_eq!(json["report"], "service-numbers");
    assert_eq!(json["rows"][1]["answer_rate"], 50.0);
    assert_eq!(json["rows"][1]["calls"], 2);
    assert!(catalog::run("nope", &day_query(1), &settings(), &Memory(&fx.batch)).is_err());
    let empty = Query {
        from_ms: day0(),
        to_ms: day0(),
        ..Query::default()
    };
    assert!(catalog::run("queues", &empty, &settings(), &Memory(&fx.batch)).is_err());
}

#[test]
fn every_report_runs_and_charts_to_svg_and_png() {
    let mut fx = inbound_day();
    fx.queued(
        7,
        at(0, 14, 0, 0),
        "vip",
        "+3120777",
        answered("a02", 25, 200),
    );
    fx.leg(7, 4.1, 3.8, 0.7, 12.0);
    fx.survey(7, at(0, 14, 5, 0), "4");
    fx.batch
        .tags
        .push((acd::CallId(7).to_string(), "vip".into()));
    fx.cdr(
        8,
        "outbound",
        at(0, 15, 0, 0),
        "a01",
        "+4930",
        true,
        65,
        "carrier-b",
    );
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("REPORTS_CHART_DIR").map(std::path::PathBuf::from);
    for r in catalog::REPORTS {
        let t = run(r.name, &day_query(1), &fx);
        assert!(!t.columns.is_empty(), "{}", r.name);
        for ext in ["svg", "png"] {
            let base = keep.as_deref().unwrap_or(dir.path());
            let path = base.join(format!("{}.{ext}", r.name));
            match crate::chart::render(&t, &path) {
                Ok(()) => {
                    let bytes = std::fs::read(&path).unwrap();
                    match ext {
                        "png" => assert_eq!(&bytes[1..4], b"PNG", "{}", r.name),
                        _ => assert!(
                            String::from_utf8_lossy(&bytes).contains("<svg"),
                            "{}",
                            r.name
                        ),
                    }
                }
                Err(e) if t.rows.is_empty() => assert!(e.to_string().contains("nothing to chart")),
                Err(e) => panic!("{}: {e}", r.name),
            }
        }
    }
    assert!(crate::chart::render(
        &run("queues", &day_query(1), &fx),
        &dir.path().join("x.gif")
    )
    .is_err());
    let _ = days_from_civil(2026, 1, 1);
}
