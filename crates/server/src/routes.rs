//! The HTTP routes: the paid model endpoint, downloads, the dev wallet's pay endpoint, health.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh402_l402::{Credential, parse_authorization, parse_macaroon_header};
use mesh402_service::{ModelRequest, RedeemError};
use mesh402_store::{FileLocation, is_valid_model_id};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use crate::AppState;
use crate::error::ApiError;
use crate::input::parse_model_request;

/// `POST /api/l402/3d-model`: a 402 challenge without a valid credential; the model with one.
pub async fn create_model(
    State(state): State<AppState>,
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
    let Some(credential) = credential_from(&headers) else {
        return challenge(&state, &request).await;
    };
    match state.service.redeem(&request, &credential).await {
        Ok(view) => crate::jobs::respond_after_wait(&state, view, &headers).await,
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

/// The credential of a request, if it carries one that parses. Parse failures are treated as no credential
/// (the client gets a fresh challenge); the credential itself is never logged.
pub(crate) fn credential_from(headers: &HeaderMap) -> Option<Credential> {
    let authorization = headers.get_all(header::AUTHORIZATION).iter().filter_map(|value| value.to_str().ok());
    match parse_authorization(authorization) {
        Ok(Some(credential)) => return Some(credential),
        Ok(None) => {}
        Err(error) => {
            tracing::info!(reason = error.code(), "unreadable L402 credential");
            return None;
        }
    }
    let macaroon_header = headers.get("grpc-metadata-macaroon").or_else(|| headers.get("macaroon"))?;
    match parse_macaroon_header(macaroon_header.to_str().ok()?) {
        Ok(credential) => Some(credential),
        Err(error) => {
            tracing::info!(reason = error.code(), "unreadable macaroon header");
            None
        }
    }
}

/// A 402 with a fresh invoice and macaroon bound to `request`, once the preflight says the request can succeed.
async fn challenge(state: &AppState, request: &Arc<ModelRequest>) -> Result<Response, ApiError> {
    state.service.preflight(request).await?;
    let quote = state.service.quote(request).await?;
    let [l402, lsat] = quote.challenge.header_values();
    let expires_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(quote.expires_at);
    let body = json!({
        "error": {
            "code": "payment_required",
            "message": format!(
                "Pay the invoice ({} sats), then send the same request again with the header \
                 Authorization: L402 <macaroon>:<preimage>.",
                quote.amount.sats()
            ),
        },
        "macaroon": quote.challenge.macaroon.to_base64(),
        "invoice": quote.challenge.invoice,
        "payment_hash": quote.payment_hash.to_string(),
        "amount_sats": quote.amount.sats(),
        "expires_at": humantime::format_rfc3339_seconds(expires_at).to_string(),
    });
    let mut response = (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response();
    let headers = response.headers_mut();
    for value in [l402, lsat] {
        let value = HeaderValue::from_str(&value).map_err(|_| ApiError::internal())?;
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-error-code", HeaderValue::from_static("payment_required"));
    Ok(response)
}

/// The URL of a stored model's primary file.
pub fn model_url(public_url: &str, model_id: &str, file_name: &str) -> String {
    match file_name.strip_prefix("model.") {
        // Single-file formats get the short form; OBJ keeps its folder so the MTL and texture resolve.
        Some(extension) if extension != "obj" => format!("{public_url}/models/{model_id}.{extension}"),
        _ => format!("{public_url}/models/{model_id}/{file_name}"),
    }
}

/// `GET /models/{id}.{ext}`: the primary file of a stored model.
pub async fn download_primary(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (model_id, extension) = file.split_once('.').ok_or_else(ApiError::not_found)?;
    serve_model_file(&state, model_id, &format!("model.{extension}"), request).await
}

/// `GET /models/{id}/{name}`: any file of a stored model (OBJ with its MTL and texture).
pub async fn download_file(
    State(state): State<AppState>,
    Path((model_id, name)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    serve_model_file(&state, &model_id, &name, request).await
}

fn media_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "glb" => "model/gltf-binary",
        "obj" => "model/obj",
        "mtl" => "model/mtl",
        "stl" => "model/stl",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

async fn serve_model_file(
    state: &AppState,
    model_id: &str,
    name: &str,
    request: Request,
) -> Result<Response, ApiError> {
    if !is_valid_model_id(model_id) {
        return Err(ApiError::not_found());
    }
    let location = state.files.locate_model_file(model_id, name).await.map_err(|error| {
        tracing::error!(error = %error, "model lookup failed");
        ApiError::internal()
    })?;
    let Some(FileLocation::Local(path)) = location else { return Err(ApiError::not_found()) };
    let media_type: mime::Mime = media_type_of(name).parse().map_err(|_| ApiError::internal())?;
    // tower-http's ServeFile does ranges, conditional requests, HEAD and Content-Length correctly.
    let served = tower_http::services::ServeFile::new_with_mime(path, &media_type)
        .oneshot(request)
        .await
        .map_err(|_| ApiError::internal())?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::not_found());
    }
    let mut response = served.map(Body::new);
    let headers = response.headers_mut();
    // A model id never changes content, so caches may keep it for the retention period.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=604800, immutable"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("inline; filename=\"{name}\"")).map_err(|_| ApiError::internal())?,
    );
    Ok(response)
}

/// Body of `POST /dev/pay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    invoice: String,
}

/// `POST /dev/pay`: the development wallet pays one of its own invoices and returns the preimage.
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

/// `GET /healthz`.
pub async fn health(State(state): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "lightning": state.service.lightning_name() })).into_response()
}

/// Any unknown route.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// A known route with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This URL does not accept that method.")
}
