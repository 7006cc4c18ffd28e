//! Opaque tokens: the format, the KV and SQL stores, the rules, the service, child tokens and
//! the audit.

mod audit;
mod cache;
mod data;
mod db_store;
mod format;
mod history;
mod kv_store;
pub(crate) mod rules;
mod service;
mod validated;

pub use audit::{AuditIssue, AuditKind, AuditReport};
pub use data::{Group, TokenData, TokenInfo, TokenType, UserInfo};
pub use format::{valid_prefix, Token, TokenKey, TokenParseError, DEFAULT_PREFIX, MAX_TOKEN_LEN};
pub use history::{HistoryEntry, HistoryPage, HistoryQuery, TokenChange, INTERNAL_ACTOR};
pub use rules::{is_bot_username, valid_scope, valid_username};
pub use service::{is_admin, AdminTokenRequest, TokenChanges, TokenService, BOOTSTRAP_USERNAME};
