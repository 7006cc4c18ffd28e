//! The runtime's `Request` -> `http::Request<Vec<u8>>` (with a bounded body) and
//! `http::Response<Vec<u8>>` -> the runtime's `Response`.

use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use worker::js_sys::Uint8Array;
use worker::worker_sys::web_sys;

/// The core's request (`method` and `url` already read from `req`), with at most
/// `max_body + 1` bytes of body: a longer body is cut there, which is enough for the core to
/// answer 413 without the Worker reading the rest.
pub async fn to_http(
    req: &web_sys::Request,
    method: &str,
    url: &str,
    max_body: usize,
) -> worker::Result<http::Request<Vec<u8>>> {
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut builder = http::Request::builder().method(method).uri(path_and_query(url));
    let headers = worker::Headers(req.headers());
    for (name, value) in headers.entries() {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            builder = builder.header(name, value);
        }
    }
    let declared = builder
        .headers_ref()
        .and_then(|h| h.get(http::header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    let body = read_body(req, declared, max_body).await?;
    builder.body(body).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// `/path?query` of an absolute URL, without parsing the host (the `url` crate's IDNA tables
/// would cost ~40 KB of the bundle for nothing).
pub fn path_and_query(url: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let rest = url.find("://").map_or(url, |i| &url[i + 3..]);
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => rest[i..].to_owned(),
        Some(i) => format!("/{}", &rest[i..]),
        None => "/".to_owned(),
    }
}

async fn read_body(req: &web_sys::Request, declared: Option<usize>, max_body: usize) -> worker::Result<Vec<u8>> {
    if declared == Some(0) || req.body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some_and(|len| len > max_body) {
        return Ok(vec![0; max_body + 1]);
    }
    let mut body = Vec::new();
    // Only a request with a body becomes a `worker::Request`, for its byte stream.
    // (`Clone::clone` copies the handle; `Request.clone()` of JavaScript would tee the body.)
    let mut stream = worker::Request::from(Clone::clone(req)).stream()?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = max_body + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > max_body {
            break;
        }
    }
    Ok(body)
}

/// The runtime's response for the core's.
pub fn from_http(response: http::Response<Vec<u8>>) -> worker::Result<web_sys::Response> {
    let (parts, body) = response.into_parts();
    let headers = web_sys::Headers::new()?;
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(parts.status.as_u16());
    init.set_headers(&headers);
    // A 204 or 304 must not carry a body, not even an empty one.
    let response = if matches!(parts.status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        web_sys::Response::new_with_opt_str_and_init(None, &init)?
    } else {
        web_sys::Response::new_with_opt_buffer_source_and_init(Some(&Uint8Array::from(&body[..])), &init)?
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::path_and_query;

    #[test]
    fn keeps_the_path_and_query_of_absolute_urls() {
        assert_eq!(path_and_query("http://127.0.0.1:8787/auth?scope=read%3Aall"), "/auth?scope=read%3Aall");
        assert_eq!(path_and_query("https://example.com/a/b#frag"), "/a/b");
        assert_eq!(path_and_query("https://example.com"), "/");
        assert_eq!(path_and_query("https://example.com?x=1"), "/?x=1");
    }
}
