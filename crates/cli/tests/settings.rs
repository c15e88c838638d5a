//! The layers of `mesh402 serve`'s settings on the real binary: a flag beats its `MESH402_*` variable, which
//! beats the `--config` file, which beats the default.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use lightning_invoice::Bolt11Invoice;
use serde_json::{Value, json};

/// Starts `command` (a `mesh402 serve` on port 0, with warnings-only logs) and waits for the line it prints once
/// listening: the child and its URL.
fn listening(mut command: Command) -> (std::process::Child, String) {
    let mut child =
        command.env("MESH402_LOG", "warn").stdout(Stdio::piped()).spawn().expect("the mesh402 binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.strip_prefix("mesh402 listening on ").and_then(|rest| rest.split_whitespace().next());
    let url = url.unwrap_or_else(|| panic!("the listening line: {line:?}")).to_owned();
    (child, url)
}

#[tokio::test]
async fn flags_beat_variables_beat_the_file_beats_defaults() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mesh402.toml");
    // price_sats from the file and a variable (the variable wins), invoice_expiry_secs from all three (the flag
    // wins), token_lifetime_secs from the file alone; max_wait_secs is left to its default.
    std::fs::write(&config, "price_sats = 10\ninvoice_expiry_secs = 900\ntoken_lifetime_secs = 7200\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesh402"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--invoice-expiry-secs", "1500", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("MESH402_PRICE_SATS", "20")
        .env("MESH402_INVOICE_EXPIRY_SECS", "1200");
    let (mut child, url) = listening(command);

    let png = mesh402_testkit::disc_png(128, 50.0);
    let body = json!({ "image": format!("data:image/png;base64,{}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png)) });
    let response = reqwest::Client::new().post(format!("{url}/api/l402/3d-model")).json(&body).send().await.unwrap();
    let challenge: Value = response.json().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(challenge["amount_sats"], 20, "the variable beats the file");
    let invoice = Bolt11Invoice::from_str(challenge["invoice"].as_str().unwrap()).unwrap();
    assert_eq!(invoice.expiry_time(), Duration::from_secs(1500), "the flag beats the variable and the file");
    let macaroon = mesh402_l402::Macaroon::from_base64(challenge["macaroon"].as_str().unwrap()).unwrap();
    let valid_until = macaroon
        .caveats()
        .iter()
        .find_map(|caveat| String::from_utf8_lossy(caveat).strip_prefix("3d-model_valid_until=").map(str::to_owned))
        .expect("a validity caveat");
    let lifetime = valid_until.parse::<u64>().unwrap().saturating_sub(mesh402_service::unix_now());
    assert!((7100..=7200).contains(&lifetime), "the file beats the default: {lifetime} s");
}

/// `mesh402 serve --listen 0.0.0.0:…` with nothing else would hand out free models (the development wallet's
/// `/dev/pay`) and model URLs naming 0.0.0.0: the binary refuses to start and says which settings to give; with
/// them it starts, and the models it names are under the public URL.
#[tokio::test]
async fn on_every_interface_the_development_wallet_needs_consent_and_a_public_url() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let serve = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesh402"));
        command
            .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(extra)
            .env("MESH402_LOG", "warn");
        command
    };
    let refused = serve(&[]).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("public_url"), "{said}");
    let refused = serve(&["--public-url", "https://models.example.com"]).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("allow_dev_wallet_on_network"), "{said}");

    let mut child = serve(&["--allow-dev-wallet-on-network", "true", "--public-url", "https://models.example.com"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .strip_prefix("mesh402 listening on http://0.0.0.0:")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the listening line: {line}"))
        .to_owned();
    let discovery: Value =
        reqwest::get(format!("http://127.0.0.1:{port}/.well-known/l402.json")).await.unwrap().json().await.unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let warned = String::from_utf8_lossy(&output.stderr);
    assert!(warned.contains("take models for free"), "the start-up warning: {warned}");
    let text = discovery.to_string();
    assert!(text.contains("https://models.example.com/"), "links under the public URL: {text}");
    assert!(!text.contains("0.0.0.0"), "no link names the unspecified address: {text}");
}

/// A soft or hard limit from `/proc/PID/limits`' open-files line (`None` for "unlimited").
fn open_file_limit(pid: u32, column: usize) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    line["Max open files".len()..].split_whitespace().nth(column).and_then(|value| value.parse().ok())
}

/// Started with a low soft limit on open files (a shell's or a service manager's 1,024), `serve` raises it to the
/// hard limit, so that thousands of waiting paid requests are not refused for lack of descriptors.
#[test]
fn serve_raises_its_open_file_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let hard = open_file_limit(std::process::id(), 1);
    assert!(hard.is_none_or(|hard| hard > 256), "this machine's hard limit ({hard:?}) leaves nothing to raise");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -S -n 256 && exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\"")
        .arg(env!("CARGO_BIN_EXE_mesh402"))
        .arg(dir.path());
    let (mut child, _) = listening(command);
    let soft = open_file_limit(child.id(), 0);
    let _ = child.kill();
    let _ = child.wait();
    let expected = hard.map_or(1 << 20, |hard| hard.min(1 << 20));
    assert_eq!(soft, Some(expected), "the soft limit is raised from 256 to the hard limit ({hard:?})");
}
