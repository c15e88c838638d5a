//! The vocabulary that every part of mesh402 shares about making a model (where its job stands, the ids of jobs,
//! models and workers), and the [`ModelGenerator`] trait that every generator implements: the embedded one
//! (`mesh402-mesh`), a model server over the network (`mesh402-hunyuan3d`), test doubles. A generator depends on this crate alone; the service calls generators
//! through the trait and knows none of them.
//!
//! Pure types: no I/O, no clock, no randomness.
#![deny(missing_docs)]

mod error;
mod generator;
mod ids;
mod image;
mod job;
mod model;
mod params;

pub use error::GenerateError;
pub use generator::{Deliverables, ModelGenerator, PictureRequest, PromptRequest};
pub use ids::{InvalidId, JobId, ModelId, WorkerId};
pub use image::{ImageKind, ImageLimits, InputKind, UnknownName};
pub use job::JobState;
pub use model::{MaskSource, Model, OutputFile, Preflight, Progress, Stage, Stats};
pub use params::{
    Format, MAX_DEPTH, MAX_PREVIEW_SIZE, MAX_PRINT_SIZE_MM, MAX_TARGET_FACES, MAX_TEXTURE_SIZE, MIN_DEPTH,
    MIN_PREVIEW_SIZE, MIN_PRINT_SIZE_MM, MIN_TARGET_FACES, MIN_TEXTURE_SIZE, MeshParams, Mode, PREVIEW_FILE_NAME,
};
