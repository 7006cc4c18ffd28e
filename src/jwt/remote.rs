//! The keys of another issuer, from its JWKS URL: cached for `max_age`, refreshed when a token
//! names an unknown `kid` (at most once per `cooldown`), and fetched by one caller at a time
//! while the others wait for its result (single flight). A failed refresh keeps the last good
//! copy.

use std::cell::RefCell;
use std::rc::Rc;

use super::{inspect, CryptoProvider, JwtError, JwtKeys, RustCrypto, ValidationOptions, Validator, VerifiedJwt};
use crate::env::{LocalBoxFuture, UnixTime};

/// How a host fetches a URL (Workers and browsers: `fetch`; native: an HTTP client).
pub trait JwksFetch {
    /// The response body, or why there is none (for logs).
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<String, String>>;
}

#[derive(Default)]
struct State {
    keys: Option<Rc<JwtKeys>>,
    fetched_at: UnixTime,
    last_attempt: Option<UnixTime>,
    /// Counts refresh attempts, so a waiter can tell that one happened while it waited.
    attempts: u64,
}

/// A cached remote JWKS.
pub struct RemoteJwks {
    url: String,
    max_age: i64,
    cooldown: i64,
    state: RefCell<State>,
    refresh: async_lock::Mutex<()>,
}

impl RemoteJwks {
    /// Keys from `url`, kept `max_age` seconds, refetched at most every `cooldown` seconds.
    pub fn new(url: &str, max_age: i64, cooldown: i64) -> Self {
        RemoteJwks {
            url: url.to_owned(),
            max_age,
            cooldown,
            state: RefCell::default(),
            refresh: async_lock::Mutex::new(()),
        }
    }

    /// The key set to verify a token with key id `kid`.
    pub async fn keys(
        &self,
        kid: Option<&str>,
        now: UnixTime,
        fetcher: &dyn JwksFetch,
    ) -> Result<Rc<JwtKeys>, JwtError> {
        if let Some(keys) = self.fresh(kid, now) {
            return Ok(keys);
        }
        let attempts_before = self.state.borrow().attempts;
        let _flight = self.refresh.lock().await;
        let refreshed_meanwhile = self.state.borrow().attempts != attempts_before;
        let cooling = self.state.borrow().last_attempt.is_some_and(|t| now - t < self.cooldown);
        if !refreshed_meanwhile && !cooling {
            self.fetch(now, fetcher).await;
        }
        self.state.borrow().keys.clone().ok_or(JwtError::JwksUnavailable)
    }

    /// Verifies `token` with the issuer's keys.
    pub async fn verify(
        &self,
        token: &str,
        options: ValidationOptions,
        now: UnixTime,
        fetcher: &dyn JwksFetch,
    ) -> Result<VerifiedJwt, JwtError> {
        self.verify_with(&RustCrypto, token, options, now, fetcher).await
    }

    /// [`RemoteJwks::verify`] with the signature checked by `crypto`.
    pub async fn verify_with(
        &self,
        crypto: &dyn CryptoProvider,
        token: &str,
        options: ValidationOptions,
        now: UnixTime,
        fetcher: &dyn JwksFetch,
    ) -> Result<VerifiedJwt, JwtError> {
        let header = inspect(token, options.size_limits())?.header().clone();
        let keys = self.keys(header.kid.as_deref(), now, fetcher).await?;
        Validator::new(&keys, options).verify_with(crypto, token, now).await
    }

    /// The cached keys, if young enough and holding `kid`.
    fn fresh(&self, kid: Option<&str>, now: UnixTime) -> Option<Rc<JwtKeys>> {
        let state = self.state.borrow();
        let keys = state.keys.as_ref()?;
        let young = now - state.fetched_at < self.max_age;
        let has_kid = kid.is_none_or(|kid| keys.get(kid).is_some());
        (young && has_kid).then(|| keys.clone())
    }

    async fn fetch(&self, now: UnixTime, fetcher: &dyn JwksFetch) {
        {
            let mut state = self.state.borrow_mut();
            state.last_attempt = Some(now);
            state.attempts += 1;
        }
        let fetched = fetcher.fetch(&self.url).await.ok().and_then(|body| JwtKeys::from_jwks(&body).ok());
        if let Some(keys) = fetched {
            let mut state = self.state.borrow_mut();
            state.keys = Some(Rc::new(keys));
            state.fetched_at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::jwt::{Algorithm, JwtClaims, SigningKey, TokenType};

    struct Fetcher {
        body: RefCell<Result<String, String>>,
        calls: Cell<u32>,
    }

    impl JwksFetch for Fetcher {
        fn fetch<'a>(&'a self, _url: &'a str) -> LocalBoxFuture<'a, Result<String, String>> {
            Box::pin(async move {
                self.calls.set(self.calls.get() + 1);
                // Let the other callers pile up behind the single flight.
                YieldOnce(false).await;
                self.body.borrow().clone()
            })
        }
    }

    struct YieldOnce(bool);
    impl std::future::Future for YieldOnce {
        type Output = ();
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(Algorithm::EdDsa, &[seed; 32]).unwrap()
    }

    fn token(key: &SigningKey, now: UnixTime) -> String {
        let claims = JwtClaims::new("other", "alice", "us", TokenType::Access, now, 600, "j");
        JwtKeys::new(key.clone()).issue(&claims).unwrap()
    }

    fn options() -> ValidationOptions {
        ValidationOptions::new("other", "us", TokenType::Access)
    }

    fn jwks(keys: &[&SigningKey]) -> String {
        let mut set = JwtKeys::verify_only();
        for k in keys {
            set.add_verifying_key(k.verifying_key()).unwrap();
        }
        set.jwks().to_string()
    }

    #[test]
    fn caches_refreshes_on_new_kid_with_cooldown_and_flies_once() {
        futures::executor::block_on(async {
            let (old, new) = (key(1), key(2));
            let fetcher = Fetcher { body: RefCell::new(Ok(jwks(&[&old]))), calls: Cell::new(0) };
            let remote = RemoteJwks::new("https://issuer.example/jwks.json", 600, 30);
            let now = 1_700_000_000;
            // Ten concurrent first requests: one fetch.
            let t = token(&old, now);
            let results = futures::future::join_all((0..10).map(|_| remote.verify(&t, options(), now, &fetcher))).await;
            assert!(results.iter().all(Result::is_ok));
            assert_eq!(fetcher.calls.get(), 1);
            // Cached afterwards.
            remote.verify(&t, options(), now + 10, &fetcher).await.unwrap();
            assert_eq!(fetcher.calls.get(), 1);
            // The issuer rotates: an unknown kid within the cooldown is not refetched...
            *fetcher.body.borrow_mut() = Ok(jwks(&[&old, &new]));
            let t2 = token(&new, now + 20);
            assert!(matches!(
                remote.verify(&t2, options(), now + 20, &fetcher).await,
                Err(JwtError::UnknownKey { .. })
            ));
            assert_eq!(fetcher.calls.get(), 1);
            // ...after it, it is.
            remote.verify(&t2, options(), now + 31, &fetcher).await.unwrap();
            assert_eq!(fetcher.calls.get(), 2);
            // A failing endpoint keeps the last good copy once it is stale.
            *fetcher.body.borrow_mut() = Err("503".into());
            remote.verify(&token(&new, now + 700), options(), now + 700, &fetcher).await.unwrap();
            assert_eq!(fetcher.calls.get(), 3);
        })
    }

    #[test]
    fn unavailable_without_any_copy() {
        futures::executor::block_on(async {
            let fetcher = Fetcher { body: RefCell::new(Ok("not json".into())), calls: Cell::new(0) };
            let remote = RemoteJwks::new("https://issuer.example/jwks.json", 600, 30);
            let t = token(&key(1), 1_700_000_000);
            assert_eq!(
                remote.verify(&t, options(), 1_700_000_000, &fetcher).await.unwrap_err(),
                JwtError::JwksUnavailable
            );
        })
    }
}
