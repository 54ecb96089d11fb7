//! SPEC §6 and §13.4 acceptance examples, hand-computed, on events the
//! engine itself produced in virtual time.

use super::*;
use crate::{Acd, AcdConfig, Action, AgentProfile, CallerInfo, Now, QueueConfig, ReasonCode};

const DAY0: u64 = 1_764_028_800_000; // 2025-11-25T00:00:00Z

struct Day {
    acd: Acd,
    now: Now,
    events: Vec<QueueEvent>,
}

impl Day {
    fn new() -> Self {
        let g = QueueConfig {
            wrap_up_s: 0,
            ring_timeout_s: 60,
            ..QueueConfig::named("g")
        };
        let mut acd = Acd::new(AcdConfig::default(), vec![g]).unwrap();
        let now = Now::new(0, DAY0 + 9 * 3_600_000);
        acd.add_agent(now, AgentProfile::new("a", &["g:5"]).unwrap())
            .unwrap();
        acd.handle_agent_login(now, &AgentId::from("a")).unwrap();
        acd.handle_agent_break(now, &AgentId::from("a"), ReasonCode::from("x"))
            .unwrap();
        Self {
            acd,
            now,
            events: Vec::new(),
        }
    }

    fn step(&mut self, ms: u64) {
        self.now = self.now.plus_ms(ms);
        self.acd.handle_timeout(self.now);
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.acd.poll_action() {
            out.push(a);
        }
        while let Some(e) = self.acd.poll_event() {
            self.events.push(e);
        }
        out
    }

    fn enter(&mut self, call: u64) {
        let info = CallerInfo {
            call: CallId(call),
            queue: QueueId::from("g"),
            number: format!("+3161234{call:04}"),
            service_number: None,
            priority: 0,
        };
        self.acd.handle_caller_enter(self.now, info).unwrap();
        self.drain();
    }

    /// A call answered after `wait_s` (agent rings `ring_s` of it), talking `talk_s`.
    fn answered(&mut self, call: u64, wait_s: u64, ring_s: u64, talk_s: u64) {
        self.enter(call);
        self.step((wait_s - ring_s) * 1000);
        self.acd
            .handle_agent_ready(self.now, &AgentId::from("a"))
            .unwrap();
        let offer = self
            .drain()
            .into_iter()
            .find_map(|a| match a {
                Action::Offer { offer, .. } => Some(offer),
                _ => None,
            })
            .unwrap();
        self.step(ring_s * 1000);
        self.acd.handle_offer_answered(self.now, offer).unwrap();
        self.step(talk_s * 1000);
        self.acd.handle_hangup(self.now, CallId(call));
        self.acd
            .handle_agent_break(self.now, &AgentId::from("a"), ReasonCode::from("x"))
            .unwrap();
        self.drain();
        self.step(60_000);
    }

    fn abandoned(&mut self, call: u64, wait_s: u64) {
        self.enter(call);
        self.step(wait_s * 1000);
        self.acd.handle_hangup(self.now, CallId(call));
        self.drain();
        self.step(60_000);
    }
}

#[test]
fn spec_13_4_fixture_day() {
    let mut d = Day::new();
    for (i, w) in [5, 12, 18, 25, 40].into_iter().enumerate() {
        d.answered(i as u64, w, 2, 60);
    }
    for (i, w) in [10, 40, 50].into_iter().enumerate() {
        d.abandoned(10 + i as u64, w);
    }
    d.answered(20, 60, 30, 60);
    d.answered(21, 60, 10, 60);
    let s = queue_stats(&d.events, &QueueId::from("g"), DAY0, DAY0 + 86_400_000, 20);
    assert_eq!((s.offered, s.answered, s.abandoned), (10, 7, 3));
    assert_eq!(show_ratio(s.answer_rate()), "70.00 %");
    assert_eq!(show_ratio(s.answer_rate_within(15)), "20.00 %");
    assert_eq!(show_ratio(s.answer_rate_within(20)), "30.00 %");
    assert_eq!(show_ratio(s.answer_rate_within(30)), "40.00 %");
    assert_eq!(show_ratio(s.abandon_rate()), "30.00 %");
    assert_eq!(show_ratio(s.service_level()), "30.00 %");
    // (5+12+18+25+40+60+60)/7, (10+40+50)/3, 7×60/7.
    assert_eq!(show_seconds(s.avg_answered_wait_s()), "31.43 s");
    assert_eq!(show_seconds(s.avg_abandoned_wait_s()), "33.33 s");
    assert_eq!(show_seconds(s.avg_talk_s()), "60.00 s");
    // Pickup: rung 2 s (×5), 30 s, 10 s → 6 of 7 within 15 s and 20 s, all within 30 s.
    let p = agent_pickup(&d.events, &AgentId::from("a"), DAY0, DAY0 + 86_400_000);
    assert_eq!((p.presented, p.answered), (7, 7));
    assert_eq!(show_ratio(p.pickup_rate(15)), "85.71 %");
    assert_eq!(show_ratio(p.pickup_rate(30)), "100.00 %");
    // The next day is empty: every rate is "—", not 0.
    let next = queue_stats(
        &d.events,
        &QueueId::from("g"),
        DAY0 + 86_400_000,
        DAY0 + 2 * 86_400_000,
        20,
    );
    assert_eq!(next.offered, 0);
    assert_eq!(show_ratio(next.service_level()), "—");
    assert_eq!(show_seconds(next.avg_talk_s()), "—");
}

#[test]
fn spec_6_answered_after_25s_and_abandoned_after_40s() {
    let mut d = Day::new();
    d.answered(1, 25, 1, 30);
    d.abandoned(2, 40);
    let s = queue_stats(&d.events, &QueueId::from("g"), DAY0, DAY0 + 86_400_000, 20);
    assert_eq!(s.answered_within, [0, 0, 1], "within 30 s, not 15 or 20");
    assert_eq!((s.abandoned, s.avg_abandoned_wait_s()), (1, Some(40.0)));
}

#[test]
fn spec_13_4_agent_aht_and_rounding() {
    assert_eq!(average_handle_time_s(900, 2, 1), Some(300.0));
    assert_eq!(average_handle_time_s(900, 0, 0), None);
    assert_eq!(Ratio::new(1, 8).unwrap().to_string(), "12.50 %");
    assert_eq!(Ratio::new(1, 3).unwrap().to_string(), "33.33 %");
    assert_eq!(Ratio::new(2, 3).unwrap().to_string(), "66.67 %");
    // 0.125 % exactly → half-up to 0.13 %.
    assert_eq!(Ratio::new(1, 800).unwrap().to_string(), "0.13 %");
    assert_eq!(Ratio::new(1, 0), None);
}
