//! The `kv` and `sql` imports over the storage backends: SQLite files and the SQLite KV by
//! default, PostgreSQL and Redis when several host processes share state.
//!
//! As in wasmtime's `wasi-keyvalue`: guest input is clamped, backend failures go back to the
//! guest as WIT error values, and only host faults trap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The storage one host process serves with; cloned into every store.
#[derive(Clone)]
pub struct Storage {
    pub kv: KvBackend,
    pub sql: SqlBackend,
    /// Writes to `kv` through this storage and its clones, each counted once it has ended.
    kv_writes: Arc<AtomicU64>,
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

impl Storage {
    pub fn new(kv: KvBackend, sql: SqlBackend) -> Storage {
        Storage { kv, sql, kv_writes: Arc::default() }
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
        let writes = self.kv_writes.load(Ordering::Acquire);
        let others = kv.data_version().ok()?;
        Some(KvVersion { writes, others })
    }

    /// Counts a write to KV once it has ended (or failed: it may have been applied).
    fn wrote_kv<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.kv_writes.fetch_add(1, Ordering::AcqRel);
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
        Ok(self.kv.get(&key).await.map_err(kv_error))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> KvResult<()> {
        if let Err(e) = check_key(&key).and_then(|()| check_value(&value)) {
            return Ok(Err(e));
        }
        let written = self.kv.set(&key, &value, None).await;
        Ok(self.wrote_kv(written).map_err(kv_error))
    }

    async fn set_with_ttl(&mut self, key: String, value: Vec<u8>, ttl_seconds: u64) -> KvResult<()> {
        if let Err(e) = check_key(&key).and_then(|()| check_value(&value)) {
            return Ok(Err(e));
        }
        let written = self.kv.set(&key, &value, Some(ttl_seconds.max(1))).await;
        Ok(self.wrote_kv(written).map_err(kv_error))
    }

    async fn delete(&mut self, key: String) -> KvResult<()> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let deleted = self.kv.delete(&key).await;
        Ok(self.wrote_kv(deleted).map_err(kv_error))
    }

    async fn exists(&mut self, key: String) -> KvResult<bool> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.kv.exists(&key).await.map_err(kv_error))
    }

    async fn list_keys(&mut self, prefix: String, cursor: Option<String>) -> KvResult<kv::KeyResponse> {
        if let Err(e) = check_key(&prefix) {
            return Ok(Err(e));
        }
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
