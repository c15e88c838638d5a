//! The generator behind a small trait, so other generators (GPU models, test doubles) plug in beside the
//! embedded one.

use mesh402_mesh::{ImageKind, MeshError, MeshParams, Model, Preflight, Progress};

/// Makes models from images.
///
/// Contract: [`preflight`](Self::preflight) is cheap and runs before any invoice is made; whatever it accepts,
/// [`generate`](Self::generate) should be able to turn into a model. Both are blocking CPU work: the service calls
/// them on blocking threads. Errors whose [`MeshError::is_client_error`] is false may be retried.
pub trait ModelGenerator: Send + Sync + 'static {
    /// Checks that a request can succeed (parameters, image, segmentation) without generating.
    fn preflight(&self, image: &[u8], kind: ImageKind, params: &MeshParams) -> Result<Preflight, MeshError>;

    /// Generates the model, reporting progress as it goes.
    fn generate(
        &self,
        image: &[u8],
        kind: ImageKind,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, MeshError>;

    /// Checks that a request made from a text prompt can succeed, without generating. Generators that make
    /// models from pictures only keep this default: every prompt is refused, before any invoice.
    fn preflight_prompt(&self, prompt: &str, params: &MeshParams) -> Result<(), MeshError> {
        let _ = (prompt, params);
        Err(MeshError::PromptUnsupported)
    }

    /// Generates the model of a text prompt that [`preflight_prompt`](Self::preflight_prompt) accepted.
    fn generate_from_prompt(
        &self,
        prompt: &str,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, MeshError> {
        let _ = (prompt, params, progress);
        Err(MeshError::PromptUnsupported)
    }
}

/// The embedded, deterministic CPU generator of `mesh402-mesh`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedGenerator;

impl ModelGenerator for EmbeddedGenerator {
    fn preflight(&self, image: &[u8], kind: ImageKind, params: &MeshParams) -> Result<Preflight, MeshError> {
        mesh402_mesh::preflight(image, kind, params)
    }

    fn generate(
        &self,
        image: &[u8],
        kind: ImageKind,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, MeshError> {
        mesh402_mesh::generate(image, kind, params, progress)
    }
}
