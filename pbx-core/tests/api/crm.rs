//! The CRM's write side of `/api/v1` against a real server: webhook
//! subscriptions (create with the secret shown once, list, change, rotate,
//! remove; config-file ones only enabled / disabled; admin scope) and the
//! tickets of a call (SPEC §8.2; a live call is needed to attach one: the
//! phone tests attach to real calls).

use pbx_core::store::{NewCallTicket, NewSubscription, SubscriptionSource};
use serde_json::json;

use super::harness::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_subscriptions_crud() {
    let api = Api::start(|_| {}).await;
    let admin = api.token("crm-admin", "read,admin", None);
    let agent = api.token("agent", "read,calls", Some("7001"));
    api.get("/webhooks", &agent).await.error(403, "forbidden");
    let create = |body: serde_json::Value| {
        let api = &api;
        let admin = admin.clone();
        async move { api.req("POST", "/webhooks", Some(&admin), Some(body)).await }
    };
    create(json!({"url": "ftp://127.0.0.1/h"}))
        .await
        .error(422, "unprocessable");
    create(json!({"url": "http://127.0.0.1:9/h", "events": ["ca*ll"]}))
        .await
        .error(422, "unprocessable");
    create(json!({"url": "http://127.0.0.1:9/h", "secret": "nope"}))
        .await
        .error(422, "unprocessable");
    let r = create(json!({"name": "crm", "url": "http://127.0.0.1:9/h", "events": ["call.*"], "masked": false})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.json();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    pbx_core::webhooks::signature::Secret::parse(&secret).expect("a valid secret");
    assert_eq!(
        (
            made["events"].clone(),
            made["masked"].clone(),
            made["source"].clone(),
            made["state"].clone()
        ),
        (
            json!(["call.*"]),
            json!(false),
            json!("api"),
            json!("active")
        )
    );
    let id = made["id"].as_i64().unwrap();
    create(json!({"name": "crm", "url": "http://127.0.0.1:9/other"}))
        .await
        .error(409, "conflict");
    // The secret is shown once: never in the list or the detail.
    let list = api.get("/webhooks", &admin).await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&secret), "{}", list.body);
    assert_eq!(list.json()["items"][0]["secrets"], 1);
    let one = api.get(&format!("/webhooks/{id}"), &admin).await;
    assert_eq!(
        (one.status, one.json()["name"].clone()),
        (200, json!("crm"))
    );
    assert!(!one.body.contains("whsec_"));
    // The store (what the delivery worker reads) has it.
    let stored = api.store().list_subscriptions().unwrap();
    assert_eq!(stored[0].sub.secrets, std::slice::from_ref(&secret));
    assert_eq!(stored[0].sub.url, "http://127.0.0.1:9/h");
    // Change, disable, rotate.
    let r = api
        .req(
            "PATCH",
            &format!("/webhooks/{id}"),
            Some(&admin),
            Some(json!({"events": ["call.ringing", "ivr.completed"], "state": "disabled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["events"], json!(["call.ringing", "ivr.completed"]));
    assert_eq!(r.json()["state"], "disabled");
    let r = api
        .req(
            "POST",
            &format!("/webhooks/{id}/rotate-secret"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(r.json()["secrets"], 2, "both sign while rotating");
    assert_eq!(
        api.store().list_subscriptions().unwrap()[0].sub.secrets,
        [new_secret, secret]
    );
    // A config-file subscription: only its state changes here.
    let cfg = api
        .store()
        .add_subscription(
            &NewSubscription {
                name: "from-file".into(),
                url: "http://127.0.0.1:9/f".into(),
                secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
                events: vec!["*".into()],
                masked: true,
                source: SubscriptionSource::Config,
            },
            1,
        )
        .unwrap();
    let path = format!("/webhooks/{cfg}");
    api.req(
        "PATCH",
        &path,
        Some(&admin),
        Some(json!({"url": "http://127.0.0.1:9/x"})),
    )
    .await
    .error(409, "conflict");
    api.req("DELETE", &path, Some(&admin), None)
        .await
        .error(409, "conflict");
    let r = api
        .req(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"state": "disabled"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, json!("disabled"))
    );
    // Remove.
    let r = api
        .req("DELETE", &format!("/webhooks/{id}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    api.get(&format!("/webhooks/{id}"), &admin)
        .await
        .error(404, "not_found");
    api.get("/webhooks/zero", &admin)
        .await
        .error(404, "not_found");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_tickets_are_its_context() {
    let api = Api::start(|_| {}).await;
    let calls = api.token("crm", "read,calls", None);
    let call = "c00000000000000f1";
    // No live call: nothing to attach to.
    api.req(
        "POST",
        &format!("/calls/{call}/tickets"),
        Some(&calls),
        Some(json!({"ticket_id": "T1"})),
    )
    .await
    .error(404, "not_found");
    api.req(
        "POST",
        &format!("/calls/{call}/tickets"),
        Some(&calls),
        Some(json!({"ticket_id": ""})),
    )
    .await
    .error(422, "unprocessable");
    let read = api.token("reader", "read", None);
    api.req(
        "POST",
        &format!("/calls/{call}/tickets"),
        Some(&read),
        Some(json!({"ticket_id": "T1"})),
    )
    .await
    .error(403, "forbidden");
    // Tickets attached while the call was up (what the POST stores).
    let mut st = api.store();
    for (t, agent) in [("T1", "7001"), ("T2", "7002")] {
        st.attach_call_ticket(
            call,
            &NewCallTicket {
                ticket_id: t.into(),
                flow: Some("Complaint".into()),
                agent: Some(agent.into()),
                customer_id: Some("K7".into()),
            },
            5,
        )
        .unwrap();
    }
    let r = api.get(&format!("/calls/{call}/tickets"), &read).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["ticket_ids"], json!(["T1", "T2"]));
    assert_eq!(v["customer_id"], "K7");
    assert_eq!(v["tickets"][1]["agent"], "7002");
    // An agent sees the context of a call they created a ticket on, not of others.
    let mine = api.token("a7001", "read", Some("7001"));
    assert_eq!(
        api.get(&format!("/calls/{call}/tickets"), &mine)
            .await
            .status,
        200
    );
    let other = api.token("a1001", "read", Some("1001"));
    api.get(&format!("/calls/{call}/tickets"), &other)
        .await
        .error(404, "not_found");
    api.stop().await;
}
