//! A token service on real SQLite and an in-memory KV, with a clock the tests move and
//! storage that fails or yields on command.
#![allow(dead_code)]

use std::rc::Rc;

use portcullis::{migrate, EncryptionKey, Env, KeyRing, TokenConfig, TokenData, TokenService, UserInfo};
use portcullis_native::testing::{Faults, Faulty, MockClock};
use portcullis_native::{MemoryKv, OsRandom, SqliteSql};

pub const NOW: i64 = 1_750_000_000;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;

pub struct Harness {
    pub service: TokenService,
    pub clock: MockClock,
    pub kv: MemoryKv,
    pub sql: SqliteSql,
    pub faults: Faults,
    pub env: Env,
}

pub fn key_ring() -> KeyRing {
    KeyRing::new(EncryptionKey::new("k1", [7; 32]).unwrap(), vec![]).unwrap()
}

pub fn config() -> TokenConfig {
    TokenConfig {
        known_scopes: ["read:all", "read:image", "exec:notebook", "write:files"].map(String::from).to_vec(),
        ..TokenConfig::default()
    }
}

impl Harness {
    pub async fn new() -> Harness {
        let clock = MockClock::at(NOW);
        let kv = MemoryKv::with_clock(clock.now_fn());
        let sql = SqliteSql::in_memory().unwrap();
        Harness::on(clock, kv, sql, key_ring()).await
    }

    /// Another service (another "process") on the same stores.
    pub async fn sibling(&self) -> Harness {
        Harness::on(self.clock.clone(), self.kv.clone(), self.sql.clone(), key_ring()).await
    }

    /// A service that keeps validated tokens for `seconds` (`validation_cache_seconds`).
    pub async fn with_validation_cache(seconds: u64) -> Harness {
        let clock = MockClock::at(NOW);
        let kv = MemoryKv::with_clock(clock.now_fn());
        let config = TokenConfig { validation_cache_seconds: seconds, ..config() };
        Harness::on_with(clock, kv, SqliteSql::in_memory().unwrap(), key_ring(), config).await
    }

    pub async fn on(clock: MockClock, kv: MemoryKv, sql: SqliteSql, keys: KeyRing) -> Harness {
        Harness::on_with(clock, kv, sql, keys, config()).await
    }

    async fn on_with(clock: MockClock, kv: MemoryKv, sql: SqliteSql, keys: KeyRing, config: TokenConfig) -> Harness {
        let faults = Faults::default();
        migrate(&sql, NOW).await.unwrap();
        let env = Env {
            kv: Rc::new(Faulty { inner: kv.clone(), faults: faults.clone() }),
            sql: Rc::new(Faulty { inner: sql.clone(), faults: faults.clone() }),
            clock: Rc::new(clock.clone()),
            rng: Rc::new(OsRandom),
        };
        let service = TokenService::new(env.clone(), keys, config).unwrap();
        Harness { service, clock, kv, sql, faults, env }
    }

    /// Logs `username` in with `scopes`; returns the session token and its data.
    pub async fn login(&self, username: &str, scopes: &[&str]) -> (String, TokenData) {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let user = UserInfo {
            name: Some(format!("{username} user")),
            email: Some(format!("{username}@example.com")),
            uid: Some(1000),
            ..UserInfo::default()
        };
        let token = self.service.create_session_token(username, user, &scopes, Some("192.0.2.1")).await.unwrap();
        let text = self.service.encode(&token);
        let data = self.service.validate(&text).await.unwrap();
        (text, data)
    }

    pub async fn admin(&self) -> TokenData {
        self.login("admin", &["admin:token"]).await.1
    }

    /// How many SQL rows `sql` counts.
    pub async fn count(&self, sql: &str) -> i64 {
        use portcullis::Sql;
        let result = self.sql.execute(sql, &[]).await.unwrap();
        result.rows[0].values[0].as_i64().unwrap()
    }
}

pub fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs an async test on a single-threaded executor.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}
