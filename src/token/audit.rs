//! The audit: finds (and with `fix` repairs) every way KV and SQL can disagree.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::history::{TokenChange, INTERNAL_ACTOR};
use super::kv_store::StoredToken;
use super::service::TokenService;
use super::{TokenInfo, TokenKey};
use crate::env::UnixTime;
use crate::error::Result;
use crate::store::keys;
use crate::store::record::Read;

/// What kind of inconsistency an audit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A SQL row whose KV record is gone (the token cannot be used). Fix: delete the row.
    MissingFromKv,
    /// A KV record without a SQL row. Fix: delete the record.
    MissingFromSql,
    /// KV and SQL disagree on username, type, scopes, service or expiry. Fix: SQL wins.
    Mismatch,
    /// A child that outlives its parent. Fix: lower its expiry to the parent's.
    OutlivesParent,
    /// A child whose parent is gone. Fix: revoke it.
    Orphaned,
    /// Scopes no longer in the configuration. Fix: drop them.
    UnknownScopes,
    /// A KV record that does not decrypt or parse, or describes another token than the one it
    /// is stored under. Fix: delete it.
    Malformed,
    /// A record sealed with a key other than the primary one. Fix: seal it again.
    OldEncryptionKey,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditIssue {
    pub kind: AuditKind,
    /// The token key (or the raw KV key suffix for malformed records).
    pub token: String,
    pub detail: String,
    pub fixed: bool,
}

/// Everything an audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub issues: Vec<AuditIssue>,
}

impl AuditReport {
    pub fn count(&self, kind: AuditKind) -> usize {
        self.issues.iter().filter(|i| i.kind == kind).count()
    }

    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }
}

impl TokenService {
    /// Compares KV with SQL and reports every inconsistency; with `fix`, repairs each.
    pub async fn audit(&self, fix: bool) -> Result<AuditReport> {
        let now = self.now();
        let kv = self.kv_store();
        let rows = self.db().list_with_parents().await?;
        let by_key: HashMap<&TokenKey, &TokenInfo> = rows.iter().map(|r| (&r.key, r)).collect();
        let mut report = AuditReport::default();
        let mut note = |kind, token: &str, detail: String, fixed| {
            report.issues.push(AuditIssue { kind, token: token.to_owned(), detail, fixed })
        };

        // Every KV record: decryptable, known to SQL, and agreeing with it.
        let mut in_kv = HashSet::new();
        for raw in kv.list().await? {
            let kv_key = keys::token(&raw);
            let Some((read, sealed)) = self.audit_read(&kv_key, &raw, now).await? else { continue };
            let stored = match read {
                // A record must describe the token it is stored under.
                Read::Valid(stored) if stored.data.key.as_str() == raw => stored,
                Read::Expired | Read::Absent => continue,
                Read::Valid(_) | Read::Malformed => {
                    let fixed = fix && self.env.kv.delete(&kv_key).await.is_ok();
                    note(AuditKind::Malformed, &raw, "record does not decrypt, parse or match its key".into(), fixed);
                    continue;
                }
            };
            in_kv.insert(stored.data.key.clone());
            let Some(row) = by_key.get(&stored.data.key) else {
                let fixed = fix && self.env.kv.delete(&kv_key).await.is_ok();
                note(AuditKind::MissingFromSql, &raw, "in KV but not in SQL".into(), fixed);
                continue;
            };
            let mismatches = mismatches(&stored, row);
            if !mismatches.is_empty() {
                let mut repaired = stored.clone();
                repaired.data.username = row.username.clone();
                repaired.data.token_type = row.token_type;
                repaired.data.scopes = row.scopes.clone();
                repaired.data.service = row.service.clone();
                repaired.data.expires = row.expires;
                let fixed = fix && kv.restore(&repaired, now).await.is_ok();
                note(AuditKind::Mismatch, &raw, format!("fields differ: {}", mismatches.join(", ")), fixed);
            } else if self.keys.sealed_with(&sealed) != Some(self.keys.primary_id()) {
                let fixed = fix && kv.restore(&stored, now).await.is_ok();
                note(AuditKind::OldEncryptionKey, &raw, "sealed with a retired key".into(), fixed);
            }
        }

        // Read again: a token whose record expired while KV was scanned (a TTL running out, on a
        // KV whose expiry follows real time) is expired, not missing.
        let now = self.now();
        for row in &rows {
            if row.expires.is_some_and(|e| e <= now) {
                continue; // delete_expired's business
            }
            if !in_kv.contains(&row.key) {
                let fixed =
                    fix && self.revoke_tree(row.clone(), TokenChange::Revoke, INTERNAL_ACTOR, None).await.is_ok();
                note(AuditKind::MissingFromKv, row.key.as_str(), "in SQL but not in KV".into(), fixed);
                continue;
            }
            let unknown: Vec<&String> = row.scopes.iter().filter(|s| !self.config.known_scopes.contains(s)).collect();
            if !unknown.is_empty() {
                let detail =
                    format!("unknown scopes: {}", unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
                let mut new = row.clone();
                new.scopes.retain(|s| self.config.known_scopes.contains(s));
                let fixed = fix && self.apply_updates(&[(row.clone(), new)], INTERNAL_ACTOR, None).await.is_ok();
                note(AuditKind::UnknownScopes, row.key.as_str(), detail, fixed);
            }
        }

        for orphan in self.db().list_orphaned().await? {
            let fixed =
                fix && self.revoke_tree(orphan.clone(), TokenChange::Revoke, INTERNAL_ACTOR, None).await.is_ok();
            note(AuditKind::Orphaned, orphan.key.as_str(), "parent token is gone".into(), fixed);
        }

        for row in &rows {
            let Some(parent) = row.parent.as_ref().and_then(|p| by_key.get(p)) else { continue };
            let Some(limit) = parent.expires else { continue };
            if row.expires.is_none_or(|e| e > limit) {
                let new = TokenInfo { expires: Some(limit), ..row.clone() };
                let fixed = fix && self.apply_updates(&[(row.clone(), new)], INTERNAL_ACTOR, None).await.is_ok();
                note(AuditKind::OutlivesParent, row.key.as_str(), format!("expires after its parent ({limit})"), fixed);
            }
        }
        if fix {
            // Records were deleted or rewritten beside the KV store's own paths.
            self.validated.clear();
        }
        Ok(report)
    }
}

impl TokenService {
    /// A record and its bytes, read a second time when the first read is unusable: judge only
    /// what two reads agree on, so one garbled read does not cost a valid token (its record
    /// deleted, or its row revoked as missing from KV).
    async fn audit_read(&self, kv_key: &str, raw: &str, now: UnixTime) -> Result<Option<(Read<StoredToken>, Vec<u8>)>> {
        let records = self.kv_store().records;
        let mut found = None;
        for _attempt in 0..2 {
            let Some(sealed) = self.env.kv.get(kv_key).await? else { return Ok(None) };
            let read: Read<StoredToken> = records.decode(kv_key, &sealed, now);
            let usable = match &read {
                Read::Valid(stored) => stored.data.key.as_str() == raw,
                Read::Expired | Read::Absent => true,
                Read::Malformed => false,
            };
            found = Some((read, sealed));
            if usable {
                break;
            }
        }
        Ok(found)
    }
}

fn mismatches(stored: &StoredToken, row: &TokenInfo) -> Vec<&'static str> {
    let data = &stored.data;
    let checks = [
        ("username", data.username != row.username),
        ("token_type", data.token_type != row.token_type),
        ("scopes", data.scopes != row.scopes),
        ("service", data.service != row.service),
        ("expires", data.expires != row.expires),
    ];
    checks.into_iter().filter(|(_, differs)| *differs).map(|(name, _)| name).collect()
}
