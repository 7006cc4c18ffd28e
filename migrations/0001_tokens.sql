-- Generated from portcullis::MIGRATIONS (version 1, "tokens"); do not edit.
-- Rewrite with: BLESS=1 cargo test -p portcullis-worker migration_files
CREATE TABLE IF NOT EXISTS portcullis_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL);
CREATE TABLE token (key TEXT PRIMARY KEY, username TEXT NOT NULL, token_type TEXT NOT NULL, token_name TEXT, scopes TEXT NOT NULL, service TEXT, created INTEGER NOT NULL, last_used INTEGER, expires INTEGER, UNIQUE (username, token_name));
CREATE INDEX token_by_user ON token (username, token_type);
CREATE INDEX token_by_expiry ON token (expires);
CREATE TABLE subtoken (child TEXT PRIMARY KEY REFERENCES token (key) ON DELETE CASCADE, parent TEXT REFERENCES token (key) ON DELETE SET NULL);
CREATE INDEX subtoken_by_parent ON subtoken (parent);
CREATE TABLE token_change_history (id INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL, username TEXT NOT NULL, token_type TEXT NOT NULL, token_name TEXT, parent TEXT, scopes TEXT NOT NULL, service TEXT, expires INTEGER, actor TEXT NOT NULL, action TEXT NOT NULL, old_token_name TEXT, old_scopes TEXT, old_expires INTEGER, ip_address TEXT, event_time INTEGER NOT NULL);
CREATE INDEX history_by_user ON token_change_history (username, id);
CREATE INDEX history_by_token ON token_change_history (token, id);
CREATE TABLE lock (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms INTEGER NOT NULL);
INSERT INTO portcullis_migrations (version, name, applied) VALUES (1, 'tokens', CAST(strftime('%s', 'now') AS INTEGER));
