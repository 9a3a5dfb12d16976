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
/// ```
/// use lime_core::Error;
/// let e = Error::Api {
///     code: "INVALID_POW".into(),
///     message: "wrong nonce".into(),
///     http_status: Some(400),
///     detail: None,
/// };
/// assert_eq!(e.code(), Some("INVALID_POW"));
/// assert_eq!(e.http_status(), Some(400));
/// assert!(!e.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is missing, unknown, inactive or its owner suspended
    /// (401, `MISSING_AGENT_TOKEN`, `INVALID_AGENT_TOKEN`, 403
    /// `AGENT_INACTIVE`, 403 `AGENT_USER_SUSPENDED`).
    #[error("authentication failed: {message}")]
    Authentication {
        /// The API code, when the server sent one.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// The HTTP status, when a server answered.
        http_status: Option<u16>,
    },
    /// The login request expired before it was approved.
    #[error("login request expired: {message}")]
    Expired {
        /// What the server said.
        message: String,
        /// The HTTP status, when the approve answered 410.
        http_status: Option<u16>,
    },
    /// Rate limited (HTTP 429 or `RATE_LIMIT_EXCEEDED`) after every retry.
    #[error("rate limited: {message}")]
    RateLimited {
        /// What the server said.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The HTTP status.
        http_status: Option<u16>,
    },
    /// Any other error the API reported in its envelope.
    #[error("API error {code} (HTTP {status}): {message}", status = http_status.map_or_else(|| "-".to_owned(), |s| s.to_string()))]
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
    #[error("proof of work at difficulty {difficulty} not solved in time ({hashes} hashes tried)")]
    PowTimeout {
        /// The difficulty asked for.
        difficulty: u16,
        /// Hashes tried before giving up.
        hashes: u64,
    },
    /// The login was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// An argument was refused before any request was sent.
    #[error("invalid {argument}: {reason}")]
    InvalidInput {
        /// Which argument.
        argument: &'static str,
        /// Why.
        reason: String,
    },
    /// The server's answer broke the protocol (never quoting the body).
    #[error("invalid response{status}: {reason}", status = http_status.map_or_else(String::new, |s| format!(" (HTTP {s})")))]
    InvalidResponse {
        /// The HTTP status.
        http_status: Option<u16>,
        /// What was wrong.
        reason: String,
    },
    /// The request did not complete at the transport level.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The configuration is invalid.
    #[error("configuration error: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A bug in lime itself, such as a panicking solver thread; never caused
    /// by the server or the caller. Please report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// The API code: the server's, or the one the SDK assigned
    /// (`SITE_LOGIN_CONFLICT`, `LOGIN_REQUEST_EXPIRED`, `RATE_LIMIT_EXCEEDED`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Authentication { code, .. } => code.as_deref(),
            Error::Expired { .. } => Some(CODE_EXPIRED),
            Error::RateLimited { .. } => Some(CODE_RATE_LIMITED),
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of the answer that caused the error, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Authentication { http_status, .. }
            | Error::Expired { http_status, .. }
            | Error::RateLimited { http_status, .. }
            | Error::Api { http_status, .. }
            | Error::InvalidResponse { http_status, .. } => *http_status,
            _ => None,
        }
    }

    /// The human-readable message (the server's for API errors).
    pub fn message(&self) -> String {
        match self {
            Error::Authentication { message, .. }
            | Error::Expired { message, .. }
            | Error::RateLimited { message, .. }
            | Error::Api { message, .. } => message.clone(),
            other => other.to_string(),
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
}

impl TransportError {
    /// A transport error of `kind`; `message` must not contain secrets.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
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
    /// failed connect or TLS handshake (nothing was sent). An oversized
    /// answer means the server did answer, so it may have acted.
    pub fn may_have_been_processed(&self) -> bool {
        !matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Tls
        )
    }
}

/// The kinds of [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
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
    /// Anything else. Not retried.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::ConnectionLost => "connection lost",
            TransportErrorKind::Tls => "TLS error",
            TransportErrorKind::BodyTooLarge => "response body too large",
            TransportErrorKind::Other => "transport error",
        })
    }
}

/// Whether an error of type `T` sits anywhere in `error`'s chain, for
/// drivers classifying their client's errors (a rustls error inside an
/// `io::Error` inside a client error). `io::Error` hides the error it wraps
/// from `source()`, so it is opened with `get_ref()`.
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
/// assert!(lime_core::drive::error_chain_contains::<Tls>(&wrapped));
/// assert!(!lime_core::drive::error_chain_contains::<Tls>(&io::Error::other("plain")));
/// ```
pub fn error_chain_contains<T: std::error::Error + 'static>(
    mut error: &(dyn std::error::Error + 'static),
) -> bool {
    loop {
        if error.is::<T>() {
            return true;
        }
        let next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
        match next {
            Some(next) => error = next,
            None => return false,
        }
    }
}
