//! D1 behind the core's [`Sql`] trait.
//!
//! D1 passes every number through JavaScript, so integers are bound as `f64` (exact up to 2^53,
//! which the storage contract promises; never `i32`, which would truncate timestamps), and
//! integral numbers read back become [`Value::Integer`]. Rows come from `raw({columnNames: true})`
//! so they keep their column order. `batch` is D1's batch, which runs as one transaction.

use async_trait::async_trait;
use portcullis::{Dialect, QueryResult, Row, Sql, Statement, StoreError, Value};
use worker::js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement};

/// The largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

pub struct D1Sql {
    db: D1Database,
}

impl D1Sql {
    pub fn new(db: D1Database) -> Self {
        D1Sql { db }
    }

    fn prepare(&self, sql: &str, params: &[Value]) -> Result<D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = params.iter().map(to_js).collect();
        self.db.prepare(sql).bind(&params).map_err(worker_error)
    }
}

/// A core value as D1 binds it.
fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Integer(i) => JsValue::from_f64(*i as f64),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
        Value::Null => JsValue::NULL,
    }
}

/// A value D1 returned, as the core sees it.
fn from_js(value: JsValue) -> Result<Value, StoreError> {
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(f) = value.as_f64() {
        let integral = f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER;
        return Ok(if integral { Value::Integer(f as i64) } else { Value::Real(f) });
    }
    if let Some(s) = value.as_string() {
        return Ok(Value::Text(s));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Value::Blob(bytes.to_vec()));
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Value::Blob(Uint8Array::new(buffer).to_vec()));
    }
    if let Some(array) = value.dyn_ref::<Array>() {
        // D1 returns BLOBs as arrays of byte values.
        return array
            .iter()
            .map(|b| b.as_f64().filter(|b| (0.0..=255.0).contains(b)).map(|b| b as u8))
            .collect::<Option<Vec<u8>>>()
            .map(Value::Blob)
            .ok_or_else(|| StoreError::Other("d1 returned an array that is not a blob".into()));
    }
    Err(StoreError::Other(format!("d1 returned an unexpected value type: {:?}", value.js_typeof())))
}

/// The message of a JS error and of its `cause`, if any.
fn js_message(error: &JsValue) -> String {
    let message = |v: &JsValue| Reflect::get(v, &"message".into()).ok().and_then(|m| m.as_string());
    let own = message(error).unwrap_or_else(|| format!("{error:?}"));
    match Reflect::get(error, &"cause".into()).ok().as_ref().and_then(message) {
        Some(cause) if !own.contains(&cause) => format!("{own}: {cause}"),
        _ => own,
    }
}

fn classify(message: String) -> StoreError {
    if message.contains("SQLITE_CONSTRAINT") || message.contains("constraint failed") {
        StoreError::Constraint(message)
    } else if message.contains("SQLITE_AUTH") || message.contains("not authorized") {
        StoreError::AccessDenied
    } else {
        StoreError::Other(format!("d1: {message}"))
    }
}

fn js_error(error: JsValue) -> StoreError {
    classify(js_message(&error))
}

fn worker_error(error: worker::Error) -> StoreError {
    match error {
        worker::Error::D1(e) => {
            let js: &JsValue = e.as_ref();
            classify(js_message(js))
        }
        worker::Error::Internal(js) => js_error(js),
        other => classify(other.to_string()),
    }
}

/// Calls `statement.raw({columnNames: true})`: the column names, then one array per row.
async fn raw_with_columns(statement: &D1PreparedStatement) -> Result<Array, StoreError> {
    let inner: &JsValue = statement.inner().as_ref();
    let raw: Function = Reflect::get(inner, &"raw".into()).map_err(js_error)?.dyn_into().map_err(js_error)?;
    let options = Object::new();
    Reflect::set(&options, &"columnNames".into(), &JsValue::TRUE).map_err(js_error)?;
    let promise: Promise = raw.call1(inner, &options).map_err(js_error)?.dyn_into().map_err(js_error)?;
    JsFuture::from(promise).await.map_err(js_error)?.dyn_into().map_err(js_error)
}

fn query_result(raw: Array) -> Result<QueryResult, StoreError> {
    let mut lines = raw.iter();
    let columns: Vec<String> = match lines.next() {
        Some(names) => Array::from(&names).iter().map(|n| n.as_string().unwrap_or_default()).collect(),
        None => return Ok(QueryResult::default()),
    };
    let rows = lines
        .map(|line| Array::from(&line).iter().map(from_js).collect::<Result<Vec<_>, _>>().map(|values| Row { values }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QueryResult { columns, rows })
}

#[async_trait(?Send)]
impl Sql for D1Sql {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        let statement = self.prepare(sql, params)?;
        query_result(raw_with_columns(&statement).await?)
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = statements.iter().map(|s| self.prepare(&s.sql, &s.params)).collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(prepared).await.map_err(worker_error)?;
        results
            .iter()
            .map(|result| match result.meta().map_err(worker_error)? {
                Some(meta) => Ok(meta.changes.unwrap_or(0) as u64),
                None => Ok(0),
            })
            .collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}
