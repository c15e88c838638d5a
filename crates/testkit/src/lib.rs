//! Test support for mesh402, shared by the test suites of every crate (`publish = false`).
//!
//! - [`MemoryJobStore`] and [`MemoryFileStore`]: the storage traits in memory.
//! - [`FakeLightning`]: a Lightning backend whose invoices a test pays (or whose node it switches off).
//! - [`FakeGenerator`]: the embedded generator, counted, slowed down and failing on demand.
//! - [`TestService`]: a [`mesh402_service::Service`] built from those, with a helper that pays for a request.
//! - [`job_store_story`] and [`file_store_story`]: the stories every [`mesh402_store::JobStore`] and
//!   [`mesh402_store::FileStore`] implementation must pass.
//! - [`ServerProcess`] and [`WorkerProcess`]: the real `mesh402` binary as child processes, for end-to-end tests
//!   and benchmarks; [`buyer`]: request bodies and development-wallet credentials for them; [`soak`]: mixed
//!   traffic against the binary, killed and restarted, sampled at intervals.
//! - [`postgres::TestSchema`]: a PostgreSQL schema of a test's own.
//! - [`s3::S3Server`]: a real S3-compatible server (moto) with buckets of a test's own; [`fault_proxy`]: a TCP
//!   proxy that stops, resets, hangs, slows or cuts short the traffic to any service.
//! - [`lnbits::LnbitsServer`]: a real LNbits server; [`tools`]: the gate for tests that need installed tools.
//! - [`nodes`] (feature `nodes`): stand-ins for LND, Core Lightning and an NWC wallet, from their documented APIs;
//!   [`model_server`] (feature `model-server`): one for the Hunyuan3D-2 model server.

#![deny(missing_docs)]

pub mod buyer;
pub mod fault_proxy;
mod file_story;
mod generator;
mod generator_story;
mod lightning;
pub mod lnbits;
mod memory;
#[cfg(feature = "model-server")]
pub mod model_server;
#[cfg(feature = "nodes")]
pub mod nodes;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod proc_status;
mod process;
#[cfg(feature = "s3")]
pub mod s3;
mod service;
pub mod soak;
mod story;
pub mod tools;

pub use file_story::{file_store_story, read_location};
pub use generator::FakeGenerator;
pub use generator_story::{Expected, model_generator_story};
pub use lightning::FakeLightning;
pub use memory::{MemoryFileStore, MemoryJobStore};
pub use process::{ServerProcess, WorkerProcess};
pub use service::{TestService, disc_png, disc_request, test_config};
pub use story::job_store_story;
