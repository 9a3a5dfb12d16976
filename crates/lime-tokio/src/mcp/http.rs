//! rmcp's streamable-HTTP client transport over lime-tokio's own hyper
//! client: the same TLS roots, proxy decision and resolver as every other
//! request; redirects never followed; bodies and events bounded; headers
//! within the per-request timeout and the body within the read timeout.
//! The bearer token goes only to the token's domain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lime_core::drive::{TransportError, TransportErrorKind};
use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::{Sse, SseStream};

use crate::transport::HyperClient;

const SESSION_ID: &str = "Mcp-Session-Id";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// The HTTP half of an MCP session.
#[derive(Clone)]
pub(crate) struct McpHttp {
    pub(crate) client: HyperClient,
    /// The token's domain: the only host that gets `Authorization`.
    pub(crate) domain: Arc<str>,
    /// Connect and response headers.
    pub(crate) timeout: Duration,
    /// The rest of a response: the whole body, or each event of a stream.
    pub(crate) read_timeout: Duration,
    /// The largest body, or event, accepted.
    pub(crate) max_body: usize,
}

type Failure = StreamableHttpError<TransportError>;

fn transport(kind: TransportErrorKind, message: impl Into<String>) -> Failure {
    StreamableHttpError::Client(TransportError::new(kind, message))
}

impl McpHttp {
    /// Sends `request`, headers within the timeout.
    async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, Failure> {
        match tokio::time::timeout(self.timeout, self.client.send_request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(StreamableHttpError::Client(crate::transport::classify(
                &error,
            ))),
            Err(_) => Err(transport(
                TransportErrorKind::Timeout,
                "no response headers from the MCP server in time",
            )),
        }
    }

    /// A request with the bearer token when `uri` is on the token's domain.
    fn request(
        &self,
        method: Method,
        uri: &str,
        session_id: Option<&str>,
        auth_token: Option<&str>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> http::request::Builder {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, format!("{EVENT_STREAM}, {JSON}"));
        let host_is_ours = uri
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_ascii_lowercase))
            .is_some_and(|host| *host == *self.domain);
        if let (Some(token), true) = (auth_token, host_is_ours)
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        if let Some(id) = session_id {
            builder = builder.header(SESSION_ID, id);
        }
        for (name, value) in custom_headers {
            if name != header::AUTHORIZATION && name != header::HOST {
                builder = builder.header(name, value);
            }
        }
        builder
    }

    /// The whole body, bounded in size and time.
    async fn read_body(&self, body: Incoming) -> Result<Bytes, Failure> {
        let limited = http_body_util::Limited::new(body, self.max_body);
        match tokio::time::timeout(self.read_timeout, limited.collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                Err(StreamableHttpError::ResponseBodyTooLarge {
                    max_size: self.max_body,
                })
            }
            Ok(Err(error)) => Err(transport(
                TransportErrorKind::ConnectionLost,
                error.to_string(),
            )),
            Err(_) => Err(transport(
                TransportErrorKind::Timeout,
                "the MCP server's answer did not finish in time (read timeout)",
            )),
        }
    }

    /// An event stream whose every chunk comes within the read timeout and
    /// whose events stay under the body limit.
    fn event_stream(&self, body: Incoming) -> BoxStream<'static, Result<Sse, sse_stream::Error>> {
        let (read_timeout, max) = (self.read_timeout, self.max_body);
        let chunks = stream::unfold((body, 0usize), move |(mut body, mut pending)| async move {
            loop {
                let frame = match tokio::time::timeout(read_timeout, body.frame()).await {
                    Err(_) => {
                        return Some((
                            Err(io_error("the MCP event stream stalled (read timeout)")),
                            (body, pending),
                        ));
                    }
                    Ok(None) => return None,
                    Ok(Some(Err(error))) => {
                        return Some((Err(io_error(&error.to_string())), (body, pending)));
                    }
                    Ok(Some(Ok(frame))) => frame,
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                // Bytes since the last blank line: one event's size.
                pending = match data.windows(2).rposition(|w| w == b"\n\n") {
                    Some(end) => data.len() - end - 2,
                    None => pending + data.len(),
                };
                if pending > max {
                    return Some((
                        Err(io_error("an MCP event passed the size limit")),
                        (body, pending),
                    ));
                }
                return Some((Ok(data), (body, pending)));
            }
        });
        SseStream::from_bytes_stream(chunks).boxed()
    }
}

fn io_error(message: &str) -> std::io::Error {
    std::io::Error::other(message.to_owned())
}

impl StreamableHttpClient for McpHttp {
    type Error = TransportError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let body = serde_json::to_vec(&message)?;
        let request = self
            .request(
                Method::POST,
                &uri,
                session_id.as_deref(),
                auth_token.as_deref(),
                custom_headers,
            )
            .header(header::CONTENT_TYPE, JSON)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(TransportErrorKind::Other, e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        let header_text = |name: HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if status == StatusCode::UNAUTHORIZED {
            let challenge = header_text(header::WWW_AUTHENTICATE).unwrap_or_default();
            return Err(StreamableHttpError::AuthRequired(AuthRequiredError::new(
                challenge,
            )));
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        if status.is_redirection() {
            return Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!("HTTP {status}: the MCP server redirected; redirects are never followed"),
            )));
        }
        let new_session = header_text(HeaderName::from_static("mcp-session-id"));
        let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
        let awaits_nothing = !matches!(message, JsonRpcMessage::Request(_));
        if content_type.starts_with(EVENT_STREAM) && status.is_success() {
            let events = self.event_stream(response.into_body());
            return Ok(StreamableHttpPostResponse::Sse(events, new_session));
        }
        let body = self.read_body(response.into_body()).await?;
        if content_type.starts_with(JSON) {
            match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                Ok(parsed) if status.is_success() || matches!(parsed, JsonRpcMessage::Error(_)) => {
                    return Ok(StreamableHttpPostResponse::Json(parsed, new_session));
                }
                _ if awaits_nothing && status.is_success() => {
                    return Ok(StreamableHttpPostResponse::Accepted);
                }
                _ => {}
            }
        }
        if awaits_nothing && status.is_success() {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
            format!("HTTP {status} ({} bytes, {content_type:?})", body.len()),
        )))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failure> {
        let request = self
            .request(
                Method::DELETE,
                &uri,
                Some(&session_id),
                auth_token.as_deref(),
                custom_headers,
            )
            .body(Full::new(Bytes::new()))
            .map_err(|e| transport(TransportErrorKind::Other, e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        if status.is_success()
            || status == StatusCode::METHOD_NOT_ALLOWED
            || status == StatusCode::NOT_FOUND
        {
            Ok(())
        } else {
            Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!("closing the MCP session answered HTTP {status}"),
            )))
        }
    }

    /// No standalone event stream: lime's calls need none, and a server's
    /// unsolicited messages are not read.
    async fn get_stream(
        &self,
        _uri: Arc<str>,
        _session_id: Option<Arc<str>>,
        _last_event_id: Option<String>,
        _auth_token: Option<String>,
        _custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, sse_stream::Error>>, Failure> {
        Err(StreamableHttpError::ServerDoesNotSupportSse)
    }
}
