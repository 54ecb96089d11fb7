//! API tokens of `/api/v1`: created by `pbx tokens create`, shown once,
//! stored only as their SHA-256 (hex) with a name, scopes and an optional
//! agent the token acts as. A revoked token stays listed (with when) but no
//! longer authorizes.

use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    agent TEXT,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
";

/// The prefix of every token (so a leaked one is recognisable in logs and
/// by secret scanners).
pub const TOKEN_PREFIX: &str = "pbx_";

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Row id.
    pub id: i64,
    /// Unique name (`crm`, `wallboard`, ...).
    pub name: String,
    /// Scope names, comma-separated as given (`read,calls`).
    pub scopes: Vec<String>,
    /// The agent (user name) the token acts as, if any.
    pub agent: Option<String>,
    /// When created (Unix ms).
    pub created_ms: u64,
    /// When revoked (Unix ms).
    pub revoked_ms: Option<u64>,
}

/// The SHA-256 of a token's secret, as stored (lowercase hex).
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let scopes: String = r.get(2)?;
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        agent: r.get(3)?,
        created_ms: r.get::<_, i64>(4)? as u64,
        revoked_ms: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
    })
}

const COLUMNS: &str = "id, name, scopes, agent, created_ms, revoked_ms";

impl Store {
    /// Creates a token; returns its row and the secret (`pbx_` + 64 hex
    /// digits), which is stored only hashed. A taken name is an error
    /// (SQLite's UNIQUE constraint).
    pub fn create_token(
        &self,
        name: &str,
        scopes: &[String],
        agent: Option<&str>,
        now_ms: u64,
    ) -> Result<(TokenRow, String), StoreError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        self.conn
            .execute(
                "INSERT INTO api_tokens (name, sha256, scopes, agent, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, token_hash(&secret), scopes.join(","), agent, now_ms as i64],
            )
            .map_err(|e| self.err(e))?;
        let id = self.conn.last_insert_rowid();
        let row = TokenRow {
            id,
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            agent: agent.map(str::to_owned),
            created_ms: now_ms,
            revoked_ms: None,
        };
        Ok((row, secret))
    }

    /// Every token, revoked ones too, by id.
    pub fn list_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Revokes the token named `name` (or with that id); returns whether a
    /// live token was revoked.
    pub fn revoke_token(&self, name_or_id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE api_tokens SET revoked_ms = ?2 WHERE (name = ?1 OR CAST(id AS TEXT) = ?1) \
                 AND revoked_ms IS NULL",
                params![name_or_id, now_ms as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// The live (not revoked) token whose secret is `secret`.
    pub fn token_by_secret(&self, secret: &str) -> Result<Option<TokenRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE sha256 = ?1 AND revoked_ms IS NULL"
            ))
            .and_then(|mut s| s.query_row([token_hash(secret)], row).optional())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_hashed_found_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("pbx.sqlite")).unwrap();
        let scopes = vec!["read".to_owned(), "calls".to_owned()];
        let (row, secret) = store.create_token("crm", &scopes, Some("1001"), 5).unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == 68);
        let stored: String = store
            .conn
            .query_row("SELECT sha256 FROM api_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, token_hash(&secret), "only the hash is kept");
        assert!(!stored.contains(&secret[4..]));
        assert_eq!(store.token_by_secret(&secret).unwrap(), Some(row.clone()));
        assert_eq!(store.token_by_secret("pbx_00").unwrap(), None);
        assert!(
            store.create_token("crm", &scopes, None, 6).is_err(),
            "names are unique"
        );
        assert!(store.revoke_token("crm", 9).unwrap());
        assert!(!store.revoke_token("crm", 10).unwrap(), "already revoked");
        assert_eq!(store.token_by_secret(&secret).unwrap(), None);
        let listed = store.list_tokens().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_ms, Some(9));
        assert_eq!(listed[0].scopes, scopes);
    }
}
