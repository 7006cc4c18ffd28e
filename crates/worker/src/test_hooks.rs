//! Routes that exist only in the `test-hooks` build (scripts/worker-test.sh), for what the
//! HTTP API cannot do: panic on purpose, and move this isolate's clock.

use crate::http_io::path_and_query;
use crate::platform::JsClock;

/// Answers `/__test/*`; `None` for every other path.
pub fn route(req: &worker::Request) -> worker::Result<Option<worker::Response>> {
    let target = path_and_query(&req.inner().url());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    match path {
        "/__test/panic" => panic!("test-hooks: a panic on purpose"),
        "/__test/clock" => {
            let offset = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("offset_seconds="))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| worker::Error::RustError("offset_seconds=<integer> is required".into()))?;
            JsClock::set_offset_millis(offset * 1000);
            worker::Response::from_json(&serde_json::json!({ "offset_seconds": offset })).map(Some)
        }
        _ => Ok(None),
    }
}
