//! The JavaScript side that the Worker, the browser package and the bench binding share:
//! WebCrypto as the core's JWT [`CryptoProvider`](portcullis::jwt::CryptoProvider), tokens read
//! from JavaScript strings in one `TextEncoder.encodeInto`, and verified claims handed back as
//! plain objects without a JSON round trip. The core stays free of JavaScript; everything here
//! is glue.

mod claims;
mod split;
mod text;
mod webcrypto;

pub use claims::{claims_json, claims_object};
pub use split::{verify_promise, Finish};
pub use text::string_from_js;
pub use webcrypto::{Counts, WebCrypto};
