//! The plugin use case: an application that is not Portcullis loads the component and asks it
//! whether a token is valid, on storage it shares with `portcullis serve`.

use std::path::Path;

use portcullis_host::{DenyOutgoingHttp, Failure, ManagedPre, Storage, TokenData};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutgoingHttp,
    table: ResourceTable,
    storage: Storage,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

// The component also exports an HTTP handler, so it imports the `wasi:http` types.
impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// One long-lived instance of the component.
pub struct Plugin {
    store: Store<State>,
    instance: portcullis_host::Managed,
}

impl Plugin {
    /// Instantiates `component` on `storage`; `settings` are its `PORTCULLIS_*` variables.
    /// `cache_dir` keeps the compiled component between runs.
    pub async fn load(
        component: &Path,
        cache_dir: Option<&Path>,
        storage: Storage,
        settings: &[(String, String)],
    ) -> anyhow::Result<Plugin> {
        let engine = Engine::default();
        let component = portcullis_host::load_component(&engine, component, cache_dir)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        portcullis_host::add_to_linker(&mut linker, |state: &mut State| &mut state.storage)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = ManagedPre::new(linker.instantiate_pre(&component)?)?;
        let wasi = WasiCtx::builder().envs(settings).build();
        let mut store = Store::new(
            &engine,
            State { wasi, http: WasiHttpCtx::new(), hooks: DenyOutgoingHttp, table: ResourceTable::new(), storage },
        );
        let instance = pre.instantiate_async(&mut store).await?;
        Ok(Plugin { store, instance })
    }

    /// `tokens.validate`: the fast path (KV).
    pub async fn validate(&mut self, token: &str) -> wasmtime::Result<Result<TokenData, Failure>> {
        self.instance.portcullis_auth_tokens().call_validate(&mut self.store, token).await
    }
}
