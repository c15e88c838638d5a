//! The [`JobStore`] story of `mesh402-testkit` on SQLite and on PostgreSQL (in a schema of its own), and what only
//! a durable store can show: jobs survive reopening.

use std::sync::Arc;

use mesh402_core::{Format, ImageKind, InputKind, JobState, MeshParams, Stage};
use mesh402_l402::{Msat, PaymentHash, RequestBinding, TokenId};
use mesh402_store::{JobId, JobStore, Lease, NewJob, SqlJobStore, WorkerId};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_job_store_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlJobStore::open_sqlite(&dir.path().join("mesh402.db")).await.unwrap();
    mesh402_testkit::job_store_story(Arc::new(store)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs this with --include-ignored"]
async fn postgres_passes_the_job_store_story() {
    use mesh402_testkit::postgres::{TestSchema, server_url};
    let server = server_url();
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
            input_kind: InputKind::Image(ImageKind::Webp),
            params: MeshParams { format: Format::Obj, ..MeshParams::default() },
            credential_expires_at: 2_000,
            created_at: 1_000,
            price: Msat(350_000),
        };
        store.claim(&job).await.unwrap();
        let worker = WorkerId([9; 16]);
        store.start_attempt(&job_id, &Lease { owner: worker, expires_at: 9_999_999_999 }, 1_001).await.unwrap();
        store.record_progress(&job_id, &worker, Stage::Heights, 40, 1_002).await.unwrap();
    }
    let store = SqlJobStore::open_sqlite(&path).await.unwrap();
    let unfinished = store.unfinished().await.unwrap();
    assert_eq!(unfinished.len(), 1, "a running job is resumed after a restart");
    assert_eq!((unfinished[0].state, unfinished[0].stage), (JobState::Running, Some(Stage::Heights)));
    assert_eq!(unfinished[0].spec.input_kind, InputKind::Image(ImageKind::Webp));
    assert_eq!(unfinished[0].spec.params.format, Format::Obj);
}

/// The development wallet's ledger of paid invoices: of many concurrent payments of one invoice through two
/// connections pools (two nodes of a deployment), exactly one is new, and both then read the same preimage.
async fn dev_wallet_payments_are_recorded_once(first: SqlJobStore, second: SqlJobStore) {
    use mesh402_l402::Preimage;
    let preimage = Preimage([0x5a; 32]);
    let mut attempts = tokio::task::JoinSet::new();
    for attempt in 0..16 {
        let store = if attempt % 2 == 0 { first.clone() } else { second.clone() };
        let preimage = preimage.clone();
        attempts.spawn(async move { store.record_dev_wallet_payment(&preimage, 1_000).await.unwrap() });
    }
    let new = attempts.join_all().await.into_iter().filter(|&new| new).count();
    assert_eq!(new, 1, "exactly one of the concurrent payments is recorded");
    for store in [&first, &second] {
        assert_eq!(store.dev_wallet_preimage(&preimage.hash()).await.unwrap(), Some(preimage.clone()));
        assert_eq!(store.dev_wallet_preimage(&PaymentHash([1; 32])).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_records_each_dev_wallet_payment_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesh402.db");
    let first = SqlJobStore::open_sqlite(&path).await.unwrap();
    let second = SqlJobStore::open_sqlite(&path).await.unwrap();
    dev_wallet_payments_are_recorded_once(first, second).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs this with --include-ignored"]
async fn postgres_records_each_dev_wallet_payment_once_across_nodes() {
    use mesh402_testkit::postgres::{TestSchema, server_url};
    let server = server_url();
    let schema = TestSchema::create(&server).await;
    let first = SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    let second = SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    dev_wallet_payments_are_recorded_once(first.clone(), second.clone()).await;
    drop((first, second));
    schema.drop_schema().await;
}
