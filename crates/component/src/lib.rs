//! The Portcullis component (`wasm32-wasip2`): the `service` world of `wit/service.wit`.
//!
//! Storage comes in through the `kv` and `sql` imports, time and randomness through
//! `wasi:clocks` and `wasi:random`; the `tokens` and `admin` interfaces and
//! `wasi:http/incoming-handler` go out. Configuration is the guest's environment
//! (`PORTCULLIS_*`, read by [`portcullis::Settings::from_env`]). Nothing here decides: every
//! request goes to the core's [`portcullis::api::Api`].
//!
//! Only the `wasm32` build has content: natively (`cargo test --workspace`) the crate is empty,
//! since a native `cdylib` cannot carry the component's export names.
#![cfg(target_arch = "wasm32")]

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portcullis:auth/service",
        generate_all,
        // wit-parser 0.239 cannot resolve the gated `wasi:clocks/timezone` import of the vendored
        // `wasi:cli` worlds unless the feature is on; nothing here uses it.
        features: ["clocks-timezone"],
    });
}

mod exports;
mod http_handler;
mod instance;
mod storage;
mod system;

struct Component;

bindings::export!(Component with_types_in bindings);
