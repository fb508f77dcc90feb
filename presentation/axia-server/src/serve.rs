//! [`serve`]: the router on a TCP listener, with the limits a service open to careless or
//! hostile clients needs (hyper's own timer, header limits, a connection cap), and a graceful
//! shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

/// Limits of the connections [`serve`] accepts. Each is documented in docs/OPERATIONS.md
/// ("The server's limits").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may stay idle between requests (default 10 s): a slow-loris client or a
    /// forgotten keep-alive is closed after it.
    pub header_read_timeout: Duration,
    /// Connections open at once at most (default 1,024); one over is closed at once.
    pub max_connections: usize,
    /// The largest request head (request line and headers) hyper reads, bytes (default
    /// 64 KiB; hyper answers 431 over it). The routes refuse smaller ones too, as problem
    /// details: a URI over 8 KiB (414) and headers over 16 KiB or 64 in number (431).
    pub max_head_bytes: usize,
    /// Headers per request hyper parses at most (default 100).
    pub max_headers: usize,
    /// How long a graceful shutdown waits for requests in flight (default 10 s).
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1_024,
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the
/// requests in flight finish (up to [`ServeOptions::shutdown_grace`]) and returns.
///
/// HTTP/1.1 with upgrades (the WebSockets); each request carries the client's address
/// ([`ConnectInfo<SocketAddr>`]). Unlike `axum::serve`, hyper gets a timer, so its header read
/// timeout holds (also between the requests of a kept-alive connection), and connections are
/// capped.
///
/// # Errors
/// Only when the listener's own address cannot be read; accept errors (a full file table) are
/// logged and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_head_bytes.max(8 * 1024))
        .max_headers(options.max_headers)
        .keep_alive(true);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, limit = options.max_connections, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let http = Arc::clone(&http);
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |mut request| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request)
            });
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = async {
                    // The guard it returns is dropped here, before anything else awaits.
                    let _ = stop.wait_for(|s| *s).await;
                } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(listen = %local, open = connections.len(), "stopping: finishing requests in flight");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "requests still in flight after the grace; closing them"
        );
        connections.abort_all();
    }
    Ok(())
}
