//! One backend suite (create → look up open → settle → look up settled → unknown hash) run on every backend that
//! can run here: the development wallet, a real LNbits server, and LND and Core Lightning as small fakes that
//! speak their documented REST shapes (LND's over TLS with a pinned self-signed certificate). Then error mapping:
//! refused credentials, malformed and mismatched answers, nodes that are down or never answer.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mesh402_l402::{Msat, PaymentHash, Preimage};
use mesh402_ln::{
    Cln, ClnSettings, CreatedInvoice, DevWallet, InvoicePayer, InvoiceRequest, InvoiceState, LightningBackend, LnError,
    Lnbits, LnbitsSettings, Lnd, LndSettings, Nwc, NwcSettings, Secret,
};
use mesh402_testkit::lnbits::LnbitsServer;
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

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// A listener that completes TLS handshakes with a fixed certificate; failed handshakes are dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A self-signed certificate for localhost/127.0.0.1 like the one LND generates: (PEM, DER, private key DER).
fn self_signed() -> (String, Vec<u8>, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (certified.cert.pem(), certified.cert.der().to_vec(), certified.signing_key.serialize_der())
}

async fn serve_tls(router: Router, cert_der: Vec<u8>, key_der: Vec<u8>) -> String {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert_der)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    let listener = TlsListener { tcp, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) };
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("https://{address}")
}

/// A node stand-in: it issues real signed invoices through a development wallet, remembers the requests it got,
/// and settles when the test pays through the same wallet.
struct FakeNode {
    wallet: Arc<DevWallet>,
    credential: String,
    requests: std::sync::Mutex<Vec<(HeaderMap, Value)>>,
    _dir: tempfile::TempDir,
}

impl FakeNode {
    fn new(credential: &str) -> Arc<FakeNode> {
        let dir = tempfile::tempdir().unwrap();
        Arc::new(FakeNode {
            wallet: dev_wallet(dir.path()),
            credential: credential.into(),
            requests: std::sync::Mutex::new(Vec::new()),
            _dir: dir,
        })
    }

    fn record(&self, headers: &HeaderMap, body: Value) {
        self.requests.lock().unwrap().push((headers.clone(), body));
    }

    async fn create(&self, msat: u64, description: &str, expiry: u64) -> CreatedInvoice {
        let request =
            InvoiceRequest { amount: Msat(msat), description: description.into(), expiry: Duration::from_secs(expiry) };
        self.wallet.create_invoice(&request).await.unwrap()
    }
}

// LND: `POST /v1/invoices`, `GET /v2/invoices/lookup`, grpc-gateway errors.

fn lnd_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

/// LND's answer to a call without the node's macaroon, if this one has not got it.
fn lnd_macaroon_refused(node: &FakeNode, headers: &HeaderMap) -> Option<Response> {
    let sent = headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok());
    (sent != Some(node.credential.as_str()))
        .then(|| lnd_error(StatusCode::INTERNAL_SERVER_ERROR, 2, "expected 1 macaroon, got 0"))
}

/// LND's `Invoice` message for `hash`, as `LookupInvoice` (v1) and `LookupInvoiceV2` answer it, or its not-found
/// error.
async fn lnd_invoice(node: &FakeNode, hash: PaymentHash) -> Response {
    let (state, preimage) = match node.wallet.lookup_invoice(&hash).await {
        Ok(InvoiceState::Open) => ("OPEN", String::new()),
        Ok(InvoiceState::Settled { preimage }) => ("SETTLED", STANDARD.encode(preimage.unwrap().0)),
        Ok(other) => panic!("{other:?}"),
        Err(_) => return lnd_error(StatusCode::NOT_FOUND, 5, "there are no existing invoices"),
    };
    axum::Json(json!({
        "memo": "", "r_preimage": preimage, "r_hash": STANDARD.encode(hash.0), "value": "21", "value_msat": "21000",
        "settled": state == "SETTLED", "creation_date": unix_now().to_string(), "settle_date": "0",
        "payment_request": "", "expiry": "600", "cltv_expiry": "80", "private": false, "add_index": "7",
        "settle_index": "0", "amt_paid": "0", "amt_paid_sat": "0", "amt_paid_msat": "0", "state": state,
        "htlcs": [], "features": {}, "is_keysend": false, "payment_addr": STANDARD.encode([1u8; 32]),
        "is_amp": false, "amp_invoice_state": {},
    }))
    .into_response()
}

/// LND before 0.16 (lnrpc/lightning.yaml of v0.15.5-beta): invoices are made by `POST /v1/invoices` and looked up
/// by `GET /v1/invoice/{r_hash_str}` (hex); `/v2/invoices/lookup` does not exist, and grpc-gateway answers a path
/// it does not know with `404 {"code": 5, "message": "Not Found"}`.
fn lnd_router_before_0_16(node: Arc<FakeNode>) -> Router {
    async fn lookup_v1(
        State(node): State<Arc<FakeNode>>,
        headers: HeaderMap,
        axum::extract::Path(hash): axum::extract::Path<String>,
    ) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = hex::decode(&hash).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "encoding/hex: invalid byte");
        };
        lnd_invoice(&node, PaymentHash(hash)).await
    }
    Router::new()
        .route("/v1/invoice/{r_hash_str}", get(lookup_v1))
        .with_state(node.clone())
        .merge(lnd_routes(node, false))
        .fallback(|| async { lnd_error(StatusCode::NOT_FOUND, 5, "Not Found") })
}

fn lnd_router(node: Arc<FakeNode>) -> Router {
    lnd_routes(node, true)
}

/// LND 0.21's routes, with or without `LookupInvoiceV2`.
fn lnd_routes(node: Arc<FakeNode>, v2_lookup: bool) -> Router {
    async fn add_invoice(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        node.record(&headers, body.0.clone());
        if headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok()) != Some(&node.credential) {
            return lnd_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                "verification failed: signature mismatch after caveat verification",
            );
        }
        // grpc-gateway sends 64-bit integers as strings.
        let msat: u64 = body["value_msat"].as_str().unwrap().parse().unwrap();
        let expiry: u64 = body["expiry"].as_str().unwrap().parse().unwrap();
        let created = node.create(msat, body["memo"].as_str().unwrap(), expiry).await;
        axum::Json(json!({
            "r_hash": STANDARD.encode(created.payment_hash.0),
            "payment_request": created.bolt11,
            "add_index": "7",
            "payment_addr": STANDARD.encode([1u8; 32]),
        }))
        .into_response()
    }

    async fn lookup(
        State(node): State<Arc<FakeNode>>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = query.get("payment_hash").and_then(|text| URL_SAFE.decode(text).ok()) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "invalid payment hash");
        };
        lnd_invoice(&node, PaymentHash(hash.try_into().unwrap())).await
    }

    // The payer's side as LND v0.21.0-beta has it (lnrpc/routerrpc/router.yaml and router_server.go): there is no
    // `POST /v1/channels/transactions` any more; `POST /v2/router/send` streams newline-delimited
    // `{"result": Payment}` messages (only the final one with `no_inflight_updates`), or `{"error": …}` when the
    // payment cannot start (an invoice already paid); `GET /v2/router/track/{hash}` (base64url) streams the
    // payment made for a hash, or fails with gRPC code 5 when there is none.
    fn line(message: Value) -> String {
        format!("{message}\n")
    }

    async fn send(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok()) != Some(&node.credential) {
            return lnd_error(StatusCode::INTERNAL_SERVER_ERROR, 2, "verification failed: signature mismatch");
        }
        // LND refuses a payment without a deadline, and reads 64-bit integers from strings.
        assert!(body["timeout_seconds"].as_u64().is_some_and(|secs| secs > 0), "{}", body.0);
        assert!(body["fee_limit_msat"].as_str().is_some_and(|fee| fee.parse::<u64>().is_ok()), "{}", body.0);
        let quiet = body["no_inflight_updates"] == json!(true);
        let bolt11 = body["payment_request"].as_str().unwrap_or("");
        let hash = mesh402_ln::invoice_facts(bolt11).map(|facts| facts.payment_hash.to_string()).unwrap_or_default();
        let in_flight = line(
            json!({ "result": { "payment_hash": hash, "status": "IN_FLIGHT", "failure_reason": "FAILURE_REASON_NONE" } }),
        );
        let mut stream = if quiet { String::new() } else { in_flight };
        if node.requests.lock().unwrap().iter().any(|(_, sent)| sent["paid"] == json!(hash)) {
            return line(json!({ "error": { "code": 2, "message": "invoice is already paid", "details": [] } }))
                .into_response();
        }
        match node.wallet.pay(bolt11, unix_now()).await {
            Ok(preimage) => {
                node.record(&headers, json!({ "paid": preimage.hash().to_string(), "preimage": preimage.to_hex() }));
                stream.push_str(&line(json!({ "result": {
                    "payment_hash": hash, "value_msat": "21000", "fee_msat": "0", "status": "SUCCEEDED",
                    "payment_preimage": preimage.to_hex(), "failure_reason": "FAILURE_REASON_NONE", "htlcs": [],
                } })));
            }
            Err(_) => stream.push_str(&line(json!({ "result": {
                "payment_hash": hash, "status": "FAILED", "failure_reason": "FAILURE_REASON_NO_ROUTE", "htlcs": [],
            } }))),
        }
        stream.into_response()
    }

    async fn track(
        State(node): State<Arc<FakeNode>>,
        headers: HeaderMap,
        axum::extract::Path(hash): axum::extract::Path<String>,
    ) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = URL_SAFE.decode(&hash).ok().filter(|bytes| bytes.len() == 32) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "invalid hash");
        };
        let hash = hex::encode(hash);
        let paid = node.requests.lock().unwrap().iter().find(|(_, sent)| sent["paid"] == json!(hash)).cloned();
        match paid {
            Some((_, sent)) => line(json!({ "result": {
                "payment_hash": hash, "status": "SUCCEEDED", "payment_preimage": sent["preimage"],
                "failure_reason": "FAILURE_REASON_NONE", "htlcs": [],
            } }))
            .into_response(),
            None => lnd_error(StatusCode::NOT_FOUND, 5, "payment isn't initiated"),
        }
    }

    let router = Router::new()
        .route("/v1/invoices", post(add_invoice))
        .route("/v2/router/send", post(send))
        .route("/v2/router/track/{hash}", get(track));
    let router = if v2_lookup { router.route("/v2/invoices/lookup", get(lookup)) } else { router };
    router.with_state(node)
}

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
    let url = serve_tls(lnd_router(node.clone()), der, key).await;
    let backend = lnd(&url, "0201036c6e64", Some(&pem)).unwrap();
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;

    // What went over the wire: the macaroon header and the documented body shape.
    let (headers, body) = node.requests.lock().unwrap()[0].clone();
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
async fn lnd_before_0_16_is_looked_up_through_the_v1_route() {
    let node = FakeNode::new("0201036c6e64");
    let url = serve(lnd_router_before_0_16(node.clone())).await;
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
    let url = serve_tls(lnd_router(node), der, key).await;
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

// Core Lightning: clnrest's `POST /v1/invoice` and `POST /v1/listinvoices`; for refunds `POST /v1/pay` and
// `POST /v1/listpays`.

fn cln_router(node: Arc<FakeNode>) -> Router {
    fn authorized(node: &FakeNode, headers: &HeaderMap) -> Option<Response> {
        if headers.get("rune").and_then(|value| value.to_str().ok()) == Some(&node.credential) {
            return None;
        }
        let body = json!({"code": 1502, "message": "Not authorized: Not derived from master"});
        Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
    }

    async fn invoice(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        node.record(&headers, body.0.clone());
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let created = node
            .create(
                body["amount_msat"].as_u64().unwrap(),
                body["description"].as_str().unwrap(),
                body["expiry"].as_u64().unwrap(),
            )
            .await;
        axum::Json(json!({
            "payment_hash": created.payment_hash.to_string(),
            "expires_at": created.expires_at,
            "bolt11": created.bolt11,
            "payment_secret": hex::encode([2u8; 32]),
            "created_index": 3,
        }))
        .into_response()
    }

    async fn listinvoices(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let hash = PaymentHash::from_str(body["payment_hash"].as_str().unwrap()).unwrap();
        let invoices = match node.wallet.lookup_invoice(&hash).await {
            Ok(InvoiceState::Open) => vec![json!({
                "label": "mesh402-x", "bolt11": "lnbcrt…", "payment_hash": hash.to_string(), "amount_msat": 21000,
                "status": "unpaid", "description": "d", "expires_at": unix_now() + 600, "created_index": 3,
            })],
            Ok(InvoiceState::Settled { preimage }) => vec![json!({
                "label": "mesh402-x", "bolt11": "lnbcrt…", "payment_hash": hash.to_string(), "amount_msat": 21000,
                "status": "paid", "pay_index": 1, "amount_received_msat": 21000, "paid_at": unix_now(),
                "payment_preimage": preimage.unwrap().to_hex(), "description": "d", "expires_at": unix_now() + 600,
                "created_index": 3, "updated_index": 1,
            })],
            Ok(other) => panic!("{other:?}"),
            Err(_) => vec![],
        };
        axum::Json(json!({ "invoices": invoices })).into_response()
    }

    // The payer's side (refunds): `pay` pays through the node's development wallet; `listpays` lists what it paid.
    async fn pay(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let bolt11 = body["bolt11"].as_str().unwrap_or("");
        match node.wallet.pay(bolt11, unix_now()).await {
            Ok(preimage) => {
                node.record(&headers, json!({ "paid": preimage.hash().to_string(), "preimage": preimage.to_hex() }));
                axum::Json(json!({
                    "payment_preimage": preimage.to_hex(), "payment_hash": preimage.hash().to_string(),
                    "created_at": unix_now(), "parts": 1, "amount_msat": 21000, "amount_sent_msat": 21000,
                    "status": "complete", "destination": node.wallet.node_id(),
                }))
                .into_response()
            }
            // clnrest answers a JSON-RPC error (here: "all attempts failed") with its code and message.
            Err(error) => {
                let body = json!({ "code": 210, "message": format!("Ran out of routes to try: {error}") });
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
        }
    }

    async fn listpays(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let wanted = body["payment_hash"].clone();
        let pays: Vec<Value> = node
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| body.get("paid") == Some(&wanted))
            .map(|(_, body)| {
                json!({ "payment_hash": body["paid"], "status": "complete", "preimage": body["preimage"],
                        "bolt11": "lnbcrt…", "created_at": unix_now(), "amount_msat": 21000,
                        "amount_sent_msat": 21000, "number_of_parts": 1 })
            })
            .collect();
        axum::Json(json!({ "pays": pays })).into_response()
    }

    Router::new()
        .route("/v1/invoice", post(invoice))
        .route("/v1/listinvoices", post(listinvoices))
        .route("/v1/pay", post(pay))
        .route("/v1/listpays", post(listpays))
        .with_state(node)
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

/// clnrest v23.08 requires a `Nodeid` header: with the node id configured, every call carries it; a malformed id
/// is refused when the backend is built.
#[tokio::test]
async fn core_lightning_sends_the_node_id_that_clnrest_v23_08_requires() {
    let node = FakeNode::new("rune-1");
    let url = serve(cln_router(node.clone())).await;
    let node_id = format!("02{}", "ab".repeat(32));
    let settings = |node_id: Option<String>| ClnSettings {
        rest_url: url.clone(),
        rune: Secret::new("rune-1"),
        tls_cert_pem: None,
        timeout: TIMEOUT,
        node_id,
    };
    let backend = Cln::new(settings(Some(node_id.clone()))).unwrap();
    backend.create_invoice(&request()).await.unwrap();
    let (headers, _) = node.requests.lock().unwrap()[0].clone();
    assert_eq!(headers["nodeid"], node_id.as_str());
    assert!(matches!(Cln::new(settings(Some("02abc".into()))), Err(LnError::Rejected(_))));
}

#[tokio::test]
async fn core_lightning_passes_the_suite() {
    let node = FakeNode::new("rune-abc");
    let url = serve(cln_router(node.clone())).await;
    let backend = cln(&url, "rune-abc");
    let wallet = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { wallet.pay(&bolt11, unix_now()).await.unwrap() }).await;
    backend.probe().await.unwrap();
    assert!(matches!(cln(&url, "rune-other").probe().await, Err(LnError::Unauthorized)));

    let requests = node.requests.lock().unwrap().clone();
    let (headers, body) = &requests[0];
    assert_eq!(headers["rune"], "rune-abc");
    assert_eq!(body["amount_msat"], 21_000);
    assert_eq!(body["expiry"], 600);
    assert_eq!(body["description"], "mesh402 backend suite: 21 sats");
    // Labels are unique per invoice.
    backend.create_invoice(&request()).await.unwrap();
    let labels: Vec<String> =
        node.requests.lock().unwrap().iter().map(|(_, body)| body["label"].as_str().unwrap().to_owned()).collect();
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

mod nwc_fake {
    use super::*;
    use nostr::nips::nip47::{
        ErrorCode, LookupInvoiceResponse, MakeInvoiceResponse, NIP47Error, NostrWalletConnectURI, PayInvoiceResponse,
        Request, RequestParams, Response, ResponseResult, TransactionState, TransactionType,
    };
    use nostr::nips::{nip04, nip44};
    use nostr::{ClientMessage, EventBuilder, JsonUtil, Keys, Kind, PublicKey, RelayMessage, RelayUrl, Tag, Timestamp};
    use tokio_tungstenite::tungstenite::Message;

    /// Which wallet service the relay plays, after NIP-47 as merged and the wallets that implement it (Alby Hub
    /// answers codes outside the `nostr` crate's list, such as `BAD_REQUEST`).
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Mode {
        /// Info event `encryption: nip44_v2 nip04`; reads and answers both.
        Current,
        /// Info event `encryption: nip44_v2`; a NIP-04 request is ignored, as a wallet that cannot read it does.
        Nip44Only,
        /// Info event without an `encryption` tag (a wallet from before NIP-44): NIP-04 only.
        Nip04Legacy,
        /// Reads both, and answers every request with the error code `BAD_REQUEST`.
        UnknownCodes,
    }

    /// A relay that is also the wallet service: it answers requests signed by `allowed` only.
    pub async fn start(node: Arc<FakeNode>, wallet: Keys, allowed: PublicKey) -> String {
        start_as(node, wallet, allowed, Mode::Current).await
    }

    /// [`start`] as the wallet `mode` describes.
    pub async fn start_as(node: Arc<FakeNode>, wallet: Keys, allowed: PublicKey, mode: Mode) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (node, wallet) = (node.clone(), wallet.clone());
                tokio::spawn(async move { connection(stream, node, wallet, allowed, mode).await });
            }
        });
        url
    }

    fn info_event(wallet: &Keys, mode: Mode) -> nostr::Event {
        let mut tags = Vec::new();
        match mode {
            Mode::Current | Mode::UnknownCodes => {
                tags.push(Tag::custom(nostr::TagKind::custom("encryption"), ["nip44_v2 nip04"]));
            }
            Mode::Nip44Only => tags.push(Tag::custom(nostr::TagKind::custom("encryption"), ["nip44_v2"])),
            Mode::Nip04Legacy => {}
        }
        EventBuilder::new(Kind::WalletConnectInfo, "pay_invoice make_invoice lookup_invoice")
            .tags(tags)
            .sign_with_keys(wallet)
            .unwrap()
    }

    async fn connection(
        stream: tokio::net::TcpStream,
        node: Arc<FakeNode>,
        wallet: Keys,
        allowed: PublicKey,
        mode: Mode,
    ) {
        use futures_util::{SinkExt, StreamExt};
        let _ = stream.set_nodelay(true);
        let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
        let mut subscription = None;
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let Ok(message) = ClientMessage::from_json(text.as_str()) else { continue };
            let request_event = match message {
                ClientMessage::Req { subscription_id, filters } => {
                    let id = subscription_id.into_owned();
                    let wants_info = filters.iter().any(|filter| {
                        filter.kinds.as_ref().is_some_and(|kinds| kinds.contains(&Kind::WalletConnectInfo))
                    });
                    if wants_info {
                        let info = RelayMessage::event(id.clone(), info_event(&wallet, mode));
                        socket.send(Message::text(info.as_json())).await.unwrap();
                    } else {
                        subscription = Some(id.clone());
                    }
                    socket.send(Message::text(RelayMessage::eose(id).as_json())).await.unwrap();
                    continue;
                }
                ClientMessage::Event(event) if event.kind == Kind::WalletConnectRequest => event.into_owned(),
                _ => continue,
            };
            let ok = RelayMessage::ok(request_event.id, true, "");
            socket.send(Message::text(ok.as_json())).await.unwrap();
            // A request this wallet cannot read is not for it: a wallet service ignores it.
            let nip04_request = request_event.content.contains("?iv=");
            let plain = match (nip04_request, mode) {
                (true, Mode::Nip44Only) | (false, Mode::Nip04Legacy) => continue,
                (true, _) => nip04::decrypt(wallet.secret_key(), &request_event.pubkey, &request_event.content),
                (false, _) => nip44::decrypt(wallet.secret_key(), &request_event.pubkey, &request_event.content)
                    .map_err(|_| nip04::Error::InvalidContentFormat),
            };
            let Ok(plain) = plain else { continue };
            let mut recorded: Value = serde_json::from_str(&plain).unwrap();
            recorded["encryption"] = json!(if nip04_request { "nip04" } else { "nip44_v2" });
            node.record(&HeaderMap::new(), recorded);
            let request = Request::from_json(&plain).unwrap();
            let response = if mode == Mode::UnknownCodes {
                json!({ "result_type": request.method, "error": { "code": "BAD_REQUEST", "message": "expired" } })
                    .to_string()
            } else {
                let (result, error) = if request_event.pubkey != allowed {
                    (None, Some(NIP47Error { code: ErrorCode::Unauthorized, message: "no wallet for this key".into() }))
                } else {
                    answer(&node, request.params).await
                };
                Response { result_type: request.method, error, result }.as_json()
            };
            let encrypted = if nip04_request {
                nip04::encrypt(wallet.secret_key(), &request_event.pubkey, response).unwrap()
            } else {
                nip44::encrypt(wallet.secret_key(), &request_event.pubkey, response, nip44::Version::V2).unwrap()
            };
            let event = EventBuilder::new(Kind::WalletConnectResponse, encrypted)
                .tags([Tag::event(request_event.id), Tag::public_key(request_event.pubkey)])
                .sign_with_keys(&wallet)
                .unwrap();
            let Some(subscription) = subscription.clone() else { continue };
            socket.send(Message::text(RelayMessage::event(subscription, event).as_json())).await.unwrap();
        }
    }

    async fn answer(node: &FakeNode, params: RequestParams) -> (Option<ResponseResult>, Option<NIP47Error>) {
        match params {
            RequestParams::MakeInvoice(params) => {
                let created = node
                    .create(params.amount, params.description.as_deref().unwrap_or(""), params.expiry.unwrap_or(3600))
                    .await;
                let made = MakeInvoiceResponse {
                    invoice: created.bolt11,
                    payment_hash: Some(created.payment_hash.to_string()),
                    description: None,
                    description_hash: None,
                    preimage: None,
                    amount: Some(params.amount),
                    created_at: None,
                    expires_at: Some(Timestamp::from_secs(created.expires_at)),
                };
                (Some(ResponseResult::MakeInvoice(made)), None)
            }
            RequestParams::LookupInvoice(params) => {
                let hash = PaymentHash::from_str(params.payment_hash.as_deref().unwrap()).unwrap();
                let (state, preimage) = match node.wallet.lookup_invoice(&hash).await {
                    Ok(InvoiceState::Open) => (TransactionState::Pending, None),
                    Ok(InvoiceState::Settled { preimage }) => (TransactionState::Settled, preimage.map(|p| p.to_hex())),
                    Ok(other) => panic!("{other:?}"),
                    Err(_) => {
                        let error = NIP47Error { code: ErrorCode::NotFound, message: "invoice not found".into() };
                        return (None, Some(error));
                    }
                };
                let found = LookupInvoiceResponse {
                    transaction_type: Some(TransactionType::Incoming),
                    state: Some(state),
                    invoice: None,
                    description: None,
                    description_hash: None,
                    settled_at: preimage.as_ref().map(|_| Timestamp::now()),
                    preimage,
                    payment_hash: hash.to_string(),
                    amount: 21_000,
                    fees_paid: 0,
                    created_at: Timestamp::now(),
                    expires_at: Some(Timestamp::from_secs(unix_now() + 600)),
                    metadata: None,
                };
                (Some(ResponseResult::LookupInvoice(found)), None)
            }
            RequestParams::PayInvoice(params) => match node.wallet.pay(&params.invoice, unix_now()).await {
                Ok(preimage) => {
                    let paid = PayInvoiceResponse { preimage: preimage.to_hex(), fees_paid: Some(0) };
                    (Some(ResponseResult::PayInvoice(paid)), None)
                }
                Err(error) => (None, Some(NIP47Error { code: ErrorCode::PaymentFailed, message: error.to_string() })),
            },
            _ => (None, Some(NIP47Error { code: ErrorCode::NotImplemented, message: "no".into() })),
        }
    }

    pub fn uri(wallet: &Keys, relay: &str, client: &Keys) -> String {
        let relay = RelayUrl::parse(relay).unwrap();
        NostrWalletConnectURI::new(wallet.public_key(), vec![relay], client.secret_key().clone(), None).to_string()
    }
}

fn nwc(uri: &str, timeout: Duration) -> Nwc {
    Nwc::new(NwcSettings { uri: Secret::new(uri), timeout }).unwrap()
}

#[tokio::test]
async fn nostr_wallet_connect_passes_the_suite() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay = nwc_fake::start(node.clone(), wallet.clone(), client.public_key()).await;
    let uri = nwc_fake::uri(&wallet, &relay, &client);
    let backend = nwc(&uri, TIMEOUT);
    let payer = node.wallet.clone();
    create_lookup_settle_lookup(&backend, |bolt11| async move { payer.pay(&bolt11, unix_now()).await.unwrap() }).await;

    // The request as the wallet decrypted it: NIP-47's method and parameters.
    let (_, sent) = node.requests.lock().unwrap()[0].clone();
    assert_eq!(sent["method"], "make_invoice");
    assert_eq!(sent["params"]["amount"], 21_000);
    assert_eq!(sent["params"]["expiry"], 600);
    assert_eq!(sent["params"]["description"], "mesh402 backend suite: 21 sats");
    let secret_hex = client.secret_key().to_secret_hex();
    assert!(!format!("{backend:?}").contains(&secret_hex), "{backend:?}");

    // A connection string whose key the wallet does not know is a refused credential.
    let stranger = nwc(&nwc_fake::uri(&wallet, &relay, &nostr::Keys::generate()), TIMEOUT);
    assert!(matches!(stranger.create_invoice(&request()).await, Err(LnError::Unauthorized)));
    backend.probe().await.unwrap();
    assert!(matches!(stranger.probe().await, Err(LnError::Unauthorized)));
    measure_creation(&backend, 20).await;
}

#[tokio::test]
async fn nostr_wallet_connect_speaks_nip44_and_nip04_only_to_wallets_that_say_so() {
    for (mode, expected) in [
        (nwc_fake::Mode::Current, "nip44_v2"),
        (nwc_fake::Mode::Nip44Only, "nip44_v2"),
        (nwc_fake::Mode::Nip04Legacy, "nip04"),
    ] {
        let node = FakeNode::new("");
        let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
        let relay = nwc_fake::start_as(node.clone(), wallet.clone(), client.public_key(), mode).await;
        let payer = nwc(&nwc_fake::uri(&wallet, &relay, &client), TIMEOUT);
        pay_once_and_find_again(&payer, &node).await;
        let sent: Vec<Value> = node.requests.lock().unwrap().iter().map(|(_, body)| body.clone()).collect();
        assert!(sent.iter().all(|body| body["encryption"] == expected), "{mode:?}: {sent:?}");
    }
}

#[tokio::test]
async fn a_wallets_unknown_error_code_is_a_definite_refusal() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay =
        nwc_fake::start_as(node.clone(), wallet.clone(), client.public_key(), nwc_fake::Mode::UnknownCodes).await;
    let payer = nwc(&nwc_fake::uri(&wallet, &relay, &client), TIMEOUT);
    let invoice = node.create(1_000, "x", 600).await;
    let refused = payer.pay(&invoice.bolt11).await.unwrap_err();
    assert!(matches!(&refused, LnError::Rejected(message) if message.contains("BAD_REQUEST")), "{refused:?}");
}

#[tokio::test]
async fn nostr_wallet_connect_tries_the_next_relay_when_one_is_down() {
    let node = FakeNode::new("");
    let (wallet, client) = (nostr::Keys::generate(), nostr::Keys::generate());
    let relay = nwc_fake::start(node.clone(), wallet.clone(), client.public_key()).await;
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
    let mute = nwc_fake::start(node, nostr::Keys::generate(), client.public_key()).await;
    for relay in [down, silent_url, mute] {
        let backend = nwc(&nwc_fake::uri(&wallet, &relay, &client), Duration::from_millis(700));
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
    let url = serve(lnd_router(node.clone())).await;
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
    let relay = nwc_fake::start(node.clone(), wallet.clone(), client.public_key()).await;
    let payer = nwc(&nwc_fake::uri(&wallet, &relay, &client), TIMEOUT);
    assert_eq!(InvoicePayer::name(&payer), "nwc");
    pay_once_and_find_again(&payer, &node).await;
    let sent: Vec<Value> = node.requests.lock().unwrap().iter().map(|(_, body)| body.clone()).collect();
    assert!(sent.iter().any(|body| body["method"] == "pay_invoice"), "{sent:?}");
    let stranger = nwc(&nwc_fake::uri(&wallet, &relay, &nostr::Keys::generate()), TIMEOUT);
    let invoice = node.create(1_000, "x", 600).await;
    assert!(matches!(stranger.pay(&invoice.bolt11).await, Err(LnError::Unauthorized)));
}

#[tokio::test]
async fn core_lightning_pays_refunds() {
    let node = FakeNode::new("rune-pay");
    let url = serve(cln_router(node.clone())).await;
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
