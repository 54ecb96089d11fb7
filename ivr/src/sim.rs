//! Simulator: runs a flow in virtual time against scripted input and returns
//! the trajectory (`pbx ivr simulate`).
//!
//! Input model: the script's digit *groups* (`"1,2#"` → `[1]`, `[2, #]`) are
//! answered one per wait: whenever a menu or collect node has finished its
//! prompt and waits for keys, the next group is typed, starting
//! [`SimScript::key_delay`] later with [`SimScript::inter_key`] between keys.
//! An empty group (`"1,,3"` or `-`) stays silent so the wait times out.
//! Prompts last as long as their WAV files say (1 s when unreadable); http
//! nodes are answered by [`CannedHttp`] fixtures keyed by node id or URL, or by
//! a caller-supplied function (a real HTTP client in the CLI).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::interp::{
    after, Action, Calendar, CallContext, Event, HttpOutcome, Interpreter, RequestId, Time,
};
use crate::model::{Digit, Flow};
use crate::trajectory::Trajectory;
use crate::{Error, Result};

/// Longest simulated call; guards against flows that never end.
const MAX_VIRTUAL_TIME: Duration = Duration::from_secs(4 * 3600);
const MAX_STEPS: usize = 100_000;

/// A canned answer for an http node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CannedHttp {
    /// Answer after `delay`.
    Response {
        /// HTTP status.
        status: u16,
        /// Body (JSON on success).
        body: String,
        /// Latency.
        delay: Duration,
    },
    /// Fail after `delay` (connection refused, TLS error, …).
    Fail {
        /// Why.
        reason: String,
        /// Latency.
        delay: Duration,
    },
    /// Never answer: the node's timeout fires.
    Timeout,
}

/// What an http node sent, for the caller's answer function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// Node id.
    pub node: String,
    /// Expanded URL.
    pub url: String,
    /// JSON body.
    pub body_json: String,
    /// The node's timeout.
    pub timeout: Duration,
}

/// Scripted input for one simulated call.
#[derive(Debug, Clone)]
pub struct SimScript {
    /// Digit groups, one per wait (see the module docs).
    pub digits: Vec<Vec<Digit>>,
    /// Local start time of the call.
    pub at: Time,
    /// Caller number.
    pub caller: String,
    /// Called number.
    pub callee: String,
    /// Caller region.
    pub caller_region: Option<String>,
    /// Extra holidays.
    pub holidays: Vec<NaiveDate>,
    /// Canned http answers by node id or URL.
    pub http: HashMap<String, CannedHttp>,
    /// The caller hangs up this long after the start.
    pub hangup_after: Option<Duration>,
    /// Delay from the start of a wait to the first key of a group.
    pub key_delay: Duration,
    /// Delay between keys of a group.
    pub inter_key: Duration,
    /// Length of a simulated recording.
    pub record_duration: Duration,
}

impl Default for SimScript {
    fn default() -> Self {
        Self {
            digits: Vec::new(),
            at: DateTime::UNIX_EPOCH.fixed_offset(),
            caller: "+15550100".into(),
            callee: "+15550199".into(),
            caller_region: None,
            holidays: Vec::new(),
            http: HashMap::new(),
            hangup_after: None,
            key_delay: Duration::from_millis(1000),
            inter_key: Duration::from_millis(300),
            record_duration: Duration::from_secs(5),
        }
    }
}

impl SimScript {
    /// Parses `--digits`: groups separated by `,`; `-` or an empty group is silence.
    pub fn parse_digits(s: &str) -> Result<Vec<Vec<Digit>>> {
        if s.trim().is_empty() {
            return Ok(Vec::new());
        }
        s.split(',')
            .map(|group| {
                let group = group.trim();
                if group == "-" {
                    return Ok(Vec::new());
                }
                group
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .map(|c| {
                        Digit::from_char(c)
                            .ok_or_else(|| Error::Script(format!("`{c}` is not a DTMF key")))
                    })
                    .collect()
            })
            .collect()
    }

    /// Parses `--at`: RFC 3339 with offset, or a local `YYYY-MM-DDTHH:MM[:SS]`
    /// (taken as UTC+0 local time).
    pub fn parse_at(s: &str) -> Result<Time> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t);
        }
        [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc().fixed_offset())
        .ok_or_else(|| {
            Error::Script(format!(
                "bad time `{s}` (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
            ))
        })
    }

    /// Parses an http fixture file (TOML): one table per node id or URL with
    /// `status` + `body` (+ `delay_ms`), or `error = "reason"`, or `timeout = true`.
    pub fn parse_http_fixture(text: &str) -> Result<HashMap<String, CannedHttp>> {
        let doc = toml_edit::Document::parse(text)
            .map_err(|e| Error::Script(format!("http fixture: {}", e.message().trim())))?;
        let mut out = HashMap::new();
        for (key, item) in doc.as_table().iter() {
            let t = item
                .as_table_like()
                .ok_or_else(|| Error::Script(format!("http fixture `{key}` must be a table")))?;
            let delay = Duration::from_millis(
                t.get("delay_ms")
                    .and_then(|v| v.as_integer())
                    .unwrap_or(50)
                    .clamp(0, 3_600_000) as u64,
            );
            let canned = if t.get("timeout").and_then(|v| v.as_bool()) == Some(true) {
                CannedHttp::Timeout
            } else if let Some(reason) = t.get("error").and_then(|v| v.as_str()) {
                CannedHttp::Fail {
                    reason: reason.to_owned(),
                    delay,
                }
            } else {
                let status = t.get("status").and_then(|v| v.as_integer()).unwrap_or(200);
                let status = u16::try_from(status)
                    .map_err(|_| Error::Script(format!("http fixture `{key}`: bad status")))?;
                let body = t
                    .get("body")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned();
                CannedHttp::Response {
                    status,
                    body,
                    delay,
                }
            };
            out.insert(key.to_owned(), canned);
        }
        Ok(out)
    }

    /// Reads an http fixture file.
    pub fn load_http_fixture(path: &Path) -> Result<HashMap<String, CannedHttp>> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_http_fixture(&text)
    }
}

/// One line of the simulation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStep {
    /// Milliseconds since the start.
    pub offset_ms: u64,
    /// What happened (`> ` input, `< ` action).
    pub line: String,
}

/// The result of a simulation.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The call's trajectory.
    pub trajectory: Trajectory,
    /// Inputs and actions in order.
    pub steps: Vec<SimStep>,
    /// Variables at the end.
    pub variables: BTreeMap<String, String>,
    /// True when the simulation stopped without the flow ending
    /// (no more events, or the virtual-time limit).
    pub stalled: bool,
}

impl Simulation {
    /// Step log, then the trajectory.
    pub fn render_text(&self) -> String {
        let mut out = String::from("steps:\n");
        for s in &self.steps {
            out.push_str(&format!(
                "  +{:>3}.{:03}s {}\n",
                s.offset_ms / 1000,
                s.offset_ms % 1000,
                s.line
            ));
        }
        out.push_str("trajectory:\n");
        for line in self.trajectory.render_text().lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        if self.stalled {
            out.push_str("stalled: the flow did not end (no more scripted input or events)\n");
        }
        out
    }
}

/// Runs `flow` with `script`, answering http nodes from `script.http`
/// (by node id, then by URL; unmatched requests fail).
pub fn simulate(flow: Arc<Flow>, script: &SimScript) -> Simulation {
    let canned = script.http.clone();
    simulate_with(flow, script, move |req: &SimRequest| {
        canned
            .get(&req.node)
            .or_else(|| canned.get(&req.url))
            .cloned()
            .unwrap_or_else(|| CannedHttp::Fail {
                reason: format!("no http fixture for node `{}` or {}", req.node, req.url),
                delay: Duration::ZERO,
            })
    })
}

/// Pending simulated events, ordered by time then insertion.
struct Agenda {
    items: BTreeMap<(Time, u64), Event>,
    seq: u64,
}

impl Agenda {
    fn push(&mut self, at: Time, ev: Event) {
        self.seq += 1;
        self.items.insert((at, self.seq), ev);
    }
    fn next_time(&self) -> Option<Time> {
        self.items.keys().next().map(|(t, _)| *t)
    }
    fn remove_where(&mut self, f: impl Fn(&Event) -> bool) {
        self.items.retain(|_, e| !f(e));
    }
}

/// Like [`simulate`], with http requests answered by `answer`.
pub fn simulate_with(
    flow: Arc<Flow>,
    script: &SimScript,
    mut answer: impl FnMut(&SimRequest) -> CannedHttp,
) -> Simulation {
    let ctx = CallContext {
        call_id: "sim-1".into(),
        caller: script.caller.clone(),
        callee: script.callee.clone(),
        caller_region: script.caller_region.clone(),
        vars: BTreeMap::new(),
    };
    let t0 = script.at;
    let mut call = Interpreter::new(
        Arc::clone(&flow),
        ctx,
        Calendar::new(script.holidays.iter().copied()),
    );
    let mut agenda = Agenda {
        items: BTreeMap::new(),
        seq: 0,
    };
    let mut steps = Vec::new();
    let mut groups: VecDeque<&Vec<Digit>> = script.digits.iter().collect();
    let mut durations: HashMap<PathBuf, Duration> = HashMap::new();
    let mut log = |now: Time, line: String| {
        steps.push(SimStep {
            offset_ms: (now - t0).num_milliseconds().max(0) as u64,
            line,
        })
    };
    if let Some(h) = script.hangup_after {
        agenda.push(after(t0, h), Event::Hangup);
    }
    let limit = after(t0, MAX_VIRTUAL_TIME);
    let mut now = t0;
    let mut was_waiting = false;
    let mut recordings = 0;
    call.start(now);
    for _ in 0..MAX_STEPS {
        while let Some(action) = call.poll_action() {
            log(now, format!("< {}", describe(&action)));
            match action {
                Action::Play { id, prompts, .. } => {
                    let total: Duration = prompts
                        .iter()
                        .map(|p| {
                            *durations.entry(p.clone()).or_insert_with(|| {
                                crate::validate::prompt_info(p)
                                    .map_or(Duration::from_secs(1), |i| i.duration)
                            })
                        })
                        .sum();
                    agenda.push(after(now, total), Event::PromptFinished { id });
                }
                Action::StopPlayback { id } => {
                    agenda.remove_where(|e| *e == Event::PromptFinished { id })
                }
                Action::HttpRequest {
                    id,
                    url,
                    body_json,
                    timeout,
                } => {
                    let node = call.current_node().unwrap_or_default().to_owned();
                    schedule_http(
                        &mut agenda,
                        now,
                        id,
                        answer(&SimRequest {
                            node,
                            url,
                            body_json,
                            timeout,
                        }),
                    );
                }
                Action::StartRecording { .. } => {
                    recordings += 1;
                    let ev = Event::RecordFinished {
                        reference: format!("sim-recording-{recordings}"),
                        duration: script.record_duration,
                    };
                    agenda.push(after(now, script.record_duration), ev);
                }
                Action::StopRecording => {
                    agenda.remove_where(|e| matches!(e, Event::RecordFinished { .. }));
                    let ev = Event::RecordFinished {
                        reference: format!("sim-recording-{recordings}"),
                        duration: Duration::ZERO,
                    };
                    agenda.push(now, ev);
                }
                _ => {}
            }
        }
        if call.is_finished() {
            break;
        }
        let waiting = call.awaiting_input();
        if waiting && !was_waiting {
            if let Some(group) = groups.pop_front() {
                for (i, d) in group.iter().enumerate() {
                    let at = after(after(now, script.key_delay), script.inter_key * i as u32);
                    agenda.push(at, Event::Digit(*d));
                }
            }
        }
        was_waiting = waiting;
        let next = match (agenda.next_time(), call.poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => break,
            },
        };
        if next > limit {
            break;
        }
        now = next.max(now);
        if agenda.next_time().is_some_and(|t| t <= now) {
            let key = *agenda.items.keys().next().expect("next_time returned Some");
            let ev = agenda.items.remove(&key).expect("key just read");
            log(now, format!("> {}", describe_event(&ev)));
            call.handle_event(now, ev);
        } else {
            log(now, "> timer".into());
            call.handle_timeout(now);
        }
    }
    Simulation {
        stalled: !call.is_finished(),
        variables: call.variables().clone(),
        trajectory: call.trajectory().clone(),
        steps,
    }
}

fn schedule_http(agenda: &mut Agenda, now: Time, id: RequestId, canned: CannedHttp) {
    match canned {
        CannedHttp::Response {
            status,
            body,
            delay,
        } => {
            agenda.push(
                after(now, delay),
                Event::HttpResult {
                    id,
                    outcome: HttpOutcome::Response { status, body },
                },
            );
        }
        CannedHttp::Fail { reason, delay } => {
            agenda.push(
                after(now, delay),
                Event::HttpResult {
                    id,
                    outcome: HttpOutcome::Failed { reason },
                },
            );
        }
        CannedHttp::Timeout => {}
    }
}

fn describe(a: &Action) -> String {
    match a {
        Action::Play {
            prompts,
            barge_in,
            id,
        } => {
            let names: Vec<String> = prompts
                .iter()
                .map(|p| {
                    p.file_name().map_or_else(
                        || p.display().to_string(),
                        |f| f.to_string_lossy().into_owned(),
                    )
                })
                .collect();
            format!(
                "play #{} [{}]{}",
                id.0,
                names.join(", "),
                if *barge_in { " (barge-in)" } else { "" }
            )
        }
        Action::StopPlayback { id } => format!("stop play #{}", id.0),
        Action::StartCollecting => "start collecting DTMF".into(),
        Action::StopCollecting => "stop collecting DTMF".into(),
        Action::HttpRequest {
            url,
            timeout,
            body_json,
            ..
        } => format!("POST {url} (timeout {}ms) {body_json}", timeout.as_millis()),
        Action::StartRecording { beep, max_duration } => {
            format!("record (beep: {beep}, max {}s)", max_duration.as_secs())
        }
        Action::StopRecording => "stop recording".into(),
        Action::Transfer { target } => format!("transfer to {target}"),
        Action::Hangup { reason } => format!(
            "hang up{}",
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    }
}

fn describe_event(e: &Event) -> String {
    match e {
        Event::PromptFinished { id } => format!("prompt #{} finished", id.0),
        Event::Digit(d) => format!("key {d}"),
        Event::HttpResult { outcome, .. } => match outcome {
            HttpOutcome::Response { status, body } => format!("http {status} {body}"),
            HttpOutcome::Failed { reason } => format!("http failed: {reason}"),
            HttpOutcome::TimedOut => "http timed out".into(),
        },
        Event::RecordFinished {
            reference,
            duration,
        } => format!("recording {reference} finished ({}s)", duration.as_secs()),
        Event::Hangup => "caller hangs up".into(),
    }
}
