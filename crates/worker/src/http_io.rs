//! `worker::Request` -> `http::Request<Vec<u8>>` (with a bounded body) and
//! `http::Response<Vec<u8>>` -> `worker::Response`.

use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, StatusCode};

/// The core's request, with at most `max_body + 1` bytes of body: a longer body is cut there,
/// which is enough for the core to answer 413 without the Worker reading the rest.
pub async fn to_http(req: &mut worker::Request, max_body: usize) -> worker::Result<http::Request<Vec<u8>>> {
    let target = path_and_query(&req.inner().url());
    let method = Method::from_bytes(req.inner().method().as_bytes()).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in req.headers().entries() {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            builder = builder.header(name, value);
        }
    }
    let body = read_body(req, max_body).await?;
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

async fn read_body(req: &mut worker::Request, max_body: usize) -> worker::Result<Vec<u8>> {
    let declared = req.headers().get("content-length")?.and_then(|v| v.trim().parse::<usize>().ok());
    if declared == Some(0) || req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some_and(|len| len > max_body) {
        return Ok(vec![0; max_body + 1]);
    }
    let mut body = Vec::new();
    let mut stream = req.stream()?;
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

/// The Worker's response for the core's.
pub fn from_http(response: http::Response<Vec<u8>>) -> worker::Result<worker::Response> {
    let (parts, body) = response.into_parts();
    let headers = worker::Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let builder = worker::ResponseBuilder::new().with_status(parts.status.as_u16()).with_headers(headers);
    // A 204 or 304 must not carry a body, not even an empty one.
    if matches!(parts.status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        Ok(builder.empty())
    } else {
        Ok(builder.fixed(body))
    }
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
