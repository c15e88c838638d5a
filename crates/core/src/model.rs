//! What a generator makes and reports: the model's files and figures, the stages it passes through and its
//! progress.

use crate::{Format, PREVIEW_FILE_NAME, UnknownName};

/// What a generator's preflight learned about an image that can be turned into a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preflight {
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
}

/// A stage of the pipeline, as reported through [`Progress`] and timed in [`Stats`]; serialised by its
/// [`Stage::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Decoding and reducing the image.
    Decode,
    /// Segmenting the object.
    Mask,
    /// Tracing the silhouette.
    Contour,
    /// Triangulating the silhouette.
    Triangulate,
    /// Solving for heights and closing the mesh.
    Heights,
    /// Baking the texture.
    Texture,
    /// Writing the output files.
    Encode,
    /// Self-checking the mesh.
    Check,
}

impl Stage {
    /// The stage's snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Mask => "mask",
            Stage::Contour => "contour",
            Stage::Triangulate => "triangulate",
            Stage::Heights => "heights",
            Stage::Texture => "texture",
            Stage::Encode => "encode",
            Stage::Check => "check",
        }
    }
}

impl Stage {
    /// Every stage, in the order the embedded generator runs them.
    pub const ALL: [Stage; 8] = [
        Stage::Decode,
        Stage::Mask,
        Stage::Contour,
        Stage::Triangulate,
        Stage::Heights,
        Stage::Texture,
        Stage::Encode,
        Stage::Check,
    ];
}

impl std::str::FromStr for Stage {
    type Err = UnknownName;

    /// Reads the name [`Stage::name`] writes.
    fn from_str(name: &str) -> Result<Stage, UnknownName> {
        UnknownName::find(&Stage::ALL, Stage::name, name, "stage")
    }
}

/// A progress report: `stage` has just completed and the job is `percent` done.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The stage that completed.
    pub stage: Stage,
    /// Overall completion, increasing, 100 at the end.
    pub percent: u8,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The file name, such as `model.glb`.
    pub name: String,
    /// Its media type.
    pub media_type: &'static str,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Figures about a generated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Triangles in the model.
    pub n_faces: u32,
    /// Vertices in the written file.
    pub n_vertices: u32,
    /// Which evidence the mask came from.
    pub mask_source: MaskSource,
    /// How sure the segmentation was of the mask, 0..=1 (1 for alpha and for an external generator's own
    /// segmentation).
    pub mask_confidence: f32,
    /// Separate bodies in the model (parts of the silhouette: letters of a logo, several objects).
    pub n_parts: u32,
    /// Wall-clock milliseconds per stage, in the order the stages ran (not part of the output bytes). The texture
    /// is baked alongside the geometry stages; its entry is the time still spent on it after they finished.
    pub stage_ms: Vec<(Stage, f64)>,
}

/// A generated model: `files[0]` is the primary file.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The format of the primary file (named [`Format::file_name`]).
    pub format: Format,
    /// The primary file first (`model.glb`, `model.obj`, …), then what goes with it (OBJ's `model.mtl` and
    /// `texture.jpg`), then the same model in other formats (each named [`Format::file_name`]) and its picture
    /// ([`PREVIEW_FILE_NAME`]) where the generator makes them. Names are unique.
    pub files: Vec<OutputFile>,
    /// Figures about the model.
    pub stats: Stats,
}

impl Model {
    /// Every format the model's files hold, the primary's first.
    pub fn formats(&self) -> Vec<Format> {
        let mut formats = vec![self.format];
        formats.extend(
            self.files
                .iter()
                .filter_map(|file| Format::from_file_name(&file.name).ok())
                .filter(|format| *format != self.format),
        );
        formats
    }

    /// Whether the files include a preview picture ([`PREVIEW_FILE_NAME`]).
    pub fn has_preview(&self) -> bool {
        self.files.iter().any(|file| file.name == PREVIEW_FILE_NAME)
    }
}

/// Which evidence a mask came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskSource {
    /// The image's alpha channel.
    Alpha,
    /// The border colour model (a plain background).
    Colour,
    /// The learned saliency network, refined against the photo.
    Learned,
    /// No mask of ours: another generator (a model server over the network) made the model from the picture.
    External,
}

impl MaskSource {
    /// The source's snake_case name: `alpha`, `colour`, `learned` or `external`.
    pub fn name(&self) -> &'static str {
        match self {
            MaskSource::Alpha => "alpha",
            MaskSource::Colour => "colour",
            MaskSource::Learned => "learned",
            MaskSource::External => "external",
        }
    }
}
