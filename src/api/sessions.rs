//! JWT sessions over HTTP: login by a trusted caller, refresh, logout, API tokens, and the JWKS.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Check;
use super::error::ApiError;
use super::extract::{bearer, invalid, json as parse_json};
use super::{empty, json, Api, Reply, Req};
use crate::config::{MINIMUM_LIFETIME, SCOPE_ADMIN_SESSION};
use crate::env::UnixTime;
use crate::error::{RequestError, SessionError};
use crate::session::{Datasets, JwtSessionManager, SessionRef};
use crate::token::{is_admin, rules};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    username: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refresh {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApiToken {
    #[serde(default)]
    expires: Option<UnixTime>,
    #[serde(default)]
    datasets: Datasets,
}

#[derive(Serialize)]
struct NewToken {
    token: String,
}

impl Api {
    fn jwt(&self) -> Result<&JwtSessionManager, ApiError> {
        self.sessions.as_ref().ok_or(ApiError::NoRoute)
    }

    pub(crate) async fn jwks(&self) -> Reply {
        let mut response = json(StatusCode::OK, &self.jwt()?.jwks().await?);
        // Public keys: cacheable for a few minutes (rotation keeps old keys published).
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=300"));
        Ok(response)
    }

    /// `POST /sessions`: a caller with `admin:session` starts a session for a user it has
    /// authenticated by its own means.
    pub(crate) async fn create_session(&self, r: &Req<'_>) -> Reply {
        let jwt = self.jwt()?;
        let caller = self.caller(r, Check::Strict).await?;
        if !caller.has_scope(SCOPE_ADMIN_SESSION) {
            return Err(RequestError::PermissionDenied("admin:session required").into());
        }
        let body: NewSession = parse_json(r.body)?;
        let scopes = rules::normalize_scopes(&body.scopes, &self.tokens.config().known_scopes)?;
        Ok(json(StatusCode::OK, &jwt.create_session(&body.username, &scopes).await?))
    }

    /// `POST /sessions/refresh`: a new pair for a refresh token (no other credential needed).
    pub(crate) async fn refresh_session(&self, r: &Req<'_>) -> Reply {
        let jwt = self.jwt()?;
        let body: Refresh = parse_json(r.body)?;
        Ok(json(StatusCode::OK, &jwt.refresh_session(&body.refresh_token).await?))
    }

    /// `DELETE /sessions/current`: logs out the session of the access token presented.
    pub(crate) async fn end_session(&self, r: &Req<'_>) -> Reply {
        let jwt = self.jwt()?;
        let token = bearer(r.headers)?.ok_or(ApiError::Unauthenticated)?;
        jwt.validate_session(token).await?;
        jwt.invalidate_session(SessionRef::Token(token)).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    /// `POST /api-tokens`: an API token for the caller.
    pub(crate) async fn create_api_token(&self, r: &Req<'_>) -> Reply {
        let jwt = self.jwt()?;
        let caller = self.caller(r, Check::Strict).await?;
        let body: NewApiToken = parse_json(r.body)?;
        let lifetime = match body.expires {
            None => None,
            Some(expires) => {
                // Saturating: an expiry near the ends of i64 is out of range, not an overflow.
                let lifetime = expires.saturating_sub(self.tokens.now());
                if lifetime < MINIMUM_LIFETIME || lifetime > i64::from(u32::MAX) {
                    return Err(RequestError::InvalidExpires("must be at least 5 minutes in the future").into());
                }
                Some(lifetime as u32)
            }
        };
        if body.datasets.keys().any(|pattern| pattern.is_empty() || pattern.len() > 256) {
            return Err(invalid(&["body", "datasets"], "dataset patterns are 1-256 characters"));
        }
        let token = jwt.create_api_token(&caller.username, lifetime, body.datasets).await?;
        Ok(json(StatusCode::CREATED, &NewToken { token }))
    }

    /// `DELETE /api-tokens/{jti}`: by its owner or an admin.
    pub(crate) async fn delete_api_token(&self, r: &Req<'_>, jti: &str) -> Reply {
        let jwt = self.jwt()?;
        let caller = self.caller(r, Check::Strict).await?;
        match jwt.api_token_owner(jti).await? {
            Some(owner) if owner == caller.username || is_admin(&caller) => {
                jwt.invalidate_api_token(SessionRef::Jti(jti)).await?;
                Ok(empty(StatusCode::NO_CONTENT))
            }
            Some(_) => Err(RequestError::PermissionDenied("API tokens of another user").into()),
            None => Err(RequestError::NotFound.into()),
        }
    }
}

/// What a JWT caller is, in the shape the token APIs take.
pub(crate) fn jwt_caller(user: crate::session::JwtUser) -> Result<crate::token::TokenData, ApiError> {
    use crate::token::{TokenData, TokenKey, TokenType, UserInfo};
    let key =
        TokenKey::parse(&user.jti).map_err(|_| ApiError::Core(SessionError::InvalidTokenProcessing("jti").into()))?;
    let token_type = match user.token_type {
        crate::jwt::TokenType::Api => TokenType::Api,
        crate::jwt::TokenType::Access => TokenType::Access,
        crate::jwt::TokenType::Refresh => return Err(ApiError::Core(RequestError::InvalidToken.into())),
    };
    Ok(TokenData {
        key,
        username: user.username,
        token_type,
        scopes: rules::sorted(&user.scopes),
        service: None,
        created: user.issued_at,
        expires: Some(user.expires_at),
        user: UserInfo::default(),
    })
}
