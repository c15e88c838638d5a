//! The payment gate: the credential a request carries ([`RequestCredential`], an extractor, so a handler names it
//! in its signature), read from either scheme (`Authorization: L402 …`/`LSAT …`, Aperture's `macaroon` headers, or
//! `Authorization: Payment …`), and the `402 Payment Required` a request without a valid one gets: the L402 line
//! first and unchanged, then the `Payment` line for the same invoice, and a body that is both our JSON error and
//! the problem details the `Payment` scheme names. Verifying a credential is the service's
//! ([`mesh402_service::Service::verify`]); this module only reads and answers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::{ErrorCode, ErrorDetail, PaymentRequired};
use mesh402_core::Preflight;
use mesh402_l402::{parse_authorization, parse_macaroon_header};
use mesh402_mpp::{BodyDigest, Problem};
use mesh402_service::{Credential, ModelRequest, Scheme};

use crate::AppState;
use crate::error::ApiError;

/// The credential of a request, of either scheme. `None` when there is none or it does not parse: the client then
/// gets a fresh challenge (`unreadable` says that one was sent, for the problem details). The credential itself is
/// never logged.
#[derive(Debug)]
pub struct RequestCredential {
    /// The credential, when one reads.
    pub credential: Option<Credential>,
    /// A credential was sent but does not read.
    pub unreadable: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCredential {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(match read_credential(&parts.headers) {
            Ok(credential) => RequestCredential { credential, unreadable: false },
            Err((what, reason)) => {
                tracing::info!(reason, "unreadable {what}");
                RequestCredential { credential: None, unreadable: true }
            }
        })
    }
}

/// The credential of a request, as [`RequestCredential`] reads it, without logging (the limits read it first).
pub fn quiet_credential(headers: &HeaderMap) -> Option<Credential> {
    read_credential(headers).ok().flatten()
}

/// The credential, none, or what could not be read and why. L402 is looked for first (a request carrying both
/// schemes is read as L402).
fn read_credential(headers: &HeaderMap) -> Result<Option<Credential>, (&'static str, &'static str)> {
    let authorization = || headers.get_all(header::AUTHORIZATION).iter().filter_map(|value| value.to_str().ok());
    match parse_authorization(authorization()) {
        Ok(Some(credential)) => return Ok(Some(Credential::L402(credential))),
        Ok(None) => {}
        Err(error) => return Err(("L402 credential", error.code())),
    }
    match mesh402_mpp::parse_authorization(authorization()) {
        Ok(Some(credential)) => return Ok(Some(Credential::Payment(Box::new(credential)))),
        Ok(None) => {}
        Err(error) => return Err(("Payment credential", error.code())),
    }
    let Some(macaroon_header) = headers.get("grpc-metadata-macaroon").or_else(|| headers.get("macaroon")) else {
        return Ok(None);
    };
    let Ok(text) = macaroon_header.to_str() else { return Ok(None) };
    parse_macaroon_header(text)
        .map(|credential| Some(Credential::L402(credential)))
        .map_err(|error| ("macaroon header", error.code()))
}

/// Why a fresh challenge is sent (no credential, or the problem with the one that came), and whether the client
/// takes the `Payment` scheme's Lightning charge (its `Accept-Payment` header does not rule it out).
#[derive(Debug, Clone, Copy)]
pub struct ChallengeCause {
    /// The problem type of the body.
    pub problem: Problem,
    /// Whether the `Payment` challenge is sent (when the server offers it).
    pub charge_accepted: bool,
}

impl ChallengeCause {
    /// Why a challenge is sent to a request with `headers`, and the problem the credential it carried has.
    pub fn new(headers: &HeaderMap, problem: Problem) -> ChallengeCause {
        let values = headers.get_all("accept-payment").iter().filter_map(|value| value.to_str().ok());
        ChallengeCause {
            problem,
            charge_accepted: mesh402_mpp::accepts(values, mesh402_mpp::METHOD, mesh402_mpp::INTENT),
        }
    }
}

/// A request the preflight passed: it can succeed, so it may be offered an invoice (nobody is asked to pay for a
/// request that cannot).
#[derive(Debug)]
pub struct Preflighted {
    /// The request.
    pub request: Arc<ModelRequest>,
    /// What the preflight found: the picture's size, `None` for a prompt.
    pub checked: Option<Preflight>,
}

impl Preflighted {
    /// Preflights `request` (on the blocking pool).
    pub async fn check(state: &AppState, request: Arc<ModelRequest>) -> Result<Preflighted, ApiError> {
        let checked = state.service.preflight(&request).await?;
        Ok(Preflighted { request, checked })
    }
}

/// A 402 with a fresh invoice, offered as an L402 macaroon and as a `Payment` challenge (each when offered), bound
/// to the preflighted request (and, for `Payment`, to the body's `digest`).
pub async fn challenge(
    state: &AppState,
    preflighted: &Preflighted,
    digest: Option<BodyDigest>,
    cause: ChallengeCause,
) -> Result<Response, ApiError> {
    let mut quote = state.service.quote(&preflighted.request, digest).await?;
    let schemes = state.service.config().schemes;
    // A client that rules the charge out gets the L402 challenge alone (never no challenge at all).
    if !cause.charge_accepted && schemes.offers(Scheme::L402) {
        quote.payment = None;
    }
    let sats = quote.amount.sats();
    let message = match (schemes.offers(Scheme::L402), &quote.payment) {
        (true, None) => format!(
            "Pay the invoice ({sats} sats), then send the same request again with the header Authorization: L402 \
             <macaroon>:<preimage>."
        ),
        (true, Some(_)) => format!(
            "Pay the invoice ({sats} sats), then send the same request again with the header Authorization: L402 \
             <macaroon>:<preimage>, or Authorization: Payment <credential> for the Payment challenge."
        ),
        (false, _) => format!(
            "Pay the invoice ({sats} sats), then send the same request again with the header Authorization: \
             Payment <credential> for the Payment challenge."
        ),
    };
    let body = PaymentRequired {
        problem_type: cause.problem.type_uri().to_owned(),
        title: cause.problem.title().to_owned(),
        status: StatusCode::PAYMENT_REQUIRED.as_u16(),
        detail: message.clone(),
        error: ErrorDetail::new(ErrorCode::PaymentRequired, message),
        macaroon: schemes.offers(Scheme::L402).then(|| quote.challenge.macaroon.to_base64()),
        invoice: quote.challenge.invoice.clone(),
        payment_hash: quote.payment_hash.to_string(),
        amount_sats: sats,
        expires_at: mesh402_mpp::format_time(quote.expires_at),
        payment: quote.payment.clone(),
    };
    let mut response = (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response();
    let headers = response.headers_mut();
    let mut lines = Vec::new();
    if schemes.offers(Scheme::L402) {
        lines.extend(quote.challenge.header_values());
    }
    lines.extend(quote.payment.as_ref().map(mesh402_mpp::PaymentChallenge::header_value));
    for value in lines {
        let value = HeaderValue::from_str(&value).map_err(|_| ApiError::internal())?;
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    if quote.payment.is_some() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-error-code", HeaderValue::from_static(ErrorCode::PaymentRequired.as_str()));
    if let Ok(link) = HeaderValue::from_str(&format!(
        "<{}{}>; rel=\"l402-manifest\"",
        state.public_url,
        mesh402_api::paths::L402_JSON
    )) {
        headers.insert(header::LINK, link);
    }
    Ok(response)
}

/// Adds the `Payment` receipt to a successful answer to a `Payment` credential (and marks it private, as the scheme
/// asks); answers to other credentials, and errors, are left as they are.
pub fn with_receipt(mut response: Response, credential: &Credential) -> Response {
    let Credential::Payment(credential) = credential else { return response };
    if !response.status().is_success() {
        return response;
    }
    let Some(preimage) = credential.preimage() else { return response };
    let receipt = mesh402_mpp::Receipt::new(&preimage.hash(), &credential.challenge.id, mesh402_service::unix_now());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&receipt.header_value()) {
        headers.insert(mesh402_mpp::RECEIPT_HEADER, value);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    response
}
