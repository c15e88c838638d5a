//! `mesh402 generate` against the real server (the binary on port 0, development wallet): it pays once and
//! downloads a valid GLB, a rerun pays nothing, a budget below the price pays nothing (checked in the wallet's
//! ledger of paid invoices), a wallet's wrong preimage is refused before it is sent, and a client killed after
//! paying resumes on the next run without paying again; a prompt to a server whose generator reads no text is
//! refused before any invoice.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh402_client::{BuyError, Buyer, InvoicePayer, LnError, Order, Vault};
use mesh402_l402::{PaymentHash, Preimage};
use mesh402_testkit::ServerProcess;
use serde_json::Value;

type Server = ServerProcess;

fn start_server() -> Server {
    start_server_with(&[])
}

fn start_server_with(extra_args: &[&str]) -> Server {
    ServerProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_mesh402")), extra_args)
}

/// Invoices the development wallet has paid: one line each in its ledger.
fn paid_invoices(server: &Server) -> usize {
    std::fs::read_to_string(server.data_dir.join("dev-wallet-paid.ledger"))
        .map(|text| text.lines().filter(|line| !line.trim().is_empty()).count())
        .unwrap_or(0)
}

fn photo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mesh/tests/fixtures/horse.png")
}

fn generate(server: &Server, state: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesh402"));
    command
        .arg("generate")
        .arg(photo())
        .arg("-o")
        .arg(out)
        .args(["--server", &server.url, "--wallet", "dev", "--json", "--state-dir"])
        .arg(state)
        .args(extra);
    command
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn pays_once_downloads_and_a_rerun_pays_nothing() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("horse.glb");
    let first = generate(&server, &dir.path().join("state"), &out, &[]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stdout));
    let receipt = json_of(&first);
    assert_eq!(receipt["ok"], true);
    assert_eq!(receipt["paid_sats"], receipt["price_sats"]);
    assert!(receipt["paid_sats"].as_u64().unwrap() > 0);
    let model = std::fs::read(&out).unwrap();
    assert_eq!(&model[..4], b"glTF");
    assert_eq!(receipt["bytes"].as_u64().unwrap() as usize, model.len());
    assert_eq!(paid_invoices(&server), 1);
    // The credential was saved privately.
    let saved = std::fs::read_dir(dir.path().join("state")).unwrap().next().unwrap().unwrap().path();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);

    let again = generate(&server, &dir.path().join("state"), &out, &[]).output().unwrap();
    assert!(again.status.success());
    let receipt_again = json_of(&again);
    assert_eq!(receipt_again["paid_sats"], 0);
    assert_eq!(receipt_again["model_url"], receipt["model_url"]);
    assert_eq!(paid_invoices(&server), 1, "the rerun paid nothing");
}

#[test]
fn a_server_offering_only_the_payment_scheme_is_paid_through_it_once() {
    let server = start_server_with(&["--payment-schemes", "payment"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("horse.glb");
    let first = generate(&server, &dir.path().join("state"), &out, &[]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stdout));
    let receipt = json_of(&first);
    assert!(receipt["paid_sats"].as_u64().unwrap() > 0);
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    assert_eq!(paid_invoices(&server), 1);
    // The saved purchase holds the Payment challenge its credential echoes; the rerun resumes with it.
    let saved = std::fs::read_dir(dir.path().join("state")).unwrap().next().unwrap().unwrap().path();
    let purchase: Value = serde_json::from_slice(&std::fs::read(saved).unwrap()).unwrap();
    assert_eq!(purchase["payment_challenge"]["method"], "lightning", "{purchase}");
    let again = generate(&server, &dir.path().join("state"), &out, &[]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stdout));
    assert_eq!(json_of(&again)["paid_sats"], 0);
    assert_eq!(json_of(&again)["model_url"], receipt["model_url"]);
    assert_eq!(paid_invoices(&server), 1, "the rerun paid nothing");
}

#[test]
fn over_budget_pays_nothing_and_exits_3() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.glb");
    let output = generate(&server, &dir.path().join("state"), &out, &["--max-sats", "1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(json_of(&output)["error"]["code"], "over_budget");
    assert_eq!(paid_invoices(&server), 0);
    assert!(!out.exists());
}

#[test]
fn a_prompt_to_a_server_that_reads_no_text_is_refused_and_nothing_is_paid() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.glb");
    let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
        .args(["generate", "--prompt", "a brass oil lamp", "-o"])
        .arg(&out)
        .args(["--server", &server.url, "--wallet", "dev", "--json", "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stdout));
    let answer = json_of(&output);
    assert!(answer.to_string().contains("prompt_unsupported"), "{answer}");
    assert_eq!(paid_invoices(&server), 0);
    assert!(!out.exists());
    // An image and a prompt at once is bad input, refused before the server is asked.
    let both = generate(&server, &dir.path().join("state"), &out, &["--prompt", "a lamp"]).output().unwrap();
    assert_eq!(both.status.code(), Some(2), "{}", String::from_utf8_lossy(&both.stderr));
}

/// A wallet that pays nothing and returns a preimage of its own making.
#[derive(Debug)]
struct LyingWallet;

#[async_trait::async_trait]
impl InvoicePayer for LyingWallet {
    fn name(&self) -> &'static str {
        "lying"
    }
    async fn pay(&self, _bolt11: &str) -> Result<Preimage, LnError> {
        Ok(Preimage([7; 32]))
    }
    async fn paid_preimage(&self, _payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        Ok(None)
    }
}

#[tokio::test]
async fn a_wrong_preimage_is_refused_before_it_is_sent() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::new(dir.path().join("state"));
    let buyer = Buyer::new(&server.url, Arc::new(LyingWallet), 10_000, vault.clone()).unwrap();
    let order = Order::image(std::fs::read(photo()).unwrap(), "image/png", Default::default());
    match buyer.buy(&order, &mut |_| {}).await {
        Err(BuyError::WrongPreimage) => {}
        other => panic!("expected WrongPreimage, got {other:?}"),
    }
    // Saved before paying, but never with the wrong preimage; the server made no job.
    let saved: Vec<_> = std::fs::read_dir(dir.path().join("state")).unwrap().collect();
    assert_eq!(saved.len(), 1);
    let text = std::fs::read_to_string(saved[0].as_ref().unwrap().path()).unwrap();
    assert!(!text.contains(&"07".repeat(32)), "{text}");
    assert!(std::fs::read_dir(server.data_dir.join("models")).map(|d| d.count()).unwrap_or(0) == 0);
}

#[test]
fn a_client_killed_after_paying_resumes_without_paying_again() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("horse.glb");
    let mut child = generate(&server, &state, &out, &[]).stdout(Stdio::null()).spawn().unwrap();
    // Kill it as soon as the preimage is saved: the paid request is then in flight or about to be sent.
    let started = Instant::now();
    let killed = loop {
        let paid = std::fs::read_dir(&state)
            .map(|entries| {
                entries.flatten().any(|e| {
                    e.file_name().to_string_lossy().ends_with(".json")
                        && std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"preimage\": \""))
                })
            })
            .unwrap_or(false);
        if paid {
            child.kill().unwrap();
            break true;
        }
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(120) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.wait();
    assert!(killed, "the client finished before it could be killed");
    assert_eq!(paid_invoices(&server), 1);
    let rerun = generate(&server, &state, &out, &[]).output().unwrap();
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stdout));
    assert_eq!(json_of(&rerun)["paid_sats"], 0);
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    assert_eq!(paid_invoices(&server), 1, "one payment in all");
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn lnbits_end_to_end_the_servers_invoice_paid_from_a_second_wallet() {
    // Fails, saying what to set, unless MESH402_TEST_LNBITS names an LNbits; scripts/test.sh always sets it.
    let lnbits = mesh402_testkit::lnbits::LnbitsServer::start().await;
    let server = start_server_with(&[
        "--price-sats",
        "21",
        "--lightning",
        "lnbits",
        "--lnbits-url",
        &lnbits.url,
        "--lnbits-invoice-key",
        &lnbits.shop_invoice_key,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin.key");
    std::fs::write(&key_file, &lnbits.payer_admin_key).unwrap();
    let out = dir.path().join("model.glb");
    let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
        .arg("generate")
        .arg(photo())
        .arg("-o")
        .arg(&out)
        .args(["--server", &server.url, "--wallet", "lnbits", "--lnbits-url", &lnbits.url, "--json"])
        .arg("--lnbits-admin-key-file")
        .arg(&key_file)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let receipt = json_of(&output);
    assert_eq!(receipt["paid_sats"], 21);
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    // The key never appears in what the client prints.
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&lnbits.payer_admin_key));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&lnbits.payer_admin_key));
}

#[cfg(all(feature = "lnd", feature = "nwc"))]
#[test]
fn a_wallet_without_its_settings_is_bad_input_and_nothing_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    for (wallet, needs) in [("nwc", "--nwc-uri-file"), ("lnd", "--lnd-rest-url"), ("lnbits", "--lnbits-url")] {
        let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
            .arg("generate")
            .arg(photo())
            .args(["-o"])
            .arg(dir.path().join("model.glb"))
            .args(["--server", "http://127.0.0.1:9", "--wallet", wallet, "--json", "--state-dir"])
            .arg(dir.path().join("state"))
            .env_remove("MESH402_WALLET_NWC_URI")
            .env_remove("MESH402_WALLET_LNBITS_URL")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{wallet}");
        let result = json_of(&output);
        assert_eq!(result["error"]["code"], "bad_input");
        assert!(result["error"]["message"].as_str().unwrap().contains(needs), "{wallet}: {result}");
    }
}

#[cfg(all(feature = "lnd", feature = "nwc"))]
#[test]
fn the_shops_environment_never_makes_the_buyer_pay_with_the_shops_keys() {
    // A shell prepared for `mesh402 serve` with an LNbits or NWC backend: the shop's node and its admin key. A
    // listener stands for that node and counts whoever connects to it.
    let shop_node = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    shop_node.set_nonblocking(true).unwrap();
    let shop_url = format!("http://{}", shop_node.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    for (wallet, needs) in [("lnbits", "MESH402_WALLET_LNBITS_URL"), ("nwc", "MESH402_WALLET_NWC_URI")] {
        let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
            .arg("generate")
            .arg(photo())
            .args(["-o"])
            .arg(dir.path().join("model.glb"))
            .args(["--server", &shop_url, "--wallet", wallet, "--json", "--state-dir"])
            .arg(dir.path().join("state"))
            .env_remove("MESH402_WALLET_LNBITS_URL")
            .env_remove("MESH402_WALLET_LNBITS_ADMIN_KEY")
            .env_remove("MESH402_WALLET_NWC_URI")
            .env("MESH402_LIGHTNING", wallet)
            .env("MESH402_LNBITS_URL", &shop_url)
            .env("MESH402_LNBITS_ADMIN_KEY", "the-shops-admin-key")
            .env("MESH402_LNBITS_INVOICE_KEY", "the-shops-invoice-key")
            .env(
                "MESH402_NWC_URI",
                format!("nostr+walletconnect://{}?relay=ws://127.0.0.1:9&secret={}", "ab".repeat(32), "cd".repeat(32)),
            )
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{wallet}: {}", String::from_utf8_lossy(&output.stdout));
        let result = json_of(&output);
        assert_eq!(result["error"]["code"], "bad_input", "{wallet}");
        assert!(result["error"]["message"].as_str().unwrap().contains(needs), "{wallet}: {result}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("the-shops-admin-key"));
    }
    assert!(shop_node.accept().is_err(), "nobody contacted the shop's node or the shop");
}

/// A blank picture over 2 MP: it passes the unpaid checks (which do not decode pictures that large) and the paid
/// generation refuses it, an input fault after payment.
fn blank_large_png(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("blank.png");
    image::RgbImage::from_pixel(1500, 1400, image::Rgb([90, 90, 90])).save(&path).unwrap();
    path
}

#[test]
fn a_failed_purchase_is_refunded_with_the_development_wallet() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let (state, image) = (dir.path().join("state"), blank_large_png(dir.path()));
    let failed = Command::new(env!("CARGO_BIN_EXE_mesh402"))
        .arg("generate")
        .arg(&image)
        .arg("-o")
        .arg(dir.path().join("blank.glb"))
        .args(["--server", &server.url, "--wallet", "dev", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(5), "{}", String::from_utf8_lossy(&failed.stdout));
    let failed = json_of(&failed);
    assert_eq!(failed["refund"]["state"], "available", "{failed}");
    assert_eq!(failed["refund"]["amount_sats"], 350);
    assert_eq!(paid_invoices(&server), 1, "the purchase was paid");

    let refund = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
            .arg("refund")
            .arg(&image)
            .args(["--server", &server.url, "--wallet", "dev", "--json", "--state-dir"])
            .arg(&state)
            .args(extra)
            .output()
            .unwrap();
        (output.status.code(), json_of(&output))
    };
    // An invoice for the wrong amount is refused, and nothing is paid.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let wrong: Value = runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{}/dev/invoice", server.url))
            .json(&serde_json::json!({ "amount_sats": 349 }))
            .send()
            .await
            .unwrap();
        answer.json().await.unwrap()
    });
    let (code, refused) = refund(&["--invoice", wrong["invoice"].as_str().unwrap()]);
    assert_eq!(code, Some(5), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("refund_amount_mismatch"), "{refused}");
    assert_eq!(paid_invoices(&server), 1);

    // Without --invoice the development wallet makes one; it pays it and proves it with the preimage.
    let (code, paid) = refund(&[]);
    assert_eq!(code, Some(0), "{paid}");
    assert_eq!(paid["refund"]["state"], "paid");
    assert_eq!(paid["refund"]["amount_msat"], 350_000);
    assert_eq!(paid_invoices(&server), 2, "the refund was paid to the development wallet's invoice, once");
    let (code, again) = refund(&[]);
    assert_eq!((code, &again["refund"]), (Some(0), &paid["refund"]), "a second claim answers with the first");
    assert_eq!(paid_invoices(&server), 2, "and pays nothing");
}

/// The scene fixture built to be ambiguous (a patch of autumn leaves shaped like a sheep, over the same leaves):
/// the unpaid checks accept it, so an invoice is made and paid; the paid generation finds no object it can trust
/// and refuses with a clear message instead of delivering a wrong model, and offers the refund.
#[test]
fn an_ambiguous_photo_is_refused_after_payment_with_a_refund_not_made_into_a_wrong_model() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mesh/tests/fixtures/scenes/camouflage_leaves_ambiguous.jpg");
    let out = dir.path().join("ambiguous.glb");
    let failed = Command::new(env!("CARGO_BIN_EXE_mesh402"))
        .arg("generate")
        .arg(&image)
        .arg("-o")
        .arg(&out)
        .args(["--server", &server.url, "--wallet", "dev", "--json", "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(5), "{}", String::from_utf8_lossy(&failed.stdout));
    let failed = json_of(&failed);
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("generation_rejected"), "{failed}");
    assert!(message.contains("could not be told apart from its background"), "{failed}");
    assert_eq!(failed["refund"]["state"], "available", "{failed}");
    assert_eq!(paid_invoices(&server), 1, "the purchase was paid once");
    assert!(!out.exists(), "no model was written");
}

/// The buyer's options are the generator's own values and ranges: anything else is refused by the argument
/// parser (exit 2) before a file is read or a server asked, and the message lists what is accepted.
#[test]
fn options_outside_the_generators_values_and_ranges_are_refused_before_anything_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.glb");
    for (option, value, expected) in [
        ("--mode", "balloon", "inflate, extrude"),
        ("--format", "fbx", "glb, obj, stl, ply, 3mf, usdz"),
        ("--target-faces", "499", "500..=200000"),
        ("--target-faces", "200001", "500..=200000"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mesh402"))
            .args(["generate", "no-such-photo.png", "-o"])
            .arg(&out)
            .args([option, value, "--server", "http://127.0.0.1:9", "--state-dir"])
            .arg(dir.path().join("state"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option} {value}: {stderr}");
        assert!(stderr.contains(expected), "{option} {value}: {stderr}");
    }
    assert!(!dir.path().join("state").exists(), "nothing was saved");
}

/// `mesh402 generate --wallet lnd` and `--wallet nwc` buy from the real server end to end. The buyer's node is the
/// test kit's stand-in (LND cannot run here; an NWC wallet service neither): LND's REST API over TLS with a pinned
/// self-signed certificate and a binary macaroon file, as an LND node gives them, and an NWC wallet service behind
/// a relay, reached by a connection string in a file. Each pays the shop's invoice through the server's
/// development wallet, so the server sees a real payment of its own invoice.
#[cfg(all(feature = "lnd", feature = "nwc"))]
#[tokio::test(flavor = "multi_thread")]
async fn the_buyers_lnd_node_and_nwc_wallet_buy_from_the_real_server() {
    use mesh402_testkit::nodes::{self, FakeNode, nwc::Keys};

    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let buy = |wallet_args: Vec<std::ffi::OsString>, name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesh402"));
        command
            .arg("generate")
            .arg(photo())
            .arg("-o")
            .arg(&out)
            .args(["--server", &server.url, "--json", "--state-dir"])
            .arg(dir.path().join(format!("state-{name}")))
            .args(wallet_args)
            .args(extra);
        (command, out)
    };
    let bought = |output: Output| {
        let said = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{said}");
        json_of(&output)
    };
    let run = |mut command: Command| async move {
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    };

    // LND: the macaroon file holds the macaroon's bytes, the certificate file LND's tls.cert.
    let node = FakeNode::paying_through("0201036c6e64", &server.url);
    let (pem, der, key) = nodes::self_signed();
    let lnd_url = nodes::serve_tls(nodes::lnd::router(node.clone()), der, key).await;
    let (macaroon_file, cert_file) = (dir.path().join("admin.macaroon"), dir.path().join("tls.cert"));
    std::fs::write(&macaroon_file, hex::decode("0201036c6e64").unwrap()).unwrap();
    std::fs::write(&cert_file, &pem).unwrap();
    let wallet_args = ["--wallet", "lnd", "--lnd-rest-url", &lnd_url, "--lnd-macaroon-file"]
        .into_iter()
        .map(Into::into)
        .chain([macaroon_file.into_os_string(), "--lnd-tls-cert-file".into(), cert_file.into_os_string()])
        .collect();
    let (command, out) = buy(wallet_args, "lnd.glb", &[]);
    let receipt = bought(run(command).await);
    assert!(receipt["paid_sats"].as_u64().unwrap() > 0 && receipt["paid_sats"] == receipt["price_sats"], "{receipt}");
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    let paid: Vec<_> = node.requests().into_iter().filter(|(_, body)| body.get("paid").is_some()).collect();
    assert_eq!(paid.len(), 1, "the buyer's node paid once");
    assert_eq!(paid[0].1["paid"], receipt["payment_hash"]);
    assert_eq!(paid_invoices(&server), 1);

    // NWC: another order (fewer faces), so another purchase.
    let node = FakeNode::paying_through("", &server.url);
    let (wallet, client) = (Keys::generate(), Keys::generate());
    let relay = nodes::nwc::start(node.clone(), wallet.clone(), client.public_key()).await;
    let uri_file = dir.path().join("nwc.uri");
    std::fs::write(&uri_file, nodes::nwc::uri(&wallet, &relay, &client)).unwrap();
    let wallet_args = vec!["--wallet".into(), "nwc".into(), "--nwc-uri-file".into(), uri_file.into_os_string()];
    let (command, out) = buy(wallet_args, "nwc.glb", &["--target-faces", "5000"]);
    let receipt = bought(run(command).await);
    assert!(receipt["paid_sats"].as_u64().unwrap() > 0, "{receipt}");
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    let sent: Vec<Value> = node.requests().into_iter().map(|(_, body)| body).collect();
    let pay = sent.iter().find(|body| body["method"] == "pay_invoice").expect("a pay_invoice request");
    assert_eq!(pay["encryption"], "nip44_v2", "the wallet says it reads NIP-44: {pay}");
    assert_eq!(paid_invoices(&server), 2, "each purchase paid the shop once");
}
