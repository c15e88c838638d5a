//! The export interface: one mesh and its texture become the files of every format ([`write_all`]), each written
//! by a module of its own behind one signature (`Writer`), and a preview picture.
//!
//! Every format is a documented, fixed layout a few dozen lines long; the crates that write them would add
//! dependencies (and for glTF and USD a whole document model) for less code than ours. The packages (3MF, USDZ)
//! are zipped by the `zip` crate; the preview's PNG is encoded by the `image` crate.

mod glb;
mod obj;
mod ply;
pub mod preview;
mod stl;
mod three_mf;
mod usdz;

use image::RgbImage;
use mesh402_core::{Format, GenerateError, MeshParams, OutputFile, PREVIEW_FILE_NAME};

use crate::build::Mesh3;

/// The model's texture: the picture the writers sample, and its JPEG encoding, which the files embed. The two must
/// show the same picture.
pub struct Texture {
    /// The texture's pixels (texture coordinates have their origin at the top left, as in glTF).
    pub image: RgbImage,
    /// The same picture as JPEG.
    pub jpeg: Vec<u8>,
}

/// What every writer is given.
pub struct Source<'a> {
    /// The closed, textured mesh: metres, +Y up, the front facing +Z.
    pub mesh: &'a Mesh3,
    /// Its texture.
    pub texture: &'a Texture,
    /// The longest side of a printable model (3MF), in millimetres.
    pub print_size_mm: f64,
}

/// A writer: the files of one format (the primary file first, named [`Format::file_name`]), or why it could not
/// write them.
type Writer = fn(&Source) -> Result<Vec<OutputFile>, String>;

/// The writer of `format`.
fn writer(format: Format) -> Writer {
    match format {
        Format::Glb => glb::write,
        Format::Obj => obj::write,
        Format::Stl => stl::write,
        Format::Ply => ply::write,
        Format::ThreeMf => three_mf::write,
        Format::Usdz => usdz::write,
    }
}

/// The files of one format.
pub fn write(format: Format, source: &Source) -> Result<Vec<OutputFile>, GenerateError> {
    writer(format)(source).map_err(|reason| GenerateError::EncodeFailed { reason })
}

/// Every format's files, `params.format`'s first, then the preview picture ([`PREVIEW_FILE_NAME`], a side of
/// `params.preview_size`). The formats share the texture file OBJ writes; the packages embed their own copy.
pub fn write_all(source: &Source, params: &MeshParams) -> Result<Vec<OutputFile>, GenerateError> {
    // The preview is drawn on a second thread while the formats are written: each takes about as long, and the
    // machine's other core is otherwise idle here.
    let (files, preview) = std::thread::scope(|scope| {
        let preview = scope.spawn(|| preview::render(source.mesh, &source.texture.image, params.preview_size));
        let files = formats(params.format).into_iter().try_fold(Vec::new(), |mut files, format| {
            files.extend(write(format, source)?);
            Ok::<_, GenerateError>(files)
        });
        (files, preview.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let mut files = files?;
    let preview = preview.map_err(|reason| GenerateError::EncodeFailed { reason })?;
    files.push(OutputFile { name: PREVIEW_FILE_NAME.into(), media_type: "image/png", bytes: preview });
    Ok(files)
}

/// The formats [`write_all`] writes, in its order: `primary` first, then the others as [`Format::ALL`] lists them.
pub fn formats(primary: Format) -> Vec<Format> {
    std::iter::once(primary).chain(Format::ALL.into_iter().filter(|format| *format != primary)).collect()
}

/// One file of `format`'s primary name and media type.
fn primary(format: Format, bytes: Vec<u8>) -> Vec<OutputFile> {
    vec![OutputFile { name: format.file_name().into(), media_type: format.media_type(), bytes }]
}

/// The texture's colour at texture coordinate `uv` (origin top-left), bilinear between pixel centres, clamped at
/// the edges.
fn sample(texture: &RgbImage, uv: [f32; 2]) -> [u8; 3] {
    let (w, h) = (texture.width(), texture.height());
    let x = (uv[0] * w as f32 - 0.5).clamp(0.0, (w - 1) as f32);
    let y = (uv[1] * h as f32 - 0.5).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |x: u32, y: u32, c: usize| f32::from(texture.get_pixel(x, y).0[c]);
    [0, 1, 2].map(|c| {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
        let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    })
}

/// The smallest and largest value of each coordinate.
fn min_max<const N: usize>(values: &[[f32; N]]) -> ([f32; N], [f32; N]) {
    let mut lo = [f32::MAX; N];
    let mut hi = [f32::MIN; N];
    for v in values {
        for d in 0..N {
            lo[d] = lo[d].min(v[d]);
            hi[d] = hi[d].max(v[d]);
        }
    }
    (lo, hi)
}

/// Stored (not deflated) files for a zip package: a fixed time keeps the bytes the same from run to run.
fn stored(alignment: u16) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .with_alignment(alignment)
}
