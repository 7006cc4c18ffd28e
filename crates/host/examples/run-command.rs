//! Runs a `wasm32-wasip2` command component on wasmtime (the host's engine configuration apart
//! from the deadline), with the caller's stdio, environment and arguments: how `npm run bench`
//! times the core inside wasmtime (`crates/bench-wasmtime`).
//!
//! `cargo run --profile host -p portcullis-host --example run-command -- COMMAND.wasm [ARGS...]`

use anyhow::{bail, Result};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else { bail!("usage: run-command COMMAND.wasm [ARGS...]") };
    let engine = Engine::new(&Config::new())?;
    let component = Component::from_file(&engine, path)?;
    let mut linker: Linker<Ctx> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    let wasi = WasiCtx::builder().inherit_stdio().inherit_env().args(&args).build();
    let mut store = Store::new(&engine, Ctx { wasi, table: ResourceTable::new() });
    let command = Command::instantiate_async(&mut store, &component, &linker).await?;
    match command.wasi_cli_run().call_run(&mut store).await? {
        Ok(()) => Ok(()),
        Err(()) => bail!("{path} exited with an error"),
    }
}
