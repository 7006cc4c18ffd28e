//! Host bindings of the `managed` world (`wit/service.wit`): the `kv` and `sql` imports the
//! host implements, the `tokens` and `admin` exports it calls. HTTP goes through
//! `wasmtime-wasi-http`'s own bindings of `wasi:http/incoming-handler`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "portcullis:auth/managed",
    // Backend failures are returned to the guest as WIT error values; host faults trap. Async,
    // so networked backends (PostgreSQL, Redis) wait without blocking a runtime thread.
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::portcullis::auth::admin::AuditIssue;
pub use exports::portcullis::auth::tokens::{Failure, TokenData};
