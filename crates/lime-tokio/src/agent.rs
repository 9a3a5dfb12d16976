//! `LimeAgent`: the async SDK surface.

use std::sync::Arc;

use lime_core::ApprovalResult;
use lime_core::lime_pow::{CoreLease, Progress};
use lime_core::mcp::{KeyedLocks, McpAccessToken, McpTarget, McpTicket, TokenStep, Want};
#[cfg(feature = "custom-client")]
use lime_core::settings::ProxySource;
use lime_core::{
    AgentProfile, Config, Error, LoginFailure, LoginReport,
    drive::{AgentState, Flow, Output},
};

use crate::resolve::{Check, Resolver};
#[cfg(feature = "custom-client")]
use crate::transport::RequestBody;
use crate::transport::{HyperClient, client, send};

/// An agent: logs in and reads its profile. Cheap to clone (one `Arc`):
/// make one per process and share it with every task; clones share the
/// connection pool and the learned agent id.
///
/// ```no_run
/// # async fn run() -> Result<(), lime_core::Error> {
/// let agent = lime_tokio::LimeAgent::from_env()?; // LIME_AGENT_TOKEN, LIME_API_BASE
/// let approval = agent.login("lr_abc123").await?;
/// println!("approved for site {}", approval.site_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LimeAgent {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: AgentState,
    /// The API's client.
    pub(crate) client: HyperClient,
    /// MCP servers' client: its resolver refuses addresses an MCP token
    /// must not reach.
    #[cfg(feature = "mcp")]
    pub(crate) mcp_client: HyperClient,
    /// One mint at a time per domain.
    mint_locks: KeyedLocks<tokio::sync::Mutex<()>>,
    /// Open MCP sessions, one per MCP URL.
    #[cfg(feature = "mcp")]
    pub(crate) mcp_sessions: crate::mcp::Sessions,
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

    /// Confirms the login request `request_id`: reads its challenge, solves
    /// it on the blocking pool, approves it. Dropping the future cancels the
    /// solve within about a millisecond.
    ///
    /// Running it again for a request this agent already approved succeeds
    /// (scripts can retry safely); another agent's approval is a conflict
    /// naming that agent.
    ///
    /// # Errors
    /// Every [`Error`] variant the protocol defines; see `lime-core`.
    pub async fn login(&self, request_id: &str) -> Result<ApprovalResult, Error> {
        self.login_with_stats(request_id)
            .await
            .map(|report| report.approval)
            .map_err(Error::from)
    }

    /// [`login`](Self::login), also reporting what the proof of work cost
    /// (difficulty, hashes, time), whatever the outcome.
    ///
    /// ```no_run
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// let report = agent.login_with_stats("lr_abc123").await?; // `?` gives a lime_tokio::Error
    /// println!("{} hashes in {:?}", report.pow.hashes, report.pow.elapsed);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`LoginFailure`]: the [`Error`] and the PoW cost until then.
    pub async fn login_with_stats(&self, request_id: &str) -> Result<LoginReport, LoginFailure> {
        self.login_with_progress(request_id, Progress::new()).await
    }

    /// [`login_with_stats`](Self::login_with_stats), counting hashes into
    /// `progress` while the proof of work runs (for a spinner or an ETA).
    ///
    /// # Errors
    /// As [`login_with_stats`](Self::login_with_stats).
    pub async fn login_with_progress(
        &self,
        request_id: &str,
        progress: Progress,
    ) -> Result<LoginReport, LoginFailure> {
        let state = &self.inner.state;
        let mut login = state
            .start_login(request_id, progress, std::time::Instant::now())
            .map_err(LoginFailure::before_pow)?;
        // Dropping the login future trips the solve's token.
        let _cancel_on_drop = login.cancel_token().drop_guard();
        let origin = state.config().base_url().origin().to_owned();
        let span = tracing::debug_span!(target: "lime", "login", request_id, %origin);
        let result = tracing::Instrument::instrument(self.drive(&mut login), span).await;
        login.report(result)
    }

    /// Reads this agent's profile.
    ///
    /// # Errors
    /// Authentication, transport and invalid-response errors.
    pub async fn get_profile(&self) -> Result<AgentProfile, Error> {
        let state = &self.inner.state;
        let mut profile = state.start_profile(std::time::Instant::now());
        let origin = state.config().base_url().origin().to_owned();
        let span = tracing::debug_span!(target: "lime", "profile", %origin);
        tracing::Instrument::instrument(self.drive(&mut profile), span).await
    }

    /// An access token for the MCP server `target` names (`mcp.example.com`,
    /// `https://mcp.example.com:8443/mcp`): the cached one while it is
    /// fresh, else a new one from LIME. Concurrent callers for one domain
    /// share one mint; other domains never wait; a failed mint is not cached.
    ///
    /// ```no_run
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// let token = agent.mcp_access_token("mcp.example.com").await?;
    /// println!("{token}"); // the domain and lifetime, never the JWT
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a target the domain policy refuses (an IP,
    /// a reserved name, plain `http://` without `allow_http`);
    /// [`Error::OAuthCapability`] when the agent lacks the `oauth:mcp` grant;
    /// otherwise as any authenticated call.
    pub async fn mcp_access_token(&self, target: &str) -> Result<McpAccessToken, Error> {
        let target = self.inner.state.mcp_target(target)?;
        Ok(self.mcp_ticket(&target, Want::Fresh).await?.into_token())
    }

    /// [`mcp_access_token`](Self::mcp_access_token), minting a new token
    /// even when the cached one is fresh (after an MCP server refused it).
    /// Concurrent forced refreshes for one domain still share one mint.
    ///
    /// # Errors
    /// As [`mcp_access_token`](Self::mcp_access_token).
    pub async fn refresh_mcp_access_token(&self, target: &str) -> Result<McpAccessToken, Error> {
        let target = self.inner.state.mcp_target(target)?;
        let want = self.inner.state.mcp_refresh(&target);
        Ok(self.mcp_ticket(&target, want).await?.into_token())
    }

    /// A ticket for `target` as `want` asks: ask, lock the domain, ask
    /// again, drive the mint the core handed out.
    pub(crate) async fn mcp_ticket(
        &self,
        target: &McpTarget,
        want: Want,
    ) -> Result<McpTicket, Error> {
        let state = &self.inner.state;
        let now = std::time::Instant::now;
        if let TokenStep::Ready(ticket) = state.mcp_token(target, want, now()) {
            return Ok(ticket);
        }
        let lock = self.inner.mint_locks.lock_for(target.domain());
        let _one_mint = lock.lock().await;
        match state.mcp_token(target, want, now()) {
            TokenStep::Ready(ticket) => Ok(ticket),
            TokenStep::Mint(mut mint) => self.drive(&mut *mint).await,
        }
    }

    /// The drive loop: the only place this crate touches the protocol.
    async fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Value, Error> {
        let config = self.inner.state.config();
        drive(&self.inner.client, config.max_body_bytes(), flow).await
    }
}

/// Runs `flow` to its end over `client`: the one drive loop of this crate.
pub(crate) async fn drive<F: Flow>(
    client: &HyperClient,
    max_body: usize,
    flow: &mut F,
) -> Result<F::Value, Error> {
    let now = std::time::Instant::now;
    loop {
        match flow.poll_output() {
            Output::Send(transmit) => match send(client, transmit, max_body).await {
                Ok(response) => flow.handle_response(response, now()),
                Err(error) => flow.handle_transport_error(error, now()),
            },
            Output::Solve(task) => {
                // Wait for a core without holding a thread, so N concurrent
                // logins use about one solver thread per core in total; a
                // quick task then runs here, the others on the blocking pool.
                let task_is_quick = task.is_quick();
                let lease = lease_a_core(&task).await;
                let run = move || match lease {
                    Some(mut lease) => (task.run_leased(&mut lease), Some(lease)),
                    None => (task.run(), None),
                };
                let (outcome, lease) = if task_is_quick {
                    run()
                } else {
                    tokio::task::spawn_blocking(run).await.map_err(|e| {
                        Error::internal(format!("the proof-of-work task failed: {e}"))
                    })?
                };
                // The core goes back once the blocking thread is free again.
                drop(lease);
                flow.handle_solution(outcome, now());
            }
            Output::Wait(until) => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
                flow.handle_timeout(now());
            }
            Output::Done(result) => return result,
        }
    }
}

/// The agent as an MCP session's token source, held weakly (the agent owns
/// its sessions).
#[cfg(feature = "mcp")]
pub(crate) struct WeakAgent(std::sync::Weak<Inner>);

#[cfg(feature = "mcp")]
impl LimeAgent {
    pub(crate) fn weak(&self) -> WeakAgent {
        WeakAgent(Arc::downgrade(&self.inner))
    }
}

#[cfg(feature = "mcp")]
impl crate::mcp::http::TicketSource for WeakAgent {
    fn ticket<'a>(
        &'a self,
        target: &'a McpTarget,
        want: Want,
    ) -> crate::mcp::http::TicketFuture<'a> {
        Box::pin(async move {
            let agent = LimeAgent {
                inner: self.0.upgrade()?,
            };
            Some(agent.mcp_ticket(target, want).await)
        })
    }
}

/// A core of the process's solver budget, awaited without blocking a
/// thread; `None` once the solve's deadline passes or it is cancelled (the
/// solve then ends at once with that outcome).
async fn lease_a_core(task: &lime_core::drive::PowTask) -> Option<CoreLease> {
    let mut pause = std::time::Duration::from_micros(250);
    loop {
        if let Some(lease) = CoreLease::try_acquire() {
            return Some(lease);
        }
        if task.cancel_token().is_cancelled() || std::time::Instant::now() >= task.deadline() {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(5));
    }
}

/// Builds a [`LimeAgent`]. Every `lime-core` setting is reachable through
/// [`configure`](Self::configure); the common ones have their own methods.
#[derive(Debug, Default)]
pub struct LimeAgentBuilder {
    /// Settings, or a built `Config`.
    config: lime_core::ConfigSlot,
    /// Names answered without DNS (`resolve`).
    resolve: std::collections::HashMap<String, std::net::IpAddr>,
    /// A resolver of the user's (`dns_resolver`).
    dns_resolver: Option<UserResolver>,
    /// How MCP calls behave (`mcp_exchange_timeout`, `mcp_serialize_calls`).
    #[cfg(feature = "mcp")]
    mcp_options: crate::mcp::McpOptions,
    #[cfg(feature = "custom-client")]
    injected: Option<InjectedClient>,
}

/// A resolver the user gave; only its presence is shown.
struct UserResolver(Arc<dyn crate::Resolve>);

impl std::fmt::Debug for UserResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserResolver(..)")
    }
}

/// A client the user configured; its connector is theirs, so only its
/// presence is shown.
#[cfg(feature = "custom-client")]
struct InjectedClient(HyperClient);

#[cfg(feature = "custom-client")]
impl std::fmt::Debug for InjectedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InjectedClient(..)")
    }
}

impl LimeAgentBuilder {
    lime_core::agent_builder_setters!(config);

    /// The escape hatch (feature `custom-client`; its types follow
    /// hyper-util's versions, not lime's): sends every request through this
    /// hyper-util client instead of the built-in one (rustls, the
    /// configured roots, `HTTPS_PROXY`): for a
    /// connector of your own (a custom resolver, TLS set-up, proxy or
    /// socket options). The client must be built for [`RequestBody`].
    ///
    /// The agent's other guarantees stay: the token goes only to the
    /// configured API origin, over HTTPS unless the configuration allows
    /// plain HTTP, and hyper-util's client never follows redirects. The
    /// per-attempt timeout and body limit still apply. The client brings its
    /// own TLS and proxy settings, so combining it with
    /// [`add_root_certificates_pem`](Self::add_root_certificates_pem),
    /// [`https_proxy`](Self::https_proxy) or [`no_proxy`](Self::no_proxy) is
    /// a configuration error.
    ///
    /// ```no_run
    /// // With `features = ["custom-client"]` and hyper-util as a dependency:
    /// use hyper_util::client::legacy::{Client, connect::HttpConnector};
    /// use hyper_util::rt::TokioExecutor;
    ///
    /// # fn run() -> Result<(), lime_core::Error> {
    /// let mut connector = HttpConnector::new();
    /// connector.set_keepalive(Some(std::time::Duration::from_secs(30)));
    /// let client = Client::builder(TokioExecutor::new())
    ///     .build::<_, lime_tokio::RequestBody>(connector);
    /// let agent = lime_tokio::LimeAgent::builder()
    ///     .base_url("http://127.0.0.1:8080") // plain HTTP: loopback only
    ///     .token("lime_agent_example")
    ///     .http_client(client)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "custom-client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "custom-client")))]
    #[must_use]
    pub fn http_client<C>(
        mut self,
        client: hyper_util::client::legacy::Client<C, RequestBody>,
    ) -> Self
    where
        C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
    {
        self.injected = Some(InjectedClient(Arc::new(client)));
        self
    }

    /// Connects to `host` at `addr`'s IP without asking DNS, as curl's
    /// `--resolve` and reqwest's `resolve` do: for an MCP server or API on a
    /// chosen address under a real host name (tests, self-hosted set-ups).
    /// The port comes from the URL (`addr`'s is ignored, as in reqwest), and
    /// TLS still checks `host`'s certificate.
    ///
    /// [`RESOLVE_ENV`](crate::RESOLVE_ENV) (`LIME_RESOLVE=host=addr,…`)
    /// adds pins from the environment; the ones set here win.
    #[must_use]
    pub fn resolve(mut self, host: &str, addr: std::net::SocketAddr) -> Self {
        self.resolve
            .insert(host.trim().to_ascii_lowercase(), addr.ip());
        self
    }

    /// Looks host names up with `resolver` instead of the operating
    /// system's (a DNS-over-HTTPS client, a service registry, a test's
    /// table). lime still applies its address rules to the answers (MCP
    /// tokens only to globally reachable addresses unless pinned or
    /// allowed; a plain-http loopback API only to loopback) and connects
    /// only to the addresses it checked. Names set with
    /// [`resolve`](Self::resolve) are answered before it is asked.
    ///
    /// ```
    /// # fn run() -> Result<(), lime_tokio::Error> {
    /// let agent = lime_tokio::LimeAgent::builder()
    ///     .token("at_example")
    ///     .dns_resolver(|host: String| async move {
    ///         match host.as_str() {
    ///             "mcp.example.com" => Ok(vec!["93.184.215.14".parse().unwrap()]),
    ///             _ => Err(std::io::Error::other("unknown name")),
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn dns_resolver(mut self, resolver: impl crate::Resolve) -> Self {
        self.dns_resolver = Some(UserResolver(Arc::new(resolver)));
        self
    }

    /// How long one MCP exchange may take as a whole: opening a session, or
    /// one request's headers, body and event stream (a long tool call).
    /// 300 s by default; the response headers also come within
    /// [`timeout`](Self::timeout). A call cut off by it is cancelled on the
    /// server (`notifications/cancelled`).
    #[cfg(feature = "mcp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
    #[must_use]
    pub fn mcp_exchange_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.mcp_options.exchange_timeout = timeout;
        self
    }

    /// One MCP call at a time per MCP URL, as the official SDK does by
    /// default (off: concurrent calls share the session).
    #[cfg(feature = "mcp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
    #[must_use]
    pub fn mcp_serialize_calls(mut self, serialize: bool) -> Self {
        self.mcp_options.serialize_calls = serialize;
        self
    }

    /// Builds the agent.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build`](lime_core::ConfigBuilder::build), or [`Error::Config`] for a bad root certificate.
    pub fn build(mut self) -> Result<LimeAgent, Error> {
        let config = self.config.build()?;
        self.build_with(config)
    }

    fn build_with(self, config: Config) -> Result<LimeAgent, Error> {
        let extras = self.extras();
        #[cfg(feature = "custom-client")]
        if let Some(InjectedClient(injected)) = self.injected {
            if !config.extra_roots().is_empty()
                || config.os_roots().is_some()
                || *config.proxy_source() != ProxySource::Environment
            {
                return Err(Error::config(
                    "an injected http_client brings its own TLS roots and proxy; root \
                     certificates, os_roots and proxy settings apply to the built-in client only",
                ));
            }
            // The user's connector resolves: lime cannot check MCP addresses.
            let clients = Clients {
                #[cfg(feature = "mcp")]
                mcp: injected.clone(),
                api: injected,
            };
            return Ok(LimeAgent::with_clients(config, clients, extras));
        }
        let tls = lime_tls::client_config(&config)?;
        let resolver = Resolver::pinned(self.resolve, self.dns_resolver.map(|r| r.0))?;
        let api_check = Check::api(&config);
        let proxy = config.proxy_rules().clone();
        let clients = Clients {
            #[cfg(feature = "mcp")]
            mcp: client(
                tls.clone(),
                proxy.clone(),
                &resolver,
                Check::Mcp(config.mcp_addresses().clone()),
            ),
            api: client(tls, proxy, &resolver, api_check),
        };
        Ok(LimeAgent::with_clients(config, clients, extras))
    }

    /// What the agent keeps from the builder besides its configuration.
    fn extras(&self) -> Extras {
        Extras {
            #[cfg(feature = "mcp")]
            mcp_options: self.mcp_options.clone(),
        }
    }
}

/// The agent's HTTP clients: one pool each, so each connects only where its
/// address rule allows.
struct Clients {
    api: HyperClient,
    #[cfg(feature = "mcp")]
    mcp: HyperClient,
}

/// Builder settings beyond the configuration and the client.
struct Extras {
    #[cfg(feature = "mcp")]
    mcp_options: crate::mcp::McpOptions,
}

impl LimeAgent {
    fn with_clients(config: Config, clients: Clients, extras: Extras) -> LimeAgent {
        #[cfg(not(feature = "mcp"))]
        let _ = extras;
        LimeAgent {
            inner: Arc::new(Inner {
                state: AgentState::with_random_seed(config),
                client: clients.api,
                #[cfg(feature = "mcp")]
                mcp_client: clients.mcp,
                mint_locks: KeyedLocks::default(),
                #[cfg(feature = "mcp")]
                mcp_sessions: crate::mcp::Sessions::new(extras.mcp_options),
            }),
        }
    }
}
