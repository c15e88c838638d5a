-- What the client paid, so that a refund is what was paid even if the price changes later (0 for jobs recorded
-- before this column existed: they are offered no refund).
ALTER TABLE jobs ADD COLUMN price_msat INTEGER NOT NULL DEFAULT 0;

-- The last refund claim: the one invoice the refund goes to, recorded before it is paid (the job's state says
-- where the claim stands: refunding, refunded, or failed again with refund_failure set).
ALTER TABLE jobs ADD COLUMN refund_msat INTEGER;
ALTER TABLE jobs ADD COLUMN refund_bolt11 TEXT;
ALTER TABLE jobs ADD COLUMN refund_payment_hash TEXT;
ALTER TABLE jobs ADD COLUMN refund_claimed_at INTEGER;
ALTER TABLE jobs ADD COLUMN refund_preimage TEXT;
ALTER TABLE jobs ADD COLUMN refund_settled_at INTEGER;
ALTER TABLE jobs ADD COLUMN refund_failure TEXT;

CREATE INDEX jobs_refunding ON jobs (state) WHERE state = 'refunding';
