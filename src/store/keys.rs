//! Every storage key the core writes, built in one place.

/// KV record of an opaque token.
pub(crate) fn token(key: &str) -> String {
    format!("token:{key}")
}

/// Prefix of every opaque-token KV record.
pub(crate) const TOKEN_PREFIX: &str = "token:";

/// The token key of a KV key under [`TOKEN_PREFIX`].
pub(crate) fn token_key_of(kv_key: &str) -> Option<&str> {
    kv_key.strip_prefix(TOKEN_PREFIX)
}

/// Name of the SQL lock serialising child-token creation for one user.
pub(crate) fn child_lock(username: &str) -> String {
    format!("child-token:{username}")
}

/// KV record of an apicrud-style session.
pub(crate) fn apicrud_session(uid_hash: &str, id_prefix: &str) -> String {
    format!("apicrud:{uid_hash}:{id_prefix}")
}

/// KV marker of a live JWT access session.
pub(crate) fn jwt_session(jti: &str) -> String {
    format!("jwt-session:{jti}")
}
