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

/// Names the header in which the host passes the client's address (unset: no address). Only a
/// host that overwrites the header on every request may set this.
const CLIENT_IP_HEADER_VAR: &str = "PORTCULLIS_HOST_CLIENT_IP_HEADER";
/// Test hook: a request for this path makes the guest trap, so hosts can test that a trap on
/// one request leaves the server up. Never set in production.
const TRAP_PATH_VAR: &str = "PORTCULLIS_HOST_TEST_TRAP_PATH";

/// What one instance serves with.
pub struct Instance {
    pub settings: Settings,
    pub api: Api,
    /// What the host asks of the HTTP handler (`PORTCULLIS_HOST_*`), read once with the settings.
    pub host: HostHooks,
}

/// The host's instructions to the HTTP handler.
pub struct HostHooks {
    /// The header carrying the client's address, if the host sets one.
    pub client_ip_header: Option<http::HeaderName>,
    /// The path that makes the guest trap (tests only).
    pub trap_path: Option<String>,
}

impl HostHooks {
    fn from_env() -> HostHooks {
        let var = |name| std::env::var(name).ok().filter(|value: &String| !value.is_empty());
        HostHooks {
            client_ip_header: var(CLIENT_IP_HEADER_VAR)
                .and_then(|name| http::HeaderName::from_bytes(name.as_bytes()).ok()),
            trap_path: var(TRAP_PATH_VAR),
        }
    }

    /// Traps if `path` is the test hook's path.
    pub fn check_trap(&self, path: &str) {
        if self.trap_path.as_deref() == Some(path) {
            panic!("trap requested by {TRAP_PATH_VAR}");
        }
    }
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
    let instance = Rc::new(Instance { settings, api, host: HostHooks::from_env() });
    INSTANCE.with(|cell| {
        let _ = cell.set(instance.clone());
    });
    Ok(instance)
}
