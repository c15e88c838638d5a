//! Durable state for mesh402: job records, model files, uploaded inputs and secrets on disk.
//!
//! The service talks to storage through two small traits: [`JobStore`] for job records (SQLite by default, PostgreSQL for a
//! deployment of several machines, see [`SqlJobStore`]) and [`FileStore`] for the bytes (a local directory by default, see [`LocalFileStore`]; an S3-compatible bucket, see [`S3FileStore`]).
//! Records are keyed by typed ids ([`JobId`], [`ModelId`], and the L402 [`TokenId`](mesh402_l402::TokenId)). Nothing here knows HTTP,
//! Lightning or the generator.

#![deny(missing_docs)]

mod error;
mod file_store;
mod job_store;
#[cfg(feature = "s3")]
mod s3;
mod secrets;
mod sql;

pub use error::StoreError;
pub use file_store::{ByteStream, FileLocation, FileStore, LocalFileStore, is_valid_file_name};
pub use job_store::{
    Claim, FailedAttempt, Job, JobFailure, JobOutput, JobStore, Lease, NewJob, RefundClaim, RefundOutcome, RefundRecord,
};
pub use mesh402_core::{InvalidId, JobId, ModelId, WorkerId};
#[cfg(feature = "s3")]
pub use s3::{S3Downloads, S3FileStore, S3Keys, S3Settings, S3UrlError};
pub use secrets::load_or_create_secret;
pub use sql::{Dialect, SqlJobStore};
