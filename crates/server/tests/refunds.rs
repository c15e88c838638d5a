//! Refunds on a real LNbits server: a paid job that fails for good (the generator fails through the
//! `ModelGenerator` trait: a test double, not a flag of the product) offers a refund; the buyer claims it with the
//! credential that paid and an invoice of its second LNbits wallet, which then holds exactly the paid amount, once.
//! Claims without the preimage, with another job's credential, for the wrong amount or for a job that delivered are
//! refused with their codes; concurrent claims pay once. (The crash between recording a claim and paying it is in
//! `crates/cli/tests/refunds.rs`, against the real binary.)

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_server::config::Secret;
use mesh402_server::{Config, RawConfig};
use mesh402_testkit::FakeGenerator;
use mesh402_testkit::lnbits::LnbitsServer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://mesh402.test";
const PRICE_SATS: u64 = 21;

fn png_disc() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(160, 160, |x, y| {
        let inside = ((x as f32 - 80.0).powi(2) + (y as f32 - 80.0).powi(2)).sqrt() < 60.0;
        if inside { image::Rgba([200, 60, 40, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

fn model_body() -> String {
    json!({ "image": format!("data:image/png;base64,{}", STANDARD.encode(png_disc())) }).to_string()
}

/// mesh402 on LNbits with the shop wallet's admin key (so it can refund) and `generator`.
async fn app(data_dir: &std::path::Path, lnbits: &LnbitsServer, generator: Arc<FakeGenerator>) -> Router {
    let raw = RawConfig {
        data_dir: Some(data_dir.to_path_buf()),
        price_sats: Some(PRICE_SATS),
        workers: Some(1),
        lightning: Some("lnbits".into()),
        lnbits_url: Some(lnbits.url.clone()),
        lnbits_invoice_key: Some(Secret::new(&lnbits.shop_invoice_key)),
        lnbits_admin_key: Some(Secret::new(&lnbits.shop_admin_key)),
        ..RawConfig::default()
    };
    let config = Config::resolve(raw).unwrap();
    let state = mesh402_server::build_with_generator(&config, PUBLIC_URL.into(), generator).await.unwrap();
    mesh402_server::router(state)
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn post(app: &Router, path: &str, authorization: Option<&str>, body: String) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    (status, json_body(response).await)
}

/// A paid credential: the challenge, paid from the payer wallet. Returns the macaroon and the preimage.
async fn pay_for_a_model(app: &Router, lnbits: &LnbitsServer) -> (String, String) {
    let (status, challenge) = post(app, "/api/l402/3d-model", None, model_body()).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{challenge}");
    let preimage = lnbits.pay(challenge["invoice"].as_str().unwrap()).await;
    (challenge["macaroon"].as_str().unwrap().to_owned(), preimage)
}

/// Claims the refund of `job_id` with `authorization` and an invoice.
async fn claim(app: &Router, job_id: &str, authorization: Option<&str>, invoice: &str) -> (StatusCode, Value) {
    let path = format!("/api/l402/jobs/{job_id}/refund");
    post(app, &path, authorization, json!({ "invoice": invoice }).to_string()).await
}

/// Buys a model whose job fails for good; returns the credential's `Authorization` and the failure's body.
async fn a_failed_paid_job(app: &Router, lnbits: &LnbitsServer) -> (String, Value) {
    let (macaroon, preimage) = pay_for_a_model(app, lnbits).await;
    let authorization = format!("L402 {macaroon}:{preimage}");
    let (status, failed) = post(app, "/api/l402/3d-model", Some(&authorization), model_body()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the job fails after its retries: {failed}");
    assert_eq!(failed["error"]["code"], "generation_failed");
    (authorization, failed)
}

fn fails_every_attempt() -> Arc<FakeGenerator> {
    Arc::new(FakeGenerator::failing(usize::MAX))
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn a_failed_paid_job_is_refunded_once_to_the_holder_of_its_preimage() {
    let lnbits = LnbitsServer::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    // Three failing attempts: the first job fails for good, the next one delivers.
    let generator = Arc::new(FakeGenerator::failing(mesh402_service::MAX_ATTEMPTS as usize));
    let app = app(data_dir.path(), &lnbits, generator.clone()).await;

    let (authorization, failed) = a_failed_paid_job(&app, &lnbits).await;
    let job_id = failed["job_id"].as_str().unwrap().to_owned();
    let refund = &failed["refund"];
    assert_eq!(refund["state"], "available", "{failed}");
    assert_eq!((refund["amount_sats"].as_u64(), refund["amount_msat"].as_u64()), (Some(21), Some(21_000)));
    assert_eq!(refund["claim_url"], format!("{PUBLIC_URL}/api/l402/jobs/{job_id}/refund"));
    assert!(refund["deadline"].as_u64().unwrap() > mesh402_service::unix_now());
    assert!(failed["error"]["message"].as_str().unwrap().contains("claim a refund of 21 sats"), "{failed}");

    let refunds_wallet = lnbits.refunds_invoice_key.clone();
    assert_eq!(lnbits.balance_msat(&refunds_wallet).await, 0);
    let invoice = lnbits.invoice(&refunds_wallet, PRICE_SATS).await;

    // The payment hash alone, a macaroon without its preimage, or a wrong preimage prove nothing.
    let macaroon = authorization.strip_prefix("L402 ").unwrap().split(':').next().unwrap().to_owned();
    let payment_hash = hex::encode(Sha256::digest(hex::decode(authorization.rsplit(':').next().unwrap()).unwrap()));
    for refused in [
        None,
        Some(format!("L402 {macaroon}:")),
        Some(format!("L402 {macaroon}")),
        Some(format!("L402 {macaroon}:{payment_hash}")),
        Some(format!("L402 {macaroon}:{}", "00".repeat(32))),
    ] {
        let (status, body) = claim(&app, &job_id, refused.as_deref(), &invoice).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused:?}: {body}");
        assert_eq!(body["error"]["code"], "refund_credential_invalid");
    }

    // An invoice for another amount, or none at all, is refused before anything is recorded.
    let wrong_amount = lnbits.invoice(&refunds_wallet, PRICE_SATS - 1).await;
    let (status, body) = claim(&app, &job_id, Some(&authorization), &wrong_amount).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("refund_amount_mismatch")));
    assert_eq!(body["amount_msat"], 21_000, "{body}");
    let (status, body) = claim(&app, &job_id, Some(&authorization), "lnbc1nonsense").await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("refund_invoice_invalid")));

    // A second job delivers: its credential cannot claim the first job's refund, nor its own.
    let (macaroon_b, preimage_b) = pay_for_a_model(&app, &lnbits).await;
    let authorization_b = format!("L402 {macaroon_b}:{preimage_b}");
    let (status, delivered) = post(&app, "/api/l402/3d-model", Some(&authorization_b), model_body()).await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    assert!(delivered.get("refund").is_none(), "a delivered job offers no refund");
    let (status, body) = claim(&app, &job_id, Some(&authorization_b), &invoice).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::FORBIDDEN, &json!("refund_credential_mismatch")));
    let job_b = delivered["job_id"].as_str().unwrap();
    let (status, body) = claim(&app, job_b, Some(&authorization_b), &invoice).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::CONFLICT, &json!("refund_not_owed")));
    assert_eq!(lnbits.balance_msat(&refunds_wallet).await, 0, "nothing was paid by the refused claims");

    // The holder of the preimage claims it: paid at once, exactly the price, with the wallet's proof.
    let (status, paid) = claim(&app, &job_id, Some(&authorization), &invoice).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let refund = &paid["refund"];
    assert_eq!(refund["state"], "paid");
    let proof = hex::decode(refund["preimage"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&proof)), refund["invoice_payment_hash"].as_str().unwrap());
    assert_eq!(lnbits.balance_msat(&refunds_wallet).await, 21_000, "the buyer's second wallet got the price");

    // A second claim, even with a fresh invoice, answers with the first refund and pays nothing.
    let another = lnbits.invoice(&refunds_wallet, PRICE_SATS).await;
    let (status, again) = claim(&app, &job_id, Some(&authorization), &another).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["refund"], paid["refund"]);
    assert_eq!(lnbits.balance_msat(&refunds_wallet).await, 21_000, "paid once");

    // The refunded credential redeems nothing more, and the status document says why.
    let (status, body) = post(&app, "/api/l402/3d-model", Some(&authorization), model_body()).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::CONFLICT, &json!("payment_refunded")));
    assert_eq!(body["refund"]["state"], "paid");
    let calls = generator.n_calls();
    let status_request = Request::get(format!("/api/l402/jobs/{job_id}")).header("authorization", &authorization);
    let status_answer = app.clone().oneshot(status_request.body(Body::empty()).unwrap()).await.unwrap();
    let job = json_body(status_answer).await;
    assert_eq!((&job["state"], &job["refund"]["state"]), (&json!("refunded"), &json!("paid")), "{job}");
    assert_eq!(generator.n_calls(), calls, "a refunded job is never generated again");
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn concurrent_claims_pay_once() {
    let lnbits = LnbitsServer::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let app = app(data_dir.path(), &lnbits, fails_every_attempt()).await;
    let (authorization, failed) = a_failed_paid_job(&app, &lnbits).await;
    let job_id = failed["job_id"].as_str().unwrap().to_owned();
    let refunds_wallet = lnbits.refunds_invoice_key.clone();

    let mut invoices = Vec::new();
    for _ in 0..4 {
        invoices.push(lnbits.invoice(&refunds_wallet, PRICE_SATS).await);
    }
    let claims = invoices.iter().map(|invoice| claim(&app, &job_id, Some(&authorization), invoice));
    let answers = futures_util::future::join_all(claims).await;
    let paid: Vec<&Value> = answers.iter().filter(|(status, _)| *status == StatusCode::OK).map(|(_, b)| b).collect();
    assert!(!paid.is_empty(), "{answers:?}");
    for (status, body) in &answers {
        assert!(matches!(*status, StatusCode::OK | StatusCode::ACCEPTED), "{status}: {body}");
        assert_eq!(body["refund"]["invoice_payment_hash"], paid[0]["refund"]["invoice_payment_hash"], "one claim won");
    }
    assert_eq!(lnbits.balance_msat(&refunds_wallet).await, 21_000, "four concurrent claims paid once");
    let (status, settled) = claim(&app, &job_id, Some(&authorization), &invoices[0]).await;
    assert_eq!((status, &settled["refund"]["state"]), (StatusCode::OK, &json!("paid")));
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn without_the_admin_key_no_refund_is_offered() {
    let lnbits = LnbitsServer::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let raw = RawConfig {
        data_dir: Some(data_dir.path().to_path_buf()),
        price_sats: Some(PRICE_SATS),
        workers: Some(1),
        lightning: Some("lnbits".into()),
        lnbits_url: Some(lnbits.url.clone()),
        lnbits_invoice_key: Some(Secret::new(&lnbits.shop_invoice_key)),
        ..RawConfig::default()
    };
    let config = Config::resolve(raw).unwrap();
    let state = mesh402_server::build_with_generator(&config, PUBLIC_URL.into(), fails_every_attempt()).await.unwrap();
    let app = mesh402_server::router(state);
    let manifest = app.clone().oneshot(Request::get("/.well-known/l402-services").body(Body::empty()).unwrap());
    assert_eq!(json_body(manifest.await.unwrap()).await["features"]["refunds"], false);

    let (authorization, failed) = a_failed_paid_job(&app, &lnbits).await;
    assert!(failed.get("refund").is_none(), "{failed}");
    assert!(failed["error"]["message"].as_str().unwrap().contains("try again"), "{failed}");
    let invoice = lnbits.invoice(&lnbits.refunds_invoice_key, PRICE_SATS).await;
    let (status, body) = claim(&app, failed["job_id"].as_str().unwrap(), Some(&authorization), &invoice).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::CONFLICT, &json!("refunds_not_offered")));
}
