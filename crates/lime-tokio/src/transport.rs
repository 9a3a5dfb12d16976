//! HTTP over hyper 1 + rustls: one attempt, bounded in time and size.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::{Client, ResponseFuture};

use crate::proxy::ProxyConnector;
use crate::resolve::{Check, Resolver};
use hyper_util::rt::TokioExecutor;
use lime_core::{
    drive::{HttpRequest, HttpResponse, Transmit, TransportError, TransportErrorKind},
    proxy::ProxyRules,
};

/// The body type of every request the agent sends: what an injected
/// hyper-util client must be built for (see
/// [`LimeAgentBuilder::http_client`](crate::LimeAgentBuilder::http_client)).
#[cfg_attr(not(feature = "custom-client"), allow(unreachable_pub))]
pub type RequestBody = Full<Bytes>;

/// What an attempt needs of a client: hyper-util's pooled client, over the
/// built-in connector or one the user configured.
pub(crate) trait SendRequest: Send + Sync {
    fn send_request(&self, request: http::Request<RequestBody>) -> ResponseFuture;
}

impl<C> SendRequest for Client<C, RequestBody>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn send_request(&self, request: http::Request<RequestBody>) -> ResponseFuture {
        self.request(request)
    }
}

/// The pooled client every clone of an agent shares.
pub(crate) type HyperClient = Arc<dyn SendRequest>;

/// A client over `tls`: HTTP/1.1, keep-alive pool, no redirects (hyper never
/// follows them), HTTPS through `proxy` when it names one for the host;
/// direct connections only to the addresses `check` lets through.
pub(crate) fn client(
    tls: rustls::ClientConfig,
    proxy: ProxyRules,
    resolver: &Resolver,
    check: Check,
) -> HyperClient {
    let connector = ProxyConnector::new(resolver.checking(check), resolver.clone(), proxy);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Arc::new(Client::builder(TokioExecutor::new()).build(https))
}

/// A client for LIME's API alone (a site, a token verifier): `config`'s
/// TLS and proxy, the API's address rule ([`Check::api`]).
pub(crate) fn api_client(
    config: &lime_core::Config,
    resolver: &Resolver,
) -> Result<HyperClient, lime_core::Error> {
    let tls = lime_tls::client_config(config)?;
    let proxy = config.proxy_rules().clone();
    Ok(client(tls, proxy, resolver, Check::api(config)))
}

/// Performs one attempt: connect, headers and the whole body before
/// `transmit.deadline`, the body refused once it passes `max_body` bytes.
pub(crate) async fn send(
    client: &HyperClient,
    transmit: Transmit,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    let deadline = tokio::time::Instant::from_std(transmit.deadline);
    match tokio::time::timeout_at(deadline, exchange(client, transmit.request, max_body)).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::new(
            TransportErrorKind::Timeout,
            "no complete response before the attempt's deadline",
        )),
    }
}

async fn exchange(
    client: &HyperClient,
    request: HttpRequest,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let response = client.send_request(request).await.map_err(classify)?;
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| TransportError::new(TransportErrorKind::ConnectionLost, e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max_body {
                return Err(TransportError::new(
                    TransportErrorKind::BodyTooLarge,
                    format!("the response body passed the {max_body}-byte limit"),
                ));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(http::Response::from_parts(parts, bytes))
}

/// The error lime's own resolver or connector raised (an address refused,
/// a pin a proxy would ignore), when that is why the request failed.
#[cfg(feature = "mcp")]
pub(crate) fn lime_error_in(error: &hyper_util::client::legacy::Error) -> Option<lime_core::Error> {
    lime_core::drive::find_in_chain::<lime_core::Error>(error).cloned()
}

/// A hyper-util error as a transport error kind: TLS failures are not
/// retried (and say how to trust a CA when that is the cause), failed
/// connects are retried and known to be unsent. The error stays as the
/// `source()`.
pub(crate) fn classify(error: hyper_util::client::legacy::Error) -> TransportError {
    if let Some(tls) = lime_tls::tls_failure(&error) {
        return tls.with_source(error);
    }
    // The chain's innermost message names the cause (refused, reset...).
    let mut message = error.to_string();
    let mut resolve_failed = false;
    let mut inner = std::error::Error::source(&error);
    while let Some(e) = inner {
        message = e.to_string();
        // hyper-util's connector names a failed lookup "dns error".
        resolve_failed |= message == "dns error";
        inner = e.source();
    }
    let kind = if error.is_connect() && resolve_failed {
        TransportErrorKind::Dns
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::ConnectionLost
    };
    TransportError::new(kind, message).with_source(error)
}
