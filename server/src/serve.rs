//! Serving a router over TLS: the accept loop, the one `listening on` line, and the drain on
//! SIGTERM / SIGINT (hyper-util's graceful shutdown: in-flight requests finish, new
//! connections are refused).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::Failure;

/// The bound listener, before serving.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), Failure> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Start(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Start(format!("no local address: {e}")))?;
    Ok((listener, local))
}

/// Serves `app` on `listener` until SIGTERM or SIGINT, then drains for at most 30 s.
pub(crate) async fn serve(
    listener: TcpListener,
    local: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
) -> Result<(), Failure> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Start(format!("signal handler: {e}")))?;
    println!("listening on https://{local}");
    tracing::info!(%local, "listening");
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // A slow or broken TLS handshake costs this task only.
                    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => tls,
                        _ => return,
                    };
                    let service = TowerToHyperService::new(app);
                    let builder = Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(tls), service).into_owned();
                    let _ = watcher.watch(conn).await;
                });
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("draining");
    drop(listener);
    match tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await {
        Ok(()) => tracing::info!("stopped"),
        Err(_) => tracing::warn!("stopped with connections still open after 30 s"),
    }
    Ok(())
}
