//! Generation parameters: what a caller may ask for, their defaults and their documented ranges.

use serde::{Deserialize, Serialize};

use crate::{GenerateError, UnknownName};

/// How the silhouette becomes a solid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Inflate the silhouette like a balloon (Poisson heights, a rounded front and a mirrored back).
    #[default]
    Inflate,
    /// Extrude the silhouette into a flat slab with straight side walls (logos, stickers, alpha art).
    Extrude,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 2] = [Mode::Inflate, Mode::Extrude];

    /// The mode's name in requests: `inflate` or `extrude`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Inflate => "inflate",
            Mode::Extrude => "extrude",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = UnknownName;

    /// Reads the name [`Mode::name`] writes.
    fn from_str(name: &str) -> Result<Mode, UnknownName> {
        UnknownName::find(&Mode::ALL, Mode::name, name, "mode")
    }
}

/// A model's file format. Ordered as listed (in maps keyed by format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Binary glTF 2.0 with an embedded JPEG texture: one file.
    #[default]
    Glb,
    /// Wavefront OBJ with an MTL material and a JPEG texture: three files.
    Obj,
    /// Binary STL: geometry only, one file.
    Stl,
    /// Binary little-endian PLY: positions, normals and vertex colours sampled from the texture, one file.
    Ply,
    /// A 3MF package for printing: millimetres, one object per body, the texture as its colour; one file.
    #[serde(rename = "3mf")]
    ThreeMf,
    /// A USDZ package for AR (Apple's AR Quick Look): a USD layer with the mesh and a `UsdPreviewSurface` material,
    /// and its JPEG texture; one file.
    Usdz,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 6] = [Format::Glb, Format::Obj, Format::Stl, Format::Ply, Format::ThreeMf, Format::Usdz];

    /// The file-name extension of the primary file, without a dot.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Glb => "glb",
            Format::Obj => "obj",
            Format::Stl => "stl",
            Format::Ply => "ply",
            Format::ThreeMf => "3mf",
            Format::Usdz => "usdz",
        }
    }

    /// The primary file's name: `model.` and its extension.
    pub fn file_name(&self) -> &'static str {
        match self {
            Format::Glb => "model.glb",
            Format::Obj => "model.obj",
            Format::Stl => "model.stl",
            Format::Ply => "model.ply",
            Format::ThreeMf => "model.3mf",
            Format::Usdz => "model.usdz",
        }
    }

    /// The files that go with the primary file, by name: OBJ's material and texture; none for the others.
    pub fn companion_files(&self) -> &'static [&'static str] {
        match self {
            Format::Obj => &["model.mtl", "texture.jpg"],
            Format::Glb | Format::Stl | Format::Ply | Format::ThreeMf | Format::Usdz => &[],
        }
    }

    /// The format whose primary file is called `name` ([`Format::file_name`]).
    pub fn from_file_name(name: &str) -> Result<Format, UnknownName> {
        UnknownName::find(&Format::ALL, Format::file_name, name, "model file")
    }

    /// The media type of the primary file.
    pub fn media_type(&self) -> &'static str {
        match self {
            Format::Glb => "model/gltf-binary",
            Format::Obj => "model/obj",
            Format::Stl => "model/stl",
            // No media type is registered for PLY; this is the one tools and servers use.
            Format::Ply => "application/x-ply",
            Format::ThreeMf => "model/3mf",
            // Registered with IANA for USDZ.
            Format::Usdz => "model/vnd.usdz+zip",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = UnknownName;

    /// Reads the format's name in requests, its extension ([`Format::extension`]): `glb`, `obj`, `stl`, `ply`, `3mf` or `usdz`.
    fn from_str(name: &str) -> Result<Format, UnknownName> {
        UnknownName::find(&Format::ALL, Format::extension, name, "format")
    }
}

/// Smallest accepted `target_faces`.
pub const MIN_TARGET_FACES: u32 = 500;
/// Largest accepted `target_faces`.
pub const MAX_TARGET_FACES: u32 = 200_000;
/// Smallest accepted `depth`.
pub const MIN_DEPTH: f32 = 0.05;
/// Largest accepted `depth`.
pub const MAX_DEPTH: f32 = 2.0;
/// Smallest accepted `texture_size`.
pub const MIN_TEXTURE_SIZE: u32 = 256;
/// Largest accepted `texture_size`.
pub const MAX_TEXTURE_SIZE: u32 = 4096;
/// Smallest accepted `print_size_mm`.
pub const MIN_PRINT_SIZE_MM: u32 = 10;
/// Largest accepted `print_size_mm`.
pub const MAX_PRINT_SIZE_MM: u32 = 1000;
/// Smallest accepted `preview_size`.
pub const MIN_PREVIEW_SIZE: u32 = 128;
/// Largest accepted `preview_size`.
pub const MAX_PREVIEW_SIZE: u32 = 1024;
/// The name of the preview picture among a model's files.
pub const PREVIEW_FILE_NAME: &str = "preview.png";

/// What the caller asks of the generator. Every field has a default; unknown fields are rejected when deserialising.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshParams {
    /// `inflate` (default) or `extrude`.
    pub mode: Mode,
    /// Hard cap on the number of triangles in the model; default 20 000, range 500..=200 000.
    pub target_faces: u32,
    /// A scale on the model's depth; default 1.0, range 0.05..=2.0. In `inflate` mode the depth follows the
    /// object (each part about as deep as it is wide where it is seen: a disc becomes a sphere, an upright
    /// silhouette its solid of revolution, a limb a tube) times `depth`; in `extrude` mode the slab is
    /// `depth * W / 8` thick, where W is the longer side of the silhouette.
    pub depth: f32,
    /// Side of the square texture in pixels: a power of two in 256..=4096; default 1024.
    pub texture_size: u32,
    /// The primary file's format: `glb` (default), `obj`, `stl`, `ply`, `3mf` or `usdz`. A generator may write
    /// the model in its other formats too (the embedded one writes every format, from the same mesh).
    pub format: Format,
    /// The longest side of the 3MF model in millimetres (the size it prints at); default 100, range 10..=1000.
    pub print_size_mm: u32,
    /// Side of the square preview picture (PNG) in pixels; default 512, range 128..=1024.
    pub preview_size: u32,
}

impl Default for MeshParams {
    fn default() -> Self {
        MeshParams {
            mode: Mode::Inflate,
            target_faces: 20_000,
            depth: 1.0,
            texture_size: 1024,
            format: Format::Glb,
            print_size_mm: 100,
            preview_size: 512,
        }
    }
}

impl MeshParams {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if !(MIN_TARGET_FACES..=MAX_TARGET_FACES).contains(&self.target_faces) {
            return Err(GenerateError::InvalidOption(format!(
                "target_faces must be between {MIN_TARGET_FACES} and {MAX_TARGET_FACES}, got {}.",
                self.target_faces
            )));
        }
        if !self.depth.is_finite() || !(MIN_DEPTH..=MAX_DEPTH).contains(&self.depth) {
            return Err(GenerateError::InvalidOption(format!(
                "depth must be between {MIN_DEPTH} and {MAX_DEPTH}, got {}.",
                self.depth
            )));
        }
        if !(MIN_TEXTURE_SIZE..=MAX_TEXTURE_SIZE).contains(&self.texture_size) || !self.texture_size.is_power_of_two() {
            return Err(GenerateError::InvalidOption(format!(
                "texture_size must be a power of two between {MIN_TEXTURE_SIZE} and {MAX_TEXTURE_SIZE}, got {}.",
                self.texture_size
            )));
        }
        if !(MIN_PRINT_SIZE_MM..=MAX_PRINT_SIZE_MM).contains(&self.print_size_mm) {
            return Err(GenerateError::InvalidOption(format!(
                "print_size_mm must be between {MIN_PRINT_SIZE_MM} and {MAX_PRINT_SIZE_MM}, got {}.",
                self.print_size_mm
            )));
        }
        if !(MIN_PREVIEW_SIZE..=MAX_PREVIEW_SIZE).contains(&self.preview_size) {
            return Err(GenerateError::InvalidOption(format!(
                "preview_size must be between {MIN_PREVIEW_SIZE} and {MAX_PREVIEW_SIZE}, got {}.",
                self.preview_size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_are_enforced() {
        assert!(MeshParams::default().validate().is_ok());
        let bad = [
            MeshParams { target_faces: 499, ..Default::default() },
            MeshParams { target_faces: 200_001, ..Default::default() },
            MeshParams { depth: f32::NAN, ..Default::default() },
            MeshParams { depth: 0.0, ..Default::default() },
            MeshParams { texture_size: 1000, ..Default::default() },
            MeshParams { texture_size: 8192, ..Default::default() },
            MeshParams { print_size_mm: 9, ..Default::default() },
            MeshParams { print_size_mm: 1001, ..Default::default() },
            MeshParams { preview_size: 127, ..Default::default() },
            MeshParams { preview_size: 1025, ..Default::default() },
        ];
        for params in bad {
            let err = params.validate().expect_err("out of range");
            assert_eq!(err.code(), "invalid_option");
            assert!(err.is_client_error());
        }
    }

    #[test]
    fn json_uses_snake_case_and_rejects_unknown_fields() {
        let params: MeshParams = serde_json::from_str(r#"{"mode":"extrude","format":"stl"}"#).expect("parse");
        assert_eq!(params.mode, Mode::Extrude);
        assert_eq!(params.format, Format::Stl);
        assert_eq!(params.target_faces, 20_000);
        assert!(serde_json::from_str::<MeshParams>(r#"{"colour":"red"}"#).is_err());
        assert_eq!(Format::Obj.media_type(), "model/obj");
        assert_eq!(Format::Glb.extension(), "glb");
        // The names serde reads are the names `FromStr` reads, for every value.
        for mode in Mode::ALL {
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.name());
            assert_eq!(mode.name().parse::<Mode>(), Ok(mode));
        }
        for format in Format::ALL {
            assert_eq!(serde_json::to_value(format).unwrap(), format.extension());
            assert_eq!(format.extension().parse::<Format>(), Ok(format));
        }
    }
}
