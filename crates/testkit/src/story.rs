//! The story every [`JobStore`] must pass: the life of jobs from claim to deletion, told once and run on every
//! implementation (SQLite in `mesh402-store`'s tests, memory here, PostgreSQL when it comes), as atuin does for
//! its databases. It expects an empty store.

use std::collections::HashSet;
use std::sync::Arc;

use mesh402_core::{Format, ImageKind, InputKind, JobState, MeshParams, Stage};
use mesh402_l402::{Msat, PaymentHash, Preimage, RequestBinding, TokenId};
use mesh402_store::{
    Claim, FailedAttempt, JobFailure, JobId, JobOutput, JobStore, Lease, ModelId, NewJob, RefundClaim, RefundOutcome,
    WorkerId,
};

fn new_job(n: u8, created_at: u64) -> NewJob {
    NewJob {
        job_id: JobId([n; 16]),
        token_id: TokenId([n; 32]),
        payment_hash: PaymentHash([n.wrapping_add(100); 32]),
        request_binding: RequestBinding([n.wrapping_add(200); 32]),
        input_kind: InputKind::Image(ImageKind::Png),
        params: MeshParams { target_faces: 20_000 + u32::from(n), ..MeshParams::default() },
        credential_expires_at: created_at + 86_400,
        created_at,
        price: Msat(21_000),
    }
}

/// The worker most of the story runs jobs on.
const WORKER: WorkerId = WorkerId([0xa1; 16]);

/// The worker that finishes what a story section leaves unfinished, so that it can be removed.
const CLEANER: WorkerId = WorkerId([0xc1; 16]);

/// Brings a job to rest (a queued or running one is finished, long after every lease of the story has run out)
/// and removes it: how a story section cleans up, since retention removes only jobs at rest.
async fn remove(store: &dyn JobStore, job_id: &JobId) {
    const LATER: u64 = 1 << 40;
    let Some(job) = store.job(job_id).await.unwrap() else { return };
    if job.state.is_unfinished() {
        assert!(store.start_attempt(job_id, &lease(CLEANER, LATER + 60), LATER).await.unwrap() > 0);
        assert!(store.succeed(job_id, &CLEANER, &output(job_id.0[0]), LATER).await.unwrap());
    }
    assert!(store.delete_at_rest(job_id).await.unwrap(), "{:?} is at rest", store.job(job_id).await.unwrap());
}

/// A lease of `owner` that lasts until `expires_at`.
fn lease(owner: WorkerId, expires_at: u64) -> Lease {
    Lease { owner, expires_at }
}

/// A lease of [`WORKER`] long enough for any chapter.
fn held() -> Lease {
    lease(WORKER, 1_000_000)
}

fn failure(code: &str, server_fault: bool) -> JobFailure {
    JobFailure { code: code.into(), message: format!("{code}: it broke."), server_fault }
}

fn output(n: u8) -> JobOutput {
    JobOutput {
        model_id: ModelId([n; 32]),
        format: Format::Glb,
        bytes: 1_234_567,
        sha256: "22".repeat(32),
        n_faces: 20_000,
        n_vertices: 10_002,
        // Some models come in several formats with a preview (the embedded generator's), some in one (a model
        // server's): both read back as written.
        other_formats: if n.is_multiple_of(2) { vec![Format::Obj, Format::Usdz, Format::ThreeMf] } else { Vec::new() },
        preview: n.is_multiple_of(2),
    }
}

/// Runs the story on `store` (which must be empty), panicking at the first broken promise.
pub async fn job_store_story(store: Arc<dyn JobStore>) {
    claims_are_exactly_once(store.clone()).await;
    a_job_moves_through_its_states(store.as_ref()).await;
    a_refund_is_claimed_once_and_settled_once(store.clone()).await;
    leases_keep_one_outcome_per_job(store.clone()).await;
    unknown_jobs_are_none_and_changes_to_them_no_ops(store.as_ref()).await;
    listing_and_retention(store.as_ref()).await;
}

/// Concurrent claims of one token: exactly one `Created`, everyone sees the same job; a different job id for the
/// same token is not recorded.
async fn claims_are_exactly_once(store: Arc<dyn JobStore>) {
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let job = NewJob { job_id: JobId([n; 16]), ..new_job(1, 1_000) };
            store.claim(&job).await.expect("claim")
        }));
    }
    let (mut created, mut job_ids) = (0, HashSet::new());
    for task in tasks {
        match task.await.expect("the claim task") {
            Claim::Created(job) => {
                created += 1;
                job_ids.insert(job.spec.job_id);
            }
            Claim::Existing(job) => {
                job_ids.insert(job.spec.job_id);
            }
        }
    }
    assert_eq!(created, 1, "one claim of a token creates its job");
    assert_eq!(job_ids.len(), 1, "every claimant sees the same job");
    let job = store.job_by_token(&TokenId([1; 32])).await.unwrap().expect("the claimed job");
    assert_eq!((job.state, job.attempts, job.progress), (JobState::Queued, 0, 0));
    assert_eq!(job.spec.token_id, TokenId([1; 32]));
    assert_eq!(job.spec.payment_hash, new_job(1, 1_000).payment_hash);
    assert_eq!(job.spec.request_binding, new_job(1, 1_000).request_binding);
    assert_eq!(job.spec.params, new_job(1, 1_000).params);
    assert_eq!(job.spec.input_kind, new_job(1, 1_000).input_kind);
    remove(store.as_ref(), &job.spec.job_id).await;
    assert!(store.job_by_token(&TokenId([1; 32])).await.unwrap().is_none(), "deleted with its token");
}

async fn a_job_moves_through_its_states(store: &dyn JobStore) {
    let spec = new_job(2, 1_000);
    let job_id = spec.job_id;
    let Claim::Created(job) = store.claim(&spec).await.unwrap() else { panic!("a fresh token creates its job") };
    assert_eq!(job.spec, spec, "the record holds what was claimed");
    assert_eq!(job.updated_at, 1_000);
    assert!(matches!(store.claim(&spec).await.unwrap(), Claim::Existing(_)), "a replay finds it");

    // Progress is recorded only while running.
    store.record_progress(&job_id, &WORKER, Stage::Mask, 20, 1_001).await.unwrap();
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().stage, None);
    assert_eq!(store.start_attempt(&job_id, &held(), 1_002).await.unwrap(), 1);
    store.record_progress(&job_id, &WORKER, Stage::Heights, 140, 1_003).await.unwrap();
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!((job.state, job.stage, job.progress), (JobState::Running, Some(Stage::Heights), 100));
    assert_eq!(job.updated_at, 1_003);

    // A failure to retry puts it back in the queue; a second attempt counts up; a final failure is failed.
    assert!(store.fail(&job_id, &WORKER, &failure("mesh_check_failed", true), true, 1_004).await.unwrap());
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!((job.state, job.stage), (JobState::Queued, None));
    assert_eq!(job.failure, Some(failure("mesh_check_failed", true)));
    assert_eq!(store.unfinished().await.unwrap().len(), 1);
    assert_eq!(store.start_attempt(&job_id, &held(), 1_005).await.unwrap(), 2);
    assert!(store.fail(&job_id, &WORKER, &failure("no_object_found", false), false, 1_006).await.unwrap());
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.failure, Some(failure("no_object_found", false)), "the server-fault flag is kept");
    assert!(store.unfinished().await.unwrap().is_empty(), "a failed job is not resumed");
    let failed = store.count_by_state().await.unwrap();
    assert_eq!(failed.iter().map(|(state, _)| *state).collect::<Vec<_>>(), JobState::ALL.to_vec());
    assert_eq!(failed.iter().find(|(state, _)| *state == JobState::Failed).map(|(_, n)| *n), Some(1));
    assert_eq!(
        store.failures(&job_id).await.unwrap(),
        vec![
            FailedAttempt { attempt: 1, failure: failure("mesh_check_failed", true), failed_at: 1_004 },
            FailedAttempt { attempt: 2, failure: failure("no_object_found", false), failed_at: 1_006 },
        ],
        "every failure, oldest first"
    );

    // The client retries: attempts start again; success clears the failure and keeps the history.
    assert!(store.requeue(&job_id, 1_007).await.unwrap());
    assert!(!store.requeue(&job_id, 1_007).await.unwrap(), "only a failed job is requeued");
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().state, JobState::Queued);
    assert_eq!(store.start_attempt(&job_id, &held(), 1_008).await.unwrap(), 1);
    assert!(store.succeed(&job_id, &WORKER, &output(2), 1_009).await.unwrap());
    let job = store.job_by_token(&spec.token_id).await.unwrap().unwrap();
    assert_eq!((job.state, job.stage, job.progress), (JobState::Succeeded, None, 100));
    assert_eq!(job.output, Some(output(2)), "the output reads back exactly");
    assert_eq!(job.failure, None);
    assert_eq!(job.updated_at, 1_009);
    assert_eq!(store.failures(&job_id).await.unwrap().len(), 2);

    // A late failure report or a second success does not undo a success, and is not listed.
    assert!(!store.fail(&job_id, &WORKER, &failure("generation_failed", true), false, 1_010).await.unwrap());
    assert!(!store.succeed(&job_id, &WORKER, &output(3), 1_010).await.unwrap());
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!((job.state, job.output), (JobState::Succeeded, Some(output(2))));
    assert_eq!(store.failures(&job_id).await.unwrap().len(), 2);

    assert!(store.delete_at_rest(&job_id).await.unwrap());
    assert!(store.job(&job_id).await.unwrap().is_none());
    assert!(store.failures(&job_id).await.unwrap().is_empty(), "failures go with their job");
    assert!(!store.delete_at_rest(&job_id).await.unwrap(), "removed once");
}

fn refund_claim(n: u8) -> RefundClaim {
    RefundClaim { amount: Msat(21_000), bolt11: format!("lnbcrt210n1refund{n}"), payment_hash: PaymentHash([n; 32]) }
}

/// A failed job's refund: claimed by exactly one of many concurrent claims, never alongside a requeue, settled
/// once; a refund that was certainly not paid leaves the job failed for another claim.
async fn a_refund_is_claimed_once_and_settled_once(store: Arc<dyn JobStore>) {
    let spec = new_job(3, 1_000);
    let job_id = spec.job_id;
    store.claim(&spec).await.unwrap();
    assert!(!store.claim_refund(&job_id, &refund_claim(1), 1_001).await.unwrap(), "a queued job owes no refund");
    assert_eq!(store.start_attempt(&job_id, &held(), 1_001).await.unwrap(), 1);
    assert!(store.fail(&job_id, &WORKER, &failure("no_object_found", false), false, 1_002).await.unwrap());
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().spec.price, Msat(21_000), "what was paid is kept");

    let mut tasks = Vec::new();
    for n in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.claim_refund(&job_id, &refund_claim(n), 1_003).await.unwrap() }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap() {
            winners.push(n as u8);
        }
    }
    assert_eq!(winners.len(), 1, "one of concurrent claims is recorded: {winners:?}");
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Refunding);
    let record = job.refund.expect("the claim is recorded");
    assert_eq!((record.claim, record.claimed_at), (refund_claim(winners[0]), 1_003), "the winner's invoice");
    assert_eq!((record.preimage, record.settled_at, record.failure), (None, None, None));
    assert_eq!(store.refunding().await.unwrap().len(), 1, "an unsettled refund is listed for resolution");

    // A refunding job is not retried, started or failed.
    assert!(!store.requeue(&job_id, 1_004).await.unwrap(), "a claimed refund excludes a retry");
    assert_eq!(store.start_attempt(&job_id, &held(), 1_004).await.unwrap(), 0);
    assert!(!store.fail(&job_id, &WORKER, &failure("generation_failed", true), true, 1_004).await.unwrap());
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().state, JobState::Refunding);
    assert!(store.unfinished().await.unwrap().is_empty());

    // Certainly not paid: failed again, the reason kept, another claim possible.
    let not_paid = RefundOutcome::NotPaid("the invoice expired".into());
    assert!(store.settle_refund(&job_id, &not_paid, 1_005).await.unwrap());
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    let record = job.refund.expect("the failed claim is kept");
    assert_eq!((record.failure.as_deref(), record.settled_at), (Some("the invoice expired"), Some(1_005)));
    assert!(store.refunding().await.unwrap().is_empty());
    assert!(!store.settle_refund(&job_id, &not_paid, 1_005).await.unwrap(), "settled once");

    // A new claim replaces the old one; paid, the job is over.
    assert!(store.claim_refund(&job_id, &refund_claim(9), 1_006).await.unwrap());
    let record = store.job(&job_id).await.unwrap().unwrap().refund.unwrap();
    assert_eq!((record.claim, record.failure, record.settled_at), (refund_claim(9), None, None));
    let preimage = Preimage([0x99; 32]);
    assert!(store.settle_refund(&job_id, &RefundOutcome::Paid(preimage.clone()), 1_007).await.unwrap());
    assert!(!store.settle_refund(&job_id, &not_paid, 1_008).await.unwrap(), "a paid refund stays paid");
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Refunded);
    let record = job.refund.unwrap();
    assert_eq!((record.preimage, record.settled_at), (Some(preimage), Some(1_007)));
    assert!(!store.claim_refund(&job_id, &refund_claim(10), 1_009).await.unwrap(), "refunded once");
    assert!(!store.requeue(&job_id, 1_009).await.unwrap());
    let counts = store.count_by_state().await.unwrap();
    assert_eq!(counts.iter().find(|(state, _)| *state == JobState::Refunded).map(|(_, n)| *n), Some(1));
    assert!(store.delete_at_rest(&job_id).await.unwrap(), "a refunded job is at rest");
    assert!(!store.claim_refund(&job_id, &refund_claim(11), 1_010).await.unwrap(), "an unknown job owes nothing");
}

/// Leases: a job another worker holds is not taken until its lease runs out; the worker that lost it records
/// nothing; concurrent workers never take one job twice.
async fn leases_keep_one_outcome_per_job(store: Arc<dyn JobStore>) {
    let (first, second) = (WorkerId([0xb1; 16]), WorkerId([0xb2; 16]));
    let spec = new_job(4, 1_000);
    let job_id = spec.job_id;
    store.claim(&spec).await.unwrap();
    let taken = store.next_job(&lease(first, 1_100), 1_000).await.unwrap().expect("a queued job is taken");
    assert_eq!((taken.spec.job_id, taken.state, taken.attempts), (job_id, JobState::Running, 1));
    assert!(store.next_job(&lease(second, 1_150), 1_050).await.unwrap().is_none(), "a live lease is respected");
    assert_eq!(store.start_attempt(&job_id, &lease(second, 1_150), 1_050).await.unwrap(), 0);
    assert_eq!(store.start_attempt(&job_id, &lease(first, 1_150), 1_050).await.unwrap(), 0, "one run at a time");
    assert!(store.renew_lease(&job_id, &lease(first, 1_200), 1_050).await.unwrap());
    assert!(store.next_job(&lease(second, 1_250), 1_150).await.unwrap().is_none(), "the renewal counts");

    // The first worker stalls past its lease: the second takes the job, and the first can record nothing.
    let retaken = store.next_job(&lease(second, 1_300), 1_201).await.unwrap().expect("an expired lease is taken");
    assert_eq!((retaken.spec.job_id, retaken.attempts), (job_id, 2), "the attempt is counted");
    assert!(!store.renew_lease(&job_id, &lease(first, 1_400), 1_202).await.unwrap(), "the lease was lost");
    store.record_progress(&job_id, &first, Stage::Mask, 50, 1_202).await.unwrap();
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().stage, None, "the loser's progress is not recorded");
    assert!(!store.succeed(&job_id, &first, &output(41), 1_203).await.unwrap());
    assert!(!store.fail(&job_id, &first, &failure("generation_failed", true), false, 1_203).await.unwrap());
    assert!(store.failures(&job_id).await.unwrap().is_empty(), "the loser's failure is not listed");
    assert!(store.succeed(&job_id, &second, &output(42), 1_204).await.unwrap());
    let job = store.job(&job_id).await.unwrap().unwrap();
    assert_eq!((job.state, job.output), (JobState::Succeeded, Some(output(42))), "the holder's model is kept");
    assert!(store.next_job(&lease(first, 9_000), 2_000).await.unwrap().is_none(), "a finished job is not taken");
    assert!(store.delete_at_rest(&job_id).await.unwrap());

    // Many workers, many jobs: every job is taken exactly once, oldest first.
    for n in 20..28u8 {
        store.claim(&new_job(n, 1_000 + u64::from(n))).await.unwrap();
    }
    let mut tasks = Vec::new();
    for worker in 0..6u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            while let Some(job) = store.next_job(&lease(WorkerId([worker; 16]), 5_000), 2_000).await.unwrap() {
                taken.push(job.spec.job_id);
            }
            taken
        }));
    }
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    taken.sort();
    assert_eq!(taken, (20..28u8).map(|n| JobId([n; 16])).collect::<Vec<_>>(), "each job once");

    // A sole worker restarting ends its predecessor's leases and resumes the jobs at once.
    assert!(store.next_job(&lease(second, 9_000), 2_001).await.unwrap().is_none());
    store.expire_leases(2_002).await.unwrap();
    assert_eq!(store.start_attempt(&JobId([20; 16]), &lease(second, 9_000), 2_002).await.unwrap(), 2);
    let resumed = store.next_job(&lease(second, 9_000), 2_002).await.unwrap().expect("another expired lease");
    assert_eq!((resumed.spec.job_id, resumed.attempts), (JobId([21; 16]), 2), "oldest first");
    for n in 20..28u8 {
        remove(store.as_ref(), &JobId([n; 16])).await;
    }
}

async fn unknown_jobs_are_none_and_changes_to_them_no_ops(store: &dyn JobStore) {
    let unknown = JobId([0xee; 16]);
    assert!(store.job(&unknown).await.unwrap().is_none());
    assert!(store.job_by_token(&TokenId([0xee; 32])).await.unwrap().is_none());
    assert_eq!(store.start_attempt(&unknown, &held(), 1).await.unwrap(), 0);
    store.record_progress(&unknown, &WORKER, Stage::Mask, 1, 1).await.unwrap();
    assert!(!store.succeed(&unknown, &WORKER, &output(0xee), 1).await.unwrap());
    assert!(!store.fail(&unknown, &WORKER, &failure("generation_failed", true), false, 1).await.unwrap());
    assert!(!store.renew_lease(&unknown, &held(), 1).await.unwrap());
    assert!(!store.requeue(&unknown, 1).await.unwrap());
    assert!(!store.settle_refund(&unknown, &RefundOutcome::NotPaid("x".into()), 1).await.unwrap());
    assert!(store.failures(&unknown).await.unwrap().is_empty());
    assert!(store.job(&unknown).await.unwrap().is_none(), "nothing was created by the changes");
    assert!(!store.delete_at_rest(&unknown).await.unwrap());
}

async fn listing_and_retention(store: &dyn JobStore) {
    // Created out of order; listed oldest first.
    for (n, created_at) in [(10u8, 3_000), (11, 1_000), (12, 2_000), (13, 2_000)] {
        store.claim(&new_job(n, created_at)).await.unwrap();
    }
    assert_eq!(store.start_attempt(&JobId([12; 16]), &held(), 2_001).await.unwrap(), 1);
    assert_eq!(store.start_attempt(&JobId([13; 16]), &held(), 2_001).await.unwrap(), 1);
    assert!(store.succeed(&JobId([13; 16]), &WORKER, &output(13), 2_002).await.unwrap());
    let unfinished: Vec<JobId> = store.unfinished().await.unwrap().iter().map(|job| job.spec.job_id).collect();
    assert_eq!(unfinished, vec![JobId([11; 16]), JobId([12; 16]), JobId([10; 16])], "queued and running, oldest first");

    // A succeeded job names its model; no job names another.
    assert!(store.model_recorded(&output(13).model_id).await.unwrap());
    assert!(!store.model_recorded(&output(12).model_id).await.unwrap(), "a running job names no model yet");

    // Retention sees only jobs at rest: the queued and the running ones are paid work, whatever their age.
    let at_rest = |cutoff| async move {
        let jobs = store.at_rest_before(cutoff, 10).await.unwrap();
        jobs.iter().map(|job| job.spec.job_id).collect::<Vec<JobId>>()
    };
    assert!(at_rest(2_000).await.is_empty(), "strictly before");
    assert_eq!(at_rest(u64::MAX).await, vec![JobId([13; 16])]);
    assert!(!store.delete_at_rest(&JobId([11; 16])).await.unwrap(), "a queued job is not removed");
    assert!(!store.delete_at_rest(&JobId([12; 16])).await.unwrap(), "a running job is not removed");
    // A failed job is at rest; while its refund is being paid it is not, and once refunded it is again.
    let twelve = JobId([12; 16]);
    assert!(store.fail(&twelve, &WORKER, &failure("generation_failed", true), false, 2_003).await.unwrap());
    assert_eq!(at_rest(u64::MAX).await, vec![twelve, JobId([13; 16])]);
    assert!(store.claim_refund(&twelve, &refund_claim(12), 2_004).await.unwrap());
    assert_eq!(at_rest(u64::MAX).await, vec![JobId([13; 16])], "a refund being paid is not at rest");
    assert!(!store.delete_at_rest(&twelve).await.unwrap(), "a refund being paid is not removed");
    let paid = RefundOutcome::Paid(Preimage([12; 32]));
    assert!(store.settle_refund(&twelve, &paid, 2_005).await.unwrap());
    assert_eq!(store.at_rest_before(u64::MAX, 1).await.unwrap().len(), 1, "at most the limit");
    // The queued ones finish; then every job is removed, each once.
    for n in [10u8, 11] {
        assert_eq!(store.start_attempt(&JobId([n; 16]), &held(), 3_001).await.unwrap(), 1);
        assert!(store.succeed(&JobId([n; 16]), &WORKER, &output(n), 3_002).await.unwrap());
    }
    for n in 10..14u8 {
        assert!(JobState::AT_REST.contains(&store.job(&JobId([n; 16])).await.unwrap().unwrap().state));
        assert!(store.delete_at_rest(&JobId([n; 16])).await.unwrap());
        assert!(!store.delete_at_rest(&JobId([n; 16])).await.unwrap(), "removed once");
    }
    assert!(store.at_rest_before(u64::MAX, 100).await.unwrap().is_empty());
    assert!(!store.model_recorded(&output(13).model_id).await.unwrap(), "a removed job names no model");
    let counts = store.count_by_state().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "the story leaves the store empty: {counts:?}");
}
