//! Call records (SPEC §12): `GET /records` (default: the token's agent's
//! calls of today in the tenant's time zone), `GET /records/{id}` (legs,
//! IVR trajectory, queue events, notes, recording link), notes, tags, QA
//! score, the supplementary entry and saved quick queries.
//!
//! Data scope (SPEC §2): a token acting as an agent without `admin` sees
//! only that agent's records; `scope=all` (admin) lifts the default agent
//! filter of an admin token that acts as an agent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, J, Q};
use super::mask::{mask_in_place, mask_json, mask_opt};
use super::{now_ms, state, V1};
use crate::api::ApiState;
use crate::store::{Outcome, RecordCursor, RecordFilter, RecordSummary, Supplement};

/// The list's query string: the filters of [`RecordFilter`] plus the
/// data scope and the page.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RecordParams {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    direction: Option<String>,
    caller: Option<String>,
    callee: Option<String>,
    service_number: Option<String>,
    skill_group: Option<String>,
    agent: Option<String>,
    outcome: Option<String>,
    tag: Option<String>,
    has_recording: Option<bool>,
    min_duration_s: Option<u64>,
    max_duration_s: Option<u64>,
    scope: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

impl RecordParams {
    fn of_filter(f: &RecordFilter) -> Self {
        Self {
            from_ms: f.from_ms,
            to_ms: f.to_ms,
            direction: f.direction.clone(),
            caller: f.caller.clone(),
            callee: f.callee.clone(),
            service_number: f.service_number.clone(),
            skill_group: f.skill_group.clone(),
            agent: f.agent.clone(),
            outcome: f.outcome.map(|o| o.as_str().to_owned()),
            tag: f.tag.clone(),
            has_recording: f.has_recording,
            min_duration_s: f.min_duration_s,
            max_duration_s: f.max_duration_s,
            ..Self::default()
        }
    }

    /// The filters as given (no defaults applied): what a saved query keeps.
    pub(crate) fn given(&self) -> ApiResult<RecordFilter> {
        let outcome = match &self.outcome {
            None => None,
            Some(o) => Some(Outcome::parse(o).ok_or_else(|| {
                let all: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                ApiError::bad_request(format!("outcome `{o}`: use one of {}", all.join(", ")))
            })?),
        };
        if let Some(d) = &self.direction {
            if !["inbound", "outbound", "internal"].contains(&d.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "direction `{d}`: use inbound, outbound or internal"
                )));
            }
        }
        if let (Some(a), Some(b)) = (self.from_ms, self.to_ms) {
            if a > b {
                return Err(ApiError::bad_request("from_ms is after to_ms"));
            }
        }
        if let (Some(a), Some(b)) = (self.min_duration_s, self.max_duration_s) {
            if a > b {
                return Err(ApiError::bad_request(
                    "min_duration_s is above max_duration_s",
                ));
            }
        }
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(RecordFilter {
            from_ms: self.from_ms.map(|v| v.min(i64::MAX as u64)),
            to_ms: self.to_ms.map(|v| v.min(i64::MAX as u64)),
            direction: self.direction.clone(),
            caller: nonempty(&self.caller),
            callee: nonempty(&self.callee),
            service_number: nonempty(&self.service_number),
            skill_group: nonempty(&self.skill_group),
            agent: nonempty(&self.agent),
            outcome,
            tag: nonempty(&self.tag),
            has_recording: self.has_recording,
            min_duration_s: self.min_duration_s.map(|v| v.min(i64::MAX as u64)),
            max_duration_s: self.max_duration_s.map(|v| v.min(i64::MAX as u64)),
        })
    }

    /// The filter the query runs: the given one, today when no time
    /// bound is given, the caller's agent unless `scope=all`.
    pub(crate) fn resolve(&self, p: &Principal, v1: &V1) -> ApiResult<RecordFilter> {
        let mut f = self.given()?;
        if f.from_ms.is_none() && f.to_ms.is_none() {
            let (from, to) = v1.today(now_ms());
            f.from_ms = Some(from);
            f.to_ms = Some(to);
        }
        let all = match self.scope.as_deref() {
            None | Some("mine") => false,
            Some("all") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "scope `{other}`: use mine or all"
                )))
            }
        };
        match p.own_agent() {
            Some(own) => {
                if all {
                    return Err(ApiError::forbidden("scope=all needs the `admin` scope"));
                }
                if f.agent.as_deref().is_some_and(|a| a != own) {
                    return Err(ApiError::forbidden(format!(
                        "token `{}` sees only agent {own}'s records (the agent filter is for admins)",
                        p.name
                    )));
                }
                f.agent = Some(own.to_owned());
            }
            None if !all && f.agent.is_none() => f.agent = p.agent.clone(),
            None => {}
        }
        Ok(f)
    }

    pub(crate) fn page(&self) -> ApiResult<(Option<RecordCursor>, usize)> {
        let limit = self.limit.unwrap_or(10);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request("limit: 1 to 500"));
        }
        let cursor = match &self.cursor {
            None => None,
            Some(c) => Some(RecordCursor::decode(c).ok_or_else(|| {
                ApiError::bad_request(format!("cursor `{c}` is not one this API handed out"))
            })?),
        };
        Ok((cursor, limit))
    }
}

/// Masks a record's numbers.
pub(crate) fn mask_record(r: &mut RecordSummary) {
    mask_in_place(&mut r.caller);
    mask_in_place(&mut r.callee);
    mask_opt(&mut r.caller_e164);
    mask_opt(&mut r.callee_e164);
    mask_opt(&mut r.service_number);
    r.transfer_chain.iter_mut().for_each(mask_in_place);
}

/// The record as answered: masked unless the caller may see numbers,
/// with a link to its recording.
fn record_json(p: &Principal, mut r: RecordSummary) -> serde_json::Value {
    if p.masks() {
        mask_record(&mut r);
    }
    let link = r
        .recording_state
        .is_some()
        .then(|| format!("/api/v1/records/{}/recording", r.call_id));
    let mut v = serde_json::to_value(&r).unwrap_or_default();
    v["recording_url"] = link.into();
    v["pbx_id"] = serde_json::Value::Null;
    v["caller_region"] = serde_json::Value::Null;
    v["satisfaction"] = serde_json::Value::Null;
    v["survey_transferred"] = serde_json::Value::Null;
    v["transcript_ref"] = serde_json::Value::Null;
    v["dial_status"] = if r.direction == "outbound" {
        r.disposition.clone().into()
    } else {
        serde_json::Value::Null
    };
    v
}

/// Whether `r` is in the caller's data scope.
fn visible(p: &Principal, r: &RecordSummary) -> bool {
    match p.own_agent() {
        None => true,
        Some(a) => r.agent_id.as_deref() == Some(a) || r.caller == a || r.callee == a,
    }
}

async fn run_list(s: &ApiState, p: &Principal, params: &RecordParams) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(s)?.clone();
    let filter = params.resolve(p, &v1)?;
    let (cursor, limit) = params.page()?;
    let page = v1
        .db
        .run(move |st| st.query_records(&filter, cursor.as_ref(), limit))
        .await?;
    let items: Vec<serde_json::Value> = page
        .records
        .into_iter()
        .map(|r| record_json(p, r))
        .collect();
    let body = serde_json::json!({
        "items": items,
        "next_cursor": page.next.map(|c| c.encode()),
    });
    Ok(Json(body).into_response())
}

pub(super) async fn list(
    State(s): State<ApiState>,
    p: Principal,
    Q(params): Q<RecordParams>,
) -> ApiResult<Response> {
    run_list(&s, &p, &params).await
}

/// A record the caller may see, or 404.
pub(crate) async fn load(v1: &V1, p: &Principal, id: &str) -> ApiResult<RecordSummary> {
    let key = id.to_owned();
    let r = v1.db.run(move |st| st.record(&key)).await?;
    match r {
        Some(r) if visible(p, &r) => Ok(r),
        _ => Err(ApiError::not_found(format!("no call record {id}"))),
    }
}

pub(super) async fn detail(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let r = load(&v1, &p, &id).await?;
    let key = id.clone();
    let (legs, trajectory, events, notes) = v1
        .db
        .run(move |st| {
            let legs = st.legs_of(&key)?;
            let trajectory: Vec<serde_json::Value> = st
                .trajectories_of(&key)?
                .into_iter()
                .map(|t| serde_json::to_value(&t.record.trajectory).unwrap_or_default())
                .collect();
            let events = st.queue_events_of(&key)?;
            Ok((legs, trajectory, events, st.annotations(&key)?.notes))
        })
        .await?;
    let mut v = record_json(&p, r);
    let mut legs = serde_json::to_value(legs).unwrap_or_default();
    let mut events = serde_json::to_value(events).unwrap_or_default();
    let mut trajectory = serde_json::Value::from(trajectory);
    if p.masks() {
        mask_json(&mut legs);
        mask_json(&mut events);
        mask_json(&mut trajectory);
    }
    v["legs"] = legs;
    v["ivr_trajectory"] = trajectory;
    v["queue_events"] = events;
    v["notes"] = serde_json::to_value(notes).unwrap_or_default();
    v["transcript"] = serde_json::Value::Null;
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoteBody {
    text: String,
}

pub(super) async fn add_note(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<NoteBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let text = body.text;
    if text.trim().is_empty() || text.chars().count() > 4000 {
        return Err(ApiError::unprocessable(
            "text: 1 to 4000 characters, not only white space",
        ));
    }
    let v1 = state(&s)?.clone();
    load(&v1, &p, &id).await?;
    let author = p.agent.clone().unwrap_or_else(|| p.name.clone());
    let note = v1
        .db
        .run(move |st| st.add_note(&id, &author, &text, now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(note)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TagsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

fn check_tag(t: &str) -> ApiResult<()> {
    if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(format!(
            "tag `{t}`: 1 to 64 printable characters"
        )));
    }
    Ok(())
}

pub(super) async fn tags(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<TagsBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    body.add
        .iter()
        .chain(&body.remove)
        .try_for_each(|t| check_tag(t))?;
    if body.add.len() > 50 || body.remove.len() > 50 {
        return Err(ApiError::unprocessable(
            "at most 50 tags to add and 50 to remove",
        ));
    }
    let v1 = state(&s)?.clone();
    load(&v1, &p, &id).await?;
    let tags = v1
        .db
        .run(move |st| {
            st.change_tags(&id, &body.add, &body.remove, now_ms())?;
            Ok(st.annotations(&id)?.tags)
        })
        .await?;
    Ok(Json(serde_json::json!({ "tags": tags })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QaBody {
    score: u32,
}

pub(super) async fn qa(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<QaBody>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    if body.score > 100 {
        return Err(ApiError::unprocessable("score: 0 to 100"));
    }
    let v1 = state(&s)?.clone();
    load(&v1, &p, &id).await?;
    let by = p.name.clone();
    v1.db
        .run(move |st| st.set_qa_score(&id, body.score, &by, now_ms()))
        .await?;
    Ok(Json(serde_json::json!({ "qa_score": body.score })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SupplementBody {
    customer_id: Option<String>,
    ticket_ids: Option<Vec<String>>,
}

pub(super) async fn supplement(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<SupplementBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    let long = |v: &str| v.chars().count() > 128;
    if body.customer_id.as_deref().is_some_and(long)
        || body
            .ticket_ids
            .as_ref()
            .is_some_and(|t| t.len() > 100 || t.iter().any(|t| t.is_empty() || long(t)))
    {
        return Err(ApiError::unprocessable(
            "customer_id and ticket ids: at most 128 characters, at most 100 non-empty ticket ids",
        ));
    }
    let v1 = state(&s)?.clone();
    load(&v1, &p, &id).await?;
    let sup = Supplement {
        customer_id: body.customer_id,
        ticket_ids: body.ticket_ids,
    };
    let a = v1
        .db
        .run(move |st| {
            st.supplement(&id, &sup, now_ms())?;
            st.annotations(&id)
        })
        .await?;
    Ok(
        Json(serde_json::json!({ "customer_id": a.customer_id, "ticket_ids": a.ticket_ids }))
            .into_response(),
    )
}

fn saved_json(q: &crate::store::SavedQuery) -> serde_json::Value {
    serde_json::json!({
        "id": q.id,
        "name": q.name,
        "filter": q.filter,
        "created_ms": q.created_ms,
    })
}

pub(super) async fn saved_list(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let v1 = state(&s)?.clone();
    let owner = p.owner();
    let list = v1.db.run(move |st| st.saved_queries(&owner)).await?;
    let items: Vec<serde_json::Value> = list.iter().map(saved_json).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SavedBody {
    name: String,
    /// Kept as JSON first: serde would take an array for the struct too.
    #[serde(default)]
    filter: Option<serde_json::Value>,
}

pub(super) async fn saved_create(
    State(s): State<ApiState>,
    p: Principal,
    J(body): J<SavedBody>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let name = body.name;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "name: 1 to 100 characters, not only white space",
        ));
    }
    let filter: RecordFilter = match body.filter {
        None | Some(serde_json::Value::Null) => RecordFilter::default(),
        Some(v @ serde_json::Value::Object(_)) => serde_json::from_value(v)
            .map_err(|e| ApiError::unprocessable(format!("filter: {e}")))?,
        Some(_) => return Err(ApiError::unprocessable("filter: an object")),
    };
    // the same checks as a query string
    let filter = RecordParams::of_filter(&filter)
        .given()
        .map_err(|e| ApiError::unprocessable(e.message))?;
    let v1 = state(&s)?.clone();
    let owner = p.owner();
    let q = v1
        .db
        .run(move |st| st.save_query(&owner, &name, &filter, now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(saved_json(&q))).into_response())
}

fn saved_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no saved query {id}")))
}

pub(super) async fn saved_delete(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let n = saved_id(&id)?;
    let v1 = state(&s)?.clone();
    let owner = p.owner();
    if v1
        .db
        .run(move |st| st.delete_saved_query(&owner, n))
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no saved query {id}")))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PageParams {
    cursor: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn saved_run(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    Q(page): Q<PageParams>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    let n = saved_id(&id)?;
    let v1 = state(&s)?.clone();
    let owner = p.owner();
    let Some(q) = v1.db.run(move |st| st.saved_query(&owner, n)).await? else {
        return Err(ApiError::not_found(format!("no saved query {id}")));
    };
    let mut params = RecordParams::of_filter(&q.filter);
    params.cursor = page.cursor;
    params.limit = page.limit;
    run_list(&s, &p, &params).await
}
