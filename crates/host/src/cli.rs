//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

pub const USAGE: &str = "\
usage: portcullis <command> [options]

commands:
  serve             serve the HTTP API
                      --listen ADDR            default 127.0.0.1:8080
                      --expire-interval SECS   scheduled expiry period, 0 disables; default 300
                      --www DIR                also serve the pages in DIR (GET outside the API)
                      --no-reuse               call the component for every request (by default a
                                               repeated /auth is answered again for up to 1 s
                                               while the KV keys it read are unchanged;
                                               embedded KV only)
  bootstrap-token   print the bootstrap admin token (created on first use)
  expire            delete expired tokens now
  audit [--fix]     compare KV with SQL (and repair)
  rotate-key        add a new primary encryption key, keeping the old ones

options of every command:
  --data DIR        data directory, created on first run; default $PORTCULLIS_HOST_DATA or ./portcullis-data
  --component PATH  the component; default $PORTCULLIS_HOST_COMPONENT, then next to the binary,
                    then target/wasm32-wasip2/release/portcullis_component.wasm
  --sql URL         sqlite (default, in DIR) or postgres://user@host:port/db; default $PORTCULLIS_HOST_SQL
  --kv URL          sqlite (default, in DIR) or redis://host:port/db; default $PORTCULLIS_HOST_KV
                    (several `serve` processes share state through PostgreSQL and Redis; give them
                    the same PORTCULLIS_ENCRYPTION_KEYS, or the same data directory)

environment: PORTCULLIS_HOST_CACHE_DIR holds compiled components (default DIR/cache).

settings: PORTCULLIS_* variables (docs/CONFIG.md) are passed to the component; without
PORTCULLIS_ENCRYPTION_KEYS or PORTCULLIS_BOOTSTRAP_TOKEN, those of the data directory are used.";

pub enum Command {
    Serve { listen: SocketAddr, expire_every: u64, www: Option<PathBuf>, reuse: bool },
    BootstrapToken,
    Expire,
    Audit { fix: bool },
    RotateKey,
    Help,
}

pub struct Options {
    pub command: Command,
    pub data: PathBuf,
    pub component: Option<PathBuf>,
    /// `sqlite` (default: in the data directory) or `postgres://...`.
    pub sql: Option<String>,
    /// `sqlite` (default: in the data directory) or `redis://...`.
    pub kv: Option<String>,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
    let mut args = args.into_iter();
    let name = args.next().unwrap_or_else(|| "help".into());
    let mut data =
        std::env::var_os("PORTCULLIS_HOST_DATA").map(PathBuf::from).unwrap_or_else(|| "portcullis-data".into());
    let mut component = None;
    let mut sql = std::env::var("PORTCULLIS_HOST_SQL").ok();
    let mut kv = std::env::var("PORTCULLIS_HOST_KV").ok();
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().expect("a valid address");
    let mut expire_every = 300;
    let mut fix = false;
    let mut www = None;
    let mut reuse = true;
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().with_context(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--data" => data = value("a directory")?.into(),
            "--component" => component = Some(value("a path")?.into()),
            "--sql" => sql = Some(value("sqlite or a postgres:// URL")?),
            "--kv" => kv = Some(value("sqlite or a redis:// URL")?),
            "--listen" if name == "serve" => listen = value("an address")?.parse().context("--listen")?,
            "--expire-interval" if name == "serve" => {
                expire_every = value("seconds")?.parse().context("--expire-interval")?
            }
            "--www" if name == "serve" => www = Some(PathBuf::from(value("a directory")?)),
            "--no-reuse" if name == "serve" => reuse = false,
            "--fix" if name == "audit" => fix = true,
            other => bail!("unknown argument {other:?}"),
        }
    }
    let command = match name.as_str() {
        "serve" => Command::Serve { listen, expire_every, www, reuse },
        "bootstrap-token" => Command::BootstrapToken,
        "expire" => Command::Expire,
        "audit" => Command::Audit { fix },
        "rotate-key" => Command::RotateKey,
        "help" | "--help" | "-h" => Command::Help,
        other => bail!("unknown command {other:?}"),
    };
    Ok(Options { command, data, component, sql, kv })
}
