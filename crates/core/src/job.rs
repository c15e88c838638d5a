//! Where a paid job stands: one vocabulary for the store that records it, the service that moves it and the API
//! that reports it.

use crate::UnknownName;

/// The life of a job, as the store records it and the API reports it (snake_case names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Recorded, waiting for a worker.
    Queued,
    /// A worker is generating the model (or was, when the server stopped: it is resumed on start-up).
    Running,
    /// The model is stored and downloadable.
    Succeeded,
    /// Generation failed after its retries (or the input turned out unusable); the credential stays good for
    /// another try, and a refund may be claimed.
    Failed,
    /// A refund was claimed: the claim (its invoice) is recorded and its payment is under way or its outcome
    /// unknown. The job can no longer be retried.
    Refunding,
    /// The refund was paid; the job is over and its credential redeems nothing more.
    Refunded,
}

impl JobState {
    /// Every state, in the order of a job's life.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Refunding,
        JobState::Refunded,
    ];

    /// The name stored in the database and shown to clients.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Refunding => "refunding",
            JobState::Refunded => "refunded",
        }
    }

    /// Whether the job is still to be worked on.
    pub fn is_unfinished(&self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    /// Whether the job has reached an end (success, failure or a refund): no generation runs for it.
    pub fn is_finished(&self) -> bool {
        !self.is_unfinished()
    }

    /// The states in which nothing is in flight, neither a generation nor a refund payment: the only states in
    /// which retention may remove a job.
    pub const AT_REST: [JobState; 3] = [JobState::Succeeded, JobState::Failed, JobState::Refunded];

    /// Whether the job is in one of [`AT_REST`](Self::AT_REST).
    pub fn is_at_rest(&self) -> bool {
        JobState::AT_REST.contains(self)
    }
}

impl std::str::FromStr for JobState {
    type Err = UnknownName;

    /// Reads the name [`JobState::as_str`] writes.
    fn from_str(name: &str) -> Result<JobState, UnknownName> {
        Ok(match name {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "refunding" => JobState::Refunding,
            "refunded" => JobState::Refunded,
            _ => return Err(UnknownName { of: "job state", name: name.to_owned() }),
        })
    }
}
