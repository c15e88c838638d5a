//! Lightning backends behind one small trait.
//!
//! mesh402 needs exactly two things from a Lightning node: make an invoice with an amount, and tell whether an
//! invoice has been paid. Verifying a paid credential needs neither (the preimage proves payment), so the node
//! stays off the hot path of paid requests. [`LightningBackend`] states that contract; [`DevWallet`] is the
//! built-in development wallet every fresh install uses, and real nodes implement the same trait: [`Lnbits`]
//! (tested against a real LNbits server), [`Lnd`] (REST, pinned certificate), [`Cln`] (`clnrest`) and [`Nwc`]
//! (Nostr Wallet Connect, NIP-47, over a relay), the last three tested against fakes in the shape of their
//! documentation. [`InvoicePayer`] is the buyer's side (pay an invoice, get its preimage): [`LnbitsPayer`] and
//! [`DevPayEndpoint`]. `http.rs` holds what the HTTP backends share: deadlines, [`Secret`], and the check that an
//! invoice is the one asked for. For refunds the server pays through the same trait: [`DevWallet`] (its own
//! invoices), `LnbitsPayer` with the shop wallet's admin key, [`Lnd`], [`Cln`] and [`Nwc`].

#![deny(missing_docs)]

#[cfg(feature = "cln")]
mod cln;
mod dev_wallet;
mod http;
mod lnbits;
#[cfg(feature = "lnd")]
mod lnd;
#[cfg(feature = "nwc")]
mod nwc;
mod pay;

#[cfg(feature = "cln")]
pub use cln::{Cln, ClnSettings};
pub use dev_wallet::{DevWallet, LedgerError, LedgerFile, PaidLedger, PayError};
pub use http::{InvoiceError, InvoiceFacts, Secret, install_crypto_provider, invoice_facts};
pub use lnbits::{Lnbits, LnbitsSettings};
#[cfg(feature = "lnd")]
pub use lnd::{Lnd, LndSettings, macaroon_hex};
#[cfg(feature = "nwc")]
pub use nwc::{Nwc, NwcSettings};
pub use pay::{DevPayEndpoint, InvoicePayer, LnbitsPayer};

use std::time::Duration;

use async_trait::async_trait;
use mesh402_l402::{Msat, PaymentHash, Preimage};

/// What the server asks a backend to invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRequest {
    /// The amount; never zero (mesh402 never issues amountless invoices).
    pub amount: Msat,
    /// A human-readable description that names the price.
    pub description: String,
    /// How long the client has to pay.
    pub expiry: Duration,
}

/// An invoice a backend created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedInvoice {
    /// The BOLT11 string the client pays.
    pub bolt11: String,
    /// The payment hash the invoice commits to; the L402 identifier carries it.
    pub payment_hash: PaymentHash,
    /// When the invoice stops being payable, in unix seconds.
    pub expires_at: u64,
}

/// The state of an invoice as its backend sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceState {
    /// Issued and still payable.
    Open,
    /// Paid. The preimage is included when the backend reveals it.
    Settled {
        /// The payment preimage, when the backend returns it.
        preimage: Option<Preimage>,
    },
    /// Past its expiry without being paid.
    Expired,
    /// Cancelled by the node.
    Canceled,
}

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LnError {
    /// The backend does not know this invoice (it never issued it, or no longer remembers it).
    #[error("the Lightning backend does not know this invoice")]
    NotFound,
    /// The node could not be reached or did not answer in time.
    #[error("the Lightning backend is unavailable: {0}")]
    Unavailable(String),
    /// The node refused our credentials.
    #[error("the Lightning backend rejected our credentials")]
    Unauthorized,
    /// The node answered with something we cannot read.
    #[error("the Lightning backend answered unexpectedly: {0}")]
    BadResponse(String),
    /// The request itself was refused (amount too large, bad description, …).
    #[error("the Lightning backend refused the request: {0}")]
    Rejected(String),
}

impl LnError {
    /// A stable snake_case name for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            LnError::NotFound => "not_found",
            LnError::Unavailable(_) => "unavailable",
            LnError::Unauthorized => "unauthorized",
            LnError::BadResponse(_) => "bad_response",
            LnError::Rejected(_) => "rejected",
        }
    }
}

/// A Lightning node or wallet that can issue invoices and report on them.
///
/// The contract every implementation keeps:
/// - [`create_invoice`](Self::create_invoice) returns a BOLT11 invoice *with* the requested amount and expiry, whose
///   payment hash is the one reported; it never returns an amountless invoice.
/// - [`lookup_invoice`](Self::lookup_invoice) is read-only and idempotent; [`LnError::NotFound`] means the backend
///   has no record of that payment hash.
/// - Every call returns within a bounded time; a node that is down or slow yields [`LnError::Unavailable`] rather
///   than hanging the caller.
#[async_trait]
pub trait LightningBackend: Send + Sync + 'static {
    /// A short name for logs and the health endpoint (`dev`, `lnbits`, …).
    fn name(&self) -> &'static str;

    /// Creates an invoice for `request`.
    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError>;

    /// Reports the state of the invoice with this payment hash.
    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError>;

    /// Checks, at start-up, that the backend answers as itself and accepts the credential: by default a look-up of
    /// an invoice that cannot exist (`NotFound` is the healthy answer). A backend whose look-ups do not check the
    /// credential overrides it with a call that does.
    async fn probe(&self) -> Result<(), LnError> {
        match self.lookup_invoice(&PaymentHash([0; 32])).await {
            Ok(_) | Err(LnError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// Seconds since the unix epoch from the system clock (backends live at the I/O edge, so they may read it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}
