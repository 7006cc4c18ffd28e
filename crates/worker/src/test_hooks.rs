//! Routes that exist only in the `test-hooks` build (scripts/worker-test.sh), for what the
//! HTTP API cannot do: panic on purpose, move this isolate's clock, and run the storage
//! contract against the real D1 and KV bindings.

use portcullis::{Kv, Sql, Statement, StoreError, Value};

use crate::d1::D1Sql;
use crate::http_io::path_and_query;
use crate::kv::WorkersKv;
use crate::platform::JsClock;
use crate::service::{D1_BINDING, KV_BINDING};
use worker::worker_sys::web_sys;

/// Answers `/__test/*`; `None` for every other path.
pub async fn route(req: &web_sys::Request, env: &worker::Env) -> worker::Result<Option<web_sys::Response>> {
    let target = path_and_query(&req.url());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    match path {
        "/__test/panic" => panic!("test-hooks: a panic on purpose"),
        "/__test/clock" => {
            let offset = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("offset_seconds="))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| worker::Error::RustError("offset_seconds=<integer> is required".into()))?;
            JsClock::set_offset_millis(offset * 1000);
            json(&serde_json::json!({ "offset_seconds": offset }))
        }
        "/__test/storage-contract" => {
            let sql = D1Sql::new(env.d1(D1_BINDING)?);
            let kv = WorkersKv::new(env.kv(KV_BINDING)?);
            let mut failures = Vec::new();
            let checks = sql_contract(&sql, &mut failures).await + kv_contract(&kv, &mut failures).await;
            json(&serde_json::json!({ "checks": checks, "failures": failures }))
        }
        _ => Ok(None),
    }
}

fn json(value: &serde_json::Value) -> worker::Result<Option<web_sys::Response>> {
    Ok(Some(worker::Response::from_json(value)?.into()))
}

/// Records a failed check; returns 1 (one check made).
fn check(failures: &mut Vec<String>, name: &str, ok: bool, detail: impl std::fmt::Debug) -> usize {
    if !ok {
        failures.push(format!("{name}: {detail:?}"));
    }
    1
}

async fn sql_contract(sql: &D1Sql, failures: &mut Vec<String>) -> usize {
    let table = format!("contract_{}", js_sys_random());
    let mut n = 0;
    let create = format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB, z)");
    n += check(failures, "create", sql.batch(&[Statement::new(create, vec![])]).await.is_ok(), ());

    // Integers past 2^31 (timestamps in ms) and up to 2^53 - 1, reals, text, blobs, null.
    let values = vec![
        Value::Integer(9_007_199_254_740_991),
        Value::Real(1.5),
        Value::Text("grüße ✓".into()),
        Value::Blob(vec![0, 1, 127, 128, 255]),
        Value::Null,
    ];
    let insert =
        format!("INSERT INTO {table} (id, n, r, s, b, z) VALUES (1, ?, ?, ?, ?, ?) RETURNING id, n, r, s, b, z");
    match sql.execute(&insert, &values).await {
        Ok(result) => {
            n += check(
                failures,
                "returning columns",
                result.columns == ["id", "n", "r", "s", "b", "z"],
                &result.columns,
            );
            let mut expected = vec![Value::Integer(1)];
            expected.extend(values.iter().cloned());
            n += check(
                failures,
                "returning values",
                result.rows.first().map(|r| &r.values) == Some(&expected),
                &result.rows,
            );
        }
        Err(e) => n += check(failures, "insert", false, e),
    }
    for big in [2_147_483_648_i64, 1_795_400_000_000, -2_147_483_649, -9_007_199_254_740_991] {
        let got = sql.execute("SELECT ? + 0", &[Value::Integer(big)]).await.map(|r| r.rows[0].values[0].clone());
        n += check(failures, "integer round trip", got.as_ref().ok() == Some(&Value::Integer(big)), (big, got));
    }
    let order = sql.execute("SELECT 3 AS c, 1 AS a, 2 AS a", &[]).await.map(|r| r.rows[0].values.clone());
    let want = vec![Value::Integer(3), Value::Integer(1), Value::Integer(2)];
    n += check(failures, "column order, duplicate names", order.as_ref().ok() == Some(&want), order);

    // A batch is all or nothing, and a constraint failure is typed.
    let dup = sql
        .batch(&[
            Statement::new(format!("INSERT INTO {table} (id, n) VALUES (2, 2)"), vec![]),
            Statement::new(format!("INSERT INTO {table} (id, n) VALUES (1, 1)"), vec![]),
        ])
        .await;
    n += check(failures, "constraint error", matches!(dup, Err(StoreError::Constraint(_))), &dup);
    let count = sql.execute(&format!("SELECT COUNT(*) FROM {table}"), &[]).await.map(|r| r.rows[0].values[0].clone());
    n += check(failures, "batch rolled back", count.as_ref().ok() == Some(&Value::Integer(1)), count);

    // Rows changed per statement, for conditional writes.
    let changed = sql
        .batch(&[
            Statement::new(format!("UPDATE {table} SET n = n WHERE id = ?"), vec![Value::Integer(1)]),
            Statement::new(format!("DELETE FROM {table} WHERE id = ?"), vec![Value::Integer(999)]),
        ])
        .await;
    n += check(failures, "changes per statement", changed.as_ref().ok() == Some(&vec![1, 0]), changed);
    let empty = sql.execute(&format!("SELECT * FROM {table} WHERE id = 999"), &[]).await.map(|r| r.rows.len());
    n += check(failures, "no rows", empty.as_ref().ok() == Some(&0), empty);
    let _ = sql.execute(&format!("DROP TABLE {table}"), &[]).await;
    n
}

async fn kv_contract(kv: &WorkersKv, failures: &mut Vec<String>) -> usize {
    let prefix = format!("contract:{}:", js_sys_random());
    let mut n = 0;
    let key = format!("{prefix}a");
    n += check(failures, "absent", matches!(kv.get(&key).await, Ok(None)), ());
    let bytes = vec![0u8, 255, 10, 13];
    n += check(failures, "set", kv.set(&key, &bytes).await.is_ok(), ());
    n += check(failures, "get bytes", kv.get(&key).await.ok().flatten() == Some(bytes), ());
    n += check(failures, "ttl below 60 s accepted", kv.set_with_ttl(&format!("{prefix}t"), b"x", 1).await.is_ok(), ());
    n += check(failures, "exists", kv.exists(&key).await.ok() == Some(true), ());
    let page = kv.list_keys(&prefix, None).await;
    let listed = page.as_ref().map(|p| (p.keys.len(), p.cursor.is_none()));
    n += check(failures, "list with prefix", listed.as_ref().ok() == Some(&(2, true)), &page);
    let _ = kv.delete(&key).await;
    n += check(failures, "delete", matches!(kv.get(&key).await, Ok(None)), ());
    n
}

fn js_sys_random() -> u64 {
    (worker::js_sys::Math::random() * 1e15) as u64
}
