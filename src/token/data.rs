//! What a token is: its type, its data (KV) and its database row (SQL).

use serde::{Deserialize, Serialize};

use super::TokenKey;
use crate::env::UnixTime;

/// The kinds of opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Made by logging in; parent of notebook and internal tokens.
    Session,
    /// Named, made by a user or an admin for programmatic access.
    User,
    /// A child with its parent's scopes, for a user's notebook.
    Notebook,
    /// A child delegated to a service with a subset of its parent's scopes.
    Internal,
    /// A token of a `bot-*` user, made by an admin.
    Service,
    /// A JWT access token of a session (never stored as an opaque token).
    Access,
    /// A JWT refresh token (never accepted as authentication).
    Refresh,
    /// A long-lived JWT API token with dataset permissions.
    Api,
}

impl TokenType {
    pub const ALL: [TokenType; 8] = [
        TokenType::Session,
        TokenType::User,
        TokenType::Notebook,
        TokenType::Internal,
        TokenType::Service,
        TokenType::Access,
        TokenType::Refresh,
        TokenType::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Session => "session",
            TokenType::User => "user",
            TokenType::Notebook => "notebook",
            TokenType::Internal => "internal",
            TokenType::Service => "service",
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
            TokenType::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether tokens of this type are minted as children of another token.
    pub fn is_child(self) -> bool {
        matches!(self, TokenType::Notebook | TokenType::Internal)
    }

    /// Whether this is one of the JWT kinds.
    pub fn is_jwt(self) -> bool {
        matches!(self, TokenType::Access | TokenType::Refresh | TokenType::Api)
    }
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// Identity data carried by a token, as Gafaelfawr stores it beside the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// Everything known about a valid token (the KV record), without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenData {
    pub key: TokenKey,
    pub username: String,
    pub token_type: TokenType,
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub created: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixTime>,
    #[serde(flatten)]
    pub user: UserInfo,
}

impl TokenData {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        self.expires.is_some_and(|exp| exp <= now)
    }
}

/// A token's database row: what the token APIs list and the history describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    #[serde(rename = "token")]
    pub key: TokenKey,
    pub username: String,
    pub token_type: TokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub created: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TokenKey>,
}

impl Serialize for TokenKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TokenKey::parse(&text).map_err(serde::de::Error::custom)
    }
}
