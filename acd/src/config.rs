//! Queue configuration (`[[queues]]`) and engine-wide settings. Plain
//! structs with `Default` and `validate()`; the cli fills them from TOML.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::agent::MAX_LEVEL;
use crate::ids::QueueId;

/// How a queue picks among its available agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Offer to every eligible available agent at once; the first to answer wins.
    RingAll,
    /// The agent idle the longest.
    #[default]
    LongestIdle,
    /// The next agent after the one offered last (in member order), wrapping.
    RoundRobin,
    /// The agent with the fewest answered calls in this queue today.
    FewestCalls,
    /// The agent with the least talk time in this queue today.
    LeastTalkTime,
    /// Member order, always from the top.
    Linear,
    /// Uniformly at random (seeded).
    Random,
    /// Highest skill level first, then longest idle.
    Skills,
}

/// Where a caller goes when it leaves a queue without an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OverflowTarget {
    /// Another queue of this engine (`queue:NAME`): handled inside the engine.
    Queue(QueueId),
    /// An IVR flow (`ivr:NAME`).
    Ivr(String),
    /// An extension or number (`extension:NUMBER`).
    Extension(String),
    /// A voicemail flow (`voicemail:NAME`).
    Voicemail(String),
    /// Offer the caller a callback and keep it waiting (`callback`).
    CallbackOffer,
}

/// An overflow target that does not read as `kind:name` or `callback`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("overflow target {0:?}: expected queue:NAME, ivr:NAME, extension:NUMBER, voicemail:NAME or callback")]
pub struct OverflowTargetError(pub String);

impl FromStr for OverflowTarget {
    type Err = OverflowTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "callback" {
            return Ok(Self::CallbackOffer);
        }
        let err = || OverflowTargetError(s.to_owned());
        let (kind, name) = s.split_once(':').ok_or_else(err)?;
        if name.is_empty() {
            return Err(err());
        }
        Ok(match kind {
            "queue" => Self::Queue(QueueId::from(name)),
            "ivr" => Self::Ivr(name.to_owned()),
            "extension" => Self::Extension(name.to_owned()),
            "voicemail" => Self::Voicemail(name.to_owned()),
            _ => return Err(err()),
        })
    }
}

impl TryFrom<String> for OverflowTarget {
    type Error = OverflowTargetError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<OverflowTarget> for String {
    fn from(t: OverflowTarget) -> Self {
        t.to_string()
    }
}

impl fmt::Display for OverflowTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queue(q) => write!(f, "queue:{q}"),
            Self::Ivr(n) => write!(f, "ivr:{n}"),
            Self::Extension(n) => write!(f, "extension:{n}"),
            Self::Voicemail(n) => write!(f, "voicemail:{n}"),
            Self::CallbackOffer => f.write_str("callback"),
        }
    }
}

/// One step of a relaxing rule: from `after_s` seconds of waiting on, any
/// agent with level ≥ `min_level` may take the call (0 = anyone in the queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxStep {
    /// Seconds in the queue when the step starts.
    pub after_s: u32,
    /// Lowest level allowed from then on (0–10).
    pub min_level: u8,
}

/// Limits and what happens at them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest wait before overflow (None: unlimited).
    pub max_wait_s: Option<u32>,
    /// Where callers go on max wait, a full queue or an empty one (None:
    /// the driver hangs up / plays its busy treatment).
    pub overflow: Option<OverflowTarget>,
    /// Most waiting callers (None: unlimited).
    pub max_length: Option<u32>,
    /// Callers may enter while no agent of the queue is logged in.
    pub join_empty: bool,
    /// Waiting callers leave when the last agent logs out.
    pub leave_when_empty: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_wait_s: None,
            overflow: None,
            max_length: None,
            join_empty: true,
            leave_when_empty: false,
        }
    }
}

/// What waiting callers hear besides music.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnnounceConfig {
    /// Announce the caller's position.
    pub position: bool,
    /// Announce the estimated wait.
    pub estimated_wait: bool,
    /// Seconds between position / wait announcements (0: only on entry).
    pub frequency_s: u32,
    /// A prompt played every `periodic_s` seconds.
    pub periodic_prompt: Option<String>,
    /// Seconds between periodic prompts (0: off).
    pub periodic_s: u32,
}

/// Callbacks that keep the caller's place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// Waiting callers may ask for a callback.
    pub enabled: bool,
    /// The DTMF key that asks for it.
    pub key: char,
    /// Customer dial attempts before giving up.
    pub max_attempts: u32,
    /// Seconds between attempts.
    pub retry_interval_s: u32,
    /// How long the customer's phone rings per attempt.
    pub customer_ring_timeout_s: u32,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            key: '1',
            max_attempts: 3,
            retry_interval_s: 300,
            customer_ring_timeout_s: 30,
        }
    }
}

/// Estimated wait time inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EwtConfig {
    /// Handle times (answer to ready again) kept for the rolling mean.
    pub window: u32,
    /// Handle time assumed before any call completed.
    pub default_handle_s: u32,
}

impl Default for EwtConfig {
    fn default() -> Self {
        Self {
            window: 50,
            default_handle_s: 180,
        }
    }
}

/// One queue (skill group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Name (unique).
    pub name: QueueId,
    /// Agent selection.
    pub strategy: Strategy,
    /// Seconds an offer rings before it counts as unanswered.
    pub ring_timeout_s: u32,
    /// Seconds before a caller whose offer failed is offered again.
    pub retry_delay_s: u32,
    /// After-call work seconds (an agent's profile may override).
    pub wrap_up_s: u32,
    /// Service-level threshold T (SPEC §13.3, default 20 s).
    pub service_level_s: u32,
    /// Music-on-hold class.
    pub music_on_hold: String,
    /// Seconds of wait credit every caller of this queue gets when callers
    /// of several queues compete for one agent (queue priority weight).
    pub weight_s: u32,
    /// Seconds of wait credit per caller priority point.
    pub priority_credit_s: u32,
    /// Relaxing skill rules, by ascending `after_s`; empty: anyone.
    pub relax: Vec<RelaxStep>,
    /// Limits and overflow.
    pub limits: LimitsConfig,
    /// Announcements.
    pub announce: AnnounceConfig,
    /// Callbacks.
    pub callback: CallbackConfig,
    /// Wait estimates.
    pub ewt: EwtConfig,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            name: QueueId::from(""),
            strategy: Strategy::default(),
            ring_timeout_s: 20,
            retry_delay_s: 5,
            wrap_up_s: 10,
            service_level_s: 20,
            music_on_hold: "default".to_owned(),
            weight_s: 0,
            priority_credit_s: 60,
            relax: Vec::new(),
            limits: LimitsConfig::default(),
            announce: AnnounceConfig::default(),
            callback: CallbackConfig::default(),
            ewt: EwtConfig::default(),
        }
    }
}

impl QueueConfig {
    /// A default queue with this name.
    pub fn named(name: &str) -> Self {
        Self {
            name: QueueId::from(name),
            ..Self::default()
        }
    }

    /// The lowest level allowed after `waited_ms`, and when it changes next
    /// (ms of waiting), per the relaxing rule.
    pub fn min_level_at(&self, waited_ms: u64) -> (u8, Option<u64>) {
        let mut level = 0;
        for step in &self.relax {
            let at = u64::from(step.after_s) * 1000;
            if waited_ms >= at {
                level = step.min_level;
            } else {
                return (level, Some(at));
            }
        }
        (level, None)
    }

    /// Checks this queue alone.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let q = || self.name.clone();
        if self.name.as_str().trim().is_empty() {
            return Err(ConfigError::EmptyName);
        }
        if self.ring_timeout_s == 0 {
            return Err(ConfigError::Zero {
                queue: q(),
                key: "ring_timeout_s",
            });
        }
        if self.service_level_s == 0 {
            return Err(ConfigError::Zero {
                queue: q(),
                key: "service_level_s",
            });
        }
        if self.ewt.window == 0 {
            return Err(ConfigError::Zero {
                queue: q(),
                key: "ewt.window",
            });
        }
        if self.limits.max_wait_s == Some(0) {
            return Err(ConfigError::Zero {
                queue: q(),
                key: "limits.max_wait_s",
            });
        }
        if self.limits.max_length == Some(0) {
            return Err(ConfigError::Zero {
                queue: q(),
                key: "limits.max_length",
            });
        }
        if let Some(OverflowTarget::Queue(t)) = &self.limits.overflow {
            if t == &self.name {
                return Err(ConfigError::OverflowToSelf(q()));
            }
        }
        if self.limits.overflow == Some(OverflowTarget::CallbackOffer) && !self.callback.enabled {
            return Err(ConfigError::CallbackOfferDisabled(q()));
        }
        if self.callback.enabled {
            if !matches!(self.callback.key, '0'..='9' | '*' | '#') {
                return Err(ConfigError::CallbackKey {
                    queue: q(),
                    key: self.callback.key,
                });
            }
            if self.callback.max_attempts == 0 {
                return Err(ConfigError::Zero {
                    queue: q(),
                    key: "callback.max_attempts",
                });
            }
            if self.callback.customer_ring_timeout_s == 0 {
                return Err(ConfigError::Zero {
                    queue: q(),
                    key: "callback.customer_ring_timeout_s",
                });
            }
        }
        if self.announce.periodic_s > 0 && self.announce.periodic_prompt.is_none() {
            return Err(ConfigError::PeriodicWithoutPrompt(q()));
        }
        for (i, step) in self.relax.iter().enumerate() {
            if step.min_level > MAX_LEVEL {
                return Err(ConfigError::RelaxLevel {
                    queue: q(),
                    index: i,
                    level: step.min_level,
                });
            }
            if i == 0 && step.after_s != 0 {
                return Err(ConfigError::RelaxStart(q()));
            }
            if i > 0 {
                let prev = self.relax[i - 1];
                if step.after_s <= prev.after_s || step.min_level > prev.min_level {
                    return Err(ConfigError::RelaxOrder {
                        queue: q(),
                        index: i,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Validates a set of queues: each alone, unique names, overflow targets exist.
pub fn validate_queues(queues: &[QueueConfig]) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for q in queues {
        q.validate()?;
        if !names.insert(q.name.clone()) {
            return Err(ConfigError::DuplicateQueue(q.name.clone()));
        }
    }
    for q in queues {
        if let Some(OverflowTarget::Queue(t)) = &q.limits.overflow {
            if !names.contains(t) {
                return Err(ConfigError::UnknownOverflowQueue {
                    queue: q.name.clone(),
                    target: t.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Engine-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcdConfig {
    /// Consecutive unanswered offers before an agent goes to no-answer.
    pub max_no_answer: u32,
    /// The tenant's offset from UTC in seconds ("today" for fewest-calls
    /// and least-talk-time).
    pub utc_offset_s: i32,
    /// Seed of the random strategy.
    pub seed: u64,
}

impl Default for AcdConfig {
    fn default() -> Self {
        Self {
            max_no_answer: 3,
            utc_offset_s: 0,
            seed: 0,
        }
    }
}

impl AcdConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_no_answer == 0 {
            return Err(ConfigError::MaxNoAnswer);
        }
        if self.utc_offset_s.unsigned_abs() > 14 * 3600 {
            return Err(ConfigError::UtcOffset(self.utc_offset_s));
        }
        Ok(())
    }
}

/// A configuration that cannot be used; each names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `name` is empty.
    #[error("queues: a queue has an empty name")]
    EmptyName,
    /// Two queues share a name.
    #[error("queues: {0} is defined twice")]
    DuplicateQueue(QueueId),
    /// A value that must be positive is 0.
    #[error("queues.{queue}.{key}: must be greater than 0")]
    Zero {
        /// Queue.
        queue: QueueId,
        /// Key.
        key: &'static str,
    },
    /// The overflow target is the queue itself.
    #[error("queues.{0}.limits.overflow: a queue cannot overflow to itself")]
    OverflowToSelf(QueueId),
    /// Overflow to a queue that does not exist.
    #[error("queues.{queue}.limits.overflow: unknown queue {target}")]
    UnknownOverflowQueue {
        /// Queue.
        queue: QueueId,
        /// The missing target.
        target: QueueId,
    },
    /// Callback offer as overflow while callbacks are off.
    #[error("queues.{0}.limits.overflow = \"callback\" needs callback.enabled = true")]
    CallbackOfferDisabled(QueueId),
    /// The callback key is not a DTMF key.
    #[error("queues.{queue}.callback.key: {key:?} is not a DTMF key (0-9, *, #)")]
    CallbackKey {
        /// Queue.
        queue: QueueId,
        /// The key.
        key: char,
    },
    /// A periodic interval without a prompt.
    #[error("queues.{0}.announce.periodic_s needs announce.periodic_prompt")]
    PeriodicWithoutPrompt(QueueId),
    /// A relax level above 10.
    #[error("queues.{queue}.relax[{index}].min_level: {level} is above 10")]
    RelaxLevel {
        /// Queue.
        queue: QueueId,
        /// Step index.
        index: usize,
        /// The level.
        level: u8,
    },
    /// The first relax step does not start at 0 s.
    #[error("queues.{0}.relax[0].after_s: the first step must start at 0")]
    RelaxStart(QueueId),
    /// Relax steps out of order or getting stricter.
    #[error("queues.{queue}.relax[{index}]: after_s must grow and min_level must not grow")]
    RelaxOrder {
        /// Queue.
        queue: QueueId,
        /// Step index.
        index: usize,
    },
    /// `max_no_answer = 0`.
    #[error("acd.max_no_answer: must be greater than 0")]
    MaxNoAnswer,
    /// An impossible UTC offset.
    #[error("acd.utc_offset_s: {0} is beyond ±14 h")]
    UtcOffset(i32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_queues_parse_with_defaults_and_nested_tables() {
        #[derive(Deserialize)]
        struct File {
            queues: Vec<QueueConfig>,
        }
        let f: File = toml::from_str(
            r#"
            [[queues]]
            name = "sales"
            strategy = "skills"
            relax = [{ after_s = 0, min_level = 7 }, { after_s = 30, min_level = 3 }, { after_s = 60, min_level = 0 }]
            [queues.limits]
            max_wait_s = 300
            overflow = "voicemail:sales"
            [queues.callback]
            enabled = true
            key = "*"

            [[queues]]
            name = "support"
            strategy = "round-robin"
            "#,
        )
        .expect("valid TOML");
        assert_eq!(f.queues[0].strategy, Strategy::Skills);
        assert_eq!(
            f.queues[0].limits.overflow,
            Some(OverflowTarget::Voicemail("sales".into()))
        );
        assert_eq!(f.queues[0].service_level_s, 20, "default T = 20 s");
        assert_eq!(f.queues[0].min_level_at(45_000), (3, Some(60_000)));
        assert_eq!(f.queues[0].min_level_at(61_000), (0, None));
        assert_eq!(f.queues[1].strategy, Strategy::RoundRobin);
        validate_queues(&f.queues).expect("valid queues");
        let bad: Result<File, _> =
            toml::from_str("[[queues]]\nname = \"x\"\nstrategy = \"fastest\"\n");
        assert!(bad.is_err());
        let bad: Result<File, _> = toml::from_str("[[queues]]\nname = \"x\"\nring_timeout = 3\n");
        assert!(bad.is_err(), "unknown keys are refused");
    }

    #[test]
    fn validation_names_the_key() {
        let mut q = QueueConfig::named("q");
        q.ring_timeout_s = 0;
        assert_eq!(
            q.validate().unwrap_err().to_string(),
            "queues.q.ring_timeout_s: must be greater than 0"
        );
        let mut q = QueueConfig::named("q");
        q.relax = vec![
            RelaxStep {
                after_s: 0,
                min_level: 3,
            },
            RelaxStep {
                after_s: 10,
                min_level: 5,
            },
        ];
        assert_eq!(
            q.validate(),
            Err(ConfigError::RelaxOrder {
                queue: "q".into(),
                index: 1
            })
        );
        let mut q = QueueConfig::named("q");
        q.limits.overflow = Some(OverflowTarget::Queue("nope".into()));
        assert!(matches!(
            validate_queues(&[q]),
            Err(ConfigError::UnknownOverflowQueue { .. })
        ));
        let mut q = QueueConfig::named("q");
        q.limits.overflow = Some(OverflowTarget::CallbackOffer);
        assert_eq!(
            q.validate(),
            Err(ConfigError::CallbackOfferDisabled("q".into()))
        );
        assert_eq!(
            validate_queues(&[QueueConfig::named("a"), QueueConfig::named("a")]),
            Err(ConfigError::DuplicateQueue("a".into()))
        );
        assert!(matches!(
            QueueConfig::default().validate(),
            Err(ConfigError::EmptyName)
        ));
        assert_eq!(
            "extension:".parse::<OverflowTarget>(),
            Err(OverflowTargetError("extension:".into()))
        );
        assert!(AcdConfig {
            max_no_answer: 0,
            ..AcdConfig::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn skills_parse_and_refuse_bad_levels() {
        use crate::agent::{AgentProfile, Skill};
        assert_eq!("sales:7".parse::<Skill>().unwrap().level, 7);
        assert!("sales:0".parse::<Skill>().is_err());
        assert!("sales:11".parse::<Skill>().is_err());
        assert!("sales".parse::<Skill>().is_err());
        let p: AgentProfile = toml::from_str(
            "name = \"alice\"\nskills = [\"sales:7\", \"support:3\"]\nwrap_up_s = 15\n",
        )
        .unwrap();
        assert_eq!(p.level(&"support".into()), Some(3));
        let mut p2 = p.clone();
        p2.max_offers = 2;
        assert!(p2.validate().is_err());
        let p3 = AgentProfile::new("x", &["a:1", "a:2"]).unwrap();
        assert!(p3.validate().is_err());
    }
}
