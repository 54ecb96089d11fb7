//! From stored facts to summary rows: a pure function over call records,
//! queue events, survey trajectories and tags of a time range. The same
//! function fills the summary tables (every 15 minutes, nightly) and
//! computes the raw tail of "today" at query time, so both agree.
//!
//! Which instant a figure counts at:
//! - call figures (volume, outcome, talk, region, quality, tags, outbound
//!   workload): the call's start;
//! - queue figures (offered, answered, abandoned, waits, talk): the moment
//!   the call entered the queue, as in `acd::stats` — a call entering twice
//!   counts twice;
//! - agent figures from the event log (offers, pickups, logins, wrap-up,
//!   answered queue calls, their talk, one-call resolution): the event;
//! - surveys: the start of the survey flow.
//!
//! An inbound call is *answered* when it reached an agent (a queue connect,
//! or a direct call answered), *abandoned* when its caller hung up in a
//! queue before that, else *missed*. The B2BUA answers queue and IVR calls
//! itself, so the record's disposition alone does not say it.

use std::collections::{BTreeMap, HashMap};

use acd::{AgentState, CallKind, EventKind, QueueEvent, StateCause};

use crate::settings::ReportSettings;
use crate::summary::{self, agents as ag, queues as qq, slot_of, Cube, Kind};

/// One stored call record, as the reports read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawCall {
    /// pbx's call id (`c…`), as in the queue events.
    pub call_id: String,
    /// `inbound`, `outbound` or `internal`.
    pub direction: String,
    /// Start, Unix ms.
    pub start_ms: i64,
    /// Calling party (the agent's user name for an agent's outbound call).
    pub caller: String,
    /// Called party.
    pub callee: String,
    /// The caller in E.164.
    pub caller_e164: Option<String>,
    /// The callee in E.164.
    pub callee_e164: Option<String>,
    /// Service number of an inbound call.
    pub did: Option<String>,
    /// The trunk that carried it.
    pub trunk: Option<String>,
    /// `ANSWERED`, `NO ANSWER`, ...
    pub disposition: String,
    /// Whole seconds answered (rounded up).
    pub billsec: i64,
    /// Legs with quality figures.
    pub legs: Vec<RawLeg>,
}

/// One leg's quality summary (from the 10 s samples, SPEC §21).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RawLeg {
    /// Average MOS.
    pub mos_avg: f64,
    /// Worst MOS.
    pub mos_worst: f64,
    /// Max loss (%).
    pub loss_max_pct: f64,
    /// Max jitter (ms).
    pub jitter_max_ms: f64,
}

/// A survey-flow trajectory part of a call (see [`crate`] docs on surveys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSurvey {
    /// The call.
    pub call_id: String,
    /// When the survey flow started, Unix ms.
    pub started_ms: i64,
    /// Keys pressed in it (`4`, `9>4`).
    pub key_path: String,
}

/// Everything the aggregation reads for one range.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    /// Call records (a margin around the range is fine: only calls that
    /// started in the range count).
    pub calls: Vec<RawCall>,
    /// Queue events in order, from a little before the range to the end of
    /// its calls plus the one-call-resolution window.
    pub events: Vec<QueueEvent>,
    /// Survey parts that started in the range.
    pub surveys: Vec<RawSurvey>,
    /// `(call_id, tag)` of calls that started in the range.
    pub tags: Vec<(String, String)>,
}

/// What the queue events say about one call.
#[derive(Debug, Default)]
struct CallQueue {
    /// The last agent it was connected to.
    agent: Option<String>,
    abandoned: bool,
    transferred: bool,
    talk_ms: i64,
}

/// Summary rows per slot for `[from_ms, to_ms)`.
pub fn aggregate(
    batch: &RawBatch,
    from_ms: i64,
    to_ms: i64,
    s: &ReportSettings,
) -> BTreeMap<Kind, Cube> {
    let mut out: BTreeMap<Kind, Cube> = summary::TABLES
        .iter()
        .map(|t| (t.kind, Cube::new(t.kind)))
        .collect();
    let in_range = |t: i64| (from_ms..to_ms).contains(&t);
    let per_call = index_calls(&batch.events);
    let calls_by_id: HashMap<&str, &RawCall> = batch
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c))
        .collect();
    let agent_of = |c: &RawCall| -> Option<String> {
        if let Some(a) = per_call
            .get(c.call_id.as_str())
            .and_then(|q| q.agent.clone())
        {
            return Some(a);
        }
        match c.direction.as_str() {
            "outbound" if s.is_agent(&c.caller) => Some(c.caller.clone()),
            "inbound" if s.is_agent(&c.callee) => Some(c.callee.clone()),
            _ => None,
        }
    };

    for c in batch.calls.iter().filter(|c| in_range(c.start_ms)) {
        let slot = slot_of(c.start_ms);
        let agent = agent_of(c);
        let q = per_call.get(c.call_id.as_str());
        let (dir, answered, abandoned, talk_ms, number) = match c.direction.as_str() {
            "inbound" => {
                let answered = match q {
                    Some(q) => q.agent.is_some(),
                    None => c.disposition == "ANSWERED",
                };
                let talk = match q {
                    Some(q) => q.talk_ms,
                    None if answered => c.billsec * 1000,
                    None => 0,
                };
                let abandoned = !answered && q.is_some_and(|q| q.abandoned);
                let number = c.caller_e164.as_deref().unwrap_or(&c.caller);
                ("in", answered, abandoned, talk, number)
            }
            "outbound" => {
                let answered = c.disposition == "ANSWERED";
                let number = c.callee_e164.as_deref().unwrap_or(&c.callee);
                (
                    "out",
                    answered,
                    false,
                    if answered { c.billsec * 1000 } else { 0 },
                    number,
                )
            }
            _ => continue,
        };
        let values = [1, i64::from(answered), i64::from(abandoned), talk_ms];
        let dims = vec![
            dir.to_owned(),
            c.did.clone().unwrap_or_default(),
            c.trunk.clone().unwrap_or_default(),
        ];
        cube(&mut out, Kind::Calls).add((slot, dims), &values);
        let region = s.regions.region_of(number).to_owned();
        cube(&mut out, Kind::Regions).add((slot, vec![dir.to_owned(), region]), &values);
        if dir == "out" {
            if let Some(a) = &agent {
                let billing = c.billsec.max(0).div_euclid(60) + i64::from(c.billsec % 60 != 0);
                let agents = cube(&mut out, Kind::Agents);
                agents.bump(slot, vec![a.clone()], ag::OUT_ATTEMPTS, 1);
                if answered {
                    agents.bump(slot, vec![a.clone()], ag::OUT_ANSWERED, 1);
                    agents.bump(slot, vec![a.clone()], ag::OUT_TALK_MS, c.billsec * 1000);
                    agents.bump(slot, vec![a.clone()], ag::BILLING_MIN, billing);
                }
            }
        }
        for leg in &c.legs {
            let milli = |v: f64| (v * 1000.0).round() as i64;
            let (mos, worst) = (milli(leg.mos_avg), milli(leg.mos_worst));
            let (loss, jitter) = (milli(leg.loss_max_pct), milli(leg.jitter_max_ms));
            let dims = vec![
                c.trunk.clone().unwrap_or_default(),
                agent.clone().unwrap_or_default(),
            ];
            cube(&mut out, Kind::Quality)
                .add((slot, dims), &[1, mos, worst, loss, loss, jitter, jitter]);
        }
    }

    for (call_id, tag) in &batch.tags {
        if let Some(c) = calls_by_id
            .get(call_id.as_str())
            .filter(|c| in_range(c.start_ms))
        {
            cube(&mut out, Kind::Tags).bump(slot_of(c.start_ms), vec![tag.clone()], 0, 1);
        }
    }

    queue_and_agent_events(&mut out, &batch.events, from_ms, to_ms, s);

    for sv in batch.surveys.iter().filter(|sv| in_range(sv.started_ms)) {
        let call = calls_by_id.get(sv.call_id.as_str());
        let q = per_call.get(sv.call_id.as_str());
        let agent = q
            .and_then(|q| q.agent.clone())
            .or_else(|| call.and_then(|c| agent_of(c)));
        let Some(agent) = agent else { continue };
        let outbound = call.is_some_and(|c| c.direction == "outbound");
        let click = if outbound {
            ag::SURVEY_IN + 1
        } else if q.is_some_and(|q| q.transferred) {
            ag::SURVEY_IN + 2
        } else {
            ag::SURVEY_IN
        };
        let slot = slot_of(sv.started_ms);
        let agents = cube(&mut out, Kind::Agents);
        agents.bump(slot, vec![agent.clone()], click, 1);
        if let Some(score) = survey_score(&sv.key_path) {
            agents.bump(slot, vec![agent.clone()], ag::SURVEY_RESPONSES, 1);
            agents.bump(
                slot,
                vec![agent.clone()],
                ag::SURVEY_SCORE_SUM,
                i64::from(score),
            );
            if score >= s.satisfied_min {
                agents.bump(slot, vec![agent], ag::SURVEY_SATISFIED, 1);
            }
        }
    }
    out.retain(|_, c| !c.rows.is_empty());
    out
}

/// The survey score: the first key of the survey flow, 1–5 (other keys,
/// or none, are no answer).
pub fn survey_score(key_path: &str) -> Option<u8> {
    let first = key_path.split('>').next()?.trim();
    match first.as_bytes() {
        [d @ b'1'..=b'5'] => Some(d - b'0'),
        _ => None,
    }
}

fn cube(out: &mut BTreeMap<Kind, Cube>, kind: Kind) -> &mut Cube {
    out.entry(kind).or_insert_with(|| Cube::new(kind))
}

fn index_calls(events: &[QueueEvent]) -> HashMap<String, CallQueue> {
    let mut per_call: HashMap<String, CallQueue> = HashMap::new();
    // Callback calls carry the conversation of the original call.
    let mut via_callback: HashMap<acd::CallId, acd::CallId> = HashMap::new();
    for e in events {
        let Some(call) = e.call else { continue };
        let original = via_callback.get(&call).copied().unwrap_or(call);
        match &e.kind {
            EventKind::Enter { .. } => {
                per_call.entry(call.to_string()).or_default();
            }
            EventKind::Connect { .. } | EventKind::CallbackConnected { .. } => {
                if let EventKind::CallbackConnected { callback_call, .. } = &e.kind {
                    via_callback.insert(*callback_call, call);
                }
                per_call.entry(call.to_string()).or_default().agent =
                    e.agent.as_ref().map(ToString::to_string);
            }
            EventKind::Abandon { .. } => {
                per_call.entry(call.to_string()).or_default().abandoned = true
            }
            EventKind::Transfer { talk_ms, .. } => {
                let q = per_call.entry(original.to_string()).or_default();
                q.transferred = true;
                q.talk_ms += *talk_ms as i64;
            }
            EventKind::Complete { talk_ms, .. } => {
                per_call.entry(original.to_string()).or_default().talk_ms += *talk_ms as i64;
            }
            _ => {}
        }
    }
    per_call
}

/// A queue visit: its queue, the slot it entered in (None: entered outside
/// the range) and the caller's number.
struct Visit {
    slot: Option<i64>,
    number: String,
}

/// An answer by an agent, judged for one-call resolution.
struct Answer {
    at: i64,
    call: acd::CallId,
    number: String,
    agent: Option<String>,
    queue: String,
    queue_slot: Option<i64>,
}

fn queue_and_agent_events(
    out: &mut BTreeMap<Kind, Cube>,
    events: &[QueueEvent],
    from_ms: i64,
    to_ms: i64,
    s: &ReportSettings,
) {
    let in_range = |t: i64| (from_ms..to_ms).contains(&t);
    let mut visits: HashMap<(String, acd::CallId), Visit> = HashMap::new();
    let mut numbers: HashMap<acd::CallId, String> = HashMap::new();
    let mut via_callback: HashMap<acd::CallId, acd::CallId> = HashMap::new();
    let mut answers: Vec<Answer> = Vec::new();
    let mut queues = Cube::new(Kind::Queues);
    let mut agents = Cube::new(Kind::Agents);
    for e in events {
        let at = e.at_unix_ms as i64;
        if let EventKind::AgentState(r) = &e.kind {
            let at = r.at_unix_ms as i64;
            if !in_range(at) {
                continue;
            }
            let (slot, who) = (slot_of(at), vec![r.agent.to_string()]);
            if matches!(r.to, AgentState::Reserved) {
                agents.bump(slot, who.clone(), ag::PRESENTED, 1);
            }
            if matches!(
                (&r.from, &r.to),
                (AgentState::Reserved, AgentState::OnCall(CallKind::Queue))
            ) {
                agents.bump(slot, who.clone(), ag::PICKED, 1);
                for (i, t) in acd::stats::THRESHOLDS_S.iter().enumerate() {
                    if r.from_duration_ms <= t * 1000 {
                        agents.bump(slot, who.clone(), ag::PICKED_15 + i, 1);
                    }
                }
            }
            if r.cause == StateCause::Login {
                agents.bump(slot, who.clone(), ag::LOGINS, 1);
            }
            if matches!(r.from, AgentState::WrapUp) {
                agents.bump(slot, who, ag::IN_WRAP_MS, r.from_duration_ms as i64);
            }
            continue;
        }
        let (Some(call), Some(queue)) = (e.call, e.queue.as_ref()) else {
            continue;
        };
        let queue = queue.to_string();
        let original = via_callback.get(&call).copied().unwrap_or(call);
        let agent = e.agent.as_ref().map(ToString::to_string);
        match &e.kind {
            EventKind::Enter { number, .. } => {
                let slot = in_range(at).then(|| slot_of(at));
                if let Some(slot) = slot {
                    queues.bump(slot, vec![queue.clone()], qq::OFFERED, 1);
                }
                numbers.insert(call, number.clone());
                visits.insert(
                    (queue, call),
                    Visit {
                        slot,
                        number: number.clone(),
                    },
                );
            }
            EventKind::Connect { wait_ms, .. } | EventKind::CallbackConnected { wait_ms, .. } => {
                if let EventKind::CallbackConnected { callback_call, .. } = &e.kind {
                    via_callback.insert(*callback_call, call);
                }
                let visit = visits.get(&(queue.clone(), call));
                let queue_slot = visit.and_then(|v| v.slot);
                if let Some(slot) = queue_slot {
                    let wait = *wait_ms as i64;
                    let dims = vec![queue.clone()];
                    queues.bump(slot, dims.clone(), qq::ANSWERED, 1);
                    queues.bump(slot, dims.clone(), qq::ANSWERED_WAIT_MS, wait);
                    for (i, t) in acd::stats::THRESHOLDS_S.iter().enumerate() {
                        if *wait_ms <= t * 1000 {
                            queues.bump(slot, dims.clone(), qq::WITHIN_15 + i, 1);
                        }
                    }
                    if *wait_ms <= s.threshold_s(&queue) * 1000 {
                        queues.bump(slot, dims, qq::WITHIN_T, 1);
                    }
                }
                if let (Some(a), true) = (&agent, in_range(at)) {
                    agents.bump(slot_of(at), vec![a.clone()], ag::IN_ANSWERED, 1);
                }
                let number = visit
                    .map(|v| v.number.clone())
                    .or_else(|| numbers.get(&call).cloned())
                    .unwrap_or_default();
                answers.push(Answer {
                    at,
                    call,
                    number,
                    agent,
                    queue,
                    queue_slot,
                });
            }
            EventKind::Abandon { wait_ms, .. } => {
                if let Some(slot) = visits.get(&(queue.clone(), call)).and_then(|v| v.slot) {
                    queues.bump(slot, vec![queue.clone()], qq::ABANDONED, 1);
                    queues.bump(slot, vec![queue], qq::ABANDONED_WAIT_MS, *wait_ms as i64);
                }
            }
            EventKind::Overflow { .. } => {
                if let Some(slot) = visits.get(&(queue.clone(), call)).and_then(|v| v.slot) {
                    queues.bump(slot, vec![queue], qq::OVERFLOWED, 1);
                }
            }
            EventKind::Complete { talk_ms, .. } | EventKind::Transfer { talk_ms, .. } => {
                if let Some(slot) = visits.get(&(queue.clone(), original)).and_then(|v| v.slot) {
                    queues.bump(slot, vec![queue], qq::TALK_MS, *talk_ms as i64);
                }
                if let (Some(a), true) = (agent, in_range(at)) {
                    agents.bump(slot_of(at), vec![a], ag::IN_TALK_MS, *talk_ms as i64);
                }
            }
            _ => {}
        }
    }
    one_call_resolution(
        &answers,
        &mut queues,
        &mut agents,
        from_ms,
        to_ms,
        s.ocr_window_ms,
    );
    cube(out, Kind::Queues).merge(queues);
    cube(out, Kind::Agents).merge(agents);
}

/// An answer in the range is resolved unless another call of the same
/// number reaches an agent within the window after it (SPEC §13.3).
fn one_call_resolution(
    answers: &[Answer],
    queues: &mut Cube,
    agents: &mut Cube,
    from_ms: i64,
    to_ms: i64,
    window_ms: i64,
) {
    let mut by_number: HashMap<&str, Vec<(i64, acd::CallId)>> = HashMap::new();
    for a in answers.iter().filter(|a| !a.number.is_empty()) {
        by_number.entry(&a.number).or_default().push((a.at, a.call));
    }
    for a in answers {
        let resolved = by_number.get(a.number.as_str()).is_none_or(|later| {
            !later
                .iter()
                .any(|(at, call)| *call != a.call && *at > a.at && *at - a.at <= window_ms)
        });
        if let Some(slot) = a.queue_slot {
            queues.bump(slot, vec![a.queue.clone()], qq::OCR_ANSWERED, 1);
            queues.bump(
                slot,
                vec![a.queue.clone()],
                qq::OCR_RESOLVED,
                i64::from(resolved),
            );
        }
        if let (Some(agent), true) = (&a.agent, (from_ms..to_ms).contains(&a.at)) {
            agents.bump(slot_of(a.at), vec![agent.clone()], ag::OCR_ANSWERED, 1);
            agents.bump(
                slot_of(a.at),
                vec![agent.clone()],
                ag::OCR_RESOLVED,
                i64::from(resolved),
            );
        }
    }
}
