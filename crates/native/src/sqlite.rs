use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis::{Dialect, QueryResult, Row, Sql, Statement, StoreError, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};

/// SQLite, in a file or in memory, behind the core's [`Sql`] trait.
#[derive(Clone)]
pub struct SqliteSql {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteSql {
    /// Opens (creating if needed) a database file, in WAL mode with foreign keys enforced.
    /// Reads go through a memory map of up to 1 GiB and a 32 MiB page cache, so a large token
    /// table costs page lookups, not read calls.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(store_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(store_error)?;
        conn.pragma_update(None, "mmap_size", 1i64 << 30).map_err(store_error)?;
        conn.pragma_update(None, "cache_size", -32768).map_err(store_error)?;
        Self::configure(conn)
    }

    /// A private in-memory database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::configure(Connection::open_in_memory().map_err(store_error)?)
    }

    fn configure(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON").map_err(store_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(store_error)?;
        Ok(SqliteSql { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection (the host's SQLite KV shares it).
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn).map_err(store_error)
    }
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Null => ValueRef::Null,
        }))
    }
}

fn value_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Constraint(bounded(e.to_string())),
        Some(ErrorCode::PermissionDenied | ErrorCode::AuthorizationForStatementDenied) => StoreError::AccessDenied,
        _ => StoreError::Other(bounded(e.to_string())),
    }
}

/// An error text cut to 300 bytes: SQLite's input errors quote the whole statement.
fn bounded(mut text: String) -> String {
    const MAX: usize = 300;
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Runs one statement; returns its rows and the rows it changed.
fn run(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<(QueryResult, u64)> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(bound.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len()).map(|i| row.get_ref(i).map(value_of)).collect::<rusqlite::Result<_>>()?;
        out.push(Row { values });
    }
    drop(rows);
    let changed = if stmt.readonly() { 0 } else { conn.changes() };
    Ok((QueryResult { columns, rows: out }, changed))
}

#[async_trait(?Send)]
impl Sql for SqliteSql {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        self.with_conn(|conn| run(conn, sql, params).map(|(result, _)| result))
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        self.with_conn(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut changed = Vec::with_capacity(statements.len());
            for statement in statements {
                changed.push(run(&tx, &statement.sql, &statement.params)?.1);
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}
