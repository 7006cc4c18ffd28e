//! Answers `portcullis serve` gives again without calling the component. A `bodyless-http`
//! response may say for how long it holds and which request headers it depends on (`reuse-ms`
//! and `vary` in wit/service.wit; the core sets them on `/auth`'s successes for opaque tokens).
//! Such an answer is kept for that long and given to the same request, as long as the KV keys
//! its call read are unchanged since before that call ([`Storage::kv_unchanged`]): a
//! revocation or a scope change, written to the token's record, ends the token's kept answers at
//! once, while other writes (logins, new tokens, the expiry pass) leave them be. A write to the
//! KV file by another process, whose keys cannot be known, ends every kept answer.
//! A repeated `/auth` then costs hyper, a hash and a lookup instead of a guest call.
//!
//! [`Storage::kv_unchanged`]: portcullis_host::Storage::kv_unchanged
//!
//! Requests are told apart by method, path with query, and the names and values of their `vary`
//! headers, hashed with SHA-256: no credential is kept, and the keys compared are digests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName};
use hyper::{Method, Request, StatusCode};
use portcullis::api::Reusable;
use portcullis_host::{KeyHash, KvVersion};
use sha2::{Digest as _, Sha256};

/// The kept answers of one server.
#[derive(Default)]
pub struct Answers {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The `vary` headers of the answers kept for a path with query, by method.
    vary: HashMap<String, Vec<(Method, VaryNames)>>,
    /// By the digest of the request ([`digest`]).
    kept: HashMap<[u8; 32], Answer>,
}

/// The names of the request headers an answer depends on.
type VaryNames = Arc<[HeaderName]>;

/// A kept answer.
#[derive(Clone)]
pub struct Answer {
    /// Made from what `reads` held at `version`.
    version: KvVersion,
    reads: Arc<[KeyHash]>,
    until: Instant,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answers {
    /// Answers kept at most; past it, all are dropped and keeping starts over.
    const CAPACITY: usize = 4096;

    /// The answer kept for `req`, if it is still good: within its time, and `unchanged` (asked
    /// only when there is one) gives a version at which the keys it read still hold what they
    /// held at its version. The answer is then kept as of that version, so that the next
    /// request is checked from there.
    pub fn get<B>(
        &self,
        req: &Request<B>,
        unchanged: impl FnOnce(KvVersion, &[KeyHash]) -> Option<KvVersion>,
    ) -> Option<Answer> {
        let (key, answer) = {
            let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let vary = inner.vary.get(path_with_query(req))?.iter().find(|(method, _)| method == req.method())?;
            let key = digest(req, &vary.1);
            (key, inner.kept.get(&key)?.clone())
        };
        if Instant::now() >= answer.until {
            return None;
        }
        let now = unchanged(answer.version, &answer.reads)?;
        if now != answer.version {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            // Unless it was replaced or moved on meanwhile.
            if let Some(kept) = inner.kept.get_mut(&key) {
                if Arc::ptr_eq(&kept.reads, &answer.reads) && kept.version == answer.version {
                    kept.version = now;
                }
            }
        }
        Some(answer)
    }

    /// Keeps the answer to `req`, made from what the KV keys `reads` held at `version`, for
    /// `millis` (at most [`Reusable::MAX_MILLIS`]), if its `vary` names are valid header names.
    pub fn keep<B>(
        &self,
        req: &Request<B>,
        (version, reads): (KvVersion, Vec<KeyHash>),
        millis: u32,
        vary: &[String],
        answer: Kept,
    ) {
        let Ok(vary) = vary.iter().map(|name| HeaderName::from_bytes(name.as_bytes())).collect::<Result<Arc<[_]>, _>>()
        else {
            return;
        };
        let until = Instant::now() + Duration::from_millis(millis.min(Reusable::MAX_MILLIS).into());
        let key = digest(req, &vary);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.kept.len() >= Self::CAPACITY && !inner.kept.contains_key(&key) {
            inner.kept.clear();
            inner.vary.clear();
        }
        let methods = inner.vary.entry(path_with_query(req).to_owned()).or_default();
        match methods.iter_mut().find(|(method, _)| method == req.method()) {
            Some((_, names)) => *names = vary,
            None => methods.push((req.method().clone(), vary)),
        }
        let Kept { status, headers, body } = answer;
        inner.kept.insert(key, Answer { version, reads: reads.into(), until, status, headers, body });
    }
}

/// What [`Answers::keep`] keeps of a response.
pub struct Kept {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn path_with_query<B>(req: &Request<B>) -> &str {
    req.uri().path_and_query().map_or("/", |p| p.as_str())
}

/// SHA-256 of the method, the path with query, and each `vary` header's name and values, every
/// piece preceded by its length (so no two requests that differ give the same input).
fn digest<B>(req: &Request<B>, vary: &[HeaderName]) -> [u8; 32] {
    fn piece(hash: &mut Sha256, bytes: &[u8]) {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    let mut hash = Sha256::new();
    piece(&mut hash, req.method().as_str().as_bytes());
    piece(&mut hash, path_with_query(req).as_bytes());
    for name in vary {
        piece(&mut hash, name.as_str().as_bytes());
        let values = req.headers().get_all(name);
        hash.update((values.iter().count() as u64).to_le_bytes());
        for value in values {
            piece(&mut hash, value.as_bytes());
        }
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn answer(user: &str) -> Kept {
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-request-user", user.parse().unwrap());
        Kept { status: StatusCode::OK, headers, body: Bytes::new() }
    }

    fn vary() -> Vec<String> {
        Reusable::VARY.iter().map(|name| name.to_string()).collect()
    }

    /// "Unchanged" exactly when the answer was made at `version`.
    fn at(version: KvVersion) -> impl FnOnce(KvVersion, &[KeyHash]) -> Option<KvVersion> {
        move |made, _| (made == version).then_some(made)
    }

    const V1: KvVersion = KvVersion { writes: 1, others: 7 };
    const V2: KvVersion = KvVersion { writes: 2, others: 7 };
    const V3: KvVersion = KvVersion { writes: 1, others: 8 };
    const V4: KvVersion = KvVersion { writes: 5, others: 7 };

    #[test]
    fn the_same_request_gets_the_kept_answer_while_the_version_holds() {
        let answers = Answers::default();
        let req = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a"), ("user-agent", "x")]);
        assert!(answers.get(&req, at(V1)).is_none());
        answers.keep(&req, (V1, vec![]), 1000, &vary(), answer("alice"));
        let got = answers.get(&req, at(V1)).expect("kept");
        assert_eq!((got.status, got.headers["x-auth-request-user"].to_str().unwrap()), (StatusCode::OK, "alice"));
        // Headers outside `vary` do not matter.
        let other_agent = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a"), ("user-agent", "y")]);
        assert!(answers.get(&other_agent, at(V1)).is_some());
        // A change since, or a store whose version cannot be read, ends it.
        assert!(answers.get(&req, at(V2)).is_none());
        assert!(answers.get(&req, at(V3)).is_none());
        assert!(answers.get(&req, |_, _| None).is_none());
    }

    #[test]
    fn an_answer_is_checked_against_the_version_and_keys_it_was_made_from() {
        let answers = Answers::default();
        let req = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a")]);
        answers.keep(&req, (V2, vec![7, 11]), 1000, &vary(), answer("alice"));
        let mut asked = None;
        assert!(answers
            .get(&req, |version, reads| {
                asked = Some((version, reads.to_vec()));
                Some(V4)
            })
            .is_some());
        assert_eq!(asked, Some((V2, vec![7, 11])));
        // Checked unchanged as of V4, it is checked from V4 next time.
        let mut asked = None;
        assert!(answers
            .get(&req, |version, _| {
                asked = Some(version);
                Some(version)
            })
            .is_some());
        assert_eq!(asked, Some(V4));
        assert!(answers.get(&req, |_, _| None).is_none());
    }

    #[test]
    fn any_difference_in_method_path_query_or_vary_headers_is_another_request() {
        let answers = Answers::default();
        let req = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a")]);
        answers.keep(&req, (V1, vec![]), 1000, &vary(), answer("alice"));
        for other in [
            request("HEAD", "/auth?scope=read:all", &[("authorization", "Bearer a")]),
            request("GET", "/auth?scope=write:all", &[("authorization", "Bearer a")]),
            request("GET", "/auth?scope=read:all&satisfy=any", &[("authorization", "Bearer a")]),
            request("GET", "/auth?scope=read:all", &[("authorization", "Bearer b")]),
            request("GET", "/auth?scope=read:all", &[]),
            request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a"), ("authorization", "Bearer a")]),
            request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a"), ("origin", "https://x.example")]),
            request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a"), ("sec-fetch-site", "none")]),
        ] {
            assert!(answers.get(&other, at(V1)).is_none(), "{} {} {:?}", other.method(), other.uri(), other.headers());
        }
    }

    #[test]
    fn an_answer_is_kept_for_its_time_and_never_past_the_longest() {
        let answers = Answers::default();
        let req = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a")]);
        answers.keep(&req, (V1, vec![]), 20, &vary(), answer("alice"));
        assert!(answers.get(&req, at(V1)).is_some());
        std::thread::sleep(Duration::from_millis(25));
        assert!(answers.get(&req, at(V1)).is_none());
        answers.keep(&req, (V1, vec![]), u32::MAX, &vary(), answer("alice"));
        let until = answers.inner.lock().unwrap().kept.values().next().unwrap().until;
        assert!(until <= Instant::now() + Duration::from_millis(Reusable::MAX_MILLIS.into()));
    }

    #[test]
    fn invalid_vary_names_keep_nothing_and_a_full_store_starts_over() {
        let answers = Answers::default();
        let req = request("GET", "/auth?scope=read:all", &[("authorization", "Bearer a")]);
        answers.keep(&req, (V1, vec![]), 1000, &["not a header".to_owned()], answer("alice"));
        assert!(answers.get(&req, at(V1)).is_none());
        for i in 0..Answers::CAPACITY {
            let token = format!("Bearer {i}");
            answers.keep(
                &request("GET", "/auth?scope=read:all", &[("authorization", &token)]),
                (V1, vec![]),
                1000,
                &vary(),
                answer("bob"),
            );
        }
        assert_eq!(answers.inner.lock().unwrap().kept.len(), Answers::CAPACITY);
        answers.keep(&req, (V1, vec![]), 1000, &vary(), answer("alice"));
        let inner = answers.inner.lock().unwrap();
        assert_eq!((inner.kept.len(), inner.vary.len()), (1, 1));
    }
}
