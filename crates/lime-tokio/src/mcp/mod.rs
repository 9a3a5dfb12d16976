//! The MCP client (feature `mcp`): tools on MCP servers, called with the
//! agent's LIME token for the server's domain. rmcp speaks MCP; this module
//! keeps one session per MCP URL, applies, refreshes and retries tokens.
//!
//! Rules (`docs/protocol.md`, "MCP servers"): a session opens lazily and is
//! shared by concurrent calls; it is reopened when the domain's token was
//! refreshed; a 401 refreshes the token once and retries once, a second is
//! [`Error::McpAuthentication`]; other failures are not repeated (a
//! `tools/call` may have run).

mod http;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use lime_core::Error;
use lime_core::drive::{TransportError, TransportErrorKind};
use lime_core::mcp::{DomainLocks, McpTarget};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Prompt, ReadResourceRequestParams, ReadResourceResult, Resource,
    ResourceTemplate, Tool,
};
use rmcp::service::{Peer, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};

use crate::LimeAgent;

/// The read timeout for MCP answers (a long tool call): 300 s.
pub const DEFAULT_MCP_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// The largest MCP answer or event accepted: 16 MiB.
pub const MAX_MCP_BODY_BYTES: usize = 16 * 1024 * 1024;

/// rmcp's model types, re-exported: results come back as MCP defines them.
pub use rmcp::model;

/// An open MCP session: rmcp's client, and the token generation it uses.
pub(crate) struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    generation: Option<u64>,
}

/// How MCP calls behave; set on the builder.
#[derive(Debug, Clone)]
pub(crate) struct McpOptions {
    pub(crate) read_timeout: std::time::Duration,
    pub(crate) serialize_calls: bool,
}

impl Default for McpOptions {
    fn default() -> Self {
        McpOptions {
            read_timeout: DEFAULT_MCP_READ_TIMEOUT,
            serialize_calls: false,
        }
    }
}

/// One session per MCP URL.
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Arc<Session>>>,
    opening: DomainLocks<tokio::sync::Mutex<()>>,
    /// Per URL, when calls are serialized.
    calls: DomainLocks<tokio::sync::Mutex<()>>,
    options: McpOptions,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().map_or(0, |o| o.len());
        f.debug_struct("Sessions").field("open", &open).finish()
    }
}

impl Sessions {
    pub(crate) fn new(options: McpOptions) -> Self {
        Sessions {
            open: Mutex::default(),
            opening: DomainLocks::default(),
            calls: DomainLocks::default(),
            options,
        }
    }

    fn get(&self, url: &str) -> Option<Arc<Session>> {
        self.open.lock().ok()?.get(url).cloned()
    }
    fn put(&self, url: &str, session: Arc<Session>) {
        if let Ok(mut open) = self.open.lock() {
            open.insert(url.to_owned(), session);
        }
    }
    fn forget(&self, url: &str) -> Option<Arc<Session>> {
        self.open.lock().ok()?.remove(url)
    }
    fn take_all(&self) -> Vec<Arc<Session>> {
        self.open
            .lock()
            .map(|mut open| open.drain().map(|(_, s)| s).collect())
            .unwrap_or_default()
    }
}

/// Why an attempt failed: the server refused the token (refresh and retry
/// once), or anything else.
enum Attempt {
    Unauthorized(String),
    Failed(Error),
}

fn from_service(error: ServiceError) -> Attempt {
    if let Some(challenge) = error.auth_challenge() {
        return Attempt::Unauthorized(challenge.to_owned());
    }
    Attempt::Failed(match error {
        ServiceError::McpError(data) => Error::mcp(data.code.0, data.message.into_owned()),
        ServiceError::Timeout { .. } => TransportError::new(
            TransportErrorKind::Timeout,
            "the MCP server did not answer in time",
        )
        .into(),
        other => TransportError::new(TransportErrorKind::ConnectionLost, other.to_string()).into(),
    })
}

impl LimeAgent {
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
    /// As [`mcp_access_token`](Self::mcp_access_token), plus
    /// [`Error::McpAuthentication`] when the server refuses a fresh token
    /// too, [`Error::Mcp`] for a JSON-RPC error, and transport errors.
    pub async fn list_tools(&self, target: &str) -> Result<Vec<Tool>, Error> {
        self.with_mcp(target, |peer| async move { peer.list_all_tools().await })
            .await
    }

    /// Calls `tool` with `arguments` on the MCP server `target` names. A
    /// tool that ran and failed is `Ok` with `is_error` set; a call whose
    /// outcome is unknown (the connection dropped after sending) is never
    /// repeated.
    ///
    /// ```no_run
    /// # async fn run(agent: lime_tokio::LimeAgent) -> Result<(), lime_tokio::Error> {
    /// let mut args = serde_json::Map::new();
    /// args.insert("text".into(), "hello".into());
    /// let result = agent.call_tool("mcp.example.com", "echo", args).await?;
    /// println!("{:?}", result.content);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn call_tool(
        &self,
        target: &str,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CallToolResult, Error> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.with_mcp(target, move |peer| {
            let params = params.clone();
            async move { peer.call_tool(params).await }
        })
        .await
    }

    /// Every resource the MCP server offers (pagination followed).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn list_resources(&self, target: &str) -> Result<Vec<Resource>, Error> {
        self.with_mcp(
            target,
            |peer| async move { peer.list_all_resources().await },
        )
        .await
    }

    /// Every resource template the MCP server offers (pagination followed).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn list_resource_templates(
        &self,
        target: &str,
    ) -> Result<Vec<ResourceTemplate>, Error> {
        self.with_mcp(target, |peer| async move {
            peer.list_all_resource_templates().await
        })
        .await
    }

    /// Reads the resource `uri` from the MCP server.
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn read_resource(
        &self,
        target: &str,
        uri: &str,
    ) -> Result<ReadResourceResult, Error> {
        let params = ReadResourceRequestParams::new(uri);
        self.with_mcp(target, move |peer| {
            let params = params.clone();
            async move { peer.read_resource(params).await }
        })
        .await
    }

    /// Every prompt the MCP server offers (pagination followed).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn list_prompts(&self, target: &str) -> Result<Vec<Prompt>, Error> {
        self.with_mcp(target, |peer| async move { peer.list_all_prompts().await })
            .await
    }

    /// The prompt `name` with `arguments`, from the MCP server.
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn get_prompt(
        &self,
        target: &str,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<GetPromptResult, Error> {
        let params = GetPromptRequestParams::new(name).with_arguments(arguments);
        self.with_mcp(target, move |peer| {
            let params = params.clone();
            async move {
                match peer.get_prompt_once(params).await? {
                    GetPromptResponse::Complete(result) => Ok(result),
                    _ => Err(ServiceError::UnexpectedResponse),
                }
            }
        })
        .await
    }

    /// Checks that the MCP server answers (`ping`).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn ping(&self, target: &str) -> Result<(), Error> {
        use rmcp::model::{ClientRequest, PingRequest};
        self.with_mcp(target, |peer| async move {
            peer.send_request(ClientRequest::PingRequest(PingRequest::default()))
                .await
                .map(|_| ())
        })
        .await
    }

    /// The MCP server's name, version, capabilities and instructions, from
    /// its `initialize` answer (opening a session when none is open).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools).
    pub async fn mcp_server_info(
        &self,
        target: &str,
    ) -> Result<rmcp::model::ServerPeerInfo, Error> {
        self.with_mcp(target, |peer| async move {
            peer.peer_info()
                .map(|info| (*info).clone())
                .ok_or(ServiceError::UnexpectedResponse)
        })
        .await
    }

    /// rmcp's peer for `target`'s session, for any other MCP request: the
    /// token and session as every call gets them (no retry on a 401 for
    /// what the caller sends through it).
    ///
    /// # Errors
    /// As [`list_tools`](Self::list_tools), for opening the session.
    pub async fn mcp_peer(&self, target: &str) -> Result<Peer<RoleClient>, Error> {
        self.with_mcp(target, |peer| async move { Ok(peer) }).await
    }

    /// Ends every open MCP session (HTTP `DELETE` with its session id, when
    /// the server gave one). Later calls open new ones.
    pub async fn close_mcp_sessions(&self) {
        for session in self.inner.mcp_sessions.take_all() {
            if let Ok(session) = Arc::try_unwrap(session) {
                let _ = session.client.cancel().await;
            }
        }
    }

    /// Runs `op` on `target`'s session: opened lazily, reopened after a
    /// token refresh; a refused token is refreshed once and `op` run once
    /// more.
    async fn with_mcp<T, F, Fut>(&self, target: &str, op: F) -> Result<T, Error>
    where
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let target = self.inner.state.mcp_target(target)?;
        let sessions = &self.inner.mcp_sessions;
        let serial = sessions
            .options
            .serialize_calls
            .then(|| sessions.calls.lock_for(target.url()));
        let _one_call = match &serial {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let mut refreshed = false;
        loop {
            let attempt = match self.mcp_session(&target, refreshed).await {
                Ok(session) => op(session.client.peer().clone())
                    .await
                    .map_err(from_service),
                Err(attempt) => Err(attempt),
            };
            match attempt {
                Ok(value) => return Ok(value),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::Unauthorized(challenge)) => {
                    self.inner.mcp_sessions.forget(target.url());
                    if refreshed {
                        return Err(Error::mcp_authentication(format!(
                            "{} refused a freshly minted token ({})",
                            target.domain(),
                            if challenge.is_empty() {
                                "no challenge"
                            } else {
                                &challenge
                            }
                        )));
                    }
                    tracing::debug!(target: "lime", domain = target.domain(), "MCP server refused the token; refreshing it once");
                    refreshed = true;
                }
            }
        }
    }

    /// The session for `target`'s URL, with a token for its domain (a new
    /// one when `refresh`).
    async fn mcp_session(
        &self,
        target: &McpTarget,
        refresh: bool,
    ) -> Result<Arc<Session>, Attempt> {
        let state = &self.inner.state;
        let token = if refresh {
            self.refresh_mcp_access_token(target.url()).await
        } else {
            self.mcp_access_token(target.url()).await
        }
        .map_err(Attempt::Failed)?;
        let generation = state.mcp_token_generation(target.domain());
        let current = |s: &Arc<Session>| s.generation == generation;
        if let Some(session) = self.inner.mcp_sessions.get(target.url()).filter(current) {
            return Ok(session);
        }
        let lock = self.inner.mcp_sessions.opening.lock_for(target.url());
        let _one_open = lock.lock().await;
        if let Some(session) = self.inner.mcp_sessions.get(target.url()).filter(current) {
            return Ok(session);
        }
        let config = state.config();
        let http = http::McpHttp {
            client: self.inner.client.clone(),
            domain: target.domain().into(),
            timeout: config.timeout(),
            read_timeout: self.inner.mcp_sessions.options.read_timeout,
            max_body: MAX_MCP_BODY_BYTES,
        };
        let transport = StreamableHttpClientTransport::with_client(
            http,
            StreamableHttpClientTransportConfig::with_uri(target.url())
                .auth_header(token.expose_secret()),
        );
        let client = match ClientConfig::default().serve(transport).await {
            Ok(client) => client,
            Err(error) => {
                return Err(match error.auth_challenge() {
                    Some(challenge) => Attempt::Unauthorized(challenge.to_owned()),
                    None => Attempt::Failed(
                        TransportError::new(TransportErrorKind::ConnectionLost, error.to_string())
                            .into(),
                    ),
                });
            }
        };
        tracing::debug!(target: "lime", url = target.url(), "MCP session opened");
        let session = Arc::new(Session { client, generation });
        self.inner.mcp_sessions.put(target.url(), session.clone());
        Ok(session)
    }
}
