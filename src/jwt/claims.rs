use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::env::{Random, UnixTime};
use crate::jwt::JwtError;

/// The kind of token, in the `type` claim. A token of one kind is never accepted as another:
/// an access token cannot refresh a session, a refresh token cannot call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    Api,
}

impl TokenType {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
            TokenType::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<TokenType> {
        [TokenType::Access, TokenType::Refresh, TokenType::Api].into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claim names with a meaning of their own; they cannot be used as extra claims.
pub const RESERVED_CLAIMS: [&str; 8] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "type"];

/// The claims of a Portcullis token. Issued by [`JwtKeys::issue`](crate::jwt::JwtKeys::issue);
/// returned, checked, inside a [`VerifiedJwt`](crate::jwt::VerifiedJwt).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtClaims {
    pub iss: String,
    pub sub: String,
    /// Serialized as a string when it has one member, as an array otherwise; never empty.
    pub aud: Vec<String>,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub nbf: Option<UnixTime>,
    pub jti: String,
    pub token_type: TokenType,
    /// Application claims (for example `datasets`), never one of [`RESERVED_CLAIMS`].
    pub extra: Map<String, Value>,
}

impl JwtClaims {
    /// Claims for a token issued at `iat` that expires `lifetime` seconds later.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        aud: impl Into<String>,
        token_type: TokenType,
        iat: UnixTime,
        lifetime: u32,
        jti: impl Into<String>,
    ) -> JwtClaims {
        JwtClaims {
            iss: iss.into(),
            sub: sub.into(),
            aud: vec![aud.into()],
            exp: iat.saturating_add(i64::from(lifetime)),
            iat,
            nbf: None,
            jti: jti.into(),
            token_type,
            extra: Map::new(),
        }
    }

    /// Adds an application claim. Reserved names are refused.
    pub fn with_extra(mut self, name: &str, value: Value) -> Result<JwtClaims, JwtError> {
        if RESERVED_CLAIMS.contains(&name) {
            return Err(JwtError::InvalidClaims { reason: "an extra claim uses a reserved name" });
        }
        self.extra.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The claims as the JSON object that is signed (without `exp`/`iat`/`nbf`, which
    /// jwt-compact's `Claims` carries).
    pub(super) fn custom_members(&self) -> Result<Map<String, Value>, JwtError> {
        if self.aud.is_empty() {
            return Err(JwtError::InvalidClaims { reason: "a token needs an audience" });
        }
        if self.exp <= self.iat {
            return Err(JwtError::InvalidClaims { reason: "exp must be after iat" });
        }
        if RESERVED_CLAIMS.iter().any(|name| self.extra.contains_key(*name)) {
            return Err(JwtError::InvalidClaims { reason: "an extra claim uses a reserved name" });
        }
        let mut members = self.extra.clone();
        members.insert("iss".into(), self.iss.clone().into());
        members.insert("sub".into(), self.sub.clone().into());
        let aud = match self.aud.as_slice() {
            [single] => Value::from(single.clone()),
            many => Value::from(many.to_vec()),
        };
        members.insert("aud".into(), aud);
        members.insert("jti".into(), self.jti.clone().into());
        members.insert("type".into(), self.token_type.as_str().into());
        Ok(members)
    }
}

/// A fresh token id: 16 random bytes, base64url.
pub fn new_jti(rng: &dyn Random) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The claim set of a token as parsed, before any check: a JSON object whose member names
/// are unique (RFC 7519 section 4 lets a parser reject duplicates; accepting them invites two
/// parsers to read different claims). `exp`, `nbf` and `iat` are taken out by jwt-compact's
/// `Claims` first, so seeing one of them here means it appeared twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct RawClaims(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for RawClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueMembers { consumed: &["exp", "nbf", "iat"] }).map(RawClaims)
    }
}

/// A JSON object visitor that rejects duplicate member names, and any name in `consumed`:
/// the names an enclosing jwt-compact struct (`Claims`, `Header`) already took out.
pub(super) struct UniqueMembers {
    pub(super) consumed: &'static [&'static str],
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if self.consumed.contains(&name.as_str()) || members.contains_key(&name) {
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value::<Value>()?;
            members.insert(name, value);
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_members_shape_the_audience_and_refuse_reserved_extras() {
        let claims = JwtClaims::new("https://pc.example", "alice", "api", TokenType::Access, 100, 60, "j1");
        let members = claims.custom_members().unwrap();
        assert_eq!(members["aud"], "api");
        assert_eq!(members["type"], "access");
        let mut two = claims.clone();
        two.aud.push("other".into());
        assert_eq!(two.custom_members().unwrap()["aud"], serde_json::json!(["api", "other"]));
        assert!(claims.clone().with_extra("type", "refresh".into()).is_err());
        let mut sneaky = claims.clone();
        sneaky.extra.insert("exp".into(), 1.into());
        assert_eq!(sneaky.custom_members().unwrap_err().kind(), "invalid_claims");
        let mut empty = claims;
        empty.aud.clear();
        assert!(empty.custom_members().is_err());
    }

    #[test]
    fn raw_claims_reject_duplicates_and_non_objects() {
        let parse = |json: &str| serde_json::from_str::<RawClaims>(json);
        assert!(parse(r#"{"a":1,"b":2}"#).is_ok());
        assert!(parse(r#"{"a":1,"a":2}"#).is_err());
        assert!(parse(r#"[1,2]"#).is_err());
        assert!(parse(r#""text""#).is_err());
    }

    #[test]
    fn token_types_parse_exactly() {
        assert_eq!(TokenType::parse("api"), Some(TokenType::Api));
        assert_eq!(TokenType::parse("Access"), None);
        assert_eq!(TokenType::parse(""), None);
    }
}
