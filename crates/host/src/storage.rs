//! The `kv` and `sql` imports over the storage backends: SQLite files and the SQLite KV by
//! default, PostgreSQL and Redis when several host processes share state.
//!
//! As in wasmtime's `wasi-keyvalue`: guest input is clamped, backend failures go back to the
//! guest as WIT error values, and only host faults trap.

use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::executor::block_on;
use portcullis::{Dialect, KeyPage, Kv, QueryResult, Sql, Statement, StoreError, Value};
use portcullis_native::{PostgresSql, RedisKv, SqliteKv};

use crate::bindings::portcullis::auth::{kv, sql};

/// Longest key the guest may use.
const MAX_KEY_BYTES: usize = 1024;
/// Largest value the guest may store.
const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most statements in one batch.
const MAX_BATCH: usize = 1000;
/// Longest statement.
const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// A key-value backend.
#[derive(Clone)]
pub enum KvBackend {
    /// The embedded store, a SQLite file: driven in place, and its version is known
    /// ([`Storage::kv_version`]).
    Sqlite(SqliteKv),
    /// Any other store whose futures finish without a reactor (memory, say): driven in place.
    Local(Arc<dyn Kv + Send + Sync>),
    /// Redis, awaited on the host's runtime.
    Redis(RedisKv),
}

/// A SQL backend.
#[derive(Clone)]
pub enum SqlBackend {
    /// A database whose futures finish without a reactor (SQLite): driven in place.
    Local(Arc<dyn Sql + Send + Sync>),
    /// PostgreSQL, awaited on the host's runtime.
    Postgres(PostgresSql),
}

/// Most recent KV writes whose keys are remembered ([`KvWrites`]).
const RECENT_WRITES: usize = 4096;

/// The storage one host process serves with; cloned into every store.
#[derive(Clone)]
pub struct Storage {
    pub kv: KvBackend,
    pub sql: SqlBackend,
    /// Writes to `kv` through this storage and its clones.
    kv_writes: Arc<KvWrites>,
    /// The keys read through this clone since [`Storage::record_reads`], while recording.
    reads: Option<KvReads>,
}

/// A version of what KV holds ([`Storage::kv_version`]): two are equal only if nothing was
/// written to KV between the two readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvVersion {
    /// This process's writes.
    pub writes: u64,
    /// Other processes' ([`SqliteKv::data_version`]).
    pub others: i64,
}

/// A KV key as the write log and read sets know it: a 64-bit hash. Two keys with one hash only
/// make an answer end early.
pub type KeyHash = u64;

fn key_hash(key: &str) -> KeyHash {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// This process's writes to KV: how many, and the keys of the latest [`RECENT_WRITES`].
#[derive(Default)]
struct KvWrites {
    /// Writes counted so far; a write is counted once it has ended.
    count: AtomicU64,
    /// `(count after it, key)` of the latest writes, oldest first: consecutive counts.
    recent: Mutex<VecDeque<(u64, KeyHash)>>,
}

impl KvWrites {
    fn record(&self, key: &str) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let count = self.count.load(Ordering::Acquire) + 1;
        if recent.len() == RECENT_WRITES {
            recent.pop_front();
        }
        recent.push_back((count, key_hash(key)));
        self.count.store(count, Ordering::Release);
    }

    /// Whether no write counted after the first `since` had one of `keys`; `false` when the
    /// writes since are no longer all remembered.
    fn untouched_since(&self, since: u64, keys: &[KeyHash]) -> bool {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(&(oldest, _)) = recent.front() else {
            return false;
        };
        if oldest > since + 1 {
            return false;
        }
        let after = usize::try_from(since + 1 - oldest).unwrap_or(usize::MAX);
        recent.iter().skip(after).all(|(_, key)| !keys.contains(key))
    }
}

/// What a call read from storage, as [`Storage::take_reads`] gives it.
#[derive(Default, Clone)]
struct KvReads {
    keys: Vec<KeyHash>,
    /// Something was read whose writes are not followed: a key listing, SQL.
    untracked: bool,
}

impl Storage {
    pub fn new(kv: KvBackend, sql: SqlBackend) -> Storage {
        Storage { kv, sql, kv_writes: Arc::default(), reads: None }
    }

    /// Storage on local backends (SQLite, memory).
    pub fn local(kv: impl Kv + Send + Sync + 'static, sql: impl Sql + Send + Sync + 'static) -> Storage {
        Storage::new(KvBackend::Local(Arc::new(kv)), SqlBackend::Local(Arc::new(sql)))
    }

    /// The version of what KV holds, where every write to it can be seen: on the embedded store,
    /// whose other writers (another process on the same file) SQLite's data version tells of,
    /// within [`portcullis_native::SNAPSHOT_REUSE`] as for any read. `None` elsewhere (Redis,
    /// which other processes share unseen) and when the version cannot be read.
    pub fn kv_version(&self) -> Option<KvVersion> {
        let KvBackend::Sqlite(kv) = &self.kv else {
            return None;
        };
        // A write of ours changes the data before it is counted: a version read before the count
        // never matches one read after it, and one read after it was read after the change.
        let writes = self.kv_writes.count.load(Ordering::Acquire);
        let others = kv.data_version().ok()?;
        Some(KvVersion { writes, others })
    }

    /// The version now, if `keys` still hold what they held at `version`: no other process has
    /// written KV since (SQLite's data version cannot tell which keys), and none of this
    /// process's writes since was to one of them. `None` otherwise, where
    /// [`Storage::kv_version`] is `None`, and when more writes came since than the last
    /// [`RECENT_WRITES`] this process remembers. What held at `version` holds at the version
    /// returned, so a caller may check from there next time.
    pub fn kv_unchanged(&self, version: KvVersion, keys: &[KeyHash]) -> Option<KvVersion> {
        // Read first: the writes checked are then at least those the version returned counts.
        let now = self.kv_version()?;
        let unchanged = now.others == version.others
            && (now.writes == version.writes || self.kv_writes.untouched_since(version.writes, keys));
        unchanged.then_some(now)
    }

    /// Starts recording the KV keys read through this clone (a store's), for
    /// [`Storage::take_reads`].
    pub fn record_reads(&mut self) {
        self.reads = Some(KvReads::default());
    }

    /// Stops recording and gives the keys read since [`Storage::record_reads`]: `None` if it was
    /// not recording, or if something was read whose changes [`Storage::kv_unchanged`] cannot
    /// see (a key listing, any SQL statement).
    pub fn take_reads(&mut self) -> Option<Vec<KeyHash>> {
        self.reads.take().filter(|reads| !reads.untracked).map(|reads| reads.keys)
    }

    fn read_kv(&mut self, key: &str) {
        if let Some(reads) = &mut self.reads {
            reads.keys.push(key_hash(key));
        }
    }

    fn read_untracked(&mut self) {
        if let Some(reads) = &mut self.reads {
            reads.untracked = true;
        }
    }

    /// Counts a write to `key` once it has ended (or failed: it may have been applied).
    fn wrote_kv<T>(&self, key: &str, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.kv_writes.record(key);
        result
    }
}

/// Where a KV call goes: a store driven in place (the embedded one, memory), or Redis.
enum KvTarget<'a> {
    InPlace(&'a (dyn Kv + Send + Sync)),
    Redis(&'a RedisKv),
}

impl KvBackend {
    fn target(&self) -> KvTarget<'_> {
        match self {
            KvBackend::Sqlite(kv) => KvTarget::InPlace(kv),
            KvBackend::Local(kv) => KvTarget::InPlace(kv.as_ref()),
            KvBackend::Redis(redis) => KvTarget::Redis(redis),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.target() {
            KvTarget::InPlace(kv) => block_on(kv.get(key)),
            KvTarget::Redis(redis) => redis.get_send(key).await,
        }
    }

    async fn set(&self, key: &str, value: &[u8], ttl_seconds: Option<u64>) -> Result<(), StoreError> {
        match (self.target(), ttl_seconds) {
            (KvTarget::InPlace(kv), None) => block_on(kv.set(key, value)),
            (KvTarget::InPlace(kv), Some(ttl)) => block_on(kv.set_with_ttl(key, value, ttl)),
            (KvTarget::Redis(redis), ttl) => redis.set_send(key, value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.target() {
            KvTarget::InPlace(kv) => block_on(kv.delete(key)),
            KvTarget::Redis(redis) => redis.delete_send(key).await,
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.target() {
            KvTarget::InPlace(kv) => block_on(kv.exists(key)),
            KvTarget::Redis(redis) => redis.exists_send(key).await,
        }
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        match self.target() {
            KvTarget::InPlace(kv) => block_on(kv.list_keys(prefix, cursor)),
            KvTarget::Redis(redis) => redis.list_keys_send(prefix, cursor).await,
        }
    }
}

impl SqlBackend {
    async fn execute(&self, statement: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        match self {
            SqlBackend::Local(sql) => block_on(sql.execute(statement, params)),
            SqlBackend::Postgres(pg) => pg.execute_send(statement, params).await,
        }
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        match self {
            SqlBackend::Local(sql) => block_on(sql.batch(statements)),
            SqlBackend::Postgres(pg) => pg.batch_send(statements).await,
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            SqlBackend::Local(sql) => sql.dialect(),
            SqlBackend::Postgres(_) => Dialect::Postgres,
        }
    }
}

fn kv_error(e: StoreError) -> kv::Error {
    match e {
        StoreError::AccessDenied => kv::Error::AccessDenied,
        other => kv::Error::Other(other.to_string()),
    }
}

fn check_key(key: &str) -> Result<(), kv::Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(kv::Error::Other(format!("key longer than {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), kv::Error> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(kv::Error::Other(format!("value larger than {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

type KvResult<T> = wasmtime::Result<Result<T, kv::Error>>;

impl kv::Host for Storage {
    async fn get(&mut self, key: String) -> KvResult<Option<Vec<u8>>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        self.read_kv(&key);
        Ok(self.kv.get(&key).await.map_err(kv_error))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> KvResult<()> {
        if let Err(e) = check_key(&key).and_then(|()| check_value(&value)) {
            return Ok(Err(e));
        }
        let written = self.kv.set(&key, &value, None).await;
        Ok(self.wrote_kv(&key, written).map_err(kv_error))
    }

    async fn set_with_ttl(&mut self, key: String, value: Vec<u8>, ttl_seconds: u64) -> KvResult<()> {
        if let Err(e) = check_key(&key).and_then(|()| check_value(&value)) {
            return Ok(Err(e));
        }
        let written = self.kv.set(&key, &value, Some(ttl_seconds.max(1))).await;
        Ok(self.wrote_kv(&key, written).map_err(kv_error))
    }

    async fn delete(&mut self, key: String) -> KvResult<()> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let deleted = self.kv.delete(&key).await;
        Ok(self.wrote_kv(&key, deleted).map_err(kv_error))
    }

    async fn exists(&mut self, key: String) -> KvResult<bool> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        self.read_kv(&key);
        Ok(self.kv.exists(&key).await.map_err(kv_error))
    }

    async fn list_keys(&mut self, prefix: String, cursor: Option<String>) -> KvResult<kv::KeyResponse> {
        if let Err(e) = check_key(&prefix) {
            return Ok(Err(e));
        }
        self.read_untracked();
        let page = self.kv.list_keys(&prefix, cursor.as_deref()).await;
        Ok(page.map(|p| kv::KeyResponse { keys: p.keys, cursor: p.cursor }).map_err(kv_error))
    }
}

fn sql_error(e: StoreError) -> sql::Error {
    match e {
        StoreError::AccessDenied => sql::Error::AccessDenied,
        StoreError::Constraint(text) => sql::Error::Constraint(text),
        other => sql::Error::Io(other.to_string()),
    }
}

fn from_wit(value: sql::Value) -> Value {
    match value {
        sql::Value::Integer(i) => Value::Integer(i),
        sql::Value::Real(f) => Value::Real(f),
        sql::Value::Text(s) => Value::Text(s),
        sql::Value::Blob(b) => Value::Blob(b),
        sql::Value::Null => Value::Null,
    }
}

fn to_wit(value: Value) -> sql::Value {
    match value {
        Value::Integer(i) => sql::Value::Integer(i),
        Value::Real(f) => sql::Value::Real(f),
        Value::Text(s) => sql::Value::Text(s),
        Value::Blob(b) => sql::Value::Blob(b),
        Value::Null => sql::Value::Null,
    }
}

fn check_statement(statement: &str) -> Result<(), sql::Error> {
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(sql::Error::Io(format!("statement longer than {MAX_STATEMENT_BYTES} bytes")));
    }
    Ok(())
}

type SqlResult<T> = wasmtime::Result<Result<T, sql::Error>>;

impl sql::Host for Storage {
    async fn execute(&mut self, statement: String, params: Vec<sql::Value>) -> SqlResult<sql::QueryResult> {
        if let Err(e) = check_statement(&statement) {
            return Ok(Err(e));
        }
        self.read_untracked();
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        let result = self.sql.execute(&statement, &params).await.map_err(sql_error);
        Ok(result.map(|r| sql::QueryResult {
            columns: r.columns,
            rows: r
                .rows
                .into_iter()
                .map(|row| sql::RowResult { values: row.values.into_iter().map(to_wit).collect() })
                .collect(),
        }))
    }

    async fn batch(&mut self, statements: Vec<sql::StatementWithParams>) -> SqlResult<Vec<u64>> {
        if statements.len() > MAX_BATCH {
            return Ok(Err(sql::Error::Io(format!("more than {MAX_BATCH} statements in a batch"))));
        }
        if let Some(e) = statements.iter().find_map(|s| check_statement(&s.statement).err()) {
            return Ok(Err(e));
        }
        self.read_untracked();
        let statements: Vec<Statement> = statements
            .into_iter()
            .map(|s| Statement::new(s.statement, s.params.into_iter().map(from_wit).collect()))
            .collect();
        Ok(self.sql.batch(&statements).await.map_err(sql_error))
    }

    async fn dialect(&mut self) -> wasmtime::Result<sql::SqlDialect> {
        Ok(match self.sql.dialect() {
            Dialect::Sqlite => sql::SqlDialect::Sqlite,
            Dialect::Postgres => sql::SqlDialect::Postgres,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kv::Host as _;
    use portcullis_native::SqliteSql;
    use sql::Host as _;

    use super::*;

    /// A call on the embedded store, which finishes when first polled.
    fn run<T>(call: impl std::future::Future<Output = T>) -> T {
        futures::FutureExt::now_or_never(call).expect("an in-place call finishes at once")
    }

    fn storage(dir: &std::path::Path) -> Storage {
        let kv = SqliteKv::open(&dir.join("kv.sqlite")).unwrap();
        let sql = SqliteSql::open(&dir.join("db.sqlite")).unwrap();
        Storage::new(KvBackend::Sqlite(kv), SqlBackend::Local(Arc::new(sql)))
    }

    fn set(storage: &mut Storage, key: &str) {
        run(storage.set(key.to_owned(), b"v".to_vec())).unwrap().unwrap();
    }

    #[test]
    fn records_the_keys_a_call_reads_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = storage(dir.path());
        assert_eq!(storage.take_reads(), None, "not recording");
        storage.record_reads();
        run(storage.get("token:a".to_owned())).unwrap().unwrap();
        run(storage.exists("user:b".to_owned())).unwrap().unwrap();
        set(&mut storage, "token:c");
        assert_eq!(storage.take_reads(), Some(vec![key_hash("token:a"), key_hash("user:b")]));
        assert_eq!(storage.take_reads(), None, "recording ended");

        // A listing or SQL statement is a read whose changes are not followed.
        storage.record_reads();
        run(storage.list_keys("token:".to_owned(), None)).unwrap().unwrap();
        assert_eq!(storage.take_reads(), None);
        storage.record_reads();
        run(storage.execute("SELECT 1".to_owned(), Vec::new())).unwrap().unwrap();
        assert_eq!(storage.take_reads(), None);
    }

    #[test]
    fn keys_are_unchanged_until_one_of_them_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage(dir.path());
        let read = [key_hash("token:a"), key_hash("user:a")];
        let version = storage.kv_version().unwrap();
        assert!(storage.kv_unchanged(version, &read).is_some());
        // The clones a store gets share the write log.
        let mut other_store = storage.clone();
        set(&mut other_store, "token:b");
        run(other_store.delete("token:c".to_owned())).unwrap().unwrap();
        assert_ne!(storage.kv_version(), Some(version));
        assert!(storage.kv_unchanged(version, &read).is_some());
        assert!(storage.kv_unchanged(version, &[]).is_some());
        // Unchanged as of now: checked from the version it gives, the same writes pass unseen.
        let checked = storage.kv_unchanged(version, &read).unwrap();
        assert_eq!(Some(checked), storage.kv_version());
        set(&mut other_store, "user:a");
        assert_eq!(storage.kv_unchanged(checked, &read), None);
        assert_eq!(storage.kv_unchanged(version, &read), None);
        assert!(storage.kv_unchanged(storage.kv_version().unwrap(), &read).is_some());
        run(other_store.delete("token:a".to_owned())).unwrap().unwrap();
        assert_eq!(storage.kv_unchanged(version, &[key_hash("token:a")]), None);
    }

    #[test]
    fn more_writes_than_are_remembered_end_everything() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage(dir.path());
        let version = storage.kv_version().unwrap();
        for i in 0..RECENT_WRITES {
            storage.kv_writes.record(&format!("token:{i}"));
        }
        assert!(storage.kv_unchanged(version, &[key_hash("token:a")]).is_some());
        storage.kv_writes.record("token:b");
        assert_eq!(storage.kv_unchanged(version, &[key_hash("token:a")]), None);
        assert_eq!(storage.kv_unchanged(version, &[]), None);
        let later = storage.kv_version().unwrap();
        storage.kv_writes.record("token:b");
        assert!(storage.kv_unchanged(later, &[key_hash("token:a")]).is_some());
    }

    #[test]
    fn another_process_writing_the_file_ends_everything() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage(dir.path());
        let version = storage.kv_version().unwrap();
        let other = SqliteKv::open(&dir.path().join("kv.sqlite")).unwrap();
        block_on(Kv::set(&other, "token:z", b"v")).unwrap();
        std::thread::sleep(portcullis_native::SNAPSHOT_REUSE + Duration::from_millis(5));
        assert_eq!(storage.kv_unchanged(version, &[key_hash("token:a")]), None);
    }
}
