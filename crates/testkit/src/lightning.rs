//! A Lightning backend for tests: invoices in memory that the test pays, and a node it can switch off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use mesh402_l402::{PaymentHash, Preimage};
use mesh402_ln::{CreatedInvoice, InvoiceRequest, InvoiceState, LightningBackend, LnError};
use mesh402_service::unix_now;

/// A fake node. Its invoices are not BOLT11 (`lnfake…`): the service never parses them, and a test pays them with
/// [`FakeLightning::pay`].
#[derive(Debug, Default)]
pub struct FakeLightning {
    invoices: Mutex<HashMap<PaymentHash, Invoice>>,
    down: AtomicBool,
    created: AtomicUsize,
}

#[derive(Debug)]
struct Invoice {
    preimage: Preimage,
    paid: bool,
    expires_at: u64,
}

impl FakeLightning {
    /// A node that is up and has issued nothing.
    pub fn new() -> FakeLightning {
        FakeLightning::default()
    }

    /// Switches the node off (every call is [`LnError::Unavailable`]) or on again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many invoices were created.
    pub fn n_invoices(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    /// Pays the invoice with this payment hash and returns the preimage, as the payer's wallet would; `None` for an
    /// invoice this node never issued.
    pub fn pay(&self, payment_hash: &PaymentHash) -> Option<Preimage> {
        let mut invoices = self.invoices.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let invoice = invoices.get_mut(payment_hash)?;
        invoice.paid = true;
        Some(invoice.preimage.clone())
    }

    fn check_up(&self) -> Result<(), LnError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LnError::Unavailable("the test switched the node off".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl LightningBackend for FakeLightning {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        self.check_up()?;
        if request.amount.0 == 0 {
            return Err(LnError::Rejected("amountless invoices are not issued".into()));
        }
        let preimage = Preimage(rand::random());
        let payment_hash = preimage.hash();
        let expires_at = unix_now().saturating_add(request.expiry.as_secs());
        let invoice = Invoice { preimage, paid: false, expires_at };
        self.invoices.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(payment_hash, invoice);
        self.created.fetch_add(1, Ordering::SeqCst);
        Ok(CreatedInvoice { bolt11: format!("lnfake{}n1{payment_hash}", request.amount.0), payment_hash, expires_at })
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        self.check_up()?;
        let invoices = self.invoices.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let invoice = invoices.get(payment_hash).ok_or(LnError::NotFound)?;
        Ok(if invoice.paid {
            InvoiceState::Settled { preimage: Some(invoice.preimage.clone()) }
        } else if invoice.expires_at <= unix_now() {
            InvoiceState::Expired
        } else {
            InvoiceState::Open
        })
    }
}
