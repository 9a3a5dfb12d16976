//! `LimeAgent`: the blocking SDK surface.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use lime_core::ApprovalResult;
use lime_core::lime_pow::{CancelToken, Progress};
use lime_core::mcp::{KeyedLocks, McpAccessToken, McpTarget, McpTicket, TokenStep, Want};
use lime_core::{
    AgentProfile, Config, Error, LoginFailure, LoginReport,
    drive::{AgentState, Flow, Output},
};

use crate::transport::send;

/// An agent for synchronous code: `login` and `get_profile` block the
/// calling thread (the proof of work also uses `lime-pow` worker threads).
/// Cheap to clone; clones share the connection pool and the learned agent id.
///
/// ```no_run
/// let agent = lime_blocking::LimeAgent::from_env()?; // LIME_AGENT_TOKEN, LIME_API_BASE
/// let approval = agent.login("lr_abc123")?;
/// println!("approved for site {}", approval.site_id);
/// # Ok::<(), lime_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct LimeAgent {
    inner: Arc<Inner>,
}

struct Inner {
    state: AgentState,
    http: ureq::Agent,
    /// One mint at a time per domain.
    mint_locks: KeyedLocks<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for LimeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeAgent")
            .field("config", self.inner.state.config())
            .finish_non_exhaustive()
    }
}

impl LimeAgent {
    lime_core::agent_constructors!(LimeAgentBuilder, inner.state);

    /// Confirms the login request `request_id`: reads its challenge,
    /// solves it on every core, approves it.
    ///
    /// Running it again for a request this agent already approved succeeds
    /// (scripts can retry safely); another agent's approval is a conflict
    /// naming that agent.
    ///
    /// # Errors
    /// Every [`Error`] variant the protocol defines; see `lime-core`.
    pub fn login(&self, request_id: &str) -> Result<ApprovalResult, Error> {
        self.login_with_stats(request_id)
            .map(|report| report.approval)
            .map_err(Error::from)
    }

    /// [`login`](Self::login), also reporting what the proof of work cost.
    ///
    /// ```no_run
    /// # fn run(agent: lime_blocking::LimeAgent) -> Result<(), lime_blocking::Error> {
    /// let report = agent.login_with_stats("lr_abc123")?; // `?` gives a lime_blocking::Error
    /// println!("{} hashes in {:?}", report.pow.hashes, report.pow.elapsed);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`LoginFailure`]: the [`Error`] and the PoW cost until then.
    pub fn login_with_stats(&self, request_id: &str) -> Result<LoginReport, LoginFailure> {
        self.login_with_progress(request_id, Progress::new(), &CancelToken::new())
    }

    /// [`login_with_stats`](Self::login_with_stats), counting hashes into
    /// `progress` while the proof of work runs (for a spinner or an ETA on
    /// another thread), and stopping the solve when `cancel` is tripped from
    /// another thread (the login then ends with [`Error::Cancelled`]).
    ///
    /// # Errors
    /// As [`login_with_stats`](Self::login_with_stats).
    pub fn login_with_progress(
        &self,
        request_id: &str,
        progress: Progress,
        cancel: &CancelToken,
    ) -> Result<LoginReport, LoginFailure> {
        let state = &self.inner.state;
        let mut login = state
            .start_login(request_id, progress, Instant::now())
            .map_err(LoginFailure::before_pow)?
            .with_cancel_token(cancel.clone());
        let origin = state.config().base_url().origin();
        let span = tracing::debug_span!(target: "lime", "login", request_id, %origin);
        let result = span.in_scope(|| self.drive(&mut login));
        login.report(result)
    }

    /// Reads this agent's profile.
    ///
    /// # Errors
    /// Authentication, transport and invalid-response errors.
    pub fn get_profile(&self) -> Result<AgentProfile, Error> {
        let state = &self.inner.state;
        let mut profile = state.start_profile(Instant::now());
        let origin = state.config().base_url().origin();
        let span = tracing::debug_span!(target: "lime", "profile", %origin);
        span.in_scope(|| self.drive(&mut profile))
    }

    /// An access token for the MCP server `target` names (`mcp.example.com`,
    /// `https://mcp.example.com:8443/mcp`): the cached one while it is
    /// fresh, else a new one from LIME. Concurrent callers for one domain
    /// share one mint; other domains never wait; a failed mint is not cached.
    /// (MCP tool calls need `lime-tokio`: the MCP client is async.)
    ///
    /// ```no_run
    /// # fn run(agent: lime_blocking::LimeAgent) -> Result<(), lime_blocking::Error> {
    /// let token = agent.mcp_access_token("mcp.example.com")?;
    /// println!("{token}"); // the domain and lifetime, never the JWT
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a target the domain policy refuses;
    /// [`Error::OAuthCapability`] when the agent lacks the `oauth:mcp`
    /// grant; otherwise as any authenticated call.
    pub fn mcp_access_token(&self, target: &str) -> Result<McpAccessToken, Error> {
        let target = self.inner.state.mcp_target(target)?;
        Ok(self.mcp_ticket(&target, Want::Fresh)?.into_token())
    }

    /// [`mcp_access_token`](Self::mcp_access_token), minting a new token
    /// even when the cached one is fresh; concurrent forced refreshes for
    /// one domain share one mint.
    ///
    /// # Errors
    /// As [`mcp_access_token`](Self::mcp_access_token).
    pub fn refresh_mcp_access_token(&self, target: &str) -> Result<McpAccessToken, Error> {
        let target = self.inner.state.mcp_target(target)?;
        let want = self.inner.state.mcp_refresh(&target);
        Ok(self.mcp_ticket(&target, want)?.into_token())
    }

    /// A token for `target` as `want` asks: ask, lock the domain, ask
    /// again, drive the mint the core handed out.
    fn mcp_ticket(&self, target: &McpTarget, want: Want) -> Result<McpTicket, Error> {
        let state = &self.inner.state;
        if let TokenStep::Ready(ticket) = state.mcp_token(target, want, Instant::now()) {
            return Ok(ticket);
        }
        let lock = self.inner.mint_locks.lock_for(target.domain());
        let _one_mint = lock.lock().unwrap_or_else(PoisonError::into_inner);
        match state.mcp_token(target, want, Instant::now()) {
            TokenStep::Ready(ticket) => Ok(ticket),
            TokenStep::Mint(mut mint) => self.drive(&mut *mint),
        }
    }

    /// The drive loop: the only place this crate touches the protocol.
    fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Value, Error> {
        let config = self.inner.state.config();
        drive(&self.inner.http, config.max_body_bytes(), flow)
    }
}

/// Runs `flow` to its end over `http`: the one drive loop of this crate.
pub(crate) fn drive<F: Flow>(
    http: &ureq::Agent,
    max_body: usize,
    flow: &mut F,
) -> Result<F::Value, Error> {
    loop {
        match flow.poll_output() {
            Output::Send(transmit) => match send(http, transmit, max_body) {
                Ok(response) => flow.handle_response(response, Instant::now()),
                Err(error) => flow.handle_transport_error(error, Instant::now()),
            },
            Output::Solve(task) => {
                let outcome = task.run();
                flow.handle_solution(outcome, Instant::now());
            }
            Output::Wait(until) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                flow.handle_timeout(Instant::now());
            }
            Output::Done(result) => return result,
        }
    }
}

/// Builds a blocking [`LimeAgent`]: the same setters as `lime-tokio`'s builder.
#[derive(Default)]
pub struct LimeAgentBuilder {
    /// Settings, or a built `Config`.
    config: lime_core::ConfigSlot,
    #[cfg(feature = "custom-client")]
    http: Option<ureq::Agent>,
}

impl std::fmt::Debug for LimeAgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeAgentBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LimeAgentBuilder {
    lime_core::agent_builder_setters!(config);

    /// The escape hatch (feature `custom-client`; ureq's types follow
    /// ureq's versions, not lime's): uses this ureq agent (its TLS, proxy
    /// and pool settings). Whatever it says, every request still follows no
    /// redirect, gets statuses as responses and has the per-attempt
    /// timeout, and a plain `http://` base URL never goes through its proxy.
    /// Its connections are its own: a request's head and body leave in two
    /// writes, as ureq sends them, not joined as on lime's built-in agent.
    #[cfg(feature = "custom-client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "custom-client")))]
    #[must_use]
    pub fn ureq_agent(mut self, agent: ureq::Agent) -> Self {
        self.http = Some(agent);
        self
    }

    /// Builds the agent.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build`](lime_core::ConfigBuilder::build), or [`Error::Config`] when the TLS set-up
    /// fails (no trust roots, an unreadable OS store).
    pub fn build(mut self) -> Result<LimeAgent, Error> {
        let config = self.config.build()?;
        self.build_with(config)
    }

    fn build_with(self, config: Config) -> Result<LimeAgent, Error> {
        #[cfg(feature = "custom-client")]
        if let Some(http) = self.http {
            if !config.extra_roots().is_empty() || config.os_roots().is_some() {
                return Err(Error::config(
                    "an injected ureq_agent brings its own TLS roots; \
                     add_root_certificates_pem and os_roots apply to the built-in agent only",
                ));
            }
            return Ok(LimeAgent::with_http(config, http));
        }
        let http = http_agent(&config)?;
        Ok(LimeAgent::with_http(config, http))
    }
}

/// The built-in ureq agent for `config`: its roots, lime-core's proxy
/// decision, no redirects, statuses as responses, each request in one
/// write.
pub(crate) fn http_agent(config: &Config) -> Result<ureq::Agent, Error> {
    let roots: Vec<ureq::tls::Certificate<'static>> = lime_tls::root_certificates(config)?
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .unversioned_rustls_crypto_provider(lime_tls::crypto_provider())
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
        .build();
    // Never ureq's own proxy from the environment: the proxy is
    // lime-core's decision, the same in both adapters.
    let ureq_config = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(config.user_agent())
        .tls_config(tls)
        .proxy(crate::transport::ureq_proxy(config.proxy_route()))
        // LIME's requests are small and its answers' heads too; ureq's
        // 128 KiB each way would be doubled by the one-write layer. The
        // input must hold more than the largest head, or a larger head
        // reads as a closed connection instead of ureq's error.
        .input_buffer_size(64 * 1024)
        .max_response_header_size(32 * 1024)
        .output_buffer_size(16 * 1024)
        .build();
    use ureq::unversioned::transport::Connector;
    Ok(ureq::Agent::with_parts(
        ureq_config,
        ureq::unversioned::transport::DefaultConnector::new().chain(crate::one_write::OneWrite),
        crate::transport::LiteralsFirst::default(),
    ))
}

impl LimeAgent {
    fn with_http(config: Config, http: ureq::Agent) -> LimeAgent {
        LimeAgent {
            inner: Arc::new(Inner {
                state: AgentState::with_random_seed(config),
                http,
                mint_locks: KeyedLocks::default(),
            }),
        }
    }
}
