//! A Lightning node that answers garbage, against the real binary: `mesh402 serve --lightning lnbits` in front of
//! a stand-in for LNbits (LNbits itself cannot be made to misbehave; the stand-in answers `GET /api/v1/wallet` as
//! LNbits does, so the start-up probe passes, then answers every invoice request with something no LNbits sends:
//! an HTML page, JSON without an invoice, a malformed payment hash, text that is not BOLT11, an invoice signed for
//! another amount, an invoice whose hash is not the one reported, a server error, 20 MB of noise, JSON of another
//! shape). Each unpaid request gets a clean `503 lightning_unavailable` JSON error with `Retry-After` and no
//! challenge (no invoice is handed out that the node did not make as asked), and the server keeps answering.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bitcoin::hashes::{Hash, sha256};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};
use mesh402_testkit::ServerProcess;
use mesh402_testkit::buyer::disc_body;
use serde_json::{Value, json};

/// A BOLT11 invoice signed by a random node: for `amount_msat`, with the payment hash of `preimage`.
fn signed_invoice(amount_msat: u64, preimage: [u8; 32]) -> String {
    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[0x42; 32]).expect("a key");
    InvoiceBuilder::new(Currency::Regtest)
        .description("garbage".into())
        .payment_hash(sha256::Hash::hash(&preimage))
        .payment_secret(PaymentSecret([7; 32]))
        .current_timestamp()
        .min_final_cltv_expiry_delta(18)
        .amount_milli_satoshis(amount_msat)
        .expiry_time(Duration::from_secs(3600))
        .build_signed(|hash| secp.sign_ecdsa_recoverable(hash, &key))
        .expect("a signed invoice")
        .to_string()
}

/// The answers, in turn, to `POST /api/v1/payments`, with what each is.
fn garbage(turn: usize) -> (&'static str, Response) {
    let ok_json = |value: Value| (StatusCode::OK, axum::Json(value)).into_response();
    let hash_of = |preimage: [u8; 32]| sha256::Hash::hash(&preimage).to_string();
    match turn % 9 {
        0 => (
            "an HTML page",
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html>maintenance</html>").into_response(),
        ),
        1 => ("JSON without an invoice", ok_json(json!({ "payment_hash": hash_of([1; 32]) }))),
        2 => (
            "a malformed payment hash",
            ok_json(json!({ "payment_hash": "zz", "bolt11": signed_invoice(21_000, [2; 32]) })),
        ),
        3 => (
            "text that is not BOLT11",
            ok_json(json!({ "payment_hash": hash_of([3; 32]), "bolt11": "lnbcrt1garbage" })),
        ),
        4 => (
            "an invoice for another amount",
            ok_json(json!({ "payment_hash": hash_of([4; 32]), "bolt11": signed_invoice(1_000, [4; 32]) })),
        ),
        5 => (
            "an invoice whose hash is not the reported one",
            ok_json(json!({ "payment_hash": hash_of([5; 32]), "bolt11": signed_invoice(21_000, [6; 32]) })),
        ),
        6 => (
            "a server error",
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "detail": "boom" }))).into_response(),
        ),
        7 => ("20 MB of noise", (StatusCode::OK, vec![b'x'; 20 << 20]).into_response()),
        _ => ("JSON of the wrong shape", ok_json(json!([1, 2, 3]))),
    }
}

async fn stand_in(turns: Arc<AtomicUsize>) -> String {
    let app = Router::new()
        .route("/api/v1/wallet", get(|| async { axum::Json(json!({ "id": "w1", "name": "shop", "balance": 0 })) }))
        .route(
            "/api/v1/payments",
            post(move || {
                let turns = turns.clone();
                async move { garbage(turns.fetch_add(1, Ordering::SeqCst)).1 }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answering_garbage_gets_clean_refusals_and_no_invoice() {
    let turns = Arc::new(AtomicUsize::new(0));
    let node = stand_in(turns.clone()).await;
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_mesh402"));
    let server = tokio::task::spawn_blocking(move || {
        ServerProcess::start_with_env(
            &binary,
            &["--lightning", "lnbits", "--lnbits-url", &node, "--price-sats", "21"],
            &[("MESH402_LNBITS_INVOICE_KEY", "the-shops-invoice-key")],
        )
    })
    .await
    .expect("the server starts past the probe");
    let client = reqwest::Client::new();
    for turn in 0..9 {
        let (what, _) = garbage(turn);
        let answer = client
            .post(format!("{}/api/l402/3d-model", server.url))
            .json(&disc_body([10 + turn as u8, 90, 200], 96))
            .send()
            .await
            .expect("an answer");
        let status = answer.status();
        assert!(answer.headers().get("www-authenticate").is_none(), "{what}: a challenge was made");
        assert!(answer.headers().get("retry-after").is_some(), "{what}: no Retry-After");
        let body: Value = answer.json().await.unwrap_or_else(|error| panic!("{what}: not JSON: {error}"));
        assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
        assert_eq!(body["error"]["code"], "lightning_unavailable", "{what}: {body}");
        assert!(body.get("invoice").is_none() && body.get("macaroon").is_none(), "{what}: {body}");
        let health = client.get(format!("{}/healthz", server.url)).send().await.expect("healthz");
        assert!(health.status().is_success(), "{what}: the server stopped answering");
    }
    assert_eq!(turns.load(Ordering::SeqCst), 9, "each request asked the node once");
    let _ = lightning_invoice::Bolt11Invoice::from_str(&signed_invoice(21_000, [9; 32])).expect("the stand-in signs");
}
