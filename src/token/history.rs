//! The token change history: who created, edited, revoked or expired which token, and when.

use serde::{Deserialize, Serialize};

use super::rules::{join_scopes, split_scopes};
use super::{TokenInfo, TokenKey, TokenType};
use crate::env::UnixTime;
use crate::store::{Row, Sql, Statement, StoreError, Value};

/// The actor recorded for changes the service makes on its own (expiry, audit fixes).
pub const INTERNAL_ACTOR: &str = "<internal>";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenChange {
    Create,
    Revoke,
    Expire,
    Edit,
}

impl TokenChange {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenChange::Create => "create",
            TokenChange::Revoke => "revoke",
            TokenChange::Expire => "expire",
            TokenChange::Edit => "edit",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [TokenChange::Create, TokenChange::Revoke, TokenChange::Expire, TokenChange::Edit]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// One history entry, in the shape of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub token: TokenKey,
    pub username: String,
    pub token_type: TokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TokenKey>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixTime>,
    pub actor: String,
    pub action: TokenChange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_token_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_expires: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    pub event_time: UnixTime,
}

impl HistoryEntry {
    /// An entry describing `info` as it is now.
    pub fn new(info: &TokenInfo, action: TokenChange, actor: &str, ip_address: Option<&str>, now: UnixTime) -> Self {
        HistoryEntry {
            token: info.key.clone(),
            username: info.username.clone(),
            token_type: info.token_type,
            token_name: info.token_name.clone(),
            parent: info.parent.clone(),
            scopes: info.scopes.clone(),
            service: info.service.clone(),
            expires: info.expires,
            actor: actor.to_owned(),
            action,
            old_token_name: None,
            old_scopes: None,
            old_expires: None,
            ip_address: ip_address.map(str::to_owned),
            event_time: now,
        }
    }

    /// The statement that records this entry, for an atomic batch.
    pub(crate) fn insert(&self) -> Statement {
        Statement::new(
            "INSERT INTO token_change_history (token, username, token_type, token_name, parent, scopes, \
             service, expires, actor, action, old_token_name, old_scopes, old_expires, ip_address, event_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                self.token.as_str().into(),
                self.username.as_str().into(),
                self.token_type.as_str().into(),
                self.token_name.clone().into(),
                self.parent.as_ref().map(TokenKey::as_str).into(),
                join_scopes(&self.scopes).into(),
                self.service.clone().into(),
                self.expires.into(),
                self.actor.as_str().into(),
                self.action.as_str().into(),
                self.old_token_name.clone().into(),
                self.old_scopes.as_deref().map(join_scopes).into(),
                self.old_expires.into(),
                self.ip_address.clone().into(),
                self.event_time.into(),
            ],
        )
    }
}

/// Which history entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub username: Option<String>,
    pub key: Option<TokenKey>,
    pub token_type: Option<TokenType>,
    /// Only entries at or after / before these times.
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    pub limit: Option<u32>,
    /// From a previous page's [`HistoryPage::next_cursor`].
    pub cursor: Option<i64>,
}

/// A page of history.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// All entries matching the query, across pages.
    pub total: u64,
    pub next_cursor: Option<i64>,
}

pub(crate) struct HistoryStore<'a> {
    pub sql: &'a dyn Sql,
}

impl HistoryStore<'_> {
    pub(crate) async fn list(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let mut filter = String::from(" WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        let mut add = |clause: &str, value: Value| {
            filter.push_str(clause);
            params.push(value);
        };
        if let Some(username) = &query.username {
            add(" AND username = ?", username.as_str().into());
        }
        if let Some(key) = &query.key {
            add(" AND token = ?", key.as_str().into());
        }
        if let Some(token_type) = query.token_type {
            add(" AND token_type = ?", token_type.as_str().into());
        }
        if let Some(since) = query.since {
            add(" AND event_time >= ?", since.into());
        }
        if let Some(until) = query.until {
            add(" AND event_time <= ?", until.into());
        }
        let total = self.sql.execute(&format!("SELECT COUNT(*) FROM token_change_history{filter}"), &params).await?;
        let total = total.scalar().and_then(Value::as_i64).unwrap_or(0);

        let mut sql = format!(
            "SELECT id, token, username, token_type, token_name, parent, scopes, service, expires, actor, action, \
             old_token_name, old_scopes, old_expires, ip_address, event_time FROM token_change_history{filter}"
        );
        if let Some(cursor) = query.cursor {
            sql.push_str(" AND id < ?");
            params.push(cursor.into());
        }
        sql.push_str(" ORDER BY id DESC");
        let limit = query.limit.map(i64::from);
        if let Some(limit) = limit {
            // One more than asked tells whether there is a next page.
            sql.push_str(" LIMIT ?");
            params.push((limit + 1).into());
        }
        let result = self.sql.execute(&sql, &params).await?;
        let mut rows: Vec<(i64, HistoryEntry)> = result.rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
        let next_cursor = match limit {
            Some(limit) if rows.len() as i64 > limit => {
                rows.truncate(limit as usize);
                rows.last().map(|(id, _)| *id)
            }
            _ => None,
        };
        Ok(HistoryPage {
            entries: rows.into_iter().map(|(_, e)| e).collect(),
            total: u64::try_from(total).unwrap_or(0),
            next_cursor,
        })
    }
}

fn entry_from_row(row: &Row) -> Result<(i64, HistoryEntry), StoreError> {
    let bad = |what: &str| StoreError::Other(format!("malformed history row: {what}"));
    let v = &row.values;
    if v.len() < 16 {
        return Err(bad("too few columns"));
    }
    let text = |i: usize| v[i].as_str().map(str::to_owned);
    let key = |i: usize| v[i].as_str().and_then(|k| TokenKey::parse(k).ok());
    let entry = HistoryEntry {
        token: key(1).ok_or_else(|| bad("token"))?,
        username: text(2).ok_or_else(|| bad("username"))?,
        token_type: text(3).as_deref().and_then(TokenType::parse).ok_or_else(|| bad("token_type"))?,
        token_name: text(4),
        parent: key(5),
        scopes: split_scopes(v[6].as_str().unwrap_or_default()),
        service: text(7),
        expires: v[8].as_i64(),
        actor: text(9).ok_or_else(|| bad("actor"))?,
        action: text(10).as_deref().and_then(TokenChange::parse).ok_or_else(|| bad("action"))?,
        old_token_name: text(11),
        old_scopes: v[12].as_str().map(split_scopes),
        old_expires: v[13].as_i64(),
        ip_address: text(14),
        event_time: v[15].as_i64().ok_or_else(|| bad("event_time"))?,
    };
    Ok((v[0].as_i64().ok_or_else(|| bad("id"))?, entry))
}
