//! Traffic simulation in virtual time: seeded Poisson arrivals and
//! exponential handle times through a real [`Acd`], to measure wait
//! estimates. Each caller who has to wait on entry gets two predictions —
//! pbx's [`Acd::estimated_wait_ms`] and Asterisk's hold-time average
//! ([`AsteriskHoldtime`], fed with the waits of answered callers as
//! app_queue does) — compared with the wait it then really had.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engine::{Acd, Action, CallerInfo};
use crate::events::EventKind;
use crate::ewt::AsteriskHoldtime;
use crate::ids::{AgentId, CallId, Mono, Now, QueueId};
use crate::{AcdConfig, AgentProfile, QueueConfig};

/// One stretch of traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Calls arriving in this phase.
    pub calls: u32,
    /// Mean time between arrivals (ms).
    pub mean_interarrival_ms: f64,
}

/// The simulated contact center.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// RNG seed.
    pub seed: u64,
    /// Agents (all in the one queue, answering at once, no wrap-up).
    pub agents: u32,
    /// Mean handle time (ms), exponential.
    pub mean_handle_ms: f64,
    /// Arrival phases, in order (load changes make averages lag).
    pub phases: Vec<Phase>,
}

impl Traffic {
    /// 10 agents, 180 s mean handle time, load 0.85 → 0.98 → 0.8 → 0.95, 2,000
    /// calls per phase.
    pub fn standard(seed: u64) -> Self {
        let per_agent = 180_000.0 / 10.0;
        Self {
            seed,
            agents: 10,
            mean_handle_ms: 180_000.0,
            phases: [0.85, 0.98, 0.8, 0.95]
                .into_iter()
                .map(|rho| Phase {
                    calls: 2_000,
                    mean_interarrival_ms: per_agent / rho,
                })
                .collect(),
        }
    }
}

/// What the simulation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EwtReport {
    /// Calls simulated.
    pub calls: u32,
    /// Callers who waited on entry (the ones who hear an estimate).
    pub samples: usize,
    /// Median |pbx estimate − actual wait| (s).
    pub pbx_median_abs_err_s: f64,
    /// Median |Asterisk estimate − actual wait| (s).
    pub asterisk_median_abs_err_s: f64,
    /// Mean actual wait of those callers (s).
    pub mean_wait_s: f64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival(u32),
    End(CallId),
}

/// Runs the traffic through an engine and compares the estimates.
pub fn simulate_ewt(t: &Traffic) -> EwtReport {
    let mut rng = StdRng::seed_from_u64(t.seed);
    let queue = QueueConfig {
        wrap_up_s: 0,
        retry_delay_s: 0,
        ring_timeout_s: 60,
        ..QueueConfig::named("q")
    };
    let mut acd = Acd::new(
        AcdConfig {
            seed: t.seed,
            ..AcdConfig::default()
        },
        vec![queue],
    )
    .expect("valid simulation queue");
    let start = Now::new(0, 1_764_000_000_000);
    for i in 0..t.agents {
        let name = format!("agent{i}");
        acd.add_agent(
            start,
            AgentProfile::new(&name, &["q:5"]).expect("valid skill"),
        )
        .expect("new agent");
        acd.handle_agent_login(start, &AgentId::from(name.as_str()))
            .expect("login");
    }
    // Arrival times, phase by phase.
    let mut arrivals = Vec::new();
    let mut at = 0u64;
    for p in &t.phases {
        for _ in 0..p.calls {
            at += exp(p.mean_interarrival_ms, &mut rng);
            arrivals.push(at);
        }
    }
    let mut heap: BinaryHeap<Reverse<(u64, Ev)>> = BinaryHeap::new();
    for (i, &a) in arrivals.iter().enumerate() {
        heap.push(Reverse((a, Ev::Arrival(i as u32))));
    }
    let mut asterisk = AsteriskHoldtime::default();
    let mut predicted: HashMap<CallId, (u64, i64)> = HashMap::new();
    let (mut pbx_err, mut ast_err, mut waits) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let next_timer = acd.poll_timeout().map(|m| m.0);
        let next_ev = heap.peek().map(|Reverse((t, _))| *t);
        let now_ms = match (next_ev, next_timer) {
            (None, _) => break,
            (Some(e), Some(tm)) if tm < e => {
                let now = start.at(Mono(tm));
                acd.handle_timeout(now);
                tm
            }
            (Some(e), _) => {
                let Some(Reverse((_, ev))) = heap.pop() else {
                    break;
                };
                let now = start.at(Mono(e));
                match ev {
                    Ev::Arrival(i) => {
                        let call = CallId(u64::from(i) + 1);
                        let info = CallerInfo {
                            call,
                            queue: QueueId::from("q"),
                            number: format!("{i}"),
                            service_number: None,
                            priority: 0,
                        };
                        acd.handle_caller_enter(now, info)
                            .expect("simulated caller enters");
                        let waiting = !std::iter::from_fn(|| acd.poll_action())
                            .collect::<Vec<_>>()
                            .into_iter()
                            .any(|a| {
                                let offered =
                                    matches!(&a, Action::Offer { call: c, .. } if *c == call);
                                if let Action::Offer { offer, .. } = a {
                                    acd.handle_offer_answered(now, offer).expect("fresh offer");
                                }
                                offered
                            });
                        if waiting {
                            if let Some(ms) = acd.estimated_wait_ms(call) {
                                predicted.insert(call, (ms, asterisk.estimate_s(0)));
                            }
                        }
                    }
                    Ev::End(call) => acd.handle_hangup(now, call),
                }
                e
            }
        };
        // Answer every offer at once; schedule the ends of connected calls.
        let now = start.at(Mono(now_ms));
        while let Some(a) = acd.poll_action() {
            if let Action::Offer { offer, .. } = a {
                acd.handle_offer_answered(now, offer).expect("fresh offer");
            }
        }
        while let Some(ev) = acd.poll_event() {
            if let (EventKind::Connect { wait_ms, .. }, Some(call)) = (&ev.kind, ev.call) {
                heap.push(Reverse((
                    now_ms + exp(t.mean_handle_ms, &mut rng),
                    Ev::End(call),
                )));
                asterisk.record((*wait_ms / 1000) as i64);
                if let Some((pbx, ast)) = predicted.remove(&call) {
                    let actual = *wait_ms as f64 / 1000.0;
                    pbx_err.push((pbx as f64 / 1000.0 - actual).abs());
                    ast_err.push((ast as f64 - actual).abs());
                    waits.push(actual);
                }
            }
        }
    }
    EwtReport {
        calls: arrivals.len() as u32,
        samples: pbx_err.len(),
        pbx_median_abs_err_s: median(&mut pbx_err),
        asterisk_median_abs_err_s: median(&mut ast_err),
        mean_wait_s: waits.iter().sum::<f64>() / waits.len().max(1) as f64,
    }
}

/// An exponential draw with this mean.
fn exp(mean: f64, rng: &mut StdRng) -> u64 {
    (-mean * (1.0 - rng.gen::<f64>()).ln()) as u64
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbx_estimates_beat_asterisks_on_the_same_traffic() {
        let t = Traffic {
            phases: Traffic::standard(1)
                .phases
                .into_iter()
                .map(|p| Phase { calls: 400, ..p })
                .collect(),
            ..Traffic::standard(1)
        };
        let r = simulate_ewt(&t);
        assert_eq!(r, simulate_ewt(&t), "deterministic with a seed");
        assert_eq!(r.calls, 1_600);
        assert!(r.samples > 100, "{r:?}");
        assert!(
            r.pbx_median_abs_err_s < r.asterisk_median_abs_err_s,
            "{r:?}"
        );
    }
}
