//! The L402 gate: the credential a request carries ([`L402Credential`], an extractor, so a handler names it in
//! its signature) and the `402 Payment Required` challenge a request without a valid one gets. Verifying a
//! credential is the service's ([`mesh402_service::Service::verify`]); this module only reads and answers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::{ErrorCode, ErrorDetail, PaymentRequired};
use mesh402_l402::{Credential, parse_authorization, parse_macaroon_header};
use mesh402_service::ModelRequest;

use crate::AppState;
use crate::error::ApiError;

/// The credential of a request: `Authorization: L402 <macaroon>:<preimage>` (or `LSAT`), else a `macaroon` or
/// `Grpc-Metadata-Macaroon` header as Aperture's clients send it. `None` when there is none or it does not parse:
/// the client then gets a fresh challenge. The credential itself is never logged.
#[derive(Debug)]
pub struct L402Credential(pub Option<Credential>);

impl<S: Send + Sync> FromRequestParts<S> for L402Credential {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(L402Credential(credential_from(&parts.headers)))
    }
}

fn credential_from(headers: &HeaderMap) -> Option<Credential> {
    match read_credential(headers) {
        Ok(credential) => credential,
        Err((what, reason)) => {
            tracing::info!(reason, "unreadable {what}");
            None
        }
    }
}

/// The credential of a request, as [`L402Credential`] reads it, without logging (the limits read it first).
pub fn quiet_credential(headers: &HeaderMap) -> Option<Credential> {
    read_credential(headers).ok().flatten()
}

/// The credential, none, or what could not be read and why.
fn read_credential(headers: &HeaderMap) -> Result<Option<Credential>, (&'static str, &'static str)> {
    let authorization = headers.get_all(header::AUTHORIZATION).iter().filter_map(|value| value.to_str().ok());
    match parse_authorization(authorization) {
        Ok(Some(credential)) => return Ok(Some(credential)),
        Ok(None) => {}
        Err(error) => return Err(("L402 credential", error.code())),
    }
    let Some(macaroon_header) = headers.get("grpc-metadata-macaroon").or_else(|| headers.get("macaroon")) else {
        return Ok(None);
    };
    let Ok(text) = macaroon_header.to_str() else { return Ok(None) };
    parse_macaroon_header(text).map(Some).map_err(|error| ("macaroon header", error.code()))
}

/// A 402 with a fresh invoice and macaroon bound to `request`, once the preflight says the request can succeed
/// (nobody is asked to pay for a request that cannot).
pub async fn challenge(state: &AppState, request: &Arc<ModelRequest>) -> Result<Response, ApiError> {
    state.service.preflight(request).await?;
    let quote = state.service.quote(request).await?;
    let [l402, lsat] = quote.challenge.header_values();
    let expires_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(quote.expires_at);
    let message = format!(
        "Pay the invoice ({} sats), then send the same request again with the header Authorization: L402 \
         <macaroon>:<preimage>.",
        quote.amount.sats()
    );
    let body = PaymentRequired {
        error: ErrorDetail::new(ErrorCode::PaymentRequired, message),
        macaroon: quote.challenge.macaroon.to_base64(),
        invoice: quote.challenge.invoice.clone(),
        payment_hash: quote.payment_hash.to_string(),
        amount_sats: quote.amount.sats(),
        expires_at: humantime::format_rfc3339_seconds(expires_at).to_string(),
    };
    let mut response = (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response();
    let headers = response.headers_mut();
    for value in [l402, lsat] {
        let value = HeaderValue::from_str(&value).map_err(|_| ApiError::internal())?;
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-error-code", HeaderValue::from_static(ErrorCode::PaymentRequired.as_str()));
    Ok(response)
}
