//! The MCP access token's format, owned in one place: the domain rule a
//! mint applies (the contract's rules 1–5, written here on purpose rather
//! than borrowed from the SDK, since the emulator is the SDK's test oracle),
//! the claims it signs, and the check the MCP server makes.

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

/// The agent a bearer token names, when `key` signed it for `domain` by
/// `issuer` and it has not expired at `now`.
pub(crate) fn verify(
    key: &IssuerKey,
    token: &str,
    issuer: &str,
    domain: &str,
    now: i64,
) -> Option<String> {
    let claims: Value = key.verify(token).ok()?;
    let fresh = claims["exp"].as_i64().is_some_and(|exp| exp > now);
    let ours =
        claims["aud"] == MCP_AUDIENCE && claims["iss"] == issuer && claims["domain"] == domain;
    (fresh && ours).then(|| claims["sub"].as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::check_domain;

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
