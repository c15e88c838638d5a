//! The one seam between the service and whatever makes models: the embedded generator, a model server over the
//! network, or a test double.

use crate::{Format, GenerateError, ImageKind, MeshParams, Model, Preflight, Progress};

/// A picture a generator is asked to make a model of: its bytes, their kind, and the model's options.
#[derive(Debug, Clone, Copy)]
pub struct PictureRequest<'a> {
    /// The file's bytes, as the buyer sent them.
    pub image: &'a [u8],
    /// What kind of file the request declares them to be.
    pub kind: ImageKind,
    /// The model's options.
    pub params: &'a MeshParams,
}

/// A text prompt a generator is asked to make a model of, and the model's options.
#[derive(Debug, Clone, Copy)]
pub struct PromptRequest<'a> {
    /// The prompt, trimmed.
    pub prompt: &'a str,
    /// The model's options.
    pub params: &'a MeshParams,
}

/// What one model of a generator holds, as a quote states it before payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliverables {
    /// The formats the model is stored in, the asked one ([`MeshParams::format`]) first.
    pub formats: Vec<Format>,
    /// Whether a preview picture comes with it.
    pub preview: bool,
}

/// Makes models from images (and, when it can, from text prompts).
///
/// Contract: [`preflight`](Self::preflight) is cheap and runs before any invoice is made; whatever it accepts,
/// [`generate`](Self::generate) should be able to turn into a model. Both are blocking CPU work: the service calls
/// them on blocking threads. Errors whose [`GenerateError::is_client_error`] is false may be retried.
pub trait ModelGenerator: Send + Sync + 'static {
    /// Checks that a request can succeed (parameters, image) without generating.
    fn preflight(&self, request: PictureRequest<'_>) -> Result<Preflight, GenerateError>;

    /// Generates the model, reporting progress as it goes.
    fn generate(&self, request: PictureRequest<'_>, progress: &mut dyn FnMut(Progress))
    -> Result<Model, GenerateError>;

    /// What a model made with `params` holds: the formats its files are in and whether a preview comes with it.
    /// Generators that write the asked format only keep this default.
    fn deliverables(&self, params: &MeshParams) -> Deliverables {
        Deliverables { formats: vec![params.format], preview: false }
    }

    /// Checks that a request made from a text prompt can succeed, without generating. Generators that make
    /// models from pictures only keep this default: every prompt is refused, before any invoice.
    fn preflight_prompt(&self, request: PromptRequest<'_>) -> Result<(), GenerateError> {
        let _ = request;
        Err(GenerateError::PromptUnsupported)
    }

    /// Generates the model of a text prompt that [`preflight_prompt`](Self::preflight_prompt) accepted.
    fn generate_from_prompt(
        &self,
        request: PromptRequest<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        let _ = (request, progress);
        Err(GenerateError::PromptUnsupported)
    }
}
