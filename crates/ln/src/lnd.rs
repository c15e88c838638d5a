//! LND over its REST API: an invoice macaroon in `Grpc-Metadata-macaroon`, LND's self-signed certificate pinned.
//!
//! `POST /v1/invoices` makes an invoice (`value_msat`, `memo`, `expiry`; the answer carries `r_hash` in base64);
//! `GET /v2/invoices/lookup?payment_hash=…` (base64url, LND 0.16 and later) reports it. Errors come as
//! grpc-gateway JSON (`{"code", "message"}`); gRPC code 5 is "not found" and 16 "unauthenticated".
//!
//! As the buyer's payer (a macaroon that may send, such as `admin.macaroon`): `POST /v1/channels/transactions`
//! (`SendPaymentSync`: `payment_request` in, `payment_error` or `payment_preimage` in base64 out) pays, and
//! `GET /v1/payments` (hex `payment_hash`, `payment_preimage` and `status`) finds a payment made earlier.

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
        if code == Some(14) || code == Some(4) {
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
        let answer = Answer::fetch(call).await?;
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

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    payment_error: Option<String>,
    #[serde(default)]
    payment_preimage: Option<String>,
}

#[derive(Deserialize)]
struct Payments {
    #[serde(default)]
    payments: Vec<Payment>,
}

#[derive(Deserialize)]
struct Payment {
    payment_hash: String,
    #[serde(default)]
    payment_preimage: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// How many of the node's most recent payments are searched for an earlier payment of an invoice.
const RECENT_PAYMENTS: u32 = 1000;

#[async_trait]
impl InvoicePayer for Lnd {
    fn name(&self) -> &'static str {
        "lnd"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let call = self
            .client
            .post(format!("{}/v1/channels/transactions", self.url))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose())
            .json(&serde_json::json!({ "payment_request": bolt11 }));
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnd::error(&answer));
        }
        let sent: SendResponse = answer.json()?;
        if let Some(error) = sent.payment_error.filter(|error| !error.is_empty()) {
            return Err(LnError::Rejected(format!("LND could not pay: {error}")));
        }
        sent.payment_preimage
            .and_then(|text| STANDARD.decode(text).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Preimage)
            .ok_or_else(|| LnError::BadResponse("LND reported the payment without a preimage".into()))
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        let call = self
            .client
            .get(format!(
                "{}/v1/payments?include_incomplete=false&reversed=true&max_payments={RECENT_PAYMENTS}",
                self.url
            ))
            .header("Grpc-Metadata-macaroon", self.macaroon_hex.expose());
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnd::error(&answer));
        }
        let listed: Payments = answer.json()?;
        let wanted = payment_hash.to_string();
        Ok(listed
            .payments
            .into_iter()
            .filter(|payment| payment.payment_hash == wanted && payment.status.as_deref() == Some("SUCCEEDED"))
            .find_map(|payment| payment.payment_preimage.and_then(|text| text.parse::<Preimage>().ok()))
            .filter(|preimage| preimage.hash() == *payment_hash))
    }
}
