//! The call rule as data (`docs/protocol.md`, "MCP servers"): what one MCP
//! request does when its server refuses the token, and which session a call
//! may reuse. A transport consults it per request, so a user's operation is
//! never run twice; a forgotten legacy session (404 with its id) is rmcp's
//! session recovery, which re-initializes and re-sends the request once.

use super::{McpTicket, Want};
use crate::Error;

/// One MCP request's refusals so far.
///
/// ```
/// # use lime_core::mcp::{McpCall, Verdict, Want};
/// let mut call = McpCall::new("mcp.example.com");
/// // The first 401: mint a token newer than the refused one, re-send once.
/// assert_eq!(call.refused(7, ""), Verdict::Resend(Want::NewerThan(7)));
/// // The second: the server refuses even a fresh token.
/// let Verdict::Fail(error) = call.refused(8, "Bearer error=\"invalid_token\"") else { panic!() };
/// assert!(error.is_mcp_authentication());
/// ```
#[derive(Debug, Clone)]
pub struct McpCall {
    domain: String,
    refused: u32,
}

/// What to do after a refusal.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Get a ticket as this asks, and send the same request again with it:
    /// a 401 means the server did not process the request.
    Resend(Want),
    /// Give up with this error.
    Fail(Error),
}

impl McpCall {
    /// A request to an MCP server of `domain`.
    pub fn new(domain: &str) -> Self {
        McpCall {
            domain: domain.to_owned(),
            refused: 0,
        }
    }

    /// The server answered 401 to the request sent with the token of
    /// `generation`; `challenge` is its `WWW-Authenticate` (may be empty).
    pub fn refused(&mut self, generation: u64, challenge: &str) -> Verdict {
        self.refused += 1;
        if self.refused == 1 {
            tracing::debug!(target: "lime", domain = %self.domain, "MCP server refused the token; refreshing it once");
            return Verdict::Resend(Want::NewerThan(generation));
        }
        let challenge = match challenge.trim() {
            "" => "no challenge".to_owned(),
            text => printable(text),
        };
        Verdict::Fail(Error::mcp_authentication(format!(
            "{} refused a freshly minted token ({challenge})",
            self.domain
        )))
    }

    /// Whether a session opened with the token of `session_generation` may
    /// carry a call whose current ticket is `ticket`: only with the same
    /// token (a refreshed token opens a new session).
    pub fn reuses(session_generation: u64, ticket: &McpTicket) -> bool {
        session_generation == ticket.generation()
    }
}

/// At most 200 characters of server text, control characters (terminal
/// escapes, bidi overrides) shown as `\u{..}`.
fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
