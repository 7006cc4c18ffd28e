//! The data directory: SQLite files, the compilation cache, and the secrets made on first run
//! (encryption keys, bootstrap token), readable by the owner only.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use portcullis::{EncryptionKey, Token};
use portcullis_native::OsRandom;

const KEYS_FILE: &str = "encryption-keys";
const BOOTSTRAP_FILE: &str = "bootstrap-token";

pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens the directory, creating it (mode 0700) on first run.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .with_context(|| format!("creating {}", root.display()))?;
        }
        Ok(DataDir { root: root.to_owned() })
    }

    /// The SQL database file (created 0600; SQLite gives its journal files the same mode).
    pub fn sql_path(&self) -> Result<PathBuf> {
        private_file(self.root.join("portcullis.sqlite"))
    }

    /// The KV database file.
    pub fn kv_path(&self) -> Result<PathBuf> {
        private_file(self.root.join("kv.sqlite"))
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The encryption keys, primary first; a first key is generated if there are none.
    pub fn encryption_keys(&self) -> Result<Vec<String>> {
        let path = self.root.join(KEYS_FILE);
        if !path.exists() {
            let key = EncryptionKey::generate("k1", &OsRandom)?;
            write_secret(&path, &format!("{}\n", key.to_spec()))?;
            eprintln!("portcullis: generated encryption key k1 in {}", path.display());
        }
        let keys =
            read_secret(&path)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        if keys.is_empty() {
            bail!("{} holds no key", path.display());
        }
        Ok(keys)
    }

    /// Adds a new primary key in front of the others (which still open what they sealed);
    /// returns its id.
    pub fn rotate_key(&self) -> Result<String> {
        let keys = self.encryption_keys()?;
        let next =
            keys.iter().filter_map(|k| k.split(':').next()?.strip_prefix('k')?.parse::<u64>().ok()).max().unwrap_or(0)
                + 1;
        let id = format!("k{next}");
        let key = EncryptionKey::generate(&id, &OsRandom)?;
        let mut text = format!("{}\n", key.to_spec());
        for old in &keys {
            text.push_str(old);
            text.push('\n');
        }
        write_secret(&self.root.join(KEYS_FILE), &text)?;
        Ok(id)
    }

    /// The bootstrap token, generated on first use; `true` if it was made now.
    pub fn bootstrap_token(&self, prefix: &str) -> Result<(String, bool)> {
        let path = self.root.join(BOOTSTRAP_FILE);
        if path.exists() {
            return Ok((read_secret(&path)?.trim().to_owned(), false));
        }
        let token = Token::generate(&OsRandom).to_string_with_prefix(prefix);
        write_secret(&path, &format!("{token}\n"))?;
        Ok((token, true))
    }
}

/// Creates `path` empty, readable by its owner only, unless it exists.
fn private_file(path: PathBuf) -> Result<PathBuf> {
    if !path.exists() {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
    }
    Ok(path)
}

/// Writes a file readable by its owner only, atomically.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    let temp = path.with_extension("tmp");
    let _ = fs::remove_file(&temp);
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn read_secret(path: &Path) -> Result<String> {
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        eprintln!("portcullis: warning: {} is readable by others (mode {:o})", path.display(), mode & 0o777);
    }
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
