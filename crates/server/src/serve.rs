//! Running the server: bind (and the metrics listener, when set), resume unfinished jobs, sweep past retention
//! every hour, look into claimed refunds whose outcome is unknown every minute, accept connections with their limits ([`serve_app`]), and shut down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::limits::ClientKey;
use crate::{AppState, Config, Role, StartError};

/// How long open requests and running jobs get to finish after a shutdown signal. Whatever is still unfinished
/// then is in the store and resumes at the next start.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// How often the retention sweeper runs.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often refunds whose payment's outcome is unknown are looked into (the first time at start-up).
const REFUND_RESOLVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How many connections the kernel may hold, handshake done, until the server accepts them. Linux caps it at
/// `net.core.somaxconn` (4,096 by default since 5.4), so asking for more takes whatever the machine allows. Tokio's
/// `TcpListener::bind` asks for 1,024: a burst of thousands of clients (10,000 paid requests sent at once) then
/// overflows the queue, the kernel drops their handshakes, and the clients time out after their SYN retries.
const LISTEN_BACKLOG: u32 = 65_535;

/// Binds a listening socket as `TcpListener::bind` does (address reuse on Unix), with [`LISTEN_BACKLOG`].
pub fn bind_listener(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds, resumes unfinished jobs, starts the retention sweeper and serves until `shutdown` resolves; then stops
/// accepting and gives open requests and running jobs [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    if config.role == Role::Worker {
        return work(config, shutdown).await;
    }
    let listener = bind_listener(config.listen).map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    if config.lightning == crate::config::LightningChoice::Dev && !bound.ip().is_loopback() {
        // Allowed only by allow_dev_wallet_on_network (the configuration refuses it otherwise).
        tracing::warn!(
            address = %bound,
            "the development wallet listens on a network address: anyone who reaches it can pay with /dev/pay and \
             take models for free"
        );
    }
    let state = crate::build(&config, public_url.clone()).await?;
    let service = state.service.clone();
    let metrics_server = match config.metrics_listen {
        None => None,
        Some(address) => {
            let listener = bind_listener(address).map_err(|source| StartError::Bind { addr: address, source })?;
            let bound = listener.local_addr().map_err(|source| StartError::Bind { addr: address, source })?;
            println!("mesh402 metrics on http://{bound}/metrics");
            let app = crate::metrics::router(state.clone());
            Some(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(error = %error, "the metrics listener stopped");
                }
            }))
        }
    };
    let resumed = service.resume_unfinished().await.map_err(StartError::Resume)?;
    tracing::info!(address = %bound, %public_url, resumed, "mesh402 listening");
    // A line on stdout that scripts (and the end-to-end tests) can wait for.
    println!("mesh402 listening on http://{bound} (resumed {resumed} unfinished jobs)");

    // Only with a database shared with other processes (role all on PostgreSQL); an API node generates nothing.
    let queue = tokio::spawn({
        let service = service.clone();
        async move { service.work_queue().await }
    });
    let sweeper = tokio::spawn({
        let service = service.clone();
        async move {
            let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
            loop {
                ticks.tick().await;
                if let Err(error) = service.sweep(mesh402_service::unix_now()).await {
                    tracing::warn!(error = %error, "retention sweep failed; retrying at the next interval");
                }
            }
        }
    });
    let refunds = tokio::spawn({
        let service = service.clone();
        async move {
            let mut ticks = tokio::time::interval(REFUND_RESOLVE_INTERVAL);
            loop {
                ticks.tick().await;
                match service.resolve_refunds().await {
                    Ok(report) if report.paid + report.pending > 0 => {
                        tracing::info!(paid = report.paid, pending = report.pending, "claimed refunds looked into");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error, "claimed refunds cannot be read; retrying later"),
                }
            }
        }
    });
    let (stopping_sender, mut stopping) = tokio::sync::watch::channel(false);
    let server = serve_app(listener, state, async move {
        shutdown.await;
        let _ = stopping_sender.send(true);
    });
    let result = tokio::select! {
        result = server => result.map_err(|source| StartError::Bind { addr: bound, source }),
        () = async {
            let _ = stopping.changed().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("grace period over; closing the requests still open");
            Ok(())
        }
    };
    queue.abort();
    sweeper.abort();
    refunds.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    let still_running = service.drain(std::time::Duration::from_secs(5)).await;
    if still_running > 0 {
        tracing::info!(still_running, "jobs left unfinished; they resume at the next start");
    }
    result
}

/// Runs a worker ([`Role::Worker`]): takes jobs from the shared database and generates them until `shutdown`
/// resolves, serving no requests; then lets running jobs finish for [`SHUTDOWN_GRACE`]. What is still unfinished
/// then is taken by another worker once its lease runs out.
pub async fn work(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    // The URLs a worker builds are never shown to a client; the API nodes answer with their own.
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
    let state = crate::build(&config, public_url).await?;
    let service = state.service.clone();
    tracing::info!(workers = config.workers, "mesh402 worker taking jobs");
    println!("mesh402 worker taking jobs ({} at once)", config.workers);
    let queue = tokio::spawn({
        let service = service.clone();
        async move { service.work_queue().await }
    });
    shutdown.await;
    queue.abort();
    let still_running = service.drain(SHUTDOWN_GRACE).await;
    if still_running > 0 {
        tracing::info!(still_running, "jobs left unfinished; another worker takes them when their leases run out");
    }
    Ok(())
}

/// Serves the app's routes on `listener` until `shutdown` resolves, then stops accepting and waits for the open
/// connections to finish their requests. HTTP/1.1 (put TLS and HTTP/2 at a proxy in front). Each connection has
/// `header_read_timeout_secs` to send a request's headers (idle keep-alive connections are closed after as long),
/// and a client (the socket's peer) has at most `max_connections_per_client` open; further ones are closed at
/// once. Behind trusted proxies every connection comes from a proxy, so that cap is not applied then.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let app = crate::router(state);
    let header_read_timeout = limits.settings.header_read_timeout;
    let per_client_cap = limits.settings.trusted_proxy_hops == 0;
    // Dropping `stop` asks every connection to finish; `open.closed()` resolves once they all have.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let (open, _) = tokio::sync::watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait a little rather
                    // than spin.
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = if per_client_cap {
            match limits.connections.open(ClientKey::of(peer.ip())) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(%peer, "connection refused: too many open from this client");
                    continue;
                }
            }
        } else {
            None
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stopped = stopped.clone();
        let open = open.subscribe();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                let app = app.clone();
                async move {
                    Ok::<_, Infallible>(
                        app.oneshot(request.map(Body::new)).await.unwrap_or_else(|never| match never {}),
                    )
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).keep_alive(true);
            let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%peer, error = %error, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stopped.changed(), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop((slot, open));
        });
    }
    drop(listener);
    drop(stop);
    open.closed().await;
    Ok(())
}
