//! Retention: jobs, model files and inputs past their time are removed. Only jobs at rest are (succeeded, failed
//! or refunded): paid work still queued or running, and a refund being paid, stay whatever their age.

use crate::{Service, ServiceError};

/// What one retention sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Jobs past their retention, removed with their model files.
    pub jobs: usize,
    /// Inputs left behind without a job (a crash between storing an input and claiming its job).
    pub orphan_inputs: usize,
    /// Models no job names (a worker that died between storing a model and recording it, or lost its lease).
    pub orphan_models: usize,
}

/// How old an input or a model without a job must be before the sweeper removes it: far longer than the moment
/// between storing an input and claiming its job, or between storing a model and recording it.
const ORPHAN_AGE_SECS: u64 = 3600;

/// How many expired jobs one store call returns.
const SWEEP_BATCH: u32 = 500;

impl Service {
    /// Removes jobs at rest past their retention (records, model files, inputs), and inputs and models that no job
    /// names.
    pub async fn sweep(&self, now: u64) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        let cutoff = now.saturating_sub(self.inner.config.retention.as_secs());
        loop {
            let expired = self.inner.jobs.at_rest_before(cutoff, SWEEP_BATCH).await?;
            if expired.is_empty() {
                break;
            }
            for job in expired {
                // The record goes first, and only if the job is still at rest (a refund may have been claimed since
                // it was read): a crash after it leaves files without a job, never a job without its files.
                if !self.inner.jobs.delete_at_rest(&job.spec.job_id).await? {
                    continue;
                }
                if let Some(output) = &job.output {
                    self.inner.files.delete_model(&output.model_id).await?;
                }
                self.inner.files.delete_input(&job.spec.job_id).await?;
                report.jobs += 1;
            }
        }
        for (job_id, written_at) in self.inner.files.list_inputs().await? {
            if written_at.saturating_add(ORPHAN_AGE_SECS) < now && self.inner.jobs.job(&job_id).await?.is_none() {
                self.inner.files.delete_input(&job_id).await?;
                report.orphan_inputs += 1;
            }
        }
        for (model_id, written_at) in self.inner.files.list_models().await? {
            if written_at.saturating_add(ORPHAN_AGE_SECS) < now && !self.inner.jobs.model_recorded(&model_id).await? {
                self.inner.files.delete_model(&model_id).await?;
                report.orphan_models += 1;
            }
        }
        if report != SweepReport::default() {
            tracing::info!(
                jobs = report.jobs,
                orphan_inputs = report.orphan_inputs,
                orphan_models = report.orphan_models,
                "retention sweep"
            );
        }
        Ok(report)
    }
}
