//! Routing decision time of the one matcher at contact-center scale:
//! 10,000 agents, 1,000 queues, each agent in 5 queues (seeded random
//! queues and levels, longest-idle / skills / fewest-calls / round-robin
//! queues mixed). Two decisions:
//! - a caller enters a queue with agents available → the offer;
//! - an agent becomes available with callers waiting in all its queues →
//!   the offer to the longest waiter it may take.
//!
//! Prints p50 / p99 over 100,000 timed decisions each (one `Instant` pair
//! around the `handle_*` call that decides, draining not included), then
//! runs criterion on the same two operations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use acd::{
    Acd, AcdConfig, Action, AgentId, AgentProfile, CallId, CallerInfo, Now, QueueConfig, QueueId,
    ReasonCode, Strategy,
};
use criterion::{criterion_group, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const AGENTS: usize = 10_000;
const QUEUES: usize = 1_000;
const SKILLS: usize = 5;

fn drain(acd: &mut Acd) -> Option<Action> {
    let mut offer = None;
    while let Some(a) = acd.poll_action() {
        if matches!(a, Action::Offer { .. }) {
            offer = Some(a);
        }
    }
    while acd.poll_event().is_some() {}
    offer
}

fn center(seed: u64) -> (Acd, Now, Vec<AgentId>) {
    let strategies = [
        Strategy::LongestIdle,
        Strategy::Skills,
        Strategy::FewestCalls,
        Strategy::RoundRobin,
    ];
    let queues = (0..QUEUES)
        .map(|i| QueueConfig {
            strategy: strategies[i % 4],
            retry_delay_s: 0,
            ..QueueConfig::named(&format!("q{i}"))
        })
        .collect();
    let mut acd = Acd::new(
        AcdConfig {
            seed,
            ..AcdConfig::default()
        },
        queues,
    )
    .expect("valid");
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Now::new(0, 1_764_000_000_000);
    let mut names = Vec::with_capacity(AGENTS);
    for a in 0..AGENTS {
        let mut qs: Vec<usize> = Vec::new();
        while qs.len() < SKILLS {
            let q = rng.gen_range(0..QUEUES);
            if !qs.contains(&q) {
                qs.push(q);
            }
        }
        let skills: Vec<String> = qs
            .iter()
            .map(|q| format!("q{q}:{}", rng.gen_range(1..=10)))
            .collect();
        let skills: Vec<&str> = skills.iter().map(String::as_str).collect();
        let name = format!("agent{a}");
        acd.add_agent(now, AgentProfile::new(&name, &skills).expect("skills"))
            .expect("agent");
        acd.handle_agent_login(now, &AgentId::from(name.as_str()))
            .expect("login");
        names.push(AgentId::from(name.as_str()));
    }
    drain(&mut acd);
    (acd, now, names)
}

fn percentiles(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name}: n={} p50={:?} p90={:?} p99={:?} p99.9={:?} max={:?}",
        v.len(),
        p(0.50),
        p(0.90),
        p(0.99),
        p(0.999),
        v[v.len() - 1]
    );
}

/// Caller enters with agents available: time the enter (match + offer).
fn caller_enters(acd: &mut Acd, now: &mut Now, rng: &mut StdRng, call: u64) -> Duration {
    let info = CallerInfo {
        call: CallId(call),
        queue: QueueId::from(format!("q{}", rng.gen_range(0..QUEUES))),
        number: "+31".into(),
        service_number: None,
        priority: 0,
    };
    *now = now.plus_ms(1);
    let t = Instant::now();
    acd.handle_caller_enter(*now, info).expect("enter");
    let d = t.elapsed();
    assert!(drain(acd).is_some(), "agents are available in every queue");
    acd.handle_hangup(*now, CallId(call));
    drain(acd);
    d
}

/// Agent becomes ready with callers waiting: time the ready (match + offer).
fn agent_ready(acd: &mut Acd, now: &mut Now, names: &[AgentId], rng: &mut StdRng) -> Duration {
    let agent = &names[rng.gen_range(0..names.len())];
    *now = now.plus_ms(1);
    let t = Instant::now();
    acd.handle_agent_ready(*now, agent).expect("ready");
    let d = t.elapsed();
    let offered = drain(acd).is_some();
    // Back on break: the offer is withdrawn and the caller waits again.
    acd.handle_agent_break(*now, agent, ReasonCode::from("b"))
        .expect("break");
    drain(acd);
    assert!(offered, "callers wait in every queue");
    d
}

/// Every agent on break, 5 callers waiting in every queue.
fn waiting_center(seed: u64) -> (Acd, Now, Vec<AgentId>) {
    let (mut acd, mut now, names) = center(seed);
    for n in &names {
        acd.handle_agent_break(now, n, ReasonCode::from("b"))
            .expect("break");
    }
    let mut call = 1_000_000;
    for _ in 0..5 {
        for q in 0..QUEUES {
            now = now.plus_ms(1);
            call += 1;
            let info = CallerInfo {
                call: CallId(call),
                queue: QueueId::from(format!("q{q}")),
                number: "+31".into(),
                service_number: None,
                priority: 0,
            };
            acd.handle_caller_enter(now, info).expect("enter");
        }
    }
    drain(&mut acd);
    (acd, now, names)
}

fn report() {
    let mut rng = StdRng::seed_from_u64(42);
    let (mut acd, mut now, _) = center(1);
    let v: Vec<Duration> = (0..100_000)
        .map(|i| caller_enters(&mut acd, &mut now, &mut rng, i))
        .collect();
    percentiles("caller enters, agents available (10k agents, 1k queues)", v);
    let (mut acd, mut now, names) = waiting_center(2);
    let v: Vec<Duration> = (0..100_000)
        .map(|_| agent_ready(&mut acd, &mut now, &names, &mut rng))
        .collect();
    percentiles(
        "agent ready, 5,000 callers waiting (10k agents, 1k queues)",
        v,
    );
}

fn benches(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let (mut acd, mut now, _) = center(3);
    let mut call = 0;
    c.bench_function("matcher: caller enters, agents available", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    call += 1;
                    caller_enters(&mut acd, &mut now, &mut rng, call)
                })
                .sum()
        })
    });
    let (mut acd, mut now, names) = waiting_center(4);
    c.bench_function("matcher: agent ready, callers waiting", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| black_box(agent_ready(&mut acd, &mut now, &names, &mut rng)))
                .sum()
        })
    });
}

criterion_group!(group, benches);

fn main() {
    report();
    group();
    Criterion::default().configure_from_args().final_summary();
}
