//! The clock and the random numbers of the Workers runtime.

use std::cell::Cell;
use std::time::Duration;

use portcullis::{Clock, LocalBoxFuture, Random};
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;

    /// Web Crypto's CSPRNG; it fills at most 65,536 bytes per call.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(dest: &mut [u8]);
}

thread_local! {
    /// Milliseconds added to `Date.now()`; moved only by the test-hooks build.
    static OFFSET_MILLIS: Cell<i64> = const { Cell::new(0) };
}

/// `Date.now()` (which Workers advance only across I/O) and timers for the lock's polling.
pub struct JsClock;

impl JsClock {
    /// Moves this isolate's clock (test builds only).
    #[cfg(feature = "test-hooks")]
    pub fn set_offset_millis(offset: i64) {
        OFFSET_MILLIS.with(|o| o.set(offset));
    }
}

impl Clock for JsClock {
    fn now_millis(&self) -> i64 {
        date_now() as i64 + OFFSET_MILLIS.with(Cell::get)
    }

    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(worker::Delay::from(Duration::from_millis(millis)))
    }
}

/// `crypto.getRandomValues`.
pub struct JsRandom;

impl Random for JsRandom {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(65_536) {
            get_random_values(chunk);
        }
    }
}
