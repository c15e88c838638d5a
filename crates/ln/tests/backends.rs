//! One backend suite (create → look up open → settle → look up settled → unknown hash) run on every backend that
//! can run here: the development wallet, a real LNbits server, and LND, Core Lightning and an NWC wallet as the
//! test kit's stand-ins that speak their documented protocols (LND's over TLS with a pinned self-signed
//! certificate). Then error mapping:
//! refused credentials, malformed and mismatched answers, nodes that are down or never answer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_l402::{Msat, PaymentHash, Preimage};
use mesh402_ln::{
    Cln, ClnSettings, CreatedInvoice, DevWallet, InvoicePayer, InvoiceRequest, InvoiceState, LightningBackend, LnError,
    Lnbits, LnbitsSettings, Lnd, LndSettings, Nwc, NwcSettings, Secret,
};
use mesh402_testkit::lnbits::LnbitsServer;
use mesh402_testkit::nodes::{self, FakeNode, self_signed, serve, serve_tls};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(5);

fn request() -> InvoiceRequest {
    InvoiceRequest {
        amount: Msat::from_sats(21),
        description: "mesh402 backend suite: 21 sats".into(),
        expiry: Duration::from_secs(600),
    }
}

/// A regtest invoice signed at `timestamp` (unix seconds) that expires `expiry` later, by a throwaway node.
fn invoice_signed_at(timestamp: u64, expiry: Duration) -> String {
    use bitcoin::hashes::{Hash, sha256};
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};
    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[7; 32]).unwrap();
    InvoiceBuilder::new(Currency::Regtest)
        .description("expired".into())
        .payment_hash(sha256::Hash::from_byte_array([9; 32]))
        .payment_secret(PaymentSecret([8; 32]))
        .duration_since_epoch(Duration::from_secs(timestamp))
        .min_final_cltv_expiry_delta(18)
        .amount_milli_satoshis(21_000)
        .expiry_time(expiry)
        .build_signed(|message| secp.sign_ecdsa_recoverable(message, &key))
        .unwrap()
        .to_string()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The suite every backend passes. `settle` pays the invoice the way that backend's payers do and returns the
/// preimage the payer got.
async fn create_lookup_settle_lookup<F, Fut>(backend: &dyn LightningBackend, settle: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Preimage>,
{
    let request = request();
    let before = unix_now();
    let created = backend.create_invoice(&request).await.unwrap();
    // Read without BOLT11's semantic checks: LNbits' FakeWallet writes invoices without features.
    let signed = lightning_invoice::SignedRawBolt11Invoice::from_str(&created.bolt11).unwrap();
    assert!(signed.check_signature());
    let invoice = signed.raw_invoice();
    assert_eq!(invoice.amount_pico_btc(), Some(21_000 * 10), "{}", backend.name());
    assert_eq!(bitcoin::hashes::Hash::to_byte_array(invoice.payment_hash().unwrap().0), created.payment_hash.0);
    assert!(invoice.expiry_time().is_some_and(|expiry| *expiry.as_duration() >= request.expiry));
    assert!(
        created.expires_at >= before + 600 - 5 && created.expires_at <= unix_now() + 3600,
        "{}",
        created.expires_at
    );

    assert_eq!(backend.lookup_invoice(&created.payment_hash).await.unwrap(), InvoiceState::Open, "{}", backend.name());
    // Lookups are read-only and idempotent.
    assert_eq!(backend.lookup_invoice(&created.payment_hash).await.unwrap(), InvoiceState::Open);

    let preimage = settle(created.bolt11.clone()).await;
    assert_eq!(preimage.hash(), created.payment_hash, "the payer's preimage opens the invoice's hash");
    match backend.lookup_invoice(&created.payment_hash).await.unwrap() {
        InvoiceState::Settled { preimage: Some(reported) } => assert_eq!(reported, preimage),
        InvoiceState::Settled { preimage: None } => {}
        other => panic!("{}: expected settled, got {other:?}", backend.name()),
    }

    let unknown = PaymentHash([0x5a; 32]);
    let error = backend.lookup_invoice(&unknown).await.unwrap_err();
    assert!(matches!(error, LnError::NotFound), "{}: {error:?}", backend.name());
}

/// Median and spread of `n` invoice creations, printed for the record (`cargo test -- --nocapture`).
async fn measure_creation(backend: &dyn LightningBackend, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        backend.create_invoice(&request()).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[n / 2];
    println!(
        "invoice creation on {}: median {:.2} ms over {n} (min {:.2} ms, max {:.2} ms)",
        backend.name(),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[n - 1].as_secs_f64() * 1e3
    );
    median
}

fn dev_wallet(dir: &std::path::Path) -> Arc<DevWallet> {
    Arc::new(DevWallet::open(&[3u8; 32], &dir.join("paid.ledger")).unwrap())
}

#[tokio::test]
async fn the_dev_wallet_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = dev_wallet(dir.path());
    let payer = wallet.clone();
    create_lookup_settle_lookup(wallet.as_ref(), |bolt11| async move { payer.pay(&bolt11, unix_now()).await.unwrap() })
        .await;
    measure_creation(wallet.as_ref(), 50).await;
}

// ---------------------------------------------------------------------------------------------------------------
// LNbits: a real server.

fn lnbits(url: &str, key: &str) -> Lnbits {
    Lnbits::new(LnbitsSettings { url: url.into(), invoice_key: Secret::new(key), timeout: TIMEOUT }).unwrap()
}

#[tokio::test]
#[ignore = "needs LNbits: scripts/test.sh installs it and runs this with --include-ignored"]
async fn a_real_lnbits_passes_the_suite_and_maps_its_errors() {
    let server = LnbitsServer::start().await;
    let backend = lnbits(&server.url, &server.shop_invoice_key);
    create_lookup_settle_lookup(&backend, |bolt11| {
        let server = &server;
        async move { Preimage::from_str(&server.pay(&bolt11).await).unwrap() }
    })
    .await;

    // A wrong key: LNbits answers 404 "Wallet not found" on create, which is a refused credential.
    let wrong = lnbits(&server.url, "0000000000000000000000000000dead");
    assert!(matches!(wrong.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    // The start-up probe reads the wallet with the key (a payment's status is public on LNbits).
    backend.probe().await.unwrap();
    let refused = wrong.probe().await.unwrap_err();
    assert!(matches!(refused, LnError::Unauthorized), "{refused:?}");
    // Sub-satoshi amounts would become amountless invoices on LNbits: refused before the call.
    let odd = InvoiceRequest { amount: Msat(21_500), ..request() };
    assert!(matches!(backend.create_invoice(&odd).await, Err(LnError::Rejected(_))));

    measure_creation(&backend, 50).await;
}

// ---------------------------------------------------------------------------------------------------------------
// Small HTTP(S) servers for the nodes that cannot run here.

fn lnd(url: &str, macaroon_hex: &str, cert_pem: Option<&str>) -> Result<Lnd, LnError> {
    Lnd::new(LndSettings {
        rest_url: url.into(),
        macaroon_hex: Secret::new(macaroon_hex),
        tls_cert_pem: cert_pem.map(|pem| pem.as_bytes().to_vec()),
        timeout: TIMEOUT,
    })
}

#[tokio::test]
async fn lnd_over_pinned_tls_passes_the_suite() {
    let node = FakeNode::new("0201036c6e64");
    let (pem, der, key) = self_signed();
    let url = serve_tls(nodes::lnd::router(node.clone()), der, key).await;
    let backend = lnd(&url, "0201036c6e64", Some(&pem)).unwrap();
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;

    // What went over the wire: the macaroon header and the documented body shape.
    let (headers, body) = node.requests()[0].clone();
    assert_eq!(headers["grpc-metadata-macaroon"], "0201036c6e64");
    assert_eq!(body, json!({"memo": "mesh402 backend suite: 21 sats", "value_msat": "21000", "expiry": "600"}));

    // A wrong macaroon is a refused credential, whichever of LND's messages comes back; the start-up probe says so.
    backend.probe().await.unwrap();
    let wrong = lnd(&url, "0201036c6e65", Some(&pem)).unwrap();
    assert!(matches!(wrong.probe().await, Err(LnError::Unauthorized)));
    assert!(matches!(wrong.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    assert!(matches!(wrong.lookup_invoice(&PaymentHash([1; 32])).await, Err(LnError::Unauthorized)));
    measure_creation(&backend, 50).await;
}

#[tokio::test]
async fn lnd_before_0_14_is_looked_up_through_the_v1_route() {
    let node = FakeNode::new("0201036c6e64");
    let url = serve(nodes::lnd::router_before_0_14(node.clone())).await;
    let backend = lnd(&url, "0201036c6e64", None).unwrap();
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;
    // LND's own "no such invoice" on the v2 route is an answer, not a reason to ask the v1 route.
    let url = canned(404, r#"{"code": 5, "message": "unable to locate invoice", "details": []}"#).await;
    assert!(matches!(
        lnd(&url, "00", None).unwrap().lookup_invoice(&PaymentHash([1; 32])).await,
        Err(LnError::NotFound)
    ));
}

#[tokio::test]
async fn lnd_pinning_accepts_exactly_the_pinned_certificate() {
    let node = FakeNode::new("00");
    let (pem, der, key) = self_signed();
    let (other_pem, _, _) = self_signed();
    let url = serve_tls(nodes::lnd::router(node), der, key).await;
    // Another certificate, even one for the same names, is refused: the node is unreachable for us.
    let impostor = lnd(&url, "00", Some(&other_pem)).unwrap();
    let error = impostor.create_invoice(&request()).await.unwrap_err();
    assert!(matches!(error, LnError::Unavailable(_)), "{error:?}");
    // Without a pinned certificate, a self-signed one is not trusted either.
    let unpinned = lnd(&url, "00", None).unwrap();
    assert!(matches!(unpinned.create_invoice(&request()).await, Err(LnError::Unavailable(_))));
    // Through a name the certificate does not carry: pinning checks bytes, not names.
    let by_name = url.replace("127.0.0.1", "localhost");
    lnd(&by_name, "00", Some(&pem)).unwrap().create_invoice(&request()).await.unwrap();
    // A file without a certificate is refused when the backend is built.
    assert!(matches!(lnd(&url, "00", Some("not a certificate")), Err(LnError::Rejected(_))));
    assert!(matches!(lnd(&url, "not hex", Some(&pem)), Err(LnError::Rejected(_))));
}

fn cln(url: &str, rune: &str) -> Cln {
    Cln::new(ClnSettings {
        rest_url: url.into(),
        rune: Secret::new(rune),
        tls_cert_pem: None,
        timeout: TIMEOUT,
        node_id: None,
    })
    .unwrap()
}

/// clnrest v23.08 requires a `Nodeid` header: with the node id configured, every call carries it and the whole
/// suite passes against a v23.08 node; without it, that node refuses the credential (the start-up probe says so);
/// a malformed id is refused when the backend is built.
#[tokio::test]
async fn core_lightning_sends_the_node_id_that_clnrest_v23_08_requires() {
    let node = FakeNode::new("rune-1");
    let url = serve(nodes::cln::router_v23_08(node.clone())).await;
    let node_id = format!("02{}", "ab".repeat(32));
    let settings = |node_id: Option<String>| ClnSettings {
        rest_url: url.clone(),
        rune: Secret::new("rune-1"),
        tls_cert_pem: None,
        timeout: TIMEOUT,
        node_id,
    };
    let backend = Cln::new(settings(Some(node_id.clone()))).unwrap();
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;
    backend.probe().await.unwrap();
    let (headers, _) = node.requests()[0].clone();
    assert_eq!(headers["nodeid"], node_id.as_str());
    let without = Cln::new(settings(None)).unwrap();
    assert!(matches!(without.probe().await, Err(LnError::Unauthorized)));
    assert!(matches!(without.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    assert!(matches!(Cln::new(settings(Some("02abc".into()))), Err(LnError::Rejected(_))));
}

#[tokio::test]
async fn core_lightning_passes_the_suite() {
    let node = FakeNode::new("rune-abc");
    let url = serve(nodes::cln::router(node.clone())).await;
    let backend = cln(&url, "rune-abc");
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;
    backend.probe().await.unwrap();
    assert!(matches!(cln(&url, "rune-other").probe().await, Err(LnError::Unauthorized)));

    let requests = node.requests();
    let (headers, body) = &requests[0];
    assert_eq!(headers["rune"], "rune-abc");
    assert_eq!(body["amount_msat"], 21_000);
    assert_eq!(body["expiry"], 600);
    assert_eq!(body["description"], "mesh402 backend suite: 21 sats");
    // Labels are unique per invoice.
    backend.create_invoice(&request()).await.unwrap();
    let labels: Vec<String> =
        node.requests().iter().map(|(_, body)| body["label"].as_str().unwrap().to_owned()).collect();
    assert!(labels.iter().all(|label| label.starts_with("mesh402-")), "{labels:?}");
    assert_ne!(labels[0], labels[1]);

    let wrong = cln(&url, "rune-wrong");
    assert!(matches!(wrong.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    assert!(matches!(wrong.lookup_invoice(&PaymentHash([1; 32])).await, Err(LnError::Unauthorized)));
    measure_creation(&backend, 50).await;
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping against recorded answers: every backend, no panics.

/// A server that gives the same answer to every request.
async fn canned(status: u16, body: &str) -> String {
    let body = body.to_owned();
    let status = StatusCode::from_u16(status).unwrap();
    serve(Router::new().fallback(move || {
        let body = body.clone();
        async move { (status, [("content-type", "application/json")], body) }
    }))
    .await
}

/// A valid invoice for `msat` and its payment hash, from a development wallet.
async fn valid_invoice(msat: u64) -> CreatedInvoice {
    let dir = tempfile::tempdir().unwrap();
    let wallet = dev_wallet(dir.path());
    wallet.create_invoice(&InvoiceRequest { amount: Msat(msat), ..request() }).await.unwrap()
}

fn backends(url: &str) -> Vec<Box<dyn LightningBackend>> {
    vec![Box::new(lnbits(url, "key")), Box::new(lnd(url, "00", None).unwrap()), Box::new(cln(url, "rune"))]
}

/// What each backend's create call answers, in its own shape, carrying `bolt11` and `hash` (hex).
fn created_body(backend: &str, bolt11: &str, hash: &[u8; 32]) -> String {
    match backend {
        "lnbits" => json!({"payment_hash": hex::encode(hash), "bolt11": bolt11, "status": "pending"}),
        "lnd" => json!({"r_hash": STANDARD.encode(hash), "payment_request": bolt11, "add_index": "1"}),
        _ => json!({"payment_hash": hex::encode(hash), "bolt11": bolt11, "expires_at": 1}),
    }
    .to_string()
}

#[tokio::test]
async fn refused_credentials_and_sick_proxies_map_the_same_everywhere() {
    for (status, expect_unauthorized) in [(401, true), (403, true), (502, false), (503, false), (504, false)] {
        let url = canned(status, r#"{"detail": "nope"}"#).await;
        for backend in backends(&url) {
            let error = backend.create_invoice(&request()).await.unwrap_err();
            if expect_unauthorized {
                assert!(matches!(error, LnError::Unauthorized), "{} {status}: {error:?}", backend.name());
            } else {
                assert!(matches!(error, LnError::Unavailable(_)), "{} {status}: {error:?}", backend.name());
            }
        }
    }
}

#[tokio::test]
async fn malformed_answers_are_bad_responses() {
    for body in ["<html>oops</html>", "{}", r#"{"payment_hash": 5}"#, "[]", ""] {
        let url = canned(200, body).await;
        for backend in backends(&url) {
            let error = backend.create_invoice(&request()).await.unwrap_err();
            assert!(matches!(error, LnError::BadResponse(_)), "{} {body:?}: {error:?}", backend.name());
            let error = backend.lookup_invoice(&PaymentHash([1; 32])).await.unwrap_err();
            assert!(matches!(error, LnError::BadResponse(_)), "{} lookup {body:?}: {error:?}", backend.name());
        }
    }
}

#[tokio::test]
async fn invoices_that_are_not_what_was_asked_are_refused() {
    let right = valid_invoice(21_000).await;
    let cheaper = valid_invoice(1_000).await;
    let cases = [
        ("an invoice for another amount", cheaper.bolt11.clone(), cheaper.payment_hash.0),
        ("a hash the invoice does not carry", right.bolt11.clone(), [7u8; 32]),
        ("not an invoice", "lnbc1notaninvoice".to_owned(), right.payment_hash.0),
    ];
    for (what, bolt11, hash) in cases {
        for name in ["lnbits", "lnd", "cln"] {
            let url = canned(if name == "lnbits" { 201 } else { 200 }, &created_body(name, &bolt11, &hash)).await;
            let backend = backends(&url).into_iter().find(|backend| backend.name() == name).unwrap();
            let error = backend.create_invoice(&request()).await.unwrap_err();
            assert!(matches!(error, LnError::BadResponse(_)), "{name}, {what}: {error:?}");
        }
    }
    // The same shapes with the right invoice are accepted.
    for name in ["lnbits", "lnd", "cln"] {
        let url = canned(200, &created_body(name, &right.bolt11, &right.payment_hash.0)).await;
        let backend = backends(&url).into_iter().find(|backend| backend.name() == name).unwrap();
        assert_eq!(backend.create_invoice(&request()).await.unwrap().payment_hash, right.payment_hash, "{name}");
    }
}

#[tokio::test]
async fn recorded_refusals_and_states_map_to_the_right_outcome() {
    let hash = PaymentHash([1; 32]);
    // LND: not found as grpc-gateway reports it; an expired open invoice; a canceled one; a hold invoice.
    let url = canned(404, r#"{"code": 5, "message": "unable to locate invoice", "details": []}"#).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await, Err(LnError::NotFound)));
    let url = canned(500, r#"{"code": 2, "message": "there are no existing invoices", "details": []}"#).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await, Err(LnError::NotFound)));
    let url = canned(200, r#"{"state": "OPEN", "creation_date": "1000", "expiry": "600", "settled": false}"#).await;
    assert_eq!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await.unwrap(), InvoiceState::Expired);
    let url = canned(200, r#"{"state": "CANCELED", "creation_date": "1000", "expiry": "600"}"#).await;
    assert_eq!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await.unwrap(), InvoiceState::Canceled);
    let body = json!({"state": "ACCEPTED", "creation_date": unix_now().to_string(), "expiry": "600"}).to_string();
    let url = canned(200, &body).await;
    assert_eq!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await.unwrap(), InvoiceState::Open);
    let url = canned(200, r#"{"state": "SETTLED", "r_preimage": "AAAA"}"#).await;
    assert_eq!(
        lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await.unwrap(),
        InvoiceState::Settled { preimage: None },
        "a preimage that does not open the hash is not passed on"
    );
    let url = canned(200, r#"{"state": "WEIRD"}"#).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await, Err(LnError::BadResponse(_))));
    // A locked wallet (LND answers code 2 with this message) is unavailable, not a refusal.
    let locked = r#"{"code": 2, "message": "wallet locked, unlock it to enable full RPC access", "details": []}"#;
    let url = canned(500, locked).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().lookup_invoice(&hash).await, Err(LnError::Unavailable(_))));
    assert!(matches!(lnd(&url, "00", None).unwrap().create_invoice(&request()).await, Err(LnError::Unavailable(_))));
    let url = canned(500, r#"{"code": 2, "message": "invoice expiry too large", "details": []}"#).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().create_invoice(&request()).await, Err(LnError::BadResponse(_))));
    let url = canned(400, r#"{"code": 3, "message": "memo too long", "details": []}"#).await;
    assert!(matches!(lnd(&url, "00", None).unwrap().create_invoice(&request()).await, Err(LnError::Rejected(_))));

    // Core Lightning: an expired invoice, a JSON-RPC refusal, a rune refused inside a 500.
    let url =
        canned(200, &json!({"invoices": [{"payment_hash": hash.to_string(), "status": "expired"}]}).to_string()).await;
    assert_eq!(cln(&url, "r").lookup_invoice(&hash).await.unwrap(), InvoiceState::Expired);
    let url = canned(200, r#"{"invoices": []}"#).await;
    assert!(matches!(cln(&url, "r").lookup_invoice(&hash).await, Err(LnError::NotFound)));
    let url = canned(500, r#"{"code": 900, "message": "Duplicate label 'mesh402-1'"}"#).await;
    assert!(matches!(cln(&url, "r").create_invoice(&request()).await, Err(LnError::Rejected(_))));
    let url = canned(500, r#"{"code": 1502, "message": "Not authorized: Not derived from master"}"#).await;
    assert!(matches!(cln(&url, "r").create_invoice(&request()).await, Err(LnError::Unauthorized)));

    // LNbits: unknown payment, a failed one, an expired pending one, validation errors.
    let url = canned(404, r#"{"detail": "Payment does not exist."}"#).await;
    assert!(matches!(lnbits(&url, "k").lookup_invoice(&hash).await, Err(LnError::NotFound)));
    let url = canned(200, r#"{"paid": false, "status": "failed"}"#).await;
    assert_eq!(lnbits(&url, "k").lookup_invoice(&hash).await.unwrap(), InvoiceState::Canceled);
    // A pending payment whose invoice expired: one signed an hour ago for ten minutes (no waiting for time to pass).
    let expired = invoice_signed_at(unix_now() - 3600, Duration::from_secs(600));
    let body = json!({"paid": false, "status": "pending", "details": {"bolt11": expired}}).to_string();
    let url = canned(200, &body).await;
    assert_eq!(lnbits(&url, "k").lookup_invoice(&hash).await.unwrap(), InvoiceState::Expired);
    let url = canned(422, r#"{"detail": [{"loc": ["body", "amount"], "msg": "field required"}]}"#).await;
    assert!(matches!(lnbits(&url, "k").create_invoice(&request()).await, Err(LnError::Rejected(_))));
}

// ---------------------------------------------------------------------------------------------------------------
// Sick nodes: down, or accepting connections and never answering. Every call ends within its timeout.

#[tokio::test]
async fn a_node_that_is_down_or_silent_is_unavailable_within_the_timeout() {
    // Down: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    // Silent: accepts connections, reads nothing, answers nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let short = Duration::from_millis(700);
    for url in [down, silent_url] {
        let sick: Vec<Box<dyn LightningBackend>> = vec![
            Box::new(
                Lnbits::new(LnbitsSettings { url: url.clone(), invoice_key: Secret::new("k"), timeout: short })
                    .unwrap(),
            ),
            Box::new(
                Lnd::new(LndSettings {
                    rest_url: url.clone(),
                    macaroon_hex: Secret::new("00"),
                    tls_cert_pem: None,
                    timeout: short,
                })
                .unwrap(),
            ),
            Box::new(
                Cln::new(ClnSettings {
                    rest_url: url.clone(),
                    rune: Secret::new("r"),
                    tls_cert_pem: None,
                    timeout: short,
                    node_id: None,
                })
                .unwrap(),
            ),
        ];
        for backend in sick {
            let started = Instant::now();
            let error = backend.create_invoice(&request()).await.unwrap_err();
            assert!(matches!(error, LnError::Unavailable(_)), "{} {url}: {error:?}", backend.name());
            let error = backend.lookup_invoice(&PaymentHash([1; 32])).await.unwrap_err();
            assert!(matches!(error, LnError::Unavailable(_)), "{} {url}: {error:?}", backend.name());
            assert!(started.elapsed() < Duration::from_secs(3), "{}: {:?}", backend.name(), started.elapsed());
        }
    }
}

#[test]
fn credentials_never_print() {
    let lnbits = LnbitsSettings { url: "http://x".into(), invoice_key: Secret::new("inkey-secret"), timeout: TIMEOUT };
    let lnd = LndSettings {
        rest_url: "https://x".into(),
        macaroon_hex: Secret::new("abcdef0123"),
        tls_cert_pem: Some(b"pem".to_vec()),
        timeout: TIMEOUT,
    };
    let cln = ClnSettings {
        rest_url: "https://x".into(),
        rune: Secret::new("rune-secret"),
        tls_cert_pem: None,
        timeout: TIMEOUT,
        node_id: None,
    };
    let printed = format!("{lnbits:?} {lnd:?} {cln:?}");
    assert!(!printed.contains("inkey-secret") && !printed.contains("abcdef0123") && !printed.contains("rune-secret"));
    assert!(printed.contains("***"));
    let backends = format!("{:?} {:?}", Lnbits::new(lnbits).unwrap(), Cln::new(cln).unwrap());
    assert!(!backends.contains("inkey-secret") && !backends.contains("rune-secret"), "{backends}");
}

// ---------------------------------------------------------------------------------------------------------------
// Nostr Wallet Connect: a relay and a wallet service in one small WebSocket server, speaking NIP-01 and NIP-47.

fn nwc(uri: &str, timeout: Duration) -> Nwc {
    Nwc::new(NwcSettings { uri: Secret::new(uri), timeout }).unwrap()
}

#[tokio::test]
async fn nostr_wallet_connect_passes_the_suite() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay = nodes::nwc::start(node.clone(), wallet.clone(), client.public_key()).await;
    let uri = nodes::nwc::uri(&wallet, &relay, &client);
    let backend = nwc(&uri, TIMEOUT);
    let payer = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { payer.pay(&bolt11, unix_now()).await.unwrap() }).await;

    // The request as the wallet decrypted it: NIP-47's method and parameters.
    let (_, sent) = node.requests()[0].clone();
    assert_eq!(sent["method"], "make_invoice");
    assert_eq!(sent["params"]["amount"], 21_000);
    assert_eq!(sent["params"]["expiry"], 600);
    assert_eq!(sent["params"]["description"], "mesh402 backend suite: 21 sats");
    let secret_hex = client.secret_key().to_secret_hex();
    assert!(!format!("{backend:?}").contains(&secret_hex), "{backend:?}");

    // A connection string whose key the wallet does not know is a refused credential.
    let stranger = nwc(&nodes::nwc::uri(&wallet, &relay, &nostr::Keys::generate()), TIMEOUT);
    assert!(matches!(stranger.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    backend.probe().await.unwrap();
    assert!(matches!(stranger.probe().await, Err(LnError::Unauthorized)));
    measure_creation(&backend, 20).await;
}

#[tokio::test]
async fn nostr_wallet_connect_speaks_nip44_and_nip04_only_to_wallets_that_say_so() {
    for (mode, expected) in [
        (nodes::nwc::Mode::Current, "nip44_v2"),
        (nodes::nwc::Mode::Nip44Only, "nip44_v2"),
        (nodes::nwc::Mode::Nip04Legacy, "nip04"),
    ] {
        let node = FakeNode::new("");
        let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
        let relay = nodes::nwc::start_as(node.clone(), wallet.clone(), client.public_key(), mode).await;
        let payer = nwc(&nodes::nwc::uri(&wallet, &relay, &client), TIMEOUT);
        pay_once_and_find_again(&payer, &node).await;
        let sent: Vec<Value> = node.requests().iter().map(|(_, body)| body.clone()).collect();
        assert!(sent.iter().all(|body| body["encryption"] == expected), "{mode:?}: {sent:?}");
    }
}

#[tokio::test]
async fn a_wallets_unknown_error_code_is_a_definite_refusal() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay =
        nodes::nwc::start_as(node.clone(), wallet.clone(), client.public_key(), nodes::nwc::Mode::UnknownCodes).await;
    let payer = nwc(&nodes::nwc::uri(&wallet, &relay, &client), TIMEOUT);
    let invoice = node.create(1_000, "x", 600).await;
    let refused = payer.pay(&invoice.bolt11).await.unwrap_err();
    assert!(matches!(&refused, LnError::Rejected(message) if message.contains("BAD_REQUEST")), "{refused:?}");
}

#[tokio::test]
async fn nostr_wallet_connect_tries_the_next_relay_when_one_is_down() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay = nodes::nwc::start(node.clone(), wallet.clone(), client.public_key()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("ws://{}", closed.local_addr().unwrap());
    drop(closed);
    let relays = vec![nostr::RelayUrl::parse(&down).unwrap(), nostr::RelayUrl::parse(&relay).unwrap()];
    let uri =
        nostr::nips::nip47::NostrWalletConnectURI::new(wallet.public_key(), relays, client.secret_key().clone(), None);
    let payer = nwc(&uri.to_string(), TIMEOUT);
    pay_once_and_find_again(&payer, &node).await;
}

#[tokio::test]
async fn nostr_wallet_connect_with_a_sick_relay_is_unavailable_in_time() {
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("ws://{}", closed.local_addr().unwrap());
    drop(closed);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("ws://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    // A relay that accepts everything and never delivers an answer (no wallet behind it).
    let node = FakeNode::new("");
    let mute = nodes::nwc::start(node, nostr::Keys::generate(), client.public_key()).await;
    for relay in [down, silent_url, mute] {
        let backend = nwc(&nodes::nwc::uri(&wallet, &relay, &client), Duration::from_millis(700));
        let started = Instant::now();
        let error = backend.create_invoice(&request()).await.unwrap_err();
        assert!(matches!(error, LnError::Unavailable(_)), "{relay}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{relay}: {:?}", started.elapsed());
    }
    assert!(matches!(
        Nwc::new(NwcSettings { uri: Secret::new("nostr+walletconnect://nonsense"), timeout: TIMEOUT }),
        Err(LnError::Rejected(_))
    ));
}

// ---------------------------------------------------------------------------------------------------------------
// The buyer's payers: LND (REST) and Nostr Wallet Connect pay an invoice, return its preimage, find the payment
// again by its hash, and never pay one invoice twice.

/// The story every [`InvoicePayer`] passes, on an invoice of `node`.
async fn pay_once_and_find_again(payer: &dyn InvoicePayer, node: &FakeNode) {
    let invoice = node.create(21_000, "mesh402 payer suite", 600).await;
    assert_eq!(payer.paid_preimage(&invoice.payment_hash).await.unwrap(), None, "nothing paid yet");
    let preimage = payer.pay(&invoice.bolt11).await.unwrap();
    assert_eq!(preimage.hash(), invoice.payment_hash, "the preimage is the invoice's");
    assert_eq!(
        node.wallet.lookup_invoice(&invoice.payment_hash).await.unwrap(),
        InvoiceState::Settled { preimage: Some(preimage.clone()) }
    );
    assert_eq!(payer.paid_preimage(&invoice.payment_hash).await.unwrap(), Some(preimage), "found again by its hash");
    let again = payer.pay(&invoice.bolt11).await.unwrap_err();
    assert!(matches!(again, LnError::Rejected(_)), "a second payment of one invoice is refused: {again:?}");
}

#[tokio::test]
async fn lnd_pays_as_the_buyers_wallet() {
    let node = FakeNode::new("0201036c6e64");
    let url = serve(nodes::lnd::router(node.clone())).await;
    let payer = lnd(&url, "0201036c6e64", None).unwrap();
    assert_eq!(InvoicePayer::name(&payer), "lnd");
    pay_once_and_find_again(&payer, &node).await;
    let refused = lnd(&url, "0201036c6e65", None).unwrap();
    let invoice = node.create(1_000, "x", 600).await;
    assert!(matches!(refused.pay(&invoice.bolt11).await, Err(LnError::Unauthorized)));
}

#[tokio::test]
async fn nostr_wallet_connect_pays_as_the_buyers_wallet() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay = nodes::nwc::start(node.clone(), wallet.clone(), client.public_key()).await;
    let payer = nwc(&nodes::nwc::uri(&wallet, &relay, &client), TIMEOUT);
    assert_eq!(InvoicePayer::name(&payer), "nwc");
    pay_once_and_find_again(&payer, &node).await;
    let sent: Vec<Value> = node.requests().iter().map(|(_, body)| body.clone()).collect();
    assert!(sent.iter().any(|body| body["method"] == "pay_invoice"), "{sent:?}");
    let stranger = nwc(&nodes::nwc::uri(&wallet, &relay, &nostr::Keys::generate()), TIMEOUT);
    let invoice = node.create(1_000, "x", 600).await;
    assert!(matches!(stranger.pay(&invoice.bolt11).await, Err(LnError::Unauthorized)));
}

#[tokio::test]
async fn core_lightning_pays_refunds() {
    let node = FakeNode::new("rune-pay");
    let url = serve(nodes::cln::router(node.clone())).await;
    let payer = cln(&url, "rune-pay");
    assert_eq!(InvoicePayer::name(&payer), "cln");
    pay_once_and_find_again(&payer, &node).await;
    let refused = cln(&url, "rune-invoice-only");
    let invoice = node.create(1_000, "x", 600).await;
    assert!(matches!(refused.pay(&invoice.bolt11).await, Err(LnError::Unauthorized)));
    assert!(matches!(refused.paid_preimage(&invoice.payment_hash).await, Err(LnError::Unauthorized)));
}

#[tokio::test]
async fn the_dev_wallet_pays_refunds_to_its_own_invoices_only() {
    let node = FakeNode::new("");
    let payer: &dyn InvoicePayer = node.wallet.as_ref();
    assert_eq!(payer.name(), "dev");
    pay_once_and_find_again(payer, &node).await;
    let dir = tempfile::tempdir().unwrap();
    let other = DevWallet::open(&[0x42; 32], &dir.path().join("other.ledger")).unwrap();
    let request = InvoiceRequest { amount: Msat(1_000), description: "x".into(), expiry: Duration::from_secs(600) };
    let foreign = other.create_invoice(&request).await.unwrap();
    assert!(matches!(payer.pay(&foreign.bolt11).await, Err(LnError::Rejected(_))), "another node's invoice");
    assert_eq!(payer.paid_preimage(&foreign.payment_hash).await.unwrap(), None);
}
