//! The other side of an MCP token: what the emulator mints over loopback
//! for an agent is accepted by `lime_core::site::verify_mcp_token` for its
//! domain (with `lime_tls::ProviderRs256`), and refused, each with its
//! typed reason, for another domain, after expiry, from another issuer or
//! under a key the set lacks; a forged `alg` never passes.
#![forbid(unsafe_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lime_core::site::{KeySet, McpTokenRefused, verify_mcp_token};
use lime_emulator::Emulator;

#[test]
fn tokens_the_emulator_mints_verify_for_their_domain_only() {
    let emu = Emulator::builder().difficulty(4).start_blocking().unwrap();
    let agent = lime_blocking::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let token = agent.mcp_access_token("mcp.example.com").unwrap();
    let jwt = token.expose_secret();
    let keys = KeySet::from_jwks(emu.jwks().to_string().as_bytes()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verify = |jwt: &str, issuer: &str, domain: &str, now: i64, keys: &KeySet| {
        verify_mcp_token(jwt, keys, issuer, domain, now, &lime_tls::ProviderRs256)
    };
    let ok = verify(jwt, emu.origin(), "MCP.example.com", now, &keys).unwrap();
    assert_eq!(
        (ok.agent_id.as_str(), ok.domain.as_str()),
        ("agent_emulated", "mcp.example.com")
    );
    let refusal = |jwt: &str, issuer: &str, domain: &str, now: i64, keys: &KeySet| {
        verify(jwt, issuer, domain, now, keys).unwrap_err()
    };
    assert_eq!(
        refusal(jwt, emu.origin(), "other.example.com", now, &keys),
        McpTokenRefused::Domain
    );
    assert_eq!(
        refusal(jwt, "https://evil.example", "mcp.example.com", now, &keys),
        McpTokenRefused::Issuer
    );
    assert_eq!(
        refusal(jwt, emu.origin(), "mcp.example.com", ok.expires_at, &keys),
        McpTokenRefused::Expired
    );
    let empty = KeySet::from_jwks(br#"{"keys":[]}"#).unwrap();
    assert_eq!(
        refusal(jwt, emu.origin(), "mcp.example.com", now, &empty),
        McpTokenRefused::UnknownKey
    );
    let (_, rest) = jwt.split_once('.').unwrap();
    let none = format!("{}.{rest}", B64.encode(br#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(
        refusal(&none, emu.origin(), "mcp.example.com", now, &keys),
        McpTokenRefused::Algorithm
    );
    let mut forged = jwt.to_owned();
    forged.push('A');
    assert!(verify(&forged, emu.origin(), "mcp.example.com", now, &keys).is_err());
}
