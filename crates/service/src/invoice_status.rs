//! Whether a challenge's invoice was paid, for the holder of its macaroon: a wallet that pays a QR code never
//! hands the page the preimage, so the server looks the invoice up and hands it over. The macaroon is verified
//! (signature under the keyring, caveats, expiry) before the node is asked anything, so forged or foreign
//! macaroons cost an HMAC chain and nothing else; lookups of verified macaroons share a token bucket per process
//! ([`LOOKUPS_PER_SECOND`], [`LOOKUP_BURST`]), so the node cannot be flooded through this path.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mesh402_l402::{Macaroon, PaymentHash, Preimage, VerifyContext, VerifyError, verify_unpaid};
use mesh402_ln::{InvoiceState, LnError};

use crate::{SERVICE_NAME, Service, ServiceError, unix_now};

/// Invoice lookups per second for the whole process.
pub const LOOKUPS_PER_SECOND: f64 = 20.0;
/// How many lookups may come at once before the rate applies.
pub const LOOKUP_BURST: f64 = 40.0;

/// The state of a challenge's invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvoiceStatus {
    /// Not paid yet, and still payable.
    Open,
    /// Paid. The preimage is there when the backend reveals it and it matches the payment hash.
    Paid {
        /// The proof of payment, which completes the credential.
        preimage: Option<Preimage>,
    },
    /// Not paid and no longer payable (expired or cancelled).
    Expired,
    /// The backend has no record of it (the development wallet forgets unpaid invoices when it restarts).
    Unknown,
}

/// Why an invoice's status could not be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvoiceStatusError {
    /// The macaroon is not one this server minted for this service, or it expired.
    #[error("the macaroon was refused")]
    Rejected(#[from] VerifyError),
    /// Too many lookups right now; one is allowed again after this long.
    #[error("too many invoice lookups")]
    Busy(Duration),
    /// The Lightning backend could not answer in time.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A token bucket shared by every lookup of the process: the tokens left and when it was last filled.
static BUCKET: Mutex<Option<(f64, Instant)>> = Mutex::new(None);

/// Takes one token, or says how long until one is there.
fn take_token() -> Result<(), Duration> {
    let mut bucket = BUCKET.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = Instant::now();
    let (tokens, filled) = bucket.get_or_insert((LOOKUP_BURST, now));
    *tokens = (*tokens + now.duration_since(*filled).as_secs_f64() * LOOKUPS_PER_SECOND).min(LOOKUP_BURST);
    *filled = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        Ok(())
    } else {
        Err(Duration::from_secs_f64((1.0 - *tokens) / LOOKUPS_PER_SECOND))
    }
}

impl Service {
    /// The state of the invoice `macaroon` was issued with. The macaroon must verify (without a preimage) under
    /// this server's keyring; nothing else is trusted, and the payment hash asked about is the one it carries.
    pub async fn invoice_status(
        &self,
        macaroon: &Macaroon,
    ) -> Result<(PaymentHash, InvoiceStatus), InvoiceStatusError> {
        let revoked = &self.inner.config.revoked_tokens;
        let context = VerifyContext {
            service: SERVICE_NAME,
            now_unix: unix_now(),
            request_binding: None,
            is_revoked: &|token_id| revoked.contains(token_id),
        };
        let token = verify_unpaid(macaroon, &self.inner.keyring, &context)?;
        take_token().map_err(InvoiceStatusError::Busy)?;
        let payment_hash = token.payment_hash;
        let lookup = crate::metrics::timed_lightning_call(
            "lookup_invoice",
            self.inner.config.lightning_timeout,
            self.inner.lightning.lookup_invoice(&payment_hash),
        )
        .await;
        let status = match lookup {
            Ok(InvoiceState::Open) => InvoiceStatus::Open,
            Ok(InvoiceState::Settled { preimage }) => {
                // A backend's word is checked: only a preimage that hashes to the payment hash is handed out.
                InvoiceStatus::Paid { preimage: preimage.filter(|preimage| preimage.hash() == payment_hash) }
            }
            Ok(InvoiceState::Expired | InvoiceState::Canceled) => InvoiceStatus::Expired,
            Err(LnError::NotFound) => InvoiceStatus::Unknown,
            Err(error) => return Err(ServiceError::LightningUnavailable(error).into()),
        };
        Ok((payment_hash, status))
    }
}
