//! The emulator as a server other people run: hostile or broken clients get
//! bounded time, memory and connections, over real sockets.
#![forbid(unsafe_code)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use lime_emulator::{Emulator, ManualClock, StartError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes);
/// returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return (seen, Some(started.elapsed())),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (seen, None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_closed_after_the_client_timeout() {
    let emu = Emulator::builder()
        .client_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut slow = TcpStream::connect(emu.local_addr()).await.unwrap();
    slow.write_all(b"GET /api/v1/auth/requests/lr_x HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent request held its connection for 5 s");
    assert!(
        closed >= Duration::from_millis(250),
        "closed too early: {closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_cut_at_the_client_timeout() {
    let emu = Emulator::builder()
        .client_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut slow = TcpStream::connect(emu.local_addr()).await.unwrap();
    let head = format!(
        "POST /api/v1/modules/agent-login/requests HTTP/1.1\r\nHost: a\r\nX-Site-Token: {}\r\nContent-Length: 10\r\n\r\n{{}}",
        emu.site_token()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a stalled body held its connection for 5 s"
    );
    assert!(
        !String::from_utf8_lossy(&answer).contains(" 201 "),
        "a half body created a request"
    );
    assert_eq!(emu.counters().requests_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_handshake_is_closed_after_the_client_timeout() {
    let emu = Emulator::builder()
        .client_timeout(Duration::from_millis(300))
        .tls(lime_emulator::TlsSource::Generated)
        .start()
        .await
        .unwrap();
    let mut silent = TcpStream::connect(emu.local_addr()).await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a silent TLS client held its connection for 5 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let emu = Emulator::builder()
        .max_connections(2)
        .start()
        .await
        .unwrap();
    let held: Vec<TcpStream> = vec![
        TcpStream::connect(emu.local_addr()).await.unwrap(),
        TcpStream::connect(emu.local_addr()).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(emu.local_addr()).await.unwrap();
    let (_, closed) = read_until_closed(&mut third, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "a connection over the cap was kept");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = call(
        emu.local_addr(),
        "GET",
        "/core/.well-known/jwks.json",
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "closed connections free their places");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversized_body_gets_413_before_it_is_sent() {
    let emu = Emulator::builder().start().await.unwrap();
    let mut client = TcpStream::connect(emu.local_addr()).await.unwrap();
    let head = format!(
        "POST /api/v1/modules/agent-login/requests HTTP/1.1\r\nHost: a\r\nX-Site-Token: {}\r\nContent-Length: 100000000\r\n\r\n",
        emu.site_token()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut client, Duration::from_secs(2)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        closed.is_some(),
        "the connection stayed open for the rest of the body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_stream_gets_the_replay_and_no_other_stream_sees_it_twice() {
    let emu = Emulator::builder()
        .keepalive(Duration::from_secs(60))
        .clock(ManualClock::starting_now())
        .start()
        .await
        .unwrap();
    let (addr, token) = (emu.local_addr(), emu.site_token());
    let mut watcher = open_stream(addr, token, None).await.unwrap();
    let id = emu.create_request();
    emu.advance_clock(Duration::from_secs(300));
    let first = watcher.wait_for(&id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.1["type"], "expired", "{first:?}");
    // Four reconnects asking for the whole history.
    for _ in 0..4 {
        let mut resumed = open_stream(addr, token, Some("0")).await.unwrap();
        let replayed = resumed.wait_for(&id, Duration::from_secs(5)).await.unwrap();
        assert_eq!(replayed.1["type"], "expired");
    }
    // The first stream saw the event once: nothing more arrives for it.
    let again = watcher.wait_for(&id, Duration::from_millis(300)).await;
    assert!(
        again.is_none(),
        "the history was resent to an open stream: {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_per_site_are_capped() {
    let emu = Emulator::builder()
        .max_streams_per_site(2)
        .start()
        .await
        .unwrap();
    let (addr, token) = (emu.local_addr(), emu.site_token());
    let a = open_stream(addr, token, None).await.unwrap();
    let _b = open_stream(addr, token, None).await.unwrap();
    match open_stream(addr, token, None).await {
        Err(reply) => assert_eq!(
            (reply.status, reply.code().as_str()),
            (429, "TOO_MANY_STREAMS")
        ),
        Ok(_) => panic!("a third stream opened"),
    }
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        open_stream(addr, token, None).await.is_ok(),
        "a closed stream frees its place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_requests_per_site_are_capped() {
    let emu = Emulator::builder()
        .max_pending_per_site(2)
        .start()
        .await
        .unwrap();
    let (addr, token) = (emu.local_addr(), emu.site_token());
    create(addr, token).await.unwrap();
    create(addr, token).await.unwrap();
    let refused = create(addr, token).await.unwrap_err();
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (429, "TOO_MANY_PENDING_REQUESTS")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_their_events_are_forgotten_after_ttl_and_grace() {
    let emu = Emulator::builder()
        .ttl(Duration::from_secs(300))
        .grace(Duration::from_secs(60))
        .clock(ManualClock::starting_now())
        .start()
        .await
        .unwrap();
    let ids: Vec<String> = (0..200).map(|_| emu.create_request()).collect();
    assert_eq!(emu.request_ids().len(), 200);
    emu.advance_clock(Duration::from_secs(300));
    assert_eq!(
        emu.request_status(&ids[0]),
        Some("EXPIRED"),
        "kept for the grace period"
    );
    emu.advance_clock(Duration::from_secs(60));
    let read = call(
        emu.local_addr(),
        "GET",
        &format!("/auth/requests/{}", ids[0]),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(read.status, 404);
    assert!(
        emu.request_ids().is_empty(),
        "{} left",
        emu.request_ids().len()
    );
    // Nothing is replayed for them either.
    let mut stream = open_stream(emu.local_addr(), emu.site_token(), Some("0"))
        .await
        .unwrap();
    let replay = stream.wait_for(&ids[0], Duration::from_millis(300)).await;
    assert!(replay.is_none(), "{replay:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_or_blank_tokens_are_refused_and_an_empty_header_never_authenticates() {
    for token in ["", "  ", "at_ x"] {
        let refused = Emulator::builder().agent("a", token).start().await;
        assert!(matches!(refused, Err(StartError::Token)), "{token:?}");
        let refused = Emulator::builder().site("s", token).start().await;
        assert!(matches!(refused, Err(StartError::Token)), "{token:?}");
    }
    let emu = Emulator::builder().start().await.unwrap();
    for header in ["", " "] {
        let reply = call(
            emu.local_addr(),
            "GET",
            "/core/agents/me/profile",
            &[("x-agent-token", header)],
            b"",
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 401, "{header:?}");
    }
}

/// An emulator with an MCP server (plain HTTP) and a token for it.
async fn with_mcp(builder: lime_emulator::EmulatorBuilder) -> (Emulator, String) {
    let emu = builder.mcp_domain("mcp.lime.test").start().await.unwrap();
    let minted = call(
        emu.local_addr(),
        "POST",
        "/modules/oauth/token",
        &[
            ("x-agent-token", emu.agent_token()),
            ("content-type", "application/json"),
        ],
        br#"{"domain":"mcp.lime.test"}"#,
    )
    .await
    .unwrap();
    let token = minted.json()["access_token"].as_str().unwrap().to_owned();
    (emu, token)
}

/// A raw MCP request head, with `length` announced for its body.
fn mcp_head(token: &str, length: usize) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: mcp.lime.test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_clients_trickling_bodies_are_cut_and_never_starve_the_api() {
    let (emu, token) = with_mcp(
        Emulator::builder()
            .max_connections(4)
            .client_timeout(Duration::from_millis(300)),
    )
    .await;
    let mcp = emu.mcp_addr().unwrap();
    // Every MCP slot, held by a token holder that sends a body slowly.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(mcp).await.unwrap();
        stream
            .write_all(mcp_head(&token, 100).as_bytes())
            .await
            .unwrap();
        stream.write_all(b"{\"jsonrpc\":").await.unwrap();
        held.push(stream);
    }
    // The API still answers meanwhile: it has a budget of its own.
    let read = call(emu.local_addr(), "GET", "/auth/requests/lr_none", &[], b"")
        .await
        .expect("the API answered while MCP held its slots");
    assert_eq!(read.status, 404);
    // And each trickler is cut at the client timeout (bounded, not held).
    for mut stream in held {
        let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "a trickled MCP body held its slot for 5 s"
        );
    }
}

/// The process's resident memory, in bytes (Linux).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initialize_flood_keeps_sessions_and_memory_bounded() {
    let (emu, token) = with_mcp(Emulator::builder()).await;
    let mcp = emu.mcp_addr().unwrap();
    let idle = rss();
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}"#;
    let flood = (0..4).map(|_| {
        let token = token.clone();
        tokio::spawn(async move {
            let (mut refused, mut opened) = (0, 0);
            for _ in 0..750 {
                let mut stream = TcpStream::connect(mcp).await.unwrap();
                stream
                    .write_all(mcp_head(&token, initialize.len()).as_bytes())
                    .await
                    .unwrap();
                stream.write_all(initialize).await.unwrap();
                let mut head = [0u8; 12];
                if stream.read_exact(&mut head).await.is_err() {
                    continue;
                }
                match &head[9..12] {
                    b"200" => opened += 1,
                    b"503" => refused += 1,
                    other => panic!("unexpected status {}", String::from_utf8_lossy(other)),
                }
            }
            (opened, refused)
        })
    });
    let (mut opened, mut refused) = (0, 0);
    for task in flood {
        let (o, r) = task.await.unwrap();
        opened += o;
        refused += r;
    }
    assert_eq!(opened + refused, 3000);
    assert!(
        opened <= lime_emulator::MAX_MCP_SESSIONS,
        "{opened} sessions opened"
    );
    let grown = rss().saturating_sub(idle);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
}
