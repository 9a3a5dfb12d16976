//! What a flow asks its driver to do, and the HTTP requests it builds.

use std::time::Instant;

use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method};

use crate::pow::PowTask;
use crate::{Config, Error};

/// An HTTP request as data: what the driver sends.
pub type HttpRequest = http::Request<Vec<u8>>;
/// An HTTP response as data: what the driver feeds back (body read in full,
/// up to [`Config::max_body_bytes`]).
pub type HttpResponse = http::Response<Vec<u8>>;

/// The header that carries the agent token.
pub const AGENT_TOKEN_HEADER: &str = <crate::token::Agent as crate::token::TokenKind>::HEADER;

/// One HTTP attempt to perform: the request and the instant by which it must
/// have completed (connect, headers and the whole body), which is the
/// per-attempt timeout capped by the login's deadline.
///
/// `Debug` shows the method, URL and body size: the body carries the nonce.
pub struct Transmit {
    /// The request. Redirects must not be followed.
    pub request: HttpRequest,
    /// Give up on this attempt at this instant and report
    /// [`TransportErrorKind::Timeout`](crate::TransportErrorKind::Timeout).
    pub deadline: Instant,
}

impl std::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transmit")
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("body_len", &self.request.body().len())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// What the driver must do next. `T` is the flow's result type.
#[derive(Debug)]
#[must_use]
pub enum Output<T> {
    /// Perform the request; feed the outcome to `handle_response` or
    /// `handle_transport_error`.
    Send(Transmit),
    /// Run the CPU-bound solve where it fits (a blocking pool, a thread);
    /// feed the outcome to `handle_solution`.
    Solve(PowTask),
    /// Sleep until then; then call `handle_timeout`.
    Wait(Instant),
    /// The flow is over.
    Done(Result<T, Error>),
}

/// The request every flow builds: `Accept`, `User-Agent`, and the token only
/// when `with_token`.
pub(crate) fn build_request(
    config: &Config,
    method: Method,
    path: &str,
    with_token: bool,
    body: Option<Vec<u8>>,
) -> HttpRequest {
    let has_body = body.is_some();
    let mut request = http::Request::new(body.unwrap_or_default());
    *request.method_mut() = method;
    *request.uri_mut() = config
        .base_url()
        .join(path)
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Ok(agent) = HeaderValue::from_str(config.user_agent()) {
        headers.insert(USER_AGENT, agent);
    }
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if with_token && let Some((name, value)) = config.credential_header() {
        headers.insert(name, value);
    }
    request
}

/// `name: value, …` for logs: a header marked sensitive (the agent token,
/// an MCP `Authorization`) is `<redacted>`, a value that is not text is
/// `<binary>`, and text is escaped, so a server's header cannot drive a
/// terminal.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// let mut token = http::HeaderValue::from_static("at_secret");
/// token.set_sensitive(true);
/// headers.insert("x-agent-token", token);
/// headers.insert("x-note", http::HeaderValue::from_static("a\tb"));
/// let shown = lime_core::drive::describe_headers(&headers);
/// assert_eq!(shown, "x-agent-token: <redacted>, x-note: a\\tb");
/// ```
pub fn describe_headers(headers: &http::HeaderMap) -> String {
    headers
        .iter()
        .map(|(name, value)| match value.to_str() {
            _ if value.is_sensitive() => format!("{name}: <redacted>"),
            Ok(text) => format!("{name}: {}", text.escape_debug()),
            Err(_) => format!("{name}: <binary>"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
