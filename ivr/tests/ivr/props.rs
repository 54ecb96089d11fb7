//! Property tests: the loader never panics on arbitrary or TOML-ish input,
//! and any flow it accepts runs in the simulator under random input.

use std::sync::Arc;

use ivr::{check_source, simulate, Digit, SimScript};
use proptest::prelude::*;

const PATH: &str = "../fixtures/ivr/prop.toml";

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "type",
        "prompts",
        "exits",
        "next",
        "default",
        "\"1\"",
        "\"2|3\"",
        "ok",
        "fail",
        "error",
        "timeout",
        "rules",
        "time",
        "days",
        "holiday",
        "var",
        "eq",
        "gt",
        "matches",
        "url",
        "map",
        "vars",
        "target",
        "pattern",
        "variable",
        "max_digits",
        "min_digits",
        "terminator",
        "retries",
        "barge_in",
        "exit",
        "start",
        "holidays",
        "exit_var",
    ])
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"play\"",
            "\"menu\"",
            "\"collect\"",
            "\"condition\"",
            "\"http\"",
            "\"set\"",
            "\"transfer\"",
            "\"record\"",
            "\"hangup\"",
            "\"a\"",
            "\"b\"",
            "\"c\"",
            "[\"welcome\"]",
            "[\"main_menu\", \"invalid\"]",
            "\"09:00-18:00\"",
            "\"mon-fri\"",
            "\"[0-9]{4}\"",
            "\"(\"",
            "\"queue:q\"",
            "\"ext:1\"",
            "\"tel:+49\"",
            "\"http://127.0.0.1/${x}\"",
            "{ next = \"a\" }",
            "{ default = \"b\", \"1\" = \"c\" }",
            "[{ exit = \"default\" }]",
            "{ x = \"1\" }",
            "\"#\"",
            "true",
            "3",
            "-1",
            "\"5s\"",
            "[\"2026-12-25\"]",
            "{ ok = \"a\", fail = \"b\", error = \"c\" }",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|i| i.to_string()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(vec!["a", "b", "c", "start"]).prop_map(|id| format!("[nodes.{id}]")),
        1 => prop::sample::select(vec!["a", "b", "c"]).prop_map(|id| format!("[nodes.{id}.exits]")),
        1 => Just("[flow]".to_owned()),
        1 => "[ -~]{0,20}",
    ]
}

fn tomlish() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..24)
        .prop_map(|lines| format!("[flow]\nprompts = \"../prompts\"\n{}\n", lines.join("\n")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let c = check_source(PATH, s);
        // Every diagnostic has a position inside the text (1-based).
        for d in &c.diagnostics {
            prop_assert!(d.line >= 1 && d.column >= 1);
        }
    }

    #[test]
    fn tomlish_never_panics_and_accepted_flows_run(text in tomlish(), keys in "[0-9*#,]{0,12}") {
        let c = check_source(PATH, text);
        prop_assert_eq!(c.flow.is_some(), c.errors() == 0);
        if let Some(flow) = c.flow {
            let script = SimScript { digits: SimScript::parse_digits(&keys).unwrap_or_default(), ..SimScript::default() };
            // Hold loops may legitimately never end; the simulator's limits
            // must still stop them, and every run starts in the start node.
            let start = flow.start.clone();
            let sim = simulate(Arc::new(flow), &script);
            prop_assert_eq!(sim.trajectory.visited().first().copied(), Some(start.as_str()));
        }
    }

    #[test]
    fn digit_char_round_trip(c in any::<char>()) {
        if let Some(d) = Digit::from_char(c) {
            prop_assert_eq!(Digit::from_char(d.as_char()), Some(d));
            prop_assert!(d.as_char().eq_ignore_ascii_case(&c));
        }
    }
}
