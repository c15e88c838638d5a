//! LND over its REST API: an invoice macaroon in `Grpc-Metadata-macaroon`, LND's self-signed certificate pinned.
//!
//! `POST /v1/invoices` makes an invoice (`value_msat`, `memo`, `expiry`; the answer carries `r_hash` in base64);
//! `GET /v2/invoices/lookup?payment_hash=…` (base64url, LND 0.14 and later) reports it; a node older than 0.14, whose
//! gateway does not know that route, is asked `GET /v1/invoice/{hex}` (`LookupInvoice`, `r_hash_str`) instead.
//! Errors come as grpc-gateway JSON (`{"code", "message"}`); gRPC code 5 is "not found" and 16
//! "unauthenticated"; a locked wallet or a node still starting is unavailable, not a refusal.
//!
//! As the buyer's payer (a macaroon that may send, such as `admin.macaroon`), through the router sub-server that
//! LND 0.21 keeps (`SendPaymentSync`, `POST /v1/channels/transactions`, was removed in v0.21.0-beta):
//! `POST /v2/router/send` (`SendPaymentV2`: `payment_request`, `timeout_seconds`, `fee_limit_msat` and
//! `no_inflight_updates` in; a stream of newline-delimited `{"result": Payment}` or `{"error": …}` out, read to the
//! payment's final state, `SUCCEEDED` with a hex `payment_preimage` or `FAILED` with a `failure_reason`) pays, and
//! `GET /v2/router/track/{payment_hash}` (`TrackPaymentV2`, the hash base64url in the path; gRPC code 5 when the
//! node never paid it) finds a payment made earlier by its hash, however many payments came after it.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mesh402_l402::{PaymentHash, Preimage};
use serde::Deserialize;

use crate::http::{self, Answer, Secret};
use crate::pay::InvoicePayer;
use crate::{CreatedInvoice, InvoiceRequest, InvoiceState, LightningBackend, LnError, unix_now};

/// How to reach an LND node's REST API.
#[derive(Clone, PartialEq, Eq)]
pub struct LndSettings {
    /// The REST base URL, e.g. `https://127.0.0.1:8080`.
    pub rest_url: String,
    /// The macaroon, hex encoded (an invoice macaroon is enough).
    pub macaroon_hex: Secret,
    /// LND's TLS certificate (PEM, `tls.cert`); when set, exactly this certificate is trusted.
    pub tls_cert_pem: Option<Vec<u8>>,
    /// The deadline of every call.
    pub timeout: Duration,
}

impl std::fmt::Debug for LndSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LndSettings")
            .field("rest_url", &self.rest_url)
            .field("macaroon_hex", &self.macaroon_hex)
            .field("tls_cert_pinned", &self.tls_cert_pem.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A macaroon file's contents as the hex LND's REST API takes: the file as LND writes it (binary), or already hex.
/// `None` for an empty file.
pub fn macaroon_hex(file: &[u8]) -> Option<Secret> {
    let text = String::from_utf8_lossy(file);
    let trimmed = text.trim();
    if trimmed.is_empty() && file.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if !trimmed.is_empty() && trimmed.len().is_multiple_of(2) && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(Secret::new(trimmed.to_ascii_lowercase()));
    }
    Some(Secret::new(hex::encode(file)))
}

/// An LND node as a [`LightningBackend`].
#[derive(Debug)]
pub struct Lnd {
    url: String,
    macaroon_hex: Secret,
    client: reqwest::Client,
}

impl Lnd {
    /// Checks the settings and builds the HTTP client (no call is made yet).
    pub fn new(settings: LndSettings) -> Result<Lnd, LnError> {
        let macaroon = settings.macaroon_hex.expose();
        if macaroon.is_empty() || hex::decode(macaroon).is_err() {
            return Err(LnError::Rejected("the LND macaroon must be non-empty hex".into()));
        }
        Ok(Lnd {
            url: http::base_url("lnd_rest_url", &settings.rest_url)?,
            macaroon_hex: settings.macaroon_hex,
            client: http::client(settings.timeout, settings.tls_cert_pem.as_deref())?,
        })
    }

    /// Whether the gateway answered that it has no such route (grpc-gateway's own `404 Not Found`), as opposed to
    /// LND answering that it has no such invoice.
    fn is_unknown_route(answer: &Answer) -> bool {
        if answer.status.as_u16() != 404 {
            return false;
        }
        match answer.json::<GatewayError>() {
            Ok(body) => body.message.is_some_and(|message| message.trim().eq_ignore_ascii_case("not found")),
            Err(_) => answer.excerpt().trim().eq_ignore_ascii_case("not found") || answer.body.is_empty(),
        }
    }

    fn error(answer: &Answer) -> LnError {
        if let Some(error) = answer.common_error() {
            return error;
        }
        let body = answer.json::<GatewayError>().ok();
        let code = body.as_ref().and_then(|body| body.code);
        let message = body.and_then(|body| body.message).unwrap_or_else(|| answer.excerpt());
        let lower = message.to_ascii_lowercase();
        let refused = ["macaroon", "permission denied", "verification failed", "signature mismatch"];
        if code == Some(16) || code == Some(7) || refused.iter().any(|marker| lower.contains(marker)) {
            return LnError::Unauthorized;
        }
        if code == Some(5)
            || answer.status.as_u16() == 404
            || lower.contains("unable to locate invoice")
            || lower.contains("there are no existing invoices")
        {
            return LnError::NotFound;
        }
        let not_ready = ["wallet locked", "unlock it", "still in the process of starting", "waiting to start"];
        if code == Some(14) || code == Some(4) || not_ready.iter().any(|marker| lower.contains(marker)) {
            return LnError::Unavailable(message);
        }
        match answer.status.as_u16() {
            400..=499 => LnError::Rejected(message),
            status => LnError::BadResponse(format!("HTTP {status}: {message}")),
        }
    }
}

#[derive(Deserialize)]
struct GatewayError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct AddInvoiceResponse {
    r_hash: String,
    payment_request: String,
}

#[derive(Deserialize)]
struct LndInvoice {
    state: String,
    #[serde(default)]
    r_preimage: Option<String>,
    #[serde(default)]
    creation_date: Option<NumberText>,
    #[serde(default)]
    expiry: Option<NumberText>,
}

/// grpc-gateway writes 64-bit integers as strings; accept numbers too.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberText {
    Number(u64),
    Text(String),
}

impl NumberText {
    fn value(&self) -> Option<u64> {
        match self {
            NumberText::Number(number) => Some(*number),
            NumberText::Text(text) => text.parse().ok(),
        }
    }
}

#[async_trait]
impl LightningBackend for Lnd {
    fn name(&self) -> &'static str {
        "lnd"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        if request.amount.0 == 0 {
            return Err(LnError::Rejected("amountless invoices are not issued".into()));
        }
        let body = serde_json::json!({
            "memo": request.description,
            "value_msat": request.amount.0.to_string(),
            "expiry": request.expiry.as_secs().to_string(),
        });
        let call = self
            .client
            .post(format!("{}/v1/invoices", self.url))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose())
            .json(&body);
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnd::error(&answer));
        }
        let created: AddInvoiceResponse = answer.json()?;
        let reported = STANDARD
            .decode(&created.r_hash)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(PaymentHash)
            .ok_or_else(|| LnError::BadResponse("LND returned a malformed r_hash".into()))?;
        http::check_invoice(&created.payment_request, request, Some(&reported))
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        // grpc-gateway reads bytes in query strings as base64url; the padding is percent-encoded.
        let hash = URL_SAFE.encode(payment_hash.0).replace('=', "%3D");
        let call = self
            .client
            .get(format!("{}/v2/invoices/lookup?payment_hash={hash}", self.url))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose());
        let mut answer = Answer::fetch(call).await?;
        if Lnd::is_unknown_route(&answer) {
            // LND before 0.14: the v1 look-up by the hash in hex.
            let call = self
                .client
                .get(format!("{}/v1/invoice/{payment_hash}", self.url))
                .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose());
            answer = Answer::fetch(call).await?;
        }
        if !answer.status.is_success() {
            return Err(Lnd::error(&answer));
        }
        let invoice: LndInvoice = answer.json()?;
        match invoice.state.as_str() {
            "SETTLED" => {
                let preimage = invoice
                    .r_preimage
                    .and_then(|text| STANDARD.decode(text).ok())
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .map(Preimage)
                    .filter(|preimage| preimage.hash() == *payment_hash);
                Ok(InvoiceState::Settled { preimage })
            }
            "CANCELED" => Ok(InvoiceState::Canceled),
            // ACCEPTED is a hold invoice with an HTLC waiting: not paid yet.
            "OPEN" | "ACCEPTED" => {
                let created = invoice.creation_date.and_then(|value| value.value());
                let expiry = invoice.expiry.and_then(|value| value.value());
                match (created, expiry) {
                    (Some(created), Some(expiry)) if created.saturating_add(expiry) <= unix_now() => {
                        Ok(InvoiceState::Expired)
                    }
                    _ => Ok(InvoiceState::Open),
                }
            }
            other => Err(LnError::BadResponse(format!("LND reported an unknown invoice state {other:?}"))),
        }
    }
}

/// One message of a router stream: a payment update, or the error that ended the stream.
#[derive(Deserialize)]
struct StreamLine {
    #[serde(default)]
    result: Option<Payment>,
    #[serde(default)]
    error: Option<GatewayError>,
}

/// `lnrpc.Payment`, the fields read.
#[derive(Deserialize)]
struct Payment {
    #[serde(default)]
    payment_preimage: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
}

/// The seconds LND may spend finding a route and paying (`timeout_seconds`); the call itself may take a little
/// longer, so that LND's own verdict arrives.
const PAY_SECONDS: u64 = 60;
/// The most routing fee paid: 1 % of the amount, and at least 10 sats (small L402 prices pay a base fee per hop).
const FEE_LIMIT_PERCENT: u64 = 1;
const MIN_FEE_LIMIT_MSAT: u64 = 10_000;

/// The routing fee limit for an invoice of `amount_msat`.
fn fee_limit_msat(amount_msat: u64) -> u64 {
    (amount_msat / 100 * FEE_LIMIT_PERCENT).max(MIN_FEE_LIMIT_MSAT)
}

impl Lnd {
    /// The final payment of a router stream (the last `result` whose status is final), or the error the stream
    /// ended with.
    fn final_payment(answer: &Answer) -> Result<Option<Payment>, LnError> {
        let mut last = None;
        for line in answer.body.split(|&b| b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)) {
            let message: StreamLine = serde_json::from_slice(line).map_err(|error| {
                LnError::BadResponse(format!("an unreadable line in LND's payment stream: {error}"))
            })?;
            if let Some(error) = message.error {
                return Err(Lnd::stream_error(error));
            }
            if let Some(payment) = message.result
                && matches!(payment.status.as_deref(), Some("SUCCEEDED" | "FAILED"))
            {
                last = Some(payment);
            }
        }
        Ok(last)
    }

    /// An error written into a router stream, mapped as the gateway's errors are.
    fn stream_error(error: GatewayError) -> LnError {
        let message = error.message.unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        match error.code {
            Some(16 | 7) => LnError::Unauthorized,
            Some(5) => LnError::NotFound,
            Some(14 | 4) => LnError::Unavailable(message),
            _ if lower.contains("already paid") || lower.contains("already succeeded") => {
                LnError::Rejected(format!("LND has already paid this invoice: {message}"))
            }
            _ => LnError::Rejected(format!("LND could not pay: {message}")),
        }
    }

    /// The preimage of a payment that `SUCCEEDED`, checked against `payment_hash` when given.
    fn preimage_of(payment: &Payment) -> Result<Preimage, LnError> {
        payment
            .payment_preimage
            .as_deref()
            .and_then(|text| text.parse::<Preimage>().ok())
            .ok_or_else(|| LnError::BadResponse("LND reported the payment without a preimage".into()))
    }
}

#[async_trait]
impl InvoicePayer for Lnd {
    fn name(&self) -> &'static str {
        "lnd"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let facts = crate::http::invoice_facts(bolt11).map_err(|error| LnError::Rejected(error.to_string()))?;
        let amount_msat = facts.amount_msat.unwrap_or(0);
        let call = self
            .client
            .post(format!("{}/v2/router/send", self.url))
            .timeout(Duration::from_secs(PAY_SECONDS + 15))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose())
            .json(&serde_json::json!({
                "payment_request": bolt11,
                "timeout_seconds": PAY_SECONDS,
                // grpc-gateway reads 64-bit integers from strings.
                "fee_limit_msat": fee_limit_msat(amount_msat).to_string(),
                "no_inflight_updates": true,
            }));
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnd::error(&answer));
        }
        let payment = Lnd::final_payment(&answer)?
            .ok_or_else(|| LnError::Unavailable("LND's payment stream ended before the payment did".into()))?;
        match payment.status.as_deref() {
            Some("SUCCEEDED") => {
                let preimage = Lnd::preimage_of(&payment)?;
                if preimage.hash() != facts.payment_hash {
                    return Err(LnError::BadResponse("LND returned a preimage of another invoice".into()));
                }
                Ok(preimage)
            }
            _ => Err(LnError::Rejected(format!(
                "LND could not pay: {}",
                payment.failure_reason.as_deref().unwrap_or("FAILURE_REASON_ERROR")
            ))),
        }
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        let call = self
            .client
            .get(format!("{}/v2/router/track/{}?no_inflight_updates=true", self.url, URL_SAFE.encode(payment_hash.0)))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose());
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return match Lnd::error(&answer) {
                LnError::NotFound => Ok(None),
                error => Err(error),
            };
        }
        let payment = match Lnd::final_payment(&answer) {
            Ok(payment) => payment,
            Err(LnError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(payment
            .filter(|payment| payment.status.as_deref() == Some("SUCCEEDED"))
            .map(|payment| Lnd::preimage_of(&payment))
            .transpose()?
            .filter(|preimage| preimage.hash() == *payment_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer { status: reqwest::StatusCode::OK, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn a_router_stream_is_read_to_its_final_state() {
        let preimage = "11".repeat(32);
        let stream = format!(
            "{{\"result\":{{\"status\":\"IN_FLIGHT\"}}}}\n\n{{\"result\":{{\"status\":\"SUCCEEDED\",\
             \"payment_preimage\":\"{preimage}\"}}}}\n"
        );
        let payment = Lnd::final_payment(&answer(&stream)).unwrap().expect("a final payment");
        assert_eq!(Lnd::preimage_of(&payment).unwrap().to_hex(), preimage);
        // Only in-flight updates: the stream ended before the payment did.
        assert!(Lnd::final_payment(&answer("{\"result\":{\"status\":\"IN_FLIGHT\"}}\n")).unwrap().is_none());
        let failed = Lnd::final_payment(&answer(
            "{\"result\":{\"status\":\"FAILED\",\"failure_reason\":\"FAILURE_REASON_NO_ROUTE\"}}",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(failed.failure_reason.as_deref(), Some("FAILURE_REASON_NO_ROUTE"));
    }

    #[test]
    fn errors_in_the_stream_are_mapped_like_the_gateways() {
        let error = |code: i64, message: &str| {
            let body = format!("{{\"error\":{{\"code\":{code},\"message\":\"{message}\",\"details\":[]}}}}\n");
            Lnd::final_payment(&answer(&body)).err().expect("an error")
        };
        assert!(matches!(error(2, "invoice is already paid"), LnError::Rejected(m) if m.contains("already paid")));
        assert!(matches!(error(5, "payment isn't initiated"), LnError::NotFound));
        assert!(matches!(error(16, "bad macaroon"), LnError::Unauthorized));
        assert!(matches!(error(14, "wallet locked"), LnError::Unavailable(_)));
        assert!(matches!(Lnd::final_payment(&answer("not json")), Err(LnError::BadResponse(_))));
    }

    #[test]
    fn the_fee_limit_is_a_percent_with_a_floor_for_small_prices() {
        assert_eq!(fee_limit_msat(350_000), MIN_FEE_LIMIT_MSAT);
        assert_eq!(fee_limit_msat(100_000_000), 1_000_000);
    }
}
