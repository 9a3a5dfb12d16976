//! The access token an MCP server accepts: a secret, readable through one
//! explicit method, redacted everywhere else and zeroed on drop.

use std::fmt;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// A short-lived JWT scoped to one MCP server's domain.
///
/// `Debug` and `Display` never show the JWT; [`expose_secret`](Self::expose_secret)
/// is the one way to read it, and [`authorization`](Self::authorization)
/// builds the header it travels in.
///
/// ```
/// # fn show(token: &lime_core::mcp::McpAccessToken) {
/// println!("{token}"); // "MCP access token for mcp.example.com (Bearer, 600 s)"
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct McpAccessToken {
    jwt: Zeroizing<String>,
    token_type: String,
    expires_in: Duration,
    domain: String,
    minted_at: Instant,
}

impl McpAccessToken {
    pub(crate) fn new(
        jwt: String,
        token_type: String,
        expires_in: Duration,
        domain: String,
        minted_at: Instant,
    ) -> Self {
        McpAccessToken {
            jwt: Zeroizing::new(jwt),
            token_type,
            expires_in,
            domain,
            minted_at,
        }
    }

    /// The JWT itself. A secret: send it only to MCP URLs of
    /// [`domain`](Self::domain), never log it.
    pub fn expose_secret(&self) -> &str {
        &self.jwt
    }

    /// `Authorization: Bearer …` as a header value marked sensitive (so
    /// HTTP stacks keep it out of their logs).
    pub fn authorization(&self) -> http::HeaderValue {
        let mut value = http::HeaderValue::from_str(&format!("Bearer {}", self.jwt.as_str()))
            .unwrap_or_else(|_| http::HeaderValue::from_static("Bearer"));
        value.set_sensitive(true);
        value
    }

    /// The token type the server named (`Bearer`, in whatever case it sent).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The lifetime the server granted.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// The normalized domain the token is scoped to.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// When the mint's answer arrived (the driver's clock).
    pub fn minted_at(&self) -> Instant {
        self.minted_at
    }

    /// When the server stops accepting it.
    pub fn expires_at(&self) -> Instant {
        crate::step::later(self.minted_at, self.expires_in)
    }
}

impl fmt::Debug for McpAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAccessToken")
            .field("jwt", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for McpAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MCP access token for {} ({}, {} s)",
            self.domain,
            self.token_type,
            self.expires_in.as_secs()
        )
    }
}
