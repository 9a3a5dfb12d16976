//! Name resolution with overrides, as curl's `--resolve` and reqwest's
//! `resolve`: a host name mapped to an address skips DNS (the port comes
//! from the URL, as in reqwest); TLS still checks the host name.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The system resolver, with some names answered from a table.
#[derive(Clone)]
pub(crate) struct Resolver {
    overrides: Arc<HashMap<String, IpAddr>>,
    system: GaiResolver,
}

impl Resolver {
    pub(crate) fn new(overrides: HashMap<String, IpAddr>) -> Self {
        Resolver {
            overrides: Arc::new(overrides),
            system: GaiResolver::new(),
        }
    }
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.system.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(ip) = self.overrides.get(&name.as_str().to_ascii_lowercase()) {
            // Port 0: the connector puts the URL's port in.
            let addrs = vec![SocketAddr::new(*ip, 0)];
            return Box::pin(async move { Ok(addrs.into_iter()) });
        }
        let lookup = self.system.call(name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = lookup.await?.collect();
            Ok(addrs.into_iter())
        })
    }
}
