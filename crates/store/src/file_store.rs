//! File storage for model files and uploaded inputs, with writes that are all-or-nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::{JobId, ModelId, StoreError};

/// A stored file's bytes as they arrive from a remote store, chunk by chunk.
pub type ByteStream = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, StoreError>>;

/// Where a stored file can be read from.
#[non_exhaustive]
pub enum FileLocation {
    /// A file on this machine's disk.
    Local(PathBuf),
    /// The file's bytes, streamed from a remote store for the server to send on (proxied downloads): never held
    /// whole in memory. Dropping the stream ends the remote read.
    Streamed {
        /// The file's size in bytes.
        length: u64,
        /// Its bytes.
        bytes: ByteStream,
    },
    /// A short-lived URL the client is redirected to (presigned downloads).
    Redirect(String),
}

impl std::fmt::Debug for FileLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileLocation::Local(path) => f.debug_tuple("Local").field(path).finish(),
            FileLocation::Streamed { length, .. } => f.debug_struct("Streamed").field("length", length).finish(),
            // A presigned URL is a credential for a while: not printed.
            FileLocation::Redirect(_) => f.write_str("Redirect(<presigned URL>)"),
        }
    }
}

/// Bytes the service keeps: model files (served to clients) and the inputs of jobs not yet finished.
///
/// Contract: writes are atomic (after `Ok` every file is complete; after a crash nothing half-written is
/// visible), file names are checked with [`is_valid_file_name`] (ids are valid by their type), reading something
/// absent is `Ok(None)` and deleting something absent is `Ok(())`.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Stores all files of one model at once.
    async fn put_model(&self, model_id: &ModelId, files: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Where to read one file of a stored model.
    async fn locate_model_file(&self, model_id: &ModelId, name: &str) -> Result<Option<FileLocation>, StoreError>;
    /// Removes a model and all its files.
    async fn delete_model(&self, model_id: &ModelId) -> Result<(), StoreError>;
    /// Keeps a job's input image until the job has finished.
    async fn put_input(&self, job_id: &JobId, bytes: &[u8]) -> Result<(), StoreError>;
    /// Reads a job's input image.
    async fn input(&self, job_id: &JobId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes a job's input image.
    async fn delete_input(&self, job_id: &JobId) -> Result<(), StoreError>;
    /// The job ids of all stored inputs, with when each was written (unix seconds), ordered by job id.
    async fn list_inputs(&self) -> Result<Vec<(JobId, u64)>, StoreError>;
    /// Every stored model with when it was written (unix seconds), for the sweep of models no job names (a
    /// worker that died between storing a model and recording it, a sweep interrupted between a job and its
    /// files).
    async fn list_models(&self) -> Result<Vec<(ModelId, u64)>, StoreError>;
}

/// Whether `name` is a plain file name that cannot leave its folder: letters, digits, `.`, `_`, `-`, not starting
/// with a dot, at most 64 characters.
pub fn is_valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Files in a local directory: `models/<model id>/<file>` and `inputs/<job id>`.
#[derive(Debug, Clone)]
pub struct LocalFileStore {
    models_dir: PathBuf,
    inputs_dir: PathBuf,
}

impl LocalFileStore {
    /// Uses (and creates) `models/` and `inputs/` under `root`, and clears leftovers of interrupted writes.
    pub fn open(root: &Path) -> Result<LocalFileStore, StoreError> {
        let models_dir = root.join("models");
        let inputs_dir = root.join("inputs");
        std::fs::create_dir_all(&models_dir)?;
        std::fs::create_dir_all(&inputs_dir)?;
        for dir in [&models_dir, &inputs_dir] {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(".partial-") {
                    let path = entry.path();
                    let removed =
                        if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                    if let Err(error) = removed {
                        tracing::warn!(path = %path.display(), %error, "could not remove a leftover of an interrupted write");
                    }
                }
            }
        }
        Ok(LocalFileStore { models_dir, inputs_dir })
    }

    // Ids are hex by their type, so the paths built from them stay inside their folders.
    fn model_dir(&self, model_id: &ModelId) -> PathBuf {
        self.models_dir.join(model_id.to_string())
    }

    fn input_path(&self, job_id: &JobId) -> PathBuf {
        self.inputs_dir.join(job_id.to_string())
    }
}

fn partial_name(final_name: &str) -> String {
    format!(".partial-{final_name}-{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// Writes and syncs a new file; a file that could not be written whole (a full disk) is removed.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let written = std::fs::File::create(path).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Io(std::io::Error::other(error)))?
        .map_err(StoreError::Io)
}

#[async_trait]
impl FileStore for LocalFileStore {
    async fn put_model(&self, model_id: &ModelId, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let final_dir = self.model_dir(model_id);
        if files.iter().any(|(name, _)| !is_valid_file_name(name)) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name")));
        }
        let partial_dir = self.models_dir.join(partial_name(&model_id.to_string()));
        let models_dir = self.models_dir.clone();
        let files = files.to_vec();
        blocking(move || {
            std::fs::create_dir(&partial_dir)?;
            let written = files.iter().try_for_each(|(name, bytes)| write_synced(&partial_dir.join(name), bytes));
            if let Err(error) = written.and_then(|()| sync_dir(&partial_dir)) {
                // A full disk: what was written goes at once, rather than holding space until the next sweep.
                let _ = std::fs::remove_dir_all(&partial_dir);
                return Err(error);
            }
            std::fs::rename(&partial_dir, &final_dir)?;
            sync_dir(&models_dir)
        })
        .await
    }

    async fn locate_model_file(&self, model_id: &ModelId, name: &str) -> Result<Option<FileLocation>, StoreError> {
        if !is_valid_file_name(name) {
            return Ok(None);
        }
        let path = self.model_dir(model_id).join(name);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(FileLocation::Local(path))),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Io(error)),
        }
    }

    async fn delete_model(&self, model_id: &ModelId) -> Result<(), StoreError> {
        removed(tokio::fs::remove_dir_all(self.model_dir(model_id)).await)
    }

    async fn put_input(&self, job_id: &JobId, bytes: &[u8]) -> Result<(), StoreError> {
        let final_path = self.input_path(job_id);
        let partial_path = self.inputs_dir.join(partial_name(&job_id.to_string()));
        let inputs_dir = self.inputs_dir.clone();
        let bytes = bytes.to_vec();
        blocking(move || {
            write_synced(&partial_path, &bytes)?;
            std::fs::rename(&partial_path, &final_path)?;
            sync_dir(&inputs_dir)
        })
        .await
    }

    async fn input(&self, job_id: &JobId) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.input_path(job_id);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Io(error)),
        }
    }

    async fn delete_input(&self, job_id: &JobId) -> Result<(), StoreError> {
        removed(tokio::fs::remove_file(self.input_path(job_id)).await)
    }

    async fn list_inputs(&self) -> Result<Vec<(JobId, u64)>, StoreError> {
        list_by_id(self.inputs_dir.clone()).await
    }

    async fn list_models(&self) -> Result<Vec<(ModelId, u64)>, StoreError> {
        list_by_id(self.models_dir.clone()).await
    }
}

/// The entries of `dir` named by an id (inputs are files named by their job, models folders named by their model),
/// with when each was written, in id order. Anything else in the folder (a leftover being written, before its
/// rename) is skipped.
async fn list_by_id<Id>(dir: PathBuf) -> Result<Vec<(Id, u64)>, StoreError>
where
    Id: std::str::FromStr + Ord + Send + 'static,
{
    blocking(move || {
        let mut listed = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if let Ok(id) = entry.file_name().to_string_lossy().parse::<Id>() {
                listed.push((id, modified_unix(&entry.metadata()?)));
            }
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(listed)
    })
    .await
}

/// Removing something already gone is not an error.
fn removed(result: std::io::Result<()>) -> Result<(), StoreError> {
    match result {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io(error)),
        _ => Ok(()),
    }
}

fn modified_unix(metadata: &std::fs::Metadata) -> u64 {
    metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: ModelId = ModelId([0x5a; 32]);
    const JOB: JobId = JobId([0x01; 16]);

    #[tokio::test]
    async fn models_are_stored_whole_and_located_by_safe_names_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models").join(".partial-leftover")).unwrap();
        let store = LocalFileStore::open(dir.path()).unwrap();
        assert!(!dir.path().join("models").join(".partial-leftover").exists(), "leftovers are cleared");
        store.put_model(&MODEL, &[("model.glb".into(), b"glTF".to_vec())]).await.unwrap();
        let Some(FileLocation::Local(path)) = store.locate_model_file(&MODEL, "model.glb").await.unwrap() else {
            panic!("stored file not found");
        };
        assert_eq!(std::fs::read(path).unwrap(), b"glTF");
        assert!(store.locate_model_file(&MODEL, "../models").await.unwrap().is_none());
        assert!(store.locate_model_file(&MODEL, "other.glb").await.unwrap().is_none());
        assert!(store.put_model(&MODEL, &[("../x".into(), vec![])]).await.is_err());
        store.delete_model(&MODEL).await.unwrap();
        assert!(store.locate_model_file(&MODEL, "model.glb").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn inputs_round_trip_and_disappear() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::open(dir.path()).unwrap();
        assert_eq!(store.input(&JOB).await.unwrap(), None);
        store.put_input(&JOB, b"png bytes").await.unwrap();
        assert_eq!(store.input(&JOB).await.unwrap().as_deref(), Some(&b"png bytes"[..]));
        let listed = store.list_inputs().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, JOB);
        assert!(listed[0].1 > 1_700_000_000);
        store.delete_input(&JOB).await.unwrap();
        assert_eq!(store.input(&JOB).await.unwrap(), None);
    }
}
