//! Token rows in SQL (Gafaelfawr's TokenDatabaseStore): names, parent/child relations, expiry.

use super::rules::{join_scopes, split_scopes};
use super::{TokenInfo, TokenKey, TokenType};
use crate::env::UnixTime;
use crate::store::{Row, Sql, Statement, StoreError, Value};

/// Bound parameters per statement: D1 accepts at most 100 (SQLite 32,766).
const MAX_PARAMS: usize = 100;

/// The deepest delegation chain `get_children` follows.
const MAX_DEPTH: i64 = 64;
/// `last_used` is written at most this often per token.
pub(crate) const LAST_USED_INTERVAL: i64 = 60;

const COLUMNS: &str =
    "t.key, t.username, t.token_type, t.token_name, t.scopes, t.service, t.created, t.last_used, t.expires, s.parent";
const FROM: &str = "FROM token t LEFT JOIN subtoken s ON s.child = t.key";

/// A child-token search: the parent, the kind of child, and how long it must still live.
pub(crate) struct ChildQuery<'a> {
    pub parent: &'a TokenKey,
    pub token_type: TokenType,
    pub service: Option<&'a str>,
    pub scopes: &'a [String],
    /// `Some(t)`: must not expire before `t`. `None`: less than half its lifetime may have passed.
    pub min_expires: Option<UnixTime>,
    pub now: UnixTime,
}

pub(crate) struct TokenDbStore<'a> {
    pub sql: &'a dyn Sql,
}

impl TokenDbStore<'_> {
    /// The statements that insert `info` (and its parent link), for an atomic batch.
    pub(crate) fn add(info: &TokenInfo) -> Vec<Statement> {
        let mut statements = vec![Statement::new(
            "INSERT INTO token (key, username, token_type, token_name, scopes, service, created, last_used, expires) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                info.key.as_str().into(),
                info.username.as_str().into(),
                info.token_type.as_str().into(),
                info.token_name.clone().into(),
                join_scopes(&info.scopes).into(),
                info.service.clone().into(),
                info.created.into(),
                info.last_used.into(),
                info.expires.into(),
            ],
        )];
        if let Some(parent) = &info.parent {
            statements.push(Statement::new(
                "INSERT INTO subtoken (child, parent) VALUES (?, ?)",
                vec![info.key.as_str().into(), parent.as_str().into()],
            ));
        }
        statements
    }

    /// The statement that rewrites a token's name, scopes and expiry.
    pub(crate) fn update(info: &TokenInfo) -> Statement {
        Statement::new(
            "UPDATE token SET token_name = ?, scopes = ?, expires = ? WHERE key = ?",
            vec![
                info.token_name.clone().into(),
                join_scopes(&info.scopes).into(),
                info.expires.into(),
                info.key.as_str().into(),
            ],
        )
    }

    /// The statements that delete tokens (their subtoken links go with them), at most
    /// [`MAX_PARAMS`] keys each.
    pub(crate) fn delete_many(keys: &[&TokenKey]) -> Vec<Statement> {
        keys.chunks(MAX_PARAMS)
            .map(|chunk| {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                Statement::new(
                    format!("DELETE FROM token WHERE key IN ({placeholders})"),
                    chunk.iter().map(|k| k.as_str().into()).collect(),
                )
            })
            .collect()
    }

    pub(crate) async fn get_info(&self, key: &TokenKey) -> Result<Option<TokenInfo>, StoreError> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE t.key = ?");
        Ok(self.query(&sql, &[key.as_str().into()]).await?.pop())
    }

    /// Whether `username` already has a token called `name` (other than `except`).
    pub(crate) async fn name_taken(
        &self,
        username: &str,
        name: &str,
        except: Option<&TokenKey>,
    ) -> Result<bool, StoreError> {
        let result = self
            .sql
            .execute("SELECT key FROM token WHERE username = ? AND token_name = ?", &[username.into(), name.into()])
            .await?;
        Ok(result.rows.iter().any(|row| row.values.first().and_then(Value::as_str) != except.map(TokenKey::as_str)))
    }

    /// Every descendant of `key`: direct children first, then breadth-first by depth.
    pub(crate) async fn get_children(&self, key: &TokenKey) -> Result<Vec<TokenKey>, StoreError> {
        let result = self
            .sql
            .execute(
                "WITH RECURSIVE tree (key, depth) AS ( \
                   SELECT child, 1 FROM subtoken WHERE parent = ? \
                   UNION ALL \
                   SELECT s.child, tree.depth + 1 FROM subtoken s JOIN tree ON s.parent = tree.key \
                   WHERE tree.depth < ? \
                 ) SELECT key FROM tree ORDER BY depth, key",
                &[key.as_str().into(), MAX_DEPTH.into()],
            )
            .await?;
        let mut keys: Vec<TokenKey> = result.rows.iter().filter_map(|row| key_at(row, 0)).collect();
        // A corrupted table could make a cycle; never hand out one key twice.
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        Ok(keys)
    }

    pub(crate) async fn list_tokens(
        &self,
        username: Option<&str>,
        token_type: Option<TokenType>,
        limit: Option<u32>,
    ) -> Result<Vec<TokenInfo>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} {FROM} WHERE 1 = 1");
        let mut params = Vec::new();
        if let Some(username) = username {
            sql.push_str(" AND t.username = ?");
            params.push(username.into());
        }
        if let Some(token_type) = token_type {
            sql.push_str(" AND t.token_type = ?");
            params.push(token_type.as_str().into());
        }
        sql.push_str(" ORDER BY t.created DESC, t.key");
        if let Some(limit) = limit {
            sql.push_str(" LIMIT ?");
            params.push(i64::from(limit).into());
        }
        self.query(&sql, &params).await
    }

    /// Tokens whose parent was deleted without them.
    pub(crate) async fn list_orphaned(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM token t JOIN subtoken s ON s.child = t.key WHERE s.parent IS NULL ORDER BY t.key"
        );
        self.query(&sql, &[]).await
    }

    /// Every token with its parent, for the audit.
    pub(crate) async fn list_with_parents(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.query(&format!("SELECT {COLUMNS} {FROM} ORDER BY t.key"), &[]).await
    }

    /// Tokens expired at `now`.
    pub(crate) async fn list_expired(&self, now: UnixTime) -> Result<Vec<TokenInfo>, StoreError> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE t.expires IS NOT NULL AND t.expires <= ? ORDER BY t.key");
        self.query(&sql, &[now.into()]).await
    }

    /// Users with an unexpired session token.
    pub(crate) async fn count_unique_sessions(&self, now: UnixTime) -> Result<u64, StoreError> {
        self.count(
            "SELECT COUNT(DISTINCT username) FROM token WHERE token_type = 'session' AND (expires IS NULL OR expires > ?)",
            now,
        )
        .await
    }

    /// Unexpired user tokens.
    pub(crate) async fn count_user_tokens(&self, now: UnixTime) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM token WHERE token_type = 'user' AND (expires IS NULL OR expires > ?)", now)
            .await
    }

    /// The longest-lived child of `query.parent` that fits the query (ties broken by key).
    pub(crate) async fn find_child(&self, query: &ChildQuery<'_>) -> Result<Option<TokenKey>, StoreError> {
        let mut sql = String::from(
            "SELECT t.key FROM token t JOIN subtoken s ON s.child = t.key \
             WHERE s.parent = ? AND t.token_type = ? AND t.scopes = ? AND t.expires > ?",
        );
        let mut params: Vec<Value> = vec![
            query.parent.as_str().into(),
            query.token_type.as_str().into(),
            join_scopes(query.scopes).into(),
            query.now.into(),
        ];
        match query.service {
            Some(service) => {
                sql.push_str(" AND t.service = ?");
                params.push(service.into());
            }
            None => sql.push_str(" AND t.service IS NULL"),
        }
        match query.min_expires {
            Some(min_expires) => {
                sql.push_str(" AND t.expires >= ?");
                params.push(min_expires.into());
            }
            None => {
                sql.push_str(" AND 2 * (t.expires - ?) > t.expires - t.created");
                params.push(query.now.into());
            }
        }
        sql.push_str(" ORDER BY t.expires DESC, t.key LIMIT 1");
        let result = self.sql.execute(&sql, &params).await?;
        Ok(result.rows.first().and_then(|row| key_at(row, 0)))
    }

    /// Records a use, at most once a minute per token. Returns whether a row changed.
    pub(crate) async fn touch(&self, key: &TokenKey, now: UnixTime) -> Result<bool, StoreError> {
        let result = self
            .sql
            .execute(
                "UPDATE token SET last_used = ? WHERE key = ? AND (last_used IS NULL OR last_used <= ?) RETURNING key",
                &[now.into(), key.as_str().into(), (now - LAST_USED_INTERVAL).into()],
            )
            .await?;
        Ok(!result.rows.is_empty())
    }

    async fn count(&self, sql: &str, now: UnixTime) -> Result<u64, StoreError> {
        let result = self.sql.execute(sql, &[now.into()]).await?;
        let count = result.scalar().and_then(Value::as_i64).unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<TokenInfo>, StoreError> {
        let result = self.sql.execute(sql, params).await?;
        result.rows.iter().map(info_from_row).collect()
    }
}

fn key_at(row: &Row, index: usize) -> Option<TokenKey> {
    row.values.get(index).and_then(Value::as_str).and_then(|k| TokenKey::parse(k).ok())
}

fn info_from_row(row: &Row) -> Result<TokenInfo, StoreError> {
    let bad = |what: &str| StoreError::Other(format!("malformed token row: {what}"));
    let v = &row.values;
    if v.len() < 10 {
        return Err(bad("too few columns"));
    }
    let text = |i: usize| v[i].as_str().map(str::to_owned);
    Ok(TokenInfo {
        key: key_at(row, 0).ok_or_else(|| bad("key"))?,
        username: text(1).ok_or_else(|| bad("username"))?,
        token_type: text(2).as_deref().and_then(TokenType::parse).ok_or_else(|| bad("token_type"))?,
        token_name: text(3),
        scopes: split_scopes(v[4].as_str().ok_or_else(|| bad("scopes"))?),
        service: text(5),
        created: v[6].as_i64().ok_or_else(|| bad("created"))?,
        last_used: v[7].as_i64(),
        expires: v[8].as_i64(),
        parent: key_at(row, 9),
    })
}
