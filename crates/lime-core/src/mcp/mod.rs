//! MCP access tokens: the agent's short-lived OAuth grant for one MCP
//! server's domain. Sans-IO like the rest of the core: the target policy,
//! the mint flow, the token, and the cache rule as data; the adapters add
//! the sockets and the locking.

mod address;
pub(crate) mod cache;
mod call;
mod flights;
mod mint;
mod response;
mod target;
mod token;

pub use address::{AddressPolicy, AddressRefused, special_purpose_range};
pub use cache::{McpTicket, Want};
pub use call::{McpCall, Verdict};
pub use flights::{KEYED_LOCKS_PRUNE_AT, KeyedLocks};
pub use mint::MintToken;
pub use response::parse_token_response;
pub use target::{McpTarget, TargetRefused};
pub use token::McpAccessToken;

/// What [`AgentState::mcp_token`](crate::drive::AgentState::mcp_token)
/// answers: a usable ticket, or the mint to drive for one.
#[derive(Debug)]
#[must_use]
pub enum TokenStep {
    /// Use this token; no request is needed.
    Ready(McpTicket),
    /// Drive this mint (under the domain's lock, after asking again); it
    /// ends with the new ticket, already cached.
    Mint(Box<MintToken>),
}
