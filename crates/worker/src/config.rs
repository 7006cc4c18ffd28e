//! Settings from the Worker's vars and secrets.
//!
//! A Worker's `env` cannot be listed, so each variable the core knows ([`Settings::variables`])
//! is read by name; [`Settings::from_env`] then parses and validates them as on every host. A var
//! given as a TOML table or number (e.g. `PORTCULLIS_CONFIG = { realm = "x" }`) is passed on as
//! its JSON text.

use portcullis::{ConfigError, Settings};
use worker::js_sys::{Reflect, JSON};
use worker::wasm_bindgen::JsValue;

/// A var or secret as text; `None` when it is not set.
fn read(env: &worker::Env, name: &str) -> Option<String> {
    let value = Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    value.as_string().or_else(|| JSON::stringify(&value).ok().and_then(|s| s.as_string()))
}

/// The settings the vars and secrets of `env` describe.
pub fn settings(env: &worker::Env) -> Result<Settings, ConfigError> {
    Settings::from_env(Settings::variables().filter_map(|name| read(env, name).map(|value| (name.to_owned(), value))))
}
