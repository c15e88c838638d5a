//! Workers: a claimed job runs here once, on a blocking thread, with its progress published and persisted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use mesh402_mesh::{MeshError, MeshParams, Model};
use mesh402_store::{Job, JobFailure, JobOutput, JobState};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::{Service, ServiceError, parse_image_kind, unix_now};

/// What a client may know about a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobView {
    /// The job id.
    pub job_id: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: &'static str,
    /// The current stage's name while running.
    pub stage: Option<String>,
    /// Progress 0–100.
    pub progress: u8,
    /// Generation attempts so far.
    pub attempts: u32,
    /// The stored model, once succeeded.
    #[serde(skip)]
    pub output: Option<JobOutput>,
    /// The failure, if the job failed.
    #[serde(skip)]
    pub failure: Option<JobFailure>,
}

impl JobView {
    /// Whether the job has reached an end (success or failure).
    pub fn is_finished(&self) -> bool {
        self.state == JobState::Succeeded.as_str() || self.state == JobState::Failed.as_str()
    }
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        JobView {
            job_id: job.spec.job_id.clone(),
            state: job.state.as_str(),
            stage: job.stage.clone(),
            progress: job.progress,
            attempts: job.attempts,
            output: job.output.clone(),
            failure: job.failure.clone(),
        }
    }
}

/// A generation failure as the worker sees it.
struct Failure {
    code: &'static str,
    message: String,
    retryable: bool,
}

impl From<MeshError> for Failure {
    fn from(error: MeshError) -> Self {
        Failure { code: error.code(), message: error.to_string(), retryable: !error.is_client_error() }
    }
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        tracing::error!(error = %error, "job infrastructure failure");
        Failure {
            code: "generation_failed",
            message: "The model could not be generated because of a server fault.".into(),
            retryable: true,
        }
    }
}

impl Service {
    /// Makes sure the job is being worked on by this process and returns its current view.
    pub(crate) fn start(&self, job: Job) -> JobView {
        let job_id = job.spec.job_id.clone();
        let mut active = self.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = active.get(&job_id) {
            return sender.borrow().clone();
        }
        let view = JobView::from(&job);
        if view.is_finished() {
            return view;
        }
        let (sender, _) = watch::channel(view.clone());
        active.insert(job_id.clone(), sender.clone());
        drop(active);
        let service = self.clone();
        tokio::spawn(async move {
            service.run(job, &sender).await;
            service.inner.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&job_id);
        });
        view
    }

    async fn run(&self, job: Job, updates: &watch::Sender<JobView>) {
        let job_id = job.spec.job_id.clone();
        let Ok(_permit) = self.inner.worker_permits.acquire().await else { return };
        loop {
            let attempt = match self.inner.jobs.start_attempt(&job_id, unix_now()).await {
                Ok(attempt) => attempt,
                Err(error) => {
                    tracing::error!(%job_id, error = %error, "could not start an attempt; the job stays for a restart");
                    return;
                }
            };
            updates.send_modify(|view| {
                view.state = JobState::Running.as_str();
                view.attempts = attempt;
                view.stage = None;
                view.progress = 0;
            });
            let outcome = self.attempt(&job, updates).await;
            let now = unix_now();
            match outcome {
                Ok(output) => {
                    let stored = self.inner.jobs.succeed(&job_id, &output, now).await;
                    if let Err(error) = stored {
                        tracing::error!(%job_id, error = %error, "could not record success; the job stays for a restart");
                        return;
                    }
                    let _ = self.inner.files.delete_input(&job_id).await;
                    tracing::info!(%job_id, attempt, model_id = %output.model_id, faces = output.n_faces, "job succeeded");
                    updates.send_modify(|view| {
                        view.state = JobState::Succeeded.as_str();
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
                    let record = JobFailure { code: failure.code.to_owned(), message: failure.message };
                    if let Err(error) = self.inner.jobs.fail(&job_id, &record, retry, now).await {
                        tracing::error!(%job_id, error = %error, "could not record a failure; the job stays for a restart");
                        return;
                    }
                    if retry {
                        continue;
                    }
                    let _ = self.inner.files.delete_input(&job_id).await;
                    updates.send_modify(|view| {
                        view.state = JobState::Failed.as_str();
                        view.stage = None;
                        view.failure = Some(record);
                    });
                    return;
                }
            }
        }
    }

    async fn attempt(&self, job: &Job, updates: &watch::Sender<JobView>) -> Result<JobOutput, Failure> {
        let job_id = job.spec.job_id.clone();
        let kind = parse_image_kind(&job.spec.image_kind)
            .ok_or_else(|| ServiceError::Internal(format!("stored image kind {}", job.spec.image_kind)))?;
        let params: MeshParams = serde_json::from_str(&job.spec.params_json)
            .map_err(|error| ServiceError::Internal(format!("stored params: {error}")))?;
        let image = self.inner.files.input(&job_id).await.map_err(ServiceError::from)?.ok_or_else(|| Failure {
            code: "input_missing",
            message: "The uploaded image is no longer stored; send the same request again with your credential.".into(),
            retryable: false,
        })?;

        let generator = self.inner.generator.clone();
        let jobs = self.inner.jobs.clone();
        let runtime = tokio::runtime::Handle::current();
        let updates = updates.clone();
        let last_stage = Arc::new(AtomicU8::new(u8::MAX));
        let progress_job_id = job_id.clone();
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
                    let _ =
                        runtime.block_on(jobs.record_progress(&progress_job_id, stage, progress.percent, unix_now()));
                }
            };
            generator.generate(&image, kind, &params, &mut on_progress)
        })
        .await
        .map_err(|error| ServiceError::Internal(format!("generator panicked: {error}")))??;

        let primary = model.files.first().ok_or_else(|| ServiceError::Internal("the generator made no file".into()))?;
        let output = JobOutput {
            model_id: hex::encode(rand::random::<[u8; 32]>()),
            model_file: primary.name.clone(),
            media_type: primary.media_type.to_owned(),
            bytes: primary.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&primary.bytes)),
            n_faces: model.stats.n_faces,
            n_vertices: model.stats.n_vertices,
        };
        let files: Vec<(String, Vec<u8>)> = model.files.into_iter().map(|file| (file.name, file.bytes)).collect();
        self.inner.files.put_model(&output.model_id, &files).await.map_err(ServiceError::from)?;
        Ok(output)
    }
}
