//! `[[queues]]`, `[[agents]]` and `[acd]`: the contact center's skill
//! groups and agents (the `acd` crate's own settings, read as they are and
//! validated here so that an error names its place in the file). An agent
//! entry may also name its team leader (`leader = "ID"`, another agent) and
//! its `department`: the reports' data scope (SPEC §2) and department
//! workload; they are taken out before the rest is read as the ACD's
//! profile.

use toml::Spanned;

use super::position::Positioner;
use super::ConfigError;

/// What `build` makes of the sections.
pub(super) type Built = (
    Vec<acd::QueueConfig>,
    Vec<acd::AgentProfile>,
    Vec<reports::AgentOrg>,
);

/// Takes `leader` and `department` out of an `[[agents]]` entry and reads
/// the rest as the ACD's profile.
fn split_agent(
    a: &Spanned<toml::Table>,
    pos: &Positioner<'_>,
) -> Result<(acd::AgentProfile, Option<String>, Option<String>), ConfigError> {
    let mut table = a.get_ref().clone();
    let mut text = |key: &str| -> Result<Option<String>, ConfigError> {
        match table.remove(key) {
            None => Ok(None),
            Some(toml::Value::String(v)) if !v.trim().is_empty() => Ok(Some(v)),
            Some(_) => Err(pos.at(
                a,
                format_args!("agents: `{key}` must be a non-empty string"),
            )),
        }
    };
    let leader = text("leader")?;
    let department = text("department")?;
    let profile: acd::AgentProfile = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| pos.at(a, format_args!("agents: {}", e.message())))?;
    Ok((profile, leader, department))
}

/// The queues and agents, validated: unique names, sane limits, skills
/// naming configured queues, leaders naming other agents without cycles.
pub(super) fn build(
    queues: &[Spanned<acd::QueueConfig>],
    raw_agents: &[Spanned<toml::Table>],
    pos: &Positioner<'_>,
) -> Result<Built, ConfigError> {
    let mut agents = Vec::new();
    let mut org = Vec::new();
    for a in raw_agents {
        let (profile, leader, department) = split_agent(a, pos)?;
        org.push(reports::AgentOrg {
            agent: profile.name.to_string(),
            leader,
            department,
        });
        agents.push(Spanned::new(a.span(), profile));
    }
    let agents = &agents[..];
    let mut names = std::collections::HashSet::new();
    for q in queues {
        q.get_ref()
            .validate()
            .map_err(|e| pos.at(q, format_args!("queues: {e}")))?;
        if !names.insert(q.get_ref().name.clone()) {
            return Err(pos.at(
                q,
                format_args!("queues: `{}` is defined twice", q.get_ref().name),
            ));
        }
    }
    let mut agent_names = std::collections::HashSet::new();
    for a in agents {
        let profile = a.get_ref();
        if !agent_names.insert(profile.name.clone()) {
            return Err(pos.at(
                a,
                format_args!("agents: `{}` is defined twice", profile.name),
            ));
        }
        if profile.max_offers != 1 {
            return Err(pos.at(a, "agents: max_offers must be 1 (one offer at a time)"));
        }
        for skill in &profile.skills {
            if !names.contains(&skill.queue) {
                return Err(pos.at(
                    a,
                    format_args!(
                        "agents: `{}` has a skill for queue `{}`, which no [[queues]] entry defines",
                        profile.name, skill.queue
                    ),
                ));
            }
        }
    }
    check_leaders(&org, raw_agents, pos)?;
    Ok((
        queues.iter().map(|q| q.get_ref().clone()).collect(),
        agents.iter().map(|a| a.get_ref().clone()).collect(),
        org,
    ))
}

/// Every leader is another configured agent, and following leaders never
/// comes back to where it started.
fn check_leaders(
    org: &[reports::AgentOrg],
    raw: &[Spanned<toml::Table>],
    pos: &Positioner<'_>,
) -> Result<(), ConfigError> {
    let leader_of = |name: &str| {
        org.iter()
            .find(|o| o.agent == name)
            .and_then(|o| o.leader.as_deref())
    };
    for (o, a) in org.iter().zip(raw) {
        let Some(l) = &o.leader else { continue };
        if !org.iter().any(|x| &x.agent == l) {
            return Err(pos.at(
                a,
                format_args!(
                    "agents: `{}` has leader `{l}`, which no [[agents]] entry defines",
                    o.agent
                ),
            ));
        }
        let mut seen = vec![o.agent.as_str()];
        let mut cur = Some(l.as_str());
        while let Some(c) = cur {
            if seen.contains(&c) {
                return Err(pos.at(
                    a,
                    format_args!(
                        "agents: the leaders of `{}` form a cycle ({} → {c})",
                        o.agent,
                        seen.join(" → ")
                    ),
                ));
            }
            seen.push(c);
            cur = leader_of(c);
        }
    }
    Ok(())
}

impl super::Config {
    /// The music each queue's callers hear: `<prompts_dir>/<class>.wav` for
    /// the queue's `music_on_hold` class when it exists, else
    /// `calls.music_on_hold`, else `<prompts_dir>/moh.wav` (None: silence).
    pub fn queue_music(&self) -> std::collections::HashMap<String, Option<std::path::PathBuf>> {
        let fallback = self
            .calls
            .music_on_hold
            .clone()
            .or_else(|| Some(self.prompts_dir.join("moh.wav")).filter(|p| p.is_file()));
        self.queues
            .iter()
            .map(|q| {
                let own = self.prompts_dir.join(format!("{}.wav", q.music_on_hold));
                let music = if own.is_file() {
                    Some(own)
                } else {
                    fallback.clone()
                };
                (q.name.to_string(), music)
            })
            .collect()
    }

    /// The contact-center settings `pbx reload` hands the running engine.
    pub fn acd_reload(&self) -> crate::b2bua::AcdReload {
        crate::b2bua::AcdReload {
            acd: self.acd.clone(),
            queues: self.queues.clone(),
            agents: self.agents.clone(),
            prompts_dir: self.prompts_dir.clone(),
            music: self.queue_music(),
        }
    }
}
