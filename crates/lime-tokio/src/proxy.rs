//! HTTPS through a proxy: a CONNECT tunnel (the proxy sees only encrypted
//! bytes), chosen per destination like curl does (`HTTPS_PROXY`, `NO_PROXY`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects directly, or through a CONNECT tunnel when the matcher names a
/// proxy for an `https://` destination. Plain `http://` (loopback only, by
/// the core's rules) always connects directly.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    direct: HttpConnector,
    matcher: Option<Arc<Matcher>>,
}

impl ProxyConnector {
    pub(crate) fn new(direct: HttpConnector, matcher: Option<Matcher>) -> Self {
        ProxyConnector {
            direct,
            matcher: matcher.map(Arc::new),
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
        let proxy = match (&self.matcher, dst.scheme_str()) {
            (Some(matcher), Some("https")) => matcher.intercept(&dst),
            _ => None,
        };
        let mut direct = self.direct.clone();
        Box::pin(async move {
            match proxy {
                Some(intercept) => {
                    let mut tunnel = Tunnel::new(intercept.uri().clone(), direct);
                    if let Some(auth) = intercept.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    tracing::debug!(target: "lime", proxy = %intercept.uri().authority().map(|a| a.host()).unwrap_or(""), "connecting through a CONNECT tunnel");
                    tunnel.call(dst).await.map_err(Into::into)
                }
                None => direct.call(dst).await.map_err(Into::into),
            }
        })
    }
}
