//! The API's secrets: the agent token and the site token. One type, two
//! kinds, so each redacts itself, is zeroed on drop and travels only in
//! its own header.

use std::fmt;
use std::marker::PhantomData;

use http::HeaderValue;
use zeroize::Zeroizing;

use crate::Error;

/// The environment variable the agent token is read from.
pub const TOKEN_ENV: &str = "LIME_AGENT_TOKEN";
/// The environment variable the site token is read from.
pub const SITE_TOKEN_ENV: &str = "LIME_SITE_TOKEN";

/// Which secret a [`Token`] is: its name in errors, its environment
/// variable, its header, and the one prefix `Debug` may show.
pub trait TokenKind: sealed::Sealed {
    /// `agent token` or `site token`.
    const NAME: &'static str;
    /// The type's name in `Debug`.
    const TYPE: &'static str;
    /// The environment variable it is read from.
    const ENV: &'static str;
    /// The header it travels in.
    const HEADER: &'static str;
    /// The type prefix LIME issues (public by design, not secret).
    const PREFIX: &'static str;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Agent {}
    impl Sealed for super::Site {}
}

/// The agent's kind of [`Token`] (`X-Agent-Token`, `at_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {}
/// The site's kind of [`Token`] (`X-Site-Token`, `st_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {}

impl TokenKind for Agent {
    const NAME: &'static str = "agent token";
    const TYPE: &'static str = "AgentToken";
    const ENV: &'static str = TOKEN_ENV;
    const HEADER: &'static str = "x-agent-token";
    const PREFIX: &'static str = "at_";
}

impl TokenKind for Site {
    const NAME: &'static str = "site token";
    const TYPE: &'static str = "SiteToken";
    const ENV: &'static str = SITE_TOKEN_ENV;
    const HEADER: &'static str = "x-site-token";
    const PREFIX: &'static str = "st_";
}

/// An agent token (`X-Agent-Token`).
pub type AgentToken = Token<Agent>;
/// A site token (`X-Site-Token`).
pub type SiteToken = Token<Site>;

/// An API token of kind `K`.
///
/// `Debug` and `Display` show at most its type prefix, and only the one
/// LIME issues for its kind (`AgentToken(at_…)`), never any other part;
/// the memory is zeroed when the token is dropped.
///
/// ```
/// use lime_core::{AgentToken, SiteToken};
/// let token = AgentToken::new("  at_s3cr3t-value \n").unwrap();
/// assert_eq!(token.expose_secret(), "at_s3cr3t-value");
/// assert_eq!(format!("{token:?}"), "AgentToken(at_…)");
/// assert!(AgentToken::new("   ").is_err());
/// assert_eq!(format!("{:?}", SiteToken::new("st_s3cr3t-value").unwrap()), "SiteToken(st_…)");
/// ```
pub struct Token<K: TokenKind>(Zeroizing<String>, PhantomData<K>);

impl<K: TokenKind> Clone for Token<K> {
    fn clone(&self) -> Self {
        Token(self.0.clone(), PhantomData)
    }
}

impl<K: TokenKind> PartialEq for Token<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: TokenKind> Eq for Token<K> {}

impl<K: TokenKind> Token<K> {
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
                message: format!("no {}: pass one to the builder or set {}", K::NAME, K::ENV),
                http_status: None,
            });
        }
        if let Some(position) = token.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(Error::Config {
                hint: None,
                reason: format!(
                    "the {} has a character not allowed in an HTTP header at position {position} \
                     (only visible ASCII is allowed)",
                    K::NAME
                ),
            });
        }
        Ok(Token(Zeroizing::new(token.to_owned()), PhantomData))
    }

    /// The secret itself, for the one place it is sent.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The header it travels in and its value, marked sensitive (HTTP/2
    /// HPACK never indexes it and `Debug` of the header map hides it).
    pub(crate) fn header(&self) -> (&'static str, HeaderValue) {
        let mut value =
            HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        value.set_sensitive(true);
        (K::HEADER, value)
    }

    /// The type prefix when it is the one LIME issues for this kind, else
    /// nothing: any other text before a `_` may be part of the secret.
    fn kind_prefix(&self) -> &'static str {
        if self.0.starts_with(K::PREFIX) && self.0.len() > K::PREFIX.len() + 8 {
            K::PREFIX
        } else {
            ""
        }
    }
}

impl<K: TokenKind> fmt::Debug for Token<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}…)", K::TYPE, self.kind_prefix())
    }
}

impl<K: TokenKind> fmt::Display for Token<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.kind_prefix())
    }
}
