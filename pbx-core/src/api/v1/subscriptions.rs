//! Webhook subscriptions through the API (admin scope): `GET/POST
//! /webhooks`, `GET/PATCH/DELETE /webhooks/{id}`, `POST
//! /webhooks/{id}/rotate-secret`. The signing secret is shown once, in the
//! answer that creates (or rotates) it; lists never show secrets. A
//! subscription from the config file (`[[webhooks]]`) is replaced whenever
//! the server starts, so the API may only enable or disable it (409
//! otherwise). The delivery worker reads the subscriptions every round: a
//! new one gets the events from its creation on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, J};
use super::tokens::valid_name;
use super::{now_ms, state};
use crate::api::ApiState;
use crate::store::{NewSubscription, StoredSubscription, SubscriptionId, SubscriptionSource};
use crate::webhooks::signature::Secret;
use crate::webhooks::EventFilter;

fn sub_json(s: &StoredSubscription) -> serde_json::Value {
    serde_json::json!({
        "id": s.id.0,
        "name": s.sub.name,
        "url": s.sub.url,
        "events": s.sub.events,
        "masked": s.sub.masked,
        "source": match s.sub.source {
            SubscriptionSource::Api => "api",
            _ => "config",
        },
        "state": s.state,
        "state_reason": s.state_reason,
        "secrets": s.sub.secrets.len(),
        "delivered": s.delivered,
        "last_delivered_ms": s.last_delivered_ms,
        "pending": s.pending,
        "dead": s.dead,
    })
}

fn check_url(url: &str) -> ApiResult<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && url
            .parse::<hyper::Uri>()
            .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "url `{url}`: an http:// or https:// URL expected"
        )))
    }
}

fn check_events(events: &[String]) -> ApiResult<()> {
    if events.is_empty() || events.len() > 64 {
        return Err(ApiError::unprocessable(
            "events: 1 to 64 filters (`call.ringing`, `call.*`, `*`)",
        ));
    }
    match events.iter().find(|e| EventFilter::parse(e).is_none()) {
        Some(bad) => Err(ApiError::unprocessable(format!(
            "events `{bad}`: use an event type (`call.ringing`), `call.*` or `*`"
        ))),
        None => Ok(()),
    }
}

fn parse_id(id: &str) -> ApiResult<SubscriptionId> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(SubscriptionId)
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {id}")))
}

async fn find(s: &ApiState, id: SubscriptionId) -> ApiResult<StoredSubscription> {
    let v1 = state(s)?.clone();
    v1.db
        .run(move |st| Ok(st.list_subscriptions()?.into_iter().find(|x| x.id == id)))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {id}")))
}

fn api_only(sub: &StoredSubscription, what: &str) -> ApiResult<()> {
    if sub.sub.source == SubscriptionSource::Api {
        Ok(())
    } else {
        Err(ApiError::conflict(format!(
            "subscription {} comes from the config file ([[webhooks]] `{}`): {what} it there; the API can only enable or disable it",
            sub.id, sub.sub.name
        )))
    }
}

pub(super) async fn list(State(s): State<ApiState>, p: Principal) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let v1 = state(&s)?.clone();
    let subs = v1.db.run(|st| st.list_subscriptions()).await?;
    let items: Vec<_> = subs.iter().map(sub_json).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// Unique name (default: `api-` and the creation time).
    name: Option<String>,
    url: String,
    /// Event filters (default `["*"]`).
    events: Option<Vec<String>>,
    /// Mask phone numbers (SPEC §18; default true).
    masked: Option<bool>,
    /// A `whsec_` secret to use (default: a new random one).
    secret: Option<String>,
}

pub(super) async fn create(
    State(s): State<ApiState>,
    p: Principal,
    J(body): J<CreateBody>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    check_url(&body.url)?;
    let events = body.events.unwrap_or_else(|| vec!["*".into()]);
    check_events(&events)?;
    let name = body.name.unwrap_or_else(|| format!("api-{}", now_ms()));
    if !valid_name(&name) {
        return Err(ApiError::unprocessable(
            "name: 1 to 64 letters, digits, -, _ or .",
        ));
    }
    let secret = match body.secret {
        Some(t) => {
            Secret::parse(&t).map_err(|e| ApiError::unprocessable(format!("secret: {e}")))?;
            t
        }
        None => Secret::generate(),
    };
    let v1 = state(&s)?.clone();
    let new = NewSubscription {
        name: name.clone(),
        url: body.url,
        secrets: vec![secret.clone()],
        events,
        masked: body.masked.unwrap_or(true),
        source: SubscriptionSource::Api,
    };
    let created = v1
        .db
        .run_api(move |st| {
            if st
                .list_subscriptions()?
                .iter()
                .any(|x| x.sub.name == new.name)
            {
                return Err(ApiError::conflict(format!(
                    "a webhook subscription named {} exists",
                    new.name
                )));
            }
            let id = st.add_subscription(&new, now_ms())?;
            Ok(st.list_subscriptions()?.into_iter().find(|x| x.id == id))
        })
        .await?
        .ok_or_else(|| ApiError::internal("the new subscription is gone"))?;
    tracing::info!(subscription = %created.id, name = %name, "webhook subscription created through the API");
    let mut v = sub_json(&created);
    v["secret"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn get_one(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let sub = find(&s, parse_id(&id)?).await?;
    Ok(Json(sub_json(&sub)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    masked: Option<bool>,
    /// `active` or `disabled`.
    state: Option<String>,
}

pub(super) async fn update(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<PatchBody>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let id = parse_id(&id)?;
    if let Some(u) = &body.url {
        check_url(u)?;
    }
    if let Some(e) = &body.events {
        check_events(e)?;
    }
    if body
        .state
        .as_deref()
        .is_some_and(|st| st != "active" && st != "disabled")
    {
        return Err(ApiError::unprocessable("state: `active` or `disabled`"));
    }
    let sub = find(&s, id).await?;
    if body.url.is_some() || body.events.is_some() || body.masked.is_some() {
        api_only(&sub, "change")?;
    }
    let v1 = state(&s)?.clone();
    let sub = v1
        .db
        .run(move |st| {
            st.update_subscription(
                id,
                body.url.as_deref(),
                body.events.as_deref(),
                body.masked,
                None,
            )?;
            if let Some(state) = body.state.as_deref() {
                let reason = (state == "disabled").then_some("disabled through the API");
                st.set_subscription_state(id, state, reason)?;
            }
            Ok(st.list_subscriptions()?.into_iter().find(|x| x.id == id))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {id}")))?;
    Ok(Json(sub_json(&sub)).into_response())
}

pub(super) async fn remove(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let id = parse_id(&id)?;
    let sub = find(&s, id).await?;
    api_only(&sub, "remove")?;
    let v1 = state(&s)?.clone();
    if v1.db.run(move |st| st.remove_subscription(id)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no webhook subscription {id}")))
    }
}

/// A new secret signs from now on, the previous one too until the next
/// rotation (receivers accept either while they switch).
pub(super) async fn rotate_secret(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let id = parse_id(&id)?;
    let sub = find(&s, id).await?;
    api_only(&sub, "rotate the secret")?;
    let secret = Secret::generate();
    let mut secrets = vec![secret.clone()];
    secrets.extend(sub.sub.secrets.first().cloned());
    let v1 = state(&s)?.clone();
    let sub = v1
        .db
        .run(move |st| {
            st.update_subscription(id, None, None, None, Some(&secrets))?;
            Ok(st.list_subscriptions()?.into_iter().find(|x| x.id == id))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {id}")))?;
    let mut v = sub_json(&sub);
    v["secret"] = secret.into();
    Ok(Json(v).into_response())
}
