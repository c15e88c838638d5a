//! Refunds: a paid job that cannot be delivered gives the money back, to whoever holds the proof of payment.
//!
//! A refund is owed for a job that ended `failed` (its retries exhausted, or its input unusable) when the server's
//! backend can pay ([`ServiceParts::refund_payer`](crate::ServiceParts)), for what was paid (less the fee for input
//! faults), until the credential expires. The client claims it with the same credential (macaroon *and* preimage:
//! the payment hash alone proves nothing) and a BOLT11 invoice for exactly that amount. The claim, with its
//! invoice, is recorded before anything is paid, by one conditional update (`failed → refunding`), so concurrent
//! claims and a concurrent retry cannot both win; after a crash, [`Service::resolve_refunds`] asks the wallet
//! whether that invoice was paid before paying it, and a refund always goes to the one recorded invoice, which a
//! Lightning node pays at most once. A payment the wallet refused at once returns the job to `failed` for another
//! claim; one whose outcome is unknown stays `refunding` until the wallet tells.

use std::sync::Arc;
use std::time::Duration;

use mesh402_core::JobState;
use mesh402_l402::{Msat, PaymentHash, Preimage};
use mesh402_ln::{InvoicePayer, LnError, invoice_facts};
use mesh402_store::{Job, JobFailure, JobId, NewJob, RefundClaim, RefundOutcome, RefundRecord};

use crate::{Service, ServiceError, unix_now};

/// How long one refund payment may take before its outcome is left to [`Service::resolve_refunds`].
pub const REFUND_PAYMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The least time a refund invoice must still be payable when it is claimed.
const MIN_INVOICE_VALIDITY_SECS: u64 = 60;

/// Where a job's refund stands, as its client is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundView {
    /// Owed and not claimed; `last_failure` says why an earlier claim's payment failed, if one did.
    Available {
        /// What will be paid.
        amount: Msat,
        /// Until when it can be claimed (unix seconds): the credential's expiry.
        deadline: u64,
        /// Why the last claim's payment failed.
        last_failure: Option<String>,
    },
    /// Claimed: the invoice is recorded, its payment under way or its outcome being found out.
    Pending {
        /// What is being paid.
        amount: Msat,
        /// The payment hash of the client's invoice.
        invoice_payment_hash: PaymentHash,
        /// When the claim was recorded.
        claimed_at: u64,
    },
    /// Paid.
    Paid {
        /// What was paid.
        amount: Msat,
        /// The payment hash of the client's invoice.
        invoice_payment_hash: PaymentHash,
        /// What the client's wallet revealed: the proof of payment.
        preimage: Preimage,
        /// When the payment was recorded.
        paid_at: u64,
    },
}

impl RefundView {
    /// The state's name as clients see it: `available`, `pending`, `paid`.
    pub fn state_name(&self) -> &'static str {
        match self {
            RefundView::Available { .. } => "available",
            RefundView::Pending { .. } => "pending",
            RefundView::Paid { .. } => "paid",
        }
    }

    /// The amount refunded (or to be).
    pub fn amount(&self) -> Msat {
        match self {
            RefundView::Available { amount, .. }
            | RefundView::Pending { amount, .. }
            | RefundView::Paid { amount, .. } => *amount,
        }
    }
}

/// Why a refund claim was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefundError {
    /// The credential does not verify (no preimage, a wrong one, a forged macaroon, expired, revoked).
    #[error("the credential does not prove payment")]
    Credential(#[source] crate::Rejection),
    /// There is no such job.
    #[error("no such job")]
    UnknownJob,
    /// The credential is valid but paid for another job.
    #[error("the credential paid for another job")]
    NotYourJob,
    /// The job owes no refund in its state (it delivered, or it is still being worked on).
    #[error("a {} job owes no refund", .0.as_str())]
    NotOwed(JobState),
    /// This server's Lightning backend cannot pay, so it offers no refunds.
    #[error("this server offers no refunds")]
    NotOffered,
    /// The invoice cannot be read or is not one a refund can go to.
    #[error("the invoice is not usable: {0}")]
    Invoice(String),
    /// The invoice is not for exactly the refundable amount.
    #[error("the invoice is for {found:?} msat, the refund is {expected:?}")]
    WrongAmount {
        /// What the refund is.
        expected: Msat,
        /// What the invoice asks for (`None`: no amount).
        found: Option<u64>,
    },
    /// The invoice expires too soon to be paid.
    #[error("the invoice has expired or expires within a minute")]
    InvoiceExpired,
    /// The server's wallet refused to pay the invoice; nothing was paid and a new claim may be made.
    #[error("the refund payment failed: {0}")]
    PaymentFailed(String),
    /// The service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<mesh402_store::StoreError> for RefundError {
    fn from(error: mesh402_store::StoreError) -> Self {
        RefundError::Service(error.into())
    }
}

/// What [`Service::resolve_refunds`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefundReport {
    /// Refunds found paid or paid now.
    pub paid: usize,
    /// Refunds whose outcome is still unknown.
    pub pending: usize,
}

impl Service {
    /// What a refund of this job would pay, and until when it can be claimed, if one is owed: the job's failure is
    /// recorded, the backend can pay, the amount is positive and the credential has not expired.
    fn refund_terms(&self, spec: &NewJob, failure: Option<&JobFailure>) -> Option<(Msat, u64)> {
        self.inner.refund_payer.as_ref()?;
        let failure = failure?;
        let fee = if failure.server_fault { 0 } else { self.inner.config.refund_input_fault_fee.0 };
        let amount = spec.price.0.saturating_sub(fee);
        (amount > 0 && unix_now() < spec.credential_expires_at).then_some((Msat(amount), spec.credential_expires_at))
    }

    /// The refund a failed job offers (before it is claimed), given its failure.
    pub(crate) fn offered_refund(
        &self,
        spec: &NewJob,
        failure: Option<&JobFailure>,
        last: Option<&RefundRecord>,
    ) -> Option<RefundView> {
        let (amount, deadline) = self.refund_terms(spec, failure)?;
        Some(RefundView::Available { amount, deadline, last_failure: last.and_then(|record| record.failure.clone()) })
    }

    /// Where the job's refund stands, if it has one.
    pub(crate) fn refund_view(&self, job: &Job) -> Option<RefundView> {
        let record = job.refund.as_ref();
        match job.state {
            JobState::Failed => self.offered_refund(&job.spec, job.failure.as_ref(), record),
            JobState::Refunding => record.map(|record| RefundView::Pending {
                amount: record.claim.amount,
                invoice_payment_hash: record.claim.payment_hash,
                claimed_at: record.claimed_at,
            }),
            JobState::Refunded => record.and_then(|record| {
                Some(RefundView::Paid {
                    amount: record.claim.amount,
                    invoice_payment_hash: record.claim.payment_hash,
                    preimage: record.preimage.clone()?,
                    paid_at: record.settled_at.unwrap_or(record.claimed_at),
                })
            }),
            JobState::Queued | JobState::Running | JobState::Succeeded => None,
        }
    }

    /// Whether this server pays refunds (its backend can pay).
    pub fn offers_refunds(&self) -> bool {
        self.inner.refund_payer.is_some()
    }

    /// Claims the refund of `job_id` with the credential that paid for it, to `bolt11`. A claim already recorded
    /// (by this call or an earlier or concurrent one) is answered with where it stands; nothing is paid twice.
    pub async fn claim_refund(
        &self,
        job_id: &JobId,
        credential: &crate::Credential,
        bolt11: &str,
    ) -> Result<RefundView, RefundError> {
        let token = self.verify(credential, None).map_err(RefundError::Credential)?;
        let job = self.inner.jobs.job(job_id).await?.ok_or(RefundError::UnknownJob)?;
        if job.spec.token_id != token.token_id {
            return Err(RefundError::NotYourJob);
        }
        match job.state {
            JobState::Failed => {}
            JobState::Refunding => return Ok(self.resolve_refund(&job).await),
            JobState::Refunded => return self.refund_view(&job).ok_or(RefundError::NotOwed(job.state)),
            other => return Err(RefundError::NotOwed(other)),
        }
        let payer = self.inner.refund_payer.clone().ok_or(RefundError::NotOffered)?;
        let (amount, _) = self.refund_terms(&job.spec, job.failure.as_ref()).ok_or(RefundError::NotOwed(job.state))?;
        let bolt11 = bolt11.trim();
        let facts = invoice_facts(bolt11).map_err(|error| RefundError::Invoice(error.to_string()))?;
        if facts.amount_msat != Some(amount.0) {
            return Err(RefundError::WrongAmount { expected: amount, found: facts.amount_msat });
        }
        if facts.expires_at < unix_now() + MIN_INVOICE_VALIDITY_SECS {
            return Err(RefundError::InvoiceExpired);
        }
        if facts.payment_hash == job.spec.payment_hash {
            return Err(RefundError::Invoice("that is the invoice this job was paid with".into()));
        }
        let claim = RefundClaim { amount, bolt11: bolt11.to_owned(), payment_hash: facts.payment_hash };
        if !self.inner.jobs.claim_refund(job_id, &claim, unix_now()).await? {
            // Another claim (or a retry) changed the job first: answer with what it did.
            let job = self.inner.jobs.job(job_id).await?.ok_or(RefundError::UnknownJob)?;
            return match job.state {
                JobState::Refunding | JobState::Refunded => {
                    self.refund_view(&job).ok_or(RefundError::NotOwed(job.state))
                }
                other => Err(RefundError::NotOwed(other)),
            };
        }
        tracing::info!(%job_id, amount_msat = amount.0, invoice = %claim.payment_hash, "refund claimed");
        crate::metrics::refund_claimed();
        match self.pay_refund(job_id, &claim, &payer, Attempt::First).await {
            Settled::Paid(view) => Ok(view),
            Settled::NotPaid(reason) => Err(RefundError::PaymentFailed(reason)),
            Settled::Unknown => Ok(pending_view(&claim, unix_now())),
        }
    }

    /// Finds out what became of every claimed refund whose payment was not settled (after a crash, or a wallet
    /// that did not answer): paid ones are recorded, unpaid ones paid now. Run at start-up and then periodically.
    pub async fn resolve_refunds(&self) -> Result<RefundReport, ServiceError> {
        let mut report = RefundReport::default();
        for job in self.inner.jobs.refunding().await? {
            match self.resolve_refund(&job).await {
                RefundView::Paid { .. } => report.paid += 1,
                _ => report.pending += 1,
            }
        }
        Ok(report)
    }

    /// Settles one refunding job if its outcome can be found out now; returns where it stands.
    async fn resolve_refund(&self, job: &Job) -> RefundView {
        let Some(record) = job.refund.as_ref() else {
            tracing::error!(job_id = %job.spec.job_id, "a refunding job has no recorded claim");
            return RefundView::Pending { amount: Msat(0), invoice_payment_hash: PaymentHash([0; 32]), claimed_at: 0 };
        };
        let Some(payer) = self.inner.refund_payer.clone() else {
            tracing::warn!(job_id = %job.spec.job_id, "a refund was claimed but this server's backend cannot pay now");
            return pending_view(&record.claim, record.claimed_at);
        };
        match self.pay_refund(&job.spec.job_id, &record.claim, &payer, Attempt::Resumed).await {
            Settled::Paid(view) => view,
            Settled::NotPaid(_) | Settled::Unknown => pending_view(&record.claim, record.claimed_at),
        }
    }

    /// Pays a recorded claim at most once from this process and records the outcome when it is certain.
    async fn pay_refund(
        &self,
        job_id: &JobId,
        claim: &RefundClaim,
        payer: &Arc<dyn InvoicePayer>,
        attempt: Attempt,
    ) -> Settled {
        let Some(_paying) = PayingGuard::enter(self, *job_id) else { return Settled::Unknown };
        let timeout = REFUND_PAYMENT_TIMEOUT;
        if attempt == Attempt::Resumed {
            // An earlier process may have paid before it could record it: ask before paying.
            let found = crate::metrics::timed_lightning_call(
                "refund_lookup",
                timeout,
                payer.paid_preimage(&claim.payment_hash),
            )
            .await;
            match found {
                Ok(Some(preimage)) => return self.record_paid(job_id, claim, preimage).await,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%job_id, error = %error, "cannot ask the wallet about a claimed refund; later");
                    return Settled::Unknown;
                }
            }
            if invoice_facts(&claim.bolt11).is_ok_and(|facts| facts.expires_at <= unix_now()) {
                tracing::warn!(%job_id, invoice = %claim.payment_hash, "a claimed refund's invoice expired and the \
                    wallet reports no payment; it stays pending until the wallet reports one or an operator settles it");
                return Settled::Unknown;
            }
        }
        match crate::metrics::timed_lightning_call("refund_pay", timeout, payer.pay(&claim.bolt11)).await {
            Ok(preimage) => self.record_paid(job_id, claim, preimage).await,
            // Refused before anything was sent: certainly unpaid. Only the first attempt can tell, since a resumed
            // one may be refused because an earlier attempt is still in flight.
            Err(error @ (LnError::Rejected(_) | LnError::Unauthorized)) if attempt == Attempt::First => {
                let reason = error.to_string();
                tracing::warn!(%job_id, reason = %reason, "the wallet refused the refund invoice; nothing was paid");
                let outcome = RefundOutcome::NotPaid(reason.clone());
                if let Err(error) = self.inner.jobs.settle_refund(job_id, &outcome, unix_now()).await {
                    tracing::error!(%job_id, error = %error, "cannot record a refused refund; it stays pending");
                    return Settled::Unknown;
                }
                Settled::NotPaid(reason)
            }
            Err(error) => {
                tracing::warn!(%job_id, error = %error, "the refund payment's outcome is unknown; asking again later");
                Settled::Unknown
            }
        }
    }

    async fn record_paid(&self, job_id: &JobId, claim: &RefundClaim, preimage: Preimage) -> Settled {
        if preimage.hash() != claim.payment_hash {
            tracing::error!(%job_id, "the wallet returned a preimage that does not open the refund invoice");
            return Settled::Unknown;
        }
        let now = unix_now();
        match self.inner.jobs.settle_refund(job_id, &RefundOutcome::Paid(preimage.clone()), now).await {
            Ok(_) => {
                tracing::info!(%job_id, amount_msat = claim.amount.0, "refund paid");
                crate::metrics::refund_paid(claim.amount.0);
                Settled::Paid(RefundView::Paid {
                    amount: claim.amount,
                    invoice_payment_hash: claim.payment_hash,
                    preimage,
                    paid_at: now,
                })
            }
            Err(error) => {
                // Paid but not recorded: the next resolution finds the payment by its hash and records it.
                tracing::error!(%job_id, error = %error, "a refund was paid but cannot be recorded yet");
                Settled::Unknown
            }
        }
    }
}

fn pending_view(claim: &RefundClaim, claimed_at: u64) -> RefundView {
    RefundView::Pending { amount: claim.amount, invoice_payment_hash: claim.payment_hash, claimed_at }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// Right after the claim was recorded: nothing can have been paid yet.
    First,
    /// Any later one (after a restart, or when the first one's outcome was unknown).
    Resumed,
}

enum Settled {
    Paid(RefundView),
    NotPaid(String),
    Unknown,
}

/// Marks a refund as being paid by this process; a second payment of the same job waits its turn by answering
/// "pending" instead.
struct PayingGuard {
    service: Service,
    job_id: JobId,
}

impl PayingGuard {
    fn enter(service: &Service, job_id: JobId) -> Option<PayingGuard> {
        let mut paying = service.inner.refunds_paying.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        paying.insert(job_id).then(|| PayingGuard { service: service.clone(), job_id })
    }
}

impl Drop for PayingGuard {
    fn drop(&mut self) {
        let mut paying = self.service.inner.refunds_paying.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        paying.remove(&self.job_id);
    }
}
