//! The SQLite store: users (HA1 hashes only) and registration bindings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::auth::Credentials;
use crate::registrar::Binding;
use crate::registrar::BindingChange;

/// A store error, with the database file it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {dir}: {source}")]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
}

/// A user as listed by `pbx users list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// User name.
    pub name: String,
    /// Realm its HA1 hashes were computed for.
    pub realm: String,
}

/// One open database.
pub struct Store {
    pub(super) conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bindings (
    aor TEXT NOT NULL,
    binding_key TEXT NOT NULL,
    contact TEXT NOT NULL,
    uri TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    q INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    path TEXT NOT NULL,
    instance TEXT,
    reg_id INTEGER,
    source TEXT NOT NULL,
    user_agent TEXT,
    PRIMARY KEY (aor, binding_key)
);
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    users_version INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (id, users_version) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS users_ins AFTER INSERT ON users BEGIN UPDATE meta SET users_version = users_version + 1; END;
CREATE TRIGGER IF NOT EXISTS users_upd AFTER UPDATE ON users BEGIN UPDATE meta SET users_version = users_version + 1; END;
CREATE TRIGGER IF NOT EXISTS users_del AFTER DELETE ON users BEGIN UPDATE meta SET users_version = users_version + 1; END;
";

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                dir: dir.to_owned(),
                source,
            })?;
        }
        let wrap = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(wrap)?;
        // WAL + synchronous=NORMAL: committed transactions survive a process crash (kill -9).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        conn.execute_batch(super::cdr::SCHEMA).map_err(wrap)?;
        super::cdr::migrate(&conn).map_err(wrap)?;
        conn.execute_batch(super::trajectory::SCHEMA)
            .map_err(wrap)?;
        conn.execute_batch(super::outbox::SCHEMA).map_err(wrap)?;
        conn.execute_batch(super::queue_events::SCHEMA)
            .map_err(wrap)?;
        for schema in super::API_SCHEMAS {
            conn.execute_batch(schema).map_err(wrap)?;
        }
        conn.execute_batch(super::missed_callbacks::SCHEMA)
            .map_err(wrap)?;
        conn.execute_batch(super::webhooks::SCHEMA).map_err(wrap)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub(super) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A counter bumped (by triggers) on every change to the users table: the
    /// server polls it to pick up `pbx users add` while running.
    pub fn users_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT users_version FROM meta WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Adds or replaces users (one transaction). Returns how many were written.
    pub fn upsert_users(
        &mut self,
        realm: &str,
        users: &[(String, Credentials)],
        now_secs: u64,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO users (name, realm, ha1_md5, ha1_sha256, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(name) DO UPDATE SET realm = excluded.realm, ha1_md5 = excluded.ha1_md5,
                     ha1_sha256 = excluded.ha1_sha256, updated_at = excluded.updated_at",
                )
                .map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
            for (name, c) in users {
                stmt.execute(params![
                    name,
                    realm,
                    c.ha1_md5,
                    c.ha1_sha256,
                    now_secs as i64
                ])
                .map_err(|e| StoreError::Sqlite {
                    path: self.path.clone(),
                    source: e,
                })?;
            }
        }
        tx.commit().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(users.len())
    }

    /// Removes a user; returns whether it existed.
    pub fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// All users, by name.
    pub fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, realm FROM users ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(UserRow {
                    name: r.get(0)?,
                    realm: r.get(1)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Users whose hashes were made for `realm` (others cannot authenticate here).
    pub fn load_users(&self, realm: &str) -> Result<HashMap<String, Arc<Credentials>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, ha1_md5, ha1_sha256 FROM users WHERE realm = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([realm], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Arc::new(Credentials {
                        ha1_md5: r.get(1)?,
                        ha1_sha256: r.get(2)?,
                    }),
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Users stored for another realm (reported at start-up).
    pub fn count_users_of_other_realms(&self, realm: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM users WHERE realm <> ?1",
                [realm],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Applies binding changes in one transaction.
    pub fn apply(&mut self, changes: &[BindingChange]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO bindings (aor, binding_key, contact, uri, expires_at, q, call_id, cseq, path,
                     instance, reg_id, source, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(wrap)?;
            let mut remove = tx
                .prepare_cached("DELETE FROM bindings WHERE aor = ?1 AND binding_key = ?2")
                .map_err(wrap)?;
            let mut expire = tx
                .prepare_cached("DELETE FROM bindings WHERE expires_at <= ?1")
                .map_err(wrap)?;
            for change in changes {
                match change {
                    BindingChange::Upsert(b) => {
                        upsert
                            .execute(params![
                                b.aor,
                                b.key,
                                b.contact,
                                b.uri,
                                b.expires_at as i64,
                                b.q,
                                b.call_id,
                                b.cseq,
                                b.path.join("\n"),
                                b.instance,
                                b.reg_id,
                                b.source_text(),
                                b.user_agent,
                            ])
                            .map_err(wrap)?;
                    }
                    BindingChange::Remove { aor, key } => {
                        remove.execute(params![aor, key]).map_err(wrap)?;
                    }
                    BindingChange::ExpireBefore(now) => {
                        expire.execute(params![*now as i64]).map_err(wrap)?;
                    }
                }
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Bindings still valid at `now_secs`, ordered by AOR.
    pub fn load_bindings(&self, now_secs: u64) -> Result<Vec<Binding>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT aor, binding_key, contact, uri, expires_at, q, call_id, cseq, path, instance, reg_id, source,
                 user_agent FROM bindings WHERE expires_at > ?1 ORDER BY aor, q DESC, binding_key",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([now_secs as i64], |r| {
                let path: String = r.get(8)?;
                let source: String = r.get(11)?;
                Ok((
                    Binding {
                        aor: r.get(0)?,
                        key: r.get(1)?,
                        contact: r.get(2)?,
                        uri: r.get(3)?,
                        expires_at: r.get::<_, i64>(4)? as u64,
                        q: r.get(5)?,
                        call_id: r.get(6)?,
                        cseq: r.get(7)?,
                        path: if path.is_empty() {
                            Vec::new()
                        } else {
                            path.split('\n').map(str::to_owned).collect()
                        },
                        instance: r.get(9)?,
                        reg_id: r.get(10)?,
                        source: sip_stack::Peer::udp(([0, 0, 0, 0], 0).into()),
                        user_agent: r.get(12)?,
                    },
                    source,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (mut b, source) = row.map_err(|e| self.err(e))?;
            if let Some(peer) = Binding::parse_source(&source) {
                b.source = peer;
            }
            out.push(b);
        }
        Ok(out)
    }

    /// Looks one user up (admin use).
    pub fn user_realm(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT realm FROM users WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_stack::Peer;

    fn binding(aor: &str, key: &str, expires_at: u64) -> Binding {
        Binding {
            aor: aor.into(),
            key: key.into(),
            contact: format!("<{key}>"),
            uri: key.into(),
            expires_at,
            q: 500,
            call_id: "c1".into(),
            cseq: 7,
            path: vec!["<sip:edge.example.com;lr>".into()],
            instance: Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>".into()),
            reg_id: Some(1),
            source: Peer::udp("127.0.0.1:5070".parse().unwrap()),
            user_agent: Some("test".into()),
        }
    }

    #[test]
    fn users_and_bindings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("sub/pbx.sqlite")).unwrap();
        let creds = Credentials::from_password("1001", "r", "pw");
        s.upsert_users("r", &[("1001".into(), creds.clone())], 1)
            .unwrap();
        assert_eq!(
            s.list_users().unwrap(),
            vec![UserRow {
                name: "1001".into(),
                realm: "r".into()
            }]
        );
        assert_eq!(s.load_users("r").unwrap()["1001"].as_ref(), &creds);
        assert!(s.load_users("other").unwrap().is_empty());

        let b1 = binding("1001@r", "sip:1001@127.0.0.1:5070", 2000);
        let b2 = binding("1001@r", "sip:1001@127.0.0.1:5071", 500);
        s.apply(&[BindingChange::Upsert(b1.clone()), BindingChange::Upsert(b2)])
            .unwrap();
        assert_eq!(
            s.load_bindings(1000).unwrap(),
            vec![b1.clone()],
            "expired binding not loaded"
        );
        s.apply(&[BindingChange::ExpireBefore(1000)]).unwrap();
        s.apply(&[BindingChange::Remove {
            aor: b1.aor.clone(),
            key: b1.key.clone(),
        }])
        .unwrap();
        assert!(s.load_bindings(0).unwrap().is_empty());
    }
}
