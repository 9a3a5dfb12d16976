//! The MCP access token's format, owned in one place: the domain rule a
//! mint applies (the contract's rules 1–5, written here on purpose rather
//! than borrowed from the SDK, since the emulator is the SDK's test oracle),
//! the claims it signs, and the check the MCP server makes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::ids::random_hex;
use crate::passport::IssuerKey;

/// The `aud` of every MCP access token the emulator mints.
pub const MCP_AUDIENCE: &str = "mcp";

/// Why a mint's `domain` is refused, or `Ok` when it is a bare, lower-case
/// host name the contract accepts.
pub(crate) fn check_domain(domain: &str) -> Result<(), &'static str> {
    let is_ip = domain.parse::<std::net::IpAddr>().is_ok()
        || domain.split('.').all(|label| {
            let digits = label.strip_prefix("0x").unwrap_or(label);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_hexdigit())
                && (label.starts_with("0x") || label.bytes().all(|b| b.is_ascii_digit()))
        });
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    const EXACT: [&str; 12] = [
        "localhost",
        "metadata",
        "metadata.google.internal",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "nip.io",
        "sslip.io",
        "xip.io",
        "traefik.me",
        "localtest.me",
        "lvh.me",
    ];
    const UNDER: [&str; 13] = [
        "localhost",
        "local",
        "internal",
        "intranet",
        "corp",
        "home",
        "lan",
        "nip.io",
        "sslip.io",
        "xip.io",
        "traefik.me",
        "localtest.me",
        "lvh.me",
    ];
    if domain.is_empty() || domain.contains(['@', '[', ':', '/']) {
        Err("the domain must be a bare, lower-case host name")
    } else if is_ip {
        Err("the domain must be a host name, not an IP address")
    } else if domain.len() > 253 || !domain.split('.').all(valid_label) {
        Err("the domain must be a bare, lower-case host name")
    } else if EXACT.contains(&domain)
        || UNDER.iter().any(|s| {
            domain
                .strip_suffix(s)
                .is_some_and(|head| head.ends_with('.'))
        })
    {
        Err("the domain is a reserved or special-use name")
    } else {
        Ok(())
    }
}

/// A signed token for `agent` on `domain`, issued by `issuer` at `now`
/// (Unix seconds), valid `ttl` seconds.
pub(crate) fn sign(
    key: &IssuerKey,
    issuer: &str,
    agent: &str,
    domain: &str,
    now: i64,
    ttl: u64,
) -> String {
    key.sign(&json!({
        "iss": issuer,
        "aud": MCP_AUDIENCE,
        "sub": agent,
        "domain": domain,
        "scope": "mcp",
        "iat": now,
        "exp": now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        "jti": random_hex(16),
    }))
}

/// The caller (`sub`) of `token` and its `exp`, when it is an MCP token
/// signed with `key` for `domain` by `issuer` and unexpired at `now`.
fn verify(
    key: &IssuerKey,
    token: &str,
    issuer: &str,
    domain: &str,
    now: i64,
) -> Option<(String, i64)> {
    let claims: Value = key.verify(token).ok()?;
    let exp = claims["exp"].as_i64().filter(|exp| *exp > now)?;
    let ours =
        claims["aud"] == MCP_AUDIENCE && claims["iss"] == issuer && claims["domain"] == domain;
    ours.then(|| (claims["sub"].as_str().unwrap_or_default().to_owned(), exp))
}

/// Verified tokens kept at most; a full memo starts over.
pub(crate) const MAX_VERIFIED_TOKENS: usize = 1024;

/// The MCP server's memo of tokens it verified, so each call of a session
/// does not pay an RSA check: keyed by the SHA-256 of the issuer, domain
/// and token checked (the token is never kept), an entry holds while the
/// key that verified it still signs and until its `exp`. Bounded by
/// [`MAX_VERIFIED_TOKENS`].
#[derive(Debug, Default)]
pub(crate) struct VerifiedTokens(std::sync::Mutex<HashMap<[u8; 32], Verified>>);

#[derive(Debug)]
struct Verified {
    key: Arc<IssuerKey>,
    agent_id: String,
    exp: i64,
}

impl VerifiedTokens {
    /// The caller `token` names, as [`verify`] checks it (once per token
    /// and key).
    pub(crate) fn caller(
        &self,
        key: &Arc<IssuerKey>,
        token: &str,
        issuer: &str,
        domain: &str,
        now: i64,
    ) -> Option<String> {
        // What was checked, not only the token: the same token for another
        // issuer or domain is another entry.
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [issuer, domain, token] {
            context.update(part.as_bytes());
            context.update(&[0]);
        }
        let digest: [u8; 32] = context.finish().as_ref().try_into().ok()?;
        if let Some(hit) = self.lock().get(&digest)
            && Arc::ptr_eq(&hit.key, key)
            && hit.exp > now
        {
            return Some(hit.agent_id.clone());
        }
        let (agent_id, exp) = verify(key, token, issuer, domain, now)?;
        let mut memo = self.lock();
        if memo.len() >= MAX_VERIFIED_TOKENS {
            memo.clear();
        }
        let key = Arc::clone(key);
        memo.insert(
            digest,
            Verified {
                key,
                agent_id: agent_id.clone(),
                exp,
            },
        );
        Some(agent_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_still_expires_and_dies_with_its_key() {
        let key = Arc::new(IssuerKey::generate().unwrap());
        let (issuer, domain) = ("http://127.0.0.1:1", "mcp.example.com");
        let token = sign(&key, issuer, "agent_1", domain, 1_000, 60);
        let memo = VerifiedTokens::default();
        let caller = |key: &Arc<IssuerKey>, token: &str, domain: &str, now| {
            memo.caller(key, token, issuer, domain, now)
        };
        assert_eq!(
            caller(&key, &token, domain, 1_010).as_deref(),
            Some("agent_1")
        );
        // Remembered: the same answer, and still refused once expired…
        assert_eq!(
            caller(&key, &token, domain, 1_020).as_deref(),
            Some("agent_1")
        );
        assert_eq!(caller(&key, &token, domain, 1_060), None);
        // …for another domain (never remembered as valid there)…
        assert_eq!(caller(&key, &token, "other.example.com", 1_010), None);
        // …and after the key rotated: the new key checks it, and refuses.
        let rotated = Arc::new(IssuerKey::generate().unwrap());
        assert_eq!(caller(&rotated, &token, domain, 1_010), None);
        // A forged signature is never remembered as valid.
        let forged = format!("{}AAAA", &token[..token.len() - 4]);
        assert_eq!(caller(&key, &forged, domain, 1_010), None);
        assert_eq!(memo.lock().len(), 1, "only the valid token is kept");
    }

    #[test]
    fn the_contracts_domain_rules_one_to_five() {
        for good in [
            "mcp.example.com",
            "x",
            "local",
            "1e100.net",
            "0x.example",
            "a-b.c",
        ] {
            assert_eq!(check_domain(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "MCP.example.com",
            "mcp.example.com:443",
            "127.1",
            "0x7f000001",
            "2130706433",
            "::1",
            "a.local",
            "localhost",
            "app.nip.io",
            "-a.example",
            "exa mple.com",
            "example.com.",
            "u@mcp.example.com",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
