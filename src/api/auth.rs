//! Authentication of callers, the forward-auth check `/auth`, and who-am-I endpoints.

use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use super::error::ApiError;
use super::extract::{bearer, invalid};
use super::{json, Api, Reply, Req, Reusable};
use crate::token::{Group, TokenData, TokenInfo};

/// How hard to check a caller's token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// KV only: the fast path, used by `/auth` and the who-am-I endpoints.
    Fast,
    /// KV and SQL: used by every endpoint that changes or lists tokens.
    Strict,
}

#[derive(Serialize)]
struct UserInfoBody<'a> {
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<i64>,
    #[serde(skip_serializing_if = "<[Group]>::is_empty")]
    groups: &'a [Group],
}

impl Api {
    /// The caller's token data; 401 without a valid token.
    pub(crate) async fn caller(&self, r: &Req<'_>, check: Check) -> Result<TokenData, ApiError> {
        let token = bearer(r.headers)?.ok_or(ApiError::Unauthenticated)?;
        if self.is_jwt(token) {
            let Some(jwt) = &self.sessions else {
                return Err(ApiError::Core(crate::RequestError::InvalidToken.into()));
            };
            let user = match check {
                Check::Fast => jwt.authenticate(token).await,
                Check::Strict => jwt.authenticate_strict(token).await,
            };
            // As a credential, a token of the wrong kind is simply not valid (401, not 422).
            let user = user.map_err(|e| match e {
                crate::Error::Session(crate::SessionError::WrongTokenType { .. }) => {
                    crate::RequestError::InvalidToken.into()
                }
                e => e,
            })?;
            return super::sessions::jwt_caller(user);
        }
        let data = match check {
            Check::Fast => self.tokens.validate(token).await?,
            Check::Strict => self.tokens.validate_strict(token).await?,
        };
        // The bootstrap token administers a deployment from operators' tools; a browser (which
        // marks its requests with Sec-Fetch-Site, or Origin) never gets to use it. Node's fetch
        // sends Sec-Fetch-Mode alone, so that one is not the mark.
        let from_browser = r.headers.contains_key("sec-fetch-site") || r.headers.contains_key(http::header::ORIGIN);
        if data.username == crate::token::BOOTSTRAP_USERNAME && from_browser {
            return Err(
                crate::RequestError::PermissionDenied("the bootstrap token cannot be used from a browser").into()
            );
        }
        Ok(data)
    }

    /// Three dot-separated parts and no token prefix: a JWT (else an opaque token).
    fn is_jwt(&self, token: &str) -> bool {
        let prefixed =
            token.strip_prefix(self.tokens.config().prefix.as_str()).is_some_and(|rest| rest.starts_with('-'));
        token.split('.').count() == 3 && !prefixed
    }

    /// `GET /auth`: 200 with identity headers when the token has the scopes asked for, 401
    /// without a valid token, 403 without the scopes. Optionally delegates a child token.
    pub(crate) async fn auth(&self, r: &Req<'_>) -> Reply {
        let caller = self.caller(r, Check::Fast).await?;
        let required: Vec<String> = r
            .query
            .all("scope")
            .iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if required.is_empty() {
            return Err(invalid(&["query", "scope"], "at least one scope is required"));
        }
        let satisfied = match r.query.get("satisfy").unwrap_or("all") {
            "all" => required.iter().all(|s| caller.has_scope(s)),
            "any" => required.iter().any(|s| caller.has_scope(s)),
            _ => return Err(invalid(&["query", "satisfy"], "satisfy must be all or any")),
        };
        if !satisfied {
            return Err(ApiError::InsufficientScope(required));
        }
        let minimum_lifetime = r.query.int("minimum_lifetime")?;
        let delegated = if r.query.flag("notebook")? {
            Some(self.tokens.get_notebook_token(&caller, r.ip, minimum_lifetime).await?)
        } else if let Some(service) = r.query.get("delegate_to") {
            let scopes: Vec<String> = r
                .query
                .get("delegate_scope")
                .unwrap_or("")
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            Some(self.tokens.get_internal_token(&caller, service, &scopes, r.ip, minimum_lifetime).await?)
        } else {
            None
        };
        let mut response = Response::new(Vec::new());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set("x-auth-request-user", &caller.username);
        if let Some(email) = &caller.user.email {
            set("x-auth-request-email", email);
        }
        match delegated {
            Some(token) => set("x-auth-request-token", &self.tokens.encode(&token)),
            // Opaque tokens only: what a JWT check depends on is not all in KV.
            None if !bearer(r.headers)?.is_some_and(|token| self.is_jwt(token)) => {
                let now = self.tokens.now_millis();
                let left = caller.expires.map_or(i64::MAX, |expires| expires.saturating_mul(1000).saturating_sub(now));
                let millis = left.clamp(0, Reusable::MAX_MILLIS.into()) as u32;
                if millis > 0 {
                    response.extensions_mut().insert(Reusable { millis });
                }
            }
            None => {}
        }
        Ok(response)
    }

    /// `GET /auth/api/v1/token-info`: the caller's own token.
    pub(crate) async fn token_info(&self, r: &Req<'_>) -> Reply {
        let caller = self.caller(r, Check::Fast).await?;
        let info = self.tokens.own_token_info(&caller).await?;
        Ok(json(StatusCode::OK, &info))
    }

    /// `GET /auth/api/v1/user-info`: the caller's identity.
    pub(crate) async fn user_info(&self, r: &Req<'_>) -> Reply {
        let caller = self.caller(r, Check::Fast).await?;
        let body = UserInfoBody {
            username: &caller.username,
            name: caller.user.name.as_deref(),
            email: caller.user.email.as_deref(),
            uid: caller.user.uid,
            gid: caller.user.gid,
            groups: &caller.user.groups,
        };
        Ok(json(StatusCode::OK, &body))
    }
}

impl crate::token::TokenService {
    /// Information about the caller's own token: its row, or (for tokens without one, such as
    /// the bootstrap token and JWTs) what the token itself says.
    pub async fn own_token_info(&self, caller: &TokenData) -> crate::Result<TokenInfo> {
        if let Some(info) = self.row(&caller.key).await? {
            return Ok(info);
        }
        Ok(TokenInfo {
            key: caller.key.clone(),
            username: caller.username.clone(),
            token_type: caller.token_type,
            token_name: None,
            scopes: caller.scopes.clone(),
            service: caller.service.clone(),
            created: caller.created,
            last_used: None,
            expires: caller.expires,
            parent: None,
        })
    }
}
