//! Scale on the embedded default's stores (SQLite files for SQL and KV). Prints one JSON line
//! per measurement.
//!
//! - `scale fill DIR N`: makes DIR a data directory of `portcullis serve --data` (its SQLite
//!   files and encryption key) holding N session tokens of 1,000 users, writes 1,000 of them,
//!   spread evenly over the store, to `DIR.tokens` and the count to `DIR.count` (for
//!   bench/scale-http.mjs, which measures
//!   `/auth` on the server), and times `validate` (what `/auth` runs) on them through the core
//!   API. Bounded: filling stops at N or after `PORTCULLIS_BENCH_FILL_SECONDS` (default 150),
//!   and the count reached is reported.
//! - `scale ops`: `delete_expired` on 100,000 expired tokens, listing a user's 10,000 tokens,
//!   and, on a token with 10,000 descendants over two levels, listing them (`descendants`, the
//!   recursive query revocation walks) and revoking it.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use portcullis::{migrate, Clock, EncryptionKey, Env, KeyRing, TokenConfig, TokenService, UserInfo};
use portcullis_native::testing::MockClock;
use portcullis_native::{OsRandom, SqliteKv, SqliteSql};
use serde_json::json;

const NOW: i64 = 1_750_000_000;
const LOOKUPS: usize = 5_000;
/// Tokens written to `DIR.tokens` and looked up: the same number whatever the store holds, so
/// that only the store's size differs between two fills.
const SAMPLE: usize = 1_000;

struct Store {
    service: TokenService,
    clock: MockClock,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store in a temporary directory, on a clock the benchmark moves.
async fn store() -> Store {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-scale-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let key = EncryptionKey::new("k1", [7; 32]).unwrap();
    let mut store = open(&dir, MockClock::at(NOW), key).await;
    store._dir = Some(TempDir(dir));
    store
}

async fn open(dir: &std::path::Path, clock: MockClock, key: EncryptionKey) -> Store {
    let sql = SqliteSql::open(&dir.join("portcullis.sqlite")).unwrap();
    let kv = SqliteKv::new(SqliteSql::open(&dir.join("kv.sqlite")).unwrap(), clock.now_fn()).unwrap();
    migrate(&sql, clock.now()).await.unwrap();
    let env = Env { kv: Rc::new(kv), sql: Rc::new(sql), clock: Rc::new(clock.clone()), rng: Rc::new(OsRandom) };
    let keys = KeyRing::new(key, vec![]).unwrap();
    let config = TokenConfig { known_scopes: vec!["read:all".into(), "user:token".into()], ..TokenConfig::default() };
    Store { service: TokenService::new(env, keys, config).unwrap(), clock, _dir: None }
}

/// `scale fill DIR N`: see the module documentation.
async fn fill_data_dir(dir: &std::path::Path, n: usize) {
    use std::os::unix::fs::OpenOptionsExt;
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    // The key file `portcullis serve` reads (`DataDir::encryption_keys`), owner-only.
    let key = EncryptionKey::generate("k1", &OsRandom).unwrap();
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dir.join("encryption-keys")).unwrap();
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_spec()).as_bytes()).unwrap();
    // The real time: the server checks expiries against its own clock.
    let now = portcullis_native::system_millis() / 1000;
    let store = open(dir, MockClock::at(now), key).await;
    let (sample, made, secs) = fill(&store, n).await;
    let mut tokens_file = dir.as_os_str().to_owned();
    tokens_file.push(".tokens");
    std::fs::write(&tokens_file, sample.join("\n") + "\n").unwrap();
    let mut count_file = dir.as_os_str().to_owned();
    count_file.push(".count");
    std::fs::write(&count_file, made.to_string()).unwrap();
    let (p50, p99) = lookups(&store, &sample).await;
    println!(
        "{}",
        json!({"bench": "scale-validate", "tokens": made, "fill_seconds": (secs * 10.0).round() / 10.0, "lookups": LOOKUPS, "p50_us": p50.round(), "p99_us": p99.round()})
    );
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// Creates up to `n` session tokens (1,000 users) within the fill budget; returns
/// [`SAMPLE`] of their texts, spread evenly over the store, and the number created.
async fn fill(store: &Store, n: usize) -> (Vec<String>, usize, f64) {
    let budget = Duration::from_secs(
        std::env::var("PORTCULLIS_BENCH_FILL_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(150),
    );
    let start = Instant::now();
    let scopes = vec!["read:all".to_owned()];
    let mut sample = Vec::new();
    let mut made = 0;
    while made < n && start.elapsed() < budget {
        let user = format!("user{}", made % 1000);
        let token = store.service.create_session_token(&user, UserInfo::default(), &scopes, None).await.unwrap();
        if made % (n / SAMPLE).max(1) == 0 && sample.len() < SAMPLE {
            sample.push(store.service.encode(&token));
        }
        made += 1;
    }
    (sample, made, start.elapsed().as_secs_f64())
}

async fn lookups(store: &Store, tokens: &[String]) -> (f64, f64) {
    let mut times = Vec::with_capacity(LOOKUPS);
    for i in 0..LOOKUPS {
        let token = &tokens[(i * 7919) % tokens.len()];
        let start = Instant::now();
        store.service.validate(token).await.unwrap();
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[LOOKUPS / 2], times[LOOKUPS * 99 / 100])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    block_on(async {
        match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["fill", dir, n] => fill_data_dir(std::path::Path::new(dir), n.parse().expect("N is a count")).await,
            ["ops"] => {
                expiry().await;
                listing().await;
                tree().await;
            }
            _ => {
                eprintln!("usage: scale fill DIR N | scale ops");
                std::process::exit(2);
            }
        }
    });
}

/// `delete_expired` on 100,000 expired tokens.
async fn expiry() {
    let store = store().await;
    let (_, made, _) = fill(&store, EXPIRED).await;
    store.clock.advance(400 * 86_400);
    let start = Instant::now();
    let deleted = store.service.delete_expired().await.unwrap().len();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"bench": "scale-delete-expired", "tokens": made, "deleted": deleted, "seconds": round3(secs)})
    );
}

const EXPIRED: usize = 100_000;
const PER_USER: usize = 10_000;
/// The tree of [`tree`]: the root's children, and all its descendants.
const CHILDREN: usize = 100;
const DESCENDANTS: usize = 10_000;

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A session token of `username` with the scopes that let it manage its own tokens.
async fn login(store: &Store, username: &str) -> portcullis::TokenData {
    let scopes = vec!["read:all".to_owned(), "user:token".to_owned()];
    let token = store.service.create_session_token(username, UserInfo::default(), &scopes, None).await.unwrap();
    store.service.validate(&store.service.encode(&token)).await.unwrap()
}

/// `list_tokens` of a user with 10,000 tokens (what `GET /users/{username}/tokens` runs).
async fn listing() {
    let store = store().await;
    let auth = login(&store, "lister").await;
    let scopes = vec!["read:all".to_owned()];
    for i in 0..PER_USER - 1 {
        store.service.create_user_token(&auth, "lister", &format!("token-{i}"), &scopes, None, None).await.unwrap();
    }
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..5 {
        let start = Instant::now();
        listed = store.service.list_tokens(&auth, "lister").await.unwrap().len();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"bench": "scale-list-tokens", "tokens": listed, "runs": times.len(), "median_seconds": round3(times[times.len() / 2])})
    );
}

/// A session token with [`DESCENDANTS`] descendants over two levels ([`CHILDREN`] internal
/// tokens, each with internal tokens of its own): `descendants` on it (the recursive query that
/// revocation walks; the median of 5), then `delete_token` of it (every descendant's KV record,
/// SQL row and history entry).
async fn tree() {
    let store = store().await;
    let parent = login(&store, "parent").await;
    let scopes = vec!["read:all".to_owned()];
    let mut last = None;
    for i in 0..CHILDREN {
        let child = store.service.get_internal_token(&parent, &format!("svc-{i}"), &scopes, None, None).await.unwrap();
        let child = store.service.validate(&store.service.encode(&child)).await.unwrap();
        for j in 0..DESCENDANTS / CHILDREN - 1 {
            last =
                Some(store.service.get_internal_token(&child, &format!("sub-{j}"), &scopes, None, None).await.unwrap());
        }
    }
    let last = store.service.encode(&last.unwrap());
    assert!(store.service.validate(&last).await.is_ok());
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..5 {
        let start = Instant::now();
        found = store.service.descendants(&parent.key).await.unwrap().len();
        times.push(start.elapsed().as_secs_f64());
    }
    assert_eq!(found, DESCENDANTS);
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"bench": "scale-descendants", "descendants": found, "depth": 2, "runs": times.len(), "median_seconds": round4(times[times.len() / 2])})
    );
    let start = Instant::now();
    store.service.delete_token(&parent, "parent", &parent.key, None).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(store.service.validate(&last).await.is_err(), "a descendant outlived the revocation of its root");
    println!(
        "{}",
        json!({"bench": "scale-revoke-tree", "descendants": DESCENDANTS, "depth": 2, "seconds": round3(secs)})
    );
}
