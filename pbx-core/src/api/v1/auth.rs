//! Who is asking: `Authorization: Bearer TOKEN` resolved to a
//! [`Principal`] before any `/api/v1` route runs. The server's admin token
//! ([`crate::admin_token`]) has every scope; an API token (`pbx tokens
//! create`) has the scopes it was made with and may act as one agent. No
//! token, or one that is unknown or revoked: 401. A route that wants a
//! scope the token lacks: 403.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::V1;
use crate::api::ApiState;

/// A token scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// Read records, agents, queues, events.
    Read,
    /// Act on calls: click-to-call, callback, hang up; annotate records.
    Calls,
    /// Change agents' states.
    Agents,
    /// Administer users and tokens, see every agent's data, QA scores.
    Admin,
    /// See phone numbers unmasked.
    Numbers,
}

impl Scope {
    /// Every scope.
    pub(crate) const ALL: [Self; 5] = [
        Self::Read,
        Self::Calls,
        Self::Agents,
        Self::Admin,
        Self::Numbers,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Calls => "calls",
            Self::Agents => "agents",
            Self::Admin => "admin",
            Self::Numbers => "numbers",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Parses `read,calls,...` (the CLI's `--scope`); an unknown name is an
/// error naming the valid ones.
pub fn parse_scopes(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if Scope::parse(s).is_none() {
            return Err(format!(
                "unknown scope `{s}`: use read, calls, agents, admin, numbers"
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    if out.is_empty() {
        return Err("give at least one scope (read, calls, agents, admin, numbers)".into());
    }
    Ok(out)
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// Token name (`admin` for the admin token).
    pub(crate) name: String,
    scopes: Vec<Scope>,
    /// The agent the token acts as.
    pub(crate) agent: Option<String>,
}

impl Principal {
    fn admin() -> Self {
        Self {
            name: "admin".into(),
            scopes: Scope::ALL.to_vec(),
            agent: None,
        }
    }

    pub(crate) fn has(&self, s: Scope) -> bool {
        self.scopes.contains(&s)
    }

    /// 403 unless the token has `s`.
    pub(crate) fn require(&self, s: Scope) -> Result<(), ApiError> {
        if self.has(s) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token `{}` lacks the `{}` scope",
                self.name,
                s.as_str()
            )))
        }
    }

    /// Numbers are masked for this caller.
    pub(crate) fn masks(&self) -> bool {
        !self.has(Scope::Numbers)
    }

    /// Whether the caller's data scope is one agent (an agent token
    /// without `admin`): then it sees only that agent's data (SPEC §2).
    pub(crate) fn own_agent(&self) -> Option<&str> {
        if self.has(Scope::Admin) {
            None
        } else {
            self.agent.as_deref()
        }
    }

    /// Owner key of saved queries.
    pub(crate) fn owner(&self) -> String {
        match &self.agent {
            Some(a) => format!("agent:{a}"),
            None => format!("token:{}", self.name),
        }
    }
}

#[axum::async_trait]
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| ApiError::internal("route outside the token check"))
    }
}

fn unauthorized(message: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// The middleware: resolves the bearer token, or answers 401.
pub(crate) async fn authenticate(
    State(s): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(v1) = s.v1.clone() else {
        return ApiError::unavailable("the API has no store").into_response();
    };
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(given) = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return unauthorized("send `Authorization: Bearer TOKEN` (a `pbx tokens create` token)");
    };
    let principal = if crate::admin_token::authorizes(&s.admin.token, header) {
        Principal::admin()
    } else {
        match lookup(&v1, given).await {
            Ok(Some(p)) => p,
            Ok(None) => return unauthorized("unknown or revoked token"),
            Err(e) => return e.into_response(),
        }
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn lookup(v1: &Arc<V1>, secret: &str) -> Result<Option<Principal>, ApiError> {
    if !secret.starts_with(crate::store::TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let secret = secret.to_owned();
    let row = v1.db.run(move |s| s.token_by_secret(&secret)).await?;
    Ok(row.map(|t| Principal {
        name: t.name,
        scopes: t.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        agent: t.agent,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse() {
        assert_eq!(
            parse_scopes("read, calls,read").unwrap(),
            vec!["read".to_owned(), "calls".to_owned()]
        );
        assert!(parse_scopes("read,root").unwrap_err().contains("root"));
        assert!(parse_scopes("").is_err());
    }
}
