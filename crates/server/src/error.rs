//! Every error the API returns, as one JSON shape with a stable code (the catalogue is `docs/ERRORS.md`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::{ErrorBody, ErrorCode, ErrorDetail};
use mesh402_core::GenerateError;
use mesh402_service::ServiceError;

/// An error response: `{"error": {"code", "message"}}` with the code also in `X-Error-Code`.
///
/// Internal details never reach the client: 5xx errors carry a generic message and are logged here instead.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status: the code's own ([`ErrorCode::status`]).
    pub status: StatusCode,
    /// The code: one of the catalogue's.
    pub code: ErrorCode,
    /// One sentence a person understands.
    pub message: String,
    /// Seconds after which a retry makes sense (sent as `Retry-After`).
    pub retry_after: Option<u64>,
    /// Extra top-level fields of the body, beside `error` (for example the job a failure belongs to).
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// An error with this code (and the code's status) and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, code, message: message.into(), retry_after: None, details: serde_json::Map::new() }
    }

    /// Adds a `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds a top-level field to the body.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> ApiError {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// An error with this code, for a request that cannot be read (its code's status is 400).
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(code, message)
    }

    /// 404 for anything that is not there.
    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "Nothing is here; check the URL.")
    }

    /// 500 without details.
    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::InternalError, "The server failed; please try again.")
    }
}

/// The API's code for a generator error the client caused (one the preflight can raise; after payment, every
/// client error is reported as `generation_rejected`).
fn client_code(error: &GenerateError) -> ErrorCode {
    match error {
        GenerateError::InvalidOption(_) => ErrorCode::InvalidOption,
        GenerateError::ImageDecodeFailed { .. } => ErrorCode::ImageDecodeFailed,
        GenerateError::ImageKindMismatch { .. } => ErrorCode::ImageKindMismatch,
        GenerateError::ImageEmpty => ErrorCode::ImageEmpty,
        GenerateError::ImageTooSmall { .. } => ErrorCode::ImageTooSmall,
        GenerateError::ImageTooLarge { .. } => ErrorCode::ImageTooLarge,
        GenerateError::NoObjectFound { .. } => ErrorCode::NoObjectFound,
        GenerateError::PromptUnsupported => ErrorCode::PromptUnsupported,
        _ => ErrorCode::GenerationRejected,
    }
}

impl From<GenerateError> for ApiError {
    fn from(error: GenerateError) -> Self {
        if error.is_client_error() {
            ApiError::new(client_code(&error), error.to_string())
        } else {
            tracing::error!(error = %error, "generator failed");
            ApiError::internal()
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Input(error) => error.into(),
            ServiceError::LightningUnavailable(error) => {
                tracing::warn!(reason = error.code(), error = %error, "Lightning backend unavailable");
                ApiError::new(
                    ErrorCode::LightningUnavailable,
                    "The Lightning node cannot make an invoice right now; try again shortly.",
                )
                .retry_after(5)
            }
            ServiceError::Storage(error) if error.is_unavailable() => storage_unavailable(&error),
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "service failed");
                ApiError::internal()
            }
        }
    }
}

/// `503 storage_unavailable` with `Retry-After` for a store that could not be reached or written: the request
/// changed nothing that a repeat would not find (a job is recorded only once its input is stored).
pub fn storage_unavailable(error: &mesh402_store::StoreError) -> ApiError {
    tracing::warn!(error = %error, source = ?std::error::Error::source(error), "storage unavailable");
    ApiError::new(
        ErrorCode::StorageUnavailable,
        "Storage could not be reached in time; nothing was lost. Repeat the request shortly (a paid request with the \
         same credential).",
    )
    .retry_after(STORAGE_RETRY_AFTER_SECS)
}

/// The `Retry-After` of [`storage_unavailable`]: about as long as a database restart or a storage hiccup lasts.
const STORAGE_RETRY_AFTER_SECS: u64 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.details;
        let error = ErrorBody { error: ErrorDetail::new(self.code, self.message) };
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(error) {
            body.extend(fields);
        }
        let mut response = (self.status, axum::Json(serde_json::Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert("x-error-code", HeaderValue::from_static(self.code.as_str()));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The answer to any unknown route.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The answer to a known route with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "This URL does not accept that method.")
}
