//! HTTP over ureq 3: one attempt, bounded in time and size.

use lime_core::{
    drive::{HttpResponse, Transmit, TransportError, TransportErrorKind},
    proxy::ProxyRoute,
};

/// Performs one attempt. Whatever agent was injected, this request follows
/// no redirect, gets statuses as responses, and must complete (connect,
/// headers and body) before `transmit.deadline`.
pub(crate) fn send(
    agent: &ureq::Agent,
    transmit: Transmit,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    let left = transmit
        .deadline
        .saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return Err(TransportError::new(
            TransportErrorKind::Timeout,
            "no time left for the attempt",
        ));
    }
    let request = guarded(agent, transmit).timeout_global(Some(left));
    let response = agent.run(request.build()).map_err(classify)?;
    let (parts, mut body) = response.into_parts();
    let bytes = body
        .with_config()
        .limit(max_body as u64)
        .read_to_vec()
        .map_err(classify)?;
    Ok(http::Response::from_parts(parts, bytes))
}

/// Opens a long-lived stream: connect and headers before
/// `transmit.deadline`, then the body for at most `read_for` (ureq bounds a
/// body as a whole, not per read: a stream is recycled when it ends, which
/// also notices a dead connection within `read_for`).
pub(crate) fn open_stream(
    agent: &ureq::Agent,
    transmit: Transmit,
    read_for: std::time::Duration,
) -> Result<http::Response<ureq::Body>, TransportError> {
    let left = transmit
        .deadline
        .saturating_duration_since(std::time::Instant::now())
        .max(std::time::Duration::from_millis(1));
    let request = guarded(agent, transmit)
        .timeout_global(None)
        .timeout_connect(Some(left))
        .timeout_recv_response(Some(left))
        .timeout_recv_body(Some(read_for));
    agent.run(request.build()).map_err(classify)
}

/// `transmit`'s request on `agent` with what no agent setting may change:
/// no redirect, statuses as responses, and a plain `http://` request never
/// through the agent's proxy (cleartext never reaches one).
fn guarded(
    agent: &ureq::Agent,
    transmit: Transmit,
) -> ureq::config::ConfigBuilder<ureq::typestate::HttpCrateScope<Vec<u8>>> {
    let plain_http = transmit.request.uri().scheme_str() != Some("https");
    let request = agent
        .configure_request(transmit.request)
        .max_redirects(0)
        .http_status_as_error(false);
    if plain_http {
        request.proxy(None)
    } else {
        request
    }
}

/// Reads a whole (bounded) body of a stream's refusal.
pub(crate) fn read_body(body: ureq::Body, max_body: usize) -> Result<Vec<u8>, TransportError> {
    body.into_with_config()
        .limit(max_body as u64)
        .read_to_vec()
        .map_err(classify)
}

/// A ureq error as a transport error kind, with the error as its
/// `source()`. TLS failures say how to trust a CA when that is the cause.
fn classify(error: ureq::Error) -> TransportError {
    use ureq::Error as E;
    // ureq's `source()` does not open its `Io` variant: look inside it.
    let tls = match &error {
        E::Io(io) => lime_tls::tls_failure(io),
        other => lime_tls::tls_failure(other),
    };
    if let Some(tls) = tls {
        return with_cause(tls, error);
    }
    let kind = match &error {
        E::Timeout(_) => TransportErrorKind::Timeout,
        E::HostNotFound => TransportErrorKind::Dns,
        E::ConnectionFailed => TransportErrorKind::Connect,
        // std's resolver (which ureq uses) fails with this message.
        E::Io(io) if io.to_string().contains("failed to lookup address") => TransportErrorKind::Dns,
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportErrorKind::Connect
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
        // A head past the limit is a malformed answer, as hyper's is.
        E::Io(_) | E::Protocol(_) | E::BodyStalled | E::LargeResponseHeader(..) => {
            TransportErrorKind::ConnectionLost
        }
        E::Tls(_) | E::Rustls(_) | E::Pem(_) => TransportErrorKind::Tls,
        E::BodyExceedsLimit(_) => TransportErrorKind::BodyTooLarge,
        _ => TransportErrorKind::Other,
    };
    // ureq prefixes an I/O error with "io: "; the kind says it already.
    let message = match &error {
        E::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    with_cause(TransportError::new(kind, message), error)
}

/// `error` as the cause: an I/O error as itself, without ureq's "io: ".
fn with_cause(failure: TransportError, error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Io(io) => failure.with_source(io),
        other => failure.with_source(other),
    }
}

/// lime-core's route as ureq's proxy setting: `None` for direct, else the
/// HTTP proxy that ureq tunnels HTTPS through with CONNECT.
pub(crate) fn ureq_proxy(route: ProxyRoute<'_>) -> Option<ureq::Proxy> {
    let ProxyRoute::Tunnel(proxy) = route else {
        return None;
    };
    let mut builder = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
        .host(proxy.host())
        .port(proxy.port());
    if let Some(user) = proxy.username() {
        builder = builder.username(user);
    }
    if let Some(password) = proxy.password() {
        builder = builder.password(password);
    }
    // ureq only refuses a proxy without a host, which lime-core never gives.
    builder.build().ok()
}

/// ureq's resolver, except that an IP address is its own answer: ureq asks
/// its resolver on every request, pooled connection or not, and the
/// default one starts a thread to time each lookup out. A loopback or
/// pinned-IP API thus costs no thread per request.
#[derive(Debug, Default)]
pub(crate) struct LiteralsFirst(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralsFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.authority().and_then(|authority| {
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let ip: std::net::IpAddr = host.parse().ok()?;
            let port = authority.port_u16().or(match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })?;
            Some(std::net::SocketAddr::new(ip, port))
        });
        match literal {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}
