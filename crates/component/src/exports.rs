//! The `tokens` and `admin` exports: thin calls into the core.

use portcullis::{AuditIssue, Clock, Error, TokenData};

use crate::bindings::exports::portcullis::auth::admin::{self, AuditIssue as WitAuditIssue};
use crate::bindings::exports::portcullis::auth::tokens::{self, Failure, Group, TokenData as WitTokenData};
use crate::instance::instance;
use crate::storage::WitSql;
use crate::system::{block_on, WasiClock};
use crate::Component;

fn failure(e: Error) -> Failure {
    Failure { kind: e.kind().to_owned(), message: e.to_string() }
}

fn token_data(data: TokenData) -> WitTokenData {
    WitTokenData {
        key: data.key.to_string(),
        username: data.username,
        token_type: data.token_type.as_str().to_owned(),
        scopes: data.scopes,
        service: data.service,
        created: data.created,
        expires: data.expires,
        name: data.user.name,
        email: data.user.email,
        uid: data.user.uid,
        gid: data.user.gid,
        groups: data.user.groups.into_iter().map(|g| Group { name: g.name, id: g.id }).collect(),
    }
}

impl tokens::Guest for Component {
    fn validate(token: String) -> Result<WitTokenData, Failure> {
        let instance = instance().map_err(failure)?;
        block_on(instance.api.tokens().validate(&token)).map(token_data).map_err(failure)
    }

    fn validate_strict(token: String) -> Result<WitTokenData, Failure> {
        let instance = instance().map_err(failure)?;
        block_on(instance.api.tokens().validate_strict(&token)).map(token_data).map_err(failure)
    }
}

fn audit_issue(issue: AuditIssue) -> WitAuditIssue {
    let kind = serde_json::to_value(issue.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    WitAuditIssue { kind, token: issue.token, detail: issue.detail, fixed: issue.fixed }
}

impl admin::Guest for Component {
    /// Needs no configuration, so a host can migrate before it has keys.
    fn migrate() -> Result<Vec<i64>, Failure> {
        block_on(portcullis::migrate(&WitSql, WasiClock.now())).map_err(|e| failure(e.into()))
    }

    fn expire() -> Result<u32, Failure> {
        let instance = instance().map_err(failure)?;
        let expired = block_on(instance.api.tokens().delete_expired()).map_err(failure)?;
        Ok(u32::try_from(expired.len()).unwrap_or(u32::MAX))
    }

    fn audit(fix: bool) -> Result<Vec<WitAuditIssue>, Failure> {
        let instance = instance().map_err(failure)?;
        let report = block_on(instance.api.tokens().audit(fix)).map_err(failure)?;
        Ok(report.issues.into_iter().map(audit_issue).collect())
    }
}
