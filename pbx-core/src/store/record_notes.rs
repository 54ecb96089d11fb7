//! What people add to a call record after the call (SPEC §12): notes, tags
//! (the tag report's source), the QA score and the supplementary entry
//! (customer id, ticket ids). Kept beside `cdr`, keyed by its call id, so
//! a record rewritten by the CDR writer keeps them.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cdr_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cdr_notes_call ON cdr_notes (call_id, id);
CREATE TABLE IF NOT EXISTS cdr_tags (
    call_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    at_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, tag)
);
CREATE INDEX IF NOT EXISTS cdr_tags_tag ON cdr_tags (tag, call_id);
CREATE TABLE IF NOT EXISTS cdr_extra (
    call_id TEXT PRIMARY KEY,
    qa_score INTEGER,
    qa_by TEXT,
    customer_id TEXT,
    ticket_ids TEXT NOT NULL DEFAULT '[]',
    updated_ms INTEGER NOT NULL
);
";

/// A note on a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Note id.
    pub id: i64,
    /// When written, Unix ms.
    pub at_ms: u64,
    /// Who wrote it (token name or agent).
    pub author: String,
    /// The text.
    pub text: String,
}

/// Everything added to one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Notes, oldest first.
    pub notes: Vec<Note>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// QA score (0–100).
    pub qa_score: Option<u32>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Ticket ids, in the order entered.
    pub ticket_ids: Vec<String>,
}

/// A supplementary entry: what to set (None leaves a field as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supplement {
    /// Customer id to set; `Some("")` clears it.
    pub customer_id: Option<String>,
    /// Ticket ids to set (replacing the list).
    pub ticket_ids: Option<Vec<String>>,
}

impl Store {
    /// Notes, tags, QA score and supplementary entry of a record.
    pub fn annotations(&self, call_id: &str) -> Result<Annotations, StoreError> {
        let err = |e| self.err(e);
        let mut a = Annotations::default();
        let mut notes = self
            .conn
            .prepare_cached(
                "SELECT id, at_ms, author, text FROM cdr_notes WHERE call_id = ?1 ORDER BY id",
            )
            .map_err(err)?;
        a.notes = notes
            .query_map([call_id], |r| {
                Ok(Note {
                    id: r.get(0)?,
                    at_ms: r.get::<_, i64>(1)? as u64,
                    author: r.get(2)?,
                    text: r.get(3)?,
                })
            })
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let mut tags = self
            .conn
            .prepare_cached("SELECT tag FROM cdr_tags WHERE call_id = ?1 ORDER BY tag")
            .map_err(err)?;
        a.tags = tags
            .query_map([call_id], |r| r.get(0))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let extra = self
            .conn
            .prepare_cached(
                "SELECT qa_score, customer_id, ticket_ids FROM cdr_extra WHERE call_id = ?1",
            )
            .map_err(err)?
            .query_row([call_id], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
            .map_err(err)?;
        if let Some((qa, customer, tickets)) = extra {
            a.qa_score = qa.and_then(|v| u32::try_from(v).ok());
            a.customer_id = customer;
            a.ticket_ids = serde_json::from_str(&tickets).unwrap_or_default();
        }
        Ok(a)
    }

    /// Adds a note; returns it.
    pub fn add_note(
        &self,
        call_id: &str,
        author: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<Note, StoreError> {
        self.conn
            .execute(
                "INSERT INTO cdr_notes (call_id, at_ms, author, text) VALUES (?1, ?2, ?3, ?4)",
                params![call_id, now_ms as i64, author, text],
            )
            .map_err(|e| self.err(e))?;
        Ok(Note {
            id: self.conn.last_insert_rowid(),
            at_ms: now_ms,
            author: author.to_owned(),
            text: text.to_owned(),
        })
    }

    /// Adds tags (already present ones stay) and removes others.
    pub fn change_tags(
        &mut self,
        call_id: &str,
        add: &[String],
        remove: &[String],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for t in add {
            tx.execute(
                "INSERT OR IGNORE INTO cdr_tags (call_id, tag, at_ms) VALUES (?1, ?2, ?3)",
                params![call_id, t, now_ms as i64],
            )
            .map_err(wrap)?;
        }
        for t in remove {
            tx.execute(
                "DELETE FROM cdr_tags WHERE call_id = ?1 AND tag = ?2",
                params![call_id, t],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Sets the QA score (0–100) given by `by`.
    pub fn set_qa_score(
        &self,
        call_id: &str,
        score: u32,
        by: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO cdr_extra (call_id, qa_score, qa_by, updated_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(call_id) DO UPDATE SET qa_score = excluded.qa_score, \
                 qa_by = excluded.qa_by, updated_ms = excluded.updated_ms",
                params![call_id, i64::from(score), by, now_ms as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Applies a supplementary entry.
    pub fn supplement(&self, call_id: &str, s: &Supplement, now_ms: u64) -> Result<(), StoreError> {
        let tickets = s
            .ticket_ids
            .as_ref()
            .map(|t| serde_json::Value::from(t.clone()).to_string());
        let customer = s
            .customer_id
            .as_ref()
            .map(|c| (!c.is_empty()).then(|| c.clone()));
        self.conn
            .execute(
                "INSERT INTO cdr_extra (call_id, customer_id, ticket_ids, updated_ms) \
                 VALUES (?1, ?2, COALESCE(?3, '[]'), ?4) \
                 ON CONFLICT(call_id) DO UPDATE SET \
                 customer_id = CASE WHEN ?5 THEN excluded.customer_id ELSE customer_id END, \
                 ticket_ids = COALESCE(?3, ticket_ids), updated_ms = excluded.updated_ms",
                params![
                    call_id,
                    customer.clone().flatten(),
                    tickets,
                    now_ms as i64,
                    customer.is_some()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
