//! The `kv` and `sql` imports as the core's [`Kv`] and [`Sql`] traits.

use async_trait::async_trait;
use portcullis::{Dialect, KeyPage, Kv, QueryResult, Row, Sql, Statement, StoreError, Value};

use crate::bindings::portcullis::auth::{kv, sql};

/// The host's key-value store.
pub struct WitKv;

fn kv_error(e: kv::Error) -> StoreError {
    match e {
        kv::Error::AccessDenied => StoreError::AccessDenied,
        kv::Error::NoSuchStore => StoreError::Other("no such store".into()),
        kv::Error::Other(text) => StoreError::Other(text),
    }
}

#[async_trait(?Send)]
impl Kv for WitKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        kv::get(key).map_err(kv_error)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        kv::set(key, value).map_err(kv_error)
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        kv::set_with_ttl(key, value, ttl_seconds.max(1)).map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        kv::delete(key).map_err(kv_error)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        kv::exists(key).map_err(kv_error)
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let page = kv::list_keys(prefix, cursor).map_err(kv_error)?;
        Ok(KeyPage { keys: page.keys, cursor: page.cursor })
    }
}

/// The host's SQL database.
pub struct WitSql;

fn sql_error(e: sql::Error) -> StoreError {
    match e {
        sql::Error::AccessDenied => StoreError::AccessDenied,
        sql::Error::Constraint(text) => StoreError::Constraint(text),
        sql::Error::Io(text) => StoreError::Other(text),
    }
}

fn to_wit(value: &Value) -> sql::Value {
    match value {
        Value::Integer(i) => sql::Value::Integer(*i),
        Value::Real(f) => sql::Value::Real(*f),
        Value::Text(s) => sql::Value::Text(s.clone()),
        Value::Blob(b) => sql::Value::Blob(b.clone()),
        Value::Null => sql::Value::Null,
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

#[async_trait(?Send)]
impl Sql for WitSql {
    async fn execute(&self, statement: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        let params: Vec<sql::Value> = params.iter().map(to_wit).collect();
        let result = sql::execute(statement, &params).map_err(sql_error)?;
        Ok(QueryResult {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| Row { values: r.values.into_iter().map(from_wit).collect() })
                .collect(),
        })
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        let statements: Vec<sql::StatementWithParams> = statements
            .iter()
            .map(|s| sql::StatementWithParams {
                statement: s.sql.clone(),
                params: s.params.iter().map(to_wit).collect(),
            })
            .collect();
        sql::batch(&statements).map_err(sql_error)
    }

    fn dialect(&self) -> Dialect {
        match sql::dialect() {
            sql::SqlDialect::Sqlite => Dialect::Sqlite,
            sql::SqlDialect::Postgres => Dialect::Postgres,
        }
    }
}
