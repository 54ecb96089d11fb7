//! Diagram renderers: Graphviz DOT and Mermaid flowcharts of a flow, for the
//! designer (`pbx ivr render`). Output is deterministic (node and exit order
//! follow the file), so it can be diffed and golden-tested.

use std::fmt::Write as _;

use crate::model::{Flow, Node, NodeKind, NodeType};

/// Diagram syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderFormat {
    /// Graphviz `digraph`.
    Dot,
    /// Mermaid `flowchart`.
    Mermaid,
}

impl std::str::FromStr for RenderFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "dot" | "graphviz" => Ok(Self::Dot),
            "mermaid" | "mmd" => Ok(Self::Mermaid),
            other => Err(format!(
                "unknown format `{other}` (expected dot or mermaid)"
            )),
        }
    }
}

/// Renders `flow` in `format`.
pub fn render(flow: &Flow, format: RenderFormat) -> String {
    match format {
        RenderFormat::Dot => dot(flow),
        RenderFormat::Mermaid => mermaid(flow),
    }
}

/// One-line summary of a node's parameters for its label.
fn summary(node: &Node) -> String {
    match &node.kind {
        NodeKind::Play(p) => p
            .prompts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        NodeKind::Menu(m) => format!(
            "{} · {}s × {}",
            m.prompts.first().map_or("", |p| p.name.as_str()),
            m.timeout.as_secs(),
            m.attempts
        ),
        NodeKind::Collect(c) => {
            format!("{} ← {}..{} digits", c.variable, c.min_digits, c.max_digits)
        }
        NodeKind::Condition(c) => format!("{} rule(s)", c.rules.len()),
        NodeKind::Http(h) => format!("POST {}", h.url.raw),
        NodeKind::Set(s) => s
            .assignments
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        NodeKind::Transfer(t) => t.target.to_string(),
        NodeKind::Record(r) => format!("max {}s", r.max_duration.as_secs()),
        NodeKind::Hangup(h) => h.reason.clone().unwrap_or_default(),
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(flow: &Flow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&flow.name));
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    out.push_str("  \"__start\" [shape=point, width=0.15];\n");
    let _ = writeln!(out, "  \"__start\" -> \"{}\";", dot_escape(&flow.start));
    for node in &flow.nodes {
        let shape = match node.node_type() {
            NodeType::Menu | NodeType::Collect => "box, style=\"rounded,bold\"",
            NodeType::Condition => "diamond",
            NodeType::Http => "parallelogram",
            NodeType::Transfer => "house",
            NodeType::Hangup => "octagon",
            NodeType::Record => "cylinder",
            _ => "box",
        };
        let mut label = format!(
            "{}\\n[{}]",
            dot_escape(node.display_name()),
            node.node_type()
        );
        let s = summary(node);
        if !s.is_empty() {
            let _ = write!(label, "\\n{}", dot_escape(&s));
        }
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape}, label=\"{label}\"];",
            dot_escape(&node.id)
        );
    }
    for node in &flow.nodes {
        for exit in &node.exits {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\"];",
                dot_escape(&node.id),
                dot_escape(&exit.target),
                dot_escape(&exit.name)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid ids: node ids are `[A-Za-z0-9_-]`, prefixed so keywords such as
/// `end` cannot clash.
fn mid(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("n_{clean}")
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('|', "#124;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("flowchart TD\n");
    out.push_str("  start((start))\n");
    for node in &flow.nodes {
        let mut label = format!(
            "{}<br/><i>{}</i>",
            mermaid_text(node.display_name()),
            node.node_type()
        );
        let s = summary(node);
        if !s.is_empty() {
            let _ = write!(label, "<br/>{}", mermaid_text(&s));
        }
        let (open, close) = match node.node_type() {
            NodeType::Condition => ("{", "}"),
            NodeType::Http => ("[/", "/]"),
            NodeType::Transfer => ("[[", "]]"),
            NodeType::Hangup => ("((", "))"),
            NodeType::Record => ("[(", ")]"),
            NodeType::Menu | NodeType::Collect => ("(", ")"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "  {}{open}\"{label}\"{close}", mid(&node.id));
    }
    let _ = writeln!(out, "  start --> {}", mid(&flow.start));
    for node in &flow.nodes {
        for exit in &node.exits {
            let _ = writeln!(
                out,
                "  {} -->|\"{}\"| {}",
                mid(&node.id),
                mermaid_text(&exit.name),
                mid(&exit.target)
            );
        }
    }
    out
}
