//! Renderer output on the example flows.

use std::sync::Arc;

use ivr::{load_flow, render, RenderFormat};

use crate::{fixture, golden};

fn main_flow() -> Arc<ivr::Flow> {
    Arc::new(load_flow(&fixture("main.toml")).expect("valid fixture"))
}

#[test]
fn dot_has_every_node_and_exit() {
    let flow = main_flow();
    let dot = render(&flow, RenderFormat::Dot);
    assert!(dot.starts_with("digraph \"main\" {\n") && dot.ends_with("}\n"));
    let exits: usize = flow.nodes.iter().map(|n| n.exits.len()).sum();
    assert_eq!(dot.matches(" -> ").count(), exits + 1);
    for node in &flow.nodes {
        assert!(
            dot.contains(&format!("  \"{}\" [shape=", node.id)),
            "{}",
            node.id
        );
    }
    assert!(dot.contains("\"menu\" -> \"operator\" [label=\"0|*\"];"));
    golden("main.dot", &dot);
}

#[test]
fn mermaid_has_every_node_and_exit() {
    let flow = main_flow();
    let mmd = render(&flow, RenderFormat::Mermaid);
    assert!(mmd.starts_with("flowchart TD\n"));
    let exits: usize = flow.nodes.iter().map(|n| n.exits.len()).sum();
    assert_eq!(mmd.matches(" -->").count(), exits + 1);
    // `|` inside an edge label must be escaped for Mermaid.
    assert!(mmd.contains("n_menu -->|\"0#124;*\"| n_operator"), "{mmd}");
    assert!(
        mmd.contains("n_hours{\"Business hours<br/><i>condition</i><br/>3 rule(s)\"}"),
        "{mmd}"
    );
    golden("main.mmd", &mmd);
}

#[test]
fn render_cmd_reports_format_and_flow_errors() {
    let (out, code) = ivr::cli::render_cmd(&fixture("voicemail.toml"), "svg");
    assert_eq!(
        (code, out.as_str()),
        (2, "unknown format `svg` (expected dot or mermaid)\n")
    );
    let (out, code) = ivr::cli::render_cmd(&crate::data("graph.toml"), "dot");
    assert_eq!(code, 1);
    assert!(
        out.contains("graph.toml:2:9: error: start node `begin` does not exist"),
        "{out}"
    );
    let (out, code) = ivr::cli::render_cmd(&fixture("voicemail.toml"), "mermaid");
    assert_eq!(code, 0);
    assert!(
        out.contains("n_record[(\"record<br/><i>record</i><br/>max 60s\")]"),
        "{out}"
    );
}
