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

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error)
    }
}
