//! The API base URL: where requests go, and the only origin the token may reach.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use http::Uri;

use crate::Error;

/// The environment variable that overrides the base URL.
pub const BASE_URL_ENV: &str = "LIME_API_BASE";

/// The public service's API root.
pub const DEFAULT_BASE_URL: &str = "https://lime.pics/api/v1";

/// A validated API root such as `https://lime.pics/api/v1`.
///
/// `http(s)` with a host; no user info, query or fragment; trailing `/`
/// removed. Plain `http://` is accepted only for loopback hosts
/// (`localhost`, `127.0.0.0/8`, `[::1]`) unless explicitly allowed, because
/// it would expose the token on the network.
///
/// ```
/// use lime_core::BaseUrl;
/// let url = BaseUrl::parse("http://127.0.0.1:8080/api/v1/", false).unwrap();
/// assert_eq!(url.as_str(), "http://127.0.0.1:8080/api/v1");
/// assert_eq!(url.origin(), "http://127.0.0.1:8080");
/// assert!(BaseUrl::parse("http://lime.example/api/v1", false).is_err());
/// assert!(BaseUrl::parse("http://lime.example/api/v1", true).is_ok());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: String,
    origin: String,
    host: String,
    https: bool,
}

impl BaseUrl {
    /// Validates `url`; `allow_http` opts in to plain HTTP off loopback.
    ///
    /// # Errors
    /// [`Error::Config`] naming what is wrong.
    pub fn parse(url: &str, allow_http: bool) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config {
            hint: None,
            reason: format!("invalid base URL {:?}: {why}", redact_url(url)),
        };
        let trimmed = url.trim().trim_end_matches('/');
        if trimmed.contains('#') {
            return Err(bad("a fragment is not allowed"));
        }
        if trimmed.contains('?') {
            return Err(bad("a query is not allowed"));
        }
        if !trimmed.contains("://") {
            return Err(bad("it needs a scheme (https://)"));
        }
        let uri: Uri = trimmed
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(bad(&format!("scheme {other:?} is not http or https"))),
            None => return Err(bad("it needs a scheme (https://)")),
        };
        let authority = uri.authority().ok_or_else(|| bad("it needs a host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info (user@host) is not allowed"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("it needs a host"));
        }
        if !https && !allow_http && !is_loopback(host) {
            return Err(bad(
                "plain http:// is only allowed for loopback hosts (the token would travel \
                 unencrypted); use https://",
            )
            .with_hint(crate::Hint::AllowHttp));
        }
        let origin = format!(
            "{}://{}",
            if https { "https" } else { "http" },
            authority.as_str()
        );
        let path = uri.path().trim_end_matches('/');
        Ok(BaseUrl {
            url: format!("{origin}{path}"),
            origin,
            host: host.to_ascii_lowercase(),
            https,
        })
    }

    /// The full root, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`: where the token may go.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The host (an IPv6 address in brackets), lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether requests are encrypted.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The absolute URL of an API path such as `/auth/requests/ID`.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        BaseUrl {
            url: DEFAULT_BASE_URL.to_owned(),
            origin: "https://lime.pics".to_owned(),
            host: "lime.pics".to_owned(),
            https: true,
        }
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BaseUrl").field(&self.url).finish()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// `url` as it may be shown: user info becomes `***@`, and a query or
/// fragment `?…` (either can carry a password or a token).
///
/// ```
/// # use lime_core::settings::redact_url;
/// assert_eq!(redact_url("https://user:pw@host/api?token=x"), "https://***@host/api?…");
/// assert_eq!(redact_url("https://host/api/v1"), "https://host/api/v1");
/// ```
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let (mut shown, cut) = match url.find(['?', '#']) {
        Some(i) => (url[..i].to_owned(), true),
        None => (url.to_owned(), false),
    };
    let start = shown.find("://").map_or(0, |i| i + 3);
    let end = shown[start..].find('/').map_or(shown.len(), |i| start + i);
    if let Some(at) = shown[start..end].rfind('@') {
        shown.replace_range(start..start + at, "***");
    }
    if cut {
        shown.push_str("?…");
    }
    shown
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}
