//! The two side effects the core needs from its host: the time and randomness.
//!
//! The core never reads the clock or an RNG itself; every host passes implementations in, and
//! tests pass a clock they can move.

use std::future::Future;
use std::pin::Pin;

/// Seconds since the Unix epoch. All times in the core, in storage and on the wire are these.
pub type UnixTime = i64;

/// A boxed future without a `Send` bound (Workers futures are not `Send`).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The wall clock, and a way to wait.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Waits for about `millis` milliseconds. Used only by locks that poll; a test clock may
    /// advance itself instead of waiting.
    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()>;

    /// Seconds since the Unix epoch.
    fn now(&self) -> UnixTime {
        self.now_millis().div_euclid(1000)
    }
}

/// A cryptographically secure random number generator.
pub trait Random {
    /// Fills `dest` with random bytes. Hosts back this with `getrandom`, `wasi:random` or
    /// `crypto.getRandomValues`.
    fn fill(&self, dest: &mut [u8]);
}

/// Returns `N` random bytes.
pub(crate) fn random_array<const N: usize>(rng: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill(&mut out);
    out
}

/// Everything the core needs from its host, shared by the services.
#[derive(Clone)]
pub struct Env {
    pub kv: std::rc::Rc<dyn crate::store::Kv>,
    pub sql: std::rc::Rc<dyn crate::store::Sql>,
    pub clock: std::rc::Rc<dyn Clock>,
    pub rng: std::rc::Rc<dyn Random>,
}
