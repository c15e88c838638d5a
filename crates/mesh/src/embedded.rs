//! The embedded generator behind the [`ModelGenerator`] trait, so the service runs it like any other.

use mesh402_core::{Deliverables, GenerateError, ImageKind, MeshParams, Model, ModelGenerator, Preflight, Progress};

/// The embedded, deterministic CPU generator of this crate: [`crate::preflight`] and [`crate::generate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedGenerator;

impl ModelGenerator for EmbeddedGenerator {
    fn preflight(&self, image: &[u8], kind: ImageKind, params: &MeshParams) -> Result<Preflight, GenerateError> {
        crate::preflight(image, kind, params)
    }

    fn generate(
        &self,
        image: &[u8],
        kind: ImageKind,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        crate::generate(image, kind, params, progress)
    }

    /// Every format, the asked one first, and a preview: [`crate::export::write_all`]'s files.
    fn deliverables(&self, params: &MeshParams) -> Deliverables {
        Deliverables { formats: crate::export::formats(params.format), preview: true }
    }
}
