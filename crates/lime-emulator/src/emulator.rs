//! Starting an emulator, and the handles tests and programs hold while it
//! runs; its settings are `settings.rs`, the network loop `network.rs`,
//! the request path `dispatch.rs`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::builder::{EmulatorBuilder, SigningKey};
use crate::faults::{Fault, FaultPlan, Route};
use crate::ids::random_hex;
use crate::network::{Listener, accept_loop, expiry_loop};
use crate::passport::IssuerKey;
use crate::route::API_PREFIX;
use crate::shared::Shared;
use crate::state::{Counters, Store};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Generating or loading the signing key failed.
    #[error(transparent)]
    Key(#[from] crate::passport::PassportError),
    /// Setting up HTTPS failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The blocking runtime could not start.
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(std::io::Error),
    /// An agent or site token is empty or holds whitespace (an empty
    /// `X-Agent-Token` header must never authenticate).
    #[error("an agent or site token is empty or holds whitespace or control characters")]
    Token,
}

impl EmulatorBuilder {
    /// Starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// [`StartError`] when the address cannot be bound, the key cannot be
    /// made, or a token is empty or holds whitespace.
    pub async fn start(self) -> Result<Emulator, StartError> {
        self.check_tokens()?;
        let keys = crate::passport::KeyRing::new(match &self.signing_key {
            SigningKey::Pem(pem) => Arc::new(IssuerKey::from_pkcs8_pem(pem)?),
            SigningKey::CachedAt(path) => Arc::new(IssuerKey::cached(path)?),
            SigningKey::Generated => process_key()?,
        });
        let builder = self.with_default_principals();
        let (listener, addr) = bind(builder.addr, builder.addr).await?;
        // Where redirects point: another origin, which counts what it gets.
        let (sink, sink_addr) = bind(LOOPBACK_ANY_PORT, builder.addr).await?;
        let extra_names: Vec<String> = builder.mcp_domain.iter().cloned().collect();
        let tls = builder
            .tls
            .as_ref()
            .map(|source| crate::tls::server_tls(source, &extra_names))
            .transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin = format!("{scheme}://{}", advertised(addr));
        let ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let faults = Arc::new(Mutex::new(FaultPlan::default()));
        let (mcp, mcp_listener) = match &builder.mcp_domain {
            None => (None, None),
            Some(domain) => {
                let (listener, mcp_addr) = bind(LOOPBACK_ANY_PORT, builder.addr).await?;
                let state = Arc::new(crate::mcp_server::McpServerState {
                    domain: domain.clone(),
                    issuer: origin.clone(),
                    keys: keys.clone(),
                    counters: Default::default(),
                    faults: Arc::clone(&faults),
                    clock: builder.clock.clone(),
                    verified: Default::default(),
                });
                let endpoint = crate::mcp_server::McpEndpoint::new(state, builder.client_timeout);
                (Some((endpoint, mcp_addr)), Some(listener))
            }
        };
        let (limits, max_connections) = (builder.limits, builder.max_connections);
        let shared = Arc::new(Shared {
            settings: builder,
            origin: origin.clone(),
            redirect_origin: format!("http://{sink_addr}"),
            keys,
            store: Mutex::new(Store::new(limits)),
            bindings: Mutex::default(),
            connections: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            mcp_connections: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            faults,
            ca_pem,
            mcp,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let serve = |listener, kind, acceptor| {
            tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                shutdown_rx.clone(),
                kind,
                acceptor,
            ))
        };
        if let Some(mcp_listener) = mcp_listener {
            serve(mcp_listener, Listener::Mcp, acceptor.clone());
        }
        serve(listener, Listener::Api, acceptor);
        serve(sink, Listener::RedirectSink, None);
        tokio::spawn(expiry_loop(shared.clone(), shutdown_rx));
        tracing::info!(target: "lime_emulator", %origin, "emulator listening");
        Ok(Emulator {
            shared,
            addr,
            shutdown: shutdown_tx,
        })
    }

    /// Tokens an empty or blank header could match are refused.
    fn check_tokens(&self) -> Result<(), StartError> {
        let tokens = self.agents.iter().map(|a| &a.token);
        for token in tokens.chain(self.sites.iter().map(|s| &s.token)) {
            if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(StartError::Token);
            }
        }
        Ok(())
    }

    /// An agent and a site with generated tokens, where none was given.
    fn with_default_principals(mut self) -> Self {
        if self.agents.is_empty() {
            let token = format!("at_{}", random_hex(16));
            self = if self.default_agent_mcp_grant {
                self.agent("agent_emulated", &token)
            } else {
                self.agent_without_mcp_grant("agent_emulated", &token)
            };
        }
        if self.sites.is_empty() {
            self = self.site("site_emulated", &format!("st_{}", random_hex(16)));
        }
        self
    }

    /// Starts on a runtime of its own, for blocking tests and programs.
    ///
    /// # Errors
    /// As [`start`](Self::start), or when the runtime cannot start.
    pub fn start_blocking(self) -> Result<BlockingEmulator, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("lime-emulator")
            .build()
            .map_err(StartError::Runtime)?;
        let emulator = runtime.block_on(self.start())?;
        Ok(BlockingEmulator {
            emulator: Some(emulator),
            runtime: Some(runtime),
        })
    }
}

/// One signing key per process: RSA generation is slow, and tests start many emulators.
fn process_key() -> Result<Arc<IssuerKey>, StartError> {
    static KEY: OnceLock<Arc<IssuerKey>> = OnceLock::new();
    if let Some(key) = KEY.get() {
        return Ok(key.clone());
    }
    let key = Arc::new(IssuerKey::generate()?);
    Ok(KEY.get_or_init(|| key).clone())
}

/// A running emulator. Dropping it stops the server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let emulator = lime_emulator::Emulator::builder().difficulty(4).start().await.unwrap();
/// assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
/// assert!(emulator.base_url().ends_with("/api/v1"));
/// emulator.shutdown();
/// # }
/// ```
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Emulator {
    /// The MCP server's URL (`http(s)://DOMAIN:PORT/mcp`), when
    /// [`EmulatorBuilder::mcp_domain`] asked for one.
    pub fn mcp_url(&self) -> Option<String> {
        let (endpoint, addr) = self.shared.mcp.as_ref()?;
        let scheme = if self.shared.ca_pem.is_some() || self.shared.origin.starts_with("https") {
            "https"
        } else {
            "http"
        };
        Some(format!(
            "{scheme}://{}:{}/mcp",
            endpoint.state().domain,
            addr.port()
        ))
    }

    /// Where the MCP server listens (`127.0.0.1:PORT`): resolve its domain
    /// to this.
    pub fn mcp_addr(&self) -> Option<SocketAddr> {
        self.shared.mcp.as_ref().map(|(_, addr)| *addr)
    }

    /// The MCP server's counters: initializations, tool calls, tokens seen.
    pub fn mcp_counters(&self) -> Option<&crate::mcp_server::McpCounters> {
        self.shared.mcp.as_ref().map(|(e, _)| &e.state().counters)
    }

    /// A builder with the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The API root, `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("{}{API_PREFIX}", self.shared.origin)
    }

    /// `http://127.0.0.1:PORT`: the passports' `iss`.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// With a generated certificate: the CA to trust, in PEM.
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.ca_pem.as_deref()
    }

    /// The first agent's token.
    pub fn agent_token(&self) -> &str {
        &self.shared.settings.agents[0].token
    }

    /// The first agent's id.
    pub fn agent_id(&self) -> &str {
        &self.shared.settings.agents[0].agent_id
    }

    /// The first site's token.
    pub fn site_token(&self) -> &str {
        &self.shared.settings.sites[0].token
    }

    /// The first site's id.
    pub fn site_id(&self) -> &str {
        &self.shared.settings.sites[0].site_id
    }

    /// The JWKS the emulator serves.
    pub fn jwks(&self) -> Value {
        self.shared.keys.current().jwks()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.store().counters.clone()
    }

    /// A request's status (`PENDING`, `APPROVED`, `DELIVERED`, `EXPIRED`).
    pub fn request_status(&self, request_id: &str) -> Option<&'static str> {
        self.shared.store().status_of(request_id, self.shared.now())
    }

    /// The nonce that approved `request_id`, once approved.
    pub fn accepted_nonce(&self, request_id: &str) -> Option<String> {
        self.shared
            .store()
            .requests
            .get(request_id)
            .and_then(|r| r.accepted_nonce.clone())
    }

    /// Every request id created so far.
    pub fn request_ids(&self) -> Vec<String> {
        self.shared.store().requests.keys().cloned().collect()
    }

    /// Creates a login request for the first site directly (no HTTP), returning its id.
    pub fn create_request(&self) -> String {
        self.create_request_with(&random_hex(16), self.shared.settings.difficulty)
    }

    /// Creates a request with this challenge and difficulty (for hostile-input
    /// tests: huge challenges, negative or impossible difficulties).
    pub fn create_request_with(&self, challenge: &str, difficulty: i64) -> String {
        let id = format!("lr_{}", random_hex(8));
        let settings = &self.shared.settings;
        // The API's pending cap is for clients; a test creating directly may pass it.
        self.shared.store().create(
            &settings.sites[0].site_id,
            challenge.to_owned(),
            difficulty,
            settings.ttl,
            id.clone(),
            self.shared.now(),
        );
        id
    }

    /// The next `times` calls of `route` get `fault`.
    pub fn inject(&self, route: Route, fault: Fault, times: u32) {
        self.shared.faults().add(route, fault, Some(times), 1);
    }

    /// Every call of `route` gets `fault` until [`clear_faults`](Self::clear_faults).
    pub fn inject_always(&self, route: Route, fault: Fault) {
        self.shared.faults().add(route, fault, None, 1);
    }

    /// One call in `every` of `route` gets `fault`, forever (mixed-fault load).
    pub fn inject_every(&self, route: Route, fault: Fault, every: u32) {
        self.shared.faults().add(route, fault, None, every);
    }

    /// Answers 429 to calls of `route` beyond `per_second` in each second.
    pub fn rate_limit(&self, route: Route, per_second: u32) {
        self.shared.faults().rate_limit(route, per_second);
    }

    /// Moves the emulator's [`ManualClock`](crate::ManualClock) forward by
    /// `by` and applies what came due at once: requests expire (their events
    /// go out) and those past the grace period are forgotten.
    ///
    /// # Panics
    /// When the emulator was built without [`EmulatorBuilder::clock`]: the
    /// system clock cannot be moved (a test bug, never a client's doing).
    pub fn advance_clock(&self, by: std::time::Duration) {
        let crate::clock::Clock::Manual(clock) = &self.shared.settings.clock else {
            panic!("advance_clock needs an emulator built with EmulatorBuilder::clock");
        };
        clock.advance(by);
        self.shared.store().expire_due(clock.now());
    }

    /// Signs passports and MCP tokens with a freshly generated key from
    /// now on; the JWKS publishes only the new one. Returns its `kid`.
    ///
    /// # Errors
    /// When the key cannot be generated.
    pub fn rotate_signing_key(&self) -> Result<String, crate::passport::PassportError> {
        let key = IssuerKey::generate()?;
        let kid = key.kid().to_owned();
        self.shared.keys.replace(key);
        Ok(kid)
    }

    /// Ends every open event stream, as a dropped connection would; the
    /// events stay held for a reconnect with `Last-Event-ID`. Returns how
    /// many streams it ended.
    pub fn cut_event_streams(&self) -> usize {
        self.shared.store().cut_streams()
    }

    /// Completes the binding `binding_id` as its hosted connect page does
    /// when the user picks `agent_id`: the one-time code the page would put
    /// in the redirect (`?binding_code=`), for the site to exchange.
    /// `None` for an unknown, expired or already completed binding.
    pub fn complete_binding(&self, binding_id: &str, agent_id: &str) -> Option<String> {
        self.shared
            .bindings()
            .complete(binding_id, agent_id, self.shared.now())
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Stops accepting connections and closes the event streams.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An [`Emulator`] on its own runtime, for synchronous code. Derefs to
/// [`Emulator`]; dropping it stops the server and the runtime.
#[derive(Debug)]
pub struct BlockingEmulator {
    emulator: Option<Emulator>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::ops::Deref for BlockingEmulator {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        self.emulator
            .as_ref()
            .unwrap_or_else(|| unreachable!("present until drop"))
    }
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        drop(self.emulator.take());
        // Never blocks, so a BlockingEmulator may be dropped anywhere,
        // even inside another runtime's task.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Any free port on loopback.
const LOOPBACK_ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// A listener on `addr` and the address it got; a failure names `asked`,
/// the address the emulator was asked to serve on.
async fn bind(
    addr: SocketAddr,
    asked: SocketAddr,
) -> Result<(TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Bind {
        addr: asked,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let local = listener.local_addr().map_err(failed)?;
    Ok((listener, local))
}

/// The address clients are told: loopback when bound to every address
/// (0.0.0.0, [::]), an address they can connect to.
fn advertised(addr: SocketAddr) -> SocketAddr {
    if !addr.ip().is_unspecified() {
        return addr;
    }
    let loopback: std::net::IpAddr = if addr.is_ipv4() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        std::net::Ipv6Addr::LOCALHOST.into()
    };
    SocketAddr::new(loopback, addr.port())
}
