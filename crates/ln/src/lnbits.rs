//! LNbits: invoices through its HTTP API with a wallet's invoice key (`X-Api-Key`).
//!
//! `POST /api/v1/payments` with `"out": false` makes an invoice; `GET /api/v1/payments/{payment_hash}` reports
//! it. Two quirks shape the error mapping: a wrong key on create is answered `404 Wallet not found` (not 401),
//! and a lookup with a wrong key still answers, with only `paid` (no details), so a lookup cannot tell a wrong
//! key from an open invoice; it then reads as open.

use std::time::Duration;

use async_trait::async_trait;
use mesh402_l402::{PaymentHash, Preimage};
use serde::Deserialize;

use crate::http::{self, Answer, Secret};
use crate::{CreatedInvoice, InvoiceRequest, InvoiceState, LightningBackend, LnError, unix_now};

/// How to reach an LNbits wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnbitsSettings {
    /// The LNbits base URL, e.g. `https://lnbits.example.com`.
    pub url: String,
    /// The wallet's invoice (read) key; it can make invoices but not spend.
    pub invoice_key: Secret,
    /// The deadline of every call.
    pub timeout: Duration,
}

/// An LNbits wallet as a [`LightningBackend`].
#[derive(Debug)]
pub struct Lnbits {
    url: String,
    invoice_key: Secret,
    client: reqwest::Client,
}

impl Lnbits {
    /// Checks the settings and builds the HTTP client (no call is made yet).
    pub fn new(settings: LnbitsSettings) -> Result<Lnbits, LnError> {
        if settings.invoice_key.is_empty() {
            return Err(LnError::Rejected("the LNbits invoice key is empty".into()));
        }
        Ok(Lnbits {
            url: http::base_url("lnbits_url", &settings.url)?,
            invoice_key: settings.invoice_key,
            client: http::client(settings.timeout, None)?,
        })
    }

    fn error(answer: &Answer, creating: bool) -> LnError {
        if let Some(error) = answer.common_error() {
            return error;
        }
        let detail = answer.json::<ErrorBody>().ok().and_then(|body| body.detail).unwrap_or_else(|| answer.excerpt());
        match answer.status.as_u16() {
            404 if creating => LnError::Unauthorized,
            404 => LnError::NotFound,
            400 | 422 => LnError::Rejected(detail),
            status => LnError::BadResponse(format!("HTTP {status}: {detail}")),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "detail_text")]
    detail: Option<String>,
}

/// FastAPI's `detail` is a string, or a list of validation errors.
fn detail_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(Some(match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }))
}

#[derive(Deserialize)]
struct CreatedPayment {
    payment_hash: String,
    // Recent versions send both names; older ones only `payment_request`.
    #[serde(default)]
    bolt11: Option<String>,
    #[serde(default)]
    payment_request: Option<String>,
}

#[derive(Deserialize)]
struct PaymentStatus {
    paid: bool,
    #[serde(default)]
    preimage: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Option<PaymentDetails>,
}

#[derive(Deserialize)]
struct PaymentDetails {
    #[serde(default)]
    bolt11: Option<String>,
    #[serde(default)]
    payment_request: Option<String>,
}

#[async_trait]
impl LightningBackend for Lnbits {
    fn name(&self) -> &'static str {
        "lnbits"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        let body = serde_json::json!({
            "out": false,
            "amount": http::whole_sats(request)?,
            "unit": "sat",
            "memo": request.description,
            "expiry": request.expiry.as_secs(),
        });
        let call = self
            .client
            .post(format!("{}/api/v1/payments", self.url))
            .header("X-Api-Key", self.invoice_key.expose())
            .json(&body);
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnbits::error(&answer, true));
        }
        let created: CreatedPayment = answer.json()?;
        let reported = created
            .payment_hash
            .parse::<PaymentHash>()
            .map_err(|_| LnError::BadResponse("LNbits returned a malformed payment hash".into()))?;
        let bolt11 = created
            .bolt11
            .or(created.payment_request)
            .ok_or_else(|| LnError::BadResponse("LNbits returned no invoice".into()))?;
        http::check_invoice(&bolt11, request, Some(&reported))
    }

    /// `GET /api/v1/wallet` with the key: LNbits answers a payment's status to anyone, so only this call proves
    /// the key.
    async fn probe(&self) -> Result<(), LnError> {
        let call =
            self.client.get(format!("{}/api/v1/wallet", self.url)).header("X-Api-Key", self.invoice_key.expose());
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnbits::error(&answer, true));
        }
        let wallet: serde_json::Value = answer.json()?;
        if wallet.get("balance").is_none() {
            return Err(LnError::BadResponse("the answer to GET /api/v1/wallet is not an LNbits wallet".into()));
        }
        Ok(())
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        let call = self
            .client
            .get(format!("{}/api/v1/payments/{payment_hash}", self.url))
            .header("X-Api-Key", self.invoice_key.expose());
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(Lnbits::error(&answer, false));
        }
        let status: PaymentStatus = answer.json()?;
        if status.paid {
            let preimage = status.preimage.as_deref().and_then(|text| text.parse::<Preimage>().ok());
            // A preimage that does not hash to the invoice's hash is worthless; report it as unknown.
            let preimage = preimage.filter(|preimage| preimage.hash() == *payment_hash);
            return Ok(InvoiceState::Settled { preimage });
        }
        if status.status.as_deref() == Some("failed") {
            return Ok(InvoiceState::Canceled);
        }
        let bolt11 = status.details.and_then(|details| details.bolt11.or(details.payment_request));
        let expires_at = bolt11.and_then(|bolt11| http::invoice_expires_at(&bolt11));
        match expires_at {
            Some(expires_at) if expires_at <= unix_now() => Ok(InvoiceState::Expired),
            _ => Ok(InvoiceState::Open),
        }
    }
}
