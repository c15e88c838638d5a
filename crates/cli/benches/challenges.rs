//! What the `Payment` challenge costs an unpaid request: unpaid challenges per second of the release binary with
//! L402 alone (`--payment-schemes l402`) and with both schemes (`both`, the default: a second
//! `WWW-Authenticate` line for the same invoice, the body's digest, problem details), side by side on this machine.
//!
//! Both servers run at once (development wallet, rate limits raised out of the way); rounds alternate between them
//! so that a drift of the machine falls on both. Each round sends `REQUESTS` identical unpaid requests over
//! `CONNECTIONS` concurrent clients; the median of `ROUNDS` rounds per server is reported, and the ratio. Run with
//! `cargo bench -p mesh402 --bench challenges`.
//!
//! A bench binary, not divan: one sample is a server's round of thousands of HTTP requests, not a function call.

use std::time::Instant;

use mesh402_testkit::ServerProcess;
use mesh402_testkit::buyer::disc_body;

/// Unpaid requests per round.
const REQUESTS: usize = 2000;
/// Clients sending at once.
const CONNECTIONS: usize = 16;
/// Measured rounds per server.
const ROUNDS: usize = 7;

fn binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_mesh402"))
}

/// Challenges per second of one round against `url`.
async fn round(client: &reqwest::Client, url: &str, body: &[u8]) -> f64 {
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (client, url, body) = (client.clone(), url.to_owned(), body.to_vec());
        clients.spawn(async move {
            for _ in 0..REQUESTS / CONNECTIONS {
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(answer.status(), reqwest::StatusCode::PAYMENT_REQUIRED);
                answer.bytes().await.expect("the body");
            }
        });
    }
    clients.join_all().await;
    (REQUESTS / CONNECTIONS * CONNECTIONS) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let start = |schemes: &str| {
        let mut args = mesh402_testkit::buyer::UNPAID_LIMITS_OFF.to_vec();
        args.extend(["--max-connections-per-client", "1000", "--payment-schemes", schemes]);
        ServerProcess::start(binary(), &args)
    };
    let servers = [("l402", start("l402")), ("both", start("both"))];
    let body = serde_json::to_vec(&disc_body([200, 120, 40], 400)).expect("JSON");
    let client = reqwest::Client::new();
    let endpoint = |server: &ServerProcess| format!("{}/api/l402/3d-model", server.url);
    // One unmeasured round each warms the connection pools and the page cache.
    for (_, server) in &servers {
        round(&client, &endpoint(server), &body).await;
    }
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (index, (_, server)) in servers.iter().enumerate() {
            rates[index].push(round(&client, &endpoint(server), &body).await);
        }
    }
    let medians = rates.clone().map(median);
    println!("unpaid challenges, {} byte body, {CONNECTIONS} clients, {REQUESTS} requests per round:", body.len());
    for ((name, _), (median, all)) in servers.iter().zip(medians.iter().zip(&rates)) {
        println!("  {name:>4}: median {median:.0} challenges/s over {ROUNDS} rounds ({all:.0?})");
    }
    println!(
        "  both / l402: {:.3}× (the Payment line's cost: {:.1} %)",
        medians[1] / medians[0],
        (1.0 - medians[1] / medians[0]) * 100.0
    );
}
