//! The pages (`www/`): plain files for `GET`s outside the API, as the Worker serves them as
//! static assets. Paths are resolved inside the directory only.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// Largest file served (the browser package is well under it).
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// Whether a path belongs to the API (and so to the component), never to the pages.
pub fn is_api(path: &str) -> bool {
    path == "/auth" || path.starts_with("/auth/") || path.starts_with("/.well-known/") || path == "/health"
}

/// The file for `path` under `root`, if `method` reads one and it exists.
pub async fn serve(root: &Path, method: &Method, path: &str) -> Option<Response<HyperOutgoingBody>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let file = resolve(root, path)?;
    let meta = tokio::fs::metadata(&file).await.ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let bytes = tokio::fs::read(&file).await.ok()?;
    let body = if method == Method::HEAD { Bytes::new() } else { Bytes::from(bytes) };
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// `root` + `path`, with `/` meaning `index.html`; `None` for anything that would leave `root`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative.to_owned()
    };
    let relative = Path::new(&relative);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(root.join(relative))
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(resolve(root, "/"), Some(PathBuf::from("/srv/www/index.html")));
        assert_eq!(resolve(root, "/pkg/a.js"), Some(PathBuf::from("/srv/www/pkg/a.js")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/pkg/../../x"), None);
        assert!(
            is_api("/auth") && is_api("/auth/api/v1/x") && is_api("/.well-known/jwks.json") && !is_api("/index.html")
        );
    }
}
