//! The error of every generator ([`crate::ModelGenerator`]), with stable codes for the server's responses.

use crate::ImageKind;

/// Why a model could not be made, whichever generator tried. Messages are one sentence for a person;
/// [`GenerateError::code`] is for machines. The embedded generator raises the picture and mesh variants; a
/// generator over the network also raises [`GenerateError::GeneratorUnavailable`] and, when it takes no text,
/// [`GenerateError::PromptUnsupported`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A parameter is out of its documented range; the message names it.
    #[error("{0}")]
    InvalidOption(String),
    /// The bytes are not a decodable image of a supported kind.
    #[error("The image could not be decoded: it is damaged, truncated or not a PNG, JPEG or WebP file.")]
    ImageDecodeFailed {
        /// What the decoder said.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The bytes are an image, but not of the kind the caller declared.
    #[error("The image was declared as {declared} but its contents are {detected}.")]
    ImageKindMismatch {
        /// The kind the caller declared.
        declared: &'static str,
        /// The kind the bytes actually are.
        detected: &'static str,
    },
    /// No bytes, or an image with no pixels.
    #[error("The image is empty.")]
    ImageEmpty,
    /// The image is too small to make a model from.
    #[error("The image is {width}×{height} pixels; at least {min}×{min} pixels are needed.")]
    ImageTooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The smallest accepted side.
        min: u32,
    },
    /// The image exceeds the configured dimension or pixel-count limits.
    #[error(
        "The image is {width}×{height} pixels, over the limit of {max_dimension} pixels per side or {max_pixels} pixels in total."
    )]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit per side.
        max_dimension: u32,
        /// The limit on width × height.
        max_pixels: u64,
    },
    /// Segmentation found no usable object; the message says why and what kind of photo works.
    #[error("{reason}; send a photo in which an object (or a few) stands out, or a PNG with a transparent background.")]
    NoObjectFound {
        /// What was wrong with the segmentation: a clause without a final full stop.
        reason: String,
    },
    /// The object could not be told from its background with enough confidence: no model is made rather than a
    /// wrong one.
    #[error(
        "The object could not be told apart from its background with confidence (the mask's confidence is \
         {confidence:.2}, at least {needed:.2} is needed), so no model was made rather than a wrong one; photograph it \
         against a plainer background that differs from it in colour, or send a PNG with a transparent background."
    )]
    ObjectUnclear {
        /// The mask's confidence, 0..=1.
        confidence: f32,
        /// The least confidence a model is made at.
        needed: f32,
    },
    /// The generated mesh failed the self-check; this is a bug, not the caller's fault.
    #[error("The generated model failed its integrity check ({reason}).")]
    MeshCheckFailed {
        /// What the check found.
        reason: String,
    },
    /// The segmentation network could not run; this is a bug, not the caller's fault.
    #[error("The object could not be segmented ({reason}).")]
    SegmentationFailed {
        /// What went wrong.
        reason: String,
    },
    /// Encoding the output failed; this is a bug, not the caller's fault.
    #[error("The model could not be encoded ({reason}).")]
    EncodeFailed {
        /// What went wrong.
        reason: String,
    },
    /// The request carries a text prompt, but this server's generator makes models from images only.
    #[error(
        "This server's model generator makes models from pictures only; send an \"image\" instead of a \"prompt\"."
    )]
    PromptUnsupported,
    /// Another generator (a model server over the network) did not deliver in time or at all; not the caller's
    /// fault.
    #[error("The model server did not deliver a model ({reason}).")]
    GeneratorUnavailable {
        /// What went wrong.
        reason: String,
    },
}

impl GenerateError {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            GenerateError::InvalidOption(_) => "invalid_option",
            GenerateError::ImageDecodeFailed { .. } => "image_decode_failed",
            GenerateError::ImageKindMismatch { .. } => "image_kind_mismatch",
            GenerateError::ImageEmpty => "image_empty",
            GenerateError::ImageTooSmall { .. } => "image_too_small",
            GenerateError::ImageTooLarge { .. } => "image_too_large",
            GenerateError::NoObjectFound { .. } => "no_object_found",
            GenerateError::ObjectUnclear { .. } => "object_unclear",
            GenerateError::MeshCheckFailed { .. } => "mesh_check_failed",
            GenerateError::SegmentationFailed { .. } => "segmentation_failed",
            GenerateError::EncodeFailed { .. } => "encode_failed",
            GenerateError::GeneratorUnavailable { .. } => "generator_unavailable",
            GenerateError::PromptUnsupported => "prompt_unsupported",
        }
    }

    /// True when the caller's input caused the error (an HTTP 4xx), false for internal failures.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            GenerateError::MeshCheckFailed { .. }
                | GenerateError::SegmentationFailed { .. }
                | GenerateError::EncodeFailed { .. }
                | GenerateError::GeneratorUnavailable { .. }
        )
    }

    /// The bytes could not be decoded; `source` is what the decoder said.
    pub fn decode(source: impl std::error::Error + Send + Sync + 'static) -> GenerateError {
        GenerateError::ImageDecodeFailed { source: Some(Box::new(source)) }
    }

    /// The bytes are an image of the kind `detected`, not the `declared` one.
    pub fn mismatch(declared: ImageKind, detected: &'static str) -> GenerateError {
        GenerateError::ImageKindMismatch { declared: declared.name(), detected }
    }

    /// No usable object: `reason` is a clause without a final full stop.
    pub fn no_object(reason: &str) -> GenerateError {
        GenerateError::NoObjectFound { reason: reason.to_owned() }
    }
}
