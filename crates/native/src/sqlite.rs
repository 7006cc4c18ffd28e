use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis::{Dialect, QueryResult, Row, Sql, Statement, StoreError, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};

/// How long one read transaction serves [`SqliteSql::with_snapshot`] reads: the most by which
/// a read can trail a write committed by another process. This handle's own writes are seen at
/// once.
pub const SNAPSHOT_REUSE: Duration = Duration::from_millis(1);
/// How often a thread ends a read transaction left open past [`SNAPSHOT_REUSE`] because no
/// read or write came to end it, so that an idle handle does not hold back WAL checkpoints.
const SWEEP_EVERY: Duration = Duration::from_millis(10);

/// SQLite, in a file or in memory, behind the core's [`Sql`] trait.
#[derive(Clone)]
pub struct SqliteSql {
    conn: Arc<Mutex<Handle>>,
    sweeper: Arc<Once>,
}

/// The connection, and the read transaction it keeps open for [`SqliteSql::with_snapshot`].
struct Handle {
    conn: Connection,
    /// When the open read transaction began; `None` when there is none.
    reading_since: Option<Instant>,
    /// SQLite's data version in the open read transaction, once asked for.
    data_version: Option<i64>,
}

impl Handle {
    /// Ends the read transaction, if one is open.
    fn end_read(&mut self) {
        self.data_version = None;
        if self.reading_since.take().is_some() && !self.conn.is_autocommit() {
            // A read-only transaction has nothing to commit; should COMMIT fail, ROLLBACK ends it.
            if self.conn.execute_batch("COMMIT").is_err() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }
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
        Ok(SqliteSql {
            conn: Arc::new(Mutex::new(Handle { conn, reading_since: None, data_version: None })),
            sweeper: Arc::new(Once::new()),
        })
    }

    /// Runs `f` with the connection in autocommit mode (the host's SQLite KV shares it).
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut handle = lock(&self.conn);
        handle.end_read();
        f(&handle.conn).map_err(store_error)
    }

    /// Whether no read transaction is open (tests).
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        let handle = lock(&self.conn);
        handle.reading_since.is_none() && handle.conn.is_autocommit()
    }

    /// Runs the read-only `f` in a read transaction that is kept open for the reads of the next
    /// [`SNAPSHOT_REUSE`], and ended before any write through this handle. A read then costs no
    /// file locks of its own (a WAL read transaction takes and releases one per start), at the
    /// price of not seeing another process's writes for up to that long.
    pub(crate) fn with_snapshot<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut handle = self.snapshot()?;
        let result = f(&handle.conn);
        if result.is_err() {
            handle.end_read();
        }
        result.map_err(store_error)
    }

    /// SQLite's data version as [`SqliteSql::with_snapshot`] reads see it (`PRAGMA
    /// data_version`): it moves when another connection, another process's say, commits a write,
    /// and never for this handle's own writes. Asked once per read transaction.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        let mut handle = self.snapshot()?;
        if let Some(version) = handle.data_version {
            return Ok(version);
        }
        match handle.conn.query_row("PRAGMA data_version", [], |row| row.get(0)) {
            Ok(version) => {
                handle.data_version = Some(version);
                Ok(version)
            }
            Err(e) => {
                handle.end_read();
                Err(store_error(e))
            }
        }
    }

    /// The handle, in a read transaction begun at most [`SNAPSHOT_REUSE`] ago.
    fn snapshot(&self) -> Result<MutexGuard<'_, Handle>, StoreError> {
        self.sweeper.call_once(|| start_sweeper(Arc::downgrade(&self.conn)));
        let mut handle = lock(&self.conn);
        if handle.reading_since.is_none_or(|since| since.elapsed() >= SNAPSHOT_REUSE) {
            handle.end_read();
            handle.conn.execute_batch("BEGIN").map_err(store_error)?;
            handle.reading_since = Some(Instant::now());
        }
        Ok(handle)
    }
}

fn lock(handle: &Mutex<Handle>) -> MutexGuard<'_, Handle> {
    handle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ends the handle's read transaction once it is past its window, until the handle is dropped.
/// Should the thread not start, the next read or write still ends it.
fn start_sweeper(handle: std::sync::Weak<Mutex<Handle>>) {
    let sweep = move || loop {
        std::thread::sleep(SWEEP_EVERY);
        let Some(handle) = handle.upgrade() else {
            return;
        };
        let mut handle = lock(&handle);
        if handle.reading_since.is_some_and(|since| since.elapsed() >= SNAPSHOT_REUSE) {
            handle.end_read();
        }
    };
    drop(std::thread::Builder::new().name("portcullis-sqlite".into()).spawn(sweep));
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
