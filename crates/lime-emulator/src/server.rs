//! The HTTP server: routing, the protocol's handlers, faults, and the handle
//! tests hold.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lime_pow::Scheme;
use rsa::rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::body::ResponseBody;
use crate::faults::{Fault, FaultPlan, RawBody, Route};
use crate::passport::PassportKey;
use crate::state::{AgentAccount, ApproveError, Counters, SiteAccount, Store, StoreLimits};

/// The path prefix every endpoint lives under.
pub const API_PREFIX: &str = "/api/v1";
/// The largest request body accepted (64 KiB): larger gets 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Default time a client has to send a request's headers (and, for TLS, to
/// finish the handshake; and to send the body once the headers are in).
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on open connections; more are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
/// The longest request TTL (ten years): a longer one is cut to it.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How the profile names the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerKey {
    /// `user_id`, like the current service.
    #[default]
    UserId,
    /// `owner_id`.
    OwnerId,
}

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

/// Configures and starts an [`Emulator`]. Defaults: difficulty 15, scheme
/// `v1` named in `pow_scheme`, requests live 300 s, one agent and one site
/// with generated tokens, keepalive every 15 s, `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    difficulty: i64,
    scheme: Scheme,
    hide_scheme: bool,
    ttl: Duration,
    agents: Vec<AgentAccount>,
    sites: Vec<SiteAccount>,
    keepalive: Duration,
    addr: SocketAddr,
    owner_key: OwnerKey,
    signing_key_pem: Option<String>,
    tls: Option<crate::tls::TlsSource>,
    client_timeout: Duration,
    max_connections: usize,
    limits: StoreLimits,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            difficulty: 15,
            scheme: Scheme::V1,
            hide_scheme: false,
            ttl: Duration::from_secs(300),
            agents: Vec::new(),
            sites: Vec::new(),
            keepalive: Duration::from_secs(15),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            owner_key: OwnerKey::UserId,
            signing_key_pem: None,
            tls: None,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            limits: StoreLimits::default(),
        }
    }
}

impl EmulatorBuilder {
    /// PoW difficulty of new requests.
    pub fn difficulty(mut self, difficulty: i64) -> Self {
        self.difficulty = difficulty;
        self
    }
    /// The scheme the approve verifies.
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }
    /// Leaves `pow_scheme` out of request reads.
    pub fn hide_scheme(mut self, hide: bool) -> Self {
        self.hide_scheme = hide;
        self
    }
    /// How long new requests stay `PENDING` (at most [`MAX_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.min(MAX_TTL);
        self
    }
    /// How long a request is still readable after it expired (or would
    /// have); then it and its events are forgotten. Default 60 s.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.limits.grace = grace;
        self
    }
    /// Pending requests one site may have at once; creates beyond get 429
    /// `TOO_MANY_PENDING_REQUESTS`. Default 10,000.
    pub fn max_pending_per_site(mut self, max: usize) -> Self {
        self.limits.max_pending_per_site = max;
        self
    }
    /// Event streams one site may hold open at once; more get 429
    /// `TOO_MANY_STREAMS`. Default 64.
    pub fn max_streams_per_site(mut self, max: usize) -> Self {
        self.limits.max_streams_per_site = max;
        self
    }
    /// Time a client has for each phase: the TLS handshake, a request's
    /// headers, its body. Default 10 s ([`DEFAULT_CLIENT_TIMEOUT`]).
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }
    /// Open connections allowed at once; more are closed as they arrive.
    /// Default 1,024 ([`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }
    /// Adds an agent with this token (the first agent added replaces the generated one).
    pub fn agent(mut self, agent_id: &str, token: &str) -> Self {
        self.agents.push(AgentAccount {
            token: token.to_owned(),
            agent_id: agent_id.to_owned(),
            owner_id: format!("user_{agent_id}"),
            display_name: Some(format!("Agent {agent_id}")),
            avatar_url: None,
            description: Some("an emulated LIME agent".to_owned()),
            owner_kyc_level: Some(1),
            agent_reputation: Some(0),
        });
        self
    }
    /// Adds an agent with a full profile.
    pub fn agent_account(mut self, account: AgentAccount) -> Self {
        self.agents.push(account);
        self
    }
    /// Adds a site with this token.
    pub fn site(mut self, site_id: &str, token: &str) -> Self {
        self.sites.push(SiteAccount {
            token: token.to_owned(),
            site_id: site_id.to_owned(),
        });
        self
    }
    /// Interval between keepalive events on event streams.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }
    /// Where to listen (`127.0.0.1:0`: an ephemeral loopback port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }
    /// How the profile names the owner.
    pub fn owner_key(mut self, key: OwnerKey) -> Self {
        self.owner_key = key;
        self
    }
    /// Signs passports with this PKCS#8 PEM key instead of a generated one.
    pub fn signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key_pem = Some(pem.into());
        self
    }

    /// Serves HTTPS: with [`TlsSource::Generated`](crate::TlsSource::Generated)
    /// a CA made at start signs a certificate for `localhost`/`127.0.0.1`,
    /// and [`Emulator::ca_pem`] gives the CA for clients to trust.
    pub fn tls(mut self, source: crate::tls::TlsSource) -> Self {
        self.tls = Some(source);
        self
    }

    /// Starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// [`StartError`] when the address cannot be bound, the key cannot be
    /// made, or a token is empty or holds whitespace.
    pub async fn start(mut self) -> Result<Emulator, StartError> {
        for token in self
            .agents
            .iter()
            .map(|a| &a.token)
            .chain(self.sites.iter().map(|s| &s.token))
        {
            if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(StartError::Token);
            }
        }
        let key = match &self.signing_key_pem {
            Some(pem) => Arc::new(PassportKey::from_pkcs8_pem(pem)?),
            None => process_key()?,
        };
        if self.agents.is_empty() {
            self = self.agent("agent_emulated", &format!("at_{}", random_hex(16)));
        }
        if self.sites.is_empty() {
            self = self.site("site_emulated", &format!("st_{}", random_hex(16)));
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.addr,
            source,
        })?;
        let sink = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|source| StartError::Bind {
                addr: self.addr,
                source,
            })?;
        let sink_addr = sink.local_addr().map_err(|source| StartError::Bind {
            addr: self.addr,
            source,
        })?;
        let tls = self.tls.as_ref().map(crate::tls::server_tls).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin = format!("{scheme}://{addr}");
        let ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let (limits, max_connections) = (self.limits, self.max_connections);
        let shared = Arc::new(Shared {
            settings: self,
            origin: origin.clone(),
            redirect_origin: format!("http://{sink_addr}"),
            key,
            store: Mutex::new(Store::new(limits)),
            connections: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            faults: Mutex::new(FaultPlan::default()),
            ca_pem,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            shutdown_rx.clone(),
            false,
            acceptor,
        ));
        tokio::spawn(accept_loop(
            sink,
            shared.clone(),
            shutdown_rx.clone(),
            true,
            None,
        ));
        tokio::spawn(expiry_loop(shared.clone(), shutdown_rx));
        tracing::info!(target: "lime_emulator", %origin, "emulator listening");
        Ok(Emulator {
            shared,
            addr,
            shutdown: shutdown_tx,
        })
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
fn process_key() -> Result<Arc<PassportKey>, StartError> {
    static KEY: OnceLock<Arc<PassportKey>> = OnceLock::new();
    if let Some(key) = KEY.get() {
        return Ok(key.clone());
    }
    let key = Arc::new(PassportKey::generate()?);
    Ok(KEY.get_or_init(|| key).clone())
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Shared {
    settings: EmulatorBuilder,
    origin: String,
    redirect_origin: String,
    key: Arc<PassportKey>,
    store: Mutex<Store>,
    faults: Mutex<FaultPlan>,
    ca_pem: Option<String>,
    /// One permit per open connection.
    connections: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn faults(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
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
        self.shared.key.jwks()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.store().counters.clone()
    }

    /// A request's status (`PENDING`, `APPROVED`, `DELIVERED`, `EXPIRED`).
    pub fn request_status(&self, request_id: &str) -> Option<&'static str> {
        self.shared.store().status_of(request_id)
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
        let mut store = self.shared.store();
        let cap = store.limits.max_pending_per_site;
        store.limits.max_pending_per_site = usize::MAX;
        let _ = store.create(
            &settings.sites[0].site_id,
            challenge.to_owned(),
            difficulty,
            settings.ttl,
            id.clone(),
        );
        store.limits.max_pending_per_site = cap;
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

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    sink: bool,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Over the cap: closed at once, never queued.
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let handshake = shared.settings.client_timeout;
            match tls {
                // A failed or slow handshake only ends that connection.
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(stream)).await
                    {
                        serve(TokioIo::new(stream), shared, shutdown, sink).await;
                    }
                }
                None => serve(TokioIo::new(stream), shared, shutdown, sink).await,
            }
        });
    }
}

/// Serves one connection until it ends or the emulator shuts down.
async fn serve<IO>(io: IO, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>, sink: bool)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let header_timeout = shared.settings.client_timeout;
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move {
            if sink {
                Ok(redirect_sink(&shared, &request))
            } else {
                handle(shared, request).await
            }
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, service);
    tokio::select! {
        _ = connection => {}
        _ = shutdown.changed() => {}
    }
}

async fn expiry_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let every = (shared.settings.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => shared.store().expire_due(),
            _ = shutdown.changed() => return,
        }
    }
}

/// A connection the emulator closes without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose")]
struct Dropped;

type Reply = Result<Response<ResponseBody>, Dropped>;

fn envelope_ok(status: StatusCode, data: Value) -> Response<ResponseBody> {
    json_response(status, &json!({ "ok": true, "data": data }))
}

fn envelope_error(status: StatusCode, code: &str, message: &str) -> Response<ResponseBody> {
    json_response(
        status,
        &json!({ "ok": false, "error": { "code": code, "message": message } }),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Which route a method and path name, and the request id in it.
pub(crate) fn route_of(method: &Method, path: &str) -> (Route, Option<String>) {
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return (Route::Other, None);
    };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["auth", "requests", id]) => (Route::ReadRequest, Some((*id).to_owned())),
        ("POST", ["modules", "agent-login", "requests", id, "approve"]) => {
            (Route::Approve, Some((*id).to_owned()))
        }
        ("GET", ["core", "agents", "me", "profile"]) => (Route::Profile, None),
        ("POST", ["modules", "agent-login", "requests"]) => (Route::CreateRequest, None),
        ("GET", ["modules", "agent-login", "events"]) => (Route::Events, None),
        ("GET", ["core", ".well-known", "jwks.json"]) => (Route::Jwks, None),
        _ => (Route::Other, None),
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let (route, id) = route_of(request.method(), request.uri().path());
    shared.store().count(route);
    if declared_too_large(&request) {
        let mut response = envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        );
        // The body is never read: the connection cannot be reused.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    let fault = shared.faults().take(route);
    let mut trickle = None;
    match fault {
        None => {}
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                429 => "RATE_LIMIT_EXCEEDED",
                503 => "AUTH_UNAVAILABLE",
                _ => "INJECTED_FAULT",
            };
            let mut response = envelope_error(status, code, "fault injected by the emulator");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return Ok(response);
        }
        Some(Fault::Drop) => return Err(Dropped),
        Some(Fault::DelayHeaders(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::TrickleBody { chunk, interval }) => trickle = Some((chunk.max(1), interval)),
        Some(Fault::ProcessThenDrop) => {
            let _ = answer(&shared, route, id, request).await;
            return Err(Dropped);
        }
        Some(Fault::Redirect { status }) => {
            let mut response = Response::new(ResponseBody::full(Bytes::new()));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            let location = format!("{}{}", shared.redirect_origin, request.uri().path());
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return Ok(response);
        }
        Some(Fault::Raw {
            status,
            headers,
            body,
        }) => return Ok(raw_response(status, &headers, body)),
    }
    let response = answer(&shared, route, id, request).await;
    Ok(match trickle {
        Some((chunk, interval)) => trickled(response, chunk, interval).await,
        None => response,
    })
}

async fn trickled(
    response: Response<ResponseBody>,
    chunk: usize,
    interval: Duration,
) -> Response<ResponseBody> {
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let (tx, body) = ResponseBody::channel();
    tokio::spawn(async move {
        for piece in bytes.chunks(chunk) {
            if tx.send(Bytes::copy_from_slice(piece)).is_err() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    });
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

fn raw_response(
    status: u16,
    headers: &[(String, String)],
    body: RawBody,
) -> Response<ResponseBody> {
    let body = match body {
        RawBody::Bytes(bytes) => ResponseBody::full(bytes),
        RawBody::Repeat { byte, len } => {
            let (tx, body) = ResponseBody::channel();
            tokio::spawn(async move {
                let block = Bytes::from(vec![byte; 64 * 1024]);
                let mut left = len;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    if tx.send(block.slice(..n)).is_err() {
                        return;
                    }
                    left -= n as u64;
                    tokio::task::yield_now().await;
                }
            });
            body
        }
        RawBody::Endless => {
            let (tx, body) = ResponseBody::channel();
            tokio::spawn(async move {
                while tx.send(Bytes::from_static(b"{\"ok\":true,")).is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
            body
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn redirect_sink(shared: &Shared, request: &Request<Incoming>) -> Response<ResponseBody> {
    let mut store = shared.store();
    store.counters.redirect_hits += 1;
    if request.headers().contains_key("x-agent-token") {
        store.counters.redirect_token_seen += 1;
    }
    envelope_ok(StatusCode::OK, json!({}))
}

/// A refused token: the 401 envelope's code and message.
struct Unauthorized(&'static str, &'static str);

impl Unauthorized {
    fn response(&self) -> Response<ResponseBody> {
        envelope_error(StatusCode::UNAUTHORIZED, self.0, self.1)
    }
}

fn agent_of<'a>(
    shared: &'a Shared,
    request: &Request<Incoming>,
) -> Result<&'a AgentAccount, Unauthorized> {
    let Some(token) = request.headers().get("x-agent-token") else {
        return Err(Unauthorized(
            "MISSING_AGENT_TOKEN",
            "X-Agent-Token is required",
        ));
    };
    find_by_token(&shared.settings.agents, token.as_bytes(), |a| &a.token)
        .ok_or(Unauthorized("INVALID_AGENT_TOKEN", "unknown agent token"))
}

fn site_of<'a>(
    shared: &'a Shared,
    request: &Request<Incoming>,
) -> Result<&'a SiteAccount, Unauthorized> {
    let Some(token) = request.headers().get("x-site-token") else {
        return Err(Unauthorized(
            "SITE_TOKEN_MISSING",
            "X-Site-Token is required",
        ));
    };
    find_by_token(&shared.settings.sites, token.as_bytes(), |s| &s.token)
        .ok_or(Unauthorized("SITE_TOKEN_INVALID", "unknown site token"))
}

/// The account whose token is `presented`, compared in constant time with
/// every account's token (no early exit on the first differing byte or the
/// first match). Empty tokens never exist: `start` refuses them.
fn find_by_token<'a, T>(
    accounts: &'a [T],
    presented: &[u8],
    token: impl Fn(&T) -> &String,
) -> Option<&'a T> {
    use subtle::ConstantTimeEq;
    let mut found = None;
    for account in accounts {
        let matches: bool = token(account).as_bytes().ct_eq(presented).into();
        if matches && found.is_none() {
            found = Some(account);
        }
    }
    found
}

/// Reads a request body up to [`MAX_REQUEST_BODY`] within `timeout`;
/// `None` when over the limit, too slow, or broken.
async fn read_body(request: Request<Incoming>, timeout: Duration) -> Option<Bytes> {
    let read = Limited::new(request.into_body(), MAX_REQUEST_BODY).collect();
    tokio::time::timeout(timeout, read)
        .await
        .ok()?
        .ok()
        .map(|c| c.to_bytes())
}

/// A `Content-Length` over [`MAX_REQUEST_BODY`]: refused before reading.
fn declared_too_large(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > MAX_REQUEST_BODY as u64)
}

/// The protocol's normal answer for a route.
async fn answer(
    shared: &Arc<Shared>,
    route: Route,
    id: Option<String>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let settings = &shared.settings;
    match route {
        Route::ReadRequest => {
            if request.headers().contains_key("x-agent-token") {
                shared.store().counters.token_on_public_read += 1;
            }
            let id = id.unwrap_or_default();
            match shared
                .store()
                .read(&id, settings.scheme, settings.hide_scheme)
            {
                Some(data) => envelope_ok(StatusCode::OK, data),
                None => envelope_error(
                    StatusCode::NOT_FOUND,
                    "LOGIN_REQUEST_NOT_FOUND",
                    "no such login request",
                ),
            }
        }
        Route::Approve => approve(shared, &id.unwrap_or_default(), request).await,
        Route::Profile => match agent_of(shared, &request) {
            Err(refused) => refused.response(),
            Ok(agent) => {
                let owner = match settings.owner_key {
                    OwnerKey::UserId => "user_id",
                    OwnerKey::OwnerId => "owner_id",
                };
                let mut data = json!({
                    "agent_id": agent.agent_id,
                    "display_name": agent.display_name,
                    "avatar_url": agent.avatar_url,
                    "description": agent.description,
                    "owner_kyc_level": agent.owner_kyc_level,
                    "agent_reputation": agent.agent_reputation,
                });
                data[owner] = agent.owner_id.clone().into();
                envelope_ok(StatusCode::OK, data)
            }
        },
        Route::CreateRequest => {
            let site_id = match site_of(shared, &request) {
                Err(refused) => return refused.response(),
                Ok(site) => site.site_id.clone(),
            };
            let Some(body) = read_body(request, settings.client_timeout).await else {
                return envelope_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "request body too large",
                );
            };
            if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
                return envelope_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_JSON",
                    "the body is not JSON",
                );
            }
            let id = format!("lr_{}", random_hex(8));
            let created = shared.store().create(
                &site_id,
                random_hex(16),
                settings.difficulty,
                settings.ttl,
                id,
            );
            match created {
                Ok(data) => envelope_ok(StatusCode::CREATED, data),
                Err(_) => envelope_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_PENDING_REQUESTS",
                    "this site has too many pending login requests",
                ),
            }
        }
        Route::Events => events(shared, &request),
        Route::Jwks => json_response(StatusCode::OK, &shared.key.jwks()),
        Route::Other => envelope_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint"),
    }
}

async fn approve(
    shared: &Arc<Shared>,
    id: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let agent = match agent_of(shared, &request) {
        Err(refused) => return refused.response(),
        Ok(agent) => agent.clone(),
    };
    let body = read_body(request, shared.settings.client_timeout).await;
    let mut store = shared.store();
    let challenge = match store.approvable(id) {
        Err(ApproveError::NotFound) => {
            return envelope_error(
                StatusCode::NOT_FOUND,
                "LOGIN_REQUEST_NOT_FOUND",
                "no such login request",
            );
        }
        Err(ApproveError::Expired) => {
            return envelope_error(
                StatusCode::GONE,
                "LOGIN_REQUEST_EXPIRED",
                "the login request has expired",
            );
        }
        Err(ApproveError::Conflict) => {
            return envelope_error(
                StatusCode::CONFLICT,
                "SITE_LOGIN_CONFLICT",
                "the login request is not pending",
            );
        }
        Ok((request, ())) => (request.challenge.clone(), request.difficulty),
    };
    let Some(body) = body else {
        return envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        );
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body is not JSON",
        );
    };
    let Some(nonce) = body.get("pow_nonce").and_then(Value::as_str) else {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "pow_nonce must be a string",
        );
    };
    let (challenge, difficulty) = challenge;
    if !lime_pow::verify(shared.settings.scheme, &challenge, nonce, difficulty) {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_POW",
            "the proof of work is not valid",
        );
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let passport = shared.key.sign(&json!({
        "aud": crate::passport::AUDIENCE,
        "iss": shared.origin,
        "sub": agent.agent_id,
        "request_id": id,
        "iat": now,
        "nbf": now,
        "exp": now + crate::passport::MAX_LIFETIME_SECS,
    }));
    let data = store.approve(id, &agent.agent_id, nonce, passport);
    envelope_ok(StatusCode::OK, data)
}

fn events(shared: &Arc<Shared>, request: &Request<Incoming>) -> Response<ResponseBody> {
    let site_id = match site_of(shared, request) {
        Err(refused) => return refused.response(),
        Ok(site) => site.site_id.clone(),
    };
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (tx, body) = ResponseBody::bounded(crate::state::STREAM_QUEUE);
    // Headers first: a stream with nothing to replay still opens at once.
    let _ = tx.try_send(Bytes::from_static(b": lime emulator event stream\n\n"));
    // The store holds the stream's only strong sender: when it drops a
    // stream that fell behind, the body ends.
    let keepalive_tx = tx.downgrade();
    if shared
        .store()
        .subscribe(&site_id, last_event_id, tx)
        .is_err()
    {
        return envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_STREAMS",
            "this site has too many open event streams",
        );
    }
    let keepalive = shared.settings.keepalive;
    tokio::spawn(async move {
        let frame = Bytes::from(crate::sse::encode(None, r#"{"type":"keepalive"}"#));
        loop {
            tokio::time::sleep(keepalive).await;
            let Some(tx) = keepalive_tx.upgrade() else {
                return;
            };
            if tx.try_send(frame.clone()).is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
