//! `POST /desktop/login`: a user's SIP credentials for an API token that
//! acts as that user. The password is checked the way a REGISTER's digest
//! is — against the directory's HA1, never stored — and a wrong one counts
//! towards the same per-source ban as failed SIP authentication, so the
//! login is no cheaper to brute-force than the registrar. A banned source
//! gets 429, a disabled user 403 (after the password, so the answer does not
//! reveal which accounts exist).
//!
//! The token (`desktop.USER.MS`, scopes read, calls and agents, acting as
//! the user) replaces the user's earlier desktop tokens, so one login is live
//! per user; `POST /desktop/logout` revokes it. It has no `numbers` scope:
//! the desktop shows numbers masked (SPEC §18), like any agent token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::api::v1::error::{ApiError, ApiResult, J};
use crate::api::v1::{now_ms, state};
use crate::api::ApiState;
use crate::auth::Credentials;

/// Prefix of the tokens the desktop hands out.
const PREFIX: &str = "desktop.";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginBody {
    user: String,
    password: String,
}

/// A SIP user name the token name can carry.
fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 40
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(super) async fn login(
    State(s): State<ApiState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    J(body): J<LoginBody>,
) -> ApiResult<Response> {
    let ip = peer.map_or(std::net::Ipv4Addr::LOCALHOST.into(), |c| c.0.ip());
    let now = s.clock.now();
    if s.core.bans.is_banned(ip, now.mono_ms) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "banned",
            format!("too many failed logins from {ip}: wait and try again"),
        ));
    }
    let auth = &s.core.auth;
    let known = valid_user(&body.user)
        .then(|| auth.users().get(&body.user))
        .flatten();
    let given = Credentials::from_password(&body.user, auth.realm(), &body.password);
    let ok = known.is_some_and(|c| same(&c.ha1_sha256, &given.ha1_sha256));
    if !ok {
        s.core.metrics.auth_failures.inc();
        if s.core.bans.record_failure(ip, now.mono_ms) {
            tracing::warn!(%ip, "desktop login: source banned after failed logins");
        }
        tracing::info!(%ip, user = %body.user.escape_debug(), "desktop login: wrong user or password");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong user or password (the SIP credentials of your phone)",
        ));
    }
    if auth.users().is_disabled(&body.user) {
        return Err(ApiError::forbidden(format!(
            "user {} is disabled: ask an administrator",
            body.user
        )));
    }
    let agent = match &s.b2bua {
        Some(b) => b.engine.acd_status().await?["agents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["agent"] == body.user.as_str())),
        None => false,
    };
    let v1 = state(&s)?.clone();
    let user = body.user.clone();
    let at = now_ms();
    let secret = v1
        .db
        .run(move |st| {
            let own = format!("{PREFIX}{user}.");
            for t in st.list_tokens()? {
                if t.revoked_ms.is_none() && t.name.starts_with(&own) {
                    st.revoke_token(&t.id.to_string(), at)?;
                }
            }
            let scopes = ["read", "calls", "agents"].map(str::to_owned);
            st.create_token(&format!("{own}{at}"), &scopes, Some(&user), at)
                .map(|(_, secret)| secret)
        })
        .await?;
    tracing::info!(%ip, user = %body.user, agent, "desktop login");
    Ok(Json(serde_json::json!({
        "token": secret,
        "user": body.user,
        "agent": agent.then_some(&body.user),
        "domain": s.core.locals.domain,
    }))
    .into_response())
}

pub(super) async fn logout(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send `Authorization: Bearer TOKEN` (the token of /desktop/login)",
            )
        })?;
    let v1 = state(&s)?.clone();
    let at = now_ms();
    let revoked = v1
        .db
        .run(move |st| match st.token_by_secret(&secret)? {
            Some(t) if t.name.starts_with(PREFIX) => st.revoke_token(&t.id.to_string(), at),
            _ => Ok(false),
        })
        .await?;
    if !revoked {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not a live desktop token",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_and_comparison() {
        assert!(valid_user("1001") && valid_user("alice.b-2"));
        assert!(!valid_user("") && !valid_user("a b") && !valid_user(&"x".repeat(41)));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
