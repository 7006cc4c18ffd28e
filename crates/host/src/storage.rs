//! The `kv` and `sql` imports, backed by the core's storage traits (SQLite and the SQLite KV
//! of `portcullis-native` by default).
//!
//! As in wasmtime's `wasi-keyvalue`: guest input is clamped, backend failures go back to the
//! guest as WIT error values, and only host faults trap.

use std::sync::Arc;

use futures::executor::block_on;
use portcullis::{Dialect, Kv, Sql, Statement, StoreError, Value};

use crate::bindings::portcullis::auth::{kv, sql};

/// Longest key the guest may use.
const MAX_KEY_BYTES: usize = 1024;
/// Largest value the guest may store.
const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most statements in one batch.
const MAX_BATCH: usize = 1000;
/// Longest statement.
const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// The storage one host process serves with; cloned into every store.
#[derive(Clone)]
pub struct Storage {
    pub kv: Arc<dyn Kv + Send + Sync>,
    pub sql: Arc<dyn Sql + Send + Sync>,
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
    fn get(&mut self, key: String) -> KvResult<Option<Vec<u8>>> {
        Ok(check_key(&key).and_then(|()| block_on(self.kv.get(&key)).map_err(kv_error)))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> KvResult<()> {
        Ok(check_key(&key).and_then(|()| check_value(&value)).and_then(|()| block_on(self.kv.set(&key, &value)).map_err(kv_error)))
    }

    fn set_with_ttl(&mut self, key: String, value: Vec<u8>, ttl_seconds: u64) -> KvResult<()> {
        let ttl = ttl_seconds.max(1);
        Ok(check_key(&key)
            .and_then(|()| check_value(&value))
            .and_then(|()| block_on(self.kv.set_with_ttl(&key, &value, ttl)).map_err(kv_error)))
    }

    fn delete(&mut self, key: String) -> KvResult<()> {
        Ok(check_key(&key).and_then(|()| block_on(self.kv.delete(&key)).map_err(kv_error)))
    }

    fn exists(&mut self, key: String) -> KvResult<bool> {
        Ok(check_key(&key).and_then(|()| block_on(self.kv.exists(&key)).map_err(kv_error)))
    }

    fn list_keys(&mut self, prefix: String, cursor: Option<String>) -> KvResult<kv::KeyResponse> {
        Ok(check_key(&prefix).and_then(|()| {
            let page = block_on(self.kv.list_keys(&prefix, cursor.as_deref())).map_err(kv_error)?;
            Ok(kv::KeyResponse { keys: page.keys, cursor: page.cursor })
        }))
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
    fn execute(&mut self, statement: String, params: Vec<sql::Value>) -> SqlResult<sql::QueryResult> {
        Ok(check_statement(&statement).and_then(|()| {
            let params: Vec<Value> = params.into_iter().map(from_wit).collect();
            let result = block_on(self.sql.execute(&statement, &params)).map_err(sql_error)?;
            Ok(sql::QueryResult {
                columns: result.columns,
                rows: result.rows.into_iter().map(|r| sql::RowResult { values: r.values.into_iter().map(to_wit).collect() }).collect(),
            })
        }))
    }

    fn batch(&mut self, statements: Vec<sql::StatementWithParams>) -> SqlResult<Vec<u64>> {
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
        Ok(block_on(self.sql.batch(&statements)).map_err(sql_error))
    }

    fn dialect(&mut self) -> wasmtime::Result<sql::SqlDialect> {
        Ok(match self.sql.dialect() {
            Dialect::Sqlite => sql::SqlDialect::Sqlite,
            Dialect::Postgres => sql::SqlDialect::Postgres,
        })
    }
}
