//! One in-memory Portcullis per fuzzing process: the HTTP API on SQLite + MemoryKv with a fixed
//! clock, a few credentials to send, and a second token service for raw KV records.

use std::cell::RefCell;
use std::rc::Rc;

use futures::executor::block_on;
use portcullis::api::{Api, ApiOptions};
use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{
    migrate, EncryptionKey, Env, JwtSessionManager, JwtSettings, KeyRing, Kv, TokenConfig, TokenService, UserInfo,
};
use portcullis_native::testing::MockClock;
use portcullis_native::{MemoryKv, OsRandom, SqliteSql};

pub const NOW: i64 = 1_750_000_000;
pub const BOOTSTRAP: &str = "pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZQ";
/// The token whose `token:<key>` record `check_record` replaces with fuzz input.
pub const RECORD_KEY: &str = "QUJDREVGR0hJSktMTU5PUA";
pub const RECORD_TOKEN: &str = "pc-QUJDREVGR0hJSktMTU5PUA.c2VjcmV0LXNlY3JldC1zZQ";

pub struct Fixture {
    pub api: Api,
    pub ring: KeyRing,
    /// Credentials a request may carry: bootstrap, admin session, user session, user token,
    /// JWT access, JWT refresh, JWT API token.
    pub credentials: Vec<String>,
    /// Token keys and usernames that exist, for paths.
    pub keys: Vec<String>,
    pub users: Vec<String>,
    records: TokenService,
    record_kv: MemoryKv,
}

pub fn key_ring() -> KeyRing {
    let old = EncryptionKey::new("k1", [7; 32]).unwrap();
    KeyRing::new(EncryptionKey::new("k2", [9; 32]).unwrap(), vec![old]).unwrap()
}

fn config() -> TokenConfig {
    TokenConfig {
        known_scopes: ["read:all", "read:image", "exec:notebook", "write:files"].map(String::from).to_vec(),
        ..TokenConfig::default()
    }
}

fn new_env(clock: &MockClock) -> (Env, MemoryKv) {
    let kv = MemoryKv::with_clock(clock.now_fn());
    let sql = SqliteSql::in_memory().unwrap();
    block_on(migrate(&sql, NOW)).unwrap();
    let env = Env { kv: Rc::new(kv.clone()), sql: Rc::new(sql), clock: Rc::new(clock.clone()), rng: Rc::new(OsRandom) };
    (env, kv)
}

fn build() -> Fixture {
    let clock = MockClock::at(NOW);
    let (env, _) = new_env(&clock);
    let service =
        TokenService::new(env.clone(), key_ring(), config().with_bootstrap_token(BOOTSTRAP).unwrap()).unwrap();
    let jwt_keys = JwtKeys::new(SigningKey::from_bytes(Algorithm::EdDsa, &[3; 32]).unwrap());
    let sessions = JwtSessionManager::new(env.clone(), key_ring(), jwt_keys, JwtSettings::default());
    let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (credentials, keys) = block_on(async {
        let user =
            UserInfo { name: Some("Alice".into()), email: Some("alice@example.com".into()), ..UserInfo::default() };
        let admin =
            service.create_session_token("admin", UserInfo::default(), &scopes(&["admin:token"]), None).await.unwrap();
        let alice = service
            .create_session_token("alice", user, &scopes(&["read:all", "exec:notebook", "user:token"]), None)
            .await
            .unwrap();
        let alice_data = service.validate(&service.encode(&alice)).await.unwrap();
        let named = service
            .create_user_token(&alice_data, "alice", "laptop", &scopes(&["read:all"]), None, None)
            .await
            .unwrap();
        let pair = sessions.create_session("bob", &scopes(&["read:all"])).await.unwrap();
        let api_token = sessions.create_api_token("bob", None, Default::default()).await.unwrap();
        let credentials = vec![
            BOOTSTRAP.to_owned(),
            service.encode(&admin),
            service.encode(&alice),
            service.encode(&named),
            pair.access_token,
            pair.refresh_token,
            api_token,
        ];
        let keys = [&admin, &alice, &named].iter().map(|t| t.key().to_string()).collect();
        (credentials, keys)
    });
    let api = Api::new(service, ApiOptions::default()).with_sessions(Some(sessions));
    let (record_env, record_kv) = new_env(&clock);
    let records = TokenService::new(record_env, key_ring(), config()).unwrap();
    Fixture {
        api,
        ring: key_ring(),
        credentials,
        keys,
        users: ["alice", "bob", "admin", "bot-mobu", "nobody"].map(String::from).to_vec(),
        records,
        record_kv,
    }
}

/// Inputs served by one fixture before it is rebuilt: the API keeps what each input creates,
/// so without a reset a long run grows in memory until libFuzzer calls it a leak.
const FIXTURE_USES: u32 = 2_000;

/// The process's fixture, built on first use and rebuilt every `FIXTURE_USES` inputs (libFuzzer
/// runs one input at a time on one thread).
pub fn fixture() -> Rc<Fixture> {
    thread_local! {
        static FIXTURE: RefCell<Option<(u32, Rc<Fixture>)>> = const { RefCell::new(None) };
    }
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some((uses, fixture)) if *uses < FIXTURE_USES => {
                *uses += 1;
                fixture.clone()
            }
            _ => {
                let fixture = Rc::new(build());
                *slot = Some((1, fixture.clone()));
                fixture
            }
        }
    })
}

impl Fixture {
    /// Stores `payload` as the record of `RECORD_TOKEN`, raw and sealed, and checks that the
    /// service never panics and never accepts it past strict validation (there is no SQL row),
    /// and that the audit removes it.
    pub fn check_record(&self, payload: &[u8]) {
        let key = format!("token:{RECORD_KEY}");
        let sealed = self.ring.seal(key.as_bytes(), payload, &OsRandom);
        for value in [payload, &sealed[..]] {
            self.record_kv.put_raw(&key, value);
            block_on(async {
                let fast = self.records.validate(RECORD_TOKEN).await;
                if value == payload {
                    assert!(fast.is_err(), "an unsealed record was accepted");
                }
                if let Ok(data) = fast {
                    assert_eq!(data.key.as_str(), RECORD_KEY);
                }
                assert!(self.records.validate_strict(RECORD_TOKEN).await.is_err(), "valid without a SQL row");
                let _ = self.records.audit(false).await.unwrap();
                let _ = self.records.audit(true).await.unwrap();
                assert!(self.records.validate(RECORD_TOKEN).await.is_err(), "the audit left the record usable");
                let after = self.records.audit(false).await.unwrap();
                assert!(after.is_clean(), "audit(true) left issues: {after:?}");
                self.record_kv.delete(&key).await.unwrap();
            });
        }
    }
}
