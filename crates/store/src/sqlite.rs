//! [`JobStore`] on a SQLite file: the embedded default, no server needed.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use mesh402_l402::TokenId;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use crate::{
    Claim, FailedAttempt, Job, JobFailure, JobId, JobOutput, JobState, JobStore, NewJob, RefundClaim, RefundOutcome,
    RefundRecord, StoreError,
};

/// Job records in one SQLite database file (WAL mode, migrations applied on open).
#[derive(Debug, Clone)]
pub struct SqliteJobStore {
    pool: SqlitePool,
}

fn db_error(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(Box::new(error))
}

/// SQLite integers are signed; unix seconds and sizes fit easily, and a value that does not is refused.
fn to_i64(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt { field, value: value.to_string() })
}

/// Reads a stored integer into the type the record uses; a value out of that type's range is corrupt.
fn from_i64<T: TryFrom<i64>>(field: &'static str, value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt { field, value: value.to_string() })
}

/// Reads a stored text into its type; a value that does not parse is corrupt.
fn parse<T: FromStr>(field: &'static str, text: String) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt { field, value: text })
}

impl SqliteJobStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteJobStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(db_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a job recorded before the response is sent must survive a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(db_error)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(db_error)?;
        Ok(SqliteJobStore { pool })
    }

    async fn fetch_one(&self, sql: &'static str, value: String) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sql).bind(value).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.map(|row| job_from_row(&row)).transpose()
    }
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let text = |name: &'static str| -> Result<String, StoreError> { row.try_get::<String, _>(name).map_err(db_error) };
    let opt_text = |name: &'static str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(name).map_err(db_error)
    };
    let int = |name: &'static str| -> Result<i64, StoreError> { row.try_get::<i64, _>(name).map_err(db_error) };
    let opt_int = |name: &'static str| -> Result<Option<i64>, StoreError> {
        row.try_get::<Option<i64>, _>(name).map_err(db_error)
    };

    let output = match opt_text("model_id")? {
        None => None,
        Some(model_id) => {
            let required = |field: &'static str, value: Option<i64>| {
                value.ok_or(StoreError::Corrupt { field, value: "NULL".into() })
            };
            let required_text = |field: &'static str, value: Option<String>| {
                value.ok_or(StoreError::Corrupt { field, value: "NULL".into() })
            };
            Some(JobOutput {
                model_id: parse("model_id", model_id)?,
                model_file: required_text("model_file", opt_text("model_file")?)?,
                media_type: required_text("model_media_type", opt_text("model_media_type")?)?,
                bytes: from_i64("model_bytes", required("model_bytes", opt_int("model_bytes")?)?)?,
                sha256: required_text("model_sha256", opt_text("model_sha256")?)?,
                n_faces: from_i64("n_faces", required("n_faces", opt_int("n_faces")?)?)?,
                n_vertices: from_i64("n_vertices", required("n_vertices", opt_int("n_vertices")?)?)?,
            })
        }
    };
    let failure = match (opt_text("error_code")?, opt_text("error_message")?, opt_int("error_server_fault")?) {
        (Some(code), Some(message), Some(server_fault)) => {
            Some(JobFailure { code, message, server_fault: server_fault != 0 })
        }
        (None, None, None) => None,
        (code, _, _) => {
            return Err(StoreError::Corrupt { field: "error_code", value: code.unwrap_or_else(|| "NULL".into()) });
        }
    };
    let refund = match opt_text("refund_bolt11")? {
        None => None,
        Some(bolt11) => {
            let required = |field: &'static str, value: Option<i64>| {
                value.ok_or(StoreError::Corrupt { field, value: "NULL".into() })
            };
            let payment_hash = opt_text("refund_payment_hash")?
                .ok_or(StoreError::Corrupt { field: "refund_payment_hash", value: "NULL".into() })?;
            Some(RefundRecord {
                claim: RefundClaim {
                    amount_msat: from_i64("refund_msat", required("refund_msat", opt_int("refund_msat")?)?)?,
                    bolt11,
                    payment_hash: parse("refund_payment_hash", payment_hash)?,
                },
                claimed_at: from_i64(
                    "refund_claimed_at",
                    required("refund_claimed_at", opt_int("refund_claimed_at")?)?,
                )?,
                preimage: opt_text("refund_preimage")?.map(|text| parse("refund_preimage", text)).transpose()?,
                settled_at: opt_int("refund_settled_at")?
                    .map(|value| from_i64("refund_settled_at", value))
                    .transpose()?,
                failure: opt_text("refund_failure")?,
            })
        }
    };
    let progress: u8 = from_i64("progress", int("progress")?)?;
    if progress > 100 {
        return Err(StoreError::Corrupt { field: "progress", value: progress.to_string() });
    }
    Ok(Job {
        spec: NewJob {
            job_id: parse("job_id", text("job_id")?)?,
            token_id: parse("token_id", text("token_id")?)?,
            payment_hash: parse("payment_hash", text("payment_hash")?)?,
            request_binding: parse("request_digest", text("request_digest")?)?,
            image_kind: text("image_kind")?,
            params_json: text("params_json")?,
            credential_expires_at: from_i64("credential_expires_at", int("credential_expires_at")?)?,
            created_at: from_i64("created_at", int("created_at")?)?,
            price_msat: from_i64("price_msat", int("price_msat")?)?,
        },
        state: parse("state", text("state")?)?,
        attempts: from_i64("attempts", int("attempts")?)?,
        stage: opt_text("stage")?,
        progress,
        output,
        failure,
        refund,
        updated_at: from_i64("updated_at", int("updated_at")?)?,
    })
}

#[async_trait]
impl JobStore for SqliteJobStore {
    async fn claim(&self, job: &NewJob) -> Result<Claim, StoreError> {
        // The UNIQUE token_id makes the insert the claim: concurrent claims race inside SQLite, not here.
        let inserted = sqlx::query(
            "INSERT INTO jobs (job_id, token_id, payment_hash, request_digest, image_kind, params_json, state, \
             credential_expires_at, created_at, updated_at, price_msat) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8, $9) ON CONFLICT (token_id) DO NOTHING",
        )
        .bind(job.job_id.to_string())
        .bind(job.token_id.to_string())
        .bind(job.payment_hash.to_string())
        .bind(job.request_binding.to_string())
        .bind(&job.image_kind)
        .bind(&job.params_json)
        .bind(to_i64("credential_expires_at", job.credential_expires_at)?)
        .bind(to_i64("created_at", job.created_at)?)
        .bind(to_i64("price_msat", job.price_msat)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected()
            == 1;
        let stored =
            self.job_by_token(&job.token_id).await?.ok_or(StoreError::Inconsistent("a claimed job vanished"))?;
        Ok(if inserted { Claim::Created(stored) } else { Claim::Existing(stored) })
    }

    async fn job_by_token(&self, token_id: &TokenId) -> Result<Option<Job>, StoreError> {
        self.fetch_one("SELECT * FROM jobs WHERE token_id = $1", token_id.to_string()).await
    }

    async fn job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        self.fetch_one("SELECT * FROM jobs WHERE job_id = $1", job_id.to_string()).await
    }

    async fn start_attempt(&self, job_id: &JobId, now: u64) -> Result<u32, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, progress = 0, \
             updated_at = $2 WHERE job_id = $1 AND state IN ('queued', 'running') RETURNING attempts",
        )
        .bind(job_id.to_string())
        .bind(to_i64("updated_at", now)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match row {
            Some(row) => from_i64("attempts", row.try_get::<i64, _>("attempts").map_err(db_error)?),
            None => Ok(0),
        }
    }

    async fn record_progress(&self, job_id: &JobId, stage: &str, percent: u8, now: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET stage = $2, progress = $3, updated_at = $4 WHERE job_id = $1 AND state = 'running'",
        )
        .bind(job_id.to_string())
        .bind(stage)
        .bind(i64::from(percent.min(100)))
        .bind(to_i64("updated_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn succeed(&self, job_id: &JobId, output: &JobOutput, now: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'succeeded', stage = NULL, progress = 100, model_id = $2, model_file = $3, \
             model_media_type = $4, model_bytes = $5, model_sha256 = $6, n_faces = $7, n_vertices = $8, \
             error_code = NULL, error_message = NULL, error_server_fault = NULL, updated_at = $9 WHERE job_id = $1",
        )
        .bind(job_id.to_string())
        .bind(output.model_id.to_string())
        .bind(&output.model_file)
        .bind(&output.media_type)
        .bind(to_i64("model_bytes", output.bytes)?)
        .bind(&output.sha256)
        .bind(i64::from(output.n_faces))
        .bind(i64::from(output.n_vertices))
        .bind(to_i64("updated_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn fail(&self, job_id: &JobId, failure: &JobFailure, retry_later: bool, now: u64) -> Result<(), StoreError> {
        let state = if retry_later { "queued" } else { "failed" };
        let now = to_i64("updated_at", now)?;
        let mut transaction = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO job_failures (job_id, attempt, code, message, server_fault, failed_at) \
             SELECT job_id, attempts, $2, $3, $4, $5 FROM jobs WHERE job_id = $1",
        )
        .bind(job_id.to_string())
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(failure.server_fault)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "UPDATE jobs SET state = $2, stage = NULL, error_code = $3, error_message = $4, error_server_fault = $5, \
             updated_at = $6 WHERE job_id = $1 AND state NOT IN ('succeeded', 'refunding', 'refunded')",
        )
        .bind(job_id.to_string())
        .bind(state)
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(failure.server_fault)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn failures(&self, job_id: &JobId) -> Result<Vec<FailedAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, code, message, server_fault, failed_at FROM job_failures WHERE job_id = $1 \
             ORDER BY rowid",
        )
        .bind(job_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let attempt: i64 = row.try_get("attempt").map_err(db_error)?;
                let failed_at: i64 = row.try_get("failed_at").map_err(db_error)?;
                let failure = JobFailure {
                    code: row.try_get("code").map_err(db_error)?,
                    message: row.try_get("message").map_err(db_error)?,
                    server_fault: row.try_get("server_fault").map_err(db_error)?,
                };
                Ok(FailedAttempt {
                    attempt: from_i64("attempt", attempt)?,
                    failure,
                    failed_at: from_i64("failed_at", failed_at)?,
                })
            })
            .collect()
    }

    async fn requeue(&self, job_id: &JobId, now: u64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, updated_at = $2 WHERE job_id = $1 AND state = 'failed'",
        )
        .bind(job_id.to_string())
        .bind(to_i64("updated_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn unfinished(&self) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, job_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn claim_refund(&self, job_id: &JobId, claim: &RefundClaim, now: u64) -> Result<bool, StoreError> {
        // One conditional update: of a requeue and a claim racing for one failed job, exactly one changes it.
        let result = sqlx::query(
            "UPDATE jobs SET state = 'refunding', refund_msat = $2, refund_bolt11 = $3, refund_payment_hash = $4, \
             refund_claimed_at = $5, refund_preimage = NULL, refund_settled_at = NULL, refund_failure = NULL, \
             updated_at = $5 WHERE job_id = $1 AND state = 'failed'",
        )
        .bind(job_id.to_string())
        .bind(to_i64("refund_msat", claim.amount_msat)?)
        .bind(&claim.bolt11)
        .bind(claim.payment_hash.to_string())
        .bind(to_i64("refund_claimed_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn settle_refund(&self, job_id: &JobId, outcome: &RefundOutcome, now: u64) -> Result<bool, StoreError> {
        let (state, preimage, failure) = match outcome {
            RefundOutcome::Paid(preimage) => ("refunded", Some(preimage.to_hex()), None),
            RefundOutcome::NotPaid(reason) => ("failed", None, Some(reason.as_str())),
        };
        let result = sqlx::query(
            "UPDATE jobs SET state = $2, refund_preimage = $3, refund_failure = $4, refund_settled_at = $5, \
             updated_at = $5 WHERE job_id = $1 AND state = 'refunding'",
        )
        .bind(job_id.to_string())
        .bind(state)
        .bind(preimage)
        .bind(failure)
        .bind(to_i64("refund_settled_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn refunding(&self) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE state = 'refunding' ORDER BY refund_claimed_at, job_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut counts: Vec<(JobState, u64)> = JobState::ALL.iter().map(|&state| (state, 0)).collect();
        for (name, count) in rows {
            let state =
                JobState::from_str(&name).map_err(|_| StoreError::Corrupt { field: "state", value: name.clone() })?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = u64::try_from(count).unwrap_or(0);
            }
        }
        Ok(counts)
    }

    async fn created_before(&self, created_before: u64, limit: u32) -> Result<Vec<Job>, StoreError> {
        // Cutoffs beyond SQLite's range mean "every job".
        let cutoff = i64::try_from(created_before).unwrap_or(i64::MAX);
        let rows = sqlx::query("SELECT * FROM jobs WHERE created_at < $1 ORDER BY created_at, job_id LIMIT $2")
            .bind(cutoff)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn delete(&self, job_id: &JobId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM jobs WHERE job_id = $1")
            .bind(job_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_that_does_not_read_back_is_corrupt_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobStore::open(&dir.path().join("mesh402.db")).await.unwrap();
        let job_id = JobId([7; 16]);
        sqlx::query(
            "INSERT INTO jobs (job_id, token_id, payment_hash, request_digest, image_kind, params_json, state, \
             attempts, credential_expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $3, 'png', '{}', 'queued', -1, 0, 0, 0)",
        )
        .bind(job_id.to_string())
        .bind("11".repeat(32))
        .bind("22".repeat(32))
        .execute(&store.pool)
        .await
        .unwrap();
        let error = store.job(&job_id).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { field: "attempts", .. }), "{error:?}");
        sqlx::query("UPDATE jobs SET attempts = 0, state = 'paused'").execute(&store.pool).await.unwrap();
        let error = store.job(&job_id).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { field: "state", .. }), "{error:?}");
    }
}
