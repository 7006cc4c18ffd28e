//! `wasi:http/incoming-handler`: a `wasi:http` request becomes an [`http::Request`] for the
//! core's [`portcullis::api::Api`], and its response is written back. `bodyless-http` answers a
//! request without a body the same way, in one call and without resources.
//!
//! The body is read only up to the configured limit: a larger `Content-Length` is refused
//! before reading anything, and a body that grows past the limit is refused as soon as it does.

use http::{HeaderName, HeaderValue, Request, Response};
use portcullis::api::{ApiError, ErrorLog, Reusable};
use portcullis::Error;

use crate::bindings::exports::portcullis::auth::bodyless_http;
use crate::bindings::exports::wasi::http::incoming_handler;
use crate::bindings::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::instance::instance;
use crate::system::block_on;
use crate::Component;

/// Bytes per `blocking-read`/`blocking-write-and-flush` (the latter allows at most 4096).
const CHUNK: u64 = 4096;

impl incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let response = respond(|limit| read_request(request, limit));
        write_response(response_out, response);
    }
}

impl bodyless_http::Guest for Component {
    fn handle(request: bodyless_http::Request) -> bodyless_http::Response {
        let (parts, body) = respond(|_| bodyless_request(request)).into_parts();
        let headers =
            parts.headers.iter().map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())).collect();
        let (reuse_ms, vary) = match parts.extensions.get::<Reusable>() {
            Some(reusable) => (reusable.millis, Reusable::VARY.iter().map(|&name| name.to_owned()).collect()),
            None => (0, Vec::new()),
        };
        bodyless_http::Response { status: parts.status.as_u16(), headers, body, reuse_ms, vary }
    }
}

/// The API's answer to the request `read` makes (given the body limit), or the error reading
/// it gave, with its `Content-Length`; its error line, if any, goes to the host's log for this
/// request (it never holds a token or a secret).
fn respond(read: impl FnOnce(usize) -> Result<Request<Vec<u8>>, ApiError>) -> Response<Vec<u8>> {
    let mut response = answer(read);
    if let Some(ErrorLog(line)) = response.extensions().get::<ErrorLog>() {
        eprintln!("{line}");
    }
    if !response.headers().contains_key(http::header::CONTENT_LENGTH) {
        let length = HeaderValue::from(response.body().len());
        response.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    }
    response
}

fn answer(read: impl FnOnce(usize) -> Result<Request<Vec<u8>>, ApiError>) -> Response<Vec<u8>> {
    let instance = match instance() {
        Ok(instance) => instance,
        Err(e) => return error_response(&ApiError::Core(e), "portcullis"),
    };
    let realm = &instance.settings.realm;
    let request = match read(instance.settings.max_body_bytes) {
        Ok(request) => request,
        Err(e) => return error_response(&e, realm),
    };
    instance.host.check_trap(request.uri().path());
    let client_ip = instance
        .host
        .client_ip_header
        .as_ref()
        .and_then(|name| request.headers().get(name)?.to_str().ok().map(str::to_owned));
    block_on(instance.api.handle(request, client_ip.as_deref()))
}

fn error_response(error: &ApiError, realm: &str) -> Response<Vec<u8>> {
    let rendered = error.render(realm);
    let mut response = Response::new(rendered.body);
    *response.status_mut() = rendered.status;
    for (name, value) in rendered.headers {
        response.headers_mut().append(name, value);
    }
    response.extensions_mut().insert(ErrorLog(error.log_line()));
    response
}

fn invalid(msg: &str) -> ApiError {
    ApiError::Core(Error::Request(portcullis::RequestError::Invalid(msg.to_owned())))
}

/// A request of `bodyless-http`: one that declares a body is refused (the host sends those
/// through `wasi:http`).
fn bodyless_request(request: bodyless_http::Request) -> Result<Request<Vec<u8>>, ApiError> {
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|_| invalid("malformed method"))?;
    let builder = request_head(method, request.path_with_query, request.headers)?;
    let has_body = builder.headers_ref().is_some_and(|headers| {
        headers.contains_key(http::header::TRANSFER_ENCODING)
            || headers.get(http::header::CONTENT_LENGTH).is_some_and(|length| length != "0")
    });
    if has_body {
        return Err(invalid("a request with a body must come through wasi:http"));
    }
    builder.body(Vec::new()).map_err(|_| invalid("malformed request"))
}

fn request_head(
    method: http::Method,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
) -> Result<http::request::Builder, ApiError> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("malformed header name"))?;
        let value = HeaderValue::from_bytes(&value).map_err(|_| invalid("malformed header value"))?;
        builder = builder.header(name, value);
    }
    Ok(builder)
}

fn read_request(incoming: IncomingRequest, limit: usize) -> Result<Request<Vec<u8>>, ApiError> {
    let method = match incoming.method() {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(other) => http::Method::from_bytes(other.as_bytes()).map_err(|_| invalid("malformed method"))?,
    };
    let uri = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let builder = request_head(method, uri, incoming.headers().entries())?;
    let declared = builder
        .headers_ref()
        .and_then(|h| h.get(http::header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    let body = read_body(incoming, limit)?;
    builder.body(body).map_err(|_| invalid("malformed request"))
}

/// Reads at most `limit` bytes; one more is an error.
fn read_body(incoming: IncomingRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let body = incoming.consume().map_err(|()| invalid("request body unavailable"))?;
    let stream = body.stream().map_err(|()| invalid("request body unavailable"))?;
    let mut bytes = Vec::new();
    // Each read returns at least one byte or ends the stream; the bound is a backstop.
    let max_reads = limit / CHUNK as usize + 1024;
    let mut result = Err(ApiError::TooLarge(limit));
    for _ in 0..max_reads {
        match stream.blocking_read(CHUNK) {
            Ok(chunk) if bytes.len() + chunk.len() > limit => break,
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => {
                result = Ok(());
                break;
            }
            Err(StreamError::LastOperationFailed(_)) => {
                result = Err(invalid("request body failed"));
                break;
            }
        }
    }
    drop(stream);
    drop(IncomingBody::finish(body));
    result.map(|()| bytes)
}

fn write_response(out: ResponseOutparam, response: Response<Vec<u8>>) {
    let (parts, body) = response.into_parts();
    let headers = Fields::new();
    for (name, value) in &parts.headers {
        let _ = headers.append(name.as_str(), value.as_bytes());
    }
    let outgoing = OutgoingResponse::new(headers);
    // Always accepted: `http::StatusCode` holds only 100-999.
    let _ = outgoing.set_status_code(parts.status.as_u16());
    let Ok(outgoing_body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    let Ok(stream) = outgoing_body.write() else {
        return;
    };
    for chunk in body.chunks(CHUNK as usize) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            // The client went away; nothing to tell it.
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing_body, None);
}
