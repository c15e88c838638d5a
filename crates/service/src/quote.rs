//! The unpaid path: the preflight (can this request succeed?) and the quote (an invoice and a macaroon bound to
//! the request). Nothing here stores anything.

use std::sync::Arc;

use mesh402_core::{PictureRequest, Preflight, PromptRequest};
use mesh402_l402::{Challenge, Identifier, MintParams, Msat, PaymentHash, TokenId, mint};
use mesh402_ln::InvoiceRequest;
use mesh402_mpp::{Binding, BodyDigest, ChallengeParts, ChargeRequest, PaymentChallenge};

use crate::{ModelInput, ModelRequest, SERVICE_NAME, Service, ServiceError, unix_now};

/// A price quote: the challenges to send (one invoice, offered through each scheme), and what they ask for.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Macaroon and invoice (minted whichever schemes are offered: it is how the invoice is bound).
    pub challenge: Challenge,
    /// The same invoice as a `Payment` challenge, when that scheme is offered.
    pub payment: Option<PaymentChallenge>,
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
    /// here (`prompt_unsupported`), so it never gets an invoice. Runs [`preflight_blocking`](Self::preflight_blocking)
    /// on the blocking pool.
    pub async fn preflight(&self, request: &Arc<ModelRequest>) -> Result<Option<Preflight>, ServiceError> {
        let (service, request) = (self.clone(), request.clone());
        tokio::task::spawn_blocking(move || service.preflight_blocking(&request)).await.map_err(ServiceError::Task)?
    }

    /// [`preflight`](Self::preflight) on the calling thread (it decodes the picture: a blocking call), for a caller
    /// that is on a blocking thread already.
    /// A picture that passed before, in a request with the same digest, is not decoded again (`checked.rs`).
    pub fn preflight_blocking(&self, request: &ModelRequest) -> Result<Option<Preflight>, ServiceError> {
        let generator = &self.inner.generator;
        let checked = match &request.input {
            ModelInput::Image { bytes, kind } => {
                // Parameters that cannot be written out are not in a binding: such a request is decoded, not looked up.
                let binding = request.exact_binding().ok();
                if let Some(checked) = binding.and_then(|binding| self.inner.checked.get(&binding)) {
                    return Ok(Some(checked));
                }
                let checked =
                    generator.preflight(PictureRequest { image: bytes, kind: *kind, params: &request.params });
                if let (Ok(passed), Some(binding)) = (&checked, binding) {
                    self.inner.checked.remember(binding, *passed);
                }
                checked.map(Some)
            }
            ModelInput::Prompt(prompt) => {
                generator.preflight_prompt(PromptRequest { prompt, params: &request.params }).map(|()| None)
            }
        };
        checked.map_err(|error| {
            if error.is_client_error() { ServiceError::Input(error) } else { ServiceError::Generator(error) }
        })
    }

    /// Makes an invoice and a macaroon bound to `request`, and the `Payment` challenge for the same invoice when
    /// that scheme is offered (`body_digest`: the digest of the body as the client sent it, which the `Payment`
    /// credential must come back with). Stores nothing. Both carry the token id derived from the payment hash, so
    /// the invoice buys one job whichever scheme presents it.
    pub async fn quote(&self, request: &ModelRequest, body_digest: Option<BodyDigest>) -> Result<Quote, ServiceError> {
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
        let identifier =
            Identifier { payment_hash: invoice.payment_hash, token_id: TokenId::of_payment(&invoice.payment_hash) };
        let valid_until = unix_now().saturating_add(config.token_lifetime.as_secs());
        let binding = request.binding();
        let macaroon = mint(
            &self.inner.keyring,
            &identifier,
            &MintParams {
                service: SERVICE_NAME,
                tier: 0,
                capabilities: &[],
                valid_until,
                request_binding: Some(binding),
            },
        );
        let payment = if config.schemes.offers(crate::Scheme::Payment) {
            let charge = ChargeRequest::new(
                config.price.sats(),
                &invoice.bolt11,
                invoice.payment_hash,
                Some(&invoice_request.description),
            );
            let parts = ChallengeParts {
                realm: &config.payment_realm,
                request: &charge,
                expires_unix: invoice.expires_at,
                digest: body_digest,
                binding: Binding { request: binding, valid_until },
                description: None,
            };
            let key = self.inner.challenge_keys.first().ok_or(ServiceError::PaymentRealm)?;
            Some(PaymentChallenge::issue(key, &parts).map_err(|_| ServiceError::PaymentRealm)?)
        } else {
            None
        };
        crate::metrics::challenge_issued();
        Ok(Quote {
            payment,
            challenge: Challenge { macaroon, invoice: invoice.bolt11 },
            payment_hash: invoice.payment_hash,
            amount: config.price,
            expires_at: invoice.expires_at,
        })
    }
}
