//! A validated request for a model, and the digest a credential is bound to.

use mesh402_l402::RequestBinding;
use mesh402_mesh::{ImageKind, MeshParams};
use sha2::{Digest, Sha256};

/// What a client asked for, after the HTTP layer decoded it: the image bytes, their declared kind, and the
/// generator parameters (defaults filled in).
#[derive(Debug, Clone)]
pub struct ModelRequest {
    /// The image file's bytes.
    pub image: Vec<u8>,
    /// The media type the client declared.
    pub kind: ImageKind,
    /// Generator parameters.
    pub params: MeshParams,
}

impl ModelRequest {
    /// The parameters as canonical JSON: fixed key order, every default spelled out. Two requests that differ
    /// only in JSON whitespace, key order or explicitly given defaults have the same canonical parameters.
    pub fn canonical_params(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.params)
    }

    /// The digest a credential is bound to: the image bytes, their kind and the canonical parameters.
    ///
    /// Parameters are plain data, so writing them as JSON does not fail; if it ever did, the failure is logged and
    /// the binding covers no parameters, and redeeming fails loudly where the job is recorded
    /// ([`canonical_params`](Self::canonical_params) is called again there).
    pub fn binding(&self) -> RequestBinding {
        let params = self.canonical_params().unwrap_or_else(|error| {
            tracing::error!(%error, "the request's parameters cannot be written as JSON");
            String::new()
        });
        let mut hasher = Sha256::new();
        hasher.update(b"mesh402 3d-model request v1\0");
        hasher.update(self.kind.as_str().as_bytes());
        hasher.update(b"\0");
        hasher.update(params.as_bytes());
        hasher.update(b"\0");
        hasher.update(&self.image);
        RequestBinding(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(image: &[u8]) -> ModelRequest {
        ModelRequest { image: image.to_vec(), kind: ImageKind::Png, params: MeshParams::default() }
    }

    #[test]
    fn the_binding_covers_image_kind_and_params() {
        let base = request(b"image");
        assert_eq!(base.binding(), request(b"image").binding());
        assert_ne!(base.binding(), request(b"imagf").binding());
        let mut jpeg = request(b"image");
        jpeg.kind = ImageKind::Jpeg;
        assert_ne!(base.binding(), jpeg.binding());
        let mut other_params = request(b"image");
        other_params.params.target_faces += 1;
        assert_ne!(base.binding(), other_params.binding());
    }
}
