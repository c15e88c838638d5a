//! `POST /dev/pay`: the development wallet pays one of its own invoices and returns the preimage. The route
//! exists only while the development wallet is the backend.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

/// Body of `POST /dev/pay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    invoice: String,
}

/// The handler.
pub async fn dev_pay(
    State(state): State<AppState>,
    body: Result<Json<PayRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(pay) = body.map_err(|rejection| {
        ApiError::bad_request("invalid_json", format!("Send {{\"invoice\": \"lnbcrt…\"}} ({rejection})."))
    })?;
    let wallet = state.dev_wallet.clone().ok_or_else(ApiError::not_found)?;
    let now = mesh402_service::unix_now();
    let paid =
        tokio::task::spawn_blocking(move || wallet.pay(&pay.invoice, now)).await.map_err(|_| ApiError::internal())?;
    match paid {
        Ok(preimage) => Ok(Json(json!({
            "preimage": preimage.to_hex(),
            "payment_hash": preimage.hash().to_string(),
        }))
        .into_response()),
        Err(error) => {
            let status = match error {
                mesh402_ln::PayError::AlreadyPaid => StatusCode::CONFLICT,
                mesh402_ln::PayError::Expired => StatusCode::GONE,
                mesh402_ln::PayError::Ledger(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::new(status, error.code(), format!("{}{}", capitalize(&error.to_string()), ".")))
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
