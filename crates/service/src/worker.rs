//! Workers: a claimed job runs here under this process's lease, on a blocking thread, with its progress published
//! and persisted; and the queue loop that takes jobs from a store shared with other processes.

use std::time::Duration;

use mesh402_core::{GenerateError, JobState, Model, PictureRequest, Progress, PromptRequest};
use mesh402_store::{Job, JobFailure, JobId, JobOutput, ModelId};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::{Generation, JobView, ModelInput, Service, ServiceError, unix_now};

/// A generation failure as the worker sees it.
struct Failure {
    code: &'static str,
    message: String,
    /// Worth another attempt without the client doing anything.
    retryable: bool,
    /// The server, not the input, was at fault.
    server_fault: bool,
}

impl From<GenerateError> for Failure {
    fn from(error: GenerateError) -> Self {
        let server_fault = !error.is_client_error();
        Failure { code: error.code(), message: error.to_string(), retryable: server_fault, server_fault }
    }
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        tracing::error!(error = %error, source = ?std::error::Error::source(&error), "job infrastructure failure");
        Failure {
            code: "generation_failed",
            message: "The model could not be generated because of a server fault.".into(),
            retryable: true,
            server_fault: true,
        }
    }
}

/// The first wait before recording an outcome again when the store cannot be written; each next wait doubles.
const RECORD_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait: after it (about a minute of tries in all) the outcome is left unrecorded, and the job resumes
/// at the next start or when its client sends the request again.
const RECORD_RETRY_LAST: Duration = Duration::from_secs(32);

/// Records a job's start or outcome, trying again while the store cannot be written (a database restarting, a full
/// disk), so that the requests waiting for the job get it once the store is back instead of only after a restart
/// or a request sent again. The caller keeps renewing the job's lease meanwhile (an outcome's).
async fn record_patiently<T, F>(
    job_id: JobId,
    what: &'static str,
    mut write: impl FnMut() -> F,
) -> Result<T, mesh402_store::StoreError>
where
    F: std::future::Future<Output = Result<T, mesh402_store::StoreError>>,
{
    let mut wait = RECORD_RETRY_FIRST;
    loop {
        match write().await {
            Err(error) if error.is_unavailable() && wait <= RECORD_RETRY_LAST => {
                tracing::warn!(%job_id, error = %error, retry_in = ?wait, "could not record the job's {what}; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            recorded => return recorded,
        }
    }
}

/// How often a process with free workers looks for jobs in a store it shares with other processes.
pub const QUEUE_POLL: Duration = Duration::from_millis(500);

impl Service {
    /// Makes sure the job is being worked on (by this process, unless generations run elsewhere) and returns its
    /// current view.
    pub(crate) fn start(&self, job: Job) -> JobView {
        if self.inner.config.generation == Generation::Elsewhere {
            // A worker sharing the store takes it from the queue; waiting requests read the store.
            return self.view(&job);
        }
        self.spawn_run(job, None).0
    }

    /// Runs `job` here unless it already runs here; `taken` is the permit of a job already started for this
    /// process's lease (taken from the queue). Returns the job's view, and whether a run was started (not when
    /// it runs here already, or it is finished).
    fn spawn_run(&self, job: Job, taken: Option<OwnedSemaphorePermit>) -> (JobView, bool) {
        let job_id = job.spec.job_id;
        let mut active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = active.get(&job_id) {
            return (sender.borrow().clone(), false);
        }
        let view = self.view(&job);
        if view.is_finished() {
            return (view, false);
        }
        let (sender, _) = watch::channel(view.clone());
        active.insert(job_id, sender.clone());
        drop(active);
        let service = self.clone();
        tokio::spawn(async move {
            service.run(job, taken, &sender).await;
            service.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&job_id);
        });
        (view, true)
    }

    /// Takes jobs from a store shared with other processes whenever this process has a free worker, until the
    /// task is dropped: jobs recorded by API nodes, and jobs whose worker died (their lease ran out). Only for
    /// [`Generation::Shared`]; returns at once otherwise.
    pub async fn work_queue(&self) {
        if self.inner.config.generation != Generation::Shared {
            return;
        }
        loop {
            let Ok(permit) = self.inner.worker_permits.clone().acquire_owned().await else { return };
            match self.inner.jobs.next_job(&self.lease(), unix_now()).await {
                Ok(Some(job)) => {
                    tracing::info!(job_id = %job.spec.job_id, attempt = job.attempts, "took a job from the queue");
                    // Not started when it already runs here (this process stalled past its own lease): that run
                    // goes on.
                    self.spawn_run(job, Some(permit));
                }
                Ok(None) => {
                    drop(permit);
                    tokio::time::sleep(QUEUE_POLL).await;
                }
                Err(error) => {
                    drop(permit);
                    tracing::warn!(error = %error, "could not read the job queue; trying again");
                    tokio::time::sleep(QUEUE_POLL * 4).await;
                }
            }
        }
    }

    async fn run(&self, job: Job, taken: Option<OwnedSemaphorePermit>, updates: &watch::Sender<JobView>) {
        let job_id = job.spec.job_id;
        let owner = self.inner.worker_id;
        let (_permit, mut started) = match taken {
            Some(permit) => (permit, Some(job.attempts)),
            None => {
                let waiting = std::time::Instant::now();
                let Ok(permit) = self.inner.worker_permits.clone().acquire_owned().await else { return };
                crate::metrics::queue_wait(waiting.elapsed());
                (permit, None)
            }
        };
        loop {
            let attempt = match started.take() {
                Some(attempt) => attempt,
                None => {
                    let started = record_patiently(job_id, "start", || {
                        // A fresh lease for each try.
                        let lease = self.lease();
                        async move { self.inner.jobs.start_attempt(&job_id, &lease, unix_now()).await }
                    })
                    .await;
                    match started {
                        Ok(attempt) => attempt,
                        Err(error) => {
                            tracing::error!(%job_id, error = %error, "could not start an attempt; the job stays queued");
                            return;
                        }
                    }
                }
            };
            if attempt == 0 {
                // Not to be worked on here (deleted, refunded by a claim, or taken by another worker).
                return;
            }
            updates.send_modify(|view| {
                view.state = JobState::Running;
                view.attempts = attempt;
                view.stage = None;
                view.progress = 0;
            });
            let started_at = std::time::Instant::now();
            let renewing = tokio::spawn(self.clone().renew_lease(job_id));
            let outcome = self.attempt(&job, updates).await;
            crate::metrics::generation(started_at.elapsed(), outcome.is_ok());
            match outcome {
                Ok(output) => {
                    let recorded = record_patiently(job_id, "success", || {
                        self.inner.jobs.succeed(&job_id, &owner, &output, unix_now())
                    })
                    .await;
                    renewing.abort();
                    match recorded {
                        Ok(true) => {}
                        Ok(false) => {
                            // Another worker took the job (this one stalled past its lease): its outcome counts.
                            tracing::warn!(%job_id, attempt, "lost the job's lease; this model is discarded");
                            self.discard_model(&output).await;
                            return;
                        }
                        Err(error) => {
                            tracing::error!(%job_id, error = %error, "could not record success; the job is resumed");
                            return;
                        }
                    }
                    self.delete_input(job_id).await;
                    crate::metrics::job_finished(JobState::Succeeded);
                    tracing::info!(%job_id, attempt, model_id = %output.model_id, faces = output.n_faces, "job succeeded");
                    updates.send_modify(|view| {
                        view.state = JobState::Succeeded;
                        view.stage = None;
                        view.progress = 100;
                        view.output = Some(output);
                        view.failure = None;
                    });
                    return;
                }
                Err(failure) => {
                    let retry = failure.retryable && attempt < self.inner.config.max_attempts;
                    tracing::warn!(%job_id, attempt, code = failure.code, reason = %failure.message, retry, "generation failed");
                    let record = JobFailure {
                        code: failure.code.to_owned(),
                        message: failure.message,
                        server_fault: failure.server_fault,
                    };
                    let recorded = record_patiently(job_id, "failure", || {
                        self.inner.jobs.fail(&job_id, &owner, &record, retry, unix_now())
                    })
                    .await;
                    renewing.abort();
                    match recorded {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(%job_id, attempt, "lost the job's lease; this failure is not recorded");
                            return;
                        }
                        Err(error) => {
                            tracing::error!(%job_id, error = %error, "could not record a failure; the job is resumed");
                            return;
                        }
                    }
                    if retry {
                        continue;
                    }
                    self.delete_input(job_id).await;
                    crate::metrics::job_finished(JobState::Failed);
                    let refund = self.offered_refund(&job.spec, Some(&record), job.refund.as_ref());
                    updates.send_modify(|view| {
                        view.state = JobState::Failed;
                        view.stage = None;
                        view.failure = Some(record);
                        view.refund = refund;
                    });
                    return;
                }
            }
        }
    }

    /// Renews this process's lease on a running job every third of its length, until aborted or the lease is
    /// lost.
    async fn renew_lease(self, job_id: JobId) {
        let every = (self.inner.config.lease / 3).max(Duration::from_millis(200));
        loop {
            tokio::time::sleep(every).await;
            match self.inner.jobs.renew_lease(&job_id, &self.lease(), unix_now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%job_id, "the job's lease was lost to another worker");
                    return;
                }
                // A database hiccup: the lease may still be renewed in time at the next tick.
                Err(error) => tracing::warn!(%job_id, error = %error, "could not renew the job's lease"),
            }
        }
    }

    /// Removes a model whose job another worker completed: only one model per job is kept.
    async fn discard_model(&self, output: &JobOutput) {
        if let Err(error) = self.inner.files.delete_model(&output.model_id).await {
            tracing::warn!(model_id = %output.model_id, error = %error, "could not remove a discarded model");
        }
    }

    /// A finished job's input is no longer needed; failing to remove it costs only disk space until the retention
    /// sweep removes it with its job.
    async fn delete_input(&self, job_id: JobId) {
        if let Err(error) = self.inner.files.delete_input(&job_id).await {
            tracing::warn!(%job_id, error = %error, "could not remove a finished job's input; it goes with its job");
        }
    }

    async fn attempt(&self, job: &Job, updates: &watch::Sender<JobView>) -> Result<JobOutput, Failure> {
        let job_id = job.spec.job_id;
        let stored_request =
            |source: Box<dyn std::error::Error + Send + Sync>| ServiceError::StoredRequest { job_id, source };
        let params = job.spec.params.clone();
        let stored = self.inner.files.input(&job_id).await.map_err(ServiceError::from)?.ok_or_else(|| Failure {
            code: "input_missing",
            message:
                "The uploaded picture or prompt is no longer stored; send the same request again with your credential."
                    .into(),
            retryable: false,
            server_fault: true,
        })?;
        let input =
            ModelInput::from_stored(job.spec.input_kind, stored).map_err(|error| stored_request(error.into()))?;

        let generator = self.inner.generator.clone();
        let jobs = self.inner.jobs.clone();
        let owner = self.inner.worker_id;
        let updates = updates.clone();
        // Each stage reached is saved, in order, by a task on the runtime rather than by the generator's thread
        // blocking on the store: a blocking thread that drives a store future itself panics when the runtime shuts
        // down under it (its timer is gone), and the generator need not wait for the database.
        let (stages, mut reached) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let saver = tokio::spawn(async move {
            while let Some(progress) = reached.recv().await {
                let saved = jobs.record_progress(&job_id, &owner, progress.stage, progress.percent, unix_now()).await;
                if let Err(error) = saved {
                    // Only what a resumed job shows is lost; the live progress is still published.
                    tracing::warn!(%job_id, error = %error, "could not save progress");
                }
            }
        });
        let paid_work = self.inner.paid_work.start();
        let generated = tokio::task::spawn_blocking(move || {
            let _paid_work = paid_work;
            let mut last_stage = None;
            let mut on_progress = |progress: Progress| {
                updates.send_modify(|view| {
                    view.stage = Some(progress.stage);
                    view.progress = progress.percent.min(99);
                });
                // Saved once per stage: enough to show where a resumed job was, cheap enough not to matter. The
                // saver holds the receiver until this closure's sender is dropped, so a send fails only when the
                // runtime is shutting down, and then there is nothing to save it with.
                if last_stage.replace(progress.stage) != Some(progress.stage) {
                    let _ = stages.send(progress);
                }
            };
            match &input {
                ModelInput::Image { bytes, kind } => {
                    generator.generate(PictureRequest { image: bytes, kind: *kind, params: &params }, &mut on_progress)
                }
                ModelInput::Prompt(prompt) => {
                    generator.generate_from_prompt(PromptRequest { prompt, params: &params }, &mut on_progress)
                }
            }
        })
        .await;
        // Every stage's save lands before the job's outcome is written.
        if let Err(error) = saver.await {
            tracing::warn!(%job_id, error = %error, "the progress saver stopped early");
        }
        let model: Model = generated.map_err(ServiceError::Task)??;

        let primary = model.files.first().ok_or(ServiceError::NoModelFile)?;
        let output = JobOutput {
            model_id: ModelId(rand::random()),
            format: model.format,
            bytes: primary.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&primary.bytes)),
            n_faces: model.stats.n_faces,
            n_vertices: model.stats.n_vertices,
            other_formats: model.formats().into_iter().skip(1).collect(),
            preview: model.has_preview(),
        };
        let files: Vec<(String, Vec<u8>)> = model.files.into_iter().map(|file| (file.name, file.bytes)).collect();
        self.inner.files.put_model(&output.model_id, &files).await.map_err(ServiceError::from)?;
        crate::metrics::stored(files.iter().map(|(_, bytes)| bytes.len() as u64).sum());
        Ok(output)
    }
}
