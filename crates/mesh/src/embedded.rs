//! The embedded generator behind the [`ModelGenerator`] trait, so the service runs it like any other.

use mesh402_core::{
    Deliverables, GenerateError, MeshParams, Model, ModelGenerator, PictureRequest, Preflight, Progress,
};

/// The embedded, deterministic CPU generator of this crate: [`crate::preflight`] and [`crate::generate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedGenerator;

impl ModelGenerator for EmbeddedGenerator {
    fn preflight(&self, request: PictureRequest<'_>) -> Result<Preflight, GenerateError> {
        crate::preflight(request.image, request.kind, request.params)
    }

    fn generate(
        &self,
        request: PictureRequest<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        crate::generate(request.image, request.kind, request.params, progress)
    }

    /// Every format, the asked one first, and a preview: [`crate::export::write_all`]'s files.
    fn deliverables(&self, params: &MeshParams) -> Deliverables {
        Deliverables { formats: crate::export::formats(params.format), preview: true }
    }
}
