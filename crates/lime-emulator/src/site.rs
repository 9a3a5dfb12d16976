//! The site's side of the protocol, for tests, examples and the demo:
//! create a login request, subscribe to the event stream, wait for an event.
//! HTTPS with the TLS configuration the caller gives
//! ([`SiteClient::with_tls`]); plain HTTP to loopback, or elsewhere on
//! explicit opt-in ([`SiteClient::new_allow_http`]). IPv6 hosts are written
//! in brackets (`https://[::1]:8443/api/v1`). Every request is bounded in time
//! ([`SiteClient::timeout`], 30 s by default) and size (1 MiB bodies, 1 MiB
//! events).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::sse::SseReader;

/// Why a site call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// The base URL is not `http://host:port/...`.
    #[error("invalid base URL: {0}")]
    BaseUrl(String),
    /// Connecting or talking HTTP failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The API answered with an error envelope or something unexpected.
    #[error("API error {code} (HTTP {status}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// API code.
        code: String,
        /// API message.
        message: String,
    },
    /// No matching event arrived in time.
    #[error("no event for the request within {0:?}")]
    Timeout(Duration),
    /// The event stream ended.
    #[error("the event stream closed")]
    Closed,
}

/// A new login request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRequest {
    /// Its id, to hand to an agent.
    pub request_id: String,
    /// `PENDING`.
    pub status: String,
    /// RFC 3339 expiry.
    pub expires_at: String,
}

/// One event from the site's stream.
#[derive(Clone, PartialEq, Eq)]
pub enum SiteEvent {
    /// `{"type":"keepalive"}`.
    Keepalive,
    /// An agent approved the request; the passport proves which.
    Approved {
        /// The SSE event id.
        event_id: Option<String>,
        /// The request.
        request_id: String,
        /// The RS256 JWT.
        passport: String,
    },
    /// The request expired.
    Expired {
        /// The SSE event id.
        event_id: Option<String>,
        /// The request.
        request_id: String,
    },
    /// `{"type":"error"}`.
    Error {
        /// Code.
        code: String,
        /// Message.
        message: String,
    },
    /// Anything else, kept as sent.
    Other(Value),
}

impl fmt::Debug for SiteEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteEvent::Keepalive => f.write_str("Keepalive"),
            SiteEvent::Approved {
                event_id,
                request_id,
                ..
            } => f
                .debug_struct("Approved")
                .field("event_id", event_id)
                .field("request_id", request_id)
                .field("passport", &"<jwt>")
                .finish(),
            SiteEvent::Expired {
                event_id,
                request_id,
            } => f
                .debug_struct("Expired")
                .field("event_id", event_id)
                .field("request_id", request_id)
                .finish(),
            SiteEvent::Error { code, message } => f
                .debug_struct("Error")
                .field("code", code)
                .field("message", message)
                .finish(),
            SiteEvent::Other(v) => f.debug_tuple("Other").field(v).finish(),
        }
    }
}

impl SiteEvent {
    fn parse(id: Option<String>, data: &str) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return SiteEvent::Other(Value::String(data.to_owned()));
        };
        let text = |k: &str| value[k].as_str().unwrap_or_default().to_owned();
        match value["type"].as_str() {
            Some("keepalive") => SiteEvent::Keepalive,
            Some("approved") => SiteEvent::Approved {
                event_id: id,
                request_id: text("login_request_id"),
                passport: text("agent_passport_jwt"),
            },
            Some("expired") => SiteEvent::Expired {
                event_id: id,
                request_id: text("login_request_id"),
            },
            Some("error") => SiteEvent::Error {
                code: text("code"),
                message: text("message"),
            },
            _ => SiteEvent::Other(value),
        }
    }

    /// The request this event is about, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            SiteEvent::Approved { request_id, .. } | SiteEvent::Expired { request_id, .. } => {
                Some(request_id)
            }
            _ => None,
        }
    }
}

/// The largest response body or event a [`SiteClient`] accepts (1 MiB).
pub const MAX_SITE_BODY: usize = 1024 * 1024;
/// The default time a [`SiteClient`] request has to complete: connect,
/// headers and body (for an event stream: connect and headers).
pub const DEFAULT_SITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A site's client for the emulator or any LIME API.
#[derive(Clone)]
pub struct SiteClient {
    base: Uri,
    base_path: String,
    token: String,
    timeout: Duration,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for SiteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl SiteClient {
    /// A client for `base_url` with a site token: `https://` (then give it
    /// [`with_tls`](Self::with_tls)), or `http://` to a loopback host only,
    /// since plain HTTP shows the token to the network.
    ///
    /// # Errors
    /// [`SiteError::BaseUrl`] unless the URL is `https://`, or `http://`
    /// with a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`).
    pub fn new(base_url: &str, site_token: &str) -> Result<Self, SiteError> {
        Self::parse(base_url, site_token, false)
    }

    /// As [`new`](Self::new), also allowing `http://` to any host: the site
    /// token then travels unencrypted.
    ///
    /// # Errors
    /// [`SiteError::BaseUrl`] unless the URL is `http://` or `https://` with a host.
    pub fn new_allow_http(base_url: &str, site_token: &str) -> Result<Self, SiteError> {
        Self::parse(base_url, site_token, true)
    }

    fn parse(base_url: &str, site_token: &str, allow_http: bool) -> Result<Self, SiteError> {
        let base: Uri = base_url
            .trim()
            .trim_end_matches('/')
            .parse()
            .map_err(|e| SiteError::BaseUrl(format!("{e}")))?;
        let Some(host) = base.host() else {
            return Err(SiteError::BaseUrl("the URL has no host".to_owned()));
        };
        let https = match base.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(SiteError::BaseUrl(
                    "the URL must start with https:// or http://".to_owned(),
                ));
            }
        };
        if base.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(SiteError::BaseUrl(
                "user info (user@host) is not allowed".to_owned(),
            ));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || bare
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !https && !loopback && !allow_http {
            return Err(SiteError::BaseUrl(
                "plain http:// is only allowed to a loopback host; opt in to send the \
                 site token unencrypted (--allow-http)"
                    .to_owned(),
            ));
        }
        Ok(SiteClient {
            base_path: base.path().trim_end_matches('/').to_owned(),
            base,
            token: site_token.to_owned(),
            timeout: DEFAULT_SITE_TIMEOUT,
            tls: None,
        })
    }

    /// The TLS configuration for an `https://` base URL (its roots decide
    /// which servers are trusted). Without it, `https://` calls fail.
    #[must_use]
    pub fn with_tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The time each request has: connect, headers and body (for
    /// [`subscribe`](Self::subscribe): connect and headers).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&'static str>,
        last_event_id: Option<&str>,
    ) -> Result<http::Response<Incoming>, SiteError> {
        tokio::time::timeout(
            self.timeout,
            self.send_unbounded(method, path, body, last_event_id),
        )
        .await
        .map_err(|_| SiteError::Timeout(self.timeout))?
    }

    async fn send_unbounded(
        &self,
        method: &str,
        path: &str,
        body: Option<&'static str>,
        last_event_id: Option<&str>,
    ) -> Result<http::Response<Incoming>, SiteError> {
        let https = self.base.scheme_str() == Some("https");
        // `[::1]` in a URL, `::1` to connect to and to name in TLS.
        let host = self
            .base
            .host()
            .unwrap_or("127.0.0.1")
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = self.base.port_u16().unwrap_or(if https { 443 } else { 80 });
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| SiteError::Transport(e.to_string()))?;
        let mut sender = if https {
            let config = self.tls.clone().ok_or_else(|| {
                SiteError::BaseUrl(
                    "an https:// URL needs a TLS configuration (with_tls)".to_owned(),
                )
            })?;
            let name = rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
                SiteError::BaseUrl(format!("{host:?} is not a TLS server name: {e}"))
            })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| SiteError::Transport(format!("TLS: {e}")))?;
            http1_sender(tls).await?
        } else {
            http1_sender(stream).await?
        };
        let authority = self.base.authority().map_or(host, |a| a.as_str());
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base_path))
            .header("host", authority)
            .header("x-site-token", &self.token)
            .header(
                "accept",
                if path.ends_with("/events") {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        if let Some(id) = last_event_id {
            builder = builder.header("last-event-id", id);
        }
        let request = match body {
            Some(b) => builder.header("content-type", "application/json").body(
                Full::new(Bytes::from_static(b.as_bytes()))
                    .map_err(|never| match never {})
                    .boxed(),
            ),
            None => builder.body(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed(),
            ),
        }
        .map_err(|e| SiteError::Transport(e.to_string()))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| SiteError::Transport(e.to_string()))
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&'static str>,
    ) -> Result<(u16, Value), SiteError> {
        let exchange = async {
            let response = self.send_unbounded(method, path, body, None).await?;
            let status = response.status().as_u16();
            let bytes = http_body_util::Limited::new(response.into_body(), MAX_SITE_BODY)
                .collect()
                .await
                .map_err(|e| SiteError::Transport(format!("reading the body: {e}")))?
                .to_bytes();
            Ok::<_, SiteError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SiteError::Timeout(self.timeout))??;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| SiteError::Api {
            status,
            code: "INVALID_RESPONSE".to_owned(),
            message: "the body is not JSON".to_owned(),
        })?;
        Ok((status, value))
    }

    fn api_error(status: u16, value: &Value) -> SiteError {
        SiteError::Api {
            status,
            code: value["error"]["code"]
                .as_str()
                .unwrap_or("UNKNOWN_ERROR")
                .to_owned(),
            message: value["error"]["message"]
                .as_str()
                .unwrap_or("Unknown error")
                .to_owned(),
        }
    }

    /// Creates a login request as a site does.
    ///
    /// # Errors
    /// [`SiteError`] for transport failures and error envelopes.
    pub async fn create_request(&self) -> Result<CreatedRequest, SiteError> {
        let (status, value) = self
            .json("POST", "/modules/agent-login/requests", Some("{}"))
            .await?;
        if value["ok"] != true {
            return Err(Self::api_error(status, &value));
        }
        let data = &value["data"];
        Ok(CreatedRequest {
            request_id: data["login_request_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status: data["status"].as_str().unwrap_or_default().to_owned(),
            expires_at: data["expires_at"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The service's JWKS.
    ///
    /// # Errors
    /// [`SiteError`] for transport failures.
    pub async fn jwks(&self) -> Result<Value, SiteError> {
        Ok(self
            .json("GET", "/core/.well-known/jwks.json", None)
            .await?
            .1)
    }

    /// Opens the site's event stream (`Last-Event-ID` when resuming).
    ///
    /// # Errors
    /// [`SiteError`] for transport failures and refused tokens.
    pub async fn subscribe(&self, last_event_id: Option<&str>) -> Result<EventStream, SiteError> {
        let response = self
            .send("GET", "/modules/agent-login/events", None, last_event_id)
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            let read = http_body_util::Limited::new(response.into_body(), MAX_SITE_BODY).collect();
            let bytes = tokio::time::timeout(self.timeout, read)
                .await
                .ok()
                .and_then(Result::ok)
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(Self::api_error(status, &value));
        }
        Ok(EventStream {
            body: response.into_body(),
            reader: SseReader::default(),
            ready: VecDeque::new(),
        })
    }
}

/// The request half of an HTTP/1.1 connection over `io`; the connection
/// itself runs on its own task.
async fn http1_sender<T>(
    io: T,
) -> Result<
    hyper::client::conn::http1::SendRequest<
        http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
    >,
    SiteError,
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| SiteError::Transport(e.to_string()))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// A connected event stream.
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    reader: SseReader,
    ready: VecDeque<SiteEvent>,
}

impl EventStream {
    /// The next event (keepalives included).
    ///
    /// # Errors
    /// [`SiteError::Closed`] when the stream ends, [`SiteError::Transport`] on failure.
    pub async fn next(&mut self) -> Result<SiteEvent, SiteError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            match self.body.frame().await {
                None => return Err(SiteError::Closed),
                Some(Err(e)) => return Err(SiteError::Transport(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        for e in self.reader.feed(&data) {
                            self.ready.push_back(SiteEvent::parse(e.id, &e.data));
                        }
                    }
                }
            }
        }
    }

    /// Waits for the approved or expired event of `request_id`, skipping others.
    ///
    /// # Errors
    /// [`SiteError::Timeout`] when none arrives within `timeout`.
    pub async fn wait_for(
        &mut self,
        request_id: &str,
        timeout: Duration,
    ) -> Result<SiteEvent, SiteError> {
        let wait = async {
            loop {
                let event = self.next().await?;
                if event.request_id() == Some(request_id) {
                    return Ok(event);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| SiteError::Timeout(timeout))?
    }
}
