//! `portcullis:auth/bodyless-http` (wit/service.wit): a request without a body goes to the
//! component in one call and its whole response comes back, without `wasi:http`'s resources or
//! the task and channel a streamed response needs. That is every `/auth` check. The headers are
//! filtered as `wasi:http` filters them, both ways. `portcullis serve` uses it; so can any host.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "portcullis:auth/bodyless",
    exports: { default: async },
});

pub use exports::portcullis::auth::bodyless_http::{Request as BodylessRequest, Response as BodylessResponse};

/// Whether `req` has no body, so that it can take this path (HTTP/1.1: a request has a body only
/// when it says so with `Content-Length` or `Transfer-Encoding`).
pub fn fits<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    !headers.contains_key(TRANSFER_ENCODING) && headers.get(CONTENT_LENGTH).is_none_or(|length| length == "0")
}

pub fn request<B>(req: &Request<B>) -> BodylessRequest {
    BodylessRequest {
        method: req.method().as_str().to_owned(),
        path_with_query: req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        headers: req
            .headers()
            .iter()
            .filter(|(name, _)| !DEFAULT_FORBIDDEN_HEADERS.contains(name))
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
    }
}

/// The status and headers of the component's response; `None` if they are not valid HTTP.
pub fn head(response: &BodylessResponse) -> Option<(StatusCode, HeaderMap)> {
    let status = StatusCode::from_u16(response.status).ok()?;
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for (name, value) in &response.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        if !DEFAULT_FORBIDDEN_HEADERS.contains(&name) {
            headers.append(name, HeaderValue::from_bytes(value).ok()?);
        }
    }
    Some((status, headers))
}

/// A response for hyper with a body sent in one piece.
pub fn build(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response<HyperOutgoingBody> {
    let mut out = Response::new(whole_body(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// A body sent in one piece, as a response body of `wasi:http`'s type.
pub fn whole_body(bytes: Bytes) -> HyperOutgoingBody {
    Full::new(bytes).map_err(|never: Infallible| match never {}).boxed_unsync()
}
