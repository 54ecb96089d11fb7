//! What the reports need to know beyond the stored data: the tenant's UTC
//! offset, working hours, each queue's service-level threshold, the agent
//! hierarchy and departments (`[[agents]] leader`, `department`), the
//! caller-region prefix table, and the one-call-resolution and survey
//! rules. Filled by `pbx` from its configuration.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{Error, Result};

/// The slot every summary row covers: 30 minutes, aligned to the hour and
/// half-hour (SPEC §13.4), so half-hour reports need nothing finer.
pub const SLOT_MS: i64 = 30 * 60 * 1000;

/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// Who asks for a report (SPEC §2): an administrator sees every agent, a
/// team leader self and (transitively) subordinates, an agent self.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Viewer {
    /// Every row.
    #[default]
    Admin,
    /// This agent and everyone who reports to it, directly or not.
    Leader(String),
    /// Only this agent.
    Agent(String),
}

/// An agent's place in the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentOrg {
    /// The agent (user name).
    pub agent: String,
    /// Its team leader, if any.
    pub leader: Option<String>,
    /// Its department, if any.
    pub department: Option<String>,
}

/// Settings of the report module.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Tenant offset from UTC (s): days, half-hour slots and "today" use it.
    pub utc_offset_secs: i32,
    /// Effective working hours as minutes of the local day `[start, end)`:
    /// half-hour reports show only slots inside (default 08:00–20:00
    /// [proposed]; the seed names configured hours without values).
    pub working_hours: (u32, u32),
    /// Service-level threshold T (s) per queue; queues not named use 20 s.
    pub service_level_s: HashMap<String, u64>,
    /// The agents with their leaders and departments.
    pub agents: Vec<AgentOrg>,
    /// Caller-region prefixes.
    pub regions: Regions,
    /// One-call resolution: an answered call is resolved when its caller
    /// does not reach an agent again within this many ms (default 24 h
    /// [proposed]; SPEC §13.3, §26.8).
    pub ocr_window_ms: i64,
    /// The IVR flow of the post-call satisfaction survey (default `survey`).
    pub survey_flow: String,
    /// Scores at or above this are "satisfied" (scale 1–5, default 4 [proposed]).
    pub satisfied_min: u8,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            utc_offset_secs: 0,
            working_hours: (8 * 60, 20 * 60),
            service_level_s: HashMap::new(),
            agents: Vec::new(),
            regions: Regions::default(),
            ocr_window_ms: DAY_MS,
            survey_flow: "survey".into(),
            satisfied_min: 4,
        }
    }
}

/// The default service-level threshold (SPEC §13.3).
pub const DEFAULT_SERVICE_LEVEL_S: u64 = 20;

impl ReportSettings {
    /// The offset in ms.
    pub fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_secs) * 1000
    }

    /// The local day number of a Unix ms instant.
    pub fn local_day(&self, unix_ms: i64) -> i64 {
        (unix_ms + self.offset_ms()).div_euclid(DAY_MS)
    }

    /// A queue's threshold T (s).
    pub fn threshold_s(&self, queue: &str) -> u64 {
        self.service_level_s
            .get(queue)
            .copied()
            .unwrap_or(DEFAULT_SERVICE_LEVEL_S)
    }

    /// Whether `name` is a configured agent.
    pub fn is_agent(&self, name: &str) -> bool {
        self.agents.iter().any(|a| a.agent == name)
    }

    /// An agent's department.
    pub fn department(&self, agent: &str) -> Option<&str> {
        self.agents
            .iter()
            .find(|a| a.agent == agent)
            .and_then(|a| a.department.as_deref())
    }

    /// Parses `HH:MM-HH:MM` into working hours (end may be `24:00`).
    pub fn parse_hours(text: &str) -> Result<(u32, u32)> {
        let bad = || {
            Error::Argument(format!(
                "working hours `{text}`: use HH:MM-HH:MM, e.g. 08:00-20:00"
            ))
        };
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if start >= end || start % 30 != 0 || end % 30 != 0 {
            return Err(Error::Argument(format!(
                "working hours `{text}`: start before end, both on the hour or half-hour"
            )));
        }
        Ok((start, end))
    }

    /// The agents `viewer` may see (None: all).
    pub fn visible_agents(&self, viewer: &Viewer) -> Option<BTreeSet<String>> {
        match viewer {
            Viewer::Admin => None,
            Viewer::Agent(me) => Some(BTreeSet::from([me.clone()])),
            Viewer::Leader(me) => {
                let mut reports: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for a in &self.agents {
                    if let Some(l) = &a.leader {
                        reports.entry(l.as_str()).or_default().push(&a.agent);
                    }
                }
                let mut seen = BTreeSet::from([me.clone()]);
                let mut todo = vec![me.as_str()];
                while let Some(l) = todo.pop() {
                    for &sub in reports.get(l).into_iter().flatten() {
                        if seen.insert(sub.to_owned()) {
                            todo.push(sub);
                        }
                    }
                }
                Some(seen)
            }
        }
    }
}

/// Caller regions by number prefix (longest prefix wins). The file format
/// is `prefix,region` with a header line (`fixtures/regions.csv`).
#[derive(Debug, Clone, Default)]
pub struct Regions {
    by_prefix: Vec<(String, String)>,
}

/// The region of a number no prefix matches.
pub const UNKNOWN_REGION: &str = "unknown";

impl Regions {
    /// Parses the CSV text (`source` names it in errors).
    pub fn parse(source: &str, text: &str) -> Result<Self> {
        let mut by_prefix = Vec::new();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h.trim().eq_ignore_ascii_case("prefix,region") => {}
            _ => {
                return Err(Error::Regions {
                    file: source.to_owned(),
                    line: 1,
                    why: "the first line must be the header `prefix,region`".into(),
                })
            }
        }
        for (i, line) in lines {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: &str| Error::Regions {
                file: source.to_owned(),
                line: i + 1,
                why: why.to_owned(),
            };
            let (prefix, region) = line
                .split_once(',')
                .ok_or_else(|| err("expected `prefix,region`"))?;
            let prefix = normalize(prefix.trim());
            if prefix.is_empty() || region.trim().is_empty() {
                return Err(err("empty prefix or region"));
            }
            by_prefix.push((prefix, region.trim().to_owned()));
        }
        by_prefix.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Ok(Self { by_prefix })
    }

    /// The region of `number` (its E.164 form preferred by the caller of
    /// this), or [`UNKNOWN_REGION`].
    pub fn region_of(&self, number: &str) -> &str {
        let n = normalize(number);
        self.by_prefix
            .iter()
            .find(|(p, _)| n.starts_with(p.as_str()))
            .map_or(UNKNOWN_REGION, |(_, r)| r.as_str())
    }

    /// The prefix table shipped with pbx (`fixtures/regions.csv`).
    pub fn embedded() -> Self {
        Self::parse(
            "fixtures/regions.csv",
            include_str!("../../fixtures/regions.csv"),
        )
        .expect("the shipped prefix table is valid")
    }

    /// `<data_dir>/regions.csv` when it exists, else [`Regions::embedded`].
    pub fn load(data_dir: &std::path::Path) -> Result<Self> {
        let path = data_dir.join("regions.csv");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::embedded()),
            Err(e) => Err(Error::Argument(format!("{}: {e}", path.display()))),
        }
    }

    /// How many prefixes are known.
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// No prefix known.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}

/// `+31 20-123` → `+3120123`: digits, with a leading `+` kept.
fn normalize(number: &str) -> String {
    let mut out = String::with_capacity(number.len());
    for (i, c) in number.chars().enumerate() {
        if c.is_ascii_digit() || (i == 0 && c == '+') {
            out.push(c);
        }
    }
    out
}
