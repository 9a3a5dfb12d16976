//! Agent passports: RS256 JWTs signed by the emulator's key, and the JWKS
//! that publishes its public half.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2_010::Sha256;

/// The audience every passport names.
pub const AUDIENCE: &str = "lime-site-login";
/// The longest a passport may live: `exp − iat`.
pub const MAX_LIFETIME_SECS: i64 = 120;

/// Why a passport was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid passport: {0}")]
pub struct PassportError(pub String);

/// The emulator's signing key and its key id.
pub struct IssuerKey {
    kid: String,
    signing: SigningKey<Sha256>,
    public: RsaPublicKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl IssuerKey {
    /// A fresh 2048-bit key (about a second in release builds).
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, PassportError> {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|e| PassportError(e.to_string()))?;
        Ok(Self::from_key(key))
    }

    /// A key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// When the PEM is not an RSA PKCS#8 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, PassportError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| PassportError(e.to_string()))?;
        Ok(Self::from_key(key))
    }

    /// The key as PKCS#8 PEM, to reuse it across runs.
    ///
    /// # Errors
    /// When encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, PassportError> {
        self.signing
            .as_ref()
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| PassportError(e.to_string()))
    }

    fn from_key(key: RsaPrivateKey) -> Self {
        let public = key.to_public_key();
        // The key id: a stable fingerprint of the modulus.
        let n = public.n().to_bytes_be();
        let kid = format!("lime-emu-{}", &hex_prefix(&n));
        IssuerKey {
            kid,
            signing: SigningKey::new(key),
            public,
        }
    }

    /// The key id the JWT header and the JWKS name.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The RFC 7517 key set publishing the public key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": B64.encode(self.public.n().to_bytes_be()),
            "e": B64.encode(self.public.e().to_bytes_be()),
        }]})
    }

    /// Signs `claims` as an RS256 JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .skip(1)
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a passport as a site SDK must: the header names a key in `jwks`,
/// the RS256 signature verifies, `aud` is [`AUDIENCE`], `iss` is `issuer`,
/// `exp` is in the future and at most [`MAX_LIFETIME_SECS`] after `iat`, and
/// `nbf` (when present) has passed. Returns the claims.
///
/// # Errors
/// [`PassportError`] naming the first check that failed.
pub fn verify(
    token: &str,
    jwks: &Value,
    issuer: &str,
    now_unix: i64,
) -> Result<Value, PassportError> {
    let bad = |why: &str| PassportError(why.to_owned());
    let claims = verify_signature(token, jwks)?;
    if claims["aud"] != AUDIENCE {
        return Err(bad("wrong aud"));
    }
    if claims["iss"] != issuer {
        return Err(bad("wrong iss"));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(bad("iat or exp missing"));
    };
    if exp <= now_unix {
        return Err(bad("expired"));
    }
    if exp - iat > MAX_LIFETIME_SECS || exp < iat {
        return Err(bad("lifetime over 120 s"));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now_unix) {
        return Err(bad("not yet valid"));
    }
    if claims["sub"].as_str().is_none() || claims["request_id"].as_str().is_none() {
        return Err(bad("sub or request_id missing"));
    }
    Ok(claims)
}

/// An RS256 JWT's claims once its signature verifies with a key of `jwks`
/// (the header names it by `kid`); no claim is checked. What passports and
/// the emulator's MCP access tokens share.
///
/// # Errors
/// [`PassportError`] naming what failed: the shape, the header, the key or
/// the signature.
pub fn verify_signature(token: &str, jwks: &Value) -> Result<Value, PassportError> {
    let bad = |why: &str| PassportError(why.to_owned());
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three dot-separated parts"));
    };
    let decode = |part: &str| -> Result<Value, PassportError> {
        let bytes = B64.decode(part).map_err(|_| bad("bad base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    if header["alg"] != "RS256" {
        return Err(bad("alg is not RS256"));
    }
    let kid = header["kid"].as_str().ok_or_else(|| bad("no kid"))?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .ok_or_else(|| bad("kid not in the JWKS"))?;
    let component = |name: &str| -> Result<rsa::BigUint, PassportError> {
        let raw = jwk[name].as_str().ok_or_else(|| bad("JWK lacks n or e"))?;
        Ok(rsa::BigUint::from_bytes_be(
            &B64.decode(raw).map_err(|_| bad("bad JWK"))?,
        ))
    };
    let public = RsaPublicKey::new(component("n")?, component("e")?).map_err(|_| bad("bad JWK"))?;
    let signature = Signature::try_from(
        B64.decode(s)
            .map_err(|_| bad("bad signature encoding"))?
            .as_slice(),
    )
    .map_err(|_| bad("bad signature"))?;
    VerifyingKey::<Sha256>::new(public)
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| bad("signature does not verify"))?;
    Ok(claims)
}

/// [`verify`] as of the passport's own `iat`: every check but its age. For
/// an approval replayed from the event stream after its passport expired:
/// the approval is real and past, not a forgery.
///
/// # Errors
/// As [`verify`].
pub fn verify_at_issue(token: &str, jwks: &Value, issuer: &str) -> Result<Value, PassportError> {
    let iat = token
        .split('.')
        .nth(1)
        .and_then(|part| B64.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| claims["iat"].as_i64())
        .ok_or_else(|| PassportError("iat missing".to_owned()))?;
    verify(token, jwks, issuer, iat)
}
