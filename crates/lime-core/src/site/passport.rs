//! Passport verification for sites, sans-IO: the compact JWS parsed once,
//! the contract's claim rules given a key set and `now`. The RS256
//! signature itself is checked by a [`SignatureCheck`] the caller brings
//! (`lime-tls` has one on the crypto provider lime already uses), so this
//! crate stays free of crypto and I/O.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};

/// The audience of every login passport.
pub const PASSPORT_AUDIENCE: &str = "lime-site-login";
/// The longest a passport may live (`exp − iat`), in seconds.
pub const MAX_PASSPORT_LIFETIME_SECS: i64 = 120;
/// The largest token accepted before any parsing, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a passport was refused: one typed reason per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassportRefused {
    /// Not three base64url parts of JSON, or over [`MAX_TOKEN_BYTES`].
    #[error("the passport is not a compact JWS")]
    Malformed,
    /// `alg` is not `RS256` (`none`, `HS256` and the rest are refused).
    #[error("the passport's alg is not RS256")]
    Algorithm,
    /// The header names no `kid`, or one the key set does not hold.
    #[error("the passport's key is not in the key set")]
    UnknownKey,
    /// The RS256 signature does not verify with the named key.
    #[error("the passport's signature does not verify")]
    Signature,
    /// `aud` is not [`PASSPORT_AUDIENCE`].
    #[error("the passport is for another audience")]
    Audience,
    /// `iss` is not the expected issuer (the API's origin).
    #[error("the passport is from another issuer")]
    Issuer,
    /// `sub` (the agent) is missing or empty.
    #[error("the passport names no agent")]
    Subject,
    /// `request_id` is not the request the site created.
    #[error("the passport is for another login request")]
    Request,
    /// `iat` or `exp` missing, or `exp − iat` over 120 s or negative.
    #[error("the passport's lifetime is not within 120 s")]
    Lifetime,
    /// `exp` has passed (beyond the leeway), or the passport is older than
    /// the maximum age asked for.
    #[error("the passport has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the passport is not valid yet")]
    NotYetValid,
}

/// The RS256 check a [`KeySet`] key must pass, from the key's `n` and `e`
/// (big-endian bytes).
pub trait SignatureCheck {
    /// Whether `signature` is the RS256 (RSASSA-PKCS1-v1_5, SHA-256)
    /// signature of `message` under the key `(n, e)`.
    fn rs256(&self, n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool;
}

/// The RSA keys of a JWKS document (`GET /core/.well-known/jwks.json`),
/// by `kid`; other key types are skipped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(kid, ..)| kid))
            .finish()
    }
}

impl KeySet {
    /// The RSA keys of a JWKS document.
    ///
    /// # Errors
    /// [`crate::Error::InvalidResponse`] when it is not a JWKS object.
    pub fn from_jwks(jwks: &[u8]) -> Result<Self, crate::Error> {
        let bad = |why: &str| crate::Error::invalid_response(None, format!("JWKS: {why}"));
        let value: Value = serde_json::from_slice(jwks).map_err(|_| bad("not JSON"))?;
        let keys = value["keys"]
            .as_array()
            .ok_or_else(|| bad("no `keys` array"))?;
        let mut set = KeySet::default();
        for key in keys {
            let field = |name: &str| key[name].as_str().and_then(|v| B64.decode(v).ok());
            if key["kty"] != "RSA" {
                continue;
            }
            if let (Some(kid), Some(n), Some(e)) = (key["kid"].as_str(), field("n"), field("e")) {
                set.keys.push((kid.to_owned(), n, e));
            }
        }
        Ok(set)
    }

    /// Whether the set holds `kid` (a verifier refetches the set, rate
    /// limited, when a passport names one it lacks).
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, ..)| k == kid)
    }

    fn get(&self, kid: &str) -> Option<(&[u8], &[u8])> {
        self.keys
            .iter()
            .find(|(k, ..)| k == kid)
            .map(|(_, n, e)| (n.as_slice(), e.as_slice()))
    }
}

/// What a site expects of a passport: the issuer, the request it created
/// (bound by default), and the named exceptions to the contract's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    issuer: String,
    request_id: Option<String>,
    leeway_secs: i64,
    max_age_secs: Option<i64>,
}

impl Expected {
    /// A passport from `issuer` (the API's origin, `https://lime.pics`) for
    /// the login request `request_id`.
    pub fn new(issuer: impl Into<String>, request_id: impl Into<String>) -> Self {
        Expected {
            issuer: issuer.into(),
            request_id: Some(request_id.into()),
            leeway_secs: 0,
            max_age_secs: None,
        }
    }

    /// A passport for any request of the site: the explicit, named choice
    /// not to bind it to the request the site created.
    pub fn any_request(issuer: impl Into<String>) -> Self {
        Expected {
            request_id: None,
            ..Expected::new(issuer, "")
        }
    }

    /// Clock skew allowed on `exp` and `nbf` (default 0: the contract has
    /// none).
    #[must_use]
    pub fn leeway_secs(mut self, seconds: u32) -> Self {
        self.leeway_secs = i64::from(seconds);
        self
    }

    /// Verifies the passport as of its own `iat` (an approval replayed after
    /// its passport expired), if it was issued at most `seconds` ago.
    #[must_use]
    pub fn at_issue_within_secs(mut self, seconds: u32) -> Self {
        self.max_age_secs = Some(i64::from(seconds));
        self
    }
}

/// A passport whose signature and claims passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedPassport {
    /// The agent that approved (`sub`).
    pub agent_id: String,
    /// The login request it approved.
    pub request_id: String,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
}

/// Verifies `token` against `keys` as the contract says, at `now_unix`.
///
/// # Errors
/// The first rule the passport breaks, as a [`PassportRefused`].
pub fn verify_passport(
    token: &str,
    keys: &KeySet,
    expected: &Expected,
    now_unix: i64,
    check: &dyn SignatureCheck,
) -> Result<VerifiedPassport, PassportRefused> {
    let jws = Jws::parse(token)?;
    if jws.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(PassportRefused::Algorithm);
    }
    let kid = jws.header.get("kid").and_then(Value::as_str).unwrap_or("");
    let (n, e) = keys.get(kid).ok_or(PassportRefused::UnknownKey)?;
    if !check.rs256(n, e, jws.signed.as_bytes(), &jws.signature) {
        return Err(PassportRefused::Signature);
    }
    let claims = &jws.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("aud") != Some(PASSPORT_AUDIENCE) {
        return Err(PassportRefused::Audience);
    }
    if text("iss") != Some(expected.issuer.as_str()) {
        return Err(PassportRefused::Issuer);
    }
    let agent_id = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or(PassportRefused::Subject)?;
    let request_id = text("request_id").unwrap_or_default();
    if expected
        .request_id
        .as_deref()
        .is_some_and(|wanted| wanted != request_id)
        || request_id.is_empty()
    {
        return Err(PassportRefused::Request);
    }
    let (Some(iat), Some(exp)) = (time("iat"), time("exp")) else {
        return Err(PassportRefused::Lifetime);
    };
    if exp < iat || exp - iat > MAX_PASSPORT_LIFETIME_SECS {
        return Err(PassportRefused::Lifetime);
    }
    // As of issue (within the asked maximum age), or now.
    let at = match expected.max_age_secs {
        Some(max_age) if now_unix.saturating_sub(iat) > max_age => {
            return Err(PassportRefused::Expired);
        }
        Some(_) => iat,
        None => now_unix,
    };
    if exp.saturating_add(expected.leeway_secs) <= at {
        return Err(PassportRefused::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf > at.saturating_add(expected.leeway_secs)) {
        return Err(PassportRefused::NotYetValid);
    }
    Ok(VerifiedPassport {
        agent_id: agent_id.to_owned(),
        request_id: request_id.to_owned(),
        issued_at: iat,
        expires_at: exp,
    })
}

/// A compact JWS, parsed once: header and claims as JSON objects, the
/// signed part and the signature bytes.
struct Jws<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signed: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    fn parse(token: &'a str) -> Result<Self, PassportRefused> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(PassportRefused::Malformed);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(PassportRefused::Malformed)?;
        let (header, claims) = signed.split_once('.').ok_or(PassportRefused::Malformed)?;
        let object = |part: &str| match B64.decode(part).ok().map(|b| serde_json::from_slice(&b)) {
            Some(Ok(Value::Object(map))) => Ok(map),
            _ => Err(PassportRefused::Malformed),
        };
        Ok(Jws {
            header: object(header)?,
            claims: object(claims)?,
            signed,
            signature: B64
                .decode(signature)
                .map_err(|_| PassportRefused::Malformed)?,
        })
    }
}
