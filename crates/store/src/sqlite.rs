//! [`JobStore`] on a SQLite file: the embedded default, no server needed.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use crate::{Claim, Job, JobFailure, JobOutput, JobState, JobStore, NewJob, StoreError};

/// Job records in one SQLite database file (WAL mode, migrations applied on open).
#[derive(Debug, Clone)]
pub struct SqliteJobStore {
    pool: SqlitePool,
}

fn db_error(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(Box::new(error))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
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

    async fn fetch_one(&self, sql: &'static str, value: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sql).bind(value).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.map(|row| job_from_row(&row)).transpose()
    }
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let get_text = |name: &str| -> Result<String, StoreError> { row.try_get::<String, _>(name).map_err(db_error) };
    let get_opt_text =
        |name: &str| -> Result<Option<String>, StoreError> { row.try_get::<Option<String>, _>(name).map_err(db_error) };
    let get_int = |name: &str| -> Result<i64, StoreError> { row.try_get::<i64, _>(name).map_err(db_error) };
    let get_opt_int =
        |name: &str| -> Result<Option<i64>, StoreError> { row.try_get::<Option<i64>, _>(name).map_err(db_error) };

    let state_name = get_text("state")?;
    let state = JobState::parse(&state_name).ok_or_else(|| StoreError::Corrupt(format!("job state {state_name}")))?;
    let output = match (
        get_opt_text("model_id")?,
        get_opt_text("model_file")?,
        get_opt_text("model_media_type")?,
        get_opt_int("model_bytes")?,
        get_opt_text("model_sha256")?,
    ) {
        (Some(model_id), Some(model_file), Some(media_type), Some(bytes), Some(sha256)) => Some(JobOutput {
            model_id,
            model_file,
            media_type,
            bytes: to_u64(bytes),
            sha256,
            n_faces: u32::try_from(get_opt_int("n_faces")?.unwrap_or(0)).unwrap_or(0),
            n_vertices: u32::try_from(get_opt_int("n_vertices")?.unwrap_or(0)).unwrap_or(0),
        }),
        _ => None,
    };
    let failure = match (get_opt_text("error_code")?, get_opt_text("error_message")?) {
        (Some(code), Some(message)) => Some(JobFailure { code, message }),
        _ => None,
    };
    Ok(Job {
        spec: NewJob {
            job_id: get_text("job_id")?,
            token_id: get_text("token_id")?,
            payment_hash: get_text("payment_hash")?,
            request_digest: get_text("request_digest")?,
            image_kind: get_text("image_kind")?,
            params_json: get_text("params_json")?,
            credential_expires_at: to_u64(get_int("credential_expires_at")?),
            created_at: to_u64(get_int("created_at")?),
        },
        state,
        attempts: u32::try_from(get_int("attempts")?).unwrap_or(0),
        stage: get_opt_text("stage")?,
        progress: u8::try_from(get_int("progress")?.clamp(0, 100)).unwrap_or(0),
        output,
        failure,
        updated_at: to_u64(get_int("updated_at")?),
    })
}

#[async_trait]
impl JobStore for SqliteJobStore {
    async fn claim(&self, job: &NewJob) -> Result<Claim, StoreError> {
        // The UNIQUE token_id makes the insert the claim: concurrent claims race inside SQLite, not here.
        let inserted = sqlx::query(
            "INSERT INTO jobs (job_id, token_id, payment_hash, request_digest, image_kind, params_json, state, \
             credential_expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8) \
             ON CONFLICT (token_id) DO NOTHING",
        )
        .bind(&job.job_id)
        .bind(&job.token_id)
        .bind(&job.payment_hash)
        .bind(&job.request_digest)
        .bind(&job.image_kind)
        .bind(&job.params_json)
        .bind(to_i64(job.credential_expires_at))
        .bind(to_i64(job.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected()
            == 1;
        let stored = self
            .job_by_token(&job.token_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("claimed job vanished".into()))?;
        Ok(if inserted { Claim::Created(stored) } else { Claim::Existing(stored) })
    }

    async fn job_by_token(&self, token_id: &str) -> Result<Option<Job>, StoreError> {
        self.fetch_one("SELECT * FROM jobs WHERE token_id = $1", token_id).await
    }

    async fn job(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        self.fetch_one("SELECT * FROM jobs WHERE job_id = $1", job_id).await
    }

    async fn start_attempt(&self, job_id: &str, now: u64) -> Result<u32, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, progress = 0, \
             updated_at = $2 WHERE job_id = $1 RETURNING attempts",
        )
        .bind(job_id)
        .bind(to_i64(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(match row {
            Some(row) => u32::try_from(row.try_get::<i64, _>("attempts").map_err(db_error)?).unwrap_or(0),
            None => 0,
        })
    }

    async fn record_progress(&self, job_id: &str, stage: &str, percent: u8, now: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET stage = $2, progress = $3, updated_at = $4 WHERE job_id = $1 AND state = 'running'",
        )
        .bind(job_id)
        .bind(stage)
        .bind(i64::from(percent.min(100)))
        .bind(to_i64(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn succeed(&self, job_id: &str, output: &JobOutput, now: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'succeeded', stage = NULL, progress = 100, model_id = $2, model_file = $3, \
             model_media_type = $4, model_bytes = $5, model_sha256 = $6, n_faces = $7, n_vertices = $8, \
             error_code = NULL, error_message = NULL, updated_at = $9 WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(&output.model_id)
        .bind(&output.model_file)
        .bind(&output.media_type)
        .bind(to_i64(output.bytes))
        .bind(&output.sha256)
        .bind(i64::from(output.n_faces))
        .bind(i64::from(output.n_vertices))
        .bind(to_i64(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn fail(&self, job_id: &str, failure: &JobFailure, retry_later: bool, now: u64) -> Result<(), StoreError> {
        let state = if retry_later { "queued" } else { "failed" };
        let mut transaction = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO job_failures (job_id, attempt, code, message, failed_at) \
             SELECT job_id, attempts, $2, $3, $4 FROM jobs WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(to_i64(now))
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "UPDATE jobs SET state = $2, stage = NULL, error_code = $3, error_message = $4, updated_at = $5 \
             WHERE job_id = $1 AND state != 'succeeded'",
        )
        .bind(job_id)
        .bind(state)
        .bind(&failure.code)
        .bind(&failure.message)
        .bind(to_i64(now))
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn failures(&self, job_id: &str) -> Result<Vec<(u32, JobFailure, u64)>, StoreError> {
        let rows =
            sqlx::query("SELECT attempt, code, message, failed_at FROM job_failures WHERE job_id = $1 ORDER BY rowid")
                .bind(job_id)
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
                };
                Ok((u32::try_from(attempt).unwrap_or(0), failure, to_u64(failed_at)))
            })
            .collect()
    }

    async fn requeue(&self, job_id: &str, now: u64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, updated_at = $2 WHERE job_id = $1 AND state = 'failed'",
        )
        .bind(job_id)
        .bind(to_i64(now))
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

    async fn created_before(&self, created_before: u64, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE created_at < $1 ORDER BY created_at, job_id LIMIT $2")
            .bind(to_i64(created_before))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn delete(&self, job_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM jobs WHERE job_id = $1").bind(job_id).execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job(job_id: &str, token_id: &str) -> NewJob {
        NewJob {
            job_id: job_id.into(),
            token_id: token_id.into(),
            payment_hash: "ab".repeat(32),
            request_digest: "cd".repeat(32),
            image_kind: "png".into(),
            params_json: "{}".into(),
            credential_expires_at: 2_000,
            created_at: 1_000,
        }
    }

    async fn open() -> (tempfile::TempDir, SqliteJobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobStore::open(&dir.path().join("mesh402.db")).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_token_is_claimed_exactly_once_even_concurrently() {
        let (_dir, store) = open().await;
        let mut tasks = Vec::new();
        for attempt in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.claim(&new_job(&format!("{attempt:032x}"), "token-1")).await.unwrap()
            }));
        }
        let mut created = 0;
        let mut job_ids = std::collections::HashSet::new();
        for task in tasks {
            match task.await.unwrap() {
                Claim::Created(job) => {
                    created += 1;
                    job_ids.insert(job.spec.job_id);
                }
                Claim::Existing(job) => {
                    job_ids.insert(job.spec.job_id);
                }
            }
        }
        assert_eq!(created, 1);
        assert_eq!(job_ids.len(), 1, "every claimant sees the same job");
    }

    #[tokio::test]
    async fn a_job_moves_through_its_states_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh402.db");
        let job_id = "00".repeat(16);
        {
            let store = SqliteJobStore::open(&path).await.unwrap();
            store.claim(&new_job(&job_id, "token-2")).await.unwrap();
            assert_eq!(store.start_attempt(&job_id, 1_001).await.unwrap(), 1);
            store.record_progress(&job_id, "heights", 40, 1_002).await.unwrap();
            let job = store.job(&job_id).await.unwrap().unwrap();
            assert_eq!((job.state, job.stage.as_deref(), job.progress), (JobState::Running, Some("heights"), 40));
        }
        let store = SqliteJobStore::open(&path).await.unwrap();
        let unfinished = store.unfinished().await.unwrap();
        assert_eq!(unfinished.len(), 1, "a running job is resumed after a restart");
        let failure = JobFailure { code: "generation_failed".into(), message: "it broke".into() };
        store.fail(&job_id, &failure, false, 1_003).await.unwrap();
        assert!(store.unfinished().await.unwrap().is_empty());
        assert_eq!(store.failures(&job_id).await.unwrap(), vec![(1, failure.clone(), 1_003)]);
        assert!(store.requeue(&job_id, 1_004).await.unwrap());
        assert_eq!(store.start_attempt(&job_id, 1_005).await.unwrap(), 1);
        let output = JobOutput {
            model_id: "11".repeat(32),
            model_file: "model.glb".into(),
            media_type: "model/gltf-binary".into(),
            bytes: 1234,
            sha256: "22".repeat(32),
            n_faces: 10,
            n_vertices: 7,
        };
        store.succeed(&job_id, &output, 1_006).await.unwrap();
        let job = store.job_by_token("token-2").await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.output, Some(output));
        assert_eq!(job.failure, None);
        assert!(store.job("nope").await.unwrap().is_none());

        assert!(store.created_before(1_000, 10).await.unwrap().is_empty(), "strictly before");
        let old = store.created_before(1_001, 10).await.unwrap();
        assert_eq!(old.len(), 1);
        store.delete(&job_id).await.unwrap();
        assert!(store.job(&job_id).await.unwrap().is_none());
        assert!(store.failures(&job_id).await.unwrap().is_empty(), "failures go with their job");
        store.delete(&job_id).await.unwrap();
    }
}
