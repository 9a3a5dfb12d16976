//! The network loop: accepting connections (capped), TLS with a handshake
//! timeout, HTTP/1.1 with a header-read timer, and the expiry tick.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::dispatch::{handle, redirect_sink};
use crate::shared::Shared;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The LIME API.
    Api,
    /// The redirect target, counting what reaches it.
    RedirectSink,
    /// The MCP server.
    Mcp,
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    kind: Listener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Small answers go out at once, not after a delayed ACK.
        let _ = stream.set_nodelay(true);
        // Over the cap: closed at once, never queued.
        let budget = match kind {
            Listener::Mcp => &shared.mcp_connections,
            Listener::Api | Listener::RedirectSink => &shared.connections,
        };
        let Ok(permit) = budget.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let handshake = shared.settings.client_timeout;
            match tls {
                // A failed or slow handshake only ends that connection.
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(stream)).await
                    {
                        serve(TokioIo::new(stream), shared, shutdown, kind).await;
                    }
                }
                None => serve(TokioIo::new(stream), shared, shutdown, kind).await,
            }
        });
    }
}

/// Serves one connection until it ends or the emulator shuts down.
async fn serve<IO>(io: IO, shared: Arc<Shared>, shutdown: watch::Receiver<bool>, kind: Listener)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    if kind == Listener::Mcp {
        return serve_mcp(io, shared, shutdown).await;
    }
    let sink = kind == Listener::RedirectSink;
    serve_api(io, shared, shutdown, sink).await;
}

/// One MCP connection: the endpoint checks tokens and faults, then rmcp answers.
async fn serve_mcp<IO>(io: IO, shared: Arc<Shared>, shutdown: watch::Receiver<bool>)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let Some((endpoint, _)) = shared.mcp.clone() else {
        return;
    };
    let service = service_fn(move |request| {
        let endpoint = endpoint.clone();
        async move { endpoint.handle(request).await }
    });
    serve_http1(io, service, shared.settings.client_timeout, shutdown).await;
}

async fn serve_api<IO>(io: IO, shared: Arc<Shared>, shutdown: watch::Receiver<bool>, sink: bool)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let header_timeout = shared.settings.client_timeout;
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move {
            if sink {
                Ok(redirect_sink(&shared, &request))
            } else {
                handle(shared, request).await
            }
        }
    });
    serve_http1(io, service, header_timeout, shutdown).await;
}

/// HTTP/1.1 with keep-alive and the header-read timer, until the
/// connection ends or the emulator shuts down: every listener's loop.
async fn serve_http1<IO, S, B>(
    io: IO,
    service: S,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, service);
    tokio::select! {
        _ = connection => {}
        _ = shutdown.changed() => {}
    }
}

pub(crate) async fn expiry_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let every = (shared.settings.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => shared.store().expire_due(shared.now()),
            _ = shutdown.changed() => return,
        }
    }
}
