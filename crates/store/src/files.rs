//! File storage for model files and uploaded inputs, with writes that are all-or-nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::StoreError;

/// Where a stored file can be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileLocation {
    /// A file on this machine's disk.
    Local(PathBuf),
}

/// Bytes the service keeps: model files (served to clients) and the inputs of jobs not yet finished.
///
/// Contract: writes are atomic (after `Ok` every file is complete; after a crash nothing half-written is
/// visible), ids and names are checked by the caller with [`is_valid_model_id`] and [`is_valid_file_name`],
/// and reading something absent is `Ok(None)`.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Stores all files of one model at once.
    async fn put_model(&self, model_id: &str, files: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Where to read one file of a stored model.
    async fn locate_model_file(&self, model_id: &str, name: &str) -> Result<Option<FileLocation>, StoreError>;
    /// Removes a model and all its files.
    async fn delete_model(&self, model_id: &str) -> Result<(), StoreError>;
    /// Keeps a job's input image until the job has finished.
    async fn put_input(&self, job_id: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Reads a job's input image.
    async fn input(&self, job_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes a job's input image.
    async fn delete_input(&self, job_id: &str) -> Result<(), StoreError>;
    /// The job ids of all stored inputs, with when each was written (unix seconds).
    async fn list_inputs(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

/// Whether `id` has the shape of ids mesh402 makes: 32 to 64 lowercase hex digits.
pub fn is_valid_model_id(id: &str) -> bool {
    (32..=64).contains(&id.len()) && id.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
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
                    let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                }
            }
        }
        Ok(LocalFileStore { models_dir, inputs_dir })
    }

    fn checked_model_dir(&self, model_id: &str) -> Result<PathBuf, StoreError> {
        if !is_valid_model_id(model_id) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad model id")));
        }
        Ok(self.models_dir.join(model_id))
    }

    fn checked_input_path(&self, job_id: &str) -> Result<PathBuf, StoreError> {
        if !is_valid_model_id(job_id) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad job id")));
        }
        Ok(self.inputs_dir.join(job_id))
    }
}

fn partial_name(final_name: &str) -> String {
    format!(".partial-{final_name}-{}", hex::encode(rand::random::<[u8; 8]>()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
    async fn put_model(&self, model_id: &str, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let final_dir = self.checked_model_dir(model_id)?;
        if files.iter().any(|(name, _)| !is_valid_file_name(name)) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name")));
        }
        let partial_dir = self.models_dir.join(partial_name(model_id));
        let models_dir = self.models_dir.clone();
        let files = files.to_vec();
        blocking(move || {
            std::fs::create_dir(&partial_dir)?;
            for (name, bytes) in &files {
                write_synced(&partial_dir.join(name), bytes)?;
            }
            sync_dir(&partial_dir)?;
            std::fs::rename(&partial_dir, &final_dir)?;
            sync_dir(&models_dir)
        })
        .await
    }

    async fn locate_model_file(&self, model_id: &str, name: &str) -> Result<Option<FileLocation>, StoreError> {
        if !is_valid_model_id(model_id) || !is_valid_file_name(name) {
            return Ok(None);
        }
        let path = self.models_dir.join(model_id).join(name);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(FileLocation::Local(path))),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Io(error)),
        }
    }

    async fn delete_model(&self, model_id: &str) -> Result<(), StoreError> {
        let dir = self.checked_model_dir(model_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io(error)),
            _ => Ok(()),
        }
    }

    async fn put_input(&self, job_id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let final_path = self.checked_input_path(job_id)?;
        let partial_path = self.inputs_dir.join(partial_name(job_id));
        let inputs_dir = self.inputs_dir.clone();
        let bytes = bytes.to_vec();
        blocking(move || {
            write_synced(&partial_path, &bytes)?;
            std::fs::rename(&partial_path, &final_path)?;
            sync_dir(&inputs_dir)
        })
        .await
    }

    async fn input(&self, job_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.checked_input_path(job_id)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Io(error)),
        }
    }

    async fn delete_input(&self, job_id: &str) -> Result<(), StoreError> {
        let path = self.checked_input_path(job_id)?;
        match tokio::fs::remove_file(&path).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io(error)),
            _ => Ok(()),
        }
    }

    async fn list_inputs(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let inputs_dir = self.inputs_dir.clone();
        blocking(move || {
            let mut inputs = Vec::new();
            for entry in std::fs::read_dir(&inputs_dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_valid_model_id(&name) {
                    inputs.push((name, modified_unix(&entry.metadata()?)));
                }
            }
            inputs.sort();
            Ok(inputs)
        })
        .await
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

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn models_are_stored_whole_and_located_by_safe_names_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models").join(".partial-leftover")).unwrap();
        let store = LocalFileStore::open(dir.path()).unwrap();
        assert!(!dir.path().join("models").join(".partial-leftover").exists(), "leftovers are cleared");
        store.put_model(ID, &[("model.glb".into(), b"glTF".to_vec())]).await.unwrap();
        let Some(FileLocation::Local(path)) = store.locate_model_file(ID, "model.glb").await.unwrap() else {
            panic!("stored file not found");
        };
        assert_eq!(std::fs::read(path).unwrap(), b"glTF");
        assert_eq!(store.locate_model_file(ID, "../models").await.unwrap(), None);
        assert_eq!(store.locate_model_file("../../etc", "passwd").await.unwrap(), None);
        assert_eq!(store.locate_model_file(ID, "other.glb").await.unwrap(), None);
        assert!(store.put_model(ID, &[("../x".into(), vec![])]).await.is_err());
        store.delete_model(ID).await.unwrap();
        assert_eq!(store.locate_model_file(ID, "model.glb").await.unwrap(), None);
    }

    #[tokio::test]
    async fn inputs_round_trip_and_disappear() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::open(dir.path()).unwrap();
        assert_eq!(store.input(ID).await.unwrap(), None);
        store.put_input(ID, b"png bytes").await.unwrap();
        assert_eq!(store.input(ID).await.unwrap().as_deref(), Some(&b"png bytes"[..]));
        let listed = store.list_inputs().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, ID);
        assert!(listed[0].1 > 1_700_000_000);
        store.delete_input(ID).await.unwrap();
        assert_eq!(store.input(ID).await.unwrap(), None);
    }
}
