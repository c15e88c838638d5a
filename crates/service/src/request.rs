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

/// The short stored name of an image kind.
pub fn image_kind_name(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Png => "png",
        ImageKind::Jpeg => "jpeg",
        ImageKind::Webp => "webp",
    }
}

/// Parses a stored image kind name.
pub fn parse_image_kind(name: &str) -> Option<ImageKind> {
    match name {
        "png" => Some(ImageKind::Png),
        "jpeg" => Some(ImageKind::Jpeg),
        "webp" => Some(ImageKind::Webp),
        _ => None,
    }
}

impl ModelRequest {
    /// The parameters as canonical JSON: fixed key order, every default spelled out. Two requests that differ
    /// only in JSON whitespace, key order or explicitly given defaults have the same canonical parameters.
    pub fn canonical_params(&self) -> String {
        serde_json::to_string(&self.params).unwrap_or_default()
    }

    /// The digest a credential is bound to: the image bytes, their kind and the canonical parameters.
    pub fn binding(&self) -> RequestBinding {
        let mut hasher = Sha256::new();
        hasher.update(b"mesh402 3d-model request v1\0");
        hasher.update(image_kind_name(self.kind).as_bytes());
        hasher.update(b"\0");
        hasher.update(self.canonical_params().as_bytes());
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
