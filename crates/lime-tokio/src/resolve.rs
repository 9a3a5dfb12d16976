//! Name resolution with overrides (as curl's `--resolve` and reqwest's
//! `resolve`: a name mapped to an address skips DNS; TLS still checks the
//! name) and with the address rules applied to what was resolved, so the
//! connector connects only to addresses that were checked (no second
//! lookup, so DNS rebinding gains nothing):
//! - MCP connections: globally reachable addresses or allowed ranges, names
//!   pinned by an override exempt ([`AddressPolicy`]);
//! - the API, when it is plain `http://` only because its host is loopback:
//!   loopback addresses, overrides included (else the agent token would
//!   leave the host in cleartext without the opt-in).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
#[cfg(feature = "mcp")]
use lime_core::mcp::AddressPolicy;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// A resolver of your own for
/// [`LimeAgentBuilder::dns_resolver`](crate::LimeAgentBuilder::dns_resolver):
/// the addresses a host name has. lime applies its address rules to what
/// it returns and connects only to those addresses.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal).
    fn resolve(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

impl<F, Fut> Resolve for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static,
{
    fn resolve(&self, host: &str) -> Lookup {
        Box::pin(self(host.to_owned()))
    }
}

/// The operating system's resolver (`getaddrinfo` on the blocking pool).
struct System(GaiResolver);

impl Resolve for System {
    fn resolve(&self, host: &str) -> Lookup {
        let mut gai = self.0.clone();
        let name = host.parse::<Name>();
        Box::pin(async move {
            let name = name.map_err(io::Error::other)?;
            let addrs = gai.call(name).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Which addresses a client may connect to.
#[derive(Clone, Debug)]
pub(crate) enum Check {
    /// Any (a proxy's own name; an HTTPS API).
    Any,
    /// The plain-HTTP API on a loopback name: `host` only to loopback.
    LoopbackOnly { host: String },
    /// MCP servers.
    #[cfg(feature = "mcp")]
    Mcp(AddressPolicy),
}

impl Check {
    /// The API's rule: any address over HTTPS or with `allow_http`; a
    /// plain-HTTP API (allowed only because its host is loopback) only on
    /// loopback.
    pub(crate) fn api(config: &lime_core::Config) -> Check {
        let base = config.base_url();
        if base.is_https() || config.allow_http() {
            Check::Any
        } else {
            Check::LoopbackOnly {
                host: base.host().to_ascii_lowercase(),
            }
        }
    }
}

/// The resolver every client of an agent uses, with its client's check.
#[derive(Clone)]
pub(crate) struct Resolver {
    overrides: Arc<HashMap<String, IpAddr>>,
    lookup: Arc<dyn Resolve>,
    check: Arc<Check>,
}

impl Resolver {
    /// The pins of [`RESOLVE_ENV`], then `pins` (which win), before
    /// `injected` or the system's DNS.
    pub(crate) fn pinned(
        pins: HashMap<String, IpAddr>,
        injected: Option<Arc<dyn Resolve>>,
    ) -> Result<Self, lime_core::Error> {
        let mut all = parse_pins(&std::env::var(RESOLVE_ENV).unwrap_or_default())?;
        all.extend(pins);
        Ok(Resolver::new(all, injected))
    }

    pub(crate) fn new(
        overrides: HashMap<String, IpAddr>,
        injected: Option<Arc<dyn Resolve>>,
    ) -> Self {
        Resolver {
            overrides: Arc::new(overrides),
            lookup: injected.unwrap_or_else(|| Arc::new(System(GaiResolver::new()))),
            check: Arc::new(Check::Any),
        }
    }

    /// The same resolver with `check` applied to its answers.
    pub(crate) fn checking(&self, check: Check) -> Self {
        Resolver {
            check: Arc::new(check),
            ..self.clone()
        }
    }

    /// Whether `host` has an override.
    pub(crate) fn overrides(&self, host: &str) -> bool {
        self.overrides.contains_key(&host.to_ascii_lowercase())
    }

    /// `host`'s addresses that pass the check, or why none does.
    async fn addresses(
        host: String,
        pinned: Option<IpAddr>,
        lookup: Arc<dyn Resolve>,
        check: Arc<Check>,
    ) -> Result<Vec<IpAddr>, BoxError> {
        let found = match pinned {
            Some(ip) => vec![ip],
            None => lookup.resolve(&host).await?,
        };
        match &*check {
            Check::Any => Ok(found),
            Check::LoopbackOnly { host: api } if *api == host => {
                match found.iter().find(|ip| !ip.is_loopback()) {
                    Some(ip) => Err(Box::new(lime_core::Error::config(format!(
                        "{host} resolved to {ip}, which is not loopback: the plain-http API \
                         would carry the agent token off this host unencrypted; use https:// \
                         or opt in with allow_http"
                    )))),
                    None => Ok(found),
                }
            }
            Check::LoopbackOnly { .. } => Ok(found),
            #[cfg(feature = "mcp")]
            Check::Mcp(_) if pinned.is_some() => Ok(found),
            #[cfg(feature = "mcp")]
            Check::Mcp(policy) => {
                // Every address must pass: hyper-util tries them in turn,
                // and a refused one must never be the fallback.
                for ip in &found {
                    policy.check(&host, *ip).map_err(lime_core::Error::from)?;
                }
                Ok(found)
            }
        }
    }
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_ascii_lowercase();
        let pinned = self.overrides.get(&host).copied();
        let (lookup, check) = (Arc::clone(&self.lookup), Arc::clone(&self.check));
        Box::pin(async move {
            let found = Self::addresses(host, pinned, lookup, check).await?;
            // Port 0: the connector puts the URL's port in.
            let addrs: Vec<SocketAddr> =
                found.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(all(test, feature = "mcp"))]
mod tests {
    use super::*;

    /// A resolver answering every name with `ips` (no socket is involved:
    /// the check runs on the answer alone).
    fn answering(ips: &'static [&'static str], check: Check) -> Resolver {
        let lookup = move |_host: String| async move {
            Ok(ips.iter().map(|ip| ip.parse().unwrap()).collect())
        };
        Resolver::new(HashMap::new(), Some(Arc::new(lookup))).checking(check)
    }

    async fn resolve(resolver: &mut Resolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        resolver
            .call(host.parse().unwrap())
            .await
            .map(Iterator::collect)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn an_mcp_name_resolving_to_any_special_address_is_refused_naming_its_range() {
        let cases: [(&'static [&'static str], &str); 8] = [
            (&["127.0.0.1"], "loopback"),
            (&["10.1.2.3"], "private-use"),
            (&["100.64.1.1"], "CGNAT"),
            (&["169.254.169.254"], "link-local"),
            (&["::ffff:192.168.0.1"], "private-use"),
            (&["fd00::1"], "unique-local"),
            (&["64:ff9b::a00:1"], "NAT64"),
            // One bad address among good ones is enough to refuse.
            (&["93.184.215.14", "10.0.0.1"], "private-use"),
        ];
        for (ips, range) in cases {
            let mut resolver = answering(ips, Check::Mcp(AddressPolicy::default()));
            let error = resolve(&mut resolver, "mcp.example.com").await.unwrap_err();
            assert!(
                error.contains(range) && error.contains("mcp.example.com"),
                "{ips:?}: {error}"
            );
        }
        let mut public = answering(&["93.184.215.14"], Check::Mcp(AddressPolicy::default()));
        assert_eq!(
            resolve(&mut public, "mcp.example.com").await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn a_pinned_name_and_an_allowed_range_pass() {
        let policy = AddressPolicy::new(&["10.0.0.0/8".parse().unwrap()]);
        let mut allowed = answering(&["10.1.2.3"], Check::Mcp(policy));
        assert!(resolve(&mut allowed, "mcp.corp.example").await.is_ok());
        let pinned = HashMap::from([("mcp.lime.test".to_owned(), "127.0.0.1".parse().unwrap())]);
        let mut resolver =
            Resolver::new(pinned, None).checking(Check::Mcp(AddressPolicy::default()));
        let addrs = resolve(&mut resolver, "mcp.lime.test").await.unwrap();
        assert_eq!(addrs[0].ip().to_string(), "127.0.0.1");
    }

    #[tokio::test]
    async fn the_plain_http_api_host_must_resolve_to_loopback() {
        let check = Check::LoopbackOnly {
            host: "localhost".into(),
        };
        let mut off_host = answering(&["192.0.2.10"], check.clone());
        let error = resolve(&mut off_host, "localhost").await.unwrap_err();
        assert!(
            error.contains("not loopback") && error.contains("allow_http"),
            "{error}"
        );
        let mut local = answering(&["127.0.0.1", "::1"], check);
        assert!(resolve(&mut local, "localhost").await.is_ok());
    }
}

/// The environment variable of host pins: `host=addr[,host=addr…]`, each
/// as [`LimeAgentBuilder::resolve`](crate::LimeAgentBuilder::resolve) (an IP
/// address, no port: the port comes from the URL). For tests and scripts
/// that point an unchanged program at a local server.
pub const RESOLVE_ENV: &str = "LIME_RESOLVE";

fn parse_pins(text: &str) -> Result<HashMap<String, IpAddr>, lime_core::Error> {
    let mut pins = HashMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let refused = || {
            lime_core::Error::config(format!(
                "{RESOLVE_ENV}: {entry:?} is not host=address (such as mcp.example.com=127.0.0.1)"
            ))
        };
        let (host, addr) = entry.split_once('=').ok_or_else(refused)?;
        let addr = addr.trim().trim_matches(|c| c == '[' || c == ']');
        let host = host.trim();
        if host.is_empty() || host.contains(['/', ':', ' ']) {
            return Err(refused());
        }
        let ip: IpAddr = addr.parse().map_err(|_| refused())?;
        pins.insert(host.to_ascii_lowercase(), ip);
    }
    Ok(pins)
}

#[cfg(test)]
mod env_pins {
    use super::*;

    #[test]
    fn pins_are_host_equals_address_and_anything_else_is_refused_by_name() {
        let pins = parse_pins(" mcp.example.com=127.0.0.1, Api.Example=[::1] ,").unwrap();
        assert_eq!(pins["mcp.example.com"], IpAddr::from([127, 0, 0, 1]));
        assert_eq!(pins["api.example"], "::1".parse::<IpAddr>().unwrap());
        assert!(parse_pins("").unwrap().is_empty());
        for bad in [
            "mcp.example.com",
            "mcp.example.com=localhost",
            "=1.2.3.4",
            "a:443=1.2.3.4",
        ] {
            let error = parse_pins(bad).unwrap_err().to_string();
            assert!(
                error.contains("LIME_RESOLVE") && error.contains("host=address"),
                "{error}"
            );
        }
    }
}
