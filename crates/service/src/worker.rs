//! Workers: a claimed job runs here once, on a blocking thread, with its progress published and persisted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use mesh402_mesh::{ImageKind, MeshError, MeshParams, Model};
use mesh402_store::{Job, JobFailure, JobId, JobOutput, JobState, ModelId};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::{JobView, Service, ServiceError, unix_now};

/// A generation failure as the worker sees it.
struct Failure {
    code: &'static str,
    message: String,
    /// Worth another attempt without the client doing anything.
    retryable: bool,
    /// The server, not the input, was at fault.
    server_fault: bool,
}

impl From<MeshError> for Failure {
    fn from(error: MeshError) -> Self {
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

impl Service {
    /// Makes sure the job is being worked on by this process and returns its current view.
    pub(crate) fn start(&self, job: Job) -> JobView {
        let job_id = job.spec.job_id;
        let mut active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = active.get(&job_id) {
            return sender.borrow().clone();
        }
        let view = self.view(&job);
        if view.is_finished() {
            return view;
        }
        let (sender, _) = watch::channel(view.clone());
        active.insert(job_id, sender.clone());
        drop(active);
        let service = self.clone();
        tokio::spawn(async move {
            service.run(job, &sender).await;
            service.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&job_id);
        });
        view
    }

    async fn run(&self, job: Job, updates: &watch::Sender<JobView>) {
        let job_id = job.spec.job_id;
        let waiting = std::time::Instant::now();
        let Ok(_permit) = self.inner.worker_permits.acquire().await else { return };
        crate::metrics::queue_wait(waiting.elapsed());
        loop {
            let attempt = match self.inner.jobs.start_attempt(&job_id, unix_now()).await {
                Ok(attempt) => attempt,
                Err(error) => {
                    tracing::error!(%job_id, error = %error, "could not start an attempt; the job stays for a restart");
                    return;
                }
            };
            if attempt == 0 {
                // Not to be worked on any more (deleted, or refunded by a claim on another node).
                return;
            }
            updates.send_modify(|view| {
                view.state = JobState::Running;
                view.attempts = attempt;
                view.stage = None;
                view.progress = 0;
            });
            let started = std::time::Instant::now();
            let outcome = self.attempt(&job, updates).await;
            crate::metrics::generation(started.elapsed(), outcome.is_ok());
            let now = unix_now();
            match outcome {
                Ok(output) => {
                    let stored = self.inner.jobs.succeed(&job_id, &output, now).await;
                    if let Err(error) = stored {
                        tracing::error!(%job_id, error = %error, "could not record success; the job stays for a restart");
                        return;
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
                    if let Err(error) = self.inner.jobs.fail(&job_id, &record, retry, now).await {
                        tracing::error!(%job_id, error = %error, "could not record a failure; the job stays for a restart");
                        return;
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
        let kind: ImageKind = job.spec.image_kind.parse().map_err(|error: MeshError| stored_request(error.into()))?;
        let params: MeshParams =
            serde_json::from_str(&job.spec.params_json).map_err(|error| stored_request(error.into()))?;
        let image = self.inner.files.input(&job_id).await.map_err(ServiceError::from)?.ok_or_else(|| Failure {
            code: "input_missing",
            message: "The uploaded image is no longer stored; send the same request again with your credential.".into(),
            retryable: false,
            server_fault: true,
        })?;

        let generator = self.inner.generator.clone();
        let jobs = self.inner.jobs.clone();
        let runtime = tokio::runtime::Handle::current();
        let updates = updates.clone();
        let last_stage = Arc::new(AtomicU8::new(u8::MAX));
        let progress_job_id = job_id;
        let model: Model = tokio::task::spawn_blocking(move || {
            let mut on_progress = |progress: mesh402_mesh::Progress| {
                let stage = progress.stage.name();
                updates.send_modify(|view| {
                    view.stage = Some(stage.to_owned());
                    view.progress = progress.percent.min(99);
                });
                // Persist once per stage: enough to show where a resumed job was, cheap enough not to matter.
                let stage_index = progress.stage as u8;
                if last_stage.swap(stage_index, Ordering::Relaxed) != stage_index {
                    let saved =
                        runtime.block_on(jobs.record_progress(&progress_job_id, stage, progress.percent, unix_now()));
                    if let Err(error) = saved {
                        // Only what a resumed job shows is lost; the live progress is still published.
                        tracing::warn!(job_id = %progress_job_id, error = %error, "could not save progress");
                    }
                }
            };
            generator.generate(&image, kind, &params, &mut on_progress)
        })
        .await
        .map_err(ServiceError::Task)??;

        let primary = model.files.first().ok_or(ServiceError::NoModelFile)?;
        let output = JobOutput {
            model_id: ModelId::random(),
            model_file: primary.name.clone(),
            media_type: primary.media_type.to_owned(),
            bytes: primary.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&primary.bytes)),
            n_faces: model.stats.n_faces,
            n_vertices: model.stats.n_vertices,
        };
        let files: Vec<(String, Vec<u8>)> = model.files.into_iter().map(|file| (file.name, file.bytes)).collect();
        self.inner.files.put_model(&output.model_id, &files).await.map_err(ServiceError::from)?;
        crate::metrics::stored(files.iter().map(|(_, bytes)| bytes.len() as u64).sum());
        Ok(output)
    }
}
