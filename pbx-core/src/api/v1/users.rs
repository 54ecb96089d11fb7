//! Users administration (SPEC §16, `admin` scope): list a page at a time
//! (default 10 rows), get, update, batch update, disable / enable (a
//! disabled user's REGISTER gets 403), reset password (a new one-time
//! password, its SIP digest hashes rotated), export CSV.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::Deserialize;

use super::auth::{Principal, Scope};
use super::error::{ApiError, ApiResult, J, Q};
use super::{now_ms, state};
use crate::api::ApiState;
use crate::auth::Credentials;
use crate::store::{UserPatch, UserQuery, ROLES};

#[derive(Deserialize)]
pub(super) struct ListParams {
    page: Option<u64>,
    limit: Option<u64>,
    search: Option<String>,
    role: Option<String>,
    enabled: Option<bool>,
}

impl ListParams {
    fn query(&self) -> ApiResult<UserQuery> {
        if let Some(r) = &self.role {
            if !ROLES.contains(&r.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "role `{r}`: use admin, team_leader or agent"
                )));
            }
        }
        Ok(UserQuery {
            search: self.search.clone().filter(|s| !s.is_empty()),
            role: self.role.clone(),
            enabled: self.enabled,
        })
    }
}

fn check_patch(p: &UserPatch) -> ApiResult<()> {
    if let Some(r) = &p.role {
        if !ROLES.contains(&r.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "role `{r}`: use admin, team_leader or agent"
            )));
        }
    }
    let long = |v: &Option<String>, n: usize| v.as_ref().is_some_and(|s| s.chars().count() > n);
    if long(&p.display_name, 100) || long(&p.leader, 64) {
        return Err(ApiError::unprocessable(
            "display_name: at most 100 characters, leader: at most 64",
        ));
    }
    if let Some(e) = &p.extension {
        if e.is_empty() || e.len() > 32 || !e.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::unprocessable("extension: 1 to 32 digits"));
        }
    }
    Ok(())
}

pub(super) async fn list(
    State(s): State<ApiState>,
    p: Principal,
    Q(params): Q<ListParams>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let page = params.page.unwrap_or(1);
    let limit = params.limit.unwrap_or(10);
    if page == 0 || page > 1_000_000 {
        return Err(ApiError::bad_request("page: 1 to 1000000"));
    }
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit: 1 to 500"));
    }
    let q = params.query()?;
    let v1 = state(&s)?.clone();
    let (items, total) = v1
        .db
        .run(move |st| st.user_profiles(&q, (page - 1) * limit, limit))
        .await?;
    Ok(Json(serde_json::json!({
        "items": items, "page": page, "limit": limit, "total": total,
    }))
    .into_response())
}

pub(super) async fn export(
    State(s): State<ApiState>,
    p: Principal,
    Q(params): Q<ListParams>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let q = params.query()?;
    let v1 = state(&s)?.clone();
    let csv = v1
        .db
        .run_api(move |st| {
            let (users, _) = st.user_profiles(&q, 0, u64::MAX >> 1)?;
            let io = |e: csv::Error| ApiError::internal(format!("csv: {e}"));
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "name",
                "realm",
                "display_name",
                "extension",
                "role",
                "leader",
                "enabled",
                "must_change_password",
            ])
            .map_err(io)?;
            for u in users {
                w.write_record([
                    u.name,
                    u.realm,
                    u.display_name.unwrap_or_default(),
                    u.extension.unwrap_or_default(),
                    u.role,
                    u.leader.unwrap_or_default(),
                    u.enabled.to_string(),
                    u.must_change_password.to_string(),
                ])
                .map_err(io)?;
            }
            w.into_inner()
                .map_err(|e| ApiError::internal(format!("csv: {e}")))
        })
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"users.csv\""),
        ],
        csv,
    )
        .into_response())
}

async fn one(s: &ApiState, name: String) -> ApiResult<Response> {
    let v1 = state(s)?.clone();
    let shown = name.clone();
    match v1.db.run(move |st| st.user_profile(&name)).await? {
        Some(u) => Ok(Json(u).into_response()),
        None => Err(ApiError::not_found(format!("no user {shown}"))),
    }
}

pub(super) async fn get_one(
    State(s): State<ApiState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    one(&s, name).await
}

async fn apply(s: &ApiState, names: Vec<String>, patch: UserPatch) -> ApiResult<Vec<String>> {
    let v1 = state(s)?.clone();
    v1.db
        .run(move |st| st.update_users(&names, &patch, now_ms()))
        .await
}

pub(super) async fn update(
    State(s): State<ApiState>,
    p: Principal,
    Path(name): Path<String>,
    J(patch): J<UserPatch>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    check_patch(&patch)?;
    if apply(&s, vec![name.clone()], patch).await?.is_empty() {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    one(&s, name).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchBody {
    names: Vec<String>,
    patch: UserPatch,
}

pub(super) async fn batch(
    State(s): State<ApiState>,
    p: Principal,
    J(body): J<BatchBody>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    check_patch(&body.patch)?;
    if body.names.is_empty() || body.names.len() > 1000 {
        return Err(ApiError::unprocessable("names: 1 to 1000 logins"));
    }
    let updated = apply(&s, body.names, body.patch).await?;
    Ok(Json(serde_json::json!({ "updated": updated })).into_response())
}

async fn set_enabled(s: &ApiState, p: &Principal, name: String, on: bool) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let patch = UserPatch {
        enabled: Some(on),
        ..UserPatch::default()
    };
    if apply(s, vec![name.clone()], patch).await?.is_empty() {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    one(s, name).await
}

pub(super) async fn disable(
    State(s): State<ApiState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    set_enabled(&s, &p, name, false).await
}

pub(super) async fn enable(
    State(s): State<ApiState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    set_enabled(&s, &p, name, true).await
}

/// A new password: 16 characters from an alphabet without look-alikes.
fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

pub(super) async fn reset_password(
    State(s): State<ApiState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    p.require(Scope::Admin)?;
    let v1 = state(&s)?.clone();
    let password = new_password();
    let (user, pw) = (name.clone(), password.clone());
    let done = v1
        .db
        .run(move |st| {
            let Some(realm) = st.user_realm(&user)? else {
                return Ok(false);
            };
            let creds = Credentials::from_password(&user, &realm, &pw);
            st.reset_credentials(&user, &creds, now_ms())
        })
        .await?;
    if !done {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    Ok(Json(serde_json::json!({
        "name": name,
        "password": password,
        "must_change_password": true,
    }))
    .into_response())
}
