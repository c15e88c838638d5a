//! Job records: what a paid request asked for, where it stands, and what it produced; and [`JobStore`], the
//! contract every store of them keeps.

use async_trait::async_trait;
use mesh402_core::{Format, InputKind, JobState, MeshParams, Stage};
use mesh402_l402::{Msat, PaymentHash, Preimage, RequestBinding, TokenId};

use crate::{JobId, ModelId, StoreError, WorkerId};

/// A job as the service records it when a paid credential is first redeemed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The job's id.
    pub job_id: JobId,
    /// The L402 token id that paid for it; unique across all jobs.
    pub token_id: TokenId,
    /// The payment hash of the invoice that paid for it.
    pub payment_hash: PaymentHash,
    /// The request binding the credential commits to.
    pub request_binding: RequestBinding,
    /// What the model is made from: a picture's kind, or a prompt.
    pub input_kind: InputKind,
    /// The generator parameters (stored as their JSON).
    pub params: MeshParams,
    /// When the credential expires (unix seconds); a failed job may be retried, or its refund claimed, until then.
    pub credential_expires_at: u64,
    /// What the client paid (the price in force when the credential was first redeemed); what a refund is
    /// computed from.
    pub price: Msat,
    /// When the job was recorded (unix seconds).
    pub created_at: u64,
}

/// What a finished job produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// The stored model's id; the download URL carries it.
    pub model_id: ModelId,
    /// The model's format: its primary file is [`Format::file_name`] inside the model, of
    /// [`Format::media_type`].
    pub format: Format,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// Triangles in the mesh.
    pub n_faces: u32,
    /// Vertices in the mesh.
    pub n_vertices: u32,
    /// The same model in other formats, stored beside the primary file (each named [`Format::file_name`]).
    pub other_formats: Vec<Format>,
    /// Whether a preview picture ([`mesh402_core::PREVIEW_FILE_NAME`]) is stored with it.
    pub preview: bool,
}

/// Why a job failed, in the words the client is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// A stable snake_case code.
    pub code: String,
    /// One sentence a person understands.
    pub message: String,
    /// True when the server, not the input, was at fault: the client is told to try again later rather than to
    /// change the request.
    pub server_fault: bool,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// What was recorded when the job was claimed.
    pub spec: NewJob,
    /// Where it stands.
    pub state: JobState,
    /// How many generation attempts have started.
    pub attempts: u32,
    /// The stage last completed, while running.
    pub stage: Option<Stage>,
    /// Progress 0–100.
    pub progress: u8,
    /// The result, once succeeded.
    pub output: Option<JobOutput>,
    /// The last failure, if any.
    pub failure: Option<JobFailure>,
    /// The last refund claim, if one was made.
    pub refund: Option<RefundRecord>,
    /// When the record last changed (unix seconds).
    pub updated_at: u64,
}

/// A refund claim as it is recorded before anything is paid: the one invoice the refund goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundClaim {
    /// The amount; the invoice is for exactly this.
    pub amount: Msat,
    /// The client's BOLT11 invoice.
    pub bolt11: String,
    /// Its payment hash: the payment is found again by it after a crash.
    pub payment_hash: PaymentHash,
}

/// A recorded refund claim and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    /// The claim.
    pub claim: RefundClaim,
    /// When it was recorded (unix seconds).
    pub claimed_at: u64,
    /// The preimage the client's wallet revealed, once paid: the proof that the refund arrived.
    pub preimage: Option<Preimage>,
    /// When the outcome was recorded (unix seconds).
    pub settled_at: Option<u64>,
    /// Why the payment failed, when it did (the job is then `failed` again and a new claim may be made).
    pub failure: Option<String>,
}

/// How a refund's payment ended, as [`JobStore::settle_refund`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Paid: the client's wallet revealed this preimage.
    Paid(Preimage),
    /// Certainly not paid (the wallet refused the invoice): the job returns to `failed`.
    NotPaid(String),
}

/// A worker's hold on a running job: only the holder records the job's progress and outcome, and the holder
/// renews it while it works. A job whose lease has run out (its worker died or stalled) may be taken by another
/// worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The worker holding it.
    pub owner: WorkerId,
    /// Until when (unix seconds); after that, another worker may take the job.
    pub expires_at: u64,
}

/// One failed attempt, as [`JobStore::failures`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The attempt's number (1 for the first since the job was last queued by a client).
    pub attempt: u32,
    /// Why it failed.
    pub failure: JobFailure,
    /// When (unix seconds).
    pub failed_at: u64,
}

/// The outcome of [`JobStore::claim`].
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// No job existed for the token: this one was recorded.
    Created(Job),
    /// A job already exists for the token (it may be for other content: the caller compares bindings).
    Existing(Job),
}

/// Durable job records.
///
/// Contract: every method is atomic. A job's state changes only along `queued → running → succeeded | failed`,
/// `failed → queued` ([`requeue`](Self::requeue)), `failed → refunding` ([`claim_refund`](Self::claim_refund)) and
/// `refunding → refunded | failed` ([`settle_refund`](Self::settle_refund)); each change is one conditional
/// update, so a requeue and a refund claim of one failed job never both succeed, and a refunding or refunded job is
/// never started, failed or requeued. [`claim`](Self::claim) is the only way a job is created and it is keyed by
/// the token id, so concurrent claims of one token yield exactly one `Created`; every other caller gets
/// `Existing`. A running job is held by one worker's [`Lease`]: it is started
/// ([`start_attempt`](Self::start_attempt), [`next_job`](Self::next_job)) only when queued, or running under no
/// lease or one that has run out; and only its holder's progress, success or failure is recorded, so of two
/// workers that both generated one job, at most one outcome is kept. Missing jobs are `Ok(None)`, never an error.
/// State changes on an unknown job id are no-ops. A value the store cannot read back is [`StoreError::Corrupt`],
/// never a silent default. `mesh402-testkit`'s `job_store_story` checks all of this; every implementation runs it.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Records `job` unless a job for its token already exists; returns which happened, with the stored job.
    async fn claim(&self, job: &NewJob) -> Result<Claim, StoreError>;
    /// The job paid for by this token id.
    async fn job_by_token(&self, token_id: &TokenId) -> Result<Option<Job>, StoreError>;
    /// The job with this id.
    async fn job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Marks the job running under `lease` and counts the attempt, if it is queued, or running with no live lease
    /// (not even one of the same worker: a job runs once at a time); returns the attempt number (1 for the first),
    /// or 0 when the job is unknown, finished, or held by a live lease.
    async fn start_attempt(&self, job_id: &JobId, lease: &Lease, now: u64) -> Result<u32, StoreError>;
    /// Takes the oldest job that [`start_attempt`](Self::start_attempt) would start for `lease` (queued, or running
    /// with a lease that has run out) and starts it, in one step: concurrent callers never take the same job.
    /// Returns it as it now stands (running, its attempt counted), or `None` when there is no such job.
    async fn next_job(&self, lease: &Lease, now: u64) -> Result<Option<Job>, StoreError>;
    /// Extends the lease of a running job its owner holds; returns whether it still held it (false: the job was
    /// taken by another worker, finished, or is unknown).
    async fn renew_lease(&self, job_id: &JobId, lease: &Lease, now: u64) -> Result<bool, StoreError>;
    /// Ends every lease at once: for a process that knows it is the only worker on this store (an embedded SQLite
    /// file after a restart), so that the jobs its predecessor held are resumed at once rather than after their
    /// leases run out.
    async fn expire_leases(&self, now: u64) -> Result<(), StoreError>;
    /// Records progress of a running job that `owner` holds.
    async fn record_progress(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        stage: Stage,
        percent: u8,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Marks a running job that `owner` holds succeeded with its output; returns whether it did (false: another
    /// worker holds it or it is no longer running, and this output must not be kept).
    async fn succeed(&self, job_id: &JobId, owner: &WorkerId, output: &JobOutput, now: u64)
    -> Result<bool, StoreError>;
    /// Records a failure of a running job that `owner` holds, with the attempt's number: `retry_later` puts the job
    /// back in the queue (its lease ended), otherwise it is marked failed. Returns whether it did; a failure from a
    /// worker that does not hold the job changes and lists nothing.
    async fn fail(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        failure: &JobFailure,
        retry_later: bool,
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Every failure recorded for the job, oldest first.
    async fn failures(&self, job_id: &JobId) -> Result<Vec<FailedAttempt>, StoreError>;
    /// Puts a failed job back in the queue with its attempts reset (the client retried with its still-valid
    /// credential); returns whether the job was failed.
    async fn requeue(&self, job_id: &JobId, now: u64) -> Result<bool, StoreError>;
    /// Jobs queued or running, oldest first: the work to resume after a restart.
    async fn unfinished(&self) -> Result<Vec<Job>, StoreError>;
    /// Records a refund claim and moves the job from `failed` to `refunding`, in one step; returns whether it did
    /// (false: the job is not failed, for example because a concurrent claim won, or it is unknown). The claim
    /// is durable before this returns, so it is recorded before anything is paid.
    async fn claim_refund(&self, job_id: &JobId, claim: &RefundClaim, now: u64) -> Result<bool, StoreError>;
    /// Records how a refunding job's payment ended: `refunded`, or `failed` again when it was certainly not paid.
    /// Returns whether the job was refunding.
    async fn settle_refund(&self, job_id: &JobId, outcome: &RefundOutcome, now: u64) -> Result<bool, StoreError>;
    /// Jobs whose refund is claimed but not settled, oldest first: the payments to resolve after a restart.
    async fn refunding(&self) -> Result<Vec<Job>, StoreError>;
    /// Up to `limit` jobs created before `created_before` (unix seconds) and [at rest](JobState::AT_REST), oldest
    /// first: past their retention. Paid work still queued or running, and refunds being paid, are never listed.
    async fn at_rest_before(&self, created_before: u64, limit: u32) -> Result<Vec<Job>, StoreError>;
    /// Removes a job's record and its failures if the job is [at rest](JobState::AT_REST), in one step; returns
    /// whether it did (false: unknown, or it moved on since it was read, for example a refund claimed or a retry
    /// started meanwhile).
    async fn delete_at_rest(&self, job_id: &JobId) -> Result<bool, StoreError>;
    /// Whether a job names this model as its output (a stored model no job names is an orphan).
    async fn model_recorded(&self, model_id: &ModelId) -> Result<bool, StoreError>;
    /// How many jobs are in each state, every state listed (zero included), in [`JobState::ALL`]'s order.
    async fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError>;
}
