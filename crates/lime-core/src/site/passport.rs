//! Passport verification for sites, sans-IO: the compact JWS parsed once,
//! the contract's claim rules given a key set and `now`. The RS256
//! signature itself is checked by a [`SignatureCheck`] the caller brings
//! (`lime-tls` has one on the crypto provider lime already uses), so this
//! crate stays free of crypto and I/O.

use serde_json::{Map, Value};

use super::jws::{Jws, KeySet, SignatureCheck};

/// The audience of every login passport.
pub const PASSPORT_AUDIENCE: &str = "lime-site-login";
/// The longest a passport may live (`exp − iat`), in seconds.
pub const MAX_PASSPORT_LIFETIME_SECS: i64 = 120;
/// The audience of every binding passport.
pub const BINDING_AUDIENCE: &str = "lime-binding";
/// The longest a binding passport may live (`exp − iat`), in seconds.
pub const MAX_BINDING_LIFETIME_SECS: i64 = 60;

/// Why a passport was refused: one typed reason per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassportRefused {
    /// Not three base64url parts of JSON, or over
    /// [`MAX_TOKEN_BYTES`](super::MAX_TOKEN_BYTES).
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
    /// `iat` or `exp` missing, or `exp − iat` negative or over the
    /// maximum (120 s for a login, 60 s for a binding).
    #[error("the passport's lifetime is over its maximum")]
    Lifetime,
    /// A binding passport names no `binding_id`.
    #[error("the binding passport names no binding")]
    Binding,
    /// `exp` has passed (beyond the leeway), or the passport is older than
    /// the maximum age asked for.
    #[error("the passport has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the passport is not valid yet")]
    NotYetValid,
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
    let claims = signed_claims(token, keys, check)?;
    let times = common_rules(
        &claims,
        PASSPORT_AUDIENCE,
        MAX_PASSPORT_LIFETIME_SECS,
        expected,
        now_unix,
    )?;
    let request_id = text(&claims, "request_id").unwrap_or_default();
    if expected
        .request_id
        .as_deref()
        .is_some_and(|wanted| wanted != request_id)
        || request_id.is_empty()
    {
        return Err(PassportRefused::Request);
    }
    Ok(VerifiedPassport {
        agent_id: times.agent_id,
        request_id: request_id.to_owned(),
        issued_at: times.issued_at,
        expires_at: times.expires_at,
    })
}

/// A binding passport whose signature and claims passed: which agent the
/// human chose for the binding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedBinding {
    /// The agent bound (`sub`).
    pub agent_id: String,
    /// The binding it completes: match it to the one the site created.
    pub binding_id: String,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
}

/// Verifies a binding passport (from a binding code's exchange) against
/// `keys`, at `now_unix`: RS256 with a key of the set, `aud`
/// [`BINDING_AUDIENCE`], `iss` `issuer`, `sub`, a non-empty `binding_id`,
/// `exp − iat` at most [`MAX_BINDING_LIFETIME_SECS`], `exp` and `nbf`.
///
/// # Errors
/// The first rule the passport breaks, as a [`PassportRefused`].
pub fn verify_binding_passport(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    now_unix: i64,
    check: &dyn SignatureCheck,
) -> Result<VerifiedBinding, PassportRefused> {
    let claims = signed_claims(token, keys, check)?;
    let expected = Expected::any_request(issuer);
    let times = common_rules(
        &claims,
        BINDING_AUDIENCE,
        MAX_BINDING_LIFETIME_SECS,
        &expected,
        now_unix,
    )?;
    let binding_id = text(&claims, "binding_id")
        .filter(|id| !id.trim().is_empty())
        .ok_or(PassportRefused::Binding)?;
    Ok(VerifiedBinding {
        agent_id: times.agent_id,
        binding_id: binding_id.to_owned(),
        issued_at: times.issued_at,
        expires_at: times.expires_at,
    })
}

fn signed_claims(
    token: &str,
    keys: &KeySet,
    check: &dyn SignatureCheck,
) -> Result<Map<String, Value>, PassportRefused> {
    Jws::parse(token)
        .ok_or(PassportRefused::Malformed)?
        .verified_claims(keys, check)
        .map_err(|refused| match refused {
            super::jws::Refused::Algorithm => PassportRefused::Algorithm,
            super::jws::Refused::UnknownKey => PassportRefused::UnknownKey,
            super::jws::Refused::Signature => PassportRefused::Signature,
        })
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// What every passport's rules establish.
struct Checked {
    agent_id: String,
    issued_at: i64,
    expires_at: i64,
}

/// The rules both kinds of passport share: audience, issuer, subject,
/// lifetime, expiry and `nbf` (with the expected leeway and maximum age).
fn common_rules(
    claims: &Map<String, Value>,
    audience: &str,
    max_lifetime: i64,
    expected: &Expected,
    now_unix: i64,
) -> Result<Checked, PassportRefused> {
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text(claims, "aud") != Some(audience) {
        return Err(PassportRefused::Audience);
    }
    if text(claims, "iss") != Some(expected.issuer.as_str()) {
        return Err(PassportRefused::Issuer);
    }
    let agent_id = text(claims, "sub")
        .filter(|s| !s.is_empty())
        .ok_or(PassportRefused::Subject)?;
    let (Some(iat), Some(exp)) = (time("iat"), time("exp")) else {
        return Err(PassportRefused::Lifetime);
    };
    if exp < iat || exp - iat > max_lifetime {
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
    Ok(Checked {
        agent_id: agent_id.to_owned(),
        issued_at: iat,
        expires_at: exp,
    })
}
