//! The API's store connections: a few open [`Store`]s reused across
//! requests, each request's queries run on tokio's blocking pool (SQLite
//! blocks) with one checked-out connection.

use std::path::PathBuf;

use parking_lot::Mutex;

use super::error::ApiError;
use crate::store::{Store, StoreError};

/// Idle connections kept (more may be open at once under load).
const KEEP: usize = 8;

pub(crate) struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Db {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a connection off the async threads.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_api(move |s| f(s).map_err(ApiError::from)).await
    }

    /// [`Self::run`] for work that fails with API errors too.
    pub(crate) async fn run_api<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.idle.lock().pop();
        let path = self.path.clone();
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let mut conn = match conn {
                Some(c) => c,
                None => Store::open(&path)?,
            };
            let out = f(&mut conn);
            Ok::<_, ApiError>((conn, out))
        })
        .await
        .map_err(|e| ApiError::internal(format!("store task: {e}")))??;
        let mut idle = self.idle.lock();
        if idle.len() < KEEP {
            idle.push(conn);
        }
        out
    }
}
