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
/// directly: the rules never proxy it.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    direct: HttpConnector<Resolver>,
    rules: Arc<ProxyRules>,
}

impl ProxyConnector {
    pub(crate) fn new(direct: HttpConnector<Resolver>, rules: ProxyRules) -> Self {
        ProxyConnector {
            direct,
            rules: Arc::new(rules),
        }
    }
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
        let tunnel = match self.rules.route(https, dst.host().unwrap_or_default()) {
            ProxyRoute::Direct => None,
            ProxyRoute::Tunnel(proxy) => {
                Some((proxy.uri(), proxy.host().to_owned(), proxy.basic_auth()))
            }
        };
        let mut direct = self.direct.clone();
        Box::pin(async move {
            match tunnel {
                Some((uri, host, auth)) => {
                    let uri: Uri = uri.parse()?;
                    let mut tunnel = Tunnel::new(uri, direct);
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
