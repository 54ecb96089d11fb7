use super::*;

fn entry(pattern: Pattern, target: Target) -> Entry {
    Entry {
        pattern,
        target,
        condition: Condition::default(),
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
