//! The mint flow's public name; the flow is a [`OneRequest`] (see
//! `one_request.rs`, which it shares with the profile read).

use crate::one_request::{Mint, OneRequest};

/// Mints an MCP access token for a target's domain as a state machine;
/// drive it like [`Login`](crate::Login) (through [`Flow`](crate::drive::Flow)).
/// [`AgentState::mcp_token`](crate::drive::AgentState::mcp_token) hands one
/// out when the agent's cache has no usable token; the finished mint's
/// [`McpTicket`](super::McpTicket) is already in that cache.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, drive::{AgentState, Output}, mcp::{McpTarget, TokenStep, Want}};
/// let config = Config::builder().token("at_example").base_url("http://127.0.0.1:1/api/v1").build()?;
/// let state = AgentState::new(config, 7);
/// let target = McpTarget::parse("mcp.example.com", false)?;
/// # #[allow(clippy::disallowed_methods)]
/// let TokenStep::Mint(mut mint) = state.mcp_token(&target, Want::Fresh, Instant::now()) else { unreachable!() };
/// assert_eq!(mint.domain(), "mcp.example.com");
/// let Output::Send(transmit) = mint.poll_output() else { unreachable!() };
/// assert_eq!(transmit.request.uri(), "http://127.0.0.1:1/api/v1/modules/oauth/token");
/// assert_eq!(transmit.request.body(), br#"{"domain":"mcp.example.com"}"#);
/// # Ok::<(), lime_core::Error>(())
/// ```
pub type MintToken = OneRequest<Mint>;
