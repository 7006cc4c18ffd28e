//! Where the JWT manager's keys come from: given by the configuration, or kept in SQL, sealed
//! with the key ring, and generated (Ed25519) on first use, so that every host publishes a
//! JWKS that browsers and other services can verify with, and survives restarts.

use std::cell::RefCell;
use std::rc::Rc;

use crate::codec::decode_base64_any;
use crate::crypto::KeyRing;
use crate::env::{Env, UnixTime};
use crate::error::{ConfigError, Result};
use crate::jwt::{Algorithm, JwtKeys, SigningKey};
use crate::store::{Statement, Value};

/// How often the stored keys are read again (to pick up a rotation made elsewhere).
const RELOAD_SECONDS: i64 = 300;

pub(crate) enum KeySource {
    Fixed(Rc<JwtKeys>),
    Stored { cache: RefCell<Option<(Rc<JwtKeys>, UnixTime)>> },
}

impl KeySource {
    pub(crate) fn stored() -> Self {
        KeySource::Stored { cache: RefCell::new(None) }
    }

    /// The current key set; `fresh` forces a reload of stored keys (an unknown `kid` was seen).
    pub(crate) async fn get(&self, env: &Env, ring: &KeyRing, fresh: bool) -> Result<Rc<JwtKeys>> {
        let cache = match self {
            KeySource::Fixed(keys) => return Ok(keys.clone()),
            KeySource::Stored { cache } => cache,
        };
        let now = env.clock.now();
        if let Some((keys, loaded)) = cache.borrow().as_ref() {
            if !fresh && now - loaded < RELOAD_SECONDS {
                return Ok(keys.clone());
            }
        }
        let keys = Rc::new(load_or_create(env, ring, now).await?);
        *cache.borrow_mut() = Some((keys.clone(), now));
        Ok(keys)
    }
}

async fn read(env: &Env, ring: &KeyRing) -> Result<Option<JwtKeys>> {
    let rows = env
        .sql
        .execute("SELECT kid, sealed FROM jwt_key WHERE retired IS NULL ORDER BY created DESC, kid DESC", &[])
        .await?;
    let mut keys: Option<JwtKeys> = None;
    for row in &rows.rows {
        let (Some(kid), Some(sealed)) = (row.values.first().and_then(Value::as_str), row.values.get(1)) else {
            continue;
        };
        let sealed = match sealed {
            Value::Blob(bytes) => bytes.clone(),
            Value::Text(text) => {
                decode_base64_any(text).ok_or_else(|| ConfigError::Invalid("jwt_key.sealed is not base64".into()))?
            }
            _ => continue,
        };
        let key = SigningKey::open(ring, kid, &sealed)?;
        match keys.as_mut() {
            None => keys = Some(JwtKeys::new(key)),
            Some(set) => set.add_signing_key(key)?,
        }
    }
    Ok(keys)
}

/// Reads the stored keys, generating the first one if there is none. Two instances racing at
/// first start may both insert a key; both then sign with the same one (the newest, ties by
/// kid) and both keys verify.
async fn load_or_create(env: &Env, ring: &KeyRing, now: UnixTime) -> Result<JwtKeys> {
    if let Some(keys) = read(env, ring).await? {
        return Ok(keys);
    }
    add_key(env, ring, Algorithm::EdDsa, now).await?;
    read(env, ring).await?.ok_or_else(|| ConfigError::Invalid("no JWT key after creating one".into()).into())
}

/// Stores a new signing key, which becomes the current one; older keys keep verifying.
/// Returns its `kid`.
pub(crate) async fn add_key(env: &Env, ring: &KeyRing, algorithm: Algorithm, now: UnixTime) -> Result<String> {
    let key = SigningKey::generate(algorithm, &*env.rng)?;
    let sealed = key.seal(ring, &*env.rng);
    // The newest key signs: make this one strictly newer than any before it, even within the
    // same second.
    let latest = env.sql.execute("SELECT MAX(created) FROM jwt_key", &[]).await?;
    let latest = latest.scalar().and_then(Value::as_i64);
    let created = latest.map_or(now, |latest| now.max(latest + 1));
    env.sql
        .batch(&[Statement::new(
            "INSERT INTO jwt_key (kid, alg, sealed, created) VALUES (?, ?, ?, ?) ON CONFLICT (kid) DO NOTHING",
            vec![key.kid().into(), algorithm.name().into(), Value::Blob(sealed), created.into()],
        )])
        .await?;
    Ok(key.kid().to_owned())
}
