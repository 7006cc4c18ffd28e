//! The compact serialization: size limits, the three parts, the header rules, and untrusted
//! inspection.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::{Claims, ParseError, UntrustedToken};
use serde::de::{Deserialize, Deserializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::claims::{ClaimSet, RawClaims, UniqueMembers};
use super::error::excerpt;
use super::sign::HEADER_TYP;
use crate::jwt::{Algorithm, JwtError};

/// Longest `kid` accepted, in a token header or a JWK.
pub const MAX_KID_LEN: usize = 128;

/// Upper bounds on a token and its parts, in bytes of the encoded text. Checked before anything
/// is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    pub token: usize,
    pub header: usize,
    pub claims: usize,
    /// 1,368 fits an 8192-bit RSA signature; EdDSA and ES256 need 86.
    pub signature: usize,
}

impl Default for SizeLimits {
    fn default() -> SizeLimits {
        SizeLimits { token: 8 * 1024, header: 1024, claims: 6 * 1024, signature: 1368 }
    }
}

/// A token header as sent, for display and diagnosis. Nothing in it is trusted: the verifier
/// only looks up `kid` and compares `alg` with the key's algorithm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenHeader {
    pub alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Every other member (`crit`, `jwk`, `x5c`...), none of which is ever used.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl TokenHeader {
    /// The header rules: a supported `alg` (never `none`), no `crit` (this module implements no
    /// extension), and a `kid`, if any, that is a plain identifier.
    fn check(&self) -> Result<Algorithm, JwtError> {
        let alg = Algorithm::from_name(&self.alg)
            .ok_or_else(|| JwtError::UnsupportedAlgorithm { alg: excerpt(&self.alg) })?;
        match self.other.get("crit") {
            None => {}
            Some(Value::Array(names)) => match names.first() {
                Some(Value::String(name)) => return Err(JwtError::UnknownCriticalHeader { name: excerpt(name) }),
                _ => return Err(JwtError::Malformed { part: "crit" }),
            },
            Some(_) => return Err(JwtError::Malformed { part: "crit" }),
        }
        if self.kid.as_deref().is_some_and(|kid| !valid_kid(kid)) {
            return Err(JwtError::Malformed { part: "kid" });
        }
        Ok(alg)
    }
}

/// The header [`issue`](crate::jwt::issue) writes for a key, `{"alg","kid","typ":"JWT"}`, as
/// encoded text and as read: every token the key signs starts with it, and so do tokens from
/// most other libraries given the same three members. A token whose header has exactly this
/// text is not decoded or read again ([`ParsedToken::parse_known`]).
#[derive(Debug, Clone)]
pub(super) struct KnownHeader {
    encoded: Box<str>,
    header: TokenHeader,
}

impl KnownHeader {
    /// `None` for a header that would not pass the header rules with this algorithm (a kid
    /// that is not a plain identifier): such tokens take the usual path, and fail there.
    pub(super) fn new(alg: Algorithm, kid: &str) -> Option<KnownHeader> {
        // A plain kid needs no escaping in JSON.
        if !valid_kid(kid) {
            return None;
        }
        let encoded =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}","kid":"{kid}","typ":"{HEADER_TYP}"}}"#, alg.name()));
        // Read as any token's header is, so the two cannot differ.
        let header = plain_header(&encoded)?;
        let passes = header.check().ok() == Some(alg) && header.kid.as_deref() == Some(kid);
        passes.then(|| KnownHeader { encoded: encoded.into(), header })
    }

    /// The header, if `encoded` is its text.
    pub(super) fn matching(&self, encoded: &str) -> Option<&TokenHeader> {
        (*self.encoded == *encoded).then_some(&self.header)
    }
}

/// A token parsed but not verified: what [`inspect`] returns. Use it to show a token, never to
/// decide anything; a decision needs a [`Validator`](crate::jwt::Validator).
#[derive(Debug, Clone, PartialEq)]
pub struct UntrustedJwt {
    header: TokenHeader,
    claims: Map<String, Value>,
}

impl UntrustedJwt {
    pub fn header(&self) -> &TokenHeader {
        &self.header
    }

    /// The claims, unverified: the signature has not been checked.
    pub fn unverified_claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Parses a token without checking its signature or claims (size limits and structure only).
pub fn inspect(token: &str, limits: &SizeLimits) -> Result<UntrustedJwt, JwtError> {
    let parsed = ParsedToken::parse(token, limits)?;
    let claims = parsed.claims()?;
    Ok(UntrustedJwt { header: parsed.header.into_owned(), claims: flatten_claims(claims) })
}

/// Whether `kid` is 1-128 characters of `[A-Za-z0-9._-]`: enough for thumbprints, UUIDs and
/// dates, and nothing that could mean a path, a query or markup wherever a kid ends up.
pub(crate) fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A token split and decoded, header and claims still untrusted.
pub(super) struct ParsedToken<'a> {
    /// Borrowed when the header was one the key set knows (see [`KnownHeader`]).
    pub(super) header: Cow<'a, TokenHeader>,
    signing_input: Cow<'a, str>,
    /// The decoded payload and signature.
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> ParsedToken<'a> {
    /// Size limits, exactly three parts, base64url, JSON header with unique members.
    pub(super) fn parse(token: &'a str, limits: &SizeLimits) -> Result<ParsedToken<'a>, JwtError> {
        ParsedToken::parse_known(token, limits, None)
    }

    /// [`ParsedToken::parse`] with the header given, when the caller has matched the token's
    /// header text with a [`KnownHeader`]: what decoding and reading that text would give,
    /// without doing either.
    pub(super) fn parse_known(
        token: &'a str,
        limits: &SizeLimits,
        known: Option<&'a TokenHeader>,
    ) -> Result<ParsedToken<'a>, JwtError> {
        check_size("token", token.len(), limits.token)?;
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload_part), Some(signature_part), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed { part: "structure" });
        };
        check_size("header", header_part.len(), limits.header)?;
        check_size("claims", payload_part.len(), limits.claims)?;
        check_size("signature", signature_part.len(), limits.signature)?;
        // Payload and signature are decoded here (jwt-compact's constant-time decoder is the
        // slowest step in wasm, and they are no secret); the header, as before, by jwt-compact,
        // which then reads its JSON. Every decoding error comes before any JSON error, as there.
        let base64 = |_| JwtError::Malformed { part: "base64url encoding" };
        let (payload, signature) = (decode(payload_part).map_err(base64)?, decode(signature_part).map_err(base64)?);
        let header = match known {
            Some(header) => Cow::Borrowed(header),
            None => Cow::Owned(match plain_header(header_part) {
                Some(header) => header,
                None => full_header(header_part)?,
            }),
        };
        let signing_input = Cow::Borrowed(&token[..header_part.len() + 1 + payload_part.len()]);
        Ok(ParsedToken { header, signing_input, payload, signature })
    }

    /// The header rules ([`TokenHeader::check`]).
    pub(super) fn check_header(&self) -> Result<Algorithm, JwtError> {
        self.header.check()
    }

    /// The same token, owning its signing input and header.
    pub(super) fn into_owned(self) -> ParsedToken<'static> {
        let signing_input = Cow::Owned(self.signing_input.into_owned());
        let header = Cow::Owned(self.header.into_owned());
        ParsedToken { header, signing_input, payload: self.payload, signature: self.signature }
    }

    /// `header.payload`, the bytes the signature covers.
    pub(super) fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub(super) fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The decoded payload, which need not be JSON (RFC 8037's example is plain text).
    pub(super) fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The claim set: a JSON object with unique member names; `exp`/`nbf`/`iat` numeric.
    pub(super) fn claims(&self) -> Result<Claims<RawClaims>, JwtError> {
        let claims =
            serde_json::from_slice::<ClaimSet>(&self.payload).map_err(|_| JwtError::Malformed { part: "claims" })?;
        Ok(claims.0)
    }
}

/// Unpadded base64url as jwt-compact decodes it (base64ct's `Base64UrlUnpadded`): no padding,
/// no whitespace, zero trailing bits. The tests hold both decoders to the same answers.
fn decode(part: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(part)
}

/// The usual header: `alg`, with `kid` and `typ` or not, all plain strings (no escapes).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainHeader<'a> {
    alg: &'a str,
    #[serde(borrow)]
    kid: Option<&'a str>,
    #[serde(borrow)]
    typ: Option<&'a str>,
}

/// The usual header read directly; `None` for anything else (another member, an escape, an
/// error), which [`full_header`] then reads. Where this reads a header, it is jwt-compact's
/// reading (a test holds them together), without its constant-time decoder and `flatten`.
fn plain_header(part: &str) -> Option<TokenHeader> {
    let json = decode(part).ok()?;
    let plain = serde_json::from_slice::<PlainHeader<'_>>(&json).ok()?;
    Some(TokenHeader {
        alg: plain.alg.to_owned(),
        kid: plain.kid.map(str::to_owned),
        typ: plain.typ.map(str::to_owned),
        other: Map::new(),
    })
}

/// Any header, through jwt-compact: its decoder, its `Header` and `cty` rules, the other
/// members kept (duplicates refused).
fn full_header(part: &str) -> Result<TokenHeader, JwtError> {
    let header_only = format!("{part}..");
    let untrusted = UntrustedToken::<HeaderMembers>::try_from(header_only.as_str()).map_err(|err| match err {
        ParseError::InvalidBase64Encoding => JwtError::Malformed { part: "base64url encoding" },
        ParseError::UnsupportedContentType(_) => JwtError::Malformed { part: "content type" },
        _ => JwtError::Malformed { part: "header" },
    })?;
    let fields = untrusted.header();
    Ok(TokenHeader {
        alg: untrusted.algorithm().to_owned(),
        kid: fields.key_id.clone(),
        typ: fields.token_type.clone(),
        other: fields.other_fields.0.clone(),
    })
}

fn check_size(part: &'static str, len: usize, limit: usize) -> Result<(), JwtError> {
    if len > limit {
        return Err(JwtError::Oversize { part, len, limit });
    }
    Ok(())
}

/// jwt-compact's `Claims` with the time claims put back among the others, as integers.
fn flatten_claims(claims: Claims<RawClaims>) -> Map<String, Value> {
    let mut members = claims.custom.into_map();
    for (name, time) in [("exp", claims.expiration), ("nbf", claims.not_before), ("iat", claims.issued_at)] {
        if let Some(time) = time {
            members.insert(name.into(), time.timestamp().into());
        }
    }
    members
}

/// The header members jwt-compact's `Header` does not take, with duplicates refused.
#[derive(Debug, Clone, Default)]
struct HeaderMembers(Map<String, Value>);

impl<'de> Deserialize<'de> for HeaderMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const CONSUMED: &[&str] = &["alg", "cty", "jku", "kid", "x5u", "x5t", "x5t#S256", "typ"];
        deserializer.deserialize_map(UniqueMembers { consumed: CONSUMED }).map(HeaderMembers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
    }

    #[test]
    fn a_known_header_is_what_reading_it_gives() {
        let known = KnownHeader::new(Algorithm::Es256, "k-1.a_B").unwrap();
        let text = r#"{"alg":"ES256","kid":"k-1.a_B","typ":"JWT"}"#;
        let token = token(text, r#"{"sub":"a"}"#);
        let read = ParsedToken::parse(&token, &SizeLimits::default()).unwrap();
        let header = known.matching(token.split('.').next().unwrap()).unwrap();
        let taken = ParsedToken::parse_known(&token, &SizeLimits::default(), Some(header)).unwrap();
        assert!(matches!(taken.header, Cow::Borrowed(_)));
        assert_eq!(*taken.header, *read.header);
        assert_eq!(
            (taken.signing_input(), taken.payload(), taken.signature()),
            (read.signing_input(), read.payload(), read.signature())
        );
        // Any other text is not the known header: other order, spacing, members.
        for other in [
            r#"{"kid":"k-1.a_B","alg":"ES256","typ":"JWT"}"#,
            r#"{"alg":"ES256", "kid":"k-1.a_B","typ":"JWT"}"#,
            r#"{"alg":"ES256","kid":"k-1.a_B"}"#,
        ] {
            assert!(known.matching(&b64(other)).is_none(), "{other}");
        }
    }

    #[test]
    fn no_known_header_for_a_kid_the_header_rules_refuse() {
        for kid in ["", "a b", "a/b", "\"a", &"k".repeat(MAX_KID_LEN + 1)] {
            assert!(KnownHeader::new(Algorithm::Hs256, kid).is_none(), "{kid}");
        }
        assert!(KnownHeader::new(Algorithm::Hs256, &"k".repeat(MAX_KID_LEN)).is_some());
    }

    fn parse_err(token: &str) -> JwtError {
        match ParsedToken::parse(token, &SizeLimits::default()) {
            Err(err) => err,
            Ok(parsed) => parsed.check_header().unwrap_err(),
        }
    }

    #[test]
    fn splits_into_exactly_three_parts() {
        let good = token(r#"{"alg":"HS256"}"#, r#"{"a":1}"#);
        let parsed = ParsedToken::parse(&good, &SizeLimits::default()).unwrap();
        assert_eq!(parsed.check_header().unwrap(), Algorithm::Hs256);
        assert_eq!(parsed.signature(), b"sig");
        assert_eq!(parsed.signing_input(), good.rsplit_once('.').unwrap().0.as_bytes());
        for bad in
            [good.replace('.', ""), format!("{good}."), good[..good.rfind('.').unwrap()].to_owned(), String::new()]
        {
            assert_eq!(parse_err(&bad).kind(), "malformed", "{bad}");
        }
    }

    /// The payload and signature decoder accepts exactly what jwt-compact's base64ct accepts.
    #[test]
    fn decodes_base64url_exactly_as_jwt_compact() {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let alphabet = b"AQgw_-Zaz09+/=. \n\xc3";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut inputs: Vec<String> =
            ["", "A", "AA", "AB", "AAA", "AAB", "AAAA", "AA==", "QQ", "QR", "QUI", "QUJ", "_-_-"]
                .into_iter()
                .map(str::to_owned)
                .collect();
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        for _ in 0..2_000 {
            let raw: Vec<u8> = (0..(next() % 70)).map(|_| next() as u8).collect();
            inputs.push(URL_SAFE_NO_PAD.encode(&raw));
        }
        for input in &inputs {
            assert_eq!(decode(input).ok(), Base64UrlUnpadded::decode_vec(input).ok(), "{input:?}");
        }
    }

    /// Where the direct reading of the usual header succeeds, jwt-compact reads the same header.
    #[test]
    fn plain_header_reads_what_jwt_compact_reads() {
        let cases = [
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#"{"typ":"JWT","kid":"k1","alg":"ES256"}"#,
            r#" { "alg" : "EdDSA" , "kid" : "a-b_c.d" } "#,
            r#"{"alg":"none"}"#,
            r#"{"alg":""}"#,
            r#"{"alg":"HS256","kid":null}"#,
            r#"{"alg":"HS256","typ":null,"kid":"k"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":"HS256","kid":7}"#,
            r#"{"alg":"HS256","kid":["k"]}"#,
            r#"{"alg":"HS256","kid":"k","kid":"k"}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
            r#"{"alg":"HS\u0032256"}"#,
            r#"{"alg":"HS256","kid":"cl\u00e9"}"#,
            r#"{"alg":"HS256","kid":"a\/b"}"#,
            "{\"alg\":\"HS256\",\"kid\":\"cl\u{e9}\"}",
            r#"{"alg":"HS256","cty":"JWT"}"#,
            r#"{"alg":"HS256","cty":"json"}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","jku":"https://x"}"#,
            r#"{"alg":"HS256","x5t":"AAAA"}"#,
            r#"{"alg":"HS256","x":1}"#,
            r#"{"kid":"a"}"#,
            r#"{"alg":"HS256"} x"#,
            r#"{"alg":"HS256""#,
            r#"["alg"]"#,
            "{}",
            "null",
            "",
        ];
        let mut parts: Vec<String> = cases.iter().map(|json| b64(json)).collect();
        let odd = ["", "A", "eyJhbGciOiJIUzI1NiJ9=", "eyJhbGciOiJIUzI1NiJ9.", "eyJhbGciOiJIUzI1NiJ8"];
        parts.extend(odd.map(str::to_owned));
        parts.push(URL_SAFE_NO_PAD.encode(b"{\"alg\":\"HS\xff\"}"));
        let mut read = 0;
        for part in &parts {
            if let Some(plain) = plain_header(part) {
                assert_eq!(full_header(part), Ok(plain), "{part}");
                read += 1;
            }
        }
        assert_eq!(read, 9, "the usual headers take the direct reading");
    }

    #[test]
    fn refuses_oversize_parts_before_decoding() {
        let limits = SizeLimits::default();
        let huge = format!("{}.e30.", "A".repeat(limits.token));
        assert!(matches!(parse_err(&huge), JwtError::Oversize { part: "token", .. }));
        let header = token(&format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(900)), "{}");
        assert!(matches!(parse_err(&header), JwtError::Oversize { part: "header", .. }));
    }

    #[test]
    fn header_rules() {
        let kind = |header: &str| parse_err(&token(header, "{}")).kind();
        assert_eq!(kind(r#"{"alg":"none"}"#), "unsupported_algorithm");
        assert_eq!(kind(r#"{"alg":"NONE"}"#), "unsupported_algorithm");
        assert_eq!(kind(r#"{"alg":"PS256"}"#), "unsupported_algorithm");
        assert_eq!(kind(r#"{"kid":"a"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#), "unknown_critical_header");
        assert_eq!(kind(r#"{"alg":"HS256","crit":[]}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","crit":"b64"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","kid":"../../etc/passwd"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","kid":""}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","kid":"cl\u00e9"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","kid":7}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","cty":"JWT"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","alg":"none"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","kid":"a","kid":"b"}"#), "malformed");
        assert_eq!(kind(r#"{"alg":"HS256","x":1,"x":2}"#), "malformed");
        assert_eq!(kind(r#"["alg"]"#), "malformed");
    }

    #[test]
    fn claims_must_be_an_object_with_unique_members() {
        let claims = |json: &str| {
            let token = token(r#"{"alg":"HS256"}"#, json);
            ParsedToken::parse(&token, &SizeLimits::default()).unwrap().claims().map(flatten_claims)
        };
        assert_eq!(claims(r#"{"exp":5,"a":"b"}"#).unwrap()["exp"], 5);
        assert_eq!(claims(r#"{"exp":5.7}"#).unwrap()["exp"], 5);
        for bad in [r#"{"exp":1,"exp":2}"#, r#"{"sub":"a","sub":"b"}"#, r#"{"exp":"soon"}"#, "[]", "plain text"] {
            assert!(claims(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inspect_shows_header_and_claims() {
        let token = token(r#"{"alg":"EdDSA","kid":"k1","typ":"JWT","x":true}"#, r#"{"sub":"alice","iat":7}"#);
        let seen = inspect(&token, &SizeLimits::default()).unwrap();
        assert_eq!(seen.header().alg, "EdDSA");
        assert_eq!(seen.header().kid.as_deref(), Some("k1"));
        assert_eq!(seen.header().other["x"], true);
        assert_eq!(seen.unverified_claims()["iat"], 7);
        assert_eq!(seen.unverified_claims()["sub"], "alice", "a claim with a slot of its own");
    }
}
