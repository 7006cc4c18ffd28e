//! plantdb's JWTSessionManager, fixed: access / refresh / API tokens whose every `jti` is
//! tracked, refresh rotation as one atomic conditional SQL write with a retry-safe grace window
//! and reuse detection that revokes the whole family (RFC 9700), and typed errors throughout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use std::rc::Rc;

use super::jwt_keys::KeySource;
use super::store::{SessionLimits, SessionRow, SessionTable, WhenFull};
use crate::crypto::KeyRing;
use crate::env::{Env, UnixTime};
use crate::error::{Error, Result, SessionError};
use crate::jwt::{
    new_jti, Algorithm, CryptoProvider, JwtClaims, JwtError, JwtKeys, RustCrypto, TokenType, ValidationOptions,
    Validator, VerifiedCache,
};
use crate::store::record::{OpenedRecords, Records};
use crate::store::{keys, Statement, Value};

/// What an API token's `datasets` claim may grant on a dataset pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Read,
    Write,
    Create,
    Delete,
    ManageUsers,
    ManageGroups,
}

/// Dataset pattern -> permissions.
pub type Datasets = BTreeMap<String, Vec<Permission>>;

const MANAGER: &str = "jwt";
/// How often a session marker is rewritten while SQL keeps changing under it.
const MARKER_SYNC_ATTEMPTS: usize = 8;

/// Settings of the JWT session manager; the defaults are plantdb's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    /// Lifetime of access tokens (plantdb's `session_timeout`), seconds.
    pub session_timeout: u32,
    /// Lifetime of refresh tokens, seconds.
    pub refresh_timeout: u32,
    /// Clock skew allowed on `exp`/`nbf`/`iat`, seconds.
    pub leeway: u32,
    /// A refresh token presented again within this many seconds gets the same successor pair.
    pub refresh_grace: i64,
    /// Default lifetime of API tokens, seconds.
    pub api_token_lifetime: u32,
    pub limits: SessionLimits,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            issuer: "portcullis".into(),
            audience: "portcullis".into(),
            session_timeout: 900,
            refresh_timeout: 86_400,
            leeway: 2,
            refresh_grace: 10,
            api_token_lifetime: 3600,
            limits: SessionLimits { per_user: None, global: Some(10), when_full: WhenFull::Refuse },
        }
    }
}

/// A new access/refresh pair, in the OAuth 2 token-response shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// Who a valid access or API token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwtUser {
    pub username: String,
    pub jti: String,
    pub token_type: TokenType,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub issuer: String,
    pub audience: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Datasets>,
}

/// What the KV fast path keeps per session family: the one live access token.
#[derive(Serialize, Deserialize, Clone)]
struct SessionMarker {
    access_jti: String,
    username: String,
}

/// A session to end: by one of its access tokens, or by that token's `jti`.
pub enum SessionRef<'a> {
    Token(&'a str),
    Jti(&'a str),
}

/// Issues and checks JWT sessions, with their state in SQL (and a KV fast path).
pub struct JwtSessionManager {
    env: Env,
    ring: KeyRing,
    keys: KeySource,
    settings: JwtSettings,
    crypto: Rc<dyn CryptoProvider>,
    /// Tokens that passed before: the same access token again skips the parse and the signature.
    verified: VerifiedCache,
    opened: OpenedRecords,
}

fn db_error(e: crate::StoreError) -> Error {
    e.into()
}

impl JwtSessionManager {
    /// A manager signing with `keys`.
    pub fn new(env: Env, ring: KeyRing, keys: JwtKeys, settings: JwtSettings) -> Self {
        JwtSessionManager {
            env,
            ring,
            keys: KeySource::Fixed(Rc::new(keys)),
            settings,
            crypto: Rc::new(RustCrypto),
            verified: VerifiedCache::default(),
            opened: OpenedRecords::default(),
        }
    }

    /// A manager whose keys live in SQL, sealed with `ring`: an Ed25519 key is generated on
    /// first use and kept across restarts and instances.
    pub fn with_stored_keys(env: Env, ring: KeyRing, settings: JwtSettings) -> Self {
        JwtSessionManager {
            env,
            ring,
            keys: KeySource::stored(),
            settings,
            crypto: Rc::new(RustCrypto),
            verified: VerifiedCache::default(),
            opened: OpenedRecords::default(),
        }
    }

    /// Checks token signatures with `crypto` instead of pure Rust (every other rule is the
    /// core's either way).
    pub fn with_crypto(mut self, crypto: Rc<dyn CryptoProvider>) -> Self {
        self.crypto = crypto;
        self
    }

    /// Adds a new stored signing key of `algorithm` that becomes current; the others keep
    /// verifying until retired. Returns its `kid`.
    pub async fn rotate_stored_key(&self, algorithm: Algorithm) -> Result<String> {
        let kid = super::jwt_keys::add_key(&self.env, &self.ring, algorithm, self.now()).await?;
        self.keys.get(&self.env, &self.ring, true).await?;
        Ok(kid)
    }

    async fn keys(&self) -> Result<Rc<JwtKeys>> {
        self.keys.get(&self.env, &self.ring, false).await
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// The public keys, as `/.well-known/jwks.json` publishes them.
    pub async fn jwks(&self) -> Result<serde_json::Value> {
        Ok(self.keys().await?.jwks())
    }

    fn now(&self) -> UnixTime {
        self.env.clock.now()
    }

    fn records(&self) -> Records<'_> {
        Records { kv: &*self.env.kv, keys: &self.ring, rng: &*self.env.rng, opened: &self.opened }
    }

    fn table(&self) -> SessionTable<'_> {
        SessionTable { env: &self.env, manager: MANAGER }
    }

    fn options(&self, kind: TokenType) -> ValidationOptions {
        ValidationOptions::new(&self.settings.issuer, &self.settings.audience, kind).leeway(self.settings.leeway)
    }

    /// Verifies signature and claims, mapping failures to the session error kinds. An unknown
    /// `kid` reloads stored keys once (another instance may have rotated).
    async fn verify(&self, token: &str, options: ValidationOptions) -> Result<JwtClaims> {
        let keys = self.keys().await?;
        let crypto = &*self.crypto;
        let validator = Validator::new(&keys, options.clone());
        match self.verified.verify_with(&validator, crypto, token, self.now()).await {
            Err(JwtError::UnknownKey { .. }) if matches!(self.keys, KeySource::Stored { .. }) => {
                let keys = self.keys.get(&self.env, &self.ring, true).await?;
                let verified = Validator::new(&keys, options).verify_with(crypto, token, self.now()).await;
                verified.map(|v| v.into_claims()).map_err(session_error)
            }
            result => result.map(|v| v.into_claims()).map_err(session_error),
        }
    }

    fn claims(&self, token_type: TokenType, sub: &str, iat: UnixTime, lifetime: u32, jti: &str) -> JwtClaims {
        JwtClaims::new(&self.settings.issuer, sub, &self.settings.audience, token_type, iat, lifetime, jti)
    }

    /// Signs the pair for access `access` / refresh `refresh` as issued at their times, so a
    /// retry is answered with exactly the tokens the first call made.
    async fn sign_pair(
        &self,
        family: &str,
        username: &str,
        scopes: &[String],
        access: (&str, UnixTime),
        refresh: (&str, UnixTime),
    ) -> Result<TokenPair> {
        let scope = serde_json::Value::from(scopes.join(" "));
        let access_claims = self
            .claims(TokenType::Access, username, access.1, self.settings.session_timeout, access.0)
            .with_extra("sid", family.into())?
            .with_extra("scope", scope.clone())?;
        let refresh_claims = self
            .claims(TokenType::Refresh, username, refresh.1, self.settings.refresh_timeout, refresh.0)
            .with_extra("sid", family.into())?
            .with_extra("scope", scope)?;
        let keys = self.keys().await?;
        Ok(TokenPair {
            access_token: keys.issue(&access_claims)?,
            refresh_token: keys.issue(&refresh_claims)?,
            token_type: "Bearer",
            expires_in: access_claims.exp - self.now(),
        })
    }

    /// The family's live access token as SQL has it (`None` once the family is gone): what the
    /// KV marker must say.
    async fn live_access(&self, family: &str) -> Result<Option<LiveAccess>> {
        let r = self
            .env
            .sql
            .execute(
                "SELECT a.jti, a.username, a.expires FROM access_token a JOIN session s ON s.manager = ? AND s.id = a.family \
                 WHERE a.family = ? AND s.expires > ? ORDER BY a.issued DESC, a.jti LIMIT 1",
                &[MANAGER.into(), family.into(), self.now().into()],
            )
            .await?;
        Ok(r.rows.first().and_then(|row| {
            let v = &row.values;
            Some(LiveAccess {
                jti: v.first()?.as_str()?.to_owned(),
                username: v.get(1)?.as_str()?.to_owned(),
                expires: v.get(2)?.as_i64()?,
            })
        }))
    }

    /// Makes the family's KV marker say what SQL says, after a write to the family in SQL; returns
    /// the live access token's `jti`. Writing what this call decided earlier is not enough: a
    /// rotation or revocation elsewhere may have landed in between, and a late marker would make
    /// the fast path honour a dead token. So the write is checked against SQL and redone until
    /// both agree; every writer does the same, and the last write stands checked.
    async fn sync_marker(&self, family: &str) -> Result<Option<String>> {
        let key = keys::jwt_session(family);
        let mut live = self.live_access(family).await?;
        for _ in 0..MARKER_SYNC_ATTEMPTS {
            match &live {
                Some(access) => {
                    let marker = SessionMarker { access_jti: access.jti.clone(), username: access.username.clone() };
                    // The marker outlives the token by the leeway the validator grants it.
                    let expires = access.expires + i64::from(self.settings.leeway) + 1;
                    self.records().put(&key, &marker, Some(expires), self.now()).await?;
                }
                None => self.env.kv.delete(&key).await?,
            }
            let again = self.live_access(family).await?;
            if again == live {
                return Ok(live.map(|access| access.jti));
            }
            live = again;
        }
        // Still changing: fail closed; strict validation and the next rotation are unaffected.
        self.env.kv.delete(&key).await?;
        Err(crate::StoreError::Other("the session kept changing while its marker was written".into()).into())
    }

    /// A new session (login) for `username` with `scopes`: an access and a refresh token.
    pub async fn create_session(&self, username: &str, scopes: &[String]) -> Result<TokenPair> {
        crate::token::rules::check_username(username)?;
        let scopes = crate::token::rules::sorted(scopes);
        if let Some(bad) = scopes.iter().find(|s| !crate::token::valid_scope(s)) {
            return Err(crate::RequestError::InvalidScopes(format!("malformed scope {bad:?}")).into());
        }
        let rng = &*self.env.rng;
        let (family, access, refresh) = (new_jti(rng), new_jti(rng), new_jti(rng));
        let now = self.now();
        let access_exp = now + i64::from(self.settings.session_timeout);
        let row = SessionRow {
            id: family.clone(),
            username: username.to_owned(),
            created: now,
            last_access: now,
            expires: now + i64::from(self.settings.refresh_timeout),
        };
        let extra = vec![
            Statement::new(
                "INSERT INTO refresh_token (jti, family, username, scopes, issued, expires) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    refresh.as_str().into(),
                    family.as_str().into(),
                    username.into(),
                    scopes.join(",").into(),
                    now.into(),
                    row.expires.into(),
                ],
            ),
            Statement::new(
                "INSERT INTO access_token (jti, family, username, issued, expires) VALUES (?, ?, ?, ?, ?)",
                vec![access.as_str().into(), family.as_str().into(), username.into(), now.into(), access_exp.into()],
            ),
        ];
        // Evicted sessions lose their markers before their rows (see `insert_limited`).
        let marker = |family: &str| keys::jwt_session(family);
        self.table().insert_limited(&row, None, extra, &self.settings.limits, &family_cascade, Some(&marker)).await?;
        // A concurrent creation may already have evicted this one: then the pair is dead.
        self.sync_marker(&family).await?;
        self.sign_pair(&family, username, &scopes, (&access, now), (&refresh, now)).await
    }

    /// The user of a valid access token whose session is live.
    pub async fn validate_session(&self, token: &str) -> Result<JwtUser> {
        let claims = self.verify(token, self.options(TokenType::Access)).await?;
        self.check_access(claims).await
    }

    /// The user of a valid access or API token (never a refresh token): what the HTTP API
    /// accepts as authentication.
    pub async fn authenticate(&self, token: &str) -> Result<JwtUser> {
        let claims = self.verify(token, self.options(TokenType::Access).also_accept(TokenType::Api)).await?;
        match claims.token_type {
            TokenType::Api => self.check_api(claims).await,
            _ => self.check_access(claims).await,
        }
    }

    /// Like [`JwtSessionManager::authenticate`], and also checks SQL, where revocation is
    /// atomic everywhere at once.
    pub async fn authenticate_strict(&self, token: &str) -> Result<JwtUser> {
        let user = self.authenticate(token).await?;
        if user.token_type == TokenType::Access {
            let live = self
                .env
                .sql
                .execute(
                    "SELECT a.jti FROM access_token a JOIN session s ON s.manager = ? AND s.id = a.family \
                     WHERE a.jti = ? AND s.expires > ?",
                    &[MANAGER.into(), user.jti.as_str().into(), self.now().into()],
                )
                .await?;
            if live.rows.is_empty() {
                return Err(SessionError::AccessTokenNotFound.into());
            }
        }
        Ok(user)
    }

    /// The owner of a live API token.
    pub async fn api_token_owner(&self, jti: &str) -> Result<Option<String>> {
        let r = self.env.sql.execute("SELECT username FROM api_token WHERE jti = ?", &[jti.into()]).await?;
        Ok(r.scalar().and_then(Value::as_str).map(str::to_owned))
    }

    async fn check_access(&self, claims: JwtClaims) -> Result<JwtUser> {
        let family = claims
            .extra
            .get("sid")
            .and_then(|v| v.as_str())
            .ok_or(SessionError::InvalidTokenProcessing("missing_claim"))?;
        let marker: Option<SessionMarker> = self.records().get(&keys::jwt_session(family), self.now()).await?.valid();
        match marker {
            Some(m) if m.access_jti == claims.jti && m.username == claims.sub => Ok(user_of(claims)),
            _ => Err(SessionError::AccessTokenNotFound.into()),
        }
    }

    async fn check_api(&self, claims: JwtClaims) -> Result<JwtUser> {
        let found = self
            .env
            .sql
            .execute(
                "SELECT username FROM api_token WHERE jti = ? AND expires > ?",
                &[claims.jti.as_str().into(), self.now().into()],
            )
            .await?;
        match found.scalar().and_then(Value::as_str) {
            Some(username) if username == claims.sub => Ok(user_of(claims)),
            _ => Err(SessionError::ApiTokenNotFound.into()),
        }
    }

    /// Exchanges a refresh token for a new pair; the old pair stops working. Presented again
    /// within the grace window, the same refresh token gets the same new pair; after it, the
    /// whole family is revoked and [`SessionError::RefreshTokenReused`] returned.
    pub async fn refresh_session(&self, refresh_token: &str) -> Result<TokenPair> {
        let claims = self.verify(refresh_token, self.options(TokenType::Refresh)).await?;
        let rng = &*self.env.rng;
        let (next_refresh, next_access) = (new_jti(rng), new_jti(rng));
        let now = self.now();
        let refresh_exp = now + i64::from(self.settings.refresh_timeout);
        let access_exp = now + i64::from(self.settings.session_timeout);
        let old = claims.jti.as_str();
        let won = |sql: &str| format!("{sql} FROM refresh_token WHERE jti = ? AND successor = ?");
        let mine = |mut params: Vec<Value>| {
            params.extend([old.into(), next_refresh.as_str().into()]);
            params
        };
        let batch = vec![
            // The session row first, as a revocation or an eviction takes it: rows locked in the
            // same order cannot deadlock on PostgreSQL (which would abort the revocation).
            Statement::new(
                "UPDATE session SET last_access = last_access WHERE manager = ? \
                 AND id IN (SELECT family FROM refresh_token WHERE jti = ?)",
                vec![MANAGER.into(), old.into()],
            ),
            Statement::new(
                "UPDATE refresh_token SET used_at = ?, successor = ?, successor_access = ? \
                 WHERE jti = ? AND used_at IS NULL AND expires > ? \
                 AND EXISTS (SELECT 1 FROM session WHERE manager = ? AND id = refresh_token.family)",
                vec![
                    now.into(),
                    next_refresh.as_str().into(),
                    next_access.as_str().into(),
                    old.into(),
                    now.into(),
                    MANAGER.into(),
                ],
            ),
            Statement::new(
                format!(
                    "INSERT INTO refresh_token (jti, family, username, scopes, issued, expires) {}",
                    won("SELECT ?, family, username, scopes, ?, ?")
                ),
                mine(vec![next_refresh.as_str().into(), now.into(), refresh_exp.into()]),
            ),
            Statement::new(
                format!(
                    "INSERT INTO access_token (jti, family, username, issued, expires) {}",
                    won("SELECT ?, family, username, ?, ?")
                ),
                mine(vec![next_access.as_str().into(), now.into(), access_exp.into()]),
            ),
            Statement::new(
                format!("DELETE FROM access_token WHERE jti <> ? AND family IN ({})", won("SELECT family")),
                mine(vec![next_access.as_str().into()]),
            ),
            Statement::new(
                format!(
                    "UPDATE session SET last_access = ?, expires = ? WHERE manager = ? AND id IN ({})",
                    won("SELECT family")
                ),
                mine(vec![now.into(), refresh_exp.into(), MANAGER.into()]),
            ),
        ];
        let changed = self.env.sql.batch(&batch).await?;
        if changed.get(1) == Some(&1) {
            let row = self.refresh_row(&next_refresh).await?.ok_or(SessionError::RefreshTokenNotFound)?;
            // Revoked (logout, reuse detection, eviction) since the rotation: nothing to hand out.
            self.sync_marker(&row.family).await?.ok_or(SessionError::RefreshTokenNotFound)?;
            return self
                .sign_pair(&row.family, &row.username, &row.scopes, (&next_access, now), (&next_refresh, now))
                .await;
        }
        self.refresh_lost(old, now).await
    }

    /// The refresh token was not rotated by this call: a retry within grace, a reuse, or dead.
    async fn refresh_lost(&self, old: &str, now: UnixTime) -> Result<TokenPair> {
        let row = self.refresh_row(old).await?.ok_or(SessionError::RefreshTokenNotFound)?;
        let (Some(used_at), Some(successor), Some(access)) = (row.used_at, &row.successor, &row.successor_access)
        else {
            return Err(SessionError::RefreshTokenNotFound.into());
        };
        if now - used_at <= self.settings.refresh_grace {
            let issued = |sql: &str, jti: &str| {
                let sql = sql.to_owned();
                let jti = jti.to_owned();
                async move {
                    let r = self.env.sql.execute(&sql, &[jti.as_str().into()]).await?;
                    Ok::<_, Error>(r.scalar().and_then(Value::as_i64))
                }
            };
            let next = issued("SELECT issued FROM refresh_token WHERE jti = ? AND used_at IS NULL", successor).await?;
            let access_issued = issued("SELECT issued FROM access_token WHERE jti = ?", access).await?;
            if let (Some(refresh_issued), Some(access_issued)) = (next, access_issued) {
                // The rotation's own marker write may still be on its way: the retry makes the
                // pair usable at once (and never leaves a stale marker behind).
                self.sync_marker(&row.family).await?.ok_or(SessionError::RefreshTokenNotFound)?;
                return self
                    .sign_pair(
                        &row.family,
                        &row.username,
                        &row.scopes,
                        (access, access_issued),
                        (successor, refresh_issued),
                    )
                    .await;
            }
        }
        self.revoke_family(&row.family).await?;
        Err(SessionError::RefreshTokenReused.into())
    }

    async fn refresh_row(&self, jti: &str) -> Result<Option<RefreshRow>> {
        let result = self
            .env
            .sql
            .execute(
                "SELECT family, username, scopes, used_at, successor, successor_access FROM refresh_token WHERE jti = ?",
                &[jti.into()],
            )
            .await
            .map_err(db_error)?;
        Ok(result.rows.first().and_then(|r| {
            let v = &r.values;
            Some(RefreshRow {
                family: v.first()?.as_str()?.to_owned(),
                username: v.get(1)?.as_str()?.to_owned(),
                scopes: crate::token::rules::split_scopes(v.get(2)?.as_str()?),
                used_at: v.get(3)?.as_i64(),
                successor: v.get(4)?.as_str().map(str::to_owned),
                successor_access: v.get(5)?.as_str().map(str::to_owned),
            })
        }))
    }

    /// Ends a family: the KV marker first (so the fast path refuses it at once, even if the
    /// SQL step never happens), then its session row and every access and refresh token.
    async fn revoke_family(&self, family: &str) -> Result<Option<String>> {
        let table = self.table();
        let username = table.get(family).await?.map(|row| row.username);
        // The marker goes before the rows (a crash in between never leaves the fast path open)
        // and again after them (a concurrent marker sync may have written it back in between).
        let marker = keys::jwt_session(family);
        self.env.kv.delete(&marker).await?;
        let mut batch = vec![table.delete_statement(&[family.to_owned()])];
        batch.extend(family_cascade(&[family.to_owned()]));
        self.env.sql.batch(&batch).await?;
        self.env.kv.delete(&marker).await?;
        Ok(username)
    }

    /// Ends the session of an access token (or of the access token with this `jti`); returns
    /// its username if there was one.
    pub async fn invalidate_session(&self, session: SessionRef<'_>) -> Result<Option<String>> {
        let family = match session {
            SessionRef::Token(token) => {
                let claims = self.verify(token, self.options(TokenType::Access)).await?;
                claims.extra.get("sid").and_then(|v| v.as_str()).map(str::to_owned)
            }
            SessionRef::Jti(jti) => {
                let r = self.env.sql.execute("SELECT family FROM access_token WHERE jti = ?", &[jti.into()]).await?;
                r.scalar().and_then(Value::as_str).map(str::to_owned)
            }
        };
        match family {
            Some(family) => self.revoke_family(&family).await,
            None => Ok(None),
        }
    }

    /// A long-lived API token with a `datasets` claim, recorded in SQL so it can be revoked.
    pub async fn create_api_token(&self, username: &str, lifetime: Option<u32>, datasets: Datasets) -> Result<String> {
        crate::token::rules::check_username(username)?;
        let lifetime = lifetime.unwrap_or(self.settings.api_token_lifetime);
        if lifetime == 0 {
            return Err(crate::RequestError::InvalidExpires("API tokens need a positive lifetime").into());
        }
        let jti = new_jti(&*self.env.rng);
        let now = self.now();
        let datasets_json = serde_json::to_value(&datasets).expect("datasets serialize");
        let claims =
            self.claims(TokenType::Api, username, now, lifetime, &jti).with_extra("datasets", datasets_json.clone())?;
        let token = self.keys().await?.issue(&claims)?;
        self.env
            .sql
            .execute(
                "INSERT INTO api_token (jti, username, datasets, created, expires) VALUES (?, ?, ?, ?, ?)",
                &[
                    jti.as_str().into(),
                    username.into(),
                    datasets_json.to_string().into(),
                    now.into(),
                    claims.exp.into(),
                ],
            )
            .await?;
        Ok(token)
    }

    /// Revokes an API token given whole or by `jti`; returns whether it existed.
    pub async fn invalidate_api_token(&self, token: SessionRef<'_>) -> Result<bool> {
        let jti = match token {
            SessionRef::Token(token) => self.verify(token, self.options(TokenType::Api)).await?.jti,
            SessionRef::Jti(jti) => jti.to_owned(),
        };
        let r =
            self.env.sql.execute("DELETE FROM api_token WHERE jti = ? RETURNING jti", &[jti.as_str().into()]).await?;
        Ok(!r.rows.is_empty())
    }

    /// The username of a valid access token.
    pub async fn session_username(&self, token: &str) -> Result<String> {
        Ok(self.validate_session(token).await?.username)
    }

    /// The `jti` of the live access token of `username`'s newest session, if any.
    pub async fn session_token(&self, username: &str) -> Result<Option<String>> {
        let Some((family, _)) = self.table().newest_for(username, self.now()).await? else { return Ok(None) };
        let r = self
            .env
            .sql
            .execute(
                "SELECT jti FROM access_token WHERE family = ? AND expires > ?",
                &[family.as_str().into(), self.now().into()],
            )
            .await?;
        Ok(r.scalar().and_then(Value::as_str).map(str::to_owned))
    }

    pub async fn n_active_sessions(&self) -> Result<u64> {
        Ok(self.table().count_active(self.now()).await?)
    }

    pub async fn has_logged_user(&self) -> Result<bool> {
        Ok(self.n_active_sessions().await? > 0)
    }

    /// Removes expired sessions (with their tokens) and expired API tokens; returns how many
    /// sessions.
    pub async fn cleanup_expired_sessions(&self) -> Result<usize> {
        let now = self.now();
        let expired = self.table().delete_expired(now).await?;
        // The sessions are gone already; their tokens go in batches a host accepts.
        for batch in family_cascade(&expired).chunks(500) {
            self.env.sql.batch(batch).await?;
        }
        self.env
            .sql
            .batch(&[
                Statement::new("DELETE FROM api_token WHERE expires <= ?", vec![now.into()]),
                Statement::new("DELETE FROM access_token WHERE expires <= ?", vec![now.into()]),
            ])
            .await?;
        Ok(expired.len())
    }
}

/// A family's live access token in SQL.
#[derive(PartialEq, Eq)]
struct LiveAccess {
    jti: String,
    username: String,
    expires: UnixTime,
}

struct RefreshRow {
    family: String,
    username: String,
    scopes: Vec<String>,
    used_at: Option<UnixTime>,
    successor: Option<String>,
    successor_access: Option<String>,
}

/// The statements that remove every token of the given families (100 families a statement:
/// D1's bound on parameters).
fn family_cascade(families: &[String]) -> Vec<Statement> {
    families
        .chunks(100)
        .flat_map(|chunk| {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().map(|f| Value::from(f.as_str())).collect();
            [
                Statement::new(format!("DELETE FROM access_token WHERE family IN ({placeholders})"), params.clone()),
                Statement::new(format!("DELETE FROM refresh_token WHERE family IN ({placeholders})"), params),
            ]
        })
        .collect()
}

fn user_of(claims: JwtClaims) -> JwtUser {
    let scopes = claims
        .extra
        .get("scope")
        .and_then(|s| s.as_str())
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let datasets = claims.extra.get("datasets").and_then(|d| serde_json::from_value(d.clone()).ok());
    JwtUser {
        username: claims.sub,
        jti: claims.jti,
        token_type: claims.token_type,
        issued_at: claims.iat,
        expires_at: claims.exp,
        issuer: claims.iss,
        audience: claims.aud,
        scopes,
        datasets,
    }
}

/// JWT failures as session errors: expiry and type keep their kinds, the rest is
/// "could not process".
fn session_error(e: JwtError) -> Error {
    match e {
        JwtError::Expired { now, exp } => SessionError::Expired { now, expires: exp }.into(),
        JwtError::WrongType { expected, found } => {
            SessionError::WrongTokenType { expected: expected.first().map_or("other", |t| t.as_str()), found }.into()
        }
        other => SessionError::InvalidTokenProcessing(other.kind()).into(),
    }
}
