//! Tickets created during a call (SPEC §8.2): `POST /calls/{id}/tickets`
//! attaches one to a live call (ringing or up) so that the next leg's pop
//! carries it (`carried_context`), and the call's record lists it on
//! every leg; `GET /calls/{id}/tickets` reads the call's context back
//! (live or ended).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::calls::own_live_call;
use super::error::{ApiError, ApiResult, J};
use super::{now_ms, state};
use crate::api::ApiState;
use crate::b2bua::CallId;
use crate::store::{CallTicket, NewCallTicket};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TicketBody {
    /// The CRM's ticket number.
    ticket_id: String,
    /// Its ticket flow (type).
    flow: Option<String>,
    /// The located customer.
    customer_id: Option<String>,
    /// The agent who created it (default: the token's agent).
    agent: Option<String>,
}

fn context_json(call: &str, customer: Option<String>, tickets: &[CallTicket]) -> serde_json::Value {
    serde_json::json!({
        "call_id": call,
        "customer_id": customer,
        "ticket_ids": tickets.iter().map(|t| t.ticket_id.as_str()).collect::<Vec<_>>(),
        "tickets": tickets.iter().map(|t| serde_json::json!({
            "ticket_id": t.ticket_id,
            "flow": t.flow,
            "agent": t.agent,
            "customer_id": t.customer_id,
            "at": crate::webhooks::pop::iso8601(t.at_ms),
        })).collect::<Vec<_>>(),
    })
}

fn bad_text(v: &str) -> bool {
    v.is_empty() || v.chars().count() > 128 || v.chars().any(char::is_control)
}

pub(super) async fn attach(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    J(body): J<TicketBody>,
) -> ApiResult<Response> {
    p.require(Scope::Calls)?;
    if [
        Some(&body.ticket_id),
        body.flow.as_ref(),
        body.customer_id.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|v| bad_text(v))
    {
        return Err(ApiError::unprocessable(
            "ticket_id, flow, customer_id: 1 to 128 characters, no control characters",
        ));
    }
    let agent = match (body.agent, p.own_agent()) {
        (Some(a), Some(own)) if a != own => {
            return Err(ApiError::forbidden(format!(
                "token `{}` may only attach tickets as agent {own}",
                p.name
            )))
        }
        (Some(a), _) if bad_text(&a) => {
            return Err(ApiError::unprocessable("agent: 1 to 128 characters"))
        }
        (Some(a), _) => Some(a),
        (None, _) => p.agent.clone(),
    };
    let v1 = state(&s)?.clone();
    let (call, _) = own_live_call(&s, &p, &id).await?;
    let call = call.to_string();
    let ticket = NewCallTicket {
        ticket_id: body.ticket_id,
        flow: body.flow,
        agent,
        customer_id: body.customer_id,
    };
    let c = call.clone();
    let (customer, tickets) = v1
        .db
        .run(move |st| {
            let tickets = st.attach_call_ticket(&c, &ticket, now_ms())?;
            Ok((st.call_customer(&c)?, tickets))
        })
        .await?;
    tracing::info!(call = %call, tickets = tickets.len(), "ticket attached to a live call");
    Ok((
        StatusCode::CREATED,
        Json(context_json(&call, customer, &tickets)),
    )
        .into_response())
}

pub(super) async fn list(
    State(s): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Read)?;
    if CallId::parse(&id).is_none() {
        return Err(ApiError::not_found(format!(
            "no call {id} (ids are c followed by 16 hex digits)"
        )));
    }
    let v1 = state(&s)?.clone();
    let c = id.clone();
    let (customer, tickets) = v1
        .db
        .run(move |st| Ok((st.call_customer(&c)?, st.call_tickets(&c)?)))
        .await?;
    if let Some(own) = p.own_agent() {
        // An agent sees the context of calls they took part in: one of its
        // tickets is theirs, or it is their live call.
        let theirs = tickets.is_empty() || tickets.iter().any(|t| t.agent.as_deref() == Some(own));
        if !theirs && own_live_call(&s, &p, &id).await.is_err() {
            return Err(ApiError::not_found(format!("no call {id} of agent {own}")));
        }
    }
    Ok(Json(context_json(&id, customer, &tickets)).into_response())
}
