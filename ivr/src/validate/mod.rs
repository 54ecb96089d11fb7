//! Flow validator: graph and resource checks that need the whole flow.
//!
//! Errors reject the flow; warnings are reported but the flow still runs.
//!
//! | check | severity |
//! |---|---|
//! | start node missing | error |
//! | unknown exit name for the node type, exit to a missing node | error |
//! | missing required exit (dead end), rule exit without an `exits` entry | error |
//! | cycle through `set`/`condition` nodes only (can never wait for input) | error |
//! | prompt file missing, not a WAV, not 8 kHz mono | error |
//! | prompt sample format other than 16-bit PCM | warning |
//! | variable used but assigned nowhere and not built in | error |
//! | node unreachable from the start node | warning |
//! | exit declared but never used by any condition rule | warning |
//! | menu without key options | warning |
//! | loop with prompts/http but no menu, collect or record | warning |

mod graph;
mod prompts;

use std::collections::HashSet;

use crate::diag::Diagnostics;
use crate::interp::BUILTIN_VARS;
use crate::load::Loaded;
use crate::model::{Flow, Node, NodeKind, Test};

pub use prompts::{prompt_info, PromptInfo};

/// Runs every check on a loaded flow.
pub(crate) fn validate(loaded: &Loaded, d: &mut Diagnostics<'_>) {
    let flow = &loaded.flow;
    let exists = |id: &str| flow.node(id).is_some() || loaded.broken.contains(id);
    if !exists(&flow.start) {
        d.error(
            flow.start_span.clone(),
            format!("start node `{}` does not exist", flow.start),
        );
    }
    for node in &flow.nodes {
        check_exits(node, &exists, d);
    }
    graph::check_reachability(flow, &loaded.broken, d);
    graph::check_busy_loops(flow, d);
    prompts::check_prompts(flow, d);
    check_variables(flow, d);
}

fn check_exits(node: &Node, exists: &dyn Fn(&str) -> bool, d: &mut Diagnostics<'_>) {
    let ty = node.node_type();
    let rule_exits: Vec<&str> = match &node.kind {
        NodeKind::Condition(c) => c.rules.iter().map(|r| r.exit.as_str()).collect(),
        _ => Vec::new(),
    };
    for exit in &node.exits {
        let name = exit.name.as_str();
        let known = ty.required_exits().contains(&name)
            || ty.optional_exits().contains(&name)
            || match &node.kind {
                // Digit keys were checked by the loader.
                NodeKind::Menu(_) => true,
                NodeKind::Condition(_) => {
                    if !rule_exits.contains(&name) {
                        d.warning(
                            exit.name_span.clone(),
                            format!(
                                "exit `{name}` of condition node `{}` is used by no rule",
                                node.id
                            ),
                        );
                    }
                    true
                }
                NodeKind::Http(h) => h.exit_var.is_some(),
                _ => false,
            };
        if !known {
            let mut expected: Vec<&str> = ty.required_exits().to_vec();
            expected.extend(ty.optional_exits());
            let list = if expected.is_empty() {
                "none: it ends the flow".to_owned()
            } else {
                expected.join(", ")
            };
            d.error(
                exit.name_span.clone(),
                format!("unknown exit `{name}` for a {ty} node (expected: {list})"),
            );
        }
        if !exists(&exit.target) {
            d.error(
                exit.target_span.clone(),
                format!("exit `{name}` goes to unknown node `{}`", exit.target),
            );
        }
    }
    for req in ty.required_exits() {
        if node.exit(req).is_none() {
            d.error(
                node.span.clone(),
                format!(
                    "dead end: {ty} node `{}` has no `{req}` exit (add it under `exits`)",
                    node.id
                ),
            );
        }
    }
    if let NodeKind::Menu(m) = &node.kind {
        if m.options.is_empty() {
            d.warning(
                node.span.clone(),
                format!(
                    "menu node `{}` has no key options; every attempt ends invalid or timed out",
                    node.id
                ),
            );
        }
    }
    if let NodeKind::Condition(c) = &node.kind {
        for rule in &c.rules {
            if node.exit(&rule.exit).is_none() {
                d.error(
                    rule.exit_span.clone(),
                    format!("rule exit `{}` is not declared under `exits`", rule.exit),
                );
            }
        }
    }
}

fn check_variables(flow: &Flow, d: &mut Diagnostics<'_>) {
    let mut defined: HashSet<&str> = BUILTIN_VARS.iter().copied().collect();
    for node in &flow.nodes {
        match &node.kind {
            NodeKind::Set(s) => defined.extend(s.assignments.iter().map(|(v, _)| v.as_str())),
            NodeKind::Collect(c) => {
                defined.insert(&c.variable);
            }
            NodeKind::Http(h) => defined.extend(h.map.iter().map(|(v, _)| v.as_str())),
            NodeKind::Record(r) => defined.extend(r.variable.as_deref()),
            _ => {}
        }
    }
    let undefined = |v: &str| {
        format!("variable `{v}` is used but never assigned (set, collect, http map or record)")
    };
    for node in &flow.nodes {
        match &node.kind {
            NodeKind::Set(s) => {
                for (_, t) in &s.assignments {
                    for v in t.vars().filter(|v| !defined.contains(v)) {
                        d.error(t.span.clone(), undefined(v));
                    }
                }
            }
            NodeKind::Http(h) => {
                for v in h.url.vars().filter(|v| !defined.contains(v)) {
                    d.error(h.url.span.clone(), undefined(v));
                }
                if let Some(v) = h.exit_var.as_deref().filter(|v| !defined.contains(v)) {
                    d.error(node.span.clone(), undefined(v));
                }
            }
            NodeKind::Condition(c) => {
                for test in c.rules.iter().flat_map(|r| &r.tests) {
                    if let Test::Var { name, span, .. } = test {
                        if !defined.contains(name.as_str()) {
                            d.error(span.clone(), undefined(name));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
