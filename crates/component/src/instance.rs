//! The per-instance service: settings from the environment, storage from the imports.
//!
//! A host may instantiate the component per request (the `portcullis` host does) or keep an
//! instance; either way the API is built once per instance, on first use.

use std::cell::OnceCell;
use std::rc::Rc;

use portcullis::api::Api;
use portcullis::{Env, Error, Settings};

use crate::storage::{WitKv, WitSql};
use crate::system::{WasiClock, WasiRandom};

/// What one instance serves with.
pub struct Instance {
    pub settings: Settings,
    pub api: Api,
}

thread_local! {
    static INSTANCE: OnceCell<Rc<Instance>> = const { OnceCell::new() };
}

/// The core's view of the host.
pub fn env() -> Env {
    Env { kv: Rc::new(WitKv), sql: Rc::new(WitSql), clock: Rc::new(WasiClock), rng: Rc::new(WasiRandom) }
}

/// Settings from `PORTCULLIS_*` variables (the host passes them as the guest's environment).
pub fn settings() -> Result<Settings, Error> {
    Ok(Settings::from_env(std::env::vars())?)
}

/// The instance's API, built on first use. A configuration error is returned (not cached), so
/// every call reports it.
pub fn instance() -> Result<Rc<Instance>, Error> {
    if let Some(instance) = INSTANCE.with(|cell| cell.get().cloned()) {
        return Ok(instance);
    }
    let settings = settings()?;
    let api = settings.api(env())?;
    let instance = Rc::new(Instance { settings, api });
    INSTANCE.with(|cell| {
        let _ = cell.set(instance.clone());
    });
    Ok(instance)
}
