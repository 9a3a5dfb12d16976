//! `lime mcp`: MCP access tokens and MCP servers' tools, resources and
//! prompts, called with the agent's LIME token. `lime mcp token` prints a
//! token: that is its job, as a token command's is.

use std::net::SocketAddr;

use clap::{Args, Subcommand};
use lime_tokio::LimeAgent;
use lime_tokio::mcp::ServiceError;
use rmcp::model::{GetPromptRequestParams, GetPromptResponse, ReadResourceRequestParams};
use serde_json::{Map, Value, json};

use crate::client::{ClientArgs, PowArgs};
use crate::report::{self, Failure, escape_controls};

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Print an access token for the MCP server TARGET names (a host such as
    /// mcp.example.com, or an https:// URL): the token alone on stdout.
    Token(TokenArgs),
    /// List the server's tools.
    Tools(ServerArgs),
    /// Call a tool: exit 0 when it ran, 1 when it reported an error.
    Call(CallArgs),
    /// List the server's resources and resource templates.
    Resources(ServerArgs),
    /// Read a resource.
    Read(ReadArgs),
    /// List the server's prompts.
    Prompts(ServerArgs),
    /// Get a prompt.
    Prompt(PromptArgs),
    /// Check that the server answers.
    Ping(ServerArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The MCP server: `mcp.example.com`, `mcp.example.com:8443` or
    /// `https://mcp.example.com/mcp`.
    target: String,
    /// Mint a new token even if a fresh one is cached.
    #[arg(long)]
    force_refresh: bool,
    #[command(flatten)]
    policy: McpPolicyArgs,
    #[command(flatten)]
    client: ClientArgs,
}

/// Where MCP tokens may travel, beyond the defaults.
#[derive(Debug, Args, Clone)]
pub(crate) struct McpPolicyArgs {
    /// Allow a plain http:// MCP URL (the MCP token travels unencrypted);
    /// --allow-http is the API's.
    #[arg(long)]
    mcp_allow_http: bool,
    /// Let MCP tokens reach addresses in this CIDR range (10.20.0.0/16)
    /// although they are not globally reachable (repeatable).
    #[arg(long, value_name = "CIDR")]
    mcp_allow_range: Vec<String>,
}

impl McpPolicyArgs {
    fn apply(&self, mut builder: lime_core::ConfigBuilder) -> lime_core::ConfigBuilder {
        builder = builder.mcp_allow_http(self.mcp_allow_http);
        for range in &self.mcp_allow_range {
            builder = builder.mcp_allow_range(range.clone());
        }
        builder
    }
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The MCP server: `mcp.example.com`, `mcp.example.com:8443` or
    /// `https://mcp.example.com/mcp`.
    target: String,
    /// Connect to HOST on PORT at ADDR without DNS, as curl's --resolve
    /// (repeatable); TLS still checks HOST.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = resolve_entry)]
    resolve: Vec<(String, SocketAddr)>,
    /// Give up on the whole command after this many seconds (the token's
    /// mint, opening the session and every exchange); --timeout bounds
    /// each exchange.
    #[arg(long, value_name = "SECONDS", value_parser = crate::client::seconds)]
    deadline: Option<std::time::Duration>,
    #[command(flatten)]
    policy: McpPolicyArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The tool's name.
    tool: String,
    /// An argument, KEY=VALUE; VALUE is JSON when it parses as JSON, else a string.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = key_value)]
    args: Vec<(String, Value)>,
    /// All arguments as one JSON object (`--arg`s are added to it).
    #[arg(long = "args", value_name = "JSON", value_parser = json_object)]
    args_json: Option<Map<String, Value>>,
}

#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The resource's URI.
    uri: String,
}

#[derive(Debug, Args)]
pub(crate) struct PromptArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The prompt's name.
    name: String,
    /// An argument, KEY=VALUE; VALUE is JSON when it parses as JSON, else a string.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = key_value)]
    args: Vec<(String, Value)>,
}

/// `HOST:PORT:ADDR` (ADDR may be `[::1]` or `::1`).
fn resolve_entry(text: &str) -> Result<(String, SocketAddr), String> {
    let mut parts = text.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{text:?} is not HOST:PORT:ADDR"));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port"))?;
    let ip: std::net::IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    Ok((host.to_ascii_lowercase(), SocketAddr::new(ip, port)))
}

/// `KEY=VALUE`: VALUE as JSON when it parses, else as a string.
fn key_value(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if key.is_empty() {
        return Err(format!("{text:?} has an empty KEY"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

fn json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("--args must be a JSON object".to_owned()),
    }
}

impl TokenArgs {
    fn agent(&self) -> Result<LimeAgent, Failure> {
        let config = self
            .client
            .config_with(&PowArgs::default(), |b| self.policy.apply(b))?;
        Ok(LimeAgent::builder().config(config).build()?)
    }
}

impl ServerArgs {
    fn agent(&self) -> Result<LimeAgent, Failure> {
        self.check_resolve_ports()?;
        let config = self
            .client
            .config_with(&PowArgs::default(), |b| self.policy.apply(b))?;
        let mut builder = LimeAgent::builder().config(config);
        if let Some(timeout) = self.client.timeout {
            // --timeout bounds each exchange, a long tool call's too.
            builder = builder.mcp_exchange_timeout(timeout);
        }
        for (host, addr) in &self.resolve {
            builder = builder.resolve(host, *addr);
        }
        Ok(builder.build()?)
    }
}

impl ServerArgs {
    /// `--resolve HOST:PORT:ADDR` applies to HOST on PORT, as in curl: an
    /// entry for the target's host on another port is a mistake, refused
    /// rather than applied to the wrong port or silently ignored.
    fn check_resolve_ports(&self) -> Result<(), Failure> {
        let Ok(target) = lime_tokio::McpTarget::parse(&self.target, true) else {
            return Ok(()); // the agent refuses it with the rule's reason
        };
        let Ok(uri) = target.url().parse::<http::Uri>() else {
            return Ok(());
        };
        let default_port = if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        let port = uri.port_u16().unwrap_or(default_port);
        for (host, addr) in &self.resolve {
            if *host == target.domain() && addr.port() != port {
                return Err(Failure::new(
                    crate::report::Kind::InvalidInput,
                    format!(
                        "--resolve {host}:{}:… names port {}, but the MCP URL uses port {port}",
                        addr.port(),
                        addr.port()
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, Failure> {
    report::to_json(value)
}

impl McpCommand {
    fn server(&self) -> Option<&ServerArgs> {
        match self {
            McpCommand::Token(_) => None,
            McpCommand::Tools(s)
            | McpCommand::Resources(s)
            | McpCommand::Prompts(s)
            | McpCommand::Ping(s) => Some(s),
            McpCommand::Call(call) => Some(&call.server),
            McpCommand::Read(read) => Some(&read.server),
            McpCommand::Prompt(prompt) => Some(&prompt.server),
        }
    }
}

pub(crate) async fn run(command: McpCommand, json_mode: bool) -> Result<u8, Failure> {
    let Some(deadline) = command.server().and_then(|s| s.deadline) else {
        return execute(command, json_mode).await;
    };
    match tokio::time::timeout(deadline, execute(command, json_mode)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(lime_tokio::Error::from(lime_tokio::TransportError::new(
            lime_tokio::TransportErrorKind::Timeout,
            format!(
                "the command's --deadline of {} s passed",
                deadline.as_secs_f64()
            ),
        ))
        .into()),
    }
}

async fn execute(command: McpCommand, json_mode: bool) -> Result<u8, Failure> {
    match command {
        McpCommand::Token(args) => {
            let agent = args.agent()?;
            let token = if args.force_refresh {
                agent.refresh_mcp_access_token(&args.target).await?
            } else {
                agent.mcp_access_token(&args.target).await?
            };
            tracing::debug!(target: "lime", %token, "MCP access token ready");
            report::success(
                json_mode,
                &json!({
                    "domain": token.domain(),
                    "token_type": token.token_type(),
                    "expires_in": token.expires_in().as_secs(),
                    "access_token": token.expose_secret(),
                }),
                token.expose_secret(),
            );
            Ok(0)
        }
        McpCommand::Tools(server) => {
            let tools = server.agent()?.list_tools(&server.target).await?;
            let text = tools
                .iter()
                .map(|t| {
                    format!(
                        "{:<16} {}",
                        escape_controls(&t.name),
                        escape_controls(t.description.as_deref().unwrap_or(""))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            report::success(json_mode, &json!({ "tools": to_json(&tools)? }), &text);
            Ok(0)
        }
        McpCommand::Call(call) => {
            let mut arguments = call.args_json.clone().unwrap_or_default();
            arguments.extend(call.args.iter().cloned());
            let agent = call.server.agent()?;
            let result = agent
                .call_tool(&call.server.target, &call.tool, arguments)
                .await?;
            let value = to_json(&result)?;
            report::success(json_mode, &value, &content_text(&value["content"]));
            Ok(if result.is_error == Some(true) { 1 } else { 0 })
        }
        McpCommand::Resources(server) => {
            let (resources, templates) = server
                .agent()?
                .mcp(&server.target, |peer| async move {
                    Ok((
                        peer.list_all_resources().await?,
                        peer.list_all_resource_templates().await?,
                    ))
                })
                .await?;
            let mut lines: Vec<String> = resources
                .iter()
                .map(|r| {
                    format!(
                        "{:<32} {}",
                        escape_controls(&r.uri),
                        escape_controls(&r.name)
                    )
                })
                .collect();
            lines.extend(templates.iter().map(|t| {
                format!(
                    "{:<32} {} (template)",
                    escape_controls(&t.uri_template),
                    escape_controls(&t.name)
                )
            }));
            report::success(
                json_mode,
                &json!({ "resources": to_json(&resources)?, "resourceTemplates": to_json(&templates)? }),
                &lines.join("\n"),
            );
            Ok(0)
        }
        McpCommand::Read(read) => {
            let params = ReadResourceRequestParams::new(read.uri.as_str());
            let result = read
                .server
                .agent()?
                .mcp(&read.server.target, |peer| async move {
                    peer.read_resource(params).await
                })
                .await?;
            let value = to_json(&result)?;
            report::success(json_mode, &value, &content_text(&value["contents"]));
            Ok(0)
        }
        McpCommand::Prompts(server) => {
            let prompts = server
                .agent()?
                .mcp(&server.target, |peer| async move {
                    peer.list_all_prompts().await
                })
                .await?;
            let text = prompts
                .iter()
                .map(|p| {
                    format!(
                        "{:<16} {}",
                        escape_controls(&p.name),
                        escape_controls(p.description.as_deref().unwrap_or(""))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            report::success(json_mode, &json!({ "prompts": to_json(&prompts)? }), &text);
            Ok(0)
        }
        McpCommand::Prompt(prompt) => {
            let arguments: Map<String, Value> = prompt.args.iter().cloned().collect();
            let params =
                GetPromptRequestParams::new(prompt.name.as_str()).with_arguments(arguments);
            let result = prompt
                .server
                .agent()?
                .mcp(&prompt.server.target, |peer| async move {
                    match peer.get_prompt_once(params).await? {
                        GetPromptResponse::Complete(result) => Ok(result),
                        _ => Err(ServiceError::UnexpectedResponse),
                    }
                })
                .await?;
            let value = to_json(&result)?;
            let messages = value["messages"].as_array().cloned().unwrap_or_default();
            let text = messages
                .iter()
                .map(|m| {
                    format!(
                        "{}: {}",
                        m["role"].as_str().unwrap_or("?"),
                        content_text(&Value::Array(vec![m["content"].clone()]))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            report::success(json_mode, &value, &text);
            Ok(0)
        }
        McpCommand::Ping(server) => {
            server.agent()?.ping(&server.target).await?;
            report::success(json_mode, &json!({}), "pong");
            Ok(0)
        }
    }
}

/// The text parts of MCP content (tool results, resource contents),
/// terminal-safe; other parts by their type.
fn content_text(content: &Value) -> String {
    content
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| match item["text"].as_str() {
                    Some(text) => escape_controls(text),
                    None => format!("[{}]", item["type"].as_str().unwrap_or("content")),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
