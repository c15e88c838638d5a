//! Whether a challenge's invoice was paid, for the holder of its macaroon: a wallet that pays a QR code never
//! hands the page the preimage, so the server looks the invoice up and hands it over. The macaroon is verified
//! (signature under the keyring, caveats, expiry) before the node is asked anything, so forged or foreign
//! macaroons cost an HMAC chain and nothing else; lookups of verified macaroons share one [`LookupBucket`] per
//! service (its rate and burst are settings), so the node cannot be flooded through this path.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mesh402_l402::{Macaroon, PaymentHash, Preimage, VerifyContext, VerifyError, verify_unpaid};
use mesh402_ln::{InvoiceState, LnError};

use crate::{SERVICE_NAME, Service, ServiceError, unix_now};

/// Invoice lookups per second for the whole process, by default.
pub const DEFAULT_LOOKUPS_PER_SECOND: u32 = 20;
/// How many lookups may come at once before the rate applies, by default.
pub const DEFAULT_LOOKUP_BURST: u32 = 40;

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

/// The token bucket every invoice lookup of one service shares: `per_second` tokens a second, at most `burst`.
#[derive(Debug)]
pub struct LookupBucket {
    per_second: f64,
    burst: f64,
    /// The tokens left and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl LookupBucket {
    /// A full bucket (`per_second` and `burst` are at least 1).
    pub fn new(per_second: u32, burst: u32) -> LookupBucket {
        let burst = f64::from(burst.max(1));
        LookupBucket { per_second: f64::from(per_second.max(1)), burst, state: Mutex::new((burst, Instant::now())) }
    }

    /// Takes one token at `now`, or says how long until one is there.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, counted) = &mut *state;
        let elapsed = now.saturating_duration_since(*counted).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *counted = now.max(*counted);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
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
        self.inner.invoice_lookups.take(Instant::now()).map_err(InvoiceStatusError::Busy)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_its_burst_then_its_rate_with_no_clock_but_the_one_passed_in() {
        let bucket = LookupBucket::new(4, 3);
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.take(start).is_ok()), "the burst");
        let wait = bucket.take(start).unwrap_err();
        assert!((Duration::from_millis(240)..=Duration::from_millis(260)).contains(&wait), "{wait:?}");
        assert!(bucket.take(start + Duration::from_millis(250)).is_ok(), "a quarter of a second later, one more");
        assert!(bucket.take(start + Duration::from_millis(250)).is_err());
        assert!((0..3).all(|_| bucket.take(start + Duration::from_secs(60)).is_ok()), "full again, never fuller");
        assert!(bucket.take(start + Duration::from_secs(60)).is_err());
    }
}
