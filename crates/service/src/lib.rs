//! The application core of mesh402: it quotes prices, redeems paid credentials and runs durable jobs.
//!
//! Data flows one way: the HTTP layer turns a request into a [`ModelRequest`], then either asks for a
//! [`Quote`] (no credential: an invoice and a macaroon bound to the request, see `quote.rs`) or
//! [`Service::redeem`]s a credential (`redeem.rs`), which verifies it ([`Service::verify`], the one place a
//! credential is checked), claims the token's one job in the [`JobStore`] and starts it on a worker
//! (`worker.rs`). Workers run the [`ModelGenerator`] on blocking threads, store the model through the
//! [`FileStore`] and record the outcome; the sweeper (`sweep.rs`) removes what is past its retention. This crate
//! knows no HTTP; it holds its backends as trait objects chosen once at start-up.

#![deny(missing_docs)]

mod bounded;
mod checked;
mod credential;
mod delivered;
mod invoice_status;
mod job_view;
pub mod metrics;
mod paid_work;
mod quote;
mod redeem;
mod refund;
mod request;
mod sweep;
mod worker;

pub use credential::{Credential, OfferedSchemes, Rejection, Scheme};
pub use invoice_status::{
    DEFAULT_LOOKUP_BURST, DEFAULT_LOOKUPS_PER_SECOND, InvoiceStatus, InvoiceStatusError, LookupBucket,
};
pub use job_view::JobView;
pub use paid_work::{PaidWork, PaidWorkGuard};
pub use quote::Quote;
pub use refund::{REFUND_PAYMENT_TIMEOUT, RefundError, RefundReport, RefundView};
pub use request::{MAX_PROMPT_BYTES, ModelInput, ModelRequest};
pub use sweep::SweepReport;
pub use worker::QUEUE_POLL;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh402_core::{GenerateError, ModelGenerator};
use mesh402_l402::{Keyring, Msat, TokenId};
use mesh402_ln::{InvoicePayer, LightningBackend, LnError};
use mesh402_store::{FileStore, JobId, JobStore, Lease, StoreError, WorkerId};
use tokio::sync::{Semaphore, watch};

/// What the keys binding `Payment` challenge ids are derived with from the server's secrets.
const PAYMENT_CHALLENGE_KEY_CONTEXT: &[u8] = b"mesh402 payment challenge";

/// The service name in macaroon caveats (`services=3d-model:0`, `3d-model_valid_until=…`).
pub const SERVICE_NAME: &str = "3d-model";

/// How many times a failing generation is attempted before its job is marked failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// How the service behaves. The server fills it from its configuration, which holds the defaults; this crate
/// has none of its own.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The price of one model.
    pub price: Msat,
    /// How long the client has to pay an invoice.
    pub invoice_expiry: Duration,
    /// How long a paid credential stays valid (to fetch the result, retry a failure or resume after a crash).
    pub token_lifetime: Duration,
    /// How many models are generated at once.
    pub workers: usize,
    /// How many times a failing generation is attempted before the job is marked failed (see [`MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// How long a call to the Lightning backend may take before the quote fails as unavailable.
    pub lightning_timeout: Duration,
    /// Token ids that are no longer accepted.
    pub revoked_tokens: HashSet<TokenId>,
    /// How long job records and model files are kept after the job was created.
    pub retention: Duration,
    /// Kept from a refund when the job failed because of its input (not the server's fault); usually zero.
    pub refund_input_fault_fee: Msat,
    /// Where generations run.
    pub generation: Generation,
    /// How long a worker's hold on a running job lasts unless renewed (it is renewed every third of it); a job
    /// whose worker died is taken by another after at most this long.
    pub lease: Duration,
    /// Invoice lookups per second for the holders of challenges, all clients together.
    pub invoice_lookups_per_second: u32,
    /// Invoice lookups at once before that rate applies.
    pub invoice_lookup_burst: u32,
    /// The payment schemes offered in a 402 and accepted in credentials.
    pub schemes: OfferedSchemes,
    /// The `Payment` scheme's realm (the server's public host): a challenge of another realm is refused.
    pub payment_realm: String,
}

/// Where the generations of this process's jobs run, and who else takes jobs from its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Here, and nowhere else: the store is this process's own (an embedded SQLite file). Jobs a predecessor
    /// left running are resumed at once at start-up.
    Sole,
    /// Here and in other processes sharing the store (PostgreSQL): this process also takes jobs from the shared
    /// queue, including those whose worker died.
    Shared,
    /// Elsewhere: this process (an API node) records jobs and answers for them; workers sharing its store
    /// generate them.
    Elsewhere,
}

/// Why the service could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request cannot succeed; the client must change it.
    #[error(transparent)]
    Input(GenerateError),
    /// The Lightning backend could not make an invoice in time.
    #[error("the Lightning backend is unavailable")]
    LightningUnavailable(#[source] LnError),
    /// Storage failed.
    #[error("storage failed")]
    Storage(#[from] StoreError),
    /// The generator failed through no fault of the input.
    #[error("the generator failed")]
    Generator(#[source] GenerateError),
    /// The generator made a model without any file.
    #[error("the generator made no file")]
    NoModelFile,
    /// A blocking task (the generator or the preflight) panicked or was cancelled.
    #[error("a blocking task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The request's parameters could not be written as canonical JSON.
    #[error("the parameters cannot be written as JSON")]
    Params(#[source] serde_json::Error),
    /// The `Payment` realm cannot bind a challenge (it is empty or holds `|`); the configuration prevents it.
    #[error("the Payment realm cannot bind a challenge")]
    PaymentRealm,
    /// A job the service was working with is no longer in the store.
    #[error("job {0} is no longer in the store")]
    JobVanished(JobId),
    /// A stored job holds a request this version cannot read.
    #[error("job {job_id} holds a request this version cannot read")]
    StoredRequest {
        /// The job.
        job_id: JobId,
        /// What could not be read.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a credential was not redeemed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// The credential is invalid, expired, unpaid or for another request: answer with a fresh challenge.
    #[error("credential rejected")]
    Rejected(#[from] Rejection),
    /// The credential was good but the service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for RedeemError {
    fn from(error: StoreError) -> Self {
        RedeemError::Service(error.into())
    }
}

/// Everything the service is built from.
pub struct ServiceParts {
    /// Behaviour.
    pub config: ServiceConfig,
    /// Server secrets from which macaroon root keys are derived.
    pub keyring: Keyring,
    /// Where invoices come from.
    pub lightning: Arc<dyn LightningBackend>,
    /// Job records.
    pub jobs: Arc<dyn JobStore>,
    /// Model files and inputs.
    pub files: Arc<dyn FileStore>,
    /// The generator.
    pub generator: Arc<dyn ModelGenerator>,
    /// The wallet refunds are paid from; `None` when the backend cannot pay (then no refund is offered).
    pub refund_payer: Option<Arc<dyn InvoicePayer>>,
}

/// The application core. Cheap to clone; every clone is the same service.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServiceConfig,
    keyring: Keyring,
    /// The keys that bind `Payment` challenge ids, derived from the keyring's secrets (current first).
    challenge_keys: Vec<mesh402_mpp::ChallengeKey>,
    lightning: Arc<dyn LightningBackend>,
    jobs: Arc<dyn JobStore>,
    files: Arc<dyn FileStore>,
    generator: Arc<dyn ModelGenerator>,
    refund_payer: Option<Arc<dyn InvoicePayer>>,
    /// Jobs whose refund this process is paying right now (at most one payment attempt at a time per job).
    refunds_paying: Mutex<HashSet<JobId>>,
    worker_permits: Arc<Semaphore>,
    /// This process's name as the holder of job leases.
    worker_id: WorkerId,
    /// Jobs being worked on by this process, with the channel their watchers listen to.
    active: Mutex<HashMap<JobId, watch::Sender<JobView>>>,
    /// The bucket of invoice lookups (`invoice_status.rs`).
    invoice_lookups: LookupBucket,
    /// Paid work in progress: generations here, paid requests in the HTTP layer.
    paid_work: PaidWork,
    /// Succeeded jobs for the credentials that replay them (`delivered.rs`).
    delivered: delivered::DeliveredJobs,
    /// Pictures that passed the preflight, for requests that send them again (`checked.rs`).
    checked: checked::CheckedPictures,
}

/// Seconds since the unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

impl Service {
    /// Builds the service. Call [`Service::resume_unfinished`] once the runtime is up to pick up old jobs.
    pub fn new(parts: ServiceParts) -> Service {
        let workers = parts.config.workers.max(1);
        let delivered = delivered::DeliveredJobs::new(parts.config.retention.as_secs());
        let invoice_lookups =
            LookupBucket::new(parts.config.invoice_lookups_per_second, parts.config.invoice_lookup_burst);
        Service {
            inner: Arc::new(Inner {
                invoice_lookups,
                config: parts.config,
                challenge_keys: parts
                    .keyring
                    .derived_keys(PAYMENT_CHALLENGE_KEY_CONTEXT)
                    .into_iter()
                    .map(mesh402_mpp::ChallengeKey::from_bytes)
                    .collect(),
                keyring: parts.keyring,
                lightning: parts.lightning,
                jobs: parts.jobs,
                files: parts.files,
                generator: parts.generator,
                refund_payer: parts.refund_payer,
                refunds_paying: Mutex::new(HashSet::new()),
                worker_permits: Arc::new(Semaphore::new(workers)),
                worker_id: WorkerId(rand::random()),
                active: Mutex::new(HashMap::new()),
                paid_work: PaidWork::new(),
                delivered,
                checked: checked::CheckedPictures::new(),
            }),
        }
    }

    /// The count of paid work in progress in this process, which unpaid work yields to. Generations count
    /// themselves; the HTTP layer counts a paid request while it parses and redeems it.
    pub fn paid_work(&self) -> &PaidWork {
        &self.inner.paid_work
    }

    /// A lease of this process on a job, from now.
    pub(crate) fn lease(&self) -> Lease {
        Lease { owner: self.inner.worker_id, expires_at: unix_now() + self.inner.config.lease.as_secs().max(1) }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// What a model made with `params` holds (its formats, a preview), as the generator says.
    pub fn deliverables(&self, params: &mesh402_core::MeshParams) -> mesh402_core::Deliverables {
        self.inner.generator.deliverables(params)
    }

    /// The Lightning backend's name.
    pub fn lightning_name(&self) -> &'static str {
        self.inner.lightning.name()
    }

    /// How many jobs the store holds in each state (for the metrics scrape).
    pub async fn job_counts(&self) -> Result<Vec<(mesh402_core::JobState, u64)>, ServiceError> {
        Ok(self.inner.jobs.count_by_state().await?)
    }

    /// The job's current view: live from its worker if it runs here, else from the store.
    pub async fn job(&self, job_id: &JobId) -> Result<Option<JobView>, ServiceError> {
        if let Some(view) = self.live_view(job_id) {
            return Ok(Some(view));
        }
        Ok(self.inner.jobs.job(job_id).await?.as_ref().map(|job| self.view(job)))
    }

    /// Every recorded failure of a job, oldest first.
    pub async fn failures(&self, job_id: &JobId) -> Result<Vec<mesh402_store::FailedAttempt>, ServiceError> {
        Ok(self.inner.jobs.failures(job_id).await?)
    }

    /// Waits until no job is being worked on by this process, or `timeout` passes; returns how many still run.
    pub async fn drain(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let running = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len();
            if running == 0 || tokio::time::Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn live_view(&self, job_id: &JobId) -> Option<JobView> {
        let active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        active.get(job_id).map(|sender| sender.borrow().clone())
    }

    /// Subscribes to a running job's updates, if it runs here.
    pub fn watch(&self, job_id: &JobId) -> Option<watch::Receiver<JobView>> {
        let active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        active.get(job_id).map(|sender| sender.subscribe())
    }

    /// Waits until the job is finished or `timeout` passes, and returns its latest view.
    pub async fn wait(&self, job_id: &JobId, timeout: Duration) -> Result<JobView, ServiceError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mut updates) = self.watch(job_id) {
                loop {
                    let view = updates.borrow_and_update().clone();
                    if view.is_finished() {
                        return Ok(view);
                    }
                    match tokio::time::timeout_at(deadline, updates.changed()).await {
                        Err(_) => return Ok(view),
                        Ok(Err(_)) => break, // The worker finished and left; the store has the outcome.
                        Ok(Ok(())) => {}
                    }
                }
            }
            let view = self.job(job_id).await?.ok_or(ServiceError::JobVanished(*job_id))?;
            if view.is_finished() || tokio::time::Instant::now() >= deadline {
                return Ok(view);
            }
            if self.watch(job_id).is_none() {
                // Unfinished but not running here (another process owns it): poll the store.
                tokio::time::sleep(Duration::from_millis(250).min(deadline - tokio::time::Instant::now())).await;
            }
        }
    }
}
