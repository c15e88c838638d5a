//! Core Lightning over `clnrest`: a rune in the `Rune` header, JSON-RPC methods as `POST /v1/<method>`.
//!
//! `invoice` makes an invoice (`amount_msat`, a unique `label`, `description`, `expiry`); `listinvoices` with a
//! `payment_hash` reports it (`status` is `unpaid`, `paid` or `expired`). Failed calls answer with a JSON-RPC
//! error object (`{"code", "message"}`); rune failures are 401/403 or a "Not authorized" message. As a payer (for
//! refunds, with a rune that allows it), `pay` pays a `bolt11` (`status` `complete` with `payment_preimage`, or
//! `pending`/`failed`) and `listpays` with a `payment_hash` finds the payment again (`preimage` once complete).
//! `pay` is given `retry_for` seconds to find a route, and its call that long and a little more, whatever the
//! deadline of the other calls. clnrest of v23.08 also requires a `Nodeid` header (the node's public key); later
//! versions ignore it, so it is sent whenever it is configured.

use std::time::Duration;

use async_trait::async_trait;
use mesh402_l402::{PaymentHash, Preimage};
use serde::Deserialize;

use crate::http::{self, Answer, Secret};
use crate::{CreatedInvoice, InvoicePayer, InvoiceRequest, InvoiceState, LightningBackend, LnError};

/// How to reach a Core Lightning node's `clnrest` plugin.
#[derive(Clone, PartialEq, Eq)]
pub struct ClnSettings {
    /// The clnrest base URL, e.g. `https://127.0.0.1:3010`.
    pub rest_url: String,
    /// A rune allowing `invoice` and `listinvoices`.
    pub rune: Secret,
    /// clnrest's TLS certificate (PEM); when set, exactly this certificate is trusted.
    pub tls_cert_pem: Option<Vec<u8>>,
    /// The deadline of every call.
    pub timeout: Duration,
    /// The node's public key (66 hex digits), sent as the `Nodeid` header that clnrest v23.08 requires.
    pub node_id: Option<String>,
}

impl std::fmt::Debug for ClnSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClnSettings")
            .field("rest_url", &self.rest_url)
            .field("rune", &self.rune)
            .field("tls_cert_pinned", &self.tls_cert_pem.is_some())
            .field("timeout", &self.timeout)
            .field("node_id", &self.node_id)
            .finish()
    }
}

/// A Core Lightning node as a [`LightningBackend`].
#[derive(Debug)]
pub struct Cln {
    url: String,
    rune: Secret,
    node_id: Option<String>,
    client: reqwest::Client,
}

/// The seconds `pay` may spend finding a route (`retry_for`); its call may take a little longer.
const PAY_SECONDS: u64 = 60;

impl Cln {
    /// Checks the settings and builds the HTTP client (no call is made yet).
    pub fn new(settings: ClnSettings) -> Result<Cln, LnError> {
        if settings.rune.is_empty() {
            return Err(LnError::Rejected("the CLN rune is empty".into()));
        }
        if let Some(node_id) = &settings.node_id
            && !(node_id.len() == 66 && node_id.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(LnError::Rejected("the CLN node id must be 66 hex digits (the node's public key)".into()));
        }
        Ok(Cln {
            url: http::base_url("cln_rest_url", &settings.rest_url)?,
            rune: settings.rune,
            node_id: settings.node_id,
            client: http::client(settings.timeout, settings.tls_cert_pem.as_deref())?,
        })
    }

    async fn call(&self, method: &str, params: serde_json::Value) -> Result<Answer, LnError> {
        let mut call =
            self.client.post(format!("{}/v1/{method}", self.url)).header("Rune", self.rune.expose()).json(&params);
        if let Some(node_id) = &self.node_id {
            call = call.header("Nodeid", node_id);
        }
        if method == "pay" {
            call = call.timeout(Duration::from_secs(PAY_SECONDS + 15));
        }
        let answer = Answer::fetch(call).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        if let Some(error) = answer.common_error() {
            return Err(error);
        }
        let body = answer.json::<RpcError>().ok();
        let message = body.and_then(|body| body.message).unwrap_or_else(|| answer.excerpt());
        if message.to_ascii_lowercase().contains("not authorized") {
            return Err(LnError::Unauthorized);
        }
        Err(match answer.status.as_u16() {
            // JSON-RPC refusals (bad parameters, duplicate label, amount limits) come back as 400 or 500.
            400..=500 => LnError::Rejected(message),
            status => LnError::BadResponse(format!("HTTP {status}: {message}")),
        })
    }
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct InvoiceResponse {
    payment_hash: String,
    bolt11: String,
}

#[derive(Deserialize)]
struct ListInvoicesResponse {
    invoices: Vec<ListedInvoice>,
}

#[derive(Deserialize)]
struct ListedInvoice {
    payment_hash: String,
    status: String,
    #[serde(default)]
    payment_preimage: Option<String>,
}

#[async_trait]
impl LightningBackend for Cln {
    fn name(&self) -> &'static str {
        "cln"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        if request.amount.0 == 0 {
            return Err(LnError::Rejected("amountless invoices are not issued".into()));
        }
        // Labels must be unique per node; a random one never collides with the operator's own.
        let label = format!("mesh402-{}", hex::encode(rand::random::<[u8; 16]>()));
        let params = serde_json::json!({
            "amount_msat": request.amount.0,
            "label": label,
            "description": request.description,
            "expiry": request.expiry.as_secs(),
        });
        let answer = self.call("invoice", params).await?;
        let created: InvoiceResponse = answer.json()?;
        let reported = created
            .payment_hash
            .parse::<PaymentHash>()
            .map_err(|_| LnError::BadResponse("CLN returned a malformed payment hash".into()))?;
        http::check_invoice(&created.bolt11, request, Some(&reported))
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        let answer = self.call("listinvoices", serde_json::json!({ "payment_hash": payment_hash.to_string() })).await?;
        let listed: ListInvoicesResponse = answer.json()?;
        let wanted = payment_hash.to_string();
        let Some(invoice) = listed.invoices.into_iter().find(|invoice| invoice.payment_hash == wanted) else {
            return Err(LnError::NotFound);
        };
        match invoice.status.as_str() {
            "paid" => {
                let preimage = invoice
                    .payment_preimage
                    .and_then(|text| text.parse::<Preimage>().ok())
                    .filter(|preimage| preimage.hash() == *payment_hash);
                Ok(InvoiceState::Settled { preimage })
            }
            "unpaid" => Ok(InvoiceState::Open),
            "expired" => Ok(InvoiceState::Expired),
            other => Err(LnError::BadResponse(format!("CLN reported an unknown invoice status {other:?}"))),
        }
    }
}

#[derive(Deserialize)]
struct PayResponse {
    status: String,
    #[serde(default)]
    payment_preimage: Option<String>,
}

#[derive(Deserialize)]
struct ListPaysResponse {
    pays: Vec<ListedPay>,
}

#[derive(Deserialize)]
struct ListedPay {
    payment_hash: String,
    status: String,
    #[serde(default)]
    preimage: Option<String>,
}

/// A preimage CLN reported, if it is one and opens `payment_hash` (when known).
fn reported_preimage(text: Option<String>, payment_hash: Option<&PaymentHash>) -> Option<Preimage> {
    text.and_then(|text| text.parse::<Preimage>().ok())
        .filter(|preimage| payment_hash.is_none_or(|payment_hash| preimage.hash() == *payment_hash))
}

#[async_trait]
impl InvoicePayer for Cln {
    fn name(&self) -> &'static str {
        "cln"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let answer = self.call("pay", serde_json::json!({ "bolt11": bolt11, "retry_for": PAY_SECONDS })).await?;
        let paid: PayResponse = answer.json()?;
        match paid.status.as_str() {
            "complete" => reported_preimage(paid.payment_preimage, None)
                .ok_or_else(|| LnError::BadResponse("CLN reported the payment without a preimage".into())),
            // Still in flight: the outcome is not known yet (`listpays` tells later).
            "pending" => Err(LnError::Unavailable("CLN reports the payment as pending".into())),
            other => Err(LnError::Rejected(format!("CLN could not pay: status {other:?}"))),
        }
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        let answer = self.call("listpays", serde_json::json!({ "payment_hash": payment_hash.to_string() })).await?;
        let listed: ListPaysResponse = answer.json()?;
        let wanted = payment_hash.to_string();
        Ok(listed
            .pays
            .into_iter()
            .filter(|pay| pay.payment_hash == wanted && pay.status == "complete")
            .find_map(|pay| reported_preimage(pay.preimage, Some(payment_hash))))
    }
}
