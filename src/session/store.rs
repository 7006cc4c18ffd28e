//! Session rows in SQL, and the concurrency limit enforced under a lock so that two racing
//! creates can never exceed it.

use crate::env::{Env, UnixTime};
use crate::error::{LimitScope, Result, SessionError};
use crate::lock::Mutex;
use crate::store::{Row, Statement, StoreError, Value};

/// How long a new session waits for the limit's lock, and how long a crashed holder keeps it:
/// the wait outlasts the lock, so after a crash the next login waits it out instead of failing.
const LOCK_WAIT_MS: u64 = 12_000;
const LOCK_TTL_MS: u64 = 10_000;

/// What to do when a new session would exceed a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Fail with [`SessionError::LimitReached`] (plantdb's behaviour).
    #[default]
    Refuse,
    /// End the oldest sessions to make room.
    EvictOldest,
}

/// Concurrency limits of a session manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionLimits {
    pub per_user: Option<u32>,
    pub global: Option<u32>,
    pub when_full: WhenFull,
}

/// One session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRow {
    /// The hashed session id, or the access token's `jti`.
    pub id: String,
    pub username: String,
    pub created: UnixTime,
    pub last_access: UnixTime,
    pub expires: UnixTime,
}

/// The sessions of one manager (its namespace in the shared table).
pub(crate) struct SessionTable<'a> {
    pub env: &'a Env,
    pub manager: &'a str,
}

const COLUMNS: &str = "id, username, created, last_access, expires";

impl SessionTable<'_> {
    /// Inserts `row` (with `extra` statements in the same batch) within `limits`, evicting the
    /// oldest sessions if the policy says so (with the statements `cascade` gives for them, in
    /// the same batch). The KV entries `kv_key` names for the evicted are deleted before the
    /// batch, so a crash between the two never leaves an evicted session usable on the fast path,
    /// and again after it, so a marker that a concurrent writer put back in between is gone too.
    /// Returns the ids evicted.
    pub(crate) async fn insert_limited(
        &self,
        row: &SessionRow,
        sealed_id: Option<Vec<u8>>,
        extra: Vec<Statement>,
        limits: &SessionLimits,
        cascade: &dyn Fn(&[String]) -> Vec<Statement>,
        kv_key: Option<&dyn Fn(&str) -> String>,
    ) -> Result<Vec<String>> {
        let lock_name = match limits.global {
            Some(_) => format!("session-limit:{}", self.manager),
            None => format!("session-limit:{}:{}", self.manager, row.username),
        };
        let mutex = Mutex {
            sql: &*self.env.sql,
            clock: &*self.env.clock,
            rng: &*self.env.rng,
            name: lock_name,
            max_wait_ms: LOCK_WAIT_MS,
            ttl_ms: LOCK_TTL_MS,
        };
        let guard = mutex.acquire().await?;
        let result = self.insert_locked(row, sealed_id, extra, limits, cascade, kv_key).await;
        let released = mutex.release(guard).await;
        let evicted = result?;
        released?;
        Ok(evicted)
    }

    async fn insert_locked(
        &self,
        row: &SessionRow,
        sealed_id: Option<Vec<u8>>,
        extra: Vec<Statement>,
        limits: &SessionLimits,
        cascade: &dyn Fn(&[String]) -> Vec<Statement>,
        kv_key: Option<&dyn Fn(&str) -> String>,
    ) -> Result<Vec<String>> {
        let now = row.created;
        let mut evict: Vec<String> = Vec::new();
        for (scope, limit) in [(LimitScope::User, limits.per_user), (LimitScope::Global, limits.global)] {
            let Some(limit) = limit else { continue };
            let username = (scope == LimitScope::User).then_some(row.username.as_str());
            let active = self.active_ids(username, now).await?;
            let live: Vec<&String> = active.iter().filter(|id| !evict.contains(id)).collect();
            if live.len() < limit as usize {
                continue;
            }
            if limits.when_full == WhenFull::Refuse || limit == 0 {
                return Err(SessionError::LimitReached { scope, limit }.into());
            }
            let excess = live.len() + 1 - limit as usize;
            evict.extend(live.into_iter().take(excess).cloned());
        }
        if let Some(kv_key) = kv_key {
            for id in &evict {
                self.env.kv.delete(&kv_key(id)).await?;
            }
        }
        let mut batch = Vec::new();
        if !evict.is_empty() {
            batch.push(self.delete_statement(&evict));
            batch.extend(cascade(&evict));
        }
        batch.push(Statement::new(
            "INSERT INTO session (id, manager, username, sealed_id, created, last_access, expires) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                row.id.as_str().into(),
                self.manager.into(),
                row.username.as_str().into(),
                sealed_id.map_or(Value::Null, Value::Blob),
                row.created.into(),
                row.last_access.into(),
                row.expires.into(),
            ],
        ));
        batch.extend(extra);
        self.env.sql.batch(&batch).await?;
        if let Some(kv_key) = kv_key {
            for id in &evict {
                self.env.kv.delete(&kv_key(id)).await?;
            }
        }
        Ok(evict)
    }

    /// Active session ids, oldest first, of one user or of everyone.
    async fn active_ids(&self, username: Option<&str>, now: UnixTime) -> Result<Vec<String>, StoreError> {
        let mut sql = String::from("SELECT id FROM session WHERE manager = ? AND expires > ?");
        let mut params: Vec<Value> = vec![self.manager.into(), now.into()];
        if let Some(username) = username {
            sql.push_str(" AND username = ?");
            params.push(username.into());
        }
        sql.push_str(" ORDER BY created, last_access, id");
        let result = self.env.sql.execute(&sql, &params).await?;
        Ok(result.first_texts())
    }

    pub(crate) fn delete_statement(&self, ids: &[String]) -> Statement {
        let placeholders = vec!["?"; ids.len()].join(", ");
        let mut params: Vec<Value> = vec![self.manager.into()];
        params.extend(ids.iter().map(|id| Value::from(id.as_str())));
        Statement::new(format!("DELETE FROM session WHERE manager = ? AND id IN ({placeholders})"), params)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                &format!("SELECT {COLUMNS} FROM session WHERE manager = ? AND id = ?"),
                &[self.manager.into(), id.into()],
            )
            .await?;
        Ok(result.rows.first().and_then(row_of))
    }

    /// Records an access to a live session; returns whether it was live.
    pub(crate) async fn touch(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                "UPDATE session SET last_access = ? WHERE manager = ? AND id = ? AND expires > ? RETURNING id",
                &[now.into(), self.manager.into(), id.into(), now.into()],
            )
            .await?;
        Ok(!result.rows.is_empty())
    }

    /// Deletes a session; returns its username if it existed.
    pub(crate) async fn delete(&self, id: &str) -> Result<Option<String>, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                "DELETE FROM session WHERE manager = ? AND id = ? RETURNING username",
                &[self.manager.into(), id.into()],
            )
            .await?;
        Ok(result.scalar().and_then(Value::as_str).map(str::to_owned))
    }

    /// Deletes expired sessions; returns their ids.
    pub(crate) async fn delete_expired(&self, now: UnixTime) -> Result<Vec<String>, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                "DELETE FROM session WHERE manager = ? AND expires <= ? RETURNING id",
                &[self.manager.into(), now.into()],
            )
            .await?;
        Ok(result.first_texts())
    }

    pub(crate) async fn count_active(&self, now: UnixTime) -> Result<u64, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                "SELECT COUNT(*) FROM session WHERE manager = ? AND expires > ?",
                &[self.manager.into(), now.into()],
            )
            .await?;
        let count = result.scalar().and_then(Value::as_i64).unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The newest live session of `username`: its id and sealed id, if any.
    pub(crate) async fn newest_for(
        &self,
        username: &str,
        now: UnixTime,
    ) -> Result<Option<(String, Option<Vec<u8>>)>, StoreError> {
        let result = self
            .env
            .sql
            .execute(
                "SELECT id, sealed_id FROM session WHERE manager = ? AND username = ? AND expires > ? \
                 ORDER BY created DESC, id LIMIT 1",
                &[self.manager.into(), username.into(), now.into()],
            )
            .await?;
        Ok(result.rows.first().and_then(|r| {
            let id = r.values.first()?.as_str()?.to_owned();
            let sealed = match r.values.get(1) {
                Some(Value::Blob(b)) => Some(b.clone()),
                _ => None,
            };
            Some((id, sealed))
        }))
    }
}

fn row_of(row: &Row) -> Option<SessionRow> {
    let v = &row.values;
    Some(SessionRow {
        id: v.first()?.as_str()?.to_owned(),
        username: v.get(1)?.as_str()?.to_owned(),
        created: v.get(2)?.as_i64()?,
        last_access: v.get(3)?.as_i64()?,
        expires: v.get(4)?.as_i64()?,
    })
}
