//! Agent profiles: which queues an agent serves and how well (`queue:level`,
//! level 1–10), its wrap-up override and its offer limit. The profile is
//! configuration; the agent's live state lives in the engine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, QueueId};

/// Highest skill level.
pub const MAX_LEVEL: u8 = 10;

/// One skill: a queue and the agent's level in it (1 = weakest, 10 = best).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Skill {
    /// The queue.
    pub queue: QueueId,
    /// 1–10.
    pub level: u8,
}

/// A skill that does not read as `queue:level` with a level of 1–10.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkillError {
    /// No `:` or an empty queue name.
    #[error("skill {0:?}: expected queue:level")]
    Syntax(String),
    /// The level is not a number from 1 to 10.
    #[error("skill {0:?}: level must be 1 to 10")]
    Level(String),
}

impl FromStr for Skill {
    type Err = SkillError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (queue, level) = s
            .rsplit_once(':')
            .ok_or_else(|| SkillError::Syntax(s.to_owned()))?;
        let queue = queue.trim();
        if queue.is_empty() {
            return Err(SkillError::Syntax(s.to_owned()));
        }
        let level: u8 = level
            .trim()
            .parse()
            .map_err(|_| SkillError::Level(s.to_owned()))?;
        if !(1..=MAX_LEVEL).contains(&level) {
            return Err(SkillError::Level(s.to_owned()));
        }
        Ok(Self {
            queue: QueueId::from(queue),
            level,
        })
    }
}

impl TryFrom<String> for Skill {
    type Error = SkillError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Skill> for String {
    fn from(s: Skill) -> Self {
        s.to_string()
    }
}

impl fmt::Display for Skill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.queue, self.level)
    }
}

/// An agent profile (`[[agents]]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    /// The user name.
    pub name: AgentId,
    /// Queues served, each once.
    #[serde(default)]
    pub skills: Vec<Skill>,
    /// Wrap-up seconds after a queue call, overriding the queue's.
    #[serde(default)]
    pub wrap_up_s: Option<u32>,
    /// Offers at once; only 1 is supported.
    #[serde(default = "one")]
    pub max_offers: u32,
}

fn one() -> u32 {
    1
}

impl AgentProfile {
    /// A profile with these skills (`"sales:7"`), no wrap-up override.
    pub fn new(name: &str, skills: &[&str]) -> Result<Self, SkillError> {
        Ok(Self {
            name: AgentId::from(name),
            skills: skills.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
            wrap_up_s: None,
            max_offers: 1,
        })
    }

    /// The agent's level in `queue`, if it serves it.
    pub fn level(&self, queue: &QueueId) -> Option<u8> {
        self.skills
            .iter()
            .find(|s| &s.queue == queue)
            .map(|s| s.level)
    }

    /// Checks the profile on its own (queue names are checked by the engine).
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.name.as_str().trim().is_empty() {
            return Err(ProfileError::EmptyName);
        }
        if self.max_offers != 1 {
            return Err(ProfileError::MaxOffers {
                agent: self.name.clone(),
                value: self.max_offers,
            });
        }
        for (i, s) in self.skills.iter().enumerate() {
            if !(1..=MAX_LEVEL).contains(&s.level) {
                return Err(ProfileError::Skill(SkillError::Level(s.to_string())));
            }
            if self.skills[..i].iter().any(|t| t.queue == s.queue) {
                return Err(ProfileError::DuplicateSkill {
                    agent: self.name.clone(),
                    queue: s.queue.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A profile that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The user name is empty.
    #[error("agent name is empty")]
    EmptyName,
    /// `max_offers` other than 1.
    #[error("agent {agent}: max_offers = {value}, only 1 is supported")]
    MaxOffers {
        /// The agent.
        agent: AgentId,
        /// The configured value.
        value: u32,
    },
    /// A skill is malformed.
    #[error(transparent)]
    Skill(#[from] SkillError),
    /// The same queue twice.
    #[error("agent {agent}: queue {queue} listed twice in skills")]
    DuplicateSkill {
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
    },
    /// A skill names a queue that is not configured.
    #[error("agent {agent}: skill for unknown queue {queue}")]
    UnknownQueue {
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
    },
}
