//! `POST /dev/pay`: the development wallet pays one of its own invoices and returns the preimage; `POST
//! /dev/invoice`: it makes an invoice to be paid *to* (a refund's invoice, which it can then verify and pay). The
//! routes exist only while the development wallet is the backend.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mesh402_api::{DevInvoice, DevInvoiceRequest, DevPaid, DevPayRequest, ErrorCode};
use mesh402_l402::Msat;
use mesh402_ln::{InvoiceRequest, LightningBackend, PayError};

use crate::AppState;
use crate::error::ApiError;

/// `POST /dev/invoice`: a regtest invoice of the development wallet for `amount_sats`, payable for an hour.
pub async fn dev_invoice(
    State(state): State<AppState>,
    body: Result<Json<DevInvoiceRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(asked) = body.map_err(|rejection| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("Send {{\"amount_sats\": 350}} ({rejection})."))
    })?;
    let wallet = state.dev_wallet.clone().ok_or_else(ApiError::not_found)?;
    if !(1..=21_000_000 * 100_000_000).contains(&asked.amount_sats) {
        return Err(ApiError::new(ErrorCode::InvalidOption, "amount_sats must be a positive number of satoshis."));
    }
    let request = InvoiceRequest {
        amount: Msat::from_sats(asked.amount_sats),
        description: format!("mesh402 development wallet: {} sats", asked.amount_sats),
        expiry: std::time::Duration::from_secs(3600),
    };
    let created = wallet.create_invoice(&request).await.map_err(|error| {
        tracing::error!(error = %error, "the development wallet could not make an invoice");
        ApiError::internal()
    })?;
    let answer = DevInvoice {
        invoice: created.bolt11,
        payment_hash: created.payment_hash.to_string(),
        expires_at: created.expires_at,
    };
    Ok(Json(answer).into_response())
}

/// The handler.
pub async fn dev_pay(
    State(state): State<AppState>,
    body: Result<Json<DevPayRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(pay) = body.map_err(|rejection| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("Send {{\"invoice\": \"lnbcrt…\"}} ({rejection})."))
    })?;
    let wallet = state.dev_wallet.clone().ok_or_else(ApiError::not_found)?;
    let now = mesh402_service::unix_now();
    let paid = wallet.pay(&pay.invoice, now).await;
    match paid {
        Ok(preimage) => {
            Ok(Json(DevPaid { preimage: preimage.to_hex(), payment_hash: preimage.hash().to_string() }).into_response())
        }
        Err(error) => {
            let code = match error {
                PayError::Malformed => ErrorCode::InvoiceMalformed,
                PayError::WrongNetwork => ErrorCode::InvoiceWrongNetwork,
                PayError::UnknownInvoice => ErrorCode::InvoiceUnknown,
                PayError::Expired => ErrorCode::InvoiceExpired,
                PayError::AlreadyPaid => ErrorCode::InvoiceAlreadyPaid,
                PayError::NoAmount => ErrorCode::InvoiceNoAmount,
                PayError::Ledger(_) => ErrorCode::WalletLedgerFailed,
            };
            Err(ApiError::new(code, format!("{}{}", capitalize(&error.to_string()), ".")))
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
