//! Validator diagnostics with exact positions, against golden files.

use ivr::cli::validate_cmd;
use ivr::{check_file, Severity};

use crate::{data, golden};

/// `(line, column, severity, message fragment)` for a file.
fn positions(name: &str) -> Vec<(usize, usize, Severity, String)> {
    check_file(&data(name))
        .diagnostics
        .into_iter()
        .map(|d| (d.line, d.column, d.severity, d.message))
        .collect()
}

fn has(
    list: &[(usize, usize, Severity, String)],
    line: usize,
    col: usize,
    sev: Severity,
    frag: &str,
) -> bool {
    list.iter()
        .any(|(l, c, s, m)| *l == line && *c == col && *s == sev && m.contains(frag))
}

#[test]
fn syntax_error_is_positioned() {
    let d = positions("syntax.toml");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].0, d[0].2), (5, Severity::Error));
    assert!(d[0].3.starts_with("TOML syntax"), "{d:?}");
    let (out, code) = validate_cmd(&[data("syntax.toml")]);
    assert_eq!(code, 1);
    golden("syntax.expected", &out);
}

#[test]
fn node_level_errors_all_reported_with_positions() {
    let d = positions("nodes.toml");
    let e = Severity::Error;
    assert!(has(&d, 7, 1, e, "unknown key `timout`"), "{d:#?}");
    assert!(
        has(&d, 8, 11, e, "`timeout` in node `start` must be a duration"),
        "{d:#?}"
    );
    assert!(has(&d, 9, 11, e, "integer from 0 to 10"), "{d:#?}");
    assert!(has(&d, 13, 1, e, "duplicate digit `1`"), "{d:#?}");
    assert!(has(&d, 14, 1, e, "invalid digit map key `12`"), "{d:#?}");
    assert!(has(&d, 15, 1, e, "invalid digit map key `x`"), "{d:#?}");
    assert!(
        has(
            &d,
            21,
            14,
            e,
            "`min_digits` (9) is larger than `max_digits` (4)"
        ),
        "{d:#?}"
    );
    assert!(has(&d, 23, 14, e, "terminator `##`"), "{d:#?}");
    assert!(has(&d, 24, 11, e, "bad regex `[0-9`"), "{d:#?}");
    assert!(
        has(&d, 25, 12, e, "invalid variable name `1acct`"),
        "{d:#?}"
    );
    assert!(has(&d, 31, 27, e, "bad time range `09:00-25:00`"), "{d:#?}");
    assert!(has(&d, 31, 50, e, "bad weekday `mon-fry`"), "{d:#?}");
    assert!(has(&d, 32, 31, e, "invalid date `2026-02-30`"), "{d:#?}");
    assert!(has(&d, 32, 52, e, "`var` needs one comparison"), "{d:#?}");
    assert!(
        has(
            &d,
            32,
            12,
            e,
            "rule exit `closed` is not declared under `exits`"
        ),
        "{d:#?}"
    );
    assert!(has(&d, 33, 42, e, "bad regex `(`"), "{d:#?}");
    assert!(
        has(
            &d,
            35,
            43,
            Severity::Warning,
            "exit `spare` of condition node `condition` is used by no rule"
        ),
        "{d:#?}"
    );
    assert!(
        has(&d, 39, 10, e, "invalid transfer target `phone:123`"),
        "{d:#?}"
    );
    assert!(has(&d, 42, 8, e, "unknown node type `ivr-menu`"), "{d:#?}");
    assert!(
        has(&d, 46, 11, e, "unknown exit `next` for a hangup node"),
        "{d:#?}"
    );
    let (out, code) = validate_cmd(&[data("nodes.toml")]);
    assert_eq!(code, 1);
    golden("nodes.expected", &out);
}

#[test]
fn graph_errors_dead_ends_loops_unreachable_and_variables() {
    let d = positions("graph.toml");
    let e = Severity::Error;
    assert!(
        has(&d, 2, 9, e, "start node `begin` does not exist"),
        "{d:#?}"
    );
    assert!(
        has(
            &d,
            12,
            38,
            e,
            "exit `default` goes to unknown node `nowhere`"
        ),
        "{d:#?}"
    );
    assert!(
        has(&d, 4, 8, e, "infinite loop: nodes start → check"),
        "{d:#?}"
    );
    assert!(
        has(
            &d,
            14,
            8,
            e,
            "dead end: play node `island` has no `next` exit"
        ),
        "{d:#?}"
    );
    assert!(
        has(&d, 20, 7, e, "`url` must be an http:// or https:// URL"),
        "{d:#?}"
    );
    assert!(
        has(
            &d,
            20,
            7,
            e,
            "variable `missing` is used but never assigned"
        ),
        "{d:#?}"
    );
    assert!(
        has(&d, 21, 25, e, "unknown exit `fail` for a http node"),
        "{d:#?}"
    );
    assert!(
        has(
            &d,
            18,
            8,
            e,
            "dead end: http node `http` has no `error` exit"
        ),
        "{d:#?}"
    );
    assert!(
        has(&d, 25, 17, e, "variable `who` is used but never assigned"),
        "{d:#?}"
    );
    assert!(has(&d, 25, 39, e, "unclosed `${`"), "{d:#?}");
    // The start node is missing, so reachability is not judged.
    assert!(!d.iter().any(|x| x.3.contains("unreachable")), "{d:#?}");
    let (out, code) = validate_cmd(&[data("graph.toml")]);
    assert_eq!(code, 1);
    golden("graph.expected", &out);
}

#[test]
fn prompt_files_must_be_8khz_mono_wav() {
    let d = positions("prompts.toml");
    let e = Severity::Error;
    assert_eq!(d.iter().filter(|x| x.2 == e).count(), 4, "{d:#?}");
    assert!(has(&d, 6, 18, e, "prompt `missing`"), "{d:#?}");
    assert!(has(&d, 6, 29, e, "16000 Hz with 1 channel(s)"), "{d:#?}");
    assert!(has(&d, 6, 41, e, "8000 Hz with 2 channel(s)"), "{d:#?}");
    assert!(has(&d, 6, 51, Severity::Warning, "8-bit PCM"), "{d:#?}");
    assert!(has(&d, 6, 63, e, "prompt `text.wav`"), "{d:#?}");
    let (out, code) = validate_cmd(&[data("prompts.toml")]);
    assert_eq!(code, 1);
    golden("prompts.expected", &out);
}

#[test]
fn unreachable_node_is_a_warning_only() {
    let text = std::fs::read_to_string(crate::fixture("voicemail.toml")).expect("fixture");
    let text = format!("{text}\n[nodes.orphan]\ntype = \"hangup\"\n");
    let c = ivr::check_source(crate::fixture("orphan.toml"), text);
    assert_eq!(c.errors(), 0, "{:#?}", c.diagnostics);
    assert_eq!(c.warnings(), 1);
    assert!(c.diagnostics[0]
        .message
        .contains("node `orphan` is unreachable"));
    assert!(c.flow.is_some());
}

#[test]
fn example_flows_are_valid_and_cross_flow_targets_resolve() {
    let (out, code) = validate_cmd(&[crate::fixture("")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("0 error(s), 0 warning(s) in 3 flow(s)\n"),
        "{out}"
    );
    // Alone, main.toml's `flow:` targets are not checked against other files.
    assert_eq!(validate_cmd(&[crate::fixture("main.toml")]).1, 0);
    // With a flow missing from the set, they are.
    let (out, code) = validate_cmd(&[
        crate::fixture("main.toml"),
        crate::fixture("voicemail.toml"),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("main.toml:48:10: error: transfer to unknown flow `account`"),
        "{out}"
    );
    assert!(
        out.contains("main.toml: FAILED (1 error(s), 0 warning(s))"),
        "{out}"
    );
}

#[test]
fn hold_loop_without_input_is_a_warning() {
    let text = "[flow]\nprompts = \"../prompts\"\n[nodes.hold]\ntype = \"play\"\nprompts = [\"connecting\"]\nexits = { next = \"again\" }\n[nodes.again]\ntype = \"set\"\nvars = { n = \"1\" }\nexits = { next = \"hold\" }\n";
    let c = ivr::check_source(crate::fixture("hold.toml"), text);
    assert_eq!(c.errors(), 0, "{:#?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert_eq!((d.line, d.column, d.severity), (3, 8, Severity::Warning));
    assert!(
        d.message
            .contains("nodes hold → again form a loop without any menu"),
        "{}",
        d.message
    );
}

#[test]
fn menu_without_options_is_a_warning() {
    let text = "[flow]\nprompts = \"../prompts\"\n[nodes.m]\ntype = \"menu\"\nprompts = \"main_menu\"\nexits = { default = \"bye\" }\n[nodes.bye]\ntype = \"hangup\"\n";
    let c = ivr::check_source(crate::fixture("m.toml"), text);
    assert_eq!((c.errors(), c.warnings()), (0, 1), "{:#?}", c.diagnostics);
    assert_eq!((c.diagnostics[0].line, c.diagnostics[0].column), (3, 8));
    assert!(c.diagnostics[0]
        .message
        .contains("menu node `m` has no key options"));
}

#[test]
fn unreadable_file_is_an_error_at_1_1() {
    let (out, code) = validate_cmd(&[data("does-not-exist.toml")]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("tests/data/does-not-exist.toml:1:1: error: cannot read file"),
        "{out}"
    );
}
