//! MCP access tokens as an MCP server checks them, sans-IO: LIME's RS256
//! JWT for one domain, with `aud` `mcp`, the issuer, the `domain` the
//! server serves and `exp`. The agent is its `sub`.

use serde_json::Value;

use super::jws::{Jws, KeySet, Refused, SignatureCheck};

/// The audience of every MCP access token.
pub const MCP_TOKEN_AUDIENCE: &str = "mcp";

/// Why an MCP access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpTokenRefused {
    /// Not a compact JWS.
    #[error("the token is not a compact JWS")]
    Malformed,
    /// `alg` is not `RS256`.
    #[error("the token's alg is not RS256")]
    Algorithm,
    /// The header names a key the key set does not hold.
    #[error("the token's key is not in the key set")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// `aud` is not [`MCP_TOKEN_AUDIENCE`].
    #[error("the token is for another audience")]
    Audience,
    /// `iss` is not LIME's origin.
    #[error("the token is from another issuer")]
    Issuer,
    /// `domain` is not the domain this server serves.
    #[error("the token is for another MCP server's domain")]
    Domain,
    /// `sub` is missing or empty.
    #[error("the token names no agent")]
    Subject,
    /// `exp` is missing or has passed.
    #[error("the token has expired")]
    Expired,
}

/// A token whose signature and claims passed: the agent calling.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedMcpToken {
    /// The agent (`sub`).
    pub agent_id: String,
    /// The domain the token was minted for.
    pub domain: String,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
}

/// Verifies `token` for the MCP server of `domain`, issued by `issuer`, at
/// `now_unix`.
///
/// # Errors
/// The first rule the token breaks, as an [`McpTokenRefused`].
pub fn verify_mcp_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    domain: &str,
    now_unix: i64,
    check: &dyn SignatureCheck,
) -> Result<VerifiedMcpToken, McpTokenRefused> {
    let claims = Jws::parse(token)
        .ok_or(McpTokenRefused::Malformed)?
        .verified_claims(keys, check)
        .map_err(|refused| match refused {
            Refused::Algorithm => McpTokenRefused::Algorithm,
            Refused::UnknownKey => McpTokenRefused::UnknownKey,
            Refused::Signature => McpTokenRefused::Signature,
        })?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("aud") != Some(MCP_TOKEN_AUDIENCE) {
        return Err(McpTokenRefused::Audience);
    }
    if text("iss") != Some(issuer) {
        return Err(McpTokenRefused::Issuer);
    }
    if !text("domain").is_some_and(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(McpTokenRefused::Domain);
    }
    let agent_id = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or(McpTokenRefused::Subject)?;
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .filter(|&exp| exp > now_unix)
        .ok_or(McpTokenRefused::Expired)?;
    Ok(VerifiedMcpToken {
        agent_id: agent_id.to_owned(),
        domain: domain.to_ascii_lowercase(),
        expires_at,
    })
}
