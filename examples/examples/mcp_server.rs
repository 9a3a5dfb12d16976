//! An MCP server of your own that accepts LIME agents: rmcp's
//! streamable-HTTP server with one tool, behind lime's token layer
//! (`lime_tokio::mcp_server`), and an agent that mints a token for the
//! server's domain and calls the tool. A request without a valid token
//! never reaches rmcp. Runs against an embedded emulator unless
//! `LIME_API_BASE` is set.
//!
//! ```text
//! cargo run -p lime-examples --example mcp_server
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use lime_tokio::LimeAgent;
use lime_tokio::mcp::ToolResultText;
use lime_tokio::mcp_server::{McpTokenVerifier, VerifiedMcpToken};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};

/// The domain this MCP server serves: agents mint tokens for it.
const DOMAIN: &str = "tools.lime.example";

/// One tool, `hello`, that greets the calling agent by its verified id.
#[derive(Clone)]
struct Greeter;

impl ServerHandler for Greeter {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = serde_json::json!({"type": "object", "properties": {}});
        let schema = Arc::new(schema.as_object().cloned().unwrap_or_default());
        let hello = Tool::new("hello", "Greets the calling agent", schema);
        Ok(ListToolsResult::with_all_items(vec![hello]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "hello" {
            return Err(ErrorData::invalid_params("no such tool", None));
        }
        // lime's layer put the verified token in the HTTP request's extensions.
        let agent = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<VerifiedMcpToken>())
            .ok_or_else(|| ErrorData::internal_error("no verified agent", None))?;
        let text = format!("hello, {}", agent.agent_id);
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = match std::env::var("LIME_API_BASE") {
        Ok(base) if !base.is_empty() => None,
        _ => Some(lime_emulator::Emulator::builder().start().await?),
    };
    let base_url = emulator.as_ref().map(|e| e.base_url());

    // The MCP server: rmcp behind lime's layer, on a loopback port.
    let verifier = McpTokenVerifier::builder()
        .expected_domain(DOMAIN)
        .configure(|c| match &base_url {
            Some(url) => c.base_url(url),
            None => c,
        })
        .build()?;
    verifier.warm_up().await?;
    let rmcp = StreamableHttpService::new(
        || Ok(Greeter),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts([DOMAIN]),
    );
    let service = tower_layer::Layer::layer(&verifier.layer(), rmcp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            let hyper_service = hyper::service::service_fn(move |request| {
                let mut service = service.clone();
                async move { tower_service::Service::call(&mut service, request).await }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service),
            );
        }
    });
    println!("MCP server for {DOMAIN} at {addr}");

    // An agent calls it: a token minted for the domain, sent only there.
    let mut agent = LimeAgent::builder()
        .resolve(DOMAIN, addr)
        .mcp_allow_http(true); // loopback for the example; HTTPS in production
    if let Some(emulator) = &emulator {
        agent = agent
            .token(emulator.agent_token())
            .base_url(emulator.base_url());
    }
    let agent = agent.build()?;
    let url = format!("http://{DOMAIN}:{}/mcp", addr.port());
    let reply = agent
        .call_tool(&url, "hello", serde_json::Map::new())
        .await?;
    println!("hello -> {}", reply.text());
    Ok(())
}
