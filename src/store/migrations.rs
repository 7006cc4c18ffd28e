//! Versioned schema migrations for SQLite/D1 and PostgreSQL, applied by every host at start.

use super::{Dialect, Sql, Statement, StoreError, Value};
use crate::env::UnixTime;

/// One schema version: the statements that bring the previous version to this one.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static [&'static str],
    pub postgres: &'static [&'static str],
}

impl Migration {
    fn statements(&self, dialect: Dialect) -> &'static [&'static str] {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tokens",
        sqlite: &[
            "CREATE TABLE token (key TEXT PRIMARY KEY, username TEXT NOT NULL, token_type TEXT NOT NULL, \
         token_name TEXT, scopes TEXT NOT NULL, service TEXT, created INTEGER NOT NULL, \
         last_used INTEGER, expires INTEGER, UNIQUE (username, token_name))",
            "CREATE INDEX token_by_user ON token (username, token_type)",
            "CREATE INDEX token_by_expiry ON token (expires)",
            "CREATE TABLE subtoken (child TEXT PRIMARY KEY REFERENCES token (key) ON DELETE CASCADE, \
         parent TEXT REFERENCES token (key) ON DELETE SET NULL)",
            "CREATE INDEX subtoken_by_parent ON subtoken (parent)",
            "CREATE TABLE token_change_history (id INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL, \
         username TEXT NOT NULL, token_type TEXT NOT NULL, token_name TEXT, parent TEXT, \
         scopes TEXT NOT NULL, service TEXT, expires INTEGER, actor TEXT NOT NULL, action TEXT NOT NULL, \
         old_token_name TEXT, old_scopes TEXT, old_expires INTEGER, ip_address TEXT, \
         event_time INTEGER NOT NULL)",
            "CREATE INDEX history_by_user ON token_change_history (username, id)",
            "CREATE INDEX history_by_token ON token_change_history (token, id)",
            "CREATE TABLE lock (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
        ],
        postgres: &[
            "CREATE TABLE token (key TEXT PRIMARY KEY, username TEXT NOT NULL, token_type TEXT NOT NULL, \
         token_name TEXT, scopes TEXT NOT NULL, service TEXT, created BIGINT NOT NULL, \
         last_used BIGINT, expires BIGINT, UNIQUE (username, token_name))",
            "CREATE INDEX token_by_user ON token (username, token_type)",
            "CREATE INDEX token_by_expiry ON token (expires)",
            "CREATE TABLE subtoken (child TEXT PRIMARY KEY REFERENCES token (key) ON DELETE CASCADE, \
         parent TEXT REFERENCES token (key) ON DELETE SET NULL)",
            "CREATE INDEX subtoken_by_parent ON subtoken (parent)",
            "CREATE TABLE token_change_history (id BIGSERIAL PRIMARY KEY, token TEXT NOT NULL, \
         username TEXT NOT NULL, token_type TEXT NOT NULL, token_name TEXT, parent TEXT, \
         scopes TEXT NOT NULL, service TEXT, expires BIGINT, actor TEXT NOT NULL, action TEXT NOT NULL, \
         old_token_name TEXT, old_scopes TEXT, old_expires BIGINT, ip_address TEXT, \
         event_time BIGINT NOT NULL)",
            "CREATE INDEX history_by_user ON token_change_history (username, id)",
            "CREATE INDEX history_by_token ON token_change_history (token, id)",
            "CREATE TABLE lock (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms BIGINT NOT NULL)",
        ],
    },
    Migration {
        version: 2,
        name: "sessions",
        sqlite: &[
            "CREATE TABLE session (id TEXT PRIMARY KEY, manager TEXT NOT NULL, username TEXT NOT NULL, \
         sealed_id BLOB, created INTEGER NOT NULL, last_access INTEGER NOT NULL, expires INTEGER NOT NULL)",
            "CREATE INDEX session_by_user ON session (manager, username, created)",
            "CREATE INDEX session_by_expiry ON session (manager, expires)",
            "CREATE TABLE refresh_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, \
         scopes TEXT NOT NULL, issued INTEGER NOT NULL, expires INTEGER NOT NULL, used_at INTEGER, successor TEXT, \
         successor_access TEXT)",
            "CREATE INDEX refresh_by_family ON refresh_token (family)",
            "CREATE TABLE access_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, \
         issued INTEGER NOT NULL, expires INTEGER NOT NULL)",
            "CREATE INDEX access_by_family ON access_token (family)",
            "CREATE TABLE api_token (jti TEXT PRIMARY KEY, username TEXT NOT NULL, datasets TEXT NOT NULL, \
         created INTEGER NOT NULL, expires INTEGER NOT NULL)",
            "CREATE INDEX api_token_by_user ON api_token (username)",
        ],
        postgres: &[
            "CREATE TABLE session (id TEXT PRIMARY KEY, manager TEXT NOT NULL, username TEXT NOT NULL, \
         sealed_id BYTEA, created BIGINT NOT NULL, last_access BIGINT NOT NULL, expires BIGINT NOT NULL)",
            "CREATE INDEX session_by_user ON session (manager, username, created)",
            "CREATE INDEX session_by_expiry ON session (manager, expires)",
            "CREATE TABLE refresh_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, \
         scopes TEXT NOT NULL, issued BIGINT NOT NULL, expires BIGINT NOT NULL, used_at BIGINT, successor TEXT, \
         successor_access TEXT)",
            "CREATE INDEX refresh_by_family ON refresh_token (family)",
            "CREATE TABLE access_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, \
         issued BIGINT NOT NULL, expires BIGINT NOT NULL)",
            "CREATE INDEX access_by_family ON access_token (family)",
            "CREATE TABLE api_token (jti TEXT PRIMARY KEY, username TEXT NOT NULL, datasets TEXT NOT NULL, \
         created BIGINT NOT NULL, expires BIGINT NOT NULL)",
            "CREATE INDEX api_token_by_user ON api_token (username)",
        ],
    },
    Migration {
        version: 3,
        name: "jwt_keys",
        sqlite: &["CREATE TABLE jwt_key (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, sealed BLOB NOT NULL, \
         created INTEGER NOT NULL, retired INTEGER)"],
        postgres: &["CREATE TABLE jwt_key (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, sealed BYTEA NOT NULL, \
         created BIGINT NOT NULL, retired BIGINT)"],
    },
];

const CREATE_VERSIONS: &str =
    "CREATE TABLE IF NOT EXISTS portcullis_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)";

/// The highest applied schema version (0 for an empty database).
async fn current_version(sql: &dyn Sql) -> Result<i64, StoreError> {
    sql.execute(CREATE_VERSIONS, &[]).await?;
    let result = sql.execute("SELECT MAX(version) FROM portcullis_migrations", &[]).await?;
    Ok(result.scalar().and_then(Value::as_i64).unwrap_or(0))
}

/// Applies every migration newer than the database, each in one atomic batch, and returns the
/// versions applied. Safe to run from several processes at once: a batch that loses the race on
/// the version row rolls back whole, and the loser re-reads the version.
pub async fn migrate(sql: &dyn Sql, now: UnixTime) -> Result<Vec<i64>, StoreError> {
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        if current_version(sql).await? >= migration.version {
            continue;
        }
        let mut batch: Vec<Statement> =
            migration.statements(sql.dialect()).iter().map(|s| Statement::new(*s, vec![])).collect();
        batch.push(Statement::new(
            "INSERT INTO portcullis_migrations (version, name, applied) VALUES (?, ?, ?)",
            vec![migration.version.into(), migration.name.into(), now.into()],
        ));
        match sql.batch(&batch).await {
            Ok(_) => applied.push(migration.version),
            Err(_) if current_version(sql).await? >= migration.version => {}
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}
