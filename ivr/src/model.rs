//! The in-memory flow model the loader builds and the interpreter runs.
//!
//! A [`Flow`] is a list of [`Node`]s in file order; each node has an id (its
//! TOML table key), a [`NodeKind`] with typed parameters, and named [`Exit`]s
//! pointing at other node ids. Spans into the [`SourceFile`] are kept so the
//! validator can point at the exact key or value it complains about.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::diag::{SourceFile, Span};

/// One DTMF key (RFC 4733 §3.2 events 0–15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "char", try_from = "char")]
pub enum Digit {
    /// 0
    D0,
    /// 1
    D1,
    /// 2
    D2,
    /// 3
    D3,
    /// 4
    D4,
    /// 5
    D5,
    /// 6
    D6,
    /// 7
    D7,
    /// 8
    D8,
    /// 9
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// A
    A,
    /// B
    B,
    /// C
    C,
    /// D
    D,
}

impl Digit {
    /// Parses `0-9 * # A-D` (letters case-insensitive).
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c.to_ascii_uppercase() {
            '0' => Self::D0,
            '1' => Self::D1,
            '2' => Self::D2,
            '3' => Self::D3,
            '4' => Self::D4,
            '5' => Self::D5,
            '6' => Self::D6,
            '7' => Self::D7,
            '8' => Self::D8,
            '9' => Self::D9,
            '*' => Self::Star,
            '#' => Self::Pound,
            'A' => Self::A,
            'B' => Self::B,
            'C' => Self::C,
            'D' => Self::D,
            _ => return None,
        })
    }

    /// The key's character.
    pub fn as_char(self) -> char {
        match self {
            Self::D0 => '0',
            Self::D1 => '1',
            Self::D2 => '2',
            Self::D3 => '3',
            Self::D4 => '4',
            Self::D5 => '5',
            Self::D6 => '6',
            Self::D7 => '7',
            Self::D8 => '8',
            Self::D9 => '9',
            Self::Star => '*',
            Self::Pound => '#',
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
        }
    }
}

impl From<Digit> for char {
    fn from(d: Digit) -> Self {
        d.as_char()
    }
}

impl TryFrom<char> for Digit {
    type Error = String;
    fn try_from(c: char) -> Result<Self, String> {
        Self::from_char(c).ok_or_else(|| format!("`{c}` is not a DTMF key"))
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A loaded flow: the result of [`crate::parse_flow`] or [`crate::load_flow`].
#[derive(Debug, Clone)]
pub struct Flow {
    /// Flow name (`[flow] name`, else the file stem); `transfer` targets
    /// `flow:NAME` refer to it.
    pub name: String,
    /// Free text for the designer.
    pub description: Option<String>,
    /// Id of the first node.
    pub start: String,
    /// Span of the `start` value (or the first node when defaulted).
    pub start_span: Span,
    /// Directory prompt names are resolved against.
    pub prompt_dir: PathBuf,
    /// Holidays declared in the flow itself (merged with the injected calendar).
    pub holidays: BTreeSet<NaiveDate>,
    /// Nodes in file order.
    pub nodes: Vec<Node>,
    /// The file the flow came from.
    pub source: Arc<SourceFile>,
    index: HashMap<String, usize>,
}

impl Flow {
    /// Builds a flow, indexing its nodes by id.
    pub(crate) fn new(
        name: String,
        description: Option<String>,
        start: (String, Span),
        prompt_dir: PathBuf,
        holidays: BTreeSet<NaiveDate>,
        nodes: Vec<Node>,
        source: Arc<SourceFile>,
    ) -> Self {
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        Self {
            name,
            description,
            start: start.0,
            start_span: start.1,
            prompt_dir,
            holidays,
            nodes,
            source,
            index,
        }
    }

    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index.get(id).and_then(|&i| self.nodes.get(i))
    }

    /// Index of node `id` in [`Flow::nodes`].
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// One node of a flow.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node id (its key under `[nodes]`).
    pub id: String,
    /// Display name for trajectories and diagrams (defaults to the id).
    pub name: Option<String>,
    /// Span of the id key.
    pub span: Span,
    /// Type and parameters.
    pub kind: NodeKind,
    /// Named exits in file order.
    pub exits: Vec<Exit>,
}

impl Node {
    /// The node's type tag.
    pub fn node_type(&self) -> NodeType {
        self.kind.node_type()
    }

    /// Target node id of exit `name`.
    pub fn exit(&self, name: &str) -> Option<&str> {
        self.exits
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.target.as_str())
    }

    /// Display name: `name` if set, else the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// A named exit: when the node finishes through `name`, the call goes to `target`.
#[derive(Debug, Clone)]
pub struct Exit {
    /// Exit name (`next`, `ok`, a menu digit, …).
    pub name: String,
    /// Target node id.
    pub target: String,
    /// Span of the exit name key.
    pub name_span: Span,
    /// Span of the target value.
    pub target_span: Span,
}

/// The type tag of a node, as written in `type = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeType {
    /// Play prompts.
    Play,
    /// Key menu.
    Menu,
    /// Digit collection into a variable.
    Collect,
    /// Branch on time, calendar, caller or variables.
    Condition,
    /// callUrl: POST the call context, map the answer.
    Http,
    /// Assign variables.
    Set,
    /// Hand the call elsewhere.
    Transfer,
    /// Record a message.
    Record,
    /// End the call.
    Hangup,
}

impl NodeType {
    /// All types, for messages.
    pub const ALL: [Self; 9] = [
        Self::Play,
        Self::Menu,
        Self::Collect,
        Self::Condition,
        Self::Http,
        Self::Set,
        Self::Transfer,
        Self::Record,
        Self::Hangup,
    ];

    /// The TOML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Play => "play",
            Self::Menu => "menu",
            Self::Collect => "collect",
            Self::Condition => "condition",
            Self::Http => "http",
            Self::Set => "set",
            Self::Transfer => "transfer",
            Self::Record => "record",
            Self::Hangup => "hangup",
        }
    }

    /// Parses the TOML spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Exits every node of this type must have.
    pub fn required_exits(self) -> &'static [&'static str] {
        match self {
            Self::Play | Self::Set | Self::Record => &["next"],
            Self::Menu | Self::Condition => &["default"],
            Self::Collect => &["ok", "fail"],
            Self::Http => &["ok", "error"],
            Self::Transfer | Self::Hangup => &[],
        }
    }

    /// Fixed optional exits (beyond digits, rule exits and http-chosen exits).
    pub fn optional_exits(self) -> &'static [&'static str] {
        match self {
            Self::Menu => &["timeout", "invalid"],
            Self::Http => &["timeout"],
            _ => &[],
        }
    }

    /// Whether the node makes the call wait (for input, media or the network),
    /// which is what breaks an otherwise infinite loop.
    pub fn waits(self) -> bool {
        matches!(
            self,
            Self::Play | Self::Menu | Self::Collect | Self::Http | Self::Record
        )
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Type-specific parameters of a node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeKind {
    /// See [`Play`].
    Play(Play),
    /// See [`Menu`].
    Menu(Menu),
    /// See [`Collect`].
    Collect(Collect),
    /// See [`Condition`].
    Condition(Condition),
    /// See [`Http`].
    Http(Http),
    /// See [`Set`].
    Set(Set),
    /// See [`Transfer`].
    Transfer(Transfer),
    /// See [`Record`].
    Record(Record),
    /// See [`Hangup`].
    Hangup(Hangup),
}

impl NodeKind {
    /// The type tag.
    pub fn node_type(&self) -> NodeType {
        match self {
            Self::Play(_) => NodeType::Play,
            Self::Menu(_) => NodeType::Menu,
            Self::Collect(_) => NodeType::Collect,
            Self::Condition(_) => NodeType::Condition,
            Self::Http(_) => NodeType::Http,
            Self::Set(_) => NodeType::Set,
            Self::Transfer(_) => NodeType::Transfer,
            Self::Record(_) => NodeType::Record,
            Self::Hangup(_) => NodeType::Hangup,
        }
    }
}

/// A prompt reference: a name resolved to a WAV path under the prompt directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    /// As written in the flow (`welcome` or `sub/welcome.wav`).
    pub name: String,
    /// Resolved file path.
    pub path: PathBuf,
    /// Span of the string in the flow file.
    #[serde(skip)]
    pub span: Span,
}

/// `play`: one or more prompts; exit `next`.
#[derive(Debug, Clone)]
pub struct Play {
    /// Prompts, played in order.
    pub prompts: Vec<Prompt>,
    /// A key press stops playback; the key is kept as type-ahead for the next
    /// menu or collect node.
    pub barge_in: bool,
}

/// `menu`: prompt, digit → exit map, retries; exits: digits, `default`,
/// optionally `timeout` and `invalid` (taken instead of `default` when the
/// last attempt ended that way).
#[derive(Debug, Clone)]
pub struct Menu {
    /// Menu prompt.
    pub prompts: Vec<Prompt>,
    /// Played before the menu prompt after a key without an option.
    pub invalid_prompts: Vec<Prompt>,
    /// Played before the menu prompt after no key was pressed in time.
    pub timeout_prompts: Vec<Prompt>,
    /// Wait after the prompt ends.
    pub timeout: Duration,
    /// Attempts in total (≥ 1).
    pub attempts: u32,
    /// Key → exit name (the exit key in the file, e.g. `"1"` or `"7|8"`).
    pub options: BTreeMap<Digit, String>,
    /// A key stops the prompt (default true).
    pub barge_in: bool,
}

/// `collect`: up to `max_digits` keys into `variable`; exits `ok`, `fail`.
#[derive(Debug, Clone)]
pub struct Collect {
    /// Prompt asking for the digits.
    pub prompts: Vec<Prompt>,
    /// Played before a retry after invalid or missing input.
    pub invalid_prompts: Vec<Prompt>,
    /// Fewest digits accepted.
    pub min_digits: u32,
    /// Most digits; collection ends when reached.
    pub max_digits: u32,
    /// Key that ends input early (not stored).
    pub terminator: Option<Digit>,
    /// Overall time allowed from the end of the prompt.
    pub timeout: Duration,
    /// Time allowed between two keys.
    pub inter_digit_timeout: Duration,
    /// Whole-input validation pattern (anchored by the author).
    pub pattern: Option<Regex>,
    /// Variable the digits are stored in.
    pub variable: String,
    /// Span of the variable name.
    pub variable_span: Span,
    /// Attempts in total (≥ 1).
    pub attempts: u32,
}

/// `condition`: the first rule whose tests all hold chooses the exit; else `default`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Rules in order.
    pub rules: Vec<Rule>,
}

/// One rule of a condition node.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Exit taken when every test holds.
    pub exit: String,
    /// Span of the exit name.
    pub exit_span: Span,
    /// Tests, all of which must hold (an empty list always holds).
    pub tests: Vec<Test>,
}

/// One test of a condition rule.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Test {
    /// Local time of day within `[start, end)`; wraps midnight when start > end.
    Time {
        /// Inclusive start.
        start: NaiveTime,
        /// Exclusive end.
        end: NaiveTime,
    },
    /// Local weekday is one of these.
    Days(BTreeSet<WeekdayKey>),
    /// Today is (true) or is not (false) a holiday.
    Holiday(bool),
    /// Local date is one of these.
    Dates(BTreeSet<NaiveDate>),
    /// Caller number starts with one of these.
    CallerPrefix(Vec<String>),
    /// Caller region (from the driver's prefix table) is one of these.
    Region(Vec<String>),
    /// A variable comparison.
    Var {
        /// Variable name.
        name: String,
        /// Span of the name.
        span: Span,
        /// Comparison.
        cmp: Cmp,
    },
}

/// A weekday as an orderable key (Monday = 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeekdayKey(pub u8);

impl From<Weekday> for WeekdayKey {
    fn from(w: Weekday) -> Self {
        Self(w.num_days_from_monday() as u8)
    }
}

/// Variable comparisons of a condition rule.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cmp {
    /// Equal to the string.
    Eq(String),
    /// Not equal to the string (an unset variable is not equal).
    Ne(String),
    /// Matches the regex.
    Matches(Regex),
    /// Numerically less than.
    Lt(f64),
    /// Numerically greater than.
    Gt(f64),
    /// Is set (true) or unset (false).
    IsSet(bool),
}

/// A string with `${var}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The text as written.
    pub raw: String,
    /// Literal and variable parts.
    pub parts: Vec<TemplatePart>,
    /// Span of the string in the flow file.
    pub span: Span,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `${name}`.
    Var(String),
}

impl Template {
    /// Variables the template references.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Var(v) => Some(v.as_str()),
            TemplatePart::Text(_) => None,
        })
    }

    /// Expands with `lookup`; unset variables expand to the empty string.
    pub fn expand<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Var(v) => out.push_str(lookup(v).unwrap_or("")),
            }
        }
        out
    }
}

/// `http` (the SPEC's callUrl): POST the call context as JSON, map answer
/// fields to variables; exits `ok`, `error`, optional `timeout`, plus any exit
/// chosen by `exit_var`.
#[derive(Debug, Clone)]
pub struct Http {
    /// Target URL (may reference variables).
    pub url: Template,
    /// Time allowed for the answer.
    pub timeout: Duration,
    /// Variable ← JSON pointer (RFC 6901) into the response body.
    pub map: Vec<(String, String)>,
    /// After mapping, if this variable names an exit of the node, take it.
    pub exit_var: Option<String>,
}

/// `set`: assign variables in order; exit `next`.
#[derive(Debug, Clone)]
pub struct Set {
    /// Name ← template.
    pub assignments: Vec<(String, Template)>,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransferTarget {
    /// `ext:1001`: a local extension.
    Extension(String),
    /// `queue:sales`: a skill-group queue.
    Queue(String),
    /// `tel:+4930123456`: an external number (E.164 or national digits).
    External(String),
    /// `flow:support`: another IVR flow.
    Flow(String),
    /// `sip:user@host`: a SIP URI (RFC 3261 §19.1).
    Sip(String),
}

impl fmt::Display for TransferTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Extension(e) => write!(f, "ext:{e}"),
            Self::Queue(q) => write!(f, "queue:{q}"),
            Self::External(n) => write!(f, "tel:{n}"),
            Self::Flow(n) => write!(f, "flow:{n}"),
            Self::Sip(u) => f.write_str(u),
        }
    }
}

/// `transfer`: terminal; hands the call to `target`.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Destination.
    pub target: TransferTarget,
    /// Span of the target string.
    pub target_span: Span,
}

/// `record`: a voicemail-style message; exit `next`.
#[derive(Debug, Clone)]
pub struct Record {
    /// Played before recording.
    pub prompts: Vec<Prompt>,
    /// Play a beep before recording.
    pub beep: bool,
    /// Longest message.
    pub max_duration: Duration,
    /// Key that ends the recording.
    pub terminator: Option<Digit>,
    /// Variable receiving the recording reference.
    pub variable: Option<String>,
}

/// `hangup`: terminal; ends the call.
#[derive(Debug, Clone)]
pub struct Hangup {
    /// Reason recorded in the trajectory.
    pub reason: Option<String>,
}
