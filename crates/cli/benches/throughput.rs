//! Jobs per second of a deployment on this machine: one `serve --role api` node and one or two `mesh402 worker`s
//! (one generation at a time each) sharing a PostgreSQL database and a data directory, with the release binary.
//!
//! Each round pays for `JOBS` distinct 1000×1000 pictures first, then sends the paid requests at once and times
//! until every client has its model; jobs/s is `JOBS` over that time. The median of `ROUNDS` rounds is reported per
//! worker count, and the ratio of two workers to one. Run with `cargo bench -p mesh402 --bench throughput`; the
//! database is `MESH402_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a schema of
//! the benchmark's own.
//!
//! A bench binary, not divan: one sample is a whole deployment's round of seconds, not a function call.

use std::time::{Duration, Instant};

use mesh402_testkit::buyer::{dev_wallet_credential, disc_body};
use mesh402_testkit::postgres::TestSchema;
use mesh402_testkit::{ServerProcess, WorkerProcess};
use serde_json::Value;

/// Paid requests per round.
const JOBS: usize = 32;
/// Rounds per worker count.
const ROUNDS: usize = 5;

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_mesh402"))
}

/// The time one round of `JOBS` paid requests takes, all sent at once to `node`.
async fn round(client: &reqwest::Client, node: &str, round: usize) -> Duration {
    let mut paid = Vec::new();
    for n in 0..JOBS {
        // A colour no other round used: a new picture, so a new payment and a new job.
        let body = disc_body([(round * JOBS + n) as u8, 100, 200], 1000);
        let authorization = dev_wallet_credential(client, node, &body).await;
        paid.push((body, authorization));
    }
    let started = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for (body, authorization) in paid {
        let (client, url) = (client.clone(), format!("{node}/api/l402/3d-model"));
        waiting.spawn(async move {
            let answer = client.post(url).header("Authorization", authorization).json(&body).send().await;
            let answer = answer.expect("the node answers");
            assert_eq!(answer.status(), reqwest::StatusCode::OK);
            let answer: Value = answer.json().await.expect("a JSON answer");
            assert!(answer["modelUrl"].is_string(), "{answer}");
        });
    }
    waiting.join_all().await;
    started.elapsed()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = std::env::var(mesh402_testkit::postgres::POSTGRES_VAR)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let client = reqwest::Client::new();
    let mut medians = Vec::new();
    for workers in [1, 2] {
        let schema = TestSchema::create(&server).await;
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let env = [("MESH402_DATABASE_URL", schema.url.as_str())];
        // One buyer makes every request: the per-client rate limits are raised out of the way.
        let args = [
            "--role",
            "api",
            "--challenges-per-minute",
            "100000",
            "--challenge-burst",
            "100000",
            "--unpaid-requests-per-minute",
            "100000",
            "--unpaid-burst",
            "100000",
        ];
        let node = ServerProcess::start_in_with_env(binary(), data_dir.path(), &args, &env);
        let processes: Vec<WorkerProcess> =
            (0..workers).map(|_| WorkerProcess::start(binary(), data_dir.path(), &["--workers", "1"], &env)).collect();
        // One unmeasured round warms the database, the page cache and the segmentation network's weights.
        round(&client, &node.url, 0).await;
        let mut rates = Vec::new();
        for n in 1..=ROUNDS {
            let elapsed = round(&client, &node.url, n).await;
            rates.push(JOBS as f64 / elapsed.as_secs_f64());
        }
        let rate = median(rates.clone());
        println!("{workers} worker(s): median {rate:.2} jobs/s over {ROUNDS} rounds of {JOBS} ({rates:.2?})");
        medians.push(rate);
        drop((processes, node));
        schema.drop_schema().await;
    }
    println!("2 workers / 1 worker: {:.2}×", medians[1] / medians[0]);
}
