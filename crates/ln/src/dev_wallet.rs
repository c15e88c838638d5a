//! The built-in development wallet: real, signed BOLT11 invoices for regtest, paid by a local call.
//!
//! It behaves like a tiny Lightning node that can also pay its own invoices, so a fresh install can run the whole
//! L402 flow with nothing else installed. Invoices are genuine `lnbcrt…` BOLT11 strings signed by a node key the
//! caller loads from the data directory, with an amount, a description, a payment secret and an expiry.
//!
//! Unpaid invoices cost no storage: each preimage is derived from the node secret and the invoice's random payment
//! secret, so paying needs only the invoice itself. Only *paid* invoices are recorded, in a [`PaidLedger`], which is
//! what makes a second payment of the same invoice fail as it would on a real network, across restarts and across
//! the nodes of a deployment. The ledger is a [`LedgerFile`] (one line per payment, append-only) for a single
//! process, or a table in the shared database when there is one (the server plugs that in through the same
//! trait). Issued invoices are also remembered in a bounded in-memory table so that
//! [`LightningBackend::lookup_invoice`] can tell open from unknown; after a restart, or on another node, an unpaid
//! invoice reads as unknown but can still be paid, and a paid one reads as paid everywhere the ledger is shared.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bitcoin::hashes::{Hash, sha256};
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use hmac::{Hmac, Mac};
use lightning_invoice::{Bolt11Invoice, Currency, InvoiceBuilder, PaymentSecret};
use mesh402_l402::{PaymentHash, Preimage};
use sha2::Sha256;

use crate::{CreatedInvoice, InvoicePayer, InvoiceRequest, InvoiceState, LightningBackend, LnError, unix_now};

/// How many issued-but-unpaid invoices the wallet remembers for lookups before it forgets the oldest.
const MAX_REMEMBERED_INVOICES: usize = 100_000;

/// The CLTV delta written into invoices; regtest wallets expect one, its value does not matter here.
const MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;

/// Why the development wallet refused to pay an invoice.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The string is not a valid BOLT11 invoice.
    #[error("that is not a valid BOLT11 invoice")]
    Malformed,
    /// The invoice is for another network than regtest.
    #[error("the development wallet pays only regtest (lnbcrt) invoices")]
    WrongNetwork,
    /// The invoice was signed by another node; the development wallet can pay only its own invoices.
    #[error("that invoice was not issued by this server's development wallet")]
    UnknownInvoice,
    /// The invoice has expired.
    #[error("that invoice has expired")]
    Expired,
    /// The invoice was already paid.
    #[error("that invoice has already been paid")]
    AlreadyPaid,
    /// The invoice has no amount.
    #[error("that invoice has no amount")]
    NoAmount,
    /// The ledger of paid invoices could not be read or written.
    #[error("the development wallet could not record the payment")]
    Ledger(#[source] LedgerError),
}

/// Why a [`PaidLedger`] could not be read or written (a file or database error, boxed).
pub type LedgerError = Box<dyn std::error::Error + Send + Sync>;

/// Where the development wallet records the invoices it has paid: the one piece of state it keeps.
///
/// The contract: [`record_payment`](Self::record_payment) is atomic per payment hash, so of any number of
/// concurrent payments of one invoice (in one process or across the nodes sharing the ledger) exactly one returns
/// `true`; a recorded payment is durable before `true` is returned; and
/// [`paid_preimage`](Self::paid_preimage) returns the recorded preimage from then on.
#[async_trait]
pub trait PaidLedger: Send + Sync + 'static {
    /// Records that the invoice whose payment hash is `preimage.hash()` was paid; `false` (and no change) when it
    /// had been paid before.
    async fn record_payment(&self, preimage: &Preimage) -> Result<bool, LedgerError>;

    /// The preimage of a recorded payment, or `None` when the invoice was never paid.
    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LedgerError>;
}

/// A [`PaidLedger`] in one append-only file (mode 0600: it holds preimages), read into memory on open; for a
/// server that runs as one process.
pub struct LedgerFile {
    inner: Arc<Mutex<PaidPreimages>>,
}

/// The paid invoices: in memory for lookups, and appended to a file for durability.
struct PaidPreimages {
    by_hash: HashMap<[u8; 32], Preimage>,
    file: File,
}

impl LedgerFile {
    /// Opens the ledger at `path`, creating it if missing; a torn last line from a crash is ignored.
    pub fn open(path: &Path) -> io::Result<LedgerFile> {
        let mut by_hash = HashMap::new();
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                let line = line?;
                let mut fields = line.split_whitespace();
                let (Some(hash), Some(preimage)) = (fields.next(), fields.next()) else { continue };
                let (Ok(hash), Ok(preimage)) = (PaymentHash::from_str(hash), Preimage::from_str(preimage)) else {
                    continue;
                };
                if preimage.hash() == hash {
                    by_hash.insert(hash.0, preimage);
                }
            }
        }
        // The ledger holds preimages: secrets, so mode 0600 like every secret in the data directory. A ledger left
        // readable by others (earlier versions created it with the default umask) is closed to them.
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the development wallet's ledger was readable by other users; setting mode 0600");
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(LedgerFile { inner: Arc::new(Mutex::new(PaidPreimages { by_hash, file })) })
    }
}

#[async_trait]
impl PaidLedger for LedgerFile {
    async fn record_payment(&self, preimage: &Preimage) -> Result<bool, LedgerError> {
        let inner = self.inner.clone();
        let preimage = preimage.clone();
        // The write is synced to disk before the payment counts: a blocking call, so off the async threads.
        tokio::task::spawn_blocking(move || {
            let mut paid = inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let payment_hash = preimage.hash();
            if paid.by_hash.contains_key(&payment_hash.0) {
                return Ok(false);
            }
            let line = format!("{} {}\n", payment_hash, preimage.to_hex());
            paid.file.write_all(line.as_bytes())?;
            paid.file.sync_data()?;
            paid.by_hash.insert(payment_hash.0, preimage);
            Ok(true)
        })
        .await?
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LedgerError> {
        let paid = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(paid.by_hash.get(&payment_hash.0).cloned())
    }
}

/// The development wallet. See the module docs.
pub struct DevWallet {
    secp: Secp256k1<All>,
    node_key: SecretKey,
    node_id: PublicKey,
    preimage_key: [u8; 32],
    ledger: Box<dyn PaidLedger>,
    issued: Mutex<IssuedInvoices>,
}

impl std::fmt::Debug for DevWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevWallet").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

/// Issued invoices still worth remembering, oldest first.
#[derive(Default)]
struct IssuedInvoices {
    expiry_by_hash: HashMap<[u8; 32], u64>,
    order: VecDeque<[u8; 32]>,
}

impl IssuedInvoices {
    fn remember(&mut self, payment_hash: [u8; 32], expires_at: u64, now: u64) {
        while let Some(oldest) = self.order.front().copied() {
            let expired = self.expiry_by_hash.get(&oldest).is_none_or(|&at| at <= now);
            if !expired && self.order.len() < MAX_REMEMBERED_INVOICES {
                break;
            }
            self.order.pop_front();
            self.expiry_by_hash.remove(&oldest);
        }
        self.expiry_by_hash.insert(payment_hash, expires_at);
        self.order.push_back(payment_hash);
    }
}

impl DevWallet {
    /// Opens the wallet with its 32-byte node secret and a [`LedgerFile`] at `ledger_path` (created if missing).
    pub fn open(node_secret: &[u8; 32], ledger_path: &Path) -> io::Result<DevWallet> {
        DevWallet::with_ledger(node_secret, Box::new(LedgerFile::open(ledger_path)?))
    }

    /// Opens the wallet with its 32-byte node secret and the ledger of its paid invoices.
    pub fn with_ledger(node_secret: &[u8; 32], ledger: Box<dyn PaidLedger>) -> io::Result<DevWallet> {
        let node_key = SecretKey::from_slice(node_secret)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the node secret is not a valid secp256k1 key"))?;
        let secp = Secp256k1::new();
        let node_id = PublicKey::from_secret_key(&secp, &node_key);
        let preimage_key = hmac_sha256(node_secret, b"mesh402 dev wallet preimages");
        Ok(DevWallet { secp, node_key, node_id, preimage_key, ledger, issued: Mutex::new(IssuedInvoices::default()) })
    }

    /// The wallet's node public key, hex encoded (the payee of every invoice it issues).
    pub fn node_id(&self) -> String {
        self.node_id.to_string()
    }

    /// Pays an invoice this wallet issued and returns its preimage, as a payer's wallet would.
    ///
    /// Fails for invoices of other nodes or networks, expired invoices and invoices already paid.
    pub async fn pay(&self, bolt11: &str, now: u64) -> Result<Preimage, PayError> {
        let invoice = Bolt11Invoice::from_str(bolt11.trim()).map_err(|_| PayError::Malformed)?;
        if invoice.currency() != Currency::Regtest {
            return Err(PayError::WrongNetwork);
        }
        if invoice.recover_payee_pub_key() != self.node_id || invoice.check_signature().is_err() {
            return Err(PayError::UnknownInvoice);
        }
        if invoice.amount_milli_satoshis().unwrap_or(0) == 0 {
            return Err(PayError::NoAmount);
        }
        let expires_at = invoice.duration_since_epoch().saturating_add(invoice.expiry_time()).as_secs();
        if now >= expires_at {
            return Err(PayError::Expired);
        }
        let preimage = Preimage(hmac_sha256(&self.preimage_key, &invoice.payment_secret().0));
        let payment_hash = preimage.hash();
        if payment_hash.0 != invoice.payment_hash().to_byte_array() {
            // Signed by our key but not made by this derivation: treat it as foreign.
            return Err(PayError::UnknownInvoice);
        }
        if !self.ledger.record_payment(&preimage).await.map_err(PayError::Ledger)? {
            return Err(PayError::AlreadyPaid);
        }
        tracing::info!(%payment_hash, "dev wallet paid an invoice");
        Ok(preimage)
    }

    fn issue(&self, request: &InvoiceRequest, now: u64) -> Result<CreatedInvoice, LnError> {
        if request.amount.0 == 0 {
            return Err(LnError::Rejected("amountless invoices are not issued".into()));
        }
        let payment_secret: [u8; 32] = rand::random();
        let preimage = Preimage(hmac_sha256(&self.preimage_key, &payment_secret));
        let payment_hash = preimage.hash();
        let invoice = InvoiceBuilder::new(Currency::Regtest)
            .description(request.description.clone())
            .payment_hash(sha256::Hash::from_byte_array(payment_hash.0))
            .payment_secret(PaymentSecret(payment_secret))
            .duration_since_epoch(Duration::from_secs(now))
            .min_final_cltv_expiry_delta(MIN_FINAL_CLTV_EXPIRY_DELTA)
            .amount_milli_satoshis(request.amount.0)
            .expiry_time(request.expiry)
            .build_signed(|message| self.secp.sign_ecdsa_recoverable(message, &self.node_key))
            .map_err(|error| LnError::Rejected(format!("{error:?}")))?;
        let expires_at = now.saturating_add(request.expiry.as_secs());
        self.issued.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remember(payment_hash.0, expires_at, now);
        Ok(CreatedInvoice { bolt11: invoice.to_string(), payment_hash, expires_at })
    }

    async fn state(&self, payment_hash: &PaymentHash, now: u64) -> Result<InvoiceState, LnError> {
        if let Some(preimage) = self.paid(payment_hash).await? {
            return Ok(InvoiceState::Settled { preimage: Some(preimage) });
        }
        let issued = self.issued.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match issued.expiry_by_hash.get(&payment_hash.0) {
            Some(&expires_at) if expires_at <= now => Ok(InvoiceState::Expired),
            Some(_) => Ok(InvoiceState::Open),
            None => Err(LnError::NotFound),
        }
    }

    async fn paid(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        self.ledger
            .paid_preimage(payment_hash)
            .await
            .map_err(|error| LnError::Unavailable(format!("the ledger cannot be read: {error}")))
    }
}

#[async_trait]
impl LightningBackend for DevWallet {
    fn name(&self) -> &'static str {
        "dev"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        self.issue(request, unix_now())
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        self.state(payment_hash, unix_now()).await
    }
}

/// The development wallet as a payer: what the server refunds with when it is the backend. It pays only invoices it
/// issued (`POST /dev/invoice` makes one to receive a refund), because only for those can it know the preimage and
/// so prove the payment, as a real node would.
#[async_trait]
impl InvoicePayer for DevWallet {
    fn name(&self) -> &'static str {
        "dev"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        DevWallet::pay(self, bolt11, unix_now()).await.map_err(|error| match error {
            PayError::Ledger(source) => LnError::Unavailable(format!("the ledger cannot be written: {source}")),
            refused => LnError::Rejected(refused.to_string()),
        })
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        self.paid(payment_hash).await
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh402_l402::Msat;

    fn wallet(dir: &Path) -> DevWallet {
        DevWallet::open(&[7u8; 32], &dir.join("paid.ledger")).expect("wallet opens")
    }

    fn request() -> InvoiceRequest {
        InvoiceRequest {
            amount: Msat::from_sats(350),
            description: "mesh402 3d-model: 350 sats".into(),
            expiry: Duration::from_secs(600),
        }
    }

    #[tokio::test]
    async fn issues_real_signed_regtest_invoices() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = wallet(dir.path());
        let now = unix_now();
        let created = wallet.issue(&request(), now).unwrap();
        assert!(created.bolt11.starts_with("lnbcrt3500n1"), "{}", created.bolt11);
        let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
        invoice.check_signature().unwrap();
        assert_eq!(invoice.recover_payee_pub_key().to_string(), wallet.node_id());
        assert_eq!(invoice.amount_milli_satoshis(), Some(350_000));
        assert_eq!(invoice.expiry_time(), Duration::from_secs(600));
        assert_eq!(invoice.payment_hash().to_byte_array(), created.payment_hash.0);
        assert_eq!(created.expires_at, now + 600);
    }

    #[tokio::test]
    async fn pays_once_and_the_preimage_matches_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = wallet(dir.path());
        let now = unix_now();
        let created = wallet.issue(&request(), now).unwrap();
        assert_eq!(wallet.state(&created.payment_hash, now).await.unwrap(), InvoiceState::Open);
        let preimage = wallet.pay(&created.bolt11, now).await.unwrap();
        assert_eq!(preimage.hash(), created.payment_hash);
        assert!(matches!(wallet.pay(&created.bolt11, now).await, Err(PayError::AlreadyPaid)));
        assert_eq!(
            wallet.state(&created.payment_hash, now).await.unwrap(),
            InvoiceState::Settled { preimage: Some(preimage) }
        );
    }

    #[tokio::test]
    async fn the_ledger_is_mode_0600_even_if_it_was_not() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("paid.ledger");
        let mode = || std::fs::metadata(&ledger).unwrap().permissions().mode() & 0o777;
        drop(wallet(dir.path()));
        assert_eq!(mode(), 0o600);
        std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(wallet(dir.path()));
        assert_eq!(mode(), 0o600);
    }

    #[tokio::test]
    async fn the_ledger_survives_a_restart_and_tolerates_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let now = unix_now();
        let (created, preimage) = {
            let wallet = wallet(dir.path());
            let created = wallet.issue(&request(), now).unwrap();
            let preimage = wallet.pay(&created.bolt11, now).await.unwrap();
            (created, preimage)
        };
        let mut file = OpenOptions::new().append(true).open(dir.path().join("paid.ledger")).unwrap();
        file.write_all(b"deadbeef").unwrap();
        let reopened = wallet(dir.path());
        assert!(matches!(reopened.pay(&created.bolt11, now).await, Err(PayError::AlreadyPaid)));
        assert_eq!(
            reopened.state(&created.payment_hash, now).await.unwrap(),
            InvoiceState::Settled { preimage: Some(preimage) }
        );
    }

    #[tokio::test]
    async fn refuses_expired_foreign_and_malformed_invoices() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = wallet(dir.path());
        let now = unix_now();
        let created = wallet.issue(&request(), now).unwrap();
        assert!(matches!(wallet.pay(&created.bolt11, now + 600).await, Err(PayError::Expired)));
        assert_eq!(wallet.state(&created.payment_hash, now + 600).await.unwrap(), InvoiceState::Expired);

        let other_dir = tempfile::tempdir().unwrap();
        let other = DevWallet::open(&[9u8; 32], &other_dir.path().join("paid.ledger")).unwrap();
        assert!(matches!(other.pay(&created.bolt11, now).await, Err(PayError::UnknownInvoice)));
        assert!(matches!(wallet.pay("lnbcrt1garbage", now).await, Err(PayError::Malformed)));
        // A real Aperture invoice from lsat-js' tests: valid regtest BOLT11, but another node's.
        let foreign = "lnbcrt100n1p3qqkygpp5xzj85m5mpvatnapgpuyfxtxhypa5gr6sskqd8664v04550vqp8lsdq8f3f5z4qcqzpgsp5tpzvsq5pckqgln3ltpy3e9cf6tf2aj82ffa2tted77ltweuaweks9qyyssq0w5da3k40wtdukac7hp5s58hsxf8k8f52c5qneezu4xg3xh87xrnkl5jwtw098d2gjywx20nmkxl2y4vq9fr89kg5kzcwupv9xpdaggp4fc4ms";
        assert!(matches!(wallet.pay(foreign, now).await, Err(PayError::UnknownInvoice | PayError::Expired)));
        assert!(matches!(wallet.state(&PaymentHash([1; 32]), now).await, Err(LnError::NotFound)));
    }

    #[tokio::test]
    async fn never_issues_amountless_invoices() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = wallet(dir.path());
        let mut zero = request();
        zero.amount = Msat(0);
        assert!(matches!(wallet.issue(&zero, unix_now()), Err(LnError::Rejected(_))));
    }
}
