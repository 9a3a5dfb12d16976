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
    let mut args = serde_json::Map::new();
    args.insert("a".into(), 2.into());
    args.insert("b".into(), 40.into());
    let sum = agent.call_tool(&url, "add", args).await?;
    println!(
        "add(2, 40) = {}",
        serde_json::to_value(&sum.content).unwrap_or_default()[0]["text"]
    );
    let who = agent
        .call_tool(&url, "whoami", serde_json::Map::new())
        .await?;
    println!(
        "whoami: {}",
        serde_json::to_value(&who.content).unwrap_or_default()[0]["text"]
    );
    agent.close_mcp_sessions().await;
    Ok(())
}
