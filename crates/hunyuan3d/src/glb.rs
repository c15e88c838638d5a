//! Checking a GLB that came over the network before it is stored: the `gltf` crate parses and validates the
//! document (a GLB header, a JSON chunk whose indices all resolve); on top of that every buffer view must lie inside
//! the binary chunk and every accessor inside its view, the model must have triangles (not more than allowed), and
//! its positions' bounds (which glTF requires on `POSITION` accessors) must be finite and of a sensible size.

use gltf::Gltf;
use gltf::mesh::Mode;

/// What a checked model holds.
#[derive(Debug, Clone, PartialEq)]
pub struct GlbFacts {
    /// Triangles over all meshes.
    pub triangles: u64,
    /// Vertices over all primitives.
    pub vertices: u64,
    /// Meshes.
    pub meshes: u32,
    /// The smallest and largest position over all primitives.
    pub bounds: ([f32; 3], [f32; 3]),
}

/// Largest coordinate accepted (a model is a few units across; this catches garbage, not large objects).
const MAX_COORDINATE: f32 = 1.0e6;

/// What is wrong with a model that is not a usable GLB.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GlbError {
    /// The bytes do not start with GLB's magic.
    #[error("it is not a GLB file")]
    NotGlb,
    /// The `gltf` crate refuses the document (its reason).
    #[error("it is not valid glTF: {0}")]
    InvalidGltf(String),
    /// A buffer lives outside the file.
    #[error("it refers to an external buffer (a GLB must be self-contained)")]
    ExternalBuffer,
    /// A buffer claims more bytes than the binary chunk has.
    #[error("its buffer claims {claimed} bytes, the binary chunk has {present}")]
    BufferTooLong {
        /// The buffer's declared length.
        claimed: usize,
        /// The binary chunk's length.
        present: usize,
    },
    /// A buffer view reaches past its buffer.
    #[error("buffer view {0} lies outside its buffer")]
    ViewOutside(usize),
    /// An accessor reaches past its buffer view.
    #[error("accessor {0} lies outside its buffer view")]
    AccessorOutside(usize),
    /// A triangle primitive has no `POSITION`.
    #[error("a primitive has no positions")]
    NoPositions,
    /// A `POSITION` accessor lacks the bounds glTF requires, or they are not 3-D.
    #[error("a POSITION accessor has no 3-D min/max bounds")]
    NoBounds,
    /// Bounds that are not finite or beyond [`MAX_COORDINATE`].
    #[error("POSITION bounds are not finite or absurdly large")]
    AbsurdBounds,
    /// Nothing to show.
    #[error("it has no triangles")]
    NoTriangles,
    /// More triangles than the caller allows.
    #[error("it has {found} triangles, more than the {allowed} allowed")]
    TooManyTriangles {
        /// Triangles in the model.
        found: u64,
        /// The caller's limit.
        allowed: u64,
    },
    /// Every vertex in one point.
    #[error("its bounds are empty (every vertex in one point)")]
    EmptyBounds,
}

/// Checks `bytes` as a GLB with at most `max_triangles` triangles; the error says what is wrong.
pub fn check_glb(bytes: &[u8], max_triangles: u64) -> Result<GlbFacts, GlbError> {
    if bytes.get(..4) != Some(b"glTF".as_slice()) {
        return Err(GlbError::NotGlb);
    }
    let document = Gltf::from_slice(bytes).map_err(|error| GlbError::InvalidGltf(error.to_string()))?;
    let blob_len = document.blob.as_ref().map_or(0, Vec::len);
    for buffer in document.buffers() {
        if !matches!(buffer.source(), gltf::buffer::Source::Bin) {
            return Err(GlbError::ExternalBuffer);
        }
        if buffer.length() > blob_len {
            return Err(GlbError::BufferTooLong { claimed: buffer.length(), present: blob_len });
        }
    }
    for view in document.views() {
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > view.buffer().length()) {
            return Err(GlbError::ViewOutside(view.index()));
        }
    }
    for accessor in document.accessors() {
        let Some(view) = accessor.view() else { continue };
        let element = accessor.size();
        let stride = view.stride().unwrap_or(element);
        let needed = accessor.count().checked_sub(1).map_or(Some(0), |last| {
            last.checked_mul(stride).and_then(|bytes| bytes.checked_add(element + accessor.offset()))
        });
        if needed.is_none_or(|needed| needed > view.length()) {
            return Err(GlbError::AccessorOutside(accessor.index()));
        }
    }
    let (mut triangles, mut vertices, mut lower, mut upper) = (0u64, 0u64, [f32::MAX; 3], [f32::MIN; 3]);
    for mesh in document.meshes() {
        for primitive in mesh.primitives() {
            if primitive.mode() != Mode::Triangles {
                continue;
            }
            let positions = primitive.get(&gltf::Semantic::Positions).ok_or(GlbError::NoPositions)?;
            let count = positions.count() as u64;
            vertices += count;
            triangles += primitive.indices().map_or(count, |indices| indices.count() as u64) / 3;
            let corner = |value: Option<serde_json::Value>| -> Result<[f32; 3], GlbError> {
                let values: Vec<f32> =
                    value.and_then(|value| serde_json::from_value(value).ok()).ok_or(GlbError::NoBounds)?;
                let corner: [f32; 3] = values.try_into().map_err(|_| GlbError::NoBounds)?;
                if corner.iter().all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE) {
                    Ok(corner)
                } else {
                    Err(GlbError::AbsurdBounds)
                }
            };
            let (min, max) = (corner(positions.min())?, corner(positions.max())?);
            for axis in 0..3 {
                lower[axis] = lower[axis].min(min[axis]);
                upper[axis] = upper[axis].max(max[axis]);
            }
        }
    }
    if triangles == 0 {
        return Err(GlbError::NoTriangles);
    }
    if triangles > max_triangles {
        return Err(GlbError::TooManyTriangles { found: triangles, allowed: max_triangles });
    }
    let extent = (0..3).map(|axis| upper[axis] - lower[axis]).fold(0.0f32, f32::max);
    if extent.is_nan() || extent <= 1.0e-6 {
        return Err(GlbError::EmptyBounds);
    }
    Ok(GlbFacts { triangles, vertices, meshes: document.meshes().len() as u32, bounds: (lower, upper) })
}
