//! The core's API over this isolate's bindings, built on the first event and kept for the
//! isolate's life (settings parsing and the JWT key derivation run once, not per request).
//! A panic resets the wasm instance, and with it this cache.

use std::cell::RefCell;
use std::rc::Rc;

use portcullis::api::Api;
use portcullis::{Env, Sql};
use portcullis_js::WebCrypto;

use crate::d1::D1Sql;
use crate::error::HostError;
use crate::kv::WorkersKv;
use crate::platform::{JsClock, JsRandom};
use crate::{config, schema};

/// The KV namespace binding in wrangler.toml.
pub const KV_BINDING: &str = "KV";
/// The D1 database binding in wrangler.toml.
pub const D1_BINDING: &str = "DB";

pub struct Service {
    pub api: Api,
    pub max_body_bytes: usize,
}

thread_local! {
    static SERVICE: RefCell<Option<Rc<Service>>> = const { RefCell::new(None) };
}

/// The service, built on first use. Not cached while the schema is behind, so it starts
/// working as soon as the migrations are applied.
pub async fn get(env: &worker::Env) -> Result<Rc<Service>, HostError> {
    if let Some(service) = SERVICE.with(|s| s.borrow().clone()) {
        return Ok(service);
    }
    let service = Rc::new(build(env).await?);
    SERVICE.with(|s| *s.borrow_mut() = Some(service.clone()));
    Ok(service)
}

async fn build(env: &worker::Env) -> Result<Service, HostError> {
    let settings = config::settings(env).map_err(|e| HostError::Config(e.to_string()))?;
    let kv = env.kv(KV_BINDING).map_err(|_| HostError::Binding(KV_BINDING))?;
    let db = env.d1(D1_BINDING).map_err(|_| HostError::Binding(D1_BINDING))?;
    let sql = D1Sql::new(db);
    let applied = schema::applied_version(&sql).await.map_err(|e| HostError::Storage(e.to_string()))?;
    let needed = schema::latest_version();
    if applied < needed {
        return Err(HostError::SchemaBehind { applied, needed });
    }
    let sql: Rc<dyn Sql> = Rc::new(sql);
    let env = Env { kv: Rc::new(WorkersKv::new(kv)), sql, clock: Rc::new(JsClock), rng: Rc::new(JsRandom) };
    // JWT signatures (ES256, EdDSA) through the runtime's WebCrypto; every rule stays the core's.
    let api =
        settings.api(env).map_err(|e| HostError::Config(e.to_string()))?.with_jwt_crypto(Rc::new(WebCrypto::new()));
    Ok(Service { api, max_body_bytes: settings.max_body_bytes })
}
