//! Flow loader: TOML text → [`Flow`], with positioned diagnostics.
//!
//! The loader uses `toml_edit` because it keeps the byte span of every key and
//! value, so both syntax errors and semantic errors (wrong type, unknown key,
//! bad digit map, bad regex, …) point at the exact place in the file. It
//! records every problem it can find instead of stopping at the first one.
//!
//! File layout:
//!
//! ```toml
//! [flow]
//! name = "main"              # default: file stem
//! start = "welcome"          # default: first node
//! prompts = "../prompts"     # prompt directory, relative to this file
//! holidays = ["2026-12-25"]  # extra holiday dates
//!
//! [nodes.welcome]
//! type = "play"
//! prompts = ["welcome"]      # → ../prompts/welcome.wav
//! exits = { next = "main" }
//! ```

mod fields;
mod nodes;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use toml_edit::{Document, TableLike};

use crate::diag::{Diagnostics, SourceFile, Span};
use crate::model::{Exit, Flow, Node};
pub(crate) use fields::Fields;

/// What the loader produced before validation.
pub(crate) struct Loaded {
    pub(crate) flow: Flow,
    /// Ids of nodes that exist in the file but could not be built; the
    /// validator treats them as present so it does not report their
    /// incoming exits as dangling.
    pub(crate) broken: HashSet<String>,
}

/// Parses `source`, recording problems in `d`. Returns `None` only when the
/// text is not TOML or has no usable `[nodes]` table.
pub(crate) fn load(source: &Arc<SourceFile>, d: &mut Diagnostics<'_>) -> Option<Loaded> {
    let doc = match Document::parse(source.text()) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            d.error(span, format!("TOML syntax: {}", e.message().trim()));
            return None;
        }
    };
    let root = Fields {
        table: doc.as_table(),
        span: 0..0,
        what: "the flow file".into(),
    };
    root.reject_unknown(&["flow", "nodes"], d);
    let header = root.table("flow", d).map(|mut f| {
        f.what = "`[flow]`".into();
        f
    });
    let (name, description, start, prompt_dir, holidays) = read_header(source, header.as_ref(), d);

    let Some(nodes_t) = root.table("nodes", d) else {
        if root.table.get("nodes").is_none() {
            d.error(0..0, "the flow has no `[nodes]` table");
        }
        return None;
    };
    let mut nodes = Vec::new();
    let mut broken = HashSet::new();
    for (id, item) in nodes_t.table.iter() {
        let span = nodes_t.key_span(id);
        if !valid_id(id) {
            d.error(
                span.clone(),
                format!("node id `{id}` may only contain letters, digits, `_` and `-`"),
            );
        }
        let Some(table) = item.as_table_like() else {
            d.error(span, format!("node `{id}` must be a table"));
            broken.insert(id.to_owned());
            continue;
        };
        let f = Fields {
            table,
            span: span.clone(),
            what: format!("node `{id}`"),
        };
        match read_node(id, &f, &prompt_dir, d) {
            Some(node) => nodes.push(node),
            None => {
                broken.insert(id.to_owned());
            }
        }
    }
    if nodes.is_empty() && broken.is_empty() {
        d.error(nodes_t.span.clone(), "the flow has no nodes");
        return None;
    }
    let start = start.or_else(|| {
        nodes_t
            .table
            .iter()
            .next()
            .map(|(id, _)| (id.to_owned(), nodes_t.key_span(id)))
    })?;
    let flow = Flow::new(
        name,
        description,
        start,
        prompt_dir,
        holidays,
        nodes,
        Arc::clone(source),
    );
    Some(Loaded { flow, broken })
}

type Header = (
    String,
    Option<String>,
    Option<(String, Span)>,
    PathBuf,
    BTreeSet<NaiveDate>,
);

fn read_header(source: &SourceFile, f: Option<&Fields<'_>>, d: &mut Diagnostics<'_>) -> Header {
    let stem = source
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flow".into());
    let base = source
        .path()
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let Some(f) = f else {
        return (stem, None, None, base.join("prompts"), BTreeSet::new());
    };
    f.reject_unknown(&["name", "description", "start", "prompts", "holidays"], d);
    let name = f.str("name", d).map_or(stem, |(s, _)| s);
    let description = f.str("description", d).map(|(s, _)| s);
    let start = f.str("start", d);
    let prompt_dir = f
        .str("prompts", d)
        .map_or_else(|| base.join("prompts"), |(p, _)| base.join(p));
    let mut holidays = BTreeSet::new();
    if let Some(list) = date_list(f, "holidays", d) {
        holidays.extend(list);
    }
    (name, description, start, prompt_dir, holidays)
}

/// Reads an array of `YYYY-MM-DD` dates (strings or TOML local dates).
pub(crate) fn date_list(
    f: &Fields<'_>,
    key: &str,
    d: &mut Diagnostics<'_>,
) -> Option<Vec<NaiveDate>> {
    let (item, span) = f.item(key)?;
    let Some(arr) = item.as_array() else {
        d.error(
            span,
            format!("`{key}` must be an array of dates (\"YYYY-MM-DD\")"),
        );
        return None;
    };
    let mut out = Vec::new();
    for v in arr.iter() {
        let vspan = v.span().unwrap_or_else(|| span.clone());
        let text = match v.as_str() {
            Some(s) => s.to_owned(),
            None => v.as_datetime().map(|dt| dt.to_string()).unwrap_or_default(),
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => out.push(date),
            Err(_) => d.error(
                vspan,
                format!("invalid date `{text}` in `{key}` (expected YYYY-MM-DD)"),
            ),
        }
    }
    Some(out)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn read_node(id: &str, f: &Fields<'_>, prompt_dir: &Path, d: &mut Diagnostics<'_>) -> Option<Node> {
    let (ty, ty_span) = f.req_str("type", d)?;
    let Some(node_type) = crate::model::NodeType::parse(&ty) else {
        let all: Vec<_> = crate::model::NodeType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect();
        d.error(
            ty_span,
            format!(
                "unknown node type `{ty}` (expected one of: {})",
                all.join(", ")
            ),
        );
        return None;
    };
    let name = f.str("name", d).map(|(s, _)| s);
    let exits = read_exits(f, d);
    let kind = nodes::read_kind(node_type, f, &exits, prompt_dir, d)?;
    Some(Node {
        id: id.to_owned(),
        name,
        span: f.span.clone(),
        kind,
        exits,
    })
}

fn read_exits(f: &Fields<'_>, d: &mut Diagnostics<'_>) -> Vec<Exit> {
    let Some(t) = f.table("exits", d) else {
        return Vec::new();
    };
    let table: &dyn TableLike = t.table;
    let mut exits = Vec::new();
    for (name, item) in table.iter() {
        let name_span = t.key_span(name);
        let target_span = item.span().unwrap_or_else(|| name_span.clone());
        match item.as_str() {
            Some(target) => exits.push(Exit {
                name: name.to_owned(),
                target: target.to_owned(),
                name_span,
                target_span,
            }),
            None => d.error(
                target_span,
                format!("exit `{name}` must name a target node (a string)"),
            ),
        }
    }
    exits
}
