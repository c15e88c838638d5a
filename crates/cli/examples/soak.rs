//! The long soak: mixed traffic against the release binary, which is killed and started again at intervals, with
//! memory, descriptors, p99 per kind of request and every paid job's outcome sampled (see `mesh402_testkit::soak`).
//!
//! `cargo build --release -p mesh402 && cargo run --release -p mesh402 --example soak -- [minutes] [restart every
//! N minutes] [unpaid clients] [paying clients]` (30, 10, 4 and 4 by default). Prints the table of the run and
//! exits non-zero when a paid job was neither delivered nor refunded, an answer was unexpected, or memory or
//! descriptors grew. The test suite runs a short one (`crates/cli/tests/soak.rs`).

use std::process::ExitCode;
use std::time::Duration;

use mesh402_testkit::soak::{SoakSettings, run};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(|examples| examples.parent()).map(|dir| dir.join("mesh402")))
        .filter(|path| path.exists());
    let Some(binary) = binary else {
        eprintln!("build the server first: cargo build --release -p mesh402");
        return ExitCode::from(2);
    };
    let settings = SoakSettings {
        binary,
        duration: Duration::from_secs(60 * arg(0, 30)),
        sample_every: Duration::from_secs(60),
        restart_every: Some(Duration::from_secs(60 * arg(1, 10))).filter(|every| !every.is_zero()),
        unpaid_clients: arg(2, 4) as usize,
        paying_clients: arg(3, 4) as usize,
        memory_slack_mb: 16,
    };
    let report = run(settings).await;
    println!("{}", report.table());
    let problems = report.problems();
    for problem in &problems {
        eprintln!("problem: {problem}");
    }
    if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
