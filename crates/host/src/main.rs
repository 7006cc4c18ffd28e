//! `portcullis`: the Portcullis component on wasmtime, serving the HTTP API of SPEC section 8
//! on SQLite and an embedded KV, plus the operator's admin commands. See README.md.

mod access_log;
mod cli;
mod data_dir;
mod guest_log;
mod reuse;
mod runtime;
mod serve;
mod settings;
mod static_files;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use portcullis_native::{PostgresSql, RedisKv, SqliteKv, SqliteSql};

use crate::cli::{Command, Options};
use crate::data_dir::DataDir;
use crate::runtime::Runtime;
use portcullis_host::{KvBackend, SqlBackend, Storage};

/// mimalloc rather than glibc's malloc: every request allocates and frees its buffers, headers
/// and log line on whichever worker thread runs it (bench/NOTES.md has the A/B).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Connections of the PostgreSQL pool of one process.
const POSTGRES_CONNECTIONS: usize = 16;

/// Where `cargo build -p portcullis-component --target wasm32-wasip2 --release` puts it,
/// relative to the target directory that holds this binary.
const COMPONENT_IN_TARGET: &str = "wasm32-wasip2/release/portcullis_component.wasm";

fn main() {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("portcullis: {e}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(e) = run(options) {
        eprintln!("portcullis: {e:#}");
        std::process::exit(1);
    }
}

fn run(options: Options) -> Result<()> {
    let data = DataDir::open(&options.data)?;
    match options.command {
        Command::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Command::BootstrapToken => {
            let prefix = portcullis::Settings::from_env(std::env::vars())?.token_prefix;
            println!("{}", data.bootstrap_token(&prefix)?.0);
            Ok(())
        }
        Command::RotateKey => {
            let id = data.rotate_key()?;
            println!("portcullis: new primary encryption key {id}; restart `portcullis serve`, then run `portcullis audit --fix` to reseal old records");
            Ok(())
        }
        Command::Serve { listen, expire_every, ref www, reuse } => tokio_runtime()?.block_on(async {
            let runtime = start(&options, &data).await?;
            let expire_every = (expire_every > 0).then(|| Duration::from_secs(expire_every));
            serve::serve(runtime, serve::ServeOptions { listen, expire_every, www: www.clone(), reuse }).await
        }),
        Command::Expire => tokio_runtime()?.block_on(async {
            let runtime = start(&options, &data).await?;
            println!("portcullis: expired {} tokens", runtime.expire().await?);
            Ok(())
        }),
        Command::Audit { fix } => tokio_runtime()?.block_on(async {
            let runtime = start(&options, &data).await?;
            let issues = runtime.audit(fix).await?;
            for issue in &issues {
                let fixed = if issue.fixed { "fixed" } else { "found" };
                println!("{fixed} {} {}: {}", issue.kind, issue.token, issue.detail);
            }
            println!("portcullis: {} issues", issues.len());
            Ok(())
        }),
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Opens the storage and loads the component.
async fn start(options: &Options, data: &DataDir) -> Result<Runtime> {
    let component = find_component(options.component.as_deref())?;
    let sql = match options.sql.as_deref() {
        None | Some("sqlite") => {
            SqlBackend::Local(Arc::new(SqliteSql::open(&data.sql_path()?).context("opening the SQL database")?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            SqlBackend::Postgres(PostgresSql::connect(url, POSTGRES_CONNECTIONS).context("--sql")?)
        }
        Some(other) => bail!("--sql takes sqlite or postgres://..., not {other:?}"),
    };
    let kv = match options.kv.as_deref() {
        None | Some("sqlite") => {
            KvBackend::Sqlite(SqliteKv::open(&data.kv_path()?).context("opening the KV database")?)
        }
        Some(url) if url.starts_with("redis://") => KvBackend::Redis(RedisKv::connect(url).await.context("--kv")?),
        Some(other) => bail!("--kv takes sqlite or redis://..., not {other:?}"),
    };
    let env = settings::guest_env(data)?;
    let cache = std::env::var_os("PORTCULLIS_HOST_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| data.cache_dir());
    let runtime = Runtime::load(&component, Some(&cache), Storage::new(kv, sql), env)?;
    runtime.migrate().await.context("migrating the database")?;
    Ok(runtime)
}

/// `--component`, else `$PORTCULLIS_HOST_COMPONENT`, else `portcullis_component.wasm` next to
/// the binary, else the cargo build output of the workspace this binary was built in.
fn find_component(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os("PORTCULLIS_HOST_COMPONENT") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no directory of the executable")?;
    let mut candidates = vec![dir.join("portcullis_component.wasm")];
    // target/<profile>/portcullis, or target/<profile>/deps/... for tests.
    for target in dir.ancestors().skip(1).take(2) {
        candidates.push(target.join(COMPONENT_IN_TARGET));
    }
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => bail!(
            "no component found (looked in {}); build it with `cargo build -p portcullis-component --target wasm32-wasip2 --release` or pass --component",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}
