//! `mesh402 mcp` driven by an independent MCP client, the official Python SDK (PyPI `mcp`, installed by
//! scripts/test.sh into a venv named by `MESH402_TEST_MCP_PYTHON`): the tools are listed, a photo is quoted and
//! its model bought from the real server with the development wallet, and the purchase checked before and after
//! (for free); with a session budget below the price the purchase is refused and nothing is paid; a picture the paid
//! generation refuses is paid, checked (a refund is offered) and its refund claimed with `claim_refund`; a text
//! prompt is offered by the tools and refused by a server whose generator reads no text.

use std::process::Command;

use serde_json::{Value, json};

fn python() -> String {
    mesh402_testkit::tools::path("MESH402_TEST_MCP_PYTHON", "the MCP Python SDK's python")
        .to_string_lossy()
        .into_owned()
}

fn run_agent(
    python: &str,
    server: &str,
    state: &std::path::Path,
    out: &std::path::Path,
    session_sats: &str,
    refused_image: Option<&std::path::Path>,
) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let image = root.join("crates/mesh/tests/fixtures/horse.png");
    let output = Command::new(python)
        .arg(root.join("tests/mcp/buy_with_mcp.py"))
        .arg(env!("CARGO_BIN_EXE_mesh402"))
        .args(["--server", server, "--wallet", "dev", "--max-sats-per-session", session_sats, "--state-dir"])
        .arg(state)
        .arg("--output-dir")
        .arg(out)
        .arg("--")
        .arg(&image)
        .args(refused_image)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
#[ignore = "needs the MCP Python SDK: scripts/test.sh installs it and runs this with --include-ignored"]
fn an_agent_lists_quotes_and_buys_within_its_budget() {
    let python = python();
    let running = mesh402_testkit::ServerProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_mesh402")), &[]);
    let server = running.url.clone();
    let ledger = running.data_dir.join("dev-wallet-paid.ledger");
    let paid = || std::fs::read_to_string(&ledger).map(|t| t.lines().count()).unwrap_or(0);

    // A session budget of 1 sat: the quote works, the purchase is refused, nothing is paid.
    let dir = tempfile::tempdir().unwrap();
    let poor = run_agent(&python, &server, &dir.path().join("state-poor"), dir.path(), "1", None);
    assert_eq!(poor["tools"], serde_json::json!(["check_job", "claim_refund", "generate_model", "quote_model"]));
    assert!(poor["descriptions"]["generate_model"].as_str().unwrap().contains("budget"));
    let quote: Value = serde_json::from_str(poor["quote"]["text"].as_str().unwrap()).unwrap();
    assert!(quote["price_sats"].as_u64().unwrap() > 1);
    // A prompt instead of an image: offered by the tools, refused by this server (its generator reads no text).
    assert!(poor["input_schemas"]["generate_model"]["properties"]["prompt"].is_object(), "{poor}");
    assert_eq!(poor["prompt_quote"]["is_error"], true, "{poor}");
    assert!(poor["prompt_quote"]["text"].as_str().unwrap().contains("prompt_unsupported"), "{poor}");
    assert_eq!(poor["generate"]["is_error"], true);
    assert!(poor["generate"]["text"].as_str().unwrap().contains("over the budget"), "{poor}");
    assert_eq!(paid(), 0);
    let check: Value = serde_json::from_str(poor["check_after"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(check["state"], "not_bought", "refused over budget before anything was saved or paid: {check}");

    // Enough budget: the model is bought once and written locally.
    // A blank picture over 2 MP passes the unpaid checks and is refused by the paid generation.
    let refused = dir.path().join("blank.png");
    image::RgbImage::from_pixel(1500, 1400, image::Rgb([90, 90, 90])).save(&refused).unwrap();
    let rich = run_agent(&python, &server, &dir.path().join("state"), dir.path(), "5000", Some(&refused));
    assert_eq!(rich["generate"]["is_error"], false, "{rich}");
    let result: Value = serde_json::from_str(rich["generate"]["text"].as_str().unwrap()).unwrap();
    assert!(result["model_url"].as_str().unwrap().starts_with("http"));
    assert_eq!(result["paid_sats"], quote["price_sats"]);
    assert_eq!(&std::fs::read(result["file"].as_str().unwrap()).unwrap()[..4], b"glTF");
    let before: Value = serde_json::from_str(rich["check_before"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(before["state"], "not_bought");
    let after: Value = serde_json::from_str(rich["check_after"]["text"].as_str().unwrap()).unwrap();
    assert_eq!((after["bought"].as_bool(), after["state"].as_str()), (Some(true), Some("succeeded")), "{after}");
    assert_eq!(after["model_url"], result["model_url"]);

    // The refused picture: paid, failed, a refund offered and claimed (to the development wallet's invoice).
    let refund = &rich["refund"];
    assert_eq!(refund["generate"]["is_error"], true, "{refund}");
    let check: Value = serde_json::from_str(refund["check"]["text"].as_str().unwrap()).unwrap();
    assert_eq!((&check["state"], &check["refund"]["state"]), (&json!("failed"), &json!("available")), "{check}");
    assert_eq!(refund["claim"]["is_error"], false, "{refund}");
    let claimed: Value = serde_json::from_str(refund["claim"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(claimed["refund"]["state"], "paid", "{claimed}");
    assert_eq!(claimed["refund"]["amount_sats"], quote["price_sats"]);
    assert_eq!(paid(), 3, "the horse, the refused picture and its refund, each once: checking pays nothing");
}
