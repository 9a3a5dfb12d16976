//! MCP access tokens: the agent's short-lived OAuth grant for one MCP
//! server's domain. Sans-IO like the rest of the core: the target policy,
//! the mint flow, the token, and the cache rule as data; the adapters add
//! the sockets and the locking.

mod target;

pub use target::{McpTarget, TargetRefused};
