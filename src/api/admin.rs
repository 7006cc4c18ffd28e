//! Operator endpoints: expiry, audit, metrics. All need `admin:token`.

use http::StatusCode;
use serde::Serialize;

use super::auth::Check;
use super::error::ApiError;
use super::{json, Api, Reply, Req};
use crate::config::SCOPE_ADMIN_TOKEN;
use crate::error::RequestError;
use crate::token::TokenInfo;

#[derive(Serialize)]
struct Expired {
    deleted: Vec<TokenInfo>,
    expired_sessions: usize,
}

#[derive(Serialize)]
struct Metrics {
    unique_sessions: u64,
    user_tokens: u64,
    active_sessions: u64,
}

impl Api {
    async fn admin(&self, r: &Req<'_>) -> Result<(), ApiError> {
        let caller = self.caller(r, Check::Strict).await?;
        if caller.has_scope(SCOPE_ADMIN_TOKEN) {
            Ok(())
        } else {
            Err(RequestError::PermissionDenied("admin:token required").into())
        }
    }

    pub(crate) async fn expire(&self, r: &Req<'_>) -> Reply {
        self.admin(r).await?;
        let deleted = self.tokens.delete_expired().await?;
        let expired_sessions = match &self.sessions {
            Some(jwt) => jwt.cleanup_expired_sessions().await?,
            None => 0,
        };
        Ok(json(StatusCode::OK, &Expired { deleted, expired_sessions }))
    }

    pub(crate) async fn audit(&self, r: &Req<'_>) -> Reply {
        self.admin(r).await?;
        let fix = r.query.flag("fix")?;
        Ok(json(StatusCode::OK, &self.tokens.audit(fix).await?))
    }

    pub(crate) async fn metrics(&self, r: &Req<'_>) -> Reply {
        self.admin(r).await?;
        let metrics = Metrics {
            unique_sessions: self.tokens.count_unique_sessions().await?,
            user_tokens: self.tokens.count_user_tokens().await?,
            active_sessions: match &self.sessions {
                Some(jwt) => jwt.n_active_sessions().await?,
                None => 0,
            },
        };
        Ok(json(StatusCode::OK, &metrics))
    }
}
