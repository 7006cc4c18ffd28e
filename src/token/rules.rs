//! Input rules: usernames, scopes, token names and service names.

use crate::error::RequestError;

const MAX_USERNAME_LEN: usize = 64;
const MAX_SCOPE_LEN: usize = 128;
const MAX_SCOPES: usize = 256;
const MAX_TOKEN_NAME_LEN: usize = 64;
const MAX_SERVICE_LEN: usize = 64;

/// Gafaelfawr's username rule: lowercase letters, digits and single inner hyphens, with at least
/// one letter (so a username is never a number).
pub fn valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_USERNAME_LEN
        && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes.iter().any(u8::is_ascii_lowercase)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && !name.contains("--")
}

/// Service tokens belong to bot users: `bot-` followed by a valid username part.
pub fn is_bot_username(name: &str) -> bool {
    name.strip_prefix("bot-").is_some_and(|rest| !rest.is_empty()) && valid_username(name)
}

pub(crate) fn check_username(name: &str) -> Result<(), RequestError> {
    if valid_username(name) {
        Ok(())
    } else {
        Err(RequestError::InvalidUsername(truncate(name, MAX_USERNAME_LEN)))
    }
}

/// A scope matches `^[a-zA-Z0-9:._-]+$`.
pub fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= MAX_SCOPE_LEN
        && scope.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-'))
}

/// Checks and normalises a requested scope list: well formed, known, sorted, deduplicated.
pub(crate) fn normalize_scopes(scopes: &[String], known: &[String]) -> Result<Vec<String>, RequestError> {
    if scopes.len() > MAX_SCOPES {
        return Err(RequestError::InvalidScopes(format!("more than {MAX_SCOPES} scopes")));
    }
    if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
        return Err(RequestError::InvalidScopes(format!("malformed scope {:?}", truncate(bad, MAX_SCOPE_LEN))));
    }
    if let Some(unknown) = scopes.iter().find(|s| !known.contains(s)) {
        return Err(RequestError::InvalidScopes(format!("unknown scope {unknown}")));
    }
    Ok(sorted(scopes))
}

/// Sorted and deduplicated.
pub(crate) fn sorted(scopes: &[String]) -> Vec<String> {
    let mut out = scopes.to_vec();
    out.sort();
    out.dedup();
    out
}

/// Whether every scope of `requested` is in `held` (both sorted).
pub(crate) fn is_subset(requested: &[String], held: &[String]) -> bool {
    requested.iter().all(|s| held.binary_search(s).is_ok())
}

/// A token name: 1-64 characters, no control characters.
pub(crate) fn check_token_name(name: &str) -> Result<(), RequestError> {
    let ok =
        !name.trim().is_empty() && name.chars().count() <= MAX_TOKEN_NAME_LEN && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(RequestError::Invalid("token_name must be 1-64 printable characters".into()))
    }
}

/// A service name follows the scope alphabet.
pub(crate) fn check_service(service: &str) -> Result<(), RequestError> {
    if service.len() <= MAX_SERVICE_LEN && valid_scope(service) {
        Ok(())
    } else {
        Err(RequestError::Invalid("service must be 1-64 characters of [a-zA-Z0-9:._-]".into()))
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Scopes are stored in SQL as one comma-separated string (commas are not in the scope alphabet).
pub(crate) fn join_scopes(scopes: &[String]) -> String {
    scopes.join(",")
}

pub(crate) fn split_scopes(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for good in ["alice", "a1", "1a", "some-user", "bot-mobu"] {
            assert!(valid_username(good), "{good}");
        }
        for bad in ["", "123", "Alice", "-a", "a-", "a--b", "a_b", "a b", &"a".repeat(65)] {
            assert!(!valid_username(bad), "{bad}");
        }
        assert!(is_bot_username("bot-mobu"));
        assert!(!is_bot_username("bot-"));
        assert!(!is_bot_username("robot"));
    }

    #[test]
    fn scopes() {
        let known = vec!["read:all".to_owned(), "user:token".to_owned()];
        assert_eq!(
            normalize_scopes(&["user:token".into(), "read:all".into(), "read:all".into()], &known).unwrap(),
            vec!["read:all", "user:token"]
        );
        assert!(matches!(normalize_scopes(&["exec:admin".into()], &known), Err(RequestError::InvalidScopes(_))));
        assert!(matches!(normalize_scopes(&["a,b".into()], &known), Err(RequestError::InvalidScopes(_))));
        assert!(is_subset(&["read:all".into()], &known));
        assert!(!is_subset(&["exec:admin".into()], &known));
        assert_eq!(split_scopes(&join_scopes(&known)), known);
        assert!(split_scopes("").is_empty());
    }
}
