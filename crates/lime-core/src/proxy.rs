//! The proxy decision, made once for both adapters: environment values and a
//! target in, "connect directly" or "tunnel through this proxy" out.
//!
//! The rules (see `docs/protocol.md`, "Proxies"):
//! - a plain `http://` target never goes through a proxy: the token, the
//!   challenge and the nonce would reach it in cleartext;
//! - an `https://` target uses `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`,
//!   `all_proxy` (the first that is set and not empty), through a CONNECT
//!   tunnel, so the proxy sees only encrypted bytes;
//! - `NO_PROXY`/`no_proxy` is read as curl reads it: comma-separated entries,
//!   each trimmed; `*` for every host; a name matches itself and its
//!   subdomains (a leading `.` changes nothing); IP addresses, CIDR blocks,
//!   and IPv6 with or without brackets;
//! - `HTTP_PROXY` is never read (httpoxy: a CGI request header can set it);
//! - only `http://` proxies are spoken: `socks*://` and `https://` proxy URLs
//!   are refused with [`Error::Config`] naming the variable, never used in
//!   some other way.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use http::HeaderValue;
use zeroize::Zeroizing;

use crate::Error;

/// The variables read for an `https://` target, in order of precedence.
pub const HTTPS_PROXY_VARIABLES: [&str; 4] =
    ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
/// The variables read for the hosts that bypass the proxy, in order of precedence.
pub const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// An `http://` proxy: where a CONNECT tunnel is opened, and the credentials
/// it asks for. `Debug` never shows the credentials.
///
/// ```
/// use lime_core::proxy::ProxyUrl;
/// let proxy = ProxyUrl::parse("http://alice:s3cret@proxy.corp:3128", "HTTPS_PROXY")?;
/// assert_eq!(proxy.authority(), "proxy.corp:3128");
/// assert!(!format!("{proxy:?}").contains("s3cret"));
/// assert!(ProxyUrl::parse("socks5://proxy.corp:1080", "ALL_PROXY").is_err());
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    username: Zeroizing<String>,
    password: Zeroizing<String>,
}

impl ProxyUrl {
    /// Parses a proxy URL as found in `variable` (named in errors):
    /// `[http://][user[:password]@]host[:port]` (port 80 when none is
    /// given; user and password may be percent-encoded).
    ///
    /// # Errors
    /// [`Error::Config`] naming `variable` for another scheme (`socks5://`,
    /// `https://`, …), a missing host or a bad port. The message never
    /// repeats the credentials.
    pub fn parse(value: &str, variable: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::Config {
            hint: None,
            reason: format!("{variable}: {why}"),
        };
        let value = value.trim();
        let rest = match value.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                match scheme.as_str() {
                    "http" => rest,
                    s if s.starts_with("socks") => {
                        return Err(bad(format!(
                            "a {s}:// proxy is not supported; use an http:// proxy \
                             (HTTPS still travels end to end through its CONNECT tunnel) \
                             or unset the variable"
                        )));
                    }
                    "https" => {
                        return Err(bad(
                            "an https:// proxy URL is not supported (the CONNECT request and \
                             its credentials would need TLS to the proxy); use http://, the \
                             tunnel still carries TLS end to end to the API"
                                .to_owned(),
                        ));
                    }
                    other => {
                        return Err(bad(format!(
                            "proxy scheme {other:?} is not supported (only http://)"
                        )));
                    }
                }
            }
            None => value,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)
            .ok_or_else(|| bad("the proxy URL has a bad port".to_owned()))?;
        if host.is_empty() {
            return Err(bad("the proxy URL has no host".to_owned()));
        }
        let credentials = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            Credentials {
                username: Zeroizing::new(percent_decode(user)),
                password: Zeroizing::new(percent_decode(password)),
            }
        });
        Ok(ProxyUrl {
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(80),
            credentials,
        })
    }

    /// The proxy's host (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, where the tunnel's TCP connection goes.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `http://host:port`, without credentials.
    pub fn uri(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// The user name, when the URL had credentials.
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.username.as_str())
    }

    /// The password, when the URL had credentials (empty when only a user).
    pub fn password(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.password.as_str())
    }

    /// `Proxy-Authorization: Basic …` for the CONNECT request, marked
    /// sensitive, when the URL had credentials.
    pub fn basic_auth(&self) -> Option<HeaderValue> {
        let c = self.credentials.as_ref()?;
        let pair = Zeroizing::new(format!("{}:{}", c.username.as_str(), c.password.as_str()));
        let encoded = Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
        ));
        let mut value = HeaderValue::from_str(&encoded).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("uri", &self.uri())
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `host[:port]`, with IPv6 in brackets; `None` for a bad port.
fn split_host_port(host_port: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(end) => {
                let after = &host_port[end + 1..];
                (&host_port[..=end], after.strip_prefix(':'))
            }
            None => return None,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some("") => Some((host, None)),
        Some(port) => port.parse::<u16>().ok().map(|p| (host, Some(p))),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The hosts that bypass the proxy, read as curl reads `NO_PROXY`.
///
/// ```
/// use lime_core::proxy::NoProxy;
/// let list = NoProxy::parse("localhost, 127.0.0.1, .corp.example, 10.0.0.0/8, [::1]");
/// assert!(list.matches("localhost"));
/// assert!(list.matches("api.corp.example"));
/// assert!(list.matches("corp.example"));
/// assert!(list.matches("10.20.30.40"));
/// assert!(list.matches("[::1]"));
/// assert!(!list.matches("lime.pics"));
/// assert!(!list.matches("notcorp.example"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyEntry {
    /// `*`: every host.
    All,
    /// A name: itself and its subdomains.
    Domain(String),
    /// An address, or a block of them.
    Block(ipnet::IpNet),
}

impl NoProxy {
    /// Parses a comma-separated list; entries it cannot read are skipped.
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(|entry| {
                if entry == "*" {
                    return Some(NoProxyEntry::All);
                }
                let (address, prefix) = match entry.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (entry, None),
                };
                if let Some(ip) = parse_ip(address) {
                    let prefix = match prefix {
                        None => ipnet::IpNet::from(ip).max_prefix_len(),
                        Some(p) => p.parse().ok()?,
                    };
                    return ipnet::IpNet::new(ip, prefix).ok().map(NoProxyEntry::Block);
                }
                if prefix.is_some() {
                    return None;
                }
                let name = entry
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                (!name.is_empty()).then_some(NoProxyEntry::Domain(name))
            })
            .collect();
        NoProxy { entries }
    }

    /// Whether `host` (a name, an IPv4 address, or IPv6 with or without
    /// brackets) bypasses the proxy.
    pub fn matches(&self, host: &str) -> bool {
        let ip = parse_ip(host);
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|entry| match entry {
            NoProxyEntry::All => true,
            NoProxyEntry::Block(block) => ip.is_some_and(|ip| block.contains(&ip)),
            NoProxyEntry::Domain(domain) => {
                ip.is_none()
                    && (name == *domain
                        || name
                            .strip_suffix(domain.as_str())
                            .is_some_and(|head| head.ends_with('.')))
            }
        })
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Where one connection goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyRoute<'a> {
    /// Straight to the target.
    Direct,
    /// Through a CONNECT tunnel opened at this proxy.
    Tunnel(&'a ProxyUrl),
}

/// The proxy rules of an agent: which proxy `https://` targets use, and the
/// hosts that bypass it.
///
/// ```
/// use lime_core::proxy::{ProxyRoute, ProxyRules};
/// let env = |name: &str| match name {
///     "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_owned()),
///     "HTTP_PROXY" => Some("http://never-read:1".to_owned()),
///     "NO_PROXY" => Some("localhost, 127.0.0.1".to_owned()),
///     _ => None,
/// };
/// let rules = ProxyRules::from_env(env)?;
/// assert!(matches!(rules.route(true, "lime.pics"), ProxyRoute::Tunnel(p) if p.host() == "proxy.corp"));
/// assert_eq!(rules.route(true, "127.0.0.1"), ProxyRoute::Direct);
/// assert_eq!(rules.route(false, "lime.pics"), ProxyRoute::Direct); // plain http: never proxied
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRules {
    https: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl ProxyRules {
    /// No proxy for any target.
    pub fn direct() -> Self {
        ProxyRules::default()
    }

    /// The rules the environment gives, read through `lookup` (the process
    /// environment, or a test's table).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when the proxy it gives is not
    /// an `http://` proxy.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|name| {
                lookup(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (*name, v))
            })
        };
        let https = first(&HTTPS_PROXY_VARIABLES)
            .map(|(name, value)| ProxyUrl::parse(&value, name))
            .transpose()?;
        let no_proxy = first(&NO_PROXY_VARIABLES)
            .map(|(_, list)| NoProxy::parse(&list))
            .unwrap_or_default();
        Ok(ProxyRules { https, no_proxy })
    }

    /// This proxy for `https://` targets, except hosts in `no_proxy`.
    ///
    /// # Errors
    /// As [`ProxyUrl::parse`].
    pub fn explicit(url: &str, no_proxy: &str) -> Result<Self, Error> {
        Ok(ProxyRules {
            https: Some(ProxyUrl::parse(url, "https_proxy")?),
            no_proxy: NoProxy::parse(no_proxy),
        })
    }

    /// Where a connection to `host` goes; `https` says whether the target
    /// is `https://` (plain HTTP is never proxied).
    pub fn route(&self, https: bool, host: &str) -> ProxyRoute<'_> {
        match &self.https {
            Some(proxy) if https && !self.no_proxy.matches(host) => ProxyRoute::Tunnel(proxy),
            _ => ProxyRoute::Direct,
        }
    }
}
