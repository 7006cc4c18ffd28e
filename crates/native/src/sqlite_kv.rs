use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use portcullis::{KeyPage, Kv, StoreError};
use rusqlite::{params, OptionalExtension};

use crate::{page, system_millis, NowFn, SqliteSql, PAGE_SIZE};

/// The KV table: one B-tree keyed by `key` (`WITHOUT ROWID`), so a read is one lookup, not an
/// index lookup followed by a table lookup.
const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_ms INTEGER) WITHOUT ROWID; \
                      CREATE INDEX IF NOT EXISTS kv_by_expiry ON kv (expires_ms)";

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

    /// A KV on an existing SQLite handle whose TTLs follow `now`. A table of the first layout
    /// (a rowid table) is converted in one transaction.
    pub fn new(db: SqliteSql, now: NowFn) -> Result<Self, StoreError> {
        db.with_conn(|conn| {
            let table: Option<String> = conn
                .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'", [], |row| row.get(0))
                .optional()?;
            match table {
                Some(sql) if !sql.contains("WITHOUT ROWID") => conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; ALTER TABLE kv RENAME TO kv_rowid; DROP INDEX IF EXISTS kv_by_expiry; {SCHEMA}; \
                     INSERT INTO kv (key, value, expires_ms) SELECT key, value, expires_ms FROM kv_rowid; \
                     DROP TABLE kv_rowid; COMMIT"
                )),
                _ => conn.execute_batch(SCHEMA),
            }
        })?;
        Ok(SqliteKv { db, now })
    }

    /// A version of what the table holds that moves when another connection (another process,
    /// say) writes to it, and not for this handle's own writes: [`SqliteSql::data_version`].
    /// A read may trail another process's write by up to [`crate::SNAPSHOT_REUSE`]; so may this.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.db.data_version()
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
        self.db.with_snapshot(|conn| {
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
        // The range [prefix, end) lets SQLite walk just the prefix's part of the key order.
        let end = prefix_end(prefix);
        let keys: Vec<String> = self.db.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key FROM kv WHERE key >= ?1 AND (?5 IS NULL OR key < ?5) AND substr(key, 1, length(?1)) = ?1 \
                 AND key > ?2 AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY key LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![prefix, after, now, limit, end], |row| row.get(0))?;
            rows.collect()
        })?;
        Ok(page(keys))
    }
}

/// The first string after every string that starts with `prefix` (`None`: no bound), in
/// SQLite's default (byte) order: the prefix with its last character incremented.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn prefix_end_bounds_exactly_the_keys_with_the_prefix() {
        assert_eq!(prefix_end("token:"), Some("token;".to_owned()));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a\u{10FFFF}"), Some("b".to_owned()));
    }

    #[test]
    fn a_kv_table_of_the_first_layout_is_converted_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.sqlite");
        let db = SqliteSql::open(&path).unwrap();
        db.with_conn(|conn| {
            conn.execute_batch(
                "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_ms INTEGER); \
                 CREATE INDEX kv_by_expiry ON kv (expires_ms); \
                 INSERT INTO kv VALUES ('token:a', x'01', NULL), ('token:b', x'02', 5000), ('other', x'03', NULL)",
            )
        })
        .unwrap();
        let kv = SqliteKv::new(db.clone(), Arc::new(|| 1000)).unwrap();
        let sql: String =
            db.with_conn(|c| c.query_row("SELECT sql FROM sqlite_master WHERE name = 'kv'", [], |r| r.get(0))).unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        assert_eq!(block_on(kv.get("token:a")).unwrap(), Some(vec![1]));
        assert_eq!(block_on(kv.get("token:b")).unwrap(), Some(vec![2]));
        assert_eq!(block_on(kv.list_keys("token:", None)).unwrap().keys, ["token:a", "token:b"]);
        // Opening again leaves the converted table alone.
        let again = SqliteKv::new(db, Arc::new(|| 6000)).unwrap();
        assert_eq!(block_on(again.list_keys("", None)).unwrap().keys, ["other", "token:a"]);
    }

    #[test]
    fn reads_share_a_snapshot_briefly_and_never_miss_their_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.sqlite");
        let now: NowFn = Arc::new(|| 1000);
        // `other` stands for another process: a connection of its own to the same file.
        let (kv, other) =
            (SqliteKv::new(SqliteSql::open(&path).unwrap(), now.clone()).unwrap(), SqliteKv::open(&path).unwrap());
        assert_eq!(block_on(kv.get("token:a")).unwrap(), None);
        // The other connection writes beside the open read transaction (WAL), without waiting.
        block_on(other.set("token:a", b"theirs")).unwrap();
        // This handle's own write ends its snapshot, so the read after it sees both writes.
        block_on(kv.set("token:b", b"ours")).unwrap();
        assert_eq!(block_on(kv.get("token:b")).unwrap(), Some(b"ours".to_vec()));
        assert_eq!(block_on(kv.get("token:a")).unwrap(), Some(b"theirs".to_vec()));
        // Another process's write is seen once the window has passed.
        block_on(other.delete("token:a")).unwrap();
        std::thread::sleep(crate::sqlite::SNAPSHOT_REUSE);
        assert_eq!(block_on(kv.get("token:a")).unwrap(), None);
        // Left idle, the read transaction is ended by the sweeper (bounded wait).
        let ended = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            kv.db.is_idle()
        });
        assert!(ended, "the idle read transaction was not ended");
    }

    #[test]
    fn the_data_version_moves_for_other_connections_writes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.sqlite");
        let (kv, other) = (SqliteKv::open(&path).unwrap(), SqliteKv::open(&path).unwrap());
        let first = kv.data_version().unwrap();
        // Its own writes leave it where it was.
        block_on(kv.set("token:a", b"ours")).unwrap();
        block_on(kv.delete("token:a")).unwrap();
        std::thread::sleep(crate::sqlite::SNAPSHOT_REUSE);
        assert_eq!(kv.data_version().unwrap(), first);
        // Another connection's write moves it, once the snapshot's window has passed.
        block_on(other.set("token:b", b"theirs")).unwrap();
        std::thread::sleep(crate::sqlite::SNAPSHOT_REUSE);
        let second = kv.data_version().unwrap();
        assert_ne!(second, first);
        // And only then: reading again changes nothing.
        std::thread::sleep(crate::sqlite::SNAPSHOT_REUSE);
        assert_eq!(kv.data_version().unwrap(), second);
        assert_eq!(block_on(kv.get("token:b")).unwrap(), Some(b"theirs".to_vec()));
    }
}
