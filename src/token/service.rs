//! The token service (Gafaelfawr's TokenService): who may create, read, change and revoke which
//! token, with every write spanning KV and SQL done so that a failure leaves no half a token.

use std::cell::RefCell;
use std::collections::HashMap;

use super::cache::ChildCache;
use super::db_store::TokenDbStore;
use super::history::{HistoryEntry, HistoryPage, HistoryQuery, HistoryStore, TokenChange};
use super::kv_store::{StoredToken, TokenKvStore};
use super::rules::{check_token_name, check_username, is_bot_username, is_subset, normalize_scopes};
use super::validated::ValidatedTokens;
use super::{Token, TokenData, TokenInfo, TokenKey, TokenType, UserInfo};
use crate::config::{TokenConfig, ADMIN_SCOPES, MAX_EXPIRES, MINIMUM_LIFETIME, SCOPE_ADMIN_TOKEN, SCOPE_USER_TOKEN};
use crate::crypto::KeyRing;
use crate::env::{Env, UnixTime};
use crate::error::{ConfigError, Error, RequestError, Result};
use crate::store::record::{OpenedRecords, Read, Records};
use crate::store::{Statement, StoreError};
use subtle::ConstantTimeEq;

/// Tokens deleted per SQL batch (each with its history entry).
const DELETE_CHUNK: usize = 400;

/// The username of the bootstrap token.
pub const BOOTSTRAP_USERNAME: &str = "<bootstrap>";
/// Bound on the in-memory map of recent `last_used` writes.
const LAST_USED_MEMORY: usize = 10_000;

/// A token an admin asks for (`POST /auth/api/v1/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenRequest {
    pub username: String,
    pub token_type: String,
    #[serde(default)]
    pub token_name: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires: Option<UnixTime>,
    #[serde(flatten)]
    pub user: UserInfo,
}

/// Changes to a user token (`PATCH`); `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenChanges {
    pub token_name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `Some(None)` removes the expiry.
    pub expires: Option<Option<UnixTime>>,
}

/// Issues, validates, changes and revokes opaque tokens.
pub struct TokenService {
    pub(super) env: Env,
    pub(super) keys: KeyRing,
    pub(super) config: TokenConfig,
    pub(super) children: ChildCache,
    last_used: RefCell<HashMap<TokenKey, UnixTime>>,
    opened: OpenedRecords,
    pub(super) validated: ValidatedTokens,
}

impl TokenService {
    pub fn new(env: Env, keys: KeyRing, config: TokenConfig) -> std::result::Result<Self, ConfigError> {
        let config = config.validated()?;
        Ok(TokenService {
            env,
            keys,
            validated: ValidatedTokens::new(config.validation_cache_seconds),
            config,
            children: ChildCache::default(),
            last_used: RefCell::default(),
            opened: OpenedRecords::default(),
        })
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// The token as its holder presents it.
    pub fn encode(&self, token: &Token) -> String {
        token.to_string_with_prefix(&self.config.prefix)
    }

    pub(crate) fn now_millis(&self) -> i64 {
        self.env.clock.now_millis()
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.env.clock.now()
    }

    pub(super) fn kv_store(&self) -> TokenKvStore<'_> {
        let records = Records { kv: &*self.env.kv, keys: &self.keys, rng: &*self.env.rng, opened: &self.opened };
        TokenKvStore { records, validated: &self.validated }
    }

    pub(super) fn db(&self) -> TokenDbStore<'_> {
        TokenDbStore { sql: &*self.env.sql }
    }

    /// The data of a valid token, from KV (the fast path). A token revoked on another host may
    /// be accepted here until KV propagates, plus `validation_cache_seconds` where this instance
    /// validated it before (it is then not read from KV again); use
    /// [`TokenService::validate_strict`] where that matters.
    pub async fn validate(&self, token: &str) -> Result<TokenData> {
        self.validate_kv(token, true).await
    }

    /// Like [`TokenService::validate`], and also checks the SQL row, which revocation removes
    /// atomically everywhere. Always reads KV: the validated-token cache is not used.
    pub async fn validate_strict(&self, token: &str) -> Result<TokenData> {
        let data = self.validate_kv(token, false).await?;
        if data.username == BOOTSTRAP_USERNAME {
            return Ok(data);
        }
        match self.db().get_info(&data.key).await? {
            Some(info) if info.username == data.username && info.expires.is_none_or(|e| e > self.now()) => Ok(data),
            _ => Err(RequestError::InvalidToken.into()),
        }
    }

    /// The bootstrap token's data, else the token's KV record (or, with `cached`, what this
    /// instance kept of it for `validation_cache_seconds`), with its use recorded.
    async fn validate_kv(&self, token: &str, cached: bool) -> Result<TokenData> {
        let token = Token::parse(token, &self.config.prefix)?;
        if let Some(data) = self.bootstrap(&token) {
            return Ok(data);
        }
        let now_millis = self.env.clock.now_millis();
        let data = match cached.then(|| self.validated.get(&token, now_millis)).flatten() {
            Some(data) => data,
            None => {
                let epoch = self.validated.epoch();
                let now = now_millis.div_euclid(1000);
                let stored = self.kv_store().get_valid(&token, now).await?.ok_or(RequestError::InvalidToken)?;
                self.validated.insert(stored.hash, &stored.data, now_millis, epoch);
                stored.data
            }
        };
        self.record_use(&data.key).await;
        Ok(data)
    }

    fn bootstrap(&self, token: &Token) -> Option<TokenData> {
        let bootstrap = self.config.bootstrap_token.as_ref()?;
        // The key names the token and is no secret; only the secret is compared in constant time.
        if bootstrap.key() != token.key() {
            return None;
        }
        bool::from(bootstrap.secret().ct_eq(token.secret())).then(|| TokenData {
            key: bootstrap.key().clone(),
            username: BOOTSTRAP_USERNAME.to_owned(),
            token_type: TokenType::Service,
            scopes: super::rules::sorted(&ADMIN_SCOPES.map(str::to_owned)),
            service: None,
            created: 0,
            expires: None,
            user: UserInfo::default(),
        })
    }

    /// Writes `last_used`, at most once a minute per token. A failure here does not fail the
    /// request that used the token: the field is informational.
    async fn record_use(&self, key: &TokenKey) {
        let now = self.now();
        {
            let mut memory = self.last_used.borrow_mut();
            if memory.get(key).is_some_and(|&t| now - t < super::db_store::LAST_USED_INTERVAL) {
                return;
            }
            if memory.len() >= LAST_USED_MEMORY {
                memory.clear();
            }
            memory.insert(key.clone(), now);
        }
        let _ = self.db().touch(key, now).await;
    }

    /// A session token for `username`, as made by a login.
    pub async fn create_session_token(
        &self,
        username: &str,
        user: UserInfo,
        scopes: &[String],
        ip_address: Option<&str>,
    ) -> Result<Token> {
        check_username(username)?;
        let scopes = normalize_scopes(scopes, &self.config.known_scopes)?;
        let new = NewToken {
            username,
            token_type: TokenType::Session,
            scopes,
            service: None,
            expires: Some(self.now() + self.config.session_lifetime),
            user,
            name: None,
            parent: None,
        };
        self.write_new(new, username, ip_address).await
    }

    /// A named user token, made by the user (`user:token`) or an admin (`admin:token`).
    pub async fn create_user_token(
        &self,
        auth: &TokenData,
        username: &str,
        token_name: &str,
        scopes: &[String],
        expires: Option<UnixTime>,
        ip_address: Option<&str>,
    ) -> Result<Token> {
        self.authorize_user(auth, username, SCOPE_USER_TOKEN)?;
        check_token_name(token_name)?;
        let scopes = normalize_scopes(scopes, &self.config.known_scopes)?;
        if !is_admin(auth) && !is_subset(&scopes, &auth.scopes) {
            return Err(
                RequestError::InvalidScopes("requested scopes are broader than your current scopes".into()).into()
            );
        }
        let now = self.now();
        check_new_expiry(expires, now)?;
        let user = if auth.username == username { auth.user.clone() } else { UserInfo::default() };
        let new = NewToken {
            username,
            token_type: TokenType::User,
            scopes,
            service: None,
            expires,
            user,
            name: Some(token_name),
            parent: None,
        };
        self.write_new(new, &auth.username, ip_address).await
    }

    /// A user or service token made by an admin.
    pub async fn create_token_from_admin_request(
        &self,
        auth: &TokenData,
        request: AdminTokenRequest,
        ip_address: Option<&str>,
    ) -> Result<Token> {
        if !is_admin(auth) {
            return Err(RequestError::PermissionDenied("admin:token required").into());
        }
        check_username(&request.username)?;
        let token_type = match request.token_type.as_str() {
            "service" if is_bot_username(&request.username) => TokenType::Service,
            "service" => return Err(RequestError::Invalid("service tokens belong to bot-* users".into()).into()),
            "user" => TokenType::User,
            _ => return Err(RequestError::Invalid("token_type must be service or user".into()).into()),
        };
        let name = match (token_type, request.token_name.as_deref()) {
            (TokenType::User, None) => return Err(RequestError::Invalid("user tokens need a token_name".into()).into()),
            (_, Some(name)) => {
                check_token_name(name)?;
                Some(name)
            }
            (_, None) => None,
        };
        let scopes = normalize_scopes(&request.scopes, &self.config.known_scopes)?;
        check_new_expiry(request.expires, self.now())?;
        let new = NewToken {
            username: &request.username,
            token_type,
            scopes,
            service: None,
            expires: request.expires,
            user: request.user.clone(),
            name,
            parent: None,
        };
        self.write_new(new, &auth.username, ip_address).await
    }

    /// Writes a new token to KV, then its row and history to SQL in one batch; if the SQL step
    /// fails, the KV record is removed again, so no half a token is left behind.
    pub(super) async fn write_new(&self, new: NewToken<'_>, actor: &str, ip_address: Option<&str>) -> Result<Token> {
        if let Some(name) = new.name {
            if self.db().name_taken(new.username, name, None).await? {
                return Err(duplicate_name(new.username, name));
            }
        }
        let kv = self.kv_store();
        let (token, derived_with) = kv.mint(new.token_type.is_child());
        let now = self.now();
        let data = TokenData {
            key: token.key().clone(),
            username: new.username.to_owned(),
            token_type: new.token_type,
            scopes: new.scopes,
            service: new.service.map(str::to_owned),
            created: now,
            expires: new.expires,
            user: new.user,
        };
        let info = TokenInfo {
            key: data.key.clone(),
            username: data.username.clone(),
            token_type: data.token_type,
            token_name: new.name.map(str::to_owned),
            scopes: data.scopes.clone(),
            service: data.service.clone(),
            created: now,
            last_used: None,
            expires: data.expires,
            parent: new.parent.cloned(),
        };
        kv.store(&token, derived_with, &data, now).await?;
        let mut batch = TokenDbStore::add(&info);
        batch.push(HistoryEntry::new(&info, TokenChange::Create, actor, ip_address, now).insert());
        if let Err(e) = self.env.sql.batch(&batch).await {
            // If this delete fails too, the record has no SQL row: strict validation rejects it
            // and the audit removes it.
            let _ = kv.delete(&info.key).await;
            return Err(match (e.is_constraint(), new.name) {
                (true, Some(name)) => duplicate_name(&data.username, name),
                _ => e.into(),
            });
        }
        Ok(token)
    }

    /// Information about one of `username`'s tokens.
    pub async fn get_token_info(&self, auth: &TokenData, username: &str, key: &TokenKey) -> Result<TokenInfo> {
        self.authorize_read(auth, username)?;
        match self.db().get_info(key).await? {
            Some(info) if info.username == username => Ok(info),
            _ => Err(RequestError::NotFound.into()),
        }
    }

    /// The SQL row of a token, if it has one (no permission check: internal use).
    pub(crate) async fn row(&self, key: &TokenKey) -> Result<Option<TokenInfo>> {
        Ok(self.db().get_info(key).await?)
    }

    /// Every token of `username`, newest first.
    pub async fn list_tokens(&self, auth: &TokenData, username: &str) -> Result<Vec<TokenInfo>> {
        self.authorize_read(auth, username)?;
        Ok(self.db().list_tokens(Some(username), None, None).await?)
    }

    /// Revokes a token and all its descendants (deepest first), with `revoke` history for each.
    pub async fn delete_token(
        &self,
        auth: &TokenData,
        username: &str,
        key: &TokenKey,
        ip_address: Option<&str>,
    ) -> Result<()> {
        self.authorize_user(auth, username, SCOPE_USER_TOKEN)?;
        let info = match self.db().get_info(key).await? {
            Some(info) if info.username == username => info,
            _ => return Err(RequestError::NotFound.into()),
        };
        self.revoke_tree(info, TokenChange::Revoke, &auth.username, ip_address).await
    }

    /// Deletes `info` and its descendants: KV first, so the fast path rejects them at once,
    /// then every SQL row and history entry in one batch.
    pub(super) async fn revoke_tree(
        &self,
        info: TokenInfo,
        action: TokenChange,
        actor: &str,
        ip_address: Option<&str>,
    ) -> Result<()> {
        let db = self.db();
        let mut doomed = Vec::new();
        for child in db.get_children(&info.key).await?.iter().rev() {
            if let Some(child_info) = db.get_info(child).await? {
                doomed.push(child_info);
            }
        }
        doomed.push(info);
        let kv = self.kv_store();
        for token in &doomed {
            kv.delete(&token.key).await?;
        }
        self.delete_rows(&doomed, action, actor, ip_address, self.now()).await
    }

    /// Deletes the SQL rows of `doomed` (in order) with a history entry each: one batch per
    /// [`DELETE_CHUNK`] tokens, so a large tree or expiry stays within what hosts accept in one
    /// batch (the wasmtime host: 1,000 statements). A tree of up to that many goes in one
    /// atomic batch; a larger one in several, descendants first, each atomic (the KV records are
    /// gone already, so every token is refused throughout; a failure leaves the rest for a retry
    /// or the audit).
    async fn delete_rows(
        &self,
        doomed: &[TokenInfo],
        action: TokenChange,
        actor: &str,
        ip_address: Option<&str>,
        now: UnixTime,
    ) -> Result<()> {
        for chunk in doomed.chunks(DELETE_CHUNK) {
            let mut batch: Vec<Statement> =
                chunk.iter().map(|t| HistoryEntry::new(t, action, actor, ip_address, now).insert()).collect();
            batch.extend(TokenDbStore::delete_many(&chunk.iter().map(|t| &t.key).collect::<Vec<_>>()));
            self.env.sql.batch(&batch).await?;
        }
        Ok(())
    }

    /// Changes a user token (admin only). Lowering its expiry lowers every descendant that
    /// would outlive it, in SQL and KV.
    pub async fn modify_token(
        &self,
        auth: &TokenData,
        username: &str,
        key: &TokenKey,
        changes: TokenChanges,
        ip_address: Option<&str>,
    ) -> Result<TokenInfo> {
        if !is_admin(auth) {
            return Err(RequestError::PermissionDenied("admin:token required").into());
        }
        check_username(username)?;
        let db = self.db();
        let old = match db.get_info(key).await? {
            Some(info) if info.username == username => info,
            _ => return Err(RequestError::NotFound.into()),
        };
        if old.token_type != TokenType::User {
            return Err(RequestError::PermissionDenied("only user tokens can be modified").into());
        }
        let now = self.now();
        let mut new = old.clone();
        if let Some(name) = changes.token_name {
            check_token_name(&name)?;
            if db.name_taken(username, &name, Some(key)).await? {
                return Err(duplicate_name(username, &name));
            }
            new.token_name = Some(name);
        }
        if let Some(scopes) = changes.scopes {
            new.scopes = normalize_scopes(&scopes, &self.config.known_scopes)?;
        }
        if let Some(expires) = changes.expires {
            check_new_expiry(expires, now)?;
            new.expires = expires;
        }
        let mut updates = vec![(old.clone(), new.clone())];
        if let Some(limit) = new.expires.filter(|&e| old.expires.is_none_or(|o| e < o)) {
            for child in db.get_children(key).await? {
                if let Some(info) = db.get_info(&child).await? {
                    if info.expires.is_none_or(|e| e > limit) {
                        updates.push((info.clone(), TokenInfo { expires: Some(limit), ..info }));
                    }
                }
            }
        }
        self.apply_updates(&updates, &auth.username, ip_address).await?;
        Ok(new)
    }

    /// Rewrites tokens in KV (remembering the old records), then SQL in one batch with `edit`
    /// history; if SQL fails, the old KV records are put back.
    pub(super) async fn apply_updates(
        &self,
        updates: &[(TokenInfo, TokenInfo)],
        actor: &str,
        ip_address: Option<&str>,
    ) -> Result<()> {
        let kv = self.kv_store();
        let now = self.now();
        let mut previous: Vec<StoredToken> = Vec::new();
        let mut result: Result<()> = Ok(());
        for (_, new) in updates {
            let stored = match kv.read(&new.key, now).await {
                Ok(Read::Valid(stored)) => stored,
                // Gone or expired in KV: unusable already, SQL alone changes.
                Ok(Read::Absent | Read::Expired) => continue,
                // An unreadable record must not let a change be acknowledged that KV never got.
                Ok(Read::Malformed) => {
                    result = Err(StoreError::Other("a token record could not be read back".into()).into());
                    break;
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            };
            let mut changed = stored.clone();
            changed.data.scopes = new.scopes.clone();
            changed.data.expires = new.expires;
            previous.push(stored);
            if let Err(e) = kv.restore(&changed, now).await {
                result = Err(e.into());
                break;
            }
        }
        if result.is_ok() {
            let mut batch = Vec::new();
            for (old, new) in updates {
                batch.push(TokenDbStore::update(new));
                batch.push(edit_entry(old, new, actor, ip_address, now).insert());
            }
            result = self.env.sql.batch(&batch).await.map(drop).map_err(Error::from);
        }
        if result.is_err() {
            for stored in &previous {
                let _ = kv.restore(stored, now).await;
            }
        }
        result
    }

    /// Deletes every expired token, writing `expire` history with actor `<internal>`.
    /// Returns what was deleted.
    pub async fn delete_expired(&self) -> Result<Vec<TokenInfo>> {
        let now = self.now();
        let expired = self.db().list_expired(now).await?;
        if expired.is_empty() {
            return Ok(expired);
        }
        let kv = self.kv_store();
        for chunk in expired.chunks(DELETE_CHUNK) {
            for info in chunk {
                kv.delete(&info.key).await?;
            }
            self.delete_rows(chunk, TokenChange::Expire, super::INTERNAL_ACTOR, None, now).await?;
        }
        Ok(expired)
    }

    /// The change history: a user's own, or anyone's for an admin.
    pub async fn history(&self, auth: &TokenData, query: &HistoryQuery) -> Result<HistoryPage> {
        match &query.username {
            Some(username) => self.authorize_read(auth, username)?,
            None if is_admin(auth) => {}
            None => return Err(RequestError::PermissionDenied("admin:token required").into()),
        }
        Ok(HistoryStore { sql: &*self.env.sql }.list(query).await?)
    }

    /// Users with an unexpired session token.
    pub async fn count_unique_sessions(&self) -> Result<u64> {
        Ok(self.db().count_unique_sessions(self.now()).await?)
    }

    /// Unexpired user tokens.
    pub async fn count_user_tokens(&self) -> Result<u64> {
        Ok(self.db().count_user_tokens(self.now()).await?)
    }

    /// Every descendant of the token `key` (direct children first, then breadth-first by depth):
    /// what revoking it deletes. For operators' tools and benchmarks; no caller's permission is
    /// checked, so never route user input here.
    pub async fn descendants(&self, key: &TokenKey) -> std::result::Result<Vec<TokenKey>, StoreError> {
        self.db().get_children(key).await
    }

    /// Removes every token record from KV (tests and disaster recovery).
    pub async fn delete_all_from_kv(&self) -> std::result::Result<(), StoreError> {
        self.kv_store().delete_all().await
    }

    /// Whether `auth` may read `username`'s tokens. A malformed username is `invalid_username`
    /// (422) on every path that names one, before any permission is judged.
    fn authorize_read(&self, auth: &TokenData, username: &str) -> Result<()> {
        check_username(username)?;
        if auth.username == username || is_admin(auth) {
            Ok(())
        } else {
            Err(RequestError::PermissionDenied("tokens of another user").into())
        }
    }

    fn authorize_user(&self, auth: &TokenData, username: &str, scope: &'static str) -> Result<()> {
        check_username(username)?;
        if is_admin(auth) || (auth.username == username && auth.has_scope(scope)) {
            Ok(())
        } else if auth.username != username {
            Err(RequestError::PermissionDenied("tokens of another user").into())
        } else {
            Err(RequestError::PermissionDenied(scope).into())
        }
    }
}

/// Whether the caller administers tokens.
pub fn is_admin(auth: &TokenData) -> bool {
    auth.has_scope(SCOPE_ADMIN_TOKEN)
}

fn duplicate_name(username: &str, name: &str) -> Error {
    RequestError::DuplicateTokenName { username: username.to_owned(), name: name.to_owned() }.into()
}

/// A new expiry is none, or at least five minutes ahead.
fn check_new_expiry(expires: Option<UnixTime>, now: UnixTime) -> Result<()> {
    match expires {
        Some(exp) if exp < now + MINIMUM_LIFETIME => {
            Err(RequestError::InvalidExpires("must be at least 5 minutes in the future").into())
        }
        Some(exp) if exp > MAX_EXPIRES => Err(RequestError::InvalidExpires("must be before the year 10000").into()),
        _ => Ok(()),
    }
}

fn edit_entry(old: &TokenInfo, new: &TokenInfo, actor: &str, ip: Option<&str>, now: UnixTime) -> HistoryEntry {
    let mut entry = HistoryEntry::new(new, TokenChange::Edit, actor, ip, now);
    if old.token_name != new.token_name {
        entry.old_token_name = old.token_name.clone();
    }
    if old.scopes != new.scopes {
        entry.old_scopes = Some(old.scopes.clone());
    }
    if old.expires != new.expires {
        entry.old_expires = old.expires;
    }
    entry
}

/// A token to be written: everything but its key, secret and creation time.
pub(super) struct NewToken<'a> {
    pub username: &'a str,
    pub token_type: TokenType,
    pub scopes: Vec<String>,
    pub service: Option<&'a str>,
    pub expires: Option<UnixTime>,
    pub user: UserInfo,
    pub name: Option<&'a str>,
    pub parent: Option<&'a TokenKey>,
}
