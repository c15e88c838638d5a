//! What a client may know about a job, live from its worker or read from the store.

use mesh402_core::{JobState, Stage};
use mesh402_store::{Job, JobFailure, JobId, JobOutput};

use crate::{RefundView, Service};

/// What a client may know about a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    /// The job id.
    pub job_id: JobId,
    /// Where the job stands.
    pub state: JobState,
    /// The stage last completed, while running.
    pub stage: Option<Stage>,
    /// Progress 0–100.
    pub progress: u8,
    /// Generation attempts so far.
    pub attempts: u32,
    /// The stored model, once succeeded.
    pub output: Option<JobOutput>,
    /// The failure, if the job failed.
    pub failure: Option<JobFailure>,
    /// The refund: offered (a failed job, where the backend can pay), claimed or paid.
    pub refund: Option<RefundView>,
}

impl JobView {
    /// Whether the job has reached an end (success, failure or refund).
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }
}

impl Service {
    /// What a client may know about a stored job.
    pub(crate) fn view(&self, job: &Job) -> JobView {
        JobView {
            job_id: job.spec.job_id,
            state: job.state,
            stage: job.stage,
            progress: job.progress,
            attempts: job.attempts,
            output: job.output.clone(),
            failure: job.failure.clone(),
            refund: self.refund_view(job),
        }
    }
}
