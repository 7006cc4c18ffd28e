-- Generated from portcullis::MIGRATIONS (version 2, "sessions"); do not edit.
-- Rewrite with: BLESS=1 cargo test -p portcullis-worker migration_files
CREATE TABLE IF NOT EXISTS portcullis_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL);
CREATE TABLE session (id TEXT PRIMARY KEY, manager TEXT NOT NULL, username TEXT NOT NULL, sealed_id BLOB, created INTEGER NOT NULL, last_access INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX session_by_user ON session (manager, username, created);
CREATE INDEX session_by_expiry ON session (manager, expires);
CREATE TABLE refresh_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, scopes TEXT NOT NULL, issued INTEGER NOT NULL, expires INTEGER NOT NULL, used_at INTEGER, successor TEXT, successor_access TEXT);
CREATE INDEX refresh_by_family ON refresh_token (family);
CREATE TABLE access_token (jti TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL, issued INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX access_by_family ON access_token (family);
CREATE TABLE api_token (jti TEXT PRIMARY KEY, username TEXT NOT NULL, datasets TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX api_token_by_user ON api_token (username);
INSERT INTO portcullis_migrations (version, name, applied) VALUES (2, 'sessions', CAST(strftime('%s', 'now') AS INTEGER));
