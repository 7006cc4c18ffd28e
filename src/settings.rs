//! One configuration schema for every host: JSON (a file, a Worker var) or `PORTCULLIS_*`
//! environment variables, turned into a ready [`Api`]. The variables are documented in
//! `docs/CONFIG.md`.

use serde::Deserialize;

use crate::api::{Api, ApiOptions};
use crate::config::{TokenConfig, DEFAULT_SESSION_LIFETIME};
use crate::crypto::{EncryptionKey, KeyRing};
use crate::env::Env;
use crate::error::{ConfigError, Error};
use crate::token::{TokenService, DEFAULT_PREFIX};

/// Every setting, with its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
        }
    }
}

/// The environment variable of each setting.
const VARS: [(&str, &str); 8] = [
    ("PORTCULLIS_ENCRYPTION_KEYS", "encryption_keys"),
    ("PORTCULLIS_BOOTSTRAP_TOKEN", "bootstrap_token"),
    ("PORTCULLIS_KNOWN_SCOPES", "known_scopes"),
    ("PORTCULLIS_TOKEN_PREFIX", "token_prefix"),
    ("PORTCULLIS_SESSION_LIFETIME", "session_lifetime"),
    ("PORTCULLIS_REALM", "realm"),
    ("PORTCULLIS_MAX_BODY_BYTES", "max_body_bytes"),
    ("PORTCULLIS_VALIDATION_CACHE_SECONDS", "validation_cache_seconds"),
];

impl Settings {
    /// Parses a JSON document with the field names above.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Invalid(format!("configuration: {e}")))
    }

    /// Reads `PORTCULLIS_*` variables (lists are comma-separated); `PORTCULLIS_CONFIG` may hold
    /// a whole JSON document, which the individual variables then override.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().filter(|(k, _)| k.starts_with("PORTCULLIS_")).collect();
        let mut doc = match vars.iter().find(|(k, _)| k == "PORTCULLIS_CONFIG") {
            Some((_, json)) => serde_json::from_str(json).map_err(|e| ConfigError::Invalid(format!("PORTCULLIS_CONFIG: {e}")))?,
            None => serde_json::Value::Object(Default::default()),
        };
        let object = doc.as_object_mut().ok_or_else(|| ConfigError::Invalid("PORTCULLIS_CONFIG must be an object".into()))?;
        for (name, value) in &vars {
            let Some((_, field)) = VARS.iter().find(|(var, _)| var == name) else {
                if name != "PORTCULLIS_CONFIG" && !name.starts_with("PORTCULLIS_HOST_") {
                    return Err(ConfigError::Invalid(format!("unknown setting {name}")));
                }
                continue;
            };
            let parsed = match *field {
                "encryption_keys" | "known_scopes" => {
                    serde_json::Value::from(value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>())
                }
                "session_lifetime" | "max_body_bytes" | "validation_cache_seconds" => serde_json::Value::from(
                    value.trim().parse::<i64>().map_err(|_| ConfigError::Invalid(format!("{name} must be an integer")))?,
                ),
                _ => serde_json::Value::from(value.as_str()),
            };
            object.insert((*field).to_owned(), parsed);
        }
        serde_json::from_value(doc).map_err(|e| ConfigError::Invalid(format!("configuration: {e}")))
    }

    /// The key ring the encryption keys make.
    pub fn key_ring(&self) -> Result<KeyRing, ConfigError> {
        let mut keys = self.encryption_keys.iter().map(|spec| EncryptionKey::parse(spec));
        let primary = keys.next().ok_or_else(|| ConfigError::Invalid("at least one encryption key is required".into()))??;
        KeyRing::new(primary, keys.collect::<Result<_, _>>()?)
    }

    pub fn token_config(&self) -> Result<TokenConfig, ConfigError> {
        let config = TokenConfig {
            prefix: self.token_prefix.clone(),
            session_lifetime: self.session_lifetime,
            known_scopes: self.known_scopes.clone(),
            bootstrap_token: None,
        };
        match &self.bootstrap_token {
            Some(token) => config.with_bootstrap_token(token),
            None => Ok(config),
        }
    }

    /// The HTTP API over `env` with these settings.
    pub fn api(&self, env: Env) -> Result<Api, Error> {
        let tokens = TokenService::new(env, self.key_ring()?, self.token_config()?)?;
        let options = ApiOptions { realm: self.realm.clone(), max_body_bytes: self.max_body_bytes };
        Ok(Api::new(tokens, options))
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
            ("PORTCULLIS_ENCRYPTION_KEYS", "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=, k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="),
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
        let with_json = Settings::from_env(vars(&[("PORTCULLIS_CONFIG", r#"{"realm": "a", "known_scopes": ["x"]}"#), ("PORTCULLIS_REALM", "b")])).unwrap();
        assert_eq!((with_json.realm.as_str(), with_json.known_scopes.len()), ("b", 1));
    }
}
