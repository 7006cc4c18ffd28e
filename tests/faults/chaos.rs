//! Storage that fails on a plan: named operations, the n-th call, every call from the n-th on
//! (a crash: nothing after it reaches storage), a call that is applied and then reported as
//! failed (a timeout after the write), or a KV read that returns garbage.
#![allow(dead_code)] // shared by tests/faults.rs and tests/found_bugs.rs, which use parts

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use portcullis::{Clock, Dialect, Env, KeyPage, Kv, QueryResult, Sql, Statement, StoreError, Value};

pub const OPERATIONS: [&str; 7] =
    ["kv.get", "kv.set", "kv.delete", "kv.exists", "kv.list_keys", "sql.execute", "sql.batch"];

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Off,
    /// Every call of these operations fails.
    Named(Vec<&'static str>),
    /// Only call number n (1-based, counted over KV and SQL) fails.
    Nth(u64),
    /// Calls n, n+1, ... all fail.
    From(u64),
    /// Call n is carried out, then reported as failed.
    AppliedThenFailed(u64),
    /// Call n, if it is a KV read, returns its value with one byte flipped.
    Garbage(u64),
}

enum Action {
    Pass,
    Fail,
    ApplyThenFail,
    Garble,
}

#[derive(Debug)]
pub struct Plan {
    pub mode: Mode,
    pub calls: u64,
    pub injected: u64,
}

impl Plan {
    fn decide(&mut self, op: &'static str) -> Action {
        self.calls += 1;
        let n = self.calls;
        let action = match &self.mode {
            Mode::Off => Action::Pass,
            Mode::Named(names) if names.contains(&op) => Action::Fail,
            Mode::Named(_) => Action::Pass,
            Mode::Nth(k) if *k == n => Action::Fail,
            Mode::From(k) if n >= *k => Action::Fail,
            Mode::AppliedThenFailed(k) if *k == n => Action::ApplyThenFail,
            Mode::Garbage(k) if *k == n && op == "kv.get" => Action::Garble,
            _ => Action::Pass,
        };
        if !matches!(action, Action::Pass) {
            self.injected += 1;
        }
        action
    }
}

pub type SharedPlan = Rc<RefCell<Plan>>;

pub fn plan() -> SharedPlan {
    Rc::new(RefCell::new(Plan { mode: Mode::Off, calls: 0, injected: 0 }))
}

/// An environment on `kv` and `sql`, both failing as `plan` says (OS randomness).
pub fn env<K: Kv + 'static, S: Sql + 'static>(kv: K, sql: S, clock: Rc<dyn Clock>, plan: &SharedPlan) -> Env {
    Env {
        kv: Rc::new(Chaos { inner: kv, plan: plan.clone() }),
        sql: Rc::new(Chaos { inner: sql, plan: plan.clone() }),
        clock,
        rng: Rc::new(portcullis_native::OsRandom),
    }
}

pub struct Chaos<T> {
    pub inner: T,
    pub plan: SharedPlan,
}

fn injected(op: &str) -> StoreError {
    StoreError::Other(format!("injected failure in {op}"))
}

/// Runs `$call` on the inner store as the plan decides for `$op`.
macro_rules! chaos {
    ($self:ident, $op:literal, $call:expr) => {{
        let action = $self.plan.borrow_mut().decide($op);
        match action {
            Action::Fail => Err(injected($op)),
            Action::ApplyThenFail => {
                let _ = $call.await;
                Err(StoreError::Other(format!("injected timeout after {}", $op)))
            }
            Action::Pass | Action::Garble => $call.await,
        }
    }};
}

#[async_trait(?Send)]
impl<T: Kv> Kv for Chaos<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let action = self.plan.borrow_mut().decide("kv.get");
        match action {
            Action::Fail => Err(injected("kv.get")),
            Action::ApplyThenFail => Err(injected("kv.get")),
            Action::Pass => self.inner.get(key).await,
            Action::Garble => Ok(self.inner.get(key).await?.map(|mut value| {
                let middle = value.len() / 2;
                if let Some(byte) = value.get_mut(middle) {
                    *byte ^= 0x5a;
                }
                value
            })),
        }
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        chaos!(self, "kv.set", self.inner.set(key, value))
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        chaos!(self, "kv.set", self.inner.set_with_ttl(key, value, ttl_seconds))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        chaos!(self, "kv.delete", self.inner.delete(key))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        chaos!(self, "kv.exists", self.inner.exists(key))
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        chaos!(self, "kv.list_keys", self.inner.list_keys(prefix, cursor))
    }
}

#[async_trait(?Send)]
impl<T: Sql> Sql for Chaos<T> {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        chaos!(self, "sql.execute", self.inner.execute(sql, params))
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        chaos!(self, "sql.batch", self.inner.batch(statements))
    }

    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
}
