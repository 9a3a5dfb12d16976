//! A raw HTTP/1.1 client for poking the emulator exactly as tests need.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

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
