//! D1 migrations: `migrations/*.sql` for `wrangler d1 migrations apply`, generated from the
//! core's [`MIGRATIONS`], and the check at start that the database has all of them.
//!
//! Each file creates `portcullis_migrations` if needed and records its version there exactly as
//! [`portcullis::migrate`] does, so a database migrated either way looks the same (a test in
//! this module applies both and compares them).

use portcullis::{Migration, Sql, StoreError, Value, MIGRATIONS};

/// `portcullis_migrations`, as `portcullis::migrate` creates it.
const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS portcullis_migrations \
     (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)";

/// The schema version this build needs.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The file wrangler applies for `migration`, e.g. `0001_tokens.sql`.
pub fn file_name(migration: &Migration) -> String {
    format!("{:04}_{}.sql", migration.version, migration.name)
}

/// The text of that file.
pub fn file_text(migration: &Migration) -> String {
    let mut text = format!(
        "-- Generated from portcullis::MIGRATIONS (version {}, {:?}); do not edit.\n\
         -- Rewrite with: BLESS=1 cargo test -p portcullis-worker migration_files\n",
        migration.version, migration.name
    );
    text.push_str(CREATE_VERSIONS);
    text.push_str(";\n");
    for statement in migration.sqlite {
        text.push_str(statement);
        text.push_str(";\n");
    }
    text.push_str(&format!(
        "INSERT INTO portcullis_migrations (version, name, applied) VALUES ({}, '{}', CAST(strftime('%s', 'now') AS INTEGER));\n",
        migration.version,
        migration.name.replace('\'', "''"),
    ));
    text
}

/// The highest version recorded in `portcullis_migrations`; 0 when the table does not exist.
pub async fn applied_version(sql: &dyn Sql) -> Result<i64, StoreError> {
    let exists = sql
        .execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'portcullis_migrations'", &[])
        .await?;
    if first_integer(&exists) == Some(0) {
        return Ok(0);
    }
    let result = sql.execute("SELECT MAX(version) FROM portcullis_migrations", &[]).await?;
    Ok(first_integer(&result).unwrap_or(0))
}

fn first_integer(result: &portcullis::QueryResult) -> Option<i64> {
    result.rows.first().and_then(|row| row.values.first()).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use portcullis_native::SqliteSql;

    use super::*;

    fn migrations_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
    }

    /// `migrations/` holds exactly one generated file per core migration.
    #[test]
    fn migration_files_match_the_core() {
        let dir = migrations_dir();
        let bless = std::env::var_os("BLESS").is_some();
        let mut expected: Vec<String> = MIGRATIONS.iter().map(file_name).collect();
        for migration in MIGRATIONS {
            let path = dir.join(file_name(migration));
            let text = file_text(migration);
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let found = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                found == text,
                "{} is stale: run `BLESS=1 cargo test -p portcullis-worker migration_files`",
                path.display()
            );
        }
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(present, expected, "migrations/ has files the core does not know");
    }

    fn schema(sql: &SqliteSql) -> Vec<(String, String)> {
        let rows = futures::executor::block_on(
            sql.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name", &[]),
        )
        .unwrap()
        .rows;
        rows.into_iter()
            .map(|r| (r.values[0].as_str().unwrap().to_owned(), r.values[1].as_str().unwrap_or("").to_owned()))
            .collect()
    }

    fn versions(sql: &SqliteSql) -> Vec<(i64, String)> {
        let rows = futures::executor::block_on(
            sql.execute("SELECT version, name FROM portcullis_migrations ORDER BY version", &[]),
        )
        .unwrap()
        .rows;
        rows.into_iter().map(|r| (r.values[0].as_i64().unwrap(), r.values[1].as_str().unwrap().to_owned())).collect()
    }

    /// Applying the files (as wrangler does) and running `migrate` give the same database.
    #[test]
    fn files_and_migrate_agree() {
        let dir = std::env::temp_dir().join(format!("portcullis-worker-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (files_db, migrate_db) = (dir.join("files.db"), dir.join("migrate.db"));
        let _ = (std::fs::remove_file(&files_db), std::fs::remove_file(&migrate_db));

        let conn = rusqlite::Connection::open(&files_db).unwrap();
        for migration in MIGRATIONS {
            conn.execute_batch(&file_text(migration)).unwrap();
        }
        drop(conn);
        let by_migrate = SqliteSql::open(&migrate_db).unwrap();
        futures::executor::block_on(portcullis::migrate(&by_migrate, 1_750_000_000)).unwrap();
        let by_files = SqliteSql::open(&files_db).unwrap();

        assert_eq!(schema(&by_files), schema(&by_migrate));
        assert_eq!(versions(&by_files), versions(&by_migrate));
        assert_eq!(futures::executor::block_on(applied_version(&by_files)).unwrap(), latest_version());
        let empty = SqliteSql::in_memory().unwrap();
        assert_eq!(futures::executor::block_on(applied_version(&empty)).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
