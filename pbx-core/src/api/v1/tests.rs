use std::collections::BTreeSet;

use super::*;

fn doc() -> serde_json::Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

#[test]
fn every_route_is_in_the_document_and_nothing_else() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = route_list()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
    assert!(served.len() > 30, "{}", served.len());
}

#[test]
fn every_operation_names_its_scope_and_documents_401_403() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scope = op["x-scope"].as_str().unwrap_or_default();
            if path == "/openapi.json" {
                assert_eq!(scope, "none");
                continue;
            }
            assert!(
                auth::Scope::parse(scope).is_some(),
                "{method} {path}: x-scope {scope:?}"
            );
            for code in ["401", "403"] {
                assert!(
                    op["responses"].get(code).is_some(),
                    "{method} {path} documents {code}"
                );
            }
        }
    }
}

#[test]
fn every_schema_reference_resolves() {
    let doc = doc();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r.to_owned());
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "{r}");
    }
}

#[test]
fn the_record_schema_names_every_spec_field() {
    // SPEC §3: every † field of CallRecord is in the record schema and the export.
    let doc = doc();
    let props = doc["components"]["schemas"]["Record"]["properties"]
        .as_object()
        .unwrap();
    for f in [
        "pbx_id",
        "direction",
        "caller",
        "callee",
        "service_number",
        "trunk_id",
        "caller_region",
        "entry_skill_group",
        "skill_groups",
        "agent_id",
        "ring_at_ms",
        "queue_wait_s",
        "talk_s",
        "after_call_s",
        "handle_s",
        "dial_status",
        "transfer_chain",
        "recording_key",
        "transcript_ref",
        "tags",
        "qa_score",
        "survey_transferred",
        "satisfaction",
        "customer_id",
        "ticket_ids",
        "ivr_key_path",
    ] {
        assert!(props.contains_key(f), "schema lacks {f}");
    }
    for f in [
        "pbx_id",
        "caller_region",
        "skill_groups",
        "after_call_s",
        "handle_s",
        "dial_status",
        "transfer_chain",
        "recording_ref",
        "transcript_ref",
        "notes",
        "satisfaction",
        "survey_transferred",
        "ticket_ids",
        "ivr_key_path",
    ] {
        assert!(EXPORT_COLUMNS.contains(&f), "export lacks {f}");
    }
}

#[test]
fn today_is_the_tenant_day() {
    let v1 = V1::new(&ApiData {
        db: "x".into(),
        utc_offset_secs: 8 * 3600,
        queues: Vec::new(),
    });
    // 2024-01-01 20:00 UTC is 2024-01-02 04:00 at +08:00
    let now = 1_704_139_200_000;
    let (from, to) = v1.today(now);
    assert_eq!(from, 1_704_124_800_000, "2024-01-02 00:00 +08:00");
    assert_eq!(to - from, 86_400_000);
    assert!(from <= now && now < to);
}

#[test]
fn the_webhook_catalogue_names_the_pop_and_ivr_completed() {
    let doc = doc();
    let hooks = doc["webhooks"]
        .as_object()
        .expect("an OpenAPI 3.1 `webhooks` catalogue");
    for name in [
        "call.ringing",
        "ivr.completed",
        "customer.matched",
        "call.missed",
    ] {
        let schema = &hooks[name]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema["properties"]["type"]["const"], name, "{name}");
    }
    let pop = &doc["components"]["schemas"]["ScreenPop"]["properties"];
    for f in [
        "last_ticket",
        "ticket_flow",
        "carried_context",
        "ivr_key_path",
        "customer_match",
    ] {
        assert!(pop.get(f).is_some(), "ScreenPop lacks {f}");
    }
}
