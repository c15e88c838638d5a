//! Stand-ins for the Lightning nodes and wallets that cannot run on a test machine (LND, Core Lightning, a Nostr
//! Wallet Connect wallet service), written from their documented APIs and upstream sources: each speaks its
//! node's REST or relay protocol over a real socket, issues real signed invoices through a development wallet and
//! records what it was sent. A node pays either through its own wallet (for the backend suites) or through a
//! mesh402 server's development wallet (`/dev/pay`), so that a buyer's `--wallet lnd` or `--wallet nwc` can buy
//! from a real server end to end.

pub mod cln;
pub mod lnd;
pub mod nwc;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use mesh402_l402::{Msat, Preimage};
use mesh402_ln::{CreatedInvoice, DevWallet, InvoiceRequest, LightningBackend};
use serde_json::Value;

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// Serves `router` over HTTP on a free local port; returns its base URL.
pub async fn serve(router: Router) -> String {
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
pub fn self_signed() -> (String, Vec<u8>, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (certified.cert.pem(), certified.cert.der().to_vec(), certified.signing_key.serialize_der())
}

/// Serves `router` over TLS with the certificate and key given (DER) on a free local port; returns its base URL.
pub async fn serve_tls(router: Router, cert_der: Vec<u8>, key_der: Vec<u8>) -> String {
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
/// and pays through its own wallet or a mesh402 server's.
pub struct FakeNode {
    /// The node's own wallet: it signs the node's invoices (and pays them, unless the node pays through a server).
    pub wallet: Arc<DevWallet>,
    /// The credential the node accepts (LND's macaroon, Core Lightning's rune; unused by NWC, which checks keys).
    pub(crate) credential: String,
    /// A mesh402 server's `/dev/pay`, when the node pays that server's invoices.
    pays_through: Option<String>,
    pub(crate) requests: Mutex<Vec<(HeaderMap, Value)>>,
    _dir: tempfile::TempDir,
}

impl FakeNode {
    /// A node that accepts `credential` and pays invoices of its own wallet.
    pub fn new(credential: &str) -> Arc<FakeNode> {
        FakeNode::build(credential, None)
    }

    /// A node that accepts `credential` and pays the invoices of the mesh402 server at `server_url` through its
    /// development wallet (`POST /dev/pay`), as a buyer's node pays a shop's invoice.
    pub fn paying_through(credential: &str, server_url: &str) -> Arc<FakeNode> {
        let pay_url = format!("{}{}", server_url.trim_end_matches('/'), mesh402_api::paths::DEV_PAY);
        FakeNode::build(credential, Some(pay_url))
    }

    fn build(credential: &str, pays_through: Option<String>) -> Arc<FakeNode> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let wallet = Arc::new(DevWallet::open(&[3u8; 32], &dir.path().join("paid.ledger")).expect("a dev wallet"));
        Arc::new(FakeNode {
            wallet,
            credential: credential.into(),
            pays_through,
            requests: Mutex::new(Vec::new()),
            _dir: dir,
        })
    }

    /// Every request the node got, in order: its headers and its body (NWC's decrypted request, with the
    /// encryption it came in), and a `{"paid", "preimage"}` record for each payment made.
    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn record(&self, headers: &HeaderMap, body: Value) {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((headers.clone(), body));
    }

    /// An invoice of the node's own wallet.
    pub async fn create(&self, msat: u64, description: &str, expiry: u64) -> CreatedInvoice {
        let request =
            InvoiceRequest { amount: Msat(msat), description: description.into(), expiry: Duration::from_secs(expiry) };
        self.wallet.create_invoice(&request).await.expect("the dev wallet makes invoices")
    }

    /// Pays `bolt11`: through the server's development wallet when the node pays through one, else its own.
    pub(crate) async fn pay(&self, bolt11: &str) -> Result<Preimage, String> {
        let Some(pay_url) = &self.pays_through else {
            return self.wallet.pay(bolt11, unix_now()).await.map_err(|error| error.to_string());
        };
        let request = mesh402_api::DevPayRequest { invoice: bolt11.into() };
        let response = reqwest::Client::new().post(pay_url).json(&request).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the server's wallet refused the payment: {}", response.status()));
        }
        let paid: mesh402_api::DevPaid = response.json().await.map_err(|error| error.to_string())?;
        paid.preimage.parse().map_err(|_| "the server's wallet answered no preimage".to_owned())
    }
}
