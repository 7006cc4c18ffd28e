//! PostgreSQL behind the core's [`Sql`] trait, for deployments where several host processes
//! share state. Statements arrive with `?` placeholders; this adapter numbers them.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use portcullis::{Dialect, QueryResult, Row, Sql, Statement, StoreError, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::NoTls;

/// A pool of connections to one database.
#[derive(Clone)]
pub struct PostgresSql {
    pool: Pool,
}

impl PostgresSql {
    /// Connects lazily to `url` (`postgres://user@host:port/db`) with up to `max_connections`.
    pub fn connect(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Other(format!("postgres url: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool =
            Pool::builder(manager).max_size(max_connections).build().map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(PostgresSql { pool })
    }

    /// [`Sql::execute`] as a `Send` future, for hosts on a multi-threaded runtime.
    pub async fn execute_send(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let statement = client.prepare_cached(&number_placeholders(sql)).await.map_err(pg_error)?;
        let params = bind(params);
        let rows = client.query(&statement, &refs(&params)).await.map_err(pg_error)?;
        let columns = statement.columns().iter().map(|c| c.name().to_owned()).collect();
        let rows = rows.iter().map(row_of).collect::<Result<_, _>>()?;
        Ok(QueryResult { columns, rows })
    }

    /// [`Sql::batch`] as a `Send` future: one transaction, all or nothing.
    pub async fn batch_send(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let mut changed = Vec::with_capacity(statements.len());
        for statement in statements {
            let prepared = tx.prepare_cached(&number_placeholders(&statement.sql)).await.map_err(pg_error)?;
            let params = bind(&statement.params);
            changed.push(tx.execute(&prepared, &refs(&params)).await.map_err(pg_error)?);
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(changed)
    }
}

#[async_trait(?Send)]
impl Sql for PostgresSql {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        self.execute_send(sql, params).await
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        self.batch_send(statements).await
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// `?` -> `$1`, `$2`, ... outside string literals and quoted identifiers.
pub fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A core value bound to whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Integer(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Integer(i), _) => i.to_string().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), _) => f.to_sql(ty, out),
            (Value::Text(s), _) => s.as_str().to_sql(ty, out),
            (Value::Blob(b), _) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn bind(params: &[Value]) -> Vec<Param<'_>> {
    params.iter().map(Param).collect()
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn row_of(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let values = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match *column.type_() {
                Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(|v| Value::Integer(v.into()))),
                Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(|v| Value::Integer(v.into()))),
                Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Integer)),
                Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|v| v.map(|v| Value::Real(v.into()))),
                Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
                Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(|v| Value::Integer(v.into()))),
                Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Blob)),
                _ => row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text)),
            };
            value
                .map(|v| v.unwrap_or(Value::Null))
                .map_err(|e| StoreError::Other(format!("column {}: {e}", column.name())))
        })
        .collect::<Result<_, _>>()?;
    Ok(Row { values })
}

fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION => {
            StoreError::Constraint(e.to_string())
        }
        Some(code) if *code == SqlState::INSUFFICIENT_PRIVILEGE || *code == SqlState::INVALID_PASSWORD => {
            StoreError::AccessDenied
        }
        _ => StoreError::Other(e.as_db_error().map_or_else(|| e.to_string(), |db| db.message().to_owned())),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Other(format!("postgres pool: {e}"))
}

#[cfg(test)]
mod tests {
    use super::number_placeholders;

    #[test]
    fn numbers_placeholders_outside_quotes() {
        assert_eq!(number_placeholders("SELECT ?, '?', \"a?\" WHERE x = ?"), "SELECT $1, '?', \"a?\" WHERE x = $2");
    }
}
