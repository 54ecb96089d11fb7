//! Contact-center call reports (SPEC §13, §21): the report catalog of the
//! seed with the formulas of SPEC §13.2/§13.3, computed from summary tables
//! that an aggregator keeps in the pbx store, and rendered as terminal
//! tables, CSV, JSON and SVG/PNG charts.
//!
//! The layers, each usable alone:
//! - [`aggregate`]: pure — stored facts (call records, queue events, survey
//!   trajectories, tags) of a range in, additive summary rows per 30-minute
//!   slot out ([`summary::Cube`]);
//! - [`db`]: the summary tables in SQLite — rebuild a range, the 15-minute
//!   incremental run, the nightly rebuild of the previous day, and queries
//!   that add summaries of whole slots to the raw tail of the last minutes;
//! - [`catalog`]: pure — each report as a [`Table`] from summed rows, with
//!   exact integer arithmetic ([`value`]): percentages and averages rounded
//!   once, half-up, to 2 decimals; a division by zero is "—" / `null`;
//! - [`render`] and [`chart`]: terminal table, CSV, JSON; bar and line
//!   charts with axes and legends through `plotters`;
//! - [`generate`]: a seeded generator of a month of calls and queue events
//!   (benchmarks, tests).
//!
//! # Satisfaction surveys
//!
//! The survey is an IVR flow (named by [`ReportSettings::survey_flow`],
//! `survey` by default) that an agent transfers the caller to after the
//! conversation; the engine stores it as one more `ivr_trajectory` part of
//! the same call. The first key pressed in it is the score: 1–5 is a
//! response (scores ≥ [`ReportSettings::satisfied_min`], 4 by default, are
//! satisfied), anything else or no key is a click without response. The
//! survey counts for the last agent the call was connected to (SPEC §13.3);
//! the click is split by the call's direction: inbound, outbound, or
//! inbound-transferred (the call had a queue transfer). Trajectories are
//! purged after 15 days (SPEC §5): the summary rows keep the figures, but
//! a rebuild of a range older than that finds no surveys (the server's own
//! runs rebuild at most the previous day).
//!
//! # Call tags
//!
//! Tags are read from `cdr_tags(call_id, tag, at_ms)` (the API writes them), created here if the store
//! has none yet ([`ReportDb::tag_call`] writes one).
//!
//! # Readings of ambiguous formulas (SPEC §26)
//!
//! - Inbound/outbound AHT (§26.2): the numerator is the total handling
//!   time of those calls — talk (hold included) plus wrap-up — so that
//!   `AHT` is the weighted mean of `AHT_in` and `AHT_out`. The engine has
//!   after-call work only after queue calls, so the post-processing-only
//!   reading would make `AHT_out` 0 for every agent; the wrap-up average
//!   is shown in a column of its own.
//! - Billing minutes (§26.3): rounded up per call.
//! - Rates (§26.4): denominators are offered calls (queues), presented
//!   offers (agent pickup), attempts (outbound).
//! - Work days (§26.9): distinct local days with a login, an answered queue
//!   call or an outbound call.
#![warn(missing_docs)]

pub mod aggregate;
pub mod aggregator;
pub mod catalog;
pub mod chart;
pub mod db;
pub mod generate;
pub mod render;
pub mod request;
pub mod settings;
pub mod summary;
pub mod value;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use catalog::{Query, Report, Table, REPORTS};
pub use db::{Period, ReportDb};
pub use request::Request;
pub use settings::{AgentOrg, ReportSettings, Viewer};

/// A report error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The store file does not exist.
    #[error("no store at {0}: run `pbx serve` once (or check data_dir)")]
    NoStore(PathBuf),
    /// A raw table is missing.
    #[error("{path} has no call data yet ({why}): run `pbx serve` on it first")]
    NoRawTables {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        why: String,
    },
    /// A bad region prefix file.
    #[error("{file}:{line}: {why}")]
    Regions {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// An unknown report name.
    #[error("no report `{0}` (see `pbx report list`)")]
    UnknownReport(String),
    /// A bad query argument.
    #[error("{0}")]
    Argument(String),
    /// Drawing a chart failed.
    #[error("chart {path}: {why}")]
    Chart {
        /// The output file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

impl Error {
    pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            path: path.to_owned(),
            source,
        }
    }
}

/// A report result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
