//! IVR flows for pbx: the TOML flow format, its loader and validator, a
//! sans-IO interpreter producing a per-call trajectory, diagram renderers and
//! a simulator. Knows nothing about SIP, RTP or tokio.
//!
//! # Run-loop contract
//! An [`Interpreter`] runs one call through one [`Flow`]. The driver (the call
//! engine, or the [`simulate`] loop) calls `start(now)`, then feeds
//! `handle_event(now, event)` / `handle_timeout(now)`; after every call it
//! drains `poll_action()` until `None` and performs each action, then sleeps
//! until `poll_timeout()` or the next event. Time is always passed in.
//!
//! ```
//! use std::sync::Arc;
//! use ivr::{parse_flow, Action, Calendar, CallContext, Event, Interpreter};
//!
//! let flow = parse_flow("bye.toml", r#"
//!     [nodes.bye]
//!     type = "hangup"
//!     reason = "closed"
//! "#).expect("valid flow");
//! let mut call = Interpreter::new(Arc::new(flow), CallContext::default(), Calendar::default());
//! let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00+01:00").unwrap();
//! call.start(now);
//! while let Some(action) = call.poll_action() {
//!     // play / collect / POST / transfer / hang up here
//!     assert!(matches!(action, Action::Hangup { .. }));
//! }
//! assert!(call.is_finished());
//! # let _ = Event::Hangup;
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod cli;
pub mod diag;
pub mod interp;
mod load;
pub mod model;
pub mod registry;
pub mod render;
pub mod sim;
pub mod trajectory;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diag::{Diagnostic, Severity, SourceFile};
pub use interp::{
    Action, Calendar, CallContext, Event, HttpOutcome, Interpreter, PlayId, RequestId, Time,
};
pub use model::{Digit, Flow, Node, NodeKind, NodeType, TransferTarget};
pub use registry::{FlowRegistry, ReloadReport};
pub use render::{render, RenderFormat};
pub use sim::{simulate, CannedHttp, SimRequest, SimScript, Simulation};
pub use trajectory::{KeyPath, Outcome, Trajectory, TrajectoryEntry, TrajectoryEvent};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flow file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A flow has errors (the diagnostics include warnings too).
    #[error("{path}: {} error(s)", diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every diagnostic, sorted by position.
        diagnostics: Vec<Diagnostic>,
    },
    /// A simulation script or fixture is malformed.
    #[error("bad simulation input: {0}")]
    Script(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The outcome of checking one flow file.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The flow, when it has no errors.
    pub flow: Option<Flow>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The source text, for snippets.
    pub source: Arc<SourceFile>,
}

impl Checked {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Loads and validates flow text; never panics, reports every problem found.
pub fn check_source(path: impl Into<PathBuf>, text: impl Into<String>) -> Checked {
    let source = Arc::new(SourceFile::new(path, text));
    let mut d = diag::Diagnostics::new(&source);
    let loaded = load::load(&source, &mut d);
    if let Some(loaded) = &loaded {
        validate::validate(loaded, &mut d);
    }
    let ok = !d.has_errors();
    let diagnostics = d.into_sorted();
    Checked {
        flow: loaded.filter(|_| ok).map(|l| l.flow),
        diagnostics,
        source,
    }
}

/// Reads, loads and validates a flow file; an unreadable file is an error
/// diagnostic at 1:1.
pub fn check_file(path: &Path) -> Checked {
    match std::fs::read_to_string(path) {
        Ok(text) => check_source(path, text),
        Err(e) => {
            let source = Arc::new(SourceFile::new(path, ""));
            let diagnostics = vec![Diagnostic::new(
                &source,
                Severity::Error,
                0..0,
                format!("cannot read file: {e}"),
            )];
            Checked {
                flow: None,
                diagnostics,
                source,
            }
        }
    }
}

/// Parses and validates flow text; errors if any error diagnostic was found.
pub fn parse_flow(path: impl Into<PathBuf>, text: impl Into<String>) -> Result<Flow> {
    into_result(check_source(path, text))
}

/// Reads, parses and validates a flow file.
pub fn load_flow(path: &Path) -> Result<Flow> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_flow(path, text)
}

fn into_result(c: Checked) -> Result<Flow> {
    match c.flow {
        Some(flow) => Ok(flow),
        None => Err(Error::Invalid {
            path: c.source.path().to_path_buf(),
            diagnostics: c.diagnostics,
        }),
    }
}
