//! The agent token: a secret that redacts itself and is zeroed on drop.

use std::fmt;

use http::HeaderValue;
use zeroize::Zeroizing;

use crate::Error;

/// The environment variable the agent token is read from.
pub const TOKEN_ENV: &str = "LIME_AGENT_TOKEN";

/// Token type prefixes that `Debug` may show: public by design, not secret.
const KNOWN_PREFIXES: [&str; 1] = ["at_"];

/// An agent token (`X-Agent-Token`).
///
/// `Debug` and `Display` show at most its type prefix, and only `at_`
/// (`AgentToken(at_…)`), never any other part; the memory is zeroed when
/// the token is dropped.
///
/// ```
/// use lime_core::AgentToken;
/// let token = AgentToken::new("  at_s3cr3t-value \n").unwrap();
/// assert_eq!(token.expose_secret(), "at_s3cr3t-value");
/// assert_eq!(format!("{token:?}"), "AgentToken(at_…)");
/// assert!(AgentToken::new("   ").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken(Zeroizing<String>);

impl AgentToken {
    /// Trims surrounding whitespace and checks the token can travel in an
    /// HTTP header: visible ASCII only (no spaces, CR, LF or non-ASCII).
    ///
    /// # Errors
    /// [`Error::Authentication`] when the token is empty (naming both
    /// sources), [`Error::Config`] when it holds a character a header cannot.
    pub fn new(token: &str) -> Result<Self, Error> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Authentication {
                code: None,
                message: format!("no agent token: pass one to the builder or set {TOKEN_ENV}"),
                http_status: None,
            });
        }
        if let Some(position) = token.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(Error::Config {
                hint: None,
                reason: format!(
                    "the agent token has a character not allowed in an HTTP header at position {position} \
                     (only visible ASCII is allowed)"
                ),
            });
        }
        Ok(AgentToken(Zeroizing::new(token.to_owned())))
    }

    /// The secret itself, for the one place it is sent.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The token as a header value marked sensitive (HTTP/2 HPACK never
    /// indexes it and `Debug` of the header map hides it).
    pub(crate) fn header_value(&self) -> HeaderValue {
        let mut value =
            HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        value.set_sensitive(true);
        value
    }

    /// The type prefix when it is one LIME issues (`at_`), else nothing:
    /// any other text before a `_` may be part of the secret.
    fn kind_prefix(&self) -> &str {
        KNOWN_PREFIXES
            .iter()
            .find(|p| self.0.starts_with(**p) && self.0.len() > p.len() + 8)
            .copied()
            .unwrap_or("")
    }
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentToken({}…)", self.kind_prefix())
    }
}

impl fmt::Display for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.kind_prefix())
    }
}
