//! HTTPS through a proxy: a CONNECT tunnel (the proxy sees only encrypted
//! bytes), chosen per destination by lime-core's [`ProxyRules`], the same
//! decision the blocking adapter makes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioIo;
use lime_core::proxy::{ProxyRoute, ProxyRules};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::resolve::Resolver;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects directly, or through a CONNECT tunnel when the rules name a
/// proxy for an `https://` destination. Plain `http://` always connects
/// directly: the rules never proxy it. Direct connections go through the
/// client's checking resolver; a tunnel reaches the proxy by its own name
/// (the proxy resolves the destination, so only name rules apply there).
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    direct: HttpConnector<Resolver>,
    to_proxy: HttpConnector<Resolver>,
    resolver: Resolver,
    rules: Arc<ProxyRules>,
}

impl ProxyConnector {
    /// `resolver` answers direct connections; `unchecked` finds the proxy.
    pub(crate) fn new(resolver: Resolver, unchecked: Resolver, rules: ProxyRules) -> Self {
        ProxyConnector {
            direct: connector(resolver.clone()),
            to_proxy: connector(unchecked),
            resolver,
            rules: Arc::new(rules),
        }
    }
}

fn connector(resolver: Resolver) -> HttpConnector<Resolver> {
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    http
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let https = dst.scheme_str() == Some("https");
        let host = dst.host().unwrap_or_default().to_owned();
        let tunnel = match self.rules.route(https, &host) {
            ProxyRoute::Direct => None,
            ProxyRoute::Tunnel(proxy) => {
                Some((proxy.uri(), proxy.host().to_owned(), proxy.basic_auth()))
            }
        };
        let pinned = tunnel.is_some() && self.resolver.overrides(&host);
        let (mut direct, to_proxy) = (self.direct.clone(), self.to_proxy.clone());
        Box::pin(async move {
            if pinned {
                // The proxy would resolve the name itself: never ignore a pin.
                return Err(lime_core::Error::config(format!(
                    "a resolve entry pins {host}, but the proxy resolves names it tunnels to;                      exempt {host} with no_proxy, or drop the entry"
                ))
                .into());
            }
            match tunnel {
                Some((uri, host, auth)) => {
                    let uri: Uri = uri.parse()?;
                    let mut tunnel = Tunnel::new(uri, to_proxy);
                    if let Some(auth) = auth {
                        tunnel = tunnel.with_auth(auth);
                    }
                    tracing::debug!(target: "lime", proxy = %host, "connecting through a CONNECT tunnel");
                    tunnel.call(dst).await.map_err(Into::into)
                }
                None => direct.call(dst).await.map_err(Into::into),
            }
        })
    }
}
