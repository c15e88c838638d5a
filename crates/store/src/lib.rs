//! Durable state for mesh402: job records, model files, uploaded inputs and secrets on disk.
//!
//! The service talks to storage through two small traits: [`JobStore`] for job records (SQLite by default, see
//! [`SqliteJobStore`]) and [`FileStore`] for the bytes (a local directory by default, see [`LocalFileStore`]).
//! Nothing here knows HTTP, Lightning or the generator.

#![deny(missing_docs)]

mod files;
mod jobs;
mod secrets;
mod sqlite;

pub use files::{FileLocation, FileStore, LocalFileStore, is_valid_file_name, is_valid_model_id};
pub use jobs::{Claim, Job, JobFailure, JobOutput, JobState, JobStore, NewJob, StoreError};
pub use secrets::load_or_create_secret;
pub use sqlite::SqliteJobStore;
