-- The development wallet's ledger of paid invoices, shared by the nodes of a deployment: the payment hash is the
-- key, so an invoice can be paid once across nodes. The preimages are secrets of the development (regtest) wallet
-- only.
CREATE TABLE dev_wallet_payments (
    payment_hash TEXT PRIMARY KEY NOT NULL,
    preimage     TEXT NOT NULL,
    paid_at      BIGINT NOT NULL
);
