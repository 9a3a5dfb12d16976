//! MCP servers that misbehave, on loopback: one that trickles comments
//! forever (during `initialize`, and during a `tools/call`), one that sends
//! a long but valid CRLF event stream, one that ends a call's stream after
//! an event id and delivers the result on a resumed GET (SEP-1699), and
//! the ones whose errors must read well. Tokens come from the emulator; the
//! MCP server is a small hand-written HTTP/1.1 server under a real name.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lime_emulator::Emulator;
use lime_tokio::LimeAgent;
use lime_tokio::TransportErrorKind;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DOMAIN: &str = "hostile.lime.test";
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(1);
/// Generous: machine speed never decides a test, a hang always does.
const BOUND: Duration = Duration::from_secs(5 * EXCHANGE_TIMEOUT.as_secs());

/// What the server does with one JSON-RPC message.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// The normal answer for the method.
    Normal,
    /// An event stream of comments, one every 50 ms, forever.
    Trickle,
    /// 20 MiB of small CRLF events, then the result.
    LongCrlf,
    /// A priming event with an id and `retry: 50`, then the stream ends;
    /// the result comes on the GET that resumes it.
    Resumable,
}

struct Server {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    gets_with_last_event_id: AtomicUsize,
    cancellations: AtomicUsize,
}

/// A server answering by `plan(method)`.
async fn server(plan: fn(&str) -> Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(connection(socket, plan, Arc::clone(&shared)));
        }
    });
    Server { addr, counts }
}

async fn connection(mut socket: TcpStream, plan: fn(&str) -> Answer, counts: Arc<Counts>) {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        if head.starts_with("GET ") {
            // The resumed stream of a `Resumable` call.
            if head.to_ascii_lowercase().contains("last-event-id: prime-1") {
                counts
                    .gets_with_last_event_id
                    .fetch_add(1, Ordering::SeqCst);
                let result = json!({"jsonrpc": "2.0", "id": 2, "result": text_result("resumed")});
                let events = format!("id: 2\ndata: {result}\n\n");
                if sse(&mut socket, &events, true).await.is_err() {
                    return;
                }
            } else {
                let _ = socket
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
            continue;
        }
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let method = message["method"].as_str().unwrap_or_default().to_owned();
        let id = message.get("id").cloned();
        let Some(id) = id else {
            if method == "notifications/cancelled" {
                counts.cancellations.fetch_add(1, Ordering::SeqCst);
            }
            let _ = socket
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await;
            continue;
        };
        let sent = match plan(&method) {
            Answer::Normal => json_answer(&mut socket, normal(&method, id)).await,
            Answer::Trickle => trickle(&mut socket).await,
            Answer::LongCrlf => long_crlf(&mut socket, id).await,
            Answer::Resumable => sse(&mut socket, "id: prime-1\nretry: 50\ndata: \n\n", true).await,
        };
        if sent.is_err() {
            return;
        }
    }
}

fn text_result(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

fn normal(method: &str, id: Value) -> Value {
    match method {
        "initialize" => json!({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"}
        }}),
        "tools/call" => json!({"jsonrpc": "2.0", "id": id, "result": text_result("done")}),
        "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
        _ => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}})
        }
    }
}

async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                read_more(socket, buffer).await?;
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Some((head, body));
        }
        read_more(socket, buffer).await?;
    }
}

async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    match socket.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

async fn json_answer(socket: &mut TcpStream, value: Value) -> std::io::Result<()> {
    let body = value.to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await
}

/// An event stream with `events` as its whole (chunked) body.
async fn sse(socket: &mut TcpStream, events: &str, end: bool) -> std::io::Result<()> {
    socket
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        .await?;
    if !events.is_empty() {
        chunk(socket, events.as_bytes()).await?;
    }
    if end {
        socket.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// One chunk of a chunked body (never empty: that would end the body).
async fn chunk(socket: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    socket.write_all(data).await?;
    socket.write_all(b"\r\n").await
}

async fn trickle(socket: &mut TcpStream) -> std::io::Result<()> {
    sse(socket, ": hold on\n\n", false).await?;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        chunk(socket, b": still there\n\n").await?;
    }
}

async fn long_crlf(socket: &mut TcpStream, id: Value) -> std::io::Result<()> {
    sse(socket, "", false).await?;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/message",
        "params": {"level": "info", "data": "x".repeat(1000)}});
    let event = format!("event: message\r\ndata: {note}\r\n\r\n");
    let batch = event.repeat(64);
    let mut sent = 0;
    while sent < 20 * 1024 * 1024 {
        chunk(socket, batch.as_bytes()).await?;
        sent += batch.len();
    }
    let result = json!({"jsonrpc": "2.0", "id": id, "result": text_result("after 20 MiB")});
    chunk(socket, format!("data: {result}\r\n\r\n").as_bytes()).await?;
    socket.write_all(b"0\r\n\r\n").await
}

async fn emulator() -> Emulator {
    Emulator::builder().difficulty(1).start().await.unwrap()
}

fn agent(emu: &Emulator, addr: SocketAddr) -> LimeAgent {
    agent_with_timeout(emu, addr, EXCHANGE_TIMEOUT)
}

fn agent_with_timeout(emu: &Emulator, addr: SocketAddr, timeout: Duration) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .mcp_allow_http(true)
        .resolve(DOMAIN, addr)
        .mcp_exchange_timeout(timeout)
        .no_proxy()
        .build()
        .unwrap()
}

fn url(addr: SocketAddr) -> String {
    format!("http://{DOMAIN}:{}/mcp", addr.port())
}

fn assert_timed_out(error: &lime_tokio::Error) {
    match error {
        lime_tokio::Error::Transport(t) => {
            assert_eq!(t.kind(), TransportErrorKind::Timeout, "{error}");
            assert!(error.to_string().contains(DOMAIN), "names the URL: {error}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_trickling_comments_during_initialize_is_cut_off_at_the_timeout() {
    let emu = emulator().await;
    let server = server(|method| match method {
        "initialize" => Answer::Trickle,
        _ => Answer::Normal,
    })
    .await;
    let agent = agent(&emu, server.addr);
    let error = tokio::time::timeout(BOUND, agent.ping(&url(server.addr)))
        .await
        .expect("bounded by the exchange timeout")
        .unwrap_err();
    assert_timed_out(&error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_trickling_comments_during_a_tool_call_is_cut_off_at_the_timeout() {
    let emu = emulator().await;
    let server = server(|method| match method {
        "tools/call" => Answer::Trickle,
        _ => Answer::Normal,
    })
    .await;
    let agent = agent(&emu, server.addr);
    let url = url(server.addr);
    agent.ping(&url).await.unwrap();
    let call = agent.call_tool(&url, "anything", json!({}));
    let error = tokio::time::timeout(BOUND, call)
        .await
        .expect("bounded by the exchange timeout")
        .unwrap_err();
    assert_timed_out(&error);
    // The abandoned call is cancelled on the server.
    let cancellations = &server.counts.cancellations;
    for _ in 0..500 {
        if cancellations.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cancellations.load(Ordering::SeqCst),
        1,
        "notifications/cancelled sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_mib_crlf_event_stream_of_small_events_passes() {
    let emu = emulator().await;
    let server = server(|method| match method {
        "tools/call" => Answer::LongCrlf,
        _ => Answer::Normal,
    })
    .await;
    // Reading 20 MiB may take a debug build more than a second.
    let agent = agent_with_timeout(&emu, server.addr, Duration::from_secs(300));
    let result = agent
        .call_tool(&url(server.addr), "long", json!({}))
        .await
        .unwrap();
    assert_eq!(
        lime_tokio::mcp::ToolResultText::text(&result),
        "after 20 MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_stream_ends_after_an_event_id_is_resumed_with_last_event_id() {
    let emu = emulator().await;
    let server = server(|method| match method {
        "tools/call" => Answer::Resumable,
        _ => Answer::Normal,
    })
    .await;
    let agent = agent(&emu, server.addr);
    agent.ping(&url(server.addr)).await.unwrap();
    let result = tokio::time::timeout(
        BOUND,
        agent.call_tool(&url(server.addr), "resumable", json!({})),
    )
    .await
    .expect("bounded")
    .unwrap();
    assert_eq!(lime_tokio::mcp::ToolResultText::text(&result), "resumed");
    assert_eq!(
        server.counts.gets_with_last_event_id.load(Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_url_that_is_not_an_mcp_endpoint_says_http_404_and_names_the_exchange() {
    let emu = emulator().await;
    // The emulator's API port is no MCP server: every POST there is a 404.
    let api: SocketAddr = emu
        .base_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let agent = agent(&emu, api);
    let error = agent.ping(&url(api)).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(&error, lime_tokio::Error::Transport(t) if t.kind() == TransportErrorKind::HttpStatus),
        "{error:?}"
    );
    assert!(text.contains("404") && text.contains(DOMAIN), "{text}");
    assert!(
        !text.contains("rmcp") && !text.contains("Transport ["),
        "{text}"
    );
    assert!(!error.is_retryable());
}
