//! `/api/v1` against a real server on loopback over a real SQLite store:
//! tokens and scopes, JSON errors, the default "my calls today", every
//! masked output, pagination, saved queries, users administration, the
//! event stream, and schemathesis against the OpenAPI document.

mod crm;
mod harness;
mod schemathesis;

use harness::Api;
use pbx_core::b2bua::cdr::{CallRecord, LegRecord};
use pbx_core::store::synthetic::{generate, SyntheticSpec};
use pbx_core::store::{OutboxEvent, Store};

const DAY: u64 = 86_400_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Today 00:00 UTC (the test tenant is UTC).
fn today() -> u64 {
    now_ms() / DAY * DAY
}

fn record(id: u64, caller: &str, callee: &str, start_ms: u64, direction: &str) -> CallRecord {
    CallRecord {
        call_id: format!("c{id:016x}"),
        caller: caller.into(),
        callee: callee.into(),
        direction: direction.into(),
        did: (direction == "inbound").then(|| "4001000009".into()),
        trunk: None,
        caller_e164: None,
        callee_e164: None,
        start_ms,
        ring_ms: Some(start_ms + 100),
        answer_ms: Some(start_ms + 2000),
        end_ms: start_ms + 62_000,
        duration_s: 62,
        billsec: 60,
        disposition: "ANSWERED".into(),
        hangup_cause: "call.normal".into(),
        hangup_side: "caller".into(),
        hold_s: 0,
        legs: vec![
            LegRecord {
                leg: 0,
                sip_call_id: format!("{id}a@t"),
                party: format!("sip:{caller}@127.0.0.1"),
                status: 200,
                codec: Some("PCMU/8000".into()),
            },
            LegRecord {
                leg: 1,
                sip_call_id: format!("{id}b@t"),
                party: format!("sip:{callee}@127.0.0.1"),
                status: 200,
                codec: Some("PCMU/8000".into()),
            },
        ],
    }
}

/// Hand-made calls of agents 7001 / 7002 (ids from 0x7000_0000) beside
/// 400 synthetic ones of agents 1001–1005 over the last 4 days.
const MINE_TODAY: [u64; 2] = [0x7000_0001, 0x7000_0002];

fn fill(store: &mut Store) {
    let t = today();
    generate(
        store,
        &SyntheticSpec {
            records: 400,
            first_start_ms: t - 3 * DAY,
            spacing_ms: 4 * DAY / 400,
            agents: 5,
            customers: 40,
            ..SyntheticSpec::default()
        },
        |_| {},
    )
    .unwrap();
    store
        .insert_cdrs(&[
            // 7001 calls a customer today
            record(MINE_TODAY[0], "7001", "13812345678", t + 60_000, "outbound"),
            // a customer reaches 7001 through the sales queue today
            record(MINE_TODAY[1], "13912345678", "600", t + 120_000, "inbound"),
            // 7001 yesterday
            record(
                0x7000_0003,
                "7001",
                "13812345678",
                t - DAY + 60_000,
                "outbound",
            ),
            // 7002 today
            record(0x7000_0004, "7002", "13812345678", t + 180_000, "outbound"),
        ])
        .unwrap();
    let call = acd::CallId(MINE_TODAY[1]);
    let ev = |seq, at, agent: Option<&str>, kind| acd::QueueEvent {
        seq,
        at_unix_ms: at,
        call: Some(call),
        queue: Some(acd::QueueId::from("sales")),
        agent: agent.map(acd::AgentId::from),
        kind,
    };
    store
        .insert_queue_events(&[
            ev(
                1,
                t + 121_000,
                None,
                acd::EventKind::Enter {
                    number: "13912345678".into(),
                    service_number: Some("4001000009".into()),
                    priority: 0,
                    position: 1,
                },
            ),
            ev(
                2,
                t + 125_000,
                Some("7001"),
                acd::EventKind::Connect {
                    offer: acd::OfferId(1),
                    wait_ms: 4000,
                    ring_ms: 2000,
                },
            ),
        ])
        .unwrap();
    store
        .insert_events(&[OutboxEvent {
            event_id: "evt_1".into(),
            call_id: format!("c{:016x}", MINE_TODAY[1]),
            kind: "call.ringing".into(),
            at_ms: t + 121_000,
            payload: serde_json::json!({ "caller": "13912345678", "agent": "7001", "service_number": "4001000009" }),
        }])
        .unwrap();
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["call_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_scopes_and_json_errors() {
    let api = Api::start(fill).await;
    let read = api.token("reader", "read", None);
    // no token, a wrong one, a revoked one: 401
    api.req("GET", "/records", None, None)
        .await
        .error(401, "unauthorized");
    api.get("/records", "pbx_00")
        .await
        .error(401, "unauthorized");
    api.get("/records", "Bearer-ish")
        .await
        .error(401, "unauthorized");
    let gone = api.token("gone", "read", None);
    assert_eq!(api.get("/records", &gone).await.status, 200);
    assert!(api.store().revoke_token("gone", 2).unwrap());
    api.get("/records", &gone).await.error(401, "unauthorized");
    // a scope the token lacks: 403 with a JSON body
    let r = api
        .req(
            "POST",
            &format!("/records/c{:016x}/notes", MINE_TODAY[0]),
            Some(&read),
            Some(serde_json::json!({"text": "x"})),
        )
        .await;
    r.error(403, "forbidden");
    assert!(r.json()["message"].as_str().unwrap().contains("calls"));
    api.get("/users", &read).await.error(403, "forbidden");
    api.get("/tokens", &read).await.error(403, "forbidden");
    api.req(
        "PUT",
        &format!("/records/c{:016x}/qa", MINE_TODAY[0]),
        Some(&read),
        Some(serde_json::json!({"score": 5})),
    )
    .await
    .error(403, "forbidden");
    api.req(
        "POST",
        "/agents/7001/state",
        Some(&read),
        Some(serde_json::json!({"state": "login"})),
    )
    .await
    .error(403, "forbidden");
    api.req(
        "POST",
        "/calls",
        Some(&read),
        Some(serde_json::json!({"number": "1"})),
    )
    .await
    .error(403, "forbidden");
    // the admin token keeps working, with every scope
    assert_eq!(api.get("/users", &api.admin).await.status, 200);
    assert_eq!(api.get("/tokens", &api.admin).await.status, 200);
    // JSON errors everywhere
    api.get("/nope", &read).await.error(404, "not_found");
    api.req("DELETE", "/records", Some(&read), None)
        .await
        .error(405, "method_not_allowed");
    api.get("/records?limit=0", &read)
        .await
        .error(400, "bad_request");
    api.get("/records?limit=x", &read)
        .await
        .error(400, "bad_request");
    api.get("/records?outcome=great", &read)
        .await
        .error(400, "bad_request");
    api.get("/records?cursor=zzz", &read)
        .await
        .error(400, "bad_request");
    api.get("/records/c0000000000000bad", &read)
        .await
        .error(404, "not_found");
    let note = format!("/records/c{:016x}/notes", MINE_TODAY[0]);
    api.req(
        "POST",
        &note,
        Some(&api.admin),
        Some(serde_json::json!({"txt": 1})),
    )
    .await
    .error(422, "unprocessable");
    let r = api.req("POST", &note, Some(&api.admin), None).await;
    r.error(400, "bad_request");
    // tokens over the API: created once, then usable
    let r = api
        .req(
            "POST",
            "/tokens",
            Some(&api.admin),
            Some(serde_json::json!({"name": "crm", "scopes": ["read", "numbers"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/records?scope=all", &secret).await.status, 200);
    api.req(
        "POST",
        "/tokens",
        Some(&api.admin),
        Some(serde_json::json!({"name": "crm", "scopes": ["read"]})),
    )
    .await
    .error(409, "conflict");
    api.req(
        "POST",
        "/tokens",
        Some(&api.admin),
        Some(serde_json::json!({"name": "x", "scopes": ["root"]})),
    )
    .await
    .error(422, "unprocessable");
    assert_eq!(
        api.req("DELETE", "/tokens/crm", Some(&api.admin), None)
            .await
            .status,
        204
    );
    api.get("/records", &secret)
        .await
        .error(401, "unauthorized");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_is_my_calls_today_and_saved_queries_reapply_their_filters() {
    let api = Api::start(fill).await;
    let agent = api.token("agent7001", "read,calls", Some("7001"));
    // no filter: exactly 7001's calls of today (its own outbound call and the
    // queue call connected to it), not yesterday's, not 7002's
    let r = api.get("/records", &agent).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut want: Vec<String> = MINE_TODAY.iter().map(|i| format!("c{i:016x}")).collect();
    want.reverse(); // newest first
    assert_eq!(ids(&r.json()), want);
    let queued = &r.json()["items"][0];
    assert_eq!(queued["agent_id"], "7001");
    assert_eq!(queued["entry_skill_group"], "sales");
    assert_eq!(queued["outcome"], "answered");
    assert_eq!(queued["queue_wait_s"], 4);
    // the agent filter is not the agent's to lift
    api.get("/records?agent=7002", &agent)
        .await
        .error(403, "forbidden");
    api.get("/records?scope=all", &agent)
        .await
        .error(403, "forbidden");
    // an explicit window reaches yesterday
    let r = api
        .get(
            &format!("/records?from_ms={}&to_ms={}", today() - DAY, today() + DAY),
            &agent,
        )
        .await;
    assert_eq!(ids(&r.json()).len(), 3);
    // a saved query re-applies identical filters
    let filter = serde_json::json!({
        "from_ms": today() - 3 * DAY, "to_ms": today() + DAY, "direction": "inbound",
        "outcome": "answered", "skill_group": "sales", "min_duration_s": 10
    });
    let admin = api.token("supervisor", "read,admin", None);
    let r = api
        .req(
            "POST",
            "/saved-queries",
            Some(&admin),
            Some(serde_json::json!({"name": "sales answered", "filter": filter})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let saved = r.json();
    assert_eq!(saved["filter"]["skill_group"], "sales");
    let id = saved["id"].as_i64().unwrap();
    let direct = format!(
        "/records?from_ms={}&to_ms={}&direction=inbound&outcome=answered&skill_group=sales&min_duration_s=10&limit=500",
        today() - 3 * DAY,
        today() + DAY
    );
    let a = api.get(&direct, &admin).await.json();
    let b = api
        .get(&format!("/saved-queries/{id}/records?limit=500"), &admin)
        .await
        .json();
    assert!(ids(&a).len() > 5, "{}", ids(&a).len());
    assert_eq!(ids(&a), ids(&b));
    for r in a["items"].as_array().unwrap() {
        assert_eq!(r["direction"], "inbound");
        assert_eq!(r["outcome"], "answered");
        assert!(r["skill_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "sales"));
        assert!(r["duration_s"].as_u64().unwrap() >= 10);
    }
    let list = api.get("/saved-queries", &admin).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/saved-queries", &agent).await.json()["items"],
        serde_json::json!([]),
        "per owner"
    );
    api.get(&format!("/saved-queries/{id}/records"), &agent)
        .await
        .error(404, "not_found");
    assert_eq!(
        api.req(
            "DELETE",
            &format!("/saved-queries/{id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cover_everything_once() {
    let api = Api::start(fill).await;
    let admin = api.token("pager", "read,admin", None);
    let window = format!("from_ms={}&to_ms={}", today() - 4 * DAY, today() + DAY);
    let mut seen = Vec::new();
    let mut path = format!("/records?{window}&limit=37");
    let mut pages = 0;
    loop {
        let v = api.get(&path, &admin).await.json();
        let page = ids(&v);
        assert!(page.len() <= 37);
        seen.extend(page);
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/records?{window}&limit=37&cursor={c}"),
            None => break,
        }
        assert!(pages < 100, "bounded");
    }
    assert_eq!(seen.len(), 404);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 404, "no record twice");
    // default page size 10
    assert_eq!(
        ids(&api.get(&format!("/records?{window}"), &admin).await.json()).len(),
        10
    );
    // users: page/limit, default 10, with the total
    let u = api.get("/users", &admin).await.json();
    assert_eq!(u["limit"], 10);
    assert_eq!(u["total"], 7);
    assert_eq!(u["items"].as_array().unwrap().len(), 7);
    let p2 = api.get("/users?page=2&limit=5", &admin).await.json();
    let names: Vec<&str> = p2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["7001", "7002"]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_masked_in_every_output_without_the_numbers_scope() {
    let api = Api::start(fill).await;
    let masked = api.token("masked", "read,calls,admin", None);
    let full = api.token("full", "read,calls,admin,numbers", None);
    let window = format!(
        "from_ms={}&to_ms={}&limit=500",
        today() - 4 * DAY,
        today() + DAY
    );
    let id = format!("c{:016x}", MINE_TODAY[1]);
    // list
    let m = api.get(&format!("/records?{window}"), &masked).await.json();
    let f = api.get(&format!("/records?{window}"), &full).await.json();
    let pick = |v: &serde_json::Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["call_id"] == id.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(pick(&f)["caller"], "13912345678");
    assert_eq!(pick(&m)["caller"], "139****5678");
    assert_eq!(pick(&m)["service_number"], "400****009");
    for r in m["items"].as_array().unwrap() {
        for k in ["caller", "callee"] {
            // 4+ digits: the middle four hidden; ≤ 4 digits: all of them
            let v = r[k].as_str().unwrap();
            assert!(
                v.contains("****") || (v.len() <= 4 && v.bytes().all(|b| b == b'*')),
                "{k}: {r}"
            );
        }
    }
    // details: record, legs, queue events
    let d = api.get(&format!("/records/{id}"), &masked).await;
    assert!(!d.body.contains("13912345678"), "{}", d.body);
    assert!(!d.body.contains("4001000009"), "{}", d.body);
    let d = d.json();
    assert_eq!(d["legs"][0]["party"], "sip:139****5678@127.0.0.1");
    assert_eq!(d["queue_events"][0]["kind"]["number"], "139****5678");
    let d = api.get(&format!("/records/{id}"), &full).await;
    assert!(d.body.contains("13912345678"));
    // export
    let e = api.get(&format!("/records/export?{window}"), &masked).await;
    assert_eq!(e.status, 200);
    assert!(e.content_type.starts_with("text/csv"));
    assert_eq!(e.body.lines().count(), 405, "header + every record");
    assert!(!e.body.contains("13912345678") && e.body.contains("139****5678"));
    assert!(api
        .get(&format!("/records/export?{window}"), &full)
        .await
        .body
        .contains("13912345678"));
    // missed calls and repeat callers (synthetic customers 138000000NN)
    let missed = api.get("/missed?days=7", &masked).await.json();
    let rows = missed["items"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r["caller"].as_str().unwrap().contains("****")));
    let rep = api.get("/repeat-callers?days=3", &masked).await.json();
    let rows = rep["items"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r["number"].as_str().unwrap().contains("****")));
    let rep = api.get("/repeat-callers?days=3", &full).await.json();
    assert!(rep["items"][0]["number"]
        .as_str()
        .unwrap()
        .starts_with("138000000"));
    // the event stream
    let ev = api.sse("/events?after=0", &masked, None, 1).await;
    assert_eq!(ev[0].2["payload"]["caller"], "139****5678");
    let ev = api.sse("/events?after=0", &full, None, 1).await;
    assert_eq!(ev[0].2["payload"]["caller"], "13912345678");
    // a masked number cannot be dialed
    api.req(
        "POST",
        "/calls",
        Some(&masked),
        Some(serde_json::json!({"number": "139****5678", "agent": "7001"})),
    )
    .await
    .error(422, "masked_number");
    // an unmasked one passes every check and reaches the engine, which
    // places calls only with the media relay (off in this server)
    api.req(
        "POST",
        "/calls",
        Some(&full),
        Some(serde_json::json!({"number": "13912345678", "agent": "7001"})),
    )
    .await
    .error(503, "unavailable");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_users_agents_and_the_resumable_stream() {
    let api = Api::start(fill).await;
    let agent = api.token("a7001", "read,calls,agents,numbers", Some("7001"));
    let id = format!("c{:016x}", MINE_TODAY[0]);
    let r = api
        .req(
            "POST",
            &format!("/records/{id}/notes"),
            Some(&agent),
            Some(serde_json::json!({"text": "called back"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api
        .req(
            "POST",
            &format!("/records/{id}/tags"),
            Some(&agent),
            Some(serde_json::json!({"add": ["complaint", "vip"]})),
        )
        .await;
    assert_eq!(r.json()["tags"], serde_json::json!(["complaint", "vip"]));
    let r = api
        .req(
            "PUT",
            &format!("/records/{id}/supplement"),
            Some(&agent),
            Some(serde_json::json!({"customer_id": "cu-9", "ticket_ids": ["T-1", "T-2"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    api.req(
        "PUT",
        &format!("/records/{id}/qa"),
        Some(&agent),
        Some(serde_json::json!({"score": 80})),
    )
    .await
    .error(403, "forbidden");
    let r = api
        .req(
            "PUT",
            &format!("/records/{id}/qa"),
            Some(&api.admin),
            Some(serde_json::json!({"score": 80})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = api.get(&format!("/records/{id}"), &agent).await.json();
    assert_eq!(d["notes"][0]["text"], "called back");
    assert_eq!(d["notes"][0]["author"], "7001");
    assert_eq!(d["qa_score"], 80);
    assert_eq!(d["customer_id"], "cu-9");
    assert_eq!(d["ticket_ids"], serde_json::json!(["T-1", "T-2"]));
    let tagged = api.get("/records?tag=vip", &agent).await.json();
    assert_eq!(ids(&tagged), std::slice::from_ref(&id));
    // another agent's record is not visible to 7001
    api.get(&format!("/records/c{:016x}", 0x7000_0004u64), &agent)
        .await
        .error(404, "not_found");
    // users: update, batch, disable, reset password, export
    let r = api
        .req(
            "PATCH",
            "/users/7001",
            Some(&api.admin),
            Some(serde_json::json!({"display_name": "Ann", "role": "team_leader"})),
        )
        .await;
    assert_eq!(r.json()["display_name"], "Ann");
    api.req(
        "PATCH",
        "/users/7001",
        Some(&api.admin),
        Some(serde_json::json!({"role": "king"})),
    )
    .await
    .error(422, "unprocessable");
    let r = api.req("POST", "/users/batch", Some(&api.admin), Some(serde_json::json!({"names": ["1001", "1002", "nobody"], "patch": {"leader": "7001"}}))).await;
    assert_eq!(r.json()["updated"], serde_json::json!(["1001", "1002"]));
    let r = api
        .req("POST", "/users/7002/disable", Some(&api.admin), None)
        .await;
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(api.store().disabled_users().unwrap(), ["7002"]);
    let before = api.store().load_users("127.0.0.1").unwrap()["7002"].clone();
    let r = api
        .req("POST", "/users/7002/reset-password", Some(&api.admin), None)
        .await
        .json();
    let pw = r["password"].as_str().unwrap();
    assert_eq!(pw.len(), 16);
    let after = api.store().load_users("127.0.0.1").unwrap()["7002"].clone();
    assert_ne!(before, after, "SIP credentials rotated");
    assert_eq!(
        *after,
        pbx_core::auth::Credentials::from_password("7002", "127.0.0.1", pw)
    );
    let csv = api.get("/users/export?enabled=false", &api.admin).await;
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    assert!(csv.body.contains("7002"));
    api.req("POST", "/users/7002/enable", Some(&api.admin), None)
        .await;
    assert!(api.store().disabled_users().unwrap().is_empty());
    // agents: the live state through the engine, a state change for itself only
    let r = api
        .req(
            "POST",
            "/agents/7001/state",
            Some(&agent),
            Some(serde_json::json!({"state": "login"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    api.req(
        "POST",
        "/agents/1001/state",
        Some(&agent),
        Some(serde_json::json!({"state": "login"})),
    )
    .await
    .error(403, "forbidden");
    let agents = api.get("/agents", &agent).await.json();
    assert_eq!(agents["items"].as_array().unwrap().len(), 1, "only itself");
    assert_eq!(agents["items"][0]["state"], "available");
    let q = api.get("/queues/sales/stats", &agent).await.json();
    assert!(q["offered"].as_u64().unwrap() >= 1, "{q}");
    assert_eq!(q["service_level_threshold_s"], 20);
    api.get("/queues/nope/stats", &agent)
        .await
        .error(404, "not_found");
    // the stream resumes after Last-Event-ID: the login above is in the outbox
    // after the hand-made event (seq 1); from seq 1 on only later ones come
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let all = api.sse("/events?after=0", &agent, None, 2).await;
    assert_eq!(all[0].0, "1");
    assert_eq!(all[0].1, "call.ringing");
    let resumed = api.sse("/events", &agent, Some(1), 1).await;
    assert_eq!(resumed[0].0, all[1].0);
    assert!(resumed[0].0.parse::<i64>().unwrap() > 1);
    api.stop().await;
}
