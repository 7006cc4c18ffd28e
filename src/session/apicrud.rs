//! apicrud's encrypted sessions: a JSON record per login in KV, fixed so that the full id is
//! checked on every call (delete included), an update keeps the session's own expiry, and the
//! record is sealed with AES-GCM rather than unauthenticated CBC.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::codec::b64url;
use crate::crypto::{hash_secret, KeyRing, SecretHash};
use crate::env::{random_array, Env, UnixTime};
use crate::error::{RequestError, Result, SessionError};
use crate::store::record::{OpenedRecords, Records};

/// Claims the session sets itself; callers cannot pass or update these.
const RESERVED: [&str; 5] = ["auth", "exp", "iss", "jti", "sub"];
/// Characters of the id that name the KV key; the rest is checked against the stored hash.
const KEY_PART: usize = 8;
const MAX_UID_LEN: usize = 256;

#[derive(Serialize, Deserialize, Clone)]
struct Stored {
    hash: SecretHash,
    claims: Map<String, Json>,
}

/// Encrypted login sessions, one KV record each.
pub struct ApicrudSessions {
    env: Env,
    keys: KeyRing,
    ttl: i64,
    issuer: String,
    opened: OpenedRecords,
}

impl ApicrudSessions {
    /// Sessions lasting `ttl` seconds unless `create` says otherwise, issued by `issuer`.
    pub fn new(env: Env, keys: KeyRing, ttl: i64, issuer: &str) -> Self {
        ApicrudSessions { env, keys, ttl, issuer: issuer.to_owned(), opened: OpenedRecords::default() }
    }

    fn records(&self) -> Records<'_> {
        Records { kv: &*self.env.kv, keys: &self.keys, rng: &*self.env.rng, opened: &self.opened }
    }

    /// Creates a session for `uid` with `roles` and extra `claims`; returns every claim,
    /// including `jti`, the session id the caller presents from now on.
    pub async fn create(
        &self,
        uid: &str,
        roles: Vec<String>,
        ttl: Option<i64>,
        claims: Map<String, Json>,
    ) -> Result<Map<String, Json>> {
        check_uid(uid)?;
        if let Some(reserved) = claims.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return Err(RequestError::Invalid(format!("claim {reserved:?} is set by the session manager")).into());
        }
        let ttl = ttl.unwrap_or(self.ttl);
        if ttl <= 0 {
            return Err(RequestError::Invalid("ttl must be positive".into()).into());
        }
        let now = self.env.clock.now();
        let jti = b64url(&random_array::<16>(&*self.env.rng));
        let mut all = claims;
        all.insert("auth".into(), roles.into());
        all.insert("exp".into(), (now + ttl).into());
        all.insert("iss".into(), self.issuer.clone().into());
        all.insert("sub".into(), uid.into());
        let stored = Stored { hash: hash_secret(jti.as_bytes()), claims: all };
        self.records().put(&kv_key(uid, &jti), &stored, Some(now + ttl), now).await?;
        let mut out = stored.claims;
        out.insert("jti".into(), jti.into());
        Ok(out)
    }

    async fn load(&self, uid: &str, token: &str) -> Result<(Stored, UnixTime)> {
        if check_uid(uid).is_err() || token.len() != 22 {
            return Err(SessionError::SessionNotFound.into());
        }
        let now = self.env.clock.now();
        let stored: Stored =
            self.records().get(&kv_key(uid, token), now).await?.valid().ok_or(SessionError::SessionNotFound)?;
        if !stored.hash.matches(token.as_bytes()) {
            return Err(SessionError::SessionNotFound.into());
        }
        Ok((stored, now))
    }

    /// One claim (`field`), or every claim, of a session.
    pub async fn get(&self, uid: &str, token: &str, field: Option<&str>) -> Result<Json> {
        let (stored, _) = self.load(uid, token).await?;
        let mut claims = stored.claims;
        claims.insert("jti".into(), token.into());
        Ok(match field {
            Some(field) => claims.remove(field).unwrap_or(Json::Null),
            None => Json::Object(claims),
        })
    }

    /// Sets one claim; the session keeps its expiry.
    pub async fn update(&self, uid: &str, token: &str, field: &str, value: Json) -> Result<()> {
        if RESERVED.contains(&field) && field != "auth" {
            return Err(RequestError::Invalid(format!("claim {field:?} cannot be changed")).into());
        }
        let (mut stored, now) = self.load(uid, token).await?;
        let exp = stored.claims.get("exp").and_then(Json::as_i64).ok_or(SessionError::SessionNotFound)?;
        stored.claims.insert(field.to_owned(), value);
        self.records().put(&kv_key(uid, token), &stored, Some(exp), now).await?;
        Ok(())
    }

    /// Ends a session; only the holder of its full id can.
    pub async fn delete(&self, uid: &str, token: &str) -> Result<()> {
        self.load(uid, token).await?;
        self.env.kv.delete(&kv_key(uid, token)).await?;
        Ok(())
    }
}

fn check_uid(uid: &str) -> Result<()> {
    if uid.is_empty() || uid.len() > MAX_UID_LEN || uid.chars().any(char::is_control) {
        return Err(RequestError::Invalid("uid must be 1-256 printable characters".into()).into());
    }
    Ok(())
}

/// `apicrud:<hash of uid>:<first characters of the id>`.
fn kv_key(uid: &str, token: &str) -> String {
    let prefix: String = token.chars().take(KEY_PART).collect();
    crate::store::keys::apicrud_session(&b64url(&Sha256::digest(uid.as_bytes())), &prefix)
}
