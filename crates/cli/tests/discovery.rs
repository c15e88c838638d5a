//! Discovery and metrics against the real binary (contract §9), checked by independent tools that
//! `scripts/test.sh` installs: the OpenAPI document passes PyPI `openapi-spec-validator`; PyPI `schemathesis`
//! fuzzes the live server from it and finds no server error and no response that breaks the document; after a paid
//! flow, `/metrics` on the metrics listener passes `promtool check metrics` (Debian `prometheus`) and its counters
//! have moved by exactly what the flow did.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use mesh402_testkit::buyer::dev_pay;
use mesh402_testkit::{ServerProcess, disc_png, tools};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Rate limits out of the way: the fuzzer sends hundreds of unpaid requests from one address.
const UNLIMITED: &[&str] = mesh402_testkit::buyer::UNPAID_LIMITS_OFF;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mesh402"))
}

/// The venv's bin directory with openapi-spec-validator and schemathesis.
fn openapi_tools() -> PathBuf {
    PathBuf::from(tools::path("MESH402_TEST_OPENAPI_BIN", "openapi-spec-validator and schemathesis"))
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|error| panic!("{command:?} could not run: {error}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[tokio::test]
#[ignore = "needs openapi-spec-validator and schemathesis: scripts/test.sh installs them and runs this with --include-ignored"]
async fn the_openapi_document_is_valid_and_the_live_server_conforms_to_it() {
    let bin = openapi_tools();
    let server = ServerProcess::start(binary(), UNLIMITED);
    let document = reqwest::get(format!("{}/openapi.json", server.url)).await.unwrap().text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &document).unwrap();
    run(Command::new(bin.join("openapi-spec-validator")).arg(&file));

    // A bounded run: a fixed seed, few examples per operation, the two checks the contract names.
    let report = run(Command::new(bin.join("schemathesis"))
        .args(["run", &format!("{}/openapi.json", server.url)])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "8", "--seed", "402", "--workers", "1", "--phases", "examples,coverage,fuzzing"])
        .current_dir(dir.path()));
    println!("{report}");
    assert!(report.contains("passed"), "{report}");
}

/// One value of a metric from the text exposition, by its name and label set as printed.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
#[ignore = "needs promtool: scripts/test.sh installs it and runs this with --include-ignored"]
async fn metrics_pass_promtool_and_move_with_a_paid_flow() {
    let server = ServerProcess::start(binary(), &["--metrics-listen", "127.0.0.1:0", "--price-sats", "21"]);
    let metrics_url = server.metrics_url.clone().expect("the metrics listener's line");
    let client = reqwest::Client::new();
    let scrape = || async {
        let response = client.get(&metrics_url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    assert_eq!(
        client.get(format!("{}/metrics", server.url)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "metrics are not on the public listener"
    );
    let before = scrape().await;

    let png = disc_png(160, 55.0);
    let body =
        json!({ "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)) });
    let url = format!("{}/api/l402/3d-model", server.url);
    let challenge: Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
    let paid = dev_pay(&client, &server.url, challenge["invoice"].as_str().unwrap()).await;
    let authorization = format!("L402 {}:{paid}", challenge["macaroon"].as_str().unwrap());
    let bad = format!("L402 {}:{}", challenge["macaroon"].as_str().unwrap(), "00".repeat(32));
    assert_eq!(client.post(&url).json(&body).header("authorization", &bad).send().await.unwrap().status(), 402);
    let model = client.post(&url).json(&body).header("authorization", &authorization).send().await.unwrap();
    assert_eq!(model.status(), StatusCode::OK);
    let after = scrape().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &after).unwrap();
    let output =
        Command::new("promtool").args(["check", "metrics"]).stdin(std::fs::File::open(&file).unwrap()).output();
    let output = output.expect("promtool runs (Debian package prometheus)");
    let lint = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool check metrics:\n{lint}\n{after}");
    println!("{after}");

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    // The bad credential got a fresh challenge: two challenges in all.
    assert_eq!(moved("mesh402_challenges_issued_total"), 2.0);
    assert_eq!(moved("mesh402_credentials_total{outcome=\"accepted\",reason=\"valid\"}"), 1.0);
    assert_eq!(moved("mesh402_credentials_total{outcome=\"rejected\",reason=\"preimage_mismatch\"}"), 1.0);
    assert_eq!(moved("mesh402_earned_sats_total"), 21.0);
    assert_eq!(sample(&after, "mesh402_jobs{state=\"succeeded\"}"), 1.0);
    assert_eq!(moved("mesh402_jobs_finished_total{state=\"succeeded\"}"), 1.0);
    assert_eq!(moved("mesh402_generation_seconds_count{outcome=\"succeeded\"}"), 1.0);
    assert_eq!(moved("mesh402_queue_wait_seconds_count"), 1.0);
    assert_eq!(moved("mesh402_lightning_call_seconds_count{call=\"create_invoice\",outcome=\"ok\"}"), 2.0);
    assert!(moved("mesh402_stored_bytes_total") > 1000.0, "{after}");
    assert_eq!(moved("mesh402_http_requests_total{route=\"/api/l402/3d-model\",method=\"POST\",status=\"402\"}"), 2.0);
    assert_eq!(moved("mesh402_http_requests_total{route=\"/api/l402/3d-model\",method=\"POST\",status=\"200\"}"), 1.0);
}
