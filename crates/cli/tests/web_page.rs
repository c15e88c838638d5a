//! The web page on the real binary: what `GET /` and its assets are served with, `POST /api/l402/invoice-status`
//! (the holder of a challenge's macaroon, and nobody else, learns that its invoice was paid and gets the
//! preimage), and (ignored unless run with `--include-ignored`, as scripts/test.sh does) the page itself in headless
//! Chromium (`tests/js/web-page.mjs`):
//! paid with the development wallet's button, with a (stand-in) WebLN browser wallet, outside the page through the
//! development wallet, and, with the server on a real LNbits, from a second LNbits wallet; and the refund of a
//! paid photo the generation refuses, claimed from the page.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_l402::{Identifier, Keyring, MintParams, PaymentHash, ServerSecret, TokenId, mint};
use mesh402_testkit::ServerProcess;
use mesh402_testkit::buyer::dev_pay;
use mesh402_testkit::lnbits::LnbitsServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running server; killed when dropped.
type Server = ServerProcess;

fn start_server() -> Server {
    start_server_with(&[], &[])
}

fn start_server_with(args: &[&str], env: &[(&str, &str)]) -> Server {
    ServerProcess::start_with_env(Path::new(env!("CARGO_BIN_EXE_mesh402")), args, env)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn horse() -> Vec<u8> {
    std::fs::read(repo().join("crates/mesh/tests/fixtures/horse.png")).unwrap()
}

async fn challenge(server: &Server, body: &Value) -> Value {
    let response =
        reqwest::Client::new().post(format!("{}/api/l402/3d-model", server.url)).json(body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    response.json().await.unwrap()
}

async fn invoice_status(server: &Server, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/l402/invoice-status", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("www-authenticate").is_none());
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_invoice_status_answers_the_macaroons_holder_and_nobody_else() {
    let server = start_server();
    let body = json!({ "image": format!("data:image/png;base64,{}", STANDARD.encode(horse())) });
    let quote = challenge(&server, &body).await;
    let macaroon = quote["macaroon"].as_str().unwrap();
    let payment_hash: PaymentHash = quote["payment_hash"].as_str().unwrap().parse().unwrap();

    let (status, open) = invoice_status(&server, json!({ "macaroon": macaroon })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open["paid"], false);
    assert_eq!(open["state"], "open");
    assert!(open.get("preimage").is_none());

    // Whoever knows only the payment hash (it is in the invoice) mints a macaroon for it under another secret.
    let forged = mint(
        &Keyring::new(ServerSecret::from_bytes([7; 32])),
        &Identifier { payment_hash, token_id: TokenId([9; 32]) },
        &MintParams { service: "3d-model", tier: 0, capabilities: &[], valid_until: u64::MAX, request_binding: None },
    )
    .to_base64();
    let refused = |status: StatusCode, body: &Value| {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "invoice_not_found");
        assert!(body.get("preimage").is_none());
    };
    let (status, answer) = invoice_status(&server, json!({ "macaroon": forged })).await;
    refused(status, &answer);
    let (status, answer) = invoice_status(&server, json!({ "macaroon": "not a macaroon" })).await;
    refused(status, &answer);
    let (status, answer) = invoice_status(&server, json!({ "payment_hash": payment_hash.to_string() })).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));

    // Paid outside: the holder gets the preimage, which completes its credential; the forger still gets nothing.
    let wallet_preimage = dev_pay(&reqwest::Client::new(), &server.url, quote["invoice"].as_str().unwrap()).await;
    let (status, settled) = invoice_status(&server, json!({ "macaroon": macaroon })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settled["paid"], true);
    assert_eq!(settled["preimage"], wallet_preimage.as_str());
    let (status, answer) = invoice_status(&server, json!({ "macaroon": forged })).await;
    refused(status, &answer);

    let response = reqwest::Client::new()
        .post(format!("{}/api/l402/3d-model", server.url))
        .header("Authorization", format!("L402 {macaroon}:{wallet_preimage}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.unwrap()["modelUrl"].as_str().is_some());
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary_with_a_strict_policy() {
    let server = start_server();
    let client = reqwest::Client::new();
    let page = client.get(format!("{}/", server.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self' blob:"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"), "{csp}");
    let html = page.text().await.unwrap();
    let etag = headers["etag"].clone();
    let again = client.get(format!("{}/", server.url)).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Every asset the page names is versioned, served with its type, and cached for good.
    let mut named = 0;
    for (path, media_type) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/vendor/model-viewer.min.js", "text/javascript"),
        ("/vendor/qrcode.js", "text/javascript"),
    ] {
        let start = html.find(&format!("\"{path}?v=")).unwrap_or_else(|| panic!("the page names {path}"));
        let url = &html[start + 1..];
        let url = &url[..url.find('"').unwrap()];
        let asset = client.get(format!("{}{url}", server.url)).send().await.unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{url}");
        assert!(asset.headers()["content-type"].to_str().unwrap().starts_with(media_type), "{url}");
        assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
        named += 1;
    }
    assert_eq!(named, 4);
    let licences = client.get(format!("{}/vendor/LICENSES.txt", server.url)).send().await.unwrap();
    assert!(licences.text().await.unwrap().contains("Apache License"));

    let config: Value =
        client.get(format!("{}/api/page-config", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["dev_wallet"], true);
    assert_eq!(config["price_sats"], 350);
    assert_eq!(config["target_faces"]["min"], 500);
}

/// Runs `tests/js/web-page.mjs` against a fresh server; returns its summary.
fn run_page(payment: &str, photo: &str, screenshot: &Path) -> Value {
    let server = start_server();
    let downloads = tempfile::tempdir().unwrap();
    let output = Command::new("node")
        .arg(repo().join("tests/js/web-page.mjs"))
        .arg(&server.url)
        .arg(repo().join("crates/mesh/tests/fixtures").join(photo))
        .arg(screenshot)
        .arg(downloads.path())
        .arg(payment)
        .output()
        .expect("node is installed (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the page test failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).expect("a JSON summary")
}

#[test]
#[ignore = "needs Node.js, playwright-core and Debian's chromium: scripts/test.sh installs them and runs this with --include-ignored"]
fn in_a_browser_the_development_wallets_button_buys_a_model_shown_in_the_viewer() {
    // Screenshots of the page with the model on it (a textured photo of three fruits on a table) and of the
    // payment step are kept for people to look at: target/web-page.png and target/web-page-pay.png.
    let screenshot = repo().join("target/web-page.png");
    let summary = run_page("dev-button", "scenes/fruit_trio_table.jpg", &screenshot);
    assert_eq!(summary["validator_errors"], 0);
    assert_eq!(summary["validator_warnings"], 0);
    assert_eq!(summary["reload_shows_model"], true);
    assert!(summary["model_pixels"]["drawn"].as_u64().unwrap() > 1000, "{summary}");
    assert!(screenshot.exists());
}

#[test]
#[ignore = "needs Node.js, playwright-core and Debian's chromium: scripts/test.sh installs them and runs this with --include-ignored"]
fn in_a_browser_a_payment_made_outside_the_page_is_picked_up_by_it() {
    let screenshot = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    let summary = run_page("external", "horse.png", screenshot.path());
    assert_eq!(summary["validator_errors"], 0);
    assert!(summary["states"].as_array().unwrap().iter().any(|state| state == "generating"), "{summary}");
}

#[test]
#[ignore = "needs Node.js, playwright-core and Debian's chromium: scripts/test.sh installs them and runs this with --include-ignored"]
fn in_a_browser_a_webln_wallet_pays_from_its_button() {
    let screenshot = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    let summary = run_page("webln", "horse.png", screenshot.path());
    assert_eq!(summary["webln_button_visible"], true);
    assert_eq!(summary["validator_errors"], 0);
}

#[test]
#[ignore = "needs Node.js, playwright-core and Debian's chromium: scripts/test.sh installs them and runs this with --include-ignored"]
fn in_a_browser_a_paid_photo_that_cannot_be_modelled_is_refunded_from_the_page() {
    // A blank picture over 2 MP passes the checks before the invoice and is refused by the paid generation.
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(1500, 1400, image::Rgb([90, 90, 90])).save(&blank).unwrap();
    let screenshot = repo().join("target/web-page-refund.png");
    let summary = run_page("refund", blank.to_str().unwrap(), &screenshot);
    let states = summary["states"].as_array().unwrap();
    for state in ["generating", "refund-offered", "refunded"] {
        assert!(states.iter().any(|seen| seen == state), "{state}: {summary}");
    }
    let status = summary["refund_status"].as_str().unwrap();
    let preimage = status.rsplit(' ').next().unwrap();
    assert!(preimage.len() == 64 && preimage.bytes().all(|b| b.is_ascii_hexdigit()), "{status}");
    assert_eq!(summary["reload_shows_refund"], true);
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn in_a_browser_on_lnbits_an_invoice_paid_from_another_wallet_is_picked_up_by_the_page() {
    let lnbits = LnbitsServer::start().await;
    let server = start_server_with(
        &["--lightning", "lnbits", "--lnbits-url", &lnbits.url],
        &[("MESH402_LNBITS_INVOICE_KEY", &lnbits.shop_invoice_key)],
    );
    let downloads = tempfile::tempdir().unwrap();
    let screenshot = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    let mut node = Command::new("node")
        .arg(repo().join("tests/js/web-page.mjs"))
        .arg(&server.url)
        .arg(repo().join("crates/mesh/tests/fixtures/horse.png"))
        .arg(screenshot.path())
        .arg(downloads.path())
        .arg("wait")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed (scripts/test.sh installs it)");
    let stderr = node.stderr.take().unwrap();
    let (invoice_tx, invoice_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut invoice_tx = Some(invoice_tx);
        let mut rest = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            match line.strip_prefix("invoice: ") {
                Some(invoice) => {
                    if let Some(tx) = invoice_tx.take() {
                        let _ = tx.send(invoice.to_owned());
                    }
                }
                None => rest.push(line),
            }
        }
        rest.join("\n")
    });
    // The page shows the invoice; a second LNbits wallet pays it; the page never sees this preimage.
    if let Ok(invoice) = invoice_rx.await {
        assert!(invoice.starts_with("lnbc"), "{invoice}");
        lnbits.pay(&invoice).await;
    }
    let mut stdout = String::new();
    node.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let status = node.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "the page test failed:\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["dev_button_visible"], false, "no development wallet on LNbits");
    assert_eq!(summary["validator_errors"], 0);
    assert_eq!(summary["reload_shows_model"], true);
}
