//! Graph checks: reachability from the start node and loops that never wait.

use std::collections::HashSet;

use crate::diag::Diagnostics;
use crate::model::{Flow, NodeType};

/// Warns about nodes no path from the start reaches.
pub(super) fn check_reachability(flow: &Flow, broken: &HashSet<String>, d: &mut Diagnostics<'_>) {
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack: Vec<usize> = flow.node_index(&flow.start).into_iter().collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        for exit in &flow.nodes[i].exits {
            if let Some(j) = flow.node_index(&exit.target) {
                stack.push(j);
            }
        }
    }
    // With a broken node the graph is incomplete: skip rather than guess.
    if flow.node_index(&flow.start).is_none() || !broken.is_empty() {
        return;
    }
    for (node, seen) in flow.nodes.iter().zip(seen) {
        if !seen {
            d.warning(
                node.span.clone(),
                format!(
                    "node `{}` is unreachable from start node `{}`",
                    node.id, flow.start
                ),
            );
        }
    }
}

/// Cycles (strongly connected components with a loop) of the subgraph of
/// nodes for which `keep` holds, each sorted by node index.
fn cycles(flow: &Flow, keep: impl Fn(NodeType) -> bool) -> Vec<Vec<usize>> {
    let kept: Vec<bool> = flow.nodes.iter().map(|x| keep(x.node_type())).collect();
    let succ: Vec<Vec<usize>> = flow
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            if !kept[i] {
                return Vec::new();
            }
            node.exits
                .iter()
                .filter_map(|e| flow.node_index(&e.target))
                .filter(|&j| kept[j])
                .collect()
        })
        .collect();
    let mut out: Vec<Vec<usize>> = tarjan(flow.nodes.len(), &succ)
        .into_iter()
        .filter(|c| c.len() > 1 || c.first().is_some_and(|&i| succ[i].contains(&i)))
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect();
    out.sort();
    out
}

fn names(flow: &Flow, comp: &[usize]) -> String {
    comp.iter()
        .map(|&i| flow.nodes[i].id.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Errors on cycles made only of nodes that never wait (`set`, `condition`):
/// a call entering one would spin forever. Warns about cycles that wait
/// (prompts, http) but never take input (`menu`, `collect`, `record`): the
/// caller can only leave them by hanging up, which is right for a hold loop
/// and wrong almost everywhere else.
pub(super) fn check_busy_loops(flow: &Flow, d: &mut Diagnostics<'_>) {
    for comp in cycles(flow, |t| !t.waits()) {
        d.error(
            flow.nodes[comp[0]].span.clone(),
            format!(
                "infinite loop: nodes {} form a cycle that never waits for input or media",
                names(flow, &comp)
            ),
        );
    }
    let input = |t: NodeType| matches!(t, NodeType::Menu | NodeType::Collect | NodeType::Record);
    for comp in cycles(flow, |t| !input(t)) {
        if comp.iter().all(|&i| !flow.nodes[i].node_type().waits()) {
            continue; // already an error above
        }
        d.warning(
            flow.nodes[comp[0]].span.clone(),
            format!(
                "nodes {} form a loop without any menu, collect or record: the caller can only leave it by hanging up",
                names(flow, &comp)
            ),
        );
    }
}

/// Iterative Tarjan SCC (no recursion, so huge flows cannot overflow the stack).
fn tarjan(n: usize, succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succ[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tarjan;

    #[test]
    fn finds_cycles() {
        let succ = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        let mut comps: Vec<Vec<usize>> = tarjan(5, &succ)
            .into_iter()
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        comps.sort();
        assert_eq!(comps, vec![vec![0, 1, 2], vec![3], vec![4]]);
    }
}
