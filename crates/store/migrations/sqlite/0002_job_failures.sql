-- Every failed generation attempt, with its reason: the job row keeps only the last one.
CREATE TABLE job_failures (
    job_id      TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    failed_at   INTEGER NOT NULL
);

CREATE INDEX job_failures_job ON job_failures (job_id);
