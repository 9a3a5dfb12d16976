//! The MCP client (feature `mcp`): tools on MCP servers, called with the
//! agent's LIME token for the server's domain. rmcp speaks MCP; lime-core
//! decides the token and call rules; this module keeps one session per MCP
//! URL and bounds every exchange in time.
//!
//! Rules (`docs/protocol.md`, "MCP servers"): a session opens lazily and is
//! shared by concurrent calls; a call whose domain token changed opens a new
//! one. Inside the transport, per request: a 401 mints a newer token once and
//! re-sends, a second is [`Error::McpAuthentication`]; a forgotten legacy
//! session is re-initialized and the request re-sent once (rmcp's session
//! recovery). Nothing else is repeated: a `tools/call` may have run, and the
//! operation you pass to [`LimeAgent::mcp`] runs exactly once.

mod events;
pub(crate) mod http;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lime_core::Error;
use lime_core::drive::{TransportError, TransportErrorKind};
use lime_core::mcp::{KeyedLocks, McpCall, McpTarget, Want};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use tracing::Instrument;

use crate::LimeAgent;

/// The rmcp types lime's MCP signatures name, re-exported so a caller needs
/// no rmcp dependency of its own (for anything else, depend on rmcp at the
/// version lime-tokio's `Cargo.toml` names).
pub use rmcp::RoleClient;
pub use rmcp::model::{CallToolResult, ContentBlock, Tool};
pub use rmcp::service::{Peer, ServiceError};

/// How long one MCP exchange may take as a whole (headers, body and event
/// stream of one request; a long tool call): 300 s by default.
pub const DEFAULT_MCP_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest MCP answer, or one event of a stream, accepted: 16 MiB.
pub const MAX_MCP_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Open sessions kept at most; past it, the one idle longest is closed.
pub const MAX_MCP_SESSIONS: usize = 32;
/// A session unused this long is closed when the next session opens.
pub const MCP_SESSION_IDLE: Duration = Duration::from_secs(300);

/// The text of a tool's result: its text contents, joined by newlines.
///
/// ```
/// use lime_tokio::mcp::{CallToolResult, ContentBlock, ToolResultText};
/// let result = CallToolResult::success(vec![ContentBlock::text("hello")]);
/// assert_eq!(result.text(), "hello");
/// ```
pub trait ToolResultText {
    /// The text contents, joined by newlines (empty when there are none).
    fn text(&self) -> String;
}

impl ToolResultText for CallToolResult {
    fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// An open MCP session: rmcp's client, and the generation of the token it
/// last sent (the transport updates it when it refreshes).
pub(crate) struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    generation: Arc<AtomicU64>,
    last_used: Mutex<Instant>,
}

impl Session {
    fn peer(&self) -> Peer<RoleClient> {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.client.peer().clone()
    }
    fn idle_since(&self) -> Instant {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How MCP calls behave; set on the builder.
#[derive(Debug, Clone)]
pub(crate) struct McpOptions {
    pub(crate) exchange_timeout: Duration,
    pub(crate) serialize_calls: bool,
}

impl Default for McpOptions {
    fn default() -> Self {
        McpOptions {
            exchange_timeout: DEFAULT_MCP_EXCHANGE_TIMEOUT,
            serialize_calls: false,
        }
    }
}

/// One session per MCP URL, at most [`MAX_MCP_SESSIONS`].
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Arc<Session>>>,
    opening: KeyedLocks<tokio::sync::Mutex<()>>,
    /// Per URL, when calls are serialized.
    calls: KeyedLocks<tokio::sync::Mutex<()>>,
    options: McpOptions,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("open", &self.open().len())
            .finish()
    }
}

impl Sessions {
    pub(crate) fn new(options: McpOptions) -> Self {
        Sessions {
            open: Mutex::default(),
            opening: KeyedLocks::default(),
            calls: KeyedLocks::default(),
            options,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn get(&self, url: &str) -> Option<Arc<Session>> {
        self.open().get(url).cloned()
    }
    /// Keeps `session`; closes sessions idle past [`MCP_SESSION_IDLE`] and,
    /// past the cap, the one idle longest.
    fn put(&self, url: &str, session: Arc<Session>) {
        let mut open = self.open();
        let now = Instant::now();
        let mut closing: Vec<Arc<Session>> = Vec::new();
        open.retain(|_, s| {
            let stale = now.saturating_duration_since(s.idle_since()) > MCP_SESSION_IDLE;
            if stale {
                closing.push(Arc::clone(s));
            }
            !stale
        });
        if open.len() >= MAX_MCP_SESSIONS
            && let Some(oldest) = open
                .iter()
                .filter(|(key, _)| key.as_str() != url)
                .min_by_key(|(_, s)| s.idle_since())
                .map(|(key, _)| key.clone())
        {
            closing.extend(open.remove(&oldest));
        }
        open.insert(url.to_owned(), session);
        drop(open);
        for session in closing {
            tokio::spawn(close(session));
        }
    }
    fn forget(&self, url: &str) {
        self.open().remove(url);
    }
    fn take_all(&self) -> Vec<Arc<Session>> {
        self.open().drain().map(|(_, s)| s).collect()
    }
}

/// Ends a session once no call uses it any more (rmcp sends the `DELETE`
/// when the server gave a session id).
async fn close(session: Arc<Session>) {
    if let Ok(session) = Arc::try_unwrap(session) {
        let _ = session.client.cancel().await;
    }
    // Otherwise a call still holds it: the last holder's drop ends it.
}

impl LimeAgent {
    /// Runs `op` with an MCP peer for the server `target` names
    /// (`mcp.example.com`, `https://mcp.example.com:8443/mcp`), with the
    /// agent's token for its domain, the shared session, and the refresh
    /// rule applied per request. `op` runs once, within the exchange timeout
    /// (dropped at the timeout, which tells the server with
    /// `notifications/cancelled`).
    ///
    /// ```no_run
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// let resources = agent
    ///     .mcp("mcp.example.com", |peer| async move { peer.list_all_resources().await })
    ///     .await?;
    /// println!("{} resources", resources.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`mcp_access_token`](Self::mcp_access_token), plus
    /// [`Error::McpAuthentication`] when the server refuses a fresh token
    /// too, [`Error::Mcp`] for a JSON-RPC error, and [`Error::Transport`]
    /// naming the URL and what failed (dns, connect, tls, timeout, HTTP
    /// status, protocol).
    pub async fn mcp<T, F, Fut>(&self, target: &str, op: F) -> Result<T, Error>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let target = self.inner.state.mcp_target(target)?;
        let span = tracing::debug_span!(target: "lime", "mcp", domain = target.domain());
        self.run_mcp(&target, op).instrument(span).await
    }

    async fn run_mcp<T, F, Fut>(&self, target: &McpTarget, op: F) -> Result<T, Error>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let sessions = &self.inner.mcp_sessions;
        let serial = sessions
            .options
            .serialize_calls
            .then(|| sessions.calls.lock_for(target.url()));
        let _one_call = match &serial {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let session = self.mcp_session(target).await?;
        let timeout = sessions.options.exchange_timeout;
        match tokio::time::timeout(timeout, op(session.peer())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let error = from_service(error, target);
                if error.is_mcp_authentication() {
                    sessions.forget(target.url());
                }
                Err(error)
            }
            Err(_) => Err(timed_out(target, timeout)),
        }
    }

    /// Every tool the MCP server `target` names offers (pagination followed
    /// to the end).
    ///
    /// ```no_run
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// for tool in agent.list_tools("mcp.example.com").await? {
    ///     println!("{}", tool.name);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`mcp`](Self::mcp).
    pub async fn list_tools(&self, target: &str) -> Result<Vec<Tool>, Error> {
        self.mcp(target, |peer| async move { peer.list_all_tools().await })
            .await
    }

    /// Calls `tool` with `arguments` (any value that serializes to a JSON
    /// object, such as `serde_json::json!({"text": "hi"})`) on the MCP
    /// server `target` names. A tool that ran and failed is `Ok` with
    /// `is_error` set; a call whose outcome is unknown (the connection
    /// dropped after sending) is never repeated.
    ///
    /// ```no_run
    /// use lime_tokio::mcp::ToolResultText;
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// let result = agent
    ///     .call_tool("mcp.example.com", "echo", serde_json::json!({"text": "hello"}))
    ///     .await?;
    /// println!("{}", result.text());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `arguments` is not a JSON object;
    /// otherwise as [`mcp`](Self::mcp).
    pub async fn call_tool(
        &self,
        target: &str,
        tool: &str,
        arguments: impl serde::Serialize,
    ) -> Result<CallToolResult, Error> {
        let arguments = match serde_json::to_value(arguments) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(serde_json::Value::Null) => serde_json::Map::new(),
            _ => {
                return Err(Error::invalid_input(
                    "arguments",
                    "a tool's arguments must serialize to a JSON object",
                ));
            }
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let span = tracing::debug_span!(target: "lime", "tool", name = tool);
        self.mcp(target, |peer| async move { peer.call_tool(params).await })
            .instrument(span)
            .await
    }

    /// Checks that the MCP server answers (`ping`).
    ///
    /// # Errors
    /// As [`mcp`](Self::mcp).
    pub async fn ping(&self, target: &str) -> Result<(), Error> {
        use rmcp::model::{ClientRequest, PingRequest};
        let ping = ClientRequest::PingRequest(PingRequest::default());
        self.mcp(target, |peer| async move {
            peer.send_request(ping).await.map(|_| ())
        })
        .await
    }

    /// Ends every open MCP session now (HTTP `DELETE` with its session id,
    /// when the server gave one); later calls open new ones. It does not
    /// wait for calls in progress: a session one of them still uses ends
    /// when that call finishes.
    pub async fn close_mcp_sessions(&self) {
        for session in self.inner.mcp_sessions.take_all() {
            close(session).await;
        }
    }

    /// The session for `target`'s URL: the open one while it carries the
    /// domain's current token, else a new one, opened within the exchange
    /// timeout.
    async fn mcp_session(&self, target: &McpTarget) -> Result<Arc<Session>, Error> {
        let sessions = &self.inner.mcp_sessions;
        let ticket = self.mcp_ticket(target, Want::Fresh).await?;
        let current =
            |s: &Arc<Session>| McpCall::reuses(s.generation.load(Ordering::Acquire), &ticket);
        if let Some(session) = sessions.get(target.url()).filter(current) {
            return Ok(session);
        }
        let lock = sessions.opening.lock_for(target.url());
        let _one_open = lock.lock().await;
        if let Some(session) = sessions.get(target.url()).filter(current) {
            return Ok(session);
        }
        let generation = Arc::new(AtomicU64::new(ticket.generation()));
        let http = http::McpHttp::new(http::Parts {
            client: self.inner.mcp_client.clone(),
            tickets: Arc::new(self.weak()),
            target: target.clone(),
            generation: Arc::clone(&generation),
            header_timeout: self.inner.state.config().timeout(),
            exchange_timeout: sessions.options.exchange_timeout,
            max_body: MAX_MCP_BODY_BYTES,
        });
        let transport = StreamableHttpClientTransport::with_client(
            http,
            StreamableHttpClientTransportConfig::with_uri(target.url())
                .max_sse_event_size(MAX_MCP_BODY_BYTES),
        );
        let timeout = sessions.options.exchange_timeout;
        let client =
            match tokio::time::timeout(timeout, ClientConfig::default().serve(transport)).await {
                Ok(Ok(client)) => client,
                Ok(Err(error)) => return Err(from_initialize(error, target)),
                Err(_) => return Err(timed_out(target, timeout)),
            };
        tracing::debug!(target: "lime", url = %target, "MCP session opened");
        let session = Arc::new(Session {
            client,
            generation,
            last_used: Mutex::new(Instant::now()),
        });
        sessions.put(target.url(), Arc::clone(&session));
        Ok(session)
    }
}

/// rmcp's error as lime's: the error lime's transport raised when there is
/// one, a JSON-RPC error as [`Error::Mcp`], else a transport error naming
/// the URL (never an rmcp type name).
fn from_service(error: ServiceError, target: &McpTarget) -> Error {
    match error {
        ServiceError::McpError(data) => Error::mcp(data.code.0, data.message.into_owned()),
        ServiceError::Timeout { timeout } => timed_out(target, timeout),
        ServiceError::TransportSend(dynamic) => from_transport(dynamic.error.as_ref(), target),
        ServiceError::UnexpectedResponse => protocol(target, "an answer of the wrong type"),
        _ => session_ended(target),
    }
}

/// As [`from_service`], for opening a session.
fn from_initialize(error: ClientInitializeError, target: &McpTarget) -> Error {
    match error {
        ClientInitializeError::TransportError { error, .. } => {
            from_transport(error.error.as_ref(), target)
        }
        ClientInitializeError::JsonRpcError(data) => {
            Error::mcp(data.code.0, data.message.into_owned())
        }
        ClientInitializeError::LegacyFallbackFailed { discover, .. } => {
            from_initialize(*discover, target)
        }
        ClientInitializeError::ConnectionClosed(_) | ClientInitializeError::Cancelled => {
            session_ended(target)
        }
        ClientInitializeError::NoCompatibleProtocolVersion { .. } => {
            protocol(target, "the server speaks no MCP version lime supports")
        }
        _ => protocol(target, "the server's initialize answer is not valid"),
    }
}

/// The error lime's transport raised, which rmcp boxed.
fn from_transport(error: &(dyn std::error::Error + 'static), target: &McpTarget) -> Error {
    match error.downcast_ref::<StreamableHttpError<Error>>() {
        Some(StreamableHttpError::Client(lime)) => lime.clone(),
        Some(StreamableHttpError::SessionExpired) => TransportError::new(
            TransportErrorKind::HttpStatus,
            "the MCP server forgot the session again after it was reopened (HTTP 404)",
        )
        .with_request(format!("MCP {target}"), 2)
        .into(),
        Some(other) => protocol(target, &other.to_string()),
        None => session_ended(target),
    }
}

fn protocol(target: &McpTarget, what: &str) -> Error {
    TransportError::new(TransportErrorKind::Protocol, what)
        .with_request(format!("MCP {target}"), 1)
        .into()
}

fn session_ended(target: &McpTarget) -> Error {
    TransportError::new(
        TransportErrorKind::ConnectionLost,
        "the MCP session ended before the answer arrived",
    )
    .with_request(format!("MCP {target}"), 1)
    .into()
}

fn timed_out(target: &McpTarget, timeout: Duration) -> Error {
    TransportError::new(
        TransportErrorKind::Timeout,
        format!(
            "the MCP exchange did not finish within {} s (mcp_exchange_timeout)",
            timeout.as_secs_f64()
        ),
    )
    .with_request(format!("MCP {target}"), 1)
    .into()
}
