//! Which MCP server a target names: its domain (the token's scope and the
//! cache key) and the URL to connect to, decided without any DNS lookup.

use std::fmt;

use crate::Error;

/// An MCP server a target string names, accepted by the domain policy.
///
/// ```
/// use lime_core::mcp::McpTarget;
/// let target = McpTarget::parse("MCP.Example.com:8443", false)?;
/// assert_eq!(target.domain(), "mcp.example.com");
/// assert_eq!(target.url(), "https://mcp.example.com:8443/mcp");
/// assert!(McpTarget::parse("127.1", false).is_err()); // an IP, however spelt
/// # Ok::<(), lime_core::mcp::TargetRefused>(())
/// ```
///
/// `Display` and `Debug` show the URL with its query redacted (a query may
/// carry a key).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct McpTarget {
    domain: String,
    url: String,
}

/// Why the domain policy refused a target; its `Display` names the rule and
/// never echoes user info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetRefused {
    /// Empty or blank.
    #[error("the MCP target is empty")]
    Empty,
    /// `user@host` or `user:password@host`.
    #[error("the MCP target must not include user info (user@host)")]
    UserInfo,
    /// An IP address in any spelling (`127.1`, `0x7f000001`, `[::1]`): a
    /// token is scoped to a domain name.
    #[error("the MCP target must be a domain name, not an IP address")]
    IpAddress,
    /// A port that is not a number from 1 to 65535.
    #[error("the MCP target's port must be a number from 1 to 65535")]
    Port,
    /// Not an RFC 1123 host name (labels of `a–z 0–9 -`, 1–63 long, not
    /// starting or ending with `-`; at most 253 characters).
    #[error("the MCP target is not a valid host name")]
    NotAHostName,
    /// A name reserved for local or special use (`localhost`, `*.local`,
    /// `metadata.google.internal`, `*.nip.io`, …).
    #[error("the MCP target is a reserved or special-use host name")]
    Reserved,
    /// A single-label name (`vm`, `mcp`, `wpad`) or a hosts-file loopback
    /// alias (`localhost.localdomain`, `ip6-localhost`): names that resolve
    /// inside the agent's own network, not to a public MCP server. Reach an
    /// internal server with an explicit `resolve` entry for a full name.
    #[error(
        "the MCP target must be a fully qualified domain name (a single label or a hosts-file alias resolves inside your own network)"
    )]
    LocalName,
    /// A plain `http://` MCP URL without the opt-in.
    #[error("a plain http:// MCP URL sends the token unencrypted; use https://")]
    PlainHttp,
}

impl From<TargetRefused> for Error {
    fn from(refused: TargetRefused) -> Self {
        let hint = matches!(refused, TargetRefused::PlainHttp).then_some(crate::Hint::McpAllowHttp);
        Error::InvalidInput {
            hint,
            argument: "mcp target",
            reason: refused.to_string(),
        }
    }
}

/// Names for local or special use, refused exactly.
const RESERVED_NAMES: [&str; 12] = [
    "localhost",
    "metadata",
    "metadata.google.internal",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "nip.io",
    "sslip.io",
    "xip.io",
    "traefik.me",
    "localtest.me",
    "lvh.me",
];

/// Loopback aliases common in hosts files (lime's rule 6, beside single
/// labels).
const HOSTS_FILE_ALIASES: [&str; 3] = ["localhost.localdomain", "ip6-localhost", "ip6-loopback"];

/// Suffixes for local or special use, refused for every name under them.
const RESERVED_SUFFIXES: [&str; 13] = [
    ".localhost",
    ".local",
    ".internal",
    ".intranet",
    ".corp",
    ".home",
    ".lan",
    ".nip.io",
    ".sslip.io",
    ".xip.io",
    ".traefik.me",
    ".localtest.me",
    ".lvh.me",
];

impl McpTarget {
    /// Applies the domain policy (`docs/protocol.md`, "MCP access tokens")
    /// to `target`: a bare host (`mcp.example.com`, with an optional
    /// `:port`) or an `http(s)://` URL. `allow_http` opts in to plain
    /// `http://` URLs.
    ///
    /// # Errors
    /// [`TargetRefused`] naming the rule that refused it.
    pub fn parse(target: &str, allow_http: bool) -> Result<Self, TargetRefused> {
        let target = target.trim();
        if target.is_empty() {
            return Err(TargetRefused::Empty);
        }
        let (scheme, rest) = split_scheme(target);
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(TargetRefused::UserInfo);
        }
        if authority.starts_with('[') {
            return Err(TargetRefused::IpAddress);
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (authority, None),
        };
        let domain = host.to_ascii_lowercase();
        if is_ip_literal(&domain) {
            return Err(TargetRefused::IpAddress);
        }
        if !is_host_name(&domain) {
            return Err(TargetRefused::NotAHostName);
        }
        if RESERVED_NAMES.contains(&domain.as_str())
            || RESERVED_SUFFIXES.iter().any(|s| domain.ends_with(s))
        {
            return Err(TargetRefused::Reserved);
        }
        if !domain.contains('.') || HOSTS_FILE_ALIASES.contains(&domain.as_str()) {
            return Err(TargetRefused::LocalName);
        }
        let url = match scheme {
            Some(Scheme::Http) if !allow_http => return Err(TargetRefused::PlainHttp),
            Some(_) => target.trim_end_matches('/').to_owned(),
            None => match port {
                Some(port) => format!("https://{domain}:{port}/mcp"),
                None => format!("https://{domain}/mcp"),
            },
        };
        Ok(McpTarget { domain, url })
    }

    /// The normalized domain: lower case, no port. The token's scope and
    /// the cache key.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The MCP URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for McpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::base_url::redact_url(&self.url))
    }
}

impl fmt::Debug for McpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpTarget")
            .field("domain", &self.domain)
            .field("url", &crate::base_url::redact_url(&self.url))
            .finish()
    }
}

#[derive(Clone, Copy)]
enum Scheme {
    Http,
    Https,
}

/// The target's scheme (ASCII case ignored) and what follows `://`.
fn split_scheme(target: &str) -> (Option<Scheme>, &str) {
    for (prefix, scheme) in [("https://", Scheme::Https), ("http://", Scheme::Http)] {
        if let Some(head) = target.get(..prefix.len())
            && head.eq_ignore_ascii_case(prefix)
        {
            return (Some(scheme), &target[prefix.len()..]);
        }
    }
    (None, target)
}

fn parse_port(port: &str) -> Result<u16, TargetRefused> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetRefused::Port);
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(TargetRefused::Port),
    }
}

/// An address the standard parser reads, or a name whose every label is
/// decimal digits or `0x`-hex: what `inet_aton` would take (`127.1`,
/// `2130706433`, `0x7f000001`, `0177.0.0.1`).
fn is_ip_literal(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let numeric = |label: &str| match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    };
    !host.is_empty() && host.split('.').all(numeric)
}

/// An RFC 1123 host name, lower case: at most 253 characters, labels of
/// 1–63 `a–z 0–9 -` neither starting nor ending with `-`.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
