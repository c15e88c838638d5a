//! Running the server: bind, resume unfinished jobs, sweep past retention every hour, and shut down gracefully.

use std::future::Future;

use crate::{Config, StartError};

/// How long open requests and running jobs get to finish after a shutdown signal. Whatever is still unfinished
/// then is in the store and resumes at the next start.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// How often the retention sweeper runs.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Binds, resumes unfinished jobs, starts the retention sweeper and serves until `shutdown` resolves; then stops
/// accepting and gives open requests and running jobs [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    let state = crate::build(&config, public_url.clone()).await?;
    let service = state.service.clone();
    let resumed = service.resume_unfinished().await.map_err(StartError::Resume)?;
    tracing::info!(address = %bound, %public_url, resumed, "mesh402 listening");
    // A line on stdout that scripts (and the end-to-end tests) can wait for.
    println!("mesh402 listening on http://{bound} (resumed {resumed} unfinished jobs)");

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
    let (stopping_sender, mut stopping) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, crate::router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_sender.send(true);
    });
    let result = tokio::select! {
        result = std::future::IntoFuture::into_future(server) => {
            result.map_err(|source| StartError::Bind { addr: bound, source })
        }
        () = async {
            let _ = stopping.changed().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("grace period over; closing the requests still open");
            Ok(())
        }
    };
    sweeper.abort();
    let still_running = service.drain(std::time::Duration::from_secs(5)).await;
    if still_running > 0 {
        tracing::info!(still_running, "jobs left unfinished; they resume at the next start");
    }
    result
}
