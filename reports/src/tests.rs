//! Hand-computed fixtures pinning every formula (SPEC §6, §13.2–§13.4),
//! over the pure path (aggregation in memory); `tests/store.rs`-style
//! checks of the SQLite path are in `db_tests.rs`.

use acd::{
    AgentState, AgentStateRecord, CallId, CallKind, EventKind, OfferId, QueueEvent, StateCause,
};

use crate::aggregate::{RawBatch, RawCall, RawLeg, RawSurvey};
use crate::catalog::{self, days_from_civil, Query, Source, Table};
use crate::db::{raw_cube, DimFilter, Period};
use crate::settings::{AgentOrg, Regions, ReportSettings, Viewer, DAY_MS};
use crate::summary::{Cube, Kind};
use crate::value::{Cell, Frac, Ratio};

mod db_tests;
mod more;

/// 2026-11-02 00:00 UTC.
pub(super) fn day0() -> i64 {
    days_from_civil(2026, 11, 2) * DAY_MS
}

/// Day `d` (0-based) at `h:m:s` UTC.
pub(super) fn at(d: i64, h: i64, m: i64, s: i64) -> i64 {
    day0() + d * DAY_MS + ((h * 60 + m) * 60 + s) * 1000
}

pub(super) enum Outcome {
    Answered {
        agent: &'static str,
        wait_s: i64,
        ring_s: i64,
        talk_s: i64,
        wrap_s: i64,
    },
    Abandoned {
        wait_s: i64,
    },
    Overflow {
        wait_s: i64,
    },
}

#[derive(Default)]
pub(super) struct Fx {
    pub(super) batch: RawBatch,
    seq: u64,
}

impl Fx {
    pub(super) fn ev(
        &mut self,
        at: i64,
        call: u64,
        queue: Option<&str>,
        agent: Option<&str>,
        kind: EventKind,
    ) {
        self.seq += 1;
        self.batch.events.push(QueueEvent {
            seq: self.seq,
            at_unix_ms: at as u64,
            call: Some(CallId(call)),
            queue: queue.map(Into::into),
            agent: agent.map(Into::into),
            kind,
        });
    }

    pub(super) fn state(
        &mut self,
        at: i64,
        agent: &str,
        from: AgentState,
        to: AgentState,
        cause: StateCause,
        dur_ms: i64,
    ) {
        let r = AgentStateRecord {
            agent: agent.into(),
            at_unix_ms: at as u64,
            from,
            to,
            cause,
            reason: None,
            call: None,
            queue: None,
            from_duration_ms: dur_ms as u64,
        };
        self.seq += 1;
        self.batch.events.push(QueueEvent {
            seq: self.seq,
            at_unix_ms: at as u64,
            call: None,
            queue: None,
            agent: Some(agent.into()),
            kind: EventKind::AgentState(r),
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn cdr(
        &mut self,
        id: u64,
        dir: &str,
        start: i64,
        caller: &str,
        callee: &str,
        answered: bool,
        billsec: i64,
        trunk: &str,
    ) -> &mut RawCall {
        self.batch.calls.push(RawCall {
            call_id: CallId(id).to_string(),
            direction: dir.into(),
            start_ms: start,
            caller: caller.into(),
            callee: callee.into(),
            caller_e164: (dir == "inbound").then(|| caller.to_owned()),
            callee_e164: (dir == "outbound").then(|| callee.to_owned()),
            did: (dir == "inbound").then(|| "+31201110000".to_owned()),
            trunk: Some(trunk.into()),
            disposition: if answered { "ANSWERED" } else { "NO ANSWER" }.into(),
            billsec,
            legs: Vec::new(),
        });
        self.batch.calls.last_mut().expect("just pushed")
    }

    /// An inbound call through `queue`, entering 2 s after it started.
    pub(super) fn queued(
        &mut self,
        id: u64,
        start: i64,
        queue: &str,
        number: &str,
        outcome: Outcome,
    ) {
        let enter = start + 2_000;
        self.ev(
            enter,
            id,
            Some(queue),
            None,
            EventKind::Enter {
                number: number.into(),
                service_number: None,
                priority: 0,
                position: 1,
            },
        );
        let billsec = match outcome {
            Outcome::Answered {
                agent,
                wait_s,
                ring_s,
                talk_s,
                wrap_s,
            } => {
                let connect = enter + wait_s * 1000;
                let offer = connect - ring_s * 1000;
                self.ev(
                    offer,
                    id,
                    Some(queue),
                    Some(agent),
                    EventKind::Offer {
                        offer: OfferId(id),
                        ring_timeout_ms: 30_000,
                    },
                );
                self.state(
                    offer,
                    agent,
                    AgentState::Available,
                    AgentState::Reserved,
                    StateCause::Offer,
                    1_000,
                );
                self.ev(
                    connect,
                    id,
                    Some(queue),
                    Some(agent),
                    EventKind::Connect {
                        offer: OfferId(id),
                        wait_ms: (wait_s * 1000) as u64,
                        ring_ms: (ring_s * 1000) as u64,
                    },
                );
                self.state(
                    connect,
                    agent,
                    AgentState::Reserved,
                    AgentState::OnCall(CallKind::Queue),
                    StateCause::Answered,
                    ring_s * 1000,
                );
                let end = connect + talk_s * 1000;
                self.ev(
                    end,
                    id,
                    Some(queue),
                    Some(agent),
                    EventKind::Complete {
                        talk_ms: (talk_s * 1000) as u64,
                        hold_ms: 0,
                    },
                );
                self.state(
                    end,
                    agent,
                    AgentState::OnCall(CallKind::Queue),
                    AgentState::WrapUp,
                    StateCause::CallEnded,
                    talk_s * 1000,
                );
                self.state(
                    end + wrap_s * 1000,
                    agent,
                    AgentState::WrapUp,
                    AgentState::Available,
                    StateCause::WrapUpExpired,
                    wrap_s * 1000,
                );
                2 + wait_s + talk_s
            }
            Outcome::Abandoned { wait_s } => {
                self.ev(
                    enter + wait_s * 1000,
                    id,
                    Some(queue),
                    None,
                    EventKind::Abandon {
                        position: 1,
                        wait_ms: (wait_s * 1000) as u64,
                    },
                );
                2 + wait_s
            }
            Outcome::Overflow { wait_s } => {
                self.ev(
                    enter + wait_s * 1000,
                    id,
                    Some(queue),
                    None,
                    EventKind::Overflow {
                        reason: acd::OverflowReason::MaxWait,
                        target: None,
                        wait_ms: (wait_s * 1000) as u64,
                    },
                );
                2 + wait_s
            }
        };
        // The B2BUA answers queue calls itself: the record says ANSWERED either way.
        self.cdr(
            id,
            "inbound",
            start,
            number,
            "+31201110000",
            true,
            billsec,
            "carrier-a",
        );
    }

    pub(super) fn survey(&mut self, id: u64, started: i64, keys: &str) {
        self.batch.surveys.push(RawSurvey {
            call_id: CallId(id).to_string(),
            started_ms: started,
            key_path: keys.into(),
        });
    }

    pub(super) fn leg(&mut self, id: u64, mos: f64, worst: f64, loss: f64, jitter: f64) {
        let call_id = CallId(id).to_string();
        let c = self
            .batch
            .calls
            .iter_mut()
            .find(|c| c.call_id == call_id)
            .expect("the call exists");
        c.legs.push(RawLeg {
            mos_avg: mos,
            mos_worst: worst,
            loss_max_pct: loss,
            jitter_max_ms: jitter,
        });
    }
}

/// Reports straight from a batch (no store).
pub(super) struct Memory<'a>(pub(super) &'a RawBatch);

impl Source for Memory<'_> {
    fn cube(
        &self,
        kind: Kind,
        from_ms: i64,
        to_ms: i64,
        period: Period,
        filter: &DimFilter,
        s: &ReportSettings,
    ) -> crate::Result<Cube> {
        Ok(raw_cube(self.0, kind, from_ms, to_ms, period, filter, s))
    }
}

pub(super) fn settings() -> ReportSettings {
    let org = |a: &str, l: Option<&str>, d: &str| AgentOrg {
        agent: a.into(),
        leader: l.map(Into::into),
        department: Some(d.into()),
    };
    ReportSettings {
        agents: vec![
            org("a01", None, "sales"),
            org("a02", Some("a01"), "sales"),
            org("a03", Some("a02"), "service"),
            org("a04", None, "service"),
        ],
        regions: Regions::parse(
            "test",
            "prefix,region\n+3120,Amsterdam\n+31,Netherlands\n+49,Germany\n",
        )
        .unwrap(),
        ..ReportSettings::default()
    }
}

pub(super) fn day_query(days: i64) -> Query {
    Query {
        from_ms: day0(),
        to_ms: day0() + days * DAY_MS,
        ..Query::default()
    }
}

pub(super) fn run(name: &str, q: &Query, fx: &Fx) -> Table {
    catalog::run(name, q, &settings(), &Memory(&fx.batch)).unwrap()
}

/// The displayed cell of the row labelled `row` in column `key`.
pub(super) fn shown(t: &Table, row: &str, key: &str) -> String {
    let r = t
        .row_of(row)
        .unwrap_or_else(|| panic!("no row {row} in {t:#?}"));
    t.cell(r, key)
        .unwrap_or_else(|| panic!("no column {key}"))
        .display()
}

/// SPEC §13.4: 10 offered calls (answered after 5, 12, 18, 25, 40 s; 3
/// abandoned; 2 answered after 60 s).
fn acceptance_day() -> Fx {
    let mut fx = Fx::default();
    let answered = [5, 12, 18, 25, 40, 60, 60];
    for (i, w) in answered.iter().enumerate() {
        let talk_s = 100 * (i as i64 + 1);
        fx.queued(
            i as u64 + 1,
            at(0, 10, i as i64, 0),
            "sales",
            &format!("+3120555000{i}"),
            Outcome::Answered {
                agent: "a01",
                wait_s: *w,
                ring_s: 3,
                talk_s,
                wrap_s: 10,
            },
        );
    }
    for (i, w) in [10, 20, 40].iter().enumerate() {
        fx.queued(
            20 + i as u64,
            at(0, 11, i as i64, 0),
            "sales",
            &format!("+4930555000{i}"),
            Outcome::Abandoned { wait_s: *w },
        );
    }
    fx
}

#[test]
fn seed_acceptance_figures_of_section_13_4() {
    let fx = acceptance_day();
    let t = run("queues", &day_query(1), &fx);
    assert_eq!(shown(&t, "sales", "offered"), "10");
    assert_eq!(shown(&t, "sales", "answer_rate"), "70.00 %");
    assert_eq!(shown(&t, "sales", "answer_rate_15s"), "20.00 %");
    assert_eq!(shown(&t, "sales", "answer_rate_20s"), "30.00 %");
    assert_eq!(shown(&t, "sales", "answer_rate_30s"), "40.00 %");
    assert_eq!(shown(&t, "sales", "abandon_rate"), "30.00 %");
    assert_eq!(shown(&t, "sales", "service_level"), "30.00 %");
    // (5+12+18+25+40+60+60)/7 = 31.428… s; (10+20+40)/3 = 23.333… s;
    // talk 100+…+700 = 2800 s / 7 = 400 s.
    assert_eq!(shown(&t, "sales", "avg_answered_wait_s"), "31.43 s");
    assert_eq!(shown(&t, "sales", "avg_abandoned_wait_s"), "23.33 s");
    assert_eq!(shown(&t, "sales", "avg_talk_s"), "400.00 s");

    // The same figures as the ACD's own formulas (acd::stats).
    let acd = acd::stats::queue_stats(
        &fx.batch.events,
        &"sales".into(),
        day0() as u64,
        (day0() + DAY_MS) as u64,
        20,
    );
    assert_eq!((acd.offered, acd.answered, acd.abandoned), (10, 7, 3));
    assert_eq!(
        acd.answer_rate().unwrap().to_string(),
        shown(&t, "sales", "answer_rate")
    );
    assert_eq!(
        acd.service_level().unwrap().to_string(),
        shown(&t, "sales", "service_level")
    );
    for (n, key) in [
        (15, "answer_rate_15s"),
        (20, "answer_rate_20s"),
        (30, "answer_rate_30s"),
    ] {
        assert_eq!(
            acd.answer_rate_within(n).unwrap().to_string(),
            shown(&t, "sales", key)
        );
    }

    // A queue threshold of 30 s moves the service level, not the fixed rates.
    let mut s = settings();
    s.service_level_s.insert("sales".into(), 30);
    let t30 = catalog::run("queues", &day_query(1), &s, &Memory(&fx.batch)).unwrap();
    assert_eq!(shown(&t30, "sales", "service_level"), "40.00 %");
    assert_eq!(shown(&t30, "sales", "answer_rate_20s"), "30.00 %");
}

#[test]
fn section_6_acceptance_25_s_answer_and_40_s_abandon() {
    let mut fx = Fx::default();
    fx.queued(
        1,
        at(0, 9, 0, 0),
        "support",
        "+3120111",
        Outcome::Answered {
            agent: "a02",
            wait_s: 25,
            ring_s: 2,
            talk_s: 60,
            wrap_s: 0,
        },
    );
    fx.queued(
        2,
        at(0, 9, 5, 0),
        "support",
        "+3120112",
        Outcome::Abandoned { wait_s: 40 },
    );
    let t = run("queues", &day_query(1), &fx);
    assert_eq!(shown(&t, "support", "answer_rate_15s"), "0.00 %");
    assert_eq!(shown(&t, "support", "answer_rate_20s"), "0.00 %");
    assert_eq!(shown(&t, "support", "answer_rate_30s"), "50.00 %");
    assert_eq!(shown(&t, "support", "abandoned"), "1");
    assert_eq!(shown(&t, "support", "avg_abandoned_wait_s"), "40.00 s");
}

/// SPEC §13.4: 2 inbound + 1 outbound answered calls, 900 s handle → AHT 300 s.
fn workload_fixture() -> Fx {
    let mut fx = Fx::default();
    fx.state(
        at(0, 8, 0, 0),
        "a01",
        AgentState::LoggedOut,
        AgentState::Available,
        StateCause::Login,
        0,
    );
    // Inbound: talk 170 + wrap 30, talk 310 + wrap 40 = 550 s.
    fx.queued(
        1,
        at(0, 9, 0, 0),
        "sales",
        "+3120100",
        Outcome::Answered {
            agent: "a01",
            wait_s: 8,
            ring_s: 10,
            talk_s: 170,
            wrap_s: 30,
        },
    );
    fx.queued(
        2,
        at(1, 9, 0, 0),
        "sales",
        "+3120101",
        Outcome::Answered {
            agent: "a01",
            wait_s: 9,
            ring_s: 16,
            talk_s: 310,
            wrap_s: 40,
        },
    );
    // A third offer answered after 25 s of ringing, a fourth not answered.
    fx.queued(
        3,
        at(1, 10, 0, 0),
        "vip",
        "+3120102",
        Outcome::Answered {
            agent: "a02",
            wait_s: 30,
            ring_s: 25,
            talk_s: 60,
            wrap_s: 0,
        },
    );
    fx.state(
        at(1, 11, 0, 0),
        "a02",
        AgentState::Available,
        AgentState::Reserved,
        StateCause::Offer,
        5_000,
    );
    fx.state(
        at(1, 11, 0, 30),
        "a02",
        AgentState::Reserved,
        AgentState::Available,
        StateCause::OfferFailed,
        30_000,
    );
    // Outbound: 350 s answered (6 billing minutes), one unanswered.
    fx.cdr(
        10,
        "outbound",
        at(1, 14, 0, 0),
        "a01",
        "+3120999",
        true,
        350,
        "carrier-b",
    );
    fx.cdr(
        11,
        "outbound",
        at(1, 15, 0, 0),
        "a01",
        "+4930999",
        false,
        0,
        "carrier-b",
    );
    // a04: outbound only — 61 s → 2 min, 60 s → 1 min, 1 s → 1 min.
    for (i, b) in [61, 60, 1].iter().enumerate() {
        fx.cdr(
            20 + i as u64,
            "outbound",
            at(2, 10, i as i64, 0),
            "a04",
            "+3110999",
            true,
            *b,
            "carrier-b",
        );
    }
    fx
}

#[test]
fn agent_workload_aht_pickups_billing_and_work_days() {
    let fx = workload_fixture();
    let t = run("agent-workload", &day_query(3), &fx);
    assert_eq!(shown(&t, "a01", "inbound_answered"), "2");
    assert_eq!(shown(&t, "a01", "outbound_answered"), "1");
    assert_eq!(shown(&t, "a01", "aht_s"), "300.00 s", "900 s / 3 calls");
    assert_eq!(shown(&t, "a01", "aht_in_s"), "275.00 s", "550 s / 2");
    assert_eq!(shown(&t, "a01", "aht_out_s"), "350.00 s");
    assert_eq!(shown(&t, "a01", "avg_wrap_up_in_s"), "35.00 s");
    assert_eq!(shown(&t, "a01", "billing_minutes"), "6");
    assert_eq!(
        shown(&t, "a01", "work_days"),
        "2",
        "day 0 (login, a call) and day 1 (calls)"
    );
    assert_eq!(shown(&t, "a01", "department"), "sales");
    // a01 rang twice: 10 s and 16 s.
    assert_eq!(shown(&t, "a01", "pickup_rate_15s"), "50.00 %");
    assert_eq!(shown(&t, "a01", "pickup_rate_20s"), "100.00 %");
    // a02: 25 s, then an unanswered offer.
    assert_eq!(shown(&t, "a02", "presented"), "2");
    assert_eq!(shown(&t, "a02", "pickup_rate_20s"), "0.00 %");
    assert_eq!(shown(&t, "a02", "pickup_rate_30s"), "50.00 %");
    assert_eq!(shown(&t, "a04", "billing_minutes"), "4");
    assert_eq!(shown(&t, "a04", "aht_in_s"), "—", "no inbound answered");
    assert_eq!(shown(&t, "a04", "pickup_rate_15s"), "—", "never rung");
    assert_eq!(shown(&t, "a04", "aht_s"), "40.67 s", "122 s / 3 half-up");

    let d = run("department-workload", &day_query(3), &fx);
    assert_eq!(shown(&d, "sales", "inbound_answered"), "3");
    assert_eq!(shown(&d, "sales", "billing_minutes"), "6");
    assert_eq!(shown(&d, "service", "billing_minutes"), "4");
    assert_eq!(shown(&d, "service", "agents"), "1");
}

#[test]
fn viewer_scope_leader_sees_self_and_subordinates() {
    let fx = workload_fixture();
    let s = settings();
    let agents = |viewer: Viewer| -> Vec<String> {
        let q = Query {
            viewer,
            ..day_query(3)
        };
        let t = catalog::run("agent-workload", &q, &s, &Memory(&fx.batch)).unwrap();
        t.rows.iter().map(|r| r[0].display()).collect()
    };
    assert_eq!(
        agents(Viewer::Admin),
        ["a01", "a02", "a04"],
        "every agent with data"
    );
    // a01 leads a02, who leads a03 (no data, still listed).
    assert_eq!(agents(Viewer::Leader("a01".into())), ["a01", "a02", "a03"]);
    assert_eq!(agents(Viewer::Leader("a02".into())), ["a02", "a03"]);
    assert_eq!(agents(Viewer::Agent("a04".into())), ["a04"]);
    let dep = catalog::run(
        "department-workload",
        &Query {
            viewer: Viewer::Leader("a02".into()),
            ..day_query(3)
        },
        &s,
        &Memory(&fx.batch),
    )
    .unwrap();
    assert_eq!(shown(&dep, "sales", "agents"), "1", "a02 only");
}

#[test]
fn exact_half_up_rounding_and_dashes() {
    let show = |n, d| Ratio::new(n, d).unwrap().to_string();
    assert_eq!(show(1, 8), "12.50 %");
    assert_eq!(show(1, 3), "33.33 %");
    assert_eq!(show(2, 3), "66.67 %");
    assert_eq!(show(1, 6), "16.67 %");
    assert_eq!(show(1, 16), "6.25 %");
    assert_eq!(show(1, 80_000), "0.00 %");
    assert_eq!(show(1, 20_000), "0.01 %", "0.005 % rounds up");
    // 0.125 → 0.13 and 2.675 → 2.68 (a float would print 2.67).
    assert_eq!(Frac::new(1, 8).unwrap().to_string(), "0.13");
    assert_eq!(Frac::new(2675, 1000).unwrap().to_string(), "2.68");
    assert_eq!(
        format!("{:.2}", 2.675_f64),
        "2.67",
        "why floats are not used"
    );
    assert_eq!(Frac::new(1, 0), None);
    let none = Cell::Percent(None);
    assert_eq!(
        (none.display(), none.csv(), none.json()),
        ("—".into(), "—".into(), serde_json::Value::Null)
    );
    assert_eq!(
        Cell::Percent(Ratio::new(7, 10)).json(),
        serde_json::json!(70.0)
    );
}

#[test]
fn empty_queue_prints_dashes_never_zero() {
    let mut fx = Fx::default();
    // The queue had a caller on day 0 only; day 1's trend row is all dashes.
    fx.queued(
        1,
        at(0, 9, 0, 0),
        "sales",
        "+3120111",
        Outcome::Overflow { wait_s: 90 },
    );
    let q = Query {
        by: Some(Period::Day),
        ..day_query(2)
    };
    let t = run("queue-trend", &q, &fx);
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.cell(0, "overflowed").unwrap().display(), "1");
    assert_eq!(t.cell(0, "answer_rate").unwrap().display(), "0.00 %");
    assert_eq!(t.cell(0, "avg_answered_wait_s").unwrap().display(), "—");
    for key in ["answer_rate", "service_level", "abandon_rate", "avg_talk_s"] {
        assert_eq!(t.cell(1, key).unwrap().display(), "—", "{key}");
    }
    let json = crate::render::json(&t);
    assert_eq!(json["rows"][1]["service_level"], serde_json::Value::Null);
    assert!(crate::render::csv(&t)
        .lines()
        .nth(2)
        .unwrap()
        .contains(",—,"));
}
