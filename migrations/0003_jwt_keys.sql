-- Generated from portcullis::MIGRATIONS (version 3, "jwt_keys"); do not edit.
-- Rewrite with: BLESS=1 cargo test -p portcullis-worker migration_files
CREATE TABLE IF NOT EXISTS portcullis_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL);
CREATE TABLE jwt_key (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, sealed BLOB NOT NULL, created INTEGER NOT NULL, retired INTEGER);
INSERT INTO portcullis_migrations (version, name, applied) VALUES (3, 'jwt_keys', CAST(strftime('%s', 'now') AS INTEGER));
