//! Time and randomness from WASI, and the executor that drives the core's futures.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use portcullis::{Clock, LocalBoxFuture, Random};

use crate::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use crate::bindings::wasi::random::random;

/// `wasi:clocks/wall-clock` for the time, `monotonic-clock` for waiting.
pub struct WasiClock;

impl Clock for WasiClock {
    fn now_millis(&self) -> i64 {
        let now = wall_clock::now();
        let millis = u128::from(now.seconds) * 1000 + u128::from(now.nanoseconds / 1_000_000);
        i64::try_from(millis).unwrap_or(i64::MAX)
    }

    /// Blocks the instance (imports are synchronous, so nothing else could run meanwhile).
    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()> {
        monotonic_clock::subscribe_duration(millis.saturating_mul(1_000_000)).block();
        Box::pin(std::future::ready(()))
    }
}

/// `wasi:random/random`, the host's CSPRNG.
pub struct WasiRandom;

impl Random for WasiRandom {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(4096) {
            let bytes = random::get_random_bytes(chunk.len() as u64);
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// How often a future may be pending before we call it stuck.
const MAX_PENDING_POLLS: u32 = 1_000_000;

/// Runs a future of the core to completion.
///
/// Every import is synchronous and the instance runs one call at a time, so the core's futures
/// are ready on their first poll; a future still pending after many polls is a bug, and trapping
/// is better than spinning until the host's deadline.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..MAX_PENDING_POLLS {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a future of the core never completed");
}
