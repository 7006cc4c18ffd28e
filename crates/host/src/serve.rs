//! `portcullis serve`: HTTP/1.1 with hyper, each request on a warm instance of the component
//! (see [`Runtime::http_instance`]) or answered again while the component's answer holds
//! ([`Answers`]), a log line per request ([`AccessLog`]), and the scheduled expiry.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use portcullis_host::KvVersion;

use crate::access_log::AccessLog;
use crate::reuse::{Answers, Kept};
use crate::runtime::{HttpInstance, Runtime};
use crate::settings::CLIENT_IP_HEADER;

pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The pages to serve beside the API, if any.
    pub www: Option<std::path::PathBuf>,
    /// Period of the scheduled expiry; `None` disables it.
    pub expire_every: Option<Duration>,
    /// Whether answers the component marks reusable are given again ([`Answers`]; only on a
    /// KV whose every write is seen, the embedded one).
    pub reuse: bool,
}

pub async fn serve(runtime: Runtime, options: ServeOptions) -> Result<()> {
    let listener = TcpListener::bind(options.listen).await?;
    // Tests and scripts wait for this line.
    println!("portcullis: listening on http://{}", listener.local_addr()?);
    let log = AccessLog::start();
    if let Some(every) = options.expire_every {
        tokio::spawn(expire_periodically(runtime.clone(), every, log.clone()));
    }
    let answers = (options.reuse && runtime.storage().kv_version().is_some()).then(|| Arc::new(Answers::default()));
    let runtime = Arc::new(runtime);
    let www = Arc::new(options.www);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("portcullis: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let peer = Peer {
            runtime: runtime.clone(),
            www: www.clone(),
            answers: answers.clone(),
            log: log.clone(),
            address: peer,
            // The same for every request of the connection.
            client_ip: HeaderValue::from_str(&peer.ip().to_string()).ok(),
        };
        tokio::spawn(async move {
            let address = peer.address;
            let peer = Arc::new(peer);
            let service = hyper::service::service_fn(move |req| {
                let peer = peer.clone();
                async move { Ok::<_, Infallible>(handle(&peer, req).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                if !e.is_incomplete_message() {
                    eprintln!("portcullis: connection from {address}: {e}");
                }
            }
        });
    }
    log.sync();
    println!("portcullis: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// What serving one connection needs.
struct Peer {
    runtime: Arc<Runtime>,
    www: Arc<Option<std::path::PathBuf>>,
    /// `None` when answers are not reused.
    answers: Option<Arc<Answers>>,
    log: AccessLog,
    address: SocketAddr,
    /// The value of [`CLIENT_IP_HEADER`] for its requests.
    client_ip: Option<HeaderValue>,
}

/// Runs the guest on one request. A trap becomes a 500 for this request only.
async fn handle(peer: &Peer, mut req: Request<Incoming>) -> Response<HyperOutgoingBody> {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: never the query (it is no place for a token, but a client may put one there).
    let path = req.uri().path().to_owned();
    if let Some(root) = peer.www.as_deref().filter(|_| !crate::static_files::is_api(&path)) {
        if let Some(response) = crate::static_files::serve(root, &method, &path).await {
            peer.log.line(format!("{method} {path} {} {}", response.status().as_u16(), Millis(started)));
            return response;
        }
    }
    // Only a GET without a body can be answered again (`/auth`).
    let answers = peer.answers.as_deref().filter(|_| method == Method::GET && portcullis_host::bodyless::fits(&req));
    let storage = peer.runtime.storage();
    if let Some(answer) =
        answers.and_then(|answers| answers.get(&req, |version, reads| storage.kv_unchanged(version, reads)))
    {
        peer.log.line(format!("{method} {path} {} {} reused", answer.status.as_u16(), Millis(started)));
        return portcullis_host::bodyless::build(answer.status, answer.headers, answer.body);
    }
    // Read before the guest reads KV: an answer is kept with the version it may be older than,
    // and the keys the guest read.
    let keep = answers.and_then(|answers| Some((answers, storage.kv_version()?)));
    match &peer.client_ip {
        Some(ip) => req.headers_mut().insert(CLIENT_IP_HEADER, ip.clone()),
        None => req.headers_mut().remove(CLIENT_IP_HEADER),
    };
    let (response, guest_log, note) = match run_guest(&peer.runtime, req, keep).await {
        Ok((response, log)) => (response, log, String::new()),
        Err((e, log)) => (internal_error(), log, format!("trap: {}", one_line(&format!("{e:#}")))),
    };
    let guest_note = one_line(&String::from_utf8_lossy(&guest_log));
    let note = [guest_note, note].into_iter().filter(|n| !n.is_empty()).collect::<Vec<_>>().join("; ");
    let separator = if note.is_empty() { "" } else { " " };
    peer.log.line(format!("{method} {path} {} {}{separator}{note}", response.status().as_u16(), Millis(started)));
    response
}

/// The time since an instant in milliseconds with one decimal (`12.3ms`), for the log.
struct Millis(Instant);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0.elapsed().as_micros() + 50) / 100;
        write!(f, "{}.{}ms", tenths / 10, tenths % 10)
    }
}

/// The guest's response and what it logged; an error and the log when it gave none.
/// With `keep`, a reusable answer is kept in those answers at that version, with the KV keys
/// its call read.
async fn run_guest(
    runtime: &Runtime,
    req: Request<Incoming>,
    keep: Option<(&Answers, KvVersion)>,
) -> Result<(Response<HyperOutgoingBody>, Vec<u8>), (anyhow::Error, Vec<u8>)> {
    let (instance, log) = runtime.http_instance().await.map_err(|e| (e.into(), Vec::new()))?;
    let outcome = if instance.bodyless.is_some() && portcullis_host::bodyless::fits(&req) {
        run_bodyless(runtime, instance, &req, keep).await
    } else {
        run_streamed(runtime, instance, req).await
    };
    let log = log.take();
    match outcome {
        Ok(response) => Ok((response, log)),
        Err(e) => Err((e, log)),
    }
}

/// A request without a body, in one call of `bodyless-http`.
async fn run_bodyless(
    runtime: &Runtime,
    mut instance: HttpInstance,
    req: &Request<Incoming>,
    keep: Option<(&Answers, KvVersion)>,
) -> Result<Response<HyperOutgoingBody>> {
    let request = portcullis_host::bodyless::request(req);
    let HttpInstance { store, bodyless, .. } = &mut instance;
    let Some(bodyless) = bodyless else {
        return Err(anyhow::anyhow!("the component exports no bodyless-http"));
    };
    if keep.is_some() {
        store.data_mut().storage_mut().record_reads();
    }
    match bodyless.portcullis_auth_bodyless_http().call_handle(&mut *store, &request).await {
        Ok(response) => {
            let reads = store.data_mut().storage_mut().take_reads();
            runtime.recycle(instance);
            let Some((status, headers)) = portcullis_host::bodyless::head(&response) else {
                return Err(anyhow::anyhow!("the component answered with an invalid response"));
            };
            let body = Bytes::from(response.body);
            if let Some(((answers, version), reads)) = keep.zip(reads).filter(|_| response.reuse_ms > 0) {
                let kept = Kept { status, headers: headers.clone(), body: body.clone() };
                answers.keep(req, (version, reads), response.reuse_ms, &response.vary, kept);
            }
            Ok(portcullis_host::bodyless::build(status, headers, body))
        }
        Err(e) => {
            log_trap(&e);
            Err(e.into())
        }
    }
}

/// Any request, through `wasi:http`: the guest keeps running in its own task while hyper sends
/// the body it writes.
async fn run_streamed(
    runtime: &Runtime,
    mut instance: HttpInstance,
    req: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let store = &mut instance.store;
    let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
    let outparam = store.data_mut().http().new_response_outparam(sender)?;
    // The instance goes back to the pool when its call returns normally.
    let pool = runtime.clone();
    let task = tokio::spawn(async move {
        let HttpInstance { store, proxy, .. } = &mut instance;
        let result = proxy.wasi_http_incoming_handler().call_handle(&mut *store, incoming, outparam).await;
        match &result {
            Ok(()) => pool.recycle(instance),
            Err(e) => log_trap(e),
        }
        result
    });
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(anyhow::anyhow!("the component answered with error {code:?}")),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(anyhow::anyhow!("the component set no response")),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e.into()),
        },
    }
}

/// The host's own answer when the guest could not give one.
fn internal_error() -> Response<HyperOutgoingBody> {
    let body = Bytes::from_static(br#"{"detail":[{"msg":"internal error","type":"internal_error"}]}"#);
    let mut response = Response::new(portcullis_host::bodyless::whole_body(body));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A trap ends its request with a 500 and drops its instance; the operator's log says why.
fn log_trap(e: &wasmtime::Error) {
    eprintln!("portcullis: the component trapped: {}", one_line(&format!("{e:#}")));
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn expire_periodically(runtime: Runtime, every: Duration, log: AccessLog) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match runtime.expire().await {
            Ok(0) => {}
            Ok(n) => log.line(format!("portcullis: expired {n} tokens")),
            Err(e) => eprintln!("portcullis: scheduled expiry failed: {e}"),
        }
    }
}
