//! A paid request's job, over HTTP: waiting (the default), `202 Accepted` for asynchronous clients (RFC 7240
//! `Prefer`), the status URL `GET /api/l402/jobs/{job_id}` and its server-sent event stream. Status and events are
//! read with the credential that paid for the job.
//!
//! JSON fields are snake_case; `modelUrl` keeps the seed API's spelling (contract §1), the one exception.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use mesh402_api::{ErrorCode, ErrorDetail, EventsEnd, EventsTimeout, JobStatus};
use mesh402_core::{JobState, PREVIEW_FILE_NAME};
use mesh402_service::JobView;
use mesh402_store::JobId;

use crate::AppState;
use crate::downloads::model_url;
use crate::error::ApiError;
use crate::gate::RequestCredential;
use crate::refund::refund_status;
use mesh402_service::Credential;

/// How often asynchronous clients are told to poll.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the client asked for in its `Prefer` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preference {
    /// `respond-async`: answer `202` at once.
    pub respond_async: bool,
    /// `wait=N`: wait at most N seconds.
    pub wait: Option<Duration>,
}

/// Reads RFC 7240 preferences from every `Prefer` header (comma-separated, case-insensitive names; unknown ones
/// are ignored as the RFC says).
pub fn preference(headers: &HeaderMap) -> Preference {
    let mut preference = Preference::default();
    for value in headers.get_all("prefer").iter().filter_map(|value| value.to_str().ok()) {
        for item in value.split(',') {
            let token = item.split(';').next().unwrap_or("").trim();
            let (name, argument) = match token.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (token, None),
            };
            if name.eq_ignore_ascii_case("respond-async") {
                preference.respond_async = true;
            } else if name.eq_ignore_ascii_case("wait")
                && let Some(seconds) = argument.and_then(|argument| argument.parse::<u64>().ok())
            {
                preference.wait = Some(Duration::from_secs(seconds));
            }
        }
    }
    preference
}

/// After a credential was redeemed: wait as long as the client and the server allow, then answer with the model,
/// the failure, or `202` and where to look.
pub async fn respond_after_wait(state: &AppState, view: JobView, headers: &HeaderMap) -> Result<Response, ApiError> {
    let preference = preference(headers);
    let wait = if preference.respond_async {
        Duration::ZERO
    } else {
        preference.wait.map_or(state.max_wait, |wait| wait.min(state.max_wait))
    };
    let view = if view.is_finished() || wait.is_zero() { view } else { state.service.wait(&view.job_id, wait).await? };
    if view.is_finished() {
        return Ok(finished_response(state, &view));
    }
    let status_url = status_url(state, &view.job_id);
    let body = JobStatus {
        status_url: Some(status_url.clone()),
        events_url: Some(format!("{status_url}/events")),
        poll_interval_ms: Some(POLL_INTERVAL.as_millis() as u64),
        ..status_body(state, &view)
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::LOCATION, HeaderValue::from_str(&status_url).map_err(|_| ApiError::internal())?);
    response_headers.insert(header::RETRY_AFTER, HeaderValue::from(POLL_INTERVAL.as_secs().max(1)));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if preference.respond_async {
        response_headers.insert("preference-applied", HeaderValue::from_static("respond-async"));
    }
    Ok(response)
}

/// The URL a job's status is read from.
fn status_url(state: &AppState, job_id: &JobId) -> String {
    format!("{}/api/l402/jobs/{job_id}", state.public_url)
}

/// The body describing a job: its state and, when done, the model; when failed, the error.
fn status_body(state: &AppState, view: &JobView) -> JobStatus {
    let output = view.output.as_ref();
    JobStatus {
        job_id: Some(view.job_id.to_string()),
        state: Some(view.state),
        stage: view.stage,
        progress: Some(view.progress),
        attempts: Some(view.attempts),
        model_url: output.map(|output| model_url(&state.public_url, &output.model_id, output.format.file_name())),
        format: output.map(|output| output.format),
        media_type: output.map(|output| output.format.media_type().to_owned()),
        bytes: output.map(|output| output.bytes),
        sha256: output.map(|output| output.sha256.clone()),
        faces: output.map(|output| output.n_faces),
        vertices: output.map(|output| output.n_vertices),
        files: output.map(|output| {
            std::iter::once(output.format)
                .chain(output.other_formats.iter().copied())
                .map(|format| (format, model_url(&state.public_url, &output.model_id, format.file_name())))
                .collect()
        }),
        preview_url: output
            .filter(|output| output.preview)
            .map(|output| format!("{}/models/{}/{PREVIEW_FILE_NAME}", state.public_url, output.model_id)),
        refund: view.refund.as_ref().map(|refund| refund_status(state, &view.job_id, refund)),
        error: failure_error(view).map(|error| ErrorDetail::new(error.code, error.message)),
        ..JobStatus::default()
    }
}

/// The error a job that did not deliver is reported with: failed (retry with the same credential, or claim the
/// refund it offers), or refunded (or being refunded: the credential redeems nothing more).
fn failure_error(view: &JobView) -> Option<ApiError> {
    let refund_sats = view.refund.as_ref().map(|refund| refund.amount().sats());
    match view.state {
        JobState::Failed => {
            let failure = view.failure.as_ref()?;
            let code = if failure.server_fault { ErrorCode::GenerationFailed } else { ErrorCode::GenerationRejected };
            let refund = refund_sats.map_or_else(String::new, |sats| {
                format!(", or claim a refund of {sats} sats at refund.claim_url with it and an invoice for that amount")
            });
            let message = format!(
                "{} Your payment is still good: send the same request with the same credential to try again{refund}.",
                failure.message
            );
            Some(ApiError::new(code, message).retry_after(5))
        }
        JobState::Refunding => Some(ApiError::new(
            ErrorCode::RefundPending,
            "A refund of this payment is being paid (see refund); the credential redeems nothing more.",
        )),
        JobState::Refunded => Some(ApiError::new(
            ErrorCode::PaymentRefunded,
            "This payment was refunded (see refund); the credential redeems nothing more. Pay a new invoice to try \
             again.",
        )),
        JobState::Queued | JobState::Running | JobState::Succeeded => None,
    }
}

/// `200` with the model, or the failure as a JSON error.
fn finished_response(state: &AppState, view: &JobView) -> Response {
    if let Some(mut error) = failure_error(view) {
        let status_url = status_url(state, &view.job_id);
        if let Some(refund) = &view.refund {
            let refund = serde_json::to_value(refund_status(state, &view.job_id, refund)).unwrap_or_default();
            error = error.detail("refund", refund);
        }
        return error.detail("job_id", view.job_id.to_string()).detail("status_url", status_url).into_response();
    }
    let mut response = (StatusCode::OK, Json(status_body(state, view))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The job, if the request's credential paid for it; otherwise a 404 that does not tell whether the job exists.
async fn authorized_job(
    state: &AppState,
    job_id: &str,
    credential: Option<&Credential>,
) -> Result<(JobId, JobView), ApiError> {
    let not_found = || ApiError::new(ErrorCode::JobNotFound, "No job with this id was paid for by this credential.");
    let job_id: JobId = job_id.parse().map_err(|_| not_found())?;
    let credential = credential.ok_or_else(not_found)?;
    let view = state.service.job_for_credential(&job_id, credential).await?.ok_or_else(not_found)?;
    Ok((job_id, view))
}

/// `GET /api/l402/jobs/{job_id}`: the job's state, progress and, when done, the model.
pub async fn job_status(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    RequestCredential { credential, .. }: RequestCredential,
) -> Result<Response, ApiError> {
    let (_, view) = authorized_job(&state, &job_id, credential.as_ref()).await?;
    let mut response = (StatusCode::OK, Json(status_body(&state, &view))).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !view.is_finished() {
        response_headers.insert(header::RETRY_AFTER, HeaderValue::from(POLL_INTERVAL.as_secs().max(1)));
    }
    Ok(match &credential {
        Some(credential) => crate::gate::with_receipt(response, credential),
        None => response,
    })
}

/// How often an event stream sends a keep-alive comment (proxies close connections that look idle).
const EVENTS_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/l402/jobs/{job_id}/events`: server-sent events, one `progress` event per change and a final `done`
/// or `failed` event with the same body as the status URL. Closing the stream does not cancel the job.
///
/// The stream sends a keep-alive comment every 15 s and ends with a `timeout` event (`{"reason": "idle" |
/// "max_duration", "status_url"}`) after `events_idle_timeout_secs` without news or `events_max_secs` in all;
/// the client reconnects or polls the status URL.
pub async fn job_events(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    RequestCredential { credential, .. }: RequestCredential,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (job_id, first) = authorized_job(&state, &job_id, credential.as_ref()).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(16);
    let idle = state.limits.settings.events_idle_timeout;
    let ends_at = tokio::time::Instant::now() + state.limits.settings.events_max;
    let status_url = status_url(&state, &job_id);
    tokio::spawn(async move {
        // Ends as soon as the stream is gone, even while the job makes no progress.
        let closed = sender.clone();
        tokio::select! {
            () = send_events(&state, job_id, first, sender) => {}
            () = closed.closed() => {}
        }
    });
    let stream =
        futures_util::stream::unfold(Some((receiver, ends_at.min(tokio::time::Instant::now() + idle))), move |open| {
            let status_url = status_url.clone();
            async move {
                let (mut receiver, deadline) = open?;
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(event)) => {
                        let next = ends_at.min(tokio::time::Instant::now() + idle);
                        Some((Ok(event), Some((receiver, next))))
                    }
                    Ok(None) => None,
                    Err(_) => {
                        let reason = if deadline >= ends_at { EventsEnd::MaxDuration } else { EventsEnd::Idle };
                        let data = EventsTimeout { reason, status_url };
                        let data = serde_json::to_string(&data).unwrap_or_default();
                        let event = Event::default().event("timeout").data(data).retry(POLL_INTERVAL);
                        Some((Ok(event), None))
                    }
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(EVENTS_KEEP_ALIVE)))
}

/// Sends the job's events until it is finished or nobody listens.
async fn send_events(state: &AppState, job_id: JobId, first: JobView, sender: tokio::sync::mpsc::Sender<Event>) {
    let to_event = |view: &JobView| {
        let name = match view.state {
            JobState::Succeeded => "done",
            JobState::Failed | JobState::Refunding | JobState::Refunded => "failed",
            JobState::Queued | JobState::Running => "progress",
        };
        Event::default().event(name).data(serde_json::to_string(&status_body(state, view)).unwrap_or_default())
    };
    if sender.send(to_event(&first)).await.is_err() || first.is_finished() {
        return;
    }
    let mut last = first;
    loop {
        if let Some(mut updates) = state.service.watch(&job_id) {
            while updates.changed().await.is_ok() {
                let view = updates.borrow_and_update().clone();
                if view == last {
                    continue;
                }
                if sender.send(to_event(&view)).await.is_err() || view.is_finished() {
                    return;
                }
                last = view;
            }
        }
        // Not running here (finished, or owned by another process): read the store.
        let view = match state.service.job(&job_id).await {
            Ok(Some(view)) => view,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%job_id, error = %error, "event stream ends: the job cannot be read");
                return;
            }
        };
        if view != last {
            if sender.send(to_event(&view)).await.is_err() || view.is_finished() {
                return;
            }
            last = view;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn preferences_follow_rfc_7240() {
        assert_eq!(preference(&headers(&[])), Preference::default());
        assert!(preference(&headers(&["respond-async"])).respond_async);
        assert!(preference(&headers(&["Respond-Async; foo=bar"])).respond_async);
        let both = preference(&headers(&["handling=lenient, wait=15", "respond-async"]));
        assert_eq!(both, Preference { respond_async: true, wait: Some(Duration::from_secs(15)) });
        assert_eq!(preference(&headers(&["wait=\"7\""])).wait, Some(Duration::from_secs(7)));
        assert_eq!(preference(&headers(&["wait=soon"])).wait, None);
    }
}
