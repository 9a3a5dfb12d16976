//! Agent passports: RS256 JWTs signed by the emulator's key, and the JWKS
//! that publishes its public half.

use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// The audience every passport names.
pub const AUDIENCE: &str = "lime-site-login";
/// The longest a passport may live: `exp − iat`.
pub const MAX_LIFETIME_SECS: i64 = 120;

/// Why a passport was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid passport: {0}")]
pub struct PassportError(pub String);

/// The emulator's signing key (passports and MCP access tokens) and its
/// key id, on aws-lc-rs: the provider the emulator's TLS already uses.
pub struct IssuerKey {
    kid: String,
    signing: KeyPair,
    /// The public key's modulus and exponent, big-endian.
    public: PublicKeyComponents<Vec<u8>>,
    /// The public key parsed once: the MCP server checks every request's
    /// token with it (parsing per token cost each call an RSA set-up).
    verifier: ParsedPublicKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl IssuerKey {
    /// A fresh 2048-bit key.
    ///
    /// # Errors
    /// When the key cannot be generated.
    pub fn generate() -> Result<Self, PassportError> {
        Self::from_key(new_pair()?)
    }

    /// A key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// When the PEM is not an RSA PKCS#8 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, PassportError> {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| PassportError(format!("not a PKCS#8 PEM key: {e}")))?;
        let key = KeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| PassportError(format!("not an RSA key: {e}")))?;
        Self::from_key(key)
    }

    /// The key kept at `path` (PKCS#8 DER), or a fresh one saved there
    /// when the file is missing or holds no key. Saved owner-only (0600 on
    /// Unix), through a temporary file renamed over it, so a reader never
    /// sees half a key; a key that cannot be saved is still used.
    ///
    /// # Errors
    /// When a key cannot be generated.
    pub fn cached(path: &std::path::Path) -> Result<Self, PassportError> {
        let kept = std::fs::read(path).ok();
        if let Some(key) = kept.and_then(|der| KeyPair::from_pkcs8(&der).ok()) {
            return Self::from_key(key);
        }
        let key = new_pair()?;
        let saved = aws_lc_rs::encoding::AsDer::as_der(&key)
            .map_err(|_| std::io::Error::other("the key has no PKCS#8 form"))
            .and_then(|der| crate::owner_only::replace(path, der.as_ref()));
        if let Err(e) = saved {
            tracing::debug!(path = %path.display(), error = %e, "the signing key was not cached");
        }
        Self::from_key(key)
    }

    fn from_key(key: KeyPair) -> Result<Self, PassportError> {
        let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
        let verifier = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key())
            .map_err(|e| PassportError(format!("the public key does not parse: {e}")))?;
        // The key id: a stable fingerprint of the modulus.
        let kid = format!("lime-emu-{}", &hex_prefix(&public.n));
        Ok(IssuerKey {
            kid,
            signing: key,
            public,
            verifier,
        })
    }

    /// The claims of an RS256 JWT this key signed (its header names this
    /// key's `kid`); no claim is checked.
    ///
    /// # Errors
    /// [`PassportError`] naming what failed: the shape, the header, the key
    /// or the signature.
    pub fn verify(&self, token: &str) -> Result<Value, PassportError> {
        let jwt = Jwt::split(token)?;
        if jwt.kid != self.kid {
            return Err(PassportError("kid is not this key's".to_owned()));
        }
        self.verifier
            .verify_sig(jwt.signed.as_bytes(), &jwt.signature)
            .map_err(|_| PassportError("signature does not verify".to_owned()))?;
        Ok(jwt.claims)
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
            "n": B64.encode(&self.public.n),
            "e": B64.encode(&self.public.e),
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
        let mut signature = vec![0; self.signing.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // PKCS#1 v1.5 signing fails only for a buffer of the wrong size.
        if self
            .signing
            .sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut signature)
            .is_err()
        {
            signature.clear();
        }
        format!("{input}.{}", B64.encode(signature))
    }
}

/// The key passports and MCP tokens are signed with now: one owner, shared
/// by the API and the MCP server, so a test can rotate it
/// ([`Emulator::rotate_signing_key`](crate::Emulator::rotate_signing_key)).
#[derive(Debug)]
pub(crate) struct KeyRing(std::sync::Mutex<std::sync::Arc<IssuerKey>>);

impl KeyRing {
    pub(crate) fn new(key: std::sync::Arc<IssuerKey>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(KeyRing(std::sync::Mutex::new(key)))
    }

    /// The current key.
    pub(crate) fn current(&self) -> std::sync::Arc<IssuerKey> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Signs and publishes with `key` from now on; the old key leaves the JWKS.
    pub(crate) fn replace(&self, key: IssuerKey) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(key);
    }
}

/// A fresh 2048-bit RSA key pair.
fn new_pair() -> Result<KeyPair, PassportError> {
    KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| PassportError("cannot generate an RSA key".to_owned()))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .skip(1)
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An RS256 JWT's claims once its signature verifies with a key of `jwks`
/// (the header names it by `kid`); no claim is checked. For tests, which
/// hold the published key set; the emulator checks with
/// [`IssuerKey::verify`].
///
/// # Errors
/// [`PassportError`] naming what failed: the shape, the header, the key or
/// the signature.
pub fn verify_signature(token: &str, jwks: &Value) -> Result<Value, PassportError> {
    let bad = |why: &str| PassportError(why.to_owned());
    let jwt = Jwt::split(token)?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == jwt.kid))
        .ok_or_else(|| bad("kid not in the JWKS"))?;
    let component = |name: &str| -> Result<Vec<u8>, PassportError> {
        let raw = jwk[name].as_str().ok_or_else(|| bad("JWK lacks n or e"))?;
        B64.decode(raw).map_err(|_| bad("bad JWK"))
    };
    let public = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: component("n")?,
        e: component("e")?,
    };
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            jwt.signed.as_bytes(),
            &jwt.signature,
        )
        .map_err(|_| bad("signature does not verify"))?;
    Ok(jwt.claims)
}

/// A compact RS256 JWS taken apart, its signature not yet checked.
struct Jwt<'a> {
    kid: String,
    claims: Value,
    /// `header.claims`, what the signature covers.
    signed: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jwt<'a> {
    fn split(token: &'a str) -> Result<Self, PassportError> {
        let bad = |why: &str| PassportError(why.to_owned());
        let (signed, s) = token
            .rsplit_once('.')
            .ok_or_else(|| bad("not three dot-separated parts"))?;
        let Some((h, c)) = signed.split_once('.').filter(|(_, c)| !c.contains('.')) else {
            return Err(bad("not three dot-separated parts"));
        };
        let decode = |part: &str| -> Result<Value, PassportError> {
            let bytes = B64.decode(part).map_err(|_| bad("bad base64url"))?;
            serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))
        };
        let header = decode(h)?;
        if header["alg"] != "RS256" {
            return Err(bad("alg is not RS256"));
        }
        let kid = header["kid"].as_str().ok_or_else(|| bad("no kid"))?;
        Ok(Jwt {
            kid: kid.to_owned(),
            claims: decode(c)?,
            signed,
            signature: B64.decode(s).map_err(|_| bad("bad signature encoding"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::IssuerKey;
    use serde_json::json;

    #[test]
    fn a_key_verifies_what_it_signed_and_nothing_else() {
        let (key, other) = (
            IssuerKey::generate().unwrap(),
            IssuerKey::generate().unwrap(),
        );
        let claims = json!({ "sub": "agent_1" });
        let token = key.sign(&claims);
        assert_eq!(key.verify(&token).unwrap(), claims);
        assert!(other.verify(&token).is_err(), "another key's token");
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
        assert!(key.verify(&tampered).is_err(), "a changed signature");
        let forged = format!("{}.{signature}", signed.replace('.', ".e30."));
        assert!(key.verify(&forged).is_err(), "four parts");
    }

    #[test]
    fn a_cached_key_is_made_once_kept_owner_only_and_remade_when_spoiled() {
        let dir = std::env::temp_dir().join(format!("lime-key-cache-{}", std::process::id()));
        let path = dir.join("nested").join("key.der");
        let first = IssuerKey::cached(&path).unwrap();
        let again = IssuerKey::cached(&path).unwrap();
        assert_eq!(first.kid(), again.kid(), "the saved key is reused");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"not a key").unwrap();
        let remade = IssuerKey::cached(&path).unwrap();
        assert_ne!(remade.kid(), first.kid(), "a spoiled file is replaced");
        assert_eq!(IssuerKey::cached(&path).unwrap().kid(), remade.kid());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
