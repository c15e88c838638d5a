//! The `Payment` HTTP scheme (the Lightning charge) on the real binary: the 402 offers one invoice through both
//! schemes, a `Payment` credential buys the model and gets a receipt, the same payment through L402 reaches the same
//! job, and every tampered, foreign, unpaid or misplaced credential gets a fresh 402 with the problem it has. A
//! server offering one scheme sends and takes only that one.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_mpp::{BodyDigest, PaymentChallenge, PaymentCredential, Receipt, parse_challenges};
use mesh402_testkit::ServerProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_mesh402"))
}

fn disc_body(radius: f32) -> Vec<u8> {
    let png = mesh402_testkit::disc_png(160, radius);
    serde_json::to_vec(&json!({ "image": format!("data:image/png;base64,{}", STANDARD.encode(png)) })).unwrap()
}

async fn post(server: &ServerProcess, body: &[u8], authorization: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/l402/3d-model", server.url))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(120))
        .body(body.to_vec());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap()
}

async fn pay(server: &ServerProcess, invoice: &str) -> mesh402_l402::Preimage {
    mesh402_testkit::buyer::dev_pay(&reqwest::Client::new(), &server.url, invoice).await.parse().unwrap()
}

/// A 402's challenge lines, its Payment challenge (if any) and its body.
struct Offered {
    lines: Vec<String>,
    payment: Option<PaymentChallenge>,
    body: Value,
}

async fn offered(response: reqwest::Response) -> Offered {
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let lines: Vec<String> =
        response.headers().get_all("www-authenticate").iter().map(|value| value.to_str().unwrap().to_owned()).collect();
    let payment = lines
        .iter()
        .flat_map(|line| parse_challenges(line))
        .find_map(|challenge| PaymentChallenge::from_parsed(&challenge))
        .map(|challenge| challenge.expect("the Payment challenge reads"));
    if payment.is_some() {
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.ends_with("/.well-known/l402.json>; rel=\"l402-manifest\""), "{link}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 402);
    assert_eq!(body["error"]["code"], "payment_required");
    Offered { lines, payment, body }
}

/// The problem type a refused credential's fresh 402 names.
async fn refused(response: reqwest::Response) -> String {
    let offered = offered(response).await;
    assert_eq!(offered.lines.len(), 3, "a fresh challenge in both schemes");
    offered.body["type"].as_str().unwrap().trim_start_matches("https://paymentauth.org/problems/").to_owned()
}

#[tokio::test]
async fn a_payment_credential_buys_the_model_once_and_l402_reaches_the_same_job() {
    let server = ServerProcess::start(binary(), &[]);
    let body = disc_body(60.0);
    // A client whose Accept-Payment rules the Lightning charge out gets the L402 challenge alone.
    let l402_only = reqwest::Client::new()
        .post(format!("{}/api/l402/3d-model", server.url))
        .header("accept-payment", "lightning/charge;q=0, */session")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(offered(l402_only).await.lines.len(), 2);
    let first = offered(post(&server, &body, None).await).await;
    assert_eq!(first.lines.len(), 3);
    assert!(first.lines[0].starts_with("L402 macaroon=\""), "the L402 line stays first: {}", first.lines[0]);
    assert!(first.lines[1].starts_with("LSAT macaroon=\""));
    assert_eq!(first.body["type"], "https://paymentauth.org/problems/payment-required");
    let challenge = first.payment.expect("a Payment challenge");
    assert_eq!(
        (challenge.method.as_str(), challenge.intent.as_str(), challenge.realm.as_str()),
        ("lightning", "charge", "127.0.0.1")
    );
    assert_eq!(challenge.digest.as_deref(), Some(BodyDigest::of(&body).as_str()));
    let charge = challenge.charge().unwrap();
    assert_eq!((charge.amount.as_str(), charge.currency.as_str()), ("350", "sat"));
    // One invoice for both schemes.
    assert_eq!(charge.method_details.invoice, first.body["invoice"].as_str().unwrap());
    assert!(first.lines[0].contains(&charge.method_details.invoice));
    assert_eq!(charge.method_details.payment_hash.as_deref(), first.body["payment_hash"].as_str());
    assert_eq!(first.body["payment"]["id"], challenge.id.as_str());
    let expires = challenge.expires_unix().unwrap();
    let invoice_expires = mesh402_mpp::parse_time(first.body["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires <= invoice_expires, "not after the invoice");

    let preimage = pay(&server, &charge.method_details.invoice).await;
    let credential = PaymentCredential::new(challenge.clone(), &preimage);

    // Refusals first: none of them spends the payment.
    let mut wrong = credential.clone();
    wrong.payload.preimage = mesh402_l402::Preimage([7; 32]).to_hex();
    assert_eq!(refused(post(&server, &body, Some(&wrong.header_value())).await).await, "verification-failed");
    let mut hash_for_preimage = credential.clone();
    hash_for_preimage.payload.preimage = charge.method_details.payment_hash.clone().unwrap();
    assert_eq!(
        refused(post(&server, &body, Some(&hash_for_preimage.header_value())).await).await,
        "verification-failed"
    );
    let mut tampered = credential.clone();
    tampered.challenge.expires = Some(mesh402_mpp::format_time(expires + 86_400));
    assert_eq!(refused(post(&server, &body, Some(&tampered.header_value())).await).await, "invalid-challenge");
    let mut foreign = credential.clone();
    foreign.challenge.realm = "models.example.com".into();
    assert_eq!(refused(post(&server, &body, Some(&foreign.header_value())).await).await, "invalid-challenge");
    let mut expired = credential.clone();
    expired.challenge.opaque = None;
    assert_eq!(refused(post(&server, &body, Some(&expired.header_value())).await).await, "invalid-challenge");
    assert_eq!(refused(post(&server, &body, Some("Payment bm90IGpzb24")).await).await, "malformed-credential");
    // Another picture, and the same request written differently: the digest binds the body's bytes.
    let other = disc_body(50.0);
    assert_eq!(refused(post(&server, &other, Some(&credential.header_value())).await).await, "payment-required");
    let mut respaced = body.clone();
    respaced.insert(1, b' ');
    assert_eq!(refused(post(&server, &respaced, Some(&credential.header_value())).await).await, "payment-required");

    // The paid request: the model and a receipt.
    let response = post(&server, &body, Some(&credential.header_value())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("private"));
    assert!(response.headers().get("www-authenticate").is_none());
    let receipt = Receipt::decode(response.headers()["payment-receipt"].to_str().unwrap()).expect("a receipt");
    assert_eq!((receipt.status.as_str(), receipt.method.as_str()), ("success", "lightning"));
    assert_eq!(receipt.reference, preimage.hash().to_string(), "the payment hash, never the preimage");
    assert_eq!(receipt.challenge_id, challenge.id);
    let paid: Value = response.json().await.unwrap();
    let model_url = paid["modelUrl"].as_str().expect("a model").to_owned();

    // Replays join the same job; so does the same payment presented as an L402 credential.
    let replay: Value = post(&server, &body, Some(&credential.header_value())).await.json().await.unwrap();
    assert_eq!(replay["modelUrl"], model_url.as_str());
    let macaroon = first.body["macaroon"].as_str().unwrap();
    let l402 = format!("L402 {macaroon}:{}", preimage.to_hex());
    let through_l402: Value = post(&server, &body, Some(&l402)).await.json().await.unwrap();
    assert_eq!(through_l402["modelUrl"], model_url.as_str());
    assert_eq!(through_l402["job_id"], paid["job_id"]);

    // The status URL answers the Payment credential too, with a receipt.
    let status = reqwest::Client::new()
        .get(format!("{}/api/l402/jobs/{}", server.url, paid["job_id"].as_str().unwrap()))
        .header("authorization", credential.header_value())
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    assert!(status.headers().get("payment-receipt").is_some());
    let job: Value = status.json().await.unwrap();
    assert_eq!(job["state"], "succeeded");
}

#[tokio::test]
async fn a_server_offering_one_scheme_sends_and_takes_only_that_one() {
    let payment_only = ServerProcess::start(binary(), &["--payment-schemes", "payment"]);
    let body = disc_body(55.0);
    let offer = offered(post(&payment_only, &body, None).await).await;
    assert_eq!(offer.lines.len(), 1, "{:?}", offer.lines);
    assert!(offer.body.get("macaroon").is_none(), "no macaroon to pay with");
    let challenge = offer.payment.expect("the Payment challenge");
    let preimage = pay(&payment_only, &challenge.charge().unwrap().method_details.invoice).await;
    let credential = PaymentCredential::new(challenge, &preimage);
    let response = post(&payment_only, &body, Some(&credential.header_value())).await;
    assert_eq!(response.status(), StatusCode::OK);
    drop(payment_only);

    let l402_only = ServerProcess::start(binary(), &["--payment-schemes", "l402"]);
    let offer = offered(post(&l402_only, &body, None).await).await;
    assert_eq!(offer.lines.len(), 2, "{:?}", offer.lines);
    assert!(offer.payment.is_none() && offer.body.get("payment").is_none());
    // A Payment credential (here one for another server) gets the L402 challenge again.
    let again = offered(post(&l402_only, &body, Some(&credential.header_value())).await).await;
    assert_eq!(again.lines.len(), 2);
}

/// Runs `tests/js/mpp-client.mjs` (the mppx SDK) against `server`; its JSON summary.
fn mppx_client(server: &ServerProcess, validate: bool) -> Value {
    let image_path = server.data_dir.as_path().join("input.png");
    std::fs::write(&image_path, mesh402_testkit::disc_png(200, 80.0)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/mpp-client.mjs");
    let mut command = std::process::Command::new("node");
    command.arg(script).arg(&server.url).arg(&image_path);
    if validate {
        command.arg("validate");
    }
    let output = command.output().expect("node is installed (the test command installs the JS tools)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the mppx client failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
#[ignore = "needs Node.js and the pinned mppx SDK: scripts/test.sh installs them and runs this with --include-ignored"]
async fn the_mppx_sdk_reads_the_challenge_pays_and_reads_the_receipt() {
    let server = ServerProcess::start(binary(), &[]);
    let summary = mppx_client(&server, false);
    // mppx finds the one Payment challenge among the L402 lines (Fetch joins them into one header value).
    assert_eq!(summary["challenges"], json!(["lightning/charge"]), "{summary}");
    assert_eq!((&summary["amount"], &summary["currency"]), (&json!("350"), &json!("sat")));
    assert_eq!(summary["problemType"], "https://paymentauth.org/problems/payment-required");
    assert_eq!(summary["status"], 200, "{summary}");
    assert_eq!(summary["receipt"]["status"], "success");
    assert_eq!(summary["receipt"]["reference"], summary["paymentHash"]);
    assert!(summary["modelUrl"].as_str().is_some_and(|url| url.ends_with(".glb")), "{summary}");
    assert_eq!(summary["discoveryIssues"], json!([]), "mppx's discovery validator: {summary}");
    drop(server);

    // mppx's endpoint validator reads a 402 whose first line is a Payment challenge: a server offering only that.
    let payment_only = ServerProcess::start(binary(), &["--payment-schemes", "payment"]);
    let summary = mppx_client(&payment_only, true);
    assert_eq!(summary["status"], 200, "{summary}");
    let validation = &summary["validation"];
    assert_eq!(validation["failed"], json!([]), "{validation}");
    assert_eq!(validation["warnings"], json!([]), "{validation}");
    let passed: Vec<&str> = validation["passed"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for check in ["Challenge parseable", "Malformed credential returns 402", "Error response includes fresh challenge"]
    {
        assert!(passed.contains(&check), "{check}: {validation}");
    }
}
