//! An agent calling tools on an MCP server with its LIME token: the token is
//! minted for the server's domain, cached, refreshed on a 401 and never sent
//! elsewhere. Runs against an embedded emulator and its MCP server (HTTPS,
//! reached under a real host name through `resolve`).
//!
//! ```text
//! cargo run -p lime-examples --example mcp_tools
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use lime_emulator::{Emulator, TlsSource};
use lime_tokio::LimeAgent;
use lime_tokio::mcp::ToolResultText;

#[tokio::main]
async fn main() -> Result<(), lime_tokio::Error> {
    let emulator = Emulator::builder()
        .tls(TlsSource::Generated)
        .mcp_domain("mcp.example.test")
        .start()
        .await
        .expect("the emulator starts");
    let url = emulator.mcp_url().expect("an MCP server");
    let agent = LimeAgent::builder()
        .token(emulator.agent_token())
        .base_url(emulator.base_url())
        .add_root_certificates_pem(emulator.ca_pem().unwrap_or_default().as_bytes())
        .resolve("mcp.example.test", emulator.mcp_addr().expect("an address"))
        .build()?;
    for tool in agent.list_tools(&url).await? {
        println!(
            "tool {:<8} {}",
            tool.name,
            tool.description.unwrap_or_default()
        );
    }
    let sum = agent
        .call_tool(&url, "add", serde_json::json!({"a": 2, "b": 40}))
        .await?;
    println!("add(2, 40) = {}", sum.text());
    let who = agent.call_tool(&url, "whoami", ()).await?;
    println!("whoami: {}", who.text());
    agent.close_mcp_sessions().await;
    Ok(())
}
