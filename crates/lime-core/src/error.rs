//! One error type for every way a login or profile read can fail.

use std::fmt;
use std::time::Duration;

/// The API code of a request approved by someone else (or already approved).
pub const CODE_CONFLICT: &str = "SITE_LOGIN_CONFLICT";
/// The API code of an expired login request.
pub const CODE_EXPIRED: &str = "LOGIN_REQUEST_EXPIRED";
/// The API code of a wrong nonce.
pub const CODE_INVALID_POW: &str = "INVALID_POW";
/// The API code of rate limiting.
pub const CODE_RATE_LIMITED: &str = "RATE_LIMIT_EXCEEDED";

/// Everything that can go wrong, classified as `docs/protocol.md` says.
///
/// No variant ever holds the agent token, the challenge or the nonce, and no
/// message quotes a response body.
///
/// Branch on the helpers rather than on codes:
///
/// ```
/// use lime_core::Error;
/// fn explain(error: &Error) -> &'static str {
///     if error.is_agent_inactive() {
///         "activate the agent in the LIME dashboard"
///     } else if error.is_conflict() {
///         "another agent approved this request"
///     } else if error.is_retryable() {
///         "try again later"
///     } else {
///         "give up"
///     }
/// }
/// assert_eq!(explain(&Error::config("no token")), "give up");
/// ```
///
/// Variants are `#[non_exhaustive]`: match them with `..`, and build them
/// (in a driver of your own) with [`Error::config`] and [`Error::internal`].
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The token is missing, unknown, inactive or its owner suspended
    /// (401, `MISSING_AGENT_TOKEN`, `INVALID_AGENT_TOKEN`, 403
    /// `AGENT_INACTIVE`, 403 `AGENT_USER_SUSPENDED`).
    #[non_exhaustive]
    Authentication {
        /// The API code, when the server sent one.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// The HTTP status, when a server answered.
        http_status: Option<u16>,
    },
    /// The agent lacks the `oauth:mcp` grant, so LIME mints it no MCP
    /// access token (RFC 6749 `access_denied`, 403). Its owner grants it.
    #[non_exhaustive]
    OAuthCapability {
        /// What the server said.
        message: String,
        /// The HTTP status.
        http_status: Option<u16>,
    },
    /// An MCP server refused the agent's token twice, the second time a
    /// freshly minted one (code `MCP_AUTH_FAILED`).
    #[non_exhaustive]
    McpAuthentication {
        /// What happened.
        message: String,
    },
    /// An MCP server answered with a JSON-RPC error.
    #[non_exhaustive]
    Mcp {
        /// The JSON-RPC error code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The login request expired before it was approved.
    #[non_exhaustive]
    Expired {
        /// What the server said.
        message: String,
        /// The HTTP status, when the approve answered 410.
        http_status: Option<u16>,
    },
    /// Rate limited (HTTP 429 or `RATE_LIMIT_EXCEEDED`) after every retry.
    #[non_exhaustive]
    RateLimited {
        /// What the server said.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The HTTP status.
        http_status: Option<u16>,
    },
    /// Any other error the API reported in its envelope.
    #[non_exhaustive]
    Api {
        /// The API code, `UNKNOWN_ERROR` when the server sent none.
        code: String,
        /// The API message, `Unknown error` when the server sent none.
        message: String,
        /// The HTTP status, `None` when the SDK decided (a conflict seen on read).
        http_status: Option<u16>,
        /// The `detail` object, when the server sent one.
        detail: Option<serde_json::Map<String, serde_json::Value>>,
    },
    /// The proof of work was not solved within the PoW budget or the deadline.
    #[non_exhaustive]
    PowTimeout {
        /// The difficulty asked for.
        difficulty: u16,
        /// Hashes tried before giving up.
        hashes: u64,
    },
    /// The login was cancelled by the caller.
    Cancelled,
    /// An argument was refused before any request was sent.
    #[non_exhaustive]
    InvalidInput {
        /// Which argument.
        argument: &'static str,
        /// Why.
        reason: String,
        /// How to fix it, when lime knows.
        hint: Option<Hint>,
    },
    /// The server's answer broke the protocol (never quoting the body).
    #[non_exhaustive]
    InvalidResponse {
        /// The HTTP status.
        http_status: Option<u16>,
        /// What was wrong.
        reason: String,
        /// The SDK's code for it, when it has one
        /// ([`CODE_INVALID_TOKEN_RESPONSE`] for a malformed mint answer).
        code: Option<&'static str>,
    },
    /// The request did not complete at the transport level.
    Transport(TransportError),
    /// The configuration is invalid.
    #[non_exhaustive]
    Config {
        /// What is wrong.
        reason: String,
        /// How to fix it, when lime knows.
        hint: Option<Hint>,
    },
    /// A site refused an agent's passport: the approval it came with is
    /// not proof of which agent logged in ([`CODE_PASSPORT_REFUSED`]).
    PassportRefused(crate::site::PassportRefused),
    /// An MCP server refused an agent's access token
    /// ([`CODE_MCP_TOKEN_REFUSED`]).
    McpTokenRefused(crate::site::McpTokenRefused),
    /// A bug in lime itself (a panicking solver thread) or in the driver
    /// running a flow (polling again before answering the last output);
    /// never caused by the server or by bad input. Please report it.
    #[non_exhaustive]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

/// The API code of a deactivated agent.
pub const CODE_AGENT_INACTIVE: &str = "AGENT_INACTIVE";
/// The API code of an agent whose owner is suspended.
pub const CODE_AGENT_USER_SUSPENDED: &str = "AGENT_USER_SUSPENDED";
/// The code of an MCP server refusing a fresh token.
pub const CODE_MCP_AUTH_FAILED: &str = "MCP_AUTH_FAILED";
/// The code of a malformed MCP token answer ([`Error::InvalidResponse`]).
pub const CODE_INVALID_TOKEN_RESPONSE: &str = "INVALID_TOKEN_RESPONSE";
/// The RFC 6749 code of a mint refused for a missing `oauth:mcp` grant
/// ([`Error::OAuthCapability`]).
pub const CODE_ACCESS_DENIED: &str = "access_denied";
/// The code of a passport a site refused ([`Error::PassportRefused`]).
pub const CODE_PASSPORT_REFUSED: &str = "PASSPORT_REFUSED";
/// The code of an MCP access token a server refused ([`Error::McpTokenRefused`]).
pub const CODE_MCP_TOKEN_REFUSED: &str = "MCP_TOKEN_REFUSED";
/// The API code of LIME's authentication service being down (503, retried).
pub const CODE_AUTH_UNAVAILABLE: &str = "AUTH_UNAVAILABLE";

/// How to fix an error, when lime knows: a typed answer each front end
/// words itself (a program names the setter, the CLI its flag). An
/// error's `Display` and `Debug` both end with the library's wording.
///
/// ```
/// use lime_core::{Error, Hint};
/// let e = Error::config("plain http").with_hint(Hint::AllowHttp);
/// assert_eq!(e.hint(), Some(Hint::AllowHttp));
/// assert!(e.to_string().ends_with("(opt in with allow_http(true))"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hint {
    /// The server's certificate chains to no trusted root: trust its CA
    /// (`add_root_certificates_pem`; the CLI's `--ca-cert`).
    TrustCa,
    /// A plain `http://` base URL off loopback: use HTTPS, or opt in
    /// (`allow_http(true)`; the CLI's `--allow-http`).
    AllowHttp,
    /// A plain `http://` MCP URL: use HTTPS, or opt in
    /// (`mcp_allow_http(true)`; the CLI's `--mcp-allow-http`).
    McpAllowHttp,
    /// A 404 for the endpoint itself: the base URL lacks its `/api/v1`.
    BaseUrlApiV1,
    /// The solver was built without optimizations: see
    /// [`lime_pow::UNOPTIMIZED_FIX`].
    OptimizeSolver,
    /// The agent lacks the `oauth:mcp` grant: its owner grants it in the
    /// LIME dashboard.
    GrantOAuthMcp,
}

impl fmt::Display for Hint {
    /// The library's wording, naming setters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hint::TrustCa => "trust the server's CA with add_root_certificates_pem",
            Hint::AllowHttp => "opt in with allow_http(true)",
            Hint::McpAllowHttp => "opt in with mcp_allow_http(true)",
            Hint::BaseUrlApiV1 => "check the base URL, which must end in /api/v1",
            Hint::OptimizeSolver => lime_pow::UNOPTIMIZED_FIX,
            Hint::GrantOAuthMcp => "its owner can grant it in the LIME dashboard",
        })
    }
}

impl fmt::Display for Error {
    /// The message, then the hint in the library's words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_message(f)?;
        match self.hint() {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    /// What `main` returning `Err` prints: the message and hint, then what
    /// a program branches on. (`{:#?}` is the same; no field is secret,
    /// but the message says more than the variant's name.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        if let Some(code) = self.code() {
            write!(f, " [code {code}]")?;
        }
        if let Some(status) = self.http_status() {
            write!(f, " [HTTP {status}]")?;
        }
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    /// A transport error's cause (an I/O or TLS error), so `anyhow`'s
    /// `{:#}` shows what lies below.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<TransportError> for Error {
    fn from(error: TransportError) -> Self {
        Error::Transport(error)
    }
}

/// ` (message)`, unless the message is empty or already says `what`.
fn unless_repeated(message: &str, what: &str) -> String {
    if message.trim().is_empty() || message.to_ascii_lowercase().contains(what) {
        String::new()
    } else {
        format!(" ({message})")
    }
}

impl Error {
    /// An argument refused before any request: for drivers and adapters
    /// of your own.
    pub fn invalid_input(argument: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            argument,
            reason: reason.into(),
            hint: None,
        }
    }

    /// A configuration error: for drivers and adapters of your own.
    pub fn config(reason: impl Into<String>) -> Self {
        Error::Config {
            reason: reason.into(),
            hint: None,
        }
    }

    /// The same error with `hint` attached (for [`Error::Config`],
    /// [`Error::InvalidInput`] and transport errors; others keep their own).
    #[must_use]
    pub fn with_hint(mut self, new: Hint) -> Self {
        match &mut self {
            Error::Config { hint, .. } | Error::InvalidInput { hint, .. } => *hint = Some(new),
            Error::Transport(e) => e.hint = Some(new),
            _ => {}
        }
        self
    }

    /// How to fix this error, when lime knows: for front ends that word it
    /// their own way (the CLI names its flags). `Display` already ends
    /// with the library's wording; [`Error::without_hint`] leaves it out.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::Config { hint, .. } | Error::InvalidInput { hint, .. } => *hint,
            Error::Transport(e) => e.hint(),
            Error::OAuthCapability { .. } => Some(Hint::GrantOAuthMcp),
            Error::Api {
                code, http_status, ..
            } if *http_status == Some(404) && code == "NOT_FOUND" => Some(Hint::BaseUrlApiV1),
            Error::PowTimeout { .. } if lime_pow::BUILT_UNOPTIMIZED => Some(Hint::OptimizeSolver),
            _ => None,
        }
    }

    /// The message without the hint, for front ends that word
    /// [`hint`](Self::hint) themselves.
    pub fn without_hint(&self) -> impl fmt::Display + '_ {
        struct Message<'a>(&'a Error);
        impl fmt::Display for Message<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_message(f)
            }
        }
        Message(self)
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Authentication { message, .. } => {
                write!(f, "authentication failed: {message}")
            }
            Error::OAuthCapability { message, .. } => write!(
                f,
                "the agent lacks the oauth:mcp grant{}",
                unless_repeated(message, "oauth:mcp grant")
            ),
            Error::McpAuthentication { message } => {
                write!(f, "MCP authentication failed: {message}")
            }
            Error::Mcp { code, message } => write!(f, "MCP error {code}: {message}"),
            Error::Expired { message, .. } => write!(f, "login request expired: {message}"),
            Error::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            Error::Api {
                code,
                message,
                http_status,
                ..
            } => match http_status {
                Some(status) => write!(f, "API error {code} (HTTP {status}): {message}"),
                None => write!(f, "API error {code} (HTTP -): {message}"),
            },
            Error::PowTimeout { difficulty, hashes } => write!(
                f,
                "proof of work at difficulty {difficulty} not solved in time ({hashes} hashes tried)"
            ),
            Error::Cancelled => f.write_str("cancelled"),
            Error::InvalidInput {
                argument, reason, ..
            } => write!(f, "invalid {argument}: {reason}"),
            Error::InvalidResponse {
                http_status,
                reason,
                ..
            } => match http_status {
                Some(status) => write!(f, "invalid response (HTTP {status}): {reason}"),
                None => write!(f, "invalid response: {reason}"),
            },
            Error::Transport(e) => e.fmt_message(f),
            Error::Config { reason, .. } => write!(f, "configuration error: {reason}"),
            Error::PassportRefused(why) => write!(f, "passport refused: {why}"),
            Error::McpTokenRefused(why) => write!(f, "MCP access token refused: {why}"),
            Error::Internal { reason } => write!(f, "internal error: {reason}"),
        }
    }

    /// A bug in the driver or in lime (never the server's or the caller's
    /// fault): for drivers and adapters of your own.
    pub fn internal(reason: impl Into<String>) -> Self {
        Error::Internal {
            reason: reason.into(),
        }
    }

    /// An MCP server refused a fresh token: for MCP clients.
    pub fn mcp_authentication(message: impl Into<String>) -> Self {
        Error::McpAuthentication {
            message: message.into(),
        }
    }

    /// An MCP server's JSON-RPC error: for MCP clients.
    pub fn mcp(code: i32, message: impl Into<String>) -> Self {
        Error::Mcp {
            code,
            message: message.into(),
        }
    }

    /// An MCP server refused the agent's token, even a fresh one.
    pub fn is_mcp_authentication(&self) -> bool {
        matches!(self, Error::McpAuthentication { .. })
    }

    /// The agent token is missing, unknown, inactive or its owner suspended.
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication { .. })
    }

    /// The agent was deactivated (`AGENT_INACTIVE`): its owner must
    /// reactivate it; retrying will not help.
    pub fn is_agent_inactive(&self) -> bool {
        self.code() == Some(CODE_AGENT_INACTIVE)
    }

    /// The agent's owner is suspended (`AGENT_USER_SUSPENDED`).
    pub fn is_owner_suspended(&self) -> bool {
        self.code() == Some(CODE_AGENT_USER_SUSPENDED)
    }

    /// LIME's authentication service was unavailable (`AUTH_UNAVAILABLE`,
    /// 503) after every retry: try again later.
    pub fn is_auth_unavailable(&self) -> bool {
        self.code() == Some(CODE_AUTH_UNAVAILABLE)
    }

    /// The agent lacks the `oauth:mcp` grant: no MCP access token.
    pub fn is_oauth_capability_missing(&self) -> bool {
        matches!(self, Error::OAuthCapability { .. })
    }

    /// The login request expired (`LOGIN_REQUEST_EXPIRED`).
    pub fn is_expired(&self) -> bool {
        matches!(self, Error::Expired { .. })
    }

    /// Rate limited after every retry; see [`retry_after`](Self::retry_after).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
    }

    /// The server refused the nonce (`INVALID_POW`).
    pub fn is_invalid_pow(&self) -> bool {
        self.code() == Some(CODE_INVALID_POW)
    }

    /// The proof of work was not solved within its budget.
    pub fn is_pow_timeout(&self) -> bool {
        matches!(self, Error::PowTimeout { .. })
    }

    /// The caller cancelled the login.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }

    /// The request never completed at the transport level (DNS, connect,
    /// TLS, timeout, a dropped connection).
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport(_))
    }

    /// How long the server asked to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The API code: the server's, or the one the SDK assigned
    /// (`SITE_LOGIN_CONFLICT`, `LOGIN_REQUEST_EXPIRED`, `RATE_LIMIT_EXCEEDED`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Authentication { code, .. } => code.as_deref(),
            Error::OAuthCapability { .. } => Some(CODE_ACCESS_DENIED),
            Error::InvalidResponse { code, .. } => *code,
            Error::McpAuthentication { .. } => Some(CODE_MCP_AUTH_FAILED),
            Error::Expired { .. } => Some(CODE_EXPIRED),
            Error::RateLimited { .. } => Some(CODE_RATE_LIMITED),
            Error::Api { code, .. } => Some(code),
            Error::PassportRefused(_) => Some(CODE_PASSPORT_REFUSED),
            Error::McpTokenRefused(_) => Some(CODE_MCP_TOKEN_REFUSED),
            _ => None,
        }
    }

    /// The HTTP status of the answer that caused the error, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Authentication { http_status, .. }
            | Error::OAuthCapability { http_status, .. }
            | Error::Expired { http_status, .. }
            | Error::RateLimited { http_status, .. }
            | Error::Api { http_status, .. }
            | Error::InvalidResponse { http_status, .. } => *http_status,
            _ => None,
        }
    }

    /// The human-readable message: the server's for API errors (borrowed),
    /// else the error's own text.
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Error::Authentication { message, .. }
            | Error::OAuthCapability { message, .. }
            | Error::Expired { message, .. }
            | Error::RateLimited { message, .. }
            | Error::Api { message, .. } => std::borrow::Cow::Borrowed(message),
            other => std::borrow::Cow::Owned(other.to_string()),
        }
    }

    /// Whether trying the same step again may succeed: connection failures,
    /// timeouts, rate limiting and HTTP 408/500/502/503/504.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_retryable(),
            Error::RateLimited { .. } => true,
            Error::Api { http_status, .. } | Error::InvalidResponse { http_status, .. } => {
                http_status.is_some_and(crate::retry::is_retryable_status)
            }
            _ => false,
        }
    }

    /// Whether this is `SITE_LOGIN_CONFLICT`: the request was approved already.
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(CODE_CONFLICT)
    }

    pub(crate) fn conflict(message: &str, http_status: Option<u16>) -> Self {
        Error::Api {
            code: CODE_CONFLICT.to_owned(),
            message: message.to_owned(),
            http_status,
            detail: None,
        }
    }

    pub(crate) fn invalid_response(http_status: Option<u16>, reason: impl Into<String>) -> Self {
        Error::InvalidResponse {
            http_status,
            reason: reason.into(),
            code: None,
        }
    }
}

/// A request that did not complete: what the adapter reports to the core.
///
/// ```
/// use lime_core::drive::{TransportError, TransportErrorKind};
/// let e = TransportError::new(TransportErrorKind::Timeout, "no response headers in 30 s");
/// assert!(e.is_retryable());
/// ```
///
/// Once a flow gives up, the error also names the request and the
/// attempts made:
/// `GET https://lime.pics/api/v1/auth/requests/lr_x failed after 4 attempts: connection failed: …`.
#[derive(Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    /// `METHOD origin/path` of the request, set by the flow.
    request: Option<String>,
    attempts: u32,
    hint: Option<Hint>,
    /// The client's own error, for `source()` chains.
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for TransportError {
    /// Equal in everything but the cause (which has no equality).
    fn eq(&self, other: &Self) -> bool {
        (
            self.kind,
            &self.message,
            &self.request,
            self.attempts,
            self.hint,
        ) == (
            other.kind,
            &other.message,
            &other.request,
            other.attempts,
            other.hint,
        )
    }
}

impl Eq for TransportError {}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("request", &self.request)
            .field("attempts", &self.attempts)
            .field("hint", &self.hint)
            .field("source", &self.source.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_message(f)?;
        match self.hint {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl TransportError {
    /// A transport error of `kind`; `message` must not contain secrets.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            request: None,
            attempts: 0,
            hint: None,
            source: None,
        }
    }

    /// Keeps the client's own error as this one's `source()`; it must not
    /// contain secrets either.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// Says how to fix it (a driver that recognised, say, an unknown
    /// certificate issuer).
    #[must_use]
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Names the request (`METHOD url`, no query or user info) and the
    /// attempts made, as flows do when they give up.
    #[must_use]
    pub fn with_request(mut self, request: String, attempts: u32) -> Self {
        self.request = Some(request);
        self.attempts = attempts;
        self
    }

    /// `METHOD url` of the request that failed, once a flow has named it.
    pub fn request(&self) -> Option<&str> {
        self.request.as_deref()
    }

    /// Attempts the flow made before giving up (0 until a flow names it).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How to fix it, when the driver said.
    pub fn hint(&self) -> Option<Hint> {
        self.hint
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(request) = &self.request {
            let plural = if self.attempts == 1 { "" } else { "s" };
            write!(
                f,
                "{request} failed after {} attempt{plural}: ",
                self.attempts
            )?;
        }
        write!(f, "{}: {}", self.kind, self.message)
    }

    /// What kind of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect
                | TransportErrorKind::Timeout
                | TransportErrorKind::ConnectionLost
        )
    }

    /// Whether the server may have processed the request: everything but a
    /// failed name lookup, connect or TLS handshake (nothing was sent). An
    /// oversized answer means the server did answer, so it may have acted.
    pub fn may_have_been_processed(&self) -> bool {
        !matches!(
            self.kind,
            TransportErrorKind::Dns | TransportErrorKind::Connect | TransportErrorKind::Tls
        )
    }
}

/// The kinds of [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name did not resolve: nothing was sent. Not retried (a
    /// misspelt host does not start resolving a second later).
    Dns,
    /// No connection was made (DNS, refused, unreachable): nothing was sent.
    Connect,
    /// The per-attempt timeout passed (connect, headers or body).
    Timeout,
    /// The connection closed or reset mid-exchange.
    ConnectionLost,
    /// TLS failed (certificate, handshake). Not retried.
    Tls,
    /// The response body passed the configured limit while being read.
    BodyTooLarge,
    /// The server answered with an HTTP status the exchange cannot use (a
    /// 404 for an MCP URL, a 500). Not retried.
    HttpStatus,
    /// The server's answer broke the protocol (a body that is not what the
    /// exchange expects). Not retried.
    Protocol,
    /// Anything else. Not retried.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Dns => "the host name did not resolve",
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::ConnectionLost => "connection lost",
            TransportErrorKind::Tls => "TLS error",
            TransportErrorKind::BodyTooLarge => "response body too large",
            TransportErrorKind::HttpStatus => "unexpected HTTP status",
            TransportErrorKind::Protocol => "protocol error",
            TransportErrorKind::Other => "transport error",
        })
    }
}

/// The first error of type `T` in `error`'s chain, for drivers
/// classifying their client's errors (a rustls error inside an `io::Error`
/// inside a client error). `io::Error` hides the error it wraps from
/// `source()`, so it is opened with `get_ref()`.
///
/// ```
/// use std::io;
/// #[derive(Debug)]
/// struct Tls;
/// impl std::fmt::Display for Tls {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("tls") }
/// }
/// impl std::error::Error for Tls {}
/// let wrapped = io::Error::new(io::ErrorKind::InvalidData, Tls);
/// assert!(lime_core::drive::find_in_chain::<Tls>(&wrapped).is_some());
/// assert!(lime_core::drive::find_in_chain::<Tls>(&io::Error::other("plain")).is_none());
/// ```
pub fn find_in_chain<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_expose_code_status_message_and_retryability() {
        let auth = Error::Authentication {
            code: Some("AGENT_INACTIVE".into()),
            message: "inactive".into(),
            http_status: Some(403),
        };
        assert_eq!(
            (auth.code(), auth.http_status(), &*auth.message()),
            (Some("AGENT_INACTIVE"), Some(403), "inactive")
        );
        assert!(!auth.is_retryable() && auth.is_authentication() && auth.is_agent_inactive());
        assert!(!auth.is_owner_suspended());
        let expired = Error::Expired {
            message: "gone".into(),
            http_status: Some(410),
        };
        assert_eq!(expired.code(), Some("LOGIN_REQUEST_EXPIRED"));
        assert!(expired.is_expired());
        let limited = Error::RateLimited {
            message: "slow".into(),
            retry_after: Some(Duration::from_secs(2)),
            http_status: Some(429),
        };
        assert!(limited.is_retryable() && limited.code() == Some("RATE_LIMIT_EXCEEDED"));
        assert!(limited.is_rate_limited());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        let pow = Error::PowTimeout {
            difficulty: 30,
            hashes: 9,
        };
        assert_eq!((pow.code(), pow.http_status()), (None, None));
        assert!(pow.message().contains("difficulty 30") && pow.is_pow_timeout());
        assert!(
            Error::Cancelled.to_string().contains("cancelled") && Error::Cancelled.is_cancelled()
        );
        let bad = Error::invalid_response(Some(502), "not JSON");
        assert!(bad.is_retryable() && bad.to_string().contains("HTTP 502"));
        let api = Error::Api {
            code: "X".into(),
            message: "m".into(),
            http_status: None,
            detail: None,
        };
        assert!(api.to_string().contains("HTTP -"));
        let down = Error::Api {
            code: CODE_AUTH_UNAVAILABLE.into(),
            message: "down".into(),
            http_status: Some(503),
            detail: None,
        };
        assert!(down.is_auth_unavailable() && down.is_retryable());
        let pow_refused = Error::Api {
            code: CODE_INVALID_POW.into(),
            message: "wrong".into(),
            http_status: Some(400),
            detail: None,
        };
        assert!(pow_refused.is_invalid_pow() && !pow_refused.is_retryable());
        assert!(
            Error::config("x")
                .to_string()
                .starts_with("configuration error")
        );
        assert!(
            Error::internal("x")
                .to_string()
                .starts_with("internal error")
        );
    }

    #[test]
    fn a_server_message_that_says_the_same_is_not_repeated() {
        let grant = |message: &str| {
            Error::OAuthCapability {
                message: message.into(),
                http_status: Some(403),
            }
            .to_string()
        };
        let said = grant("the agent lacks the oauth:mcp grant");
        assert_eq!(said.matches("oauth:mcp grant").count(), 1, "{said}");
        assert!(grant("policy 7 says no").contains("(policy 7 says no)"));
        let endpoint = Error::Api {
            code: "NOT_FOUND".into(),
            message: "no such endpoint".into(),
            http_status: Some(404),
            detail: None,
        }
        .to_string();
        assert_eq!(
            endpoint.matches("no such endpoint").count(),
            1,
            "{endpoint}"
        );
        assert!(endpoint.contains("/api/v1"), "{endpoint}");
    }

    #[test]
    fn a_named_transport_error_says_what_failed_and_how_often() {
        let e = TransportError::new(TransportErrorKind::Connect, "refused")
            .with_request("GET https://lime.pics/api/v1/auth/requests/lr_x".into(), 4);
        assert_eq!(
            e.to_string(),
            "GET https://lime.pics/api/v1/auth/requests/lr_x failed after 4 attempts: \
             connection failed: refused"
        );
        assert_eq!((e.request().is_some(), e.attempts()), (true, 4));
        let once = TransportError::new(TransportErrorKind::Dns, "no such host")
            .with_request("GET https://x.invalid/api/v1".into(), 1);
        assert!(
            once.to_string()
                .contains("after 1 attempt: the host name did not resolve")
        );
        assert!(!once.is_retryable() && !once.may_have_been_processed());
    }

    #[test]
    fn a_hint_is_typed_and_reaches_display_and_debug_but_not_the_bare_message() {
        let untrusted = Error::from(
            TransportError::new(TransportErrorKind::Tls, "invalid peer certificate")
                .with_hint(Hint::TrustCa)
                .with_source(std::io::Error::other("the client's own error")),
        );
        assert_eq!(untrusted.hint(), Some(Hint::TrustCa));
        for printed in [untrusted.to_string(), format!("{untrusted:?}")] {
            assert!(printed.contains("add_root_certificates_pem"), "{printed}");
        }
        assert!(
            !untrusted
                .without_hint()
                .to_string()
                .contains("add_root_certificates_pem")
        );
        // The cause is the source, and Debug shows the chain.
        let source = std::error::Error::source(&untrusted).expect("a source");
        assert_eq!(source.to_string(), "the client's own error");
        assert!(format!("{untrusted:?}").contains("caused by: the client's own error"));
        // A plain http base URL names the opt-in as a hint, not in its text.
        let plain = crate::BaseUrl::parse("http://lime.example/api/v1", false).unwrap_err();
        assert_eq!(plain.hint(), Some(Hint::AllowHttp));
        assert!(
            plain
                .to_string()
                .ends_with("(opt in with allow_http(true))"),
            "{plain}"
        );
        let mcp = Error::from(crate::mcp::TargetRefused::PlainHttp);
        assert_eq!(mcp.hint(), Some(Hint::McpAllowHttp));
        // Debug names the code and status a program branches on.
        let api = Error::Api {
            code: "NOT_FOUND".into(),
            message: "no such endpoint".into(),
            http_status: Some(404),
            detail: None,
        };
        assert_eq!(api.hint(), Some(Hint::BaseUrlApiV1));
        assert!(format!("{api:?}").contains("[code NOT_FOUND] [HTTP 404]"));
        assert_eq!(Error::Cancelled.hint(), None);
    }
}
