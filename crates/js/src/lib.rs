//! The JavaScript side that the Worker, the browser package and the bench binding share:
//! WebCrypto as the core's JWT [`CryptoProvider`](portcullis::jwt::CryptoProvider), and verified
//! claims handed to JavaScript as plain objects without a JSON round trip. The core stays free
//! of JavaScript; everything here is glue.

mod claims;
mod split;
mod webcrypto;

pub use claims::{claims_json, claims_object};
pub use split::{verify_promise, Finish};
pub use webcrypto::{Counts, WebCrypto};
