//! Prometheus metrics (contract §9): the process's one recorder, request latency by route and status, and the
//! metrics listener that serves `/metrics` in the text exposition format.
//!
//! The listener is separate from the public one and off unless `metrics_listen` is set: metrics tell revenue and
//! load, which are the operator's business. The application core's metrics are declared in
//! `mesh402_service::metrics`; this module adds the HTTP ones and the job counts read from the store at each scrape.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::error::ApiError;

/// Requests answered, by `route` (the route's pattern), `method` and `status`.
const HTTP_REQUESTS: &str = "mesh402_http_requests_total";
/// Seconds until a response's headers were ready, by `route`, `method` and `status`.
const HTTP_SECONDS: &str = "mesh402_http_request_duration_seconds";

/// Histogram buckets in seconds: from a cached challenge (milliseconds) to a long generation (minutes).
const BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The process's recorder, installed on first use. A process has one global recorder; every server in it (tests
/// start several) shares it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics shows only what it records");
        }
        mesh402_service::metrics::describe();
        describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route, method and status.");
        describe_histogram!(HTTP_SECONDS, Unit::Seconds, "Time until the response's headers, by route and status.");
        handle
    })
}

/// Middleware: counts and times every request under its route's pattern (never its path, which holds ids).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_SECONDS, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).fallback(crate::error::not_found).with_state(state)
}

/// `GET /metrics`: the job counts are read from the store, then everything is rendered.
async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let counts = state.service.job_counts().await.map_err(ApiError::from)?;
    mesh402_service::metrics::set_job_counts(&counts);
    let mut response = handle().render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(response)
}
