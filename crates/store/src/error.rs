//! Why a storage call failed.

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be read or written.
    #[error("file storage error")]
    Io(#[source] std::io::Error),
    /// The object store (an S3-compatible bucket) refused or failed the request.
    #[error("object storage error")]
    ObjectStore(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value cannot be read by this version (out of range, or not of its type).
    #[error("corrupt record: {field} holds {value:?}")]
    Corrupt {
        /// The column or field.
        field: &'static str,
        /// What it holds.
        value: String,
    },
    /// The store broke its own contract (a row written a moment ago is gone).
    #[error("inconsistent store: {0}")]
    Inconsistent(&'static str),
}

impl StoreError {
    /// Whether the storage itself failed (the database, the bucket or the disk could not be reached or written),
    /// so that the same call may succeed later; not a record this version cannot read or a broken contract.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::Io(_) | StoreError::ObjectStore(_))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error)
    }
}
