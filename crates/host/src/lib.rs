//! What another wasmtime application needs to run the Portcullis component as a plugin: the
//! `kv` and `sql` imports over the core's storage traits, the bindings of the `managed` world
//! (`tokens` and `admin` exports) and of `bodyless-http` ([`bodyless`]). The `portcullis` binary
//! is built on the same pieces.
//!
//! ```ignore
//! let mut linker = Linker::new(&engine);
//! wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
//! portcullis_host::add_to_linker(&mut linker, |state: &mut MyState| &mut state.storage)?;
//! let plugin = ManagedPre::new(linker.instantiate_pre(&component)?)?.instantiate_async(&mut store).await?;
//! let data = plugin.portcullis_auth_tokens().call_validate(&mut store, token).await?;
//! ```

mod bindings;
pub mod bodyless;
mod cache;
mod http_hooks;
mod storage;

pub use bindings::{AuditIssue, Failure, Managed, ManagedPre, TokenData};
pub use cache::load_component;
pub use http_hooks::DenyOutgoingHttp;
pub use storage::{KeyHash, KvBackend, KvVersion, SqlBackend, Storage};

/// Adds the `kv` and `sql` imports, backed by the [`Storage`] that `get` finds in the store.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut Storage,
) -> wasmtime::Result<()> {
    bindings::portcullis::auth::kv::add_to_linker::<T, wasmtime::component::HasSelf<Storage>>(linker, get)?;
    bindings::portcullis::auth::sql::add_to_linker::<T, wasmtime::component::HasSelf<Storage>>(linker, get)
}
