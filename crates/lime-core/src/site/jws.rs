//! Signed tokens as LIME issues them (passports, MCP access tokens): the
//! compact JWS parsed once, the RSA keys of a JWKS, and the RS256 check the
//! caller brings. Claim rules are each token's own.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};

/// The largest token accepted before any parsing, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

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

    pub(crate) fn get(&self, kid: &str) -> Option<(&[u8], &[u8])> {
        self.keys
            .iter()
            .find(|(k, ..)| k == kid)
            .map(|(_, n, e)| (n.as_slice(), e.as_slice()))
    }
}

/// The `kid` a signed token's header names, to look its key up in a
/// [`KeyCache`] before verifying; `None` for a token that is not a compact
/// JWS or names none.
///
/// ```
/// // {"alg":"RS256","kid":"k1"} . {} . (signature)
/// assert_eq!(lime_core::site::key_id("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.AA").as_deref(), Some("k1"));
/// assert_eq!(lime_core::site::key_id("not a token"), None);
/// ```
pub fn key_id(token: &str) -> Option<String> {
    Jws::parse(token)?
        .header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A compact JWS, parsed once: header and claims as JSON objects, the
/// signed part and the signature bytes.
pub(crate) struct Jws<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signed: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// `None` for anything but three base64url parts (JSON objects, then
    /// bytes) within [`MAX_TOKEN_BYTES`].
    pub(crate) fn parse(token: &'a str) -> Option<Self> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, claims) = signed.split_once('.')?;
        let object = |part: &str| match serde_json::from_slice(&B64.decode(part).ok()?) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        Some(Jws {
            header: object(header)?,
            claims: object(claims)?,
            signed,
            signature: B64.decode(signature).ok()?,
        })
    }

    /// The claims, once the header says RS256 with a `kid` of `keys` and
    /// the signature verifies with that key.
    pub(crate) fn verified_claims(
        self,
        keys: &KeySet,
        check: &dyn SignatureCheck,
    ) -> Result<Map<String, Value>, Refused> {
        if self.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(Refused::Algorithm);
        }
        let kid = self.header.get("kid").and_then(Value::as_str).unwrap_or("");
        let (n, e) = keys.get(kid).ok_or(Refused::UnknownKey)?;
        if !check.rs256(n, e, self.signed.as_bytes(), &self.signature) {
            return Err(Refused::Signature);
        }
        Ok(self.claims)
    }
}

/// Why a signed token's envelope was refused.
pub(crate) enum Refused {
    Algorithm,
    UnknownKey,
    Signature,
}

/// The shortest time between two fetches of the key set made for a `kid`
/// it lacked (and between tries after a failed fetch): a flood of tokens
/// naming unknown keys costs LIME at most one fetch per interval.
pub const KEY_REFETCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// A verifier's cached key set, sans-IO: it says when to fetch the JWKS
/// (at first, and again when a token names a `kid` the set lacks: at once
/// the first time, then at most once per [`KEY_REFETCH_INTERVAL`], so a
/// rotated key is picked up by the first token that names it); the driver
/// fetches and hands the answer back. A failed fetch counts against the
/// interval too, so a down JWKS endpoint is not hammered. Time is passed
/// in; every method takes `&self`, so one cache serves a shared verifier.
///
/// ```
/// use std::time::{Duration, Instant};
/// use lime_core::site::{KeyCache, KeySet};
/// let start = Instant::now();
/// let cache = KeyCache::default();
/// assert!(cache.keys_for("k1", start)?.is_none()); // fetch first
/// let jwks = br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#;
/// cache.fetched(KeySet::from_jwks(jwks), start)?;
/// assert!(cache.keys_for("k1", start)?.is_some());
/// // A rotated key: fetched again at once…
/// assert!(cache.keys_for("k2", start)?.is_none());
/// // …but another unknown kid waits for the interval.
/// assert!(cache.keys_for("k3", start)?.is_some());
/// assert!(cache.keys_for("k3", start + Duration::from_secs(31))?.is_none());
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct KeyCache {
    state: std::sync::Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    keys: Option<KeySet>,
    /// The last fetch's end, or failure.
    fetched_at: Option<std::time::Instant>,
    /// The last fetch asked for a `kid` the set lacked.
    refetched_at: Option<std::time::Instant>,
}

impl KeyCache {
    /// The keys to verify a token naming `kid` with (`Some`), or a fetch
    /// first (`None`: hand its result to [`fetched`](Self::fetched)).
    ///
    /// # Errors
    /// [`crate::Error::Transport`] when the last fetch failed within the
    /// interval and no keys are held.
    pub fn keys_for(
        &self,
        kid: &str,
        now: std::time::Instant,
    ) -> Result<Option<KeySet>, crate::Error> {
        let past = |at: Option<std::time::Instant>| {
            at.is_none_or(|at| now.saturating_duration_since(at) >= KEY_REFETCH_INTERVAL)
        };
        let mut cached = self.lock();
        match &cached.keys {
            Some(keys) if keys.contains(kid) => Ok(Some(keys.clone())),
            None if past(cached.fetched_at) => Ok(None),
            None => Err(crate::Error::Transport(crate::TransportError::new(
                crate::TransportErrorKind::ConnectionLost,
                "the key set could not be fetched lately; it is fetched again 30 s after the last try",
            ))),
            Some(_) if past(cached.refetched_at) => {
                cached.refetched_at = Some(now);
                Ok(None)
            }
            Some(keys) => Ok(Some(keys.clone())),
        }
    }

    /// Keeps a fetch's result (the keys; or, for a failure, its time, the
    /// keys held staying) and hands it back.
    ///
    /// # Errors
    /// The fetch's error.
    pub fn fetched(
        &self,
        result: Result<KeySet, crate::Error>,
        now: std::time::Instant,
    ) -> Result<KeySet, crate::Error> {
        let mut cached = self.lock();
        cached.fetched_at = Some(now);
        if let Ok(keys) = &result {
            cached.keys = Some(keys.clone());
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        // The cache holds no invariant a panic elsewhere could break.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_failed_fetch_is_not_retried_within_the_interval() {
        #[allow(clippy::disallowed_methods)] // a test's own clock start
        let start = Instant::now();
        let cache = KeyCache::default();
        assert!(cache.keys_for("k1", start).unwrap().is_none(), "fetch");
        assert!(
            cache
                .fetched(Err(crate::Error::internal("down")), start)
                .is_err()
        );
        assert!(cache.keys_for("k1", start).is_err(), "unavailable");
        let later = start + KEY_REFETCH_INTERVAL;
        assert!(cache.keys_for("k1", later).unwrap().is_none(), "fetch");
        let keys = KeySet::from_jwks(
            br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"},{"kty":"EC","kid":"k9"}]}"#,
        )
        .unwrap();
        assert!(
            keys.contains("k1") && !keys.contains("k9"),
            "only RSA keys count"
        );
        cache.fetched(Ok(keys), later).unwrap();
        // A rotated key: unknown kid, fetched again at once, then not
        // again until the interval passed.
        let second = Duration::from_secs(1);
        assert!(cache.keys_for("k2", later + second).unwrap().is_none());
        assert!(cache.keys_for("k2", later + 2 * second).unwrap().is_some());
        let next = later + second + KEY_REFETCH_INTERVAL;
        assert!(cache.keys_for("k2", next).unwrap().is_none());
        // A failed refetch keeps the keys held.
        assert!(
            cache
                .fetched(Err(crate::Error::internal("down")), next)
                .is_err()
        );
        assert!(cache.keys_for("k1", next).unwrap().is_some());
        assert!(KeySet::from_jwks(b"[]").is_err());
    }
}
