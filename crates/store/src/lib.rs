//! Durable state for mesh402: job records, model files, uploaded inputs and secrets on disk.
//!
//! The service talks to storage through two small traits: [`JobStore`] for job records (SQLite by default, see
//! [`SqliteJobStore`]) and [`FileStore`] for the bytes (a local directory by default, see [`LocalFileStore`]).
//! Records are keyed by typed ids ([`JobId`], [`ModelId`], and the L402 [`TokenId`](mesh402_l402::TokenId)). Nothing here knows HTTP,
//! Lightning or the generator.

#![deny(missing_docs)]

mod error;
mod file_store;
mod ids;
mod job_store;
mod secrets;
mod sqlite;

pub use error::StoreError;
pub use file_store::{FileLocation, FileStore, LocalFileStore, is_valid_file_name};
pub use ids::{InvalidId, JobId, ModelId};
pub use job_store::{
    Claim, FailedAttempt, Job, JobFailure, JobOutput, JobState, JobStore, NewJob, RefundClaim, RefundOutcome,
    RefundRecord, UnknownJobState,
};
pub use secrets::load_or_create_secret;
pub use sqlite::SqliteJobStore;
