//! `POST /api/l402/3d-model` (alias `POST /api/l402/generate-3d-model`): the body becomes a request, the gate
//! lets a paid credential through or answers 402, the service redeems the credential into a job, and the
//! response waits for the job (see `job_status.rs`).
//!
//! `POST /api/l402/quote` takes the same body and the same unpaid path up to the 402: the same limits, checks
//! and errors, then the price instead of an invoice.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use mesh402_api::{ErrorCode, Quote, QuoteLimits, QuotedImage};
use mesh402_mpp::{BodyDigest, Problem};
use mesh402_service::{Credential, ModelInput, ModelRequest, RedeemError, Rejection, Scheme};

use crate::AppState;
use crate::error::ApiError;
use crate::gate::{ChallengeCause, Preflighted, RequestCredential, challenge, with_receipt};
use crate::limits::{Caller, UploadReservation};
use crate::request::parse_model_request;

/// A 402 challenge without a valid credential; the model with one.
///
/// Before a byte of the body is read: an unpaid request takes a challenge token (`429 rate_limited`, after a
/// pause that slows down clients that ignore `Retry-After`), its type
/// and declared size are checked, and its size is reserved from the upload budget (`503` when full). The body
/// then has `body_read_timeout_secs` to arrive (`408 body_timeout`). Unpaid bodies are parsed and preflighted on
/// the preflight pool; paid ones on the blocking pool, never behind them.
pub async fn create_model(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RequestCredential { credential, unreadable }: RequestCredential,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limits = state.limits.clone();
    // A credential that verifies makes the request paid; one that is rejected later (bought for another picture)
    // leads to a challenge and is counted as unpaid then.
    let paid = caller.paid && credential.is_some();
    let mut problem = Problem::PaymentRequired;
    if let Some((reason, refused)) = caller.rejected_credential {
        mesh402_service::metrics::credential(false, reason);
        problem = refused;
    } else if unreadable {
        problem = Problem::MalformedCredential;
    }
    let cause = ChallengeCause::new(&headers, problem);
    let (body, reservation) = admit_body(&state, caller, paid, &headers, body).await?;

    let Some(credential) = credential.filter(|_| paid) else {
        // Unpaid: parsing and the preflight run on the bounded preflight pool; the reservation is held until
        // then, so the memory of decoded bodies is bounded too.
        let response = limits
            .on_preflight_pool(async {
                let offers_payment = state.service.config().schemes.offers(Scheme::Payment);
                let (preflighted, digest) = parse_and_preflight(&state, body, offers_payment).await?;
                challenge(&state, &preflighted, digest, cause).await
            })
            .await?;
        drop(reservation);
        return response;
    };
    // Paid: counted as paid work until it is redeemed, so that unpaid checks give way to it. Only a Payment
    // credential needs the body's digest (its challenge was bound to it); the body is kept until the credential is
    // redeemed, for the digest of a fresh challenge if it is refused.
    let paid_work = state.service.paid_work().start();
    let (request, digest, body) = parse_paid(body, matches!(credential, Credential::Payment(_))).await?;
    let redeemed = match &credential {
        // A Payment credential is for the body it was bought with, byte for byte (its challenge's digest).
        Credential::Payment(payment) if !digest.as_ref().is_some_and(|digest| payment.digest_matches(digest)) => {
            Err(RedeemError::Rejected(Rejection::Payment(mesh402_mpp::VerifyError::RequestMismatch)))
        }
        _ => state.service.redeem(&request, &credential).await,
    };
    drop(paid_work);
    match redeemed {
        Ok(view) => {
            drop((body, reservation));
            let response = crate::job_status::respond_after_wait(&state, view, &headers).await?;
            Ok(with_receipt(response, &credential))
        }
        Err(RedeemError::Rejected(reason)) => {
            // A credential bought for another request: this one is unpaid, and is counted and checked as such.
            tracing::info!(reason = reason.code(), "credential rejected; sending a fresh challenge");
            limits.take_challenge(caller.client).await?;
            let cause = ChallengeCause::new(&headers, reason.problem());
            let offers_payment = state.service.config().schemes.offers(Scheme::Payment);
            limits
                .on_preflight_pool(async {
                    let digest = match digest {
                        Some(digest) => Some(digest),
                        None if offers_payment => {
                            Some(on_blocking_pool("digesting a body", move || BodyDigest::of(&body)).await?)
                        }
                        None => None,
                    };
                    drop(reservation);
                    let preflighted = Preflighted::check(&state, request).await?;
                    challenge(&state, &preflighted, digest, cause).await
                })
                .await?
        }
        Err(RedeemError::Service(error)) => Err(error.into()),
        Err(error) => {
            tracing::error!(error = %error, "redeem failed");
            Err(ApiError::internal())
        }
    }
}

/// `POST /api/l402/quote`: what the paid request would cost and whether its photo passes the checks made before
/// an invoice. Counted, limited and checked exactly like an unpaid model request; makes no invoice and stores
/// nothing. Answers `200` with the price, the resolved options and the image's size, or the error the paid
/// request would get.
pub async fn quote_model(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (body, reservation) = admit_body(&state, caller, false, &headers, body).await?;
    let answer = state
        .limits
        .on_preflight_pool(async {
            let (Preflighted { request, checked }, _) = parse_and_preflight(&state, body, false).await?;
            let included = state.service.deliverables(&request.params);
            let mut answer = Quote {
                price_sats: state.offer.price_sats,
                accepted: true,
                options: request.params.clone(),
                formats: included.formats,
                preview: included.preview,
                limits: QuoteLimits {
                    max_body_bytes: state.offer.max_body_bytes as u64,
                    invoice_expiry_secs: state.offer.invoice_expiry_secs,
                    token_lifetime_secs: state.offer.token_lifetime_secs,
                },
                image: None,
                prompt: None,
            };
            match (&request.input, checked) {
                (ModelInput::Image { kind, .. }, Some(checked)) => {
                    let media_type = kind.media_type().to_owned();
                    answer.image = Some(QuotedImage { media_type, width: checked.width, height: checked.height });
                }
                (ModelInput::Prompt(prompt), _) => answer.prompt = Some(prompt.clone()),
                (ModelInput::Image { .. }, None) => {}
            }
            Ok::<_, ApiError>(answer)
        })
        .await??;
    drop(reservation);
    let mut response = Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Everything before a body is parsed, in this order: an unpaid request takes a challenge token, the type and the
/// declared size are checked, the size is reserved from the upload budget (a body without `Content-Length` may be
/// as large as the limit: that much is reserved), and the body is read within its deadline. The reservation is
/// returned with the body: the caller holds it until the body's decoded form is gone. A body refused before it
/// was all read is [lingered](linger) over, so that the client sees the answer.
async fn admit_body(
    state: &AppState,
    caller: Caller,
    paid: bool,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<u8>, UploadReservation), ApiError> {
    let limits = &state.limits;
    let mut stream = body.into_data_stream();
    let admitted = async {
        if !paid {
            limits.take_challenge(caller.client).await?;
        }
        check_content_type(headers)?;
        let declared = declared_length(headers)?;
        if declared.is_some_and(|length| length > state.max_body_bytes) {
            return Err(body_too_large(state.max_body_bytes));
        }
        let reservation = limits.uploads.reserve(caller.client, declared.unwrap_or(state.max_body_bytes), paid)?;
        let body = read_body(&mut stream, declared, state.max_body_bytes, limits.settings.body_read_timeout).await?;
        Ok((body, reservation))
    }
    .await;
    if let Err(error) = &admitted
        && error.status != StatusCode::REQUEST_TIMEOUT
    {
        linger(stream);
    }
    admitted
}

/// The most bytes of a refused body read and thrown away after the answer.
const LINGER_BYTES: usize = 64 << 20;
/// The longest a refused body is read after the answer.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// The most refused bodies read at once; beyond it a refused connection is closed at once.
const LINGER_TASKS: usize = 64;

/// Reads the rest of a refused body and throws it away, for at most [`LINGER_TIME`] and [`LINGER_BYTES`], on a task
/// of its own, so that the connection stays open while the early answer is delivered (a lingering close). A client
/// that writes its whole body before it reads (Python's `urllib`, many scripts) would otherwise have its connection
/// reset by the server's close while it is still sending, and never see the `413`, `429` or `503`. A slow body
/// (`408`) is not lingered over: its client is the one the deadline protects against.
fn linger(mut stream: axum::body::BodyDataStream) {
    static LINGERING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    use std::sync::atomic::Ordering;
    if LINGERING.fetch_add(1, Ordering::AcqRel) >= LINGER_TASKS {
        LINGERING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        let drain = async {
            let mut read = 0usize;
            while let Some(Ok(chunk)) = stream.next().await {
                read += chunk.len();
                if read > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
        LINGERING.fetch_sub(1, Ordering::AcqRel);
    });
}

/// The declared `Content-Length`, if any.
fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else { return Ok(None) };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(|length| Some(usize::try_from(length).unwrap_or(usize::MAX)))
        .ok_or_else(|| ApiError::bad_request(ErrorCode::BodyUnreadable, "The Content-Length header is not a number."))
}

fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorCode::BodyTooLarge, format!("The request body is larger than the {limit} byte limit."))
}

/// Reads the body, at most `limit` bytes, within `deadline`. What is left of a refused body stays in `stream`.
async fn read_body(
    stream: &mut axum::body::BodyDataStream,
    declared: Option<usize>,
    limit: usize,
    deadline: Duration,
) -> Result<Vec<u8>, ApiError> {
    let read = async {
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::bad_request(ErrorCode::BodyUnreadable, "The request body could not be read."))?;
            if bytes.len() + chunk.len() > limit {
                return Err(body_too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(deadline, read).await.map_err(|_| {
        ApiError::new(
            ErrorCode::BodyTimeout,
            format!("The request body did not arrive within {} s.", deadline.as_secs()),
        )
    })?
}

/// The largest paid body parsed on the runtime thread that received it: parsing 64 KiB takes a few tens of
/// microseconds, less than the two thread switches of a trip to the blocking pool.
const INLINE_PARSE_BYTES: usize = 64 << 10;

/// Runs `work` on the blocking pool (decoding, parsing and hashing large bodies must not hold a runtime thread);
/// a task that could not finish is logged as `what` and answered as an internal error.
async fn on_blocking_pool<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(error = %error, "{what} failed");
        ApiError::internal()
    })
}

/// Parses a paid body and takes its digest when asked (the `Payment` scheme binds a challenge to the body's
/// bytes); gives the body back. A body over [`INLINE_PARSE_BYTES`] is parsed on the blocking pool (30 MB take
/// tens of milliseconds).
async fn parse_paid(
    body: Vec<u8>,
    with_digest: bool,
) -> Result<(Arc<ModelRequest>, Option<BodyDigest>, Vec<u8>), ApiError> {
    let inline = body.len() <= INLINE_PARSE_BYTES;
    let parse = move || {
        let request = parse_model_request(&body)?;
        let digest = with_digest.then(|| BodyDigest::of(&body));
        Ok::<_, ApiError>((Arc::new(request), digest, body))
    };
    if inline { parse() } else { on_blocking_pool("parsing a body", parse).await? }
}

/// Parses an unpaid body, takes its digest when asked and preflights it, in one trip to the blocking pool (each
/// trip costs two thread switches, a good part of an unpaid request's time); the body is freed before the
/// picture is decoded.
async fn parse_and_preflight(
    state: &AppState,
    body: Vec<u8>,
    with_digest: bool,
) -> Result<(Preflighted, Option<BodyDigest>), ApiError> {
    let service = state.service.clone();
    on_blocking_pool("checking a body", move || {
        let request = parse_model_request(&body)?;
        let digest = with_digest.then(|| BodyDigest::of(&body));
        drop(body);
        let checked = service.preflight_blocking(&request)?;
        Ok::<_, ApiError>((Preflighted { request: Arc::new(request), checked }, digest))
    })
    .await?
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
            ErrorCode::UnsupportedContentType,
            "Send the request as JSON with Content-Type: application/json.",
        ))
    }
}
