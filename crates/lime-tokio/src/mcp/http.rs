//! rmcp's streamable-HTTP client transport over lime-tokio's own hyper
//! client: the same TLS roots, proxy decision and resolver as every other
//! request; redirects never followed; bodies and events bounded in size;
//! response headers within the per-request timeout and the rest of each
//! exchange (body or whole event stream) within the exchange timeout. The
//! token comes from the agent per request and goes only to its domain; a
//! 401 is answered by lime-core's call rule.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lime_core::Error;
use lime_core::drive::{TransportError, TransportErrorKind};
use lime_core::mcp::{McpCall, McpTarget, McpTicket, Verdict, Want};
use lime_core::settings::redact_url;
use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::{Sse, SseStream};

use super::events::EventBound;
use crate::transport::HyperClient;

/// How long after the exchange timeout the transport's own bound fires.
const BACKSTOP_GRACE: Duration = Duration::from_secs(1);
const SESSION_ID: &str = "mcp-session-id";
const LAST_EVENT_ID: &str = "last-event-id";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";
const ACCEPT_BOTH: &str = "text/event-stream, application/json";

/// Where a session's tokens come from: the agent, which answers by the
/// core's token rule (held weakly: the agent owns the session).
pub(crate) trait TicketSource: Send + Sync {
    /// A ticket for `target` as `want` asks; `None` once the agent is gone.
    fn ticket<'a>(&'a self, target: &'a McpTarget, want: Want) -> TicketFuture<'a>;
}

/// What [`TicketSource::ticket`] returns.
pub(crate) type TicketFuture<'a> =
    Pin<Box<dyn Future<Output = Option<Result<McpTicket, Error>>> + Send + 'a>>;

/// The HTTP half of an MCP session.
#[derive(Clone)]
pub(crate) struct McpHttp {
    client: HyperClient,
    tickets: Arc<dyn TicketSource>,
    target: Arc<McpTarget>,
    /// The generation of the token this session last sent.
    generation: Arc<AtomicU64>,
    /// Connect and response headers.
    header_timeout: Duration,
    /// One exchange as a whole: headers, then the body or every event. The
    /// caller's own timeout (the same length, started earlier) is what
    /// ends an exchange and names the timeout; this one, a grace later,
    /// only makes sure no stream outlives it.
    exchange_timeout: Duration,
    /// The largest body, or event, accepted.
    max_body: usize,
}

type Failure = StreamableHttpError<Error>;

/// What went wrong, as lime's error naming the exchange (`tools/call →
/// POST https://host/mcp`); rmcp hands it back to the caller unchanged.
fn failure(kind: TransportErrorKind, exchange: &str, message: impl Into<String>) -> Failure {
    StreamableHttpError::Client(
        TransportError::new(kind, message)
            .with_request(exchange.to_owned(), 1)
            .into(),
    )
}

/// What an [`McpHttp`] is made of.
pub(crate) struct Parts {
    pub(crate) client: HyperClient,
    pub(crate) tickets: Arc<dyn TicketSource>,
    pub(crate) target: McpTarget,
    pub(crate) generation: Arc<AtomicU64>,
    pub(crate) header_timeout: Duration,
    pub(crate) exchange_timeout: Duration,
    pub(crate) max_body: usize,
}

impl McpHttp {
    pub(crate) fn new(parts: Parts) -> Self {
        McpHttp {
            client: parts.client,
            tickets: parts.tickets,
            target: Arc::new(parts.target),
            generation: parts.generation,
            header_timeout: parts.header_timeout,
            exchange_timeout: parts.exchange_timeout + BACKSTOP_GRACE,
            max_body: parts.max_body,
        }
    }

    /// A ticket for this session's domain, as `want` asks.
    async fn ticket(&self, want: Want) -> Result<McpTicket, Failure> {
        match self.tickets.ticket(&self.target, want).await {
            Some(result) => result.map_err(StreamableHttpError::Client),
            None => Err(StreamableHttpError::TransportChannelClosed),
        }
    }

    /// Sends the request `build` makes with a token, answering a 401 by the
    /// call rule (a newer token, the same request once more).
    async fn send_authorized(
        &self,
        exchange: &str,
        build: impl Fn(&McpTicket) -> Result<http::Request<Full<Bytes>>, http::Error>,
    ) -> Result<http::Response<Incoming>, Failure> {
        let mut call = McpCall::new(self.target.domain());
        let mut ticket = self.ticket(Want::Fresh).await?;
        loop {
            let request = build(&ticket)
                .map_err(|e| failure(TransportErrorKind::Other, exchange, e.to_string()))?;
            tracing::trace!(target: "lime", exchange, headers = %lime_core::drive::describe_headers(request.headers()), "MCP request headers");
            let started = std::time::Instant::now();
            let response = self.send(exchange, request).await?;
            tracing::debug!(target: "lime", exchange, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "MCP exchange");
            tracing::trace!(target: "lime", exchange, headers = %lime_core::drive::describe_headers(response.headers()), "MCP response headers");
            if response.status() != StatusCode::UNAUTHORIZED {
                self.generation
                    .store(ticket.generation(), Ordering::Release);
                return Ok(response);
            }
            let challenge = header_text(&response, header::WWW_AUTHENTICATE).unwrap_or_default();
            match call.refused(ticket.generation(), &challenge) {
                Verdict::Resend(want) => ticket = self.ticket(want).await?,
                Verdict::Fail(error) => return Err(StreamableHttpError::Client(error)),
            }
        }
    }

    /// Sends `request`, headers within the header timeout.
    async fn send(
        &self,
        exchange: &str,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, Failure> {
        match tokio::time::timeout(self.header_timeout, self.client.send_request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                // A refused address (or plain-http rule) is lime's own error.
                if let Some(refused) = crate::transport::lime_error_in(&error) {
                    return Err(StreamableHttpError::Client(refused));
                }
                let error = crate::transport::classify(error).with_request(exchange.to_owned(), 1);
                Err(StreamableHttpError::Client(error.into()))
            }
            Err(_) => Err(failure(
                TransportErrorKind::Timeout,
                exchange,
                "no response headers from the MCP server in time",
            )),
        }
    }

    /// A request carrying `ticket`'s token when `uri` is on its domain.
    fn request(
        &self,
        method: Method,
        uri: &str,
        session_id: Option<&str>,
        ticket: &McpTicket,
        custom_headers: &HashMap<HeaderName, HeaderValue>,
    ) -> http::request::Builder {
        let accept = if method == Method::GET {
            EVENT_STREAM
        } else {
            ACCEPT_BOTH
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, accept);
        let host_is_ours = uri
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_ascii_lowercase))
            .is_some_and(|host| host == ticket.token().domain());
        if host_is_ours {
            builder = builder.header(header::AUTHORIZATION, ticket.token().authorization());
        }
        if let Some(id) = session_id {
            builder = builder.header(SESSION_ID, id);
        }
        for (name, value) in custom_headers {
            if name != header::AUTHORIZATION && name != header::HOST {
                builder = builder.header(name, value.clone());
            }
        }
        builder
    }

    /// The whole body, bounded in size and by the exchange's deadline.
    async fn read_body(
        &self,
        exchange: &str,
        body: Incoming,
        deadline: tokio::time::Instant,
    ) -> Result<Bytes, Failure> {
        let limited = http_body_util::Limited::new(body, self.max_body);
        match tokio::time::timeout_at(deadline, limited.collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(failure(
                TransportErrorKind::BodyTooLarge,
                exchange,
                format!("the MCP answer is over {} bytes", self.max_body),
            )),
            Ok(Err(error)) => Err(failure(
                TransportErrorKind::ConnectionLost,
                exchange,
                error.to_string(),
            )),
            Err(_) => Err(failure(
                TransportErrorKind::Timeout,
                exchange,
                "the MCP server's answer did not finish within the exchange timeout",
            )),
        }
    }

    /// An event stream that ends with an error at the exchange's deadline
    /// or at the first event over the size limit.
    fn event_stream(
        &self,
        body: Incoming,
        deadline: tokio::time::Instant,
    ) -> BoxStream<'static, Result<Sse, sse_stream::Error>> {
        let max = self.max_body;
        let state = (body, EventBound::default(), false);
        let chunks = stream::unfold(state, move |(mut body, mut bound, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                    Err(_) => {
                        let error = io_error(
                            "the MCP event stream did not finish within the exchange timeout",
                        );
                        return Some((Err(error), (body, bound, true)));
                    }
                    Ok(None) => return None,
                    Ok(Some(Err(error))) => {
                        return Some((Err(io_error(&error.to_string())), (body, bound, true)));
                    }
                    Ok(Some(Ok(frame))) => frame,
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if bound.feed(&data) > max {
                    let error = io_error(&format!("an MCP event over {max} bytes"));
                    return Some((Err(error), (body, bound, true)));
                }
                return Some((Ok(data), (body, bound, false)));
            }
        });
        SseStream::from_bytes_stream(chunks).boxed()
    }

    /// `what → METHOD url` (query redacted), naming an exchange in logs and
    /// errors.
    fn exchange(&self, what: &str, method: &Method, uri: &str) -> String {
        format!("{what} → {method} {}", redact_url(uri))
    }
}

fn header_text(response: &http::Response<Incoming>, name: HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn io_error(message: &str) -> std::io::Error {
    std::io::Error::other(message.to_owned())
}

/// The JSON-RPC method of a request, or what kind of message it is.
fn what(message: &ClientJsonRpcMessage) -> &str {
    match message {
        JsonRpcMessage::Request(r) => r.request.method(),
        JsonRpcMessage::Notification(_) => "notification",
        _ => "reply",
    }
}

impl StreamableHttpClient for McpHttp {
    type Error = Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let exchange = self.exchange(what(&message), &Method::POST, &uri);
        let body = Bytes::from(serde_json::to_vec(&message)?);
        let deadline = tokio::time::Instant::now() + self.exchange_timeout;
        let response = self
            .send_authorized(&exchange, |ticket| {
                self.request(
                    Method::POST,
                    &uri,
                    session_id.as_deref(),
                    ticket,
                    &custom_headers,
                )
                .header(header::CONTENT_TYPE, JSON)
                .body(Full::new(body.clone()))
            })
            .await?;
        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        if status.is_redirection() {
            return Err(failure(
                TransportErrorKind::HttpStatus,
                &exchange,
                format!("HTTP {status}: the MCP server redirected; redirects are never followed"),
            ));
        }
        let new_session = header_text(&response, HeaderName::from_static(SESSION_ID));
        let content_type = header_text(&response, header::CONTENT_TYPE).unwrap_or_default();
        let awaits_nothing = !matches!(message, JsonRpcMessage::Request(_));
        if content_type.starts_with(EVENT_STREAM) && status.is_success() {
            let events = self.event_stream(response.into_body(), deadline);
            return Ok(StreamableHttpPostResponse::Sse(events, new_session));
        }
        let body = self
            .read_body(&exchange, response.into_body(), deadline)
            .await?;
        if content_type.starts_with(JSON) {
            match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                Ok(parsed) if status.is_success() || matches!(parsed, JsonRpcMessage::Error(_)) => {
                    return Ok(StreamableHttpPostResponse::Json(parsed, new_session));
                }
                _ if awaits_nothing && status.is_success() => {
                    return Ok(StreamableHttpPostResponse::Accepted);
                }
                _ if status.is_success() => {
                    return Err(failure(
                        TransportErrorKind::Protocol,
                        &exchange,
                        "the MCP server's JSON answer is not a JSON-RPC message",
                    ));
                }
                _ => {}
            }
        }
        if awaits_nothing && status.is_success() {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        let kind = if status.is_success() {
            TransportErrorKind::Protocol
        } else {
            TransportErrorKind::HttpStatus
        };
        Err(failure(
            kind,
            &exchange,
            format!(
                "HTTP {status} with {} bytes of {}",
                body.len(),
                if content_type.is_empty() {
                    "untyped content"
                } else {
                    "other content"
                }
            ),
        ))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failure> {
        let exchange = self.exchange("close session", &Method::DELETE, &uri);
        let response = self
            .send_authorized(&exchange, |ticket| {
                self.request(
                    Method::DELETE,
                    &uri,
                    Some(&session_id),
                    ticket,
                    &custom_headers,
                )
                .body(Full::new(Bytes::new()))
            })
            .await?;
        let status = response.status();
        if status.is_success()
            || status == StatusCode::METHOD_NOT_ALLOWED
            || status == StatusCode::NOT_FOUND
        {
            Ok(())
        } else {
            Err(failure(
                TransportErrorKind::HttpStatus,
                &exchange,
                format!("HTTP {status}"),
            ))
        }
    }

    /// A GET event stream: rmcp opens one to resume a call whose stream the
    /// server ended after an event id (SEP-1699), with `Last-Event-ID`.
    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, sse_stream::Error>>, Failure> {
        let exchange = self.exchange("event stream", &Method::GET, &uri);
        let deadline = tokio::time::Instant::now() + self.exchange_timeout;
        let response = self
            .send_authorized(&exchange, |ticket| {
                let mut builder = self.request(
                    Method::GET,
                    &uri,
                    session_id.as_deref(),
                    ticket,
                    &custom_headers,
                );
                if let Some(id) = &last_event_id {
                    builder = builder.header(LAST_EVENT_ID, id.as_str());
                }
                builder.body(Full::new(Bytes::new()))
            })
            .await?;
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let content_type = header_text(&response, header::CONTENT_TYPE).unwrap_or_default();
        if !status.is_success() || !content_type.starts_with(EVENT_STREAM) {
            return Err(failure(
                TransportErrorKind::HttpStatus,
                &exchange,
                format!("HTTP {status}, not an event stream"),
            ));
        }
        Ok(self.event_stream(response.into_body(), deadline))
    }
}
