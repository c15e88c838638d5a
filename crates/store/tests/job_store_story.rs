//! The [`JobStore`] story of `mesh402-testkit` on SQLite and on PostgreSQL (in a schema of its own), and what only
//! a durable store can show: jobs survive reopening.

use std::sync::Arc;

use mesh402_l402::{PaymentHash, RequestBinding, TokenId};
use mesh402_store::{JobId, JobState, JobStore, Lease, NewJob, SqlJobStore, WorkerId};
use mesh402_testkit::postgres::{TestSchema, server_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_job_store_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlJobStore::open_sqlite(&dir.path().join("mesh402.db")).await.unwrap();
    mesh402_testkit::job_store_story(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_job_store_story() {
    let Some(server) = server_url() else { return };
    let schema = TestSchema::create(&server).await;
    let store = SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    mesh402_testkit::job_store_story(Arc::new(store.clone())).await;
    // Connecting again finds the schema up to date (the migrations ran once).
    SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    drop(store);
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_running_job_survives_reopening_and_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesh402.db");
    let job_id = JobId([3; 16]);
    {
        let store = SqlJobStore::open_sqlite(&path).await.unwrap();
        let job = NewJob {
            job_id,
            token_id: TokenId([3; 32]),
            payment_hash: PaymentHash([4; 32]),
            request_binding: RequestBinding([5; 32]),
            image_kind: "webp".into(),
            params_json: "{}".into(),
            credential_expires_at: 2_000,
            created_at: 1_000,
            price_msat: 350_000,
        };
        store.claim(&job).await.unwrap();
        let worker = WorkerId([9; 16]);
        store.start_attempt(&job_id, &Lease { owner: worker, expires_at: 9_999_999_999 }, 1_001).await.unwrap();
        store.record_progress(&job_id, &worker, "heights", 40, 1_002).await.unwrap();
    }
    let store = SqlJobStore::open_sqlite(&path).await.unwrap();
    let unfinished = store.unfinished().await.unwrap();
    assert_eq!(unfinished.len(), 1, "a running job is resumed after a restart");
    assert_eq!((unfinished[0].state, unfinished[0].stage.as_deref()), (JobState::Running, Some("heights")));
    assert_eq!(unfinished[0].spec.image_kind, "webp");
}
