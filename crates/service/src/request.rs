//! A validated request for a model, and the digest a credential is bound to.

use mesh402_core::{ImageKind, InputKind, MeshParams};
use mesh402_l402::RequestBinding;
use sha2::{Digest, Sha256};

/// The longest text prompt accepted, in bytes of UTF-8.
pub const MAX_PROMPT_BYTES: usize = 1000;

/// What the model is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelInput {
    /// A picture: the image file's bytes and the media type the client declared.
    Image {
        /// The image file's bytes.
        bytes: Vec<u8>,
        /// The media type the client declared.
        kind: ImageKind,
    },
    /// A text prompt (only generators that take prompts accept it); at most [`MAX_PROMPT_BYTES`], no control
    /// characters, not blank.
    Prompt(String),
}

impl ModelInput {
    /// What a job records as its input's kind: the image kind, or a prompt.
    pub fn kind(&self) -> InputKind {
        match self {
            ModelInput::Image { kind, .. } => InputKind::Image(*kind),
            ModelInput::Prompt(_) => InputKind::Prompt,
        }
    }

    /// The bytes a job stores as its input: the image file, or the prompt's UTF-8.
    pub fn bytes(&self) -> &[u8] {
        match self {
            ModelInput::Image { bytes, .. } => bytes,
            ModelInput::Prompt(prompt) => prompt.as_bytes(),
        }
    }

    /// The input again from what a job stored ([`kind`](Self::kind) and [`bytes`](Self::bytes)); a stored prompt
    /// that is not UTF-8 is refused.
    pub fn from_stored(kind: InputKind, bytes: Vec<u8>) -> Result<ModelInput, std::string::FromUtf8Error> {
        match kind {
            InputKind::Prompt => String::from_utf8(bytes).map(ModelInput::Prompt),
            InputKind::Image(kind) => Ok(ModelInput::Image { bytes, kind }),
        }
    }
}

/// What a client asked for, after the HTTP layer decoded it: the picture or prompt, and the generator parameters
/// (defaults filled in).
#[derive(Debug, Clone)]
pub struct ModelRequest {
    /// What the model is made from.
    pub input: ModelInput,
    /// Generator parameters.
    pub params: MeshParams,
}

impl ModelRequest {
    /// A request for a model of a picture.
    pub fn image(bytes: Vec<u8>, kind: ImageKind, params: MeshParams) -> ModelRequest {
        ModelRequest { input: ModelInput::Image { bytes, kind }, params }
    }

    /// The parameters as canonical JSON: fixed key order, every default spelled out. Two requests that differ
    /// only in JSON whitespace, key order or explicitly given defaults have the same canonical parameters.
    pub fn canonical_params(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.params)
    }

    /// The digest a credential is bound to: the input's kind (an image kind, or `prompt`), the canonical
    /// parameters and the input's bytes. A picture's digest is what it has always been, so credentials bought
    /// before prompts existed still verify.
    ///
    /// Parameters are plain data, so writing them as JSON does not fail; if it ever did, the failure is logged and
    /// the binding covers no parameters, and redeeming fails loudly where the job is recorded
    /// ([`canonical_params`](Self::canonical_params) is called again there).
    pub fn binding(&self) -> RequestBinding {
        self.exact_binding().unwrap_or_else(|error| {
            tracing::error!(%error, "the request's parameters cannot be written as JSON");
            self.digest("")
        })
    }

    /// [`binding`](Self::binding), or the error that kept the parameters out of it: for a caller that must not
    /// take a binding without parameters for this request's (the memo of checked pictures).
    pub(crate) fn exact_binding(&self) -> Result<RequestBinding, serde_json::Error> {
        Ok(self.digest(&self.canonical_params()?))
    }

    fn digest(&self, params: &str) -> RequestBinding {
        let mut hasher = Sha256::new();
        hasher.update(b"mesh402 3d-model request v1\0");
        hasher.update(self.input.kind().as_str().as_bytes());
        hasher.update(b"\0");
        hasher.update(params.as_bytes());
        hasher.update(b"\0");
        hasher.update(self.input.bytes());
        RequestBinding(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(image: &[u8]) -> ModelRequest {
        ModelRequest::image(image.to_vec(), ImageKind::Png, MeshParams::default())
    }

    #[test]
    fn the_binding_covers_image_kind_and_params() {
        let base = request(b"image");
        assert_eq!(base.binding(), request(b"image").binding());
        assert_ne!(base.binding(), request(b"imagf").binding());
        let jpeg = ModelRequest::image(b"image".to_vec(), ImageKind::Jpeg, MeshParams::default());
        assert_ne!(base.binding(), jpeg.binding());
        let mut other_params = request(b"image");
        other_params.params.target_faces += 1;
        assert_ne!(base.binding(), other_params.binding());
    }

    #[test]
    fn a_prompt_is_bound_apart_from_a_picture_of_the_same_bytes() {
        let prompt = ModelRequest { input: ModelInput::Prompt("image".into()), params: MeshParams::default() };
        assert_ne!(prompt.binding(), request(b"image").binding());
        let other = ModelRequest { input: ModelInput::Prompt("imagf".into()), params: MeshParams::default() };
        assert_ne!(prompt.binding(), other.binding());
    }

    #[test]
    fn an_input_is_read_back_from_what_a_job_stores() {
        for input in [ModelInput::Prompt("a red teapot".into()), request(b"png bytes").input] {
            let stored = ModelInput::from_stored(input.kind(), input.bytes().to_vec()).unwrap();
            assert_eq!(stored, input);
        }
        assert!(ModelInput::from_stored(InputKind::Prompt, vec![0xff]).is_err());
        assert!("gif".parse::<InputKind>().is_err());
    }
}
