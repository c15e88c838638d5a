//! Paying invoices: the buyer's side. [`InvoicePayer`] is what a wallet must do for a client that buys over L402
//! (pay one BOLT11 invoice, hand back its preimage, and find the preimage of a payment it already made, so that a
//! client resuming after a crash never pays twice). Implementations: [`LnbitsPayer`] (a wallet's admin key; the
//! invoice key cannot spend) and [`DevPayEndpoint`] (a mesh402 server's development wallet, `POST /dev/pay`).

use std::time::Duration;

use async_trait::async_trait;
use mesh402_l402::{PaymentHash, Preimage};
use serde::Deserialize;

use crate::LnError;
use crate::http::{self, Answer, Secret};

/// A wallet that can pay BOLT11 invoices.
///
/// The contract every implementation keeps:
/// - [`pay`](Self::pay) pays the invoice at most once and returns the preimage the payee revealed; the caller has
///   already checked the amount. Paying an invoice this wallet has already paid either returns the same preimage
///   or fails; it never pays again.
/// - [`paid_preimage`](Self::paid_preimage) is read-only: the preimage of a settled payment this wallet made for
///   the payment hash, `None` when it made none (or cannot tell).
#[async_trait]
pub trait InvoicePayer: Send + Sync + std::fmt::Debug {
    /// A short name for messages: `lnbits`, `dev`.
    fn name(&self) -> &'static str;
    /// Pays `bolt11` and returns the preimage.
    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError>;
    /// The preimage of a payment already made for `payment_hash`, if any.
    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError>;
}

/// An LNbits wallet that pays with its admin key.
#[derive(Debug)]
pub struct LnbitsPayer {
    url: String,
    admin_key: Secret,
    client: reqwest::Client,
}

impl LnbitsPayer {
    /// Checks the settings and builds the HTTP client (no call is made yet). Paying can take as long as the
    /// route does, so `timeout` should be generous (a minute).
    pub fn new(url: &str, admin_key: Secret, timeout: Duration) -> Result<LnbitsPayer, LnError> {
        if admin_key.is_empty() {
            return Err(LnError::Rejected("the LNbits admin key is empty".into()));
        }
        Ok(LnbitsPayer { url: http::base_url("lnbits_url", url)?, admin_key, client: http::client(timeout, None)? })
    }

    fn error(answer: &Answer) -> LnError {
        if let Some(error) = answer.common_error() {
            return error;
        }
        match answer.status.as_u16() {
            404 => LnError::NotFound,
            400 | 402 | 422 | 520 => LnError::Rejected(answer.excerpt()),
            status => LnError::BadResponse(format!("HTTP {status}: {}", answer.excerpt())),
        }
    }
}

#[derive(Deserialize)]
struct Sent {
    payment_hash: String,
}

#[derive(Deserialize)]
struct Status {
    paid: bool,
    #[serde(default)]
    preimage: Option<String>,
}

#[async_trait]
impl InvoicePayer for LnbitsPayer {
    fn name(&self) -> &'static str {
        "lnbits"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let call = self
            .client
            .post(format!("{}/api/v1/payments", self.url))
            .header("X-Api-Key", self.admin_key.expose())
            .json(&serde_json::json!({"out": true, "bolt11": bolt11}));
        let answer = Answer::fetch(call).await?;
        if !answer.status.is_success() {
            return Err(LnbitsPayer::error(&answer));
        }
        let sent: Sent = answer.json()?;
        let hash = sent
            .payment_hash
            .parse::<PaymentHash>()
            .map_err(|_| LnError::BadResponse("LNbits returned a malformed payment hash".into()))?;
        self.paid_preimage(&hash)
            .await?
            .ok_or_else(|| LnError::BadResponse("LNbits reports the payment but no preimage".into()))
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        let call = self
            .client
            .get(format!("{}/api/v1/payments/{payment_hash}", self.url))
            .header("X-Api-Key", self.admin_key.expose());
        let answer = Answer::fetch(call).await?;
        if answer.status.as_u16() == 404 {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(LnbitsPayer::error(&answer));
        }
        let status: Status = answer.json()?;
        if !status.paid {
            return Ok(None);
        }
        Ok(status.preimage.as_deref().and_then(|text| text.parse::<Preimage>().ok()))
    }
}

/// A mesh402 server's development wallet as a payer: `POST {server}/dev/pay`. It pays only that server's own
/// regtest invoices, and only while the server runs on the development wallet.
#[derive(Debug)]
pub struct DevPayEndpoint {
    url: String,
    client: reqwest::Client,
}

impl DevPayEndpoint {
    /// The payer for the server at `server_url`.
    pub fn new(server_url: &str, timeout: Duration) -> Result<DevPayEndpoint, LnError> {
        Ok(DevPayEndpoint { url: http::base_url("server", server_url)?, client: http::client(timeout, None)? })
    }
}

#[derive(Deserialize)]
struct DevPaid {
    preimage: String,
}

#[async_trait]
impl InvoicePayer for DevPayEndpoint {
    fn name(&self) -> &'static str {
        "dev"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let call = self.client.post(format!("{}/dev/pay", self.url)).json(&serde_json::json!({ "invoice": bolt11 }));
        let answer = Answer::fetch(call).await?;
        match answer.status.as_u16() {
            200 => {
                let paid: DevPaid = answer.json()?;
                paid.preimage.parse().map_err(|_| LnError::BadResponse("the preimage is not 64 hex digits".into()))
            }
            404 => Err(LnError::Rejected("the server has no development wallet (POST /dev/pay is absent)".into())),
            _ => Err(LnError::Rejected(answer.excerpt())),
        }
    }

    async fn paid_preimage(&self, _payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        // The development wallet answers a second payment of the same invoice with `already_paid` and keeps no
        // lookup by hash for payers; a client saves the preimage before using it, so this is never needed.
        Ok(None)
    }
}
