//! [`JobStore`] and [`FileStore`] in memory: the same contract as SQLite and the local directory, nothing on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use mesh402_core::{JobState, Stage};
use mesh402_l402::TokenId;
use mesh402_service::unix_now;
use mesh402_store::{
    Claim, FailedAttempt, FileLocation, FileStore, Job, JobFailure, JobId, JobOutput, JobStore, Lease, ModelId, NewJob,
    RefundClaim, RefundOutcome, RefundRecord, StoreError, WorkerId, is_valid_file_name,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Job records in memory. One lock makes every method atomic, as the contract asks.
#[derive(Debug, Default)]
pub struct MemoryJobStore {
    inner: Mutex<Jobs>,
    /// How many more outcome writes (`succeed`, `fail`) fail as a database that cannot be written would.
    refused_outcomes: AtomicUsize,
    refused_starts: AtomicUsize,
}

#[derive(Debug, Default)]
struct Jobs {
    by_id: BTreeMap<JobId, Job>,
    by_token: HashMap<TokenId, JobId>,
    failures: Vec<(JobId, FailedAttempt)>,
    /// The lease of each running job that has one.
    leases: HashMap<JobId, Lease>,
}

impl Jobs {
    /// Whether `job_id` may be started at `now`: queued, or running with no live lease.
    fn startable(&self, job_id: &JobId, now: u64) -> bool {
        match self.by_id.get(job_id).map(|job| job.state) {
            Some(JobState::Queued) => true,
            Some(JobState::Running) => self.leases.get(job_id).is_none_or(|held| held.expires_at <= now),
            _ => false,
        }
    }

    /// Starts a startable job under `lease`; returns its attempt number.
    fn start(&mut self, job_id: &JobId, lease: &Lease, now: u64) -> u32 {
        let Some(job) = self.by_id.get_mut(job_id) else { return 0 };
        job.state = JobState::Running;
        job.attempts += 1;
        job.stage = None;
        job.progress = 0;
        job.updated_at = now;
        self.leases.insert(*job_id, *lease);
        job.attempts
    }

    /// The running job `owner` holds.
    fn held_by(&mut self, job_id: &JobId, owner: &WorkerId) -> Option<&mut Job> {
        if self.leases.get(job_id).is_none_or(|lease| lease.owner != *owner) {
            return None;
        }
        self.by_id.get_mut(job_id).filter(|job| job.state == JobState::Running)
    }
}

impl MemoryJobStore {
    /// An empty store.
    pub fn new() -> MemoryJobStore {
        MemoryJobStore::default()
    }

    /// Makes the next `count` outcome writes (`succeed`, `fail`) fail with a database error, as a full disk or a
    /// database restarting would, without changing anything.
    pub fn refuse_outcomes(&self, count: usize) {
        self.refused_outcomes.store(count, Ordering::SeqCst);
    }

    /// Refuses the next `count` starts of an attempt (`start_attempt`) as a store that cannot be written does.
    pub fn refuse_starts(&self, count: usize) {
        self.refused_starts.store(count, Ordering::SeqCst);
    }

    /// Takes one refusal of an outcome, if any are left.
    fn refuse_outcome(&self) -> Result<(), StoreError> {
        take_refusal(&self.refused_outcomes)
    }

    /// Takes one refusal of a start, if any are left.
    fn refuse_start(&self) -> Result<(), StoreError> {
        take_refusal(&self.refused_starts)
    }

    /// How many jobs are recorded.
    pub fn len(&self) -> usize {
        lock(&self.inner).by_id.len()
    }

    /// Whether no job is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sorted(jobs: impl Iterator<Item = Job>) -> Vec<Job> {
        let mut jobs: Vec<Job> = jobs.collect();
        jobs.sort_by_key(|job| (job.spec.created_at, job.spec.job_id));
        jobs
    }
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn claim(&self, job: &NewJob) -> Result<Claim, StoreError> {
        let mut jobs = lock(&self.inner);
        if let Some(job_id) = jobs.by_token.get(&job.token_id) {
            let existing = jobs.by_id.get(job_id).ok_or(StoreError::Inconsistent("a token's job vanished"))?;
            return Ok(Claim::Existing(existing.clone()));
        }
        let stored = Job {
            spec: job.clone(),
            state: JobState::Queued,
            attempts: 0,
            stage: None,
            progress: 0,
            output: None,
            failure: None,
            refund: None,
            updated_at: job.created_at,
        };
        jobs.by_token.insert(job.token_id, job.job_id);
        jobs.by_id.insert(job.job_id, stored.clone());
        Ok(Claim::Created(stored))
    }

    async fn job_by_token(&self, token_id: &TokenId) -> Result<Option<Job>, StoreError> {
        let jobs = lock(&self.inner);
        Ok(jobs.by_token.get(token_id).and_then(|job_id| jobs.by_id.get(job_id)).cloned())
    }

    async fn job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(lock(&self.inner).by_id.get(job_id).cloned())
    }

    async fn start_attempt(&self, job_id: &JobId, lease: &Lease, now: u64) -> Result<u32, StoreError> {
        self.refuse_start()?;
        let mut jobs = lock(&self.inner);
        if !jobs.startable(job_id, now) {
            return Ok(0);
        }
        Ok(jobs.start(job_id, lease, now))
    }

    async fn next_job(&self, lease: &Lease, now: u64) -> Result<Option<Job>, StoreError> {
        let mut jobs = lock(&self.inner);
        let candidates = MemoryJobStore::sorted(jobs.by_id.values().filter(|job| job.state.is_unfinished()).cloned());
        let Some(next) = candidates.iter().find(|job| jobs.startable(&job.spec.job_id, now)) else {
            return Ok(None);
        };
        let job_id = next.spec.job_id;
        jobs.start(&job_id, lease, now);
        Ok(jobs.by_id.get(&job_id).cloned())
    }

    async fn renew_lease(&self, job_id: &JobId, lease: &Lease, _now: u64) -> Result<bool, StoreError> {
        let mut jobs = lock(&self.inner);
        if jobs.held_by(job_id, &lease.owner).is_none() {
            return Ok(false);
        }
        jobs.leases.insert(*job_id, *lease);
        Ok(true)
    }

    async fn expire_leases(&self, _now: u64) -> Result<(), StoreError> {
        for lease in lock(&self.inner).leases.values_mut() {
            lease.expires_at = 0;
        }
        Ok(())
    }

    async fn record_progress(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        stage: Stage,
        percent: u8,
        now: u64,
    ) -> Result<(), StoreError> {
        if let Some(job) = lock(&self.inner).held_by(job_id, owner) {
            job.stage = Some(stage);
            job.progress = percent.min(100);
            job.updated_at = now;
        }
        Ok(())
    }

    async fn succeed(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        output: &JobOutput,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.refuse_outcome()?;
        let mut jobs = lock(&self.inner);
        let Some(job) = jobs.held_by(job_id, owner) else { return Ok(false) };
        job.state = JobState::Succeeded;
        job.stage = None;
        job.progress = 100;
        job.output = Some(output.clone());
        job.failure = None;
        job.updated_at = now;
        jobs.leases.remove(job_id);
        Ok(true)
    }

    async fn fail(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        failure: &JobFailure,
        retry_later: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.refuse_outcome()?;
        let mut jobs = lock(&self.inner);
        let Some(job) = jobs.held_by(job_id, owner) else { return Ok(false) };
        let attempt = job.attempts;
        job.state = if retry_later { JobState::Queued } else { JobState::Failed };
        job.stage = None;
        job.failure = Some(failure.clone());
        job.updated_at = now;
        jobs.leases.remove(job_id);
        jobs.failures.push((*job_id, FailedAttempt { attempt, failure: failure.clone(), failed_at: now }));
        Ok(true)
    }

    async fn failures(&self, job_id: &JobId) -> Result<Vec<FailedAttempt>, StoreError> {
        let jobs = lock(&self.inner);
        Ok(jobs.failures.iter().filter(|(id, _)| id == job_id).map(|(_, failed)| failed.clone()).collect())
    }

    async fn requeue(&self, job_id: &JobId, now: u64) -> Result<bool, StoreError> {
        let mut jobs = lock(&self.inner);
        let Some(job) = jobs.by_id.get_mut(job_id).filter(|job| job.state == JobState::Failed) else {
            return Ok(false);
        };
        job.state = JobState::Queued;
        job.attempts = 0;
        job.updated_at = now;
        Ok(true)
    }

    async fn unfinished(&self) -> Result<Vec<Job>, StoreError> {
        let jobs = lock(&self.inner);
        Ok(MemoryJobStore::sorted(jobs.by_id.values().filter(|job| job.state.is_unfinished()).cloned()))
    }

    async fn claim_refund(&self, job_id: &JobId, claim: &RefundClaim, now: u64) -> Result<bool, StoreError> {
        let mut jobs = lock(&self.inner);
        let Some(job) = jobs.by_id.get_mut(job_id).filter(|job| job.state == JobState::Failed) else {
            return Ok(false);
        };
        job.state = JobState::Refunding;
        job.refund = Some(RefundRecord {
            claim: claim.clone(),
            claimed_at: now,
            preimage: None,
            settled_at: None,
            failure: None,
        });
        job.updated_at = now;
        Ok(true)
    }

    async fn settle_refund(&self, job_id: &JobId, outcome: &RefundOutcome, now: u64) -> Result<bool, StoreError> {
        let mut jobs = lock(&self.inner);
        let Some(job) = jobs.by_id.get_mut(job_id).filter(|job| job.state == JobState::Refunding) else {
            return Ok(false);
        };
        let Some(refund) = job.refund.as_mut() else {
            return Err(StoreError::Inconsistent("a refunding job has no refund claim"));
        };
        refund.settled_at = Some(now);
        match outcome {
            RefundOutcome::Paid(preimage) => {
                job.state = JobState::Refunded;
                refund.preimage = Some(preimage.clone());
            }
            RefundOutcome::NotPaid(reason) => {
                job.state = JobState::Failed;
                refund.failure = Some(reason.clone());
            }
        }
        job.updated_at = now;
        Ok(true)
    }

    async fn refunding(&self) -> Result<Vec<Job>, StoreError> {
        let jobs = lock(&self.inner);
        let mut refunding: Vec<Job> =
            jobs.by_id.values().filter(|job| job.state == JobState::Refunding).cloned().collect();
        refunding.sort_by_key(|job| (job.refund.as_ref().map(|refund| refund.claimed_at), job.spec.job_id));
        Ok(refunding)
    }

    async fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let jobs = lock(&self.inner);
        Ok(JobState::ALL
            .iter()
            .map(|&state| (state, jobs.by_id.values().filter(|job| job.state == state).count() as u64))
            .collect())
    }

    async fn at_rest_before(&self, created_before: u64, limit: u32) -> Result<Vec<Job>, StoreError> {
        let jobs = lock(&self.inner);
        let old = jobs.by_id.values().filter(|job| job.spec.created_at < created_before && job.state.is_at_rest());
        let mut old = MemoryJobStore::sorted(old.cloned());
        old.truncate(limit as usize);
        Ok(old)
    }

    async fn model_recorded(&self, model_id: &ModelId) -> Result<bool, StoreError> {
        let jobs = lock(&self.inner);
        Ok(jobs.by_id.values().any(|job| job.output.as_ref().is_some_and(|output| output.model_id == *model_id)))
    }

    async fn delete_at_rest(&self, job_id: &JobId) -> Result<bool, StoreError> {
        let mut jobs = lock(&self.inner);
        if !jobs.by_id.get(job_id).is_some_and(|job| job.state.is_at_rest()) {
            return Ok(false);
        }
        if let Some(job) = jobs.by_id.remove(job_id) {
            jobs.by_token.remove(&job.spec.token_id);
        }
        jobs.failures.retain(|(id, _)| id != job_id);
        jobs.leases.remove(job_id);
        Ok(true)
    }
}

/// Model files and inputs in memory.
///
/// Models cannot be served over HTTP from here ([`FileStore::locate_model_file`] has no location to give, so it
/// answers `None`); tests read them with [`MemoryFileStore::model_file`].
#[derive(Debug, Default)]
pub struct MemoryFileStore {
    inner: Mutex<Files>,
}

/// A model's files: names and bytes.
type ModelFiles = Vec<(String, Vec<u8>)>;

#[derive(Debug, Default)]
struct Files {
    /// Each model's files with when they were written (unix seconds).
    models: HashMap<ModelId, (ModelFiles, u64)>,
    /// Each input with when it was written (unix seconds).
    inputs: BTreeMap<JobId, (Vec<u8>, u64)>,
}

impl MemoryFileStore {
    /// An empty store.
    pub fn new() -> MemoryFileStore {
        MemoryFileStore::default()
    }

    /// One file of a stored model.
    pub fn model_file(&self, model_id: &ModelId, name: &str) -> Option<Vec<u8>> {
        let files = lock(&self.inner);
        let (model, _) = files.models.get(model_id)?;
        model.iter().find(|(file_name, _)| file_name == name).map(|(_, bytes)| bytes.clone())
    }

    /// How many models are stored.
    pub fn n_models(&self) -> usize {
        lock(&self.inner).models.len()
    }

    /// How many inputs are stored.
    pub fn n_inputs(&self) -> usize {
        lock(&self.inner).inputs.len()
    }

    /// Stores a model as if it had been written at `written_at` (a leftover of a crash, for sweep tests).
    pub fn put_model_written_at(&self, model_id: ModelId, files: &[(String, Vec<u8>)], written_at: u64) {
        lock(&self.inner).models.insert(model_id, (files.to_vec(), written_at));
    }

    /// Stores an input as if it had been written at `written_at` (a leftover of a crash, for sweep tests).
    pub fn put_input_written_at(&self, job_id: JobId, bytes: &[u8], written_at: u64) {
        lock(&self.inner).inputs.insert(job_id, (bytes.to_vec(), written_at));
    }
}

#[async_trait]
impl FileStore for MemoryFileStore {
    async fn put_model(&self, model_id: &ModelId, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if files.iter().any(|(name, _)| !is_valid_file_name(name)) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name")));
        }
        self.put_model_written_at(*model_id, files, unix_now());
        Ok(())
    }

    async fn locate_model_file(&self, model_id: &ModelId, name: &str) -> Result<Option<FileLocation>, StoreError> {
        // Streamed, as a remote store hands out its files.
        let Some(bytes) = self.model_file(model_id, name) else { return Ok(None) };
        let length = bytes.len() as u64;
        let chunk: Result<bytes::Bytes, StoreError> = Ok(bytes::Bytes::from(bytes));
        Ok(Some(FileLocation::Streamed { length, bytes: Box::pin(futures_util::stream::iter([chunk])) }))
    }

    async fn delete_model(&self, model_id: &ModelId) -> Result<(), StoreError> {
        lock(&self.inner).models.remove(model_id);
        Ok(())
    }

    async fn put_input(&self, job_id: &JobId, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_input_written_at(*job_id, bytes, unix_now());
        Ok(())
    }

    async fn input(&self, job_id: &JobId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.inner).inputs.get(job_id).map(|(bytes, _)| bytes.clone()))
    }

    async fn delete_input(&self, job_id: &JobId) -> Result<(), StoreError> {
        lock(&self.inner).inputs.remove(job_id);
        Ok(())
    }

    async fn list_inputs(&self) -> Result<Vec<(JobId, u64)>, StoreError> {
        Ok(lock(&self.inner).inputs.iter().map(|(job_id, (_, written_at))| (*job_id, *written_at)).collect())
    }

    async fn list_models(&self) -> Result<Vec<(ModelId, u64)>, StoreError> {
        let mut models: Vec<(ModelId, u64)> =
            lock(&self.inner).models.iter().map(|(model_id, (_, written_at))| (*model_id, *written_at)).collect();
        models.sort();
        Ok(models)
    }
}

/// Takes one of the refusals `left` counts, if any: the error a store that cannot be written answers.
fn take_refusal(left: &AtomicUsize) -> Result<(), StoreError> {
    match left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)) {
        Ok(_) => Err(StoreError::Database(Box::new(std::io::Error::other("the test store refuses this write")))),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn the_memory_job_store_passes_the_story() {
        crate::job_store_story(Arc::new(MemoryJobStore::new())).await;
    }

    #[tokio::test]
    async fn the_memory_file_store_passes_the_story() {
        crate::file_store_story(&MemoryFileStore::default()).await;
    }
}
