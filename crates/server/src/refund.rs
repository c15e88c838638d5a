//! `POST /api/l402/jobs/{job_id}/refund`: the client of a paid job that could not be delivered claims its refund
//! with the credential that paid (`Authorization: L402 <macaroon>:<preimage>`: the preimage is the proof, the
//! payment hash alone is not) and a BOLT11 invoice for exactly the refundable amount, `{"invoice": "lnbc…"}`.
//!
//! `200` with the paid refund (its preimage is the client's proof), `202` while its payment's outcome is not known
//! (ask again: the same answer comes back, nothing is paid twice), or a JSON error. The `refund` object of this
//! answer is also in the job's status document and in the error a failed job is answered with.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::{ErrorCode, RefundClaim, RefundClaimed, RefundState, RefundStatus, paths};
use mesh402_core::JobState;
use mesh402_service::{RefundError, RefundView};
use mesh402_store::JobId;

use crate::AppState;
use crate::error::ApiError;
use crate::gate::RequestCredential;

/// Seconds after which a client asks again about a pending refund.
const PENDING_RETRY_SECS: u64 = 5;

/// Where a job's refund is claimed.
pub fn claim_url(state: &AppState, job_id: &JobId) -> String {
    format!("{}{}", state.public_url, paths::fill(paths::JOB_REFUND, &[&job_id.to_string()]))
}

/// The `refund` object clients are shown.
pub fn refund_status(state: &AppState, job_id: &JobId, refund: &RefundView) -> RefundStatus {
    let amount = refund.amount();
    let mut status = RefundStatus {
        state: RefundState::Available,
        amount_sats: amount.sats(),
        amount_msat: amount.0,
        claim_url: claim_url(state, job_id),
        deadline: None,
        last_failure: None,
        invoice_payment_hash: None,
        claimed_at: None,
        preimage: None,
        paid_at: None,
    };
    match refund {
        RefundView::Available { deadline, last_failure, .. } => {
            status.deadline = Some(*deadline);
            status.last_failure = last_failure.clone();
        }
        RefundView::Pending { invoice_payment_hash, claimed_at, .. } => {
            status.state = RefundState::Pending;
            status.invoice_payment_hash = Some(invoice_payment_hash.to_string());
            status.claimed_at = Some(*claimed_at);
        }
        RefundView::Paid { invoice_payment_hash, preimage, paid_at, .. } => {
            status.state = RefundState::Paid;
            status.invoice_payment_hash = Some(invoice_payment_hash.to_string());
            status.preimage = Some(preimage.to_hex());
            status.paid_at = Some(*paid_at);
        }
    }
    status
}

impl From<RefundError> for ApiError {
    fn from(error: RefundError) -> Self {
        let forbidden = |code, message: &str| ApiError::new(code, message);
        let invalid = |code, message: String| ApiError::new(code, message);
        match error {
            RefundError::Credential(reason) => {
                tracing::info!(reason = reason.code(), "refund claim with a credential that does not verify");
                forbidden(
                    ErrorCode::RefundCredentialInvalid,
                    "A refund is claimed with the credential that paid: Authorization: L402 <macaroon>:<preimage>, \
                     with the preimage your wallet got (the payment hash alone proves nothing).",
                )
            }
            RefundError::UnknownJob => ApiError::new(ErrorCode::JobNotFound, "There is no such job."),
            RefundError::NotYourJob => {
                forbidden(ErrorCode::RefundCredentialMismatch, "This credential paid for another job, not this one.")
            }
            RefundError::NotOwed(job_state) => {
                let message = match job_state {
                    JobState::Succeeded => "This job delivered its model; it owes no refund.",
                    JobState::Queued | JobState::Running => {
                        "This job is still being worked on; a refund is owed only if it fails."
                    }
                    _ => "This job owes no refund (its credential has expired, or nothing is left to refund).",
                };
                ApiError::new(ErrorCode::RefundNotOwed, message)
            }
            RefundError::NotOffered => ApiError::new(
                ErrorCode::RefundsNotOffered,
                "This server's Lightning backend cannot pay, so it offers no refunds.",
            ),
            RefundError::Invoice(reason) => invalid(
                ErrorCode::RefundInvoiceInvalid,
                format!("The invoice cannot be used for a refund: {reason}. Send a BOLT11 invoice from your wallet."),
            ),
            RefundError::WrongAmount { expected, found } => {
                let found = found.map_or_else(|| "no amount".to_owned(), |msat| format!("{msat} msat"));
                invalid(
                    ErrorCode::RefundAmountMismatch,
                    format!(
                        "The invoice is for {found}; the refund is exactly {} msat ({} sats). Make an invoice for \
                         that amount.",
                        expected.0,
                        expected.sats()
                    ),
                )
                .detail("amount_msat", expected.0)
            }
            RefundError::InvoiceExpired => invalid(
                ErrorCode::RefundInvoiceExpired,
                "The invoice has expired or expires within a minute; send a fresh one.".into(),
            ),
            RefundError::PaymentFailed(reason) => ApiError::new(
                ErrorCode::RefundPaymentFailed,
                format!(
                    "The server's wallet could not pay the invoice ({reason}); nothing was paid. Claim again with \
                     another invoice."
                ),
            ),
            RefundError::Service(error) => error.into(),
            _ => ApiError::internal(),
        }
    }
}

/// The handler.
pub async fn claim_refund(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    RequestCredential { credential, .. }: RequestCredential,
    body: Result<Json<RefundClaim>, JsonRejection>,
) -> Result<Response, ApiError> {
    let job_id: JobId = job_id.parse().map_err(|_| RefundError::UnknownJob)?;
    let credential = credential.ok_or(RefundError::Credential(mesh402_service::Rejection::Missing))?;
    let Json(claim) = body.map_err(|rejection| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("Send {{\"invoice\": \"lnbc…\"}} ({rejection})."))
    })?;
    let refund = state.service.claim_refund(&job_id, &credential, &claim.invoice).await?;
    let status = match refund {
        RefundView::Paid { .. } => StatusCode::OK,
        RefundView::Pending { .. } | RefundView::Available { .. } => StatusCode::ACCEPTED,
    };
    let body = RefundClaimed { job_id: job_id.to_string(), refund: refund_status(&state, &job_id, &refund) };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::ACCEPTED {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(PENDING_RETRY_SECS));
    }
    Ok(response)
}
