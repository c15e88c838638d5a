//! Deployments of several processes on one machine, sharing a PostgreSQL database (a schema of each test's own)
//! and one data directory for the keys: two `serve --role api` nodes and a `mesh402 worker` with the model files
//! in the data directory; and two API nodes and two workers with the model files in an S3 bucket (moto), one
//! worker and one API node killed with SIGKILL while they hold work.

use mesh402_testkit::buyer::dev_wallet_credential as pay;
use mesh402_testkit::postgres::{TestSchema, server_url};
use mesh402_testkit::{ServerProcess, WorkerProcess};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_mesh402"))
}

fn worker(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> WorkerProcess {
    WorkerProcess::start(binary(), data_dir, args, env)
}

/// A small picture of a disc of `colour`: each colour is another request, so another payment and another job.
fn disc_body(colour: [u8; 3]) -> Value {
    mesh402_testkit::buyer::disc_body(colour, 96)
}

/// Buys a model from `node`, paying with the development wallet: the challenge, the payment, the paid request.
/// Returns the paid answer's status and body.
async fn buy(client: &reqwest::Client, node: &str, body: &Value) -> (StatusCode, Value) {
    let authorization = pay(client, node, body).await;
    let answer = client
        .post(format!("{node}/api/l402/3d-model"))
        .header("Authorization", authorization)
        .json(body)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

async fn count(store: &mesh402_store::SqlJobStore, state: mesh402_core::JobState) -> u64 {
    let counts = mesh402_store::JobStore::count_by_state(store).await.unwrap();
    counts.iter().find(|(counted, _)| *counted == state).map_or(0, |(_, n)| *n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs this with --include-ignored"]
async fn eight_paid_jobs_survive_a_killed_worker_and_a_killed_api_node_with_models_in_s3() {
    let server = server_url();
    let s3 = mesh402_testkit::s3::S3Server::start().await;
    let schema = TestSchema::create(&server).await;
    let bucket = s3.create_bucket().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = s3.env();
    env.push(("MESH402_DATABASE_URL", schema.url.clone()));
    env.push(("MESH402_OBJECT_STORE", format!("s3://{bucket}")));
    env.push(("MESH402_S3_ENDPOINT", s3.endpoint.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (*key, value.as_str())).collect();
    let mut doomed_node = ServerProcess::start_in_with_env(binary(), data_dir.path(), &["--role", "api"], &env);
    let surviving_node = ServerProcess::start_in_with_env(binary(), data_dir.path(), &["--role", "api"], &env);
    let mut doomed_worker = worker(data_dir.path(), &["--workers", "1"], &env);
    let _surviving_worker = worker(data_dir.path(), &["--workers", "1"], &env);

    // Eight paid requests, half to each node, all waiting at once; the pictures are large enough (1.4 MP) that
    // both workers are busy for a while.
    let client = reqwest::Client::new();
    let nodes = [doomed_node.url.clone(), surviving_node.url.clone()];
    // Every request is paid first, so that all eight paid requests then arrive together.
    let mut paid = Vec::new();
    for n in 0..8u8 {
        let body = mesh402_testkit::buyer::disc_body([30 * n + 20, 120, 200], 1200);
        let node = nodes[usize::from(n % 2)].clone();
        let authorization = pay(&client, &node, &body).await;
        paid.push((body, node, authorization));
    }
    let mut clients = Vec::new();
    for (body, node, authorization) in paid {
        let (client, fallback) = (client.clone(), nodes[1].clone());
        clients.push(tokio::spawn(async move {
            let send = |url: String| {
                client
                    .post(format!("{url}/api/l402/3d-model"))
                    .header("Authorization", &authorization)
                    .json(&body)
                    .send()
            };
            // A client whose node dies retries against the other node with the same credential.
            let response = match send(node).await {
                Ok(response) => response,
                Err(_) => send(fallback).await.expect("the other node answers"),
            };
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["modelUrl"].as_str().unwrap().to_owned()
        }));
    }

    let store = mesh402_store::SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count(&store, mesh402_core::JobState::Running).await < 2 {
        assert!(std::time::Instant::now() < deadline, "both workers never held a job at once");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // SIGKILL: the worker holds a running job, the node has requests waiting.
    doomed_worker.0.kill().unwrap();
    doomed_worker.0.wait().unwrap();
    doomed_node.child.kill().unwrap();
    doomed_node.child.wait().unwrap();

    let mut models = Vec::new();
    for client in clients {
        models.push(client.await.expect("every client gets its model"));
    }
    models.sort();
    models.dedup();
    assert_eq!(models.len(), 8, "eight distinct models");
    for model in &models {
        let path = model.split_once("/models/").map(|(_, path)| path).expect("a model path");
        let response = client.get(format!("{}/models/{path}", surviving_node.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{model}");
        assert_eq!(&response.bytes().await.unwrap()[..4], b"glTF");
    }
    assert_eq!(count(&store, mesh402_core::JobState::Succeeded).await, 8, "exactly eight completed generations");
    // The killed worker may have stored its model before it died; that object is unreachable (no job names it),
    // so the bucket holds the eight models and at most one more (the hourly sweep removes it once it is an hour
    // old: `SweepReport::orphan_models`).
    let keys = s3.list_keys(&bucket).await;
    for model in &models {
        let id = model.rsplit('/').next().and_then(|file| file.strip_suffix(".glb")).expect("a model id");
        assert!(keys.contains(&format!("models/{id}/model.glb")), "{model} is not in the bucket: {keys:?}");
    }
    let glbs = keys.iter().filter(|key| key.ends_with("/model.glb")).count();
    assert!((8..=9).contains(&glbs), "{glbs} models in the bucket");
    drop(store);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs this with --include-ignored"]
async fn api_nodes_record_jobs_and_a_worker_generates_them() {
    let server = server_url();
    let schema = TestSchema::create(&server).await;
    let data_dir = tempfile::tempdir().unwrap();
    let env = [("MESH402_DATABASE_URL", schema.url.as_str())];
    let first = ServerProcess::start_in_with_env(binary(), data_dir.path(), &["--role", "api"], &env);
    let second = ServerProcess::start_in_with_env(binary(), data_dir.path(), &["--role", "api"], &env);
    assert_eq!((first.resumed, second.resumed), (0, 0), "an API node resumes nothing: workers do");
    let _worker = worker(data_dir.path(), &["--workers", "2"], &env);

    let client = reqwest::Client::new();
    let mut models = Vec::new();
    for (n, node) in [&first, &second, &first, &second].into_iter().enumerate() {
        let (status, answer) = buy(&client, &node.url, &disc_body([40 * n as u8 + 60, 90, 200])).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        models.push(answer["modelUrl"].as_str().unwrap().to_owned());
    }
    // Every model downloads from the other node too: the nodes share the database and the files.
    for model in &models {
        let other = if model.starts_with(&first.url) { &second.url } else { &first.url };
        let path = model.split_once("/models/").map(|(_, path)| path).expect("a model path");
        let response = client.get(format!("{other}/models/{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{model}");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(&bytes[..4], b"glTF");
    }
    // The development wallet's ledger is in the database: an invoice paid through one node is paid for all.
    let challenge = client.post(format!("{}/api/l402/3d-model", first.url)).json(&disc_body([1, 2, 3])).send();
    let challenge: Value = challenge.await.unwrap().json().await.unwrap();
    let invoice = json!({ "invoice": challenge["invoice"] });
    let paid = client.post(format!("{}/dev/pay", first.url)).json(&invoice).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    let again = client.post(format!("{}/dev/pay", second.url)).json(&invoice).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "a second payment of the invoice through the other node");
    assert_eq!(again.json::<Value>().await.unwrap()["error"]["code"], "invoice_already_paid");

    let store = mesh402_store::SqlJobStore::connect_postgres(&schema.url).await.unwrap();
    let counts = mesh402_store::JobStore::count_by_state(&store).await.unwrap();
    let succeeded = counts.iter().find(|(state, _)| *state == mesh402_core::JobState::Succeeded).map(|(_, n)| *n);
    assert_eq!(succeeded, Some(4), "{counts:?}");
    drop(store);
    schema.drop_schema().await;
}

/// PostgreSQL crashes while an API node and a worker hold paid jobs, and comes back: both reconnect, and every job
/// completes exactly once. Four jobs are paid first (the development wallet's ledger is in the database too), their
/// paid requests sent, and the database stopped at once (`pg_ctl -m immediate`, as a crash) while they run, for
/// three seconds. A request the node cannot answer meanwhile gets `503 storage_unavailable` with `Retry-After`, and
/// the buyer sends it again with the same credential, as the answer says; the worker records the outcomes it could
/// not write once it can. The database is a cluster of the test's own, so that crashing it disturbs nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL's programs: scripts/test.sh runs this with --include-ignored"]
async fn paid_jobs_survive_a_postgresql_crash_and_restart() {
    let database = mesh402_testkit::postgres::PrivateServer::start();
    let data_dir = tempfile::tempdir().unwrap();
    let url = database.url();
    let env = [("MESH402_DATABASE_URL", url.as_str())];
    let node = ServerProcess::start_in_with_env(binary(), data_dir.path(), &["--role", "api"], &env);
    let _worker = worker(data_dir.path(), &["--workers", "1"], &env);

    let client = reqwest::Client::new();
    // Pictures large enough that one worker takes a few seconds for the four.
    let bodies: Vec<Value> =
        (0..4u8).map(|n| mesh402_testkit::buyer::disc_body([50 + 40 * n, 120, 200], 800)).collect();
    let mut credentials = Vec::new();
    for body in &bodies {
        credentials.push(pay(&client, &node.url, body).await);
    }
    let requests: Vec<_> = bodies
        .iter()
        .zip(&credentials)
        .map(|(body, authorization)| {
            let (client, url, body, authorization) =
                (client.clone(), node.url.clone(), body.clone(), authorization.clone());
            tokio::spawn(async move {
                let mut refusals = Vec::new();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
                loop {
                    assert!(std::time::Instant::now() < deadline, "no model within two minutes: {refusals:?}");
                    let answer = client
                        .post(format!("{url}/api/l402/3d-model"))
                        .header("Authorization", &authorization)
                        .json(&body)
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == StatusCode::OK => {
                            let answer: Value = answer.json().await.unwrap();
                            return (answer["modelUrl"].as_str().unwrap().to_owned(), refusals);
                        }
                        Ok(answer) => {
                            let status = answer.status();
                            let retry_after = answer.headers().get("retry-after").is_some();
                            let body: Value = answer.json().await.unwrap_or(Value::Null);
                            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
                            assert!(retry_after, "a 503 says when to come back: {body}");
                            refusals.push(body["error"]["code"].as_str().unwrap_or("").to_owned());
                        }
                        Err(error) => refusals.push(format!("transport: {error}")),
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let store = mesh402_store::SqlJobStore::connect_postgres(&url).await.unwrap();
    let done_before = count(&store, mesh402_core::JobState::Succeeded).await;
    drop(store);
    assert!(done_before < 4, "the crash comes while jobs are still to be done ({done_before} of 4 were done)");
    database.crash();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    database.restart();

    let mut models = Vec::new();
    for request in requests {
        let (model, refusals) = request.await.unwrap();
        eprintln!("{model}: refused on the way {refusals:?} ({done_before} of 4 done before the crash)");
        assert!(refusals.iter().all(|code| code == "storage_unavailable"), "{refusals:?}");
        let response = client.get(&model).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{model}");
        assert_eq!(&response.bytes().await.unwrap()[..4], b"glTF");
        models.push(model);
    }
    models.sort();
    models.dedup();
    assert_eq!(models.len(), 4, "four payments, four models");
    let store = mesh402_store::SqlJobStore::connect_postgres(&url).await.unwrap();
    assert_eq!(count(&store, mesh402_core::JobState::Succeeded).await, 4, "every job completed, once");
    let counts = mesh402_store::JobStore::count_by_state(&store).await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 4, "no job more: {counts:?}");
}
