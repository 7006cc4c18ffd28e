use async_trait::async_trait;

use super::StoreError;

/// A SQL value, as the WIT `value` variant declares it. Integers stay within +-2^53.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            // D1 and some drivers hand integers back as floats.
            Value::Real(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

/// The rows a statement returned (for writes: none, unless it has `RETURNING`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

impl QueryResult {
    /// The first column of the first row, if any (a `COUNT(*)`, a `RETURNING` value).
    pub fn scalar(&self) -> Option<&Value> {
        self.rows.first().and_then(|row| row.values.first())
    }

    /// The first column of every row that is text.
    pub fn first_texts(&self) -> Vec<String> {
        self.rows.iter().filter_map(|row| row.values.first().and_then(Value::as_str)).map(str::to_owned).collect()
    }
}

/// A statement with its parameters, for `batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Statement { sql: sql.into(), params }
    }
}

/// The SQL dialect a backend speaks. Statements use `?` placeholders in both; a PostgreSQL
/// adapter numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A SQL database shaped like `spin:sqlite`, plus an atomic batch.
#[async_trait(?Send)]
pub trait Sql {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError>;
    /// Runs every statement in one transaction: all or nothing. Returns rows changed per statement.
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError>;
    fn dialect(&self) -> Dialect;
}
