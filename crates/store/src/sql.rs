//! [`JobStore`] on SQL: a SQLite file (the embedded default, no server needed) or PostgreSQL (shared by the nodes
//! and workers of a deployment). One implementation through sqlx's `Any` driver: the statements are the same on
//! both but for the few a [`Dialect`] names (how failures are ordered, how a worker skips jobs another is taking).

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use mesh402_core::{Format, JobState, MeshParams, Stage};
use mesh402_l402::{Msat, PaymentHash, Preimage, TokenId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::{
    Claim, FailedAttempt, Job, JobFailure, JobId, JobOutput, JobStore, Lease, ModelId, NewJob, RefundClaim,
    RefundOutcome, RefundRecord, StoreError, WorkerId,
};

/// Which SQL database a [`SqlJobStore`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Job records in SQL: a SQLite file (WAL mode) or a PostgreSQL database; migrations are applied on open.
#[derive(Debug, Clone)]
pub struct SqlJobStore {
    pool: AnyPool,
    dialect: Dialect,
}

fn db_error(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(Box::new(error))
}

/// SQL integers are signed; unix seconds and sizes fit easily, and a value that does not is refused.
fn to_i64(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt { field, value: value.to_string() })
}

/// Reads a stored integer into the type the record uses; a value out of that type's range is corrupt.
fn from_i64<T: TryFrom<i64>>(field: &'static str, value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt { field, value: value.to_string() })
}

/// A job's parameters as the JSON the `params_json` column holds.
fn params_json(params: &MeshParams) -> Result<String, StoreError> {
    serde_json::to_string(params)
        .map_err(|error| StoreError::Corrupt { field: "params_json", value: error.to_string() })
}

/// Reads a stored text into its type; a value that does not parse is corrupt.
fn parse<T: FromStr>(field: &'static str, text: String) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt { field, value: text })
}

/// A path as a `sqlite://` URL: every byte but the unreserved ones percent-encoded, which sqlx decodes again
/// (so a `?` or `#` in a directory name cannot start the query part). Hand-written: eight lines, and the `url`
/// crate will not turn a `file:` URL into another scheme.
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let path = std::path::absolute(path)?;
    let text =
        path.to_str().ok_or(StoreError::Corrupt { field: "database path", value: path.display().to_string() })?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

impl SqlJobStore {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<SqlJobStore, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL: a job recorded before the response is sent
                    // must survive a power cut.
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    Ok(())
                })
            })
            .connect(&sqlite_url(path)?)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(db_error)?;
        Ok(SqlJobStore { pool, dialect: Dialect::Sqlite })
    }

    #[cfg(feature = "postgres")]
    /// Connects to the PostgreSQL database at `url` (`postgres://…`; its `options=-c search_path=…` picks a
    /// schema) and brings its schema up to date.
    pub async fn connect_postgres(url: &str) -> Result<SqlJobStore, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(8).connect(url).await.map_err(db_error)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.map_err(db_error)?;
        Ok(SqlJobStore { pool, dialect: Dialect::Postgres })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Records a payment of the development wallet (see `mesh402_ln::PaidLedger`): `true` when it is new, `false`
    /// when that invoice had been paid before. One statement keyed by the payment hash, so exactly one of any
    /// number of concurrent payments of an invoice, on any node, is new.
    pub async fn record_dev_wallet_payment(&self, preimage: &Preimage, now: u64) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO dev_wallet_payments (payment_hash, preimage, paid_at) VALUES ($1, $2, $3) \
             ON CONFLICT (payment_hash) DO NOTHING",
        )
        .bind(preimage.hash().to_string())
        .bind(preimage.to_hex())
        .bind(to_i64("paid_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The preimage of a recorded payment of the development wallet, if that invoice was paid.
    pub async fn dev_wallet_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, StoreError> {
        let row = sqlx::query("SELECT preimage FROM dev_wallet_payments WHERE payment_hash = $1")
            .bind(payment_hash.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let preimage: Preimage = parse("preimage", row.try_get::<String, _>("preimage").map_err(db_error)?)?;
        if preimage.hash() != *payment_hash {
            return Err(StoreError::Corrupt { field: "preimage", value: payment_hash.to_string() });
        }
        Ok(Some(preimage))
    }

    async fn fetch_one(&self, sql: &'static str, value: String) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sql).bind(value).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.map(|row| job_from_row(&row)).transpose()
    }

    async fn fetch_all(
        &self,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Vec<Job>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
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
                format: {
                    let file = required_text("model_file", opt_text("model_file")?)?;
                    Format::from_file_name(&file)
                        .map_err(|_| StoreError::Corrupt { field: "model_file", value: file })?
                },
                bytes: from_i64("model_bytes", required("model_bytes", opt_int("model_bytes")?)?)?,
                sha256: required_text("model_sha256", opt_text("model_sha256")?)?,
                n_faces: from_i64("n_faces", required("n_faces", opt_int("n_faces")?)?)?,
                n_vertices: from_i64("n_vertices", required("n_vertices", opt_int("n_vertices")?)?)?,
                // Rows of jobs that succeeded before other formats were stored have neither column.
                other_formats: match opt_text("model_other_formats")? {
                    None => Vec::new(),
                    Some(names) => names
                        .split(',')
                        .filter(|name| !name.is_empty())
                        .map(|name| {
                            name.parse::<Format>()
                                .map_err(|_| StoreError::Corrupt { field: "model_other_formats", value: names.clone() })
                        })
                        .collect::<Result<_, _>>()?,
                },
                preview: opt_int("model_preview")?.is_some_and(|preview| preview != 0),
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
                    amount: Msat(from_i64("refund_msat", required("refund_msat", opt_int("refund_msat")?)?)?),
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
            input_kind: parse("image_kind", text("image_kind")?)?,
            params: {
                let json = text("params_json")?;
                serde_json::from_str(&json).map_err(|_| StoreError::Corrupt { field: "params_json", value: json })?
            },
            credential_expires_at: from_i64("credential_expires_at", int("credential_expires_at")?)?,
            created_at: from_i64("created_at", int("created_at")?)?,
            price: Msat(from_i64("price_msat", int("price_msat")?)?),
        },
        state: parse("state", text("state")?)?,
        attempts: from_i64("attempts", int("attempts")?)?,
        stage: opt_text("stage")?.map(|name| parse("stage", name)).transpose()?,
        progress,
        output,
        failure,
        refund,
        updated_at: from_i64("updated_at", int("updated_at")?)?,
    })
}

/// The condition under which a job may be started at `$now`: queued, or running with no live lease (its worker
/// died, or it was running before leases existed).
macro_rules! startable {
    ($now:literal) => {
        concat!(
            "(state = 'queued' OR (state = 'running' AND (lease_owner IS NULL OR lease_expires_at IS NULL \
             OR lease_expires_at <= ",
            $now,
            ")))"
        )
    };
}

/// The condition of [`JobState::AT_REST`](crate::JobState::AT_REST): nothing in flight, so retention may remove
/// the job (the store story checks that the two agree).
macro_rules! at_rest {
    () => {
        "state IN ('succeeded', 'failed', 'refunded')"
    };
}

#[async_trait]
impl JobStore for SqlJobStore {
    async fn claim(&self, job: &NewJob) -> Result<Claim, StoreError> {
        // The UNIQUE token_id makes the insert the claim: concurrent claims race inside the database, not here.
        let inserted = sqlx::query(
            "INSERT INTO jobs (job_id, token_id, payment_hash, request_digest, image_kind, params_json, state, \
             credential_expires_at, created_at, updated_at, price_msat) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8, $9) ON CONFLICT (token_id) DO NOTHING",
        )
        .bind(job.job_id.to_string())
        .bind(job.token_id.to_string())
        .bind(job.payment_hash.to_string())
        .bind(job.request_binding.to_string())
        .bind(job.input_kind.as_str())
        .bind(params_json(&job.params)?)
        .bind(to_i64("credential_expires_at", job.credential_expires_at)?)
        .bind(to_i64("created_at", job.created_at)?)
        .bind(to_i64("price_msat", job.price.0)?)
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

    async fn start_attempt(&self, job_id: &JobId, lease: &Lease, now: u64) -> Result<u32, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, progress = 0, \
             lease_owner = $2, lease_expires_at = $3, updated_at = $4 WHERE job_id = $1 AND ",
            startable!("$4"),
            " RETURNING attempts"
        ))
        .bind(job_id.to_string())
        .bind(lease.owner.to_string())
        .bind(to_i64("lease_expires_at", lease.expires_at)?)
        .bind(to_i64("updated_at", now)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match row {
            Some(row) => from_i64("attempts", row.try_get::<i64, _>("attempts").map_err(db_error)?),
            None => Ok(0),
        }
    }

    async fn next_job(&self, lease: &Lease, now: u64) -> Result<Option<Job>, StoreError> {
        // One statement: the inner SELECT picks the oldest startable job and the UPDATE takes it. SQLite runs
        // one writer at a time; on PostgreSQL the row lock with SKIP LOCKED lets concurrent workers pass over a
        // job another is taking instead of waiting for it (and then finding it taken).
        macro_rules! take_oldest {
            ($lock:literal) => {
                concat!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, progress = 0, \
                     lease_owner = $1, lease_expires_at = $2, updated_at = $3 WHERE job_id = (SELECT job_id \
                     FROM jobs WHERE ",
                    startable!("$3"),
                    " ORDER BY created_at, job_id LIMIT 1",
                    $lock,
                    ") RETURNING *"
                )
            };
        }
        let sql = match self.dialect {
            Dialect::Sqlite => take_oldest!(""),
            Dialect::Postgres => take_oldest!(" FOR UPDATE SKIP LOCKED"),
        };
        let row = sqlx::query(sql)
            .bind(lease.owner.to_string())
            .bind(to_i64("lease_expires_at", lease.expires_at)?)
            .bind(to_i64("updated_at", now)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| job_from_row(&row)).transpose()
    }

    async fn renew_lease(&self, job_id: &JobId, lease: &Lease, _now: u64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3 WHERE job_id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(job_id.to_string())
        .bind(lease.owner.to_string())
        .bind(to_i64("lease_expires_at", lease.expires_at)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn expire_leases(&self, _now: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET lease_expires_at = 0 WHERE state = 'running'")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn record_progress(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        stage: Stage,
        percent: u8,
        now: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET stage = $3, progress = $4, updated_at = $5 \
             WHERE job_id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(job_id.to_string())
        .bind(owner.to_string())
        .bind(stage.name())
        .bind(i64::from(percent.min(100)))
        .bind(to_i64("updated_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn succeed(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        output: &JobOutput,
        now: u64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'succeeded', stage = NULL, progress = 100, model_id = $3, model_file = $4, \
             model_media_type = $5, model_bytes = $6, model_sha256 = $7, n_faces = $8, n_vertices = $9, \
             model_other_formats = $11, model_preview = $12, error_code = NULL, error_message = NULL, \
             error_server_fault = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $10 \
             WHERE job_id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(job_id.to_string())
        .bind(owner.to_string())
        .bind(output.model_id.to_string())
        .bind(output.format.file_name())
        .bind(output.format.media_type())
        .bind(to_i64("model_bytes", output.bytes)?)
        .bind(&output.sha256)
        .bind(i64::from(output.n_faces))
        .bind(i64::from(output.n_vertices))
        .bind(to_i64("updated_at", now)?)
        .bind(output.other_formats.iter().map(Format::extension).collect::<Vec<_>>().join(","))
        .bind(i64::from(output.preview))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn fail(
        &self,
        job_id: &JobId,
        owner: &WorkerId,
        failure: &JobFailure,
        retry_later: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        let state = if retry_later { "queued" } else { "failed" };
        let now = to_i64("updated_at", now)?;
        let server_fault = i64::from(failure.server_fault);
        let mut transaction = self.pool.begin().await.map_err(db_error)?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = $3, stage = NULL, error_code = $4, error_message = $5, error_server_fault = $6, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $7 \
             WHERE job_id = $1 AND state = 'running' AND lease_owner = $2 RETURNING attempts",
        )
        .bind(job_id.to_string())
        .bind(owner.to_string())
        .bind(state)
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(server_fault)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?;
        let Some(updated) = updated else { return Ok(false) };
        let attempt: i64 = updated.try_get("attempts").map_err(db_error)?;
        sqlx::query(
            "INSERT INTO job_failures (job_id, attempt, code, message, server_fault, failed_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(job_id.to_string())
        .bind(attempt)
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(server_fault)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn failures(&self, job_id: &JobId) -> Result<Vec<FailedAttempt>, StoreError> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT attempt, code, message, server_fault, failed_at FROM job_failures WHERE job_id = $1 \
                 ORDER BY rowid"
            }
            Dialect::Postgres => {
                "SELECT attempt, code, message, server_fault, failed_at FROM job_failures WHERE job_id = $1 \
                 ORDER BY id"
            }
        };
        let rows = sqlx::query(sql).bind(job_id.to_string()).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let int = |name: &str| row.try_get::<i64, _>(name).map_err(db_error);
                let failure = JobFailure {
                    code: row.try_get("code").map_err(db_error)?,
                    message: row.try_get("message").map_err(db_error)?,
                    server_fault: int("server_fault")? != 0,
                };
                Ok(FailedAttempt {
                    attempt: from_i64("attempt", int("attempt")?)?,
                    failure,
                    failed_at: from_i64("failed_at", int("failed_at")?)?,
                })
            })
            .collect()
    }

    async fn requeue(&self, job_id: &JobId, now: u64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = $2 WHERE job_id = $1 AND state = 'failed'",
        )
        .bind(job_id.to_string())
        .bind(to_i64("updated_at", now)?)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn unfinished(&self) -> Result<Vec<Job>, StoreError> {
        self.fetch_all(sqlx::query(
            "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, job_id",
        ))
        .await
    }

    async fn claim_refund(&self, job_id: &JobId, claim: &RefundClaim, now: u64) -> Result<bool, StoreError> {
        // One conditional update: of a requeue and a claim racing for one failed job, exactly one changes it.
        let result = sqlx::query(
            "UPDATE jobs SET state = 'refunding', refund_msat = $2, refund_bolt11 = $3, refund_payment_hash = $4, \
             refund_claimed_at = $5, refund_preimage = NULL, refund_settled_at = NULL, refund_failure = NULL, \
             updated_at = $5 WHERE job_id = $1 AND state = 'failed'",
        )
        .bind(job_id.to_string())
        .bind(to_i64("refund_msat", claim.amount.0)?)
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
            RefundOutcome::NotPaid(reason) => ("failed", None, Some(reason.clone())),
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
        self.fetch_all(sqlx::query("SELECT * FROM jobs WHERE state = 'refunding' ORDER BY refund_claimed_at, job_id"))
            .await
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

    async fn at_rest_before(&self, created_before: u64, limit: u32) -> Result<Vec<Job>, StoreError> {
        // Cutoffs beyond the integer range mean "every job".
        let cutoff = i64::try_from(created_before).unwrap_or(i64::MAX);
        self.fetch_all(
            sqlx::query(concat!(
                "SELECT * FROM jobs WHERE created_at < $1 AND ",
                at_rest!(),
                " ORDER BY created_at, job_id LIMIT $2"
            ))
            .bind(cutoff)
            .bind(i64::from(limit)),
        )
        .await
    }

    async fn model_recorded(&self, model_id: &ModelId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT job_id FROM jobs WHERE model_id = $1")
            .bind(model_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn delete_at_rest(&self, job_id: &JobId) -> Result<bool, StoreError> {
        // The failures go with the job (ON DELETE CASCADE), in the same statement.
        let deleted = sqlx::query(concat!("DELETE FROM jobs WHERE job_id = $1 AND ", at_rest!()))
            .bind(job_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(deleted.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_that_does_not_read_back_is_corrupt_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlJobStore::open_sqlite(&dir.path().join("mesh402.db")).await.unwrap();
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
        // Typed fields: a kind, parameters or a stage this version does not know are corrupt, not guessed.
        for (update, field) in [
            ("UPDATE jobs SET state = 'queued', image_kind = 'gif'", "image_kind"),
            ("UPDATE jobs SET image_kind = 'png', params_json = '{\"colour\":1}'", "params_json"),
            ("UPDATE jobs SET params_json = '{}', stage = 'polish'", "stage"),
        ] {
            sqlx::query(update).execute(&store.pool).await.unwrap();
            let error = store.job(&job_id).await.unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { field: f, .. } if f == field), "{update}: {error:?}");
        }
        sqlx::query("UPDATE jobs SET stage = 'mask'").execute(&store.pool).await.unwrap();
        assert_eq!(store.job(&job_id).await.unwrap().unwrap().stage, Some(Stage::Mask));
    }
}
