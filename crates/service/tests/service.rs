//! The application core without a socket, a disk or a node: redeeming, retrying, resuming and sweeping, on the
//! in-memory stores, the fake Lightning backend and the controllable generator of `mesh402-testkit`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mesh402_core::{ImageKind, JobState, MeshParams};
use mesh402_l402::{Preimage, VerifyError};
use mesh402_service::{Credential, ModelRequest, OfferedSchemes, RedeemError, Rejection, ServiceError, unix_now};
use mesh402_store::{FileStore, JobId, JobStore};
use mesh402_testkit::{FakeGenerator, TestService, disc_png, disc_request};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paid_credential_buys_exactly_one_generation_for_its_request_only() {
    let test = Arc::new(TestService::new(FakeGenerator::slow(Duration::from_millis(20))));
    let request = Arc::new(disc_request(96, 36.0));
    let credential = Arc::new(test.paid_credential(&request).await);
    assert!(test.jobs.is_empty(), "a quote stores nothing");

    let mut redeems = Vec::new();
    for _ in 0..8 {
        let (test, request, credential) = (test.clone(), request.clone(), credential.clone());
        redeems.push(tokio::spawn(async move { test.service.redeem(&request, &credential).await.unwrap().job_id }));
    }
    let mut job_ids = Vec::new();
    for redeem in redeems {
        job_ids.push(redeem.await.unwrap());
    }
    assert!(job_ids.iter().all(|job_id| *job_id == job_ids[0]), "one job for the token: {job_ids:?}");
    let done = test.service.wait(&job_ids[0], WAIT).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    let output = done.output.expect("a succeeded job has its model");
    let glb = test.files.model_file(&output.model_id, output.format.file_name()).expect("the model is stored");
    assert_eq!(&glb[..4], b"glTF");
    assert_eq!(output.bytes as usize, glb.len());
    assert_eq!(test.files.n_inputs(), 0, "the input goes once the job is done");

    // Replays return the finished job without generating again.
    let replay = test.service.redeem(&request, &credential).await.unwrap();
    assert_eq!((replay.job_id, replay.state), (job_ids[0], JobState::Succeeded));
    assert_eq!(test.generator.n_calls(), 1);
    assert_eq!(test.jobs.len(), 1);

    // The credential does not buy another image, and a preimage that was not paid buys nothing.
    let other = disc_request(96, 30.0);
    let refused = test.service.redeem(&other, &credential).await.unwrap_err();
    assert!(matches!(refused, RedeemError::Rejected(Rejection::L402(VerifyError::RequestMismatch))), "{refused:?}");
    let Credential::L402(paid) = credential.as_ref() else { panic!("an L402 credential") };
    let unpaid = Credential::L402(mesh402_l402::Credential { preimage: Preimage([7; 32]), ..paid.clone() });
    let refused = test.service.redeem(&request, &unpaid).await.unwrap_err();
    assert!(matches!(refused, RedeemError::Rejected(Rejection::L402(VerifyError::PreimageMismatch))), "{refused:?}");

    // The status of the job is for its credential only.
    assert!(test.service.job_for_credential(&job_ids[0], &credential).await.unwrap().is_some());
    let someone_else = test.paid_credential(&other).await;
    assert!(test.service.job_for_credential(&job_ids[0], &someone_else).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_payment_presented_through_both_schemes_buys_one_job() {
    let test = Arc::new(TestService::new(FakeGenerator::slow(Duration::from_millis(20))));
    let request = Arc::new(disc_request(96, 36.0));
    let (l402, payment) = test.paid_credentials(&request).await;
    assert_eq!(test.lightning.n_invoices(), 1, "one invoice for both challenges");
    let (l402, payment) = (Arc::new(l402), Arc::new(payment));
    let mut redeems = Vec::new();
    for n in 0..8 {
        let (test, request) = (test.clone(), request.clone());
        let credential = if n % 2 == 0 { l402.clone() } else { payment.clone() };
        redeems.push(tokio::spawn(async move { test.service.redeem(&request, &credential).await.unwrap().job_id }));
    }
    let mut job_ids = Vec::new();
    for redeem in redeems {
        job_ids.push(redeem.await.unwrap());
    }
    assert!(job_ids.iter().all(|job_id| *job_id == job_ids[0]), "one job whichever scheme: {job_ids:?}");
    assert_eq!(test.service.wait(&job_ids[0], WAIT).await.unwrap().state, JobState::Succeeded);
    assert_eq!((test.generator.n_calls(), test.jobs.len()), (1, 1));
    // The status of the job answers either credential.
    for credential in [&l402, &payment] {
        assert!(test.service.job_for_credential(&job_ids[0], credential).await.unwrap().is_some());
    }

    // The Payment credential is bound like the L402 one: not another picture, not an unpaid preimage.
    let other = disc_request(96, 30.0);
    let refused = test.service.redeem(&other, &payment).await.unwrap_err();
    let expected = Rejection::Payment(mesh402_mpp::VerifyError::RequestMismatch);
    assert!(matches!(&refused, RedeemError::Rejected(reason) if *reason == expected), "{refused:?}");
    let Credential::Payment(paid) = payment.as_ref() else { panic!("a Payment credential") };
    let mut unpaid = paid.as_ref().clone();
    unpaid.payload.preimage = Preimage([7; 32]).to_hex();
    let refused = test.service.redeem(&request, &Credential::Payment(Box::new(unpaid))).await.unwrap_err();
    let expected = Rejection::Payment(mesh402_mpp::VerifyError::PreimageMismatch);
    assert!(matches!(&refused, RedeemError::Rejected(reason) if *reason == expected), "{refused:?}");
}

#[tokio::test]
async fn a_payment_credential_of_another_server_or_past_its_time_is_refused() {
    let request = disc_request(96, 40.0);
    let config = mesh402_service::ServiceConfig {
        token_lifetime: Duration::from_secs(1),
        invoice_expiry: Duration::from_secs(1),
        ..mesh402_testkit::test_config()
    };
    let short = TestService::with_config(config, FakeGenerator::default());
    let (_, payment) = short.paid_credentials(&request).await;
    // Another server with the same realm but its own secret: the challenge's id does not bind under its key.
    let other = TestService::new(FakeGenerator::default());
    let foreign = other.service.verify(&payment, Some(request.binding())).unwrap_err();
    assert_eq!(foreign, Rejection::Payment(mesh402_mpp::VerifyError::BadId));
    assert_eq!(foreign.problem(), mesh402_mpp::Problem::InvalidChallenge);
    // Its own server takes it, until its time is over.
    assert!(short.service.verify(&payment, Some(request.binding())).is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = short.service.redeem(&request, &payment).await.unwrap_err();
    assert!(
        matches!(&late, RedeemError::Rejected(Rejection::Payment(mesh402_mpp::VerifyError::Expired { .. }))),
        "{late:?}"
    );
    assert!(short.jobs.is_empty(), "an expired credential buys nothing");
}

#[tokio::test]
async fn a_scheme_that_is_not_offered_is_neither_challenged_nor_accepted() {
    for (schemes, refused) in [
        (OfferedSchemes::L402, mesh402_service::Scheme::Payment),
        (OfferedSchemes::Payment, mesh402_service::Scheme::L402),
    ] {
        let both = TestService::new(FakeGenerator::default());
        let request = disc_request(96, 40.0);
        let (l402, payment) = both.paid_credentials(&request).await;
        let config = mesh402_service::ServiceConfig { schemes, ..mesh402_testkit::test_config() };
        let one = TestService::with_config(config, FakeGenerator::default());
        let quote = one.service.quote(&request, None).await.unwrap();
        assert_eq!(quote.payment.is_some(), schemes.offers(mesh402_service::Scheme::Payment));
        let credential = if refused == mesh402_service::Scheme::L402 { l402 } else { payment };
        assert_eq!(one.service.verify(&credential, None), Err(Rejection::NotOffered(refused)));
    }
}

#[tokio::test]
async fn a_failing_generation_is_retried_then_failed_and_the_credential_tries_again() {
    let test = TestService::new(FakeGenerator::failing(3));
    let request = disc_request(96, 40.0);
    let (credential, failed) = test.buy(&request).await;
    let job_id = failed.job_id;
    assert_eq!(failed.state, JobState::Failed);
    let failure = failed.failure.expect("the failure");
    assert_eq!(failure.code, "mesh_check_failed");
    assert!(failure.server_fault, "a failed self-check is the server's fault, not the input's");
    assert_eq!(test.generator.n_calls(), 3, "a bounded number of automatic attempts");
    let attempts: Vec<u32> = test.service.failures(&job_id).await.unwrap().iter().map(|f| f.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3], "every attempt's failure is recorded");
    assert_eq!(test.files.n_inputs(), 0, "a failed job's input is removed");

    // The client sends the same request with the same credential: the job runs again and succeeds.
    let retried = test.service.redeem(&request, &credential).await.unwrap();
    assert_eq!(retried.job_id, job_id, "the same job, not a second one");
    let done = test.service.wait(&job_id, WAIT).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.failure, None);
    assert_eq!(test.generator.n_calls(), 4);
}

#[tokio::test]
async fn an_input_the_generator_rejects_fails_once_as_the_clients_fault() {
    let test = TestService::new(FakeGenerator::default());
    // A job left queued whose stored input has no object in it (a blank picture).
    let request = disc_request(96, 40.0);
    let job_id = test.queue_job(9, &request, Some(&disc_png(96, 0.0))).await;
    assert_eq!(test.service.resume_unfinished().await.unwrap(), 1, "the queued job is picked up");
    let rejected = test.service.wait(&job_id, WAIT).await.unwrap();
    assert_eq!(rejected.state, JobState::Failed);
    let failure = rejected.failure.expect("the failure");
    assert_eq!(failure.code, "no_object_found");
    assert!(!failure.server_fault);
    assert_eq!(test.generator.n_calls(), 1, "a client error is not retried");
}

#[tokio::test]
async fn a_job_resumed_without_its_input_fails_as_a_server_fault() {
    let test = TestService::new(FakeGenerator::default());
    let job_id = test.queue_job(8, &disc_request(96, 40.0), None).await;
    assert_eq!(test.service.resume_unfinished().await.unwrap(), 1);
    let failed = test.service.wait(&job_id, WAIT).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    let failure = failed.failure.expect("the failure");
    assert_eq!(failure.code, "input_missing");
    assert!(failure.server_fault, "a lost input is not the client's fault");
    assert_eq!(test.generator.n_calls(), 0);
}

#[tokio::test]
async fn the_sweep_removes_what_is_past_retention_and_at_rest_and_orphaned_inputs() {
    let test = TestService::new(FakeGenerator::default());
    let (_, done) = test.buy(&disc_request(96, 40.0)).await;
    let model_id = done.output.expect("a model").model_id;
    let now = unix_now();
    assert_eq!(test.service.sweep(now).await.unwrap().jobs, 0, "a fresh job is kept");
    let swept = test.service.sweep(now + 8 * 24 * 3600).await.unwrap();
    assert_eq!(swept.jobs, 1);
    assert!(test.jobs.is_empty());
    assert!(test.files.model_file(&model_id, "model.glb").is_none());

    // Paid work not at rest stays whatever its age: a queued job (no worker took it yet) keeps its record and
    // its input.
    let queued = test.queue_job(9, &disc_request(96, 41.0), Some(b"png")).await;
    assert_eq!(test.service.sweep(now + 30 * 24 * 3600).await.unwrap().jobs, 0, "a queued paid job is kept");
    assert_eq!(test.jobs.job(&queued).await.unwrap().map(|job| job.state), Some(JobState::Queued));
    assert_eq!(test.files.n_inputs(), 1);
    test.files.delete_input(&queued).await.unwrap();

    // A model no job names (its worker died between storing and recording it) goes too, once old; a job's model
    // stays.
    let (_, kept) = test.buy(&disc_request(96, 42.0)).await;
    let kept = kept.output.expect("a model").model_id;
    let orphan = mesh402_store::ModelId([0x0f; 32]);
    test.files.put_model_written_at(orphan, &[("model.glb".into(), b"glTF".to_vec())], now);
    assert_eq!(test.service.sweep(now).await.unwrap().orphan_models, 0, "too young to be an orphan");
    assert_eq!(test.service.sweep(now + 7200).await.unwrap().orphan_models, 1);
    assert!(test.files.model_file(&orphan, "model.glb").is_none());
    assert!(test.files.model_file(&kept, "model.glb").is_some(), "a job's model is not an orphan");

    // An input that never got a job (a crash between storing it and claiming the job) goes too, once old.
    test.files.put_input_written_at(JobId([0xab; 16]), b"png", now);
    assert_eq!(test.service.sweep(now).await.unwrap().orphan_inputs, 0, "too young to be an orphan");
    assert_eq!(test.service.sweep(now + 7200).await.unwrap().orphan_inputs, 1);
    assert_eq!(test.files.n_inputs(), 0);
}

#[tokio::test]
async fn a_node_that_is_down_makes_the_quote_fail_and_paid_credentials_still_work() {
    let test = TestService::new(FakeGenerator::default());
    let request = disc_request(96, 40.0);
    let credential = test.paid_credential(&request).await;
    test.lightning.set_down(true);
    let error = test.service.quote(&request, None).await.unwrap_err();
    assert!(matches!(error, ServiceError::LightningUnavailable(_)), "{error:?}");
    let job_id = test.service.redeem(&request, &credential).await.unwrap().job_id;
    assert_eq!(test.service.wait(&job_id, WAIT).await.unwrap().state, JobState::Succeeded);
    assert_eq!(test.lightning.n_invoices(), 1);
}

/// A store that cannot be written for a moment when a job's outcome is recorded (a database restarting, a full
/// disk): the worker records the outcome again once it can, so the request waiting for the job gets its model,
/// rather than the job staying unrecorded until a restart or a request sent again. Here the first attempt fails,
/// its failure cannot be recorded twice, then the retry succeeds.
#[tokio::test]
async fn an_outcome_the_store_refuses_for_a_moment_is_recorded_once_it_can_be() {
    let test = TestService::new(FakeGenerator::failing(1));
    test.jobs.refuse_outcomes(2);
    let request = disc_request(96, 40.0);
    let credential = test.paid_credential(&request).await;
    let job_id = test.service.redeem(&request, &credential).await.unwrap().job_id;
    // The refusals cost 1 s and 2 s of waiting; far more patience than that.
    let view = test.service.wait(&job_id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(view.state, JobState::Succeeded, "{view:?}");
    assert_eq!(view.attempts, 2);
    let stored = test.jobs.job(&job_id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Succeeded);
    assert_eq!(test.jobs.failures(&job_id).await.unwrap().len(), 1, "the first attempt's failure is recorded once");
}

/// A job whose attempt the store refuses to start for a moment (a full disk, a database restarting) starts once it
/// can, instead of staying queued until the request is sent again or the process restarts.
#[tokio::test]
async fn a_start_the_store_refuses_for_a_moment_is_made_once_it_can_be() {
    let test = TestService::new(FakeGenerator::default());
    test.jobs.refuse_starts(2);
    let request = disc_request(96, 40.0);
    let credential = test.paid_credential(&request).await;
    let job_id = test.service.redeem(&request, &credential).await.unwrap().job_id;
    // The refusals cost 1 s and 2 s of waiting; far more patience than that.
    let view = test.service.wait(&job_id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(view.state, JobState::Succeeded, "{view:?}");
    assert_eq!(view.attempts, 1, "one attempt, started on the third try");
}

/// The preflight decodes a picture once per request: the same picture with the same options again is checked by
/// its digest; other options, or another picture, are decoded; a refused picture is decoded again each time (its
/// refusal is not remembered).
#[tokio::test]
async fn a_picture_that_passed_is_not_decoded_again_for_the_same_request() {
    let test = TestService::new(FakeGenerator::default());
    let decoded = || test.generator.preflights.load(Ordering::SeqCst);
    let request = Arc::new(disc_request(96, 36.0));
    let first = test.service.preflight(&request).await.expect("the disc passes");
    let again = test.service.preflight(&Arc::new(disc_request(96, 36.0))).await.expect("the disc passes again");
    assert_eq!((first, again, decoded()), (again, first, 1), "the same request is decoded once");

    let deeper =
        ModelRequest::image(disc_png(96, 36.0), ImageKind::Png, MeshParams { depth: 0.5, ..Default::default() });
    test.service.preflight(&Arc::new(deeper)).await.expect("the disc passes with other options");
    test.service.preflight(&Arc::new(disc_request(96, 30.0))).await.expect("a smaller disc passes");
    assert_eq!(decoded(), 3, "other options and another picture are decoded");

    let blank = Arc::new(ModelRequest::image(disc_png(96, 0.0), ImageKind::Png, MeshParams::default()));
    for n in 4..=5 {
        assert!(
            matches!(test.service.preflight(&blank).await, Err(ServiceError::Input(_))),
            "a blank picture is refused"
        );
        assert_eq!(decoded(), n, "a refusal is decoded afresh");
    }
}
