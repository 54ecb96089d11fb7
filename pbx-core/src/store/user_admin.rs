//! The administration side of users (SPEC §16): a `user_profiles` row per
//! user of the `users` table (display name, extension, role, team leader,
//! enabled, must-change-password), listed a page at a time (default 10
//! rows). Users without a profile row show the defaults (enabled agent).
//! Every change also touches the user's `users` row, so the running server
//! (which polls `users_version`) re-reads its directory, disabled flags
//! included.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::auth::Credentials;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS user_profiles (
    name TEXT PRIMARY KEY,
    display_name TEXT,
    extension TEXT,
    role TEXT NOT NULL DEFAULT 'agent',
    leader TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS user_profiles_role ON user_profiles (role, name);
";

/// A user as administered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserProfile {
    /// Login (the SIP user name; also the agent id).
    pub name: String,
    /// Realm of the SIP credentials.
    pub realm: String,
    /// Shown name.
    pub display_name: Option<String>,
    /// Extension (defaults to the login).
    pub extension: Option<String>,
    /// `admin`, `team_leader` or `agent`.
    pub role: String,
    /// Team leader's login.
    pub leader: Option<String>,
    /// Enabled (a disabled user's REGISTER is refused).
    pub enabled: bool,
    /// Must change the password at next login (after a reset).
    pub must_change_password: bool,
}

/// Fields to change (None: keep).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New extension.
    pub extension: Option<String>,
    /// New role.
    pub role: Option<String>,
    /// New team leader.
    pub leader: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// Filters of the user list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Login or display name contains.
    pub search: Option<String>,
    /// Role equals.
    pub role: Option<String>,
    /// Enabled or disabled only.
    pub enabled: Option<bool>,
}

/// The roles of SPEC §3 Agent.
pub const ROLES: [&str; 3] = ["admin", "team_leader", "agent"];

const SELECT: &str = "SELECT u.name, u.realm, p.display_name, p.extension, \
    COALESCE(p.role, 'agent'), p.leader, COALESCE(p.enabled, 1), COALESCE(p.must_change_password, 0) \
    FROM users u LEFT JOIN user_profiles p ON p.name = u.name";

fn profile(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserProfile> {
    Ok(UserProfile {
        name: r.get(0)?,
        realm: r.get(1)?,
        display_name: r.get(2)?,
        extension: r.get(3)?,
        role: r.get(4)?,
        leader: r.get(5)?,
        enabled: r.get::<_, i64>(6)? != 0,
        must_change_password: r.get::<_, i64>(7)? != 0,
    })
}

fn user_where(q: &UserQuery) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1=1");
    let mut args = Vec::new();
    if let Some(s) = &q.search {
        let like = format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        sql.push_str(
            " AND (u.name LIKE ? ESCAPE '\\' OR COALESCE(p.display_name, '') LIKE ? ESCAPE '\\')",
        );
        args.extend([Value::Text(like.clone()), Value::Text(like)]);
    }
    if let Some(r) = &q.role {
        sql.push_str(" AND COALESCE(p.role, 'agent') = ?");
        args.push(Value::Text(r.clone()));
    }
    if let Some(e) = q.enabled {
        sql.push_str(" AND COALESCE(p.enabled, 1) = ?");
        args.push(Value::Integer(i64::from(e)));
    }
    (sql, args)
}

impl Store {
    /// A page of users (by login) and how many match in all.
    pub fn user_profiles(
        &self,
        q: &UserQuery,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<UserProfile>, u64), StoreError> {
        let (w, args) = user_where(q);
        let total: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM users u LEFT JOIN user_profiles p ON p.name = u.name{w}"
                ),
                params_from_iter(args.clone()),
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "{SELECT}{w} ORDER BY u.name LIMIT {} OFFSET {}",
                limit.min(i64::MAX as u64),
                offset.min(i64::MAX as u64)
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args), profile)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok((rows, total as u64))
    }

    /// One user.
    pub fn user_profile(&self, name: &str) -> Result<Option<UserProfile>, StoreError> {
        self.conn
            .query_row(&format!("{SELECT} WHERE u.name = ?1"), [name], profile)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Applies `patch` to each of `names` in one transaction; returns the
    /// logins changed (unknown ones are skipped).
    pub fn update_users(
        &mut self,
        names: &[String],
        patch: &UserPatch,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut changed = Vec::new();
        for name in names {
            let n = tx
                .execute(
                    "UPDATE users SET updated_at = ?2 WHERE name = ?1",
                    params![name, (now_ms / 1000) as i64],
                )
                .map_err(wrap)?;
            if n == 0 {
                continue;
            }
            tx.execute(
                "INSERT INTO user_profiles (name, display_name, extension, role, leader, enabled, updated_ms) \
                 VALUES (?1, ?2, ?3, COALESCE(?4, 'agent'), ?5, COALESCE(?6, 1), ?7) \
                 ON CONFLICT(name) DO UPDATE SET \
                 display_name = COALESCE(?2, display_name), extension = COALESCE(?3, extension), \
                 role = COALESCE(?4, role), leader = COALESCE(?5, leader), \
                 enabled = COALESCE(?6, enabled), updated_ms = ?7",
                params![
                    name,
                    patch.display_name,
                    patch.extension,
                    patch.role,
                    patch.leader,
                    patch.enabled.map(i64::from),
                    now_ms as i64
                ],
            )
            .map_err(wrap)?;
            changed.push(name.clone());
        }
        tx.commit().map_err(wrap)?;
        Ok(changed)
    }

    /// Replaces a user's SIP credentials with `creds` (a password reset)
    /// and marks the password for change at next login. False: no such
    /// user.
    pub fn reset_credentials(
        &mut self,
        name: &str,
        creds: &Credentials,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let n = tx
            .execute(
                "UPDATE users SET ha1_md5 = ?2, ha1_sha256 = ?3, updated_at = ?4 WHERE name = ?1",
                params![
                    name,
                    creds.ha1_md5,
                    creds.ha1_sha256,
                    (now_ms / 1000) as i64
                ],
            )
            .map_err(wrap)?;
        if n > 0 {
            tx.execute(
                "INSERT INTO user_profiles (name, must_change_password, updated_ms) VALUES (?1, 1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET must_change_password = 1, updated_ms = ?2",
                params![name, now_ms as i64],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        Ok(n > 0)
    }

    /// Logins of disabled users (the registrar refuses their REGISTER).
    pub fn disabled_users(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM user_profiles WHERE enabled = 0 ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
