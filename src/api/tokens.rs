//! Token management: a user's tokens, admin-made tokens, and the change history.

use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Deserializer, Serialize};

use super::auth::Check;
use super::error::ApiError;
use super::extract::{invalid, json as parse_json};
use super::{empty, json, Api, Reply, Req};
use crate::env::UnixTime;
use crate::token::{AdminTokenRequest, HistoryQuery, Token, TokenChanges, TokenKey, TokenType};

/// Most history entries one page holds.
const MAX_PAGE: i64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserToken {
    token_name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires: Option<UnixTime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    token_name: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Absent: unchanged; `null`: never expires.
    #[serde(default, deserialize_with = "present")]
    expires: Option<Option<UnixTime>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<UnixTime>>, D::Error> {
    Option::<UnixTime>::deserialize(d).map(Some)
}

#[derive(Serialize)]
struct NewToken {
    token: String,
}

impl Api {
    fn key(&self, key: &str) -> Result<TokenKey, ApiError> {
        // A malformed key names no token.
        TokenKey::parse(key).map_err(|_| ApiError::Core(crate::RequestError::NotFound.into()))
    }

    fn created(&self, username: &str, token: &Token) -> Reply {
        let mut response = json(StatusCode::CREATED, &NewToken { token: self.tokens.encode(token) });
        let location = format!("/auth/api/v1/users/{username}/tokens/{}", token.key());
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        Ok(response)
    }

    pub(crate) async fn list_tokens(&self, r: &Req<'_>, username: &str) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        Ok(json(StatusCode::OK, &self.tokens.list_tokens(&caller, username).await?))
    }

    pub(crate) async fn create_user_token(&self, r: &Req<'_>, username: &str) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        let body: NewUserToken = parse_json(r.body)?;
        let token = self
            .tokens
            .create_user_token(&caller, username, &body.token_name, &body.scopes, body.expires, r.ip)
            .await?;
        self.created(username, &token)
    }

    pub(crate) async fn get_token(&self, r: &Req<'_>, username: &str, key: &str) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        let info = self.tokens.get_token_info(&caller, username, &self.key(key)?).await?;
        Ok(json(StatusCode::OK, &info))
    }

    pub(crate) async fn modify_token(&self, r: &Req<'_>, username: &str, key: &str) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        let patch: Patch = parse_json(r.body)?;
        let changes = TokenChanges { token_name: patch.token_name, scopes: patch.scopes, expires: patch.expires };
        let info = self.tokens.modify_token(&caller, username, &self.key(key)?, changes, r.ip).await?;
        Ok(json(StatusCode::OK, &info))
    }

    pub(crate) async fn delete_token(&self, r: &Req<'_>, username: &str, key: &str) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        self.tokens.delete_token(&caller, username, &self.key(key)?, r.ip).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn admin_create_token(&self, r: &Req<'_>) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        let request: AdminTokenRequest = parse_json(r.body)?;
        let username = request.username.clone();
        let token = self.tokens.create_token_from_admin_request(&caller, request, r.ip).await?;
        self.created(&username, &token)
    }

    /// A page of history, newest first, with `Link` (next page) and `X-Total-Count` headers.
    pub(crate) async fn history(&self, r: &Req<'_>, username: Option<&str>) -> Reply {
        let caller = self.caller(r, Check::Strict).await?;
        let q = &r.query;
        let limit = match q.int("limit")? {
            Some(limit) if !(1..=MAX_PAGE).contains(&limit) => {
                return Err(invalid(&["query", "limit"], "limit must be between 1 and 1000"));
            }
            limit => limit,
        };
        let cursor = q
            .get("cursor")
            .map(|c| c.parse::<i64>().map_err(|_| invalid(&["query", "cursor"], "invalid cursor")))
            .transpose()?;
        let token_type = q
            .get("token_type")
            .map(|t| TokenType::parse(t).ok_or_else(|| invalid(&["query", "token_type"], "unknown token_type")))
            .transpose()?;
        let key = q
            .get("key")
            .map(|k| TokenKey::parse(k).map_err(|_| invalid(&["query", "key"], "invalid key")))
            .transpose()?;
        let username = username.map(str::to_owned).or_else(|| q.get("username").map(str::to_owned));
        let query = HistoryQuery {
            username,
            key,
            token_type,
            since: q.int("since")?,
            until: q.int("until")?,
            limit: limit.map(|l| l as u32),
            cursor,
        };
        let page = self.tokens.history(&caller, &query).await?;
        let mut response = json(StatusCode::OK, &page.entries);
        let headers = response.headers_mut();
        headers.insert("x-total-count", HeaderValue::from(page.total));
        if let Some(next) = page.next_cursor {
            let link = format!("<{}?{}>; rel=\"next\"", r.path, q.with("cursor", &next.to_string()));
            if let Ok(value) = HeaderValue::from_str(&link) {
                headers.insert(header::LINK, value);
            }
        }
        Ok(response)
    }
}
