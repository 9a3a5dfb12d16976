//! The emulator's MCP server: rmcp's streamable-HTTP server on a loopback
//! port of its own, accepting only MCP access tokens the emulator minted for
//! its domain. Tools `echo`, `add`, `whoami` and `slow`, and faults for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::faults::{Fault, Route};

/// What the MCP server counts, for tests.
#[derive(Debug, Default)]
pub struct McpCounters {
    /// `initialize` requests answered.
    pub initializations: AtomicU64,
    /// `tools/call` requests received (answered or dropped).
    pub tool_calls: AtomicU64,
    /// Requests that carried a valid token.
    pub tokens_seen: AtomicU64,
    /// Requests refused with 401.
    pub refused: AtomicU64,
    /// `notifications/cancelled` received (a client dropped a call).
    pub cancellations: AtomicU64,
    /// `slow` calls running now.
    pub slow_in_flight: AtomicU64,
    /// The most `slow` calls that ran at once.
    pub slow_max_in_flight: AtomicU64,
}

/// The MCP server's shared state.
#[derive(Debug)]
pub(crate) struct McpServerState {
    pub(crate) domain: String,
    pub(crate) issuer: String,
    pub(crate) keys: Arc<crate::passport::KeyRing>,
    pub(crate) counters: McpCounters,
    /// The emulator's fault plan (routes `mcp` and `mcp-call`).
    pub(crate) faults: Arc<std::sync::Mutex<crate::faults::FaultPlan>>,
    /// The emulator's clock (a test's, or the system's).
    pub(crate) clock: crate::clock::Clock,
    /// Tokens already verified.
    pub(crate) verified: crate::mcp_token::VerifiedTokens,
}

/// Who called: the verified token's claims, put in the request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) agent_id: String,
    pub(crate) domain: String,
}

impl McpServerState {
    /// The caller a request's bearer token names, when it is a token the
    /// emulator minted for this domain and not expired.
    fn caller(&self, request: &Request<Incoming>) -> Option<Caller> {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let now = self.clock.now().unix_timestamp();
        let agent_id = self.verified.caller(
            &self.keys.current(),
            bearer,
            &self.issuer,
            &self.domain,
            now,
        )?;
        Some(Caller {
            agent_id,
            domain: self.domain.clone(),
        })
    }

    /// What the fault plan scripted for this request on `route`, applied:
    /// `Some` answer (or a drop) when it replaces the normal one.
    async fn fault(&self, route: Route) -> Option<Result<Response<Body>, DropConnection>> {
        let fault = self
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(route, self.clock.now())?;
        match fault {
            Fault::Status { status: 401, .. } => {
                self.counters.refused.fetch_add(1, Ordering::SeqCst);
                Some(Ok(invalid_token()))
            }
            Fault::Status { status, .. } => Some(Ok(status_only(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ))),
            Fault::Drop => Some(Err(DropConnection)),
            Fault::DelayHeaders(pause) => {
                tokio::time::sleep(pause).await;
                None
            }
            // The API's other faults have no MCP meaning.
            _ => None,
        }
    }
}

/// The one fixed resource.
const README_URI: &str = "lime://emulator/readme";

/// The tools, as an rmcp server handler.
#[derive(Clone)]
pub(crate) struct EmulatedTools {
    state: Arc<McpServerState>,
}

fn schema(value: Value) -> Arc<serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(serde_json::Map::new()),
    }
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "echo",
            "Returns its text",
            schema(
                json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
            ),
        ),
        Tool::new(
            "add",
            "Adds two numbers",
            schema(
                json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
            ),
        ),
        Tool::new(
            "whoami",
            "The agent and domain of the caller's token",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "slow",
            "Answers after `ms` milliseconds",
            schema(
                json!({"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]}),
            ),
        ),
    ]
}

impl ServerHandler for EmulatedTools {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_instructions("The LIME emulator's MCP server: echo, add, whoami, slow.")
    }

    async fn initialize(
        &self,
        request: rmcp::model::InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        self.state
            .counters
            .initializations
            .fetch_add(1, Ordering::SeqCst);
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn on_cancelled(
        &self,
        _notification: rmcp::model::CancelledNotificationParam,
        _context: rmcp::service::NotificationContext<RoleServer>,
    ) {
        self.state
            .counters
            .cancellations
            .fetch_add(1, Ordering::SeqCst);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            README_URI, "readme",
        )]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("lime://greeting/{name}", "greeting"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let text = if request.uri == README_URI {
            format!("The LIME emulator's MCP server for {}.", self.state.domain)
        } else if let Some(name) = request.uri.strip_prefix("lime://greeting/") {
            format!("Hello, {name}!")
        } else {
            return Err(McpError::resource_not_found(
                format!("no resource {:?}", request.uri),
                None,
            ));
        };
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
            vec![ResourceContents::text(text, request.uri)],
        )))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greets someone by name"),
            Some(vec![PromptArgument::new("name").with_required(true)]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != "greet" {
            return Err(McpError::invalid_params(
                format!("no prompt named {:?}", request.name),
                None,
            ));
        }
        let name = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::invalid_params("greet needs `name`", None))?;
        Ok(GetPromptResponse::Complete(GetPromptResult::new(vec![
            PromptMessage::new_text(Role::User, format!("Please greet {name}.")),
        ])))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let text = match request.name.as_ref() {
            "echo" => args
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| McpError::invalid_params("echo needs `text`", None))?,
            "add" => {
                let (Some(a), Some(b)) = (
                    args.get("a").and_then(Value::as_f64),
                    args.get("b").and_then(Value::as_f64),
                ) else {
                    return Ok(CallToolResult::error(vec![ContentBlock::text(
                        "add needs numbers `a` and `b`",
                    )])
                    .into());
                };
                let sum = a + b;
                if sum.fract() == 0.0 && sum.abs() < 9e15 {
                    format!("{}", sum as i64)
                } else {
                    sum.to_string()
                }
            }
            "whoami" => {
                let caller = context
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<Caller>())
                    .cloned()
                    .ok_or_else(|| McpError::internal_error("no caller", None))?;
                json!({"agent_id": caller.agent_id, "domain": caller.domain}).to_string()
            }
            "slow" => {
                let ms = args
                    .get("ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(60_000);
                let counters = &self.state.counters;
                let running = counters.slow_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                counters
                    .slow_max_in_flight
                    .fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                counters.slow_in_flight.fetch_sub(1, Ordering::SeqCst);
                format!("slept {ms} ms")
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("no tool named {other:?}"),
                    None,
                ));
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// The 401 an MCP server answers a missing, foreign or expired token with.
fn invalid_token() -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(b"invalid token"))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// An empty answer with `status`.
fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|n| match n {}).boxed());
    *response.status_mut() = status;
    response
}

/// The marker a dropped connection's handler returns.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault")
    }
}

impl std::error::Error for DropConnection {}

/// The MCP endpoint: checks the token and the faults, then hands the
/// request to rmcp.
pub(crate) struct McpEndpoint {
    state: Arc<McpServerState>,
    /// How long a request body may take to arrive (the client timeout).
    body_timeout: std::time::Duration,
    sessions: Arc<LocalSessionManager>,
    rmcp: rmcp::transport::streamable_http_server::StreamableHttpService<
        EmulatedTools,
        LocalSessionManager,
    >,
}

/// Legacy MCP sessions kept at most (MCP `2026-07-28` has none); past it,
/// `initialize` is answered 503 until idle ones close.
pub const MAX_MCP_SESSIONS: usize = 256;
/// A legacy session unused this long is closed.
const MCP_SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(60);
/// The largest MCP request body read.
const MAX_MCP_REQUEST_BODY: usize = 1024 * 1024;

type LocalSessionManager =
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

impl std::fmt::Debug for McpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpEndpoint")
            .field("domain", &self.state.domain)
            .finish_non_exhaustive()
    }
}

impl McpEndpoint {
    pub(crate) fn new(state: Arc<McpServerState>, body_timeout: std::time::Duration) -> Arc<Self> {
        use rmcp::transport::streamable_http_server::{
            StreamableHttpServerConfig, StreamableHttpService,
        };
        let tools = EmulatedTools {
            state: state.clone(),
        };
        let config = StreamableHttpServerConfig::default().with_allowed_hosts([
            state.domain.clone(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ]);
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = Some(MCP_SESSION_IDLE);
        let sessions = Arc::new(sessions);
        let rmcp =
            StreamableHttpService::new(move || Ok(tools.clone()), Arc::clone(&sessions), config);
        Arc::new(McpEndpoint {
            state,
            body_timeout,
            sessions,
            rmcp,
        })
    }

    pub(crate) fn state(&self) -> &Arc<McpServerState> {
        &self.state
    }

    /// Answers one request (or asks for the connection to be dropped).
    pub(crate) async fn handle(
        &self,
        mut request: Request<Incoming>,
    ) -> Result<Response<Body>, DropConnection> {
        let state = &self.state;
        if request.uri().path() != "/mcp" {
            return Ok(status_only(StatusCode::NOT_FOUND));
        }
        if let Some(answer) = state.fault(Route::Mcp).await {
            return answer;
        }
        let Some(caller) = state.caller(&request) else {
            state.counters.refused.fetch_add(1, Ordering::SeqCst);
            return Ok(invalid_token());
        };
        state.counters.tokens_seen.fetch_add(1, Ordering::SeqCst);
        request.extensions_mut().insert(caller);
        // Read the body (bounded in size and time) to see whether it is a
        // tool call (for counters and faults) or opens a session.
        let (parts, body) = request.into_parts();
        let read = http_body_util::Limited::new(body, MAX_MCP_REQUEST_BODY).collect();
        let bytes = match tokio::time::timeout(self.body_timeout, read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => return Err(DropConnection),
        };
        let method = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["method"].as_str().map(str::to_owned));
        if method.as_deref() == Some("initialize")
            && self.sessions.sessions.read().await.len() >= MAX_MCP_SESSIONS
        {
            return Ok(status_only(StatusCode::SERVICE_UNAVAILABLE));
        }
        let is_tool_call = method.as_deref() == Some("tools/call");
        if is_tool_call {
            state.counters.tool_calls.fetch_add(1, Ordering::SeqCst);
            if let Some(answer) = state.fault(Route::McpToolCall).await {
                return answer;
            }
        }
        let request = Request::from_parts(parts, Full::new(bytes));
        let mut rmcp = self.rmcp.clone();
        let response = tower_service::Service::call(&mut rmcp, request)
            .await
            .unwrap_or_else(|never| match never {});
        Ok(response)
    }
}
