//! `[[queues]]`, `[[agents]]` and `[acd]`: the contact center's skill
//! groups and agents (the `acd` crate's own settings, read as they are and
//! validated here so that an error names its place in the file).

use toml::Spanned;

use super::position::Positioner;
use super::ConfigError;

/// The queues and agents, validated: unique names, sane limits, skills
/// naming configured queues.
pub(super) fn build(
    queues: &[Spanned<acd::QueueConfig>],
    agents: &[Spanned<acd::AgentProfile>],
    pos: &Positioner<'_>,
) -> Result<(Vec<acd::QueueConfig>, Vec<acd::AgentProfile>), ConfigError> {
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
    Ok((
        queues.iter().map(|q| q.get_ref().clone()).collect(),
        agents.iter().map(|a| a.get_ref().clone()).collect(),
    ))
}
