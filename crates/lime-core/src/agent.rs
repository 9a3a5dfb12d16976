//! What an agent keeps between flows, whatever drives them: the
//! configuration, the agent id learned from the profile endpoint, and the
//! source of each flow's backoff jitter. Both adapters hold one and add only
//! their drive loop and transport.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use lime_pow::Progress;

use crate::known::KnownAgentId;
use crate::mcp::cache::TokenStore;
use crate::mcp::{McpTarget, TokenStep, Want};
use crate::one_request::{Mint, OneRequest, ProfileRead};
use crate::retry::{SPLITMIX_GAMMA, splitmix64};
use crate::{Config, Error, Login, Profile};

/// The transport-agnostic part of an agent. Cheap to share behind an `Arc`;
/// every method takes `&self`.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, drive::AgentState};
/// let config = Config::builder().token("at_example").base_url("http://127.0.0.1:1/api/v1").build()?;
/// let state = AgentState::new(config, 0x5eed);
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now();
/// let login = state.start_login("lr_abc123", lime_core::lime_pow::Progress::new(), now)?;
/// assert_eq!(login.request_id(), "lr_abc123");
/// assert_eq!(state.agent_id(), None); // learned from the first profile read
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug)]
pub struct AgentState {
    config: Config,
    /// This agent's id, once a profile read or a login learned it (they
    /// share it and write it the moment they read it).
    known: KnownAgentId,
    /// The seed given at construction; each flow's jitter seed mixes in the
    /// flow's number, so concurrent flows spread their retries apart.
    seed: u64,
    flows: AtomicU64,
    /// MCP access tokens by domain, shared with the mints it starts.
    mcp_tokens: TokenStore,
}

impl AgentState {
    /// An agent state for `config`; `seed` is the randomness its flows'
    /// backoff jitter starts from (pass a random number).
    pub fn new(config: Config, seed: u64) -> Self {
        AgentState {
            mcp_tokens: TokenStore::new(config.mcp_token_skew()),
            config,
            known: KnownAgentId::default(),
            seed,
            flows: AtomicU64::new(0),
        }
    }

    /// An agent state for `config` whose jitter seed comes from std's
    /// randomly keyed hasher (new keys on every call, random per process),
    /// so agents spread their retries apart. No clock is read.
    pub fn with_random_seed(config: Config) -> Self {
        use std::hash::{BuildHasher, RandomState};
        Self::new(config, RandomState::new().hash_one(0u8))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This agent's id, when a flow has learned it.
    pub fn agent_id(&self) -> Option<String> {
        self.known.get()
    }

    /// A login for `request_id`, starting at `now`, counting its hashes into
    /// `progress`, sharing this agent's id: known when it is, and kept the
    /// moment the login learns it (nothing to hand back after).
    ///
    /// # Errors
    /// As [`Login::new`]: an invalid request id, before any request.
    pub fn start_login(
        &self,
        request_id: &str,
        progress: Progress,
        now: Instant,
    ) -> Result<Login, Error> {
        Ok(Login::new(&self.config, request_id, now)?
            .with_jitter_seed(self.next_seed())
            .with_progress(progress)
            .sharing(self.known.clone()))
    }

    /// A profile read starting at `now`; the agent id it reads is kept here.
    pub fn start_profile(&self, now: Instant) -> Profile {
        let read = ProfileRead {
            known: self.known.clone(),
        };
        OneRequest::start(&self.config, read, self.next_seed(), now)
    }

    /// The MCP server `target` names, by the domain policy and this
    /// agent's `mcp_allow_http`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the rule that refused it.
    pub fn mcp_target(&self, target: &str) -> Result<McpTarget, Error> {
        Ok(McpTarget::parse(target, self.config.mcp_allow_http())?)
    }

    /// A token for `target`: the cached one when it satisfies `want` at
    /// `now`, else the mint to drive. An adapter asks, takes the domain's
    /// lock, asks again (whoever held the lock may have minted what it
    /// needs) and drives what it got: nothing to store or finish after.
    pub fn mcp_token(&self, target: &McpTarget, want: Want, now: Instant) -> TokenStep {
        match self.mcp_tokens.usable(target.domain(), want, now) {
            Some(ticket) => TokenStep::Ready(ticket),
            None => TokenStep::Mint(Box::new(Mint::flow(
                &self.config,
                target,
                self.mcp_tokens.clone(),
                self.next_seed(),
                now,
            ))),
        }
    }

    /// What a forced refresh of `target`'s token wants: one minted after
    /// the token cached now (so concurrent refreshes share one mint).
    pub fn mcp_refresh(&self, target: &McpTarget) -> Want {
        match self.mcp_tokens.generation(target.domain()) {
            Some(generation) => Want::NewerThan(generation),
            None => Want::Fresh,
        }
    }

    /// The flow's draw from a SplitMix64 stream started at the seed.
    fn next_seed(&self) -> u64 {
        let n = self.flows.fetch_add(1, Ordering::Relaxed);
        splitmix64(
            self.seed
                .wrapping_add(n.wrapping_add(1).wrapping_mul(SPLITMIX_GAMMA)),
        )
    }
}
