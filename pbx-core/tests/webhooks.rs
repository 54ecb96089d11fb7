//! The webhook worker against a real HTTP receiver on 127.0.0.1 and a real
//! SQLite store: outbox rows are written as the engine's driver writes them,
//! the worker enriches, signs and delivers them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use pbx_core::metrics::Metrics;
use pbx_core::store::{OutboxEvent, Store};
use pbx_core::webhooks::signature::{verify, Secret};
use pbx_core::webhooks::{
    DeliveryConfig, EventFilter, LookupConfig, SubscriptionConfig, WebhookWorker, WebhooksConfig,
};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    body: Value,
    status: u16,
}

/// What the receiver answers to the n-th request (0-based).
type Script = Arc<dyn Fn(usize, &Value) -> Answer + Send + Sync>;

#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Sleep (past the worker's timeout), then 200.
    Hang(Duration),
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<Mutex<usize>>,
    script: Script,
}

/// A webhook receiver on 127.0.0.1 checking every signature; returns its
/// address and what it saw.
async fn receiver(script: Script) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let r = Receiver {
        seen: Arc::default(),
        count: Arc::default(),
        script,
    };
    let seen = r.seen.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(r): axum::extract::State<Receiver>,
                 headers: HeaderMap,
                 body: String| async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let (id, ts, sig) = (
                        h("webhook-id"),
                        h("webhook-timestamp"),
                        h("webhook-signature"),
                    );
                    let secret = Secret::parse(SECRET).unwrap();
                    let ts: i64 = ts.parse().expect("webhook-timestamp is a number");
                    assert!(
                        verify(&secret, &sig, &id, ts, body.as_bytes()),
                        "signature of {id} verifies"
                    );
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64;
                    assert!((now - ts).abs() < 60, "timestamp is the attempt's time");
                    let json: Value = serde_json::from_str(&body).expect("JSON body");
                    let n = {
                        let mut c = r.count.lock();
                        *c += 1;
                        *c - 1
                    };
                    let answer = (r.script)(n, &json);
                    let status = match answer {
                        Answer::Status(s) => s,
                        Answer::Hang(d) => {
                            tokio::time::sleep(d).await;
                            200
                        }
                    };
                    r.seen.lock().push(Seen {
                        id,
                        body: json,
                        status: match answer {
                            Answer::Hang(_) => 0,
                            Answer::Status(s) => s,
                        },
                    });
                    StatusCode::from_u16(status).unwrap()
                },
            ),
        )
        .with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn subscription(name: &str, addr: SocketAddr, masked: bool) -> SubscriptionConfig {
    SubscriptionConfig {
        name: name.into(),
        url: format!("http://{addr}/hook"),
        secrets: vec![SECRET.into()],
        events: vec![EventFilter::parse("*").unwrap()],
        masked,
    }
}

fn fast_delivery() -> DeliveryConfig {
    DeliveryConfig {
        timeout: Duration::from_millis(300),
        retry_base: Duration::from_millis(40),
        retry_max_delay: Duration::from_millis(200),
        poll_interval: Duration::from_millis(10),
        client_error_attempts: 2,
        ..DeliveryConfig::default()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn call_events(call: &str, n: usize, at: u64) -> Vec<OutboxEvent> {
    (0..n)
        .map(|i| OutboxEvent {
            event_id: format!("evt_{call}_{i}"),
            call_id: call.into(),
            kind: if i == 0 { "call.created" } else { "call.dtmf" }.into(),
            at_ms: at + i as u64,
            payload: json!({"caller": "13812345678", "callee": "4008123456", "n": i}),
        })
        .collect()
}

/// Waits (bounded) until `done` holds.
async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Event ids accepted (2xx) per call, in arrival order, and every
/// attempt's id per call.
fn per_call(seen: &[Seen]) -> (HashMap<String, Vec<String>>, HashMap<String, Vec<String>>) {
    let (mut ok, mut all) = (
        HashMap::<String, Vec<String>>::new(),
        HashMap::<String, Vec<String>>::new(),
    );
    for s in seen {
        let call = s.body["data"]["call_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        all.entry(call.clone()).or_default().push(s.id.clone());
        if (200..300).contains(&s.status) {
            ok.entry(call).or_default().push(s.id.clone());
        }
    }
    (ok, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_times_out_and_recovers_gets_every_event_in_order_per_call() {
    // Requests 0-5: 500; 6-8: hang past the 300 ms timeout; then 200.
    let (addr, seen) = receiver(Arc::new(|n, _| match n {
        0..=5 => Answer::Status(500),
        6..=8 => Answer::Hang(Duration::from_millis(700)),
        _ => Answer::Status(200),
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pbx.sqlite");
    let mut store = Store::open(&db).unwrap();
    let metrics = Arc::new(Metrics::default());
    let worker = WebhookWorker::start(
        &db,
        WebhooksConfig {
            subscriptions: vec![subscription("crm", addr, false)],
            delivery: fast_delivery(),
            ..WebhooksConfig::default()
        },
        metrics.clone(),
    )
    .unwrap();
    // Written after the subscription exists (it gets events from then on),
    // interleaved over 8 calls as concurrent calls are.
    let calls: Vec<String> = (0..8).map(|i| format!("c{i:016x}")).collect();
    let at = now_ms();
    let per: Vec<Vec<OutboxEvent>> = calls.iter().map(|c| call_events(c, 5, at)).collect();
    for i in 0..5 {
        let step: Vec<OutboxEvent> = per.iter().map(|evs| evs[i].clone()).collect();
        store.insert_events(&step).unwrap();
    }
    wait_for("40 deliveries", Duration::from_secs(20), || {
        metrics.webhooks.delivered.get() >= 40
    })
    .await;
    worker.shutdown();
    let seen = seen.lock().clone();
    let (ok, all) = per_call(&seen);
    for c in &calls {
        let expected: Vec<String> = (0..5).map(|i| format!("evt_{c}_{i}")).collect();
        let mut accepted = ok.get(c).cloned().unwrap_or_default();
        accepted.dedup();
        assert_eq!(
            accepted, expected,
            "call {c}: every event once accepted, in order"
        );
        // No attempt of a later event before the earlier one was accepted:
        // the attempts' ids never go back.
        let attempts = &all[c];
        assert!(
            attempts.windows(2).all(|w| w[0] <= w[1]),
            "call {c}: attempts in order {attempts:?}"
        );
    }
    assert!(
        metrics.webhooks.failed.get() >= 9,
        "6 errors and 3 timeouts counted"
    );
    assert_eq!(metrics.webhooks.dead.get(), 0);
    let subs = store.list_subscriptions().unwrap();
    assert_eq!((subs[0].pending, subs[0].delivered), (0, 40));
    // Bodies are the stored envelope: type, timestamp, data.
    let first = seen.iter().find(|s| s.status == 200).unwrap();
    assert!(first.body["type"].is_string() && first.body["timestamp"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_and_other_4xx_dead_letter_without_blocking_the_call() {
    // Subscription "gone" answers 410; "picky" refuses event 0 of every call
    // with 400 and takes the rest.
    let (gone_addr, gone_seen) = receiver(Arc::new(|_, _| Answer::Status(410))).await;
    let (picky_addr, picky_seen) = receiver(Arc::new(|_, body: &Value| {
        if body["data"]["n"] == 0 {
            Answer::Status(400)
        } else {
            Answer::Status(204)
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pbx.sqlite");
    let mut store = Store::open(&db).unwrap();
    let metrics = Arc::new(Metrics::default());
    let worker = WebhookWorker::start(
        &db,
        WebhooksConfig {
            subscriptions: vec![
                subscription("gone", gone_addr, true),
                subscription("picky", picky_addr, true),
            ],
            delivery: fast_delivery(),
            ..WebhooksConfig::default()
        },
        metrics.clone(),
    )
    .unwrap();
    store
        .insert_events(&call_events("c01", 3, now_ms()))
        .unwrap();
    wait_for("picky's deliveries", Duration::from_secs(10), || {
        metrics.webhooks.delivered.get() >= 2 && metrics.webhooks.dead.get() >= 1
    })
    .await;
    worker.shutdown();
    let subs = store.list_subscriptions().unwrap();
    let gone = subs.iter().find(|s| s.sub.name == "gone").unwrap();
    assert_eq!(gone.state, "disabled");
    assert_eq!(gone.state_reason.as_deref(), Some("410 Gone"));
    assert_eq!(gone.pending, 3, "kept for when it is enabled again");
    assert_eq!(gone_seen.lock().len(), 1, "no attempt after the 410");
    assert_eq!(metrics.webhooks.disabled.get(), 1);
    let picky = subs.iter().find(|s| s.sub.name == "picky").unwrap();
    assert_eq!((picky.pending, picky.dead, picky.delivered), (0, 1, 2));
    let dead = store.dead_letters(Some(picky.id)).unwrap();
    assert_eq!(dead[0].event.event_id, "evt_c01_0");
    assert_eq!((dead[0].attempts, dead[0].last_status), (2, Some(400)));
    let ids: Vec<String> = picky_seen.lock().iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, ["evt_c01_0", "evt_c01_0", "evt_c01_1", "evt_c01_2"]);
    // Masked subscription: the numbers of the payload are masked.
    let body = &picky_seen.lock()[2].body;
    assert_eq!(body["data"]["caller"], "138****5678", "{body}");
}

/// A CRM lookup endpoint: `13800000001` answers after 600 ms (past the
/// budget), `13900000002` at once with two customers, others none.
async fn crm() -> SocketAddr {
    let app = axum::Router::new().route(
        "/lookup",
        axum::routing::post(|body: String| async move {
            let req: Value = serde_json::from_str(&body).unwrap();
            assert!(
                req["agent"].is_string() && req["call_id"].is_string(),
                "{req}"
            );
            match req["number"].as_str() {
                Some("13800000001") => {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    json!({"customer_ids": ["cu1"]}).to_string()
                }
                Some("13900000002") => json!({"customer_ids": ["cu2", "cu3"]}).to_string(),
                _ => json!({"customer_ids": []}).to_string(),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn queued_call(call: &str, number: &str, at: u64) -> Vec<OutboxEvent> {
    let ev = |n: u64, kind: &str, payload: Value| OutboxEvent {
        event_id: format!("evt_{call}_{n}"),
        call_id: call.into(),
        kind: kind.into(),
        at_ms: at + n,
        payload,
    };
    vec![
        ev(
            1,
            "call.created",
            json!({"caller": number, "callee": "4008123456"}),
        ),
        ev(
            2,
            "queue.enter",
            json!({"queue": "support", "kind": {"type": "enter", "number": number, "service_number": "4008123456", "priority": 0, "position": 1}}),
        ),
        ev(
            3,
            "queue.offer",
            json!({"queue": "support", "agent": "1002", "kind": {"type": "offer", "offer": 1, "ring_timeout_ms": 15000}}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_past_its_budget_pops_unknown_then_customer_matched() {
    let crm = crm().await;
    let (addr, seen) = receiver(Arc::new(|_, _| Answer::Status(200))).await;
    let (plain_addr, plain_seen) = receiver(Arc::new(|_, _| Answer::Status(200))).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pbx.sqlite");
    let mut store = Store::open(&db).unwrap();
    let metrics = Arc::new(Metrics::default());
    let mut masked = subscription("masked", addr, true);
    masked.events = vec![
        EventFilter::parse("call.ringing").unwrap(),
        EventFilter::parse("customer.*").unwrap(),
    ];
    let mut plain = subscription("plain", plain_addr, false);
    plain.events = vec![EventFilter::parse("call.ringing").unwrap()];
    let worker = WebhookWorker::start(
        &db,
        WebhooksConfig {
            subscriptions: vec![masked, plain],
            delivery: fast_delivery(),
            lookup: Some(LookupConfig {
                url: format!("http://{crm}/lookup"),
                budget: Duration::from_millis(200),
                late_timeout: Duration::from_secs(5),
                cache_ttl: Duration::from_secs(60),
            }),
            ..WebhooksConfig::default()
        },
        metrics.clone(),
    )
    .unwrap();
    let at = now_ms();
    let mut rows = queued_call("c0a", "13800000001", at);
    rows.extend(queued_call("c0b", "13900000002", at));
    store.insert_events(&rows).unwrap();
    wait_for(
        "two pops and a customer.matched",
        Duration::from_secs(10),
        || seen.lock().len() >= 3 && plain_seen.lock().len() >= 2,
    )
    .await;
    worker.shutdown();
    let seen = seen.lock().clone();
    let of = |id: &str| {
        seen.iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} in {seen:?}"))
            .body
            .clone()
    };
    let slow = of("pop_c0a_1");
    assert_eq!(slow["type"], "call.ringing");
    assert_eq!(
        slow["data"]["customer_match"],
        json!({"status": "unknown", "customer_ids": []})
    );
    assert_eq!(slow["data"]["caller"], "138****0001", "masked subscription");
    assert_eq!(slow["data"]["skill_group"]["name"], "support");
    assert_eq!(slow["data"]["agent"], "1002");
    let fast = of("pop_c0b_1");
    assert_eq!(
        fast["data"]["customer_match"],
        json!({"status": "multiple", "customer_ids": ["cu2", "cu3"]})
    );
    let matched = of("match_pop_c0a_1");
    assert_eq!(matched["type"], "customer.matched");
    assert_eq!(
        matched["data"]["customer_match"],
        json!({"status": "unique", "customer_ids": ["cu1"]})
    );
    let pos = |id: &str| seen.iter().position(|s| s.id == id).unwrap();
    assert!(
        pos("pop_c0a_1") < pos("match_pop_c0a_1"),
        "the match follows its pop"
    );
    assert_eq!(metrics.webhooks.lookups_late.get(), 1);
    assert_eq!(metrics.webhooks.pops.get(), 2);
    // The unmasked subscription gets the full number, identical otherwise.
    let plain = plain_seen.lock().clone();
    let p = plain.iter().find(|s| s.id == "pop_c0a_1").unwrap();
    assert_eq!(p.body["data"]["caller"], "13800000001");
    assert_eq!(p.body["data"]["ring_at"], slow["data"]["ring_at"]);
}
