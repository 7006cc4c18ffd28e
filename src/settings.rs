//! One configuration schema for every host: JSON (a file, a Worker var) or `PORTCULLIS_*`
//! environment variables, turned into a ready [`Api`]. The variables are documented in
//! `docs/CONFIG.md`.

use serde::Deserialize;

use crate::api::{Api, ApiOptions};
use crate::config::{TokenConfig, DEFAULT_SESSION_LIFETIME};
use crate::crypto::{EncryptionKey, KeyRing};
use crate::env::Env;
use crate::error::{ConfigError, Error};
use crate::jwt::{Algorithm, JwtKeys, SigningKey};
use crate::session::{JwtSessionManager, JwtSettings, SessionLimits, WhenFull};
use crate::token::{TokenService, DEFAULT_PREFIX};

/// Every setting, with its default. `Debug` redacts the secrets.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Encryption keys `<id>:<base64 of 32 bytes>`; the first one seals, all of them open.
    pub encryption_keys: Vec<String>,
    /// A token (`<prefix>-<key>.<secret>`) that authenticates as the built-in administrator.
    pub bootstrap_token: Option<String>,
    /// Scopes tokens may carry, besides the built-in `admin:*` and `user:token`.
    pub known_scopes: Vec<String>,
    /// Prefix of opaque tokens.
    pub token_prefix: String,
    /// Lifetime of session tokens (and the cap on child tokens), in seconds.
    pub session_lifetime: i64,
    /// The realm of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// How long a host may keep a validated token in memory (0: never). The revocation lag of
    /// the fast path is KV propagation plus this.
    pub validation_cache_seconds: u64,
    /// JWT signing keys sealed with the encryption keys, `<kid>:<base64>`; the first signs,
    /// all verify (rotation with overlap). Made by the hosts' key commands.
    pub jwt_keys: Vec<String>,
    /// A passphrase from which an HS512 key is derived (the same on every start); used when
    /// `jwt_keys` is empty. Without either, Ed25519 keys are kept in SQL (sealed), made on
    /// first use.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Access token lifetime, seconds.
    pub jwt_access_lifetime: u32,
    /// Refresh token lifetime, seconds.
    pub jwt_refresh_lifetime: u32,
    pub jwt_leeway: u32,
    /// A refresh token presented again within this many seconds gets the same new pair.
    pub jwt_refresh_grace: i64,
    /// Default API token lifetime, seconds.
    pub jwt_api_token_lifetime: u32,
    /// Concurrent JWT sessions per user (`null`: no limit).
    pub sessions_per_user: Option<u32>,
    /// Concurrent JWT sessions in all (`null`: no limit).
    pub sessions_global: Option<u32>,
    /// `evict_oldest` or `refuse`.
    pub sessions_when_full: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            encryption_keys: Vec::new(),
            bootstrap_token: None,
            known_scopes: Vec::new(),
            token_prefix: DEFAULT_PREFIX.to_owned(),
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            realm: "portcullis".to_owned(),
            max_body_bytes: 64 * 1024,
            validation_cache_seconds: 0,
            jwt_keys: Vec::new(),
            jwt_secret: None,
            jwt_issuer: "portcullis".to_owned(),
            jwt_audience: "portcullis".to_owned(),
            jwt_access_lifetime: 900,
            jwt_refresh_lifetime: 86_400,
            jwt_leeway: 2,
            jwt_refresh_grace: 10,
            jwt_api_token_lifetime: 3600,
            sessions_per_user: Some(10),
            sessions_global: None,
            sessions_when_full: "evict_oldest".to_owned(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("Settings")
            .field("encryption_keys", &format_args!("<{} redacted>", self.encryption_keys.len()))
            .field("bootstrap_token", &format_args!("{}", redacted(self.bootstrap_token.is_some())))
            .field("known_scopes", &self.known_scopes)
            .field("token_prefix", &self.token_prefix)
            .field("session_lifetime", &self.session_lifetime)
            .field("realm", &self.realm)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("validation_cache_seconds", &self.validation_cache_seconds)
            .field("jwt_keys", &format_args!("<{} redacted>", self.jwt_keys.len()))
            .field("jwt_secret", &format_args!("{}", redacted(self.jwt_secret.is_some())))
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_access_lifetime", &self.jwt_access_lifetime)
            .field("jwt_refresh_lifetime", &self.jwt_refresh_lifetime)
            .field("jwt_leeway", &self.jwt_leeway)
            .field("jwt_refresh_grace", &self.jwt_refresh_grace)
            .field("jwt_api_token_lifetime", &self.jwt_api_token_lifetime)
            .field("sessions_per_user", &self.sessions_per_user)
            .field("sessions_global", &self.sessions_global)
            .field("sessions_when_full", &self.sessions_when_full)
            .finish()
    }
}

/// A configuration error that never quotes a value (it may be a key): serde's messages about
/// field names are kept, those about values are replaced by where the value is.
fn config_error(context: &str, e: &serde_json::Error) -> ConfigError {
    let text = e.to_string();
    let about_fields = ["unknown field", "missing field", "duplicate field"].iter().any(|p| text.starts_with(p));
    if about_fields {
        let text = text.split(" at line ").next().unwrap_or("invalid field");
        ConfigError::Invalid(format!("{context}: {text}"))
    } else if e.line() > 0 {
        ConfigError::Invalid(format!(
            "{context}: a value of the wrong type or form at line {} column {}",
            e.line(),
            e.column()
        ))
    } else {
        ConfigError::Invalid(format!("{context}: a value of the wrong type or form"))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    List,
    Int,
    /// An integer, or `none` for no limit.
    Limit,
}

/// The environment variable of each setting.
const VARS: [(&str, &str, Kind); 21] = [
    ("PORTCULLIS_ENCRYPTION_KEYS", "encryption_keys", Kind::List),
    ("PORTCULLIS_BOOTSTRAP_TOKEN", "bootstrap_token", Kind::Text),
    ("PORTCULLIS_KNOWN_SCOPES", "known_scopes", Kind::List),
    ("PORTCULLIS_TOKEN_PREFIX", "token_prefix", Kind::Text),
    ("PORTCULLIS_SESSION_LIFETIME", "session_lifetime", Kind::Int),
    ("PORTCULLIS_REALM", "realm", Kind::Text),
    ("PORTCULLIS_MAX_BODY_BYTES", "max_body_bytes", Kind::Int),
    ("PORTCULLIS_VALIDATION_CACHE_SECONDS", "validation_cache_seconds", Kind::Int),
    ("PORTCULLIS_JWT_KEYS", "jwt_keys", Kind::List),
    ("PORTCULLIS_JWT_SECRET", "jwt_secret", Kind::Text),
    ("PORTCULLIS_JWT_ISSUER", "jwt_issuer", Kind::Text),
    ("PORTCULLIS_JWT_AUDIENCE", "jwt_audience", Kind::Text),
    ("PORTCULLIS_JWT_ACCESS_LIFETIME", "jwt_access_lifetime", Kind::Int),
    ("PORTCULLIS_JWT_REFRESH_LIFETIME", "jwt_refresh_lifetime", Kind::Int),
    ("PORTCULLIS_JWT_LEEWAY", "jwt_leeway", Kind::Int),
    ("PORTCULLIS_JWT_REFRESH_GRACE", "jwt_refresh_grace", Kind::Int),
    ("PORTCULLIS_JWT_API_TOKEN_LIFETIME", "jwt_api_token_lifetime", Kind::Int),
    ("PORTCULLIS_SESSIONS_PER_USER", "sessions_per_user", Kind::Limit),
    ("PORTCULLIS_SESSIONS_GLOBAL", "sessions_global", Kind::Limit),
    ("PORTCULLIS_SESSIONS_WHEN_FULL", "sessions_when_full", Kind::Text),
    ("PORTCULLIS_CONFIG", "", Kind::Text),
];

impl Settings {
    /// Every variable `from_env` reads, for hosts whose environment cannot be listed (Workers).
    pub fn variables() -> impl Iterator<Item = &'static str> {
        VARS.iter().map(|(name, _, _)| *name)
    }

    /// Parses a JSON document with the field names above.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| config_error("configuration", &e))
    }

    /// Reads `PORTCULLIS_*` variables (lists are comma-separated); `PORTCULLIS_CONFIG` may hold
    /// a whole JSON document, which the individual variables then override.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().filter(|(k, _)| k.starts_with("PORTCULLIS_")).collect();
        let mut doc = match vars.iter().find(|(k, _)| k == "PORTCULLIS_CONFIG") {
            Some((_, json)) => serde_json::from_str(json).map_err(|e| config_error("PORTCULLIS_CONFIG", &e))?,
            None => serde_json::Value::Object(Default::default()),
        };
        let object =
            doc.as_object_mut().ok_or_else(|| ConfigError::Invalid("PORTCULLIS_CONFIG must be an object".into()))?;
        for (name, value) in &vars {
            let Some((_, field, kind)) = VARS.iter().find(|(var, _, _)| var == name) else {
                if name.starts_with("PORTCULLIS_HOST_") {
                    continue; // the host's own settings
                }
                return Err(ConfigError::Invalid(format!("unknown setting {name}")));
            };
            if field.is_empty() {
                continue;
            }
            let int =
                || value.trim().parse::<i64>().map_err(|_| ConfigError::Invalid(format!("{name} must be an integer")));
            let parsed = match kind {
                Kind::List => serde_json::Value::from(
                    value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                ),
                Kind::Int => serde_json::Value::from(int()?),
                Kind::Limit if value.trim() == "none" => serde_json::Value::Null,
                Kind::Limit => serde_json::Value::from(int()?),
                Kind::Text => serde_json::Value::from(value.as_str()),
            };
            object.insert((*field).to_owned(), parsed);
        }
        serde_json::from_value(doc).map_err(|e| config_error("configuration", &e))
    }

    /// The key ring the encryption keys make.
    pub fn key_ring(&self) -> Result<KeyRing, ConfigError> {
        let mut keys = self.encryption_keys.iter().map(|spec| EncryptionKey::parse(spec));
        let primary =
            keys.next().ok_or_else(|| ConfigError::Invalid("at least one encryption key is required".into()))??;
        KeyRing::new(primary, keys.collect::<Result<_, _>>()?)
    }

    pub fn token_config(&self) -> Result<TokenConfig, ConfigError> {
        let config = TokenConfig {
            prefix: self.token_prefix.clone(),
            session_lifetime: self.session_lifetime,
            known_scopes: self.known_scopes.clone(),
            bootstrap_token: None,
            validation_cache_seconds: self.validation_cache_seconds,
        };
        match &self.bootstrap_token {
            Some(token) => config.with_bootstrap_token(token),
            None => Ok(config),
        }
    }

    /// The JWT keys: the sealed ones, else one derived from the passphrase; `None` when
    /// neither is configured (keys are then kept in SQL, generated on first use).
    pub fn jwt_keys(&self, ring: &KeyRing) -> Result<Option<JwtKeys>, Error> {
        let mut opened = Vec::new();
        for spec in &self.jwt_keys {
            let (kid, sealed) = spec
                .split_once(':')
                .ok_or_else(|| ConfigError::Invalid("jwt_keys entries are <kid>:<base64>".into()))?;
            let sealed = crate::codec::decode_base64_any(sealed)
                .ok_or_else(|| ConfigError::Invalid("jwt_keys entry is not base64".into()))?;
            opened.push(SigningKey::open(ring, kid, &sealed)?);
        }
        let mut opened = opened.into_iter();
        let mut keys = match (opened.next(), &self.jwt_secret) {
            (Some(current), _) => JwtKeys::new(current),
            (None, Some(secret)) => JwtKeys::new(SigningKey::hmac_from_passphrase(Algorithm::Hs512, secret)?),
            (None, None) => return Ok(None),
        };
        for older in opened {
            keys.add_signing_key(older)?;
        }
        Ok(Some(keys))
    }

    pub fn jwt_settings(&self) -> Result<JwtSettings, ConfigError> {
        let when_full = match self.sessions_when_full.as_str() {
            "evict_oldest" => WhenFull::EvictOldest,
            "refuse" => WhenFull::Refuse,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "sessions_when_full must be evict_oldest or refuse, not {other:?}"
                )))
            }
        };
        Ok(JwtSettings {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            session_timeout: self.jwt_access_lifetime,
            refresh_timeout: self.jwt_refresh_lifetime,
            leeway: self.jwt_leeway,
            refresh_grace: self.jwt_refresh_grace,
            api_token_lifetime: self.jwt_api_token_lifetime,
            limits: SessionLimits { per_user: self.sessions_per_user, global: self.sessions_global, when_full },
        })
    }

    /// The HTTP API over `env` with these settings.
    pub fn api(&self, env: Env) -> Result<Api, Error> {
        let ring = self.key_ring()?;
        let sessions = match self.jwt_keys(&ring)? {
            Some(keys) => JwtSessionManager::new(env.clone(), ring.clone(), keys, self.jwt_settings()?),
            None => JwtSessionManager::with_stored_keys(env.clone(), ring.clone(), self.jwt_settings()?),
        };
        let tokens = TokenService::new(env, ring, self.token_config()?)?;
        let options = ApiOptions { realm: self.realm.clone(), max_body_bytes: self.max_body_bytes };
        Ok(Api::new(tokens, options).with_sessions(Some(sessions)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_the_environment() {
        let settings = Settings::from_env(vars(&[
            (
                "PORTCULLIS_ENCRYPTION_KEYS",
                "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=, k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
            ),
            ("PORTCULLIS_KNOWN_SCOPES", "read:all,exec:notebook"),
            ("PORTCULLIS_SESSION_LIFETIME", "3600"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(settings.known_scopes, vec!["read:all", "exec:notebook"]);
        assert_eq!(settings.session_lifetime, 3600);
        assert_eq!(settings.key_ring().unwrap().primary_id(), "k2");
        assert_eq!(settings.realm, "portcullis");
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(Settings::from_env(vars(&[("PORTCULLIS_SESSION_LIFETIME", "soon")])).is_err());
        assert!(Settings::from_env(vars(&[("PORTCULLIS_TYPO", "x")])).is_err());
        assert!(Settings::from_json(r#"{"realm": "x", "unknown": 1}"#).is_err());
        assert!(Settings::default().key_ring().is_err());
        let with_json = Settings::from_env(vars(&[
            ("PORTCULLIS_CONFIG", r#"{"realm": "a", "known_scopes": ["x"]}"#),
            ("PORTCULLIS_REALM", "b"),
        ]))
        .unwrap();
        assert_eq!((with_json.realm.as_str(), with_json.known_scopes.len()), ("b", 1));
    }
}
