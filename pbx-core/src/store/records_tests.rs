use super::*;
use crate::store::synthetic::{self, generate, SyntheticSpec};

fn store_with(n: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("pbx.sqlite")).unwrap();
    let spec = SyntheticSpec {
        records: n,
        agents: 5,
        customers: 50,
        ..SyntheticSpec::default()
    };
    generate(&mut store, &spec, |_| {}).unwrap();
    (dir, store)
}

fn all(store: &Store, f: &RecordFilter) -> Vec<RecordSummary> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.query_records(f, after.as_ref(), 37).unwrap();
        out.extend(page.records);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

#[test]
fn the_sql_outcome_filter_agrees_with_the_derived_outcome() {
    let (_d, store) = store_with(600);
    let every = all(&store, &RecordFilter::default());
    assert_eq!(every.len(), 600);
    let mut seen = 0;
    for o in Outcome::ALL {
        let by_sql = all(
            &store,
            &RecordFilter {
                outcome: Some(o),
                ..RecordFilter::default()
            },
        );
        let derived: Vec<&RecordSummary> = every.iter().filter(|r| r.outcome == o).collect();
        assert_eq!(by_sql.len(), derived.len(), "{o:?}");
        assert!(by_sql.iter().all(|r| r.outcome == o), "{o:?}");
        seen += by_sql.len();
    }
    assert_eq!(seen, 600, "every record has exactly one outcome");
    for o in Outcome::ALL {
        assert_eq!(Outcome::parse(o.as_str()), Some(o));
    }
}

#[test]
fn pages_cover_every_record_once_newest_first() {
    let (_d, store) = store_with(250);
    let every = all(&store, &RecordFilter::default());
    assert_eq!(every.len(), 250);
    assert!(every.windows(2).all(|w| w[0].ring_at_ms >= w[1].ring_at_ms));
    let mut ids: Vec<&str> = every.iter().map(|r| r.call_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 250);
    let first = store
        .query_records(&RecordFilter::default(), None, 10)
        .unwrap();
    assert_eq!(first.records.len(), 10);
    let c = first.next.unwrap();
    assert_eq!(RecordCursor::decode(&c.encode()), Some(c.clone()));
    for bad in ["", "x", "12", "12.", "a.c1", "1.c1;DROP"] {
        assert_eq!(RecordCursor::decode(bad), None, "{bad}");
    }
}

#[test]
fn each_filter_selects_what_it_names() {
    let (_d, mut store) = store_with(400);
    let every = all(&store, &RecordFilter::default());
    let check = |store: &Store, f: RecordFilter, keep: &dyn Fn(&RecordSummary) -> bool| {
        let got: Vec<String> = all(store, &f).into_iter().map(|r| r.call_id).collect();
        let want: Vec<String> = every
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.call_id.clone())
            .collect();
        assert!(!want.is_empty(), "{f:?} selects something");
        assert_eq!(got, want, "{f:?}");
    };
    let mid = every[200].ring_at_ms;
    check(
        &store,
        RecordFilter {
            from_ms: Some(mid),
            to_ms: Some(mid + 3_600_000),
            ..RecordFilter::default()
        },
        &|r| r.ring_at_ms >= mid && r.ring_at_ms < mid + 3_600_000,
    );
    check(
        &store,
        RecordFilter {
            direction: Some("outbound".into()),
            ..RecordFilter::default()
        },
        &|r| r.direction == "outbound",
    );
    let number = every
        .iter()
        .find(|r| r.direction == "inbound")
        .unwrap()
        .caller
        .clone();
    check(
        &store,
        RecordFilter {
            caller: Some(number.clone()),
            ..RecordFilter::default()
        },
        &|r| r.caller == number,
    );
    check(
        &store,
        RecordFilter {
            caller: Some(format!("+86{number}")),
            ..RecordFilter::default()
        },
        &|r| r.caller == number,
    );
    check(
        &store,
        RecordFilter {
            callee: Some(number.clone()),
            ..RecordFilter::default()
        },
        &|r| r.callee == number,
    );
    check(
        &store,
        RecordFilter {
            service_number: Some(synthetic::SERVICE_NUMBERS[1].into()),
            ..RecordFilter::default()
        },
        &|r| r.service_number.as_deref() == Some(synthetic::SERVICE_NUMBERS[1]),
    );
    check(
        &store,
        RecordFilter {
            skill_group: Some("support".into()),
            ..RecordFilter::default()
        },
        &|r| r.skill_groups.iter().any(|g| g == "support"),
    );
    check(
        &store,
        RecordFilter {
            agent: Some("1003".into()),
            ..RecordFilter::default()
        },
        &|r| r.agent_id.as_deref() == Some("1003") || r.caller == "1003" || r.callee == "1003",
    );
    check(
        &store,
        RecordFilter {
            has_recording: Some(true),
            ..RecordFilter::default()
        },
        &|r| r.recording_state.is_some(),
    );
    check(
        &store,
        RecordFilter {
            has_recording: Some(false),
            ..RecordFilter::default()
        },
        &|r| r.recording_state.is_none(),
    );
    check(
        &store,
        RecordFilter {
            min_duration_s: Some(60),
            max_duration_s: Some(300),
            ..RecordFilter::default()
        },
        &|r| (60..=300).contains(&r.duration_s),
    );
    let tagged = [every[3].call_id.clone(), every[9].call_id.clone()];
    for id in &tagged {
        store
            .change_tags(id, &["complaint".into(), "vip".into()], &[], 1)
            .unwrap();
    }
    store
        .change_tags(&tagged[1], &[], &["vip".into()], 2)
        .unwrap();
    check(
        &store,
        RecordFilter {
            tag: Some("complaint".into()),
            ..RecordFilter::default()
        },
        &|r| tagged.contains(&r.call_id),
    );
    let vip = all(
        &store,
        &RecordFilter {
            tag: Some("vip".into()),
            ..RecordFilter::default()
        },
    );
    assert_eq!(vip.len(), 1);
    assert_eq!(vip[0].tags, vec!["complaint".to_owned(), "vip".to_owned()]);
    assert_eq!(store.count_records(&RecordFilter::default()).unwrap(), 400);
}

#[test]
fn a_queued_call_has_its_group_agent_and_wait() {
    let (_d, store) = store_with(50);
    let every = all(&store, &RecordFilter::default());
    let answered = every
        .iter()
        .find(|r| r.direction == "inbound" && r.outcome == Outcome::Answered)
        .unwrap();
    assert!(answered.agent_id.is_some());
    assert_eq!(
        answered.entry_skill_group,
        answered.skill_groups.first().cloned()
    );
    assert!(answered.queue_enter_at_ms.unwrap() > answered.ring_at_ms);
    assert!(answered.queue_wait_s.is_some());
    let one = store.record(&answered.call_id).unwrap().unwrap();
    assert_eq!(&one, answered);
    assert_eq!(store.record("c00000000000fffff").unwrap(), None);
    assert!(store.record_exists(&answered.call_id).unwrap());
}

#[test]
fn the_filters_use_indexes() {
    let (_d, store) = store_with(10);
    for (f, index) in [
        (
            RecordFilter {
                caller: Some("1".into()),
                ..RecordFilter::default()
            },
            "cdr_caller",
        ),
        (
            RecordFilter {
                skill_group: Some("sales".into()),
                ..RecordFilter::default()
            },
            "queue_events_queue_kind",
        ),
        (
            RecordFilter {
                service_number: Some("1".into()),
                ..RecordFilter::default()
            },
            "cdr_did",
        ),
    ] {
        let (w, args) = where_clause(&f);
        let plan: Vec<String> = store
            .conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT call_id FROM cdr{w} ORDER BY start_ms DESC LIMIT 10"
            ))
            .unwrap()
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|p| p.contains(index)),
            "{f:?} uses {index}: {plan:?}"
        );
    }
}
