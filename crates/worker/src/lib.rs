//! Portcullis as a Cloudflare Worker: Workers KV and D1 behind the core's storage traits, the
//! core's HTTP API on `fetch`, expiry on the Cron trigger (`scheduled`). The adapter adapts; the
//! core decides. Platform rules live here only: KV's 60 s minimum TTL ([`kv`]), D1's number
//! binding ([`d1`]), the Worker's configuration ([`config`]) and its D1 migrations ([`schema`]).

pub mod config;
pub mod d1;
mod error;
mod http_io;
pub mod kv;
mod platform;
pub mod schema;
mod service;
#[cfg(feature = "test-hooks")]
mod test_hooks;

pub use error::HostError;

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Wake, Waker};

use portcullis::api::ErrorLog;
use wasm_bindgen::prelude::*;
use worker::worker_sys::{web_sys, Context};
use worker::{console_error, console_log, event, wasm_bindgen_futures, Env, ScheduleContext, ScheduledEvent};

/// The `fetch` handler, exported by hand rather than by `#[event(fetch)]`, for two savings on
/// every request:
/// - it takes and answers the runtime's own `Request` and `Response` (`web_sys`):
///   `worker::Request` reads the request's `cf` object up front, which cost workerd more than the
///   core's own work on a cached `/auth` check (12% of the isolate's CPU against ~5%);
/// - a request answered without waiting on I/O (a token validated in the last
///   `validation_cache_seconds`) is answered in this call, with no promise and task of its own;
///   one that waits is handed on as a promise, as an async export would. Its first poll's waker
///   forwards to the promise's task ([`Forward`]).
///
/// Where the runtime refuses to build a response the error is thrown, and workerd answers 500.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<JsValue, JsValue> {
    let mut answer = Box::pin(respond(req, env));
    let forward = Arc::new(Forward::default());
    match answer.as_mut().poll(&mut std::task::Context::from_waker(&Waker::from(forward.clone()))) {
        Poll::Ready(response) => Ok(response?.into()),
        Poll::Pending => {
            let rest = poll_fn(move |cx| {
                *forward.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
                answer.as_mut().poll(cx)
            });
            Ok(wasm_bindgen_futures::future_to_promise(async move { Ok(rest.await?.into()) }).into())
        }
    }
}

/// The waker of a request's first poll: wakes the task that polls the request afterwards. Some
/// futures keep the waker of their first poll only (workers-rs's `Delay`, which the lock's
/// backoff uses), so that waker has to reach the task. Woken before the task has polled, it
/// does nothing: the task's first poll is on its way.
#[derive(Default)]
struct Forward(Mutex<Option<Waker>>);

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(task) = &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            task.wake_by_ref();
        }
    }
}

async fn respond(req: web_sys::Request, env: Env) -> worker::Result<web_sys::Response> {
    #[cfg(feature = "test-hooks")]
    if let Some(response) = test_hooks::route(&req, &env).await? {
        return Ok(response);
    }
    let method = req.method();
    let url = req.url();
    let path = http_io::path_and_query(&url);
    let path = path.split('?').next().unwrap_or_default();
    let response = match serve(&req, &method, &url, &env).await {
        Ok(response) => response,
        Err(error) => {
            console_error!("{method} {path}: {error}");
            error.response()
        }
    };
    if let Some(ErrorLog(line)) = response.extensions().get::<ErrorLog>() {
        let status = response.status().as_u16();
        if status >= 500 {
            console_error!("{method} {path} -> {status}: {line}");
        } else {
            console_log!("{method} {path} -> {status}: {line}");
        }
    }
    http_io::from_http(response)
}

async fn serve(
    req: &web_sys::Request,
    method: &str,
    url: &str,
    env: &Env,
) -> Result<http::Response<Vec<u8>>, HostError> {
    let service = service::get(env).await?;
    let request = http_io::to_http(req, method, url, service.max_body_bytes)
        .await
        .map_err(|e| HostError::BadRequest(e.to_string()))?;
    let client_ip = request.headers().get("cf-connecting-ip").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok(service.api.handle(request, client_ip.as_deref()).await)
}

/// The Cron trigger: deletes expired tokens (with history) and expired JWT sessions.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let service = match service::get(&env).await {
        Ok(service) => service,
        Err(error) => return console_error!("cron {}: {error}", event.cron()),
    };
    match service.api.tokens().delete_expired().await {
        Ok(expired) => console_log!("cron {}: {} expired tokens deleted", event.cron(), expired.len()),
        Err(error) => console_error!("cron {}: token expiry failed: {error}", event.cron()),
    }
    if let Some(sessions) = service.api.sessions() {
        match sessions.cleanup_expired_sessions().await {
            Ok(count) => console_log!("cron {}: {count} expired sessions deleted", event.cron()),
            Err(error) => console_error!("cron {}: session cleanup failed: {error}", event.cron()),
        }
    }
}
