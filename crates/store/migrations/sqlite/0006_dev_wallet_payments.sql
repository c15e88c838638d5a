-- The development wallet's ledger of paid invoices, for deployments whose nodes share this database (a single
-- process keeps it in a file instead). The payment hash is the key, so an invoice can be paid once across nodes.
-- The preimages are secrets of the development (regtest) wallet only.
CREATE TABLE dev_wallet_payments (
    payment_hash TEXT PRIMARY KEY NOT NULL,
    preimage     TEXT NOT NULL,
    paid_at      INTEGER NOT NULL
);
