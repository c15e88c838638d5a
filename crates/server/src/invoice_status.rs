//! `POST /api/l402/invoice-status`: the holder of a challenge's macaroon asks whether its invoice was paid, and
//! once it is, gets the preimage from the Lightning backend. This is for wallets that pay a QR code and never hand
//! the preimage to the page that shows it.
//!
//! Why it weakens nothing: the macaroon must verify under this server's keyring (signature chain, caveats,
//! expiry, revocation) before the node is asked, and the payment hash looked up is the one inside it, so the
//! answer goes only to whoever was handed the challenge; a payment hash alone (which the invoice shows to anyone
//! who sees it) gets nothing. Forged and foreign macaroons get `404 invoice_not_found` after an HMAC chain, with
//! no call to the node. Lookups of verified macaroons are rate-limited for the whole process (in the service), so
//! the node cannot be flooded through this route. The preimage is never logged.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::{ErrorCode, InvoiceState, InvoiceStatusAnswer, InvoiceStatusRequest};
use mesh402_l402::Macaroon;
use mesh402_service::{InvoiceStatus, InvoiceStatusError};

use crate::AppState;
use crate::error::ApiError;

/// The handler.
pub async fn invoice_status(
    State(state): State<AppState>,
    body: Result<Json<InvoiceStatusRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|rejection| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("Send {{\"macaroon\": \"<the challenge's macaroon, base64>\"}} ({rejection})."),
        )
    })?;
    let not_found = || {
        ApiError::new(
            ErrorCode::InvoiceNotFound,
            "This server issued no such macaroon, or it has expired; ask for a new invoice.",
        )
    };
    let macaroon = Macaroon::from_base64(request.macaroon.trim()).map_err(|_| not_found())?;
    let (payment_hash, status) = match state.service.invoice_status(&macaroon).await {
        Ok(answer) => answer,
        Err(InvoiceStatusError::Rejected(reason)) => {
            tracing::info!(reason = reason.code(), "invoice status asked with a macaroon that does not verify");
            return Err(not_found());
        }
        Err(InvoiceStatusError::Busy(wait)) => {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "Too many invoice status requests; wait a moment and ask again.",
            )
            .retry_after(wait.as_secs().max(1)));
        }
        Err(InvoiceStatusError::Service(error)) => {
            return Err(match error {
                mesh402_service::ServiceError::LightningUnavailable(error) => {
                    tracing::warn!(reason = error.code(), "invoice lookup failed");
                    ApiError::new(
                        ErrorCode::LightningUnavailable,
                        "The Lightning node cannot be asked about the invoice right now; try again shortly.",
                    )
                    .retry_after(5)
                }
                other => other.into(),
            });
        }
        Err(_) => return Err(ApiError::internal()),
    };
    let answer = |state, preimage: Option<Option<String>>| InvoiceStatusAnswer {
        paid: state == InvoiceState::Paid,
        state,
        payment_hash: payment_hash.to_string(),
        preimage,
        message: None,
    };
    let body = match status {
        InvoiceStatus::Paid { preimage: Some(preimage) } => answer(InvoiceState::Paid, Some(Some(preimage.to_hex()))),
        InvoiceStatus::Paid { preimage: None } => InvoiceStatusAnswer {
            message: Some(
                "The invoice is paid, but the Lightning backend does not reveal its preimage; take it from the \
                 wallet that paid."
                    .into(),
            ),
            ..answer(InvoiceState::Paid, Some(None))
        },
        InvoiceStatus::Open => answer(InvoiceState::Open, None),
        InvoiceStatus::Expired => answer(InvoiceState::Expired, None),
        _ => answer(InvoiceState::Unknown, None),
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
