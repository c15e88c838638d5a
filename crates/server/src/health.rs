//! `GET /healthz`: whether the server runs, and with which Lightning backend.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// The handler.
pub async fn health(State(state): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "lightning": state.service.lightning_name() })).into_response()
}
