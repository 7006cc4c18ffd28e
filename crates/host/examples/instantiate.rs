//! Start-up costs of the component on wasmtime, for `npm run bench`: compiling it (Cranelift),
//! loading it compiled (what `portcullis serve` does after the first start), instantiating it
//! from an `InstancePre` with wasmtime's default (on-demand) allocator and with the pooling
//! allocator, and a new instance's first request (`GET /health` through `bodyless-http`: the
//! guest parses its settings and builds its API on first use).
//!
//! `cargo run --release -p portcullis-host --example instantiate -- COMPONENT.wasm [N]`; prints
//! one JSON line. Bounded: N instantiations per allocator (default 200).

use std::time::Instant;

use anyhow::Result;
use portcullis_host::bodyless::{Bodyless, BodylessRequest};
use portcullis_host::{DenyOutgoingHttp, Storage};
use portcullis_native::{MemoryKv, SqliteSql};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

struct Ctx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: DenyOutgoingHttp,
    storage: Storage,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// The guest's settings: a fixed test key (nothing here is stored).
const GUEST_ENV: [(&str, &str); 1] =
    [("PORTCULLIS_ENCRYPTION_KEYS", "k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")];

fn store(engine: &Engine) -> Store<Ctx> {
    let storage = Storage::local(MemoryKv::default(), SqliteSql::in_memory().expect("in-memory SQLite"));
    let ctx = Ctx {
        wasi: WasiCtx::builder().envs(&GUEST_ENV).build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: DenyOutgoingHttp,
        storage,
    };
    Store::new(engine, ctx)
}

fn pre(engine: &Engine, component: &Component) -> Result<InstancePre<Ctx>> {
    let mut linker: Linker<Ctx> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    portcullis_host::add_to_linker(&mut linker, |ctx: &mut Ctx| &mut ctx.storage)?;
    Ok(linker.instantiate_pre(component)?)
}

fn micros(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e6
}

/// p50 and p99 of `n` timed runs of `f`, in µs.
async fn timed<F: std::future::Future<Output = Result<()>>>(n: usize, mut f: impl FnMut() -> F) -> Result<(f64, f64)> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f().await?;
        times.push(micros(start));
    }
    times.sort_by(f64::total_cmp);
    Ok((times[n / 2].round(), times[n * 99 / 100].round()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| anyhow::anyhow!("usage: instantiate COMPONENT.wasm [N]"))?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200).max(1);
    let bytes = std::fs::read(&path)?;

    let default_engine = Engine::new(&Config::new())?;
    let start = Instant::now();
    let compiled = default_engine.precompile_component(&bytes)?;
    let compile_ms = micros(start) / 1000.0;
    let start = Instant::now();
    // SAFETY: produced just above by this engine.
    let component = unsafe { Component::deserialize(&default_engine, &compiled) }?;
    let load_ms = micros(start) / 1000.0;
    let default_pre = pre(&default_engine, &component)?;

    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_component_instances(64).max_memory_size(64 << 20);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let pooling_engine = Engine::new(&config)?;
    // SAFETY: the same compatible configuration apart from the allocator.
    let pooled = unsafe { Component::deserialize(&pooling_engine, &pooling_engine.precompile_component(&bytes)?) }?;
    let pooling_pre = pre(&pooling_engine, &pooled)?;

    let on_demand = timed(n, || async {
        let mut store = store(&default_engine);
        default_pre.instantiate_async(&mut store).await?;
        Ok(())
    })
    .await?;
    let pooled_times = timed(n, || async {
        let mut store = store(&pooling_engine);
        pooling_pre.instantiate_async(&mut store).await?;
        Ok(())
    })
    .await?;
    let health = BodylessRequest { method: "GET".into(), path_with_query: "/health".into(), headers: vec![] };
    let first_request = timed(n, || async {
        let mut store = store(&pooling_engine);
        let instance = pooling_pre.instantiate_async(&mut store).await?;
        let bodyless = Bodyless::new(&mut store, &instance)?;
        let response = bodyless.portcullis_auth_bodyless_http().call_handle(&mut store, &health).await?;
        anyhow::ensure!(response.status == 200, "GET /health answered {}", response.status);
        Ok(())
    })
    .await?;
    println!(
        "{}",
        serde_json::json!({
            "bench": "instantiate-wasmtime",
            "component_bytes": bytes.len(),
            "compile_ms": compile_ms.round(),
            "load_compiled_ms": (load_ms * 10.0).round() / 10.0,
            "instantiations": n,
            "on_demand_p50_us": on_demand.0, "on_demand_p99_us": on_demand.1,
            "pooling_p50_us": pooled_times.0, "pooling_p99_us": pooled_times.1,
            "first_request_p50_us": first_request.0, "first_request_p99_us": first_request.1,
        })
    );
    Ok(())
}
