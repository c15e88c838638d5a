//! The development wallet's ledger of paid invoices in the deployment's PostgreSQL database, so that every node of
//! a deployment sees the same payments: an invoice paid through one node's `/dev/pay` cannot be paid again through
//! another, and a refund one node paid reads as paid on all. A single process keeps its ledger in a file instead
//! (`mesh402_ln::LedgerFile`).

use std::sync::Arc;

use async_trait::async_trait;
use mesh402_l402::{PaymentHash, Preimage};
use mesh402_ln::{LedgerError, PaidLedger};
use mesh402_store::SqlJobStore;

/// [`PaidLedger`] on the job store's database (its `dev_wallet_payments` table).
pub(crate) struct DatabaseLedger(pub(crate) Arc<SqlJobStore>);

#[async_trait]
impl PaidLedger for DatabaseLedger {
    async fn record_payment(&self, preimage: &Preimage) -> Result<bool, LedgerError> {
        Ok(self.0.record_dev_wallet_payment(preimage, mesh402_service::unix_now()).await?)
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LedgerError> {
        Ok(self.0.dev_wallet_preimage(payment_hash).await?)
    }
}
