//! The MCP access token never reaches the logs: a whole MCP run (mint, a
//! refused token and its refresh, tool calls) and two concurrent logins
//! captured at TRACE, alone in its test binary so the capture sees only this
//! run; each login's lines carry its span (request id, origin).
#![forbid(unsafe_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use lime_emulator::{Emulator, TlsSource};
use lime_tokio::LimeAgent;

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mcp_token_in_trace_logs() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(log.clone());
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish(),
    )
    .unwrap();
    let emu = Emulator::builder()
        .difficulty(4)
        .tls(TlsSource::Generated)
        .mcp_domain("mcp.lime.test")
        .start()
        .await
        .unwrap();
    let url = emu.mcp_url().unwrap();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .resolve("mcp.lime.test", emu.mcp_addr().unwrap())
        .no_proxy()
        .build()
        .unwrap();
    agent.list_tools(&url).await.unwrap();
    let first = agent.mcp_access_token(&url).await.unwrap();
    // On the tool call itself: the session's own requests (its event
    // stream) must not take the one 401 first.
    emu.inject(
        lime_emulator::Route::McpToolCall,
        lime_emulator::Fault::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    agent
        .call_tool(&url, "whoami", serde_json::Map::new())
        .await
        .unwrap();
    let second = agent.mcp_access_token(&url).await.unwrap();
    let (a, b) = (emu.create_request(), emu.create_request());
    let (first_login, second_login) = tokio::join!(agent.login(&a), agent.login(&b));
    first_login.unwrap();
    second_login.unwrap();
    assert_ne!(first.expose_secret(), second.expose_secret(), "refreshed");
    let logs = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    assert!(logs.contains("MCP session opened"), "the run was captured");
    for id in [&a, &b] {
        let span = format!(
            "login{{request_id=\"{id}\" origin={}",
            emu.base_url().trim_end_matches("/api/v1")
        );
        assert!(logs.contains(&span), "no line in the span {span}");
    }
    assert!(
        logs.contains("MCP request headers") && logs.contains("authorization: <redacted>"),
        "-vv shows each exchange's headers, the token redacted"
    );
    for token in [&first, &second] {
        let jwt = token.expose_secret();
        assert!(!logs.contains(jwt), "an MCP token in the logs");
        assert!(
            !logs.contains(jwt.rsplit('.').next().unwrap()),
            "a token's signature in the logs"
        );
    }
    assert!(
        !logs.contains(emu.agent_token()),
        "the agent token in the logs"
    );
}
