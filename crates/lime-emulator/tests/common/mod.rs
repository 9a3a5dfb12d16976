//! A raw HTTP/1.1 client for poking the emulator exactly as tests need.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Sends one request on a fresh connection; `Err` when the server closed it.
pub async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header("host", addr.to_string());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Reads a request's challenge and solves it with `scheme`.
pub async fn solve(
    addr: std::net::SocketAddr,
    request_id: &str,
    scheme: lime_pow::Scheme,
) -> String {
    let read = call(
        addr,
        "GET",
        &format!("/auth/requests/{request_id}"),
        &[],
        b"",
    )
    .await
    .unwrap();
    let data = &read.json()["data"];
    let challenge = data["pow_challenge"].as_str().unwrap().to_owned();
    let difficulty = data["pow_difficulty"].as_i64().unwrap();
    let solution = lime_pow::Solver::new()
        .threads(1)
        .solve(scheme, challenge.as_bytes(), difficulty)
        .unwrap();
    solution.nonce.as_str().to_owned()
}

pub fn approve_body(nonce: &str) -> Vec<u8> {
    serde_json::json!({ "pow_nonce": nonce })
        .to_string()
        .into_bytes()
}

/// One raw event stream: exactly one connection, no reconnect and no
/// de-duplication, so a test sees what the server sends to that stream.
pub struct RawStream {
    body: hyper::body::Incoming,
    buffer: String,
}

/// An event frame: its `id:` and its `data:` as JSON.
pub type Frame = (Option<String>, Value);

/// Opens `GET /modules/agent-login/events` with `token`; the refusal's
/// reply when the status is not 200.
pub async fn open_stream(
    addr: std::net::SocketAddr,
    token: &str,
    last_event_id: Option<&str>,
) -> Result<RawStream, Reply> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .uri("/api/v1/modules/agent-login/events")
        .header("host", addr.to_string())
        .header("accept", "text/event-stream")
        .header("x-site-token", token);
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id);
    }
    let response = sender
        .send_request(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        return Err(Reply {
            status,
            headers,
            body,
        });
    }
    Ok(RawStream {
        body: response.into_body(),
        buffer: String::new(),
    })
}

impl RawStream {
    /// The next frame (keepalives included), or `None` when the stream
    /// ends or sends nothing within `limit`.
    pub async fn next(&mut self, limit: std::time::Duration) -> Option<Frame> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    frame
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_owned)
                };
                let data = field("data: ").unwrap_or_default();
                return Some((
                    field("id: "),
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                ));
            }
            let frame = tokio::time::timeout_at(until, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The next frame about `request_id`, skipping others, within `limit`.
    pub async fn wait_for(
        &mut self,
        request_id: &str,
        limit: std::time::Duration,
    ) -> Option<Frame> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next(left).await?;
            if frame.1["login_request_id"] == request_id {
                return Some(frame);
            }
        }
    }
}

/// Creates a login request with the site token; its id.
pub async fn create(addr: std::net::SocketAddr, token: &str) -> Result<String, Reply> {
    let reply = call(
        addr,
        "POST",
        "/modules/agent-login/requests",
        &[
            ("x-site-token", token),
            ("content-type", "application/json"),
        ],
        b"{}",
    )
    .await
    .unwrap();
    match reply.json()["data"]["login_request_id"].as_str() {
        Some(id) if reply.status == 201 || reply.status == 200 => Ok(id.to_owned()),
        _ => Err(reply),
    }
}
