use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jwt_compact::Claims;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::env::{Random, UnixTime};
use crate::jwt::JwtError;

/// The kind of token, in the `type` claim. A token of one kind is never accepted as another:
/// an access token cannot refresh a session, a refresh token cannot call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    Api,
}

impl TokenType {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
            TokenType::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<TokenType> {
        [TokenType::Access, TokenType::Refresh, TokenType::Api].into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claim names with a meaning of their own; they cannot be used as extra claims.
pub const RESERVED_CLAIMS: [&str; 8] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "type"];

/// The claims of a Portcullis token. Issued by [`JwtKeys::issue`](crate::jwt::JwtKeys::issue);
/// returned, checked, inside a [`VerifiedJwt`](crate::jwt::VerifiedJwt).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtClaims {
    pub iss: String,
    pub sub: String,
    /// Serialized as a string when it has one member, as an array otherwise; never empty.
    pub aud: Vec<String>,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub nbf: Option<UnixTime>,
    pub jti: String,
    pub token_type: TokenType,
    /// Application claims (for example `datasets`), never one of [`RESERVED_CLAIMS`].
    pub extra: Map<String, Value>,
}

impl JwtClaims {
    /// Claims for a token issued at `iat` that expires `lifetime` seconds later.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        aud: impl Into<String>,
        token_type: TokenType,
        iat: UnixTime,
        lifetime: u32,
        jti: impl Into<String>,
    ) -> JwtClaims {
        JwtClaims {
            iss: iss.into(),
            sub: sub.into(),
            aud: vec![aud.into()],
            exp: iat.saturating_add(i64::from(lifetime)),
            iat,
            nbf: None,
            jti: jti.into(),
            token_type,
            extra: Map::new(),
        }
    }

    /// Adds an application claim. Reserved names are refused.
    pub fn with_extra(mut self, name: &str, value: Value) -> Result<JwtClaims, JwtError> {
        if RESERVED_CLAIMS.contains(&name) {
            return Err(JwtError::InvalidClaims { reason: "an extra claim uses a reserved name" });
        }
        self.extra.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The claims as the JSON object that is signed (without `exp`/`iat`/`nbf`, which
    /// jwt-compact's `Claims` carries).
    pub(super) fn custom_members(&self) -> Result<Map<String, Value>, JwtError> {
        if self.aud.is_empty() {
            return Err(JwtError::InvalidClaims { reason: "a token needs an audience" });
        }
        if self.exp <= self.iat {
            return Err(JwtError::InvalidClaims { reason: "exp must be after iat" });
        }
        if RESERVED_CLAIMS.iter().any(|name| self.extra.contains_key(*name)) {
            return Err(JwtError::InvalidClaims { reason: "an extra claim uses a reserved name" });
        }
        let mut members = self.extra.clone();
        members.insert("iss".into(), self.iss.clone().into());
        members.insert("sub".into(), self.sub.clone().into());
        let aud = match self.aud.as_slice() {
            [single] => Value::from(single.clone()),
            many => Value::from(many.to_vec()),
        };
        members.insert("aud".into(), aud);
        members.insert("jti".into(), self.jti.clone().into());
        members.insert("type".into(), self.token_type.as_str().into());
        Ok(members)
    }
}

/// A fresh token id: 16 random bytes, base64url.
pub fn new_jti(rng: &dyn Random) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The claim set of a token as parsed, before any check: a JSON object whose member names
/// are unique (RFC 7519 section 4 lets a parser reject duplicates; accepting them invites two
/// parsers to read different claims). `exp`, `nbf` and `iat` are taken out by jwt-compact's
/// `Claims` first, so seeing one of them here means it appeared twice.
///
/// The claims every check reads by name (`iss`, `sub`, `aud`, `jti`, `type`) have slots of their
/// own, so that reading one is no map search and taking one out no map removal; every other
/// member is in a map.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct RawClaims {
    slots: [Option<Value>; SLOTS.len()],
    other: Map<String, Value>,
}

/// The claims with a slot, in slot order.
const SLOTS: [&str; 5] = ["iss", "sub", "aud", "jti", "type"];

fn slot(name: &str) -> Option<usize> {
    match name {
        "iss" => Some(0),
        "sub" => Some(1),
        "aud" => Some(2),
        "jti" => Some(3),
        "type" => Some(4),
        _ => None,
    }
}

impl RawClaims {
    pub(super) fn from_map(map: Map<String, Value>) -> RawClaims {
        let mut claims = RawClaims::default();
        for (name, value) in map {
            claims.insert(name, value);
        }
        claims
    }

    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        match slot(name) {
            Some(at) => self.slots[at].as_ref(),
            None => self.other.get(name),
        }
    }

    pub(super) fn take(&mut self, name: &str) -> Option<Value> {
        match slot(name) {
            Some(at) => self.slots[at].take(),
            None => self.other.remove(name),
        }
    }

    fn insert(&mut self, name: String, value: Value) {
        match slot(&name) {
            Some(at) => self.slots[at] = Some(value),
            None => {
                self.other.insert(name, value);
            }
        }
    }

    /// The members without a slot (after [`RawClaims::take`], the extra claims).
    pub(super) fn into_other(self) -> Map<String, Value> {
        self.other
    }

    /// Every member.
    pub(super) fn into_map(self) -> Map<String, Value> {
        let mut map = self.other;
        for (name, value) in SLOTS.into_iter().zip(self.slots) {
            if let Some(value) = value {
                map.insert(name.to_owned(), value);
            }
        }
        map
    }
}

impl<'de> Deserialize<'de> for RawClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueMembers { consumed: &["exp", "nbf", "iat"] }).map(RawClaims::from_map)
    }
}

/// The claim set of a token read in one pass: jwt-compact's `Claims`, its `exp`, `nbf` and `iat`
/// read as jwt-compact reads them, every other member in [`RawClaims`]. The same result as
/// deserializing `Claims<RawClaims>`, whose `#[serde(flatten)]` buffers a copy of every member
/// first; a name seen twice is refused as there.
pub(super) struct ClaimSet(pub(super) Claims<RawClaims>);

impl<'de> Deserialize<'de> for ClaimSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimSetVisitor)
    }
}

struct ClaimSetVisitor;

impl<'de> Visitor<'de> for ClaimSetVisitor {
    type Value = ClaimSet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ClaimSet, A::Error> {
        let mut claims = Claims::new(RawClaims::default());
        while let Some(name) = access.next_key_seed(MemberName)? {
            let time = match name {
                Member::Exp => &mut claims.expiration,
                Member::Nbf => &mut claims.not_before,
                Member::Iat => &mut claims.issued_at,
                Member::Slot(at) => {
                    let slot = &mut claims.custom.slots[at];
                    if slot.is_some() {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    *slot = Some(access.next_value::<Value>()?);
                    continue;
                }
                Member::Other(name) => {
                    if claims.custom.other.contains_key(&name) {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    let value = access.next_value::<Value>()?;
                    claims.custom.other.insert(name, value);
                    continue;
                }
            };
            if time.is_some() {
                return Err(de::Error::custom("duplicate member"));
            }
            *time = Some(access.next_value_seed(Timestamp)?);
        }
        Ok(ClaimSet(claims))
    }
}

/// A member name of the claim set: a time claim, a claim with a slot (neither needs a `String`
/// of its own), or any other.
enum Member {
    Exp,
    Nbf,
    Iat,
    Slot(usize),
    Other(String),
}

struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Member;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Member, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for MemberName {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
        Ok(match name {
            "exp" => Member::Exp,
            "nbf" => Member::Nbf,
            "iat" => Member::Iat,
            _ => slot(name).map_or_else(|| Member::Other(name.to_owned()), Member::Slot),
        })
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Member, E> {
        match self.visit_str(&name)? {
            Member::Other(_) => Ok(Member::Other(name)),
            known => Ok(known),
        }
    }
}

/// A time claim as jwt-compact's `serde_timestamp` reads it: an integer, or a float truncated
/// toward zero, of seconds within chrono's range.
struct Timestamp;

impl<'de> DeserializeSeed<'de> for Timestamp {
    type Value = DateTime<Utc>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        deserializer.deserialize_i64(self)
    }
}

impl Visitor<'_> for Timestamp {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UTC timestamp")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp(value, 0).ok_or_else(|| E::custom("UTC timestamp overflow"))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<DateTime<Utc>, E> {
        self.visit_i64(i64::try_from(value).map_err(E::custom)?)
    }

    #[allow(clippy::cast_possible_truncation)]
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<DateTime<Utc>, E> {
        self.visit_i64(value as i64)
    }
}

/// A JSON object visitor that rejects duplicate member names, and any name in `consumed`:
/// the names an enclosing jwt-compact struct (`Claims`, `Header`) already took out.
pub(super) struct UniqueMembers {
    pub(super) consumed: &'static [&'static str],
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if self.consumed.contains(&name.as_str()) || members.contains_key(&name) {
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value::<Value>()?;
            members.insert(name, value);
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_members_shape_the_audience_and_refuse_reserved_extras() {
        let claims = JwtClaims::new("https://pc.example", "alice", "api", TokenType::Access, 100, 60, "j1");
        let members = claims.custom_members().unwrap();
        assert_eq!(members["aud"], "api");
        assert_eq!(members["type"], "access");
        let mut two = claims.clone();
        two.aud.push("other".into());
        assert_eq!(two.custom_members().unwrap()["aud"], serde_json::json!(["api", "other"]));
        assert!(claims.clone().with_extra("type", "refresh".into()).is_err());
        let mut sneaky = claims.clone();
        sneaky.extra.insert("exp".into(), 1.into());
        assert_eq!(sneaky.custom_members().unwrap_err().kind(), "invalid_claims");
        let mut empty = claims;
        empty.aud.clear();
        assert!(empty.custom_members().is_err());
    }

    #[test]
    fn raw_claims_keep_every_member_in_slots_or_the_map() {
        let members = serde_json::json!({"iss": "i", "sub": "s", "aud": ["a"], "jti": "j", "type": "api", "x": 1});
        let Value::Object(map) = members else { unreachable!() };
        let mut claims = RawClaims::from_map(map.clone());
        assert_eq!(claims.get("aud"), Some(&serde_json::json!(["a"])));
        assert_eq!(claims.get("x"), Some(&1.into()));
        assert_eq!(claims.clone().into_map(), map);
        for name in SLOTS {
            assert!(claims.take(name).is_some(), "{name}");
            assert_eq!(claims.get(name), None, "{name}");
        }
        assert_eq!(claims.into_other().keys().collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn raw_claims_reject_duplicates_and_non_objects() {
        let parse = |json: &str| serde_json::from_str::<RawClaims>(json);
        assert!(parse(r#"{"a":1,"b":2}"#).is_ok());
        assert!(parse(r#"{"a":1,"a":2}"#).is_err());
        assert!(parse(r#"[1,2]"#).is_err());
        assert!(parse(r#""text""#).is_err());
    }

    /// The one-pass reader accepts exactly what `Claims<RawClaims>` accepts, with the same result.
    #[test]
    fn claim_set_reads_what_jwt_compact_reads() {
        let cases = [
            r#"{"exp":5,"a":"b"}"#,
            r#"{"exp":5.7,"nbf":-3.9,"iat":0}"#,
            r#"{"exp":-5,"iat":1e3,"nbf":12345678901234}"#,
            r#"{"exp":9223372036854775807}"#,
            r#"{"exp":9223372036854775808}"#,
            r#"{"exp":18446744073709551616}"#,
            r#"{"exp":1e300}"#,
            r#"{"exp":-1e300}"#,
            r#"{"exp":8210266876799,"iat":-8334632851200}"#,
            r#"{"exp":8210266876800}"#,
            r#"{"exp":null}"#,
            r#"{"exp":"5"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":[5]}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"nbf":1,"a":2,"nbf":1}"#,
            r#"{"sub":"a","sub":"a"}"#,
            r#"{"iss":"a","\u0069ss":"b"}"#,
            r#"{"\u0069ss":"a","type":"api","ty\u0070e2":1}"#,
            r#"{"aud":1,"x":2,"aud":[1]}"#,
            r#"{"jti":null,"type":{"a":1},"iss":[],"sub":5,"aud":"x","Iss":"y","is":"z"}"#,
            r#"{"sub":"a","aud":["x",{"y":[1,2.5,null]}],"__proto__":{"z":1}}"#,
            r#"{"s":"\u00e9\n\"","big":123456789012345678901234567890,"neg":-0.0}"#,
            r#"  {"a":1}  "#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            "{}",
            "[]",
            "[1]",
            "null",
            r#""text""#,
            "5",
            "",
        ];
        for json in cases {
            let old = serde_json::from_str::<Claims<RawClaims>>(json);
            let new = serde_json::from_str::<ClaimSet>(json).map(|set| set.0);
            match (old, new) {
                (Ok(old), Ok(new)) => {
                    assert_eq!(old.expiration, new.expiration, "{json}");
                    assert_eq!(old.not_before, new.not_before, "{json}");
                    assert_eq!(old.issued_at, new.issued_at, "{json}");
                    assert_eq!(old.custom, new.custom, "{json}");
                }
                (Err(_), Err(_)) => {}
                (old, new) => panic!("{json}: jwt-compact {:?}, one pass {:?}", old.is_ok(), new.is_ok()),
            }
        }
    }

    #[test]
    fn token_types_parse_exactly() {
        assert_eq!(TokenType::parse("api"), Some(TokenType::Api));
        assert_eq!(TokenType::parse("Access"), None);
        assert_eq!(TokenType::parse(""), None);
    }
}
