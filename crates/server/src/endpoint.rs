//! `POST /api/l402/3d-model` (alias `POST /api/l402/generate-3d-model`): the body becomes a request, the gate
//! lets a paid credential through or answers 402, the service redeems the credential into a job, and the
//! response waits for the job (see `job_status.rs`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use mesh402_service::RedeemError;

use crate::AppState;
use crate::error::ApiError;
use crate::gate::{L402Credential, challenge};
use crate::request::parse_model_request;

/// A 402 challenge without a valid credential; the model with one.
pub async fn create_model(
    State(state): State<AppState>,
    L402Credential(credential): L402Credential,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("The request body is larger than the {} byte limit.", state.max_body_bytes),
            )
        } else {
            ApiError::bad_request("body_unreadable", "The request body could not be read.")
        }
    })?;
    check_content_type(&headers)?;
    let request = Arc::new(parse_model_request(&body)?);
    drop(body);

    // A valid credential is bound to content that passed the preflight when it was quoted, so paid requests
    // (and their replays) skip it; everything that leads to a challenge runs it first.
    let Some(credential) = credential else {
        return challenge(&state, &request).await;
    };
    match state.service.redeem(&request, &credential).await {
        Ok(view) => crate::job_status::respond_after_wait(&state, view, &headers).await,
        Err(RedeemError::Rejected(reason)) => {
            tracing::info!(reason = reason.code(), "credential rejected; sending a fresh challenge");
            challenge(&state, &request).await
        }
        Err(RedeemError::Service(error)) => Err(error.into()),
        Err(error) => {
            tracing::error!(error = %error, "redeem failed");
            Err(ApiError::internal())
        }
    }
}

/// JSON bodies only; a missing Content-Type is tolerated (curl without -H still works).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let is_json = value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "Send the request as JSON with Content-Type: application/json.",
        ))
    }
}
