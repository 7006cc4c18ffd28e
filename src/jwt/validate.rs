use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use jwt_compact::{Claims, TimeOptions, ValidationError};
use serde_json::Value;

use super::claims::RawClaims;
use super::error::excerpt;
use super::token::{ParsedToken, SizeLimits};
use crate::env::UnixTime;
use crate::jwt::{Algorithm, CryptoProvider, JwtClaims, JwtError, JwtKeys, RustCrypto, TokenType, VerifyingKey};

/// Default clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u32 = 2;

/// What a token must be to pass: its issuer, an audience, the token types accepted, and the
/// time and size tolerances. There is no way to accept a token without a `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    issuer: String,
    audience: String,
    types: Vec<TokenType>,
    leeway: u32,
    max_age: Option<u32>,
    limits: SizeLimits,
}

impl ValidationOptions {
    /// Tokens from `issuer`, for `audience` (one of the token's `aud` values), of `token_type`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, token_type: TokenType) -> ValidationOptions {
        ValidationOptions {
            issuer: issuer.into(),
            audience: audience.into(),
            types: vec![token_type],
            leeway: DEFAULT_LEEWAY,
            max_age: None,
            limits: SizeLimits::default(),
        }
    }

    /// Accepts another token type too (an API endpoint takes `access` and `api`).
    pub fn also_accept(mut self, token_type: TokenType) -> ValidationOptions {
        if !self.types.contains(&token_type) {
            self.types.push(token_type);
        }
        self
    }

    /// Allowed clock skew in seconds (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, seconds: u32) -> ValidationOptions {
        self.leeway = seconds;
        self
    }

    /// Refuses tokens issued more than `seconds` ago, whatever their `exp`.
    pub fn max_age(mut self, seconds: u32) -> ValidationOptions {
        self.max_age = Some(seconds);
        self
    }

    pub fn limits(mut self, limits: SizeLimits) -> ValidationOptions {
        self.limits = limits;
        self
    }

    pub fn size_limits(&self) -> &SizeLimits {
        &self.limits
    }

    pub fn leeway_seconds(&self) -> u32 {
        self.leeway
    }
}

/// A token whose signature, header and claims passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJwt {
    claims: JwtClaims,
    kid: String,
    algorithm: Algorithm,
}

impl VerifiedJwt {
    pub fn claims(&self) -> &JwtClaims {
        &self.claims
    }

    pub fn into_claims(self) -> JwtClaims {
        self.claims
    }

    /// The key that verified the token.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// A token that passed every rule before the signature (size, structure, header, key by kid,
/// algorithm), waiting for its signature check: [`Validator::verify_with`] in two steps, for a
/// host that awaits the check itself (a WebCrypto promise, with no Rust future around it).
/// [`PendingSignature::finish`] takes the answer and applies every rule after the signature.
pub struct PendingSignature {
    parsed: ParsedToken<'static>,
    key: VerifyingKey,
}

impl PendingSignature {
    /// The key the token's `kid` selected; the signature must be checked under its algorithm.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// `header.payload`, the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.parsed.signing_input()
    }

    pub fn signature(&self) -> &[u8] {
        self.parsed.signature()
    }

    /// The end of [`Validator::verify_with`] given the signature's answer (`false` is
    /// [`JwtError::BadSignature`]): the claim rules of `validator`, the one that began it.
    pub fn finish(
        self,
        validator: &Validator<'_>,
        signature_valid: bool,
        now: UnixTime,
    ) -> Result<VerifiedJwt, JwtError> {
        if !signature_valid {
            return Err(JwtError::BadSignature);
        }
        validator.accept(&self.parsed, &self.key, now)
    }
}

impl std::fmt::Debug for PendingSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingSignature({:?})", self.key)
    }
}

/// One rule of validation, as the per-rule [`ValidationReport`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Size limits, three base64url parts, JSON header and claims.
    Format,
    /// Supported `alg`, no `crit`, a well-formed `kid`.
    Header,
    /// A key with the token's `kid`.
    Key,
    /// `alg` is the key's algorithm and the signature verifies.
    Signature,
    Expiry,
    NotBefore,
    /// `iat` present, not in the future, and within the maximum age.
    IssuedAt,
    Issuer,
    Audience,
    Type,
    /// `sub` and `jti` present.
    Identity,
}

impl Rule {
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Format => "format",
            Rule::Header => "header",
            Rule::Key => "kid",
            Rule::Signature => "signature",
            Rule::Expiry => "exp",
            Rule::NotBefore => "nbf",
            Rule::IssuedAt => "iat",
            Rule::Issuer => "iss",
            Rule::Audience => "aud",
            Rule::Type => "type",
            Rule::Identity => "sub_jti",
        }
    }
}

/// The rules on claims that depend on the clock; the first rules on claims.
pub(super) const TIME_RULES: [Rule; 3] = [Rule::Expiry, Rule::NotBefore, Rule::IssuedAt];

/// The rules on claims, in the order [`Validator::verify`] applies them.
const CLAIM_RULES: [Rule; 7] =
    [Rule::Expiry, Rule::NotBefore, Rule::IssuedAt, Rule::Issuer, Rule::Audience, Rule::Type, Rule::Identity];

/// How one rule went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(JwtError),
    /// Not evaluated: a rule it depends on failed (no claims to check if the token does not parse).
    NotChecked,
}

/// Every rule's outcome for one token, for the token inspector. The same checks as
/// [`Validator::verify`]; claim rules are evaluated even when the signature fails, and are
/// then about claims nobody vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationReport {
    pub rules: Vec<(Rule, Outcome)>,
}

impl ValidationReport {
    pub fn passed(&self) -> bool {
        self.rules.iter().all(|(_, outcome)| *outcome == Outcome::Pass)
    }

    pub fn outcome(&self, rule: Rule) -> &Outcome {
        self.rules.iter().find(|(r, _)| *r == rule).map_or(&Outcome::NotChecked, |(_, outcome)| outcome)
    }
}

/// Verifies tokens against a key set and [`ValidationOptions`]. The key is chosen by `kid`
/// and brings its own algorithm; the token's `alg` must equal it.
#[derive(Debug, Clone)]
pub struct Validator<'k> {
    keys: &'k JwtKeys,
    options: Cow<'k, ValidationOptions>,
}

impl<'k> Validator<'k> {
    pub fn new(keys: &'k JwtKeys, options: ValidationOptions) -> Validator<'k> {
        Validator { keys, options: Cow::Owned(options) }
    }

    /// [`Validator::new`] with options kept elsewhere (a verifier whose options are fixed),
    /// without a copy per token.
    pub fn with_options(keys: &'k JwtKeys, options: &'k ValidationOptions) -> Validator<'k> {
        Validator { keys, options: Cow::Borrowed(options) }
    }

    pub fn options(&self) -> &ValidationOptions {
        &self.options
    }

    /// Size -> structure -> header rules -> key by kid -> algorithm -> signature -> claims.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<VerifiedJwt, JwtError> {
        let (parsed, key) = self.signed(token)?;
        if !RustCrypto::check(key, parsed.signing_input(), parsed.signature()) {
            return Err(JwtError::BadSignature);
        }
        self.accept(&parsed, key, now)
    }

    /// [`Validator::verify`] with the signature checked by `crypto`; every other rule is the
    /// same code.
    pub async fn verify_with(
        &self,
        crypto: &dyn CryptoProvider,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedJwt, JwtError> {
        let (parsed, key) = self.signed(token)?;
        if !crypto.verify_signature(key, parsed.signing_input(), parsed.signature()).await {
            return Err(JwtError::BadSignature);
        }
        self.accept(&parsed, key, now)
    }

    /// The rules of [`Validator::verify_with`] up to the signature; the token then waits for a
    /// signature check, and [`PendingSignature::finish`] does the rest.
    pub fn begin(&self, token: &str) -> Result<PendingSignature, JwtError> {
        let (parsed, key) = self.signed(token)?;
        Ok(PendingSignature { parsed: parsed.into_owned(), key: key.clone() })
    }

    /// Evaluates every rule and reports each outcome instead of stopping at the first failure.
    pub fn report(&self, token: &str, now: UnixTime) -> ValidationReport {
        self.report_using(token, now, |key, parsed| RustCrypto::check(key, parsed.signing_input(), parsed.signature()))
    }

    /// [`Validator::report`] with the signature checked by `crypto`.
    pub async fn report_with(&self, crypto: &dyn CryptoProvider, token: &str, now: UnixTime) -> ValidationReport {
        let signature = match self.signed(token) {
            Ok((parsed, key)) => crypto.verify_signature(key, parsed.signing_input(), parsed.signature()).await,
            Err(_) => false,
        };
        // `report_using` asks for the signature exactly when `signed` succeeded.
        self.report_using(token, now, |_, _| signature)
    }

    /// The rules before the signature: size, structure, header, key by kid, algorithm.
    fn signed<'t>(&self, token: &'t str) -> Result<(ParsedToken<'t>, &'k VerifyingKey), JwtError>
    where
        'k: 't,
    {
        let header_part = token.split('.').next().unwrap_or_default();
        let known = self.keys.by_known_header(header_part);
        let parsed = ParsedToken::parse_known(token, &self.options.limits, known.map(|(header, _)| header))?;
        if let Some((_, key)) = known {
            // Its header rules, key and algorithm held for this header when the key was added.
            return Ok((parsed, key));
        }
        parsed.check_header()?;
        let key = self.keys.select(parsed.header.kid.as_deref())?;
        check_algorithm(key, &parsed)?;
        Ok((parsed, key))
    }

    /// The rules after the signature: the claims.
    fn accept(&self, parsed: &ParsedToken<'_>, key: &VerifyingKey, now: UnixTime) -> Result<VerifiedJwt, JwtError> {
        let claims = parsed.claims()?;
        for rule in CLAIM_RULES {
            self.check_claim(rule, &claims, now)?;
        }
        let claims = verified_claims(claims)?;
        Ok(VerifiedJwt { claims, kid: key.kid().to_owned(), algorithm: key.algorithm() })
    }

    fn report_using(
        &self,
        token: &str,
        now: UnixTime,
        signature: impl FnOnce(&VerifyingKey, &ParsedToken<'_>) -> bool,
    ) -> ValidationReport {
        let mut rules = Vec::with_capacity(4 + CLAIM_RULES.len());
        let parsed = ParsedToken::parse(token, &self.options.limits).and_then(|p| p.claims().map(|c| (p, c)));
        let (parsed, claims) = match parsed {
            Ok(parsed) => parsed,
            Err(err) => {
                rules.push((Rule::Format, Outcome::Fail(err)));
                let rest = [Rule::Header, Rule::Key, Rule::Signature].into_iter().chain(CLAIM_RULES);
                rules.extend(rest.map(|rule| (rule, Outcome::NotChecked)));
                return ValidationReport { rules };
            }
        };
        rules.push((Rule::Format, Outcome::Pass));
        let header = parsed.check_header();
        let key = match &header {
            Ok(_) => Some(self.keys.select(parsed.header.kid.as_deref())),
            Err(_) => None,
        };
        rules.push((Rule::Header, outcome(header.map(drop))));
        let signature = match &key {
            Some(Ok(key)) => outcome(check_algorithm(key, &parsed).and_then(|()| {
                if signature(key, &parsed) {
                    Ok(())
                } else {
                    Err(JwtError::BadSignature)
                }
            })),
            _ => Outcome::NotChecked,
        };
        rules.push((Rule::Key, key.map_or(Outcome::NotChecked, |key| outcome(key.map(drop)))));
        rules.push((Rule::Signature, signature));
        for rule in CLAIM_RULES {
            rules.push((rule, outcome(self.check_claim(rule, &claims, now))));
        }
        ValidationReport { rules }
    }

    pub(super) fn keys(&self) -> &'k JwtKeys {
        self.keys
    }

    pub(super) fn check_claim(&self, rule: Rule, claims: &Claims<RawClaims>, now: UnixTime) -> Result<(), JwtError> {
        let members = &claims.custom;
        match rule {
            Rule::Expiry => check_expiry(claims, now, self.options.leeway),
            Rule::NotBefore => check_not_before(claims, now, self.options.leeway),
            Rule::IssuedAt => check_issued_at(claims, now, self.options.leeway, self.options.max_age),
            Rule::Issuer => check_issuer(members, &self.options.issuer),
            Rule::Audience => check_audience(members, &self.options.audience),
            Rule::Type => check_type(members, &self.options.types).map(drop),
            Rule::Identity => string_claim(members, "sub").and(string_claim(members, "jti")).map(drop),
            Rule::Format | Rule::Header | Rule::Key | Rule::Signature => Ok(()),
        }
    }
}

fn outcome(result: Result<(), JwtError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Pass,
        Err(err) => Outcome::Fail(err),
    }
}

/// The token's `alg` must be the key's algorithm (never the other way round); the signature is
/// then checked under that algorithm.
pub(super) fn check_algorithm(key: &VerifyingKey, parsed: &ParsedToken<'_>) -> Result<(), JwtError> {
    let expected = key.algorithm();
    if parsed.header.alg != expected.name() {
        return Err(JwtError::AlgorithmMismatch { expected, found: excerpt(&parsed.header.alg) });
    }
    Ok(())
}

/// jwt-compact's time checks, on a clock that is the `now` passed in.
fn time_options(now: UnixTime, leeway: u32) -> TimeOptions<impl Fn() -> DateTime<Utc>> {
    let now = DateTime::from_timestamp(now, 0).unwrap_or(if now < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    TimeOptions::new(Duration::seconds(i64::from(leeway)), move || now)
}

fn check_expiry(claims: &Claims<RawClaims>, now: UnixTime, leeway: u32) -> Result<(), JwtError> {
    match claims.validate_expiration(&time_options(now, leeway)) {
        Ok(_) => Ok(()),
        Err(ValidationError::NoClaim(_)) => Err(JwtError::MissingClaim { claim: "exp" }),
        Err(_) => Err(JwtError::Expired { now, exp: seconds(claims.expiration) }),
    }
}

fn check_not_before(claims: &Claims<RawClaims>, now: UnixTime, leeway: u32) -> Result<(), JwtError> {
    // jwt-compact computes `nbf - leeway` unchecked; an nbf at the very start of chrono's range
    // would overflow (and panic) there. Such an nbf is in the past for any clock.
    let leeway_delta = Duration::seconds(i64::from(leeway));
    if claims.not_before.is_some_and(|nbf| nbf.checked_sub_signed(leeway_delta).is_none()) {
        return Ok(());
    }
    match claims.validate_maturity(&time_options(now, leeway)) {
        Ok(_) | Err(ValidationError::NoClaim(_)) => Ok(()),
        Err(_) => Err(JwtError::NotYetValid { now, nbf: seconds(claims.not_before) }),
    }
}

fn check_issued_at(
    claims: &Claims<RawClaims>,
    now: UnixTime,
    leeway: u32,
    max_age: Option<u32>,
) -> Result<(), JwtError> {
    let iat = claims.issued_at.ok_or(JwtError::MissingClaim { claim: "iat" })?.timestamp();
    let leeway = i64::from(leeway);
    if iat > now.saturating_add(leeway) {
        return Err(JwtError::IssuedInFuture { now, iat });
    }
    match max_age {
        Some(max_age) if now.saturating_sub(iat) > i64::from(max_age) + leeway => {
            Err(JwtError::TooOld { now, iat, max_age })
        }
        _ => Ok(()),
    }
}

fn check_issuer(members: &RawClaims, expected: &str) -> Result<(), JwtError> {
    let issuer = string_claim(members, "iss")?;
    if issuer != expected {
        return Err(JwtError::WrongIssuer { expected: expected.to_owned(), found: excerpt(issuer) });
    }
    Ok(())
}

/// `aud` is a string or an array of strings (RFC 7519 section 4.1.3); `expected` must be one.
fn check_audience(members: &RawClaims, expected: &str) -> Result<(), JwtError> {
    let audiences = audience_claim(members)?;
    if !audiences.contains(&expected) {
        let found = audiences.iter().take(4).map(|aud| excerpt(aud)).collect();
        return Err(JwtError::WrongAudience { expected: expected.to_owned(), found });
    }
    Ok(())
}

fn check_type(members: &RawClaims, accepted: &[TokenType]) -> Result<TokenType, JwtError> {
    let text = string_claim(members, "type")?;
    match TokenType::parse(text) {
        Some(token_type) if accepted.contains(&token_type) => Ok(token_type),
        _ => Err(JwtError::WrongType { expected: accepted.to_vec(), found: excerpt(text) }),
    }
}

fn string_claim<'m>(members: &'m RawClaims, name: &'static str) -> Result<&'m str, JwtError> {
    match members.get(name) {
        None => Err(JwtError::MissingClaim { claim: name }),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(JwtError::Malformed { part: name }),
    }
}

fn audience_claim(members: &RawClaims) -> Result<Vec<&str>, JwtError> {
    match members.get("aud") {
        None => Err(JwtError::MissingClaim { claim: "aud" }),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(auds)) if !auds.is_empty() => {
            auds.iter().map(|aud| aud.as_str().ok_or(JwtError::Malformed { part: "aud" })).collect()
        }
        Some(_) => Err(JwtError::Malformed { part: "aud" }),
    }
}

fn seconds(time: Option<DateTime<Utc>>) -> UnixTime {
    time.map_or(0, |time| time.timestamp())
}

/// The checked claims as [`JwtClaims`]; every claim read here passed its rule already. The
/// members are moved out of the parsed claims; what stays are the extra claims.
fn verified_claims(claims: Claims<RawClaims>) -> Result<JwtClaims, JwtError> {
    let (exp, iat, nbf) = (claims.expiration, claims.issued_at, claims.not_before);
    let mut members = claims.custom;
    let token_type = check_type(&members, &[TokenType::Access, TokenType::Refresh, TokenType::Api])?;
    let aud = match members.take("aud") {
        Some(Value::String(aud)) => vec![aud],
        Some(Value::Array(auds)) if !auds.is_empty() => auds
            .into_iter()
            .map(|aud| match aud {
                Value::String(aud) => Ok(aud),
                _ => Err(JwtError::Malformed { part: "aud" }),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::Malformed { part: "aud" }),
        None => return Err(JwtError::MissingClaim { claim: "aud" }),
    };
    let (iss, sub, jti) =
        (take_string(&mut members, "iss")?, take_string(&mut members, "sub")?, take_string(&mut members, "jti")?);
    members.take("type");
    Ok(JwtClaims {
        iss,
        sub,
        aud,
        exp: seconds(exp),
        iat: seconds(iat),
        nbf: nbf.map(|nbf| nbf.timestamp()),
        jti,
        token_type,
        extra: members.into_other(),
    })
}

fn take_string(members: &mut RawClaims, name: &'static str) -> Result<String, JwtError> {
    match members.take(name) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(JwtError::Malformed { part: name }),
        None => Err(JwtError::MissingClaim { claim: name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{issue, SigningKey};

    fn setup() -> (JwtKeys, JwtClaims) {
        let keys = JwtKeys::new(SigningKey::from_bytes(Algorithm::EdDsa, &[5; 32]).unwrap());
        let claims = JwtClaims::new("https://pc.example", "alice", "api", TokenType::Access, 1_000, 600, "j1")
            .with_extra("datasets", serde_json::json!({"gaia/*": ["read"]}))
            .unwrap();
        (keys, claims)
    }

    fn options() -> ValidationOptions {
        ValidationOptions::new("https://pc.example", "api", TokenType::Access)
    }

    #[test]
    fn verify_returns_the_claims_as_issued() {
        let (keys, mut claims) = setup();
        claims.aud.push("other".into());
        claims.nbf = Some(1_000);
        let token = keys.issue(&claims).unwrap();
        let verified = Validator::new(&keys, options()).verify(&token, 1_100).unwrap();
        assert_eq!(verified.claims(), &claims);
        assert_eq!(verified.kid(), keys.current().unwrap().kid());
        assert_eq!(verified.algorithm(), Algorithm::EdDsa);
    }

    /// A provider with a fixed answer, counting its calls.
    struct Fixed(bool, std::cell::Cell<u32>);

    impl CryptoProvider for Fixed {
        fn verify_signature<'a>(
            &'a self,
            _: &'a VerifyingKey,
            _: &'a [u8],
            _: &'a [u8],
        ) -> crate::LocalBoxFuture<'a, bool> {
            self.1.set(self.1.get() + 1);
            Box::pin(std::future::ready(self.0))
        }
    }

    #[test]
    fn a_provider_checks_only_the_signature() {
        let (keys, claims) = setup();
        let validator = Validator::new(&keys, options());
        let token = keys.issue(&claims).unwrap();
        futures::executor::block_on(async {
            let rust = validator.verify_with(&RustCrypto, &token, 1_100).await.unwrap();
            assert_eq!(rust, validator.verify(&token, 1_100).unwrap());
            let no = Fixed(false, Default::default());
            assert_eq!(validator.verify_with(&no, &token, 1_100).await, Err(JwtError::BadSignature));
            let report = validator.report_with(&no, &token, 1_100).await;
            assert_eq!(report.outcome(Rule::Signature), &Outcome::Fail(JwtError::BadSignature));
            assert_eq!(report.outcome(Rule::Expiry), &Outcome::Pass);
            // A provider that says yes to anything still cannot make the other rules pass.
            let yes = Fixed(true, Default::default());
            let expired = validator.verify_with(&yes, &token, 5_000).await.unwrap_err();
            assert_eq!(expired, JwtError::Expired { now: 5_000, exp: 1_600 });
            let none = format!("eyJhbGciOiJub25lIn0.{}", token.split_once('.').unwrap().1);
            assert_eq!(validator.verify_with(&yes, &none, 1_100).await.unwrap_err().kind(), "unsupported_algorithm");
            let hs = r#"{"alg":"HS256","kid":"KID"}"#.replace("KID", keys.current().unwrap().kid());
            let hs = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, hs);
            let confused = format!("{hs}.{}", token.split_once('.').unwrap().1);
            let mismatch = validator.verify_with(&yes, &confused, 1_100).await.unwrap_err();
            assert_eq!(mismatch.kind(), "algorithm_mismatch", "alg comes from the key, before any provider");
            assert!(validator.report_with(&yes, &token, 1_100).await.passed());
            assert_eq!(yes.1.get(), 2, "asked only when header, kid and alg passed");
        });
    }

    /// `begin` then `finish` gives what `verify_with` gives, for every answer of the signature.
    #[test]
    fn begin_and_finish_are_verify_with_in_two_steps() {
        let (keys, claims) = setup();
        let validator = Validator::new(&keys, options());
        let token = keys.issue(&claims).unwrap();
        let (header, rest) = token.split_once('.').unwrap();
        let none = format!("eyJhbGciOiJub25lIn0.{rest}");
        let hs = r#"{"alg":"HS256","kid":"KID"}"#.replace("KID", keys.current().unwrap().kid());
        let b64 = |text: &str| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text);
        let confused = format!("{}.{rest}", b64(&hs));
        let unknown_kid = format!("{}.{rest}", b64(r#"{"alg":"EdDSA","kid":"nope"}"#));
        let garbage = format!("{header}.e30.AA");
        let valid = token.as_str();
        for token in [valid, &none, &confused, &unknown_kid, &garbage, "x.y", ""] {
            for (answer, now) in [(true, 1_100), (false, 1_100), (true, 5_000), (false, 5_000)] {
                let fixed = Fixed(answer, Default::default());
                let expected = futures::executor::block_on(validator.verify_with(&fixed, token, now));
                let split = validator.begin(token).and_then(|pending| {
                    assert_eq!(pending.key().kid(), keys.current().unwrap().kid());
                    assert_eq!(pending.signing_input(), token.rsplit_once('.').unwrap().0.as_bytes());
                    let genuine = RustCrypto::check(pending.key(), pending.signing_input(), pending.signature());
                    assert_eq!(genuine, token == valid);
                    pending.finish(&validator, answer, now)
                });
                assert_eq!(split, expected, "{token} {answer} {now}");
            }
        }
    }

    #[test]
    fn report_evaluates_every_rule() {
        let (keys, claims) = setup();
        let validator = Validator::new(&keys, options());
        let token = keys.issue(&claims).unwrap();
        let report = validator.report(&token, 1_100);
        assert!(report.passed(), "{report:?}");
        assert_eq!(report.rules.len(), 4 + CLAIM_RULES.len());

        let forged = issue(&SigningKey::from_bytes(Algorithm::EdDsa, &[6; 32]).unwrap(), &claims).unwrap();
        let (header, _) = token.split_once('.').unwrap();
        let forged = format!("{header}.{}", forged.split_once('.').unwrap().1);
        let report = validator.report(&forged, 5_000);
        assert_eq!(report.outcome(Rule::Key), &Outcome::Pass);
        assert_eq!(report.outcome(Rule::Signature), &Outcome::Fail(JwtError::BadSignature));
        assert_eq!(report.outcome(Rule::Expiry), &Outcome::Fail(JwtError::Expired { now: 5_000, exp: 1_600 }));
        assert_eq!(report.outcome(Rule::Issuer), &Outcome::Pass);
        assert!(!report.passed());

        let report = validator.report("garbage", 1_100);
        assert!(matches!(report.outcome(Rule::Format), Outcome::Fail(_)));
        assert_eq!(report.outcome(Rule::Type), &Outcome::NotChecked);
    }

    #[test]
    fn report_skips_key_and_signature_when_the_header_fails() {
        let (keys, claims) = setup();
        let token = keys.issue(&claims).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let none = format!(
            "{}.{rest}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"none"}"#)
        );
        let report = Validator::new(&keys, options()).report(&none, 1_100);
        assert_eq!(
            report.outcome(Rule::Header).clone(),
            Outcome::Fail(JwtError::UnsupportedAlgorithm { alg: "none".into() })
        );
        assert_eq!(report.outcome(Rule::Signature), &Outcome::NotChecked);
        assert_eq!(report.outcome(Rule::Type), &Outcome::Pass, "claims are still shown, unverified");
    }

    #[test]
    fn extreme_clocks_do_not_panic() {
        let (keys, claims) = setup();
        let token = keys.issue(&claims).unwrap();
        let validator = Validator::new(&keys, options().max_age(u32::MAX).leeway(u32::MAX));
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let _ = validator.verify(&token, now);
            let _ = validator.report(&token, now);
        }
        let earliest = DateTime::<Utc>::MIN_UTC.timestamp();
        let latest = DateTime::<Utc>::MAX_UTC.timestamp();
        for (nbf, iat, exp) in [(earliest, earliest, latest), (latest, latest, latest), (earliest, latest, earliest)] {
            let members = claims.custom_members().unwrap();
            let mut raw = Claims::new(RawClaims::from_map(members));
            raw.not_before = DateTime::from_timestamp(nbf, 0);
            raw.issued_at = DateTime::from_timestamp(iat, 0);
            raw.expiration = DateTime::from_timestamp(exp, 0);
            let strict = Validator::new(&keys, options());
            for rule in CLAIM_RULES {
                let _ = strict.check_claim(rule, &raw, 1_100);
                let _ = validator.check_claim(rule, &raw, 1_100);
            }
        }
    }
}
