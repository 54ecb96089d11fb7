//! The `pbx ivr` commands as plain functions: each returns the text to print
//! and the process exit code, so the `cli` crate only parses arguments
//! (clap stays out of this crate) and prints.
//!
//! Exit codes: 0 success, 1 a flow has errors (or cannot be read), 2 bad
//! command input (unknown format, bad script).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{NodeKind, TransferTarget};
use crate::render::{render, RenderFormat};
use crate::sim::{simulate, simulate_with, CannedHttp, SimRequest, SimScript};
use crate::{check_file, Checked, Diagnostic, Severity};

/// Expands directories into their `*.toml` files (sorted), keeps files as given.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// `pbx ivr validate FLOW...`: every diagnostic of every file (directories
/// expand to their `*.toml` files) with source snippets, then a summary.
/// With several flows, `transfer` targets `flow:NAME` must name one of them.
pub fn validate_cmd(paths: &[PathBuf]) -> (String, i32) {
    let files = expand(paths);
    if files.is_empty() {
        return ("no flow files given\n".into(), 2);
    }
    let mut checked: Vec<Checked> = files.iter().map(|f| check_file(f)).collect();
    if files.len() > 1 {
        check_flow_targets(&mut checked);
    }
    let mut out = String::new();
    let (mut errors, mut warnings) = (0, 0);
    for c in &checked {
        for d in &c.diagnostics {
            out.push_str(&d.render_snippet(&c.source));
        }
        errors += c.errors();
        warnings += c.warnings();
    }
    for (f, c) in files.iter().zip(&checked) {
        let status = if c.errors() > 0 { "FAILED" } else { "ok" };
        let _ = writeln!(
            out,
            "{}: {status} ({} error(s), {} warning(s))",
            f.display(),
            c.errors(),
            c.warnings()
        );
    }
    let _ = writeln!(
        out,
        "{errors} error(s), {warnings} warning(s) in {} flow(s)",
        files.len()
    );
    (out, i32::from(errors > 0))
}

/// Adds an error for every `transfer` to `flow:NAME` that names none of the
/// flows checked together.
fn check_flow_targets(checked: &mut [Checked]) {
    let names: HashSet<String> = checked
        .iter()
        .filter_map(|c| c.flow.as_ref())
        .map(|f| f.name.clone())
        .collect();
    for c in checked.iter_mut() {
        let Some(flow) = &c.flow else { continue };
        let mut extra = Vec::new();
        for node in &flow.nodes {
            if let NodeKind::Transfer(t) = &node.kind {
                if let TransferTarget::Flow(name) = &t.target {
                    if !names.contains(name) {
                        let msg = format!("transfer to unknown flow `{name}`");
                        extra.push(Diagnostic::new(
                            &c.source,
                            Severity::Error,
                            t.target_span.clone(),
                            msg,
                        ));
                    }
                }
            }
        }
        c.diagnostics.extend(extra);
        c.diagnostics.sort_by_key(|d| d.span.start);
    }
}

fn load_or_report(path: &Path) -> Result<Arc<crate::Flow>, (String, i32)> {
    let c = check_file(path);
    match c.flow {
        Some(flow) => Ok(Arc::new(flow)),
        None => {
            let mut out = String::new();
            for d in &c.diagnostics {
                out.push_str(&d.render_snippet(&c.source));
            }
            let _ = writeln!(out, "{}: {} error(s)", path.display(), c.errors());
            Err((out, 1))
        }
    }
}

/// `pbx ivr render FLOW --format mermaid|dot`.
pub fn render_cmd(path: &Path, format: &str) -> (String, i32) {
    let format: RenderFormat = match format.parse() {
        Ok(f) => f,
        Err(e) => return (format!("{e}\n"), 2),
    };
    match load_or_report(path) {
        Ok(flow) => (render(&flow, format), 0),
        Err(report) => report,
    }
}

/// `pbx ivr simulate FLOW --digits .. --at .. --caller .. --http-fixture ..`:
/// the step log and the trajectory as text. Exit code 0 when the flow ended,
/// 3 when it stalled (waiting for input the script did not give).
pub fn simulate_cmd(path: &Path, script: &SimScript) -> (String, i32) {
    match load_or_report(path) {
        Ok(flow) => {
            let sim = simulate(flow, script);
            (sim.render_text(), if sim.stalled { 3 } else { 0 })
        }
        Err(report) => report,
    }
}

/// Like [`simulate_cmd`], printing the trajectory as JSON (the stored form).
pub fn simulate_json_cmd(path: &Path, script: &SimScript) -> (String, i32) {
    match load_or_report(path) {
        Ok(flow) => {
            let sim = simulate(flow, script);
            match serde_json::to_string_pretty(&sim.trajectory) {
                Ok(json) => (json + "\n", if sim.stalled { 3 } else { 0 }),
                Err(e) => (format!("cannot encode trajectory: {e}\n"), 1),
            }
        }
        Err(report) => report,
    }
}

/// Like [`simulate_cmd`] (`json`: [`simulate_json_cmd`]) with http nodes
/// answered by `answer` (`pbx ivr simulate` calls real URLs with it).
pub fn simulate_with_cmd(
    path: &Path,
    script: &SimScript,
    json: bool,
    answer: impl FnMut(&SimRequest) -> CannedHttp,
) -> (String, i32) {
    let flow = match load_or_report(path) {
        Ok(flow) => flow,
        Err(report) => return report,
    };
    let sim = simulate_with(flow, script, answer);
    let code = if sim.stalled { 3 } else { 0 };
    if !json {
        return (sim.render_text(), code);
    }
    match serde_json::to_string_pretty(&sim.trajectory) {
        Ok(json) => (json + "\n", code),
        Err(e) => (format!("cannot encode trajectory: {e}\n"), 1),
    }
}
