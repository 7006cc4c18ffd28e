use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use portcullis::{KeyPage, Kv, StoreError};
use rusqlite::{params, OptionalExtension};

use crate::{page, system_millis, NowFn, SqliteSql, PAGE_SIZE};

/// A persistent KV in its own SQLite table, with TTLs.
#[derive(Clone)]
pub struct SqliteKv {
    db: SqliteSql,
    now: NowFn,
}

impl SqliteKv {
    /// Opens (creating if needed) a KV database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::new(SqliteSql::open(path)?, Arc::new(system_millis))
    }

    /// A KV on an existing SQLite handle whose TTLs follow `now`.
    pub fn new(db: SqliteSql, now: NowFn) -> Result<Self, StoreError> {
        db.with_conn(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_ms INTEGER); \
                 CREATE INDEX IF NOT EXISTS kv_by_expiry ON kv (expires_ms)",
            )
        })?;
        Ok(SqliteKv { db, now })
    }

    /// Deletes expired entries; returns how many.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = (self.now)();
        self.db.with_conn(|conn| conn.execute("DELETE FROM kv WHERE expires_ms <= ?", [now]))
    }

    fn put(&self, key: &str, value: &[u8], expires_ms: Option<i64>) -> Result<(), StoreError> {
        self.db.with_conn(|conn| {
            conn.prepare_cached(
                "INSERT INTO kv (key, value, expires_ms) VALUES (?, ?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
            )?
            .execute(params![key, value, expires_ms])
            .map(drop)
        })
    }
}

#[async_trait(?Send)]
impl Kv for SqliteKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = (self.now)();
        self.db.with_conn(|conn| {
            conn.prepare_cached("SELECT value FROM kv WHERE key = ? AND (expires_ms IS NULL OR expires_ms > ?)")?
                .query_row(params![key, now], |row| row.get(0))
                .optional()
        })
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put(key, value, None)
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        let ttl_ms = i64::try_from(ttl_seconds.max(1)).unwrap_or(i64::MAX).saturating_mul(1000);
        self.put(key, value, Some((self.now)().saturating_add(ttl_ms)))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.db.with_conn(|conn| conn.prepare_cached("DELETE FROM kv WHERE key = ?")?.execute([key]).map(drop))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let now = (self.now)();
        let after = cursor.unwrap_or("");
        let limit = i64::try_from(PAGE_SIZE).unwrap_or(1000) + 1;
        let keys: Vec<String> = self.db.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key FROM kv WHERE substr(key, 1, length(?1)) = ?1 AND key > ?2 \
                 AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY key LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![prefix, after, now, limit], |row| row.get(0))?;
            rows.collect()
        })?;
        Ok(page(keys))
    }
}
