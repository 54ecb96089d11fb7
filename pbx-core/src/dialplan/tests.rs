use super::*;

fn entry(pattern: Pattern, target: Target) -> Entry {
    Entry {
        pattern,
        target,
        condition: Condition::default(),
        caller_id: CallerId::default(),
        recording: None,
    }
}

#[test]
fn exact_prefix_and_regex_with_captures() {
    let plan = Dialplan {
        entries: vec![
            entry(Pattern::Exact("100".into()), Target::User("1001".into())),
            entry(
                Pattern::Regex(Regex::new(r"^0(\d+)$").unwrap()),
                Target::Trunk {
                    trunk: "carrier".into(),
                    number: Some("+49$1".into()),
                    strip: 0,
                },
            ),
            entry(
                Pattern::Prefix("9".into()),
                Target::Trunk {
                    trunk: "local".into(),
                    number: None,
                    strip: 1,
                },
            ),
        ],
        utc_offset_secs: 0,
    };
    assert_eq!(plan.route("100", 0), Some(Route::User("1001".into())));
    assert_eq!(
        plan.route("0301234", 0),
        Some(Route::Trunk {
            trunk: "carrier".into(),
            number: "+49301234".into()
        })
    );
    assert_eq!(
        plan.route("9555", 0),
        Some(Route::Trunk {
            trunk: "local".into(),
            number: "555".into()
        })
    );
    assert_eq!(plan.route("1002", 0), None);
}

#[test]
fn conditions_by_day_and_time() {
    // 2024-01-01 was a Monday; 10:30 UTC.
    let monday_1030 = 1_704_105_000;
    assert_eq!(Weekday::of_unix_secs(monday_1030), Weekday::Mon);
    let office = Condition {
        days: vec![Weekday::Mon, Weekday::Tue],
        time: Some((9 * 60, 17 * 60)),
    };
    assert!(office.holds(monday_1030));
    assert!(!office.holds(monday_1030 + 7 * 3600)); // 17:30
    assert!(!office.holds(monday_1030 + 2 * 86_400)); // Wednesday
    let night = Condition {
        days: vec![],
        time: Some((22 * 60, 6 * 60)),
    };
    assert!(night.holds(monday_1030 - 6 * 3600)); // 04:30
    assert!(!night.holds(monday_1030));
}

#[test]
fn expand_keeps_unknown_dollars() {
    let caps = vec!["0301".to_owned(), "301".to_owned()];
    assert_eq!(expand("+49$1", &caps), "+49301");
    assert_eq!(expand("$x$", &caps), "$x$");
    assert_eq!(expand("$5", &caps), "");
}

#[test]
fn caller_id_templates_expand_with_the_captures() {
    let mut sales = entry(
        Pattern::Regex(Regex::new(r"^7(\d)(\d+)$").unwrap()),
        Target::User("$2".into()),
    );
    sales.caller_id = CallerId {
        number: Some("+4930123$1".into()),
        name: Some("Sales $1".into()),
        privacy: false,
    };
    let mut hidden = entry(Pattern::Prefix("*31".into()), Target::User("1002".into()));
    hidden.caller_id.privacy = true;
    let mut desk = entry(Pattern::Exact("1003".into()), Target::User("1003".into()));
    desk.caller_id.number = Some("$0".into());
    let plan = Dialplan {
        entries: vec![sales, hidden, desk],
        utc_offset_secs: 0,
    };
    let r = plan.lookup("741002", 0).unwrap();
    assert_eq!(r.route, Route::User("1002".into()));
    assert_eq!(
        r.caller_id,
        CallerId {
            number: Some("+49301234".into()),
            name: Some("Sales 4".into()),
            privacy: false,
        }
    );
    let r = plan.lookup("*311002", 0).unwrap();
    assert!(r.caller_id.privacy && r.caller_id.number.is_none());
    assert!(!r.caller_id.is_unchanged());
    assert_eq!(
        plan.lookup("1003", 0).unwrap().caller_id.number.as_deref(),
        Some("1003")
    );
    assert_eq!(plan.route("741002", 0), Some(Route::User("1002".into())));
}

#[test]
fn prefix_user_routes_default_to_the_dialed_number() {
    let raw = "[[dialplan]]\nprefix = \"10\"\ntype = \"user\"\n";
    let c = crate::config::Config::from_str_named(raw, "x.toml").unwrap();
    assert_eq!(
        c.dialplan.route("1002", 0),
        Some(Route::User("1002".into()))
    );
}

#[test]
fn caller_id_values_are_checked_with_positions() {
    let check = |extra: &str| {
        let text = format!("[[dialplan]]\nregex = \"^7(\\\\d+)$\"\ntype = \"user\"\n{extra}\n");
        crate::config::Config::from_str_named(&text, "x.toml")
    };
    let ok =
        check("caller_id_number = \"+49$1\"\ncaller_id_name = \"Sales\"\nprivacy = true").unwrap();
    let e = &ok.dialplan.entries[0];
    assert_eq!(e.caller_id.number.as_deref(), Some("+49$1"));
    assert!(e.caller_id.privacy);
    for (extra, column, words) in [
        ("caller_id_number = \"+49$2\"", 20, "1 capture group"),
        ("caller_id_number = \"49 30\"", 20, "not ' '"),
        ("caller_id_number = \"\"", 20, "caller_id_number must be"),
        ("caller_id_number = \"1$\"", 20, "followed by a digit"),
        ("caller_id_name = \"Bob \\\"B\\\"\"", 18, "without quotes"),
        ("caller_id_name = \"   \"", 18, "1 to 64"),
    ] {
        let err = check(extra).unwrap_err();
        assert_eq!((err.line, err.column), (4, column), "{extra}: {err}");
        assert!(err.message.contains(words), "{extra}: {err}");
    }
    let err = check("privacy = \"yes\"").unwrap_err();
    assert_eq!(err.line, 4, "{err}");
}
