//! What the application core counts and times, through the `metrics` facade: every metric's name, labels and
//! help text are declared here once. Nothing is recorded unless the process installs a recorder (the server does,
//! for its metrics listener); without one these calls cost next to nothing.

use std::time::Duration;

use mesh402_core::JobState;
use mesh402_ln::LnError;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Challenges (402 answers with an invoice) issued.
pub const CHALLENGES_ISSUED: &str = "mesh402_challenges_issued_total";
/// Credentials checked, by `outcome` (`accepted`, `rejected`) and `reason` (the verifier's code).
pub const CREDENTIALS: &str = "mesh402_credentials_total";
/// Jobs in each `state`, read from the job store at each scrape.
pub const JOBS: &str = "mesh402_jobs";
/// Jobs that ended, by `state` (`succeeded`, `failed`).
pub const JOBS_FINISHED: &str = "mesh402_jobs_finished_total";
/// Seconds one generation attempt took, by `outcome`.
pub const GENERATION_SECONDS: &str = "mesh402_generation_seconds";
/// Seconds a job waited for a worker.
pub const QUEUE_WAIT_SECONDS: &str = "mesh402_queue_wait_seconds";
/// Seconds each call to the Lightning backend took, by `call` and `outcome`.
pub const LIGHTNING_CALL_SECONDS: &str = "mesh402_lightning_call_seconds";
/// Failed calls to the Lightning backend, by `call` and `reason`.
pub const LIGHTNING_ERRORS: &str = "mesh402_lightning_errors_total";
/// Satoshis earned: the price of each credential redeemed into a new job.
pub const EARNED_SATS: &str = "mesh402_earned_sats_total";
/// Bytes of model files stored.
pub const STORED_BYTES: &str = "mesh402_stored_bytes_total";
/// Refund claims recorded.
pub const REFUNDS_CLAIMED: &str = "mesh402_refunds_claimed_total";
/// Satoshis refunded (paid and recorded).
pub const REFUNDED_SATS: &str = "mesh402_refunded_sats_total";

/// Registers the help text and unit of every metric above with the installed recorder.
pub fn describe() {
    describe_counter!(CHALLENGES_ISSUED, "Challenges (402 with an invoice and a macaroon) issued.");
    describe_counter!(CREDENTIALS, "L402 credentials checked, by outcome and reason.");
    describe_gauge!(JOBS, "Jobs in the store, by state.");
    describe_counter!(JOBS_FINISHED, "Jobs that reached an end, by state.");
    describe_histogram!(GENERATION_SECONDS, Unit::Seconds, "Time of one generation attempt, by outcome.");
    describe_histogram!(QUEUE_WAIT_SECONDS, Unit::Seconds, "Time a paid job waited for a worker.");
    describe_histogram!(LIGHTNING_CALL_SECONDS, Unit::Seconds, "Time of each Lightning backend call.");
    describe_counter!(LIGHTNING_ERRORS, "Lightning backend calls that failed or timed out.");
    describe_counter!(EARNED_SATS, "Satoshis earned from credentials redeemed into new jobs.");
    describe_counter!(STORED_BYTES, Unit::Bytes, "Bytes of model files stored.");
    describe_counter!(REFUNDS_CLAIMED, "Refund claims recorded (each is paid at most once).");
    describe_counter!(REFUNDED_SATS, "Satoshis refunded to clients whose paid job could not be delivered.");
}

pub(crate) fn challenge_issued() {
    counter!(CHALLENGES_ISSUED).increment(1);
}

/// Counts a credential sent for a model: accepted (`reason` = `valid`), or rejected with the verifier's code.
pub fn credential(accepted: bool, reason: &'static str) {
    let outcome = if accepted { "accepted" } else { "rejected" };
    counter!(CREDENTIALS, "outcome" => outcome, "reason" => reason).increment(1);
}

pub(crate) fn earned(sats: u64) {
    counter!(EARNED_SATS).increment(sats);
}

pub(crate) fn job_finished(state: JobState) {
    counter!(JOBS_FINISHED, "state" => state.as_str()).increment(1);
}

pub(crate) fn generation(elapsed: Duration, succeeded: bool) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    histogram!(GENERATION_SECONDS, "outcome" => outcome).record(elapsed.as_secs_f64());
}

pub(crate) fn queue_wait(elapsed: Duration) {
    histogram!(QUEUE_WAIT_SECONDS).record(elapsed.as_secs_f64());
}

pub(crate) fn lightning_call(call: &'static str, elapsed: Duration, error: Option<&'static str>) {
    let outcome = if error.is_some() { "error" } else { "ok" };
    histogram!(LIGHTNING_CALL_SECONDS, "call" => call, "outcome" => outcome).record(elapsed.as_secs_f64());
    if let Some(reason) = error {
        counter!(LIGHTNING_ERRORS, "call" => call, "reason" => reason).increment(1);
    }
}

/// Runs one call to the Lightning backend within `timeout` (a timeout is [`LnError::Unavailable`]) and records its
/// time and, when it fails, its reason. A `NotFound` answer is an answer, not a failure.
pub(crate) async fn timed_lightning_call<T>(
    call: &'static str,
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, LnError>>,
) -> Result<T, LnError> {
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(LnError::Unavailable("timed out".into())),
    };
    let error = match &result {
        Err(LnError::NotFound) | Ok(_) => None,
        Err(error) => Some(error.code()),
    };
    lightning_call(call, started.elapsed(), error);
    result
}

pub(crate) fn refund_claimed() {
    counter!(REFUNDS_CLAIMED).increment(1);
}

pub(crate) fn refund_paid(msat: u64) {
    counter!(REFUNDED_SATS).increment(msat / 1000);
}

pub(crate) fn stored(bytes: u64) {
    counter!(STORED_BYTES).increment(bytes);
}

/// Sets the jobs-by-state gauge from a count of the store.
pub fn set_job_counts(counts: &[(JobState, u64)]) {
    for (state, count) in counts {
        gauge!(JOBS, "state" => state.as_str()).set(*count as f64);
    }
}
