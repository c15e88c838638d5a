//! `GET /healthz`: whether the server runs, and with which Lightning backend.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mesh402_api::Health;

use crate::AppState;

/// The handler.
pub async fn health(State(state): State<AppState>) -> Response {
    Json(Health { status: "ok".into(), lightning: state.service.lightning_name().to_owned() }).into_response()
}
