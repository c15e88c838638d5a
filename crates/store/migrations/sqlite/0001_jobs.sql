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
    attempts              INTEGER NOT NULL DEFAULT 0,
    stage                 TEXT,
    progress              INTEGER NOT NULL DEFAULT 0,
    model_id              TEXT UNIQUE,
    model_file            TEXT,
    model_media_type      TEXT,
    model_bytes           INTEGER,
    model_sha256          TEXT,
    n_faces               INTEGER,
    n_vertices            INTEGER,
    error_code            TEXT,
    error_message         TEXT,
    credential_expires_at INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_created_at ON jobs (created_at);
