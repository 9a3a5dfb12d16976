//! `lime mcp`: MCP access tokens for the agent. `lime mcp token` prints
//! one: that is its job, as a token command's is.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{ClientArgs, PowArgs};
use crate::report::{self, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Print an access token for the MCP server TARGET names (a host such as
    /// mcp.example.com, or an https:// URL): the token alone on stdout.
    Token(TokenArgs),
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
    client: ClientArgs,
}

pub(crate) async fn run(command: McpCommand, json_mode: bool) -> Result<u8, Failure> {
    match command {
        McpCommand::Token(args) => {
            let agent = args.client.agent(&PowArgs::default())?;
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
    }
}
