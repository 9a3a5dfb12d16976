//! What an agent keeps between flows, whatever drives them: the
//! configuration, the agent id learned from the profile endpoint, and the
//! source of each flow's backoff jitter. Both adapters hold one and add only
//! their drive loop and transport.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use lime_pow::Progress;

use crate::mcp::{McpAccessToken, McpTarget, MintToken, TokenCache};
use crate::retry::{SPLITMIX_GAMMA, splitmix64};
use crate::{AgentProfile, Config, Error, Login, Profile};

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
    /// This agent's id, once a profile read or a reconciliation learned it.
    agent_id: Mutex<Option<String>>,
    /// The seed given at construction; each flow's jitter seed mixes in the
    /// flow's number, so concurrent flows spread their retries apart.
    seed: u64,
    flows: AtomicU64,
    /// MCP access tokens by domain.
    mcp_tokens: Mutex<TokenCache>,
}

impl AgentState {
    /// An agent state for `config`; `seed` is the randomness its flows'
    /// backoff jitter starts from (pass a random number).
    pub fn new(config: Config, seed: u64) -> Self {
        AgentState {
            mcp_tokens: Mutex::new(TokenCache::new(config.mcp_token_skew())),
            config,
            agent_id: Mutex::new(None),
            seed,
            flows: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This agent's id, when a flow has learned it.
    pub fn agent_id(&self) -> Option<String> {
        self.agent_id.lock().ok().and_then(|id| id.clone())
    }

    /// A login for `request_id`, starting at `now`, counting its hashes into
    /// `progress`, knowing this agent's id when it is known.
    ///
    /// # Errors
    /// As [`Login::new`]: an invalid request id, before any request.
    pub fn start_login(
        &self,
        request_id: &str,
        progress: Progress,
        now: Instant,
    ) -> Result<Login, Error> {
        let mut login = Login::new(&self.config, request_id, now)?
            .with_jitter_seed(self.next_seed())
            .with_progress(progress);
        if let Some(id) = self.agent_id() {
            login = login.with_agent_id(id);
        }
        Ok(login)
    }

    /// Keeps what a finished (or abandoned) login learned.
    pub fn finish_login(&self, login: &Login) {
        if let Some(id) = login.agent_id() {
            self.remember(id);
        }
    }

    /// A profile read starting at `now`.
    pub fn start_profile(&self, now: Instant) -> Profile {
        Profile::new(&self.config, now).with_jitter_seed(self.next_seed())
    }

    /// Keeps the agent id a profile read returned.
    pub fn finish_profile(&self, result: &Result<AgentProfile, Error>) {
        if let Ok(profile) = result {
            self.remember(&profile.agent_id);
        }
    }

    /// The MCP server `target` names, by the domain policy and this
    /// agent's `allow_http`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the rule that refused it.
    pub fn mcp_target(&self, target: &str) -> Result<McpTarget, Error> {
        Ok(McpTarget::parse(target, self.config.allow_http())?)
    }

    /// The generation of `domain`'s cached token, to pass to
    /// [`usable_mcp_token`](Self::usable_mcp_token) after waiting for the
    /// domain's mint.
    pub fn mcp_token_generation(&self, domain: &str) -> Option<u64> {
        self.mcp_tokens.lock().ok()?.generation(domain)
    }

    /// A cached token the caller may use without minting (see
    /// [`TokenCache::usable`]). Call it before and again after waiting for
    /// the domain's single-flight lock.
    pub fn usable_mcp_token(
        &self,
        domain: &str,
        now: Instant,
        force: bool,
        seen: Option<u64>,
    ) -> Option<McpAccessToken> {
        self.mcp_tokens
            .lock()
            .ok()?
            .usable(domain, now, force, seen)
            .cloned()
    }

    /// A mint for `target`, starting at `now`.
    pub fn start_mint(&self, target: &McpTarget, now: Instant) -> MintToken {
        MintToken::new(&self.config, target, now).with_jitter_seed(self.next_seed())
    }

    /// Keeps a minted token (a failed mint is never cached).
    pub fn finish_mint(&self, result: &Result<McpAccessToken, Error>) {
        if let (Ok(token), Ok(mut cache)) = (result, self.mcp_tokens.lock()) {
            cache.store(token.clone());
        }
    }

    /// Forgets `domain`'s token (after a server refused it).
    pub fn invalidate_mcp_token(&self, domain: &str) {
        if let Ok(mut cache) = self.mcp_tokens.lock() {
            cache.invalidate(domain);
        }
    }

    fn remember(&self, id: &str) {
        if let Ok(mut known) = self.agent_id.lock() {
            known.get_or_insert_with(|| id.to_owned());
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
