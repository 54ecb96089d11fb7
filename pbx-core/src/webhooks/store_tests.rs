//! The store's webhook tables and the enricher over a real SQLite file.

use serde_json::json;

use crate::b2bua::cdr::{CallRecord, LegRecord};
use crate::store::{
    AttemptRecord, NewSubscription, OutboxEvent, Store, SubscriptionSource, WebhookEvent,
};
use crate::webhooks::lookup::CustomerMatch;
use crate::webhooks::pop::{Enricher, Planned};
use crate::webhooks::regions::RegionTable;
use crate::webhooks::DEFAULT_REGIONS;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("pbx.sqlite")).unwrap();
    (dir, s)
}

fn sub(name: &str) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        url: "http://127.0.0.1:9/h".into(),
        secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
        events: vec!["*".into()],
        masked: true,
        source: SubscriptionSource::Config,
    }
}

fn wev(id: &str, key: &str, kind: &str, at: u64) -> WebhookEvent {
    WebhookEvent {
        wseq: 0,
        event_id: id.into(),
        source_seq: 1,
        order_key: key.into(),
        kind: kind.into(),
        at_ms: at,
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

#[test]
fn deliveries_are_due_in_order_per_call_and_dead_letters_release_the_call() {
    let (_d, mut s) = store();
    let ids = s.sync_config_subscriptions(&[sub("a")], 1).unwrap();
    let id = ids[0];
    s.append_webhook_events(
        &[
            wev("e1", "c1", "call.created", 10),
            wev("e2", "c2", "call.created", 11),
            wev("e3", "c1", "call.ended", 12),
            wev("e1", "c1", "call.created", 10), // a replayed batch: ignored
        ],
        3,
    )
    .unwrap();
    assert_eq!(s.webhook_enrich_cursor().unwrap(), 3);
    let events = s.webhook_events_after(0, 10).unwrap();
    assert_eq!(events.len(), 3);
    let queued: Vec<(i64, String)> = events
        .iter()
        .map(|e| (e.wseq, e.order_key.clone()))
        .collect();
    s.enqueue_deliveries(id, &queued, events[2].wseq, 100)
        .unwrap();
    // Only each call's head is due: e1 (c1) and e2 (c2), not e3.
    let due: Vec<String> = s
        .due_deliveries(id, 100, 10)
        .unwrap()
        .into_iter()
        .map(|d| d.event.event_id)
        .collect();
    assert_eq!(due, ["e1", "e2"]);
    // e1 fails and waits: c1 is held back, c2 is not.
    let fail = AttemptRecord {
        attempts: 1,
        first_attempt_ms: 100,
        status: Some(500),
        error: None,
    };
    s.schedule_retry(id, events[0].wseq, &fail, 5_000).unwrap();
    let due: Vec<String> = s
        .due_deliveries(id, 200, 10)
        .unwrap()
        .into_iter()
        .map(|d| d.event.event_id)
        .collect();
    assert_eq!(due, ["e2"]);
    s.mark_delivered(id, events[1].wseq, 200).unwrap();
    let due = s.due_deliveries(id, 5_000, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (
            due[0].event.event_id.as_str(),
            due[0].attempts,
            due[0].first_attempt_ms
        ),
        ("e1", 1, Some(100))
    );
    // e1 dies: e3 may go.
    s.dead_letter(id, events[0].wseq, &fail, 6_000).unwrap();
    let due: Vec<String> = s
        .due_deliveries(id, 6_000, 10)
        .unwrap()
        .into_iter()
        .map(|d| d.event.event_id)
        .collect();
    assert_eq!(due, ["e3"]);
    let dead = s.dead_letters(None).unwrap();
    assert_eq!(
        (
            dead.len(),
            dead[0].event.event_id.as_str(),
            dead[0].last_status
        ),
        (1, "e1", Some(500))
    );
    let listed = &s.list_subscriptions().unwrap()[0];
    assert_eq!(
        (listed.pending, listed.dead, listed.delivered, listed.cursor),
        (1, 1, 1, events[2].wseq)
    );

    // Replay since the start: the dead letter and the delivered one are queued again.
    let n = s.replay_since(0, Some(id), |_, _| true, 7_000).unwrap();
    assert_eq!(n, 3);
    assert!(s.dead_letters(None).unwrap().is_empty());
    assert_eq!(s.list_subscriptions().unwrap()[0].pending, 3);
}

#[test]
fn config_subscriptions_are_synced_by_name() {
    let (_d, mut s) = store();
    s.append_webhook_events(&[wev("old", "c0", "call.created", 1)], 1)
        .unwrap();
    let ids = s
        .sync_config_subscriptions(&[sub("a"), sub("b")], 1)
        .unwrap();
    let api = s
        .add_subscription(
            &NewSubscription {
                source: SubscriptionSource::Api,
                ..sub("api")
            },
            2,
        )
        .unwrap();
    let all = s.list_subscriptions().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0].cursor, 1,
        "a new subscription starts at the end of the log"
    );
    s.enqueue_deliveries(ids[1], &[(1, "c0".into())], 1, 5)
        .unwrap();
    // `b` leaves the file, `a` changes its URL: b and its deliveries go, the API one stays.
    let mut a = sub("a");
    a.url = "http://127.0.0.1:10/new".into();
    let again = s.sync_config_subscriptions(&[a], 3).unwrap();
    assert_eq!(again, vec![ids[0]]);
    let all = s.list_subscriptions().unwrap();
    assert_eq!(
        all.iter().map(|x| x.sub.name.as_str()).collect::<Vec<_>>(),
        ["a", "api"]
    );
    assert_eq!(all[0].sub.url, "http://127.0.0.1:10/new");
    assert!(s.due_deliveries(ids[1], 10, 10).unwrap().is_empty());
    assert!(s.remove_subscription(api).unwrap());
    assert!(!s.remove_subscription(api).unwrap());
}

fn outbox(seq: u64, call: &str, kind: &str, at: u64, payload: serde_json::Value) -> OutboxEvent {
    OutboxEvent {
        event_id: format!("evt_{call}_{seq}"),
        call_id: call.into(),
        kind: kind.into(),
        at_ms: at,
        payload,
    }
}

fn record(id: &str, caller: &str, start_ms: u64) -> CallRecord {
    CallRecord {
        call_id: id.into(),
        caller: caller.into(),
        callee: "4008123456".into(),
        direction: "inbound".into(),
        did: Some("4008123456".into()),
        trunk: None,
        caller_e164: None,
        callee_e164: None,
        start_ms,
        ring_ms: Some(start_ms + 100),
        answer_ms: Some(start_ms + 2000),
        end_ms: start_ms + 5000,
        duration_s: 5,
        billsec: 3,
        disposition: "ANSWERED".into(),
        hangup_cause: "call.normal".into(),
        hangup_side: "caller".into(),
        hold_s: 0,
        legs: vec![
            LegRecord {
                leg: 0,
                sip_call_id: "a@x".into(),
                party: format!("sip:{caller}@x"),
                status: 200,
                codec: None,
            },
            LegRecord {
                leg: 1,
                sip_call_id: "b@x".into(),
                party: "sip:1002@y".into(),
                status: 200,
                codec: None,
            },
        ],
    }
}

#[test]
fn a_queue_offer_becomes_the_screen_pop_of_spec_7() {
    let (_d, mut s) = store();
    let day = 86_400_000;
    let now = 1_780_000_000_000;
    s.insert_cdrs(&[record("cprev", "13812345678", now - day)])
        .unwrap();
    let call = "c00000000000000a1";
    s.insert_events(&[
        outbox(1, call, "call.created", now, json!({"caller": "13812345678", "callee": "4008123456"})),
        outbox(2, call, "queue.enter", now + 10, json!({"queue": "support", "call": 161, "kind": {"type": "enter", "number": "13812345678", "service_number": "4008123456", "priority": 0, "position": 1}})),
        outbox(3, call, "queue.offer", now + 20, json!({"queue": "support", "agent": "1002", "call": 161, "kind": {"type": "offer", "offer": 7, "ring_timeout_ms": 15000}})),
        outbox(4, call, "queue.abandon", now + 30, json!({"queue": "support", "call": 161, "kind": {"type": "abandon", "position": 1, "wait_ms": 20}})),
    ]).unwrap();
    let rows = s.events_after(0, None, 10).unwrap();
    // A fresh enricher per row: what a restarted worker sees (state from the store).
    let mut planned = Vec::new();
    for row in &rows {
        planned.extend(
            Enricher::new(RegionTable::parse(DEFAULT_REGIONS, "r").unwrap())
                .plan(&s, row)
                .unwrap(),
        );
    }
    let kinds: Vec<String> = planned
        .iter()
        .map(|p| match p {
            Planned::Ready(e) => e.kind.clone(),
            Planned::Pop(_) => "POP".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "call.created",
            "queue.enter",
            "queue.offer",
            "POP",
            "queue.abandon",
            "call.missed"
        ]
    );
    let Some(Planned::Pop(draft)) = planned.iter().find(|p| matches!(p, Planned::Pop(_))) else {
        unreachable!()
    };
    assert_eq!(draft.lookup.agent.as_deref(), Some("1002"));
    let pop = draft.clone().finish(&CustomerMatch::of(vec!["cu9".into()]));
    assert_eq!(pop.event_id, format!("pop_{call}_7"));
    let body: serde_json::Value = serde_json::from_str(&pop.body).unwrap();
    assert_eq!(body["type"], "call.ringing");
    let d = &body["data"];
    assert_eq!(d["caller"], "13812345678");
    assert_eq!(d["service_number"], "4008123456");
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["caller_region"], "China Beijing (China Mobile)");
    assert_eq!(
        d["skill_group"],
        json!({"id": "support", "name": "support"})
    );
    assert_eq!(d["ring_at"], crate::webhooks::pop::iso8601(now + 20));
    assert_eq!(d["last_call"]["call_id"], "cprev");
    assert_eq!(d["last_call"]["agent"], "1002");
    assert_eq!(d["last_call"]["outcome"], "ANSWERED");
    assert_eq!(
        d["customer_match"],
        json!({"status": "unique", "customer_ids": ["cu9"]})
    );
    assert_eq!(
        d["carried_context"],
        json!({"ticket_ids": [], "from_agent": null, "customer_id": null, "agents": [], "tickets": []})
    );
    assert_eq!(
        d["ticket_flow"],
        serde_json::Value::Null,
        "no flows configured"
    );
    assert_eq!(d["last_ticket"], serde_json::Value::Null);
    assert_eq!(d["ivr_key_path"], json!({"summary": "", "steps": []}));
    let Some(Planned::Ready(missed)) = planned.last() else {
        unreachable!()
    };
    let m: serde_json::Value = serde_json::from_str(&missed.body).unwrap();
    assert_eq!(
        (
            m["data"]["reason"].as_str(),
            m["data"]["skill_group"]["id"].as_str()
        ),
        (Some("abandon"), Some("support"))
    );
}

/// The pops of `rows`, each planned by a fresh enricher when `fresh` (a
/// restarted worker), else by one; finished with a unique match of K7 and
/// the customer's last ticket, as the worker does.
fn pops_of(s: &Store, rows: &[crate::store::StoredEvent], fresh: bool) -> Vec<serde_json::Value> {
    let flows = crate::webhooks::TicketFlows {
        flows: vec!["Consulting".into(), "Complaint".into()],
        ..Default::default()
    };
    let new = || {
        Enricher::new(RegionTable::parse(DEFAULT_REGIONS, "r").unwrap()).with_flows(flows.clone())
    };
    let mut one = new();
    let mut out = Vec::new();
    for row in rows {
        let planned = if fresh {
            new().plan(s, row).unwrap()
        } else {
            one.plan(s, row).unwrap()
        };
        for p in planned {
            if let Planned::Pop(mut d) = p {
                d.set_last_ticket(s.last_ticket_of_customer("K7").unwrap().as_ref());
                let e = d.finish(&CustomerMatch::of(vec!["K7".into()]));
                out.push(
                    serde_json::from_str::<serde_json::Value>(&e.body).unwrap()["data"].clone(),
                );
            }
        }
    }
    out
}

#[test]
fn spec_8_2_two_blind_transfers_carry_the_tickets_of_every_leg() {
    use crate::store::NewCallTicket;
    let (_d, mut s) = store();
    let users: Vec<(String, crate::auth::Credentials)> = ["2002", "2003", "2004"]
        .iter()
        .map(|u| {
            (
                u.to_string(),
                crate::auth::Credentials::from_password(u, "pbx.test", "pw"),
            )
        })
        .collect();
    s.upsert_users("pbx.test", &users, 1).unwrap();
    let now = 1_780_000_000_000;
    let call = "c00000000000000b1";
    let ticket = |id: &str, agent: &str| NewCallTicket {
        ticket_id: id.into(),
        flow: Some("Complaint".into()),
        agent: Some(agent.into()),
        customer_id: Some("K7".into()),
    };
    // A (2002) answers, creates T1, blind-transfers to B (2003); B creates
    // T2 and transfers to C (2004).
    s.insert_events(&[
        outbox(
            1,
            call,
            "call.created",
            now,
            json!({"caller": "13812345678", "callee": "2002"}),
        ),
        outbox(2, call, "call.ringing", now + 10, json!({})),
        outbox(3, call, "call.answered", now + 20, json!({})),
    ])
    .unwrap();
    s.attach_call_ticket(call, &ticket("T1", "2002"), now + 30)
        .unwrap();
    s.insert_events(&[outbox(
        4,
        call,
        "call.transferred",
        now + 40,
        json!({"to": "2003"}),
    )])
    .unwrap();
    s.attach_call_ticket(call, &ticket("T2", "2003"), now + 50)
        .unwrap();
    s.insert_events(&[
        outbox(
            5,
            call,
            "call.transferred",
            now + 60,
            json!({"to": "sip:2004@pbx.test"}),
        ),
        outbox(
            6,
            call,
            "call.transferred",
            now + 70,
            json!({"to": "queue:support"}),
        ),
    ])
    .unwrap();
    let rows = s.events_after(0, None, 10).unwrap();
    for fresh in [false, true] {
        let pops = pops_of(&s, &rows, fresh);
        assert_eq!(
            pops.len(),
            3,
            "A's, B's and C's pops (none for a queue target)"
        );
        let agents: Vec<&str> = pops.iter().map(|p| p["agent"].as_str().unwrap()).collect();
        assert_eq!(agents, ["2002", "2003", "2004"]);
        let c = &pops[2]["carried_context"];
        assert_eq!(c["ticket_ids"], json!(["T1", "T2"]), "fresh={fresh}: {c}");
        assert_eq!(c["from_agent"], "2003");
        assert_eq!(c["customer_id"], "K7");
        assert_eq!(c["agents"], json!(["2002", "2003"]));
        assert_eq!(c["tickets"][0]["agent"], "2002");
        assert_eq!(
            pops[2]["last_ticket"],
            json!({"ticket_no": "T2", "flow": "Complaint", "call_id": call})
        );
        assert_eq!(
            pops[2]["ticket_flow"], "Consulting",
            "no skill group: the first flow"
        );
        // The planned pops read the store as it is now (rows replayed after
        // both tickets): B's pop comes from A.
        assert_eq!(pops[1]["carried_context"]["from_agent"], "2002");
        assert_eq!(
            pops[0]["carried_context"]["from_agent"],
            serde_json::Value::Null
        );
    }
    // The record lists both tickets (every leg of the call is this record).
    assert_eq!(s.annotations(call).unwrap().ticket_ids, ["T1", "T2"]);
}
