//! The pictures a generator accepts: their kinds and the limits checked from a header before any pixel buffer is
//! allocated.

use crate::GenerateError;

/// The kind of image the caller declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// PNG (8- or 16-bit, alpha honoured).
    Png,
    /// JPEG (baseline, progressive, CMYK; EXIF orientation applied).
    Jpeg,
    /// WebP (lossy or lossless, alpha honoured; the first frame of an animation).
    Webp,
}

impl ImageKind {
    /// Maps `image/png`, `image/jpeg` (or `image/jpg`) and `image/webp`, case-insensitively; parameters such as
    /// `; charset=…` are ignored.
    pub fn from_media_type(mime: &str) -> Option<ImageKind> {
        let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/png" => Some(ImageKind::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(ImageKind::Jpeg),
            "image/webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }

    /// The media type: `image/png`, `image/jpeg` or `image/webp`.
    pub fn media_type(&self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Webp => "image/webp",
        }
    }

    /// A human name: `PNG`, `JPEG` or `WebP`.
    pub fn name(&self) -> &'static str {
        match self {
            ImageKind::Png => "PNG",
            ImageKind::Jpeg => "JPEG",
            ImageKind::Webp => "WebP",
        }
    }

    /// The short, stable name (`png`, `jpeg`, `webp`) that [`FromStr`](std::str::FromStr) reads back.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpeg",
            ImageKind::Webp => "webp",
        }
    }
}

impl std::str::FromStr for ImageKind {
    type Err = GenerateError;

    /// Reads the short name [`ImageKind::as_str`] writes.
    fn from_str(name: &str) -> Result<ImageKind, GenerateError> {
        match name {
            "png" => Ok(ImageKind::Png),
            "jpeg" => Ok(ImageKind::Jpeg),
            "webp" => Ok(ImageKind::Webp),
            _ => Err(GenerateError::InvalidOption(format!("Unknown image kind {name:?}: use png, jpeg or webp."))),
        }
    }
}

/// Limits on input images, checked from the header before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// The largest accepted width or height.
    pub max_dimension: u32,
    /// The largest accepted width × height.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits { max_dimension: 16_384, max_pixels: 40_000_000 }
    }
}

/// What a model is made from, as a job records it: a picture of some kind, or a text prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A picture of this kind.
    Image(ImageKind),
    /// A text prompt.
    Prompt,
}

impl InputKind {
    /// The stored name: the image kind's ([`ImageKind::as_str`]) or `prompt`.
    pub fn as_str(&self) -> &'static str {
        match self {
            InputKind::Image(kind) => kind.as_str(),
            InputKind::Prompt => "prompt",
        }
    }
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InputKind {
    type Err = UnknownName;

    /// Reads the name [`InputKind::as_str`] writes.
    fn from_str(name: &str) -> Result<InputKind, UnknownName> {
        match name {
            "prompt" => Ok(InputKind::Prompt),
            _ => {
                name.parse().map(InputKind::Image).map_err(|_| UnknownName { of: "input kind", name: name.to_owned() })
            }
        }
    }
}

/// A stored name that names nothing of its kind (a record written by another version, or damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a known {of}")]
pub struct UnknownName {
    /// What the name should have named: `input kind`, `stage`, `model file`.
    pub of: &'static str,
    /// The name.
    pub name: String,
}

impl UnknownName {
    /// The one of `all` whose name (`name_of`) is `name`; otherwise the error that it names no `of`.
    pub fn find<T: Copy>(
        all: &[T],
        name_of: impl Fn(&T) -> &'static str,
        name: &str,
        of: &'static str,
    ) -> Result<T, UnknownName> {
        all.iter()
            .find(|value| name_of(value) == name)
            .copied()
            .ok_or_else(|| UnknownName { of, name: name.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back_and_nothing_else_does() {
        use crate::{Format, Stage};
        let kinds = [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp].map(InputKind::Image);
        for kind in kinds.into_iter().chain([InputKind::Prompt]) {
            assert_eq!(kind.as_str().parse::<InputKind>(), Ok(kind));
        }
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>(), Ok(stage));
        }
        for format in Format::ALL {
            assert_eq!(Format::from_file_name(format.file_name()), Ok(format));
            assert_eq!(format.file_name(), format!("model.{}", format.extension()));
        }
        assert_eq!("gif".parse::<InputKind>().unwrap_err().of, "input kind");
        assert!("Mask".parse::<Stage>().is_err());
        assert!(Format::from_file_name("texture.jpg").is_err());
    }
}
