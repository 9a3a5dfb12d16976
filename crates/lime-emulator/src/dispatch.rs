//! Every request's path through the emulator: counted, routed, given a
//! scripted fault if one is due, else answered by its handler.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use crate::body::ResponseBody;
use crate::faults::{Fault, RawBody};
use crate::reply::{
    Dropped, Reply, declared_too_large, envelope_error, envelope_ok, json_response,
};
use crate::route::{Route, route_of};
use crate::shared::Shared;
use crate::{agent_api, site_api};

/// Answers `request`, logging it at INFO on `lime_emulator::access`: method,
/// path, status and time, never a header (tokens travel in headers).
pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let started = std::time::Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let reply = route_and_answer(shared, request).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &reply {
        Ok(response) => tracing::info!(
            target: "lime_emulator::access",
            "{method} {path} {} {elapsed_ms:.1} ms",
            response.status().as_u16()
        ),
        Err(Dropped) => tracing::info!(
            target: "lime_emulator::access",
            "{method} {path} dropped (fault) {elapsed_ms:.1} ms"
        ),
    }
    reply
}

async fn route_and_answer(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let (route, id) = route_of(request.method(), request.uri().path());
    shared.store().count(route);
    if declared_too_large(&request) {
        let mut response = envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        );
        // The body is never read: the connection cannot be reused.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    let fault = shared.faults().take(route, shared.now());
    let mut trickle = None;
    match fault {
        None => {}
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                429 => "RATE_LIMIT_EXCEEDED",
                503 => "AUTH_UNAVAILABLE",
                _ => "INJECTED_FAULT",
            };
            let mut response = envelope_error(status, code, "fault injected by the emulator");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return Ok(closing(response));
        }
        Some(Fault::Drop) => return Err(Dropped),
        Some(Fault::Panic) => panic!("a fault asked the {route} handler to panic"),
        Some(Fault::DelayHeaders(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::TrickleBody { chunk, interval }) => trickle = Some((chunk.max(1), interval)),
        Some(Fault::ProcessThenDrop) => {
            let _ = answer(&shared, route, id, request).await;
            return Err(Dropped);
        }
        Some(Fault::Redirect { status }) => {
            let mut response = Response::new(ResponseBody::full(Bytes::new()));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            let location = format!("{}{}", shared.redirect_origin, request.uri().path());
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return Ok(closing(response));
        }
        Some(Fault::Raw {
            status,
            headers,
            body,
        }) => return Ok(closing(raw_response(status, &headers, body))),
    }
    let response = answer(&shared, route, id, request).await;
    Ok(match trickle {
        Some((chunk, interval)) => trickled(response, chunk, interval).await,
        None => response,
    })
}

/// A fault's answer sent before the request body was read: the connection
/// cannot be reused, so the answer says so (as the 413 path does) and no
/// client sends its next request into a connection about to close.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn trickled(
    response: Response<ResponseBody>,
    chunk: usize,
    interval: Duration,
) -> Response<ResponseBody> {
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let (tx, body) = ResponseBody::channel();
    tokio::spawn(async move {
        for piece in bytes.chunks(chunk) {
            if tx.send(Bytes::copy_from_slice(piece)).is_err() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    });
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

fn raw_response(
    status: u16,
    headers: &[(String, String)],
    body: RawBody,
) -> Response<ResponseBody> {
    let body = match body {
        RawBody::Bytes(bytes) => ResponseBody::full(bytes),
        RawBody::Repeat { byte, len } => {
            let (tx, body) = ResponseBody::channel();
            tokio::spawn(async move {
                let block = Bytes::from(vec![byte; 64 * 1024]);
                let mut left = len;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    if tx.send(block.slice(..n)).is_err() {
                        return;
                    }
                    left -= n as u64;
                    tokio::task::yield_now().await;
                }
            });
            body
        }
        RawBody::Endless => {
            let (tx, body) = ResponseBody::channel();
            tokio::spawn(async move {
                while tx.send(Bytes::from_static(b"{\"ok\":true,")).is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
            body
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

pub(crate) fn redirect_sink(
    shared: &Shared,
    request: &Request<Incoming>,
) -> Response<ResponseBody> {
    let mut store = shared.store();
    store.counters.redirect_hits += 1;
    if request.headers().contains_key("x-agent-token") {
        store.counters.redirect_token_seen += 1;
    }
    envelope_ok(StatusCode::OK, json!({}))
}

/// The protocol's normal answer for a route.
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    route: Route,
    id: Option<String>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let id = id.unwrap_or_default();
    match route {
        Route::ReadRequest => agent_api::read_request(shared, &id, &request),
        Route::Approve => agent_api::approve(shared, &id, request).await,
        Route::Profile => agent_api::profile(shared, &request),
        Route::CreateRequest => site_api::create_request(shared, request).await,
        Route::Events => site_api::events(shared, &request),
        Route::Jwks => json_response(StatusCode::OK, &shared.keys.current().jwks()),
        Route::OAuthToken => crate::oauth_api::mint(shared, request).await,
        Route::CreateBinding => crate::binding::create(shared, request).await,
        Route::ExchangeBinding => crate::binding::exchange(shared, request).await,
        // The MCP routes are the MCP listener's; the API never parses to them.
        Route::Other | Route::Mcp | Route::McpToolCall => {
            envelope_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
        }
    }
}
