//! The application core of mesh402: it quotes prices, redeems paid credentials and runs durable jobs.
//!
//! Data flows one way: the HTTP layer turns a request into a [`ModelRequest`], then either asks for a
//! [`Quote`] (no credential: an invoice and a macaroon bound to the request) or [`Service::redeem`]s a
//! credential, which claims the token's one job in the [`JobStore`] and starts it on a worker. Workers run the
//! [`ModelGenerator`] on blocking threads, store the model through the [`FileStore`] and record the outcome.
//! This crate knows no HTTP; it holds its backends as trait objects chosen once at start-up.

#![deny(missing_docs)]

mod generator;
mod jobs;
mod request;

pub use generator::{EmbeddedGenerator, ModelGenerator};
pub use jobs::JobView;
pub use request::{ModelRequest, image_kind_name, parse_image_kind};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh402_l402::{
    Challenge, Credential, Identifier, Keyring, MintParams, Msat, PaymentHash, TokenId, VerifyContext, VerifyError,
    mint, verify,
};
use mesh402_ln::{InvoiceRequest, LightningBackend, LnError};
use mesh402_mesh::{MeshError, Preflight};
use mesh402_store::{Claim, FileStore, JobState, JobStore, NewJob, StoreError};
use tokio::sync::{Semaphore, watch};

/// The service name in macaroon caveats (`services=3d-model:0`, `3d-model_valid_until=…`).
pub const SERVICE_NAME: &str = "3d-model";

/// How the service behaves; resolved once from the server's configuration.
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
    /// How many times a failing generation is attempted before the job is marked failed.
    pub max_attempts: u32,
    /// How long a call to the Lightning backend may take.
    pub lightning_timeout: Duration,
    /// Token ids that are no longer accepted.
    pub revoked_tokens: HashSet<TokenId>,
    /// How long job records and model files are kept after the job was created.
    pub retention: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            price: Msat::from_sats(350),
            invoice_expiry: Duration::from_secs(600),
            token_lifetime: Duration::from_secs(24 * 3600),
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            max_attempts: 3,
            lightning_timeout: Duration::from_secs(10),
            revoked_tokens: HashSet::new(),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Why the service could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request cannot succeed; the client must change it.
    #[error(transparent)]
    Input(MeshError),
    /// The Lightning backend could not make an invoice in time.
    #[error("the Lightning backend is unavailable")]
    LightningUnavailable(#[source] LnError),
    /// Storage failed.
    #[error("storage failed")]
    Storage(#[from] StoreError),
    /// Something that should not happen did.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a credential was not redeemed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// The credential is invalid, expired, unpaid or for another request: answer with a fresh challenge.
    #[error("credential rejected: {0}")]
    Rejected(#[from] VerifyError),
    /// The credential was good but the service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

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

/// What one retention sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Jobs past their retention, removed with their model files.
    pub jobs: usize,
    /// Inputs left behind without a job (a crash between storing an input and claiming its job).
    pub orphan_inputs: usize,
}

/// How old an input without a job must be before the sweeper removes it: far longer than the moment between
/// storing an input and claiming its job.
const ORPHAN_INPUT_AGE_SECS: u64 = 3600;

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
}

/// The application core. Cheap to clone; every clone is the same service.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServiceConfig,
    keyring: Keyring,
    lightning: Arc<dyn LightningBackend>,
    jobs: Arc<dyn JobStore>,
    files: Arc<dyn FileStore>,
    generator: Arc<dyn ModelGenerator>,
    worker_permits: Semaphore,
    /// Jobs being worked on by this process, with the channel their watchers listen to.
    active: Mutex<HashMap<String, watch::Sender<JobView>>>,
}

/// Seconds since the unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

impl Service {
    /// Builds the service. Call [`Service::resume_unfinished`] once the runtime is up to pick up old jobs.
    pub fn new(parts: ServiceParts) -> Service {
        let workers = parts.config.workers.max(1);
        Service {
            inner: Arc::new(Inner {
                config: parts.config,
                keyring: parts.keyring,
                lightning: parts.lightning,
                jobs: parts.jobs,
                files: parts.files,
                generator: parts.generator,
                worker_permits: Semaphore::new(workers),
                active: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The Lightning backend's name.
    pub fn lightning_name(&self) -> &'static str {
        self.inner.lightning.name()
    }

    /// Checks that `request` can succeed, before anyone pays for it.
    pub async fn preflight(&self, request: &Arc<ModelRequest>) -> Result<Preflight, ServiceError> {
        let generator = self.inner.generator.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || generator.preflight(&request.image, request.kind, &request.params))
            .await
            .map_err(|error| ServiceError::Internal(format!("preflight panicked: {error}")))?
            .map_err(|error| {
                if error.is_client_error() {
                    ServiceError::Input(error)
                } else {
                    ServiceError::Internal(error.to_string())
                }
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
        let invoice =
            tokio::time::timeout(config.lightning_timeout, self.inner.lightning.create_invoice(&invoice_request))
                .await
                .map_err(|_| ServiceError::LightningUnavailable(LnError::Unavailable("timed out".into())))?
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
        Ok(Quote {
            challenge: Challenge { macaroon, invoice: invoice.bolt11 },
            payment_hash: invoice.payment_hash,
            amount: config.price,
            expires_at: invoice.expires_at,
        })
    }

    /// Verifies a credential for `request` and returns its job: created and started on first use, joined while
    /// it runs, returned as it is once finished, and started again if it failed (the credential is still good).
    pub async fn redeem(&self, request: &ModelRequest, credential: &Credential) -> Result<JobView, RedeemError> {
        let binding = request.binding();
        let revoked = &self.inner.config.revoked_tokens;
        let is_revoked = |token_id: &TokenId| revoked.contains(token_id);
        let token = verify(
            credential,
            &self.inner.keyring,
            &VerifyContext {
                service: SERVICE_NAME,
                now_unix: unix_now(),
                request_binding: Some(binding),
                is_revoked: &is_revoked,
            },
        )?;
        let token_id = token.token_id.to_string();
        // Fast path: the token already has a job (a replay, or a client polling by re-sending).
        if let Some(job) = self.inner.jobs.job_by_token(&token_id).await.map_err(ServiceError::from)? {
            return Ok(self.rejoin(job, request).await?);
        }
        // The input is stored before the job is claimed, so a claimed job always has its input.
        let job_id = hex::encode(rand::random::<[u8; 16]>());
        self.inner.files.put_input(&job_id, &request.image).await.map_err(ServiceError::from)?;
        let new_job = NewJob {
            job_id: job_id.clone(),
            token_id,
            payment_hash: token.payment_hash.to_string(),
            request_digest: binding.to_string(),
            image_kind: image_kind_name(request.kind).to_owned(),
            params_json: request.canonical_params(),
            credential_expires_at: token.valid_until.unwrap_or(0),
            created_at: unix_now(),
        };
        match self.inner.jobs.claim(&new_job).await.map_err(ServiceError::from)? {
            Claim::Created(job) => {
                tracing::info!(job_id = %job.spec.job_id, "job created");
                Ok(self.start(job))
            }
            Claim::Existing(job) => {
                // Another request with the same credential won the race; ours was never used.
                self.inner.files.delete_input(&job_id).await.map_err(ServiceError::from)?;
                Ok(self.rejoin(job, request).await?)
            }
        }
    }

    async fn rejoin(&self, job: mesh402_store::Job, request: &ModelRequest) -> Result<JobView, ServiceError> {
        match job.state {
            JobState::Succeeded => Ok(JobView::from(&job)),
            JobState::Queued | JobState::Running => Ok(self.start(job)),
            JobState::Failed => {
                tracing::info!(job_id = %job.spec.job_id, "retrying a failed job for its still-valid credential");
                let job_id = job.spec.job_id.clone();
                if self.inner.files.input(&job_id).await?.is_none() {
                    self.inner.files.put_input(&job_id, &request.image).await?;
                }
                self.inner.jobs.requeue(&job_id, unix_now()).await?;
                let job = self
                    .inner
                    .jobs
                    .job(&job_id)
                    .await?
                    .ok_or_else(|| ServiceError::Internal("requeued job vanished".into()))?;
                Ok(self.start(job))
            }
        }
    }

    /// Starts every job left queued or running by an earlier process.
    pub async fn resume_unfinished(&self) -> Result<usize, ServiceError> {
        let unfinished = self.inner.jobs.unfinished().await?;
        let count = unfinished.len();
        for job in unfinished {
            tracing::info!(job_id = %job.spec.job_id, state = job.state.as_str(), "resuming job");
            self.start(job);
        }
        Ok(count)
    }

    /// The job's current view: live from its worker if it runs here, else from the store.
    pub async fn job(&self, job_id: &str) -> Result<Option<JobView>, ServiceError> {
        if let Some(view) = self.live_view(job_id) {
            return Ok(Some(view));
        }
        Ok(self.inner.jobs.job(job_id).await?.as_ref().map(JobView::from))
    }

    /// The job, if `credential` is the one that paid for it. Status requests carry no image, so the request
    /// binding is not checked here; everything else is (signature, preimage, expiry, revocation).
    pub async fn job_for_credential(
        &self,
        job_id: &str,
        credential: &Credential,
    ) -> Result<Option<JobView>, ServiceError> {
        let verified = {
            // Scoped: the context holds a non-Sync callback and must not live across an await.
            let revoked = &self.inner.config.revoked_tokens;
            let is_revoked = |token_id: &TokenId| revoked.contains(token_id);
            let context = VerifyContext {
                service: SERVICE_NAME,
                now_unix: unix_now(),
                request_binding: None,
                is_revoked: &is_revoked,
            };
            verify(credential, &self.inner.keyring, &context)
        };
        let token = match verified {
            Ok(token) => token,
            Err(reason) => {
                tracing::info!(reason = reason.code(), "status request with an invalid credential");
                return Ok(None);
            }
        };
        let Some(job) = self.inner.jobs.job(job_id).await? else { return Ok(None) };
        if job.spec.token_id != token.token_id.to_string() {
            return Ok(None);
        }
        self.job(job_id).await
    }

    /// Every recorded failure of a job, oldest first: (attempt, failure, unix seconds).
    pub async fn failures(&self, job_id: &str) -> Result<Vec<(u32, mesh402_store::JobFailure, u64)>, ServiceError> {
        Ok(self.inner.jobs.failures(job_id).await?)
    }

    /// Removes jobs past their retention (records, model files, inputs) and inputs that never got a job.
    pub async fn sweep(&self, now: u64) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        let cutoff = now.saturating_sub(self.inner.config.retention.as_secs());
        loop {
            let expired = self.inner.jobs.created_before(cutoff, 500).await?;
            if expired.is_empty() {
                break;
            }
            for job in expired {
                if let Some(output) = &job.output {
                    self.inner.files.delete_model(&output.model_id).await?;
                }
                self.inner.files.delete_input(&job.spec.job_id).await?;
                self.inner.jobs.delete(&job.spec.job_id).await?;
                report.jobs += 1;
            }
        }
        for (job_id, written_at) in self.inner.files.list_inputs().await? {
            if written_at.saturating_add(ORPHAN_INPUT_AGE_SECS) < now && self.inner.jobs.job(&job_id).await?.is_none() {
                self.inner.files.delete_input(&job_id).await?;
                report.orphan_inputs += 1;
            }
        }
        if report != SweepReport::default() {
            tracing::info!(jobs = report.jobs, orphan_inputs = report.orphan_inputs, "retention sweep");
        }
        Ok(report)
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

    fn live_view(&self, job_id: &str) -> Option<JobView> {
        let active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        active.get(job_id).map(|sender| sender.borrow().clone())
    }

    /// Subscribes to a running job's updates, if it runs here.
    pub fn watch(&self, job_id: &str) -> Option<watch::Receiver<JobView>> {
        let active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        active.get(job_id).map(|sender| sender.subscribe())
    }

    /// Waits until the job is finished or `timeout` passes, and returns its latest view.
    pub async fn wait(&self, job_id: &str, timeout: Duration) -> Result<JobView, ServiceError> {
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
            let view =
                self.job(job_id).await?.ok_or_else(|| ServiceError::Internal(format!("job {job_id} vanished")))?;
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
