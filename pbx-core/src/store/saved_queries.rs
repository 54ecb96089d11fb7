//! Saved quick queries of the call records (SPEC §12): a name and the
//! exact [`RecordFilter`] (as JSON), per owner (the token's agent, or its
//! name for tokens without one). Running one re-applies identical filters.

use rusqlite::{params, OptionalExtension};

use super::records::RecordFilter;
use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS saved_queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    filter TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (owner, name)
);
";

/// A saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub owner: String,
    /// Name, unique per owner.
    pub name: String,
    /// The filters.
    pub filter: RecordFilter,
    /// When saved, Unix ms.
    pub created_ms: u64,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SavedQuery> {
    let json: String = r.get(3)?;
    let filter = serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(SavedQuery {
        id: r.get(0)?,
        owner: r.get(1)?,
        name: r.get(2)?,
        filter,
        created_ms: r.get::<_, i64>(4)? as u64,
    })
}

impl Store {
    /// Saves (or replaces, by owner and name) a query; returns it.
    pub fn save_query(
        &self,
        owner: &str,
        name: &str,
        filter: &RecordFilter,
        now_ms: u64,
    ) -> Result<SavedQuery, StoreError> {
        let json = serde_json::to_string(filter)
            .map_err(|e| self.err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        self.conn
            .execute(
                "INSERT INTO saved_queries (owner, name, filter, created_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(owner, name) DO UPDATE SET filter = excluded.filter, \
                 created_ms = excluded.created_ms",
                params![owner, name, json, now_ms as i64],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row(
                "SELECT id, owner, name, filter, created_ms FROM saved_queries WHERE owner = ?1 AND name = ?2",
                params![owner, name],
                row,
            )
            .map_err(|e| self.err(e))
    }

    /// The owner's saved queries, by name.
    pub fn saved_queries(&self, owner: &str) -> Result<Vec<SavedQuery>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, owner, name, filter, created_ms FROM saved_queries WHERE owner = ?1 ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([owner], row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One of the owner's saved queries.
    pub fn saved_query(&self, owner: &str, id: i64) -> Result<Option<SavedQuery>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, owner, name, filter, created_ms FROM saved_queries WHERE owner = ?1 AND id = ?2",
                params![owner, id],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Deletes one of the owner's saved queries; returns whether it existed.
    pub fn delete_saved_query(&self, owner: &str, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM saved_queries WHERE owner = ?1 AND id = ?2",
                params![owner, id],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}
