//! Delivered jobs kept in memory for the credentials that replay them: a client that re-sends its paid request
//! (polling, or fetching its model URL again) is answered without a trip to the job store. Only succeeded jobs are
//! kept: that state is final (a refund is claimed on failed jobs only), so a copy cannot go stale while the record
//! exists, and the record exists until retention removes it — which the copy honours by its own deadline, the
//! job's creation plus the retention, the cutoff the sweep uses.
//!
//! Bounded by count, the oldest entry leaving first ([`FifoMap`]): a miss costs one store read.

use std::sync::Mutex;

use mesh402_core::JobState;
use mesh402_l402::TokenId;
use mesh402_store::Job;

use crate::bounded::FifoMap;

/// How many delivered jobs are kept (a job is a few hundred bytes; the whole view stays around a megabyte).
pub(crate) const CAPACITY: usize = 4096;

/// Succeeded jobs by the token that paid for them, each with the time after which it is no longer served from here.
#[derive(Debug)]
pub(crate) struct DeliveredJobs {
    retention_secs: u64,
    jobs: Mutex<FifoMap<TokenId, Job>>,
}

impl DeliveredJobs {
    /// An empty view for jobs kept `retention_secs` after their creation.
    pub(crate) fn new(retention_secs: u64) -> DeliveredJobs {
        DeliveredJobs { retention_secs, jobs: Mutex::new(FifoMap::new(CAPACITY)) }
    }

    /// Whether `job` is within its retention at `now` (unix seconds).
    fn retained(&self, job: &Job, now: u64) -> bool {
        job.spec.created_at.saturating_add(self.retention_secs) > now
    }

    /// The delivered job paid for by `token_id`, while it is within its retention at `now`.
    pub(crate) fn get(&self, token_id: &TokenId, now: u64) -> Option<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let job = jobs.get(token_id)?;
        if self.retained(job, now) {
            return Some(job.clone());
        }
        jobs.remove(token_id);
        None
    }

    /// Keeps `job` if it has succeeded and is within its retention at `now` (one past it, but not yet swept, is
    /// left to the store rather than added and dropped again at every replay); anything else is left to the store.
    pub(crate) fn remember(&self, job: &Job, now: u64) {
        if job.state != JobState::Succeeded || !self.retained(job, now) {
            return;
        }
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.insert(job.spec.token_id, job.clone());
    }
}

#[cfg(test)]
mod tests {
    use mesh402_core::{InputKind, MeshParams};
    use mesh402_l402::{Msat, PaymentHash, RequestBinding};
    use mesh402_store::{JobId, NewJob};

    use super::*;

    fn job(n: u32, state: JobState, created_at: u64) -> Job {
        let mut token = [0u8; 32];
        token[..4].copy_from_slice(&n.to_le_bytes());
        Job {
            spec: NewJob {
                job_id: JobId(rand::random()),
                token_id: TokenId(token),
                payment_hash: PaymentHash(token),
                request_binding: RequestBinding([0; 32]),
                input_kind: InputKind::Prompt,
                params: MeshParams::default(),
                credential_expires_at: 0,
                price: Msat(1000),
                created_at,
            },
            state,
            attempts: 1,
            stage: None,
            progress: 100,
            output: None,
            failure: None,
            refund: None,
            updated_at: created_at,
        }
    }

    #[test]
    fn only_succeeded_jobs_are_kept_and_only_within_their_retention() {
        let delivered = DeliveredJobs::new(100);
        for state in [JobState::Queued, JobState::Running, JobState::Failed, JobState::Refunding, JobState::Refunded] {
            let job = job(1, state, 1_000);
            delivered.remember(&job, 1_001);
            assert!(delivered.get(&job.spec.token_id, 1_001).is_none(), "{state:?} is left to the store");
        }
        let done = job(2, JobState::Succeeded, 1_000);
        delivered.remember(&done, 1_001);
        assert_eq!(delivered.get(&done.spec.token_id, 1_099), Some(done.clone()));
        // The sweep's cutoff: created before now − retention.
        assert!(delivered.get(&done.spec.token_id, 1_100).is_none());
        assert!(delivered.get(&done.spec.token_id, 1_000).is_none(), "an expired copy is dropped, not kept");
        delivered.remember(&done, 1_100);
        assert!(delivered.get(&done.spec.token_id, 1_000).is_none(), "a job past its retention is not added again");
    }

    #[test]
    fn the_oldest_leave_first_beyond_the_capacity() {
        let delivered = DeliveredJobs::new(100);
        let jobs: Vec<Job> = (0..CAPACITY as u32 + 10).map(|n| job(n, JobState::Succeeded, 1_000)).collect();
        for job in &jobs {
            delivered.remember(job, 1_001);
            // Remembering again changes nothing.
            delivered.remember(job, 1_001);
        }
        let kept = jobs.iter().filter(|job| delivered.get(&job.spec.token_id, 1_001).is_some()).count();
        assert_eq!(kept, CAPACITY);
        assert!(jobs[..10].iter().all(|job| delivered.get(&job.spec.token_id, 1_001).is_none()));
        assert!(jobs[10..].iter().all(|job| delivered.get(&job.spec.token_id, 1_001).is_some()));
    }
}
