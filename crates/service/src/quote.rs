//! The unpaid path: the preflight (can this request succeed?) and the quote (an invoice and a macaroon bound to
//! the request). Nothing here stores anything.

use std::sync::Arc;

use mesh402_core::Preflight;
use mesh402_l402::{Challenge, Identifier, MintParams, Msat, PaymentHash, TokenId, mint};
use mesh402_ln::InvoiceRequest;

use crate::{ModelInput, ModelRequest, SERVICE_NAME, Service, ServiceError, unix_now};

/// A price quote: the challenge to send, and what it asks for.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Macaroon and invoice.
    pub challenge: Challenge,
    /// The invoice's payment hash.
    pub payment_hash: PaymentHash,
    /// The amount to pay.
    pub amount: Msat,
    /// When the invoice expires (unix seconds).
    pub expires_at: u64,
}

impl Service {
    /// Checks that `request` can succeed, before anyone pays for it: the picture's size (`Some`), or `None` for
    /// a prompt the generator accepts. A prompt to a generator that makes models from pictures only is refused
    /// here (`prompt_unsupported`), so it never gets an invoice.
    pub async fn preflight(&self, request: &Arc<ModelRequest>) -> Result<Option<Preflight>, ServiceError> {
        let generator = self.inner.generator.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || match &request.input {
            ModelInput::Image { bytes, kind } => generator.preflight(bytes, *kind, &request.params).map(Some),
            ModelInput::Prompt(prompt) => generator.preflight_prompt(prompt, &request.params).map(|()| None),
        })
        .await
        .map_err(ServiceError::Task)?
        .map_err(|error| {
            if error.is_client_error() { ServiceError::Input(error) } else { ServiceError::Generator(error) }
        })
    }

    /// Makes an invoice and a macaroon bound to `request`. Stores nothing.
    pub async fn quote(&self, request: &ModelRequest) -> Result<Quote, ServiceError> {
        let config = &self.inner.config;
        let invoice_request = InvoiceRequest {
            amount: config.price,
            description: format!("mesh402 {SERVICE_NAME}: one model, {} sats", config.price.sats()),
            expiry: config.invoice_expiry,
        };
        let invoice = crate::metrics::timed_lightning_call(
            "create_invoice",
            config.lightning_timeout,
            self.inner.lightning.create_invoice(&invoice_request),
        )
        .await
        .map_err(ServiceError::LightningUnavailable)?;
        let identifier = Identifier { payment_hash: invoice.payment_hash, token_id: TokenId(rand::random()) };
        let valid_until = unix_now().saturating_add(config.token_lifetime.as_secs());
        let macaroon = mint(
            &self.inner.keyring,
            &identifier,
            &MintParams {
                service: SERVICE_NAME,
                tier: 0,
                capabilities: &[],
                valid_until,
                request_binding: Some(request.binding()),
            },
        );
        crate::metrics::challenge_issued();
        Ok(Quote {
            challenge: Challenge { macaroon, invoice: invoice.bolt11 },
            payment_hash: invoice.payment_hash,
            amount: config.price,
            expires_at: invoice.expires_at,
        })
    }
}
