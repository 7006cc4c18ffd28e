//! The component on wasmtime: one engine and one pre-instantiated component per process. HTTP
//! requests run on warm instances, each serving one request at a time and reused across requests
//! (the guest builds its API once per instance); an instance that traps is dropped. Admin calls
//! get a fresh instance each.
//!
//! An instance is reached through `wasi:http/incoming-handler` and, when the component exports
//! it, `portcullis:auth/bodyless-http` (see [`portcullis_host::bodyless`]).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
use wasmtime::component::{InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyIndices};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use portcullis_host::Storage;
use portcullis_host::{AuditIssue, DenyOutgoingHttp, Failure, Managed, ManagedPre};

use crate::guest_log::{GuestLog, RequestLog};
use portcullis_host::bodyless::{Bodyless, BodylessIndices};

/// Memory one instance may grow to.
const MAX_INSTANCE_MEMORY: usize = 64 << 20;
/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(100);
/// CPU-and-wall time one call may take before it traps: 10 s.
const DEADLINE_TICKS: u64 = 100;
/// What the guest may write to stderr per call (its error log line); the rest is dropped.
const STDERR_CAPACITY: usize = 4096;
/// Idle warm instances kept for the next requests; more are dropped when their request ends.
const MAX_IDLE_INSTANCES: usize = 64;
/// Requests one warm instance serves before it is replaced, which bounds what a guest could
/// accumulate (memory, resources) over its life.
const MAX_REQUESTS_PER_INSTANCE: u32 = 10_000;

/// The state of one store.
pub struct Ctx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: DenyOutgoingHttp,
    storage: Storage,
    limits: StoreLimits,
    log: GuestLog,
}

impl Ctx {
    /// This store's storage: its own clone of the runtime's, which records what its calls read.
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }
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

/// The loaded component, ready to instantiate.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    pre: InstancePre<Ctx>,
    /// Where the two HTTP exports are, found once; `None` for a component without `bodyless-http`.
    proxy: ProxyIndices,
    bodyless: Option<BodylessIndices>,
    managed: ManagedPre<Ctx>,
    storage: Storage,
    guest_env: Vec<(String, String)>,
    idle: Mutex<Vec<HttpInstance>>,
}

/// An instance of the HTTP handler with its store, serving one request at a time.
pub struct HttpInstance {
    pub store: Store<Ctx>,
    pub proxy: Proxy,
    /// `None` for a component without the export.
    pub bodyless: Option<Bodyless>,
    served: u32,
}

impl HttpInstance {
    /// Sends the guest's stderr to a new log for the next call.
    fn start_log(&self) -> RequestLog {
        self.store.data().log.start()
    }
}

/// A guest call failed: the guest answered with a failure, or it trapped.
#[derive(Debug)]
pub enum CallError {
    Failure(Failure),
    Trap(wasmtime::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Failure(failure) => write!(f, "{}: {}", failure.kind, failure.message),
            CallError::Trap(e) => write!(f, "the component trapped: {e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

impl Runtime {
    /// Compiles `component` (or loads it from the compilation cache in `cache_dir`) and links
    /// it against WASI, `wasi:http` and `storage`. `guest_env` is the guest's environment.
    pub fn load(
        component: &Path,
        cache_dir: Option<&Path>,
        storage: Storage,
        guest_env: Vec<(String, String)>,
    ) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        if std::env::var_os("PORTCULLIS_HOST_PERFMAP").is_some_and(|v| v == "1") {
            // For `perf`: the guest's functions by name in /tmp/perf-PID.map.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let component = portcullis_host::load_component(&engine, component, cache_dir)?;
        let mut linker: Linker<Ctx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        portcullis_host::add_to_linker(&mut linker, |ctx: &mut Ctx| &mut ctx.storage).map_err(anyhow::Error::from)?;
        let pre: InstancePre<Ctx> = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("the component does not fit this host")?;
        let proxy = ProxyIndices::new(&pre)
            .map_err(anyhow::Error::from)
            .context("the component exports no wasi:http/incoming-handler")?;
        let bodyless = BodylessIndices::new(&pre).ok();
        let managed = ManagedPre::new(pre.clone())
            .map_err(anyhow::Error::from)
            .context("the component exports no portcullis:auth/admin")?;
        start_epoch_ticker(engine.clone());
        Ok(Runtime {
            inner: Arc::new(Inner { pre, proxy, bodyless, managed, storage, guest_env, idle: Mutex::default() }),
        })
    }

    /// The storage every instance is given.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// A fresh store; the guest's stderr goes to its [`GuestLog`].
    fn store(&self) -> Store<Ctx> {
        let log = GuestLog::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder().envs(&self.inner.guest_env).stderr(log.clone()).build();
        let ctx = Ctx {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: DenyOutgoingHttp,
            storage: self.inner.storage.clone(),
            limits: StoreLimitsBuilder::new().memory_size(MAX_INSTANCE_MEMORY).build(),
            log,
        };
        let mut store = Store::new(self.inner.pre.engine(), ctx);
        store.limiter(|ctx| &mut ctx.limits);
        store.set_epoch_deadline(DEADLINE_TICKS);
        store.epoch_deadline_trap();
        store
    }

    /// An instance for one HTTP request (an idle warm one, else a new one) and the log of what
    /// its guest writes during the request. Its deadline starts now.
    pub async fn http_instance(&self) -> wasmtime::Result<(HttpInstance, RequestLog)> {
        let idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => {
                let mut store = self.store();
                let instance = self.inner.pre.instantiate_async(&mut store).await?;
                let proxy = self.inner.proxy.load(&mut store, &instance)?;
                let bodyless = match &self.inner.bodyless {
                    Some(indices) => Some(indices.load(&mut store, &instance)?),
                    None => None,
                };
                HttpInstance { store, proxy, bodyless, served: 0 }
            }
        };
        let log = instance.start_log();
        instance.store.set_epoch_deadline(DEADLINE_TICKS);
        instance.served += 1;
        Ok((instance, log))
    }

    /// Keeps an instance whose call returned normally for the next request (one that trapped
    /// must not come back: its state is undefined).
    pub fn recycle(&self, instance: HttpInstance) {
        if instance.served >= MAX_REQUESTS_PER_INSTANCE {
            return;
        }
        let mut idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_INSTANCES {
            idle.push(instance);
        }
    }

    /// Applies the schema migrations; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>, CallError> {
        let (mut store, instance) = self.instantiate().await?;
        flatten(instance.portcullis_auth_admin().call_migrate(&mut store).await)
    }

    /// Deletes expired tokens; returns how many.
    pub async fn expire(&self) -> Result<u32, CallError> {
        let (mut store, instance) = self.instantiate().await?;
        flatten(instance.portcullis_auth_admin().call_expire(&mut store).await)
    }

    pub async fn audit(&self, fix: bool) -> Result<Vec<AuditIssue>, CallError> {
        let (mut store, instance) = self.instantiate().await?;
        flatten(instance.portcullis_auth_admin().call_audit(&mut store, fix).await)
    }

    async fn instantiate(&self) -> Result<(Store<Ctx>, Managed), CallError> {
        let mut store = self.store();
        let instance = self.inner.managed.instantiate_async(&mut store).await.map_err(CallError::Trap)?;
        Ok((store, instance))
    }
}

fn flatten<T>(result: wasmtime::Result<Result<T, Failure>>) -> Result<T, CallError> {
    result.map_err(CallError::Trap)?.map_err(CallError::Failure)
}

/// Advances the engine's epoch so that every call's deadline is enforced.
fn start_epoch_ticker(engine: Engine) {
    std::thread::Builder::new()
        .name("portcullis-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("portcullis: no epoch thread ({e}); calls have no deadline"));
}
