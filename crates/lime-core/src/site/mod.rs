//! The other side of a login, sans-IO: the rules a site applies to a
//! passport ([`verify_passport`]) and an MCP server to an agent's access
//! token ([`verify_mcp_token`]), given a key set, `now` and an RS256 check
//! (`lime_tls::ProviderRs256`). No I/O, no clock, no crypto here.

mod jws;
mod mcp_token;
mod passport;

pub use jws::{KEY_REFETCH_INTERVAL, KeyCache, KeySet, KeyStep, MAX_TOKEN_BYTES, SignatureCheck};
pub use mcp_token::{MCP_TOKEN_AUDIENCE, McpTokenRefused, VerifiedMcpToken, verify_mcp_token};
pub use passport::{
    Expected, MAX_PASSPORT_LIFETIME_SECS, PASSPORT_AUDIENCE, PassportRefused, VerifiedPassport,
    verify_passport,
};
