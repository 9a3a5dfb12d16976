//! The mint flow: `POST /modules/oauth/token` for one domain, retried like a
//! read (a second mint only issues another short-lived token). A mint keeps
//! what it minted in its agent's token store before handing the ticket out,
//! so a driver has nothing to remember after it.

use std::time::Instant;

use http::Method;

use super::cache::TokenStore;
use super::{McpTarget, McpTicket, parse_token_response};
use crate::io::{Output, build_request};
use crate::pow::PowOutcome;
use crate::retry::retry_after;
use crate::step::Stepper;
use crate::{Config, HttpResponse, TransportError};

/// The mint endpoint's path under the base URL.
pub(crate) const MINT_PATH: &str = "/modules/oauth/token";

/// Mints an MCP access token for a target's domain as a state machine;
/// drive it like [`Login`](crate::Login) (through [`Flow`](crate::drive::Flow)).
/// [`AgentState::mcp_token`](crate::drive::AgentState::mcp_token) hands one
/// out when the agent's cache has no usable token; the finished mint's
/// [`McpTicket`] is already in that cache.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, drive::{AgentState, Output}, mcp::{McpTarget, TokenStep, Want}};
/// let config = Config::builder().token("at_example").base_url("http://127.0.0.1:1/api/v1").build()?;
/// let state = AgentState::new(config, 7);
/// let target = McpTarget::parse("mcp.example.com", false)?;
/// # #[allow(clippy::disallowed_methods)]
/// let TokenStep::Mint(mut mint) = state.mcp_token(&target, Want::Fresh, Instant::now()) else { unreachable!() };
/// let Output::Send(transmit) = mint.poll_output() else { unreachable!() };
/// assert_eq!(transmit.request.uri(), "http://127.0.0.1:1/api/v1/modules/oauth/token");
/// assert_eq!(transmit.request.body(), br#"{"domain":"mcp.example.com"}"#);
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug)]
pub struct MintToken {
    config: Config,
    domain: String,
    stepper: Stepper<McpTicket>,
    store: TokenStore,
    now: Instant,
}

impl MintToken {
    /// A mint for `target`'s domain, starting at `now`, keeping its token in
    /// `store`.
    pub(crate) fn new(
        config: &Config,
        target: &McpTarget,
        store: TokenStore,
        seed: u64,
        now: Instant,
    ) -> Self {
        MintToken {
            config: config.clone(),
            domain: target.domain().to_owned(),
            stepper: Stepper::new(config.max_retries(), config.timeout(), None, seed),
            store,
            now,
        }
    }

    /// The domain being minted for.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// What to do next.
    pub fn poll_output(&mut self) -> Output<McpTicket> {
        let (config, domain) = (&self.config, &self.domain);
        self.stepper.poll(self.now, || {
            let body = serde_json::json!({ "domain": domain })
                .to_string()
                .into_bytes();
            build_request(config, Method::POST, MINT_PATH, true, Some(body))
        })
    }

    /// Feeds the response to the request last sent.
    pub fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        self.now = now;
        if !self
            .stepper
            .take_response_slot(now, Some(response.status().as_u16()))
        {
            return;
        }
        let result =
            parse_token_response(&response, &self.domain, now, self.config.max_body_bytes())
                .map(|token| {
                    tracing::debug!(target: "lime", domain = %self.domain, expires_in_s = token.expires_in().as_secs(), "MCP access token minted");
                    self.store.keep(token)
                });
        self.stepper
            .settle(result, retry_after(&response), now, "mint");
    }

    /// Feeds a transport failure of the request last sent.
    pub fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        self.now = now;
        self.stepper.settle_transport_error(error, now, "mint");
    }

    /// Ends a wait; call at or after the instant [`Output::Wait`] named.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.stepper.handle_timeout(now);
    }
}

impl crate::drive::Flow for MintToken {
    type Value = McpTicket;
    fn poll_output(&mut self) -> Output<Self::Value> {
        MintToken::poll_output(self)
    }
    fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        MintToken::handle_response(self, response, now);
    }
    fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        MintToken::handle_transport_error(self, error, now);
    }
    fn handle_solution(&mut self, _outcome: PowOutcome, _now: Instant) {
        tracing::warn!(target: "lime", "a mint never solves; solution ignored");
    }
    fn handle_timeout(&mut self, now: Instant) {
        MintToken::handle_timeout(self, now);
    }
}
