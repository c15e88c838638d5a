-- The job records on PostgreSQL: the same columns as on SQLite (migrations/sqlite, 0001 to 0005 in one), with
-- BIGINT for every integer and an id column that orders failures as SQLite's rowid does.

-- One row per paid token: the token id is the key, so one payment can never start two jobs.
-- Unpaid challenges never reach this table.
CREATE TABLE jobs (
    job_id                TEXT PRIMARY KEY NOT NULL,
    token_id              TEXT NOT NULL UNIQUE,
    payment_hash          TEXT NOT NULL,
    request_digest        TEXT NOT NULL,
    image_kind            TEXT NOT NULL,
    params_json           TEXT NOT NULL,
    state                 TEXT NOT NULL,
    attempts              BIGINT NOT NULL DEFAULT 0,
    stage                 TEXT,
    progress              BIGINT NOT NULL DEFAULT 0,
    model_id              TEXT UNIQUE,
    model_file            TEXT,
    model_media_type      TEXT,
    model_bytes           BIGINT,
    model_sha256          TEXT,
    n_faces               BIGINT,
    n_vertices            BIGINT,
    error_code            TEXT,
    error_message         TEXT,
    error_server_fault    BIGINT,
    credential_expires_at BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    -- What the client paid: a refund is what was paid even if the price changes later.
    price_msat            BIGINT NOT NULL DEFAULT 0,
    -- The last refund claim (the job's state says where it stands).
    refund_msat           BIGINT,
    refund_bolt11         TEXT,
    refund_payment_hash   TEXT,
    refund_claimed_at     BIGINT,
    refund_preimage       TEXT,
    refund_settled_at     BIGINT,
    refund_failure        TEXT,
    -- Which worker holds a running job, and until when.
    lease_owner           TEXT,
    lease_expires_at      BIGINT
);

CREATE INDEX jobs_unfinished ON jobs (state, created_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_created_at ON jobs (created_at);
CREATE INDEX jobs_refunding ON jobs (state) WHERE state = 'refunding';

-- Every failed generation attempt, with its reason: the job row keeps only the last one.
CREATE TABLE job_failures (
    id           BIGSERIAL PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    server_fault BIGINT NOT NULL DEFAULT 0,
    failed_at    BIGINT NOT NULL
);

CREATE INDEX job_failures_job ON job_failures (job_id);
